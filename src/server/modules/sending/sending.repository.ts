import type { Database } from '../../db/database.js';
import { AppError } from '../../errors.js';

/** One validated job, ready to be written: every row, the debit and the queue entries go together. */
export interface PreparedJob {
  accountId: number;
  userId: number | null;
  userLogin: string;
  channel: string;
  sender: string;
  /** E.164 receivers, already validated. */
  receivers: string[];
  /** Final text (with the STOP mention when it applies). */
  message: string;
  /** false: the account never stores texts (privacy); the message is still sent from the job options. */
  storeText: boolean;
  encoding: 'gsm7' | 'ucs2';
  parts: number;
  /** Credits of each receiver's message, in receiver order. */
  credits: number[];
  tag: string;
  priority: number;
  deferredUntil: number | null;
  validUntil: number;
  /** Options kept with the job (class, coding, request fields). */
  options: Record<string, unknown>;
  now: number;
}

export type AcceptResult = { ok: true; jobId: number; ids: number[]; creditsLeft: number } | { ok: false; error: AppError };

const CHUNK = 500;

/** Writes accepted jobs. Many jobs share one transaction (group commit); each is all-or-nothing. */
export function createSendingRepository(database: Database) {
  const { db } = database;
  return {
    async acceptBatch(jobs: PreparedJob[]): Promise<AcceptResult[]> {
      return db.transaction().execute(async (trx) => {
        const results: AcceptResult[] = [];
        for (const job of jobs) {
          const total = job.credits.reduce((a, b) => a + b, 0);
          // Debit the user's quota (when it has one) and the account, each only if enough is left.
          if (job.userId !== null) {
            const quota = await trx
              .updateTable('sms_users')
              .set((eb) => ({ quota: eb('quota', '-', total) }))
              .where('id', '=', job.userId)
              .where((eb) => eb.or([eb('quota', 'is', null), eb('quota', '>=', total)]))
              .returning('id')
              .executeTakeFirst();
            if (!quota) {
              results.push({ ok: false, error: new AppError('INSUFFICIENT_CREDITS', `The SMS user's quota is too small for ${total} credits`) });
              continue;
            }
          }
          const debited = await trx
            .updateTable('accounts')
            .set((eb) => ({ credits: eb('credits', '-', total) }))
            .where('id', '=', job.accountId)
            .where('credits', '>=', total)
            .returning('credits')
            .executeTakeFirst();
          if (!debited) {
            if (job.userId !== null) {
              await trx
                .updateTable('sms_users')
                .set((eb) => ({ quota: eb('quota', '+', total) }))
                .where('id', '=', job.userId)
                .where('quota', 'is not', null)
                .execute();
            }
            results.push({ ok: false, error: new AppError('INSUFFICIENT_CREDITS', `Not enough credits: this job needs ${total}`) });
            continue;
          }
          const { id: jobId } = await trx
            .insertInto('jobs')
            .values({
              account_id: job.accountId,
              user_id: job.userId,
              channel: job.channel,
              receivers: job.receivers.length,
              credits: total,
              options: JSON.stringify({ ...job.options, ...(job.storeText ? {} : { text: job.message }) }),
              created_at: job.now,
            })
            .returning('id')
            .executeTakeFirstOrThrow();
          const ids: number[] = [];
          for (let i = 0; i < job.receivers.length; i += CHUNK) {
            const rows = job.receivers.slice(i, i + CHUNK).map((receiver, k) => ({
              account_id: job.accountId,
              job_id: jobId,
              user_id: job.userId,
              user_login: job.userLogin,
              channel: job.channel,
              sender: job.sender,
              receiver,
              message: job.storeText ? job.message : '',
              redacted_at: job.storeText ? null : job.now,
              encoding: job.encoding,
              parts: job.parts,
              credits: job.credits[i + k],
              tag: job.tag,
              status: 'pending',
              priority: job.priority,
              created_at: job.now,
              deferred_until: job.deferredUntil,
              valid_until: job.validUntil,
            }));
            const inserted = await trx.insertInto('outgoing').values(rows).returning('id').execute();
            ids.push(...inserted.map((r) => r.id));
          }
          for (let i = 0; i < ids.length; i += CHUNK) {
            await trx
              .insertInto('dispatch_queue')
              .values(
                ids.slice(i, i + CHUNK).map((id) => ({
                  outgoing_id: id,
                  account_id: job.accountId,
                  priority: job.priority,
                  due_at: job.deferredUntil ?? job.now,
                  attempts: 0,
                  lease_owner: null,
                  lease_until: 0,
                })),
              )
              .execute();
          }
          results.push({ ok: true, jobId, ids, creditsLeft: debited.credits });
        }
        return results;
      });
    },

    /** The enabled senders of an account. */
    async enabledSenders(accountId: number): Promise<string[]> {
      const rows = await db.selectFrom('senders').select('sender').where('account_id', '=', accountId).where('status', '=', 'enable').execute();
      return rows.map((r) => r.sender);
    },

    /** Whether the account stores message texts (privacy setting). */
    async storesText(accountId: number): Promise<boolean> {
      const row = await db.selectFrom('accounts').select('store_text').where('id', '=', accountId).executeTakeFirst();
      return row ? row.store_text !== 0 : true;
    },
  };
}

export type SendingRepository = ReturnType<typeof createSendingRepository>;
