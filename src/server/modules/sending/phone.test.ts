import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeReceiver, parseReceiverList, parseReceiverListAsync } from './phone.js';

describe('normalizeReceiver', () => {
  it.each([
    ['+33612345678', 'FR', '+33612345678'],
    ['0033612345678', 'FR', '+33612345678'],
    ['0612345678', 'FR', '+33612345678'],
    ['06 12 34 56 78', 'FR', '+33612345678'],
    ['06.12.34.56.78', 'FR', '+33612345678'],
    ['06-12-34-56-78', 'FR', '+33612345678'],
    ['+33 (0)6 12 34 56 78', 'FR', '+33612345678'],
    ['  +33 6 12 34 56 78  ', 'FR', '+33612345678'],
    ['0612345678', 'fr', '+33612345678'],
    ['0470 12 34 56', 'BE', '+32470123456'],
    ['+32 470 12 34 56', 'FR', '+32470123456'],
    ['0032470123456', 'FR', '+32470123456'],
    ['07400 123456', 'GB', '+447400123456'],
    ['+44 20 7946 0958', 'FR', '+442079460958'],
    ['(201) 555-0123', 'US', '+12015550123'],
    ['+1 201-555-0123', 'FR', '+12015550123'],
    ['0012015550123', 'US', '+12015550123'],
    ['01512 3456789', 'DE', '+4915123456789'],
    ['+49 30 123456', 'FR', '+4930123456'],
    ['+33612345678', 'XX', '+33612345678'],
  ])('%s (default %s) → %s', (raw, country, e164) => {
    expect(normalizeReceiver(raw, country)).toEqual({ ok: true, e164 });
  });

  it.each([
    ['', 'FR', 'empty'],
    ['   ', 'FR', 'empty'],
    ['06123A5678', 'FR', 'only digits'],
    ['1-800-FLOWERS', 'US', 'only digits'],
    ['0612345678 ext. 12', 'FR', 'only digits'],
    ['+33 6 12+34', 'FR', 'only digits'],
    ['12', 'FR', 'too short'],
    ['06123456789', 'FR', 'too long'],
    ['+3361234567890123', 'FR', 'too long'],
    ['52306122667387', 'DE', 'too long'], // valid for libphonenumber, 16 digits in E.164
    ['+999 1234567', 'FR', 'unknown country calling code'],
    ['061234567', 'FR', 'not a valid phone number'],
    ['+33012345678', 'FR', 'not a valid phone number'],
    ['0712345678', 'FR', 'not a valid phone number'],
    ['0612345678', 'XX', 'unknown default country'],
    ['+', 'FR', 'not a phone number'],
  ])('refuses %j (default %s): %s', (raw, country, reason) => {
    const result = normalizeReceiver(raw, country);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });

  it('never throws, and any number it accepts is E.164', () => {
    const country = fc.constantFrom('FR', 'BE', 'GB', 'US', 'DE', 'fr', 'XX', '', 'FRA');
    const raw = fc.oneof(
      fc.string({ maxLength: 40, size: 'max' }),
      fc.string({ unit: fc.constantFrom(...'+0123456789 .-()'), maxLength: 25, size: 'max' }),
    );
    fc.assert(
      fc.property(raw, country, (text, defaultCountry) => {
        const result = normalizeReceiver(text, defaultCountry);
        if (result.ok) expect(result.e164).toMatch(/^\+[1-9]\d{1,14}$/);
        else expect(result.reason).not.toBe('');
      }),
    );
  });
});

describe('parseReceiverList', () => {
  it('splits on commas, semicolons, whitespace and line breaks', () => {
    expect(parseReceiverList('0612345678, +32470123456;0033751234567\n+447400123456\r\n+12015550123 +4930123456', 'FR')).toEqual({
      valid: ['+33612345678', '+32470123456', '+33751234567', '+447400123456', '+12015550123', '+4930123456'],
      invalid: [],
      tooMany: false,
    });
  });

  it('keeps a spaced number whole and reports a broken one as given', () => {
    expect(parseReceiverList('06 12 34 56 78; 06 12 34 56 7, abc', 'FR')).toEqual({
      valid: ['+33612345678'],
      invalid: ['06 12 34 56 7', 'abc'],
      tooMany: false,
    });
  });

  it('reports the invalid words next to valid ones', () => {
    expect(parseReceiverList('0612345678 123 0751234567', 'FR')).toEqual({
      valid: ['+33612345678', '+33751234567'],
      invalid: ['123'],
      tooMany: false,
    });
  });

  it('deduplicates by E.164 in input order, and accepts an array', () => {
    const input = ['+33612345678', '0033612345678', ' 0751234567 ', '', '06 12 34 56 78', 'x'];
    expect(parseReceiverList(input, 'FR')).toEqual({
      valid: ['+33612345678', '+33751234567'],
      invalid: ['x'],
      tooMany: false,
    });
  });

  it('gives nothing for empty input', () => {
    expect(parseReceiverList(' ,;\n ', 'FR')).toEqual({ valid: [], invalid: [], tooMany: false });
    expect(parseReceiverList([], 'FR')).toEqual({ valid: [], invalid: [], tooMany: false });
  });

  it('stops once more than `max` receivers are found, counting each word of a piece read word by word', () => {
    expect(parseReceiverList(['0612345678,0612345679', '0612345670'], 'FR', 3)).toMatchObject({ valid: expect.any(Array), tooMany: false });
    expect(parseReceiverList(['0612345678,0612345679', '0612345670'], 'FR', 2)).toMatchObject({ tooMany: true });
    // A spaced number is one receiver; a piece of invalid words counts each word.
    expect(parseReceiverList(['06 12 34 56 78', '06 12 34 56 79'], 'FR', 2)).toMatchObject({ tooMany: false });
    expect(parseReceiverList(['1 1 1'], 'FR', 2)).toEqual({ valid: [], invalid: [], tooMany: true });
    expect(parseReceiverList(['1 1'], 'FR', 2)).toEqual({ valid: [], invalid: ['1 1'], tooMany: false });
  });

  it('reads a long list between turns of the event loop, with the same result as at once', async () => {
    // 12,000 pieces (three turns): numbers, spaced numbers, repeats, invalid words beside valid ones.
    const list = Array.from({ length: 12_000 }, (_, i) =>
      i % 7 === 0
        ? `06 12 ${String(i % 100).padStart(2, '0')} 56 78`
        : i % 11 === 0
          ? `0612345678 x${i}`
          : `+3361${String(i).padStart(7, '0')}`,
    );
    const turns: number[] = [];
    const ticking = setInterval(() => turns.push(turns.length), 0);
    const read = await parseReceiverListAsync(list, 'FR', 100_000);
    clearInterval(ticking);
    expect(read).toEqual(parseReceiverList(list, 'FR', 100_000));
    expect(read.valid.length).toBeGreaterThan(9_000);
    // Timers ran while it read: it gave the event loop back.
    expect(turns.length).toBeGreaterThan(0);
    expect(await parseReceiverListAsync(list, 'FR', 11_000)).toEqual({ valid: [], invalid: [], tooMany: true });
    expect(await parseReceiverListAsync([...list, '1 2 3'], 'FR', 12_001)).toEqual(parseReceiverList([...list, '1 2 3'], 'FR', 12_001));
  });

  it('never throws on any input', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 200, size: 'max' }), fc.array(fc.string({ maxLength: 30 }))),
        fc.constantFrom('FR', 'US', 'XX'),
        (input, country) => {
          const { valid } = parseReceiverList(input, country);
          expect(new Set(valid).size).toBe(valid.length);
        },
      ),
    );
  });
});
