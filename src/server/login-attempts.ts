import { createHash } from 'node:crypto';
import type { Clock } from './clock.js';
import { clientOf } from './ip-address.js';
import type { SignInFailuresRepository } from './modules/auth/sign-in-failures.repository.js';
import { createTtlLruCache } from './ttl-cache.js';

/** How long a failed login counts against its client: a minute after the last one. */
export const LOGIN_FAILURE_WINDOW_MS = 60_000;

/** What one login attempt came to. */
export type LoginAttempt<T> =
  | { kind: 'checked'; outcome: T }
  /** Refused unchecked: the client's failures reached the limit; they are forgotten in `retryAfterSeconds`. */
  | { kind: 'limited'; retryAfterSeconds: number }
  /** The caller gave up while it waited for its turn (a connection closed). */
  | { kind: 'abandoned' };

export type LoginAttempts = ReturnType<typeof createLoginAttempts>;

/**
 * Failed logins by client (see `clientOf`), for a channel that checks SMS users' passwords (http2sms,
 * mail2sms, SMPP binds; each has its own budget): once a client's failures reach `limit`, its logins
 * are refused unchecked until a minute passes without another failure (0: no limit).
 *
 * Logins being checked count with the failures, so that guesses sent at once check no more passwords
 * than the limit: an attempt that would pass it waits for the checks in progress, then is checked or
 * refused. Concurrent logins of a client with no failures are never refused, only paced once their
 * number reaches the limit.
 */
export function createLoginAttempts(deps: {
  clock: Clock;
  limit: number;
  /** What counts the attempts of an `ip` given to `attempt` (default `clientOf`; the Manager's sign-in also counts by e-mail). */
  keyOf?: (ip: string) => string;
}) {
  const { clock, limit } = deps;
  const keyOf = deps.keyOf ?? clientOf;
  const failures = createTtlLruCache<{ count: number; until: number }>({ max: 10_000, ttlMs: LOGIN_FAILURE_WINDOW_MS, clock });
  /** Logins being checked, by client. */
  const checking = new Map<string, number>();
  /** Attempts waiting for the checks of their client to end, by client. */
  const waiting = new Map<string, (() => void)[]>();

  function ended(client: string): void {
    const left = (checking.get(client) ?? 1) - 1;
    if (left > 0) checking.set(client, left);
    else checking.delete(client);
    const queue = waiting.get(client);
    waiting.delete(client);
    for (const wake of queue ?? []) wake();
  }

  async function attempt<T extends { ok: boolean }>(
    ip: string,
    check: () => Promise<T>,
    abandoned?: () => boolean,
  ): Promise<LoginAttempt<T>> {
    if (limit <= 0) return { kind: 'checked', outcome: await check() };
    const client = keyOf(ip);
    for (;;) {
      const failed = failures.get(client);
      if (failed && failed.count >= limit)
        return { kind: 'limited', retryAfterSeconds: Math.max(1, Math.ceil((failed.until - clock.now()) / 1000)) };
      if ((failed?.count ?? 0) + (checking.get(client) ?? 0) < limit) break;
      await new Promise<void>((resolve) => {
        const queue = waiting.get(client) ?? [];
        queue.push(resolve);
        waiting.set(client, queue);
      });
      if (abandoned?.()) return { kind: 'abandoned' };
    }
    checking.set(client, (checking.get(client) ?? 0) + 1);
    try {
      const outcome = await check();
      if (!outcome.ok) {
        const count = (failures.get(client)?.count ?? 0) + 1;
        failures.set(client, { count, until: clock.now() + LOGIN_FAILURE_WINDOW_MS });
      }
      return { kind: 'checked', outcome };
    } finally {
      ended(client);
    }
  }

  return {
    /**
     * Runs `check` (a password check answering `{ ok }`) as one login attempt from `ip`, refused
     * unchecked once the client's failures reach the limit. An outcome that is not ok
     * counts as a failure; a check that throws does not (the database was down, not the password
     * wrong). `abandoned`, asked after each wait, ends an attempt nobody waits for any more (only
     * then can the answer be `abandoned`).
     */
    attempt: attempt as {
      <T extends { ok: boolean }>(ip: string, check: () => Promise<T>): Promise<Exclude<LoginAttempt<T>, { kind: 'abandoned' }>>;
      <T extends { ok: boolean }>(ip: string, check: () => Promise<T>, abandoned: () => boolean): Promise<LoginAttempt<T>>;
    },
  };
}

/** How often an attempt waiting for checks of its key in other processes asks the database again. */
const SHARED_WAIT_POLL_MS = 100;

/**
 * `createLoginAttempts` with its counts in the database (`sign_in_failures`), shared by every process
 * using it, for the Manager's sign-in: behind a load balancer, a client's failures on one process refuse
 * it on the others, and the checks in progress anywhere count with them, so that guesses sent at once to
 * several processes check no more passwords than the limit either. Each attempt reserves its check in
 * one atomic upsert (refused when failures and checks in progress reach the limit) and gives it back with
 * its outcome; a key nothing counts against is deleted, the rest once their window has passed (at most
 * one purge a minute by each instance). Checks begun by a process that died are forgotten a minute after
 * the last check of their key began. In one process it answers as `createLoginAttempts` does; it keeps
 * in memory only what saves work: the keys it saw refused (refused again without the database until
 * their wait ends: only time lifts a limit), and the attempts waiting for its own checks (woken when
 * they end; those waiting for another process's checks ask again every 100 ms).
 */
