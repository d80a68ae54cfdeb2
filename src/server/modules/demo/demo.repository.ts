import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { finished } from 'node:stream/promises';
import type SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../../db/database.js';
import { DAY_MS, type OutgoingRow } from '../../db/schema.js';
import { SAMPLED_ANALYSIS_LIMIT } from '../../db/sqlite-statistics.js';
import { rawTextIndexing, TEXT_INDEX_GONE_TABLE, TEXT_INDEX_MARK_TABLE } from '../../db/sqlite-text-index.js';
import { OUTGOING_MESSAGE_COLUMNS, OUTGOING_OUTCOME_COLUMNS } from '../history/outgoing.repository.js';
import { type FtsBuildWorker, startFtsBuildWorker } from './fts-build-worker.js';

/** One history row to insert: every column but the id, which the database assigns in insertion order. */
export type NewOutgoingRow = Omit<OutgoingRow, 'id'>;

/** The inserted columns, in the order of the bulk statements. */
export const OUTGOING_INSERT_COLUMNS = [
  ...OUTGOING_MESSAGE_COLUMNS,
  'priority',
  'created_at',
  ...OUTGOING_OUTCOME_COLUMNS,
  'deferred_until',
  'valid_until',
] as const satisfies readonly (keyof NewOutgoingRow)[];

export interface DemoAccount {
  id: number;
  name: string;
  timezone: string;
  /** Whether the account keeps its messages' texts (privacy): when not, its rows are written without them. */
  storeText: boolean;
}

export interface DemoUser {
  id: number;
  login: string;
}

/**
 * How a bulk load treats the history's secondary indexes (the sort indexes and the text search index).
 * - `incremental`: kept live, row by row; SQLite commits every 10,000 rows, so a running server's
 *   writers wait at most for one such commit. The path for a history that already has rows.
 * - `rebuild`: one transaction drops them, loads every row and builds them again (as pg_restore does):
 *   several times faster, and all-or-nothing. Meanwhile SQLite's other writers wait (readers see the
 *   history as it was), and on PostgreSQL every other reader and writer of the history waits.
 * - `auto`: `rebuild` for a load of 100,000 rows or more into an empty history, else `incremental`.
 */
export type BulkLoadStrategy = 'incremental' | 'rebuild';

export interface BulkLoadOptions {
  strategy?: BulkLoadStrategy | 'auto';
  /** Rows about to be written (for `auto`). */
  expectedRows?: number;
}

/** Rows from which `auto` may choose `rebuild`. */
export const REBUILD_MIN_ROWS = 100_000;

/** A bulk load of history rows: `write` batches in insertion order, then `finish` (or `abort` on failure). */
export interface OutgoingBulkLoad {
  readonly strategy: BulkLoadStrategy;
  write(rows: readonly NewOutgoingRow[]): Promise<void>;
  /** Makes every written row visible, with every index and the search index complete. */
  finish(): Promise<void>;
  /** Gives up: `rebuild` leaves the history as it was; `incremental` keeps the batches already written. */
  abort(): Promise<void>;
}

