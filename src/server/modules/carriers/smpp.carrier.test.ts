import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLog, startTestSmsc, type TestSmsc, waitFor } from '../../../../test/smsc.js';
import { selfSignedCertificate } from '../../../../test/tls.js';
import { systemClock } from '../../clock.js';
import { type Carrier, type CarrierLog, type CarrierMessage, createCarrier, type Receipt } from './carrier.js';
import { createSmppCarrier, parseSmppUrl } from './smpp.carrier.js';

// The SMPP carrier against a test SMSC on loopback (real sockets, the real `smpp` package).

const message = (m: Partial<CarrierMessage> = {}): CarrierMessage => ({
  id: 1,
  sender: 'Relais',
  receiver: '+33612345678',
  text: 'Hello',
  encoding: 'gsm7',
  messageClass: null,
  validUntil: null,
  requestReceipt: true,
  ...m,
});

/** Fast timings for tests: no periodic enquire_link, quick reconnect and throttle pause. */
const FAST = 'enquire=0&reconnect_min=0.02&reconnect_max=0.1&throttle_pause=0.01&timeout=5';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface Setup {
  smsc: TestSmsc;
  carrier: Carrier;
  receipts: Receipt[];
  lines: ReturnType<typeof memoryLog>['lines'];
}

async function setup(
  query = '',
  opts: { onReceipt?: (r: Receipt) => Promise<void>; smsc?: Parameters<typeof startTestSmsc>[0] } = {},
): Promise<Setup> {
  const smsc = await startTestSmsc(opts.smsc);
  cleanup.push(() => smsc.close());
  const { log, lines } = memoryLog();
  const carrier = createCarrier(smsc.url([FAST, query].filter(Boolean).join('&')), { clock: systemClock, log });
  cleanup.push(() => carrier.close());
  const receipts: Receipt[] = [];
  await carrier.start(
    opts.onReceipt ??
      (async (r) => {
        receipts.push(r);
      }),
  );
  await waitFor(() => carrier.ready, 'carrier bound');
  return { smsc, carrier, receipts, lines };
}

const receivers = (n: number) => Array.from({ length: n }, (_, i) => `+33612345${String(i).padStart(3, '0')}`);

describe('SMPP carrier: binding and submitting', () => {
  it('binds as transceiver and submits one message, getting its id', async () => {
    const { smsc, carrier, lines } = await setup();
    expect(carrier.name).toBe('smpp');
    expect(smsc.received.binds).toEqual([{ command: 'bind_transceiver', systemId: 'relais', ok: true }]);
    const before = Date.now();
    const result = await carrier.submit(message({ text: 'Bonjour €', validUntil: before + 2 * 3_600_000 }));
    expect(result).toEqual({ ok: true, carrierMessageIds: ['SMSC000001'] });
    const [s] = smsc.submits;
    expect(s).toMatchObject({
      sourceAddr: 'Relais',
      sourceTon: 5,
      sourceNpi: 0,
      destinationAddr: '33612345678',
      destTon: 1,
      destNpi: 1,
      esmClass: 0,
      dataCoding: 0,
      registeredDelivery: 1,
      udh: null,
      text: 'Bonjour €',
    });
    // Relative validity: the SMSC reads it as about two hours from now.
    const validity = (s.validityPeriod as Date).getTime() - before;
    expect(validity).toBeGreaterThan(2 * 3_600_000 - 60_000);
    expect(validity).toBeLessThan(2 * 3_600_000 + 60_000);
    expect(lines.some((l) => l.msg === 'carrier: SMPP bound')).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });

  it('sends a number sender as international TON 1 NPI 1', async () => {
    const { smsc, carrier } = await setup();
    await carrier.submit(message({ sender: '+33700000001', requestReceipt: false }));
    expect(smsc.submits[0]).toMatchObject({ sourceAddr: '33700000001', sourceTon: 1, sourceNpi: 1, registeredDelivery: 0 });
  });

  it('keeps retrying a refused bind with back-off, then binds', async () => {
    const { smsc, carrier } = await setup('', { smsc: { behaviour: { refuseBinds: 2 } } });
    expect(smsc.received.binds.map((b) => b.ok)).toEqual([false, false, true]);
    expect(await carrier.submit(message())).toMatchObject({ ok: true });
  });

  it('SMSC down at start: start() resolves, keeps trying, binds once the SMSC is up', async () => {
    const first = await startTestSmsc();
    const url = first.url(FAST);
    await first.close();
    const { log, lines } = memoryLog();
    const carrier = createCarrier(url, { clock: systemClock, log });
    cleanup.push(() => carrier.close());
    await carrier.start(async () => {});
    expect(carrier.ready).toBe(false);
    const pending = carrier.submit(message());
    await waitFor(() => lines.filter((l) => l.msg === 'carrier: SMPP bind failed').length >= 2, 'two failed attempts');
    const smsc = await startTestSmsc({ port: first.port });
    cleanup.push(() => smsc.close());
    expect(await pending).toMatchObject({ ok: true });
    expect(carrier.ready).toBe(true);
  });

  it('wrong password: not ready, says why, never crashes', async () => {
    const smsc = await startTestSmsc({ password: 'other' });
    cleanup.push(() => smsc.close());
    const { log, lines } = memoryLog();
    const carrier = createSmppCarrier(parseSmppUrl(smsc.url(FAST).replace(':other@', ':wrong@')), { clock: systemClock, log });
    cleanup.push(() => carrier.close());
    await carrier.start(async () => {});
    await waitFor(() => smsc.received.binds.length >= 2, 'a second bind attempt');
    expect(carrier.ready).toBe(false);
    expect(lines.find((l) => l.msg === 'carrier: SMPP bind failed')?.obj).toMatchObject({ err: expect.stringContaining('ESME_RINVPASWD') });
  });

  it('a pino logger fits CarrierLog', () => {
    const log: CarrierLog = pino({ level: 'silent' });
    expect(typeof log.warn).toBe('function');
  });
});

