import type { AddressInfo } from 'node:net';
import smpp from 'smpp';

// A test SMSC on 127.0.0.1, built with the `smpp` package's server: accepts binds, answers
// submit_sm, records what it received, and can be told to misbehave (errors, held or delayed
// responses, receipts before responses, dropped connections).

/** A concatenation UDH information element (00 03 ref total seq). */
export interface ConcatUdh {
  ref: number;
  total: number;
  seq: number;
}

/** One submit_sm as the SMSC received it (text decoded by the `smpp` package, UDH split off). */
export interface RecordedSubmit {
  sourceAddr: string;
  sourceTon: number;
  sourceNpi: number;
  destinationAddr: string;
  destTon: number;
  destNpi: number;
  esmClass: number;
  dataCoding: number;
  registeredDelivery: number;
  /** As decoded by the package: a Date, or '' when none. */
  validityPeriod: unknown;
  udh: ConcatUdh | null;
  text: string;
  /** command_status answered (null while not answered), and the message_id when accepted. */
  status: number | null;
  messageId: string | null;
  /** Which connection it came on: 1 for the first the SMSC accepted, 2 for the next… */
  connection: number;
}

export type SmppStatus = number | string;

/** How the SMSC answers a receipt: TLVs (receipted_message_id, message_state), text (`id:… stat:…`), or both. */
export type ReceiptForm = 'tlv' | 'text' | 'both';

export interface ReceiptSpec {
  stat?: string;
  err?: string;
  form?: ReceiptForm;
}

export interface SmscBehaviour {
  /** Answer this command_status to the next `count` submits. */
  errorNext: { status: SmppStatus; count: number } | null;
  /** Answer this command_status to every submit to a receiver (destination_addr, no `+`). */
  errorFor: Record<string, SmppStatus>;
  /** Keep every submit_sm_resp until `releaseResponses()`. */
  holdResponses: boolean;
  /** Delay every submit_sm_resp by this many ms. */
  responseDelayMs: number;
  /** Send this receipt for an accepted submit just before its submit_sm_resp. */
  receiptBeforeResp: ReceiptSpec | null;
  /** Send this receipt `delayMs` after an accepted submit was answered. */
  autoReceipt: (ReceiptSpec & { delayMs: number }) | null;
  /** Destroy every connection when this many more submits have arrived (the last one unanswered). */
  dropAfterSubmits: number | null;
  /** Refuse the next N binds (ESME_RBINDFAIL). */
  refuseBinds: number;
  answerEnquireLink: boolean;
}

export interface SmscReceived {
  binds: Array<{ command: string; systemId: string; ok: boolean }>;
  enquireLinks: number;
  unbinds: number;
  /** command_status of each deliver_sm_resp, in order. */
  deliverSmResps: number[];
}

export interface SmscStats {
  /** submit_sm received and not answered, now and at most (over every connection). */
  inFlight: number;
  maxInFlight: number;
  /** Connections currently open. */
  connections: number;
}

export interface TestSmsc {
  port: number;
  /** `smpp://…@127.0.0.1:port` (`smpps://` over TLS) with these credentials and extra query options. */
  url(query?: string): string;
  submits: RecordedSubmit[];
  received: SmscReceived;
  stats: SmscStats;
  setBehaviour(b: Partial<SmscBehaviour>): void;
  /** Sends the held submit_sm_resp (see `holdResponses`). */
  releaseResponses(): void;
  /** Sends a receipt deliver_sm on a receiving connection; resolves with the deliver_sm_resp status. */
  sendReceipt(r: ReceiptSpec & { messageId: string; source?: string; destination?: string }): Promise<number>;
  /** Sends a non-receipt deliver_sm (an incoming SMS); resolves with the deliver_sm_resp status. */
  sendMo(text: string): Promise<number>;
  /** Sends enquire_link on every bound connection; resolves with how many were answered. */
  sendEnquireLink(): Promise<number>;
  dropConnections(): void;
  close(): Promise<void>;
}

export interface TestSmscOptions {
  /** Port to listen on; 0 (default) for a free one. */
  port?: number;
  systemId?: string;
  password?: string;
  behaviour?: Partial<SmscBehaviour>;
  /** Listen for SMPP over TLS with this certificate (PEM); `url()` then says smpps://. */
  tls?: { key: string; cert: string };
}

const STATE_OF_STAT: Record<string, number> = {
  ENROUTE: 1,
  DELIVRD: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIV: 5,
  ACCEPTD: 6,
  UNKNOWN: 7,
  REJECTD: 8,
};

function toStatus(s: SmppStatus): number {
  if (typeof s === 'number') return s;
  const n = smpp.errors[s];
  if (n === undefined) throw new Error(`unknown SMPP status ${s}`);
  return n;
}

