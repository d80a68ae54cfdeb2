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
  });

  it('reads Latin-1 octet for octet, and UCS-2 two octets a character (a lone surrogate kept), refusing an odd count', () => {
    expect(decodeText(Buffer.from('Crème brûlée', 'latin1'), 'latin1')).toEqual({ ok: true, text: 'Crème brûlée' });
    expect(decodeText(octets(0x04, 0x1f, 0xd8, 0x3c), 'ucs2')).toEqual({ ok: true, text: 'П\ud83c' });
    expect(decodeText(octets(0x00, 0x48, 0x00, 0x69, 0x00), 'ucs2')).toMatchObject({ ok: false, status: 'ESME_RINVMSGLEN' });
  });
});
