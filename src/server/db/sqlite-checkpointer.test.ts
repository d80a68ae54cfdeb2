import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from './database.js';
import { SAFETY_NET_PAGES } from './sqlite-checkpointer.js';

describe('WAL checkpoints on their own thread (SQLite file)', () => {
  const files: string[] = [];
  let database: Database | undefined;
  afterEach(async () => {
    await database?.close();
    database = undefined;
    for (const f of files.splice(0)) for (const s of ['', '-wal', '-shm']) rmSync(f + s, { force: true });
  });

  function open(background: boolean): { database: Database; file: string } {
    const file = join(tmpdir(), `relais-checkpoint-${process.pid}-${Date.now()}-${files.length}.db`);
    files.push(file);
    database = openDatabase(`sqlite:${file}`, background ? { backgroundCheckpoints: {} } : {});
    return { database, file };
  }

  /** Writes about `pages` pages of 4 KiB in 20 commits. */
  function write(sqlite: SqliteDatabase.Database, pages: number) {
    sqlite.exec('create table if not exists t (id integer primary key, v text)');
    const insert = sqlite.prepare('insert into t (v) values (?)');
    const commit = sqlite.transaction((n: number) => {
      for (let i = 0; i < n; i++) insert.run('x'.repeat(3000));
    });
    for (let c = 0; c < 20; c++) commit(Math.ceil(pages / 20));
  }

  it('copies the WAL back into the database beside the serving connection, which no longer does it in its commits', async () => {
    const { database: db, file } = open(true);
    const sqlite = db.sqlite!;
    expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(SAFETY_NET_PAGES);
    write(sqlite, 3000); // three times the default checkpoint threshold
    // The background thread catches up: wait until its last checkpoint has copied the whole WAL.
    let stats = await db.checkpointer!.stats();
    while (stats.log === 0 || stats.checkpointed < stats.log) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      stats = await db.checkpointer!.stats();
    }
    expect(stats.checkpoints).toBeGreaterThan(0);
    expect(stats.log).toBeGreaterThanOrEqual(3000 / 20); // at least the last commit's pages
    // Everything committed is in the database file: a fresh connection sees it, and a checkpoint now has
    // nothing left to copy.
    const [now] = sqlite.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
    expect(now.checkpointed).toBe(now.log);
    await db.close();
    database = undefined;
    const fresh = new SqliteDatabase(file, { readonly: true });
    expect((fresh.prepare('select count(*) as n from t').get() as { n: number }).n).toBe(3000);
    fresh.close();
  });

  it('is off unless asked for (command-line tools keep SQLite’s own checkpoints)', async () => {
    const { database: db } = open(false);
    expect(db.checkpointer).toBeUndefined();
    expect(db.sqlite!.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });

  it('is never started for an in-memory database', async () => {
    database = openDatabase('sqlite::memory:', { backgroundCheckpoints: {} });
    expect(database.checkpointer).toBeUndefined();
  });
});
