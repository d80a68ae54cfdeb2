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

/**
 * Receivers from free input: strings are split on commas, semicolons and line breaks, then on other
 * whitespace unless the whole piece is one valid number (so `06 12 34 56 78` stays one number). A
 * piece whose words are all invalid is reported whole. `valid` is E.164, deduplicated, in input
 * order; `invalid` holds the refused pieces as given (trimmed). Reading stops, `tooMany` set, once
 * more than `max` receivers were found (a piece read word by word counts each of its words): a list
 * past the limit costs no more to refuse than one at it.
 */
export function parseReceiverList(
  input: string | string[],
  defaultCountry: string,
  max = Number.POSITIVE_INFINITY,
): { valid: string[]; invalid: string[]; tooMany: boolean } {
  const valid = new Set<string>();
  const invalid: string[] = [];
  const pieces = (Array.isArray(input) ? input : [input])
    .flatMap((item) => item.split(/[,;\r\n]+/))
    .map((piece) => piece.trim())
    .filter((piece) => piece !== '');
  if (pieces.length > max) return { valid: [], invalid: [], tooMany: true };
  let found = 0;
  for (const piece of pieces) {
    // No number is this long: refused as it is, not read word by word (each word costs ~20 µs to parse).
    if (piece.length > MAX_PIECE_LENGTH) {
      invalid.push(`${piece.slice(0, 40)}…`);
      found++;
      continue;
    }
    const whole = normalizeReceiver(piece, defaultCountry);
    if (whole.ok) {
      valid.add(whole.e164);
      found++;
      continue;
    }
    const split = piece.split(/\s+/);
    found += split.length;
    if (found > max) return { valid: [], invalid: [], tooMany: true };
    if (split.length === 1) {
      invalid.push(piece);
      continue;
    }
    const words = split.map((word) => ({ word, result: normalizeReceiver(word, defaultCountry) }));
    if (!words.some(({ result }) => result.ok)) {
      invalid.push(piece);
      continue;
    }
    for (const { word, result } of words) {
      if (result.ok) valid.add(result.e164);
      else invalid.push(word);
    }
  }
  return { valid: [...valid], invalid, tooMany: found > max };
}
