import type { Clock } from '../../clock.js';
import { systemClock } from '../../clock.js';
import type { Services } from '../../services.js';
import type { Carrier, CarrierMessage, Receipt, SubmitResult } from '../carriers/carrier.js';
import { type CallbacksWorker, type CallbacksWorkerDeps, createCallbacksWorker } from './callbacks.service.js';
import { createDispatcher, type Dispatcher, type DispatcherDeps, type DispatchLog } from './dispatcher.service.js';
import { type Dispatching, startDispatching } from './dispatching.js';

// Helpers for the dispatch tests (never imported by the server).

/** A clock the test moves by hand. */
export function fakeClock(start = Date.now()) {
  const clock = {
    t: start,
    now: () => clock.t,
    advance(ms: number) {
      clock.t += ms;
    },
  };
  return clock;
}

/** Polls `probe` until it returns something truthy (returned), or fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

/** A log that keeps its lines. */
export function memoryLog() {
  const lines: { level: string; msg: string; obj: object }[] = [];
  const at =
    (level: string) =>
    (obj: object, msg: string): void => {
      lines.push({ level, msg, obj });
    };
  const log: DispatchLog = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { log, lines };
}

/**
 * Wraps a carrier: records every submit (message ids in call order), and can hold receipts back
 * until `releaseReceipts()` (to see `sent` before `delivered`).
 */
export function recordingCarrier(inner: Carrier, options: { holdReceipts?: boolean; submits?: number[] } = {}) {
  const submits = options.submits ?? [];
  const held: Receipt[] = [];
  let hold = options.holdReceipts ?? false;
  let handler: ((r: Receipt) => Promise<void>) | null = null;
  const carrier: Carrier = {
    get name() {
      return inner.name;
    },
    get ready() {
      return inner.ready;
    },
    async start(onReceipt) {
      handler = onReceipt;
      await inner.start(async (r) => {
        if (hold) held.push(r);
        else await onReceipt(r);
      });
    },
    async submit(message: CarrierMessage): Promise<SubmitResult> {
      submits.push(message.id);
      return inner.submit(message);
    },
    close: () => inner.close(),
  };
  return {
    carrier,
    submits,
    /** Times each id was submitted. */
    count: (id: number) => submits.filter((s) => s === id).length,
    heldReceipts: held,
    async releaseReceipts() {
      hold = false;
      for (const r of held.splice(0)) await handler?.(r);
    },
  };
}

/** A carrier answered by the test: each submit waits until the test resolves it; ready while fewer than `window` wait. */
export function manualCarrier(window = Number.POSITIVE_INFINITY) {
  const pending: { message: CarrierMessage; answer: (r: SubmitResult) => void }[] = [];
  let receipts: ((r: Receipt) => Promise<void>) | null = null;
  const carrier: Carrier = {
    name: 'manual',
    get ready() {
      return pending.length < window;
    },
    async start(onReceipt) {
      receipts = onReceipt;
    },
    submit(message) {
      return new Promise<SubmitResult>((answer) => pending.push({ message, answer }));
    },
    async close() {},
  };
  return {
    carrier,
    pending,
    /** Answers every submit waiting now with `ok` and one id `<prefix>-<message id>`. */
    acceptAll(prefix: string) {
      for (const p of pending.splice(0)) p.answer({ ok: true, carrierMessageIds: [`${prefix}-${p.message.id}`] });
    },
    receipt: (r: Receipt) => receipts?.(r),
  };
}

/**
 * A dispatcher on the built-in simulator (receipts 10 ms after sending), logging nothing: what the SMPP
 * server's receipt tests run beside it.
 */
export function startSimulatorDispatching(services: Services): Promise<Dispatching> {
  return startDispatching({ carrierSpec: 'simulator?receipt_delay=10', services, clock: systemClock, log: silentLog });
}

/**
 * A dispatcher on `carrier` and a callbacks worker wired as `relais serve` wires them (the dispatcher woken
 * by each accepted job, the worker by the callbacks it queues), both polling every 20 ms, private callback
 * addresses allowed; `stop` ends the dispatcher, the carrier and the worker (waiting `workerStopMs`).
 */
export async function startDispatcherWithCallbacks(args: {
  services: Services;
  carrier: Carrier;
  clock: Clock;
  log: DispatchLog;
  /** The dispatcher's repository (default: the services'). */
  repository?: DispatcherDeps['repository'];
  worker?: Partial<CallbacksWorkerDeps>;
  workerStopMs?: number;
}): Promise<{ worker: CallbacksWorker; dispatcher: Dispatcher; stop(): Promise<void> }> {
  const { services, carrier, clock, log } = args;
  const tag = Math.random().toString(36).slice(2);
  const worker = createCallbacksWorker({
    repository: services.callbacks,
    clock,
    owner: `callbacks-${tag}`,
    log,
    pollMs: 20,
    allowPrivate: true,
    ...args.worker,
  });
  const dispatcher = createDispatcher({
    repository: args.repository ?? services.dispatch,
    carrier,
    clock,
    owner: `dispatcher-${tag}`,
    log,
    pollMs: 20,
    onCallbacksQueued: () => worker.wake(),
  });
  const unsubscribe = services.onAccepted(() => dispatcher.wake());
  worker.start();
  await dispatcher.start();
  return {
    worker,
    dispatcher,
    async stop() {
      unsubscribe();
      await dispatcher.stop();
      await carrier.close();
      await worker.stop(args.workerStopMs);
    },
  };
}

/** A log that keeps nothing (servers and dispatchers under test). */
export const silentLog = { debug() {}, info() {}, warn() {}, error() {} };
