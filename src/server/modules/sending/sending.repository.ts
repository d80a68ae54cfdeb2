import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import type { DB } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { OUTGOING_MESSAGE_COLUMNS } from '../history/outgoing.repository.js';
import { roundCredits, sumCredits } from './credits.js';

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

/** Rows per multi-row insert: 18 parameters a row stays far below SQLite's 32,766 variables. */
const CHUNK = 500;

/** The columns of a new history row, in the order of the values written for each receiver. */
const OUTGOING_COLUMNS = [...OUTGOING_MESSAGE_COLUMNS, 'priority', 'created_at', 'deferred_until', 'valid_until'] as const;
const QUEUE_COLUMNS = ['outgoing_id', 'account_id', 'priority', 'due_at', 'attempts', 'lease_owner', 'lease_until'] as const;
/** `quota_paid` (migration 0011): which quota of its SMS user also paid the job's credits, if any, for their refund. */
const JOB_COLUMNS = ['account_id', 'user_id', 'channel', 'receivers', 'credits', 'options', 'created_at', 'quota_paid'] as const;

/**
 * Writes accepted jobs. Many jobs share one transaction (group commit), written with a fixed number of
 * set-based statements whatever the number of jobs: the balances are read (and locked on PostgreSQL)
 * once, each job is checked against the running balance in order — all or nothing per job — then the
 * debits, the jobs, the messages and the queue entries are written in multi-row statements.
 */
