import { describe, expect, it } from 'vitest';
import { decodeText } from './smpp-text.js';

const octets = (...values: number[]) => Buffer.from(values);

describe('decodeText', () => {
  it('reads GSM 03.38 septets, the extension table after an escape, and refuses octets that are no septet', () => {
    // "@£$ é € {x}" — @ is 0x00, € and the braces escaped.
    const gsm = octets(0x00, 0x01, 0x02, 0x20, 0x05, 0x20, 0x1b, 0x65, 0x20, 0x1b, 0x28, 0x78, 0x1b, 0x29);
    expect(decodeText(gsm, 'gsm')).toEqual({ ok: true, text: '@£$ é € {x}' });
    // An escape before a septet the extension table lacks reads as that septet; one ending the text is dropped.
    expect(decodeText(octets(0x41, 0x1b, 0x42, 0x1b), 'gsm')).toEqual({ ok: true, text: 'AB' });
    expect(decodeText(Buffer.from('Caf\u00e9', 'latin1'), 'gsm')).toMatchObject({ ok: false, status: 'ESME_RINVDCS' });
  });

  it('reads IA5 as ASCII; control octets make it GSM septets labelled 1 (as the smpp package sends them); refuses octets above 0x7F', () => {
    expect(decodeText(Buffer.from('Mail: a@b.fr, $5_{x}\r\n', 'latin1'), 'ia5')).toEqual({ ok: true, text: 'Mail: a@b.fr, $5_{x}\r\n' });
    // "Livré à 5 $": é 0x05, à 0x7F, $ 0x02 in GSM 03.38.
    expect(decodeText(octets(0x4c, 0x69, 0x76, 0x72, 0x05, 0x20, 0x7f, 0x20, 0x35, 0x20, 0x02), 'ia5')).toEqual({
      ok: true,
      text: 'Livré à 5 $',
    });
    expect(decodeText(Buffer.from('Caf\u00e9', 'latin1'), 'ia5')).toMatchObject({ ok: false, status: 'ESME_RINVDCS' });
    // The extension table after an escape: "{5 €}" as the package writes it.
    expect(decodeText(octets(0x1b, 0x28, 0x35, 0x20, 0x1b, 0x65, 0x1b, 0x29, 0x05), 'ia5')).toEqual({ ok: true, text: '{5 €}é' });
  });

  it('refuses data_coding 1 whose alphabet cannot be told: control octets with a printable one IA5 and GSM read otherwise, or a bad escape', () => {
    const status = (bytes: Buffer) => {
      const decoded = decodeText(bytes, 'ia5');
      return decoded.ok ? decoded.text : decoded.status;
    };
    // A tab (a control: GSM "Ç") with $, @, _, [, ~ (GSM ¤, ¡, §, Ä, ü): either text could be meant.
    for (const char of ['$', '@', '_', '[', '\\', ']', '^', '`', '{', '|', '}', '~'])
      expect(status(Buffer.from(`a\t${char}`, 'latin1')), char).toBe('ESME_RINVDCS');
    // An escape before a septet the extension table lacks, or ending the text: a terminal sequence, or cut.
    expect(status(Buffer.from('\u001b[1mBold', 'latin1'))).toBe('ESME_RINVDCS');
    expect(status(octets(0x41, 0x1b, 0x42))).toBe('ESME_RINVDCS');
    expect(status(octets(0x05, 0x1b))).toBe('ESME_RINVDCS');
    // The escaped "|" is 0x40 after 0x1B: read from the extension table, not as "@"/"¡".
    expect(status(octets(0x05, 0x1b, 0x40))).toBe('é|');
    // Control octets alone with printable ones both alphabets read alike: GSM, every octet a character.
    expect(status(octets(0x09, 0x61, 0x20, 0x76, 0x61, 0x00))).toBe('Ça va@');
  });

  it('reads Latin-1 octet for octet (C1 controls refused), and UCS-2 two octets a character (a lone surrogate kept), refusing an odd count', () => {
    expect(decodeText(Buffer.from('Crème brûlée', 'latin1'), 'latin1')).toEqual({ ok: true, text: 'Crème brûlée' });
    expect(decodeText(Buffer.from('\u00a0\u00ff', 'latin1'), 'latin1')).toEqual({ ok: true, text: '\u00a0\u00ff' });
    for (const c1 of [0x80, 0x92, 0x9f])
      expect(decodeText(octets(0x41, c1), 'latin1')).toMatchObject({ ok: false, status: 'ESME_RINVDCS' });
    expect(decodeText(octets(0x04, 0x1f, 0xd8, 0x3c), 'ucs2')).toEqual({ ok: true, text: 'П\ud83c' });
    expect(decodeText(octets(0x00, 0x48, 0x00, 0x69, 0x00), 'ucs2')).toMatchObject({ ok: false, status: 'ESME_RINVMSGLEN' });
  });
});
