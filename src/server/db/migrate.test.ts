import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../../test/database.js';
import { migrateToLatest } from './migrate.js';

describeEachDialect('migrations', (ctx) => {
  it('create every table, and running them again changes nothing', async () => {
    const { db } = ctx.database;
    for (const table of [
      'customers',
      'accounts',
      'sms_users',
      'senders',
      'api_tokens',
      'outgoing',
      'deletion_audit',
      'delete_jobs',
    ] as const) {
      const { rows } = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db);
      expect(Number(rows[0].n)).toBe(0);
    }
    expect(await migrateToLatest(ctx.database)).toEqual([]);
  });
});
