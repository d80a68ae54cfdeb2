import { afterEach, describe, expect, it } from 'vitest';
import { memoryLog, waitFor } from '../../../../test/smsc.js';
import { type Carrier, type CarrierMessage, createCarrier, type Receipt } from './carrier.js';
import { createSimulatorCarrier, parseSimulatorSpec, SIMULATOR_RULES, simulatorOutcome } from './simulator.carrier.js';

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

function fakeClock(start = 1_700_000_000_000) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

const open: Carrier[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function startSimulator(opts: Parameters<typeof createSimulatorCarrier>[0] = {}) {
  const clock = fakeClock();
  const { log, lines } = memoryLog();
  const carrier = createSimulatorCarrier({ receiptDelayMs: 0, seed: 7, ...opts }, { clock, log });
  open.push(carrier);
  const receipts: Receipt[] = [];
  await carrier.start(async (r) => {
    receipts.push(r);
  });
  return { carrier, clock, receipts, lines };
}

describe('simulator carrier', () => {
  it('says loudly, once, that no real SMS leaves', async () => {
    const { carrier, lines } = await startSimulator();
    await carrier.start(async () => {});
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.msg)).toEqual(['carrier: built-in SIMULATOR — no real SMS leaves this machine']);
    expect(carrier.name).toBe('simulator');
  });

  it('delivers any other receiver: one sim- id, then a delivered receipt at the clock time', async () => {
    const { carrier, clock, receipts } = await startSimulator();
    const result = await carrier.submit(message());
    expect(result).toEqual({ ok: true, carrierMessageIds: [expect.stringMatching(/^sim-[0-9a-f]{12}$/)] });
    const [receipt] = await waitFor(() => receipts.length === 1 && receipts, 'receipt');
    expect(receipt).toMatchObject({ status: 'delivered', at: clock.t, errorCode: null, errorText: null });
    expect(result.ok && receipt.carrierMessageId).toBe(result.ok && result.carrierMessageIds[0]);
  });

  it.each(SIMULATOR_RULES.filter((r) => r.outcome.kind === 'receipt'))('receiver ending $suffix: $description', async (rule) => {
    const { carrier, receipts } = await startSimulator();
    const result = await carrier.submit(message({ receiver: `+3361234${rule.suffix}` }));
    expect(result.ok).toBe(true);
    await waitFor(() => receipts.length === 1, 'receipt');
    expect(receipts[0]).toMatchObject(
      rule.outcome.kind === 'receipt' ? { status: rule.outcome.status, errorCode: rule.outcome.errorCode } : {},
    );
  });

  it('failed receipts carry the OVH ptt code and a readable text', async () => {
    const { carrier, receipts } = await startSimulator();
    await carrier.submit(message({ receiver: '+33612340000' }));
    await carrier.submit(message({ receiver: '+33612340001' }));
    await carrier.submit(message({ receiver: '+33612340053' }));
    await carrier.submit(message({ receiver: '+33612340002' }));
    await waitFor(() => receipts.length === 4, 'receipts');
    expect(receipts.map((r) => [r.status, r.errorCode, r.errorText])).toEqual([
      ['failed', '3', 'destination unreachable'],
      ['failed', '9', 'undeliverable'],
      ['failed', '53', 'blacklisted (STOP)'],
      ['expired', null, 'validity period over'],
    ]);
  });

  it('0009: throttled the first time for a message id, then accepted', async () => {
    const { carrier } = await startSimulator();
    const m = message({ id: 99, receiver: '+33612340009' });
    expect(await carrier.submit(m)).toEqual({ ok: false, retry: true, code: 'ESME_RTHROTTLED', reason: 'throttled (simulator rule 0009)' });
    expect(await carrier.submit(m)).toMatchObject({ ok: true });
    expect(await carrier.submit({ ...m, id: 100 })).toMatchObject({ ok: false, retry: true });
  });

  it('0054: refused at submit, permanently', async () => {
    const { carrier } = await startSimulator();
    expect(await carrier.submit(message({ receiver: '+33612340054' }))).toEqual({
      ok: false,
      retry: false,
      code: '54',
      reason: 'forbidden destination',
    });
  });

  it('a long message gets one id and one receipt per part', async () => {
    const { carrier, receipts } = await startSimulator();
    const result = await carrier.submit(message({ text: 'x'.repeat(200) }));
    expect(result.ok && result.carrierMessageIds).toHaveLength(2);
    await waitFor(() => receipts.length === 2, 'two receipts');
    expect(receipts.map((r) => r.carrierMessageId)).toEqual(result.ok && result.carrierMessageIds);
  });

  it('sends no receipt unless asked', async () => {
    const { carrier, receipts } = await startSimulator();
    await carrier.submit(message({ id: 1, requestReceipt: false }));
    const asked = await carrier.submit(message({ id: 2 }));
    await waitFor(() => receipts.length >= 1, 'receipt');
    expect(receipts.map((r) => r.carrierMessageId)).toEqual(asked.ok && asked.carrierMessageIds);
  });

  it('expires a message whose validity is over when the receipt comes', async () => {
    const { carrier, clock, receipts } = await startSimulator();
    await carrier.submit(message({ validUntil: clock.t - 1 }));
    await waitFor(() => receipts.length === 1, 'receipt');
    expect(receipts[0].status).toBe('expired');
  });

  it('the same seed gives the same ids', async () => {
    const a = await startSimulator({ seed: 3 });
    const b = await startSimulator({ seed: 3 });
    expect(await a.carrier.submit(message())).toEqual(await b.carrier.submit(message()));
  });

  it('paces at tps: not ready once the burst is spent, ready again when the clock moves', async () => {
    const { carrier, clock } = await startSimulator({ tps: 1 });
    expect(carrier.ready).toBe(true);
    await carrier.submit(message());
    expect(carrier.ready).toBe(false);
    clock.t += 1000;
    expect(carrier.ready).toBe(true);
  });

  it('keeps going when the receipt handler throws', async () => {
    const clock = fakeClock();
    const { log, lines } = memoryLog();
    const carrier = createSimulatorCarrier({ receiptDelayMs: 0 }, { clock, log });
    open.push(carrier);
    let calls = 0;
    await carrier.start(async () => {
      calls++;
      throw new Error('database down');
    });
    await carrier.submit(message());
    await carrier.submit(message());
    await waitFor(() => calls === 2, 'two receipts');
    await waitFor(() => lines.filter((l) => l.level === 'error').length === 2, 'errors logged');
  });

  it('hands receipts over in order without waiting for the previous one; close waits for them', async () => {
    const clock = fakeClock();
    const { log } = memoryLog();
    const carrier = createSimulatorCarrier({ receiptDelayMs: 0 }, { clock, log });
    const handling: { id: string; done: () => void }[] = [];
    await carrier.start((r) => new Promise<void>((resolve) => handling.push({ id: r.carrierMessageId, done: resolve })));
    const a = await carrier.submit(message({ id: 1 }));
    const b = await carrier.submit(message({ id: 2 }));
    await waitFor(() => handling.length === 2, 'both receipts handed over');
    expect(handling.map((h) => h.id)).toEqual([a.ok && a.carrierMessageIds[0], b.ok && b.carrierMessageIds[0]]);
    let closed = false;
    const closing = carrier.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    for (const h of handling) h.done();
    await closing;
  });

  it('answers retry after close', async () => {
    const { carrier } = await startSimulator();
    await carrier.close();
    expect(await carrier.submit(message())).toMatchObject({ ok: false, retry: true });
    expect(carrier.ready).toBe(false);
  });

  it('matches rules on the last digits only', () => {
    expect(simulatorOutcome('+33600000000')).toMatchObject({ kind: 'receipt', status: 'failed', errorCode: '3' });
    expect(simulatorOutcome('+33600000010')).toMatchObject({ kind: 'receipt', status: 'delivered' });
  });

  it('parses simulator options and createCarrier picks it', () => {
    expect(parseSimulatorSpec('simulator?tps=5&receipt_delay=10&seed=2')).toEqual({ tps: 5, receiptDelayMs: 10, seed: 2 });
    expect(() => parseSimulatorSpec('simulator?speed=2')).toThrow(/unknown option "speed"/);
    expect(() => parseSimulatorSpec('simulator?tps=-1')).toThrow(/tps/);
    const { log } = memoryLog();
    expect(createCarrier('simulator', { clock: fakeClock(), log }).name).toBe('simulator');
    expect(() => createCarrier('kannel://x', { clock: fakeClock(), log })).toThrow(/simulator.*smpp:\/\//);
  });
});
