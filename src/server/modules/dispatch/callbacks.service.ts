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

/**
 * `url` with the callback parameters appended to its query string; the customer's own query is kept as
 * written (a signed or exact-match URL still matches), as OVH only appends its parameters.
 */
export function callbackUrl(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  const added = new URLSearchParams(params).toString();
  u.search = u.search.length > 1 ? `${u.search.slice(1)}&${added}` : added;
  return u.toString();
}

/** `url` as log lines show it: without the user name and password it may hold. */
export function loggableUrl(url: string | null): string | null {
  if (url === null) return null;
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
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
  repository: Pick<CallbacksRepository, 'claimDue' | 'completeAll' | 'retryLater' | 'drop' | 'release'>;
  clock: Clock;
  /** Unique per process: the lease owner of claimed rows. */
  owner: string;
  log: DispatchLog;
  /** The HTTP client (default: `createCallbackClient(concurrency, { allowPrivate })`, closed by `stop`). */
  get?: CallbackGet;
  /** Whether callbacks may reach loopback and private addresses (config `callbackPrivate`; default false). */
  allowPrivate?: boolean;
  /** Calls in flight at most (default 128; 64 to one URL). */
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
  /** How long a URL that left a call unanswered (timeout) is not called (default 30 s). */
  suspendMs?: number;
  /** A URL none of whose calls in flight ended for this long (real time) is left out of claims (default 1 s). */
  stallMs?: number;
}

/**
 * Delivers the callback outbox: GET `url?id=…&ptt=…&date=…&description=…&descriptionDlr=…&status=…&tag=…`,
 * a 2xx answer ends it; anything else (or no answer within `timeoutMs`) is retried with back-off
 * until 24 hours after the status change, then dropped with a log line; a URL refused as private
 * (unless `allowPrivate`) is dropped at once. In order per message (the
 * repository only hands out a message's oldest row). Its own loop: never blocks the dispatcher.
 * Up to `concurrency` calls at once over keep-alive connections; claims in batches (an eighth of
 * `concurrency` at least, unless idle), deleting the rows delivered meanwhile in the same transaction.
 *
 * One receiver cannot hold the others up: at most half of `concurrency` calls to one URL at once (the
 * rows claimed beyond wait in hand; calls and rows in hand together at most `concurrency`); a URL none of
 * whose calls ended for `stallMs` gives its rows in hand back and is left out of claims until one ends;
 * a URL that leaves a call unanswered is suspended for `suspendMs` (its rows in hand given back,
 * unattempted, for then).
 */
