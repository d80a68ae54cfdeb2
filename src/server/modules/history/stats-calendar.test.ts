import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dayOf, dayStarts, dayText } from './stats-calendar.js';

const HOUR = 3_600_000;

const dayNumber = (text: string) => Date.parse(`${text}T00:00:00Z`) / 86_400_000;

/** Each day of `first`…`last` (YYYY-MM-DD) with its first instant and its length in hours. */
function calendar(timeZone: string, first: string, last: string) {
  const from = dayNumber(first);
  const to = dayNumber(last);
  const starts = dayStarts(from, to, timeZone);
  return starts.slice(0, -1).map((at, i) => [dayText(from + i), new Date(at).toISOString(), (starts[i + 1] - at) / HOUR]);
}

describe('calendar days of an account timezone', () => {
  it('gives Paris a 23-hour day in March and a 25-hour day in October', () => {
    expect(calendar('Europe/Paris', '2024-03-30', '2024-04-01')).toEqual([
      ['2024-03-30', '2024-03-29T23:00:00.000Z', 24],
      ['2024-03-31', '2024-03-30T23:00:00.000Z', 23],
      ['2024-04-01', '2024-03-31T22:00:00.000Z', 24],
    ]);
    expect(calendar('Europe/Paris', '2024-10-26', '2024-10-28')).toEqual([
      ['2024-10-26', '2024-10-25T22:00:00.000Z', 24],
      ['2024-10-27', '2024-10-26T22:00:00.000Z', 25],
      ['2024-10-28', '2024-10-27T23:00:00.000Z', 24],
    ]);
  });

  it('starts a day at 01:00 when its midnight is skipped, and gives a skipped day no time at all', () => {
    // Santiago moves from 00:00 to 01:00 on 2024-09-08.
    expect(calendar('America/Santiago', '2024-09-07', '2024-09-09')).toEqual([
      ['2024-09-07', '2024-09-07T04:00:00.000Z', 24],
      ['2024-09-08', '2024-09-08T04:00:00.000Z', 23],
      ['2024-09-09', '2024-09-09T03:00:00.000Z', 24],
    ]);
    // Samoa skipped 2011-12-30 when it crossed the date line.
    expect(calendar('Pacific/Apia', '2011-12-29', '2011-12-31')).toEqual([
      ['2011-12-29', '2011-12-29T10:00:00.000Z', 24],
      ['2011-12-30', '2011-12-30T10:00:00.000Z', 0],
      ['2011-12-31', '2011-12-30T10:00:00.000Z', 24],
    ]);
  });

  it('follows zones with half-hour offsets and UTC', () => {
    expect(calendar('Asia/Kolkata', '2024-01-01', '2024-01-01')).toEqual([['2024-01-01', '2023-12-31T18:30:00.000Z', 24]]);
    expect(calendar('UTC', '2024-02-28', '2024-03-01').map((d) => d[0])).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
  });

  it('puts every instant inside the day it reads in the zone (fuzzed)', () => {
    const zones = ['Europe/Paris', 'America/New_York', 'America/Santiago', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Pacific/Chatham', 'UTC'];
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2035, 0, 1) }), (zone, instant) => {
        const day = dayOf(instant, zone);
        const [start, end] = dayStarts(day, day, zone);
        expect(start).toBeLessThanOrEqual(instant);
        expect(instant).toBeLessThan(end);
        expect(dayOf(start, zone)).toBe(day);
        expect(dayOf(start - 1, zone)).toBe(day - 1);
        expect(dayOf(end, zone)).toBe(day + 1);
      }),
      { numRuns: 500, seed: 20261125 },
    );
  });
});
