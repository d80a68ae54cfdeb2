import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ERROR_CODES, type ErrorCode } from '../../../shared/error-codes.js';
import { systemClock } from '../../clock.js';
import type { Config } from '../../config.js';
import { openDatabase } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { CarrierLog } from '../carriers/carrier.js';
import { type AcceptResult, createSendingRepository, type PreparedJob } from '../sending/sending.repository.js';
import { createCallbacksRepository } from './callbacks.repository.js';
import { createDispatchRepository } from './dispatch.repository.js';
import { startDispatching } from './dispatching.js';

/**
 * The `dispatcher` service of `relais serve` on a thread of its own: the dispatcher, its carrier and the
 * callbacks worker, with their own database connection, beside the serving thread instead of inside it.
 * On one thread, claiming, SMPP and receipts took about a third of the serving thread while it accepted
 * jobs (bench:send --profile), and the second core stayed partly idle. The dispatcher shares the queue
 * with other connections through the database, as two dispatcher processes on one PostgreSQL do (leases,
 * SKIP LOCKED), so sending stays exactly-once.
 *
 * The accepted jobs are written on this thread's connection too (`acceptBatch`, the sending service's
 * `acceptThrough`): the serving thread validates and answers, this one commits. With the two writing the
 * same SQLite file, each waited for the other's write lock — ~15 % of each thread's time on timers
 * (1,800 waits in 15 s of bench:send) — and the serving thread's share of the work stayed the larger
 * (alternating bench:send runs, medians of 4: 5,080 vs 4,290 jobs/s; with receipts 2,307 vs 2,135 msg/s).
 */

type LogLevel = keyof CarrierLog;
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** What the serving thread hands the thread (cloned). */
export interface DispatchThreadData {
  relaisThread: 'dispatcher';
  /** The process runs the TypeScript sources (tsx), not the bundle: the thread does too (bin/relais.js). */
  fromSource: boolean;
  config: Config;
  stopTimeoutMs: number;
}

/** An acceptance result as it crosses threads (an AppError loses its class in a structured clone). */
type WireAcceptResult = Exclude<AcceptResult, { ok: false }> | { ok: false; error: { code: ErrorCode; message: string } };

type ToThread = { type: 'wake' } | { type: 'stop' } | { type: 'accept'; seq: number; jobs: PreparedJob[] };
export type FromThread =
  | { type: 'ready' }
  | { type: 'accepted'; seq: number; results: WireAcceptResult[] }
  | { type: 'accepted'; seq: number; error: { message: string; code?: string } }
  | { type: 'failed'; message: string }
  | { type: 'stopped' }
  | { type: 'log'; level: LogLevel; obj: object; msg: string };

export interface DispatchThread {
  /**
   * Writes a batch of accepted jobs on the thread's connection (the sending service's `acceptThrough`):
   * the serving thread then spends its time on requests, and the thread wakes its dispatcher itself.
   * Undefined while no thread runs (stopping, starting again): the caller writes the batch itself.
   */
  acceptBatch(jobs: PreparedJob[]): Promise<AcceptResult[]> | undefined;
  /** Jobs the thread has written so far (answered). */
  readonly jobsWritten: number;
  /** The running thread's id; null between an unexpected end and the new start. */
  readonly threadId: number | null;
  /** Ends the thread at once, as a crash would (tests): it is started again as after any unexpected end. */
  kill(): Promise<void>;
  /** Graceful: the thread stops claiming, waits for submits in flight (`stopTimeoutMs`), closes its carrier and connection. */
  stop(): Promise<void>;
}

/** The thread's error, as the caller would have seen it thrown here: an AppError again when it was one. */
function thrownAgain(error: { message: string; code?: string }): Error {
  return (ERROR_CODES as readonly string[]).includes(error.code ?? '')
    ? new AppError(error.code as ErrorCode, error.message)
    : Object.assign(new Error(error.message), error.code === undefined ? {} : { code: error.code });
}

/** How long after an unexpected end the thread is started again (growing up to the last). */
const RESTART_DELAYS_MS: readonly number[] = [1000, 2000, 5000, 10_000, 30_000];

/**
 * Starts the thread (`entry`: bin/relais.js, which loads this module's own bundle, or its source, in the worker) and
 * resolves once its carrier is started; rejects with the thread's reason when it cannot start (an invalid
 * carrier spec, an unreachable database). An unexpected end later (an uncaught error in the thread) is
 * logged and the thread started again after a delay; its claims return to the queue when their leases end.
 */
