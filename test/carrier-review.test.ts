import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import smpp from 'smpp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/server/clock.js';
import { type Carrier, createCarrier, type Receipt } from '../src/server/modules/carriers/carrier.js';
import { fakeClock, memoryLog, waitFor } from '../src/server/modules/dispatch/dispatch-testing.js';
import { createDispatcher, type Dispatcher } from '../src/server/modules/dispatch/dispatcher.service.js';
import { describeEachDialectWithApp } from './app.js';
import { createSender, type SeededAccount, seedCustomerWithAccount } from './factories.js';

// Adversarial review of the SMPP carrier client (Relais as an ESME sending to the operator's SMSC):
// a raw-socket SMSC that answers whatever it is told to (wrong sequence numbers, wrong commands, odd
// message_ids, malformed receipts and PDU headers, unbinds, floods), and the dispatcher recording what
// the carrier made of it. Each test asserts the safe outcome: no crash, nothing lost or stuck, nothing
// sent twice unless the protocol made it unavoidable, statuses as PRODUCT.md / OVH-COMPAT.md say.

// ---- raw PDUs ------------------------------------------------------------------------------------

const CMD = {
  generic_nack: 0x80000000,
  bind_receiver: 0x00000001,
  bind_transmitter: 0x00000002,
  query_sm_resp: 0x80000003,
  submit_sm: 0x00000004,
  submit_sm_resp: 0x80000004,
  deliver_sm: 0x00000005,
  deliver_sm_resp: 0x80000005,
  unbind: 0x00000006,
  unbind_resp: 0x80000006,
  bind_transceiver: 0x00000009,
  enquire_link: 0x00000015,
  enquire_link_resp: 0x80000015,
} as const;

const E = smpp.errors;

function rawPdu(commandId: number, status: number, seq: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(16 + body.length, 0);
  head.writeUInt32BE(commandId >>> 0, 4);
  head.writeUInt32BE(status >>> 0, 8);
  head.writeUInt32BE(seq >>> 0, 12);
  return Buffer.concat([head, body]);
}

/** A C-octet string: the bytes (latin1 for a string) and a NUL. */
const cstr = (s: string | Buffer) => Buffer.concat([Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'), Buffer.from([0])]);

const tlv = (tag: number, value: Buffer) => {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(tag, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value]);
};

interface DeliverSpec {
  esmClass?: number;
  dataCoding?: number;
  text?: Buffer | string;
  schedule?: string;
  validity?: string;
  tlvs?: Buffer[];
}

function deliverSmBody(d: DeliverSpec): Buffer {
  const text = d.text === undefined ? Buffer.alloc(0) : Buffer.isBuffer(d.text) ? d.text : Buffer.from(d.text, 'latin1');
  return Buffer.concat([
    cstr(''), // service_type
    Buffer.from([1, 1]),
    cstr('33600000000'),
    Buffer.from([5, 0]),
    cstr('Relais'),
    Buffer.from([d.esmClass ?? 0x04, 0, 0]), // esm_class, protocol_id, priority_flag
    cstr(d.schedule ?? ''),
    cstr(d.validity ?? ''),
    Buffer.from([0, 0, d.dataCoding ?? 0, 0]), // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    Buffer.from([text.length]),
    text,
    ...(d.tlvs ?? []),
  ]);
}

const receiptText = (id: string, stat = 'DELIVRD', err = '000') =>
  `id:${id} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:${stat} err:${err} text:`;

// ---- a raw SMSC ------------------------------------------------------------------------------------

interface InPdu {
  length: number;
  commandId: number;
  status: number;
  seq: number;
  body: Buffer;
  /** Decoded by the `smpp` package (our own client's PDUs are well formed). */
  pdu: smpp.PDU | null;
}

class RawConn {
  readonly received: InPdu[] = [];
  closed = false;
  bound = false;
  private buffer = Buffer.alloc(0);
  private seq = 0x10000;
  private readonly waiters = new Map<number, (p: InPdu) => void>();

  constructor(
    readonly socket: Socket,
    readonly n: number,
    private readonly smsc: RawSmsc,
  ) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Sends a request PDU of ours (deliver_sm, unbind, enquire_link); resolves with its response, or null if the connection ends. */
  request(commandId: number, body: Buffer = Buffer.alloc(0), timeoutMs = 5000): Promise<InPdu | null> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters.delete(seq);
        resolve(null);
      }, timeoutMs);
      this.waiters.set(seq, (p) => {
        clearTimeout(t);
        resolve(p);
      });
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve(null);
      });
      this.write(rawPdu(commandId, 0, seq, body));
    });
  }

  deliver(d: DeliverSpec): Promise<InPdu | null> {
    return this.request(CMD.deliver_sm, deliverSmBody(d));
  }

  submits(): InPdu[] {
    return this.received.filter((p) => p.commandId === CMD.submit_sm);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 16) {
      const length = this.buffer.readUInt32BE(0);
      if (length < 16 || length > 70_000) {
        this.socket.destroy();
        return;
      }
      if (this.buffer.length < length) return;
      const bytes = this.buffer.subarray(0, length);
      this.buffer = this.buffer.subarray(length);
      let pdu: smpp.PDU | null = null;
      try {
        pdu = new smpp.PDU(Buffer.from(bytes));
      } catch {
        pdu = null;
      }
      const p: InPdu = {
        length,
        commandId: bytes.readUInt32BE(4),
        status: bytes.readUInt32BE(8),
        seq: bytes.readUInt32BE(12),
        body: Buffer.from(bytes.subarray(16)),
        pdu,
      };
      this.received.push(p);
      if (p.commandId & 0x80000000) {
        const w = this.waiters.get(p.seq);
        if (w) {
          this.waiters.delete(p.seq);
          w(p);
        }
        continue;
      }
      this.smsc.handle(this, p);
    }
  }
}

