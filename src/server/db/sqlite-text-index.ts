import type SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, type Kysely, sql } from 'kysely';
import type { Database } from './database.js';
import type { DB } from './schema.js';

/**
 * SQLite's text search index, written in batches (migration 0005): `outgoing_fts_mark.indexed_to` is
 * the last id `outgoing_fts` covers; the rows after it are indexed by `indexPendingText`, which moves
 * the mark in the same transaction. A search reads the index's candidates and every row after the
 * mark (`TEXT_INDEX_TAIL`), so what it finds never depends on how far the indexing got.
 */

/** The mark's table (migration 0005): one row, `indexed_to`. */
export const TEXT_INDEX_MARK_TABLE = 'outgoing_fts_mark';
/** The ids of deleted rows the index still holds (migration 0006), noted by the delete trigger. */
export const TEXT_INDEX_GONE_TABLE = 'outgoing_fts_gone';

/** The ids a text search reads besides the index's candidates: the rows the index does not cover yet. */
export const TEXT_INDEX_TAIL = sql<number>`select id from outgoing where id > (select indexed_to from ${sql.table(TEXT_INDEX_MARK_TABLE)})`;

/** Rows a batch of the server's indexer takes at most: ~15 ms of the serving thread at ~13 µs a row. */
export const TEXT_INDEX_BATCH_ROWS = 1_000;
/** How often the server's indexer looks for rows to index. */
export const TEXT_INDEX_INTERVAL_MS = 200;

/**
 * Removes from the index the rows a deleting transaction noted, in one statement: FTS5 writes its
 * tombstones once a statement, so the delete trigger only notes ids (migration 0006) and every
 * deleting transaction ends with these two statements, given the JSON array of the ids it deleted
 * (or tried to: those not noted are skipped). Only its own, so that a transaction's work stays
 * bounded by its size whatever another tool left noted (the server's indexer removes that). The
 * delete worker runs them on its own connection. In this order, in the deleting transaction.
 */
export const PURGE_DELETED_TEXT_SQL: readonly string[] = [
  `delete from outgoing_fts where rowid in (select id from ${TEXT_INDEX_GONE_TABLE} where id in (select value from json_each(?)))`,
  `delete from ${TEXT_INDEX_GONE_TABLE} where id in (select value from json_each(?))`,
];

/** `PURGE_DELETED_TEXT_SQL` for `ids` on `trx` (a transaction), on SQLite; nothing to do on PostgreSQL. */
export async function purgeDeletedText(trx: Kysely<DB>, dialect: Database['dialect'], ids: readonly number[]): Promise<void> {
  if (dialect !== 'sqlite' || ids.length === 0) return;
  const json = JSON.stringify(ids);
  for (const text of PURGE_DELETED_TEXT_SQL) await trx.executeQuery(CompiledQuery.raw(text, [json]));
}

/** The statements of a batch, the same for the server's indexer (Kysely) and a bulk load's connection (raw). */
const BATCH_SQL = {
  mark: `select indexed_to from ${TEXT_INDEX_MARK_TABLE}`,
  lastId: 'select max(id) as upto from outgoing',
  lastIdWithin: 'select max(id) as upto from (select id from outgoing where id > ? order by id limit ?)',
  index: 'insert into outgoing_fts(rowid, message) select id, message from outgoing where id > ? and id <= ?',
  move: `update ${TEXT_INDEX_MARK_TABLE} set indexed_to = ?`,
};

/**
 * Indexes the texts of up to `maxRows` rows after the mark (every one when null) and moves the mark
 * past them; returns how many. Run it in a transaction (`db` is one), so the index and its mark never
 * disagree, and no other writer indexes the same rows.
 */
