import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { withPasswordHidden } from '../../hidden-password.js';
import type { Carrier, CarrierDeps, CarrierMessage, Receipt, SubmitResult } from './carrier.js';
import smpp from './smpp-package.js';
import {
  carrierIdOf,
  describeStatus,
  encodeSubmitSm,
  isReceipt,
  isTemporaryStatus,
  parseReceipt,
  type SubmitFields,
  statusName,
  submitFields,
  THROTTLING_STATUSES,
} from './smpp-pdu.js';
import { TokenBucket } from './token-bucket.js';

/** Options of the SMPP carrier; see `parseSmppUrl` for their URL form and defaults. */
export interface SmppCarrierOptions {
  host: string;
  port: number;
  /** `smpps://`: SMPP over TLS, the SMSC's certificate checked against the system's CAs or `caFile`. */
  tls: boolean;
  /** PEM file of the CA (or the certificate itself) that signed the SMSC's certificate (`ca=`). */
  caFile: string | null;
  systemId: string;
  password: string;
  bind: 'transceiver' | 'pair';
  systemType: string;
  serviceType: string;
  window: number;
  tps: number;
  sourceTon?: number;
  sourceNpi?: number;
  destTon: number;
  destNpi: number;
  enquireMs: number;
  timeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  throttlePauseMs: number;
}

const NUMERIC_OPTIONS = {
  window: { min: 1, max: 1000, integer: true },
  tps: { min: 0, max: 100_000, integer: false },
  source_ton: { min: 0, max: 6, integer: true },
  source_npi: { min: 0, max: 18, integer: true },
  dest_ton: { min: 0, max: 6, integer: true },
  dest_npi: { min: 0, max: 18, integer: true },
  enquire: { min: 0, max: 3600, integer: false },
  timeout: { min: 0.01, max: 600, integer: false },
  reconnect_min: { min: 0.01, max: 3600, integer: false },
  reconnect_max: { min: 0.01, max: 3600, integer: false },
  throttle_pause: { min: 0, max: 600, integer: false },
} as const;

/**
 * Options from `smpp://system_id:password@host:port?option=value&…` (system_id and password
 * percent-encoded when they hold reserved characters), or `smpps://…` for SMPP over TLS. Throws an
 * Error saying what is wrong (never showing the password). Options, all optional:
 *
 * | option | default | meaning |
 * | --- | --- | --- |
 * | port (in the authority) | 2775 (smpps: 3550) | SMSC TCP port |
 * | ca | the system's CAs | smpps: PEM file of the CA that signed the SMSC's certificate (or that certificate); the certificate is always checked, and must name the host |
 * | window | 10 | submit_sm sent and not yet answered, at most; more wait in a local FIFO. The dispatcher also keeps at most this many parts sent and not yet recorded: what a crash can send twice |
 * | tps | 100 | submit_sm a second, at most (token bucket, bursts of a tenth of a second); 0 = unlimited |
 * | bind | transceiver | `transceiver` (one bind_transceiver) or `pair` (bind_transmitter + bind_receiver, two connections) |
 * | system_type | (empty) | bind system_type |
 * | service_type | (empty) | submit_sm service_type |
 * | source_ton, source_npi | from the sender | force the sender's TON/NPI (else alphanumeric 5/0, international 1/1, short code 0/1) |
 * | dest_ton, dest_npi | 1, 1 | receiver TON/NPI (international, ISDN) |
 * | enquire | 30 | seconds between our enquire_link; 0 = never (the SMSC's are always answered) |
 * | timeout | 30 | seconds: to bind, for a submit to be answered (queue included), for a response PDU |
 * | reconnect_min, reconnect_max | 1, 30 | seconds: reconnection back-off, doubling from min to max |
 * | throttle_pause | 1 | seconds without submitting after ESME_RTHROTTLED or ESME_RMSGQFUL |
 */
