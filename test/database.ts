import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { type Database, type Dialect, openDatabase } from '../src/server/db/database.js';
import { migrateToLatest } from '../src/server/db/migrate.js';

/** Both dialects, always: every repository and route test runs on SQLite and on PostgreSQL. */
export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

/** The PostgreSQL server the tests use (CI and every machine have it). */
export const TEST_POSTGRES_URL = process.env.RELAIS_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase extends Database {
  /** The RELAIS_DATABASE_URL that reaches this same database (for child processes and the CLI). */
  url: string;
}

/** A fresh, migrated database: a temporary SQLite file, or a new PostgreSQL schema. */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  const suffix = randomBytes(6).toString('hex');
  if (dialect === 'sqlite') {
    const file = join(tmpdir(), `relais-test-${suffix}.db`);
    const url = `sqlite:${file}`;
    // As the server opens it: waits for other connections' write locks on a timer (delete jobs, tools).
    const database = openDatabase(url, { nonBlockingLockWaits: true });
    await migrateToLatest(database);
    return {
      ...database,
      url,
      close: async () => {
        await database.close();
        for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      },
    };
  }
  // The creation time in the name lets the global setup drop schemas left by interrupted runs, not live ones.
  const schema = `t_${Math.floor(Date.now() / 1000)}_${suffix}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = `${TEST_POSTGRES_URL}?schema=${schema}`;
  const database = openDatabase(url, { poolSize: 4 });
  await migrateToLatest(database);
  return {
    ...database,
    url,
    close: async () => {
      await database.close();
      const c = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

/**
 * A `describe` block with a fresh migrated database of `dialect` for the block:
 * `describeWithDatabase('sqlite', 'the text indexer', (ctx) => { it('…', async () => { ctx.database.db… }) })`.
 */
export function describeWithDatabase(
  dialect: Dialect,
  name: string,
  body: (ctx: { readonly database: TestDatabase; readonly dialect: Dialect }) => void,
) {
  describe(name, () => {
    const ctx = { dialect } as { database: TestDatabase; dialect: Dialect };
    beforeAll(async () => {
      ctx.database = await createTestDatabase(dialect);
    });
    afterAll(async () => {
      await ctx.database?.close();
    });
    body(ctx);
  });
}

/**
 * Declares a `describe` block per dialect with a fresh migrated database for the block:
 * `describeEachDialect('outgoing repository', (ctx) => { it('…', async () => { ctx.database.db… }) })`.
 */
export function describeEachDialect(name: string, body: (ctx: { readonly database: TestDatabase; readonly dialect: Dialect }) => void) {
  for (const dialect of DIALECTS) describeWithDatabase(dialect, `${name} [${dialect}]`, body);
}
