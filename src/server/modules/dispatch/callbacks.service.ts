import type { Clock } from '../../clock.js';
import type { CallbacksRepository, DueCallback } from './callbacks.repository.js';
import type { DispatchLog } from './dispatcher.service.js';
import { createWaker } from './waker.js';

/** How long a callback is retried after the status change that queued it (OVH-COMPAT §5: 24 hours). */
export const CALLBACK_MAX_AGE_MS = 24 * 3_600_000;

/** Back-off between attempts of one callback: 2 s, 4 s, 8 s … at most 15 minutes. */
export function callbackRetryDelayMs(attempts: number): number {
  return Math.min(2000 * 2 ** Math.max(0, attempts - 1), 15 * 60_000);
}

/** `url` with the callback parameters appended to its query string. */
export function callbackUrl(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.append(k, v);
  return u.toString();
}

export interface CallbacksWorkerDeps {
  repository: Pick<CallbacksRepository, 'claimDue' | 'complete' | 'retryLater' | 'drop'>;
  clock: Clock;
  /** Unique per process: the lease owner of claimed rows. */
  owner: string;
  log: DispatchLog;
  /** The HTTP client (Node's fetch by default). */
  fetch?: typeof fetch;
  /** Calls in flight at most (default 16). */
  concurrency?: number;
  /** Per call (default 10 s). */
  timeoutMs?: number;
  /** How long a claim holds (default 60 s; longer than a call can take). */
  leaseMs?: number;
  /** Idle poll interval (default 500 ms); `wake()` cuts it short. */
  pollMs?: number;
  /** Delay before the next attempt, by attempts made (default `callbackRetryDelayMs`). */
  retryDelay?: (attempts: number) => number;
  /** Given up after this long (default 24 h). */
  maxAgeMs?: number;
}

/**
 * Delivers the callback outbox: GET `url?id=…&ptt=…&date=…&description=…&descriptionDlr=…&status=…&tag=…`,
 * a 2xx answer ends it; anything else (or no answer within `timeoutMs`) is retried with back-off
 * until 24 hours after the status change, then dropped with a log line. In order per message (the
 * repository only hands out a message's oldest row). Its own loop: never blocks the dispatcher.
 */
export function createCallbacksWorker(deps: CallbacksWorkerDeps) {
  const { repository, clock, owner, log } = deps;
  const doFetch = deps.fetch ?? fetch;
  const concurrency = deps.concurrency ?? 16;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const leaseMs = deps.leaseMs ?? 60_000;
  const pollMs = deps.pollMs ?? 500;
  const retryDelay = deps.retryDelay ?? callbackRetryDelayMs;
  const maxAgeMs = deps.maxAgeMs ?? CALLBACK_MAX_AGE_MS;

  let running = false;
  let active = 0;
  let loopDone: Promise<void> = Promise.resolve();
  const { signal, idle } = createWaker();
  const activeWaiters = new Set<() => void>();


  async function call(c: DueCallback): Promise<string | null> {
    try {
      const res = await doFetch(callbackUrl(c.url, c.params), {
        method: 'GET',
        signal: AbortSignal.timeout(timeoutMs),
        headers: { 'user-agent': 'Relais-callback/1' },
      });
      await res.body?.cancel().catch(() => {});
      return res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}`;
    } catch (error) {
      const e = error as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
      return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
    }
  }

  async function deliver(c: DueCallback): Promise<void> {
    const error = await call(c);
    if (error === null) {
      await repository.complete(c.id);
      log.debug({ callback: c.id, id: c.outgoingId, status: c.params.status }, 'callback: delivered');
      return;
    }
    const now = clock.now();
    const attempts = c.attempts + 1;
    const deadline = c.createdAt + maxAgeMs;
    if (now >= deadline) {
      await repository.drop(c.id);
      log.warn({ callback: c.id, id: c.outgoingId, url: c.url, attempts, error }, 'callback: given up after 24 hours without a 2xx answer');
      return;
    }
    await repository.retryLater(owner, c.id, { attempts, error, nextAttemptAt: Math.min(now + retryDelay(attempts), deadline) });
    log.debug({ callback: c.id, id: c.outgoingId, attempts, error }, 'callback: failed, will retry');
  }

  function launch(c: DueCallback): void {
    active++;
    void deliver(c)
      .catch((error: unknown) => log.error({ err: error, callback: c.id }, 'callback: could not record the attempt'))
      .finally(() => {
        active--;
        for (const w of activeWaiters) w();
        signal();
      });
  }

  async function loop(): Promise<void> {
    while (running) {
      const room = concurrency - active;
      if (room <= 0) {
        await idle(pollMs);
        continue;
      }
      let due: DueCallback[];
      try {
        due = await repository.claimDue(owner, clock.now(), room, leaseMs);
      } catch (error) {
        log.error({ err: error }, 'callback: claim failed');
        await idle(pollMs);
        continue;
      }
      for (const c of due) launch(c);
      if (due.length < room) await idle(pollMs);
    }
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      loopDone = loop().catch((error: unknown) => log.error({ err: error }, 'callback: loop crashed'));
    },

    /** Looks for due callbacks now (the dispatcher calls it after queuing some). */
    wake(): void {
      if (running) signal();
    },

    /** Claims no more; waits up to `timeoutMs` for calls in flight (the rest return when their lease runs out). */
    async stop(waitMs = 5000): Promise<void> {
      if (!running) return;
      running = false;
      signal();
      await loopDone;
      const deadline = Date.now() + waitMs;
      while (active > 0 && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, Math.max(1, deadline - Date.now()));
          function done() {
            clearTimeout(t);
            activeWaiters.delete(done);
            resolve();
          }
          activeWaiters.add(done);
        });
      }
    },
  };
}

export type CallbacksWorker = ReturnType<typeof createCallbacksWorker>;
