import { randomBytes } from 'node:crypto';
import { analyzeSms, withStopClause } from '../../../shared/sms-encoding.js';
import type { Channel } from '../../../shared/status.js';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { checkOneLine, excerpt, isUnstorable, UNSTORABLE_MESSAGE } from '../../input-text.js';
import { createTtlLruCache } from '../../ttl-cache.js';
import { RECENT_READ_TTL_MS } from '../accounts/accounts.service.js';
import type { AccountAccess } from '../auth/principal.js';
import { roundCredits, sumCredits } from './credits.js';
import { parseReceiverList, parseReceiverListAsync } from './phone.js';
import type { AcceptResult, PreparedJob, SendingRepository } from './sending.repository.js';

/** OVH's job fields (OVH-COMPAT §1, POST …/jobs). */
export interface SendInput {
  message: string;
  receivers: string[];
  sender?: string;
  senderForResponse?: boolean;
  noStopClause?: boolean;
  tag?: string;
  /** Minutes to wait before sending (0: now). */
  differedPeriod?: number;
  /**
   * An absolute send time (epoch ms), for channels that give one (http2sms `deferred`, the CLI's `--at`):
   * at most MAX_DEFERRAL_MINUTES ahead; one in the past is sent now.
   */
  deferredUntil?: number;
  /** Minutes the message may wait for delivery (default 2880). */
  validityPeriod?: number;
  priority?: 'high' | 'medium' | 'low' | 'veryLow';
  coding?: '7bit' | '8bit';
  class?: 'flash' | 'phoneDisplay' | 'sim' | 'toolkit';
  /** SMPP: the program asked for delivery receipts (registered_delivery): of every final status, or of failures only. */
  receipt?: 'final' | 'failure';
}

/** The sending report (OVH's shape, plus what Relais adds). */
export interface SendReport {
  ids: number[];
  validReceivers: string[];
  invalidReceivers: string[];
  totalCreditsRemoved: number;
  tag: string;
  jobId: number;
  creditsLeft: number;
  parts: number;
  encoding: 'gsm7' | 'ucs2';
}

export const MAX_RECEIVERS = 100_000;
export const MAX_MESSAGE_LENGTH = 5_000;
export const MAX_TAG_LENGTH = 64;
/** How far ahead a job may be deferred, whatever the channel (`differedPeriod`, `deferredUntil`): one year, OVH's limit. */
export const MAX_DEFERRAL_MINUTES = 525_600;
const PRIORITY = { high: 0, medium: 1, low: 2, veryLow: 3 } as const;
const CLASS = { flash: 0, phoneDisplay: 1, sim: 2, toolkit: 3 } as const;
/** The sender shown when a reply-capable short number is used (`senderForResponse`). */
export const RESPONSE_SENDER = '';

/**
 * Writes a batch of prepared jobs as `SendingRepository.acceptBatch` does, and wakes whatever dispatches
 * from its connection (`onAccepted` is not called for its batches); undefined: not available now.
 */
export type AcceptWriter = (jobs: PreparedJob[]) => Promise<AcceptResult[]> | undefined;

export interface SendingServiceDeps {
  repository: SendingRepository;
  clock: Clock;
  /** Credits per part by receiver prefix, `default` for the rest (config `creditRates`). */
  creditRates: Readonly<Record<string, number>>;
  stopClause: string;
  /** Called after each commit of this thread that accepted messages (the dispatcher's `wake`), never awaited. */
  onAccepted?: () => void;
}

/** Credits of one part for a receiver: the longest matching prefix's rate. */
export function rateFor(receiver: string, rates: Readonly<Record<string, number>>): number {
  for (let len = Math.min(receiver.length, 7); len >= 2; len--) {
    const rate = rates[receiver.slice(0, len)];
    if (rate !== undefined) return rate;
  }
  return rates.default ?? 1;
}

/**
 * Whether the database refused a statement for the values it was given — PostgreSQL's classes 22 (data
 * exception), 23 (integrity constraint) and 54 (program limit, such as an index row too big), SQLite's
 * constraint, too-big and mismatch errors — before any commit: nothing of the transaction remains.
 */
export function isRowRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return /^(22|23|54)[0-9A-Z]{3}$/.test(code) || /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH)/.test(code);
}

/**
 * Accepted batches being written at once (see `drain`). 4 rather than 2 (2026-12-07, alternating runs of
 * `bench:send`, 64 clients): acceptance 7,508 / 8,340 vs 6,723 / 7,737 jobs/s, and with the dispatcher
 * 6,631 vs 4,910 (receipts and callbacks 2,685 vs 2,141 msg/s): the writing thread finds the next batch
 * waiting more often, and each request still waits for its own batch's commit.
 */
export const BATCHES_IN_FLIGHT = 4;

// Random bytes drawn 4 KiB at a time: one system call for hundreds of tags.
let entropy = Buffer.alloc(0);
let entropyAt = 0;
function randomTag(): string {
  if (entropyAt + 12 > entropy.length) {
    entropy = randomBytes(4096);
    entropyAt = 0;
  }
  entropyAt += 12;
  return entropy.toString('base64url', entropyAt - 12, entropyAt);
}

