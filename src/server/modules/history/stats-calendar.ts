import { getTimeFormatter } from '../../../shared/account-time.js';
import { offsetAt, zonedTimeToUtc } from '../../../shared/time-zone.js';

/** Calendar days as whole numbers: days since 1970-01-01 (negative before). */
export type DayNumber = number;

const DAY_MS = 86_400_000;
/** A day starts within this distance of its UTC midnight shifted by the zone's offset near it. */
const SEARCH_MS = 36 * 3_600_000;
const LOCAL_DATE_RE = /^(\d+)-(\d{2})-(\d{2})/;

/** The calendar day of instant `ms` in `timeZone`. */
export function dayOf(ms: number, timeZone: string): DayNumber {
  const m = LOCAL_DATE_RE.exec(getTimeFormatter(timeZone).sql(ms));
  if (!m) throw new Error(`cannot read the local date of ${ms} in ${timeZone}`);
  return Math.floor(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS);
}

/** `YYYY-MM-DD`. */
export function dayText(day: DayNumber): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The first instant of `day` in `timeZone`: the first whose calendar day there is `day` or later. A day
 * may last 23 or 25 hours (DST), start at 01:00 when midnight is skipped, or last 0 hours when the zone
 * skips it altogether (Pacific/Apia, 2011-12-30).
 */
export function startOfDay(day: DayNumber, timeZone: string): number {
  const isStart = (t: number) => dayOf(t, timeZone) >= day && dayOf(t - 1, timeZone) < day;
  const date = new Date(day * DAY_MS);
  const guess = zonedTimeToUtc(
    { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(), hour: 0, minute: 0, second: 0 },
    timeZone,
  );
  if (isStart(guess)) return guess;
  // Midnight skipped or repeated by a change of offset: search the first instant of the day near it.
  let before = guess - SEARCH_MS; // its day is earlier
  let at = guess + SEARCH_MS; // its day is `day` or later
  while (at - before > 1) {
    const mid = before + Math.floor((at - before) / 2);
    if (dayOf(mid, timeZone) >= day) at = mid;
    else before = mid;
  }
  return at;
}

/**
 * The instants where each day of `first`…`last` begins in `timeZone`, and where the day after `last`
 * begins: `last - first + 2` increasing instants (equal ones when a day was skipped).
 */
export function dayStarts(first: DayNumber, last: DayNumber, timeZone: string): number[] {
  const starts: number[] = [];
  let previous: { at: number; offset: number } | undefined;
  for (let day = first; day <= last + 1; day++) {
    // Usually 24 hours after the previous midnight, at the same offset: one offset lookup a day.
    const hint = previous ? previous.at + DAY_MS : Number.NaN;
    const offset = previous ? offsetAt(hint, timeZone) : Number.NaN;
    let next: { at: number; offset: number };
    if (offset === previous?.offset && hint + offset === day * DAY_MS) {
      next = { at: hint, offset };
    } else {
      const at = startOfDay(day, timeZone);
      next = { at, offset: offsetAt(at, timeZone) };
    }
    starts.push(next.at);
    previous = next;
  }
  return starts;
}
