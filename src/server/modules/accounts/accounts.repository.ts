import type { Kysely, Selectable } from 'kysely';
import type { AccountRow, DB } from '../../db/schema.js';
import { AppError } from '../../errors.js';

/** An SMS account (billing unit) as the services see it. */
export interface Account {
  id: number;
  name: string;
  ownerId: number;
  description: string;
  status: string;
  credits: number;
  timezone: string;
  defaultCountry: string;
  createdAt: number;
}

/** The fields of an account its owner may change. */
export interface AccountPatch {
  description?: string;
  timezone?: string;
  defaultCountry?: string;
}

/** True for a unique-constraint violation on either dialect (SQLite or PostgreSQL 23505). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

const COLUMNS = ['id', 'name', 'owner_id', 'description', 'status', 'credits', 'timezone', 'default_country', 'created_at'] as const;

type Row = Pick<Selectable<AccountRow>, (typeof COLUMNS)[number]>;

function toAccount(row: Row): Account {
  return {
    id: row.id,
    name: row.name,
    ownerId: row.owner_id,
    description: row.description,
    status: row.status,
    credits: row.credits,
    timezone: row.timezone,
    defaultCountry: row.default_country,
    createdAt: row.created_at,
  };
}

/** The `accounts` table (settings such as retention and privacy belong to the history module). */
export function createAccountsRepository(db: Kysely<DB>) {
  const findById = async (id: number): Promise<Account | undefined> => {
    const row = await db.selectFrom('accounts').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toAccount(row);
  };
  return {
    /** Throws ACCOUNT_EXISTS when the name is taken. */
    async insert(input: Omit<Account, 'id' | 'status'> & { status?: string }): Promise<Account> {
      try {
        const row = await db
          .insertInto('accounts')
          .values({
            name: input.name,
            owner_id: input.ownerId,
            description: input.description,
            status: input.status ?? 'enable',
            credits: input.credits,
            timezone: input.timezone,
            default_country: input.defaultCountry,
            store_text: 1,
            created_at: input.createdAt,
          })
          .returning(COLUMNS)
          .executeTakeFirstOrThrow();
        return toAccount(row);
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError('ACCOUNT_EXISTS', `An SMS account named ${input.name} already exists`);
        throw error;
      }
    },

    findById,

    async findByName(name: string): Promise<Account | undefined> {
      const row = await db.selectFrom('accounts').select(COLUMNS).where('name', '=', name).executeTakeFirst();
      return row && toAccount(row);
    },

    /** The accounts a customer owns, by name. */
    async listByOwner(ownerId: number): Promise<Account[]> {
      const rows = await db.selectFrom('accounts').select(COLUMNS).where('owner_id', '=', ownerId).orderBy('name').execute();
      return rows.map(toAccount);
    },

    /** Every account, by name (the operator's list). */
    async listAll(): Promise<Account[]> {
      const rows = await db.selectFrom('accounts').select(COLUMNS).orderBy('name').execute();
      return rows.map(toAccount);
    },

    /**
     * Adds `delta` credits (negative: takes them away) in one statement, so that acceptances debiting the
     * account meanwhile are never lost; never below 0. The new balance, or undefined when the account has
     * fewer than `-delta` credits (or no longer exists).
     */
    async addCredits(id: number, delta: number): Promise<number | undefined> {
      const row = await db
        .updateTable('accounts')
        .set((eb) => ({ credits: eb('credits', '+', delta) }))
        .where('id', '=', id)
        .where('credits', '>=', -delta)
        .returning('credits')
        .executeTakeFirst();
      return row === undefined ? undefined : Number(row.credits);
    },

    /** Applies `patch` and returns the account as it now is (undefined when it no longer exists). */
    async update(id: number, patch: AccountPatch): Promise<Account | undefined> {
      const set: Partial<Pick<AccountRow, 'description' | 'timezone' | 'default_country'>> = {};
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.timezone !== undefined) set.timezone = patch.timezone;
      if (patch.defaultCountry !== undefined) set.default_country = patch.defaultCountry;
      if (Object.keys(set).length > 0) await db.updateTable('accounts').set(set).where('id', '=', id).execute();
      return findById(id);
    },
  };
}

export type AccountsRepository = ReturnType<typeof createAccountsRepository>;
