import type { Kysely, Transaction } from 'kysely';
import type { OutgoingStatus } from '../../../shared/status.js';
import type { Database } from '../../db/database.js';
import type { DB } from '../../db/schema.js';
import { owesReceipt, type ReceiptWish, type SmppReceipt } from './smpp-messages.js';

const CHUNK = 500;

/** A status change, as the dispatch repository records it (RETURNING of its UPDATE on outgoing). */
export interface ReceiptEvent {
  id: number;
  status: OutgoingStatus;
  at: number;
  errorCode: string | null;
  target: { account_id: number; user_id: number | null; channel: string; job_id: number | null };
}

/** A receipt to send, claimed by one SMPP server process. */
export interface DueReceipt {
  id: number;
  userId: number;
  receipt: SmppReceipt;
  createdAt: number;
  attempts: number;
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/**
 * In the dispatcher's transaction: a receipt row for each final status of a message submitted over SMPP
 * whose submit_sm asked for one (registered_delivery, kept in its job's options as `receipt`). Reads
 * only for SMPP messages reaching a final status, so other channels' status changes cost nothing more.
 */
export async function queueSmppReceipts(trx: Transaction<DB> | Kysely<DB>, events: readonly ReceiptEvent[], now: number): Promise<number> {
  const candidates = events.filter(
    (e) =>
      e.target.channel === 'smpp' &&
      e.target.user_id !== null &&
      e.target.job_id !== null &&
      (e.status === 'delivered' || e.status === 'failed' || e.status === 'expired'),
  );
  if (candidates.length === 0) return 0;
  const wishes = new Map<number, ReceiptWish>();
  for (const c of chunks([...new Set(candidates.map((e) => e.target.job_id as number))])) {
    for (const job of await trx.selectFrom('jobs').select(['id', 'options']).where('id', 'in', c).execute()) {
      const receipt = (JSON.parse(job.options) as { receipt?: unknown }).receipt;
      if (receipt === 'final' || receipt === 'failure') wishes.set(job.id, receipt);
    }
  }
  const owed = candidates.filter((e) => {
    const wish = wishes.get(e.target.job_id as number);
    return wish !== undefined && owesReceipt(wish, e.status);
  });
  if (owed.length === 0) return 0;
  const messages = new Map<number, { sender: string; receiver: string; created_at: number; message: string; redacted_at: number | null }>();
  for (const c of chunks(owed.map((e) => e.id))) {
    const rows = await trx
      .selectFrom('outgoing')
      .select(['id', 'sender', 'receiver', 'created_at', 'message', 'redacted_at'])
      .where('id', 'in', c)
      .execute();
    for (const r of rows) messages.set(r.id, r);
  }
  const rows = owed.flatMap((e) => {
    const m = messages.get(e.id);
    if (!m) return [];
    const receipt: SmppReceipt = {
      id: String(e.id),
      receiver: m.receiver,
      sender: m.sender,
      status: e.status as SmppReceipt['status'],
      submittedAt: m.created_at,
      doneAt: e.at,
      errorCode: e.errorCode,
      text: m.redacted_at === null ? m.message.slice(0, 20) : '',
    };
    return [
      {
        outgoing_id: e.id,
        account_id: e.target.account_id,
        user_id: e.target.user_id as number,
        params: JSON.stringify(receipt),
        created_at: now,
        next_attempt_at: now,
        attempts: 0,
        lease_owner: null,
        lease_until: 0,
      },
    ];
  });
  for (const c of chunks(rows)) await trx.insertInto('smpp_receipts').values(c).execute();
  return rows.length;
}

/**
 * The receipt outbox, read by the SMPP server: the receipts of one SMS user are claimed with a lease by
 * the process holding a receiver bind of that user (several processes never hold one at once), then
 * completed when the program answered the deliver_sm, tried again later when it refused it, or given
 * back when the connection ended first.
 */
export function createSmppReceiptsRepository(database: Database) {
  const { db, dialect } = database;
  return {
    /** Claims up to `limit` due receipts of `userId`, oldest first, for `owner` until `now + leaseMs`. */
    async claim(userId: number, owner: string, now: number, limit: number, leaseMs: number): Promise<DueReceipt[]> {
      if (limit <= 0) return [];
      // A read first: the SMPP server asks several times a second for each SMS user bound to it, mostly in
      // vain, and an UPDATE would take SQLite's write lock each time, in the way of the sending's writes.
      const due = await db
        .selectFrom('smpp_receipts')
        .select('id')
        .where('user_id', '=', userId)
        .where('next_attempt_at', '<=', now)
        .where('lease_until', '<', now)
        .limit(1)
        .executeTakeFirst();
      if (!due) return [];
      const rows = await db
        .updateTable('smpp_receipts')
        .set({ lease_owner: owner, lease_until: now + leaseMs })
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('smpp_receipts as r')
            .select('r.id')
            .where('r.user_id', '=', userId)
            .where('r.next_attempt_at', '<=', now)
            .where('r.lease_until', '<', now)
            .orderBy('r.id')
            .limit(limit)
            .$if(dialect === 'postgres', (qb) => qb.forUpdate().skipLocked()),
        )
        .returning(['id', 'user_id', 'params', 'created_at', 'attempts'])
        .execute();
      return rows
        .sort((a, b) => a.id - b.id)
        .map((r) => ({
          id: r.id,
          userId: r.user_id,
          receipt: JSON.parse(r.params) as SmppReceipt,
          createdAt: r.created_at,
          attempts: r.attempts,
        }));
    },

    /** Answered with ESME_ROK: these receipts go. */
    async complete(ids: readonly number[]): Promise<void> {
      for (const c of chunks(ids)) await db.deleteFrom('smpp_receipts').where('id', 'in', c).execute();
    },

    /** Refused by the program: tried again at `nextAttemptAt` (if `owner` still holds it). */
    async retryLater(owner: string, id: number, attempts: number, nextAttemptAt: number): Promise<void> {
      await db
        .updateTable('smpp_receipts')
        .set({ attempts, next_attempt_at: nextAttemptAt, lease_owner: null, lease_until: 0 })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .execute();
    },

    /** The connection ended before the answer: claimable again at once (by any process). */
    async release(owner: string, ids: readonly number[]): Promise<void> {
      for (const c of chunks(ids)) {
        await db
          .updateTable('smpp_receipts')
          .set({ lease_owner: null, lease_until: 0 })
          .where('id', 'in', c)
          .where('lease_owner', '=', owner)
          .execute();
      }
    },

    /** Drops receipts queued before `before` that no program took; returns how many. */
    async purgeOlderThan(before: number): Promise<number> {
      const result = await db.deleteFrom('smpp_receipts').where('created_at', '<', before).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /** Receipts still owed to an SMS user, oldest first (tests, diagnostics). */
    async pendingFor(userId: number): Promise<DueReceipt[]> {
      const rows = await db
        .selectFrom('smpp_receipts')
        .select(['id', 'user_id', 'params', 'created_at', 'attempts'])
        .where('user_id', '=', userId)
        .orderBy('id')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        userId: r.user_id,
        receipt: JSON.parse(r.params) as SmppReceipt,
        createdAt: r.created_at,
        attempts: r.attempts,
      }));
    },
  };
}

export type SmppReceiptsRepository = ReturnType<typeof createSmppReceiptsRepository>;

/**
 * When `actor` deleted the message `messageId` of account `accountId` by its id — cancel_sm (a pending
 * message canceled: its row goes, its credits back), or a deletion of chosen messages — as the deletion
 * audit records it (kind `ids`, the ids as a JSON array); null when it records none. The audit names who
 * deleted, not whose message it was: only the actor's own deletions are told (query_sm of an SMS user).
 */
export async function deletedMessageAt(database: Database, accountId: number, actor: string, messageId: number): Promise<number | null> {
  const id = String(messageId);
  const row = await database.db
    .selectFrom('deletion_audit')
    .select('created_at')
    .where('account_id', '=', accountId)
    .where('actor', '=', actor)
    .where('kind', '=', 'ids')
    // `[1,2,3]` as JSON.stringify writes it: the id alone, first, between two others, or last.
    .where((eb) =>
      eb.or([eb('ids', '=', `[${id}]`), eb('ids', 'like', `[${id},%`), eb('ids', 'like', `%,${id},%`), eb('ids', 'like', `%,${id}]`)]),
    )
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? Number(row.created_at) : null;
}