type Handler = (c: RawConn, p: InPdu) => void;

/** An SMSC on 127.0.0.1 written on raw sockets: answers binds and enquire_link, and submits as `onSubmit` says. */
class RawSmsc {
  readonly conns: RawConn[] = [];
  port = 0;
  private server: Server | null = null;
  private nextId = 1;
  /** How binds are answered (default: accepted). */
  onBind: Handler = (c, p) => {
    c.bound = true;
    c.write(rawPdu(p.commandId | 0x80000000, 0, p.seq, cstr('RAWSMSC')));
  };
  /** How submit_sm are answered (default: accepted with a fresh id). */
  onSubmit: Handler = (c, p) => this.accept(c, p);
  answerEnquireLink = true;

  accept(c: RawConn, p: InPdu, id: string | Buffer = `RAW${String(this.nextId++).padStart(6, '0')}`): void {
    c.write(rawPdu(CMD.submit_sm_resp, 0, p.seq, cstr(id)));
  }

  handle(c: RawConn, p: InPdu): void {
    switch (p.commandId) {
      case CMD.bind_transceiver:
      case CMD.bind_transmitter:
      case CMD.bind_receiver:
        this.onBind(c, p);
        return;
      case CMD.submit_sm:
        this.onSubmit(c, p);
        return;
      case CMD.enquire_link:
        if (this.answerEnquireLink) c.write(rawPdu(CMD.enquire_link_resp, 0, p.seq));
        return;
      case CMD.unbind:
        c.write(rawPdu(CMD.unbind_resp, 0, p.seq));
        c.socket.end();
        return;
      default:
        c.write(rawPdu(CMD.generic_nack, E.ESME_RINVCMDID, p.seq));
    }
  }

