import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  analyzeSms,
  encodeGsm7Unpacked,
  encodeUcs2,
  GSM7_BASIC,
  GSM7_EXTENSION,
  isGsm7,
  STOP_CLAUSE,
  splitSms,
  withStopClause,
} from './sms-encoding.js';
import type { Encoding } from './status.js';

const emoji = '😀';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('analyzeSms', () => {
  it.each([
    ['empty text is one empty SMS', '', 'gsm7', 0, 1, 160, 160],
    ['160 plain characters', 'a'.repeat(160), 'gsm7', 160, 1, 160, 0],
    ['161 plain characters', 'a'.repeat(161), 'gsm7', 161, 2, 153, 145],
    ['153 × 2 plain characters', 'a'.repeat(306), 'gsm7', 306, 2, 153, 0],
    ['307 plain characters', 'a'.repeat(307), 'gsm7', 307, 3, 153, 152],
    ['€ costs 2 septets', '€', 'gsm7', 2, 1, 160, 158],
    ['80 € fill one SMS', '€'.repeat(80), 'gsm7', 160, 1, 160, 0],
    ['81 € need two parts', '€'.repeat(81), 'gsm7', 162, 2, 153, 153 - 10],
    ['every extension character costs 2', '€[]{}~^\\|\f', 'gsm7', 20, 1, 160, 140],
    ['é is in the basic table', 'é'.repeat(160), 'gsm7', 160, 1, 160, 0],
    ['Ç is in the basic table', 'Ça', 'gsm7', 2, 1, 160, 158],
    ['ç is not GSM', 'ça', 'ucs2', 2, 1, 70, 68],
    ['line breaks are GSM', 'a\nb\r\nc', 'gsm7', 6, 1, 160, 154],
    ['ê forces UCS-2', 'ê', 'ucs2', 1, 1, 70, 69],
    ['70 ê fill one SMS', 'ê'.repeat(70), 'ucs2', 70, 1, 70, 0],
    ['71 ê need two parts', 'ê'.repeat(71), 'ucs2', 71, 2, 67, 63],
    ['an emoji is 2 units', emoji, 'ucs2', 2, 1, 70, 68],
    ['35 emoji fill one SMS', emoji.repeat(35), 'ucs2', 70, 1, 70, 0],
    ['67 emoji: 33 per part, none split', emoji.repeat(67), 'ucs2', 134, 3, 67, 65],
  ] as const)('%s', (_name, text, encoding, length, parts, perPart, remainingInPart) => {
    expect(analyzeSms(text)).toEqual({ encoding, length, parts, perPart, remainingInPart, text });
  });

  it('appends and counts the STOP clause', () => {
    const result = analyzeSms('a'.repeat(146), { stopClause: STOP_CLAUSE });
    expect(result.text).toBe(`${'a'.repeat(146)}\nSTOP au 36180`);
    expect(result).toMatchObject({ encoding: 'gsm7', length: 160, parts: 1 });
    expect(analyzeSms('a'.repeat(147), { stopClause: STOP_CLAUSE }).parts).toBe(2);
  });

  it('ignores a null or empty STOP clause', () => {
    expect(analyzeSms('hi', { stopClause: null }).text).toBe('hi');
    expect(analyzeSms('hi', { stopClause: '' }).text).toBe('hi');
  });

  it('uses UCS-2 when forced', () => {
    expect(analyzeSms('a'.repeat(71), { forceUcs2: true })).toMatchObject({
      encoding: 'ucs2',
      length: 71,
      parts: 2,
      perPart: 67,
    });
  });
});

describe('splitSms', () => {
  it('never splits an ESC pair', () => {
    const parts = splitSms('€'.repeat(81), 'gsm7');
    expect(parts).toEqual(['€'.repeat(76), '€'.repeat(5)]);
  });

  it('never splits a surrogate pair', () => {
    const parts = splitSms(`a${emoji.repeat(40)}`, 'ucs2');
    expect(parts).toEqual([`a${emoji.repeat(33)}`, emoji.repeat(7)]);
  });

  it('refuses non-GSM text as gsm7', () => {
    expect(() => splitSms('ê', 'gsm7')).toThrow(RangeError);
  });
});

describe('encoders', () => {
  it('encodes GSM septets unpacked, extension characters after ESC', () => {
    expect([...encodeGsm7Unpacked('@A€\n')]).toEqual([0x00, 0x41, 0x1b, 0x65, 0x0a]);
    expect([...encodeGsm7Unpacked('Ç')]).toEqual([0x09]);
    expect([...encodeGsm7Unpacked('\f')]).toEqual([0x1b, 0x0a]);
    expect(() => encodeGsm7Unpacked('ç')).toThrow(/U\+00E7/);
  });

  it('maps every basic character to its index', () => {
    const chars = [...GSM7_BASIC].filter((_, code) => code !== 0x1b);
    expect([...encodeGsm7Unpacked(chars.join(''))]).toEqual([...Array(128).keys()].filter((code) => code !== 0x1b));
  });

  it('encodes UTF-16BE', () => {
    expect([...encodeUcs2('Aê')]).toEqual([0x00, 0x41, 0x00, 0xea]);
    expect([...encodeUcs2(emoji)]).toEqual([0xd8, 0x3d, 0xde, 0x00]);
  });
});