describe('SMPP carrier over TLS (smpps://)', () => {
  async function certificate() {
    const made = await selfSignedCertificate();
    cleanup.push(async () => made.remove());
    return made;
  }

  it('binds over TLS, checking the SMSC against the given CA file, and submits', async () => {
    const tls = await certificate();
    const { smsc, carrier } = await setup(`ca=${encodeURIComponent(tls.certFile)}`, { smsc: { tls } });
    expect(smsc.url()).toMatch(/^smpps:\/\//);
    expect(await carrier.submit(message({ text: 'over TLS' }))).toMatchObject({ ok: true });
    expect(smsc.submits.map((s) => s.text)).toEqual(['over TLS']);
  });

  it('never binds to an SMSC whose certificate it cannot check: says why, never crashes', async () => {
    const tls = await certificate();
    const smsc = await startTestSmsc({ tls });
    cleanup.push(() => smsc.close());
    const { log, lines } = memoryLog();
    const carrier = createCarrier(smsc.url(FAST), { clock: systemClock, log });
    cleanup.push(() => carrier.close());
    await carrier.start(async () => {});
    await waitFor(() => lines.filter((l) => l.msg === 'carrier: SMPP bind failed').length >= 2, 'two refused connections');
    expect(carrier.ready).toBe(false);
    expect(smsc.received.binds).toHaveLength(0);
    const failure = lines.find((l) => l.msg === 'carrier: SMPP bind failed')?.obj as { err?: unknown } | undefined;
    expect(String(failure?.err)).toMatch(/self[- ]signed|certificate/i);
  });

  it('bind=pair over TLS: transmitter and receiver both bound over TLS, the receipt arriving on the receiver', async () => {
    const tls = await certificate();
    const { smsc, carrier, receipts } = await setup(`bind=pair&ca=${encodeURIComponent(tls.certFile)}`, { smsc: { tls } });
    // The test SMSC speaks only TLS on its port: both binds were made over TLS.
    expect(smsc.url()).toMatch(/^smpps:\/\//);
    expect(smsc.received.binds.map((b) => [b.command, b.ok]).sort()).toEqual([
      ['bind_receiver', true],
      ['bind_transmitter', true],
    ]);
    expect(smsc.stats.connections).toBe(2);
    const r = await carrier.submit(message({ text: 'pair over TLS' }));
    expect(r).toMatchObject({ ok: true });
    expect(smsc.submits.map((s) => s.text)).toEqual(['pair over TLS']);
    // sendReceipt sends on a receiving connection (never the transmitter): here, the receiver.
    const messageId = r.ok ? r.carrierMessageIds[0] : '';
    expect(await smsc.sendReceipt({ messageId })).toBe(0);
    expect(receipts).toEqual([expect.objectContaining({ carrierMessageId: messageId })]);
    await carrier.close();
    expect(smsc.received.unbinds).toBe(2);
  });

  it('reads smpps:// (port 3550 by default, ca= only there) and refuses a ca file it cannot read', () => {
    expect(parseSmppUrl('smpps://a:b@smsc.example.net')).toMatchObject({ tls: true, port: 3550, caFile: null });
    expect(parseSmppUrl('smpp://a:b@smsc.example.net')).toMatchObject({ tls: false, port: 2775, caFile: null });
    expect(parseSmppUrl('smpps://a:b@smsc.example.net:4000?ca=/etc/ssl/smsc.pem')).toMatchObject({
      port: 4000,
      caFile: '/etc/ssl/smsc.pem',
    });
    expect(() => parseSmppUrl('smpp://a:b@h?ca=/x.pem')).toThrow('ca is an option of smpps:// (SMPP over TLS)');
    const { log } = memoryLog();
    expect(() => createCarrier('smpps://a:b@127.0.0.1?ca=/nonexistent/ca.pem', { clock: systemClock, log })).toThrow(
      `the SMPP carrier's ca file "/nonexistent/ca.pem" cannot be read (ENOENT)`,
    );
  });
});

describe('SMPP carrier: window and throttling', () => {
  it('never has more than `window` submit_sm unanswered; the rest wait and are all accepted', async () => {
    const { smsc, carrier } = await setup('window=3');
    smsc.setBehaviour({ holdResponses: true });
    const results = Promise.all(receivers(10).map((receiver, i) => carrier.submit(message({ id: i, receiver }))));
    await waitFor(() => smsc.stats.inFlight === 3, 'three in flight');
    expect(smsc.submits).toHaveLength(3);
    expect(carrier.ready).toBe(false);
    smsc.setBehaviour({ holdResponses: false });
    smsc.releaseResponses();
    const all = await results;
    expect(all.every((r) => r.ok)).toBe(true);
    expect(smsc.stats.maxInFlight).toBe(3);
    expect(smsc.submits.map((s) => s.destinationAddr)).toEqual(receivers(10).map((r) => r.slice(1)));
    await waitFor(() => carrier.ready, 'ready again');
  });

  it('with the SMSC answering slowly, stays within the window', async () => {
    const { smsc, carrier } = await setup('window=4', { smsc: { behaviour: { responseDelayMs: 5 } } });
    const all = await Promise.all(receivers(20).map((receiver, i) => carrier.submit(message({ id: i, receiver }))));
    expect(all.every((r) => r.ok)).toBe(true);
    expect(smsc.stats.maxInFlight).toBeLessThanOrEqual(4);
    expect(smsc.stats.maxInFlight).toBeGreaterThan(1);
    expect(new Set(all.map((r) => r.ok && r.carrierMessageIds[0])).size).toBe(20);
  });

  it('ESME_RTHROTTLED and ESME_RMSGQFUL → retry later; the next submit goes through', async () => {
    const { smsc, carrier } = await setup();
    smsc.setBehaviour({ errorNext: { status: 'ESME_RTHROTTLED', count: 1 } });
    expect(await carrier.submit(message())).toEqual({
      ok: false,
      retry: true,
      code: 'ESME_RTHROTTLED',
      reason: 'SMSC answered: ESME_RTHROTTLED (0x00000058, throttled: too many messages)',
    });
    smsc.setBehaviour({ errorNext: { status: 'ESME_RMSGQFUL', count: 1 } });
    expect(await carrier.submit(message())).toMatchObject({ ok: false, retry: true, code: 'ESME_RMSGQFUL' });
    expect(await carrier.submit(message())).toMatchObject({ ok: true });
  });

  it('a permanent refusal fails the message with the SMPP status name', async () => {
    const { smsc, carrier } = await setup();
    smsc.setBehaviour({ errorFor: { '33612340000': 'ESME_RINVDSTADR' } });
    expect(await carrier.submit(message({ receiver: '+33612340000' }))).toEqual({
      ok: false,
      retry: false,
      code: 'ESME_RINVDSTADR',
      reason: 'SMSC refused: ESME_RINVDSTADR (0x0000000B, invalid destination address)',
    });
    smsc.setBehaviour({ errorNext: { status: 0x0400, count: 1 } });
    expect(await carrier.submit(message())).toMatchObject({ ok: false, retry: false, code: 'SMPP_0x00000400' });
  });

  it('a submit not answered in time → retry, and the carrier reconnects', async () => {
    const { smsc, carrier } = await setup('timeout=0.3');
    smsc.setBehaviour({ holdResponses: true });
    expect(await carrier.submit(message())).toMatchObject({ ok: false, retry: true });
    smsc.setBehaviour({ holdResponses: false });
    await waitFor(() => smsc.received.binds.length === 2 && carrier.ready, 'rebound');
    expect(await carrier.submit(message())).toMatchObject({ ok: true });
  });
});

describe('SMPP carrier: connection loss', () => {
  it('dropped mid-window: in-flight submits → retry; queued ones go out after the reconnection, once', async () => {
    const { smsc, carrier, lines } = await setup('window=3');
    smsc.setBehaviour({ holdResponses: true });
    const all = receivers(5);
    const pending = all.map((receiver, i) => carrier.submit(message({ id: i, receiver })));
    await waitFor(() => smsc.stats.inFlight === 3, 'window full');
    smsc.setBehaviour({ holdResponses: false });
    smsc.dropConnections();
    const results = await Promise.all(pending);
    expect(results.slice(0, 3)).toEqual(
      Array(3).fill({ ok: false, retry: true, code: 'DISCONNECTED', reason: expect.stringContaining('may have accepted') }),
    );
    expect(results.slice(3).every((r) => r.ok)).toBe(true);
    // Each receiver reached the SMSC once: nothing lost from the queue, nothing sent twice by the carrier.
    expect(smsc.submits.map((s) => `+${s.destinationAddr}`)).toEqual(all);
    expect(smsc.received.binds).toHaveLength(2);
    expect(await carrier.submit(message({ receiver: '+33699999999' }))).toMatchObject({ ok: true });
    expect(lines.some((l) => l.level === 'warn' && l.msg === 'carrier: SMPP connection lost')).toBe(true);
  });

  it('dropped by the SMSC after K submits: the unanswered one → retry, later ones succeed', async () => {
    const { smsc, carrier } = await setup('window=1');
    smsc.setBehaviour({ dropAfterSubmits: 2 });
    const [a, b, c] = await Promise.all(receivers(3).map((receiver, i) => carrier.submit(message({ id: i, receiver }))));
    expect(a).toMatchObject({ ok: true });
    expect(b).toMatchObject({ ok: false, retry: true, code: 'DISCONNECTED' });
    expect(c).toMatchObject({ ok: true });
  });

  it('at-least-once window: across drops nothing is lost, and duplicates stay within `window` per drop', async () => {
    const window = 5;
    const { smsc, carrier } = await setup(`window=${window}&tps=0`, { smsc: { behaviour: { responseDelayMs: 2, dropAfterSubmits: 40 } } });
    const drops = 3;
    const rearm = (async () => {
      for (let d = 1; d < drops; d++) {
        await waitFor(() => smsc.received.binds.length > d, `reconnection ${d}`);
        smsc.setBehaviour({ dropAfterSubmits: 40 });
      }
    })();
    let retries = 0;
    const sendUntilAccepted = async (m: CarrierMessage) => {
      for (;;) {
        const r = await carrier.submit(m);
        if (r.ok || !r.retry) return r;
        retries++;
      }
    };
    const all = receivers(200);
    const results = await Promise.all(all.map((receiver, i) => sendUntilAccepted(message({ id: i, receiver }))));
    await rearm;
    expect(results.every((r) => r.ok)).toBe(true);
    const seen = new Map<string, number>();
    for (const s of smsc.submits) seen.set(s.destinationAddr, (seen.get(s.destinationAddr) ?? 0) + 1);
    expect(seen.size).toBe(200);
    const duplicates = smsc.submits.length - 200;
    expect(smsc.received.binds).toHaveLength(drops + 1);
    // Retried = in flight at a drop; duplicated = those the SMSC had received (the rest died in the socket).
    expect(duplicates).toBeLessThanOrEqual(retries);
    expect(retries).toBeLessThanOrEqual(drops * window);
  });

  it('submits made while disconnected wait for the reconnection', async () => {
    const { smsc, carrier } = await setup('reconnect_min=0.2');
    smsc.dropConnections();
    await waitFor(() => !carrier.ready, 'disconnected');
    const result = await carrier.submit(message());
    expect(result).toMatchObject({ ok: true });
    expect(smsc.received.binds).toHaveLength(2);
  });

  it('answers enquire_link from the SMSC, and sends its own', async () => {
    const { smsc } = await setup('enquire=0.02');
    expect(await smsc.sendEnquireLink()).toBe(1);
    await waitFor(() => smsc.received.enquireLinks >= 2, 'enquire_link from the carrier');
  });

  it('an unanswered enquire_link ends the connection and it rebinds', async () => {
    const { smsc, carrier } = await setup('enquire=0.02&timeout=0.2');
    smsc.setBehaviour({ answerEnquireLink: false });
    await waitFor(() => smsc.received.binds.length >= 2, 'rebind');
    smsc.setBehaviour({ answerEnquireLink: true });
    await waitFor(() => carrier.ready, 'ready');
    expect(await carrier.submit(message())).toMatchObject({ ok: true });
  });

  it('close() unbinds and answers later submits retry', async () => {
    const { smsc, carrier } = await setup();
    await carrier.close();
    await waitFor(() => smsc.received.unbinds === 1, 'unbind');
    expect(await carrier.submit(message())).toMatchObject({ ok: false, retry: true, code: 'CLOSED' });
    expect(carrier.ready).toBe(false);
  });
});

describe('SMPP carrier: receipts', () => {
  it('delivers DELIVRD, UNDELIV with err, and EXPIRED receipts, in TLV and text forms', async () => {
    const { smsc, carrier, receipts } = await setup();
    const r = await carrier.submit(message());
    const id = r.ok ? r.carrierMessageIds[0] : '';
    expect(await smsc.sendReceipt({ messageId: id, stat: 'ENROUTE', form: 'tlv' })).toBe(0);
    expect(await smsc.sendReceipt({ messageId: id, stat: 'DELIVRD', form: 'both' })).toBe(0);
    expect(await smsc.sendReceipt({ messageId: 'A2', stat: 'UNDELIV', err: '012', form: 'text' })).toBe(0);
    expect(await smsc.sendReceipt({ messageId: 'A3', stat: 'UNDELIV', err: '034', form: 'both' })).toBe(0);
    expect(await smsc.sendReceipt({ messageId: 'A4', stat: 'EXPIRED', form: 'tlv' })).toBe(0);
    expect(receipts.map((x) => [x.carrierMessageId, x.status, x.errorCode, x.errorText])).toEqual([
      [id, 'sent', null, null],
      [id, 'delivered', null, null],
      ['A2', 'failed', '012', 'UNDELIV'],
      ['A3', 'failed', '034', 'UNDELIV'],
      ['A4', 'expired', null, 'EXPIRED'],
    ]);
    expect(receipts[2].raw).toContain('stat:UNDELIV err:012');
  });

  it('a receipt arriving before the submit_sm_resp is delivered, and the submit still succeeds', async () => {
    const { smsc, carrier, receipts } = await setup();
    smsc.setBehaviour({ receiptBeforeResp: { stat: 'DELIVRD' } });
    const result = await carrier.submit(message());
    expect(result).toEqual({ ok: true, carrierMessageIds: ['SMSC000001'] });
    await waitFor(() => receipts.length === 1, 'receipt');
    expect(receipts[0]).toMatchObject({ carrierMessageId: 'SMSC000001', status: 'delivered' });
    await waitFor(() => smsc.received.deliverSmResps.length === 1, 'deliver_sm_resp');
    expect(smsc.received.deliverSmResps).toEqual([0]);
  });

  it('a receipt for an unknown id is handed over (the dispatcher parks it) and answered', async () => {
    const { smsc, receipts } = await setup();
    expect(await smsc.sendReceipt({ messageId: 'never-sent', stat: 'DELIVRD' })).toBe(0);
    expect(receipts).toMatchObject([{ carrierMessageId: 'never-sent', status: 'delivered' }]);
  });

  it('receipts sent by the SMSC after a delay arrive for every accepted submit', async () => {
    const { smsc, carrier, receipts } = await setup('', { smsc: { behaviour: { autoReceipt: { stat: 'DELIVRD', delayMs: 10 } } } });
    const results = await Promise.all(receivers(4).map((receiver, i) => carrier.submit(message({ id: i, receiver }))));
    await waitFor(() => receipts.length === 4, 'four receipts');
    expect(new Set(receipts.map((r) => r.carrierMessageId))).toEqual(new Set(results.map((r) => r.ok && r.carrierMessageIds[0])));
    await waitFor(() => smsc.received.deliverSmResps.length === 4, 'four deliver_sm_resp');
    expect(smsc.received.deliverSmResps).toEqual([0, 0, 0, 0]);
  });

  it('when the receipt handler fails, answers ESME_RX_T_APPN so the SMSC redelivers, and goes on', async () => {
    let fail = true;
    const got: string[] = [];
    const { smsc, carrier } = await setup('', {
      onReceipt: async (r) => {
        if (fail) throw new Error('database down');
        got.push(r.carrierMessageId);
      },
    });
    expect(await smsc.sendReceipt({ messageId: 'X1' })).toBe(0x64);
    fail = false;
    expect(await smsc.sendReceipt({ messageId: 'X1' })).toBe(0);
    expect(got).toEqual(['X1']);
    expect(await carrier.submit(message())).toMatchObject({ ok: true });
  });

  it('hands receipts over in arrival order without waiting for the previous one, and answers each when it is handled', async () => {
    const handling: { id: string; done: (fail?: boolean) => void }[] = [];
    const { smsc } = await setup('', {
      onReceipt: (r) =>
        new Promise<void>((resolve, reject) => {
          handling.push({ id: r.carrierMessageId, done: (fail) => (fail ? reject(new Error('database down')) : resolve()) });
        }),
    });
    const answers = ['R1', 'R2', 'R3'].map((messageId) => smsc.sendReceipt({ messageId }));
    await waitFor(() => handling.length === 3, 'three receipts handed over at once');
    expect(handling.map((h) => h.id)).toEqual(['R1', 'R2', 'R3']);
    expect(smsc.received.deliverSmResps).toEqual([]);
    handling[2].done();
    expect(await answers[2]).toBe(0);
    handling[1].done(true);
    expect(await answers[1]).toBe(0x64);
    expect(smsc.received.deliverSmResps).toEqual([0, 0x64]);
    handling[0].done();
    expect(await answers[0]).toBe(0);
  });

  it('answers an incoming SMS (not a receipt) and ignores it', async () => {
    const { smsc, receipts } = await setup();
    expect(await smsc.sendMo('hello there')).toBe(0);
    expect(receipts).toEqual([]);
  });

  it('bind=pair: transmitter + receiver, receipts on the receiver', async () => {
    const { smsc, carrier, receipts } = await setup('bind=pair');
    expect(smsc.received.binds.map((b) => b.command).sort()).toEqual(['bind_receiver', 'bind_transmitter']);
    const r = await carrier.submit(message());
    expect(r).toMatchObject({ ok: true });
    await smsc.sendReceipt({ messageId: r.ok ? r.carrierMessageIds[0] : '' });
    expect(receipts).toHaveLength(1);
    await carrier.close();
    expect(smsc.received.unbinds).toBe(2);
  });
});

describe('SMPP carrier: long messages', () => {
  it('200 GSM characters → 2 parts with the same UDH reference, data_coding 0, text reassembles', async () => {
    const { smsc, carrier } = await setup();
    const text = `${'Relais {test} 5€ — '.replace('—', '-').repeat(10)}`.padEnd(200, '.');
    const result = await carrier.submit(message({ text }));
    expect(result).toEqual({ ok: true, carrierMessageIds: ['SMSC000001', 'SMSC000002'] });
    const [p1, p2] = smsc.submits;
    expect(p1.udh).toMatchObject({ total: 2, seq: 1 });
    expect(p2.udh).toEqual({ ref: p1.udh?.ref, total: 2, seq: 2 });
    expect([p1.esmClass, p2.esmClass]).toEqual([0x40, 0x40]);
    expect([p1.dataCoding, p2.dataCoding]).toEqual([0, 0]);
    expect(p1.text + p2.text).toBe(text);
  });

  it('UCS-2 with emoji → data_coding 8, parts reassemble', async () => {
    const { smsc, carrier } = await setup();
    const text = 'Réunion à 14h 👋 — merci ! '.repeat(4);
    const result = await carrier.submit(message({ text, encoding: 'ucs2' }));
    expect(result.ok && result.carrierMessageIds).toHaveLength(2);
    expect(smsc.submits.map((s) => [s.dataCoding, s.udh?.seq])).toEqual([
      [8, 1],
      [8, 2],
    ]);
    expect(smsc.submits.map((s) => s.text).join('')).toBe(text);
  });

  it('two long messages get different references', async () => {
    const { smsc, carrier } = await setup();
    await carrier.submit(message({ text: 'a'.repeat(161) }));
    await carrier.submit(message({ text: 'b'.repeat(161) }));
    expect(smsc.submits[0].udh?.ref).not.toBe(smsc.submits[2].udh?.ref);
  });

  it('a part throttled after an earlier part was accepted is sent again in place, same reference', async () => {
    const { smsc, carrier } = await setup('window=1');
    smsc.setBehaviour({ holdResponses: true });
    const pending = carrier.submit(message({ text: 'z'.repeat(200) }));
    await waitFor(() => smsc.submits.length === 1, 'first part');
    smsc.setBehaviour({ holdResponses: false, errorNext: { status: 'ESME_RTHROTTLED', count: 1 } });
    smsc.releaseResponses();
    expect(await pending).toMatchObject({ ok: true, carrierMessageIds: ['SMSC000001', 'SMSC000002'] });
    expect(smsc.submits.map((s) => [s.udh?.seq, s.status])).toEqual([
      [1, 0],
      [2, 0x58],
      [2, 0],
    ]);
    expect(new Set(smsc.submits.map((s) => s.udh?.ref)).size).toBe(1);
  });

  it('a permanently refused part fails the whole message', async () => {
    const { smsc, carrier } = await setup('window=1');
    smsc.setBehaviour({ holdResponses: true });
    const pending = carrier.submit(message({ text: 'z'.repeat(200) }));
    await waitFor(() => smsc.submits.length === 1, 'first part');
    smsc.setBehaviour({ holdResponses: false, errorNext: { status: 'ESME_RINVMSGLEN', count: 1 } });
    smsc.releaseResponses();
    expect(await pending).toEqual({
      ok: false,
      retry: false,
      code: 'ESME_RINVMSGLEN',
      reason: 'SMSC refused part 2/2: ESME_RINVMSGLEN (0x00000001, invalid message length)',
    });
  });
});

describe('parseSmppUrl', () => {
  it('reads credentials, host, port and defaults', () => {
    expect(parseSmppUrl('smpp://acme:p%40ss@smsc.example.net')).toMatchObject({
      systemId: 'acme',
      password: 'p@ss',
      host: 'smsc.example.net',
      port: 2775,
      bind: 'transceiver',
      window: 10,
      tps: 100,
      destTon: 1,
      destNpi: 1,
      enquireMs: 30_000,
      timeoutMs: 30_000,
      reconnectMinMs: 1000,
      reconnectMaxMs: 30_000,
      sourceTon: undefined,
    });
  });

  it('reads every option', () => {
    expect(
      parseSmppUrl(
        'smpp://a:b@10.0.0.1:3000?window=5&tps=20&bind=pair&system_type=VMA&service_type=CMT&source_ton=5&source_npi=0&dest_ton=2&dest_npi=8&enquire=15&timeout=10&reconnect_min=2&reconnect_max=60&throttle_pause=3',
      ),
    ).toEqual({
      host: '10.0.0.1',
      port: 3000,
      tls: false,
      caFile: null,
      systemId: 'a',
      password: 'b',
      bind: 'pair',
      systemType: 'VMA',
      serviceType: 'CMT',
      window: 5,
      tps: 20,
      sourceTon: 5,
      sourceNpi: 0,
      destTon: 2,
      destNpi: 8,
      enquireMs: 15_000,
      timeoutMs: 10_000,
      reconnectMinMs: 2000,
      reconnectMaxMs: 60_000,
      throttlePauseMs: 3000,
    });
  });

  it('says what is wrong, without showing the password', () => {
    const cases: Array<[string, RegExp]> = [
      ['smpp://host:2775', /system_id is missing/],
      ['smpp://a:topsecret@h?window=0', /window must be an integer from 1 to 1000/],
      ['smpp://a:topsecret@h?bind=both', /bind must be "transceiver" or "pair"/],
      ['smpp://a:topsecret@h?windows=3', /unknown option "windows"/],
      ['smpp://a:topsecret@h?tps=fast', /tps must be a number/],
      ['smpp://', /invalid SMPP carrier URL/],
    ];
    for (const [url, why] of cases) {
      expect(() => parseSmppUrl(url)).toThrow(why);
      try {
        parseSmppUrl(url);
      } catch (err) {
        expect((err as Error).message).not.toContain('topsecret');
      }
    }
  });
});
