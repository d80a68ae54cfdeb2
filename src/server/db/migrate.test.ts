import { type Kysely, sql } from 'kysely';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../../test/database.js';
import { migrateToLatest } from './migrate.js';
import * as m0011 from './migrations/0011-job-quota-paid.js';

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

  it('0011 leaves the jobs accepted before it unknown (quota_paid null: their refunds keep the former rule), and goes back down', async () => {
    const { db } = ctx.database;
    await m0011.down(db as Kysely<unknown>);
    // A job as a release before 0011 wrote it.
    await sql`insert into jobs (account_id, user_id, channel, receivers, credits, options, created_at)
      values (1, 2, 'api', 1, 1, '{}', 0)`.execute(db);
    await m0011.up(db as Kysely<unknown>);
    const jobs = await db.selectFrom('jobs').select(['user_id', 'quota_paid']).execute();
    expect(jobs.map((j) => [Number(j.user_id), j.quota_paid])).toEqual([[2, null]]);
    await db.deleteFrom('jobs').execute();
  });
});