export function parseSmppUrl(spec: string): SmppCarrierOptions {
  const shown = withPasswordHidden(spec);
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new Error(`invalid SMPP carrier URL "${shown}": expected smpp://system_id:password@host:port?…`);
  }
  const bad = (why: string) => new Error(`invalid SMPP carrier URL "${shown}": ${why}`);
  if (url.protocol !== 'smpp:' && url.protocol !== 'smpps:') throw bad('the scheme must be smpp:// (or smpps:// for TLS)');
  const tls = url.protocol === 'smpps:';
  if (!url.hostname) throw bad('the SMSC host is missing');
  const systemId = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  if (!systemId) throw bad('system_id is missing (smpp://system_id:password@host:port)');
  if (systemId.length > 15) throw bad('system_id is longer than 15 characters');
  if (url.pathname && url.pathname !== '/') throw bad(`unexpected path "${url.pathname}"`);
  const port = url.port ? Number(url.port) : tls ? 3550 : 2775;
  let caFile: string | null = null;
  const numbers: Partial<Record<keyof typeof NUMERIC_OPTIONS, number>> = {};
  let bind: SmppCarrierOptions['bind'] = 'transceiver';
  let systemType = '';
  let serviceType = '';
  for (const [key, value] of url.searchParams) {
    if (key === 'bind') {
      if (value !== 'transceiver' && value !== 'pair') throw bad(`bind must be "transceiver" or "pair", got "${value}"`);
      bind = value;
    } else if (key === 'system_type') {
      systemType = value;
    } else if (key === 'service_type') {
      serviceType = value;
    } else if (key === 'ca') {
      if (!tls) throw bad('ca is an option of smpps:// (SMPP over TLS)');
      if (!value) throw bad('ca must name a PEM file');
      caFile = value;
    } else if (key in NUMERIC_OPTIONS) {
      const rule = NUMERIC_OPTIONS[key as keyof typeof NUMERIC_OPTIONS];
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n) || n < rule.min || n > rule.max || (rule.integer && !Number.isInteger(n))) {
        throw bad(`${key} must be ${rule.integer ? 'an integer' : 'a number'} from ${rule.min} to ${rule.max}, got "${value}"`);
      }
      numbers[key as keyof typeof NUMERIC_OPTIONS] = n;
    } else {
      throw bad(`unknown option "${key}" (known: bind, system_type, service_type, ca, ${Object.keys(NUMERIC_OPTIONS).join(', ')})`);
    }
  }
  const reconnectMinMs = (numbers.reconnect_min ?? 1) * 1000;
  const reconnectMaxMs = Math.max(reconnectMinMs, (numbers.reconnect_max ?? 30) * 1000);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    tls,
    caFile,
    systemId,
    password,
    bind,
    systemType,
    serviceType,
    window: numbers.window ?? 10,
    tps: numbers.tps ?? 100,
    sourceTon: numbers.source_ton,
    sourceNpi: numbers.source_npi,
    destTon: numbers.dest_ton ?? 1,
    destNpi: numbers.dest_npi ?? 1,
    enquireMs: (numbers.enquire ?? 30) * 1000,
    timeoutMs: (numbers.timeout ?? 30) * 1000,
    reconnectMinMs,
    reconnectMaxMs,
    throttlePauseMs: (numbers.throttle_pause ?? 1) * 1000,
  };
}

type PartState = 'queued' | 'held' | 'inflight' | 'accepted' | 'refused' | 'lost' | 'dropped';

interface Part {
  msg: PendingMessage;
  index: number;
  fields: SubmitFields;
  state: PartState;
  carrierId: string | null;
}

interface PendingMessage {
  message: CarrierMessage;
  parts: Part[];
  settled: boolean;
  /** A part was refused temporarily: send no more parts until every part in flight has answered. */
  halted: boolean;
  partRetries: number;
  lastTemporary: { code: string; reason: string } | null;
  timer: NodeJS.Timeout | null;
  resolve: (r: SubmitResult) => void;
}

interface InFlight {
  part: Part;
  timer: NodeJS.Timeout;
}

/** One bound link: a transceiver session, or a transmitter + receiver pair. */
interface Connection {
  tx: smpp.Session;
  rx: smpp.Session;
  inflight: Map<number, InFlight>;
  enquireTimer: NodeJS.Timeout | null;
  timers: Set<NodeJS.Timeout>;
  boundAt: number;
  lost: boolean;
  /** close() is unbinding: a session the SMSC closes after its unbind_resp must not end the other one. */
  unbinding: boolean;
}

/** A multi-part message whose accepted parts would be orphaned is retried part by part this many times before `retry: true`. */
const MAX_PART_RETRIES = 3;
/** How long `close` waits for submits in flight before unbinding. */
const CLOSE_DRAIN_MS = 5000;