export function createSharedLoginAttempts(deps: {
  clock: Clock;
  /** The `sign_in_failures` table, where the counts are kept. */
  repository: SignInFailuresRepository;
  limit: number;
  /** Names what is counted ('client', 'email'): the keys of two scopes never meet. */
  scope: string;
  /** What counts the attempts of an `ip` given to `attempt` (default `clientOf`). */
  keyOf?: (ip: string) => string;
  /** How often a wait for another process's checks asks again (default 100 ms). */
  pollMs?: number;
}) {
  const { clock, repository, limit, scope } = deps;
  const keyOf = deps.keyOf ?? clientOf;
  const pollMs = deps.pollMs ?? SHARED_WAIT_POLL_MS;
  const W = LOGIN_FAILURE_WINDOW_MS;
  /** Keys the database said were refused, with the end of their wait. */
  const refused = createTtlLruCache<number>({ max: 10_000, ttlMs: W, clock });
  /** Attempts waiting for a check of their key to end, by key. */
  const waiting = new Map<string, Set<() => void>>();
  let purgedAt = Number.NEGATIVE_INFINITY;

  const rowKey = (key: string) => createHash('sha256').update(`${scope} ${key}`).digest('hex');
  const retryAfter = (until: number) => Math.max(1, Math.ceil((until - clock.now()) / 1000));

  /** Reserves a check of `key`, or tells why not: refused (until when), to wait for checks in progress, or to try again. */
  async function reserve(key: string): Promise<{ kind: 'reserved' } | { kind: 'refused'; until: number } | { kind: 'wait' | 'again' }> {
    const now = clock.now();
    if (now - purgedAt >= W) {
      purgedAt = now;
      await repository.deleteExpired(now - W);
    }
    if (await repository.reserveCheck(key, { now, since: now - W, limit })) return { kind: 'reserved' };
    const row = await repository.find(key);
    const failures = row && row.lastFailureAt > now - W ? row.failures : 0;
    if (row && failures >= limit) {
      const until = row.lastFailureAt + W;
      refused.set(key, until);
      return { kind: 'refused', until };
    }
    // Checks ended since the upsert (their end may have woken nobody yet): try again at once.
    const checking = row && row.checkingAt > now - W ? row.checking : 0;
    return { kind: failures + checking < limit ? 'again' : 'wait' };
  }

  /** Gives back a check of `key`, counting its failure; deletes the row when nothing counts any more. */
  async function release(key: string, failed: boolean): Promise<void> {
    const now = clock.now();
    if (failed) {
      const row = await repository.endCheckFailed(key, { now, since: now - W });
      if (row.failures >= limit) refused.set(key, row.lastFailureAt + W);
      return;
    }
    const row = await repository.endCheck(key);
    if (row && row.lastFailureAt <= now - W && (row.checking <= 0 || row.checkingAt <= now - W))
      await repository.deleteIfSpent(key, now - W);
  }

  /** Waits until a check of `key` ends here, or `pollMs` (it may have ended in another process). */
  function waitTurn(key: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const queue = waiting.get(key) ?? new Set<() => void>();
      waiting.set(key, queue);
      const wake = () => {
        clearTimeout(timer);
        queue.delete(wake);
        if (queue.size === 0 && waiting.get(key) === queue) waiting.delete(key);
        resolve();
      };
      const timer = setTimeout(wake, pollMs);
      queue.add(wake);
    });
  }

  function ended(key: string): void {
    for (const wake of [...(waiting.get(key) ?? [])]) wake();
  }

  async function attempt<T extends { ok: boolean }>(
    ip: string,
    check: () => Promise<T>,
    abandoned?: () => boolean,
  ): Promise<LoginAttempt<T>> {
    if (limit <= 0) return { kind: 'checked', outcome: await check() };
    const key = rowKey(keyOf(ip));
    for (;;) {
      const until = refused.get(key);
      if (until !== undefined && until > clock.now()) return { kind: 'limited', retryAfterSeconds: retryAfter(until) };
      const turn = await reserve(key);
      if (turn.kind === 'reserved') break;
      if (turn.kind === 'refused') return { kind: 'limited', retryAfterSeconds: retryAfter(turn.until) };
      if (turn.kind === 'again') continue;
      await waitTurn(key);
      if (abandoned?.()) return { kind: 'abandoned' };
    }
    let outcome: T;
    try {
      outcome = await check();
    } catch (error) {
      // The check failed, not the password: its reservation is given back (or forgotten in a minute).
      await release(key, false).catch(() => {});
      ended(key);
      throw error;
    }
    try {
      await release(key, !outcome.ok);
    } finally {
      ended(key);
    }
    return { kind: 'checked', outcome };
  }

  return {
    /** As `createLoginAttempts`' `attempt`, counted in the database. */
    attempt: attempt as {
      <T extends { ok: boolean }>(ip: string, check: () => Promise<T>): Promise<Exclude<LoginAttempt<T>, { kind: 'abandoned' }>>;
      <T extends { ok: boolean }>(ip: string, check: () => Promise<T>, abandoned: () => boolean): Promise<LoginAttempt<T>>;
    },
  };
}
