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

/**
 * A delete job's lease: the history service `owner` runs it until `until` (ms). Batches and the job's end
 * are written only while the lease is the owner's, so that a job taken over by another process (its lease
 * ran out) is never run by two at once nor ended twice.
 */
export interface DeleteJobLease {
  owner: string;
  until: number;
}

/** A running job as a process resuming it reads it: its account's timezone reads its filter. */
export type ClaimedDeleteJob = DeleteJob & { timeZone: string };

/** A running job with who runs it (`leaseOwner` null: nobody) and until when. */
export type RunningDeleteJob = ClaimedDeleteJob & { leaseOwner: string | null; leaseUntil: number };

/** Ids per DELETE statement of a delete job's batch on SQLite without its thread (under the parameter limit). */
const IDS_PER_STATEMENT = 5_000;

/** The audit trail of deletions and the delete jobs. */
export function createDeletionsRepository(database: Database) {
  const { db } = database;
  // SQLite files: delete jobs' batches run on a thread of their own (see `startSqliteDeleteWorker`).
  const { sqliteFile } = database;
  let sqliteWorker: SqliteDeleteWorker | undefined;

  /** The running jobs with their account's timezone and their lease. */
  function runningJobs() {
    return db
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
        'delete_jobs.lease_owner',
        'delete_jobs.lease_until',
        'accounts.timezone',
      ])
      .where('delete_jobs.status', '=', 'running');
  }

  return {
    /**
     * How long one batch of a delete job should hold the database (ms). On SQLite other writers wait
     * for it (and a writer in the serving thread holds back that thread's requests meanwhile). On
     * PostgreSQL a delete blocks no reader, but the first reads through a batch's rows pay for them
     * (until VACUUM, the indexes still lead there), and this thread handles its ids: batches stay small.
     */
    batchBudgetMs: database.dialect === 'sqlite' ? 50 : 100,

    /** The database's dialect: on SQLite one process serves it (`claimJobs`' `anyLease` at its start). */
    dialect: database.dialect,

    /**
     * One batch of a delete job, in one transaction: deletes these messages of the scope — `ids`, or
     * those `select` answers, read in the same transaction (ids it no longer has are skipped) — cancels
     * the pending ones and gives their credits back (`cancelQueued`, `refundCredits`), and adds what it
     * deleted to the job's progress, so that the progress is exactly what was deleted even if the
     * process stops.
     * With a `lease`, the batch first renews it to `lease.until`, in its transaction, if the job is still
     * running and the lease's owner's; otherwise it does nothing and answers `lost` (another process took
     * the job over). On PostgreSQL that write holds the job's row until the commit: a claim passes over a
     * job whose batch is under way (`claimJobs`).
     * `found`: how many ids the batch had (none: nothing is left to delete). On a SQLite file the batch,
     * its `select` included, runs on the delete thread (sqlite-delete-worker.ts).
     */
    async deleteJobBatch(
      args: { jobId: number; scope: HistoryScope; now: number; lease?: DeleteJobLease } & (
        | { ids: readonly number[]; select?: undefined }
        | { select: CompiledQuery<{ id: number }>; ids?: undefined }
      ),
    ): Promise<{ deleted: number; refunded: number; found: number; lost?: true }> {
      const { jobId, scope, now, lease } = args;
      if (args.ids?.length === 0) return { deleted: 0, refunded: 0, found: 0 };
      if (sqliteFile) {
        sqliteWorker ??= startSqliteDeleteWorker(sqliteFile, { backgroundCheckpoints: database.checkpointer !== undefined });
        const which = args.select ? { select: { sql: args.select.sql, parameters: args.select.parameters } } : { ids: args.ids };
        return sqliteWorker.run({
          jobId,
          accountId: scope.accountId,
          userLogin: scope.userLogin,
          now,
          ...(lease ? { lease: { owner: lease.owner, until: lease.until } } : {}),
          ...which,
        });
      }
      return db.transaction().execute(async (trx) => {
        if (lease) {
          const renewed = await trx
            .updateTable('delete_jobs')
            .set({ lease_until: lease.until })
            .where('id', '=', jobId)
            .where('status', '=', 'running')
            .where('lease_owner', '=', lease.owner)
            .executeTakeFirst();
          if (Number(renewed.numUpdatedRows) === 0) return { deleted: 0, refunded: 0, found: 0, lost: true as const };
        }
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

    /** A new running job, leased to `lease.owner` when given (else nobody's: the first to claim it runs it). */
    async createJob(job: {
      accountId: number;
      actor: string;
      filter: Record<string, unknown>;
      now: number;
      lease?: DeleteJobLease;
    }): Promise<DeleteJob> {
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
          lease_owner: job.lease?.owner ?? null,
          lease_until: job.lease?.until ?? 0,
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

    /** Running jobs (`accountId`'s only, when given), with who runs them and their account's timezone. */
    async findRunningJobs(accountId?: number): Promise<RunningDeleteJob[]> {
      const rows = await runningJobs()
        .$if(accountId !== undefined, (qb) => qb.where('delete_jobs.account_id', '=', accountId!))
        .execute();
      return rows.map((r) => ({ ...toJob(r), timeZone: r.timezone, leaseOwner: r.lease_owner, leaseUntil: Number(r.lease_until) }));
    },

    /**
     * Takes the running jobs nobody runs for `lease.owner` until `lease.until`: those without an owner
     * and those whose lease ran out before `now` (its process died, or stopped without giving them
     * back); with `anyLease`, every running job (a single process restarting on SQLite: whoever held
     * them is gone; were it alive, it would lose the job at its next batch and stop). `jobId`: that job
     * only. One conditional update: of several processes claiming at once, one gets each job; on
     * PostgreSQL a job whose batch is under way (its row held) is passed over.
     */
    async claimJobs(args: { lease: DeleteJobLease; now: number; anyLease?: boolean; jobId?: number }): Promise<ClaimedDeleteJob[]> {
      const { lease, now } = args;
      const claimed = await db
        .updateTable('delete_jobs')
        .set({ lease_owner: lease.owner, lease_until: lease.until })
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('delete_jobs')
            .select('id')
            .where('status', '=', 'running')
            .$if(args.anyLease !== true, (qb) => qb.where((w) => w.or([w('lease_owner', 'is', null), w('lease_until', '<', now)])))
            .$if(args.jobId !== undefined, (qb) => qb.where('id', '=', args.jobId!))
            .$if(database.dialect === 'postgres', (qb) => qb.forUpdate().skipLocked()),
        )
        .returning('id')
        .execute();
      if (claimed.length === 0) return [];
      const rows = await runningJobs()
        .where(
          'delete_jobs.id',
          'in',
          claimed.map((r) => r.id),
        )
        .where('delete_jobs.lease_owner', '=', lease.owner)
        .orderBy('delete_jobs.id')
        .execute();
      return rows.map((r) => ({ ...toJob(r), timeZone: r.timezone }));
    },

    /**
     * Ends a job `lease.owner` still runs, in one transaction with its audit entry: `done` (its total is
     * then what it deleted) or `failed` with `error`. The entry counts what the job deleted, by whichever
     * process. Null (nothing written) when the job is no longer the owner's or no longer running.
     */
    async finishJob(args: {
      id: number;
      owner: string;
      now: number;
      status: 'done' | 'failed';
      error?: string;
      audit: { accountId: number; actor: string; filter: Record<string, unknown> };
    }): Promise<{ deleted: number } | null> {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('delete_jobs')
          .set((eb) => ({
            status: args.status,
            updated_at: args.now,
            finished_at: args.now,
            lease_owner: null,
            lease_until: 0,
            ...(args.status === 'done' ? { total: eb.ref('deleted') } : {}),
            ...(args.error !== undefined ? { error: args.error } : {}),
          }))
          .where('id', '=', args.id)
          .where('status', '=', 'running')
          .where('lease_owner', '=', args.owner)
          .returning('deleted')
          .executeTakeFirst();
        if (!row) return null;
        const deleted = Number(row.deleted);
        await trx
          .insertInto('deletion_audit')
          .values({
            account_id: args.audit.accountId,
            actor: args.audit.actor,
            kind: 'filter',
            created_at: args.now,
            count: deleted,
            ids: null,
            filter: JSON.stringify(args.audit.filter),
            delete_job_id: args.id,
          })
          .execute();
        return { deleted };
      });
    },

    /** Gives back the running jobs `owner` holds (a graceful stop): the first process to look takes them. */
    async releaseJobs(owner: string): Promise<void> {
      await db
        .updateTable('delete_jobs')
        .set({ lease_owner: null, lease_until: 0 })
        .where('status', '=', 'running')
        .where('lease_owner', '=', owner)
        .execute();
    },

    /** Changes a job; with `owner`, only while it runs under that owner's lease. */
    async updateJob(
      id: number,
      changes: { status?: DeleteJob['status']; addDeleted?: number; total?: number; now: number; error?: string; owner?: string },
    ): Promise<void> {
      await db
        .updateTable('delete_jobs')
        .set((eb) => ({
          updated_at: changes.now,
          ...(changes.status ? { status: changes.status } : {}),
          ...(changes.status && changes.status !== 'running' ? { finished_at: changes.now, lease_owner: null, lease_until: 0 } : {}),
          ...(changes.addDeleted ? { deleted: eb('deleted', '+', changes.addDeleted) } : {}),
          ...(changes.total !== undefined ? { total: changes.total } : {}),
          ...(changes.error !== undefined ? { error: changes.error } : {}),
        }))
        .where('id', '=', id)
        .$if(changes.owner !== undefined, (qb) => qb.where('status', '=', 'running').where('lease_owner', '=', changes.owner!))
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
