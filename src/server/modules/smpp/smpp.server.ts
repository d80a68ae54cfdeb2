import type { AddressInfo, Socket } from 'node:net';
import { clientOf } from '../../ip-address.js';
import { createLoginAttempts } from '../../login-attempts.js';
import type { Services } from '../../services.js';
import type { AccountAccess } from '../auth/principal.js';
import smpp from '../carriers/smpp-package.js';
import { processOwner } from '../dispatch/dispatching.js';
import { createSmppService } from './smpp.service.js';
import {
  type ConcatInfo,
  type DecodedMessage,
  type DecodedSubmit,
  type DecodedSubmitMulti,
  decodeSubmit,
  decodeSubmitMulti,
  receiptDeliverSm,
  type SmppStatusName,
  type SubmitRefusal,
} from './smpp-messages.js';
import { createSmppReceiptsRepository, type DueReceipt } from './smpp-receipts.repository.js';

export interface SmppServerLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SmppServerOptions {
  services: Pick<Services, 'smsUsers' | 'sending' | 'history' | 'clock' | 'database'>;
  log: SmppServerLog;
  /** 0 picks a free port (tests). */
  port: number;
  host: string;
  /**
   * Also listen for SMPP over TLS on `port` (0: a free one) with this certificate (PEM): the same server,
   * sessions and limits. A connection whose TLS handshake has not finished within `handshakeTimeoutMs`
   * (default 10 s; Node's own is 120 s) is closed, and its slot of its address's share given back.
   */
  tls?: { port: number; key: string; cert: string; handshakeTimeoutMs?: number };
  /** Connections at once (default 1000); more are refused by the listener. */
  maxSessions?: number;
  /** Connections at once from one address (default a quarter of maxSessions): idle ones cannot keep others out. */
  maxSessionsPerAddress?: number;
  /** A connection that has not bound within this time is closed (default 30 s). */
  bindTimeoutMs?: number;
  /** After this long without a PDU from the program, the server sends enquire_link; without any PDU as long again, it closes (default 60 s). */
  enquireLinkMs?: number;
  /** The parts of a concatenated message must all arrive within this time (default 60 s). */
  partsTimeoutMs?: number;
  /** Receipts (deliver_sm) awaiting their answer on one connection at most (default 10). */
  receiptWindow?: number;
  /**
   * How often bound sessions are checked against their SMS user (default 5 s): one whose user was
   * deleted, or whose password or allowed addresses changed, is unbound and closed.
   */
  sessionCheckMs?: number;
  /** How often owed receipts are looked for (default 250 ms). */
  receiptPollMs?: number;
  /** Receipts no program took within this time are dropped (default 72 hours). */
  receiptTtlMs?: number;
  /** Failed logins of a client (IPv4 address or IPv6 /64) in a minute before its binds are refused unchecked (default 10). */
  bindFailuresPerMinute?: number;
  /** On close, how long submits being accepted may take before connections are cut (default 10 s). */
  closeTimeoutMs?: number;
}

export interface SmppServer {
  port: number;
  /** The SMPP over TLS port, when `tls` was given. */
  tlsPort: number | null;
  /** Stops accepting connections, answers the submits being accepted, unbinds and closes every connection. */
  close(): Promise<void>;
}

type BindMode = 'transmitter' | 'receiver' | 'transceiver';

interface Bound {
  mode: BindMode;
  access: AccountAccess;
  userId: number;
  login: string;
  /** What the session keeps of the password it bound with (`sessionsStillAllowed`). */
  stamp: string;
}

/** The parts of one concatenated message received so far, with the PDUs (submit_sm or submit_multi) to answer once it is whole. */
interface PartGroup {
  total: number;
  /** Destinations of the message (1 for submit_sm): its parts weigh total × destinations. */
  destinations: number;
  parts: (DecodedMessage | undefined)[];
  got: number;
  pdus: smpp.PDU[];
  startedAt: number;
  /** Sends the message the parts make (part 1's fields, every part's text in order), answering `pdus`. */
  sendWhole: (parts: DecodedMessage[], pdus: readonly smpp.PDU[]) => Promise<void>;
}

