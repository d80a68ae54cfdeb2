import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { SQLITE_PRAGMAS } from './sqlite-pragmas.js';
import { sqliteWorkerSource } from './sqlite-worker-source.js';

/**
 * Long reads of a SQLite database (statistics over a year, exact counts of millions of rows) on their
 * own thread and connection. better-sqlite3 works synchronously: in the serving thread a 500 ms count
 * would hold back every request that arrives meanwhile — a history page, a send. Here it holds back
 * only the long reads queued behind it, and uses the second core; WAL lets it read the last committed
 * state while the serving connection writes.
 *
 * Plain JavaScript (no TypeScript loader exists in a worker thread). The connection is `query_only`.
 */
const WORKER_SOURCE = sqliteWorkerSource(`
const statements = new Map();
serve((m) => {
  let statement = statements.get(m.sql);
  if (!statement) {
    if (statements.size > 200) statements.clear();
    statement = db.prepare(m.sql);
    statements.set(m.sql, statement);
  }
  return { rows: statement.reader ? statement.all(...m.parameters) : (statement.run(...m.parameters), []) };
});
`);

/** The shared settings, read-only, and a smaller page cache than the serving connection's. */
const READER_PRAGMAS = [...SQLITE_PRAGMAS, 'query_only = ON', 'cache_size = -32768'];

export interface SqliteReader {
  /**
   * Runs one read-only statement on the reading thread: its rows as objects. Reads run one at a time,
   * in order. When `signal` (by default the one `abandonedWith` set) aborts, the read rejects at once:
   * dropped if it waits, its rows thrown away if it runs (a SQLite statement cannot be interrupted).
   */
  all(sql: string, parameters: readonly unknown[], signal?: AbortSignal): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

const abandon = new AsyncLocalStorage<AbortSignal>();

/**
 * Runs `work` so that the long reads it starts are given up when `signal` aborts (a route passes
 * "the client went away": nobody waits for a year of statistics any more).
 */
export function abandonedWith<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  return abandon.run(signal, work);
}

interface Read {
  seq: number;
  sql: string;
  parameters: readonly unknown[];
  signal: AbortSignal | undefined;
  onAbort: () => void;
  settled: boolean;
  resolve: (rows: Record<string, unknown>[]) => void;
  reject: (e: Error) => void;
}

function abortError(): Error {
  return Object.assign(new Error('the read was abandoned'), { name: 'AbortError' });
}

/** Starts (at its first query) the thread that runs long reads of the SQLite database `file`. */
export function startSqliteReader(file: string): SqliteReader {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  let worker: Worker | null = null;
  let closed = false;
  const queue: Read[] = [];
  let running: Read | null = null;
  let seq = 0;

  function settle(read: Read, outcome: { rows: Record<string, unknown>[] } | { error: Error }) {
    if (read.settled) return;
    read.settled = true;
    read.signal?.removeEventListener('abort', read.onAbort);
    if ('error' in outcome) read.reject(outcome.error);
    else read.resolve(outcome.rows);
  }

  /**
   * A waiting read is dropped. A running one is answered at once but left to finish: better-sqlite3
   * cannot interrupt a statement, and a thread ended meanwhile would go on running it beside the next
   * one (two cores busy instead of one); its rows are thrown away.
   */
  function abandonRead(read: Read) {
    const waiting = queue.indexOf(read);
    if (waiting >= 0) queue.splice(waiting, 1);
    settle(read, { error: abortError() });
  }

  function start(): Worker {
    const started = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { file, driver, pragmas: READER_PRAGMAS, open: { fileMustExist: true } },
    });
    started.on('message', (m: { seq: number; rows?: Record<string, unknown>[]; error?: { message: string; code?: string } }) => {
      if (worker !== started || !running || running.seq !== m.seq) return;
      const done = running;
      running = null;
      settle(
        done,
        m.error ? { error: Object.assign(new Error(m.error.message), m.error.code ? { code: m.error.code } : {}) } : { rows: m.rows! },
      );
      pump();
    });
    const fail = (error: Error) => {
      if (worker !== started) return;
      worker = null; // the next read starts a new thread
      const failed = running;
      running = null;
      if (failed) settle(failed, { error });
      pump();
    };
    started.on('error', fail);
    started.on('exit', (code) => fail(new Error(`SQLite reading thread stopped (exit code ${code})`)));
    return started;
  }

  function pump() {
    if (running || closed) return;
    const next = queue.shift();
    if (!next) {
      // An idle thread does not keep the process alive; `close` stops it.
      worker?.unref();
      return;
    }
    running = next;
    worker ??= start();
    worker.ref();
    worker.postMessage({ seq: next.seq, sql: next.sql, parameters: next.parameters });
  }

  return {
    all(sql, parameters, signal = abandon.getStore()) {
      if (closed) return Promise.reject(new Error('the database is closed'));
      if (signal?.aborted) return Promise.reject(abortError());
      return new Promise((resolve, reject) => {
        const read: Read = { seq: ++seq, sql, parameters, signal, onAbort: () => abandonRead(read), settled: false, resolve, reject };
        signal?.addEventListener('abort', read.onAbort, { once: true });
        queue.push(read);
        pump();
      });
    },
    async close() {
      closed = true;
      const error = new Error('the database is closed');
      const busy = running !== null;
      for (const read of queue.splice(0)) settle(read, { error });
      if (running) settle(running, { error });
      running = null;
      const current = worker;
      worker = null;
      if (!current) return;
      // A thread in the middle of a statement reads its close message only after it: it is ended
      // instead, which takes effect when the statement returns (not awaited: that may take a while).
      if (busy) {
        void current.terminate();
        return;
      }
      const exited = new Promise((resolve) => current.once('exit', resolve));
      current.ref(); // an idle thread was unref'ed: keep the process alive until it has closed
      current.postMessage({ close: true });
      await exited;
    },
  };
}

/** A Kysely dialect over a `SqliteReader`: queries only (no transactions, no streaming). */
export function sqliteReaderDialect(reader: SqliteReader): Dialect {
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      return { rows: (await reader.all(query.sql, query.parameters)) as R[] };
    },
    // biome-ignore lint/correctness/useYield: streaming is refused before it starts
    async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
      throw new Error('the SQLite reading thread does not stream');
    },
  };
  const driver: Driver = {
    async init() {},
    async acquireConnection() {
      return connection;
    },
    async beginTransaction() {
      throw new Error('the SQLite reading thread runs no transactions');
    },
    async commitTransaction() {},
    async rollbackTransaction() {},
    async releaseConnection() {},
    async destroy() {
      await reader.close();
    },
  };
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => driver,
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createIntrospector: (db: Kysely<unknown>) => new SqliteIntrospector(db),
  };
}
