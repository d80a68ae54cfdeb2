import { randomBytes } from 'node:crypto';
import { splitSms } from '../../../shared/sms-encoding.js';
import type { Carrier, CarrierDeps, CarrierMessage, Receipt, SubmitResult } from './carrier.js';
import { TokenBucket } from './token-bucket.js';

/** Options of the built-in simulator. */
export interface SimulatorOptions {
  /** Accept rate, messages a second (token bucket; submits beyond it wait their turn). Default 1000. */
  tps?: number;
  /** Delay between acceptance and the delivery receipt, ms. Default 2000. */
  receiptDelayMs?: number;
  /** Seed of the `sim-…` carrier ids (tests); random by default, so ids differ between runs. */
  seed?: number;
}

/** What the simulator does for a receiver matched by a rule. */
export type SimulatorOutcome =
  /** Accepts, then answers this receipt for every part. */
  | { kind: 'receipt'; status: Receipt['status']; errorCode: string | null; errorText: string | null }
  /** `submit` answers retry:true (throttled) the first time it sees the message id, then accepts it. */
  | { kind: 'throttle-once' }
  /** `submit` refuses the message permanently (retry:false). */
  | { kind: 'refuse'; code: string; reason: string };

export interface SimulatorRule {
  /** Last digits of the receiver. */
  suffix: string;
  description: string;
  outcome: SimulatorOutcome;
}

/**
 * Deterministic outcomes of the simulator, by the receiver's last digits (error codes are OVH ptt
 * codes, see OVH-COMPAT.md). Any other receiver is delivered. Receipts are sent only when the message
 * asks for them, `receiptDelayMs` after acceptance, one per part; a message whose `validUntil` has
 * passed by then gets `expired` instead of `delivered`.
 *
 * | ends with | outcome |
 * | --- | --- |
 * | 0000 | accepted, then failed: ptt 3 "destination unreachable" |
 * | 0001 | accepted, then failed: ptt 9 "undeliverable" |
 * | 0002 | accepted, then expired |
 * | 0008 | accepted, then only an intermediate receipt (`sent`): never a final one |
 * | 0009 | submit answers retry:true (throttled) the first time for that message id, then accepted and delivered |
 * | 0053 | accepted, then failed: ptt 53 "blacklisted (STOP)" |
 * | 0054 | refused at submit (retry:false): ptt 54 "forbidden destination" |
 * | other | accepted, then delivered |
 */
export const SIMULATOR_RULES: readonly SimulatorRule[] = [
  {
    suffix: '0000',
    description: 'failed: destination unreachable (ptt 3)',
    outcome: { kind: 'receipt', status: 'failed', errorCode: '3', errorText: 'destination unreachable' },
  },
  {
    suffix: '0001',
    description: 'failed: undeliverable (ptt 9)',
    outcome: { kind: 'receipt', status: 'failed', errorCode: '9', errorText: 'undeliverable' },
  },
  {
    suffix: '0002',
    description: 'expired',
    outcome: { kind: 'receipt', status: 'expired', errorCode: null, errorText: 'validity period over' },
  },
  {
    suffix: '0008',
    description: 'held by the carrier: intermediate receipt only',
    outcome: { kind: 'receipt', status: 'sent', errorCode: null, errorText: null },
  },
  { suffix: '0009', description: 'throttled once at submit, then delivered', outcome: { kind: 'throttle-once' } },
  {
    suffix: '0053',
    description: 'failed: blacklisted (STOP) (ptt 53)',
    outcome: { kind: 'receipt', status: 'failed', errorCode: '53', errorText: 'blacklisted (STOP)' },
  },
  {
    suffix: '0054',
    description: 'refused at submit: forbidden destination (ptt 54)',
    outcome: { kind: 'refuse', code: '54', reason: 'forbidden destination' },
  },
];

const DELIVERED: SimulatorOutcome = { kind: 'receipt', status: 'delivered', errorCode: null, errorText: null };

/** The simulator's outcome for a receiver (`SIMULATOR_RULES`, else delivered). */
export function simulatorOutcome(receiver: string): SimulatorOutcome {
  const digits = receiver.replace(/\D/g, '');
  return SIMULATOR_RULES.find((r) => digits.endsWith(r.suffix))?.outcome ?? DELIVERED;
}

const STAT_WORD: Record<Receipt['status'], string> = { delivered: 'DELIVRD', failed: 'UNDELIV', expired: 'EXPIRED', sent: 'ENROUTE' };

/**
 * Options from `simulator` or `simulator?tps=1000&receipt_delay=2000&seed=42` (`receipt_delay` in ms).
 * Throws an Error on an unknown or invalid option.
 */
export function parseSimulatorSpec(spec: string): SimulatorOptions {
  const q = spec.indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : spec.slice(q + 1));
  const options: SimulatorOptions = {};
  for (const [key, value] of params) {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0)
      throw new Error(`simulator: option ${key} must be a number ≥ 0, got "${value}"`);
    if (key === 'tps') options.tps = n;
    else if (key === 'receipt_delay') options.receiptDelayMs = n;
    else if (key === 'seed') options.seed = Math.trunc(n);
    else throw new Error(`simulator: unknown option "${key}" (tps, receipt_delay, seed)`);
  }
  return options;
}

