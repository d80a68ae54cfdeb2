import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The source of a thread working on a SQLite database with a connection of its own (plain JavaScript:
 * no TypeScript loader exists in a worker thread). It opens `workerData.file` with `workerData.driver`
 * (better-sqlite3's path) and `workerData.open` options, sets `workerData.pragmas`, defines the
 * serving connection's SQL function `relais_contains`, then runs `body`,
 * which defines what it does and calls `serve(handle)`: each message `{ seq, … }` is answered with
 * `{ seq, …handle(message) }` (a `transfer` list in the answer hands those ArrayBuffers over instead of
 * copying them) or `{ seq, error: { message, code } }`; `{ close: true }` closes the connection and the thread.
 */
export function sqliteWorkerSource(body: string): string {
  return `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, workerData.open || {});
for (const pragma of workerData.pragmas) db.pragma(pragma);
// The serving connection's function (database.ts), for the history's filters: foldText is toLowerCase.
db.function('relais_contains', { deterministic: true }, (text, folded) =>
  typeof text === 'string' && typeof folded === 'string' && text.toLowerCase().includes(folded) ? 1 : 0,
);
function serve(handle) {
  parentPort.on('message', (m) => {
    if (m.close) {
      db.close();
      parentPort.close();
      return;
    }
    try {
      const { transfer, ...answer } = handle(m);
      parentPort.postMessage({ seq: m.seq, ...answer }, transfer || []);
    } catch (error) {
      parentPort.postMessage({ seq: m.seq, error: { message: String((error && error.message) || error), code: error && error.code } });
    }
  });
}
${body}`;
}

/** What a thread of `sqliteWorkerSource` is started with (besides the driver's path, found here). */
export interface SqliteThreadData {
  file: string;
  pragmas: readonly string[];
  /** better-sqlite3's constructor options (e.g. `{ readonly: true, fileMustExist: true }`). */
  open?: Record<string, unknown>;
}

/** The serving side of one such thread. */
export interface SqliteThread {
  /** Sends `message` and resolves with the thread's answer (without its `seq`); its errors reject, with SQLite's `code`. */
  call<T>(message: Record<string, unknown>): Promise<T>;
  /** Calls not answered yet. */
  readonly pending: number;
  /** Closes the connection and ends the thread (at once if it already failed). */
  close(): Promise<void>;
}

/**
 * Starts a thread running `source` (from `sqliteWorkerSource`). It is referenced only while a call is
 * in flight: an idle thread does not keep the process alive. When it fails or exits, every call in
 * flight and every later one rejects (`name` says which thread stopped).
 */
export function startSqliteThread(source: string, data: SqliteThreadData, name: string): SqliteThread {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(source, { eval: true, workerData: { ...data, driver } });
  worker.unref();
  const waiting = new Map<number, { resolve: (answer: never) => void; reject: (e: Error) => void }>();
  let seq = 0;
  let stopped: Error | undefined;
  /** Closing: referenced until it has exited, whatever answers arrive meanwhile. */
  let closing = false;
  const failAll = (error: Error) => {
    stopped ??= error;
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  };
  worker.on('message', ({ seq: answered, error, ...answer }: { seq: number; error?: { message: string; code?: string } }) => {
    const w = waiting.get(answered);
    if (!w) return;
    waiting.delete(answered);
    if (error !== undefined) w.reject(Object.assign(new Error(error.message), error.code ? { code: error.code } : {}));
    else w.resolve(answer as never);
    if (waiting.size === 0 && !closing) worker.unref();
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`${name} stopped (exit code ${code})`)));
  return {
    call<T>(message: Record<string, unknown>): Promise<T> {
      if (stopped) return Promise.reject(stopped);
      return new Promise<T>((resolve, reject) => {
        seq += 1;
        waiting.set(seq, { resolve: resolve as (answer: never) => void, reject });
        // Referenced while a call is in flight: the process waits for its answer.
        worker.ref();
        worker.postMessage({ ...message, seq });
      });
    },
    get pending() {
      return waiting.size;
    },
    async close() {
      if (stopped) {
        await worker.terminate();
        return;
      }
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      // Referenced until it has exited: the process must not end halfway through closing (an answer
      // arriving meanwhile must not unreference it: the process would exit with code 13, its await pending).
      closing = true;
      worker.ref();
      worker.postMessage({ close: true });
      await exited;
    },
  };
}
