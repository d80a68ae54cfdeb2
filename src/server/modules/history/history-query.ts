import { CHANNELS, type Channel, isChannel, isOutgoingStatus, OUTGOING_STATUSES, type OutgoingStatus } from '../../../shared/status.js';
import { offsetAt, zonedTimeToUtc } from '../../../shared/time-zone.js';
import { AppError } from '../../errors.js';

/** What the history can be filtered by (every part optional; all parts must match). */
export interface HistoryFilter {
  /** SMS user login; `null` means "sent with no SMS user" (from the Manager). */
  user?: string | null;
  channels?: Channel[];
  sender?: string;
  receiver?: { exact: string } | { prefix: string };
  statuses?: OutgoingStatus[];
  tag?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, inclusive (a time given to the second covers that whole second). */
  to?: number;
  /** Text contained in the message: case-insensitive, accents matter. */
  q?: string;
  /** Only these message ids (ascending, no repeats; at most MAX_FILTER_IDS). */
  ids?: number[];
  /**
   * Only messages up to this id (not a query parameter): a deletion by filter takes the messages that
   * existed when it was asked for, never those sent while it runs.
   */
  upTo?: number;
}

/**
 * The message sort reads this many first characters of each text, then the id (migration 0012): its
 * index and its cursors hold no more, whatever the text's length.
 */
export const MESSAGE_SORT_LENGTH = 200;

/** The sort value of a text: its first MESSAGE_SORT_LENGTH characters (code points, as SQL's substr counts). */
export function messageSortValue(message: string): string {
  if (message.length <= MESSAGE_SORT_LENGTH) return message;
  let end = 0;
  let count = 0;
  while (end < message.length && count < MESSAGE_SORT_LENGTH) {
    const code = message.charCodeAt(end);
    end += code >= 0xd800 && code <= 0xdbff && end + 1 < message.length ? 2 : 1;
    count++;
  }
  return message.slice(0, end);
}

/** Sort keys of the API and the column each one reads. */
export const SORT_COLUMNS = {
  date: 'created_at',
  sender: 'sender',
  receiver: 'receiver',
  message: 'message',
  status: 'status',
  user: 'user_login',
  channel: 'channel',
} as const;
export type SortKey = keyof typeof SORT_COLUMNS;
export type SortColumn = (typeof SORT_COLUMNS)[SortKey];

export interface HistorySort {
  key: SortKey;
  direction: 'asc' | 'desc';
}

/** The default order: newest first. */
export const DEFAULT_SORT: HistorySort = { key: 'date', direction: 'desc' };

/** The query-string names of the filters (shared by the list, the CSV and delete-by-filter). */
export const FILTER_PARAMS = ['user', 'channel', 'sender', 'receiver', 'status', 'tag', 'from', 'to', 'q', 'ids'] as const;

/** Raw filter parameters as they arrive in a query string or a JSON body. */
export type RawFilter = Partial<Record<(typeof FILTER_PARAMS)[number], unknown>>;

/** The `user` value that selects messages sent without an SMS user (from the Manager). */
export const NO_USER = '-';

/** The longest text filter value, in UTF-16 units (the document's maxLength). */
export const MAX_FILTER_TEXT = 500;

/** Most ids one `ids` filter may list (the Manager polls the rows on screen with it). */
export const MAX_FILTER_IDS = 1000;

function text(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (Array.isArray(value)) {
    if (value.length !== 1) throw new AppError('INVALID_FILTER', `${name} must be given once`);
    return text(name, value[0]);
  }
  if (typeof value !== 'string') throw new AppError('INVALID_FILTER', `${name} must be a string`);
  if (value.length > MAX_FILTER_TEXT) throw new AppError('INVALID_FILTER', `${name} is too long (at most ${MAX_FILTER_TEXT} characters)`);
  return value;
}

function list(name: string, value: unknown): string[] | undefined {
  if (Array.isArray(value)) {
    const parts = value.flatMap((v) => list(name, v) ?? []);
    return parts.length ? parts : undefined;
  }
  const raw = text(name, value);
  if (raw === undefined) return undefined;
  const parts = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return parts.length ? [...new Set(parts)] : undefined;
}