  async start(): Promise<void> {
    this.server = createServer((socket) => this.conns.push(new RawConn(socket, this.conns.length + 1, this)));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(query = ''): string {
    return `smpp://relais:secret@127.0.0.1:${this.port}?${[FAST, query].filter(Boolean).join('&')}`;
  }

  /** The newest bound connection still open. */
  live(): RawConn | undefined {
    return [...this.conns].reverse().find((c) => c.bound && !c.closed);
  }

  binds(): number {
    return this.conns.filter((c) => c.received.some((p) => p.commandId === CMD.bind_transceiver)).length;
  }

  allSubmits(): InPdu[] {
    return this.conns.flatMap((c) => c.submits());
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Fast timings: no periodic enquire_link, quick reconnect and throttle pause, 2 s answers. */
const FAST = 'enquire=0&reconnect_min=0.02&reconnect_max=0.1&throttle_pause=0.01&timeout=2';

const message = (id = 1, text = 'Hello') => ({
  id,
  sender: 'Relais',
  receiver: '+33612345678',
  text,
  encoding: 'gsm7' as const,
  messageClass: null,
  validUntil: null,
  requestReceipt: true,
});

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function rawSetup(query = '', configure?: (s: RawSmsc) => void) {
  const smsc = new RawSmsc();
  configure?.(smsc);
  await smsc.start();
  cleanup.push(() => smsc.close());
  const { log, lines } = memoryLog();
  const carrier = createCarrier(smsc.url(query), { clock: systemClock, log });
  cleanup.push(() => carrier.close());
  const receipts: Receipt[] = [];
  await carrier.start(async (r) => {
    receipts.push(r);
  });
  return { smsc, carrier, receipts, lines };
}

async function bound(smsc: RawSmsc, carrier: Carrier, binds = 1): Promise<RawConn> {
  await waitFor(() => carrier.ready && smsc.binds() >= binds, `carrier bound (${binds})`, 5000);
  return smsc.live()!;
}

/** Resolves once the SMSC has received `n` submit_sm in all. */
const submitsSeen = (smsc: RawSmsc, n: number) => waitFor(() => smsc.allSubmits().length >= n, `${n} submit_sm`, 5000);

// ---- the carrier alone -----------------------------------------------------------------------------

describe('SMPP carrier against a hostile SMSC: responses', () => {
  it('ignores a submit_sm_resp for an unknown sequence number and a second one for an answered submit', async () => {
    const { smsc, carrier } = await rawSetup('', (s) => {
      s.onSubmit = (c, p) => {
        c.write(rawPdu(CMD.submit_sm_resp, 0, p.seq + 1000, cstr('STRAY')));
        s.accept(c, p, 'FIRST');
        s.accept(c, p, 'SECOND');
      };
    });
    await bound(smsc, carrier);
    expect(await carrier.submit(message(1))).toEqual({ ok: true, carrierMessageIds: ['FIRST'] });
    expect(await carrier.submit(message(2))).toEqual({ ok: true, carrierMessageIds: ['FIRST'] });
    expect(smsc.allSubmits()).toHaveLength(2);
    expect(smsc.binds()).toBe(1);
  });

  it('generic_nack with a temporary status → retry; with ESME_RINVCMDLEN → failed with that code', async () => {
    let status: number = E.ESME_RTHROTTLED;
    const { smsc, carrier } = await rawSetup('', (s) => {
      s.onSubmit = (c, p) => c.write(rawPdu(CMD.generic_nack, status, p.seq));
    });
    await bound(smsc, carrier);
    expect(await carrier.submit(message(1))).toMatchObject({ ok: false, retry: true, code: 'ESME_RTHROTTLED' });
    status = E.ESME_RINVCMDLEN;
    expect(await carrier.submit(message(2))).toMatchObject({ ok: false, retry: false, code: 'ESME_RINVCMDLEN' });
  });

  it('a submit_sm answered by another command with status 0: the outcome is unknown, so retry and a new link (never failed for good)', async () => {
    let n = 0;
    const { smsc, carrier } = await rawSetup('', (s) => {
      s.onSubmit = (c, p) => {
        n += 1;
        if (n === 1) c.write(rawPdu(CMD.generic_nack, 0, p.seq));
        else s.accept(c, p);
      };
    });
    await bound(smsc, carrier);
    expect(await carrier.submit(message(1))).toMatchObject({ ok: false, retry: true, code: 'DISCONNECTED' });
    await bound(smsc, carrier, 2);
    expect(await carrier.submit(message(1))).toMatchObject({ ok: true });
  });

  it('a bind answered by a generic_nack with status 0 is no bind: nothing is submitted on that link', async () => {
    let n = 0;
    const { smsc, carrier, lines } = await rawSetup('', (s) => {
      const accept = s.onBind;
      s.onBind = (c, p) => {
        n += 1;
        if (n === 1) c.write(rawPdu(CMD.generic_nack, 0, p.seq));
        else accept(c, p);
      };
    });
    await bound(smsc, carrier, 2);
    expect(lines.some((l) => /answered with generic_nack/.test(String((l.obj as { err?: unknown }).err)))).toBe(true);
    expect(await carrier.submit(message())).toMatchObject({ ok: true });
    expect(smsc.conns[0].submits()).toEqual([]);
  });

  it('a bind refused, then a bind never answered: keeps trying and binds in the end, never crashing', async () => {
    let n = 0;
    const { smsc, carrier } = await rawSetup('', (s) => {
      const accept = s.onBind;
      s.onBind = (c, p) => {
        n += 1;
        if (n === 1) c.write(rawPdu(p.commandId | 0x80000000, E.ESME_RBINDFAIL, p.seq));
        else if (n === 2)
          return; // never answered: the carrier's timeout ends it
        else accept(c, p);
      };
    });
    await bound(smsc, carrier, 3);
    expect(await carrier.submit(message())).toMatchObject({ ok: true });
  });

  it('a submit_sm never answered: retry (the SMSC may have it), the link is dropped and rebound, the window does not stall', async () => {
    let answer = false;
    const { smsc, carrier } = await rawSetup('window=2', (s) => {
      s.onSubmit = (c, p) => {
        if (answer) s.accept(c, p);
      };
    });
    const first = await bound(smsc, carrier);
    const results = await Promise.all([carrier.submit(message(1)), carrier.submit(message(2))]);
    for (const r of results) expect(r).toMatchObject({ ok: false, retry: true });
    await waitFor(() => first.closed, 'the silent connection dropped');
    answer = true;
    await bound(smsc, carrier, 2);
    expect(await carrier.submit(message(3))).toMatchObject({ ok: true });
  });
});

describe('SMPP carrier against a hostile SMSC: the link', () => {
  it('an unbind from the SMSC: answered, what was in flight → retry, and it rebinds', async () => {
    let hold = true;
    const { smsc, carrier } = await rawSetup('', (s) => {
      s.onSubmit = (c, p) => {
        if (!hold) s.accept(c, p);
      };
    });
    const first = await bound(smsc, carrier);
    const pending = carrier.submit(message(1));
    await submitsSeen(smsc, 1);
    const resp = await first.request(CMD.unbind);
    expect(resp?.commandId).toBe(CMD.unbind_resp);
    expect(await pending).toMatchObject({ ok: false, retry: true, code: 'DISCONNECTED' });
    hold = false;
    await bound(smsc, carrier, 2);
    expect(await carrier.submit(message(2))).toMatchObject({ ok: true });
  });

  it('an enquire_link flood is answered in full and submits still go through', async () => {
    const { smsc, carrier } = await rawSetup();
    const c = await bound(smsc, carrier);
    const N = 5000;
    const flood = Buffer.concat(Array.from({ length: N }, (_, i) => rawPdu(CMD.enquire_link, 0, 1_000_000 + i)));
    c.write(flood);
    await waitFor(() => c.received.filter((p) => p.commandId === CMD.enquire_link_resp).length === N, 'every enquire_link answered');
    expect(await carrier.submit(message())).toMatchObject({ ok: true });
    expect(smsc.binds()).toBe(1);
  });

  it('a PDU header saying 0x7fffffff bytes: the link is dropped (never allocated), submits in flight → retry, it rebinds', async () => {
    let hold = true;
    const { smsc, carrier } = await rawSetup('', (s) => {
      s.onSubmit = (c, p) => {
        if (!hold) s.accept(c, p);
      };
    });
    const c = await bound(smsc, carrier);
    const pending = carrier.submit(message(1));
    await submitsSeen(smsc, 1);
    const huge = Buffer.alloc(16);
    huge.writeUInt32BE(0x7fffffff, 0);
    huge.writeUInt32BE(CMD.deliver_sm, 4);
    c.write(huge);
    expect(await pending).toMatchObject({ ok: false, retry: true });
    await waitFor(() => c.closed, 'the link dropped');
    hold = false;
    await bound(smsc, carrier, 2);
    expect(await carrier.submit(message(2))).toMatchObject({ ok: true });
  });

  it('a PDU header too short to be one (command_length 8): the link is dropped and rebound', async () => {
    const { smsc, carrier } = await rawSetup();
    const c = await bound(smsc, carrier);
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(8, 0);
    bad.writeUInt32BE(CMD.enquire_link, 4);
    c.write(bad);
    await waitFor(() => c.closed, 'the link dropped');
    await bound(smsc, carrier, 2);
    expect(await carrier.submit(message())).toMatchObject({ ok: true });
  });

  it('a PDU header with command_length 2: the carrier drops the link (or goes on reading), it never stays deaf on a live link', async () => {
    const { smsc, carrier } = await rawSetup();
    const c = await bound(smsc, carrier);
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(2, 0);
    c.write(bad);
    // An enquire_link after it: answered, or the link is gone. A deaf but open link would take every
    // later submit_sm (the SMSC may accept them) and answer none of them.
    const answered = await c.request(CMD.enquire_link, Buffer.alloc(0), 3000);
    expect(answered !== null || c.closed).toBe(true);
  });

  it('a deliver_sm whose validity_period cannot be read does not drop the link (and the submits in flight with it)', async () => {
    let hold = true;
    const { smsc, carrier, receipts } = await rawSetup('', (s) => {
      s.onSubmit = (c, p) => {
        if (!hold) s.accept(c, p, 'VP-1');
      };
    });
    const c = await bound(smsc, carrier);
    const pending = carrier.submit(message(1));
    await submitsSeen(smsc, 1);
    const resp = await c.deliver({ text: receiptText('OTHER-1'), validity: '1R' });
    hold = false;
    for (const p of c.submits()) smsc.accept(c, p, 'VP-1');
    // The submit was accepted on this link: it must not come back retry (to be sent twice).
    expect(await pending).toEqual({ ok: true, carrierMessageIds: ['VP-1'] });
    expect(resp).not.toBeNull();
    expect(c.closed).toBe(false);
    expect(receipts.length).toBeLessThanOrEqual(1);
  });
});

describe('SMPP carrier against a hostile SMSC: receipts', () => {
  it('malformed receipts are answered ESME_ROK and dropped (no id, unknown stat, bad dates), well-formed ones kept', async () => {
    const { smsc, carrier, receipts, lines } = await rawSetup();
    const c = await bound(smsc, carrier);
    const answers = [
      await c.deliver({ text: 'sub:001 dlvrd:001 stat:DELIVRD err:000' }),
      await c.deliver({ text: receiptText('R-1', 'WHATEVER') }),
      await c.deliver({ text: 'id:R-2 submit date:99999999999 done date:abc stat:DELIVRD err:000' }),
      await c.deliver({ text: receiptText('R-3', 'UNDELIV', 'ABC!') }),
      await c.deliver({ text: Buffer.alloc(0), tlvs: [tlv(0x001e, cstr('R-4')), tlv(0x0427, Buffer.from([42]))] }),
    ];
    expect(answers.map((a) => a && [a.commandId, a.status])).toEqual(Array(5).fill([CMD.deliver_sm_resp, 0]));
    expect(receipts).toMatchObject([
      { carrierMessageId: 'R-2', status: 'delivered' },
      { carrierMessageId: 'R-3', status: 'failed', errorCode: 'ABC!', errorText: 'UNDELIV' },
    ]);
    expect(lines.filter((l) => l.msg === 'carrier: SMPP unreadable receipt ignored')).toHaveLength(3);
    expect(smsc.binds()).toBe(1);
  });

  it('a receipt whose text is in the message_payload TLV (short_message empty, as SMPP 3.4 says) is read', async () => {
    const { smsc, carrier, receipts } = await rawSetup();
    const c = await bound(smsc, carrier);
    const payload = Buffer.from(receiptText('MP-1', 'UNDELIV', '012'), 'latin1');
    const a = await c.deliver({ text: Buffer.alloc(0), tlvs: [tlv(0x0424, payload)] });
    expect(a?.status).toBe(0);
    expect(receipts).toMatchObject([{ carrierMessageId: 'MP-1', status: 'failed', errorCode: '012', errorText: 'UNDELIV' }]);
  });

  it('a flood of 2000 receipts, one with a 16 KB payload: each answered once, the link kept', async () => {
    const { smsc, carrier, receipts } = await rawSetup();
    const c = await bound(smsc, carrier);
    const big = Buffer.from(`${receiptText('BIG-1')}${'x'.repeat(16_000)}`, 'latin1');
    const a = await c.deliver({
      text: Buffer.alloc(0),
      tlvs: [tlv(0x001e, cstr('BIG-1')), tlv(0x0427, Buffer.from([2])), tlv(0x0424, big)],
    });
    expect(a?.status).toBe(0);
    const all = await Promise.all(Array.from({ length: 2000 }, (_, i) => c.deliver({ text: receiptText(`F-${i}`) })));
    expect(all.every((r) => r?.commandId === CMD.deliver_sm_resp && r.status === 0)).toBe(true);
    expect(receipts).toHaveLength(2001);
    expect(c.received.filter((p) => p.commandId === CMD.deliver_sm_resp)).toHaveLength(2001);
    expect(smsc.binds()).toBe(1);
  });
});

// ---- the carrier under the dispatcher, on each database ---------------------------------------------

interface ApiRow {
  id: number;
  status: string;
  ptt: number;
  deliveryReceipt: number;
  carrierMessageId: string | null;
  errorCode: string | null;
  errorText: string | null;
}

describeEachDialectWithApp('the SMPP carrier under the dispatcher, against a hostile SMSC', (ctx) => {
  let seeded: SeededAccount;
  const stacks: Array<{ stop(): Promise<void> }> = [];

  beforeAll(async () => {
    seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 1_000_000 } });
    await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
  });
  afterEach(async () => {
    for (const s of stacks.splice(0).reverse()) await s.stop();
  });
  afterAll(async () => {
    for (const s of stacks.splice(0).reverse()) await s.stop();
  });

  const send = async (receivers: string[], text = 'Hello', extra: Record<string, unknown> = {}): Promise<number[]> => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${seeded.account.name}/jobs`,
      headers: seeded.auth,
      payload: { sender: 'MyShop', noStopClause: true, message: text, receivers, ...extra },
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().ids as number[];
  };
  const row = async (id: number): Promise<ApiRow> => {
    const res = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/accounts/${seeded.account.name}/outgoing/${id}`,
      headers: seeded.auth,
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as ApiRow;
  };
  const waitStatus = (id: number, status: string, timeoutMs = 8000) =>
    waitFor(
      async () => {
        const r = await row(id);
        return r.status === status ? r : null;
      },
      `message ${id} ${status}`,
      timeoutMs,
    );
  const queueEntry = (id: number) =>
    ctx.database.db.selectFrom('dispatch_queue').select(['attempts', 'lease_owner']).where('outgoing_id', '=', id).executeTakeFirst();

