import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTimeFormatter, getTimeFormatter, isValidTimeZone } from './account-time.js';

const at = (iso: string) => Date.parse(iso);

const referenceFormats = new Map<string, Intl.DateTimeFormat>();

/** Reference formatting with Intl on every call (slow, independent of the hour cache). */
function reference(timeZone: string, ms: number): string {
  const v: Record<string, string> = {};
  const dtf =
    referenceFormats.get(timeZone) ??
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    });
  referenceFormats.set(timeZone, dtf);
  for (const p of dtf.formatToParts(ms)) v[p.type] = p.value;
  const offset = v.timeZoneName === 'GMT' ? '+00:00' : v.timeZoneName.slice(3);
  return `${v.year}-${v.month}-${v.day}T${v.hour}:${v.minute}:${v.second}${offset}`;
}

describe('createTimeFormatter', () => {
  it('formats the three shapes', () => {
    const f = createTimeFormatter('Europe/Paris');
    const ms = at('2018-06-13T13:03:57.999Z');
    expect(f.compact(ms)).toBe('20180613150357');
    expect(f.sql(ms)).toBe('2018-06-13 15:03:57');
    expect(f.iso(ms)).toBe('2018-06-13T15:03:57+02:00');
  });

  it('uses +00:00, never Z, in UTC', () => {
    const f = createTimeFormatter('UTC');
    expect(f.iso(at('2024-01-01T00:00:00Z'))).toBe('2024-01-01T00:00:00+00:00');
    expect(f.compact(at('1970-01-01T00:00:00Z'))).toBe('19700101000000');
  });

  it('follows Europe/Paris across the spring gap', () => {
    const f = createTimeFormatter('Europe/Paris');
    expect(f.iso(at('2024-03-31T00:59:59Z'))).toBe('2024-03-31T01:59:59+01:00');
    expect(f.iso(at('2024-03-31T01:00:00Z'))).toBe('2024-03-31T03:00:00+02:00');
    expect(f.compact(at('2024-03-31T01:00:00Z'))).toBe('20240331030000');
  });

  it('follows Europe/Paris across the autumn overlap', () => {
    const f = createTimeFormatter('Europe/Paris');
    expect(f.iso(at('2024-10-27T00:59:59Z'))).toBe('2024-10-27T02:59:59+02:00');
    expect(f.iso(at('2024-10-27T01:00:00Z'))).toBe('2024-10-27T02:00:00+01:00');
    expect(f.sql(at('2024-10-27T01:30:00Z'))).toBe('2024-10-27 02:30:00');
  });

  it('follows America/New_York across both transitions', () => {
    const f = createTimeFormatter('America/New_York');
    expect(f.iso(at('2024-03-10T06:59:59Z'))).toBe('2024-03-10T01:59:59-05:00');
    expect(f.iso(at('2024-03-10T07:00:00Z'))).toBe('2024-03-10T03:00:00-04:00');
    expect(f.iso(at('2024-11-03T05:59:59Z'))).toBe('2024-11-03T01:59:59-04:00');
    expect(f.iso(at('2024-11-03T06:00:00Z'))).toBe('2024-11-03T01:00:00-05:00');
  });

  it('handles half-hour offsets (Asia/Kolkata) across midnight', () => {
    const f = createTimeFormatter('Asia/Kolkata');
    expect(f.iso(at('2018-06-13T09:33:57Z'))).toBe('2018-06-13T15:03:57+05:30');
    expect(f.compact(at('2024-12-31T18:29:59Z'))).toBe('20241231235959');
    expect(f.compact(at('2024-12-31T18:30:00Z'))).toBe('20250101000000');
  });

  it('handles a transition in the middle of a UTC hour (Australia/Lord_Howe, 30 min DST)', () => {
    const f = createTimeFormatter('Australia/Lord_Howe');
    expect(f.iso(at('2024-10-05T15:00:00Z'))).toBe('2024-10-06T01:30:00+10:30');
    expect(f.iso(at('2024-10-05T15:29:59Z'))).toBe('2024-10-06T01:59:59+10:30');
    expect(f.iso(at('2024-10-05T15:30:00Z'))).toBe('2024-10-06T02:30:00+11:00');
    expect(f.iso(at('2024-04-06T15:00:00Z'))).toBe('2024-04-07T01:30:00+10:30');
  });

  it('truncates to the second, also before 1970', () => {
    const f = createTimeFormatter('UTC');
    expect(f.sql(at('2024-02-29T23:59:59.999Z'))).toBe('2024-02-29 23:59:59');
    expect(f.sql(at('1969-12-31T23:59:59.500Z'))).toBe('1969-12-31 23:59:59');
  });

  it('agrees with Intl on any instant in several zones, in any order', () => {
    const zones = ['Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'America/Sao_Paulo', 'UTC'];
    const formatters = zones.map((z) => createTimeFormatter(z));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: zones.length - 1 }),
        fc.integer({ min: at('1971-01-01T00:00:00Z'), max: at('2099-12-31T23:59:59Z') }),
        (z, ms) => formatters[z].iso(ms) === reference(zones[z], ms),
      ),
      { numRuns: 2000 },
    );
  });

  it('stays right after its hour cache was cleared', () => {
    const f = createTimeFormatter('Europe/Paris');
    const start = at('2023-01-01T00:00:00Z');
    const wrong: string[] = [];
    for (let h = 0; h < 12_000; h += 1) {
      const ms = start + h * 3_600_000 + 1_234_567;
      if (f.iso(ms) !== reference('Europe/Paris', ms)) wrong.push(f.iso(ms));
    }
    expect(wrong).toEqual([]);
  });

  it('rejects an unknown zone with a clear Error', () => {
    expect(() => createTimeFormatter('Mars/Olympus')).toThrow(/Unknown timezone "Mars\/Olympus"/);
    expect(() => createTimeFormatter('')).toThrow(Error);
  });
});