export function createSendingRepository(database: Database) {
  const { db, dialect } = database;
  const forUpdate = dialect === 'postgres' ? ' for update' : '';
  const placeholders = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => (dialect === 'postgres' ? `$${from + i + 1}` : '?')).join(', ');
  const insertSql = new Map<string, string>();
  /** `insert into table (cols) values (…), (…) [returning id]` for `rows` rows, built once per shape. */
  function insertStatement(table: string, columns: readonly string[], rows: number, returning: boolean): string {
    const key = `${table}/${rows}/${returning}`;
    let text = insertSql.get(key);
    if (!text) {
      const tuples = Array.from({ length: rows }, (_, r) => `(${placeholders(columns.length, r * columns.length)})`).join(', ');
      text = `insert into ${table} (${columns.join(', ')}) values ${tuples}${returning ? ' returning id' : ''}`;
      insertSql.set(key, text);
    }
    return text;
  }
  async function insertRows(
    trx: Kysely<DB>,
    table: string,
    columns: readonly string[],
    rows: unknown[][],
    returning: boolean,
  ): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK);
      const result = await trx.executeQuery<{ id: number }>(
        CompiledQuery.raw(insertStatement(table, columns, chunk.length, returning), chunk.flat()),
      );
      if (returning) for (const row of result.rows) ids.push(Number(row.id));
    }
    return ids;
  }

  return {
    async acceptBatch(jobs: PreparedJob[]): Promise<AcceptResult[]> {
      return db.transaction().execute(async (trx) => {
        const accountIds = [...new Set(jobs.map((j) => j.accountId))].sort((a, b) => a - b);
        const userIds = [...new Set(jobs.flatMap((j) => (j.userId === null ? [] : [j.userId])))].sort((a, b) => a - b);
        const balances = new Map<number, number>();
        const accounts = await trx.executeQuery<{ id: number; credits: number }>(
          CompiledQuery.raw(
            `select id, credits from accounts where id in (${placeholders(accountIds.length)}) order by id${forUpdate}`,
            accountIds,
          ),
        );
        for (const row of accounts.rows) balances.set(Number(row.id), Number(row.credits));
        const quotas = new Map<number, number | null>();
        const epochs = new Map<number, number>();
        if (userIds.length) {
          const users = await trx.executeQuery<{ id: number; quota: number | null; quota_epoch: number }>(
            CompiledQuery.raw(
              `select id, quota, quota_epoch from sms_users where id in (${placeholders(userIds.length)}) order by id${forUpdate}`,
              userIds,
            ),
          );
          for (const row of users.rows) {
            quotas.set(Number(row.id), row.quota === null ? null : Number(row.quota));
            epochs.set(Number(row.id), Number(row.quota_epoch));
          }
        }

        // Each job against the running balances, in arrival order.
        const debits = new Map<number, number>();
        const quotaDebits = new Map<number, number>();
        const outcomes: ({ total: number; creditsLeft: number; quotaPaid: number } | AppError)[] = jobs.map((job) => {
          const total = sumCredits(job.credits);
          const read = balances.get(job.accountId);
          const balance = read === undefined ? undefined : roundCredits(read);
          if (balance === undefined) return new AppError('ACCOUNT_NOT_FOUND', 'The SMS account no longer exists');
          if (job.userId !== null) {
            if (!quotas.has(job.userId)) return new AppError('USER_NOT_FOUND', 'The SMS user no longer exists');
            const quota = quotas.get(job.userId)!;
            if (quota !== null && roundCredits(quota) < total)
              return new AppError('INSUFFICIENT_CREDITS', `The SMS user's quota is too small for ${total} credits`);
          }
          if (balance < total) return new AppError('INSUFFICIENT_CREDITS', `Not enough credits: this job needs ${total}`);
          balances.set(job.accountId, roundCredits(balance - total));
          debits.set(job.accountId, roundCredits((debits.get(job.accountId) ?? 0) + total));
          // 0: not paid from a quota; else which quota paid (its epoch + 1: see migration 0011).
          let quotaPaid = 0;
          if (job.userId !== null) {
            const quota = quotas.get(job.userId)!;
            if (quota !== null) {
              quotas.set(job.userId, roundCredits(quota - total));
              quotaDebits.set(job.userId, roundCredits((quotaDebits.get(job.userId) ?? 0) + total));
              quotaPaid = epochs.get(job.userId)! + 1;
            }
          }
          return { total, creditsLeft: roundCredits(balance - total), quotaPaid };
        });

        const p = (i: number) => (dialect === 'postgres' ? `$${i}` : '?');
        for (const [id, total] of debits) {
          await trx.executeQuery(CompiledQuery.raw(`update accounts set credits = credits - ${p(1)} where id = ${p(2)}`, [total, id]));
        }
        for (const [id, total] of quotaDebits) {
          await trx.executeQuery(CompiledQuery.raw(`update sms_users set quota = quota - ${p(1)} where id = ${p(2)}`, [total, id]));
        }

        const accepted = jobs.flatMap((job, i) => (outcomes[i] instanceof AppError ? [] : [{ job, index: i }]));
        const jobIds = await insertRows(
          trx,
          'jobs',
          JOB_COLUMNS,
          accepted.map(({ job, index }) => {
            const outcome = outcomes[index] as { total: number; quotaPaid: number };
            return [
              job.accountId,
              job.userId,
              job.channel,
              job.receivers.length,
              outcome.total,
              JSON.stringify({ ...job.options, ...(job.storeText ? {} : { text: job.message }) }),
              job.now,
              outcome.quotaPaid,
            ];
          }),
          true,
        );
        const rows: unknown[][] = [];
        for (const [k, { job }] of accepted.entries()) {
          const message = job.storeText ? job.message : '';
          const redactedAt = job.storeText ? null : job.now;
          for (let r = 0; r < job.receivers.length; r++) {
            rows.push([
              job.accountId,
              jobIds[k],
              job.userId,
              job.userLogin,
              job.channel,
              job.sender,
              job.receivers[r],
              message,
              redactedAt,
              job.encoding,
              job.parts,
              job.credits[r],
              job.tag,
              'pending',
              job.priority,
              job.now,
              job.deferredUntil,
              job.validUntil,
            ]);
          }
        }
        const ids = await insertRows(trx, 'outgoing', OUTGOING_COLUMNS, rows, true);
        if (ids.length !== rows.length) throw new Error(`inserted ${ids.length} messages for ${rows.length} rows`);
        const queue: unknown[][] = [];
        let next = 0;
        for (const { job } of accepted) {
          for (let r = 0; r < job.receivers.length; r++)
            queue.push([ids[next++], job.accountId, job.priority, job.deferredUntil ?? job.now, 0, null, 0]);
        }
        await insertRows(trx, 'dispatch_queue', QUEUE_COLUMNS, queue, false);

        const results: AcceptResult[] = [];
        next = 0;
        let k = 0;
        for (const outcome of outcomes) {
          if (outcome instanceof AppError) {
            results.push({ ok: false, error: outcome });
            continue;
          }
          const count = accepted[k].job.receivers.length;
          results.push({ ok: true, jobId: jobIds[k], ids: ids.slice(next, next + count), creditsLeft: outcome.creditsLeft });
          next += count;
          k++;
        }
        return results;
      });
    },

    /** What acceptance needs to know of an account: its enabled senders, and whether it stores texts (privacy). */
    async sendingProfile(accountId: number): Promise<{ senders: string[]; storeText: boolean }> {
      const senders = await db
        .selectFrom('senders')
        .select('sender')
        .where('account_id', '=', accountId)
        .where('status', '=', 'enable')
        .execute();
      const account = await db.selectFrom('accounts').select('store_text').where('id', '=', accountId).executeTakeFirst();
      return { senders: senders.map((r) => r.sender), storeText: account ? account.store_text !== 0 : true };
    },
  };
}

export type SendingRepository = ReturnType<typeof createSendingRepository>;
