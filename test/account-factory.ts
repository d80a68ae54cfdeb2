import type { Database } from '../src/server/db/database.js';

/**
 * A customer `<name>@example.com` owning the enabled SMS account `name`, inserted as rows (for
 * repository tests that build no app; through the services, use `createAccount` of ./factories.ts).
 */
export async function insertAccount(
  database: Database,
  name: string,
  options: { credits?: number; createdAt?: number } = {},
): Promise<{ customerId: number; accountId: number }> {
  const { db } = database;
  const createdAt = options.createdAt ?? 0;
  const customer = await db
    .insertInto('customers')
    .values({ email: `${name}@example.com`, password_hash: 'x', created_at: createdAt })
    .returning('id')
    .executeTakeFirstOrThrow();
  const account = await db
    .insertInto('accounts')
    .values({
      name,
      owner_id: customer.id,
      description: '',
      status: 'enable',
      credits: options.credits ?? 0,
      timezone: 'Europe/Paris',
      default_country: 'FR',
      store_text: 1,
      created_at: createdAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { customerId: customer.id, accountId: account.id };
}
