import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import type { DB } from '../../db/schema.js';

/** A delivery callback to call (OVH-COMPAT §5): GET `url` with `params` in the query string. */
export interface DueCallback {
  id: number;
  outgoingId: number;
  /**
   * Where to call now: the message's SMS user's callback URL, else its account's — as they are when the
   * row is claimed, so a URL changed, removed, or whose user was deleted while calls were pending is
   * followed; null when there is none any more (the row is to be dropped). A message deleted from the
   * history keeps the URL it was queued with.
   */
  url: string | null;
  params: Record<string, string>;
  createdAt: number;
  /** Attempts already made (and failed). */
  attempts: number;
}

/**
 * The callback outbox: rows are written by the dispatch repository in the same transaction as the
 * status change; workers claim them with leases (several processes may run a worker), in order per
 * message: only a message's oldest row is ever claimable, so `delivered` is never called before `sent`.
 */
export function createCallbacksRepository(database: Database) {
  const { db, dialect } = database;

  /** The claim itself, on `q` (the database or a transaction). */
  async function claimIn(
    q: Kysely<DB>,
    owner: string,
    now: number,
    limit: number,
    leaseMs: number,
    excludeUrls: readonly string[],
  ): Promise<DueCallback[]> {
    if (limit <= 0) return [];
    const rows = await q
      .updateTable('callback_outbox')
      .set({ lease_owner: owner, lease_until: now + leaseMs })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('callback_outbox as c')
          .select('c.id')
          .where('c.next_attempt_at', '<=', now)
          .where('c.lease_until', '<', now)
          .$if(excludeUrls.length > 0, (qb) => qb.where('c.url', 'not in', excludeUrls))
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('callback_outbox as older')
                  .select('older.id')
                  .whereRef('older.outgoing_id', '=', 'c.outgoing_id')
                  .whereRef('older.id', '<', 'c.id'),
              ),
            ),
          )
          .orderBy('c.next_attempt_at')
          .orderBy('c.id')
          .limit(limit)
          .$if(dialect === 'postgres', (qb) => qb.forUpdate().skipLocked()),
      )
      .returning(['id', 'outgoing_id', 'url', 'params', 'created_at', 'attempts'])
      .execute();
    if (rows.length === 0) return [];
    const current = await currentUrls(
      q,
      rows.map((r) => r.outgoing_id),
    );
    return rows
      .sort((a, b) => a.id - b.id)
      .map((r) => ({
        id: r.id,
        outgoingId: r.outgoing_id,
        url: current.has(r.outgoing_id) ? (current.get(r.outgoing_id) ?? null) : r.url,
        params: JSON.parse(r.params) as Record<string, string>,
        createdAt: r.created_at,
        attempts: r.attempts,
      }));
  }

  /** The callback URL of each message still in the history now: its SMS user's, else its account's, else null. */
  async function currentUrls(q: Kysely<DB>, outgoingIds: readonly number[]): Promise<Map<number, string | null>> {
    const found = await q
      .selectFrom('outgoing as o')
      .innerJoin('accounts as a', 'a.id', 'o.account_id')
      .leftJoin('sms_users as u', 'u.id', 'o.user_id')
      .select(['o.id', 'u.callback_url as user_url', 'a.callback_url as account_url'])
      .where('o.id', 'in', [...new Set(outgoingIds)])
      .execute();
    return new Map(found.map((r) => [r.id, r.user_url || r.account_url || null]));
  }

  return {
    /**
     * Claims up to `limit` due rows for `owner` until `now + leaseMs`: each the oldest of its message,
     * oldest due first. `completed` (delivered rows) are deleted first in the same transaction, so the
     * next row of their messages can be claimed at once, with one commit for both.
     */
    async claimDue(
      owner: string,
      now: number,
      limit: number,
      leaseMs: number,
      completed: readonly number[] = [],
      /** Rows queued for these URLs are left (the worker's suspended and stalled receivers). */
      excludeUrls: readonly string[] = [],
    ): Promise<DueCallback[]> {
      if (completed.length === 0) return claimIn(db, owner, now, limit, leaseMs, excludeUrls);
      return db.transaction().execute(async (trx) => {
        for (let i = 0; i < completed.length; i += 500) {
          await trx
            .deleteFrom('callback_outbox')
            .where('id', 'in', completed.slice(i, i + 500))
            .execute();
        }
        return claimIn(trx, owner, now, limit, leaseMs, excludeUrls);
      });
    },

    /** Delivered (2xx): the row goes, whoever holds it now — the next row of its message becomes due. */
    async complete(id: number): Promise<void> {
      await db.deleteFrom('callback_outbox').where('id', '=', id).execute();
    },

    /** Delivered: these rows go in one statement (the worker gathers what finished in one turn). */
    async completeAll(ids: readonly number[]): Promise<void> {
      for (let i = 0; i < ids.length; i += 500) {
        await db
          .deleteFrom('callback_outbox')
          .where('id', 'in', ids.slice(i, i + 500))
          .execute();
      }
    },

    /** Failed: tried again at `nextAttemptAt` (if `owner` still holds it). */
    async retryLater(owner: string, id: number, args: { attempts: number; error: string; nextAttemptAt: number }): Promise<void> {
      await db
        .updateTable('callback_outbox')
        .set({
          attempts: args.attempts,
          last_error: args.error.slice(0, 500),
          next_attempt_at: args.nextAttemptAt,
          lease_owner: null,
          lease_until: 0,
        })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .execute();
    },

    /** Claimed but not called: free for any worker again at `nextAttemptAt`, no attempt counted (if `owner` still holds them). */
    async release(owner: string, ids: readonly number[], nextAttemptAt: number): Promise<void> {
      for (let i = 0; i < ids.length; i += 500) {
        await db
          .updateTable('callback_outbox')
          .set({ lease_owner: null, lease_until: 0, next_attempt_at: nextAttemptAt })
          .where('id', 'in', ids.slice(i, i + 500))
          .where('lease_owner', '=', owner)
          .execute();
      }
    },

    /** Given up (24 hours without a 2xx): the row goes, so the message's later rows can be called. */
    async drop(id: number): Promise<void> {
      await db.deleteFrom('callback_outbox').where('id', '=', id).execute();
    },

    /** Rows of one message still to call, oldest first (tests, diagnostics). */
    async findByOutgoing(outgoingId: number) {
      return db
        .selectFrom('callback_outbox')
        .select(['id', 'url', 'params', 'attempts', 'next_attempt_at', 'last_error', 'created_at'])
        .where('outgoing_id', '=', outgoingId)
        .orderBy('id')
        .execute();
    },
  };
}

export type CallbacksRepository = ReturnType<typeof createCallbacksRepository>;
