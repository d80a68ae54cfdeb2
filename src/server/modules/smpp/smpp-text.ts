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

/**
 * Printable octets IA5 (ASCII) and GSM 03.38 read as different characters: `$` `@` `[` `\` `]` `^` `_`
 * `` ` `` `{` `|` `}` `~` in ASCII are `¤` `¡` `Ä` `Ö` `Ñ` `Ü` `§` `¿` `ä` `ö` `ñ` `ü` in GSM.
 */
const IA5_GSM_DIFFER = new Uint8Array(0x80);
for (const octet of [0x24, 0x40, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60, 0x7b, 0x7c, 0x7d, 0x7e]) IA5_GSM_DIFFER[octet] = 1;

/** An IA5 octet that is no character of a text: a control other than line feed and carriage return, or DEL. */
const isIa5Control = (octet: number) => (octet < 0x20 && octet !== 0x0a && octet !== 0x0d) || octet === 0x7f;

/**
 * data_coding 1 (IA5: ASCII, SMPP 3.4 §5.2.19). Printable ASCII, line feeds and carriage returns are
 * read as ASCII. An octet above 0x7F is neither IA5 nor a GSM septet: refused (ESME_RINVDCS).
 *
 * Other control octets (0x00–0x1F, 0x7F) are no character of an IA5 text: such octets are GSM 03.38
 * septets labelled 1, as client libraries send them (the
 * `smpp` package gives its default alphabet, GSM, the code 1) — "é" is 0x05 there, "@" 0x00, "à" 0x7F,
 * "€" 0x1B 0x65 — and are read as such, when nothing else in them says otherwise. Refused instead
 * (ESME_RINVDCS), rather than guessed: an escape (0x1B) not followed by a character of GSM's extension
 * table (a terminal sequence, which only an ASCII text holds), and a printable octet that ASCII and GSM
 * read as different characters (`IA5_GSM_DIFFER`: a `$`, `@` or `_` of an ASCII text holding a stray
 * control octet would be stored as `¤`, `¡`, `§`) — GSM text is data_coding 0.
 */
function decodeIa5(octets: Buffer): DecodedText {
  let control = -1;
  for (let i = 0; i < octets.length; i++) {
    const octet = octets[i];
    if (octet > 0x7f) return { ok: false, status: 'ESME_RINVDCS', reason: `octet ${hex(octet)} is not IA5/ASCII (data_coding 1)` };
    if (control === -1 && isIa5Control(octet)) control = i;
  }
  if (control === -1) return { ok: true, text: octets.toString('latin1') };
  // GSM septets labelled 1: an octet after an escape is read from the extension table, not as itself.
  for (let i = 0; i < octets.length; i++) {
    const octet = octets[i];
    if (octet === 0x1b) {
      const next = octets[i + 1];
      if (next === undefined || !GSM_EXTENSION.has(next))
        return {
          ok: false,
          status: 'ESME_RINVDCS',
          reason: `data_coding 1 (IA5/ASCII) holding an escape (0x1b) ${next === undefined ? 'at its end' : `before ${hex(next)}`}: neither an ASCII text nor GSM 03.38 septets (data_coding 0)`,
        };
      i++;
    } else if (IA5_GSM_DIFFER[octet] === 1)
      return {
        ok: false,
        status: 'ESME_RINVDCS',
        reason: `data_coding 1 (IA5/ASCII) holding the control octet ${hex(octets[control])} and ${hex(octet)} (${JSON.stringify(String.fromCharCode(octet))} in ASCII, ${JSON.stringify(GSM_BASIC[octet])} in GSM 03.38): its alphabet cannot be told (GSM is data_coding 0)`,
      };
  }
  return decodeGsm(octets);
}

/**
 * data_coding 3 (ISO-8859-1), octet for octet. 0x80–0x9F are C1 controls there, no character: what
 * programs put there is Windows-1252 (€ 0x80, ’ 0x92, “ 0x93…), which stored as C1 controls would reach
 * the phone as nothing or boxes. Refused (ESME_RINVDCS): such a text is sent as UCS-2 (data_coding 8).
 */
function decodeLatin1(octets: Buffer): DecodedText {
  for (let i = 0; i < octets.length; i++) {
    const octet = octets[i];
    if (octet >= 0x80 && octet <= 0x9f)
      return {
        ok: false,
        status: 'ESME_RINVDCS',
        reason: `octet ${hex(octet)} is a C1 control in ISO-8859-1 (data_coding 3), no character (Windows-1252 text? send it as UCS-2, data_coding 8)`,
      };
  }
  return { ok: true, text: octets.toString('latin1') };
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
      return decodeLatin1(octets);
    case 'ucs2':
      return decodeUcs2(octets);
  }
}
