import { getTimeFormatter, isValidTimeZone } from '../shared/account-time.js';

const DAY_MS = 86_400_000;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/** What a wall-clock time typed in a zone (`datetime-local`'s `YYYY-MM-DDTHH:MM`) stands for. */
export type ZonedTime =
  /** The instant (epoch ms); in an autumn overlap, the earlier of the two. */
  | { kind: 'instant'; at: number }
  /** Skipped by the zone (spring forward): no instant has that wall-clock time. */
  | { kind: 'gap' }
  | { kind: 'invalid' };

/**
 * The instant at which `timeZone`'s clock reads `local` (`2025-03-30T02:30`), read with the shared
 * formatter (src/shared/account-time.ts) rather than the browser's zone.
 */
export function zonedTime(local: string, timeZone: string): ZonedTime {
  const m = LOCAL.exec(local);
  if (!m || !isValidTimeZone(timeZone)) return { kind: 'invalid' };
  const [year, month, day, hour, minute] = m.slice(1).map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  if (Number.isNaN(wall) || new Date(wall).getUTCDate() !== day || hour > 23 || minute > 59) return { kind: 'invalid' };
  const formatter = getTimeFormatter(timeZone);
  // The zone's offsets a day around that time (no zone changes twice within a day): each gives a candidate.
  const offsets = formatter.offsets(wall - DAY_MS, wall + DAY_MS).filter((_, i) => i % 2 === 1);
  const wanted = `${local.replace('T', ' ')}:00`;
  const candidates = [...new Set(offsets)].map((offset) => wall - offset).sort((a, b) => a - b);
  for (const at of candidates) if (formatter.sql(at) === wanted) return { kind: 'instant', at };
  return { kind: 'gap' };
}

/** `YYYY-MM-DDTHH:MM`: the wall-clock time of `timeZone` at instant `at` (for a `datetime-local` field). */
export function zonedLocal(at: number, timeZone: string): string {
  return getTimeFormatter(timeZone).sql(at).slice(0, 16).replace(' ', 'T');
}