/** Data access of `relais demo`: account, SMS users and senders lookups, and the fastest insert each dialect allows. */
export function createDemoRepository(database: Database) {
  const { db } = database;
  const findDemoUsers = (accountId: number): Promise<DemoUser[]> =>
    db.selectFrom('sms_users').select(['id', 'login']).where('account_id', '=', accountId).orderBy('id').execute();
  // Only `enable` senders may be used to send (as acceptance checks): no history from any other.
  const findSenders = async (accountId: number): Promise<string[]> => {
    const rows = await db
      .selectFrom('senders')
      .select('sender')
      .where('account_id', '=', accountId)
      .where('status', '=', 'enable')
      .orderBy('id')
      .execute();
    return rows.map((r) => r.sender);
  };
  return {
    async findAccountByName(name: string): Promise<DemoAccount | undefined> {
      const row = await db
        .selectFrom('accounts')
        .select(['id', 'name', 'timezone', 'store_text'])
        .where('name', '=', name)
        .executeTakeFirst();
      return row && { id: row.id, name: row.name, timezone: row.timezone, storeText: row.store_text !== 0 };
    },

    /** The account's SMS users, oldest first. */
    findDemoUsers,

    /** The account's SMS users; when it has none, creates these (each with its own password hash) first. */
    async ensureDemoUsers(accountId: number, create: { login: string; passwordHash: string }[], now: number): Promise<DemoUser[]> {
      const existing = await findDemoUsers(accountId);
      if (existing.length > 0 || create.length === 0) return existing;
      await db
        .insertInto('sms_users')
        .values(
          create.map((u) => ({
            account_id: accountId,
            login: u.login,
            password_hash: u.passwordHash,
            ip_restrictions: '[]',
            quota: null,
            callback_url: null,
            created_at: now,
          })),
        )
        .onConflict((oc) => oc.columns(['account_id', 'login']).doNothing())
        .execute();
      return findDemoUsers(accountId);
    },

    /** The account's enabled senders, oldest first. */
    findSenders,

    /**
     * The account's enabled senders; when it has none, adds these first (enabled). Its other senders
     * stay as they are: a name one of them already has is not added (so the answer may still be empty).
     */
    async ensureDemoSenders(accountId: number, create: { sender: string; description: string }[], now: number): Promise<string[]> {
      const existing = await findSenders(accountId);
      if (existing.length > 0 || create.length === 0) return existing;
      await db
        .insertInto('senders')
        .values(
          create.map((s) => ({
            account_id: accountId,
            sender: s.sender,
            description: s.description,
            status: 'enable',
            type: 'alpha',
            created_at: now,
          })),
        )
        .onConflict((oc) => oc.columns(['account_id', 'sender']).doNothing())
        .execute();
      return findSenders(accountId);
    },

    /** Starts a bulk load into the history (see `BulkLoadStrategy`). */
    async openBulkLoad(options: BulkLoadOptions = {}): Promise<OutgoingBulkLoad> {
      const requested = options.strategy ?? 'auto';
      // `auto` asks again under the load's lock; this first look only spares that lock to a big history.
      const strategy =
        requested === 'auto'
          ? (options.expectedRows ?? 0) >= REBUILD_MIN_ROWS && !(await db.selectFrom('outgoing').select('id').limit(1).executeTakeFirst())
            ? 'auto'
            : 'incremental'
          : requested;
      return database.dialect === 'sqlite' ? openSqliteBulkLoad(database, strategy) : openPostgresBulkLoad(database, strategy);
    },

    /** Refreshes the planner's statistics after a bulk load. */
    async analyze(): Promise<void> {
      if (database.dialect === 'sqlite') {
        // A bounded ANALYZE (sampled per index) keeps this at a second or two even at 10 million rows.
        await sql`pragma analysis_limit = ${sql.lit(SAMPLED_ANALYSIS_LIMIT)}`.execute(db);
        await sql`analyze`.execute(db);
        await sql`pragma analysis_limit = 0`.execute(db);
      } else {
        await sql`analyze outgoing`.execute(db);
      }
    },
  };
}

export type DemoRepository = ReturnType<typeof createDemoRepository>;

