import { getTimeFormatter, isValidTimeZone } from '../shared/account-time.js';
import { offsetAt, zonedTimeToUtc } from '../shared/time-zone.js';

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/** What a wall-clock time typed in a zone (`datetime-local`'s `YYYY-MM-DDTHH:MM`) stands for. */
export type ZonedTime =
  /** The instant (epoch ms); in an autumn overlap, the earlier of the two. */
  | { kind: 'instant'; at: number }
  /** Skipped by the zone (spring forward): no instant has that wall-clock time. */
  | { kind: 'gap' }
  | { kind: 'invalid' };

/**
 * The instant at which `timeZone`'s clock reads `local` (`2025-03-30T02:30`), read in that zone (the
 * server's conversion, src/shared/time-zone.ts) rather than the browser's; unlike the server, a time the
 * zone skips is said to be one.
 */
export function zonedTime(local: string, timeZone: string): ZonedTime {
  const m = LOCAL.exec(local);
  if (!m || !isValidTimeZone(timeZone)) return { kind: 'invalid' };
  const [year, month, day, hour, minute] = m.slice(1).map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  if (Number.isNaN(wall) || new Date(wall).getUTCDate() !== day || hour > 23 || minute > 59) return { kind: 'invalid' };
  const at = zonedTimeToUtc({ year, month, day, hour, minute, second: 0 }, timeZone);
  // In a gap the server reads the time with the offset before it: no instant has that wall-clock time.
  return at + offsetAt(at, timeZone) === wall ? { kind: 'instant', at } : { kind: 'gap' };
}

/** `YYYY-MM-DDTHH:MM`: the wall-clock time of `timeZone` at instant `at` (for a `datetime-local` field). */
export function zonedLocal(at: number, timeZone: string): string {
  return getTimeFormatter(timeZone).sql(at).slice(0, 16).replace(' ', 'T');
}
