import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SQLITE_PRAGMAS } from '../../db/sqlite-pragmas.js';
import { sqliteWorkerSource } from '../../db/sqlite-worker-source.js';

/**
 * Threads that read slices of a SQLite history export, each with its own read-only connection. A
 * slice is one statement answering one BLOB: the slice's CSV lines, made by SQLite itself (see
 * seed-csv-sql.ts), so a row costs no JavaScript at all; the serving thread only hands slices out and
 * sends the bytes, in order, while the two threads read the next ones.
 *
 * Nothing but "run this statement, send its bytes" (sqlite-worker-source.ts).
 */
const WORKER_SOURCE = sqliteWorkerSource(`
const statements = new Map();
serve((m) => {
  let statement = statements.get(m.sql);
  if (!statement) {
    if (statements.size > 100) statements.clear();
    statement = db.prepare(m.sql).raw(true);
    statements.set(m.sql, statement);
  }
  const [rows, value] = statement.get(...m.parameters);
  const bytes = value == null ? new Uint8Array(0) : value instanceof Uint8Array ? value : Buffer.from(String(value));
  // Handed over, not copied: bytes that own all their memory.
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Uint8Array.prototype.slice.call(bytes);
  return { rows, bytes: own, transfer: [own.buffer] };
});
`);

/** The connections' settings: read-only, a small page cache (the rows are read once, in order). */
const CSV_PRAGMAS = [...SQLITE_PRAGMAS, 'query_only = ON', 'cache_size = -2048'];

/** One slice of an export: a statement answering one row: how many messages, and their lines. */
export interface CsvSlice {
  sql: string;
  parameters: readonly unknown[];
}

export interface SqliteCsvThreads {
  /** What the slice's statement answers: a row count, then the bytes (a BLOB, else text as UTF-8). */
  run(slice: CsvSlice): Promise<{ rows: number; lines: Uint8Array }>;
  close(): Promise<void>;
}

type Waiting = { resolve: (part: { rows: number; lines: Uint8Array }) => void; reject: (e: Error) => void };

/** Starts `count` threads reading the SQLite database `file`; each slice goes to the least busy one. */
export function startSqliteCsvThreads(file: string, count = 2): SqliteCsvThreads {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const workerData = { file, driver, pragmas: CSV_PRAGMAS, open: { readonly: true, fileMustExist: true } };
  let seq = 0;
  let stopped: Error | undefined;
  const threads = Array.from({ length: count }, () => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    // An idle thread does not keep the process alive; `close` stops it.
    worker.unref();
    const waiting = new Map<number, Waiting>();
    const failAll = (error: Error) => {
      stopped ??= error;
      for (const w of waiting.values()) w.reject(error);
      waiting.clear();
    };
    worker.on('message', (m: { seq: number; rows?: number; bytes?: Uint8Array; error?: { message: string } }) => {
      const w = waiting.get(m.seq);
      if (!w) return;
      waiting.delete(m.seq);
      if (m.error !== undefined) w.reject(new Error(m.error.message));
      else w.resolve({ rows: Number(m.rows), lines: m.bytes as Uint8Array });
      if (waiting.size === 0) worker.unref();
    });
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`SQLite CSV thread stopped (exit code ${code})`)));
    return { worker, waiting };
  });
  return {
    run(slice) {
      if (stopped) return Promise.reject(stopped);
      const thread = threads.reduce((a, b) => (b.waiting.size < a.waiting.size ? b : a));
      return new Promise((resolve, reject) => {
        seq += 1;
        thread.waiting.set(seq, { resolve, reject });
        // Referenced while a slice is in flight: the process waits for its answer.
        thread.worker.ref();
        thread.worker.postMessage({ seq, sql: slice.sql, parameters: slice.parameters });
      });
    },
    async close() {
      await Promise.all(
        threads.map(({ worker }) => {
          if (stopped) return worker.terminate();
          const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
          worker.ref();
          worker.postMessage({ close: true });
          return exited;
        }),
      );
    },
  };
}