/**
 * The SMPP 3.4 carrier (`smpp` package): binds, keeps at most `window` submit_sm unanswered (the
 * rest wait in a FIFO), sends at most `tps` a second, answers and sends enquire_link, reconnects
 * with back-off, and turns deliver_sm receipts into `Receipt`s.
 *
 * At-least-once window: a submit_sm sent but not answered when the connection drops (or times out)
 * resolves `retry: true`; the SMSC may have accepted it, so the dispatcher's retry can send it twice.
 * Submits still waiting in the local FIFO are never lost nor duplicated by a reconnection: they go
 * out on the next connection (or resolve `retry: true` after `timeout`).
 *
 * Receipts are handed to `onReceipt` as they come, in arrival order, without waiting for the previous
 * one to be handled (so the dispatcher can record many in one transaction; how many are pending is
 * bounded by the SMSC's own window of unanswered deliver_sm), even before the submit_sm_resp that
 * names their id (some SMSCs answer that late) and for ids never seen: the dispatcher parks unmatched
 * receipts and matches them later. Each deliver_sm_resp is sent once its `onReceipt` settles: ESME_ROK,
 * or ESME_RX_T_APPN when it threw, so the SMSC redelivers later.
 *
 * Writes are corked for the rest of the tick, so the submit_sm and deliver_sm_resp PDUs produced
 * together leave in one socket write.
 */