function smppDate(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}`;
}

/** Starts a test SMSC on 127.0.0.1 on a free port. */
export async function startTestSmsc(opts: TestSmscOptions = {}): Promise<TestSmsc> {
  const systemId = opts.systemId ?? 'relais';
  const password = opts.password ?? 'secret';
  const behaviour: SmscBehaviour = {
    errorNext: null,
    errorFor: {},
    holdResponses: false,
    responseDelayMs: 0,
    receiptBeforeResp: null,
    autoReceipt: null,
    dropAfterSubmits: null,
    refuseBinds: 0,
    answerEnquireLink: true,
    ...opts.behaviour,
  };
  const submits: RecordedSubmit[] = [];
  const received: SmscReceived = { binds: [], enquireLinks: 0, unbinds: 0, deliverSmResps: [] };
  const stats: SmscStats = { inFlight: 0, maxInFlight: 0, connections: 0 };
  const bound = new Map<smpp.Session, string>();
  const inFlight = new Map<smpp.Session, number>();
  let held: Array<() => void> = [];
  const timers = new Set<NodeJS.Timeout>();
  let nextId = 1;
  const connectionOf = new Map<smpp.Session, number>();
  let connections = 0;

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const recount = () => {
    stats.inFlight = [...inFlight.values()].reduce((a, b) => a + b, 0);
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
  };

  function receiving(): smpp.Session {
    for (const [s, kind] of bound) if (kind !== 'bind_transmitter') return s;
    throw new Error('test SMSC: no receiving connection bound');
  }

  function deliver(session: smpp.Session, fields: Record<string, unknown>): Promise<number> {
    return new Promise((resolve, reject) => {
      const ok = session.send(new smpp.PDU('deliver_sm', fields), (resp) => {
        received.deliverSmResps.push(resp.command_status);
        resolve(resp.command_status);
      });
      if (!ok) reject(new Error('test SMSC: connection not writable'));
    });
  }

  function receiptFields(r: ReceiptSpec & { messageId: string; source?: string; destination?: string }): Record<string, unknown> {
    const stat = r.stat ?? 'DELIVRD';
    const form = r.form ?? 'both';
    const now = smppDate(new Date());
    const text =
      `id:${r.messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${now} done date:${now} ` +
      `stat:${stat} err:${r.err ?? '000'} text:`;
    const fields: Record<string, unknown> = {
      source_addr: r.source ?? '33600000000',
      destination_addr: r.destination ?? 'Relais',
      esm_class: 0x04,
      data_coding: 0,
      short_message: form === 'tlv' ? Buffer.alloc(0) : Buffer.from(text, 'latin1'),
    };
    if (form !== 'text') {
      fields.receipted_message_id = r.messageId;
      fields.message_state = STATE_OF_STAT[stat] ?? 7;
    }
    return fields;
  }

  function record(session: smpp.Session, pdu: smpp.PDU): RecordedSubmit {
    const sm = pdu.short_message as { udh?: Buffer[]; message: string | Buffer } | undefined;
    const ie = sm?.udh?.find((b) => b[0] === 0x00 && b[1] === 0x03);
    const message = sm?.message ?? '';
    return {
      sourceAddr: String(pdu.source_addr ?? ''),
      sourceTon: Number(pdu.source_addr_ton),
      sourceNpi: Number(pdu.source_addr_npi),
      destinationAddr: String(pdu.destination_addr ?? ''),
      destTon: Number(pdu.dest_addr_ton),
      destNpi: Number(pdu.dest_addr_npi),
      esmClass: Number(pdu.esm_class),
      dataCoding: Number(pdu.data_coding),
      registeredDelivery: Number(pdu.registered_delivery),
      validityPeriod: pdu.validity_period,
      udh: ie ? { ref: ie[2], total: ie[3], seq: ie[4] } : null,
      text: typeof message === 'string' ? message : message.toString('hex'),
      status: null,
      messageId: null,
      connection: connectionOf.get(session) ?? 0,
    };
  }

  function onSubmit(session: smpp.Session, pdu: smpp.PDU): void {
    if (!bound.has(session) || bound.get(session) === 'bind_receiver') {
      session.send(pdu.response({ command_status: smpp.errors.ESME_RINVBNDSTS }));
      return;
    }
    const rec = record(session, pdu);
    submits.push(rec);
    inFlight.set(session, (inFlight.get(session) ?? 0) + 1);
    recount();
    if (behaviour.dropAfterSubmits !== null) {
      behaviour.dropAfterSubmits -= 1;
      if (behaviour.dropAfterSubmits <= 0) {
        behaviour.dropAfterSubmits = null;
        dropConnections();
        return;
      }
    }
    let status = 0;
    if (behaviour.errorNext && behaviour.errorNext.count > 0) {
      status = toStatus(behaviour.errorNext.status);
      behaviour.errorNext.count -= 1;
      if (behaviour.errorNext.count <= 0) behaviour.errorNext = null;
    } else if (behaviour.errorFor[rec.destinationAddr] !== undefined) {
      status = toStatus(behaviour.errorFor[rec.destinationAddr]);
    }
    const messageId = status === 0 ? `SMSC${String(nextId++).padStart(6, '0')}` : null;
    const receiptBefore = behaviour.receiptBeforeResp;
    const auto = behaviour.autoReceipt;
    const answer = () => {
      if (!inFlight.has(session)) return;
      if (messageId && receiptBefore) {
        void deliver(session, receiptFields({ ...receiptBefore, messageId })).catch(() => {});
      }
      rec.status = status;
      rec.messageId = messageId;
      session.send(pdu.response(status ? { command_status: status } : { message_id: messageId }));
      inFlight.set(session, (inFlight.get(session) ?? 1) - 1);
      recount();
      if (messageId && auto) {
        later(auto.delayMs, () => {
          if (bound.has(session)) void deliver(session, receiptFields({ ...auto, messageId })).catch(() => {});
        });
      }
    };
    if (behaviour.holdResponses) held.push(answer);
    else if (behaviour.responseDelayMs > 0) later(behaviour.responseDelayMs, answer);
    else answer();
  }

  function onSession(session: smpp.Session): void {
    stats.connections += 1;
    connectionOf.set(session, ++connections);
    session.on('error', () => {});
    session.on('close', () => {
      stats.connections -= 1;
      connectionOf.delete(session);
      bound.delete(session);
      inFlight.delete(session);
      recount();
    });
    session.on('pdu', (pdu: smpp.PDU) => {
      switch (pdu.command) {
        case 'bind_transceiver':
        case 'bind_transmitter':
        case 'bind_receiver': {
          let status = 0;
          if (behaviour.refuseBinds > 0) {
            behaviour.refuseBinds -= 1;
            status = smpp.errors.ESME_RBINDFAIL;
          } else if (pdu.system_id !== systemId) status = smpp.errors.ESME_RINVSYSID;
          else if (pdu.password !== password) status = smpp.errors.ESME_RINVPASWD;
          received.binds.push({ command: pdu.command, systemId: String(pdu.system_id), ok: status === 0 });
          if (status === 0) bound.set(session, pdu.command);
          session.send(pdu.response(status ? { command_status: status } : { system_id: 'TESTSMSC' }));
          return;
        }
        case 'submit_sm':
          onSubmit(session, pdu);
          return;
        case 'enquire_link':
          received.enquireLinks += 1;
          if (behaviour.answerEnquireLink) session.send(pdu.response());
          return;
        case 'unbind':
          received.unbinds += 1;
          bound.delete(session);
          session.send(pdu.response(), () => session.close());
          return;
        default:
          if (!pdu.isResponse()) session.send(pdu.response({ command_status: smpp.errors.ESME_RINVCMDID }));
      }
    });
  }

  function dropConnections(): void {
    held = [];
    for (const s of [...server.sessions]) {
      bound.delete(s);
      inFlight.delete(s);
      s.destroy();
    }
    recount();
  }

  const server = smpp.createServer(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}, onSession);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: (query = '') =>
      `${opts.tls ? 'smpps' : 'smpp'}://${encodeURIComponent(systemId)}:${encodeURIComponent(password)}@127.0.0.1:${port}${query ? `?${query}` : ''}`,
    submits,
    received,
    stats,
    setBehaviour(b) {
      Object.assign(behaviour, b);
    },
    releaseResponses() {
      const answers = held;
      held = [];
      for (const a of answers) a();
    },
    sendReceipt(r) {
      return deliver(receiving(), receiptFields(r));
    },
    sendMo(text) {
      return deliver(receiving(), {
        source_addr: '33611111111',
        destination_addr: 'Relais',
        esm_class: 0,
        data_coding: 0,
        short_message: Buffer.from(text, 'latin1'),
      });
    },
    async sendEnquireLink() {
      const answered = await Promise.all(
        [...bound.keys()].map(
          (s) =>
            new Promise<boolean>((resolve) => {
              const t = setTimeout(() => resolve(false), 2000);
              const ok = s.send(new smpp.PDU('enquire_link'), () => {
                clearTimeout(t);
                resolve(true);
              });
              if (!ok) {
                clearTimeout(t);
                resolve(false);
              }
            }),
        ),
      );
      return answered.filter(Boolean).length;
    },
    dropConnections,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      dropConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `probe` every few ms until it returns a truthy value (returned), or throws after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | null | undefined | false, what = 'condition', timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A logger (CarrierLog / pino-like) that keeps what it is told, for assertions. */
export function memoryLog() {
  const lines: Array<{ level: 'debug' | 'info' | 'warn' | 'error'; msg: string; obj: object }> = [];
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (obj: object, msg: string) => {
    lines.push({ level, msg, obj });
  };
  return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}
