import {
  isSupportedCountry,
  parsePhoneNumberFromString,
  type ValidatePhoneNumberLengthResult,
  validatePhoneNumberLength,
} from 'libphonenumber-js/max';

/** Outcome of normalising one receiver: its E.164 form, or why it was refused. */
export type ReceiverResult = { ok: true; e164: string } | { ok: false; reason: string };

const ALLOWED = /^\+?[\d\s.\-()]*$/;

/** The longest piece of a receiver list read (a few numbers separated by spaces); longer ones are refused whole. */
const MAX_PIECE_LENGTH = 200;

const LENGTH_REASONS: Record<ValidatePhoneNumberLengthResult, string> = {
  TOO_SHORT: 'too short',
  TOO_LONG: 'too long',
  INVALID_LENGTH: 'wrong number of digits for its country',
  NOT_A_NUMBER: 'not a phone number',
  INVALID_COUNTRY: 'unknown country calling code',
};

/**
 * A receiver as E.164 (`+33612345678`). Accepts `+<country>…`, the international prefix `00…`, and
 * national numbers (`0612345678`) of `defaultCountry` (ISO 3166 alpha-2), with spaces, dots, dashes
 * and parentheses. Validity is checked against libphonenumber's full ("max") metadata. Never throws.
 */
export function normalizeReceiver(raw: string, defaultCountry: string): ReceiverResult {
  const trimmed = raw.trim();
  if (trimmed === '') return { ok: false, reason: 'empty' };
  if (!ALLOWED.test(trimmed)) {
    return {
      ok: false,
      reason: 'only digits, spaces, dots, dashes, parentheses and a leading + are allowed',
    };
  }
  const text = trimmed.replace(/^00/, '+');
  const country = defaultCountry.toUpperCase();
  if (!text.startsWith('+') && !isSupportedCountry(country)) {
    return { ok: false, reason: `national number but unknown default country "${defaultCountry}"` };
  }
  const countryCode = isSupportedCountry(country) ? country : undefined;
  const phone = parsePhoneNumberFromString(text, countryCode);
  if (phone?.isValid()) {
    // E.164 allows 15 digits at most; libphonenumber's validity alone lets some longer ones through.
    return phone.number.length <= 16 ? { ok: true, e164: phone.number } : { ok: false, reason: 'too long (at most 15 digits)' };
  }
  // Refused: say why (a second parse, only for the refused ones).
  const lengthError = validatePhoneNumberLength(text, countryCode);
  if (lengthError) return { ok: false, reason: LENGTH_REASONS[lengthError] };
  return { ok: false, reason: 'not a valid phone number for its country' };
}

/** What `parseReceiverList` answers. */
export interface ReceiverList {
  valid: string[];
  invalid: string[];
  tooMany: boolean;
}

/** The pieces of free input: split on commas, semicolons and line breaks, trimmed, empty ones left out. */
function piecesOf(input: string | string[]): string[] {
  return (Array.isArray(input) ? input : [input])
    .flatMap((item) => item.split(/[,;\r\n]+/))
    .map((piece) => piece.trim())
    .filter((piece) => piece !== '');
}

/** Reads pieces one by one into one list (see `parseReceiverList`); `read` answers false once past `max`. */
function receiverReader(defaultCountry: string, max: number) {
  const valid = new Set<string>();
  const invalid: string[] = [];
  let found = 0;
  return {
    read(piece: string): boolean {
      // No number is this long: refused as it is, not read word by word (each word costs ~5 µs to parse).
      if (piece.length > MAX_PIECE_LENGTH) {
        invalid.push(`${piece.slice(0, 40)}…`);
        return ++found <= max;
      }
      const whole = normalizeReceiver(piece, defaultCountry);
      if (whole.ok) {
        valid.add(whole.e164);
        return ++found <= max;
      }
      const split = piece.split(/\s+/);
      found += split.length;
      if (found > max) return false;
      if (split.length === 1) {
        invalid.push(piece);
        return true;
      }
      const words = split.map((word) => ({ word, result: normalizeReceiver(word, defaultCountry) }));
      if (!words.some(({ result }) => result.ok)) {
        invalid.push(piece);
        return true;
      }
      for (const { word, result } of words) {
        if (result.ok) valid.add(result.e164);
        else invalid.push(word);
      }
      return true;
    },
    result(tooMany: boolean): ReceiverList {
      return tooMany ? { valid: [], invalid: [], tooMany } : { valid: [...valid], invalid, tooMany };
    },
  };
}

/**
 * Receivers from free input: strings are split on commas, semicolons and line breaks, then on other
 * whitespace unless the whole piece is one valid number (so `06 12 34 56 78` stays one number). A
 * piece whose words are all invalid is reported whole. `valid` is E.164, deduplicated, in input
 * order; `invalid` holds the refused pieces as given (trimmed). Reading stops, `tooMany` set, once
 * more than `max` receivers were found (a piece read word by word counts each of its words): a list
 * past the limit costs no more to refuse than one at it.
 */
export function parseReceiverList(input: string | string[], defaultCountry: string, max = Number.POSITIVE_INFINITY): ReceiverList {
  const pieces = piecesOf(input);
  if (pieces.length > max) return { valid: [], invalid: [], tooMany: true };
  const reader = receiverReader(defaultCountry, max);
  for (const piece of pieces) if (!reader.read(piece)) return reader.result(true);
  return reader.result(false);
}

/** Pieces read between two turns of the event loop by `parseReceiverListAsync` (~30 ms of parsing). */
const PIECES_PER_TURN = 5_000;

/**
 * `parseReceiverList` for a long list, yielding to the event loop every PIECES_PER_TURN pieces: the
 * 100,000 receivers of one job take ~0.6 s to parse, during which no other request would be served.
 */
export async function parseReceiverListAsync(
  input: string[],
  defaultCountry: string,
  max = Number.POSITIVE_INFINITY,
): Promise<ReceiverList> {
  const pieces = piecesOf(input);
  if (pieces.length > max) return { valid: [], invalid: [], tooMany: true };
  const reader = receiverReader(defaultCountry, max);
  for (let i = 0; i < pieces.length; i++) {
    if (i > 0 && i % PIECES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    if (!reader.read(pieces[i])) return reader.result(true);
  }
  return reader.result(false);
}
