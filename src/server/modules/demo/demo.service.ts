import { randomBytes } from 'node:crypto';
import { analyzeSms } from '../../../shared/sms-encoding.js';
import type { Channel, OutgoingStatus } from '../../../shared/status.js';
import { offsetAt } from '../../../shared/time-zone.js';
import { type Clock, systemClock } from '../../clock.js';
import type { Database } from '../../db/database.js';
import { AppError } from '../../errors.js';
import { createPasswordHasher, generatePassword, type PasswordHasher } from '../auth/password.js';
import { EXPIRED_WITHOUT_RECEIPT, RECEIPT_GRACE_MS } from '../dispatch/dispatch.repository.js';
import { MAX_DEFERRAL_MINUTES } from '../sending/sending.service.js';
import { type BulkLoadStrategy, createDemoRepository, type DemoRepository, type DemoUser, type NewOutgoingRow } from './demo.repository.js';
import { type Category, type Random, TEMPLATES, type TextContext, tagFor } from './demo-texts.js';

const SECOND_MS = 1000;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Validity period of every demo message (OVH's default `validityPeriod`: 2880 minutes). */
const VALIDITY_MS = 2 * DAY_MS;
/** How far ahead of its creation a message may be scheduled, on every channel. */
const MAX_DEFERRAL_MS = MAX_DEFERRAL_MINUTES * MINUTE_MS;
/** How long a message just created is still queued (not scheduled) without having gone out. */
const QUEUED_MS = 2 * MINUTE_MS;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

function hashSeed(seed: string): [number, number, number, number] {
  // cyrb128: four 32-bit words from a string.
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < seed.length; i++) {
    const k = seed.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

/** sfc32: a small, fast generator with a 128-bit state; uniform numbers in [0, 1). */
function sfc32(a: number, b: number, c: number, d: number): Random {
  const next = () => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** A 32-bit integer hash (murmur3 finaliser). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Cumulative weights → index picker. */
function weighted(weights: readonly number[]): (r: number) => number {
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let sum = 0;
  for (const w of weights) {
    sum += w / total;
    cumulative.push(sum);
  }
  cumulative[cumulative.length - 1] = 1;
  return (r) => {
    let i = 0;
    while (r >= cumulative[i]) i++;
    return i;
  };
}

// ---------------------------------------------------------------------------------------------
// The shape of the traffic

/** Relative traffic per local hour of day: office hours dominate. */
const HOUR_WEIGHTS = [
  0.15, 0.08, 0.05, 0.04, 0.05, 0.1, 0.3, 0.65, 1.3, 2.0, 2.4, 2.3, 1.6, 1.7, 2.2, 2.3, 2.2, 2.0, 1.6, 1.1, 0.8, 0.6, 0.4, 0.25,
];
/** Relative traffic per local weekday, Sunday first. */
const WEEKDAY_WEIGHTS = [0.25, 1.05, 1.1, 1.05, 1.1, 1.0, 0.45];
/** Relative traffic per local month, January first: quiet August, busy November–December. */
const MONTH_WEIGHTS = [1.0, 0.95, 1.0, 1.0, 0.95, 1.0, 0.85, 0.6, 1.05, 1.05, 1.2, 1.15];

/** Channels of SMS users (the Manager's `manager` is for rows without a user). */
const USER_CHANNELS: readonly Channel[] = ['api', 'ovh-api', 'http2sms', 'mail2sms', 'smpp'];
/** A login hints at the channel its programs use. */
const LOGIN_HINTS: readonly [RegExp, Channel][] = [
  [/smpp/i, 'smpp'],
  [/mail/i, 'mail2sms'],
  [/http/i, 'http2sms'],
  [/ovh|crm/i, 'ovh-api'],
  [/api/i, 'api'],
];
/** Share of rows sent from the Manager, without an SMS user. */
const MANAGER_SHARE = 0.15;

const CATEGORIES: readonly Category[] = ['otp', 'rappel', 'livraison', 'promo', 'facture', 'alerte', 'service', 'test'];
/** What each channel is used for (weights in CATEGORIES order). */
const CATEGORY_WEIGHTS: Record<Channel, readonly number[]> = {
  //        otp rappel livraison promo facture alerte service test
  manager: [0, 12, 5, 40, 8, 5, 25, 5],
  api: [35, 15, 25, 0, 12, 0, 10, 3],
  'ovh-api': [25, 25, 15, 20, 0, 0, 12, 3],
  http2sms: [30, 20, 0, 0, 0, 25, 20, 5],
  mail2sms: [0, 15, 0, 0, 20, 40, 20, 5],
  smpp: [45, 0, 20, 25, 0, 0, 10, 0],
};

/** Final status before the clock is applied (recent messages may not have reached it yet). */
const STATUS_WEIGHTS: readonly [OutgoingStatus, number][] = [
  ['delivered', 80],
  ['sent', 6],
  ['failed', 7],
  ['expired', 2],
  ['canceled', 1],
  ['pending', 4],
];

/** Carrier errors as the simulator reports them (OVH `ptt` codes, OVH-COMPAT.md §1). */
const ERRORS: readonly [code: string, text: string, weight: number][] = [
  ['3', 'destination unreachable', 30],
  ['9', 'undeliverable', 25],
  ['53', 'blacklisted (STOP)', 12],
  ['5', 'subscriber or credit related', 10],
  ['6', 'timeout', 8],
  ['100', 'invalid numbering plan', 6],
  ['54', 'forbidden destination', 5],
  ['2', 'network error', 4],
];

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

const FR_06_BLOCKS = Array.from({ length: 100 }, (_, i) => pad(i, 2)).filter(
  (b) => !['39', '90', '91', '92', '93', '94', '96', '97'].includes(b),
);
const BE_MOBILE_BLOCKS = [
  '56',
  '60',
  '65',
  '70',
  '71',
  '72',
  '75',
  '76',
  '77',
  '78',
  '79',
  '84',
  '85',
  '86',
  '87',
  '88',
  '89',
  '90',
  '91',
  '92',
  '93',
  '94',
  '95',
  '96',
  '97',
  '98',
  '99',
];
/** 074xx, 075xx, 078xx: mobile blocks in full (076 is pagers; parts of 077 and 079 are unassigned). */
const UK_MOBILE_DIGITS = ['4', '5', '8'];
const US_AREA_CODES = ['212', '415', '646', '312', '617', '305', '702', '206', '512', '303'];

/** Receivers' countries (mobile ranges only): weight, and the number from two hashes. */
const COUNTRIES: readonly { weight: number; make: (h: number, g: number) => string }[] = [
  // 06 blocks in service (0639 and 0690–0694, 0696, 0697 are not mobile ranges).
  { weight: 52, make: (h, g) => `+336${FR_06_BLOCKS[h % FR_06_BLOCKS.length]}${pad(g % 1_000_000, 6)}` },
  { weight: 33, make: (h, g) => `+337${3 + (h % 7)}${pad(g % 10_000_000, 7)}` },
  { weight: 5, make: (h, g) => `+324${BE_MOBILE_BLOCKS[h % BE_MOBILE_BLOCKS.length]}${pad(g % 1_000_000, 6)}` },
  { weight: 4, make: (h, g) => `+417${5 + (h % 5)}${pad(g % 10_000_000, 7)}` },
  { weight: 4, make: (h, g) => `+447${UK_MOBILE_DIGITS[h % UK_MOBILE_DIGITS.length]}${pad(g % 100_000_000, 8)}` },
  { weight: 2, make: (h, g) => `+1${US_AREA_CODES[h % US_AREA_CODES.length]}${2 + (g % 8)}${pad(mix32(g) % 1_000_000, 6)}` },
];

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Demo SMS users created in an account that has none: one per channel, as a company would have. */
export const DEMO_USER_LOGINS = ['apiuser', 'http2sms', 'mailer', 'crm', 'smppgw'] as const;
/** Demo senders added to an account that has none. */
export const DEMO_SENDERS = [
  { sender: 'Relais', description: 'Transactional messages' },
  { sender: 'INFO', description: 'Notifications' },
  { sender: 'Promo', description: 'Marketing (with STOP clause)' },
] as const;

// ---------------------------------------------------------------------------------------------
// Generation

export interface DemoGenerationOptions {
  accountId: number;
  /** The account's SMS users; rows are spread over them (the first ones send more). */
  users: readonly DemoUser[];
  senders: readonly string[];
  count: number;
  /** Same seed, same options → same rows. */
  seed: number | string;
  /** The newest message is at most this instant (epoch ms). */
  now: number;
  /** Rows spread over the `spanDays` days before `now` (default 365). */
  spanDays?: number;
  /** The account's timezone: office hours, weekdays and dates in texts are local (default Europe/Paris). */
  timeZone?: string;
  /** Rows per yielded batch (default 1,000: small batches die young, which spares the garbage collector a third of its work). */
  batchSize?: number;
  /**
   * Whether the account keeps its messages' texts (default true). When not, rows are written as its own
   * messages are: no text (`message` empty, `redacted_at` = `created_at`), encoding and parts of the text sent.
   */
  storeText?: boolean;
}

interface Slot {
  start: number;
  length: number;
  offsetMs: number;
  count: number;
}

/** Hourly slots over the span, each with its share of `count` (office hours, weekdays, season, day-to-day noise, growth). */
function planSlots(count: number, now: number, spanDays: number, timeZone: string, rng: Random): Slot[] {
  const start = now - spanDays * DAY_MS;
  const n = Math.max(1, Math.ceil((now - start) / HOUR_MS));
  const slots: Slot[] = [];
  const weights = new Float64Array(n);
  const dayFactors = new Map<number, number>();
  let offsetMs = offsetAt(start, timeZone);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const slotStart = start + i * HOUR_MS;
    const length = Math.min(HOUR_MS, now - slotStart);
    if (i % 6 === 0 || i === n - 1) offsetMs = offsetAt(slotStart, timeZone);
    const local = new Date(slotStart + length / 2 + offsetMs);
    const day = Math.floor((slotStart + offsetMs) / DAY_MS);
    let dayFactor = dayFactors.get(day);
    if (dayFactor === undefined) {
      // Day-to-day noise, and now and then a campaign day.
      dayFactor = (0.75 + 0.5 * rng()) * (rng() < 0.06 ? 1.8 : 1);
      dayFactors.set(day, dayFactor);
    }
    const growth = 0.55 + 0.45 * (i / n);
    const w =
      HOUR_WEIGHTS[local.getUTCHours()] *
      WEEKDAY_WEIGHTS[local.getUTCDay()] *
      MONTH_WEIGHTS[local.getUTCMonth()] *
      dayFactor *
      growth *
      (length / HOUR_MS);
    weights[i] = w;
    total += w;
    slots.push({ start: slotStart, length: Math.max(1, length), offsetMs, count: 0 });
  }
  let cumulative = 0;
  let assigned = 0;
  for (let i = 0; i < n; i++) {
    cumulative += weights[i];
    const upTo = i === n - 1 ? count : Math.round((count * cumulative) / total);
    slots[i].count = upTo - assigned;
    assigned = upTo;
  }
  return slots;
}

/**
 * Realistic sent-SMS history for one account, oldest first (insert in this order so ids follow
 * `created_at`), in batches. Deterministic for a given seed and options. ~15% of rows are sent from
 * the Manager (no SMS user); the rest spread over `users`, each mostly on one channel. Statuses and
 * their timestamps are consistent with `now`: a message never has a state it could not have reached.
 */
export function* generateDemoRows(options: DemoGenerationOptions): Generator<NewOutgoingRow[]> {
  const { accountId, users, count, now } = options;
  const storeText = options.storeText ?? true;
  const senders = options.senders.length > 0 ? options.senders : ['Relais'];
  const spanDays = options.spanDays ?? 365;
  const batchSize = options.batchSize ?? 1_000;
  const seedWords = hashSeed(String(options.seed));
  const rng = sfc32(...seedWords);
  const seedKey = seedWords[0];

  const slots = planSlots(count, now, spanDays, options.timeZone ?? 'Europe/Paris', rng);

  // Users: the first send most; each has a main channel (from its login, else one not yet taken).
  const pickUser = weighted(users.map((_, i) => 1 / (i + 1) ** 0.7));
  const taken = new Set<Channel>();
  const mainChannels = users.map((u) => {
    const hinted = LOGIN_HINTS.find(([re]) => re.test(u.login))?.[1];
    const channel = hinted && !taken.has(hinted) ? hinted : (USER_CHANNELS.find((c) => !taken.has(c)) ?? hinted ?? USER_CHANNELS[0]);
    taken.add(channel);
    return channel;
  });
  const pickCategory = Object.fromEntries(Object.entries(CATEGORY_WEIGHTS).map(([ch, w]) => [ch, weighted(w)])) as Record<
    Channel,
    (r: number) => number
  >;
  const pickStatus = weighted(STATUS_WEIGHTS.map(([, w]) => w));
  const pickError = weighted(ERRORS.map(([, , w]) => w));
  const pickCountry = weighted(COUNTRIES.map((c) => c.weight));
  // Promotions from the marketing sender (the last one unless one is named so), the rest from the others.
  const promoSender = senders.find((s) => /promo|offre|deal|market/i.test(s)) ?? senders[senders.length - 1];
  const otherSenders = senders.length > 1 ? senders.filter((s) => s !== promoSender) : senders;
  const pickSender = weighted(otherSenders.map((_, i) => 1 / (i + 1)));
  const otpSender = otherSenders[0];

  // Receivers: a population some of whom receive many messages.
  const population = Math.max(200, Math.min(2_000_000, Math.floor(count / 6)));
  const receiver = (): string => {
    const index = Math.floor(population * rng() ** 1.8);
    const h = mix32((index + 1) ^ seedKey);
    const g = mix32(h + 0x9e3779b9);
    return COUNTRIES[pickCountry((h % 10_000) / 10_000)].make(h >>> 8, g);
  };

  const hex = (): string => {
    const x = Math.floor(rng() * 0x100000000);
    return HEX[x >>> 24] + HEX[(x >>> 16) & 0xff] + HEX[(x >>> 8) & 0xff] + HEX[x & 0xff];
  };
  const between = (min: number, max: number): number => min + Math.floor(rng() * (max - min));
  const context: TextContext = { rng, createdAt: 0, offsetMs: 0 };

  const makeRow = (createdAt: number, offsetMs: number): NewOutgoingRow => {
    let userId: number | null = null;
    let userLogin = '';
    let channel: Channel = 'manager';
    if (users.length > 0 && rng() >= MANAGER_SHARE) {
      const u = pickUser(rng());
      userId = users[u].id;
      userLogin = users[u].login;
      channel = rng() < 0.8 ? mainChannels[u] : USER_CHANNELS[Math.floor(rng() * USER_CHANNELS.length)];
    }
    const category = CATEGORIES[pickCategory[channel](rng())];
    const templates = TEMPLATES[category];
    const template = templates[Math.floor(rng() * templates.length)];
    context.createdAt = createdAt;
    context.offsetMs = offsetMs;
    let message: string;
    if (category === 'promo') {
      // A campaign: the same promotion all week long.
      const week = Math.floor(createdAt / (7 * DAY_MS));
      message = template.render({
        rng: sfc32(seedKey, week, templates.indexOf(template), 7),
        createdAt: week * 7 * DAY_MS + 4 * DAY_MS,
        offsetMs,
      });
    } else {
      message = template.render(context);
    }
    const { encoding, parts } = analyzeSms(message);
    const tag = tagFor(category, context);
    const sender = category === 'promo' ? promoSender : category === 'otp' ? otpSender : otherSenders[pickSender(rng())];

    // Status and the timestamps of every state reached, never later than `now`.
    let status = STATUS_WEIGHTS[pickStatus(rng())][0];
    let deferredUntil: number | null = null;
    let sentAt: number | null = null;
    let deliveredAt: number | null = null;
    let failedAt: number | null = null;
    let expiredAt: number | null = null;
    let canceledAt: number | null = null;
    let errorCode: string | null = null;
    let errorText: string | null = null;
    // Created longer ago than the longest deferral, it cannot be pending any more: its time has come.
    if (status === 'pending' && now - createdAt > MAX_DEFERRAL_MS - 10 * MINUTE_MS) status = 'delivered';
    if (status === 'pending') {
      // Queued if just created, otherwise scheduled for later (never a row waiting for nothing: the
      // demo queues none of its rows, so a pending one is recent or its time is still to come).
      if (now - createdAt > QUEUED_MS || rng() < 0.3)
        deferredUntil = Math.min(roundUp(now + between(10 * MINUTE_MS, 14 * DAY_MS), 5 * MINUTE_MS), createdAt + MAX_DEFERRAL_MS);
    } else if (status === 'canceled') {
      if (rng() < 0.6) {
        deferredUntil = roundUp(createdAt + between(HOUR_MS, 7 * DAY_MS), 5 * MINUTE_MS);
        canceledAt = createdAt + between(MINUTE_MS, Math.max(MINUTE_MS + 1, deferredUntil - createdAt - MINUTE_MS));
      } else {
        canceledAt = createdAt + between(SECOND_MS, 90 * SECOND_MS);
      }
      if (canceledAt > now) {
        status = 'pending';
        canceledAt = null;
      }
    } else {
      let sendAt = createdAt;
      if (rng() < 0.03) {
        deferredUntil = roundUp(createdAt + between(HOUR_MS, 3 * DAY_MS), 5 * MINUTE_MS);
        sendAt = deferredUntil;
      }
      sentAt = sendAt + (channel === 'smpp' ? between(150, 1500) : between(400, 6000));
      // A scheduled message whose time has come is going out (not left pending past its time).
      if (sentAt > now && deferredUntil !== null && deferredUntil <= now) sentAt = now;
      if (sentAt > now) {
        status = 'pending';
        sentAt = null;
      } else if (status === 'delivered') {
        const r = rng();
        deliveredAt =
          sentAt +
          (r < 0.85
            ? between(2 * SECOND_MS, 20 * SECOND_MS)
            : r < 0.97
              ? between(20 * SECOND_MS, 10 * MINUTE_MS)
              : between(10 * MINUTE_MS, 6 * HOUR_MS));
        if (deliveredAt > now) {
          status = 'sent';
          deliveredAt = null;
        }
      } else if (status === 'failed') {
        // Promotions meet more opted-out receivers.
        const e = ERRORS[category === 'promo' && rng() < 0.4 ? 2 : pickError(rng())];
        failedAt = sentAt + (e[0] === '6' ? between(10 * MINUTE_MS, 4 * HOUR_MS) : between(SECOND_MS, 2 * MINUTE_MS));
        if (failedAt > now) {
          status = 'sent';
          failedAt = null;
        } else {
          errorCode = e[0];
          errorText = e[1];
        }
      } else if (status === 'expired') {
        expiredAt = sendAt + VALIDITY_MS;
        if (expiredAt > now) {
          status = 'sent';
          expiredAt = null;
        }
      }
      // No receipt within the validity and its grace: expired, as the dispatcher's housekeeping leaves it.
      if (status === 'sent') {
        const receiptDeadline = (deferredUntil ?? createdAt) + VALIDITY_MS + RECEIPT_GRACE_MS;
        if (receiptDeadline < now) {
          status = 'expired';
          expiredAt = receiptDeadline;
          errorText = EXPIRED_WITHOUT_RECEIPT;
        }
      }
    }
    return {
      account_id: accountId,
      job_id: null,
      user_id: userId,
      user_login: userLogin,
      channel,
      sender,
      receiver: receiver(),
      message: storeText ? message : '',
      redacted_at: storeText ? null : createdAt,
      encoding,
      parts,
      credits: parts,
      tag,
      status,
      priority: 1,
      created_at: createdAt,
      sent_at: sentAt,
      delivered_at: deliveredAt,
      failed_at: failedAt,
      expired_at: expiredAt,
      canceled_at: canceledAt,
      carrier_message_id: sentAt === null ? null : hex() + hex(),
      error_code: errorCode,
      error_text: errorText,
      deferred_until: deferredUntil,
      valid_until: (deferredUntil ?? createdAt) + VALIDITY_MS,
    };
  };

  let batch: NewOutgoingRow[] = [];
  let times = new Float64Array(0);
  for (const slot of slots) {
    if (slot.count === 0) continue;
    if (times.length < slot.count) times = new Float64Array(slot.count * 2);
    const slotTimes = times.subarray(0, slot.count);
    for (let i = 0; i < slot.count; i++) slotTimes[i] = slot.start + Math.floor(rng() * slot.length);
    slotTimes.sort();
    for (let i = 0; i < slot.count; i++) {
      batch.push(makeRow(slotTimes[i], slot.offsetMs));
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}

function roundUp(ms: number, step: number): number {
  return Math.ceil(ms / step) * step;
}

// ---------------------------------------------------------------------------------------------
// The command

export interface DemoProgress {
  /** `inserting` after every batch, then `indexing` (rebuilding the indexes, when the load dropped them) and `analyzing`. */
  phase: 'inserting' | 'indexing' | 'analyzing';
  /** The load's path (see `BulkLoadStrategy`). */
  strategy: BulkLoadStrategy;
  inserted: number;
  total: number;
  seconds: number;
}

export interface DemoResult {
  inserted: number;
  seconds: number;
  rowsPerSecond: number;
  /** How the indexes were treated (see `BulkLoadStrategy`): `rebuild` into an empty history, else `incremental`. */
  strategy: BulkLoadStrategy;
}

export interface DemoRunOptions {
  accountName: string;
  messages: number;
  /** Default: a random seed. */
  seed?: number | string;
  spanDays?: number;
  /** Default `auto` (see `BulkLoadStrategy`). */
  strategy?: BulkLoadStrategy | 'auto';
  onProgress?: (progress: DemoProgress) => void;
}

/** `relais demo`: fills an SMS account with realistic sent-SMS history, as fast as the database allows. */
export function createDemoService(deps: { repository: DemoRepository; hasher: PasswordHasher; clock: Clock }) {
  const { repository, hasher, clock } = deps;
  return {
    async run(options: DemoRunOptions): Promise<DemoResult> {
      const started = performance.now();
      if (!Number.isSafeInteger(options.messages) || options.messages < 0) {
        throw new AppError('VALIDATION_FAILED', `The number of messages must be a whole number ≥ 0, got ${options.messages}`);
      }
      const account = await repository.findAccountByName(options.accountName);
      if (!account) throw new AppError('ACCOUNT_NOT_FOUND', `No SMS account named ${options.accountName}`);
      const now = clock.now();
      const senders = await repository.ensureDemoSenders(account.id, [...DEMO_SENDERS], now);
      if (senders.length === 0) {
        // Its senders bear the demo senders' names, none enabled: no channel would send from them (checked
        // first: nothing is added then).
        throw new AppError(
          'INVALID_SENDER',
          `The SMS account ${account.name} has no enabled sender (and ${DEMO_SENDERS.map((s) => s.sender).join(', ')} exist, not enabled): enable one first`,
        );
      }
      let users = await repository.findDemoUsers(account.id);
      if (users.length === 0) {
        const create = await Promise.all(
          DEMO_USER_LOGINS.map(async (login) => ({
            login,
            // Nobody knows these passwords: give one a password with the Manager or the CLI to use it.
            passwordHash: await hasher.hash(generatePassword()),
          })),
        );
        users = await repository.ensureDemoUsers(account.id, create, now);
      }

      const total = options.messages;
      const elapsed = () => (performance.now() - started) / 1000;
      let inserted = 0;
      const load = await repository.openBulkLoad({ strategy: options.strategy ?? 'auto', expectedRows: total });
      const report = (phase: DemoProgress['phase'], inserted: number) =>
        options.onProgress?.({ phase, strategy: load.strategy, inserted, total, seconds: elapsed() });
      try {
        for (const batch of generateDemoRows({
          accountId: account.id,
          users,
          senders,
          count: total,
          seed: options.seed ?? randomBytes(8).toString('hex'),
          now,
          spanDays: options.spanDays,
          timeZone: account.timezone,
          storeText: account.storeText,
        })) {
          await load.write(batch);
          inserted += batch.length;
          report('inserting', inserted);
        }
        if (load.strategy === 'rebuild') report('indexing', inserted);
        await load.finish();
      } catch (error) {
        await load.abort();
        throw error;
      }
      report('analyzing', inserted);
      await repository.analyze();
      const seconds = elapsed();
      return { inserted, seconds, rowsPerSecond: seconds > 0 ? Math.round(inserted / seconds) : inserted, strategy: load.strategy };
    },
  };
}

/** Runs `relais demo` on an open database (see `createDemoService`). */
export async function runDemo(
  options: DemoRunOptions & { database: Database; clock?: Clock; hasher?: PasswordHasher },
): Promise<DemoResult> {
  const { database, clock, hasher, ...run } = options;
  return createDemoService({
    repository: createDemoRepository(database),
    hasher: hasher ?? createPasswordHasher(),
    clock: clock ?? systemClock,
  }).run(run);
}
