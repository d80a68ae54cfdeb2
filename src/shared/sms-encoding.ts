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

/**
 * By UTF-16 code unit (every GSM 03.38 character is one): its cost in septets — 1 in the default
 * alphabet, 2 in the extension table, 0 when it is not GSM — and its septet code (after ESC for the
 * extension table). Tables instead of maps: a message's characters are counted at acceptance and again
 * when it is sent, and a lookup here is a typed-array read.
 */
const SEPTETS = new Uint8Array(0x10000);
const CODES = new Uint8Array(0x10000);
[...GSM7_BASIC].forEach((char, code) => {
  if (code === GSM7_ESC) return;
  SEPTETS[char.charCodeAt(0)] = 1;
  CODES[char.charCodeAt(0)] = code;
});
for (const [char, code] of GSM7_EXTENSION) {
  SEPTETS[char.charCodeAt(0)] = 2;
  CODES[char.charCodeAt(0)] = code;
}

const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLowSurrogate = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;

/** Units per part: a single SMS, or each part of a concatenated one (the rest holds the UDH). */
export const PART_LIMITS: Readonly<Record<Encoding, { single: number; multi: number }>> = {
  gsm7: { single: 160, multi: 153 },
  ucs2: { single: 70, multi: 67 },
};

/** Commercial STOP mention appended to marketing SMS unless the sender opts out (OVH `noStopClause`). */
export const STOP_CLAUSE = 'STOP au 36180';

/** The text followed by a line break and the clause; the clause costs its length + 1. */
export function withStopClause(text: string, clause: string = STOP_CLAUSE): string {
  // An empty mention (RELAIS_STOP_CLAUSE set but empty) appends nothing, not even the line break.
  return clause === '' ? text : `${text}\n${clause}`;
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
  for (let i = 0; i < text.length; i++) if (SEPTETS[text.charCodeAt(i)] === 0) return false;
  return true;
}

function notGsm7(text: string, at: number): never {
  const code = (text.codePointAt(at) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  throw new RangeError(`U+${code} is not in the GSM 7-bit alphabet`);
}

/** Septets (gsm7, a RangeError if a character is not GSM) or UTF-16 code units (ucs2) of `text`. */
function costOf(text: string, encoding: Encoding): number {
  if (encoding === 'ucs2') return text.length;
  let cost = 0;
  for (let i = 0; i < text.length; i++) {
    const c = SEPTETS[text.charCodeAt(i)];
    if (c === 0) notGsm7(text, i);
    cost += c;
  }
  return cost;
}

/** The code units the character at `i` takes: 2 for a surrogate pair (never split), else 1. */
function unitsAt(text: string, i: number): number {
  return isHighSurrogate(text.charCodeAt(i)) && i + 1 < text.length && isLowSurrogate(text.charCodeAt(i + 1)) ? 2 : 1;
}

/**
 * The parts of a text that does not fit one SMS, filled greedily: the index each part starts at, and
 * what the last one holds (septets or code units).
 */
function partsOf(text: string, encoding: Encoding): { starts: number[]; lastCost: number } {
  const multi = PART_LIMITS[encoding].multi;
  const starts = [0];
  let cost = 0;
  for (let i = 0; i < text.length; ) {
    // A GSM character is one code unit costing 1 or 2 septets; a UCS-2 one costs its code units.
    const units = encoding === 'gsm7' ? 1 : unitsAt(text, i);
    const c = encoding === 'gsm7' ? SEPTETS[text.charCodeAt(i)] : units;
    if (cost + c > multi) {
      starts.push(i);
      cost = 0;
    }
    cost += c;
    i += units;
  }
  return { starts, lastCost: cost };
}

/**
 * The parts a message is sent as. A text that fits one SMS (empty included) is one part; otherwise
 * parts hold 153 septets / 67 units, never splitting an ESC+char pair or a surrogate pair, so a
 * part may hold one unit less. Throws a RangeError for 'gsm7' when the text is not GSM.
 */
export function splitSms(text: string, encoding: Encoding): string[] {
  if (costOf(text, encoding) <= PART_LIMITS[encoding].single) return [text];
  const { starts } = partsOf(text, encoding);
  return starts.map((start, k) => text.slice(start, starts[k + 1]));
}

/**
 * Encoding, length and part count of a message as it will be sent: GSM 7-bit when every character
 * fits, else UCS-2 (or UCS-2 when `forceUcs2`). `stopClause`, when a non-empty string, is appended
 * with `withStopClause` and counted. An empty text is one SMS of length 0, as carriers send it.
 */
export function analyzeSms(text: string, opts: { stopClause?: string | null; forceUcs2?: boolean } = {}): SmsAnalysis {
  const finalText = opts.stopClause ? withStopClause(text, opts.stopClause) : text;
  const encoding: Encoding = !opts.forceUcs2 && isGsm7(finalText) ? 'gsm7' : 'ucs2';
  const limits = PART_LIMITS[encoding];
  const length = costOf(finalText, encoding);
  if (length <= limits.single) {
    return { encoding, length, parts: 1, perPart: limits.single, remainingInPart: limits.single - length, text: finalText };
  }
  const { starts, lastCost } = partsOf(finalText, encoding);
  return { encoding, length, parts: starts.length, perPart: limits.multi, remainingInPart: limits.multi - lastCost, text: finalText };
}

/** One septet value per byte, extension characters as 0x1B + code. Throws a RangeError if not GSM. */
export function encodeGsm7Unpacked(text: string): Uint8Array {
  const bytes = new Uint8Array(costOf(text, 'gsm7'));
  let k = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (SEPTETS[unit] === 2) bytes[k++] = GSM7_ESC;
    bytes[k++] = CODES[unit];
  }
  return bytes;
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
