import type { Kysely, Selectable } from 'kysely';
import type { DB, SmsUserRow } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { isUniqueViolation } from './accounts.repository.js';

/** A login/password inside an SMS account, used by programs (API, http2sms, mail2sms, SMPP). */
export interface SmsUser {
  id: number;
  accountId: number;
  login: string;
  /** Addresses and CIDR ranges allowed to use this login; empty = any. */
  ipRestrictions: string[];
  /** Credits this user may still spend; null = no quota. */
  quota: number | null;
  callbackUrl: string | null;
  createdAt: number;
}

/** A user with its password hash (only for checking a password). */
export interface Credentials {
  user: SmsUser;
  passwordHash: string;
}

export interface SmsUserPatch {
  passwordHash?: string;
  ipRestrictions?: string[];
  quota?: number | null;
  callbackUrl?: string | null;
}

const COLUMNS = ['id', 'account_id', 'login', 'ip_restrictions', 'quota', 'callback_url', 'created_at'] as const;

type Row = Pick<Selectable<SmsUserRow>, (typeof COLUMNS)[number]>;

/** A user's stored IP restrictions (`ip_restrictions`, JSON); unreadable: none. */
export function parseRestrictions(json: string): string[] {
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

function toSmsUser(row: Row): SmsUser {
  return {
    id: row.id,
    accountId: row.account_id,
    login: row.login,
    ipRestrictions: parseRestrictions(row.ip_restrictions),
    quota: row.quota,
    callbackUrl: row.callback_url,
    createdAt: row.created_at,
  };
}

/** The `sms_users` table. Deleting a user keeps its history (outgoing rows name it in `user_login`). */
export function createSmsUsersRepository(db: Kysely<DB>) {
  const findById = async (id: number): Promise<SmsUser | undefined> => {
    const row = await db.selectFrom('sms_users').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toSmsUser(row);
  };
  const credentials = async (by: { id: number } | { accountId: number; login: string }): Promise<Credentials | undefined> => {
    const query = db.selectFrom('sms_users').select([...COLUMNS, 'password_hash']);
    const row = await ('id' in by
      ? query.where('id', '=', by.id)
      : query.where('account_id', '=', by.accountId).where('login', '=', by.login)
    ).executeTakeFirst();
    return row && { user: toSmsUser(row), passwordHash: row.password_hash };
  };
  return {
    /** Throws USER_EXISTS when the login is taken in this account. */
    async insert(input: Omit<SmsUser, 'id'> & { passwordHash: string }): Promise<SmsUser> {
      try {
        const row = await db
          .insertInto('sms_users')
          .values({
            account_id: input.accountId,
            login: input.login,
            password_hash: input.passwordHash,
            ip_restrictions: JSON.stringify(input.ipRestrictions),
            quota: input.quota,
            callback_url: input.callbackUrl,
            created_at: input.createdAt,
          })
          .returning(COLUMNS)
          .executeTakeFirstOrThrow();
        return toSmsUser(row);
      } catch (error) {
        if (isUniqueViolation(error))
          throw new AppError('USER_EXISTS', `An SMS user with login ${input.login} already exists in this account`);
        throw error;
      }
    },

    findById,

    async findByLogin(accountId: number, login: string): Promise<SmsUser | undefined> {
      const row = await db
        .selectFrom('sms_users')
        .select(COLUMNS)
        .where('account_id', '=', accountId)
        .where('login', '=', login)
        .executeTakeFirst();
      return row && toSmsUser(row);
    },

    /** The user with its password hash: only for checking a password. */
    findCredentials(accountId: number, login: string): Promise<Credentials | undefined> {
      return credentials({ accountId, login });
    },

    /** The user with its password hash, by id (whether a password verified earlier is still the user's). */
    findCredentialsById(id: number): Promise<Credentials | undefined> {
      return credentials({ id });
    },

    /** The users with their password hashes, by id (those that still exist; for checking open sessions). */
    async findCredentialsByIds(ids: readonly number[]): Promise<Credentials[]> {
      const found: Credentials[] = [];
      for (let i = 0; i < ids.length; i += 500) {
        const rows = await db
          .selectFrom('sms_users')
          .select([...COLUMNS, 'password_hash'])
          .where('id', 'in', ids.slice(i, i + 500))
          .execute();
        for (const row of rows) found.push({ user: toSmsUser(row), passwordHash: row.password_hash });
      }
      return found;
    },

    /** The users of an account, by login. */
    async list(accountId: number): Promise<SmsUser[]> {
      const rows = await db.selectFrom('sms_users').select(COLUMNS).where('account_id', '=', accountId).orderBy('login').execute();
      return rows.map(toSmsUser);
    },

    /**
     * Applies `patch` and returns the user as it now is (undefined when it no longer exists). Removing
     * the quota (null) starts a new quota epoch: what the removed quota paid never goes back to a later
     * one (`refundCredits`).
     */
    async update(id: number, patch: SmsUserPatch): Promise<SmsUser | undefined> {
      const set: Partial<Pick<SmsUserRow, 'password_hash' | 'ip_restrictions' | 'quota' | 'callback_url'>> = {};
      if (patch.passwordHash !== undefined) set.password_hash = patch.passwordHash;
      if (patch.ipRestrictions !== undefined) set.ip_restrictions = JSON.stringify(patch.ipRestrictions);
      if (patch.quota !== undefined) set.quota = patch.quota;
      if (patch.callbackUrl !== undefined) set.callback_url = patch.callbackUrl;
      if (Object.keys(set).length > 0) {
        await db
          .updateTable('sms_users')
          .set(set)
          .$if(patch.quota === null, (qb) => qb.set((eb) => ({ quota_epoch: eb('quota_epoch', '+', 1) })))
          .where('id', '=', id)
          .execute();
      }
      return findById(id);
    },

    /** Deletes the user (its API tokens go with it); true when it existed. */
    async delete(id: number): Promise<boolean> {
      const result = await db.deleteFrom('sms_users').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}

export type SmsUsersRepository = ReturnType<typeof createSmsUsersRepository>;
