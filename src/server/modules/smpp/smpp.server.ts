import type { AddressInfo, Socket } from 'node:net';
import { clientOf } from '../../ip-address.js';
import { createLoginAttempts } from '../../login-attempts.js';
import type { Services } from '../../services.js';
import type { AccountAccess } from '../auth/principal.js';
import smpp, { pduBytes } from '../carriers/smpp-package.js';
import { processOwner } from '../dispatch/dispatching.js';
import { createSmppService, partId, type UnsuccessfulDestination } from './smpp.service.js';
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
import { createSmppReceiptsRepository, type DueReceipt, deletedMessageAt } from './smpp-receipts.repository.js';
import { readSubmitPdu, type SubmitFields } from './smpp-submit-reader.js';

export interface SmppServerLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SmppServerOptions {
  services: Pick<Services, 'smsUsers' | 'sending' | 'history' | 'clock' | 'database' | 'accounts' | 'senders' | 'config'>;
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

/**
 * The parts of one concatenated message received so far (`holdPart`): those answered on arrival, and
 * those held, to be answered with the message's outcome once it is whole.
 */
interface PartGroup {
  total: number;
  /** Destinations of the message (1 for submit_sm): its parts weigh total × destinations. */
  destinations: number;
  parts: (DecodedMessage | undefined)[];
  got: number;
  /** PDUs of the parts not answered yet (out of order, or whose message became whole while they were checked). */
  held: smpp.PDU[];
  startedAt: number;
  /** The checks of the parts being answered on arrival: the message is sent once they are done. */
  checks: Promise<void>[];
  /** A part answered on arrival was refused after the message became whole: the message is refused with it. */
  refusal: SubmitRefusal | null;
  /** Sends the message the parts make (part 1's fields, every part's text in order), answering `pdus`. */
  sendWhole: (parts: DecodedMessage[], pdus: readonly smpp.PDU[]) => Promise<void>;
}

/**
 * What a part answered on arrival is checked with (`SmppService.checkPart`, `checkMultiPart`); a
 * submit_multi part's answer lists the destinations its message will leave out (`unsuccess_sme`).
 */
type PartCheck<T> = (
  part: T,
  total: number,
) => Promise<{ ok: true; unsuccessful?: UnsuccessfulDestination[] } | { ok: false; refusal: SubmitRefusal }>;

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
  /** Its socket holds the responses written until the next tick (`write`). */
  corked: boolean;
  /** Their work (`admit`): an unbind waits for it, so that every submit read before it is answered. */
  work: Set<Promise<void>>;
  /** The program sent unbind: nothing more is read, the submits read before it are being answered. */
  unbinding: boolean;
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
/** How long a part answered on arrival waits after its checks for the next parts (`holdPart`). */
const PART_ANSWER_GRACE_MS = 50;
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

/** The package's commands by name: a command without `<name>_resp` is answered generic_nack. */
const commands = (smpp as unknown as { commands: Record<string, unknown> }).commands;

/**
 * The SMPP server for customers' programs (SMPP 3.4 over TCP, on the `smpp` package's server): an SMS
 * user binds as transmitter, receiver or transceiver with `system_id` "account:login" (or `system_type`
 * the account and `system_id` the login) and its password, from an allowed address.
 *
 * - submit_sm: one message to one receiver, sent through the one sending path (channel `smpp`); its
 *   submit_sm_resp carries the message's id and is written only once the message is committed. The PDU
 *   is read from its bytes, strictly (`readSubmitPdu`: sm_length, TLVs), its text in its data_coding
 *   (`decodeText`: no octet dropped or guessed) and its times as SMPP writes them. Long texts come in
 *   message_payload or as concatenated parts (UDH with an 8- or 16-bit reference, or the sar_* TLVs):
 *   the parts are put together and sent as one message (`holdPart`: the part completing it is answered
 *   with its id; parts in order before it on arrival, with part ids; a message whose parts do not all
 *   come within `partsTimeoutMs` is dropped, nothing written). Every submit reads the account as it is
 *   now: one the operator disabled after the bind sends nothing.
 * - submit_multi: one text to 1–255 destinations, one job on the same path as submit_sm (parts put
 *   together the same way, a part answered on arrival listing the destinations its message will leave
 *   out; all or nothing for credits, quota and sender). Destinations that are not one valid phone
 *   number (ESME_RINVDSTADR) and distribution lists (ESME_RINVDLNAME: Relais keeps none) are left out
 *   and listed in unsuccess_sme, the others sent; none left: refused with the first one's status,
 *   nothing written. A number given twice is sent once. Each destination's message has its own id in
 *   the history and its own receipt (with that id, the destination as source_addr); message_id is the id
 *   of the first destination's message sent to, so query_sm and cancel_sm on it act on that one message.
 *   0 destinations (or more than 255) is ESME_RINVNUMDESTS.
 * - registered_delivery: a receipt (deliver_sm, esm_class 0x04, `id:… stat:DELIVRD err:…` and the
 *   receipted_message_id / message_state TLVs) when the message is final, on a receiver or
 *   transceiver bind of the same SMS user, on any process; kept while none is bound.
 * - query_sm (transmitter and transceiver binds) answers the message's state (SMPP 3.4 §5.2.28:
 *   pending and sent ENROUTE, delivered DELIVERED, expired EXPIRED, failed UNDELIVERABLE; canceled — by
 *   cancel_sm, whose row goes, or kept as such — DELETED); cancel_sm cancels a pending message (credits
 *   given back).
 * - data_sm as submit_sm (its text in message_payload).
 * - enquire_link both ways; unbind answers the submits read before it, then unbind_resp (`onUnbind`).
 *   replace_sm, replace_if_present_flag and the commands an ESME does not send are refused
 *   (ESME_RINVCMDID; generic_nack for outbind and the others without a response).
 * Refusals are answered with the SMPP status that says why (logged with the reason: SMPP 3.4 responses
 * with an error carry no text); unexpected failures with ESME_RX_T_APPN, so the program retries.
 */
export async function startSmppServer(options: SmppServerOptions): Promise<SmppServer> {
  const { services, log } = options;
  const clock = services.clock;
  const service = createSmppService({
    smsUsers: services.smsUsers,
    sending: services.sending,
    history: services.history,
    clock,
    accounts: services.accounts,
    senders: services.senders,
    creditRates: services.config.creditRates,
    deletedAt: (accountId, actor, messageId) => deletedMessageAt(services.database, accountId, actor, messageId),
  });
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

  /** Runs `work` for a connection's PDU; never throws (a handler that threw would stop the package's reading), nor does what it answers. */
  function track(work: () => Promise<void>): Promise<void> {
    const promise = work()
      .catch((error: unknown) => log.error({ err: error }, 'smpp: unexpected failure'))
      .finally(() => working.delete(promise));
    working.add(promise);
    return promise;
  }

  /** Reads the connection's PDUs only while it is neither too busy nor leaving its answers unread (nor unbinding). */
  function updateReading(c: Connection): void {
    if (c.closed || c.unbinding) return;
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

  /** The response to `pdu`; generic_nack (ESME_RINVCMDID) for a command that has none (outbind, alert_notification). */
  function responseTo(pdu: smpp.PDU, fields: Record<string, unknown>): smpp.PDU {
    if (commands[`${pdu.command}_resp`] === undefined)
      return new smpp.PDU('generic_nack', { sequence_number: pdu.sequence_number, command_status: statusCode('ESME_RINVCMDID') });
    return pdu.response(fields);
  }

  /**
   * Writes a response on the connection's socket. Responses written in one turn of the event loop (those
   * of the submits one commit accepted) leave in one write: the socket is corked until the next tick.
   */
  function write(c: Connection, bytes: Buffer): void {
    const socket = c.session.socket;
    if (!socket.writable) return;
    if (!c.corked) {
      c.corked = true;
      socket.cork();
      process.nextTick(uncork, c);
    }
    socket.write(bytes);
    checkBacklog(c);
  }

  function uncork(c: Connection): void {
    c.corked = false;
    c.session.socket.uncork();
  }

  function answer(c: Connection, pdu: smpp.PDU, fields: Record<string, unknown> = {}): void {
    if (c.closed) return;
    try {
      write(c, responseTo(pdu, fields).toBuffer());
    } catch (error) {
      log.warn({ err: error, connection: c.id }, 'smpp: a response could not be written');
    }
  }

  /**
   * submit_sm_resp or data_sm_resp, written as SMPP 3.4 §4.4.2 and §4.7.2 lay them out: the header, then
   * message_id when accepted (no body when refused). Made here: the package's PDU and its encoding cost
   * more than the rest of a submit's answer.
   */
  function answerSubmit(c: Connection, pdu: smpp.PDU, status: number, messageId: string): void {
    if (c.closed) return;
    const length = status === 0 ? 16 + Buffer.byteLength(messageId, 'latin1') + 1 : 16;
    const bytes = Buffer.allocUnsafe(length);
    bytes.writeUInt32BE(length, 0);
    bytes.writeUInt32BE((pdu.command_id | 0x80000000) >>> 0, 4);
    bytes.writeUInt32BE(status, 8);
    bytes.writeUInt32BE(pdu.sequence_number, 12);
    if (status === 0) {
      bytes.write(messageId, 16, 'latin1');
      bytes[length - 1] = 0;
    }
    write(c, bytes);
  }

  function refuse(c: Connection, pdu: smpp.PDU, refusal: SubmitRefusal): void {
    log.info(
      { connection: c.id, ip: c.ip, login: c.bound?.login, command: pdu.command, status: refusal.status, reason: refusal.reason },
      'smpp: refused',
    );
    if (pdu.command === 'submit_sm' || pdu.command === 'data_sm') answerSubmit(c, pdu, statusCode(refusal.status), '');
    else answer(c, pdu, { command_status: statusCode(refusal.status) });
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

  /** Runs a submit's work, counted in the connection's in-flight submits (reading paused when too many); never rejects. */
  function admit(c: Connection, work: () => Promise<void>): Promise<void> {
    c.inFlight++;
    if (c.inFlight >= MAX_IN_FLIGHT) {
      c.tooBusy = true;
      updateReading(c);
    }
    // As `track` does, with fewer promises (this runs for every submit).
    const promise = (async () => {
      try {
        await work();
      } catch (error) {
        log.error({ err: error }, 'smpp: unexpected failure');
      } finally {
        c.inFlight--;
        if (c.inFlight === MAX_IN_FLIGHT / 2 && c.tooBusy) {
          c.tooBusy = false;
          updateReading(c);
        }
      }
    })();
    working.add(promise);
    c.work.add(promise);
    void promise.then(() => {
      working.delete(promise);
      c.work.delete(promise);
    });
    return promise;
  }

  async function send(c: Connection, bound: Bound, submit: DecodedSubmit, pdus: readonly smpp.PDU[]): Promise<void> {
    let outcome: Awaited<ReturnType<typeof service.submit>>;
    try {
      // The account as it is now: the operator may have disabled it (or enabled it again) since the bind.
      const current = await service.currentAccess(bound.access);
      outcome = current.ok ? await service.submit(current.access, submit) : current;
    } catch (error) {
      for (const pdu of pdus) temporaryFailure(c, pdu, error);
      return;
    }
    for (const pdu of pdus) {
      if (outcome.ok) answerSubmit(c, pdu, 0, outcome.id);
      else refuse(c, pdu, outcome.refusal);
    }
  }

  /** submit_multi: answered with the message id of its first destination sent to, and the destinations left out (unsuccess_sme). */
  async function sendMulti(c: Connection, bound: Bound, submit: DecodedSubmitMulti, pdus: readonly smpp.PDU[]): Promise<void> {
    let outcome: Awaited<ReturnType<typeof service.submitMulti>> | { ok: false; refusal: SubmitRefusal };
    try {
      const current = await service.currentAccess(bound.access);
      outcome = current.ok ? await service.submitMulti(current.access, submit) : current;
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
    const unsuccess = unsuccessSme(outcome.unsuccessful);
    for (const pdu of pdus) answer(c, pdu, { message_id: outcome.id, unsuccess_sme: unsuccess });
  }

  /** submit_multi_resp's unsuccess_sme: the destinations left out, with why. */
  function unsuccessSme(unsuccessful: readonly UnsuccessfulDestination[]) {
    return unsuccessful.map((u) => ({
      dest_addr_ton: u.ton,
      dest_addr_npi: u.npi,
      // At most SMPP's 21 octets (20 and the NUL): a longer one echoed would make an answer too big to read.
      destination_addr: u.address.slice(0, 20),
      error_status_code: statusCode(u.status),
    }));
  }

  /**
   * The fields of a submit as its bytes say (`readSubmitPdu`: sm_length and TLVs checked), or null
   * once it was refused.
   */
  function readFields(c: Connection, pdu: smpp.PDU): SubmitFields | null {
    const bytes = pduBytes(pdu);
    if (!bytes) {
      refuse(c, pdu, { status: 'ESME_RSYSERR', reason: 'the bytes of the PDU were not kept' });
      return null;
    }
    const read = readSubmitPdu(bytes);
    if (!read.ok) {
      refuse(c, pdu, read.refusal);
      return null;
    }
    return read.fields;
  }

  /** submit_sm and data_sm. */
  function onSubmit(c: Connection, bound: Bound, pdu: smpp.PDU): void {
    const fields = readFields(c, pdu);
    if (!fields) return;
    const decoded = decodeSubmit(fields, clock.now());
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
    const check: PartCheck<DecodedSubmit> = async (part, parts) => {
      const current = await service.currentAccess(bound.access);
      return current.ok ? service.checkPart(current.access, part, parts) : current;
    };
    holdPart(c, pdu, key, submit, submit.concat, 1, check, (whole, pdus) => send(c, bound, whole, pdus));
  }

  function onSubmitMulti(c: Connection, bound: Bound, pdu: smpp.PDU): void {
    const fields = readFields(c, pdu);
    if (!fields) return;
    const decoded = decodeSubmitMulti(fields, clock.now());
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
    const check: PartCheck<DecodedSubmitMulti> = async (part, parts) => {
      const current = await service.currentAccess(bound.access);
      return current.ok ? service.checkMultiPart(current.access, part, parts) : current;
    };
    holdPart(c, pdu, key, submit, submit.concat, submit.destinations.length, check, (whole, pdus) => sendMulti(c, bound, whole, pdus));
  }

  /**
   * Takes one part of a concatenated message under `key` (the command, sender, receivers, reference and
   * count of the message it belongs to). Once every part has come, `sendWhole` gets the message they
   * make (part 1's fields, every part's text in order) and answers the part that completed it (whatever
   * its number) with the message's id or refusal — and the parts held with it.
   *
   * Parts are answered before the message is whole, for programs that wait for each part's answer
   * before sending the next (a window of 1: jSMPP's and Cloudhopper's default): a part whose earlier
   * parts have all come is answered on arrival, once `check` passed (the account enabled, receiver or
   * destinations, sender, credits and quota for the whole message) and PART_ANSWER_GRACE_MS went by,
   * with ESME_ROK and a part id of its own (`partId`: no message id; query_sm and cancel_sm refuse it;
   * a submit_multi part's answer also lists the destinations its message will leave out); refused, it is
   * taken out of the message, and may come again. The message whole meanwhile (a program sending its
   * parts without waiting), the part is answered with the message's outcome instead. A part that comes
   * before an earlier one is held, and answered with the message's outcome. A message whose parts do
   * not all come within `partsTimeoutMs` is dropped, its held parts refused (a part coming later is held
   * anew, and refused in turn); nothing of it is written or debited, as when its session ends first:
   * its parts answered on arrival never had the message's answer, and the program, never told the
   * message's id, sends it again. Memory stays bounded as for held parts: MAX_HELD_PARTS and
   * MAX_HELD_PART_DESTINATIONS count every message not yet whole, whatever was answered.
   */
  function holdPart<T extends DecodedMessage>(
    c: Connection,
    pdu: smpp.PDU,
    key: string,
    part: T,
    concat: ConcatInfo,
    destinations: number,
    check: PartCheck<T>,
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
        held: [],
        startedAt: clock.now(),
        checks: [],
        refusal: null,
        // The key names the command: every part held under it is a T.
        sendWhole: (parts, pdus) =>
          sendWhole(Object.assign({}, parts[0] as T, { text: parts.map((p) => p.text).join(''), concat: null }), pdus),
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
    const g = group;
    if (g.got === g.total) {
      c.parts.delete(key);
      g.held.push(pdu);
      admit(c, async () => {
        // Parts still being checked are answered with the message (they join `held`), or refuse it.
        await Promise.all(g.checks);
        if (g.refusal) for (const p of g.held) refuse(c, p, g.refusal);
        else await g.sendWhole(g.parts as DecodedMessage[], g.held);
      });
      return;
    }
    if (g.parts.slice(0, seq - 1).includes(undefined)) {
      g.held.push(pdu);
      return;
    }
    g.checks.push(
      admit(c, async () => {
        let outcome: Awaited<ReturnType<PartCheck<T>>>;
        try {
          outcome = await check(part, total);
          // The next parts of a program that sent them without waiting for this answer are read meanwhile:
          // the message then whole, this part is answered with it.
          await new Promise((resolve) => setTimeout(resolve, PART_ANSWER_GRACE_MS));
          // And what had come by then, if this process was too busy to read it before its timers ran.
          for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
        } catch (error) {
          temporaryFailure(c, pdu, error);
          outcome = { ok: false, refusal: { status: 'ESME_RX_T_APPN', reason: 'a part could not be checked' } };
        }
        const open = c.parts.get(key) === g;
        const whole = !open && g.got === g.total;
        if (outcome.ok) {
          // Whole meanwhile (its parts sent without waiting for answers): answered with the message.
          if (whole) g.held.push(pdu);
          else if (!open) refuse(c, pdu, { status: 'ESME_RSUBMITFAIL', reason: 'its message was dropped while this part was checked' });
          else if (outcome.unsuccessful)
            answer(c, pdu, { message_id: partId(seq, total), unsuccess_sme: unsuccessSme(outcome.unsuccessful) });
          else answerSubmit(c, pdu, 0, partId(seq, total));
          return;
        }
        if (outcome.refusal.status !== 'ESME_RX_T_APPN') refuse(c, pdu, outcome.refusal);
        if (open) {
          // Still waiting for parts: this one is taken out, and may come again.
          g.parts[seq - 1] = undefined;
          g.got--;
          if (g.got === 0) c.parts.delete(key);
        } else if (whole) g.refusal ??= outcome.refusal;
      }),
    );
  }

  /** Drops the messages whose parts did not all come in time: their held parts are refused, nothing is written. */
  function expireParts(c: Connection, now: number): void {
    for (const [key, group] of c.parts) {
      if (now - group.startedAt < partsTimeoutMs) continue;
      c.parts.delete(key);
      const reason = `only ${group.got} of the ${group.total} parts of a concatenated message arrived within ${Math.round(partsTimeoutMs / 1000)} s`;
      if (group.held.length < group.got)
        log.info(
          { connection: c.id, ip: c.ip, login: c.bound?.login, reason, answered: group.got - group.held.length },
          'smpp: message dropped',
        );
      for (const pdu of group.held) refuse(c, pdu, { status: 'ESME_RSUBMITFAIL', reason });
    }
  }

  /** Refuses the held parts of every unfinished message of a session that ends; nothing of them is written. */
  function dropParts(c: Connection, why: string): void {
    for (const group of c.parts.values())
      for (const pdu of group.held) refuse(c, pdu, { status: 'ESME_RSUBMITFAIL', reason: `${why} before its message was whole` });
    c.parts.clear();
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

  /**
   * unbind: nothing more is read from the connection (a PDU after it in the same read is neither taken
   * nor answered); the submits read before it are answered once their messages are committed, the held
   * parts of unfinished messages refused (nothing of them written); then unbind_resp, and the connection
   * closes.
   */
  function onUnbind(c: Connection, pdu: smpp.PDU): void {
    c.unbinding = true;
    c.session.pause();
    track(async () => {
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, closeTimeoutMs).unref());
      await Promise.race([Promise.allSettled([...c.work]), deadline]);
      dropParts(c, 'the session ended (unbind)');
      answer(c, pdu);
      c.closed = true;
      c.session.close();
      // What followed the unbind is read and dropped (`onPdu`), so that the program's end of the connection
      // is seen and it closes; one that keeps it open is cut.
      c.session.resume();
      setTimeout(() => c.session.destroy(), 1_000).unref();
    });
  }

  function onPdu(c: Connection, pdu: smpp.PDU): void {
    // Unbinding: whatever was read with the unbind is dropped (reading is paused).
    if (c.unbinding) return;
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
      onUnbind(c, pdu);
      return;
    }
    const mode = BINDS[command];
    if (mode) {
      onBind(c, pdu, mode);
      return;
    }
    // Unknown commands, and those an ESME never sends that have no response (outbind, alert_notification):
    // generic_nack, ESME_RINVCMDID, so that every request is answered.
    if (command === 'unknown' || commands[`${command}_resp`] === undefined) {
      refuse(c, pdu, { status: 'ESME_RINVCMDID', reason: `${command} is not a command an ESME sends` });
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
      // SMPP 3.4 §4.8: query_sm comes from a transmitter or transceiver, as the messages it asks about.
      case 'query_sm':
        if (!canSend) {
          refuse(c, pdu, { status: 'ESME_RINVBNDSTS', reason: 'query_sm on a receiver bind' });
          return;
        }
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
      corked: false,
      work: new Set(),
      unbinding: false,
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
        const open = [...set].filter((c) => !c.closed && !c.unbinding);
        const room = open.reduce((sum, c) => sum + Math.max(0, receiptWindow - c.receiptsOut.size), 0);
        if (room === 0) continue;
        const due = await receipts.claim(userId, owner, clock.now(), room, LEASE_MS);
        for (const receipt of due) {
          const target = open
            .filter((c) => !c.closed && !c.unbinding && c.receiptsOut.size < receiptWindow)
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
