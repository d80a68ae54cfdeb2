import type { Database } from '../../db/database.js';

/** One audit entry: who deleted how many messages, and which ids or filter — never their content. */
export interface DeletionAudit {
  id: number;
  accountId: number;
  actor: string;
  kind: 'ids' | 'filter';
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

/** The audit trail of deletions and the delete jobs. */
export function createDeletionsRepository(database: Database) {
  const { db } = database;
  return {
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

    async updateJob(id: number, changes: { status?: DeleteJob['status']; addDeleted?: number; total?: number; now: number; error?: string }): Promise<void> {
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