/** Inserts rows into the history in one go, the fastest way the dialect allows. */
export async function insertOutgoingBatch(
  database: Database,
  rows: readonly NewOutgoingRow[],
  options: BulkLoadOptions = {},
): Promise<void> {
  const load = await createDemoRepository(database).openBulkLoad({ expectedRows: rows.length, ...options });
  try {
    await load.write(rows);
    await load.finish();
  } catch (error) {
    await load.abort();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// SQLite, through better-sqlite3 directly: multi-row prepared INSERTs in big transactions.
//
// The FTS5 trigram index is written in batches (migration 0005): each commit of a load indexes the
// rows after the index's mark in one INSERT … SELECT and moves the mark, so every commit leaves the
// index complete. The per-day id bounds' trigger (migration 0004) is stood in for the same way: one
// grouped upsert a commit instead of one a row.
// - `incremental`: each commit indexes its rows (and any the server had not indexed yet).
// - `rebuild` into an empty history: a worker thread builds the text index in a scratch file while
//   this thread inserts the rows and builds the other indexes (two cores at work instead of one);
//   the finished index then replaces the (empty) one, table for table, and the mark moves past it.

const FTS_TABLE = 'outgoing_fts';
/** The per-day id bounds' trigger (migration 0004). */
const DAYS_TRIGGER = 'outgoing_days_insert';
/** Rows per transaction of an `incremental` load. */
const INCREMENTAL_COMMIT_ROWS = 10_000;
/** Rows per INSERT statement (fewer statement runs; the last rows of a batch go one by one). */
const ROWS_PER_INSERT = 50;
/** Page cache of a `rebuild` load (KiB). */
const REBUILD_CACHE_KIB = 512 * 1024;

/**
 * How SQLite builds the indexes after a `rebuild` load: its sorter spills runs of the connection's
 * usual (small) page cache to temporary files and sorts and merges them on helper threads. Measured
 * on 10M rows (2 cores): the ten indexes in 82 s instead of ~290 s — one in-memory sort of a whole
 * index (the load's 512 MiB cache, or `temp_store = MEMORY`, which keeps the runs in memory and uses
 * no helper thread) took 21–23 s for the receiver's index alone, the spilled runs 8–9 s.
 */
function sqliteIndexBuildSettings(sqlite: SqliteDatabase.Database, cacheSize: number): () => void {
  const tempStore = sqlite.pragma('temp_store', { simple: true }) as number;
  const threads = sqlite.pragma('threads', { simple: true }) as number;
  sqlite.pragma(`cache_size = ${cacheSize}`);
  sqlite.pragma('temp_store = FILE');
  sqlite.pragma(`threads = ${Math.min(4, availableParallelism())}`);
  return () => {
    sqlite.pragma(`temp_store = ${tempStore}`);
    sqlite.pragma(`threads = ${threads}`);
  };
}

/** Inserts rows with multi-row statements; returns the id of the last row inserted. */
function sqliteRowInserter(sqlite: SqliteDatabase.Database): (rows: readonly NewOutgoingRow[]) => number {
  const columns = OUTGOING_INSERT_COLUMNS.length;
  const tuple = `(${OUTGOING_INSERT_COLUMNS.map(() => '?').join(', ')})`;
  const head = `insert into outgoing (${OUTGOING_INSERT_COLUMNS.join(', ')}) values `;
  const many = sqlite.prepare(head + Array.from({ length: ROWS_PER_INSERT }, () => tuple).join(', '));
  const one = sqlite.prepare(head + tuple);
  const manyArgs: unknown[] = new Array(ROWS_PER_INSERT * columns);
  const oneArgs: unknown[] = new Array(columns);
  const put = (args: unknown[], k: number, r: NewOutgoingRow): number => {
    args[k++] = r.account_id;
    args[k++] = r.job_id;
    args[k++] = r.user_id;
    args[k++] = r.user_login;
    args[k++] = r.channel;
    args[k++] = r.sender;
    args[k++] = r.receiver;
    args[k++] = r.message;
    args[k++] = r.redacted_at;
    args[k++] = r.encoding;
    args[k++] = r.parts;
    args[k++] = r.credits;
    args[k++] = r.tag;
    args[k++] = r.status;
    args[k++] = r.priority;
    args[k++] = r.created_at;
    args[k++] = r.sent_at;
    args[k++] = r.delivered_at;
    args[k++] = r.failed_at;
    args[k++] = r.expired_at;
    args[k++] = r.canceled_at;
    args[k++] = r.carrier_message_id;
    args[k++] = r.error_code;
    args[k++] = r.error_text;
    args[k++] = r.deferred_until;
    args[k++] = r.valid_until;
    return k;
  };
  return (rows) => {
    let last = 0;
    let i = 0;
    for (; i + ROWS_PER_INSERT <= rows.length; i += ROWS_PER_INSERT) {
      let k = 0;
      for (let j = i; j < i + ROWS_PER_INSERT; j++) k = put(manyArgs, k, rows[j]);
      last = Number(many.run(manyArgs).lastInsertRowid);
    }
    for (; i < rows.length; i++) {
      put(oneArgs, 0, rows[i]);
      last = Number(one.run(oneArgs).lastInsertRowid);
    }
    return last;
  };
}

function openSqliteBulkLoad(database: Database, requested: BulkLoadStrategy | 'auto'): OutgoingBulkLoad {
  const sqlite = database.sqlite;
  if (!sqlite) throw new Error('SQLite handle missing');
  const insertRows = sqliteRowInserter(sqlite);
  const objectSql = sqlite.prepare<[string, string], string>('select sql from sqlite_master where type = ? and name = ?').pluck();
  const lastId = sqlite.prepare<[], number>('select coalesce(max(id), 0) from outgoing').pluck();
  const textIndexing = rawTextIndexing(sqlite);
  const daysSql = objectSql.get('trigger', DAYS_TRIGGER);
  const daysTrigger = typeof daysSql === 'string' ? daysSql : undefined;
  const noteNewDays = daysTrigger
    ? sqlite.prepare(
        `insert into outgoing_days (account_id, day, min_id, max_id)
         select account_id, created_at / ${DAY_MS}, min(id), max(id) from outgoing where id > ? group by 1, 2
         on conflict (account_id, day) do update set min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id)`,
      )
    : undefined;
  /** Drops the day bounds' per-row trigger; returns the last id before the new rows. */
  const suspendDays = (): number => {
    if (!daysTrigger) return 0;
    sqlite.exec(`drop trigger ${DAYS_TRIGGER}`);
    return lastId.get() ?? 0;
  };
  /** Does the day bounds' trigger's work for the rows after `before`, and puts it back. */
  const resumeDays = (before: number) => {
    if (!daysTrigger || !noteNewDays) return;
    noteNewDays.run(before);
    sqlite.exec(daysTrigger);
  };
  /** The day bounds of the rows after `before`, and the text index of every row after its mark. */
  const catchUp = (before: number) => {
    resumeDays(before);
    textIndexing?.indexAll();
  };

  // The write lock first: whether the history is empty cannot change until we commit.
  sqlite.exec('begin immediate');
  let empty: boolean;
  try {
    empty = sqlite.prepare('select not exists (select 1 from outgoing)').pluck().get() === 1;
  } catch (error) {
    sqlite.exec('rollback');
    throw error;
  }
  const strategy: BulkLoadStrategy = requested === 'auto' ? (empty ? 'rebuild' : 'incremental') : requested;

  if (strategy === 'incremental') {
    // Writes accumulate in one transaction, committed every INCREMENTAL_COMMIT_ROWS rows.
    let open = true;
    let pending = 0;
    let before = 0;
    const start = () => {
      before = suspendDays();
    };
    const commit = () => {
      catchUp(before);
      sqlite.exec('commit');
      open = false;
      pending = 0;
    };
    try {
      start();
    } catch (error) {
      sqlite.exec('rollback');
      throw error;
    }
    return {
      strategy,
      async write(rows) {
        if (!open) {
          sqlite.exec('begin immediate');
          open = true;
          start();
        }
        insertRows(rows);
        pending += rows.length;
        if (pending >= INCREMENTAL_COMMIT_ROWS) commit();
      },
      async finish() {
        if (open) commit();
      },
      async abort() {
        if (open && sqlite.inTransaction) sqlite.exec('rollback');
        open = false;
      },
    };
  }

  // rebuild: one transaction from the first index dropped to the last one rebuilt.
  const indexes = sqlite
    .prepare<[], { name: string; sql: string }>(
      "select name, sql from sqlite_master where type = 'index' and tbl_name = 'outgoing' and sql is not null",
    )
    .all();
  // A bigger page cache for the load: fewer spills mid-transaction, larger in-memory sort runs.
  const cacheSize = sqlite.pragma('cache_size', { simple: true }) as number;
  const restore = () => {
    sqlite.pragma(`cache_size = ${cacheSize}`);
  };
  sqlite.pragma(`cache_size = ${-REBUILD_CACHE_KIB}`);
  // The text index of an empty history is built aside, in parallel, then swapped in.
  const ftsCreateSql = objectSql.get('table', FTS_TABLE);
  let worker: FtsBuildWorker | undefined;
  let before: number;
  try {
    for (const index of indexes) sqlite.exec(`drop index "${index.name.replaceAll('"', '""')}"`);
    before = suspendDays();
    if (empty && textIndexing && typeof ftsCreateSql === 'string' && database.sqliteFile !== undefined) {
      worker = startFtsBuildWorker({
        file: `${database.sqliteFile}.fts-load-${process.pid}-${Date.now()}`,
        createSql: ftsCreateSql,
        table: FTS_TABLE,
        column: 'message',
      });
    }
  } catch (error) {
    sqlite.exec('rollback');
    restore();
    throw error;
  }
  let nextId: number | undefined;
  const dropWorker = async () => {
    await worker?.dispose();
    worker = undefined;
  };
  const cleanUp = async () => {
    if (sqlite.inTransaction) sqlite.exec('rollback');
    detachTextIndex(sqlite);
    restore();
    await dropWorker();
  };
  return {
    strategy,
    async write(rows) {
      if (rows.length === 0) return;
      const last = insertRows(rows);
      const first = last - rows.length + 1;
      // The worker indexes the ids it is told: a gap (none is expected under our lock) sends the work back here.
      if (worker && first !== (nextId ?? first)) await dropWorker();
      nextId = last + 1;
      if (worker)
        await worker.index(
          first,
          rows.map((r) => r.message),
        );
    },
    async finish() {
      try {
        const usual = sqliteIndexBuildSettings(sqlite, cacheSize);
        try {
          for (const index of indexes) sqlite.exec(index.sql);
        } finally {
          usual();
        }
        if (worker && typeof ftsCreateSql === 'string') {
          await worker.finish();
          swapInTextIndex(sqlite, worker.file, ftsCreateSql);
          // The history was empty: the index built aside covers every row.
          textIndexing?.markAllIndexed();
          resumeDays(before);
        } else {
          catchUp(before);
        }
        sqlite.exec('commit');
      } catch (error) {
        await cleanUp();
        throw error;
      }
      detachTextIndex(sqlite);
      restore();
      await dropWorker();
      // The whole load went through the WAL: copy it into the database and give the space back.
      sqlite.pragma('wal_checkpoint(TRUNCATE)');
    },
    async abort() {
      await cleanUp();
    },
  };
}

/**
 * Replaces the text search table by the one built in `file` (same CREATE statement): the table is
 * dropped and created again (so no connection keeps a stale picture of it), then each of its shadow
 * tables but the configuration (which keeps the defaults a migration leaves) is copied over. Runs
 * inside the load's transaction; `detachTextIndex` follows its end.
 */
function swapInTextIndex(sqlite: SqliteDatabase.Database, file: string, createSql: string): void {
  sqlite.exec(`drop table ${FTS_TABLE}`);
  sqlite.exec(createSql);
  sqlite.prepare('attach database ? as fts_load').run(file);
  const shadows = sqlite
    .prepare<[], string>(
      `select name from main.sqlite_master where type = 'table' and name like '${FTS_TABLE}\\_%' escape '\\' and name not in ('${FTS_TABLE}_config', '${TEXT_INDEX_MARK_TABLE}', '${TEXT_INDEX_GONE_TABLE}')`,
    )
    .pluck()
    .all();
  // Shadow tables are read-only to SQL in better-sqlite3's default (defensive) mode: lifted for the copy only.
  sqlite.unsafeMode(true);
  try {
    for (const shadow of shadows) {
      sqlite.exec(`delete from main."${shadow}"`);
      sqlite.exec(`insert into main."${shadow}" select * from fts_load."${shadow}"`);
    }
  } finally {
    sqlite.unsafeMode(false);
  }
}

function detachTextIndex(sqlite: SqliteDatabase.Database): void {
  const attached = sqlite.prepare<[], { name: string }>('pragma database_list').all();
  if (attached.some((d) => d.name === 'fts_load')) sqlite.exec('detach database fts_load');
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: one COPY … FROM STDIN in text format, streamed; one transaction for the whole load.

const COPY_SPECIALS = /[\\\t\n\r]/;
const COPY_SPECIALS_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A text value in COPY text format: backslash, tab, newline and carriage return escaped. */
export function copyText(value: string): string {
  return COPY_SPECIALS.test(value) ? value.replace(COPY_SPECIALS_ALL, (c) => COPY_ESCAPES[c]) : value;
}

const copyNullableText = (value: string | null): string => (value === null ? '\\N' : copyText(value));
const copyNullableNumber = (value: number | null): string => (value === null ? '\\N' : String(value));

/** One row as a line of COPY text format. */
export function copyLine(r: NewOutgoingRow): string {
  return `${r.account_id}\t${copyNullableNumber(r.job_id)}\t${copyNullableNumber(r.user_id)}\t${copyText(r.user_login)}\t${copyText(
    r.channel,
  )}\t${copyText(r.sender)}\t${copyText(r.receiver)}\t${copyText(r.message)}\t${copyNullableNumber(r.redacted_at)}\t${r.encoding}\t${
    r.parts
  }\t${r.credits}\t${copyText(r.tag)}\t${r.status}\t${r.priority}\t${r.created_at}\t${copyNullableNumber(r.sent_at)}\t${copyNullableNumber(
    r.delivered_at,
  )}\t${copyNullableNumber(r.failed_at)}\t${copyNullableNumber(r.expired_at)}\t${copyNullableNumber(r.canceled_at)}\t${copyNullableText(
    r.carrier_message_id,
  )}\t${copyNullableText(r.error_code)}\t${copyNullableText(r.error_text)}\t${copyNullableNumber(r.deferred_until)}\t${copyNullableNumber(
    r.valid_until,
  )}\n`;
}

/** Secondary indexes of `outgoing` (not the primary key, nor any backing a constraint) as `CREATE INDEX` statements. */
async function postgresSecondaryIndexes(client: pg.PoolClient): Promise<{ name: string; definition: string }[]> {
  const { rows } = await client.query<{ name: string; definition: string }>(
    `select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as definition
       from pg_index i
      where i.indrelid = 'outgoing'::regclass and not i.indisprimary
        and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)`,
  );
  return rows;
}

/** Memory for the index builds after a `rebuild` load: GIN and B-tree builds sort in memory rather than on disk. */
const REBUILD_MAINTENANCE_WORK_MEM = '1GB';

async function openPostgresBulkLoad(database: Database, requested: BulkLoadStrategy | 'auto'): Promise<OutgoingBulkLoad> {
  const pool = database.pool;
  if (!pool) throw new Error('PostgreSQL pool missing');
  const client: pg.PoolClient = await pool.connect();
  let stream: ReturnType<typeof copyFrom>;
  let indexes: { name: string; definition: string }[] = [];
  let strategy: BulkLoadStrategy = 'incremental';
  let freeze = false;
  try {
    await client.query('begin');
    if (requested !== 'incremental') {
      // Dropping indexes locks the table anyway; taking the lock first makes "empty" hold until the commit.
      await client.query('lock table outgoing in access exclusive mode');
      const { rows } = await client.query<{ empty: boolean }>('select not exists (select 1 from outgoing) as empty');
      const empty = rows[0].empty;
      if (requested === 'rebuild' || empty) {
        strategy = 'rebuild';
        if (empty) {
          // Emptied in this transaction, the table may take frozen rows: no hint bits to set and no
          // freezing to do after the load, and index-only scans work at once.
          await client.query('truncate outgoing');
          freeze = true;
        }
        indexes = await postgresSecondaryIndexes(client);
        for (const index of indexes) await client.query(`drop index ${index.name}`);
      } else {
        await client.query('rollback');
        await client.query('begin');
      }
    }
    stream = client.query(copyFrom(`copy outgoing (${OUTGOING_INSERT_COLUMNS.join(', ')}) from stdin${freeze ? ' with (freeze)' : ''}`));
  } catch (error) {
    await client.query('rollback').catch(() => {});
    client.release();
    throw error;
  }
  let failure: Error | undefined;
  stream.on('error', (error) => {
    failure ??= error;
  });
  let done = false;
  const release = (error?: Error) => {
    if (done) return;
    done = true;
    client.release(error);
  };
  return {
    strategy,
    async write(rows) {
      if (failure) throw failure;
      let chunk = '';
      for (const r of rows) chunk += copyLine(r);
      if (!stream.write(chunk)) await once(stream, 'drain');
    },
    async finish() {
      try {
        if (failure) throw failure;
        stream.end();
        await finished(stream);
        if (indexes.length > 0) {
          await client.query(`set local maintenance_work_mem = '${REBUILD_MAINTENANCE_WORK_MEM}'`);
          for (const index of indexes) await client.query(index.definition);
        }
        await client.query('commit');
        release();
      } catch (error) {
        await client.query('rollback').catch(() => {});
        release(error as Error);
        throw error;
      }
    },
    async abort() {
      if (done) return;
      // A COPY is ended early by failing it; the rollback then discards everything since `begin`.
      stream.destroy(new Error('bulk load aborted'));
      await client.query('rollback').catch(() => {});
      release(new Error('bulk load aborted'));
    },
  };
}
