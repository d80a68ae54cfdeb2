import { splitSms } from '../../../shared/sms-encoding.js';
import type { Clock } from '../../clock.js';
import type { Carrier, CarrierLog, CarrierMessage, Receipt, SubmitResult } from '../carriers/carrier.js';
import type { ClaimedMessage, DispatchOutcome, DispatchRepository, SettleResult } from './dispatch.repository.js';
import { createWaker } from './waker.js';

/** The logger the dispatcher writes to; a pino logger fits. */
export type DispatchLog = CarrierLog;

/** Back-off of a message the carrier answered "retry later": 1 s, 2 s, 4 s … at most 5 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), 300_000);
}

export interface DispatcherDeps {
  repository: Pick<DispatchRepository, 'claim' | 'settle' | 'extendLeases' | 'sweepEarlyReceipts' | 'expireUnconfirmed'>;
  carrier: Carrier;
  clock: Clock;
  /** Unique per process (and per dispatcher): the lease owner written on claimed queue entries. */
  owner: string;
  log: DispatchLog;
  /** Entries claimed per query (default 64). */
  batch?: number;
  /** Claimed and not yet recorded, at most (default 512): bounds what a killed process leaves leased. */
  maxInFlight?: number;
  /**
   * Parts handed to the carrier and not yet recorded, at most (default: the carrier's `window`, else
   * unlimited): what a killed process may have had accepted without knowing it, so sent twice.
   */
  maxUnrecordedParts?: number;
  /** How long a claim holds (default 30 s); renewed every third of it while the message is held. */
  leaseMs?: number;
  /** Idle poll interval (default 250 ms); `wake()` cuts it short. */
  pollMs?: number;
  /**
   * After a claim that came back short, the next one waits at least this long even when woken
   * (default 5 ms): while the dispatcher keeps up, claims gather what several commits accepted.
   */
  claimGapMs?: number;
  /** Poll interval while the carrier is not ready but messages wait (default 5 ms). */
  readyPollMs?: number;
  /** Delay before a "retry later" message is due again, by attempt number (default `retryDelayMs`). */
  retryDelay?: (attempts: number) => number;
  /** Early-receipt sweep interval (default 60 s). */
  housekeepingMs?: number;
  /** Called after a commit that queued callbacks (to wake the callbacks worker). */
  onCallbacksQueued?: () => void;
}

type WriteItem =
  | { kind: 'outcome'; outcome: DispatchOutcome; resolve: () => void }
  | { kind: 'receipt'; receipt: Receipt; resolve: () => void; reject: (e: unknown) => void };

const MAX_WRITE_BATCH = 500;
/** How long the backlog stays claimed while the carrier takes nothing (see `releaseBacklog`). */
const BACKLOG_HOLD_MS = 1_000;