describe('withStopClause', () => {
  it('appends a line break and the clause', () => {
    expect(withStopClause('Promo', STOP_CLAUSE)).toBe('Promo\nSTOP au 36180');
  });
  it('appends nothing for an empty clause (RELAIS_STOP_CLAUSE set but empty), not even the line break', () => {
    expect(withStopClause('Promo', '')).toBe('Promo');
  });
});

const gsmChar = fc.constantFrom(...[...GSM7_BASIC].filter((_, code) => code !== 0x1b), ...GSM7_EXTENSION.keys());
const anyText = fc.oneof(
  fc.string({ unit: gsmChar, maxLength: 500, size: 'max' }),
  fc.string({ unit: fc.oneof(gsmChar, fc.constantFrom('ê', 'ç', emoji, '中')), maxLength: 400, size: 'max' }),
  fc.string({ unit: 'binary', maxLength: 400, size: 'max' }),
);

function cost(part: string, encoding: Encoding): number {
  return encoding === 'ucs2' ? part.length : encodeGsm7Unpacked(part).length;
}

describe('properties', () => {
  it('parts join to the text, fit their part and match the analysed count', () => {
    fc.assert(
      fc.property(anyText, fc.boolean(), (text, forceUcs2) => {
        const analysis = analyzeSms(text, { forceUcs2 });
        const parts = splitSms(text, analysis.encoding);
        expect(parts.join('')).toBe(text);
        expect(parts).toHaveLength(analysis.parts);
        for (const part of parts) expect(cost(part, analysis.encoding)).toBeLessThanOrEqual(analysis.perPart);
        expect(analysis.length).toBe(cost(text, analysis.encoding));
        expect(analysis.remainingInPart).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('chooses GSM exactly when every character is GSM', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(analyzeSms(text).encoding).toBe(isGsm7(text) ? 'gsm7' : 'ucs2');
      }),
    );
  });

  it('never leaves a lone surrogate at a part boundary of well-formed text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300, size: 'max' }), (text) => {
        for (const part of splitSms(text, 'ucs2')) expect(part).not.toMatch(LONE_SURROGATE);
      }),
    );
  });
});

/**
 * The counting written the plain way (code points, maps, one part string at a time), as the functions
 * above were before they read lookup tables: the tables must change nothing.
 */
const reference = (() => {
  const basic = new Map([...GSM7_BASIC].flatMap((char, code) => (code === 0x1b ? [] : [[char, code] as const])));
  const cost = (char: string, encoding: Encoding) =>
    encoding === 'ucs2' ? char.length : basic.has(char) ? 1 : GSM7_EXTENSION.has(char) ? 2 : Number.NaN;
  const costOf = (text: string, encoding: Encoding) => [...text].reduce((sum, char) => sum + cost(char, encoding), 0);
  const split = (text: string, encoding: Encoding) => {
    const limits = encoding === 'gsm7' ? { single: 160, multi: 153 } : { single: 70, multi: 67 };
    if (costOf(text, encoding) <= limits.single) return [text];
    const parts: string[] = [];
    let part = '';
    let used = 0;
    for (const char of text) {
      if (used + cost(char, encoding) > limits.multi) {
        parts.push(part);
        part = '';
        used = 0;
      }
      part += char;
      used += cost(char, encoding);
    }
    return [...parts, part];
  };
  const isGsm = (text: string) => [...text].every((char) => basic.has(char) || GSM7_EXTENSION.has(char));
  const encode = (text: string) => [...text].flatMap((char) => (basic.has(char) ? [basic.get(char)!] : [0x1b, GSM7_EXTENSION.get(char)!]));
  return { costOf, split, isGsm, encode };
})();

describe('the lookup tables against the plain counting', () => {
  it('agree on encoding, length, parts, remaining room, the parts themselves and their bytes, for any text', () => {
    const unit = fc.constantFrom('a', ' ', '\n', 'é', 'Ç', 'ç', 'Δ', '€', '[', '~', '|', '🎉', '\ud83c', '\udf89', '\u001b', '\uffff', '@');
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 400 }), fc.nat(400), fc.boolean(), (units, plain, forceUcs2) => {
        const text = 'x'.repeat(plain) + units.join('');
        const encoding: Encoding = !forceUcs2 && reference.isGsm(text) ? 'gsm7' : 'ucs2';
        const parts = reference.split(text, encoding);
        const perPart = parts.length === 1 ? (encoding === 'gsm7' ? 160 : 70) : encoding === 'gsm7' ? 153 : 67;
        expect(isGsm7(text)).toBe(reference.isGsm(text));
        expect(analyzeSms(text, { forceUcs2 })).toEqual({
          encoding,
          length: reference.costOf(text, encoding),
          parts: parts.length,
          perPart,
          remainingInPart: perPart - reference.costOf(parts[parts.length - 1], encoding),
          text,
        });
        expect(splitSms(text, encoding)).toEqual(parts);
        if (encoding === 'gsm7') for (const part of parts) expect([...encodeGsm7Unpacked(part)]).toEqual(reference.encode(part));
      }),
      { numRuns: 3_000 },
    );
  });
});
