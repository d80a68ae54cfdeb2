import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { isUniqueViolation } from './accounts.repository.js';

/** A person who signs in to the Manager. */
export interface Customer {
  id: number;
  email: string;
  createdAt: number;
}

const COLUMNS = ['id', 'email', 'created_at'] as const;

function toCustomer(row: { id: number; email: string; created_at: number }): Customer {
  return { id: row.id, email: row.email, createdAt: row.created_at };
}

/** The `customers` table. E-mails are stored as given (the service lower-cases them). */
export function createCustomersRepository(db: Kysely<DB>) {
  return {
    /** Throws CUSTOMER_EXISTS when the e-mail is taken. */
    async insert(input: { email: string; passwordHash: string; createdAt: number }): Promise<Customer> {
      try {
        const row = await db
          .insertInto('customers')
          .values({ email: input.email, password_hash: input.passwordHash, created_at: input.createdAt })
          .returning(COLUMNS)
          .executeTakeFirstOrThrow();
        return toCustomer(row);
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError('CUSTOMER_EXISTS', `A customer with e-mail ${input.email} already exists`);
        throw error;
      }
    },

    /** Whether any customer exists (a first start has none). */
    async any(): Promise<boolean> {
      return (await db.selectFrom('customers').select('id').limit(1).executeTakeFirst()) !== undefined;
    },

    async findById(id: number): Promise<Customer | undefined> {
      const row = await db.selectFrom('customers').select(COLUMNS).where('id', '=', id).executeTakeFirst();
      return row && toCustomer(row);
    },

    async findByEmail(email: string): Promise<Customer | undefined> {
      const row = await db.selectFrom('customers').select(COLUMNS).where('email', '=', email).executeTakeFirst();
      return row && toCustomer(row);
    },

    /** Every customer, by e-mail (the operator's list). */
    async list(): Promise<Customer[]> {
      return (await db.selectFrom('customers').select(COLUMNS).orderBy('email').execute()).map(toCustomer);
    },

    /**
     * A new password hash, and every session of the customer ended, together; false when no such customer.
     * The sessions table is the auth module's: written here so that both changes are one transaction (a
     * session outliving a password reset would keep a stolen cookie working).
     */
    async setPasswordEndingSessions(id: number, passwordHash: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const updated = await trx.updateTable('customers').set({ password_hash: passwordHash }).where('id', '=', id).executeTakeFirst();
        await trx.deleteFrom('sessions').where('customer_id', '=', id).execute();
        return Number(updated.numUpdatedRows) > 0;
      });
    },

    /** The customer with their password hash: only for signing in. */
    async findCredentialsByEmail(email: string): Promise<{ customer: Customer; passwordHash: string } | undefined> {
      const row = await db
        .selectFrom('customers')
        .select([...COLUMNS, 'password_hash'])
        .where('email', '=', email)
        .executeTakeFirst();
      return row && { customer: toCustomer(row), passwordHash: row.password_hash };
    },
  };
}

export type CustomersRepository = ReturnType<typeof createCustomersRepository>;
