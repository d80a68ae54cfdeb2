import { type CompiledQuery, sql } from 'kysely';
import type { Database } from '../../db/database.js';
import { purgeDeletedText } from '../../db/sqlite-text-index.js';
import { cancelQueued, type HistoryScope, lockQueueEntries, refundCredits } from './outgoing.repository.js';
import { type SqliteDeleteWorker, startSqliteDeleteWorker } from './sqlite-delete-worker.js';

/**
 * One audit entry: who deleted (`ids`, `filter`) or redacted (`redact`: texts erased, receivers masked)
 * how many messages, and which ids or filter — never their content.
 */
export interface DeletionAudit {
  id: number;
  accountId: number;
  actor: string;
  kind: 'ids' | 'filter' | 'redact';
  createdAt: number;
  count: number;
  ids: number[] | null;
  filter: Record<string, unknown> | null;
  deleteJobId: number | null;
}

/** A deletion by filter running in the background, in bounded batches. */
export interface DeleteJob {
  id: number;
  accountId: number;
  actor: string;
  filter: Record<string, unknown>;
  status: 'running' | 'done' | 'failed';
  deleted: number;
  total: number;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
  error: string | null;
}

/** Ids per DELETE statement of a delete job's batch on SQLite without its thread (under the parameter limit). */
const IDS_PER_STATEMENT = 5_000;

