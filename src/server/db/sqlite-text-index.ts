import { type Kysely, sql } from 'kysely';
import type { Database } from './database.js';
import type { DB } from './schema.js';

/**
 * SQLite's text search index, written in batches (migration 0005): `outgoing_fts_mark.indexed_to` is
 * the last id `outgoing_fts` covers; the rows after it are indexed by `indexPendingText`, which moves
 * the mark in the same transaction. A search reads the index's candidates and every row after the
 * mark (`TEXT_INDEX_TAIL`), so what it finds never depends on how far the indexing got.
 */

/** The ids a text search reads besides the index's candidates: the rows the index does not cover yet. */
export const TEXT_INDEX_TAIL = sql<number>`select id from outgoing where id > (select indexed_to from outgoing_fts_mark)`;

/** Rows a batch of the server's indexer takes at most: ~15 ms of the serving thread at ~13 µs a row. */
export const TEXT_INDEX_BATCH_ROWS = 1_000;
/** How often the server's indexer looks for rows to index. */
export const TEXT_INDEX_INTERVAL_MS = 200;

/**
 * Indexes the texts of up to `maxRows` rows after the mark (every one when null) and moves the mark
 * past them; returns how many. Run it in a transaction (`db` is one), so the index and its mark never
 * disagree, and no other writer indexes the same rows.
 */
export async function indexPendingText(db: Kysely<DB>, maxRows: number | null): Promise<number> {
  const marks = await sql<{ indexed_to: number }>`select indexed_to from outgoing_fts_mark`.execute(db);
  if (marks.rows.length === 0) return 0;
  const mark = Number(marks.rows[0].indexed_to);
  const last =
    maxRows === null
      ? await sql<{ upto: number | null }>`select max(id) as upto from outgoing`.execute(db)
      : await sql<{
          upto: number | null;
        }>`select max(id) as upto from (select id from outgoing where id > ${mark} order by id limit ${maxRows})`.execute(db);
  const upto = last.rows[0]?.upto;
  if (upto === null || upto === undefined || Number(upto) <= mark) return 0;
  const inserted =
    await sql`insert into outgoing_fts(rowid, message) select id, message from outgoing where id > ${mark} and id <= ${upto}`.execute(db);
  await sql`update outgoing_fts_mark set indexed_to = ${upto}`.execute(db);
  return Number(inserted.numAffectedRows ?? 0);
}

/** Whether rows wait to be indexed (a read: no write lock taken). */
async function textPending(db: Kysely<DB>): Promise<boolean> {
  const { rows } = await sql<{
    pending: number;
  }>`select coalesce((select max(id) from outgoing), 0) > (select indexed_to from outgoing_fts_mark) as pending`.execute(db);
  return Number(rows[0]?.pending) === 1;
}

export interface TextIndexer {
  /** Indexes every row waiting now, batch after batch (tests); its failure is thrown, not reported. */
  drain(): Promise<void>;
  /** Stops the timer; waits for a batch in progress. */
  close(): Promise<void>;
}

/**
 * The server's indexer: every `intervalMs`, while rows wait, batches of `batchRows` in their own
 * transactions on the serving connection (the only writer of the index: no second connection to wait
 * for its lock), the event loop free between two batches. A SQLite database only; nothing to do on
 * PostgreSQL.
 */
export function startTextIndexer(
  database: Database,
  options: { intervalMs?: number; batchRows?: number; onError?: (message: string) => void } = {},
): TextIndexer {
  const { db } = database;
  const batchRows = options.batchRows ?? TEXT_INDEX_BATCH_ROWS;
  let closed = false;
  let running: Promise<void> | undefined;
  const batches = async (all: boolean) => {
    while (all || !closed) {
      // A transaction of this connection is open (a bulk load holds one across its awaits): never nest in
      // it, and never roll it back with a failed batch of ours. The next tick tries again.
      if (database.sqlite?.inTransaction) return;
      if (!(await textPending(db))) return;
      if (database.sqlite?.inTransaction) return;
      await db.transaction().execute((trx) => indexPendingText(trx, batchRows));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  const run = (): Promise<void> => {
    running ??= batches(false)
      .catch((error: unknown) => options.onError?.(error instanceof Error ? error.message : String(error)))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = database.dialect === 'sqlite' ? setInterval(() => void run(), options.intervalMs ?? TEXT_INDEX_INTERVAL_MS) : undefined;
  timer?.unref();
  return {
    async drain() {
      if (database.dialect !== 'sqlite') return;
      await running;
      // Each batch reads the mark in its own transaction: a timer's batch meanwhile never indexes a row twice.
      await batches(true);
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
    },
  };
}
