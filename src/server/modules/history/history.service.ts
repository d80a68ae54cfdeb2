import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { getTimeFormatter } from '../../../shared/account-time.js';
import { createCsvFormatter, createSeedCsvFormatter, jsonLine } from '../../../shared/csv.js';
import type { Outgoing } from '../../../shared/outgoing.js';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import type { AccountAccess } from '../auth/principal.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import type { ClaimedDeleteJob, DeleteJob, DeletionAudit, DeletionsRepository } from './deletions.repository.js';
import { type ExportChunk, formattedChunks, madeChunks } from './export-chunks.js';
import { type HistoryFilter, type HistorySort, parseHistoryFilter, parseSort, type RawFilter } from './history-query.js';
import { type HistoryScope, type OutgoingIdRow, type OutgoingRepository, sortValueOf } from './outgoing.repository.js';

/** Largest id list one request may delete. */
export const MAX_DELETE_IDS = 10_000;
/** `total` is counted exactly up to this many rows, beyond which it is a lower bound. */
export const TOTAL_COUNT_CAP = 1_000;
/** With a text search, `total` is counted exactly up to this many (each match costs a text check). */
export const TEXT_TOTAL_CAP = 1_000;
/** A delete job counts its matches up front only up to this many (counting more would block readers). */
export const JOB_COUNT_CAP = 100_000;
/** A deletion by filter matching more than this runs as a background job. */
export const SYNC_DELETE_LIMIT = 5_000;
/** Rows in a delete job's first batch; the next ones are sized to the time budget, within these bounds. */
const FIRST_JOB_BATCH = 500;
const MIN_JOB_BATCH = 50;
const MAX_JOB_BATCH = 50_000;
/**
 * How long a delete job's lease lasts without a batch renewing it (ms), by default: how soon another
 * process takes over the jobs of one that died (`takeOverDeleteJobs`; `relais serve` uses
 * RELAIS_DISPATCH_LEASE_MS, the dispatcher's lease).
 */
export const DELETE_JOB_LEASE_MS = 30_000;

export interface ListQuery extends RawFilter {
  sort?: unknown;
  cursor?: unknown;
  limit?: number;
}

export interface HistoryPage {
  data: Outgoing[];
  nextCursor: string | null;
  prevCursor: string | null;
  total: number;
  totalIsExact: boolean;
}

/** What `exportText` writes: `limit` rows at most (null: every match). */
export interface ExportTextOptions {
  format: 'seed' | 'detailed' | 'jsonl';
  limit: number | null;
}

export interface HistoryServiceDeps {
  outgoing: OutgoingRepository;
  deletions: DeletionsRepository;
  clock: Clock;
  /** Logs background failures. */
  log?: (message: string, details: Record<string, unknown>) => void;
  /** Time a batch of a background deletion may hold the database (ms), so readers never wait long (default: the repository's). */
  batchBudgetMs?: number;
  /** Who this service is as the runner of delete jobs (default: host, pid and a random part, unique to it). */
  leaseOwner?: string;
  /** How long its lease on a delete job lasts without renewal (ms; default `DELETE_JOB_LEASE_MS`). */
  deleteJobLeaseMs?: number;
}

/** At most this many logins answered by `userLogins` (an account has a few SMS users, not thousands). */
export const HISTORY_USER_LOGINS_MAX = 1000;

function scopeOf(access: AccountAccess): HistoryScope {
  return { accountId: access.account.id, userLogin: access.userLogin };
}