interface Connection {
  id: number;
  session: smpp.Session;
  ip: string;
  openedAt: number;
  lastSeen: number;
  /** When the server's enquire_link went unanswered so far (null: none pending). */
  enquireSentAt: number | null;
  bound: Bound | null;
  /** Its SMS user no longer allows it (`checkSessions`): being unbound, every request refused. */
  revoked: boolean;
  /** A bind is being checked: another is refused (ESME_RALYBND) until it is answered. */
  binding: boolean;
  /** Reading stopped: too many submits being accepted. */
  tooBusy: boolean;
  /** Reading stopped: the program leaves more than MAX_UNREAD_BYTES of answers unread (until 'drain'). */
  backlogged: boolean;
  /** Submits being accepted (answered when their commit is done). */
  inFlight: number;
  parts: Map<string, PartGroup>;
  /** Receipts sent and not yet answered, by outbox id. */
  receiptsOut: Set<number>;
  closed: boolean;
}

/** Submits being accepted on one connection before it is read no further (resumed at half). */
const MAX_IN_FLIGHT = 512;
/** Answers written and not yet taken by the program, beyond which its connection is read no further. */
export const MAX_UNREAD_BYTES = 1024 * 1024;
/** Parts of concatenated messages held on one connection at most. */
export const MAX_HELD_PARTS = 2_000;
/**
 * Parts × destinations held on one connection at most (a submit_multi part keeps every destination: ~235
 * bytes each): ~5 MB, and room for the longest message to 255 destinations (75 UCS-2 parts).
 */
export const MAX_HELD_PART_DESTINATIONS = 20_000;
const LEASE_MS = 60_000;
const PURGE_EVERY_MS = 10 * 60_000;

function statusCode(name: SmppStatusName): number {
  const code = smpp.errors[name];
  if (code === undefined) throw new Error(`unknown SMPP status ${name}`);
  return code;
}