  async function stack(query = '', configure?: (s: RawSmsc) => void, clock: { now(): number } = systemClock) {
    const smsc = new RawSmsc();
    configure?.(smsc);
    await smsc.start();
    const { log, lines } = memoryLog();
    const carrier = createCarrier(smsc.url(query), { clock: systemClock, log });
    const dispatcher: Dispatcher = createDispatcher({
      repository: ctx.app.services.dispatch,
      carrier,
      clock,
      owner: `review-${Math.random().toString(36).slice(2)}`,
      log,
      pollMs: 20,
      retryDelay: () => 50,
    });
    const unsubscribe = ctx.app.services.onAccepted(() => dispatcher.wake());
    await dispatcher.start();
    await waitFor(() => carrier.ready, 'carrier bound', 5000);
    const handle = {
      smsc,
      carrier,
      dispatcher,
      lines,
      async stop() {
        unsubscribe();
        await dispatcher.stop(3000);
        await carrier.close();
        await smsc.close();
      },
    };
    stacks.push(handle);
    return handle;
  }

  /** Sends a receipt deliver_sm on the SMSC's live link; resolves with its deliver_sm_resp status. */
  async function receipt(s: RawSmsc, d: DeliverSpec): Promise<number | null> {
    const c = s.live();
    if (!c) throw new Error('no live link');
    return (await c.deliver(d))?.status ?? null;
  }