/**
 * `ids`: message ids, comma-separated and/or repeated (numbers in a JSON filter). Given but listing no
 * id is refused rather than read as "no filter": a deletion by `{ ids: [] }` must never mean everything.
 */
function idList(value: unknown): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = (Array.isArray(value) ? value : [value]).flatMap((v) => (typeof v === 'string' ? v.split(',') : [v]));
  const ids = new Set<number>();
  for (const item of items) {
    if (typeof item === 'string' && item.trim() === '') continue;
    const id = typeof item === 'number' ? item : typeof item === 'string' && /^\s*\d{1,16}\s*$/.test(item) ? Number(item) : Number.NaN;
    if (!Number.isSafeInteger(id) || id < 1) {
      const shown = typeof item === 'string' ? `"${item.slice(0, 20)}"` : (JSON.stringify(item) ?? typeof item).slice(0, 20);
      throw new AppError('INVALID_FILTER', `ids must be message ids (whole numbers from 1), comma-separated or repeated; got ${shown}`);
    }
    ids.add(id);
    if (ids.size > MAX_FILTER_IDS) throw new AppError('TOO_MANY_IDS', `ids may list at most ${MAX_FILTER_IDS} messages`);
  }
  if (ids.size === 0) throw new AppError('INVALID_FILTER', 'ids lists no message id (leave it out to mean every message)');
  return [...ids].sort((a, b) => a - b);
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Year 10000 (as a wall-clock time): no day of it can be written `YYYY-MM-DD`. */
const YEAR_10000 = Date.UTC(10_000, 0, 1);

/**
 * Parses an ISO 8601 date or datetime to epoch ms. Without an offset it is read in `timeZone` (the
 * account's). `end` makes it inclusive at its own precision: `2024-05-01` → the last ms of that day,
 * `…T10:00:00` → 10:00:00.999, `…T10:00:00.5` → 10:00:00.599, `…T10:00:00.500` → 10:00:00.500.
 */
export function parseDateParam(name: string, raw: string, timeZone: string, end: boolean): number {
  const m = DATE_RE.exec(raw.trim());
  if (!m)
    throw new AppError('INVALID_FILTER', `${name} must be an ISO 8601 date or datetime such as 2024-05-01 or 2024-05-01T10:30:00+02:00`);
  const [, y, mo, d, h, mi, s, fraction, zone] = m;
  const parts = {
    year: +y,
    month: +mo,
    day: +d,
    hour: h ? +h : 0,
    minute: mi ? +mi : 0,
    second: s ? +s : 0,
    // Milliseconds: what a stored time holds (finer digits are below what any message's time can tell).
    ms: fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0,
  };
  const check = new Date(Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second));
  const offsetDigits = zone && zone !== 'Z' ? zone.slice(1).replace(':', '') : '0000';
  if (
    check.getUTCMonth() !== parts.month - 1 ||
    check.getUTCDate() !== parts.day ||
    parts.hour > 23 ||
    parts.minute > 59 ||
    parts.second > 59 ||
    parts.year < 1970 ||
    Number(offsetDigits.slice(0, 2)) > 23 ||
    Number(offsetDigits.slice(2)) > 59
  ) {
    throw new AppError('INVALID_FILTER', `${name} is not a real date: ${raw}`);
  }
  const instant = (p: typeof parts): number => {
    if (!zone) return zonedTimeToUtc(p, timeZone) + p.ms;
    const sign = zone === 'Z' ? 0 : zone[0] === '-' ? -1 : 1;
    const offset = sign * (Number(offsetDigits.slice(0, 2)) * 60 + Number(offsetDigits.slice(2))) * 60_000;
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second, p.ms) - offset;
  };
  const inRange = (at: number): number => {
    // An offset can carry 9999-12-31 into year 10000 in the account's time zone, whose days the answers write.
    if (at + offsetAt(at, timeZone) >= YEAR_10000) throw new AppError('INVALID_FILTER', `${name} is after the year 9999: ${raw}`);
    return at;
  };
  if (!end) return inRange(instant(parts));
  // Inclusive end: one ms before the next day / minute / second / fraction begins (days may have 23 or 25 hours).
  const unit = !h ? 86_400_000 : s === undefined ? 60_000 : !fraction ? 1000 : 10 ** Math.max(0, 3 - fraction.length);
  const next = new Date(Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second, parts.ms) + unit);
  const nextParts = {
    year: next.getUTCFullYear(),
    month: next.getUTCMonth() + 1,
    day: next.getUTCDate(),
    hour: next.getUTCHours(),
    minute: next.getUTCMinutes(),
    second: next.getUTCSeconds(),
    ms: next.getUTCMilliseconds(),
  };
  return inRange(instant(nextParts) - 1);
}