/** The history of sent SMS: read, count, delete and export, always within one account's scope. */
export function createHistoryService(deps: HistoryServiceDeps) {
  const { outgoing, deletions, clock } = deps;
  const budget = deps.batchBudgetMs ?? deletions.batchBudgetMs;
  const running = new Map<number, Promise<void>>();
  let closing = false;
  /** Delete jobs run here only under this owner's lease (another process takes over those it stops renewing). */
  const owner = deps.leaseOwner ?? `${hostname()}/${process.pid}/history/${randomBytes(4).toString('hex')}`;
  let leaseMs = deps.deleteJobLeaseMs ?? DELETE_JOB_LEASE_MS;
  const lease = () => ({ owner, until: clock.now() + leaseMs });
  let takeover: { timer: NodeJS.Timeout; busy: Promise<unknown> | null } | null = null;

  function parse(access: AccountAccess, query: RawFilter): HistoryFilter {
    return parseHistoryFilter(query, access.account.timezone);
  }

  /**
   * Runs a job this service holds the lease of, batch after batch, each renewing the lease: it stops
   * when the lease was lost (another process took the job over) or the service closes (the job stays
   * `running`: given back, it resumes at the next start or in another process). Its end (`done` or
   * `failed`, with its audit entry) is written only while the lease is still this service's.
   */
  async function runJob(job: DeleteJob, target: () => { scope: HistoryScope; filter: HistoryFilter }): Promise<void> {
    let batch = FIRST_JOB_BATCH;
    // The audit shows the filter as asked for, as a deletion done at once does: not the job's internal
    // scope and id bound (the bound is the newest id of every account at the time).
    const { __scopeUser: _scope, __upTo: _upTo, ...asked } = job.filter as Record<string, unknown>;
    const audit = { accountId: job.accountId, actor: job.actor, filter: asked };
    try {
      // A filter read back that no longer reads (a job of an older release) fails the job.
      const access = target();
      // Count up front only while it is cheap; past the cap the total is known when the job ends.
      const { count, exact } = await outgoing.count({ scope: access.scope, filter: access.filter, cap: JOB_COUNT_CAP });
      if (exact) await deletions.updateJob(job.id, { total: job.deleted + count, now: clock.now(), owner });
      while (!closing) {
        const started = performance.now();
        // The batch reads its ids itself, in its transaction (on SQLite, on the delete thread).
        const select = outgoing.findIdsQuery({ scope: access.scope, filter: access.filter, limit: batch });
        const result = await deletions.deleteJobBatch({ jobId: job.id, scope: access.scope, select, now: clock.now(), lease: lease() });
        // Another process runs it now (this one's lease ran out meanwhile): it ends it.
        if (result.lost) return;
        if (result.found === 0) break;
        // The next batch aims at the budget (finding the ids included), changing at most twofold at a time.
        const took = Math.max(performance.now() - started, 0.1);
        const aimed = (batch * budget) / took;
        batch = Math.round(Math.min(MAX_JOB_BATCH, Math.max(MIN_JOB_BATCH, batch / 2, Math.min(batch * 2, aimed))));
        // Requests that arrived meanwhile run before the next batch.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (closing) return;
      await deletions.finishJob({ id: job.id, owner, now: clock.now(), status: 'done', audit });
    } catch (error) {
      deps.log?.('delete job failed', { jobId: job.id, err: error });
      try {
        await deletions.finishJob({
          id: job.id,
          owner,
          now: clock.now(),
          status: 'failed',
          error: error instanceof Error ? error.message : String(error),
          audit,
        });
      } catch (again) {
        // Left running: another process (or the next start) takes it over once its lease runs out.
        deps.log?.('writing the end of a failed delete job failed', { jobId: job.id, err: again });
      }
    }
  }

  /** Runs jobs claimed by this service (unless it already runs them), each with its filter read back. */
  function startClaimed(jobs: ClaimedDeleteJob[]): number {
    let started = 0;
    for (const job of jobs) {
      if (running.has(job.id)) continue;
      startJob(job, () => {
        const { __scopeUser, __upTo, ...raw } = job.filter as RawFilter & { __scopeUser?: string; __upTo?: unknown };
        const scope = { accountId: job.accountId, userLogin: typeof __scopeUser === 'string' ? __scopeUser : null };
        const filter = parseHistoryFilter(raw, job.timeZone);
        // A job started before the bound was kept deletes as it did (everything matching).
        return { scope, filter: Number.isSafeInteger(__upTo) ? { ...filter, upTo: __upTo as number } : filter };
      });
      started++;
    }
    return started;
  }

  /** Claims the running jobs nobody runs (`anyLease`: every one) and runs them here. */
  async function claimAndStart(options: { anyLease?: boolean; jobId?: number } = {}): Promise<number> {
    if (closing) return 0;
    const jobs = await deletions.claimJobs({ lease: lease(), now: clock.now(), ...options });
    // Closed meanwhile: given back by `close`, or their lease runs out.
    return closing ? 0 : startClaimed(jobs);
  }

  function startJob(job: DeleteJob, target: () => { scope: HistoryScope; filter: HistoryFilter }): void {
    const promise = runJob(job, target).finally(() => running.delete(job.id));
    running.set(job.id, promise);
  }

  return {
    /** One page of the history, newest first unless `sort` says otherwise. */
    async list(access: AccountAccess, query: ListQuery): Promise<HistoryPage> {
      const filter = parse(access, query);
      const sort: HistorySort = parseSort(query.sort);
      const limit = query.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new AppError('VALIDATION_FAILED', 'limit must be between 1 and 1000');
      const scope = scopeOf(access);
      const fingerprint = queryFingerprint(sort, filter, scope.accountId, scope.userLogin);
      const cursor =
        typeof query.cursor === 'string' && query.cursor !== '' ? decodeCursor(query.cursor, fingerprint, sort.key === 'date') : null;
      if (query.cursor !== undefined && typeof query.cursor !== 'string') throw new AppError('INVALID_CURSOR', 'cursor must be a string');
      const [page, total] = await Promise.all([
        outgoing.list({ scope, filter, sort, cursor, limit }),
        outgoing.count({ scope, filter, cap: filter.q ? TEXT_TOTAL_CAP : TOTAL_COUNT_CAP }),
      ]);
      const first = page.rows[0];
      const last = page.rows[page.rows.length - 1];
      const forwardMore = cursor?.way === 'before' ? true : page.more;
      const backwardMore = cursor === null ? false : cursor.way === 'before' ? page.more : true;
      // An empty page past a cursor (the rows beyond it were deleted meanwhile) still leads back: to the
      // rows on the cursor's side, the cursor's own row included (its id moved by one, beyond it in the order).
      const back =
        cursor && page.rows.length === 0
          ? encodeCursor(
              {
                way: cursor.way === 'after' ? 'before' : 'after',
                value: cursor.value,
                id: cursor.id + ((cursor.way === 'after') === (sort.direction === 'asc') ? 1 : -1),
              },
              fingerprint,
            )
          : null;
      return {
        data: page.rows,
        nextCursor:
          last && forwardMore
            ? encodeCursor({ way: 'after', value: sortValueOf(last, sort), id: last.id }, fingerprint)
            : cursor?.way === 'before'
              ? back
              : null,
        prevCursor:
          first && backwardMore
            ? encodeCursor({ way: 'before', value: sortValueOf(first, sort), id: first.id }, fingerprint)
            : cursor?.way === 'after'
              ? back
              : null,
        total: total.count,
        totalIsExact: total.exact,
      };
    },

    /** The exact number of messages matching the filter (may be slow on huge histories). */
    async count(access: AccountAccess, query: RawFilter): Promise<number> {
      const { count } = await outgoing.count({ scope: scopeOf(access), filter: parse(access, query), cap: Number.MAX_SAFE_INTEGER });
      return count;
    },

    /** The SMS user logins of the history (deleted users' included), sorted: the Manager's user filter. */
    async userLogins(access: AccountAccess): Promise<string[]> {
      return outgoing.userLogins(scopeOf(access), HISTORY_USER_LOGINS_MAX);
    },

    async get(access: AccountAccess, id: number): Promise<Outgoing> {
      const found = await outgoing.findById(scopeOf(access), id);
      if (!found) throw new AppError('MESSAGE_NOT_FOUND', `No message ${id} in ${access.account.name}`);
      return found;
    },

    /** One pending message of the scope (a job still to be sent); a sent one, or none, is MESSAGE_NOT_FOUND. */
    async getPending(access: AccountAccess, id: number): Promise<Outgoing> {
      const found = await outgoing.findById(scopeOf(access), id);
      if (found?.status !== 'pending') throw new AppError('MESSAGE_NOT_FOUND', `No pending message ${id} in ${access.account.name}`);
      return found;
    },

    /** Deletes one message (a pending one is canceled and its credits given back). */
    async deleteOne(access: AccountAccess, id: number): Promise<void> {
      const { deleted } = await this.deleteIds(access, [id]);
      if (deleted === 0) throw new AppError('MESSAGE_NOT_FOUND', `No message ${id} in ${access.account.name}`);
    },

    /** Deletes the listed messages of the account (ids it does not have are ignored) and audits it (when any was). */
    async deleteIds(access: AccountAccess, ids: number[]): Promise<{ deleted: number; refundedCredits: number }> {
      if (ids.length > MAX_DELETE_IDS)
        throw new AppError('TOO_MANY_IDS', `at most ${MAX_DELETE_IDS} ids at once; delete by filter for more`);
      const unique = [...new Set(ids)];
      const result = await outgoing.deleteIds(scopeOf(access), unique, clock.now());
      if (result.deleted.length === 0) return { deleted: 0, refundedCredits: 0 };
      await deletions.insertAudit({
        accountId: access.account.id,
        actor: access.actor,
        kind: 'ids',
        createdAt: clock.now(),
        count: result.deleted.length,
        ids: result.deleted,
        filter: null,
        deleteJobId: null,
      });
      return { deleted: result.deleted.length, refundedCredits: result.refunded };
    },

    /**
     * Cancels one pending message that no dispatcher holds (SMPP cancel_sm): deleted, credits given back,
     * audited as a deletion; otherwise nothing changes and the answer says why.
     */
    async cancelPending(access: AccountAccess, id: number): Promise<'canceled' | 'not-found' | 'not-pending' | 'held'> {
      const outcome = await outgoing.cancelPending(scopeOf(access), id, clock.now());
      if (outcome === 'canceled') {
        await deletions.insertAudit({
          accountId: access.account.id,
          actor: access.actor,
          kind: 'ids',
          createdAt: clock.now(),
          count: 1,
          ids: [id],
          filter: null,
          deleteJobId: null,
        });
      }
      return outcome;
    },

    /**
     * Redacts the listed messages of the account (ids it does not have are ignored): texts erased,
     * receivers masked, the rest kept; pending ones are left (they are still to be sent). Audited.
     */
    async redactIds(access: AccountAccess, ids: number[]): Promise<{ redacted: number; pending: number[] }> {
      if (ids.length > MAX_DELETE_IDS) throw new AppError('TOO_MANY_IDS', `at most ${MAX_DELETE_IDS} ids at once`);
      const result = await outgoing.redactIds(scopeOf(access), [...new Set(ids)], clock.now());
      // Nothing redacted (ids of no message of the caller's): nothing to audit.
      if (result.redacted.length === 0) return { redacted: 0, pending: result.pending };
      await deletions.insertAudit({
        accountId: access.account.id,
        actor: access.actor,
        kind: 'redact',
        createdAt: clock.now(),
        count: result.redacted.length,
        ids: result.redacted,
        filter: null,
        deleteJobId: null,
      });
      return { redacted: result.redacted.length, pending: result.pending };
    },

    /**
     * Deletes everything matching the filter. Small deletions are done before answering
     * (`{ deleted }`); larger ones run as a background job in bounded batches (`{ job }`).
     * `auditEmpty: false` (the privacy keeper's hourly runs) writes no audit entry when nothing matched.
     */
    async deleteByFilter(
      access: AccountAccess,
      raw: RawFilter,
      options: { auditEmpty?: boolean } = {},
    ): Promise<{ deleted: number } | { job: DeleteJob }> {
      // The messages that exist now: those sent while it runs are not deleted (nor, pending, canceled).
      const filter = { ...parse(access, raw), upTo: await outgoing.maxId() };
      const scope = scopeOf(access);
      const { exact } = await outgoing.count({ scope, filter, cap: SYNC_DELETE_LIMIT });
      if (exact) {
        let deleted = 0;
        while (true) {
          const ids = await outgoing.findIds({ scope, filter, limit: 1000 });
          if (ids.length === 0) break;
          deleted += (await outgoing.deleteIds(scope, ids, clock.now())).deleted.length;
        }
        if (deleted === 0 && options.auditEmpty === false) return { deleted };
        await deletions.insertAudit({
          accountId: access.account.id,
          actor: access.actor,
          kind: 'filter',
          createdAt: clock.now(),
          count: deleted,
          ids: null,
          filter: raw as Record<string, unknown>,
          deleteJobId: null,
        });
        return { deleted };
      }
      const job = await deletions.createJob({
        accountId: access.account.id,
        actor: access.actor,
        filter: { ...raw, ...scopeFilter(scope), __upTo: filter.upTo },
        now: clock.now(),
        lease: lease(),
      });
      startJob(job, () => ({ scope, filter }));
      return { job };
    },

    /** A deletion job of the account; an SMS user's access sees its own jobs only. */
    async getDeleteJob(access: AccountAccess, id: number): Promise<DeleteJob> {
      const job = await deletions.findJob(access.account.id, id);
      if (!job || (access.userLogin !== null && job.filter.__scopeUser !== access.userLogin)) {
        throw new AppError('DELETE_JOB_NOT_FOUND', `No delete job ${id} in ${access.account.name}`);
      }
      return job;
    },

    /** Waits for a background deletion of this process to finish (tests, CLI). */
    async waitForDeleteJob(id: number): Promise<void> {
      await running.get(id);
    },

    /** The account's deletion audit: the account's owner's and account-wide tokens' (it names every user's deletions). */
    async listAudit(access: AccountAccess, limit = 100): Promise<DeletionAudit[]> {
      if (access.userLogin !== null) {
        throw new AppError('FORBIDDEN', "The deletion audit is the whole account's: read it with an account token or in the Manager");
      }
      return deletions.listAudit(access.account.id, limit);
    },

    /**
     * The ids of the filtered history, newest first, in keyset batches (constant memory), each with what
     * OVH's codes derive from (the OVH-compatible API's id lists). The filter is checked before this
     * returns (a bad one throws here).
     */
    streamIds(access: AccountAccess, query: RawFilter): AsyncGenerator<OutgoingIdRow[]> {
      return outgoing.streamIds({ scope: scopeOf(access), filter: parse(access, query) });
    },

    /** Batches of the filtered history for an export: `limit` rows at most (null: all), in `sort` order. */
    export(access: AccountAccess, query: RawFilter & { sort?: unknown }, limit: number | null): AsyncGenerator<Outgoing[]> {
      const filter = parse(access, query);
      const sort = parseSort(query.sort);
      return outgoing.stream({ scope: scopeOf(access), filter, sort, limit });
    },

    /**
     * The text of an export in chunks with their row counts: CSV in the seed's format or every field
     * (`detailed`), or JSON lines. The filter is checked before this returns (a bad one throws here).
     * The largest seed exports (every match, by date, filtered at most by dates and one user or status)
     * get their lines made by the database (`OutgoingRepository.seedCsv`); the others are formatted
     * here, the seed format from lean rows (a third of the columns).
     */
    exportText(access: AccountAccess, query: RawFilter & { sort?: unknown }, options: ExportTextOptions): AsyncGenerator<ExportChunk> {
      const { format, limit } = options;
      const filter = parse(access, query);
      const sort = parseSort(query.sort);
      const args = { scope: scopeOf(access), filter, sort, limit };
      const timeZone = access.account.timezone;
      if (format === 'jsonl') {
        const fmt = getTimeFormatter(timeZone);
        return formattedChunks(outgoing.stream(args), { header: '', row: (o) => jsonLine(o, fmt) });
      }
      if (format === 'detailed') return formattedChunks(outgoing.stream(args), createCsvFormatter('detailed', timeZone));
      const seed = createSeedCsvFormatter(timeZone);
      const made = outgoing.seedCsv(args, timeZone);
      return made ? madeChunks(seed.header, made) : formattedChunks(outgoing.streamLean(args), seed);
    },

    /**
     * Resumes the delete jobs a stopped process left running (called at start): those nobody runs (given
     * back by a graceful stop, or whose lease ran out). On SQLite, where one process serves the database,
     * every running job: the lease of a process killed a moment ago is not waited for.
     */
    async resumeDeleteJobs(): Promise<number> {
      return claimAndStart({ anyLease: deletions.dialect === 'sqlite' });
    },

    /**
     * Resumes the delete jobs left running now (`resumeDeleteJobs`), then every third of `leaseMs` takes
     * over those whose lease ran out (their process died, or stopped while another one ran): a job never
     * stays `running` for ever while one process does this. `leaseMs` is this service's lease on the jobs
     * it runs from now on. Stopped by `close`. Answers how many jobs it resumed at once.
     */
    async takeOverDeleteJobs(
      options: { leaseMs?: number; onTakenOver?: (jobs: number) => void; onError?: (error: unknown) => void } = {},
    ): Promise<number> {
      if (options.leaseMs !== undefined) leaseMs = options.leaseMs;
      const resumed = await claimAndStart({ anyLease: deletions.dialect === 'sqlite' });
      if (takeover || closing) return resumed;
      const tick = () => {
        if (takeover === null || takeover.busy) return;
        const busy = claimAndStart()
          .then((jobs) => {
            if (jobs > 0) options.onTakenOver?.(jobs);
          })
          .catch((error: unknown) => options.onError?.(error))
          .finally(() => {
            if (takeover) takeover.busy = null;
          });
        takeover.busy = busy;
      };
      takeover = { timer: setInterval(tick, Math.max(100, Math.floor(leaseMs / 3))), busy: null };
      takeover.timer.unref();
      return resumed;
    },

    /**
     * Takes over one running job nobody runs (its lease ran out) and runs it here: true if it does
     * (or already did), false when another process runs it or it no longer runs.
     */
    async takeOverDeleteJob(id: number): Promise<boolean> {
      if (running.has(id)) return true;
      return (await claimAndStart({ jobId: id })) > 0;
    },

    /**
     * Stops background work; running jobs stay `running`, given back (their lease ended) so that another
     * process, or this one's next start, resumes them.
     */
    async close(): Promise<void> {
      closing = true;
      if (takeover) {
        clearInterval(takeover.timer);
        await takeover.busy;
        takeover = null;
      }
      await Promise.allSettled(running.values());
      try {
        await deletions.releaseJobs(owner);
      } catch (error) {
        // Their leases run out by themselves.
        deps.log?.('giving back delete jobs failed', { err: error });
      }
      await deletions.close();
      await outgoing.close();
    },
  };
}

function scopeFilter(scope: HistoryScope): Record<string, unknown> {
  return scope.userLogin === null ? {} : { __scopeUser: scope.userLogin };
}

export type HistoryService = ReturnType<typeof createHistoryService>;
