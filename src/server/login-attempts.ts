import type { Clock } from './clock.js';
import { clientOf } from './ip-address.js';
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