const RECEIVER_RE = /^\+?[0-9]{1,15}$/;

/** Validates and normalises raw filter parameters; throws INVALID_FILTER with a clear message. */
export function parseHistoryFilter(raw: RawFilter, timeZone: string): HistoryFilter {
  const filter: HistoryFilter = {};
  const user = text('user', raw.user);
  if (user !== undefined) filter.user = user === NO_USER ? null : user;

  const channels = list('channel', raw.channel);
  if (channels) {
    const bad = channels.filter((c) => !isChannel(c));
    if (bad.length) throw new AppError('INVALID_FILTER', `unknown channel "${bad[0]}" (known: ${CHANNELS.join(', ')})`);
    filter.channels = channels as Channel[];
  }
  const statuses = list('status', raw.status);
  if (statuses) {
    const bad = statuses.filter((s) => !isOutgoingStatus(s));
    if (bad.length) throw new AppError('INVALID_FILTER', `unknown status "${bad[0]}" (known: ${OUTGOING_STATUSES.join(', ')})`);
    filter.statuses = statuses as OutgoingStatus[];
  }
  const sender = text('sender', raw.sender);
  if (sender !== undefined) filter.sender = sender;
  const tag = text('tag', raw.tag);
  if (tag !== undefined) filter.tag = tag;

  const receiver = text('receiver', raw.receiver)?.replace(/[\s.()-]/g, '');
  if (receiver !== undefined) {
    const prefix = receiver.endsWith('*');
    const digits = prefix ? receiver.slice(0, -1) : receiver;
    const normalised = digits.startsWith('00') ? `+${digits.slice(2)}` : digits;
    if (!RECEIVER_RE.test(normalised) || (prefix && normalised === '')) {
      throw new AppError('INVALID_FILTER', 'receiver must be a phone number such as +33612345678, or a prefix ending with * such as +336*');
    }
    filter.receiver = prefix ? { prefix: normalised } : { exact: normalised };
  }

  const from = text('from', raw.from);
  if (from !== undefined) filter.from = parseDateParam('from', from, timeZone, false);
  const to = text('to', raw.to);
  if (to !== undefined) filter.to = parseDateParam('to', to, timeZone, true);
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) {
    throw new AppError('INVALID_FILTER', 'from must not be after to');
  }

  const q = text('q', raw.q)?.trim();
  if (q) filter.q = q;
  const ids = idList(raw.ids);
  if (ids) filter.ids = ids;
  return filter;
}

/** Parses `sort` (`date`, `-receiver`, `+sender`…). */
export function parseSort(raw: unknown): HistorySort {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_SORT;
  if (typeof raw !== 'string') throw new AppError('INVALID_SORT', 'sort must be a string such as date or -receiver');
  const direction = raw.startsWith('-') ? 'desc' : 'asc';
  const key = raw.replace(/^[-+ ]/, '');
  if (!Object.hasOwn(SORT_COLUMNS, key)) {
    throw new AppError(
      'INVALID_SORT',
      `cannot sort by "${key}" (sortable: ${Object.keys(SORT_COLUMNS).join(', ')}; prefix with - for descending)`,
    );
  }
  // `date` alone means newest first, as the Manager shows it; `+date` asks for oldest first.
  if (key === 'date' && raw === 'date') return DEFAULT_SORT;
  return { key: key as SortKey, direction };
}

/** The `sort` parameter that gives `sort` back. */
export function formatSort(sort: HistorySort): string {
  if (sort.key === 'date') return sort.direction === 'desc' ? 'date' : '+date';
  return sort.direction === 'desc' ? `-${sort.key}` : sort.key;
}
