import { SQLITE_PRAGMAS } from '../../db/sqlite-pragmas.js';
import { sqliteWorkerSource, startSqliteThread } from '../../db/sqlite-worker-source.js';

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

/** Starts `count` threads reading the SQLite database `file`; each slice goes to the least busy one. */
export function startSqliteCsvThreads(file: string, count = 2): SqliteCsvThreads {
  const data = { file, pragmas: CSV_PRAGMAS, open: { readonly: true, fileMustExist: true } };
  const threads = Array.from({ length: count }, () => startSqliteThread(WORKER_SOURCE, data, 'SQLite CSV thread'));
  return {
    async run(slice) {
      const thread = threads.reduce((a, b) => (b.pending < a.pending ? b : a));
      const { rows, bytes } = await thread.call<{ rows: number; bytes: Uint8Array }>({ sql: slice.sql, parameters: slice.parameters });
      return { rows: Number(rows), lines: bytes };
    },
    async close() {
      await Promise.all(threads.map((thread) => thread.close()));
    },
  };
}
