import type { Encoding } from './status.js';

/**
 * GSM 03.38 (3GPP TS 23.038) default alphabet: the character at index n has septet value n.
 * 0x1B is the escape to the extension table, not a character, so it holds a placeholder that
 * never matches. 0x09 is the capital 'Ç' (as in the standard's Unicode mapping); 'ç' is not GSM.
 */
export const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\uFFFFÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

/** GSM 03.38 extension table: character → code sent after ESC (0x1B); each costs 2 septets. */
export const GSM7_EXTENSION: ReadonlyMap<string, number> = new Map([
  ['\f', 0x0a],
  ['^', 0x14],
  ['{', 0x28],
  ['}', 0x29],
  ['\\', 0x2f],
  ['[', 0x3c],
  ['~', 0x3d],
  [']', 0x3e],
  ['|', 0x40],
  ['€', 0x65],
]);

const GSM7_ESC = 0x1b;
const BASIC_CODES: ReadonlyMap<string, number> = new Map(
  [...GSM7_BASIC].flatMap((char, code) => (code === GSM7_ESC ? [] : [[char, code] as const])),
);

/** Units per part: a single SMS, or each part of a concatenated one (the rest holds the UDH). */
export const PART_LIMITS: Readonly<Record<Encoding, { single: number; multi: number }>> = {
  gsm7: { single: 160, multi: 153 },
  ucs2: { single: 70, multi: 67 },
};

/** Commercial STOP mention appended to marketing SMS unless the sender opts out (OVH `noStopClause`). */
export const STOP_CLAUSE = 'STOP au 36180';

/** The text followed by a line break and the clause; the clause costs its length + 1. */
export function withStopClause(text: string, clause: string = STOP_CLAUSE): string {
  return `${text}\n${clause}`;
}

/** Result of `analyzeSms`; `length` is in septets (gsm7) or UTF-16 code units (ucs2). */
export interface SmsAnalysis {
  encoding: Encoding;
  length: number;
  parts: number;
  perPart: number;
  remainingInPart: number;
  text: string;
}

/** True when every character is in the GSM 03.38 default alphabet or its extension table. */
export function isGsm7(text: string): boolean {
  for (const char of text) {
    if (!BASIC_CODES.has(char) && !GSM7_EXTENSION.has(char)) return false;
  }
  return true;
}

function notGsm7(char: string): never {
  const code = (char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  throw new RangeError(`U+${code} is not in the GSM 7-bit alphabet`);
}

function charCost(char: string, encoding: Encoding): number {
  if (encoding === 'ucs2') return char.length;
  if (BASIC_CODES.has(char)) return 1;
  if (GSM7_EXTENSION.has(char)) return 2;
  return notGsm7(char);
}

function costOf(text: string, encoding: Encoding): number {
  let cost = 0;
  for (const char of text) cost += charCost(char, encoding);
  return cost;
}

/**
 * The parts a message is sent as. A text that fits one SMS (empty included) is one part; otherwise
 * parts hold 153 septets / 67 units, never splitting an ESC+char pair or a surrogate pair, so a
 * part may hold one unit less. Throws a RangeError for 'gsm7' when the text is not GSM.
 */
export function splitSms(text: string, encoding: Encoding): string[] {
  const limits = PART_LIMITS[encoding];
  if (costOf(text, encoding) <= limits.single) return [text];
  const parts: string[] = [];
  let part = '';
  let cost = 0;
  for (const char of text) {
    const c = charCost(char, encoding);
    if (cost + c > limits.multi) {
      parts.push(part);
      part = '';
      cost = 0;
    }
    part += char;
    cost += c;
  }
  parts.push(part);
  return parts;
}

/**
 * Encoding, length and part count of a message as it will be sent: GSM 7-bit when every character
 * fits, else UCS-2 (or UCS-2 when `forceUcs2`). `stopClause`, when a non-empty string, is appended
 * with `withStopClause` and counted. An empty text is one SMS of length 0, as carriers send it.
 */
export function analyzeSms(text: string, opts: { stopClause?: string | null; forceUcs2?: boolean } = {}): SmsAnalysis {
  const finalText = opts.stopClause ? withStopClause(text, opts.stopClause) : text;
  const encoding: Encoding = !opts.forceUcs2 && isGsm7(finalText) ? 'gsm7' : 'ucs2';
  const parts = splitSms(finalText, encoding);
  const limits = PART_LIMITS[encoding];
  const perPart = parts.length === 1 ? limits.single : limits.multi;
  return {
    encoding,
    length: costOf(finalText, encoding),
    parts: parts.length,
    perPart,
    remainingInPart: perPart - costOf(parts[parts.length - 1] ?? '', encoding),
    text: finalText,
  };
}

/** One septet value per byte, extension characters as 0x1B + code. Throws a RangeError if not GSM. */
export function encodeGsm7Unpacked(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const char of text) {
    const basic = BASIC_CODES.get(char);
    const extension = GSM7_EXTENSION.get(char);
    if (basic !== undefined) bytes.push(basic);
    else if (extension !== undefined) bytes.push(GSM7_ESC, extension);
    else notGsm7(char);
  }
  return Uint8Array.from(bytes);
}

/** UTF-16BE bytes (UCS-2 as carriers accept it: characters beyond U+FFFF as surrogate pairs). */
export function encodeUcs2(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    bytes[i * 2] = unit >> 8;
    bytes[i * 2 + 1] = unit & 0xff;
  }
  return bytes;
}