/** `YYMMDDhhmmss000+` (SMPP absolute time, UTC): query_sm_resp's final_date. */
function smppTime(ms: number): string {
  const d = new Date(ms).toISOString();
  return `${d.slice(2, 4)}${d.slice(5, 7)}${d.slice(8, 10)}${d.slice(11, 13)}${d.slice(14, 16)}${d.slice(17, 19)}000+`;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/**
 * The SMPP server for customers' programs (SMPP 3.4 over TCP, on the `smpp` package's server): an SMS
 * user binds as transmitter, receiver or transceiver with `system_id` "account:login" (or `system_type`
 * the account and `system_id` the login) and its password, from an allowed address.
 *
 * - submit_sm: one message to one receiver, sent through the one sending path (channel `smpp`); its
 *   submit_sm_resp carries the message's id and is written only once the message is committed. Long
 *   texts come in message_payload or as concatenated parts (UDH with an 8- or 16-bit reference, or the
 *   sar_* TLVs): the parts are put together and sent as one message, every part answered with its id
 *   once all have arrived (a part that never comes fails the others after `partsTimeoutMs`).
 * - submit_multi: one text to 1–255 destinations, one job on the same path as submit_sm (parts put
 *   together the same way; all or nothing for credits, quota and sender). Destinations that are not one
 *   valid phone number (ESME_RINVDSTADR) and distribution lists (ESME_RINVDLNAME: Relais keeps none) are
 *   left out and listed in unsuccess_sme, the others sent; none left: refused with the first one's status,
 *   nothing written. A number given twice is sent once. Each destination's message has its own id in
 *   the history and its own receipt (with that id, the destination as source_addr); message_id is the id
 *   of the first destination's message sent to, so query_sm and cancel_sm on it act on that one message.
 *   0 destinations (or more than 255) is ESME_RINVNUMDESTS.
 * - registered_delivery: a receipt (deliver_sm, esm_class 0x04, `id:… stat:DELIVRD err:…` and the
 *   receipted_message_id / message_state TLVs) when the message is final, on a receiver or
 *   transceiver bind of the same SMS user, on any process; kept while none is bound.
 * - query_sm answers the message's state; cancel_sm cancels a pending message (credits given back).
 * - data_sm as submit_sm (its text in message_payload).
 * - enquire_link both ways, unbind; replace_sm is answered ESME_RINVCMDID.
 * Refusals are answered with the SMPP status that says why (logged with the reason: SMPP 3.4 responses
 * with an error carry no text); unexpected failures with ESME_RX_T_APPN, so the program retries.
 */
export async function startSmppServer(options: SmppServerOptions): Promise<SmppServer> {
  const { services, log } = options;
  const clock = services.clock;
  const service = createSmppService({ smsUsers: services.smsUsers, sending: services.sending, history: services.history, clock });
  const receipts = createSmppReceiptsRepository(services.database);
  const owner = processOwner('smpp-receipts');
  const bindTimeoutMs = options.bindTimeoutMs ?? 30_000;
  const enquireLinkMs = options.enquireLinkMs ?? 60_000;
  const partsTimeoutMs = options.partsTimeoutMs ?? 60_000;
  const maxPerAddress = options.maxSessionsPerAddress ?? Math.max(1, Math.floor((options.maxSessions ?? 1000) / 4));
  const receiptWindow = options.receiptWindow ?? 10;
  const receiptTtlMs = options.receiptTtlMs ?? 72 * 3_600_000;
  const loginAttempts = createLoginAttempts({ clock, limit: options.bindFailuresPerMinute ?? 10 });
  const closeTimeoutMs = options.closeTimeoutMs ?? 10_000;

  const connections = new Set<Connection>();
  /** Receiver and transceiver connections by SMS user id: where its receipts go. */
  const receivers = new Map<number, Set<Connection>>();
  const working = new Set<Promise<void>>();
  let nextId = 1;
  let closing = false;

  /** Runs `work` for a connection's PDU; never throws (a handler that threw would stop the package's reading). */
  function track(work: () => Promise<void>): void {
    const promise = work()
      .catch((error: unknown) => log.error({ err: error }, 'smpp: unexpected failure'))
      .finally(() => working.delete(promise));
    working.add(promise);
  }

  /** Reads the connection's PDUs only while it is neither too busy nor leaving its answers unread. */
  function updateReading(c: Connection): void {
    if (c.closed) return;
    if (c.tooBusy || c.backlogged) c.session.pause();
    else c.session.resume();
  }

  /** A program that does not read its answers is read no further until it does (bound or not). */
  function checkBacklog(c: Connection): void {
    const socket = c.session.socket;
    if (c.backlogged || c.closed || socket.writableLength <= MAX_UNREAD_BYTES) return;
    c.backlogged = true;
    log.info({ connection: c.id, ip: c.ip, unread: socket.writableLength, read: socket.bytesRead }, 'smpp: answers unread, reading paused');
    updateReading(c);
    socket.once('drain', () => {
      c.backlogged = false;
      updateReading(c);
    });
  }

  function answer(c: Connection, pdu: smpp.PDU, fields: Record<string, unknown> = {}): void {
    if (c.closed) return;
    try {
      c.session.send(pdu.response(fields));
    } catch (error) {
      log.warn({ err: error, connection: c.id }, 'smpp: a response could not be written');
    }
    checkBacklog(c);
  }

  function refuse(c: Connection, pdu: smpp.PDU, refusal: SubmitRefusal): void {
    log.info(
      { connection: c.id, ip: c.ip, login: c.bound?.login, command: pdu.command, status: refusal.status, reason: refusal.reason },
      'smpp: refused',
    );
    answer(c, pdu, { command_status: statusCode(refusal.status) });
  }

  function temporaryFailure(c: Connection, pdu: smpp.PDU, error: unknown): void {
    log.error({ err: error, connection: c.id, command: pdu.command }, 'smpp: temporary failure');
    answer(c, pdu, { command_status: statusCode('ESME_RX_T_APPN') });
  }

  function closeConnection(c: Connection, why: string): void {
    if (c.closed) return;
    log.info({ connection: c.id, ip: c.ip, login: c.bound?.login, why }, 'smpp: connection closed');
    c.closed = true;
    c.session.destroy();
  }

  /** Asks the program to unbind, and closes the connection on its answer or a second later. */
  function unbindAndClose(c: Connection, why: string): void {
    if (c.closed) return;
    if (c.bound) c.session.unbind({}, () => closeConnection(c, why));
    setTimeout(() => closeConnection(c, why), 1_000).unref();
  }

  function forget(c: Connection): void {
    c.closed = true;
    connections.delete(c);
    if (c.bound) {
      const set = receivers.get(c.bound.userId);
      set?.delete(c);
      if (set && set.size === 0) receivers.delete(c.bound.userId);
    }
    // Receipts sent and not answered: claimable again at once (by any process).
    if (c.receiptsOut.size > 0) {
      const ids = [...c.receiptsOut];
      c.receiptsOut.clear();
      track(() => receipts.release(owner, ids));
    }
  }

  // ---- binds -------------------------------------------------------------------------------------

  /**
   * Checks a bind's password unless its client has used up its failed logins (`loginAttempts`): binds
   * sent at once check no more passwords than the limit, the others wait for those checks, then are
   * checked or refused.
   */
  async function checkBind(c: Connection, pdu: smpp.PDU): Promise<Awaited<ReturnType<typeof service.bind>> | null> {
    try {
      const attempt = await loginAttempts.attempt(
        c.ip,
        // Wrong credentials and an address the SMS user does not allow both count (as on every channel).
        () => service.bind(text(pdu.system_id), text(pdu.system_type), text(pdu.password), c.ip),
        () => c.closed,
      );
      if (attempt.kind === 'checked') return attempt.outcome;
      if (attempt.kind === 'limited')
        refuse(c, pdu, { status: 'ESME_RBINDFAIL', reason: `too many failed binds from ${c.ip}: wait ${attempt.retryAfterSeconds} s` });
      return null;
    } catch (error) {
      log.error({ err: error, connection: c.id }, 'smpp: bind failed');
      answer(c, pdu, { command_status: statusCode('ESME_RBINDFAIL') });
      return null;
    }
  }

  function onBind(c: Connection, pdu: smpp.PDU, mode: BindMode): void {
    if (c.bound || c.binding) {
      refuse(c, pdu, { status: 'ESME_RALYBND', reason: c.bound ? 'already bound' : 'a bind is already being checked' });
      return;
    }
    c.binding = true;
    track(async () => {
      let outcome: Awaited<ReturnType<typeof service.bind>> | null;
      try {
        outcome = await checkBind(c, pdu);
      } finally {
        c.binding = false;
      }
      if (!outcome || c.closed) return;
      if (!outcome.ok) {
        refuse(c, pdu, outcome.refusal);
        return;
      }
      c.bound = { mode, access: outcome.access, userId: outcome.userId, login: outcome.login, stamp: outcome.stamp };
      answer(c, pdu, { system_id: 'Relais' });
      log.info({ connection: c.id, ip: c.ip, account: outcome.access.account.name, login: outcome.login, mode }, 'smpp: bound');
      if (mode !== 'transmitter') {
        let set = receivers.get(outcome.userId);
        if (!set) {
          set = new Set();
          receivers.set(outcome.userId, set);
        }
        set.add(c);
        void deliverReceipts();
      }
    });
  }

  // ---- submits -----------------------------------------------------------------------------------

  function admit(c: Connection, work: () => Promise<void>): void {
    c.inFlight++;
    if (c.inFlight >= MAX_IN_FLIGHT) {
      c.tooBusy = true;
      updateReading(c);
    }
    track(async () => {
      try {
        await work();
      } finally {
        c.inFlight--;
        if (c.inFlight === MAX_IN_FLIGHT / 2 && c.tooBusy) {
          c.tooBusy = false;
          updateReading(c);
        }
      }
    });
  }

  async function send(c: Connection, bound: Bound, submit: DecodedSubmit, pdus: readonly smpp.PDU[]): Promise<void> {
    let outcome: Awaited<ReturnType<typeof service.submit>>;
    try {
      outcome = await service.submit(bound.access, submit);
    } catch (error) {
      for (const pdu of pdus) temporaryFailure(c, pdu, error);
      return;
    }
    for (const pdu of pdus) {
      if (outcome.ok) answer(c, pdu, { message_id: outcome.id });
      else refuse(c, pdu, outcome.refusal);
    }
  }

  /** submit_multi: answered with the message id of its first destination sent to, and the destinations left out (unsuccess_sme). */
  async function sendMulti(c: Connection, bound: Bound, submit: DecodedSubmitMulti, pdus: readonly smpp.PDU[]): Promise<void> {
    let outcome: Awaited<ReturnType<typeof service.submitMulti>>;
    try {
      outcome = await service.submitMulti(bound.access, submit);
    } catch (error) {
      for (const pdu of pdus) temporaryFailure(c, pdu, error);
      return;
    }
    if (!outcome.ok) {
      for (const pdu of pdus) refuse(c, pdu, outcome.refusal);
      return;
    }
    if (outcome.unsuccessful.length > 0)
      log.info(
        {
          connection: c.id,
          ip: c.ip,
          login: bound.login,
          messageId: outcome.id,
          unsuccessful: outcome.unsuccessful.map(({ address, status, reason }) => ({ address, status, reason })),
        },
        'smpp: submit_multi sent, some destinations left out',
      );
    const unsuccess = outcome.unsuccessful.map((u) => ({
      dest_addr_ton: u.ton,
      dest_addr_npi: u.npi,
      // At most SMPP's 21 octets (20 and the NUL): a longer one echoed would make an answer too big to read.
      destination_addr: u.address.slice(0, 20),
      error_status_code: statusCode(u.status),
    }));
    for (const pdu of pdus) answer(c, pdu, { message_id: outcome.id, unsuccess_sme: unsuccess });
  }

  function onSubmit(c: Connection, bound: Bound, pdu: smpp.PDU): void {
    const decoded = decodeSubmit(pdu, clock.now());
    if (!decoded.ok) {
      refuse(c, pdu, decoded.refusal);
      return;
    }
    const { submit } = decoded;
    if (!submit.concat) {
      admit(c, () => send(c, bound, submit, [pdu]));
      return;
    }
    const { ref, total } = submit.concat;
    const key = `sm\u0000${submit.sender ?? ''}\u0000${submit.receiver}\u0000${ref}\u0000${total}`;
    holdPart(c, pdu, key, submit, submit.concat, 1, (whole, pdus) => send(c, bound, whole, pdus));
  }

  function onSubmitMulti(c: Connection, bound: Bound, pdu: smpp.PDU): void {
    const decoded = decodeSubmitMulti(pdu, clock.now());
    if (!decoded.ok) {
      refuse(c, pdu, decoded.refusal);
      return;
    }
    const { submit } = decoded;
    if (!submit.concat) {
      admit(c, () => sendMulti(c, bound, submit, [pdu]));
      return;
    }
    const { ref, total } = submit.concat;
    // JSON: no name or address, whatever octets it holds, can make two lists of destinations look alike.
    const destinations = JSON.stringify(submit.destinations.map((d) => (d.kind === 'list' ? ['list', d.name] : [d.ton, d.npi, d.address])));
    const key = `multi\u0000${submit.sender ?? ''}\u0000${destinations}\u0000${ref}\u0000${total}`;
    holdPart(c, pdu, key, submit, submit.concat, submit.destinations.length, (whole, pdus) => sendMulti(c, bound, whole, pdus));
  }

  /**
   * Holds one part of a concatenated message under `key` (the command, sender, receivers, reference and
   * count of the message it belongs to); once every part has come, `sendWhole` gets the message they make
   * (part 1's fields, every part's text in order) and every part's PDU to answer.
   */
  function holdPart<T extends DecodedMessage>(
    c: Connection,
    pdu: smpp.PDU,
    key: string,
    part: T,
    concat: ConcatInfo,
    destinations: number,
    sendWhole: (whole: T, pdus: readonly smpp.PDU[]) => Promise<void>,
  ): void {
    const { ref, total, seq } = concat;
    let group = c.parts.get(key);
    if (!group) {
      let held = 0;
      let weight = 0;
      for (const g of c.parts.values()) {
        held += g.total;
        weight += g.total * g.destinations;
      }
      if (held + total > MAX_HELD_PARTS || weight + total * destinations > MAX_HELD_PART_DESTINATIONS) {
        const reason = `more than ${MAX_HELD_PARTS} parts (or ${MAX_HELD_PART_DESTINATIONS} parts × destinations) of unfinished messages on one connection`;
        refuse(c, pdu, { status: 'ESME_RMSGQFUL', reason });
        return;
      }
      group = {
        total,
        destinations,
        parts: new Array(total).fill(undefined),
        got: 0,
        pdus: [],
        startedAt: clock.now(),
        // The key names the command: every part held under it is a T.
        sendWhole: (parts, pdus) => sendWhole({ ...(parts[0] as T), text: parts.map((p) => p.text).join(''), concat: null }, pdus),
      };
      c.parts.set(key, group);
    }
    // A part held already is refused, the held one kept: copies would be held without limit.
    if (group.parts[seq - 1] !== undefined) {
      refuse(c, pdu, { status: 'ESME_RSUBMITFAIL', reason: `part ${seq} of ${total} (reference ${ref}) is held already: sent twice` });
      return;
    }
    group.got++;
    group.parts[seq - 1] = part;
    group.pdus.push(pdu);
    if (group.got < group.total) return;
    c.parts.delete(key);
    const whole = group;
    admit(c, () => whole.sendWhole(whole.parts as DecodedMessage[], whole.pdus));
  }

  function expireParts(c: Connection, now: number): void {
    for (const [key, group] of c.parts) {
      if (now - group.startedAt < partsTimeoutMs) continue;
      c.parts.delete(key);
      const reason = `only ${group.got} of the ${group.total} parts of a concatenated message arrived within ${Math.round(partsTimeoutMs / 1000)} s`;
      for (const pdu of group.pdus) refuse(c, pdu, { status: 'ESME_RSUBMITFAIL', reason });
    }
  }

  // ---- query_sm, cancel_sm -----------------------------------------------------------------------

  function onQuery(c: Connection, bound: Bound, pdu: smpp.PDU): void {
    track(async () => {
      try {
        const outcome = await service.query(bound.access, text(pdu.message_id));
        if (!outcome.ok) {
          refuse(c, pdu, outcome.refusal);
          return;
        }
        const { answer: a } = outcome;
        answer(c, pdu, {
          message_id: text(pdu.message_id),
          final_date: a.finalAt === null ? '' : smppTime(a.finalAt),
          message_state: a.state,
          error_code: a.errorCode,
        });
      } catch (error) {
        temporaryFailure(c, pdu, error);
      }
    });
  }

  function onCancel(c: Connection, bound: Bound, pdu: smpp.PDU): void {
    track(async () => {
      try {
        const outcome = await service.cancel(bound.access, text(pdu.message_id));
        if (!outcome.ok) {
          refuse(c, pdu, outcome.refusal);
          return;
        }
        answer(c, pdu);
        log.info({ connection: c.id, login: bound.login, messageId: text(pdu.message_id) }, 'smpp: message canceled');
      } catch (error) {
        temporaryFailure(c, pdu, error);
      }
    });
  }

  // ---- every PDU ---------------------------------------------------------------------------------

  const BINDS: Readonly<Record<string, BindMode>> = {
    bind_transmitter: 'transmitter',
    bind_receiver: 'receiver',
    bind_transceiver: 'transceiver',
  };

  function onPdu(c: Connection, pdu: smpp.PDU): void {
    c.lastSeen = clock.now();
    c.enquireSentAt = null;
    if (pdu.isResponse()) return; // deliver_sm_resp and enquire_link_resp go to their callbacks
    const command = pdu.command;
    if (command === 'enquire_link') {
      answer(c, pdu);
      return;
    }
    if (command === 'generic_nack') return;
    if (command === 'unbind') {
      answer(c, pdu);
      c.closed = true;
      c.session.close();
      return;
    }
    const mode = BINDS[command];
    if (mode) {
      onBind(c, pdu, mode);
      return;
    }
    if (command === 'unknown') {
      answer(c, pdu); // generic_nack, ESME_RINVCMDID
      return;
    }
    const bound = c.bound;
    if (!bound) {
      refuse(c, pdu, { status: 'ESME_RINVBNDSTS', reason: `${command} before bind` });
      return;
    }
    if (c.revoked) {
      refuse(c, pdu, { status: 'ESME_RINVBNDSTS', reason: 'the session was ended: its SMS user changed' });
      return;
    }
    if (closing) {
      refuse(c, pdu, { status: 'ESME_RX_T_APPN', reason: 'the server is stopping' });
      return;
    }
    const canSend = bound.mode !== 'receiver';
    switch (command) {
      // data_sm (SMPP 3.4 §4.7) is submit_sm with its text in message_payload: the same path, answered data_sm_resp.
      case 'submit_sm':
      case 'data_sm':
        if (!canSend) {
          refuse(c, pdu, { status: 'ESME_RINVBNDSTS', reason: `${command} on a receiver bind` });
          return;
        }
        onSubmit(c, bound, pdu);
        return;
      case 'submit_multi':
        if (!canSend) {
          refuse(c, pdu, { status: 'ESME_RINVBNDSTS', reason: 'submit_multi on a receiver bind' });
          return;
        }
        onSubmitMulti(c, bound, pdu);
        return;
      case 'query_sm':
        onQuery(c, bound, pdu);
        return;
      case 'cancel_sm':
        if (!canSend) {
          refuse(c, pdu, { status: 'ESME_RINVBNDSTS', reason: 'cancel_sm on a receiver bind' });
          return;
        }
        onCancel(c, bound, pdu);
        return;
      default:
        refuse(c, pdu, { status: 'ESME_RINVCMDID', reason: `${command} is not supported` });
        return;
    }
  }

  /**
   * Sockets open, on both ports, and how many by client (a TLS one counted from before its handshake): an
   * IPv4 address, or an IPv6 /64 — a host that has a /64 would otherwise open the whole server's share
   * from addresses of its own.
   */
  const sockets = new Set<Socket>();
  const socketsFrom = new Map<string, number>();
  const addressOf = (socket: Socket) => (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

  /**
   * A new connection, before anything is read from it (and, on the TLS port, before its handshake):
   * closed when its address holds its share already, so that idle connections of one address, or
   * handshakes it never finishes, cannot keep other customers out.
   */
  function onConnection(socket: Socket): void {
    const ip = addressOf(socket);
    const client = clientOf(ip);
    const fromThere = socketsFrom.get(client) ?? 0;
    if (fromThere >= maxPerAddress) {
      log.info({ ip, client, connections: fromThere }, 'smpp: too many connections from one address, closed');
      socket.destroy();
      return;
    }
    socketsFrom.set(client, fromThere + 1);
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      const left = (socketsFrom.get(client) ?? 1) - 1;
      if (left > 0) socketsFrom.set(client, left);
      else socketsFrom.delete(client);
    });
  }

  function onSession(session: smpp.Session): void {
    const socket = session.socket;
    const now = clock.now();
    const ip = addressOf(socket);
    const c: Connection = {
      id: nextId++,
      session,
      ip,
      openedAt: now,
      lastSeen: now,
      enquireSentAt: null,
      bound: null,
      revoked: false,
      binding: false,
      tooBusy: false,
      backlogged: false,
      inFlight: 0,
      parts: new Map(),
      receiptsOut: new Set(),
      closed: false,
    };
    connections.add(c);
    session.on('error', (error: Error) => {
      // A PDU that cannot be decoded (the package stops reading that connection), or a socket error.
      log.info({ err: error, connection: c.id, ip: c.ip }, 'smpp: connection error');
      closeConnection(c, error.message);
    });
    session.on('close', () => forget(c));
    session.on('pdu', (pdu: smpp.PDU) => {
      try {
        onPdu(c, pdu);
      } catch (error) {
        log.error({ err: error, connection: c.id, command: pdu.command }, 'smpp: unexpected failure');
        temporaryFailure(c, pdu, error);
      }
    });
    if (closing) closeConnection(c, 'the server is stopping');
  }

  // ---- receipts ----------------------------------------------------------------------------------

  let delivering = false;
  const completed: number[] = [];

  function sendReceipt(c: Connection, due: DueReceipt): void {
    c.receiptsOut.add(due.id);
    const sent = c.session.deliver_sm(receiptDeliverSm(due.receipt), (resp: smpp.PDU) => {
      if (!c.receiptsOut.delete(due.id)) return;
      if (resp.command_status === 0) {
        completed.push(due.id);
        void deliverReceipts();
        return;
      }
      const attempts = due.attempts + 1;
      const delay = Math.min(600_000, 5_000 * 2 ** Math.min(attempts, 7));
      log.info({ connection: c.id, receipt: due.id, status: resp.command_status, attempts }, 'smpp: receipt refused, tried again later');
      track(() => receipts.retryLater(owner, due.id, attempts, clock.now() + delay));
    });
    if (!sent) c.receiptsOut.delete(due.id); // not writable: its lease runs out, then it is claimed again
  }

  /** Sends the receipts owed to the SMS users bound here, as far as each connection's window allows. */
  async function deliverReceipts(): Promise<void> {
    if (delivering) return;
    delivering = true;
    try {
      if (completed.length > 0) await receipts.complete(completed.splice(0));
      for (const [userId, set] of receivers) {
        const open = [...set].filter((c) => !c.closed);
        const room = open.reduce((sum, c) => sum + Math.max(0, receiptWindow - c.receiptsOut.size), 0);
        if (room === 0) continue;
        const due = await receipts.claim(userId, owner, clock.now(), room, LEASE_MS);
        for (const receipt of due) {
          const target = open
            .filter((c) => !c.closed && c.receiptsOut.size < receiptWindow)
            .sort((a, b) => a.receiptsOut.size - b.receiptsOut.size)[0];
          if (!target) {
            await receipts.release(owner, [receipt.id]);
            continue;
          }
          sendReceipt(target, receipt);
        }
      }
    } catch (error) {
      log.warn({ err: error }, 'smpp: sending receipts failed, tried again shortly');
    } finally {
      delivering = false;
    }
  }

  // ---- housekeeping ------------------------------------------------------------------------------

  function housekeeping(): void {
    const now = clock.now();
    for (const c of connections) {
      if (c.closed) continue;
      expireParts(c, now);
      if (!c.bound) {
        if (now - c.openedAt > bindTimeoutMs) closeConnection(c, 'no bind in time');
        continue;
      }
      // Asked and nothing came back within enquireLinkMs (any PDU clears the question): the program is gone.
      if (c.enquireSentAt !== null) {
        if (now - c.enquireSentAt > enquireLinkMs) closeConnection(c, 'no answer to enquire_link');
      } else if (now - c.lastSeen > enquireLinkMs) {
        c.enquireSentAt = now;
        c.session.enquire_link({});
      }
    }
  }

  /**
   * Ends the sessions that may no longer go on (`sessionsStillAllowed`: user deleted, password or
   * allowed addresses changed, by this process or another): refused from now on, unbound, closed.
   */
  let checkingSessions = false;
  async function checkSessions(): Promise<void> {
    if (checkingSessions) return;
    const bound = [...connections].filter((c) => c.bound && !c.closed && !c.revoked);
    if (bound.length === 0) return;
    checkingSessions = true;
    try {
      const allowed = await service.sessionsStillAllowed(bound.map((c) => ({ userId: c.bound!.userId, stamp: c.bound!.stamp, ip: c.ip })));
      for (const [i, c] of bound.entries()) {
        if (allowed[i] || c.closed) continue;
        c.revoked = true;
        const set = receivers.get(c.bound!.userId);
        set?.delete(c);
        if (set && set.size === 0) receivers.delete(c.bound!.userId);
        unbindAndClose(c, 'its SMS user was deleted, or its password or allowed addresses changed');
      }
    } catch (error) {
      log.warn({ err: error }, 'smpp: checking the bound sessions failed, tried again later');
    } finally {
      checkingSessions = false;
    }
  }

  /** A listener for plain SMPP (`tls` absent) or SMPP over TLS, sharing every session's state. */
  async function listen(
    port: number,
    tls?: { key: string; cert: string; handshakeTimeoutMs?: number },
  ): Promise<ReturnType<typeof smpp.createServer>> {
    // A TLS handshake gets 10 s by default (Node's is 120 s): connections that never finish it hold no slot long.
    const server = smpp.createServer(
      tls ? { key: tls.key, cert: tls.cert, handshakeTimeout: tls.handshakeTimeoutMs ?? 10_000 } : {},
      onSession,
    );
    server.maxConnections = options.maxSessions ?? 1000;
    server.on('error', (error: Error) => log.warn({ err: error }, 'smpp: listener error'));
    // After the package's own listener: a plain connection has its session by then, a TLS one its wrapper.
    server.on('connection', onConnection);
    // A handshake that fails (no TLS spoken, a certificate refused) closes only that connection.
    // A handshake that times out only emits tlsClientError: its socket stays open (holding its address's
    // share) unless destroyed here.
    if (tls)
      server.on('tlsClientError', (error: Error, socket: { destroy(): void }) => {
        log.info({ err: error }, 'smpp: TLS handshake failed');
        socket.destroy();
      });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once('error', onError);
      server.listen(port, options.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return server;
  }
  const server = await listen(options.port);
  let tlsServer: ReturnType<typeof smpp.createServer> | null = null;
  try {
    tlsServer = options.tls ? await listen(options.tls.port, options.tls) : null;
  } catch (error) {
    server.close();
    throw error;
  }
  const tlsPort = tlsServer ? (tlsServer.address() as AddressInfo).port : null;
  if (tlsPort !== null) log.info({ port: tlsPort, host: options.host }, 'SMPP over TLS listening');
  const port = (server.address() as AddressInfo).port;
  log.info({ port, host: options.host }, 'SMPP server listening');

  const housekeeper = setInterval(housekeeping, 1_000);
  housekeeper.unref();
  const sessionChecker = setInterval(() => track(checkSessions), options.sessionCheckMs ?? 5_000);
  sessionChecker.unref();
  const poller = setInterval(() => void deliverReceipts(), options.receiptPollMs ?? 250);
  poller.unref();
  const purge = async () => {
    try {
      const dropped = await receipts.purgeOlderThan(clock.now() - receiptTtlMs);
      if (dropped > 0) log.warn({ dropped }, 'smpp: receipts no program took in time were dropped');
    } catch (error) {
      log.warn({ err: error }, 'smpp: dropping old receipts failed');
    }
  };
  const purger = setInterval(() => track(purge), PURGE_EVERY_MS);
  purger.unref();
  track(purge);

  let closed: Promise<void> | undefined;
  return {
    port,
    tlsPort,
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(housekeeper);
        clearInterval(sessionChecker);
        clearInterval(poller);
        clearInterval(purger);
        const stopped = Promise.all(
          [server, tlsServer].flatMap((listener) => (listener ? [new Promise<void>((resolve) => listener.close(() => resolve()))] : [])),
        );
        // The submits being accepted are answered first (their messages are committed), within a bound.
        const deadline = new Promise<void>((resolve) => setTimeout(resolve, closeTimeoutMs).unref());
        await Promise.race([Promise.allSettled([...working]), deadline]);
        for (const c of connections) unbindAndClose(c, 'the server is stopping');
        await Promise.race([stopped, deadline]);
        for (const c of connections) closeConnection(c, 'the server is stopping');
        // And the TLS connections still in their handshake (no session yet).
        for (const socket of sockets) socket.destroy();
        await Promise.race([Promise.allSettled([...working]), deadline]);
        if (completed.length > 0) await receipts.complete(completed.splice(0)).catch(() => undefined);
      })();
      return closed;
    },
  };
}
