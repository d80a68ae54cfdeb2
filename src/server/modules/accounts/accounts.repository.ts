import type { Kysely, Selectable } from 'kysely';
import type { AccountRow, CreditChangeRow, DB } from '../../db/schema.js';
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
  /** Whether message texts are stored (false: every new message is kept without its text). */
  storeText: boolean;
  /** Texts of messages older than this many days are erased (null: never). */
  redactAfterDays: number | null;
  /** Messages older than this many days are deleted, pending ones excepted (null: kept). */
  retentionDays: number | null;
  /** Called on every status change of the messages sent with no SMS user, or whose user has no URL of its own. */
  callbackUrl: string | null;
  createdAt: number;
}

/** The fields of an account its owner may change (null turns a day limit off). */
export interface AccountPatch {
  description?: string;
  timezone?: string;
  defaultCountry?: string;
  storeText?: boolean;
  redactAfterDays?: number | null;
  retentionDays?: number | null;
  /** `enable` or `disable` (the operator only: a disabled account sends nothing). */
  status?: 'enable' | 'disable';
  /** The account's callback URL (null: none). */
  callbackUrl?: string | null;
}

/** One change of an account's credits by the operator, as its audit trail (`credit_changes`) keeps it. */
export interface CreditChange {
  id: number;
  accountId: number;
  /** Who: see `auditActor` (accounts.service.ts). */
  actor: string;
  /** The credits added (negative: taken back), as applied. */
  delta: number;
  /** The balance right after the change (debits made meanwhile included). */
  balanceAfter: number;
  reason: string | null;
  createdAt: number;
}

/** True for a unique-constraint violation on either dialect (SQLite or PostgreSQL 23505). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

const COLUMNS = [
  'id',
  'name',
  'owner_id',
  'description',
  'status',
  'credits',
  'timezone',
  'default_country',
  'store_text',
  'redact_after_days',
  'retention_days',
  'callback_url',
  'created_at',
] as const;

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
    storeText: Number(row.store_text) !== 0,
    redactAfterDays: row.redact_after_days === null ? null : Number(row.redact_after_days),
    retentionDays: row.retention_days === null ? null : Number(row.retention_days),
    callbackUrl: row.callback_url,
    createdAt: row.created_at,
  };
}

const CHANGE_COLUMNS = ['id', 'account_id', 'actor', 'delta', 'balance_after', 'reason', 'created_at'] as const;

function toCreditChange(row: Pick<Selectable<CreditChangeRow>, (typeof CHANGE_COLUMNS)[number]>): CreditChange {
  return {
    id: row.id,
    accountId: row.account_id,
    actor: row.actor,
    delta: row.delta,
    balanceAfter: row.balance_after,
    reason: row.reason,
    createdAt: row.created_at,
  };
}

/** The `accounts` table (the privacy keeper of the history module reads the retention and privacy settings itself). */
export function createAccountsRepository(db: Kysely<DB>) {
  const findById = async (id: number): Promise<Account | undefined> => {
    const row = await db.selectFrom('accounts').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toAccount(row);
  };
  return {
    /** Throws ACCOUNT_EXISTS when the name is taken. */
    /**
     * Creates an account; its initial credits, when there are any, go to the credit history in the same
     * transaction (`initialCredits`: who gave them and why).
     */
    async insert(
      input: Omit<Account, 'id' | 'status' | 'storeText' | 'redactAfterDays' | 'retentionDays' | 'callbackUrl'> & { status?: string },
      initialCredits: { actor: string; reason: string } = { actor: 'operator', reason: 'initial credits' },
    ): Promise<Account> {
      try {
        return await db.transaction().execute(async (trx) => {
          const row = await trx
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
          if (input.credits > 0) {
            await trx
              .insertInto('credit_changes')
              .values({
                account_id: row.id,
                actor: initialCredits.actor,
                delta: input.credits,
                balance_after: input.credits,
                reason: initialCredits.reason,
                created_at: input.createdAt,
              })
              .execute();
          }
          return toAccount(row);
        });
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
     * account meanwhile are never lost; never below 0. The change goes to the audit trail
     * (`credit_changes`) in the same transaction: never a change without its row, nor the reverse. The
     * change as recorded (`balanceAfter`: the new balance), or undefined when the account has fewer than
     * `-delta` credits (or no longer exists): then nothing is written.
     */
    async addCredits(
      id: number,
      delta: number,
      audit: { actor: string; reason: string | null; createdAt: number },
    ): Promise<CreditChange | undefined> {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('accounts')
          .set((eb) => ({ credits: eb('credits', '+', delta) }))
          .where('id', '=', id)
          .where('credits', '>=', -delta)
          .returning('credits')
          .executeTakeFirst();
        if (row === undefined) return undefined;
        const change = await trx
          .insertInto('credit_changes')
          .values({
            account_id: id,
            actor: audit.actor,
            delta,
            balance_after: Number(row.credits),
            reason: audit.reason,
            created_at: audit.createdAt,
          })
          .returning(CHANGE_COLUMNS)
          .executeTakeFirstOrThrow();
        return toCreditChange(change);
      });
    },

    /** The newest credit changes of an account, newest first. */
    async listCreditChanges(accountId: number, limit: number): Promise<CreditChange[]> {
      const rows = await db
        .selectFrom('credit_changes')
        .select(CHANGE_COLUMNS)
        .where('account_id', '=', accountId)
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toCreditChange);
    },

    /** Applies `patch` and returns the account as it now is (undefined when it no longer exists). */
    async update(id: number, patch: AccountPatch): Promise<Account | undefined> {
      const set: Partial<
        Pick<
          AccountRow,
          'description' | 'timezone' | 'default_country' | 'store_text' | 'redact_after_days' | 'retention_days' | 'status' | 'callback_url'
        >
      > = {};
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.timezone !== undefined) set.timezone = patch.timezone;
      if (patch.defaultCountry !== undefined) set.default_country = patch.defaultCountry;
      if (patch.storeText !== undefined) set.store_text = patch.storeText ? 1 : 0;
      if (patch.redactAfterDays !== undefined) set.redact_after_days = patch.redactAfterDays;
      if (patch.retentionDays !== undefined) set.retention_days = patch.retentionDays;
      if (patch.status !== undefined) set.status = patch.status;
      if (patch.callbackUrl !== undefined) set.callback_url = patch.callbackUrl;
      if (Object.keys(set).length > 0) await db.updateTable('accounts').set(set).where('id', '=', id).execute();
      return findById(id);
    },
  };
}

export type AccountsRepository = ReturnType<typeof createAccountsRepository>;