/** The audit trail of deletions and the delete jobs. */
export function createDeletionsRepository(database: Database) {
  const { db } = database;
  // SQLite files: delete jobs' batches run on a thread of their own (see `startSqliteDeleteWorker`).
  const { sqliteFile } = database;
  let sqliteWorker: SqliteDeleteWorker | undefined;
  return {
    /**
     * How long one batch of a delete job should hold the database (ms). On SQLite other writers wait
     * for it (and a writer in the serving thread holds back that thread's requests meanwhile). On
     * PostgreSQL a delete blocks no reader, but the first reads through a batch's rows pay for them
     * (until VACUUM, the indexes still lead there), and this thread handles its ids: batches stay small.
     */
    batchBudgetMs: database.dialect === 'sqlite' ? 50 : 100,

    /**
     * One batch of a delete job, in one transaction: deletes these messages of the scope — `ids`, or
     * those `select` answers, read in the same transaction (ids it no longer has are skipped) — cancels
     * the pending ones and gives their credits back (`cancelQueued`, `refundCredits`), and adds what it
     * deleted to the job's progress, so that the progress is exactly what was deleted even if the
     * process stops.
     * `found`: how many ids the batch had (none: nothing is left to delete). On a SQLite file the batch,
     * its `select` included, runs on the delete thread (sqlite-delete-worker.ts).
     */
    async deleteJobBatch(
      args: { jobId: number; scope: HistoryScope; now: number } & (
        | { ids: readonly number[]; select?: undefined }
        | { select: CompiledQuery<{ id: number }>; ids?: undefined }
      ),
    ): Promise<{ deleted: number; refunded: number; found: number }> {
      const { jobId, scope, now } = args;
      if (args.ids?.length === 0) return { deleted: 0, refunded: 0, found: 0 };
      if (sqliteFile) {
        sqliteWorker ??= startSqliteDeleteWorker(sqliteFile, { backgroundCheckpoints: database.checkpointer !== undefined });
        const which = args.select ? { select: { sql: args.select.sql, parameters: args.select.parameters } } : { ids: args.ids };
        return sqliteWorker.run({ jobId, accountId: scope.accountId, userLogin: scope.userLogin, now, ...which });
      }
      return db.transaction().execute(async (trx) => {
        // Ids in order: neighbours in the table and in the indexes that end with the id.
        const ids: readonly number[] = args.select
          ? (await trx.executeQuery(args.select)).rows.map((r) => Number(r.id)).sort((a, b) => a - b)
          : args.ids;
        if (ids.length === 0) return { deleted: 0, refunded: 0, found: 0 };
        await lockQueueEntries(trx, database.dialect, ids);
        // PostgreSQL takes the ids as one array parameter: one statement, cheap to build and to parse.
        const perStatement = database.dialect === 'postgres' ? ids.length : IDS_PER_STATEMENT;
        const pending: { id: number; credits: number; user_id: number | null; job_id: number | null }[] = [];
        let deleted = 0;
        for (let i = 0; i < ids.length; i += perStatement) {
          const chunk = ids.slice(i, i + perStatement);
          const these = () =>
            trx
              .deleteFrom('outgoing')
              .where('account_id', '=', scope.accountId)
              .where((eb) =>
                database.dialect === 'postgres' ? eb('id', '=', sql<number>`any(${chunk}::bigint[])`) : eb('id', 'in', chunk),
              )
              .$if(scope.userLogin !== null, (qb) => qb.where('user_login', '=', scope.userLogin!));
          // The pending ones first, returned for their refund (a message sent meanwhile is no longer
          // pending when this reads it, and goes with the others); the others are only counted.
          const refundable = await these().where('status', '=', 'pending').returning(['id', 'credits', 'user_id', 'job_id']).execute();
          for (const row of refundable) pending.push(row);
          const rest = await these().executeTakeFirst();
          deleted += refundable.length + Number(rest.numDeletedRows);
        }
        await purgeDeletedText(trx, database.dialect, ids);
        const canceled = await cancelQueued(trx, pending, now);
        const refunded = canceled.reduce((sum, r) => sum + r.credits, 0);
        if (canceled.length > 0) await refundCredits(trx, scope.accountId, canceled);
        await trx
          .updateTable('delete_jobs')
          .set((eb) => ({ deleted: eb('deleted', '+', deleted), updated_at: now }))
          .where('id', '=', jobId)
          .execute();
        return { deleted, refunded, found: ids.length };
      });
    },

    /** Stops the SQLite delete thread, if one was started. */
    async close(): Promise<void> {
      const worker = sqliteWorker;
      sqliteWorker = undefined;
      await worker?.close();
    },

    async insertAudit(entry: Omit<DeletionAudit, 'id'>): Promise<number> {
      const row = await db
        .insertInto('deletion_audit')
        .values({
          account_id: entry.accountId,
          actor: entry.actor,
          kind: entry.kind,
          created_at: entry.createdAt,
          count: entry.count,
          ids: entry.ids ? JSON.stringify(entry.ids) : null,
          filter: entry.filter ? JSON.stringify(entry.filter) : null,
          delete_job_id: entry.deleteJobId,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    /** The newest audit entries of an account, newest first. */
    async listAudit(accountId: number, limit: number): Promise<DeletionAudit[]> {
      const rows = await db
        .selectFrom('deletion_audit')
        .select(['id', 'account_id', 'actor', 'kind', 'created_at', 'count', 'ids', 'filter', 'delete_job_id'])
        .where('account_id', '=', accountId)
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        id: r.id,
        accountId: r.account_id,
        actor: r.actor,
        kind: r.kind as DeletionAudit['kind'],
        createdAt: r.created_at,
        count: Number(r.count),
        ids: r.ids ? JSON.parse(r.ids) : null,
        filter: r.filter ? JSON.parse(r.filter) : null,
        deleteJobId: r.delete_job_id,
      }));
    },

    async createJob(job: { accountId: number; actor: string; filter: Record<string, unknown>; now: number }): Promise<DeleteJob> {
      const row = await db
        .insertInto('delete_jobs')
        .values({
          account_id: job.accountId,
          actor: job.actor,
          filter: JSON.stringify(job.filter),
          status: 'running',
          deleted: 0,
          total: 0,
          created_at: job.now,
          updated_at: job.now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return {
        id: row.id,
        accountId: job.accountId,
        actor: job.actor,
        filter: job.filter,
        status: 'running',
        deleted: 0,
        total: 0,
        createdAt: job.now,
        updatedAt: job.now,
        finishedAt: null,
        error: null,
      };
    },

    async findJob(accountId: number, id: number): Promise<DeleteJob | undefined> {
      const r = await db
        .selectFrom('delete_jobs')
        .select(['id', 'account_id', 'actor', 'filter', 'status', 'deleted', 'total', 'created_at', 'updated_at', 'finished_at', 'error'])
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .executeTakeFirst();
      return r ? toJob(r) : undefined;
    },

    /** Jobs left running (by a stopped process), with their account's timezone to read their filter. */
    async findRunningJobs(): Promise<(DeleteJob & { timeZone: string })[]> {
      const rows = await db
        .selectFrom('delete_jobs')
        .innerJoin('accounts', 'accounts.id', 'delete_jobs.account_id')
        .select([
          'delete_jobs.id',
          'delete_jobs.account_id',
          'delete_jobs.actor',
          'delete_jobs.filter',
          'delete_jobs.status',
          'delete_jobs.deleted',
          'delete_jobs.total',
          'delete_jobs.created_at',
          'delete_jobs.updated_at',
          'delete_jobs.finished_at',
          'delete_jobs.error',
          'accounts.timezone',
        ])
        .where('delete_jobs.status', '=', 'running')
        .execute();
      return rows.map((r) => ({ ...toJob(r), timeZone: r.timezone }));
    },

    async updateJob(
      id: number,
      changes: { status?: DeleteJob['status']; addDeleted?: number; total?: number; now: number; error?: string },
    ): Promise<void> {
      await db
        .updateTable('delete_jobs')
        .set((eb) => ({
          updated_at: changes.now,
          ...(changes.status ? { status: changes.status } : {}),
          ...(changes.status && changes.status !== 'running' ? { finished_at: changes.now } : {}),
          ...(changes.addDeleted ? { deleted: eb('deleted', '+', changes.addDeleted) } : {}),
          ...(changes.total !== undefined ? { total: changes.total } : {}),
          ...(changes.error !== undefined ? { error: changes.error } : {}),
        }))
        .where('id', '=', id)
        .execute();
    },
  };
}

function toJob(r: {
  id: number;
  account_id: number;
  actor: string;
  filter: string;
  status: string;
  deleted: number;
  total: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  error: string | null;
}): DeleteJob {
  return {
    id: r.id,
    accountId: r.account_id,
    actor: r.actor,
    filter: JSON.parse(r.filter),
    status: r.status as DeleteJob['status'],
    deleted: Number(r.deleted),
    total: Number(r.total),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
    error: r.error,
  };
}

export type DeletionsRepository = ReturnType<typeof createDeletionsRepository>;