/** mulberry32: a small seeded PRNG, enough for ids. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The built-in carrier (the default): in-process, nothing leaves the machine. Accepts at `tps`,
 * answers receipts after `receiptDelayMs`, and fails deterministically per `SIMULATOR_RULES`.
 * Ids are `sim-` + 12 hex digits, one per part.
 */
export function createSimulatorCarrier(options: SimulatorOptions, deps: CarrierDeps): Carrier {
  const { clock, log } = deps;
  const receiptDelayMs = options.receiptDelayMs ?? 2000;
  const bucket = new TokenBucket(options.tps ?? 1000, clock.now());
  const random = prng(options.seed ?? randomBytes(4).readUInt32BE(0));
  const waiting: Array<() => void> = [];
  const timers = new Set<NodeJS.Timeout>();
  const throttledOnce = new Set<number>();
  let onReceipt: ((r: Receipt) => Promise<void>) | null = null;
  /** Receipts handed over and not yet handled (close waits for them). */
  const receiptsPending = new Set<Promise<void>>();
  let started = false;
  let closed = false;
  let pumpTimer: NodeJS.Timeout | null = null;

  const hex = () =>
    Math.floor(random() * 0x1000000)
      .toString(16)
      .padStart(6, '0');
  const newId = () => `sim-${hex()}${hex()}`;

  function later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function pump(): void {
    pumpTimer = null;
    while (waiting.length > 0 && !closed) {
      const wait = bucket.take(clock.now());
      if (wait > 0) {
        pumpTimer = setTimeout(pump, wait);
        return;
      }
      waiting.shift()?.();
    }
  }

  function turn(): Promise<void> {
    return new Promise((resolve) => {
      waiting.push(resolve);
      if (!pumpTimer) pump();
    });
  }

  function deliver(receipt: Receipt): void {
    const handler = onReceipt;
    if (!handler || closed) return;
    // In order, without waiting for the previous one: the dispatcher records many in one transaction.
    let handling: Promise<void>;
    try {
      handling = handler(receipt);
    } catch (err) {
      handling = Promise.reject(err);
    }
    const handled: Promise<void> = handling
      .catch((err: unknown) => {
        log.error({ carrier: 'simulator', err, carrierMessageId: receipt.carrierMessageId }, 'carrier: receipt handler failed');
      })
      .finally(() => receiptsPending.delete(handled));
    receiptsPending.add(handled);
  }

  function scheduleReceipts(message: CarrierMessage, ids: string[], outcome: Extract<SimulatorOutcome, { kind: 'receipt' }>): void {
    if (!message.requestReceipt) return;
    later(receiptDelayMs, () => {
      const at = clock.now();
      const expired = outcome.status === 'delivered' && message.validUntil !== null && message.validUntil <= at;
      const final = expired ? { status: 'expired' as const, errorCode: null, errorText: 'validity period over' } : outcome;
      for (const id of ids) {
        deliver({
          carrierMessageId: id,
          status: final.status,
          at,
          errorCode: final.errorCode,
          errorText: final.errorText,
          raw: `id:${id} stat:${STAT_WORD[final.status]} err:${final.errorCode ?? '000'} (simulator)`,
        });
      }
    });
  }

  return {
    name: 'simulator',

    get ready() {
      return started && !closed && waiting.length === 0 && bucket.canTake(clock.now());
    },

    async start(handler) {
      onReceipt = handler;
      if (started) return;
      started = true;
      log.warn(
        { carrier: 'simulator', tps: options.tps ?? 1000, receiptDelayMs },
        'carrier: built-in SIMULATOR — no real SMS leaves this machine',
      );
    },

    async submit(message): Promise<SubmitResult> {
      if (closed) return { ok: false, retry: true, reason: 'carrier closed' };
      await turn();
      if (closed) return { ok: false, retry: true, reason: 'carrier closed' };
      const outcome = simulatorOutcome(message.receiver);
      if (outcome.kind === 'refuse') return { ok: false, retry: false, code: outcome.code, reason: outcome.reason };
      if (outcome.kind === 'throttle-once' && !throttledOnce.has(message.id)) {
        throttledOnce.add(message.id);
        return { ok: false, retry: true, code: 'ESME_RTHROTTLED', reason: 'throttled (simulator rule 0009)' };
      }
      let parts: string[];
      try {
        parts = splitSms(message.text, message.encoding);
      } catch (err) {
        return { ok: false, retry: false, code: '101', reason: `invalid content: ${(err as Error).message}` };
      }
      const ids = parts.map(newId);
      scheduleReceipts(message, ids, outcome.kind === 'receipt' ? outcome : (DELIVERED as Extract<SimulatorOutcome, { kind: 'receipt' }>));
      log.debug({ carrier: 'simulator', id: message.id, carrierMessageIds: ids }, 'carrier: simulated submit');
      return { ok: true, carrierMessageIds: ids };
    },

    async close() {
      closed = true;
      if (pumpTimer) clearTimeout(pumpTimer);
      pumpTimer = null;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const resolve of waiting.splice(0)) resolve();
      await Promise.all([...receiptsPending]);
    },
  };
}
