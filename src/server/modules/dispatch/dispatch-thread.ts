import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { systemClock } from '../../clock.js';
import type { Config } from '../../config.js';
import { openDatabase } from '../../db/database.js';
import type { CarrierLog } from '../carriers/carrier.js';
import { createCallbacksRepository } from './callbacks.repository.js';
import { createDispatchRepository } from './dispatch.repository.js';
import { startDispatching } from './dispatching.js';

/**
 * The `dispatcher` service of `relais serve` on a thread of its own: the dispatcher, its carrier and the
 * callbacks worker, with their own database connection, beside the serving thread instead of inside it.
 * On one thread, claiming, SMPP and receipts took about a third of the serving thread while it accepted
 * jobs (bench:send --profile), and the second core stayed partly idle. The serving thread only tells it
 * when a commit accepted messages (a `wake`); everything else goes through the database, as between two
 * dispatcher processes on one PostgreSQL (leases, SKIP LOCKED), so sending stays exactly-once.
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

type ToThread = { type: 'wake' } | { type: 'stop' };
type FromThread =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'stopped' }
  | { type: 'log'; level: LogLevel; obj: object; msg: string };

export interface DispatchThread {
  /** The running thread's id; null between an unexpected end and the new start. */
  readonly threadId: number | null;
  /** Ends the thread at once, as a crash would (tests): it is started again as after any unexpected end. */
  kill(): Promise<void>;
  /** Graceful: the thread stops claiming, waits for submits in flight (`stopTimeoutMs`), closes its carrier and connection. */
  stop(): Promise<void>;
}

/** How long after an unexpected end the thread is started again (doubling up to the last). */
const RESTART_DELAYS_MS = [1000, 2000, 5000, 10_000, 30_000];

/**
 * Starts the thread (`entry`: bin/relais.js, which runs `runThread` of the CLI's bundle in a worker) and
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
}): Promise<DispatchThread> {
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
  let restartTimer: NodeJS.Timeout | undefined;

  const launch = () =>
    new Promise<Worker>((resolve, reject) => {
      const started = new Worker(args.entry, { workerData: data });
      let ready = false;
      started.on('message', (message: FromThread) => {
        if (message.type === 'log') args.log[message.level](message.obj, message.msg);
        else if (message.type === 'ready') {
          ready = true;
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
        if (worker !== started || stopping) return;
        worker = null;
        const delay = RESTART_DELAYS_MS[Math.min(restarts, RESTART_DELAYS_MS.length - 1)];
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
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.postMessage({ type: 'stop' } satisfies ToThread);
      // The thread ends by itself once stopped; past its own grace period and a margin it is ended here.
      const timer = setTimeout(() => void running.terminate(), data.stopTimeoutMs + 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The thread's side: runs in the worker started by `startDispatchThread`, once this module is loaded there. */
async function runDispatchThread(data: DispatchThreadData): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('runDispatchThread runs in a worker thread');
  const threshold = LEVELS[data.config.logLevel] ?? LEVELS.info;
  const forward =
    (level: LogLevel) =>
    (obj: object, msg: string): void => {
      if (LEVELS[level] < threshold) return;
      try {
        port.postMessage({ type: 'log', level, obj, msg } satisfies FromThread);
      } catch {
        // Something in obj cannot be cloned (a function, a socket): its text instead.
        port.postMessage({ type: 'log', level, obj: { detail: String(obj) }, msg } satisfies FromThread);
      }
    };
  const log: CarrierLog = { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') };

  const database = openDatabase(data.config.databaseUrl, { nonBlockingLockWaits: true, checkpointedElsewhere: true, poolSize: 4 });
  const accepted = new Set<() => void>();
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
  port.on('message', (message: ToThread) => {
    if (message.type === 'wake') {
      for (const listener of accepted) listener();
      return;
    }
    port.removeAllListeners('message');
    void (async () => {
      try {
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