class SmppCarrier implements Carrier {
  readonly name = 'smpp';
  private readonly bucket: TokenBucket;
  private readonly ctx: Record<string, unknown>;
  private conn: Connection | null = null;
  private readonly sessions = new Set<smpp.Session>();
  private queue: Part[] = [];
  private started = false;
  private closing = false;
  private connecting = false;
  private onReceipt: ((r: Receipt) => Promise<void>) | null = null;
  /** Receipts handed to `onReceipt` and not yet answered. */
  private readonly receiptsPending = new Set<Promise<void>>();
  /** Sockets corked until the end of this tick. */
  private readonly corked = new Set<import('node:net').Socket>();
  private pausedUntil = 0;
  private pumpTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private ref = Math.floor(Math.random() * 256);
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly o: SmppCarrierOptions,
    private readonly deps: CarrierDeps,
    /** smpps: the CA certificates the SMSC's is checked against (else the system's). */
    private readonly ca?: string,
  ) {
    this.bucket = new TokenBucket(o.tps, deps.clock.now());
    this.backoffMs = o.reconnectMinMs;
    this.ctx = { carrier: 'smpp', host: o.host, port: o.port, systemId: o.systemId, bind: o.bind };
  }

  get window(): number {
    return this.o.window;
  }

  get ready(): boolean {
    const c = this.conn;
    const now = this.deps.clock.now();
    return (
      c !== null &&
      !c.lost &&
      !this.closing &&
      c.inflight.size + this.queue.length < this.o.window &&
      now >= this.pausedUntil &&
      this.bucket.canTake(now)
    );
  }

  async start(onReceipt: (r: Receipt) => Promise<void>): Promise<void> {
    this.onReceipt = onReceipt;
    if (this.started || this.closing) return;
    this.started = true;
    this.deps.log.info({ ...this.ctx, window: this.o.window, tps: this.o.tps }, 'carrier: SMPP connecting');
    await this.attempt();
  }

  submit(message: CarrierMessage): Promise<SubmitResult> {
    if (this.closing) return Promise.resolve({ ok: false, retry: true, code: 'CLOSED', reason: 'carrier closed' });
    const now = this.deps.clock.now();
    if (message.validUntil !== null && message.validUntil <= now) {
      return Promise.resolve({ ok: false, retry: false, code: 'VALIDITY_EXPIRED', reason: 'validity period over before submission' });
    }
    let fields: SubmitFields[];
    try {
      this.ref = (this.ref + 1) & 0xff;
      fields = submitFields(message, {
        serviceType: this.o.serviceType,
        sourceTon: this.o.sourceTon,
        sourceNpi: this.o.sourceNpi,
        destTon: this.o.destTon,
        destNpi: this.o.destNpi,
        now,
        ref: this.ref,
      });
    } catch (err) {
      return Promise.resolve({ ok: false, retry: false, code: 'INVALID_CONTENT', reason: (err as Error).message });
    }
    return new Promise((resolve) => {
      const msg: PendingMessage = {
        message,
        parts: [],
        settled: false,
        halted: false,
        partRetries: 0,
        lastTemporary: null,
        timer: null,
        resolve,
      };
      msg.parts = fields.map((f, index) => ({ msg, index, fields: f, state: 'queued', carrierId: null }));
      msg.timer = setTimeout(
        () => this.settle(msg, { ok: false, retry: true, code: 'TIMEOUT', reason: `not answered within ${this.o.timeoutMs} ms` }),
        this.o.timeoutMs,
      );
      this.queue.push(...msg.parts);
      this.pump();
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.reconnectTimer = null;
    this.pumpTimer = null;
    for (const part of [...this.queue]) this.settle(part.msg, { ok: false, retry: true, code: 'CLOSED', reason: 'carrier closing' });
    this.queue = [];
    const conn = this.conn;
    if (conn) {
      await this.drained(Math.min(CLOSE_DRAIN_MS, this.o.timeoutMs));
      conn.unbinding = true;
      await Promise.all([...new Set([conn.tx, conn.rx])].map((s) => this.unbind(s)));
      this.connectionLost(conn, 'carrier closed');
    }
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
    await Promise.all([...this.receiptsPending]);
    this.deps.log.info(this.ctx, 'carrier: SMPP closed');
  }

  // --- connection -------------------------------------------------------------------------------

  /** One connect + bind attempt; on failure logs and schedules the next one. */
  private async attempt(): Promise<void> {
    if (this.closing || this.conn || this.connecting) return;
    this.connecting = true;
    try {
      const tx = await this.openSession(this.o.bind === 'pair' ? 'bind_transmitter' : 'bind_transceiver');
      let rx = tx;
      if (this.o.bind === 'pair') {
        try {
          rx = await this.openSession('bind_receiver');
        } catch (err) {
          tx.destroy();
          throw err;
        }
      }
      if (this.closing) {
        tx.destroy();
        rx.destroy();
        return;
      }
      const conn: Connection = {
        tx,
        rx,
        inflight: new Map(),
        enquireTimer: null,
        timers: new Set(),
        boundAt: this.deps.clock.now(),
        lost: false,
        unbinding: false,
      };
      this.conn = conn;
      this.startEnquire(conn);
      this.deps.log.info(this.ctx, 'carrier: SMPP bound');
      this.pump();
    } catch (err) {
      if (this.closing) return;
      this.deps.log.warn({ ...this.ctx, err: (err as Error).message, retryInMs: this.backoffMs }, 'carrier: SMPP bind failed');
      this.scheduleReconnect();
    } finally {
      this.connecting = false;
    }
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const delay = Math.round(this.backoffMs * (1 + Math.random() * 0.1));
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.reconnectMaxMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.attempt();
    }, delay);
  }

  /** Connects and binds one session; rejects on refusal, socket error or timeout. */
  private openSession(kind: 'bind_transceiver' | 'bind_transmitter' | 'bind_receiver'): Promise<smpp.Session> {
    return new Promise((resolve, reject) => {
      const { host, port } = this.o;
      // Over TLS the certificate is checked (never skipped) and must name the host, unless it is an address.
      const tlsOptions = this.o.tls ? { tls: true, ca: this.ca, servername: isIP(host) ? undefined : host } : {};
      const session = smpp.connect({ host, port, ...tlsOptions });
      this.sessions.add(session);
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.sessions.delete(session);
        session.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`no ${kind}_resp within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
      session.on('error', (err: Error) => (settled ? this.sessionDown(session, `socket error: ${err.message}`) : fail(err)));
      session.on('close', () => {
        this.sessions.delete(session);
        if (settled) this.sessionDown(session, 'connection closed by the SMSC');
        else fail(new Error('connection closed before the bind was answered'));
      });
      session.on('pdu', (pdu: smpp.PDU) => this.onRequest(session, pdu));
      session.on(this.o.tls ? 'secureConnect' : 'connect', () => {
        const bind = new smpp.PDU(kind, {
          system_id: this.o.systemId,
          password: this.o.password,
          system_type: this.o.systemType,
          interface_version: 0x34,
        });
        const sent = session.send(bind, (resp) => {
          if (resp.command_status !== 0) {
            fail(new Error(`${kind} refused: ${describeStatus(resp.command_status)}`));
            return;
          }
          if (resp.command !== `${kind}_resp`) {
            // A generic_nack or another command with status 0 is no bind.
            fail(new Error(`${kind} answered with ${resp.command}, not ${kind}_resp`));
            return;
          }
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(session);
        });
        if (!sent) fail(new Error('socket not writable'));
      });
    });
  }

  private sessionDown(session: smpp.Session, reason: string): void {
    const conn = this.conn;
    if (conn && (conn.tx === session || conn.rx === session) && !conn.unbinding) this.connectionLost(conn, reason);
  }

  /** Ends a connection: what was in flight resolves retry:true (the at-least-once window), then reconnects. */
  private connectionLost(conn: Connection, reason: string): void {
    if (conn.lost) return;
    conn.lost = true;
    if (this.conn === conn) this.conn = null;
    if (conn.enquireTimer) clearInterval(conn.enquireTimer);
    for (const t of conn.timers) clearTimeout(t);
    conn.timers.clear();
    for (const s of new Set([conn.tx, conn.rx])) {
      this.sessions.delete(s);
      s.destroy();
    }
    const lost = [...conn.inflight.values()];
    conn.inflight.clear();
    for (const { part, timer } of lost) {
      clearTimeout(timer);
      part.state = 'lost';
      this.settle(part.msg, {
        ok: false,
        retry: true,
        code: 'DISCONNECTED',
        reason: `connection lost before submit_sm_resp (${reason}); the SMSC may have accepted it`,
      });
    }
    this.notifyDrain();
    if (this.closing) return;
    const lived = this.deps.clock.now() - conn.boundAt;
    if (lived >= this.o.reconnectMaxMs) this.backoffMs = this.o.reconnectMinMs;
    this.deps.log.warn({ ...this.ctx, reason, inFlight: lost.length, queued: this.queue.length }, 'carrier: SMPP connection lost');
    this.scheduleReconnect();
  }

  private startEnquire(conn: Connection): void {
    if (this.o.enquireMs <= 0) return;
    conn.enquireTimer = setInterval(() => {
      for (const s of new Set([conn.tx, conn.rx])) {
        if (conn.lost) return;
        const timer = setTimeout(() => this.connectionLost(conn, 'enquire_link not answered'), this.o.timeoutMs);
        conn.timers.add(timer);
        const sent = s.send(new smpp.PDU('enquire_link'), () => {
          clearTimeout(timer);
          conn.timers.delete(timer);
        });
        if (!sent) this.connectionLost(conn, 'socket not writable');
      }
    }, this.o.enquireMs);
  }

  private unbind(session: smpp.Session): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        session.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(1000, this.o.timeoutMs));
      session.once('close', done);
      if (!session.send(new smpp.PDU('unbind'), done)) done();
    });
  }

  // --- requests from the SMSC -------------------------------------------------------------------

  private respond(session: smpp.Session, pdu: smpp.PDU, status = 0, after?: () => void): void {
    try {
      this.cork(session);
      const sent = session.send(pdu.response(status ? { command_status: status } : {}), after);
      if (!sent) after?.();
    } catch (err) {
      this.deps.log.warn({ ...this.ctx, err: (err as Error).message, command: pdu.command }, 'carrier: SMPP could not answer');
      after?.();
    }
  }

  private onRequest(session: smpp.Session, pdu: smpp.PDU): void {
    if (pdu.isResponse()) return;
    switch (pdu.command) {
      case 'enquire_link':
        this.respond(session, pdu);
        return;
      case 'deliver_sm':
      case 'data_sm':
        this.onDeliverSm(session, pdu);
        return;
      case 'unbind':
        this.respond(session, pdu, 0, () => {
          if (this.conn && (this.conn.tx === session || this.conn.rx === session)) this.sessionDown(session, 'unbind by the SMSC');
          else session.destroy();
        });
        return;
      case 'alert_notification':
      case 'outbind':
        return;
      default:
        this.deps.log.debug({ ...this.ctx, command: pdu.command }, 'carrier: SMPP unsupported request');
        this.respond(session, pdu, smpp.errors.ESME_RINVCMDID);
    }
  }

  private onDeliverSm(session: smpp.Session, pdu: smpp.PDU): void {
    if (!isReceipt(pdu)) {
      this.deps.log.debug({ ...this.ctx, from: pdu.source_addr, to: pdu.destination_addr }, 'carrier: SMPP incoming SMS ignored');
      this.respond(session, pdu);
      return;
    }
    const parsed = parseReceipt(pdu, this.deps.clock.now());
    if (!parsed.ok) {
      this.deps.log.warn({ ...this.ctx, reason: parsed.reason }, 'carrier: SMPP unreadable receipt ignored');
      this.respond(session, pdu);
      return;
    }
    const receipt = parsed.receipt;
    const handled: Promise<void> = (async () => {
      let status = 0;
      try {
        await this.onReceipt?.(receipt);
      } catch (err) {
        status = smpp.errors.ESME_RX_T_APPN;
        this.deps.log.error(
          { ...this.ctx, err, carrierMessageId: receipt.carrierMessageId },
          'carrier: receipt handler failed; asking the SMSC to redeliver',
        );
      }
      this.respond(session, pdu, status);
    })().finally(() => this.receiptsPending.delete(handled));
    this.receiptsPending.add(handled);
  }

  /** Holds the session's writes until the end of this tick, so PDUs made together go out in one write. */
  private cork(session: smpp.Session): void {
    const socket = session.socket;
    if (!socket || this.corked.has(socket)) return;
    this.corked.add(socket);
    socket.cork();
    process.nextTick(() => {
      this.corked.delete(socket);
      socket.uncork();
    });
  }

  // --- submitting -------------------------------------------------------------------------------

  private settle(msg: PendingMessage, result: SubmitResult): void {
    if (msg.settled) return;
    msg.settled = true;
    if (msg.timer) clearTimeout(msg.timer);
    if (msg.parts.some((p) => p.state === 'queued')) this.queue = this.queue.filter((p) => p.msg !== msg);
    for (const p of msg.parts) if (p.state === 'queued' || p.state === 'held') p.state = 'dropped';
    if (!result.ok) this.deps.log.debug({ ...this.ctx, id: msg.message.id, ...result }, 'carrier: SMPP submit not accepted');
    msg.resolve(result);
  }

  private schedulePump(ms: number): void {
    if (this.pumpTimer) return;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = null;
      this.pump();
    }, ms);
  }

  /** Sends queued parts while bound, the window has room, and the rate allows. */
  private pump(): void {
    const conn = this.conn;
    while (conn && !conn.lost && !this.closing && this.queue.length > 0 && conn.inflight.size < this.o.window) {
      const now = this.deps.clock.now();
      if (now < this.pausedUntil) {
        this.schedulePump(this.pausedUntil - now);
        return;
      }
      const wait = this.bucket.take(now);
      if (wait > 0) {
        this.schedulePump(wait);
        return;
      }
      const part = this.queue.shift();
      if (part) this.sendPart(conn, part);
    }
  }

  private sendPart(conn: Connection, part: Part): void {
    part.state = 'inflight';
    let sent = false;
    let pdu: smpp.PDU;
    try {
      pdu = submitPdu(encodeSubmitSm(part.fields));
      this.cork(conn.tx);
      sent = conn.tx.send(pdu, (resp) => this.onSubmitResp(conn, pdu.sequence_number, resp));
    } catch (err) {
      part.state = 'refused';
      this.settle(part.msg, {
        ok: false,
        retry: false,
        code: 'INVALID_MESSAGE',
        reason: `could not encode submit_sm: ${(err as Error).message}`,
      });
      return;
    }
    if (!sent) {
      part.state = 'queued';
      this.queue.unshift(part);
      this.connectionLost(conn, 'socket not writable');
      return;
    }
    const timer = setTimeout(() => this.connectionLost(conn, `no submit_sm_resp within ${this.o.timeoutMs} ms`), this.o.timeoutMs);
    conn.inflight.set(pdu.sequence_number, { part, timer });
  }

  private onSubmitResp(conn: Connection, seq: number, resp: smpp.PDU): void {
    const entry = conn.inflight.get(seq);
    if (!entry) return;
    conn.inflight.delete(seq);
    clearTimeout(entry.timer);
    const { part } = entry;
    const msg = part.msg;
    const status = resp.command_status;
    const total = msg.parts.length;
    const partLabel = total > 1 ? ` part ${part.index + 1}/${total}` : '';
    if (status === 0 && resp.command !== 'submit_sm_resp') {
      // Another command, status 0, under the submit's sequence number: the SMSC is confused and the
      // submit's outcome unknown, as after a timeout: the connection is dropped and the message retried.
      conn.inflight.set(seq, entry);
      this.connectionLost(conn, `the SMSC answered a submit_sm with ${resp.command}`);
      return;
    }
    if (status === 0) {
      part.state = 'accepted';
      // As receipts name it (parseReceipt): some SMSCs pad the id with spaces; no control character
      // (PostgreSQL cannot store a NUL).
      part.carrierId = carrierIdOf(resp.message_id);
      if (msg.settled) {
        this.deps.log.warn(
          { ...this.ctx, id: msg.message.id, carrierMessageId: part.carrierId },
          'carrier: SMPP accepted a submit already answered retry (timeout): it may be sent twice',
        );
      } else if (msg.parts.every((p) => p.state === 'accepted')) {
        this.settle(msg, { ok: true, carrierMessageIds: msg.parts.map((p) => p.carrierId ?? '') });
      } else if (msg.halted) {
        this.reconsider(msg);
      }
    } else if (status !== 0 && isTemporaryStatus(status)) {
      const code = statusName(status);
      part.state = 'held';
      if (THROTTLING_STATUSES.has(code)) this.pausedUntil = Math.max(this.pausedUntil, this.deps.clock.now() + this.o.throttlePauseMs);
      msg.lastTemporary = { code, reason: `SMSC answered${partLabel}: ${describeStatus(status)}` };
      if (!msg.settled) {
        msg.halted = true;
        this.queue = this.queue.filter((p) => p.msg !== msg);
        for (const p of msg.parts) if (p.state === 'queued') p.state = 'held';
        this.reconsider(msg);
      }
      if (code === 'ESME_RINVBNDSTS') this.connectionLost(conn, 'the SMSC answered ESME_RINVBNDSTS (not bound)');
    } else {
      part.state = 'refused';
      this.settle(msg, {
        ok: false,
        retry: false,
        code: statusName(status),
        reason: `SMSC refused${partLabel}: ${describeStatus(status)}`,
      });
    }
    this.notifyDrain();
    this.pump();
  }

  /**
   * After a temporary refusal, once no part of the message is in flight: when some parts were
   * already accepted, send the others again with the same UDH reference (so the handset can still
   * join them) a few times; otherwise answer retry:true.
   */
  private reconsider(msg: PendingMessage): void {
    if (msg.settled || msg.parts.some((p) => p.state === 'inflight')) return;
    const accepted = msg.parts.some((p) => p.state === 'accepted');
    if (accepted && msg.partRetries < MAX_PART_RETRIES) {
      msg.partRetries += 1;
      msg.halted = false;
      const again = msg.parts.filter((p) => p.state === 'held');
      for (const p of again) p.state = 'queued';
      this.queue.unshift(...again);
      return;
    }
    const t = msg.lastTemporary ?? { code: 'TEMPORARY', reason: 'temporary refusal' };
    this.settle(msg, { ok: false, retry: true, code: t.code, reason: t.reason });
  }

  private notifyDrain(): void {
    if (this.conn && this.conn.inflight.size > 0) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  private drained(maxMs: number): Promise<void> {
    if (!this.conn || this.conn.inflight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * A submit_sm for `Session.send` made of bytes from `encodeSubmitSm`: the session numbers it and
 * writes `toBuffer()` (a copy with the sequence number in), without the package's generic encoding.
 */
function submitPdu(bytes: Buffer): smpp.PDU {
  const pdu = Object.create(smpp.PDU.prototype) as smpp.PDU;
  pdu.command = 'submit_sm';
  pdu.command_id = bytes.readUInt32BE(4);
  pdu.command_status = 0;
  pdu.sequence_number = 0;
  pdu.toBuffer = () => {
    const out = Buffer.from(bytes);
    out.writeUInt32BE(pdu.sequence_number, 12);
    return out;
  };
  return pdu;
}

/** The SMPP carrier for these options (see `parseSmppUrl`). */
export function createSmppCarrier(options: SmppCarrierOptions, deps: CarrierDeps): Carrier {
  let ca: string | undefined;
  if (options.caFile !== null) {
    try {
      ca = readFileSync(options.caFile, 'utf8');
    } catch (error) {
      throw new Error(`the SMPP carrier's ca file "${options.caFile}" cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new Error(`the SMPP carrier's ca file "${options.caFile}" holds no PEM certificate`);
  }
  return new SmppCarrier(options, deps, ca);
}
