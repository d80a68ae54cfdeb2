/**
 * Data for the history benchmark: a database with N messages in one SMS account, on SQLite or
 * PostgreSQL, loaded once by the demo loader and reused by later runs.
 *
 *   node bin/run-ts.js bench/history-data.ts --dialect sqlite --messages 1000000
 *
 * SQLite: `bench/out/history-<N>.db`. PostgreSQL: database `relais_bench` (created if missing; server
 * from RELAIS_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/relais_bench), one schema
 * `history_<N>` per size so that each size has the table to itself. The data is the same on every run
 * and machine: fixed seed and fixed "now" (`BENCH_NOW`). A finished load is marked complete
 * (`history-<N>.db.complete`; the schema's comment) and then reused even if its count changed meanwhile
 * (a benchmark deleting rows and putting them back): only `--reload` loads it again.
 */

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../src/server/config.js';
import { type Database, type Dialect, openDatabase } from '../src/server/db/database.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import { type DemoProgress, runDemo } from '../src/server/modules/demo/demo.service.js';
import { composeServices } from '../src/server/services.js';

/** The account holding the benchmark's messages. */
export const BENCH_ACCOUNT = 'sms-be00001-1';
/** Its owner. */
export const BENCH_OWNER = 'bench@relais.test';
/** Seed of the demo generator: same rows every time. */
export const BENCH_SEED = 'relais-history-bench';
/** The instant the newest message is at most (the history spans the 365 days before it). */
export const BENCH_NOW = Date.parse('2026-11-25T12:00:00Z');
/** Where the PostgreSQL data lives. */
export const BENCH_POSTGRES_URL = process.env.RELAIS_BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/relais_bench';

const OUT_DIR = fileURLToPath(new URL('./out/', import.meta.url));

export interface HistoryData {
  dialect: Dialect;
  /** A RELAIS_DATABASE_URL reaching this data (for a server or the CLI). */
  url: string;
  /** Open and migrated; close it with `close()`. */
  database: Database;
  accountId: number;
  accountName: string;
  messages: number;
  /** True when this call loaded the messages, false when they were already there. */
  loaded: boolean;
  close(): Promise<void>;
}

