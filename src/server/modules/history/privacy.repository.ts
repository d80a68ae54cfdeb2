import { type SqlBool, sql } from 'kysely';
import type { Database } from '../../db/database.js';
import type { AccountAccess } from '../auth/principal.js';

/** An account with a retention or redaction limit, as the privacy keeper works on it. */
export interface PrivacyLimits {
  account: AccountAccess['account'];
  /** Erase the texts of messages older than this many days (null: never). */
  redactAfterDays: number | null;
  /** Delete the messages older than this many days (null: keep them). */
  retentionDays: number | null;
}

/** Where a walk through an account's messages by (created_at, id) stands: the last row it read. */
export interface RedactionCursor {
  createdAt: number;
  id: number;
}

/** What one redaction batch did. */
export interface RedactionBatch {
  /** Texts erased by this batch (rows another process erased meanwhile are not counted). */
  redacted: number;
  /** Rows the batch read; fewer than asked: the walk is over. */
  scanned: number;
  /** The last row read, where the next batch starts (null when none was read). */
  last: RedactionCursor | null;
  /** The creation time of the oldest pending message read (left as it is: the dispatcher needs its text). */
  oldestPending: number | null;
}

/**
 * PostgreSQL advisory lock of the privacy keeper: one keeper at a time over one database schema, so
 * that two processes never run the same deletions and write two audit entries for them.
 */
const KEEPER_LOCK = 0x52_4c_53_50; // "RLSP"