  const LONG = 'z'.repeat(200); // two GSM parts

  /**
   * submit_sm the SMSC received for these receivers (a message held by an earlier test's bug may be
   * claimed again by this test's dispatcher once its lease runs out: not counted here).
   */
  const submitsTo = (smsc: RawSmsc, ...receivers: string[]) =>
    smsc.allSubmits().filter((p) => receivers.includes(`+${String(p.pdu?.destination_addr)}`));

  it('a long message whose two parts get the same message_id is still recorded sent (not held for ever), then delivered', async () => {
    const s = await stack('', (smsc) => {
      smsc.onSubmit = (c, p) => smsc.accept(c, p, 'SAME-ID');
    });
    const [id] = await send(['+33612350001'], LONG);
    const sent = await waitStatus(id, 'sent');
    expect(sent.carrierMessageId).toBe('SAME-ID');
    expect(submitsTo(s.smsc, '+33612350001')).toHaveLength(2);
    expect(await receipt(s.smsc, { text: receiptText('SAME-ID') })).toBe(0);
    await waitStatus(id, 'delivered');
  });

  it('an SMSC answering an empty message_id to every part: the message is recorded sent, not held for ever', async () => {
    const s = await stack('', (smsc) => {
      smsc.onSubmit = (c, p) => smsc.accept(c, p, '');
    });
    const [id] = await send(['+33612350002'], LONG);
    await waitStatus(id, 'sent');
    expect(await queueEntry(id)).toBeUndefined();
    expect(submitsTo(s.smsc, '+33612350002')).toHaveLength(2);
  });

