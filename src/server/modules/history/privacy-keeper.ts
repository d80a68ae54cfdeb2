import { OUTGOING_STATUSES } from '../../../shared/status.js';
import type { Clock } from '../../clock.js';
import type { AccountAccess } from '../auth/principal.js';
import type { DeletionsRepository } from './deletions.repository.js';
import type { HistoryService } from './history.service.js';
import type { PrivacyLimits, PrivacyRepository, RedactionCursor } from './privacy.repository.js';

/** How the audit trail names the privacy keeper's deletions. */
export const RETENTION_ACTOR = 'system:retention';
/** How often `relais serve` applies the accounts' limits. */
export const PRIVACY_KEEPER_INTERVAL_MS = 3_600_000;
/** Its first run after the start. */
export const PRIVACY_KEEPER_FIRST_RUN_MS = 30_000;

const DAY_MS = 86_400_000;
/** Every status but `pending`: a message not handed to the carrier yet is never deleted by retention. */
const DELETABLE_STATUSES = OUTGOING_STATUSES.filter((s) => s !== 'pending').join(',');
/** Rows a redaction batch reads: the first one, and the bounds of the next ones (sized to the time budget). */
const FIRST_REDACTION_BATCH = 1_000;
const MIN_REDACTION_BATCH = 100;
const MAX_REDACTION_BATCH = 5_000;
/** A walk starts again from the oldest message this often (rows loaded with past dates, other processes). */
const FULL_WALK_EVERY_MS = DAY_MS;
/** Jobs younger than this keep their text whatever their messages: a transaction may still be writing one. */
const JOB_TEXT_MARGIN_MS = 10 * 60_000;

/** What one run did: per account with a limit, and to the texts jobs kept for sending. */
export interface PrivacyRun {
  accounts: AccountRun[];
  /** Texts forgotten from the jobs of accounts that store none, once sent. */
  jobTextsForgotten: number;
  /** Why forgetting them failed this time, if it did (tried again at the next run). */
  jobTextsError?: string;
}

/** What one run did to one account. */
export interface AccountRun {
  accountId: number;
  /** Messages deleted by retention (when a background job did it, once it ended). */
  deleted: number;
  /** Texts erased. */
  redacted: number;
  /** Why this account was left for the next run, if it was. */
  error?: string;
}

export interface PrivacyKeeperDeps {
  privacy: PrivacyRepository;
  history: HistoryService;
  deletions: DeletionsRepository;
  clock: Clock;
  /** Time a redaction batch may hold the database (ms); default: the deletions' batch budget. */
  batchBudgetMs?: number;
  /** Most rows a redaction batch reads (tests make it small). */
  maxBatch?: number;
}

/**
 * The accounts' retention and privacy limits, applied: for each account with `retention_days`, its
 * messages older than that and no longer pending are deleted through the history's deletion by filter
 * (bounded batches, a background job beyond a few thousand, one audit entry naming `system:retention`
 * and the filter; none when nothing matched); for each account with `redact_after_days`, the texts of
 * its older messages that are not pending are erased, in bounded transactions.
 *
 * Safe with several processes on one PostgreSQL: a run takes an advisory lock (a process finding it
 * taken skips its run), a retention job another process still runs (under its lease) is not started
 * again, one whose process died is taken over, and every
 * statement is idempotent. A redaction remembers, per account, how far every older message was erased
 * (only in memory: a walk from the oldest message happens at the first run and once a day), so that an
 * hourly run reads only the messages that aged meanwhile.
 */
