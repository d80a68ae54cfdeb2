import { sql } from 'kysely';
import type { Database } from '../../db/database.js';

/**
 * What the first start reads to decide whether to make (or finish) the demo (see first-start.ts), and
 * the lock that lets one process at a time decide.
 */
export function createFirstStartRepository(database: Database) {
  const { db } = database;
  return {
    /** The first two customers by id: enough to tell none, one, or several. */
    async firstCustomers(): Promise<{ id: number; email: string }[]> {
      const rows = await db.selectFrom('customers').select(['id', 'email']).orderBy('id').limit(2).execute();
      return rows.map((row) => ({ id: Number(row.id), email: row.email }));
    },

    /** The id of the customer with this e-mail, if any. */
    async findCustomerId(email: string): Promise<number | undefined> {
      const row = await db.selectFrom('customers').select('id').where('email', '=', email).executeTakeFirst();
      return row ? Number(row.id) : undefined;
    },

    /** The id of the account named `name`, if any. */
    async findAccountId(name: string): Promise<number | undefined> {
      const row = await db.selectFrom('accounts').select('id').where('name', '=', name).executeTakeFirst();
      return row ? Number(row.id) : undefined;
    },

    /** The accounts the customer owns. */
    async ownedAccounts(customerId: number): Promise<{ id: number; name: string }[]> {
      const rows = await db.selectFrom('accounts').select(['id', 'name']).where('owner_id', '=', customerId).execute();
      return rows.map((row) => ({ id: Number(row.id), name: row.name }));
    },

    /** The account's history rows. */
    async historyCount(accountId: number): Promise<number> {
      const { n } = await db
        .selectFrom('outgoing')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('account_id', '=', accountId)
        .executeTakeFirstOrThrow();
      return Number(n);
    },

    /** Whether the account has the sender `sender`. */
    async senderExists(accountId: number, sender: string): Promise<boolean> {
      const row = await db
        .selectFrom('senders')
        .select('id')
        .where('account_id', '=', accountId)
        .where('sender', '=', sender)
        .executeTakeFirst();
      return row !== undefined;
    },

    /** Whether the account has the SMS user `login`. */
    async smsUserExists(accountId: number, login: string): Promise<boolean> {
      const row = await db
        .selectFrom('sms_users')
        .select('id')
        .where('account_id', '=', accountId)
        .where('login', '=', login)
        .executeTakeFirst();
      return row !== undefined;
    },

    /**
     * Runs `fn` alone among the processes starting on this database. On PostgreSQL, several processes may
     * start at once on one empty database: one runs while the others wait (a session advisory lock, by
     * schema, released by PostgreSQL if its process dies), held on a connection of its own so that `fn`
     * writes through the others of the pool. SQLite runs `fn` at once.
     */
    async withFirstStartLock<T>(fn: () => Promise<T>): Promise<T> {
      if (database.dialect !== 'postgres') return fn();
      return db.connection().execute(async (connection) => {
        await sql`select pg_advisory_lock(hashtext('relais.first-start'), hashtext(current_schema()))`.execute(connection);
        try {
          return await fn();
        } finally {
          await sql`select pg_advisory_unlock(hashtext('relais.first-start'), hashtext(current_schema()))`.execute(connection);
        }
      });
    },
  };
}

export type FirstStartRepository = ReturnType<typeof createFirstStartRepository>;