export async function indexPendingText(db: Kysely<DB>, maxRows: number | null): Promise<number> {
  const run = async <R>(text: string, parameters: unknown[] = []) => db.executeQuery<R>(CompiledQuery.raw(text, parameters));
  const marks = await run<{ indexed_to: number }>(BATCH_SQL.mark);
  if (marks.rows.length === 0) return 0;
  const mark = Number(marks.rows[0].indexed_to);
  const last =
    maxRows === null
      ? await run<{ upto: number | null }>(BATCH_SQL.lastId)
      : await run<{ upto: number | null }>(BATCH_SQL.lastIdWithin, [mark, maxRows]);
  const upto = last.rows[0]?.upto;
  if (upto === null || upto === undefined || Number(upto) <= mark) return 0;
  const inserted = await run(BATCH_SQL.index, [mark, upto]);
  await run(BATCH_SQL.move, [upto]);
  return Number(inserted.numAffectedRows ?? 0);
}

/**
 * The same batch on a raw connection, for a bulk load inside its own transaction: `indexAll` indexes
 * every row after the mark and moves the mark to the last row; `markAllIndexed` only moves it (the
 * load built the index aside). Null when the database has no mark (before migration 0005).
 */
export function rawTextIndexing(sqlite: SqliteDatabase.Database): { indexAll(): number; markAllIndexed(): void } | null {
  const exists = sqlite.prepare("select 1 from sqlite_master where type = 'table' and name = ?").pluck().get(TEXT_INDEX_MARK_TABLE);
  if (exists === undefined) return null;
  const mark = sqlite.prepare<[], number>(BATCH_SQL.mark).pluck();
  const lastId = sqlite.prepare<[], number | null>(BATCH_SQL.lastId).pluck();
  const index = sqlite.prepare(BATCH_SQL.index);
  const move = sqlite.prepare(BATCH_SQL.move);
  return {
    indexAll() {
      const from = mark.get() ?? 0;
      const upto = lastId.get() ?? 0;
      if (upto <= from) return 0;
      const { changes } = index.run(from, upto);
      move.run(upto);
      return changes;
    },
    markAllIndexed() {
      move.run(lastId.get() ?? 0);
    },
  };
}

/**
 * Removes from the index up to `maxRows` of the deleted rows a writer left noted (a plain DELETE that
 * did not end with `PURGE_DELETED_TEXT_SQL`), lowest ids first; returns how many. In a transaction.
 */
export async function purgeLeftDeletedText(db: Kysely<DB>, maxRows: number): Promise<number> {
  const { rows } = await db.executeQuery<{ upto: number | null }>(
    CompiledQuery.raw(`select max(id) as upto from (select id from ${TEXT_INDEX_GONE_TABLE} order by id limit ?)`, [maxRows]),
  );
  const upto = rows[0]?.upto;
  if (upto === null || upto === undefined) return 0;
  await db.executeQuery(
    CompiledQuery.raw(`delete from outgoing_fts where rowid in (select id from ${TEXT_INDEX_GONE_TABLE} where id <= ?)`, [upto]),
  );
  const purged = await db.executeQuery(CompiledQuery.raw(`delete from ${TEXT_INDEX_GONE_TABLE} where id <= ?`, [upto]));
  return Number(purged.numAffectedRows ?? 0);
}

/** Whether rows wait to be indexed, or deleted ones to leave the index (a read: no write lock taken). */
async function textPending(db: Kysely<DB>): Promise<boolean> {
  const { rows } = await sql<{
    pending: number;
  }>`select coalesce((select max(id) from outgoing), 0) > (select indexed_to from ${sql.table(TEXT_INDEX_MARK_TABLE)})
    or exists (select 1 from ${sql.table(TEXT_INDEX_GONE_TABLE)}) as pending`.execute(db);
  return Number(rows[0]?.pending) === 1;
}

export interface TextIndexer {
  /** Indexes every row waiting now, batch after batch (tests); its failure is thrown, not reported. */
  drain(): Promise<void>;
  /** Stops the timer; waits for a batch in progress. */
  close(): Promise<void>;
}

/**
 * The server's indexer: every `intervalMs`, while rows wait (or deleted rows a writer left in the index:
 * `purgeLeftDeletedText`), batches of `batchRows` in their own
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
      await db.transaction().execute(async (trx) => {
        await purgeLeftDeletedText(trx, batchRows);
        await indexPendingText(trx, batchRows);
      });
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
