/**
 * The text of a customer's message from its octets, by alphabet (SMPP 3.4 §5.2.19 data_coding, 3GPP TS
 * 23.038): every octet accounted for, or the message refused — never an octet dropped or read as a space.
 */

/** GSM 03.38 default alphabet, septets 0x00–0x7F (0x1B: the escape to the extension table). */
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

/** GSM 03.38 extension table: the septet after 0x1B → its character. */
const GSM_EXTENSION: ReadonlyMap<number, string> = new Map([
  [0x0a, '\f'],
  [0x14, '^'],
  [0x28, '{'],
  [0x29, '}'],
  [0x2f, '\\'],
  [0x3c, '['],
  [0x3d, '~'],
  [0x3e, ']'],
  [0x40, '|'],
  [0x65, '€'],
]);

export type TextAlphabet = 'gsm' | 'ia5' | 'latin1' | 'ucs2';

export type DecodedText = { ok: true; text: string } | { ok: false; status: 'ESME_RINVDCS' | 'ESME_RINVMSGLEN'; reason: string };

const hex = (octet: number) => `0x${octet.toString(16).padStart(2, '0')}`;

/**
 * GSM 03.38 septets, one an octet (unpacked, as SMPP carries them). An escape followed by a septet the
 * extension table does not hold reads as that septet (23.038 §6.2.1.1); an escape ending the text is
 * dropped. An octet above 0x7F is no septet: refused.
 */
function decodeGsm(octets: Buffer): DecodedText {
  let text = '';
  for (let i = 0; i < octets.length; i++) {
    const octet = octets[i];
    if (octet > 0x7f) return { ok: false, status: 'ESME_RINVDCS', reason: `octet ${hex(octet)} is no GSM 03.38 septet` };
    if (octet !== 0x1b) {
      text += GSM_BASIC[octet];
      continue;
    }
    const next = octets[i + 1];
    if (next === undefined) break;
    if (next > 0x7f) return { ok: false, status: 'ESME_RINVDCS', reason: `octet ${hex(next)} is no GSM 03.38 septet` };
    text += GSM_EXTENSION.get(next) ?? (next === 0x1b ? ' ' : GSM_BASIC[next]);
    i++;
  }
  return { ok: true, text };
}

/** Octets a real IA5 (ASCII) text holds: the printable ones, line feed and carriage return. */
const IA5_TEXT = /^[\x20-\x7e\n\r]*$/;

/**
 * data_coding 1 (IA5: ASCII). A text holding other control octets (0x00–0x1F, 0x7F) is no ASCII text:
 * it is GSM 03.38 septets labelled 1, as some client libraries send them (the `smpp` package gives its
 * default alphabet, GSM, the code 1), and read as such — "é" is 0x05 there, "@" 0x00. Octets above 0x7F
 * are neither: refused.
 */
function decodeIa5(octets: Buffer): DecodedText {
  const high = octets.findIndex((octet) => octet > 0x7f);
  if (high !== -1) return { ok: false, status: 'ESME_RINVDCS', reason: `octet ${hex(octets[high])} is not IA5/ASCII (data_coding 1)` };
  const ascii = octets.toString('latin1');
  return IA5_TEXT.test(ascii) ? { ok: true, text: ascii } : decodeGsm(octets);
}

/** UCS-2 (UTF-16BE, surrogate pairs kept: a pair split between two parts is whole once they are put together). */
function decodeUcs2(octets: Buffer): DecodedText {
  if (octets.length % 2 !== 0)
    return { ok: false, status: 'ESME_RINVMSGLEN', reason: `${octets.length} octets of UCS-2: two octets a character, one is left over` };
  return { ok: true, text: Buffer.from(octets).swap16().toString('utf16le') };
}

/** The text `octets` hold in `alphabet`, or why they hold none. */
export function decodeText(octets: Buffer, alphabet: TextAlphabet): DecodedText {
  switch (alphabet) {
    case 'gsm':
      return decodeGsm(octets);
    case 'ia5':
      return decodeIa5(octets);
    case 'latin1':
      return { ok: true, text: octets.toString('latin1') };
    case 'ucs2':
      return decodeUcs2(octets);
  }
}
