import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { sql } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../../db/database.js';
import type { OutgoingRow } from '../../db/schema.js';

/** One history row to insert: every column but the id, which the database assigns in insertion order. */
export type NewOutgoingRow = Omit<OutgoingRow, 'id'>;

/** The inserted columns, in the order of the bulk statements. */
export const OUTGOING_INSERT_COLUMNS = [
  'account_id',
  'job_id',
  'user_id',
  'user_login',
  'channel',
  'sender',
  'receiver',
  'message',
  'redacted_at',
  'encoding',
  'parts',
  'credits',
  'tag',
  'status',
  'priority',
  'created_at',
  'sent_at',
  'delivered_at',
  'failed_at',
  'expired_at',
  'canceled_at',
  'carrier_message_id',
  'error_code',
  'error_text',
  'deferred_until',
  'valid_until',
] as const satisfies readonly (keyof NewOutgoingRow)[];

export interface DemoAccount {
  id: number;
  name: string;
  timezone: string;
}

export interface DemoUser {
  id: number;
  login: string;
}

/**
 * How a bulk load treats the history's secondary indexes (the sort indexes and the text search index).
 * - `incremental`: maintained row by row; SQLite commits every batch.
 * - `rebuild`: one transaction drops them, loads every row and builds them again: several times faster
 *   for a load that is large next to the table, and all-or-nothing. Meanwhile SQLite's other writers
 *   wait (readers see the history as it was), and PostgreSQL's readers of the history wait too.
 * - `auto`: `rebuild` for a load of 100,000 rows or more that at least doubles the table.
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
  const findSenders = async (accountId: number): Promise<string[]> => {
    const rows = await db.selectFrom('senders').select('sender').where('account_id', '=', accountId).orderBy('id').execute();
    return rows.map((r) => r.sender);
  };
  return {
    async findAccountByName(name: string): Promise<DemoAccount | undefined> {
      return db.selectFrom('accounts').select(['id', 'name', 'timezone']).where('name', '=', name).executeTakeFirst();
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

    /** The account's senders, oldest first. */
    findSenders,

    /** The account's senders; when it has none, adds these first. */
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
      let strategy = options.strategy ?? 'auto';
      if (strategy === 'auto') {
        const expected = options.expectedRows ?? 0;
        // Counting stops at `expected` rows, so this stays cheap on a big table.
        const existing =
          expected < REBUILD_MIN_ROWS
            ? expected
            : Number(
                (
                  await db
                    .selectFrom((eb) => eb.selectFrom('outgoing').select(sql<number>`1`.as('one')).limit(expected).as('o'))
                    .select((eb) => eb.fn.countAll<number>().as('n'))
                    .executeTakeFirstOrThrow()
                ).n,
              );
        strategy = expected >= REBUILD_MIN_ROWS && existing < expected ? 'rebuild' : 'incremental';
      }
      return database.dialect === 'sqlite' ? openSqliteBulkLoad(database, strategy) : openPostgresBulkLoad(database, strategy);
    },

    /** Refreshes the planner's statistics after a bulk load. */
    async analyze(): Promise<void> {
      if (database.dialect === 'sqlite') {
        // A bounded ANALYZE (sampled per index) keeps this at a second or two even at 10 million rows.
        await sql`pragma analysis_limit = 2000`.execute(db);
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
// SQLite: one prepared INSERT reused, through better-sqlite3 directly, 10,000 rows or all of them per transaction.
//
// The FTS5 trigram index (migration 0001) is kept by an AFTER INSERT trigger, which costs ~8x more
// per row than indexing the same rows with one INSERT … SELECT. So the transaction that inserts rows
// drops the trigger, inserts, indexes the new rows in one statement and recreates the trigger:
// outside our transactions the trigger is always there, and every commit leaves the index complete.

const FTS_TRIGGER = 'outgoing_fts_insert';
/** Rows per transaction of an `incremental` load. */
const INCREMENTAL_COMMIT_ROWS = 10_000;
/** Page cache of a `rebuild` load (KiB). */
const REBUILD_CACHE_KIB = 512 * 1024;
/** The trigger body this code knows how to stand in for; any other trigger is left to do its work. */
const FTS_TRIGGER_BODY = /insert into outgoing_fts\s*\(\s*rowid\s*,\s*message\s*\)\s*values\s*\(\s*new\.id\s*,\s*new\.message\s*\)/i;

function openSqliteBulkLoad(database: Database, strategy: BulkLoadStrategy): OutgoingBulkLoad {
  const sqlite = database.sqlite;
  if (!sqlite) throw new Error('SQLite handle missing');
  const insert = sqlite.prepare(
    `insert into outgoing (${OUTGOING_INSERT_COLUMNS.join(', ')}) values (${OUTGOING_INSERT_COLUMNS.map(() => '?').join(', ')})`,
  );
  const insertRows = (rows: readonly NewOutgoingRow[]) => {
    for (const r of rows) {
      insert.run(
        r.account_id,
        r.job_id,
        r.user_id,
        r.user_login,
        r.channel,
        r.sender,
        r.receiver,
        r.message,
        r.redacted_at,
        r.encoding,
        r.parts,
        r.credits,
        r.tag,
        r.status,
        r.priority,
        r.created_at,
        r.sent_at,
        r.delivered_at,
        r.failed_at,
        r.expired_at,
        r.canceled_at,
        r.carrier_message_id,
        r.error_code,
        r.error_text,
        r.deferred_until,
        r.valid_until,
      );
    }
  };
  const triggerSql = sqlite
    .prepare<[string], string>("select sql from sqlite_master where type = 'trigger' and name = ?")
    .pluck()
    .get(FTS_TRIGGER);
  const ftsTrigger = typeof triggerSql === 'string' && FTS_TRIGGER_BODY.test(triggerSql) ? triggerSql : undefined;
  const lastId = sqlite.prepare<[], number>('select coalesce(max(id), 0) from outgoing').pluck();
  const indexNewRows = ftsTrigger
    ? sqlite.prepare('insert into outgoing_fts(rowid, message) select id, message from outgoing where id > ?')
    : undefined;
  /** Drops the FTS trigger; returns the last id before the rows to index. */
  const suspendFts = (): number => {
    if (!ftsTrigger) return 0;
    sqlite.exec(`drop trigger ${FTS_TRIGGER}`);
    return lastId.get() ?? 0;
  };
  const resumeFts = (before: number) => {
    if (!ftsTrigger || !indexNewRows) return;
    indexNewRows.run(before);
    sqlite.exec(ftsTrigger);
  };

  if (strategy === 'incremental') {
    // Writes accumulate in one transaction, committed every INCREMENTAL_COMMIT_ROWS rows.
    let open = false;
    let pending = 0;
    let before = 0;
    const commit = () => {
      resumeFts(before);
      sqlite.exec('commit');
      open = false;
      pending = 0;
    };
    return {
      strategy,
      async write(rows) {
        if (!open) {
          sqlite.exec('begin immediate');
          open = true;
          before = suspendFts();
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
  sqlite.exec('begin immediate');
  let before: number;
  try {
    for (const index of indexes) sqlite.exec(`drop index "${index.name.replaceAll('"', '""')}"`);
    before = suspendFts();
  } catch (error) {
    sqlite.exec('rollback');
    restore();
    throw error;
  }
  return {
    strategy,
    async write(rows) {
      insertRows(rows);
    },
    async finish() {
      try {
        for (const index of indexes) sqlite.exec(index.sql);
        resumeFts(before);
        sqlite.exec('commit');
      } catch (error) {
        if (sqlite.inTransaction) sqlite.exec('rollback');
        throw error;
      } finally {
        restore();
      }
      // The whole load went through the WAL: copy it into the database and give the space back.
      sqlite.pragma('wal_checkpoint(TRUNCATE)');
    },
    async abort() {
      if (sqlite.inTransaction) sqlite.exec('rollback');
      restore();
    },
  };
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

async function openPostgresBulkLoad(database: Database, strategy: BulkLoadStrategy): Promise<OutgoingBulkLoad> {
  const pool = database.pool;
  if (!pool) throw new Error('PostgreSQL pool missing');
  const client: pg.PoolClient = await pool.connect();
  let stream: ReturnType<typeof copyFrom>;
  let indexes: { name: string; definition: string }[] = [];
  try {
    await client.query('begin');
    if (strategy === 'rebuild') {
      indexes = await postgresSecondaryIndexes(client);
      if (process.env.EXP_GIN_ONLY) indexes = indexes.filter((i) => /using gin/i.test(i.definition));
      for (const index of indexes) await client.query(`drop index ${index.name}`);
    }
    stream = client.query(copyFrom(`copy outgoing (${OUTGOING_INSERT_COLUMNS.join(', ')}) from stdin`));
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
          // Index builds sort in memory rather than in temporary files.
          await client.query(`set local maintenance_work_mem = '512MB'`);
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
