import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import { parseRestrictions } from './sms-users.repository.js';

/** An API token as listed (never its secret nor the secret's hash). */
export interface ApiToken {
  id: number;
  accountId: number;
  /** Set when the token is scoped to one SMS user. */
  userId: number | null;
  userLogin: string | null;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface Row {
  id: number;
  account_id: number;
  user_id: number | null;
  user_login: string | null;
  name: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

function toApiToken(row: Row): ApiToken {
  return {
    id: row.id,
    accountId: row.account_id,
    userId: row.user_id,
    userLogin: row.user_login,
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/** The `api_tokens` table; only the argon2id hash of a token's secret is stored. */
export function createApiTokensRepository(db: Kysely<DB>) {
  const selectTokens = () =>
    db
      .selectFrom('api_tokens as t')
      .leftJoin('sms_users as u', 'u.id', 't.user_id')
      .select(['t.id', 't.account_id', 't.user_id', 'u.login as user_login', 't.name', 't.created_at', 't.last_used_at', 't.revoked_at']);
  return {
    async insert(input: {
      accountId: number;
      userId: number | null;
      name: string;
      secretHash: string;
      createdAt: number;
    }): Promise<number> {
      const row = await db
        .insertInto('api_tokens')
        .values({
          account_id: input.accountId,
          user_id: input.userId,
          name: input.name,
          secret_hash: input.secretHash,
          created_at: input.createdAt,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    /** The token `id` of `accountId` (revoked ones too). */
    async find(accountId: number, id: number): Promise<ApiToken | undefined> {
      const row = await selectTokens().where('t.account_id', '=', accountId).where('t.id', '=', id).executeTakeFirst();
      return row && toApiToken(row);
    },

    /** The tokens of an account, oldest first, revoked ones included. */
    async list(accountId: number): Promise<ApiToken[]> {
      const rows = await selectTokens().where('t.account_id', '=', accountId).orderBy('t.id').execute();
      return rows.map(toApiToken);
    },

    /** The token with its secret hash: only for verifying a bearer token. */
    /** The token, its secret's hash and its SMS user's IP restrictions (empty for an account token). */
    async findForVerification(id: number): Promise<{ token: ApiToken; secretHash: string; ipRestrictions: string[] } | undefined> {
      const row = await selectTokens().select(['t.secret_hash', 'u.ip_restrictions']).where('t.id', '=', id).executeTakeFirst();
      return (
        row && {
          token: toApiToken(row),
          secretHash: row.secret_hash,
          ipRestrictions: row.ip_restrictions === null ? [] : parseRestrictions(row.ip_restrictions),
        }
      );
    },

    async markUsed(id: number, at: number): Promise<void> {
      await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
    },

    /** Revokes the token; false when it was already revoked or does not exist. */
    async revoke(id: number, at: number): Promise<boolean> {
      const result = await db
        .updateTable('api_tokens')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
  };
}

export type ApiTokensRepository = ReturnType<typeof createApiTokensRepository>;