export async function startDispatchThread(args: {
  entry: URL;
  config: Readonly<Config>;
  log: CarrierLog;
  /** Subscribes to the serving thread's accepted commits; returns the unsubscribe. */
  onAccepted(listener: () => void): () => void;
  stopTimeoutMs?: number;
  /** After the n-th unexpected end in a row, start again after `delaysMs[n]` (default RESTART_DELAYS_MS); `now` for tests. */
  restart?: { delaysMs?: readonly number[]; now?: () => number };
}): Promise<DispatchThread> {
  const delays = args.restart?.delaysMs ?? RESTART_DELAYS_MS;
  const now = args.restart?.now ?? Date.now;
  const data: DispatchThreadData = {
    relaisThread: 'dispatcher',
    // A bundle is an .mjs file; the sources are .ts files run through tsx.
    fromSource: !import.meta.url.endsWith('.mjs'),
    config: { ...args.config },
    stopTimeoutMs: args.stopTimeoutMs ?? 5000,
  };
  let worker: Worker | null = null;
  let stopping = false;
  let restarts = 0;
  let readyAt = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let seq = 0;
  let jobsWritten = 0;
  /** Batches sent to the thread and not answered yet, by sequence number. */
  const accepting = new Map<number, { resolve: (results: AcceptResult[]) => void; reject: (error: Error) => void }>();
  const failAccepting = (reason: string) => {
    for (const { reject } of accepting.values()) reject(new Error(reason));
    accepting.clear();
  };

  const launch = () =>
    new Promise<Worker>((resolve, reject) => {
      const started = new Worker(args.entry, { workerData: data });
      let ready = false;
      started.on('message', (message: FromThread) => {
        if (message.type === 'accepted') {
          const waiting = accepting.get(message.seq);
          accepting.delete(message.seq);
          if (!waiting) return;
          if ('error' in message) waiting.reject(thrownAgain(message.error));
          else {
            jobsWritten += message.results.length;
            waiting.resolve(message.results.map((r) => (r.ok ? r : { ok: false, error: new AppError(r.error.code, r.error.message) })));
          }
        } else if (message.type === 'log') args.log[message.level](message.obj, message.msg);
        else if (message.type === 'ready') {
          ready = true;
          readyAt = now();
          resolve(started);
        } else if (message.type === 'failed') reject(new Error(message.message));
      });
      started.on('error', (error) => {
        if (!ready) reject(error);
        else args.log.error({ err: error }, 'the dispatching thread failed');
      });
      started.on('exit', (code) => {
        if (!ready) {
          reject(new Error(`the dispatching thread ended before it started (exit code ${code})`));
          return;
        }
        if (worker !== started) return;
        worker = null;
        // Their transactions ended with the thread's connection: committed or not, nobody can say here.
        failAccepting('the dispatching thread ended while writing these jobs: whether they were accepted is unknown');
        if (stopping) return;
        // A thread that had run ten times the longest delay (5 minutes) starts again after the shortest.
        if (now() - readyAt > 10 * (delays.at(-1) ?? 0)) restarts = 0;
        const delay = delays[Math.min(restarts, delays.length - 1)];
        restarts++;
        args.log.error({ code, restartInMs: delay }, 'the dispatching thread ended unexpectedly: starting it again');
        restartTimer = setTimeout(() => {
          launch().then(
            (again) => {
              if (stopping) void again.terminate();
              else worker = again;
            },
            (error: unknown) => args.log.error({ err: error }, 'the dispatching thread could not start again'),
          );
        }, delay);
      });
    });

  worker = await launch();
  const unsubscribe = args.onAccepted(() => worker?.postMessage({ type: 'wake' } satisfies ToThread));
  return {
    acceptBatch(jobs) {
      const running = worker;
      if (!running || stopping) return undefined;
      return new Promise<AcceptResult[]>((resolve, reject) => {
        const n = ++seq;
        accepting.set(n, { resolve, reject });
        running.postMessage({ type: 'accept', seq: n, jobs } satisfies ToThread);
      });
    },
    get jobsWritten() {
      return jobsWritten;
    },
    get threadId() {
      return worker?.threadId ?? null;
    },
    async kill() {
      await worker?.terminate();
    },
    async stop() {
      stopping = true;
      unsubscribe();
      clearTimeout(restartTimer);
      const running = worker;
      worker = null;
      if (!running) return;
      // The thread answers the batches it was given before it stops (messages are handled in order).
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.postMessage({ type: 'stop' } satisfies ToThread);
      // The thread ends by itself once stopped; past its own grace period and a margin it is ended here.
      const timer = setTimeout(() => void running.terminate(), data.stopTimeoutMs + 10_000);
      await exited;
      clearTimeout(timer);
      failAccepting('the dispatching thread stopped while writing these jobs: whether they were accepted is unknown');
    },
  };
}