/** The retention and privacy settings of the accounts, and the redaction of old texts, for the privacy keeper. */
export function createPrivacyRepository(database: Database) {
  const { db, dialect } = database;
  return {
    /** The accounts that have a retention or redaction limit, by id. */
    async listAccountsWithLimits(): Promise<PrivacyLimits[]> {
      const rows = await db
        .selectFrom('accounts')
        .select(['id', 'name', 'timezone', 'owner_id', 'credits', 'status', 'default_country', 'redact_after_days', 'retention_days'])
        .where((eb) => eb.or([eb('redact_after_days', 'is not', null), eb('retention_days', 'is not', null)]))
        .orderBy('id')
        .execute();
      return rows.map((r) => ({
        account: {
          id: r.id,
          name: r.name,
          timezone: r.timezone,
          ownerId: r.owner_id,
          credits: Number(r.credits),
          status: r.status,
          defaultCountry: r.default_country,
        },
        redactAfterDays: r.redact_after_days === null ? null : Number(r.redact_after_days),
        retentionDays: r.retention_days === null ? null : Number(r.retention_days),
      }));
    },

    /**
     * One batch of a redaction, in one transaction: reads the next `scan` messages of the account created
     * before `before` (and from `from`), in (created_at, id) order after `after`, and erases the text of
     * those not yet redacted and no longer pending (message '', redacted_at `now`). Idempotent: a row
     * already redacted (by another process meanwhile) is left as it is. Pending messages keep their text:
     * the dispatcher reads it to send them. On SQLite the text index follows by its update trigger
     * (migration 0005): the row's old trigrams leave `outgoing_fts`; on PostgreSQL the pg_trgm index is
     * on the column itself.
     */
    async redactBatch(args: {
      accountId: number;
      before: number;
      from: number;
      after: RedactionCursor | null;
      scan: number;
      now: number;
    }): Promise<RedactionBatch> {
      const { accountId, before, from, after, scan, now } = args;
      return db.transaction().execute(async (trx) => {
        // The account's date index, read from `after` for `scan` entries at most: bounded, whatever
        // the rows hold (the oldest ones are mostly redacted already).
        const rows = await trx
          .selectFrom('outgoing')
          .select(['id', 'created_at', 'status', 'redacted_at'])
          .where('account_id', '=', accountId)
          .where('created_at', '<', before)
          .where('created_at', '>=', from)
          .$if(after !== null, (qb) => qb.where(sql<SqlBool>`(created_at, id) > (${after!.createdAt}, ${after!.id})`))
          .orderBy('created_at')
          .orderBy('id')
          .limit(scan)
          .execute();
        let oldestPending: number | null = null;
        const ids: number[] = [];
        for (const r of rows) {
          if (r.status === 'pending') oldestPending ??= Number(r.created_at);
          else if (r.redacted_at === null) ids.push(Number(r.id));
        }
        let redacted = 0;
        if (ids.length > 0) {
          const result = await trx
            .updateTable('outgoing')
            .set({ message: '', redacted_at: now })
            .where('account_id', '=', accountId)
            .where((eb) => (dialect === 'postgres' ? eb('id', '=', sql<number>`any(${ids}::bigint[])`) : eb('id', 'in', ids)))
            .where('redacted_at', 'is', null)
            .where('status', '<>', 'pending')
            .executeTakeFirst();
          redacted = Number(result.numUpdatedRows);
        }
        const last = rows[rows.length - 1];
        return {
          redacted,
          scanned: rows.length,
          last: last ? { createdAt: Number(last.created_at), id: Number(last.id) } : null,
          oldestPending,
        };
      });
    },

    /** Whether some account stores no texts (its jobs keep theirs until sent: `forgetSentJobTexts`). */
    async anyAccountWithoutTexts(): Promise<boolean> {
      return (await db.selectFrom('accounts').select('id').where('store_text', '=', 0).limit(1).executeTakeFirst()) !== undefined;
    },

    /**
     * The text an account that stores no texts (`store_text` 0) keeps in its job's options only until it
     * is sent (the dispatcher reads it there): forgotten once none of the job's messages is pending. One
     * batch of the walk through the jobs by id, after `after`, up to `scan` rows, among the jobs created
     * before `createdBefore` (a margin past any transaction still open: a job committed late with a lower
     * id is never taken for a sent one). Returns where the walk stands and the first job it had to keep.
     */
    async forgetSentJobTexts(args: {
      after: number;
      scan: number;
      createdBefore: number;
    }): Promise<{ scanned: number; forgotten: number; last: number | null; firstKept: number | null }> {
      return db.transaction().execute(async (trx) => {
        const rows = await trx
          .selectFrom('jobs')
          .select(['id', 'options'])
          .where('id', '>', args.after)
          .where('created_at', '<', args.createdBefore)
          .orderBy('id')
          .limit(args.scan)
          .execute();
        const holding = rows.filter((r) => r.options.includes('"text":'));
        let forgotten = 0;
        let firstKept: number | null = null;
        if (holding.length > 0) {
          // The jobs among them with a message still queued: read through the queue (only pending messages are there).
          const pending = new Set(
            (
              await trx
                .selectFrom('dispatch_queue as q')
                .innerJoin('outgoing as o', 'o.id', 'q.outgoing_id')
                .select('o.job_id')
                .where(
                  'o.job_id',
                  'in',
                  holding.map((r) => r.id),
                )
                .execute()
            ).map((r) => Number(r.job_id)),
          );
          for (const row of holding) {
            if (pending.has(Number(row.id))) {
              firstKept ??= Number(row.id);
              continue;
            }
            const { text: _text, ...options } = JSON.parse(row.options) as Record<string, unknown>;
            await trx
              .updateTable('jobs')
              .set({ options: JSON.stringify(options) })
              .where('id', '=', row.id)
              .execute();
            forgotten++;
          }
        }
        const last = rows[rows.length - 1];
        return { scanned: rows.length, forgotten, last: last ? Number(last.id) : null, firstKept };
      });
    },

    /**
     * Runs `work` unless another process's keeper runs now over the same database (PostgreSQL: an
     * advisory lock on a connection held meanwhile; SQLite: one server a file, always runs). Answers
     * `{ ran: false }` when it did not run.
     */
    async exclusive<T>(work: () => Promise<T>): Promise<{ ran: true; result: T } | { ran: false }> {
      if (dialect !== 'postgres') return { ran: true, result: await work() };
      return db.connection().execute(async (connection) => {
        const { rows } = await sql<{
          got: boolean;
        }>`select pg_try_advisory_lock(${KEEPER_LOCK}, hashtext(current_schema())) as got`.execute(connection);
        if (!rows[0]?.got) return { ran: false } as const;
        try {
          return { ran: true, result: await work() } as const;
        } finally {
          await sql`select pg_advisory_unlock(${KEEPER_LOCK}, hashtext(current_schema()))`.execute(connection);
        }
      });
    },
  };
}

export type PrivacyRepository = ReturnType<typeof createPrivacyRepository>;
