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

/**
 * Long reads of a SQLite database (statistics over a year, exact counts of millions of rows) on their
 * own thread and connection. better-sqlite3 works synchronously: in the serving thread a 500 ms count
 * would hold back every request that arrives meanwhile — a history page, a send. Here it holds back
 * only the long reads queued behind it, and uses the second core; WAL lets it read the last committed
 * state while the serving connection writes.
 *
 * Plain JavaScript (no TypeScript loader exists in a worker thread). The connection is `query_only`.
 * `relais_contains` is the serving connection's function (database.ts), `foldText` being `toLowerCase`.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('query_only = ON');
db.pragma('cache_size = -32768');
db.pragma('temp_store = MEMORY');
db.pragma('mmap_size = 1073741824');
db.function('relais_contains', { deterministic: true }, (text, folded) =>
  typeof text === 'string' && typeof folded === 'string' && text.toLowerCase().includes(folded) ? 1 : 0,
);
const statements = new Map();
parentPort.on('message', (m) => {
  if (m.close) {
    db.close();
    parentPort.close();
    return;
  }
  try {
    let statement = statements.get(m.sql);
    if (!statement) {
      if (statements.size > 200) statements.clear();
      statement = db.prepare(m.sql);
      statements.set(m.sql, statement);
    }
    const rows = statement.reader ? statement.all(...m.parameters) : (statement.run(...m.parameters), []);
    parentPort.postMessage({ seq: m.seq, rows });
  } catch (error) {
    parentPort.postMessage({ seq: m.seq, error: { message: String((error && error.message) || error), code: error && error.code } });
  }
});
`;

export interface SqliteReader {
  /** Runs one read-only statement on the reading thread: its rows as objects. */
  all(sql: string, parameters: readonly unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** Starts (at its first query) the thread that runs long reads of the SQLite database `file`. */
export function startSqliteReader(file: string): SqliteReader {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  let worker: Worker | null = null;
  let closed = false;
  const waiting = new Map<number, { resolve: (rows: Record<string, unknown>[]) => void; reject: (e: Error) => void }>();
  let seq = 0;

  function failAll(error: Error) {
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
    worker = null; // the next query starts a new thread
  }

  function start(): Worker {
    const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver } });
    started.on('message', (m: { seq: number; rows?: Record<string, unknown>[]; error?: { message: string; code?: string } }) => {
      const w = waiting.get(m.seq);
      if (!w) return;
      waiting.delete(m.seq);
      if (m.error) w.reject(Object.assign(new Error(m.error.message), m.error.code ? { code: m.error.code } : {}));
      else w.resolve(m.rows!);
      // An idle thread does not keep the process alive; `close` stops it.
      if (waiting.size === 0) started.unref();
    });
    started.on('error', (error) => {
      if (worker === started) failAll(error);
    });
    started.on('exit', (code) => {
      if (worker === started) failAll(new Error(`SQLite reading thread stopped (exit code ${code})`));
    });
    return started;
  }

  return {
    all(sql, parameters) {
      if (closed) return Promise.reject(new Error('the database is closed'));
      worker ??= start();
      const current = worker;
      return new Promise((resolve, reject) => {
        const id = ++seq;
        waiting.set(id, { resolve, reject });
        current.ref();
        current.postMessage({ seq: id, sql, parameters });
      });
    },
    async close() {
      closed = true;
      const current = worker;
      worker = null;
      failAll(new Error('the database is closed'));
      if (!current) return;
      const exited = new Promise((resolve) => current.once('exit', resolve));
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
