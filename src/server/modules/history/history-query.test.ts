import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { FILTER_PARAMS, formatSort, parseDateParam, parseHistoryFilter, parseSort } from './history-query.js';

/** Runs `fn`; it may return or throw an AppError with a message, nothing else. */
function onlyClearErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).message.length).toBeGreaterThan(5);
  }
}

const anyValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('', '-', '*', '+33*', '0033612345678', '2024-02-30', '2024-01-01T25:00', 'sent,failed', ',', '%', '\u0000'),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.integer(),
  fc.constant(null),
  // ids-like values
  fc.constantFrom(
    '1,2,3',
    ' 7 , 8 ',
    '0',
    '-1',
    '1.5',
    '1e3',
    '9007199254740993',
    ',,',
    '12,abc',
    [3, 1, 3],
    ['4', 5],
    [[6]],
    { id: 1 },
    true,
  ),
  fc.array(fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string({ maxLength: 6 })), { maxLength: 5 }),
);

describe('history query parsing', () => {
  it('never fails other than with a clear AppError, whatever the filter values (fuzzed)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...FILTER_PARAMS), anyValue),
        fc.constantFrom('UTC', 'Europe/Paris', 'Asia/Kolkata'),
        (raw, zone) => {
          onlyClearErrors(() => parseHistoryFilter(raw, zone));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reads ids comma-separated or repeated, sorted without repeats, and refuses anything else (fuzzed)', () => {
    const id = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
    const asText = (n: number, pad: boolean) => (pad ? ` ${n} ` : String(n));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(id, fc.boolean(), fc.constantFrom('number', 'text', 'list')), { minLength: 1, maxLength: 40 }),
        (items) => {
          const raw = items.map(([n, pad, how]) => (how === 'number' ? n : how === 'text' ? asText(n, pad) : `${asText(n, pad)},`));
          const expected = [...new Set(items.map(([n]) => n))].sort((a, b) => a - b);
          expect(parseHistoryFilter({ ids: raw }, 'UTC').ids).toEqual(expected);
          expect(parseHistoryFilter({ ids: raw.map(String).join(',') }, 'UTC').ids).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.array(id, { maxLength: 5 }),
        fc.oneof(
          fc.integer({ max: 0 }),
          fc.double({ noInteger: true }),
          fc.constantFrom('x', '1x', '0x10', '+1', '1e3', '9007199254740992', true, {}),
        ),
        (good, bad) => {
          expect(() => parseHistoryFilter({ ids: [...good, bad] }, 'UTC')).toThrow(/ids must be message ids/);
        },
      ),
      { numRuns: 500 },
    );
    expect(() => parseHistoryFilter({ ids: '' }, 'UTC')).toThrow(/ids lists no message id/);
    expect(() => parseHistoryFilter({ ids: [] }, 'UTC')).toThrow(/ids lists no message id/);
    expect(parseHistoryFilter({ ids: undefined }, 'UTC')).toEqual({});
    expect(parseHistoryFilter({ ids: Array.from({ length: 1000 }, (_, i) => i + 1) }, 'UTC').ids).toHaveLength(1000);
    expect(() => parseHistoryFilter({ ids: Array.from({ length: 1001 }, (_, i) => String(i + 1)).join(',') }, 'UTC')).toThrow(
      expect.objectContaining({ code: 'TOO_MANY_IDS' }),
    );
  });

  it('never fails other than with a clear AppError, whatever the sort or cursor (fuzzed)', () => {
    const fingerprint = queryFingerprint({ key: 'date', direction: 'desc' }, {}, 1, null);
    fc.assert(
      fc.property(anyValue, fc.string(), fc.base64String(), (sort, cursor, b64) => {
        onlyClearErrors(() => parseSort(sort));
        onlyClearErrors(() => decodeCursor(cursor, fingerprint));
        onlyClearErrors(() => decodeCursor(b64.replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', ''), fingerprint));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads every sort back from its own words', () => {
    for (const key of ['date', 'sender', 'receiver', 'message', 'status', 'user', 'channel'] as const) {
      for (const direction of ['asc', 'desc'] as const) {
        expect(parseSort(formatSort({ key, direction }))).toEqual({ key, direction });
      }
    }
    expect(parseSort(undefined)).toEqual({ key: 'date', direction: 'desc' });
    expect(parseSort('-date')).toEqual({ key: 'date', direction: 'desc' });
  });

  it('gives cursors back exactly, and refuses them for another query or with a value of the other type', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.integer()),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.boolean(),
        (value, id, after) => {
          const numeric = typeof value === 'number';
          const fp = queryFingerprint({ key: numeric ? 'date' : 'sender', direction: 'asc' }, { user: 'x' }, 1, null);
          const cursor = { value, id, way: after ? ('after' as const) : ('before' as const) };
          expect(decodeCursor(encodeCursor(cursor, fp), fp, numeric)).toEqual(cursor);
          expect(() => decodeCursor(encodeCursor(cursor, fp), fp, !numeric)).toThrow(AppError);
          const other = queryFingerprint({ key: 'sender', direction: 'asc' }, { user: 'y' }, 1, null);
          expect(() => decodeCursor(encodeCursor(cursor, fp), other, numeric)).toThrow(AppError);
        },
      ),
    );
  });

  it('normalises receivers and statuses, and reads dates in the account timezone', () => {
    expect(parseHistoryFilter({ receiver: '0033 6 12 34 56 78', status: 'sent,failed,sent', channel: 'api' }, 'UTC')).toEqual({
      receiver: { exact: '+33612345678' },
      statuses: ['sent', 'failed'],
      channels: ['api'],
    });
    expect(parseHistoryFilter({ receiver: '+336*', user: '-' }, 'UTC')).toEqual({ receiver: { prefix: '+336' }, user: null });
    expect(parseDateParam('from', '2024-07-01T10:00:00', 'Europe/Paris', false)).toBe(Date.parse('2024-07-01T08:00:00Z'));
    expect(parseDateParam('to', '2024-07-01T10:00', 'Europe/Paris', true)).toBe(Date.parse('2024-07-01T08:00:59.999Z'));
    expect(parseDateParam('to', '2024-10-27', 'Europe/Paris', true)).toBe(Date.parse('2024-10-27T22:59:59.999Z'));
    expect(parseDateParam('from', '2024-07-01T10:00:00-04:00', 'Europe/Paris', false)).toBe(Date.parse('2024-07-01T14:00:00Z'));
    expect(() => parseHistoryFilter({ from: '2024-07-02', to: '2024-07-01' }, 'UTC')).toThrow(/from must not be after to/);
  });
});