  it('the same message_id given to two messages answered together: both recorded sent once, none held', async () => {
    const s = await stack('window=10', (smsc) => {
      const held: Array<[RawConn, InPdu]> = [];
      smsc.onSubmit = (c, p) => {
        held.push([c, p]);
        if (held.length === 2) for (const [hc, hp] of held.splice(0)) smsc.accept(hc, hp, 'TWIN');
      };
    });
    const ids = await send(['+33612350003', '+33612350004']);
    for (const id of ids) await waitStatus(id, 'sent');
    expect(submitsTo(s.smsc, '+33612350003', '+33612350004')).toHaveLength(2);
    for (const id of ids) expect(await queueEntry(id)).toBeUndefined();
  });

  it('a message_id padded with spaces by the SMSC still matches its receipt', async () => {
    const s = await stack('', (smsc) => {
      smsc.onSubmit = (c, p) => smsc.accept(c, p, 'PAD123   ');
    });
    const [id] = await send(['+33612350005']);
    await waitStatus(id, 'sent');
    expect(await receipt(s.smsc, { text: receiptText('PAD123') })).toBe(0);
    await waitStatus(id, 'delivered');
  });

  it('a non-ASCII message_id matches a text receipt carrying the same bytes', async () => {
    const idBytes = Buffer.from([0x41, 0xe9, 0x31]); // "Aé1" in Latin-1
    const s = await stack('', (smsc) => {
      smsc.onSubmit = (c, p) => smsc.accept(c, p, idBytes);
    });
    const [id] = await send(['+33612350006']);
    await waitStatus(id, 'sent');
    const text = Buffer.concat([Buffer.from('id:', 'latin1'), idBytes, Buffer.from(' stat:DELIVRD err:000', 'latin1')]);
    expect(await receipt(s.smsc, { text, dataCoding: 3 })).toBe(0);
    await waitStatus(id, 'delivered');
  });

