import { describe, expect, it } from 'vitest';
import { checkOneLine, EXCERPT_LENGTH, excerpt } from './input-text.js';

describe('excerpt: what an error message echoes of a value', () => {
  it('keeps a short value as it is, and cuts a long one after 40 characters', () => {
    expect(excerpt('sms-ab12345-1')).toBe('sms-ab12345-1');
    expect(excerpt('a'.repeat(EXCERPT_LENGTH))).toBe('a'.repeat(EXCERPT_LENGTH));
    expect(excerpt('a'.repeat(10_000))).toBe(`${'a'.repeat(EXCERPT_LENGTH)}…`);
  });

  it('escapes control characters, quotes and backslashes (one line), never splits a surrogate pair', () => {
    expect(excerpt('a\nb\u001b[2J"c"\\')).toBe('a\\nb\\u001b[2J\\"c\\"\\\\');
    expect(excerpt('Zoé')).toBe('Zoé');
    const emoji = `${'a'.repeat(EXCERPT_LENGTH - 1)}🍰🍰`;
    expect(excerpt(emoji)).toBe(`${'a'.repeat(EXCERPT_LENGTH - 1)}…`);
  });
});

describe('checkOneLine', () => {
  it('refuses every control character (C0, DEL, C1), and takes the rest of Unicode', () => {
    for (const bad of ['a\nb', 'a\rb', 'a\tb', '\u0000', 'a\u001b[31m', '\u007f', '\u0085', '\u009b'])
      expect(() => checkOneLine('The description', bad), JSON.stringify(bad)).toThrow(
        'The description must be one line of text, without control characters (newline, tab, escape…)',
      );
    for (const good of ['', 'Shop alerts', 'Café « Zoé » – 🍰', '\u200b', 'a b']) expect(checkOneLine('The description', good)).toBe(good);
  });
});
