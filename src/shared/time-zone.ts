import { isValidTimeZone } from './account-time.js';

/** True when `name` is an IANA timezone this Node.js knows. */
export const isValidTimeZoneName = isValidTimeZone;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The offset (ms) of `timeZone` at instant `ms` (local wall clock = `ms` + offset). */
export function offsetAt(ms: number, timeZone: string): number {
  let dtf = formatters.get(timeZone);
  if (!dtf) {
    dtf = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, dtf);
  }
  const v: Record<string, number> = {};
  for (const p of dtf.formatToParts(ms)) v[p.type] = Number(p.value);
  const wall = Date.UTC(v.year, v.month - 1, v.day, v.hour, v.minute, v.second);
  return wall - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * The instant at which the wall clock of `timeZone` reads the given time (month 1–12). In a DST gap
 * the offset before it applies (02:30 on the spring-forward day is read as 03:30); in a DST overlap the
 * earlier instant is chosen (the first 02:30 of the autumn night), east of UTC as west of it.
 */
export function zonedTimeToUtc(
  parts: { year: number; month: number; day: number; hour: number; minute: number; second: number },
  timeZone: string,
): number {
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  // The offsets on either side of any change near that time (a day is wider than any transition).
  const before = offsetAt(wall - 86_400_000, timeZone);
  const after = offsetAt(wall + 86_400_000, timeZone);
  const candidates = before === after ? [wall - before] : [wall - before, wall - after].sort((a, b) => a - b);
  for (const c of candidates) if (c + offsetAt(c, timeZone) === wall) return c;
  return wall - before;
}