  it('a 100-character message_id (beyond SMPP 65) is kept whole and its TLV receipt applies', async () => {
    const long = `L${'0123456789'.repeat(10)}`.slice(0, 100);
    const s = await stack('', (smsc) => {
      smsc.onSubmit = (c, p) => smsc.accept(c, p, long);
    });
    const [id] = await send(['+33612350007']);
    expect((await waitStatus(id, 'sent')).carrierMessageId).toBe(long);
    expect(await receipt(s.smsc, { text: Buffer.alloc(0), tlvs: [tlv(0x001e, cstr(long)), tlv(0x0427, Buffer.from([5]))] })).toBe(0);
    expect(await waitStatus(id, 'failed')).toMatchObject({ ptt: 9, deliveryReceipt: 2, errorText: 'UNDELIV' });
  });

  it('a failed receipt with a non-numeric err: failed, ptt from the stat word (OVH-COMPAT), the raw err kept', async () => {
    const s = await stack('', (smsc) => {
      smsc.onSubmit = (c, p) => smsc.accept(c, p, 'ERR-TXT-1');
    });
    const [id] = await send(['+33612350008']);
    await waitStatus(id, 'sent');
    expect(await receipt(s.smsc, { text: receiptText('ERR-TXT-1', 'REJECTD', 'X-12') })).toBe(0);
    expect(await waitStatus(id, 'failed')).toMatchObject({ ptt: 803, deliveryReceipt: 2, errorCode: 'X-12', errorText: 'REJECTD' });
  });