export function createCallbacksWorker(deps: CallbacksWorkerDeps) {
  const { repository, clock, owner, log } = deps;
  const concurrency = deps.concurrency ?? 128;
  /** Calls in flight to one URL at most: the other half is always there for the other receivers. */
  const perUrl = Math.max(1, Math.floor(concurrency / 2));
  // Sockets are pooled by host: several customers' URLs on one host must not share one URL's share.
  const client = deps.get ? null : createCallbackClient(concurrency, { allowPrivate: deps.allowPrivate });
  const get = deps.get ?? client!.get;
  /** Claims wait until this many calls can start (or none is running): fewer, larger claims. */
  const minClaim = Math.max(1, Math.floor(concurrency / 8));
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const leaseMs = deps.leaseMs ?? 60_000;
  const pollMs = deps.pollMs ?? 500;
  const retryDelay = deps.retryDelay ?? callbackRetryDelayMs;
  const maxAgeMs = deps.maxAgeMs ?? CALLBACK_MAX_AGE_MS;
  const suspendMs = deps.suspendMs ?? 30_000;

  // ---- fairness between receivers ----
  /** Calls in flight by URL. */
  const callsTo = new Map<string, number>();
  /** Claimed rows waiting for a call slot of their URL, with when they were claimed. */
  const inHand = new Map<string, { c: DueCallback; claimedAt: number }[]>();
  /** URLs not called until the time given (a call to them went unanswered); at most MAX_SUSPENDED kept. */
  const suspended = new Map<string, number>();
  const MAX_SUSPENDED = 1000;

  /** Real time (performance.now) of each URL's last call ended, or of its first call in flight since. */
  const progress = new Map<string, number>();
  /** URLs with calls in flight and none ended for `stallMs`: left out of claims until one ends. */
  const stalled = new Set<string>();
  const stallMs = deps.stallMs ?? 1000;

  /** Rows in hand, all URLs together. */
  function inHandCount(): number {
    let n = 0;
    for (const waiting of inHand.values()) n += waiting.length;
    return n;
  }

  /** A URL whose calls stopped ending gives its rows in hand back (for other workers, or later) and is left out. */
  function checkStalls(): void {
    const now = performance.now();
    for (const [url, waiting] of inHand) {
      const since = progress.get(url);
      if (since === undefined || now - since <= stallMs) continue;
      stalled.add(url);
      inHand.delete(url);
      void giveBack(
        waiting.map((w) => w.c),
        clock.now(),
      );
      log.info({ url: loggableUrl(url), givenBack: waiting.length }, 'callback: URL slow to answer, its rows in hand given back');
    }
  }

  /** The URLs claims leave out now: the suspended and the stalled ones. */
  function urlsToLeave(now: number): string[] {
    for (const [url, until] of suspended) if (until <= now) suspended.delete(url);
    return [...new Set([...suspended.keys(), ...stalled])];
  }

  /** Gives rows back unattempted (a suspended URL's, those held too long, all of them on stop). */
  function giveBack(rows: readonly DueCallback[], nextAttemptAt: number): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return repository
      .release(
        owner,
        rows.map((c) => c.id),
        nextAttemptAt,
      )
      .catch((error: unknown) => log.error({ err: error }, 'callback: could not give rows back (their lease will run out)'));
  }

  function suspend(url: string): void {
    const until = clock.now() + suspendMs;
    if (!suspended.has(url) && suspended.size >= MAX_SUSPENDED) suspended.delete(suspended.keys().next().value as string);
    suspended.set(url, until);
    const waiting = inHand.get(url) ?? [];
    inHand.delete(url);
    void giveBack(
      waiting.map((w) => w.c),
      until,
    );
    log.warn({ url: loggableUrl(url), untilMs: until, givenBack: waiting.length }, 'callback: URL left a call unanswered, suspended');
  }

  /** A claimed row: called now, kept in hand until its URL has a free slot, given back, or dropped. */
  function route(c: DueCallback, now: number): void {
    if (c.url === null) {
      void repository
        .drop(c.id)
        .then(() => log.info({ callback: c.id, id: c.outgoingId }, 'callback: dropped, no callback URL any more'))
        .catch((error: unknown) => log.error({ err: error, callback: c.id }, 'callback: could not drop'));
      return;
    }
    const until = suspended.get(c.url);
    if (until !== undefined && until > now) {
      void giveBack([c], until);
    } else if ((callsTo.get(c.url) ?? 0) < perUrl) {
      launch(c, c.url);
    } else {
      const waiting = inHand.get(c.url) ?? [];
      waiting.push({ c, claimedAt: now });
      inHand.set(c.url, waiting);
    }
  }

  /** A call to `url` ended: the next row in hand for it, unless held so long its lease may run out. */
  function next(url: string): void {
    const waiting = inHand.get(url);
    if (!waiting) return;
    const now = clock.now();
    while (waiting.length > 0 && (callsTo.get(url) ?? 0) < perUrl) {
      const w = waiting.shift()!;
      if (now - w.claimedAt > leaseMs / 2) void giveBack([w.c], now);
      else launch(w.c, url);
    }
    if (waiting.length === 0) inHand.delete(url);
  }

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

  async function call(c: DueCallback, url: string): Promise<string | null> {
    try {
      const status = await get(callbackUrl(url, c.params), timeoutMs);
      return status >= 200 && status < 300 ? null : `HTTP ${status}`;
    } catch (error) {
      const e = error as Error & { code?: string };
      if (e.code === 'TIMEOUT') {
        suspend(url);
        return `no answer within ${timeoutMs} ms`;
      }
      return e.code ?? e.message ?? String(error);
    }
  }

  async function deliver(c: DueCallback, url: string): Promise<void> {
    const error = await call(c, url);
    // The URL's slot is free as soon as it answered (its row's deletion or retry is recorded meanwhile).
    callEnded(url);
    if (error === null) {
      await complete(c.id);
      log.debug({ callback: c.id, id: c.outgoingId, status: c.params.status }, 'callback: delivered');
      return;
    }
    if (error === 'PRIVATE_ADDRESS') {
      // Refused by the SSRF guard: no later attempt would be allowed either.
      await repository.drop(c.id);
      log.warn(
        { callback: c.id, id: c.outgoingId, url: loggableUrl(url) },
        'callback: dropped, its URL names a loopback or private address',
      );
      return;
    }
    const now = clock.now();
    const attempts = c.attempts + 1;
    const deadline = c.createdAt + maxAgeMs;
    if (now >= deadline) {
      await repository.drop(c.id);
      log.warn(
        { callback: c.id, id: c.outgoingId, url: loggableUrl(url), attempts, error },
        'callback: given up after 24 hours without a 2xx answer',
      );
      return;
    }
    await repository.retryLater(owner, c.id, { attempts, error, nextAttemptAt: Math.min(now + retryDelay(attempts), deadline) });
    log.debug({ callback: c.id, id: c.outgoingId, attempts, error }, 'callback: failed, will retry');
  }

  function launch(c: DueCallback, url: string): void {
    active++;
    const calls = callsTo.get(url) ?? 0;
    if (calls === 0) progress.set(url, performance.now());
    callsTo.set(url, calls + 1);
    void deliver(c, url)
      .catch((error: unknown) => log.error({ err: error, callback: c.id }, 'callback: could not record the attempt'))
      .finally(() => {
        active--;
        for (const w of activeWaiters) w();
        signal();
      });
  }

  /** A call to `url` got its answer (or none): its slot goes to the next row in hand for that URL. */
  function callEnded(url: string): void {
    stalled.delete(url);
    const left = (callsTo.get(url) ?? 1) - 1;
    if (left > 0) {
      callsTo.set(url, left);
      progress.set(url, performance.now());
    } else {
      callsTo.delete(url);
      progress.delete(url);
    }
    next(url);
  }

  /**
   * Set when a claim that left URLs out found fewer rows than it could take: the rows due may all be those
   * URLs', and a claim walks past every one of them. Claims wait then for new rows (`wake`), a URL taken
   * back, or `pollMs` — the delivered rows meanwhile deleted on their own.
   */
  let dry: { leaving: number; at: number } | null = null;
  let woken = false;

  async function loop(): Promise<void> {
    while (running) {
      // Calls still running; those delivered wait only for their rows to be deleted, here. Rows in hand
      // take room too: each claim is bounded by what can be called soon.
      const calling = active - completions.length;
      checkStalls();
      const room = concurrency - calling - inHandCount();
      if (completions.length === 0 && room < minClaim && calling > 0) {
        await idle(pollMs);
        continue;
      }
      const now = clock.now();
      const leave = urlsToLeave(now);
      if (dry && !woken && leave.length >= dry.leaving && performance.now() - dry.at < pollMs) {
        if (completions.length > 0) await flushCompletions();
        else await idle(pollMs);
        continue;
      }
      woken = false;
      const done = completions;
      completions = [];
      let due: DueCallback[];
      try {
        due = await repository.claimDue(
          owner,
          now,
          room,
          leaseMs,
          done.map((c) => c.id),
          leave,
        );
        dry = leave.length > 0 && due.length < room ? { leaving: leave.length, at: performance.now() } : null;
        for (const c of done) c.resolve();
      } catch (error) {
        for (const c of done) c.reject(error);
        log.error({ err: error }, 'callback: claim failed');
        await idle(pollMs);
        continue;
      }
      const routedAt = clock.now();
      for (const c of due) route(c, routedAt);
      if (due.length < room && completions.length === 0) await idle(pollMs);
    }
    await flushCompletions();
    // The rows in hand are free for another worker at once.
    const waiting = [...inHand.values()].flat().map((w) => w.c);
    inHand.clear();
    await giveBack(waiting, clock.now());
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      loopDone = loop().catch((error: unknown) => log.error({ err: error }, 'callback: loop crashed'));
    },

    /** Looks for due callbacks now (the dispatcher calls it after queuing some). */
    wake(): void {
      woken = true;
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