export function createPrivacyKeeper(deps: PrivacyKeeperDeps) {
  const { privacy, history, deletions, clock } = deps;
  const budget = deps.batchBudgetMs ?? deletions.batchBudgetMs;
  const maxBatch = deps.maxBatch ?? MAX_REDACTION_BATCH;
  /** Per account: every message created before `before` that is not pending had its text erased (at `at`). */
  const redactedBefore = new Map<number, { before: number; at: number }>();
  let stopping = false;
  let stopped: () => void = () => {};
  const stoppedSignal = new Promise<void>((resolve) => {
    stopped = resolve;
  });

  async function applyRetention(limits: PrivacyLimits, days: number, now: number): Promise<number> {
    const { account } = limits;
    // A retention job of the account still running is not started again: left to the process whose lease
    // it is under, or, its lease run out (its process died), taken over here.
    const left = (await deletions.findRunningJobs(account.id)).find((j) => j.actor === RETENTION_ACTOR);
    if (left) {
      if (left.leaseOwner !== null && left.leaseUntil >= now) return 0;
      if (!(await history.takeOverDeleteJob(left.id))) return 0;
      return waitForJob(account.id, left.id);
    }
    // `to` is inclusive to the second: every message created before the second of the limit.
    const to = new Date(Math.floor((now - days * DAY_MS) / 1000) * 1000 - 1000).toISOString().replace('.000Z', 'Z');
    const access: AccountAccess = { account, userLogin: null, userId: null, actor: RETENTION_ACTOR };
    const result = await history.deleteByFilter(access, { to, status: DELETABLE_STATUSES }, { auditEmpty: false });
    if ('deleted' in result) return result.deleted;
    return waitForJob(account.id, result.job.id);
  }

  /** What a retention job deleted once it ended here: one job at a time, the next account waits for it (unless the process stops: the job resumes later). */
  async function waitForJob(accountId: number, jobId: number): Promise<number> {
    await Promise.race([history.waitForDeleteJob(jobId), stoppedSignal]);
    return (await deletions.findJob(accountId, jobId))?.deleted ?? 0;
  }

  async function applyRedaction(accountId: number, days: number, now: number): Promise<number> {
    const before = now - days * DAY_MS;
    const known = redactedBefore.get(accountId);
    const from = known && now - known.at < FULL_WALK_EVERY_MS ? known.before : 0;
    let after: RedactionCursor | null = null;
    let oldestPending: number | null = null;
    let redacted = 0;
    let scan = Math.min(FIRST_REDACTION_BATCH, maxBatch);
    while (!stopping) {
      const started = performance.now();
      const batch = await privacy.redactBatch({ accountId, before, from, after, scan, now });
      redacted += batch.redacted;
      if (batch.oldestPending !== null) oldestPending ??= batch.oldestPending;
      if (batch.scanned < scan || batch.last === null) {
        // Pending messages stay behind: the next run reads from the oldest one again.
        redactedBefore.set(accountId, { before: Math.min(before, oldestPending ?? before), at: known && from > 0 ? known.at : now });
        break;
      }
      after = batch.last;
      // The next batch aims at the budget, changing at most twofold at a time (as delete jobs do).
      const took = Math.max(performance.now() - started, 0.1);
      const aimed = (scan * budget) / took;
      scan = Math.round(Math.min(maxBatch, Math.max(MIN_REDACTION_BATCH, scan / 2, Math.min(scan * 2, aimed))));
      scan = Math.min(scan, maxBatch);
      // Requests that arrived meanwhile run before the next batch.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return redacted;
  }

  /** Every job before this id holds no text but those of `keptJobs` (in memory, as `redactedBefore`). */
  let textsForgottenBefore = { id: 0, at: 0 };

  /** Forgets the texts jobs of accounts that store none kept for sending, once sent (`forgetSentJobTexts`). */
  async function forgetSentJobTexts(now: number): Promise<number> {
    // Nothing to walk through the jobs for while every account stores its texts.
    if (!(await privacy.anyAccountWithoutTexts())) return 0;
    const from = now - textsForgottenBefore.at < FULL_WALK_EVERY_MS ? textsForgottenBefore.id : 0;
    let after = from;
    let firstKept: number | null = null;
    let forgotten = 0;
    while (!stopping) {
      const batch = await privacy.forgetSentJobTexts({ after, scan: maxBatch, createdBefore: now - JOB_TEXT_MARGIN_MS });
      forgotten += batch.forgotten;
      if (batch.firstKept !== null) firstKept ??= batch.firstKept;
      if (batch.last === null || batch.scanned < maxBatch) {
        textsForgottenBefore = {
          id: firstKept !== null ? firstKept - 1 : (batch.last ?? after),
          at: from > 0 ? textsForgottenBefore.at : now,
        };
        break;
      }
      after = batch.last;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return forgotten;
  }

  return {
    /**
     * Applies every account's limits once, at the clock's time. Null when another process's keeper is
     * running (PostgreSQL); otherwise what was done. An account whose work failed is reported with its
     * error and the others go on.
     */
    async runOnce(): Promise<PrivacyRun | null> {
      const outcome = await privacy.exclusive(async () => {
        const run: PrivacyRun = { accounts: [], jobTextsForgotten: 0 };
        for (const limits of await privacy.listAccountsWithLimits()) {
          if (stopping) break;
          const account: AccountRun = { accountId: limits.account.id, deleted: 0, redacted: 0 };
          run.accounts.push(account);
          try {
            // Deleted messages need no redaction: retention first.
            if (limits.retentionDays !== null) account.deleted = await applyRetention(limits, limits.retentionDays, clock.now());
            if (limits.redactAfterDays !== null && !stopping)
              account.redacted = await applyRedaction(limits.account.id, limits.redactAfterDays, clock.now());
          } catch (error) {
            account.error = error instanceof Error ? error.message : String(error);
          }
        }
        if (!stopping) {
          try {
            run.jobTextsForgotten = await forgetSentJobTexts(clock.now());
          } catch (error) {
            run.jobTextsError = error instanceof Error ? error.message : String(error);
          }
        }
        return run;
      });
      return outcome.ran ? outcome.result : null;
    },

    /** Stops between two batches; a retention job in progress is left to the history service's close. */
    stop(): void {
      stopping = true;
      stopped();
    },
  };
}

export type PrivacyKeeper = ReturnType<typeof createPrivacyKeeper>;

/**
 * Runs `keeper` every `intervalMs` (one run at a time), the first time `firstRunMs` after the start;
 * `close` stops it and waits for a run in progress to reach a batch's end.
 */
export function startPrivacyKeeper(
  keeper: PrivacyKeeper,
  options: {
    intervalMs?: number;
    firstRunMs?: number;
    onRun?: (run: PrivacyRun | null) => void;
    onError?: (message: string) => void;
  } = {},
): { close(): Promise<void> } {
  let running: Promise<void> | undefined;
  let closed = false;
  const run = () => {
    if (closed || running) return;
    running = keeper
      .runOnce()
      .then((run) => options.onRun?.(run))
      .catch((error: unknown) => options.onError?.(error instanceof Error ? error.message : String(error)))
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(run, options.firstRunMs ?? PRIVACY_KEEPER_FIRST_RUN_MS);
  const timer = setInterval(run, options.intervalMs ?? PRIVACY_KEEPER_INTERVAL_MS);
  first.unref();
  timer.unref();
  return {
    async close() {
      closed = true;
      clearTimeout(first);
      clearInterval(timer);
      keeper.stop();
      await running;
    },
  };
}