  it('a receipt whose err: holds a NUL byte is recorded (answered ESME_ROK), not refused for ever', async () => {
    const s = await stack('', (smsc) => {
      smsc.onSubmit = (c, p) => smsc.accept(c, p, 'NUL-ERR-1');
    });
    const [id] = await send(['+33612350009']);
    await waitStatus(id, 'sent');
    const text = Buffer.from(`id:NUL-ERR-1 stat:UNDELIV err:0\u00001 text:`, 'latin1');
    expect(await receipt(s.smsc, { text, dataCoding: 3 })).toBe(0);
    expect(await waitStatus(id, 'failed')).toMatchObject({ ptt: 9, errorText: 'UNDELIV' });
  });

  it('a submit never answered: released, sent again on the next link (twice in all: unavoidable), then sent, no claim left', async () => {
    // The first link never answers a submit_sm; the next ones do.
    const s = await stack('', (smsc) => {
      smsc.onSubmit = (c, p) => {
        if (c.n > 1) smsc.accept(c, p, `NA-${c.n}`);
      };
    });
    const [id] = await send(['+33612350010']);
    await waitFor(() => submitsTo(s.smsc, '+33612350010').length >= 1, 'the first submit_sm');
    await waitFor(() => s.smsc.conns[0].closed, 'the silent link dropped');
    const sent = await waitStatus(id, 'sent');
    expect(sent.carrierMessageId).toMatch(/^NA-/);
    expect(submitsTo(s.smsc, '+33612350010')).toHaveLength(2);
    expect(await queueEntry(id)).toBeUndefined();
  });

  it('the SMSC closing the link mid-window: every message ends sent, none stuck, none sent more than twice', async () => {
    let drop = true;
    const s = await stack('window=5', (smsc) => {
      smsc.onSubmit = (c, p) => {
        if (drop && c.submits().length === 5) {
          drop = false;
          c.destroy();
          return;
        }
        if (c.submits().length < 5 && drop) return; // held until the drop
        smsc.accept(c, p);
      };
    });
    const receivers = Array.from({ length: 12 }, (_, i) => `+336123510${String(i).padStart(2, '0')}`);
    const ids = await send(receivers);
    for (const id of ids) await waitStatus(id, 'sent');
    const perReceiver = new Map<string, number>();
    for (const p of submitsTo(s.smsc, ...receivers)) {
      const to = String(p.pdu?.destination_addr);
      perReceiver.set(to, (perReceiver.get(to) ?? 0) + 1);
    }
    expect(Math.max(...perReceiver.values())).toBeLessThanOrEqual(2);
    expect([...perReceiver.values()].filter((n) => n === 2).length).toBeLessThanOrEqual(5);
    for (const id of ids) expect(await queueEntry(id)).toBeUndefined();
  });

  it('an SMSC throttling for ever: the message waits (pending, never failed nor lost), then expires with its validity', async () => {
    const clock = fakeClock(Date.now());
    const s = await stack(
      '',
      (smsc) => {
        smsc.onSubmit = (c, p) => c.write(rawPdu(CMD.submit_sm_resp, E.ESME_RTHROTTLED, p.seq));
      },
      clock,
    );
    const [id] = await send(['+33612350020'], 'Hello', { validityPeriod: 5 });
    // The dispatcher's clock moves on by hand: each release is due again 50 ms later.
    await waitFor(async () => {
      clock.advance(100);
      s.dispatcher.wake();
      return ((await queueEntry(id))?.attempts ?? 0) >= 3;
    }, 'three throttled attempts');
    expect((await row(id)).status).toBe('pending');
    clock.advance(10 * 60_000);
    await waitFor(async () => {
      clock.advance(100);
      s.dispatcher.wake();
      return (await row(id)).status === 'expired';
    }, 'the message expired');
    expect(await row(id)).toMatchObject({ ptt: 801, deliveryReceipt: 2 });
    expect(await queueEntry(id)).toBeUndefined();
  });
});
