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
});
