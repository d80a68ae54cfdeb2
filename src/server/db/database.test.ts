import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { TEST_POSTGRES_URL } from '../../../test/database.js';
import { openDatabase } from './database.js';

describe('openDatabase', () => {
  it.each([
    ['sqlite', 'sqlite:'],
    ['postgres', TEST_POSTGRES_URL],
  ])('%s: keeps the onQuery hook, for Kysely and for the repositories that run SQL themselves', async (_, url) => {
    const seen: string[] = [];
    const database = openDatabase(url, { onQuery: (text) => seen.push(text) });
    try {
      await sql`select 1 as one`.execute(database.db);
      expect(seen).toEqual(['select 1 as one']);
      database.onQuery?.('select 2', []);
      expect(seen).toEqual(['select 1 as one', 'select 2']);
    } finally {
      await database.close();
    }
  });

  it('postgres: connections run without JIT', async () => {
    const database = openDatabase(TEST_POSTGRES_URL);
    try {
      const { rows } = await sql<{ jit: string }>`show jit`.execute(database.db);
      expect(rows).toEqual([{ jit: 'off' }]);
    } finally {
      await database.close();
    }
  });

  it('sqlite file: long reads run on a thread of their own, see what was committed, and cannot write', async () => {
    const file = join(tmpdir(), `relais-reader-${process.pid}-${Date.now()}.db`);
    const database = openDatabase(`sqlite:${file}`);
    try {
      expect(database.reader).not.toBe(database.db);
      await sql`create table t (x integer)`.execute(database.db);
      await sql`insert into t values (1), (2), (3)`.execute(database.db);
      expect((await sql<{ n: number }>`select sum(x) as n from t`.execute(database.reader)).rows).toEqual([{ n: 6 }]);
      expect((await sql<{ c: number }>`select relais_contains('Été', 'ét') as c`.execute(database.reader)).rows).toEqual([{ c: 1 }]);

      // The serving thread's event loop turns while the reader counts: on the serving connection the
      // count would have run synchronously before the next turn.
      let turned = false;
      const counted = sql<{
        n: number;
      }>`with recursive c(i) as (select 1 union all select i + 1 from c where i < 300000) select count(*) as n from c`
        .execute(database.reader)
        .then(({ rows }) => ({ rows, turnedBefore: turned }));
      await new Promise((resolve) => setImmediate(resolve));
      turned = true;
      expect(await counted).toEqual({ rows: [{ n: 300000 }], turnedBefore: true });

      await expect(sql`insert into t values (4)`.execute(database.reader)).rejects.toThrow(/readonly|read-only/i);
      await expect(sql`select x from nowhere`.execute(database.reader)).rejects.toThrow(/no such table/);
      expect((await sql<{ n: number }>`select count(*) as n from t`.execute(database.db)).rows).toEqual([{ n: 3 }]);
    } finally {
      await database.close();
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    }
    await expect(sql`select 1`.execute(database.reader)).rejects.toThrow();
  });

  it('postgres and in-memory SQLite: long reads go through the same connections', async () => {
    for (const url of [TEST_POSTGRES_URL, 'sqlite:']) {
      const database = openDatabase(url);
      expect(database.reader).toBe(database.db);
      await database.close();
    }
  });
});
