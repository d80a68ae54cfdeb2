/** Formats epoch-ms instants as wall-clock text in one IANA timezone, without calling Intl per instant. */
export interface TimeFormatter {
  readonly timeZone: string;
  /** `YYYYMMDDHHMMSS` (seed CSV `date`). */
  compact(ms: number): string;
  /** `YYYY-MM-DD HH:MM:SS` (detailed CSV dates). */
  sql(ms: number): string;
  /** `2018-06-13T15:03:57+02:00`: second precision, the zone's offset, `+00:00` rather than `Z`. */
  iso(ms: number): string;
  /**
   * The zone's UTC offsets over [from, to] as `[at, offsetMs, at, offsetMs, …]`, `at` ascending: each
   * offset applies from its `at` (the first from `from`, the last also after `to`). For code that
   * formats instants without this formatter (the SQL that writes large exports' lines).
   */
  offsets(from: number, to: number): number[];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const PREFIX_SLOTS = 256;
const MAX_BUCKETS = 10_000;
const PAD2 = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : `${i}`));

interface ZoneOffset {
  ms: number;
  text: string;
}

/** Offsets over one UTC hour: `before` until instant `at` (Infinity when the hour has no transition), then `after`. */
interface HourBucket {
  before: ZoneOffset;
  at: number;
  after: ZoneOffset;
}

/** True when `timeZone` is an IANA timezone name this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== 'string' || timeZone === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** A formatter for `timeZone`; throws an Error when the zone is unknown. Caches one offset per UTC hour (bounded). */
export function createTimeFormatter(timeZone: string): TimeFormatter {
  if (!isValidTimeZone(timeZone)) {
    throw new Error(`Unknown timezone "${timeZone}": expected an IANA name such as "Europe/Paris" or "UTC"`);
  }
  const dtf = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    era: 'short',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const offsetMsAt = (ms: number): number => {
    const t = ms - mod(ms, 1000);
    const v: Record<string, string> = {};
    for (const p of dtf.formatToParts(t)) v[p.type] = p.value;
    const year = Number(v.year);
    const wall = new Date(0);
    wall.setUTCFullYear(v.era.startsWith('B') ? 1 - year : year, Number(v.month) - 1, Number(v.day));
    wall.setUTCHours(Number(v.hour), Number(v.minute), Number(v.second), 0);
    return wall.getTime() - t;
  };
  const offsets = new Map<number, ZoneOffset>();
  const zoneOffset = (ms: number): ZoneOffset => {
    let o = offsets.get(ms);
    if (o === undefined) {
      o = { ms, text: offsetText(ms) };
      offsets.set(ms, o);
    }
    return o;
  };
  /** The first instant in (lo, hi] whose offset is not `before` (the one at `lo`), found by halving. */
  const changeWithin = (lo: number, hi: number, before: number): number => {
    let a = lo;
    let b = hi;
    while (b - a > 1) {
      const mid = a + Math.floor((b - a) / 2);
      if (offsetMsAt(mid) === before) a = mid;
      else b = mid;
    }
    return b;
  };
  const makeBucket = (start: number): HourBucket => {
    const first = offsetMsAt(start);
    const last = offsetMsAt(start + HOUR_MS - 1);
    if (first === last) return { before: zoneOffset(first), at: Number.POSITIVE_INFINITY, after: zoneOffset(first) };
    return { before: zoneOffset(first), at: changeWithin(start, start + HOUR_MS - 1, first), after: zoneOffset(last) };
  };

  const buckets = new Map<number, HourBucket>();
  let lastKey = Number.NaN;
  let lastBucket: HourBucket | undefined;
  const offsetOf = (ms: number): ZoneOffset => {
    const key = Math.floor(ms / HOUR_MS);
    let b = key === lastKey ? lastBucket : buckets.get(key);
    if (b === undefined) {
      if (buckets.size >= MAX_BUCKETS) buckets.clear();
      b = makeBucket(key * HOUR_MS);
      buckets.set(key, b);
    }
    lastKey = key;
    lastBucket = b;
    return ms < b.at ? b.before : b.after;
  };

  const compactPrefix = minutePrefixCache((y, m, d, h, mi) => `${y}${m}${d}${h}${mi}`);
  const sqlPrefix = minutePrefixCache((y, m, d, h, mi) => `${y}-${m}-${d} ${h}:${mi}:`);
  const isoPrefix = minutePrefixCache((y, m, d, h, mi) => `${y}-${m}-${d}T${h}:${mi}:`);
  const format = (ms: number, prefix: (minute: number) => string, off: ZoneOffset): string => {
    const local = ms + off.ms;
    const minute = Math.floor(local / MINUTE_MS);
    return prefix(minute) + PAD2[Math.floor((local - minute * MINUTE_MS) / 1000)];
  };

  const offsetsOver = (from: number, to: number): number[] => {
    const out = [from, offsetMsAt(from)];
    // Sampled a day apart; a change between two samples is found to the millisecond by halving.
    // (No zone changes its offset twice within a day.)
    for (let at = from; at < to; ) {
      const next = Math.min(at + DAY_MS, to);
      const before = out[out.length - 1];
      if (offsetMsAt(next) !== before) {
        const change = changeWithin(at, next, before);
        out.push(change, offsetMsAt(change));
        at = change;
      } else {
        at = next;
      }
    }
    return out;
  };

  return {
    timeZone,
    offsets: offsetsOver,
    compact: (ms) => format(ms, compactPrefix, offsetOf(ms)),
    sql: (ms) => format(ms, sqlPrefix, offsetOf(ms)),
    iso(ms) {
      const off = offsetOf(ms);
      return format(ms, isoPrefix, off) + off.text;
    },
  };
}

/**
 * Memoises the text of a local minute (`minute` counted from 1970-01-01T00:00 local) in a small
 * direct-mapped cache: rows of an export are close in time, so most share a recent minute.
 */
function minutePrefixCache(build: (yyyy: string, mm: string, dd: string, hh: string, mi: string) => string): (minute: number) => string {
  const keys = new Float64Array(PREFIX_SLOTS).fill(Number.NaN);
  const values: string[] = new Array<string>(PREFIX_SLOTS).fill('');
  return (minute) => {
    const slot = minute & (PREFIX_SLOTS - 1);
    if (keys[slot] === minute) return values[slot];
    const day = Math.floor(minute / 1440);
    const [y, m, d] = civilFromDays(day);
    const inDay = minute - day * 1440;
    const yyyy = y >= 0 && y <= 9999 ? PAD2[(y / 100) | 0] + PAD2[y % 100] : String(y);
    const text = build(yyyy, PAD2[m], PAD2[d], PAD2[(inDay / 60) | 0], PAD2[inDay % 60]);
    keys[slot] = minute;
    values[slot] = text;
    return text;
  };
}

const shared = new Map<string, TimeFormatter>();
const MAX_SHARED = 1_000;

/** The process-wide formatter for `timeZone` (created on first use); throws an Error when the zone is unknown. */
export function getTimeFormatter(timeZone: string): TimeFormatter {
  let f = shared.get(timeZone);
  if (f === undefined) {
    f = createTimeFormatter(timeZone);
    if (shared.size >= MAX_SHARED) shared.clear();
    shared.set(timeZone, f);
  }
  return f;
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

function offsetText(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const total = Math.round(Math.abs(ms) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor(total / 60) % 60;
  const s = total % 60;
  return `${sign}${PAD2[h]}:${PAD2[m]}${s === 0 ? '' : `:${PAD2[s]}`}`;
}

/** Days since 1970-01-01 to a proleptic Gregorian `[year, month, day]` (H. Hinnant's `civil_from_days`). */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}
