import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';

/** A Manager session. `id` is the sha256 (hex) of the cookie value: the cookie itself is never stored. */
export interface Session {
  id: string;
  customerId: number;
  /** The customer's e-mail (joined), for the principal. */
  email: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

/** The `sessions` table. */
export function createSessionsRepository(db: Kysely<DB>) {
  return {
    async insert(session: Omit<Session, 'email'>): Promise<void> {
      await db
        .insertInto('sessions')
        .values({
          id: session.id,
          customer_id: session.customerId,
          csrf_token: session.csrfToken,
          created_at: session.createdAt,
          expires_at: session.expiresAt,
        })
        .execute();
    },

    /** The session `id` (expired ones too: the caller decides). */
    async find(id: string): Promise<Session | undefined> {
      const row = await db
        .selectFrom('sessions as s')
        .innerJoin('customers as c', 'c.id', 's.customer_id')
        .select(['s.id', 's.customer_id', 'c.email', 's.csrf_token', 's.created_at', 's.expires_at'])
        .where('s.id', '=', id)
        .executeTakeFirst();
      return (
        row && {
          id: row.id,
          customerId: row.customer_id,
          email: row.email,
          csrfToken: row.csrf_token,
          createdAt: row.created_at,
          expiresAt: row.expires_at,
        }
      );
    },

    async extend(id: string, expiresAt: number): Promise<void> {
      await db.updateTable('sessions').set({ expires_at: expiresAt }).where('id', '=', id).execute();
    },

    async delete(id: string): Promise<void> {
      await db.deleteFrom('sessions').where('id', '=', id).execute();
    },

    /** Removes every session that expired at or before `now`; returns how many. */
    async deleteExpired(now: number): Promise<number> {
      const result = await db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export type SessionsRepository = ReturnType<typeof createSessionsRepository>;