/**
 * The dispatcher: claims due messages (leases), hands them to the carrier, records what it answered
 * and applies its receipts. One loop per process; several processes may run against one database.
 *
 * - Pacing: claims only while the carrier takes messages (`ready`, or busy with submits), ahead of
 *   need (while fewer than `batch` wait), at most `maxInFlight` held at once: again at once after a
 *   full claim, `claimGapMs` after a short one when a job was accepted meanwhile, else every
 *   `pollMs`. Submits one at a time while the carrier stays ready (its window and rate decide), concurrently.
 * - Writes: outcomes and receipts are committed by one writer in group transactions (one commit
 *   for everything that finished meanwhile), so a receipt is never applied before the `sent` that
 *   records its carrier id in this process; an outcome that cannot be written is retried, the
 *   message staying held (and its lease renewed) until it is.
 * - At-least-once: a message is held from its claim until its outcome is committed; a process that
 *   dies in between leaves its leases to run out (`leaseMs`), then another claims and sends again.
 *   Within one process a message is never submitted twice at once (`held`). What a crash can send
 *   twice is bounded by `maxUnrecordedParts` (the carrier's window): a slot of the window is taken
 *   from the submit until the outcome is committed, not only until the carrier answers.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const { repository, carrier, clock, owner, log } = deps;
  const batch = deps.batch ?? 64;
  const maxInFlight = deps.maxInFlight ?? 512;
  const leaseMs = deps.leaseMs ?? 30_000;
  const pollMs = deps.pollMs ?? 250;
  const claimGapMs = deps.claimGapMs ?? 5;
  const readyPollMs = deps.readyPollMs ?? 5;
  const retryDelay = deps.retryDelay ?? retryDelayMs;
  const housekeepingMs = deps.housekeepingMs ?? 60_000;
  const maxUnrecordedParts = deps.maxUnrecordedParts ?? carrier.window ?? Number.POSITIVE_INFINITY;

  /** Claimed and not yet recorded: ids → message. */
  const held = new Map<number, ClaimedMessage>();
  /** Claimed, waiting for the carrier to be ready. */
  const backlog: ClaimedMessage[] = [];
  /** Parts submitted whose outcome is not committed yet (see `maxUnrecordedParts`). */
  let unrecordedParts = 0;
  /** Whether due entries may be left: the last claim came back full. */
  let moreDue = true;
  /** Whether a job was accepted since the last claim (`wake`). */
  let woken = false;
  /** When the last claim started (real time: the pace of the idle poll). */
  let lastClaimAt = 0;
  /** Since when (real time) the carrier has taken nothing while messages wait in the backlog; null: it takes them. */
  let idleSince: number | null = null;
  let running = false;
  let stopping = false;
  let stopped = false;
  let loopDone: Promise<void> = Promise.resolve();
  const { signal, idle } = createWaker();
  let leaseTimer: NodeJS.Timeout | null = null;
  let housekeepingTimer: NodeJS.Timeout | null = null;
  const settledWaiters = new Set<() => void>();

  // ---- the writer: group commits of outcomes and receipts, one transaction at a time ----
  const writes: WriteItem[] = [];
  let writing = false;
  let writerIdle: Promise<void> = Promise.resolve();

  function write(item: WriteItem): void {
    writes.push(item);
    if (!writing) {
      writing = true;
      // After this turn's I/O: every answer and receipt read from the same socket data shares the commit.
      writerIdle = new Promise<void>((resolve) => setImmediate(resolve)).then(drain);
    }
  }

  async function commit(items: WriteItem[]): Promise<SettleResult> {
    const outcomes: DispatchOutcome[] = [];
    const receipts: Receipt[] = [];
    for (const it of items) {
      if (it.kind === 'outcome') outcomes.push(it.outcome);
      else receipts.push(it.receipt);
    }
    const result = await repository.settle(owner, { outcomes, receipts }, clock.now());
    if (result.callbacks > 0) deps.onCallbacksQueued?.();
    outcomes.forEach((o, i) => {
      if (o.kind === 'sent' && !result.recorded[i]) {
        // Its claim ran out and another dispatcher took it, or it was deleted or canceled meanwhile.
        log.warn(
          { id: o.id, carrierMessageIds: o.carrierMessageIds },
          'dispatcher: the carrier accepted a message this dispatcher no longer held: it may reach the receiver twice',
        );
      }
    });
    return result;
  }

  function resolveAll(items: WriteItem[]): void {
    for (const it of items) it.resolve();
  }

  async function drain(): Promise<void> {
    try {
      await drainAll();
    } finally {
      writing = false;
      // A write that came while drainAll was returning would otherwise wait for the next one.
      if (writes.length > 0) write(writes.pop()!);
    }
  }

  async function drainAll(): Promise<void> {
    while (writes.length > 0) {
      const items = writes.splice(0, MAX_WRITE_BATCH);
      try {
        await commit(items);
        resolveAll(items);
        continue;
      } catch (error) {
        if (items.length > 1) log.warn({ err: error, items: items.length }, 'dispatcher: group commit failed, writing one by one');
        else failed(items[0], error);
        if (items.length === 1) continue;
      }
      // One bad item (or a deadlock) must not fail the others.
      for (const it of items) {
        try {
          await commit([it]);
          resolveAll([it]);
        } catch (error) {
          failed(it, error);
        }
      }
    }
  }

  function failed(item: WriteItem, error: unknown): void {
    if (item.kind === 'receipt') {
      item.reject(error);
      return;
    }
    // The carrier's answer must be recorded (else the message would be sent again): keep trying
    // while the message stays held, its lease renewed. If the process stops, the lease runs out.
    if (stopped) {
      log.error(
        { err: error, id: item.outcome.id, outcome: item.outcome.kind },
        'dispatcher: stopped before an outcome could be recorded; the message returns to the queue when its lease runs out',
      );
      item.resolve();
      return;
    }
    log.error({ err: error, id: item.outcome.id, outcome: item.outcome.kind }, 'dispatcher: could not record an outcome, retrying');
    const t = setTimeout(() => write(item), stopping ? 50 : 1000);
    t.unref?.();
  }

  function record(outcome: DispatchOutcome): Promise<void> {
    return new Promise((resolve) => write({ kind: 'outcome', outcome, resolve }));
  }

  // ---- the loop ----

  function outcomeOf(m: ClaimedMessage, result: SubmitResult): DispatchOutcome {
    if (result.ok) return { kind: 'sent', id: m.id, carrierMessageIds: result.carrierMessageIds };
    if (!result.retry) return { kind: 'failed', id: m.id, code: result.code, reason: result.reason };
    const attempts = m.attempts + 1;
    return { kind: 'released', id: m.id, retryAt: clock.now() + retryDelay(attempts), attempts };
  }

  function toCarrier(m: ClaimedMessage): CarrierMessage {
    return {
      id: m.id,
      sender: m.sender,
      receiver: m.receiver,
      text: m.text,
      encoding: m.encoding,
      messageClass: m.messageClass,
      validUntil: m.validUntil,
      requestReceipt: true,
    };
  }

  function settled(id: number): void {
    held.delete(id);
    for (const w of settledWaiters) w();
    signal();
  }

  function partsOf(m: ClaimedMessage): number {
    try {
      return splitSms(m.text, m.encoding).length;
    } catch {
      return 1;
    }
  }

  function submit(m: ClaimedMessage): void {
    const parts = partsOf(m);
    unrecordedParts += parts;
    // Called at once (the carrier counts it in its window before `ready` is read again); one that throws
    // instead of answering (the interface says it never does) is a retry too.
    let submitted: Promise<SubmitResult>;
    try {
      submitted = carrier.submit(toCarrier(m));
    } catch (error) {
      submitted = Promise.reject(error);
    }
    void submitted
      .then(
        (result) => result,
        (err: unknown): SubmitResult => ({
          ok: false,
          retry: true,
          reason: `carrier error: ${err instanceof Error ? err.message : String(err)}`,
        }),
      )
      .then((result) => {
        if (!result.ok)
          log.debug({ id: m.id, retry: result.retry, code: result.code, reason: result.reason }, 'dispatcher: carrier refused');
        return record(outcomeOf(m, result));
      })
      .finally(() => {
        unrecordedParts -= parts;
        settled(m.id);
      });
  }

  /**
   * Submits from the backlog while the carrier is ready and what is submitted but not yet recorded
   * stays within `maxUnrecordedParts` (a message bigger than that goes alone).
   */
  function pump(): void {
    while (backlog.length > 0 && carrier.ready && !stopping) {
      if (unrecordedParts > 0 && unrecordedParts + partsOf(backlog[0]) > maxUnrecordedParts) return;
      const m = backlog.shift()!;
      // Its validity may have ended while it waited for room at the carrier: expired, never handed over.
      if (m.validUntil !== null && m.validUntil <= clock.now()) {
        void record({ kind: 'expired', id: m.id }).finally(() => settled(m.id));
        continue;
      }
      submit(m);
    }
  }

  /**
   * Gives the backlog back to the queue (its leases end now) when the carrier has taken nothing for
   * BACKLOG_HOLD_MS (an SMSC down, a link being set up again): held here, those messages could be
   * neither canceled nor deleted with their credits back, however long the carrier stayed away.
   */
  function releaseBacklog(): void {
    const now = clock.now();
    for (const m of backlog.splice(0)) {
      void record({ kind: 'released', id: m.id, retryAt: now, attempts: m.attempts }).finally(() => settled(m.id));
    }
  }

  async function loop(): Promise<void> {
    while (running) {
      pump();
      const room = Math.min(batch, maxInFlight - held.size);
      // The carrier takes messages: ready, or busy with submits not recorded yet (its window is full).
      const working = carrier.ready || unrecordedParts > 0;
      const since = Date.now() - lastClaimAt;
      const due = moreDue || (woken && since >= claimGapMs) || since >= pollMs;
      if (working) idleSince = null;
      else if (backlog.length > 0) {
        idleSince ??= Date.now();
        if (Date.now() - idleSince >= BACKLOG_HOLD_MS) releaseBacklog();
      }
      // Claims ahead while the backlog runs low, so the carrier's window never waits for a claim.
      if (room <= 0 || backlog.length >= batch || !working || !due) {
        let wait = backlog.length > 0 ? readyPollMs : !working ? Math.min(pollMs, 50) : pollMs;
        if (!due) wait = Math.min(wait, Math.max(1, (woken ? claimGapMs : pollMs) - since));
        // A submit recorded (room, a window slot) or an accepted job wakes the loop; the carrier may also become ready on its own.
        await idle(wait);
        continue;
      }
      let claimed: ClaimedMessage[];
      const now = clock.now();
      lastClaimAt = Date.now();
      moreDue = false;
      woken = false;
      try {
        claimed = await repository.claim(owner, now, room, leaseMs);
      } catch (error) {
        log.error({ err: error }, 'dispatcher: claim failed');
        await idle(pollMs);
        continue;
      }
      // A full claim may have left due entries: claim again as soon as there is room.
      if (claimed.length === room) moreDue = true;
      if (!running) {
        // Stopped while claiming: give them back at once.
        for (const m of claimed) if (!held.has(m.id)) void record({ kind: 'released', id: m.id, retryAt: now, attempts: m.attempts });
        break;
      }
      for (const m of claimed) {
        if (held.has(m.id)) continue;
        held.set(m.id, m);
        if (m.validUntil !== null && m.validUntil <= now) {
          void record({ kind: 'expired', id: m.id }).finally(() => settled(m.id));
        } else if (m.text === '') {
          void record({ kind: 'failed', id: m.id, code: '101', reason: 'invalid content: the text was erased before sending' }).finally(
            () => settled(m.id),
          );
        } else {
          backlog.push(m);
        }
      }
    }
  }

  async function renewLeases(): Promise<void> {
    if (held.size === 0) return;
    try {
      await repository.extendLeases(owner, [...held.keys()], clock.now() + leaseMs);
    } catch (error) {
      log.warn({ err: error }, 'dispatcher: could not renew leases');
    }
  }

  async function housekeeping(): Promise<void> {
    try {
      const { applied, dropped } = await repository.sweepEarlyReceipts(clock.now());
      if (applied || dropped) log.info({ applied, dropped }, 'dispatcher: early receipts swept');
    } catch (error) {
      log.warn({ err: error }, 'dispatcher: early receipt sweep failed');
    }
    try {
      const { expired, partsDropped } = await repository.expireUnconfirmed(clock.now());
      if (expired || partsDropped)
        log.info({ expired, partsDropped }, 'dispatcher: sent messages without receipt expired, carrier ids dropped');
    } catch (error) {
      log.warn({ err: error }, 'dispatcher: expiry sweep failed');
    }
  }

  /** The carrier's receipt handler: resolves once the receipt is committed (applied, or parked). */
  function onReceipt(receipt: Receipt): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!running && !stopping) {
        reject(new Error('dispatcher stopped'));
        return;
      }
      write({ kind: 'receipt', receipt, resolve, reject });
    });
  }

  return {
    owner,

    /** Starts the carrier (handing it the receipt handler) and the loop. */
    async start(): Promise<void> {
      if (running) return;
      running = true;
      stopping = false;
      stopped = false;
      try {
        await carrier.start(onReceipt);
      } catch (error) {
        running = false;
        throw error;
      }
      loopDone = loop().catch((error: unknown) => {
        log.error({ err: error }, 'dispatcher: loop crashed');
      });
      leaseTimer = setInterval(() => void renewLeases(), Math.max(10, Math.floor(leaseMs / 3)));
      housekeepingTimer = setInterval(() => void housekeeping(), housekeepingMs);
      leaseTimer.unref?.();
      housekeepingTimer.unref?.();
      log.info({ owner, carrier: carrier.name, batch, maxInFlight, leaseMs }, 'dispatcher: started');
    },

    /** Claims now rather than at the next poll (the sending service calls it after each accepted job). */
    wake(): void {
      if (!running) return;
      woken = true;
      signal();
    },

    /**
     * Graceful stop: claims no more, gives back what was claimed but not submitted, waits up to
     * `timeoutMs` for submits in flight and their outcomes to be recorded. What is still unrecorded
     * after that keeps its lease until it runs out (the at-least-once window). Does not close the carrier.
     */
    async stop(timeoutMs = 5000): Promise<void> {
      if (!running) return;
      running = false;
      stopping = true;
      signal();
      await loopDone;
      const now = clock.now();
      for (const m of backlog.splice(0)) {
        void record({ kind: 'released', id: m.id, retryAt: now, attempts: m.attempts }).finally(() => settled(m.id));
      }
      const deadline = Date.now() + timeoutMs;
      while (held.size > 0 && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, Math.max(1, deadline - Date.now()));
          function done() {
            clearTimeout(t);
            settledWaiters.delete(done);
            resolve();
          }
          settledWaiters.add(done);
        });
      }
      if (held.size > 0)
        log.warn({ held: held.size }, 'dispatcher: stopped with messages in flight; they return to the queue when their lease runs out');
      // The timer goes with the race: left pending, it kept a stopping thread alive until the deadline.
      let graceTimer: NodeJS.Timeout | undefined;
      await Promise.race([writerIdle, new Promise((r) => (graceTimer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
      clearTimeout(graceTimer);
      if (leaseTimer) clearInterval(leaseTimer);
      if (housekeepingTimer) clearInterval(housekeepingTimer);
      leaseTimer = housekeepingTimer = null;
      stopping = false;
      stopped = true;
      log.info({ owner }, 'dispatcher: stopped');
    },

    /** Messages claimed and not yet recorded (for tests and metrics). */
    get inFlight(): number {
      return held.size;
    },

    /** Runs the early-receipt sweep now (it also runs every `housekeepingMs`). */
    housekeeping,
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