export interface HistoryDataOptions {
  dialect: Dialect;
  messages: number;
  /** Load again even when the data is there. */
  reload?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

async function countAccountMessages(database: Database): Promise<{ accountId: number; count: number } | undefined> {
  const account = await database.db.selectFrom('accounts').select('id').where('name', '=', BENCH_ACCOUNT).executeTakeFirst();
  if (!account) return undefined;
  const { count } = await database.db
    .selectFrom('outgoing')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('account_id', '=', account.id)
    .executeTakeFirstOrThrow();
  return { accountId: account.id, count: Number(count) };
}

/** The SQLite file, or the PostgreSQL schema, for `messages` (created empty when missing or `fresh`). */
async function prepareLocation(dialect: Dialect, messages: number, fresh: boolean): Promise<string> {
  if (dialect === 'sqlite') {
    mkdirSync(OUT_DIR, { recursive: true });
    const file = `${OUT_DIR}history-${messages}.db`;
    if (fresh) for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}.complete`]) rmSync(f, { force: true });
    return `sqlite:${file}`;
  }
  const target = new URL(BENCH_POSTGRES_URL);
  const databaseName = decodeURIComponent(target.pathname.slice(1)) || 'relais_bench';
  const admin = new URL(BENCH_POSTGRES_URL);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [databaseName]);
    if (!rowCount) await client.query(`create database ${pg.escapeIdentifier(databaseName)}`);
  } finally {
    await client.end();
  }
  const schema = `history_${messages}`;
  const bench = new pg.Client({ connectionString: BENCH_POSTGRES_URL });
  await bench.connect();
  try {
    if (fresh) await bench.query(`drop schema if exists ${schema} cascade`);
    await bench.query(`create schema if not exists ${schema}`);
  } finally {
    await bench.end();
  }
  target.searchParams.set('schema', schema);
  return target.toString();
}

/** A database with `messages` messages in the account `BENCH_ACCOUNT`: reused when complete, otherwise (re)loaded. */
export async function openHistoryData(options: HistoryDataOptions): Promise<HistoryData> {
  const { dialect, messages } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!Number.isSafeInteger(messages) || messages < 1) throw new Error(`messages must be a whole number ≥ 1, got ${messages}`);
  // One process at a time looks at (and maybe loads) a data set: another one's load in progress
  // shows no rows yet, and must not be taken for an interrupted one and thrown away.
  const release = await lockDataSet(dialect, messages, log);
  try {
    return await openLocked(options, log);
  } finally {
    release();
  }
}

/** Waits until no other live process holds the data set's lock file, then takes it; returns its release. */
async function lockDataSet(dialect: Dialect, messages: number, log: (line: string) => void): Promise<() => void> {
  mkdirSync(OUT_DIR, { recursive: true });
  const lock = `${OUT_DIR}history-${dialect}-${messages}.lock`;
  let told = false;
  while (true) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(lock, 'utf8'));
    let alive = Number.isInteger(holder) && holder > 0;
    try {
      if (alive) process.kill(holder, 0);
    } catch (error) {
      alive = (error as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) {
      rmSync(lock, { force: true });
      continue;
    }
    if (!told) log(`history-data: process ${holder} is loading or checking this data set; waiting for it`);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

async function openLocked(options: HistoryDataOptions, log: (line: string) => void): Promise<HistoryData> {
  const { dialect, messages } = options;
  let url = await prepareLocation(dialect, messages, options.reload === true);
  let database = openDatabase(url);
  await migrateToLatest(database);
  const existing = await countAccountMessages(database);
  const complete = existing ? await readCompleteMark(dialect, url, database) : undefined;
  if (existing && (existing.count === messages || complete)) {
    // A load marked complete is never thrown away because its count changed: a benchmark may be
    // deleting rows and putting them back at this very moment (`--reload` loads again).
    if (existing.count !== messages) {
      log(
        `history-data: ${existing.count.toLocaleString('en-US')} messages now instead of ${messages.toLocaleString('en-US')} (a benchmark deleting some?); reusing them as they are`,
      );
    }
    if (!complete) await writeCompleteMark(dialect, url, database, { messages, note: 'found complete' });
    log(`history-data: reusing ${messages.toLocaleString('en-US')} messages (${dialect}, ${url})`);
    return {
      dialect,
      url,
      database,
      accountId: existing.accountId,
      accountName: BENCH_ACCOUNT,
      messages,
      loaded: false,
      close: () => database.close(),
    };
  }
  if (existing) {
    // An interrupted or different load: start from an empty database.
    log(`history-data: found ${existing.count.toLocaleString('en-US')} messages instead of ${messages.toLocaleString('en-US')}; reloading`);
    await database.close();
    url = await prepareLocation(dialect, messages, true);
    database = openDatabase(url);
    await migrateToLatest(database);
  }

  const config = loadConfig({ RELAIS_DATABASE_URL: url, RELAIS_ARGON2_TEST_FAST: '1' });
  const clock = { now: () => BENCH_NOW };
  const services = composeServices({ config, database, clock });
  let accountId: number;
  try {
    await services.customers.create({ email: BENCH_OWNER, password: `bench-${Math.random().toString(36).slice(2)}` });
    accountId = (await services.accounts.create({ name: BENCH_ACCOUNT, ownerEmail: BENCH_OWNER, timezone: 'Europe/Paris' })).id;
  } finally {
    await services.close();
  }

  log(`history-data: loading ${messages.toLocaleString('en-US')} messages into ${dialect} (${url})`);
  const loadBefore = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  let lastDecile = 0;
  const result = await runDemo({
    database,
    clock,
    accountName: BENCH_ACCOUNT,
    messages,
    seed: BENCH_SEED,
    onProgress: (p: DemoProgress) => {
      if (p.phase !== 'inserting') {
        log(`history-data: ${p.phase}… (${p.seconds.toFixed(1)} s; load average ${os.loadavg()[0].toFixed(1)})`);
        return;
      }
      const decile = Math.floor((p.inserted / p.total) * 10);
      if (decile > lastDecile) {
        lastDecile = decile;
        log(
          `history-data: ${decile * 10}% ${p.inserted.toLocaleString('en-US')} rows, ${p.seconds.toFixed(1)} s (load average ${os.loadavg()[0].toFixed(1)})`,
        );
      }
    },
  });
  log(
    `history-data: inserted ${result.inserted.toLocaleString('en-US')} messages in ${result.seconds.toFixed(1)} s = ${result.rowsPerSecond.toLocaleString('en-US')} rows/s (goal ≥ 100,000) ${result.rowsPerSecond >= 100_000 ? 'ok' : 'MISS'}; ${result.strategy === 'rebuild' ? 'bulk load (empty history: indexes built after the rows)' : 'incremental load (indexes kept live)'}; ${os.cpus().length} cores, load average before ${loadBefore}`,
  );
  await writeCompleteMark(dialect, url, database, { messages, seconds: result.seconds, rowsPerSecond: result.rowsPerSecond });
  return { dialect, url, database, accountId, accountName: BENCH_ACCOUNT, messages, loaded: true, close: () => database.close() };
}

/** Where a finished load is recorded: a file beside the SQLite database; the PostgreSQL schema's comment. */
const markFile = (url: string) => `${url.slice('sqlite:'.length)}.complete`;

async function writeCompleteMark(dialect: Dialect, url: string, database: Database, details: Record<string, unknown>): Promise<void> {
  const mark = JSON.stringify({ ...details, at: new Date().toISOString() });
  if (dialect === 'sqlite') writeFileSync(markFile(url), `${mark}\n`);
  else await sql`comment on schema ${sql.id(database.schema!)} is ${sql.lit(`relais-history-data complete ${mark}`)}`.execute(database.db);
}

async function readCompleteMark(dialect: Dialect, url: string, database: Database): Promise<boolean> {
  if (dialect === 'sqlite') return existsSync(markFile(url));
  const { rows } = await sql<{
    comment: string | null;
  }>`select obj_description(${database.schema!}::regnamespace, 'pg_namespace') as comment`.execute(database.db);
  return rows[0]?.comment?.startsWith('relais-history-data complete') === true;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dialect: { type: 'string', default: 'sqlite' },
      messages: { type: 'string', default: '1000000' },
      reload: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const dialect = values.dialect;
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error(`--dialect must be sqlite or postgres, got ${dialect}`);
  const messages = Number(String(values.messages).replace(/[_,]/g, ''));
  const started = performance.now();
  const data = await openHistoryData({ dialect, messages, reload: values.reload });
  await data.close();
  const seconds = (performance.now() - started) / 1000;
  const summary = {
    dialect,
    messages,
    url: data.url,
    accountName: data.accountName,
    loaded: data.loaded,
    seconds: Math.round(seconds * 10) / 10,
  };
  process.stdout.write(
    values.json
      ? `${JSON.stringify(summary)}\n`
      : `${data.loaded ? 'Loaded' : 'Reused'} ${messages.toLocaleString('en-US')} messages: ${data.url}\n`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
