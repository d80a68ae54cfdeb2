import type { Database } from '../src/server/db/database.js';
import type { DB } from '../src/server/db/schema.js';

/** The number of rows of `table`. */
export async function countRows(database: Pick<Database, 'db'>, table: keyof DB): Promise<number> {
  const row = await database.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * What a sending writes or debits, over the whole database: messages, queue entries, jobs, every
 * account's credits and every SMS user's quota (by id). Two equal ledgers around a refusal show that it
 * wrote and debited nothing.
 */
export async function ledger(database: Pick<Database, 'db'>) {
  const { db } = database;
  const count = (table: 'outgoing' | 'dispatch_queue' | 'jobs') => countRows(database, table);
  const credits: Record<number, number> = {};
  for (const a of await db.selectFrom('accounts').select(['id', 'credits']).execute()) credits[Number(a.id)] = Number(a.credits);
  const quotas: Record<number, number | null> = {};
  for (const u of await db.selectFrom('sms_users').select(['id', 'quota']).execute())
    quotas[Number(u.id)] = u.quota === null ? null : Number(u.quota);
  return { outgoing: await count('outgoing'), queued: await count('dispatch_queue'), jobs: await count('jobs'), credits, quotas };
}