describe('getTimeFormatter', () => {
  it('shares one formatter per zone', () => {
    expect(getTimeFormatter('Europe/Paris')).toBe(getTimeFormatter('Europe/Paris'));
    expect(getTimeFormatter('UTC').timeZone).toBe('UTC');
  });
});

describe('isValidTimeZone', () => {
  it('knows IANA names only', () => {
    expect(isValidTimeZone('Europe/Paris')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });
});

describe('TimeFormatter.offsets', () => {
  const H = 3_600_000;
  it("lists the zone's offsets over a period, each from the instant it applies", () => {
    const from = Date.UTC(2025, 0, 1);
    const to = Date.UTC(2025, 11, 31);
    expect(createTimeFormatter('Europe/Paris').offsets(from, to)).toEqual([
      from,
      H,
      Date.UTC(2025, 2, 30, 1),
      2 * H,
      Date.UTC(2025, 9, 26, 1),
      H,
    ]);
    expect(createTimeFormatter('UTC').offsets(from, to)).toEqual([from, 0]);
    // Half-hour summer time, and a period that starts inside it.
    expect(createTimeFormatter('Australia/Lord_Howe').offsets(Date.UTC(2025, 0, 1), Date.UTC(2025, 5, 1))).toEqual([
      Date.UTC(2025, 0, 1),
      11 * H,
      Date.UTC(2025, 3, 5, 15),
      10.5 * H,
    ]);
  });

  it('agrees with the formatted wall-clock time at every instant', () => {
    const f = createTimeFormatter('America/New_York');
    const from = Date.UTC(2024, 0, 1);
    const to = Date.UTC(2026, 0, 1);
    const offsets = f.offsets(from, to);
    fc.assert(
      fc.property(fc.integer({ min: from, max: to }), (ms) => {
        let i = offsets.length - 2;
        while (i > 0 && ms < offsets[i]) i -= 2;
        const local = new Date(ms + offsets[i + 1]).toISOString();
        expect(f.compact(ms)).toBe(local.slice(0, 19).replace(/[-T:]/g, ''));
      }),
    );
  });
});
