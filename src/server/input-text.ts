import { AppError } from './errors.js';

/** How much of a value an error message echoes (then "…"). */
export const EXCERPT_LENGTH = 40;

/**
 * What an error message may echo of a value: its first EXCERPT_LENGTH characters (then "…"), with control
 * characters, quotes and backslashes escaped as in JSON, so that the message stays one short line
 * whatever was given (`Invalid login "${excerpt(login)}"`).
 */
export function excerpt(value: string): string {
  let cut = value;
  if (value.length > EXCERPT_LENGTH) {
    // Not between the two halves of a surrogate pair.
    const end = /[\uD800-\uDBFF]/.test(value[EXCERPT_LENGTH - 1]) ? EXCERPT_LENGTH - 1 : EXCERPT_LENGTH;
    cut = `${value.slice(0, end)}…`;
  }
  return JSON.stringify(cut).slice(1, -1);
}

/**
 * A NUL character (PostgreSQL cannot store it in text) or half of a UTF-16 surrogate pair alone (JSON's
 * `"\ud800"`, UCS-2 bytes): neither dialect stores it as it was counted (PostgreSQL writes U+FFFD, SQLite
 * bytes that read back as three), and no text needs one.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether `value` is a string holding what no text may hold (a NUL, a lone surrogate). */
export function isUnstorable(value: unknown): boolean {
  return typeof value === 'string' && (value.includes('\u0000') || LONE_SURROGATE.test(value));
}

/** The sentence refusing such a text. */
export const UNSTORABLE_MESSAGE =
  'contains a NUL character (\\u0000) or a lone UTF-16 surrogate (\\ud800 without its pair), which is not allowed';

/**
 * Throws VALIDATION_FAILED when `value` holds a control character (Unicode Cc: newline, tab, escape,
 * NUL…): what is kept as one line of text (a name, a description, a tag, a reason, an e-mail address)
 * and shown in lists, logs and terminals. `what` names it in the message ("The reason"). Message texts
 * are not for this check: an SMS may have several lines.
 */
export function checkOneLine(what: string, value: string): string {
  // U+2028 and U+2029 break lines too (in JavaScript, in many editors and terminals).
  if (/[\p{Cc}\u2028\u2029]/u.test(value))
    throw new AppError('VALIDATION_FAILED', `${what} must be one line of text, without control characters (newline, tab, escape…)`);
  return value;
}
