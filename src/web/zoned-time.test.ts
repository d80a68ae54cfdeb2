import { describe, expect, it } from 'vitest';
import { zonedLocal, zonedTime } from './zoned-time.js';

describe('zonedTime', () => {
  it('reads a wall-clock time in the given zone, whatever the runtime’s', () => {
    expect(zonedTime('2026-01-15T10:00', 'Asia/Tokyo')).toEqual({ kind: 'instant', at: Date.UTC(2026, 0, 15, 1, 0) });
    expect(zonedTime('2026-07-01T10:00', 'Europe/Paris')).toEqual({ kind: 'instant', at: Date.UTC(2026, 6, 1, 8, 0) });
    expect(zonedTime('2026-01-15T23:30', 'America/New_York')).toEqual({ kind: 'instant', at: Date.UTC(2026, 0, 16, 4, 30) });
    expect(zonedTime('2026-01-15T10:00', 'UTC')).toEqual({ kind: 'instant', at: Date.UTC(2026, 0, 15, 10, 0) });
  });

  it('says a time skipped by the spring change is a gap, and reads an autumn overlap as its earlier instant', () => {
    expect(zonedTime('2026-03-29T02:30', 'Europe/Paris')).toEqual({ kind: 'gap' });
    expect(zonedTime('2026-03-08T02:30', 'America/New_York')).toEqual({ kind: 'gap' });
    // 02:30 comes twice on 2026-10-25 in Paris: first at 00:30 UTC (summer time), then at 01:30 UTC.
    expect(zonedTime('2026-10-25T02:30', 'Europe/Paris')).toEqual({ kind: 'instant', at: Date.UTC(2026, 9, 25, 0, 30) });
    expect(zonedTime('2026-03-29T03:00', 'Europe/Paris')).toEqual({ kind: 'instant', at: Date.UTC(2026, 2, 29, 1, 0) });
  });

  it('refuses what is not a datetime-local value or a known zone', () => {
    for (const local of ['', '2026-02-30T10:00', '2026-01-15 10:00', '2026-01-15T24:00', 'demain'])
      expect(zonedTime(local, 'Europe/Paris'), local).toEqual({ kind: 'invalid' });
    expect(zonedTime('2026-01-15T10:00', 'Mars/Olympus')).toEqual({ kind: 'invalid' });
  });

  it('writes an instant back as the zone’s datetime-local value', () => {
    expect(zonedLocal(Date.UTC(2026, 0, 15, 1, 0), 'Asia/Tokyo')).toBe('2026-01-15T10:00');
  });
});
