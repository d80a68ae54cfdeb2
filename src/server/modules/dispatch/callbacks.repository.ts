import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import type { DB } from '../../db/schema.js';

/** A delivery callback to call (OVH-COMPAT §5): GET `url` with `params` in the query string. */
export interface DueCallback {
  id: number;
  outgoingId: number;
  url: string;
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
  async function claimIn(q: Kysely<DB>, owner: string, now: number, limit: number, leaseMs: number): Promise<DueCallback[]> {
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
    return rows
      .sort((a, b) => a.id - b.id)
      .map((r) => ({
        id: r.id,
        outgoingId: r.outgoing_id,
        url: r.url,
        params: JSON.parse(r.params) as Record<string, string>,
        createdAt: r.created_at,
        attempts: r.attempts,
      }));
  }

  return {
    /**
     * Claims up to `limit` due rows for `owner` until `now + leaseMs`: each the oldest of its message,
     * oldest due first. `completed` (delivered rows) are deleted first in the same transaction, so the
     * next row of their messages can be claimed at once, with one commit for both.
     */
    async claimDue(owner: string, now: number, limit: number, leaseMs: number, completed: readonly number[] = []): Promise<DueCallback[]> {
      if (completed.length === 0) return claimIn(db, owner, now, limit, leaseMs);
      return db.transaction().execute(async (trx) => {
        for (let i = 0; i < completed.length; i += 500) {
          await trx
            .deleteFrom('callback_outbox')
            .where('id', 'in', completed.slice(i, i + 500))
            .execute();
        }
        return claimIn(trx, owner, now, limit, leaseMs);
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
