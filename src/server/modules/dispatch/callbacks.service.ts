import http from 'node:http';
import https from 'node:https';
import type { Clock } from '../../clock.js';
import { privateHostOf, publicOnlyLookup } from './callback-address.js';
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

/** GETs `url`: resolves with the HTTP status, or rejects (no connection, no answer within `timeoutMs`: code `TIMEOUT`). */
export type CallbackGet = (url: string, timeoutMs: number) => Promise<number>;

/**
 * The callbacks' HTTP client: node:http(s) with keep-alive connections (at most `maxSockets` per host),
 * the answer's body discarded. A request on a reused connection that the server had just closed
 * (ECONNRESET) is tried once more on a new one. `close()` ends the idle connections.
 * Unless `allowPrivate` (RELAIS_CALLBACK_PRIVATE=allow), loopback and private addresses are refused
 * (SSRF): IP literals and `localhost` before connecting, names by the address they resolve to.
 */
export function createCallbackClient(maxSockets: number, options: { allowPrivate?: boolean } = {}): { get: CallbackGet; close(): void } {
  const lookup = options.allowPrivate ? {} : { lookup: publicOnlyLookup };
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets, ...lookup }),
    https: new https.Agent({ keepAlive: true, maxSockets, ...lookup }),
  };
  function once(url: URL, timeoutMs: number): Promise<number> {
    const refused = options.allowPrivate ? undefined : privateHostOf(url);
    if (refused !== undefined) {
      return Promise.reject(
        Object.assign(new Error(`${refused} is a private address: callbacks may not reach it`), { code: 'PRIVATE_ADDRESS' }),
      );
    }
    return new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const req = (secure ? https : http).request(url, {
        method: 'GET',
        agent: secure ? agents.https : agents.http,
        headers: { 'user-agent': 'Relais-callback/1' },
      });
      const timer = setTimeout(() => {
        req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' }));
      }, timeoutMs);
      req.once('response', (res) => {
        resolve(res.statusCode ?? 0);
        res.once('end', () => clearTimeout(timer));
        res.once('close', () => clearTimeout(timer));
        res.resume();
      });
      req.once('error', (err: Error & { code?: string }) => {
        clearTimeout(timer);
        reject(Object.assign(err, { reusedSocket: req.reusedSocket }));
      });
      req.end();
    });
  }
  return {
    async get(url, timeoutMs) {
      const u = new URL(url);
      try {
        return await once(u, timeoutMs);
      } catch (error) {
        const e = error as { code?: string; reusedSocket?: boolean };
        if (e.reusedSocket && e.code === 'ECONNRESET') return once(u, timeoutMs);
        throw error;
      }
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

export interface CallbacksWorkerDeps {
  repository: Pick<CallbacksRepository, 'claimDue' | 'completeAll' | 'retryLater' | 'drop'>;
  clock: Clock;
  /** Unique per process: the lease owner of claimed rows. */
  owner: string;
  log: DispatchLog;
  /** The HTTP client (default: `createCallbackClient(concurrency, { allowPrivate })`, closed by `stop`). */
  get?: CallbackGet;
  /** Whether callbacks may reach loopback and private addresses (config `callbackPrivate`; default false). */
  allowPrivate?: boolean;
  /** Calls in flight at most (default 64). */
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
 * until 24 hours after the status change, then dropped with a log line; a URL refused as private
 * (unless `allowPrivate`) is dropped at once. In order per message (the
 * repository only hands out a message's oldest row). Its own loop: never blocks the dispatcher.
 * Up to `concurrency` calls at once over keep-alive connections; claims in batches (a quarter of
 * `concurrency` at least, unless idle), deleting the rows delivered meanwhile in the same transaction.
 */
export function createCallbacksWorker(deps: CallbacksWorkerDeps) {
  const { repository, clock, owner, log } = deps;
  const concurrency = deps.concurrency ?? 64;
  const client = deps.get ? null : createCallbackClient(concurrency, { allowPrivate: deps.allowPrivate });
  const get = deps.get ?? client!.get;
  /** Claims wait until this many calls can start (or none is running): fewer, larger claims. */
  const minClaim = Math.max(1, Math.floor(concurrency / 4));
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

  // ---- completions: the delivered rows of a turn are deleted in the transaction of the next claim ----
  let completions: { id: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  let wakeScheduled = false;

  function complete(id: number): Promise<void> {
    return new Promise((resolve, reject) => {
      completions.push({ id, resolve, reject });
      if (wakeScheduled) return;
      wakeScheduled = true;
      // After this turn's I/O, so that the answers read meanwhile share one transaction.
      setImmediate(() => {
        wakeScheduled = false;
        if (running) signal();
        else void flushCompletions();
      });
    });
  }

  /** Deletes the delivered rows without claiming (the loop has stopped). */
  async function flushCompletions(): Promise<void> {
    const done = completions;
    completions = [];
    if (done.length === 0) return;
    try {
      await repository.completeAll(done.map((c) => c.id));
      for (const c of done) c.resolve();
    } catch (error) {
      for (const c of done) c.reject(error);
    }
  }

  async function call(c: DueCallback): Promise<string | null> {
    try {
      const status = await get(callbackUrl(c.url, c.params), timeoutMs);
      return status >= 200 && status < 300 ? null : `HTTP ${status}`;
    } catch (error) {
      const e = error as Error & { code?: string };
      if (e.code === 'TIMEOUT') return `no answer within ${timeoutMs} ms`;
      return e.code ?? e.message ?? String(error);
    }
  }

  async function deliver(c: DueCallback): Promise<void> {
    const error = await call(c);
    if (error === null) {
      await complete(c.id);
      log.debug({ callback: c.id, id: c.outgoingId, status: c.params.status }, 'callback: delivered');
      return;
    }
    if (error === 'PRIVATE_ADDRESS') {
      // Refused by the SSRF guard: no later attempt would be allowed either.
      await repository.drop(c.id);
      log.warn({ callback: c.id, id: c.outgoingId, url: c.url }, 'callback: dropped, its URL names a loopback or private address');
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
      // Calls still running; those delivered wait only for their rows to be deleted, here.
      const calling = active - completions.length;
      const room = concurrency - calling;
      if (completions.length === 0 && room < minClaim && calling > 0) {
        await idle(pollMs);
        continue;
      }
      const done = completions;
      completions = [];
      let due: DueCallback[];
      try {
        due = await repository.claimDue(
          owner,
          clock.now(),
          room,
          leaseMs,
          done.map((c) => c.id),
        );
        for (const c of done) c.resolve();
      } catch (error) {
        for (const c of done) c.reject(error);
        log.error({ err: error }, 'callback: claim failed');
        await idle(pollMs);
        continue;
      }
      for (const c of due) launch(c);
      if (due.length < room && completions.length === 0) await idle(pollMs);
    }
    await flushCompletions();
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
      client?.close();
    },
  };
}

export type CallbacksWorker = ReturnType<typeof createCallbacksWorker>;