/**
 * The thread's logger: each line at or above `logLevel` posted to the serving thread, which writes it
 * with the process's logger. A field that cannot cross threads (a function, a socket) is replaced by
 * its text, an Error by its name, message and code, so that the line is never lost.
 */
export function forwardingLog(post: (message: FromThread) => void, logLevel: string): CarrierLog {
  const threshold = LEVELS[logLevel] ?? LEVELS.info;
  const plain = (value: unknown): unknown => {
    if (value instanceof Error)
      return { name: value.name, message: value.message, code: (value as { code?: unknown }).code, stack: value.stack };
    if (value === null || typeof value !== 'object') return typeof value === 'function' ? `[function ${value.name}]` : value;
    try {
      structuredClone(value);
      return value;
    } catch {
      return String(value);
    }
  };
  const forward =
    (level: LogLevel) =>
    (obj: object, msg: string): void => {
      if (LEVELS[level] < threshold) return;
      try {
        post({ type: 'log', level, obj, msg });
      } catch {
        post({ type: 'log', level, obj: Object.fromEntries(Object.entries(obj).map(([key, value]) => [key, plain(value)])), msg });
      }
    };
  return { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') };
}

/** The thread's side: runs in the worker started by `startDispatchThread`, once this module is loaded there. */
async function runDispatchThread(data: DispatchThreadData): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('runDispatchThread runs in a worker thread');
  const log = forwardingLog((message) => port.postMessage(message), data.config.logLevel);

  const database = openDatabase(data.config.databaseUrl, { nonBlockingLockWaits: true, checkpointedElsewhere: true, poolSize: 4 });
  const accepted = new Set<() => void>();
  const sending = createSendingRepository(database);
  /** Batches being written: answered before the connection closes. */
  const writes = new Set<Promise<unknown>>();
  let dispatching: Awaited<ReturnType<typeof startDispatching>>;
  try {
    dispatching = await startDispatching({
      carrierSpec: data.config.carrier,
      services: {
        dispatch: createDispatchRepository(database),
        callbacks: createCallbacksRepository(database),
        onAccepted(listener) {
          accepted.add(listener);
          return () => accepted.delete(listener);
        },
        config: data.config,
      },
      clock: systemClock,
      log,
      stopTimeoutMs: data.stopTimeoutMs,
    });
  } catch (error) {
    await database.close();
    port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies FromThread);
    return;
  }
  const wake = () => {
    for (const listener of accepted) listener();
  };
  port.on('message', (message: ToThread) => {
    if (message.type === 'wake') {
      wake();
      return;
    }
    if (message.type === 'accept') {
      const writing = sending.acceptBatch(message.jobs);
      writes.add(writing);
      void writing.finally(() => writes.delete(writing)).catch(() => {});
      writing.then(
        (results) => {
          if (results.some((r) => r.ok)) wake();
          const wire: WireAcceptResult[] = results.map((r) =>
            r.ok ? r : { ok: false, error: { code: r.error.code, message: r.error.message } },
          );
          port.postMessage({ type: 'accepted', seq: message.seq, results: wire } satisfies FromThread);
        },
        (error: unknown) => {
          const { message: text, code } = error as { message?: unknown; code?: unknown };
          port.postMessage({
            type: 'accepted',
            seq: message.seq,
            error: { message: String(text ?? error), ...(typeof code === 'string' ? { code } : {}) },
          } satisfies FromThread);
        },
      );
      return;
    }
    port.removeAllListeners('message');
    void (async () => {
      try {
        await Promise.allSettled([...writes]);
        await dispatching.stop();
      } finally {
        await database.close();
        port.postMessage({ type: 'stopped' } satisfies FromThread);
        port.close();
      }
    })();
  });
  port.postMessage({ type: 'ready' } satisfies FromThread);
}

if (!isMainThread && (workerData as Partial<DispatchThreadData> | null)?.relaisThread === 'dispatcher') {
  await runDispatchThread(workerData as DispatchThreadData);
}