/**
 * The one path from "send this" to accepted messages, shared by every channel. A job is accepted only
 * when its rows, its credit debit and its queue entries are committed together; concurrent jobs share
 * a transaction (group commit) so that each answer is durable without one commit per request.
 */
export function createSendingService(deps: SendingServiceDeps) {
  const { repository, clock } = deps;
  const profiles = createTtlLruCache<{ senders: Set<string>; storeText: boolean }>({ max: 10_000, ttlMs: RECENT_READ_TTL_MS, clock });
  async function profileOf(accountId: number) {
    let profile = profiles.get(String(accountId));
    if (!profile) {
      const read = await repository.sendingProfile(accountId);
      profile = { senders: new Set(read.senders), storeText: read.storeText };
      profiles.set(String(accountId), profile);
    }
    return profile;
  }
  const waiting: { job: PreparedJob; resolve: (r: AcceptResult) => void; reject: (e: unknown) => void }[] = [];
  let batchesInFlight = 0;
  let drainScheduled = false;
  /** Where batches are written instead of `repository` while it answers (the dispatcher's thread; `acceptThrough`). */
  let writer: AcceptWriter | null = null;

  async function write(batch: typeof waiting): Promise<void> {
    try {
      const jobs = batch.map((w) => w.job);
      const elsewhere = writer?.(jobs);
      const results = await (elsewhere ?? repository.acceptBatch(jobs));
      for (const [i, w] of batch.entries()) w.resolve(results[i]);
      // A writer wakes the dispatcher beside it itself: only this thread's own commits are announced.
      if (!elsewhere && results.some((r) => r.ok)) deps.onAccepted?.();
    } catch (error) {
      // One job's rows the database refused (a value it cannot store or index) fail that job only: the
      // batch was rolled back whole, so each of its jobs is written again alone. Any other failure
      // (connection lost, database down) fails the batch: whether its commit happened may be unknown.
      if (batch.length > 1 && isRowRefusal(error)) {
        for (const w of batch) await write([w]);
        return;
      }
      for (const w of batch) w.reject(error);
    }
  }

  /**
   * Groups the jobs waiting into batches and writes them, at most BATCHES_IN_FLIGHT at a time: jobs
   * arriving meanwhile wait for the next batch, and the writing connection (the dispatcher's thread)
   * finds the next batch waiting when it has committed one.
   */
  function drain(): void {
    drainScheduled = false;
    while (waiting.length && batchesInFlight < BATCHES_IN_FLIGHT) {
      // Big jobs go alone; small ones are grouped.
      let count = 0;
      let receivers = 0;
      while (count < waiting.length && count < 512 && (count === 0 || receivers + waiting[count].job.receivers.length <= 5_000)) {
        receivers += waiting[count].job.receivers.length;
        count++;
      }
      batchesInFlight++;
      void write(waiting.splice(0, count)).finally(() => {
        batchesInFlight--;
        if (waiting.length) scheduleDrain();
      });
    }
  }

  /** After the current turn of the event loop, so that the requests it parsed share a batch. */
  function scheduleDrain(): void {
    if (drainScheduled) return;
    drainScheduled = true;
    setImmediate(drain);
  }

  function commit(job: PreparedJob): Promise<AcceptResult> {
    return new Promise((resolve, reject) => {
      waiting.push({ job, resolve, reject });
      if (batchesInFlight < BATCHES_IN_FLIGHT) scheduleDrain();
    });
  }

  return {
    /**
     * Writes the accepted batches through `through` (another thread's connection, so that this thread
     * spends its time on requests), or here again with null; a batch `through` declines (answers
     * undefined: its thread is not running) is written here.
     */
    acceptThrough(through: AcceptWriter | null): void {
      writer = through;
    },
    /** Jobs waiting for a batch of theirs to be written (none unless BATCHES_IN_FLIGHT are being written). */
    jobsWaiting(): number {
      return waiting.length;
    },
    /** Forgets what was read of an account (its senders or settings changed): the next job reads them again. */
    forgetAccount(accountId: number): void {
      profiles.delete(String(accountId));
    },

    /** Validates and accepts a job for `access`'s account through `channel`. */
    async accept(access: AccountAccess, channel: Channel, input: SendInput): Promise<SendReport> {
      const now = clock.now();
      // Every channel comes here: an account the operator disabled sends nothing, however it is reached.
      if (access.account.status !== 'enable')
        throw new AppError('ACCOUNT_DISABLED', `The SMS account ${access.account.name} is disabled by the operator: it sends nothing`);
      if (typeof input.message !== 'string' || input.message.trim() === '') throw new AppError('VALIDATION_FAILED', 'message is empty');
      if (input.message.length > MAX_MESSAGE_LENGTH)
        throw new AppError('VALIDATION_FAILED', `message is too long (at most ${MAX_MESSAGE_LENGTH} characters)`);
      if (!Array.isArray(input.receivers) || input.receivers.length === 0) throw new AppError('INVALID_RECEIVER', 'receivers is empty');
      if (input.receivers.length > MAX_RECEIVERS) throw new AppError('VALIDATION_FAILED', `at most ${MAX_RECEIVERS} receivers in one job`);
      if (input.tag !== undefined && input.tag.length > MAX_TAG_LENGTH)
        throw new AppError('VALIDATION_FAILED', `tag is too long (at most ${MAX_TAG_LENGTH} characters)`);
      // Every channel, whatever it checked (SMPP's UCS-2 and mail2sms's UTF-16 can decode to a lone
      // surrogate): a job written with others in one commit must not fail theirs, and what is stored
      // must be what was counted and charged.
      if ([input.message, input.tag, input.sender].some(isUnstorable) || input.receivers.some(isUnstorable)) {
        throw new AppError('VALIDATION_FAILED', `the message, tag, sender or a receiver ${UNSTORABLE_MESSAGE}`);
      }
      // Kept and shown as one line (lists, exports, logs); the message itself may have several.
      if (input.tag !== undefined) checkOneLine('tag', input.tag);

      let sender: string;
      if (input.senderForResponse) {
        sender = RESPONSE_SENDER;
      } else {
        if (!input.sender) throw new AppError('INVALID_SENDER', 'sender is missing (or set senderForResponse)');
        if (!(await profileOf(access.account.id)).senders.has(input.sender)) {
          throw new AppError('INVALID_SENDER', `"${excerpt(input.sender)}" is not an enabled sender of ${access.account.name}`);
        }
        sender = input.sender;
      }

      const { valid, invalid, tooMany } =
        input.receivers.length > 1_000
          ? await parseReceiverListAsync(input.receivers, access.account.defaultCountry, MAX_RECEIVERS)
          : parseReceiverList(input.receivers, access.account.defaultCountry, MAX_RECEIVERS);
      // An item may hold several numbers (`"+336…,+337…"`, as http2sms's `to`): the limit counts numbers.
      if (tooMany) throw new AppError('VALIDATION_FAILED', `at most ${MAX_RECEIVERS} receivers in one job`);
      if (valid.length === 0)
        throw new AppError('INVALID_RECEIVER', `no valid receiver (refused: ${invalid.slice(0, 5).map(excerpt).join(', ')})`);

      const text = input.noStopClause ? input.message : withStopClause(input.message, deps.stopClause);
      const analysis = analyzeSms(text, { forceUcs2: input.coding === '8bit' });
      const differed = input.differedPeriod ?? 0;
      if (!Number.isInteger(differed) || differed < 0 || differed > MAX_DEFERRAL_MINUTES)
        throw new AppError('VALIDATION_FAILED', `differedPeriod must be 0 to ${MAX_DEFERRAL_MINUTES} minutes`);
      const validity = input.validityPeriod ?? 2880;
      if (!Number.isInteger(validity) || validity < 1 || validity > 525_600)
        throw new AppError('VALIDATION_FAILED', 'validityPeriod must be 1 to 525600 minutes');
      if (input.deferredUntil !== undefined && !Number.isFinite(input.deferredUntil))
        throw new AppError('VALIDATION_FAILED', 'the send time is not a valid time');
      const deferredUntil = input.deferredUntil ?? (differed > 0 ? now + differed * 60_000 : null);
      if (deferredUntil !== null && deferredUntil > now + MAX_DEFERRAL_MINUTES * 60_000)
        throw new AppError(
          'VALIDATION_FAILED',
          `the send time is more than a year ahead: a job may be deferred by at most ${MAX_DEFERRAL_MINUTES} minutes`,
        );
      const sendAt = Math.max(deferredUntil ?? now, now);
      const tag = input.tag || randomTag();
      const credits = valid.map((r) => roundCredits(rateFor(r, deps.creditRates) * analysis.parts));

      const result = await commit({
        accountId: access.account.id,
        userId: access.userId,
        userLogin: access.userLogin ?? '',
        channel,
        sender,
        receivers: valid,
        message: text,
        storeText: (await profileOf(access.account.id)).storeText,
        encoding: analysis.encoding,
        parts: analysis.parts,
        credits,
        tag,
        priority: PRIORITY[input.priority ?? 'high'],
        deferredUntil: deferredUntil !== null && deferredUntil > now ? deferredUntil : null,
        validUntil: sendAt + validity * 60_000,
        options: {
          class: input.class ? CLASS[input.class] : null,
          coding: input.coding ?? null,
          senderForResponse: input.senderForResponse ?? false,
          noStopClause: input.noStopClause ?? false,
          ...(input.receipt ? { receipt: input.receipt } : {}),
        },
        now,
      });
      if (!result.ok) throw result.error;
      return {
        ids: result.ids,
        validReceivers: valid,
        invalidReceivers: invalid,
        totalCreditsRemoved: sumCredits(credits),
        tag,
        jobId: result.jobId,
        creditsLeft: result.creditsLeft,
        parts: analysis.parts,
        encoding: analysis.encoding,
      };
    },
  };
}

export type SendingService = ReturnType<typeof createSendingService>;
