import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from './database.js';

/**
 * SQLite only: how the serving connection shares the write lock with other connections to the same
 * file (a delete job's thread, a command-line tool) — PostgreSQL has row locks and no such thing.
 */
describe('SQLite write locks held by another connection', () => {
  let file: string;
  let database: Database;
  beforeEach(async () => {
    file = join(tmpdir(), `relais-locks-${process.pid}-${Date.now()}.db`);
    database = openDatabase(`sqlite:${file}`, { nonBlockingLockWaits: true });
    await sql`create table t (id integer primary key, v text)`.execute(database.db);
    await sql`insert into t (v) values ('first')`.execute(database.db);
  });
  afterEach(async () => {
    await database.close();
    for (const s of ['', '-wal', '-shm']) rmSync(file + s, { force: true });
  });

  it('are waited for without stopping the event loop, in a transaction and for a single statement', async () => {
    const other = new SqliteDatabase(file);
    other.exec('begin immediate');
    let released = false;
    const write = database.db.transaction().execute(async (trx) => {
      await sql`update t set v = 'in a transaction'`.execute(trx);
      return released;
    });
    // Released by a timer of this very thread: it fires only if the waiting write left the event loop free
    // (with SQLite's busy handler the thread would sleep, and the write fail with SQLITE_BUSY after 5 s).
    setTimeout(() => {
      released = true;
      other.exec('commit');
    }, 30);
    expect(await write).toBe(true);

    other.exec('begin immediate');
    released = false;
    setTimeout(() => {
      released = true;
      other.exec('commit');
    }, 30);
    await sql`update t set v = 'one statement'`.execute(database.db);
    expect(released).toBe(true);
    other.close();
    const { rows } = await sql<{ v: string }>`select v from t`.execute(database.db);
    expect(rows).toEqual([{ v: 'one statement' }]);
  });

  it('are taken by a transaction from its first statement, so one that reads then writes never fails half-way', async () => {
    const other = new SqliteDatabase(file, { timeout: 0 });
    await database.db.transaction().execute(async (trx) => {
      await sql`select v from t`.execute(trx);
      // A deferred transaction would only read-lock here: the other connection could write, and this
      // transaction's write below would then fail with SQLITE_BUSY_SNAPSHOT. It holds the lock instead.
      expect(() => other.exec("update t set v = 'other'")).toThrow(/locked|busy/i);
      await sql`update t set v = 'ours'`.execute(trx);
    });
    other.close();
    const { rows } = await sql<{ v: string }>`select v from t`.execute(database.db);
    expect(rows).toEqual([{ v: 'ours' }]);
  });
});
