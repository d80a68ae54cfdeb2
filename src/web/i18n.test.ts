import { describe, expect, it } from 'vitest';
import { formatNumber } from './i18n.js';

describe('formatNumber', () => {
  const values = [
    0,
    1,
    12,
    999,
    1000,
    1234,
    12345,
    999999,
    1000000,
    10_000_000,
    123456789012,
    -1,
    -1234567,
    0.5,
    1.25,
    1234.5678,
    0.0004,
    -0.0004,
    2 ** 53,
  ];
  it.each([
    ['fr', 'fr-FR'],
    ['en', 'en-GB'],
  ] as const)('%s: writes numbers as Intl.NumberFormat(%s) does', (lang, locale) => {
    const intl = new Intl.NumberFormat(locale);
    for (const value of values) expect(formatNumber(value, lang)).toBe(intl.format(value));
  });
});
