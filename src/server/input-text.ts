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
 * Throws VALIDATION_FAILED when `value` holds a control character (Unicode Cc: newline, tab, escape,
 * NUL…): what is kept as one line of text (a name, a description, a tag, a reason, an e-mail address)
 * and shown in lists, logs and terminals. `what` names it in the message ("The reason"). Message texts
 * are not for this check: an SMS may have several lines.
 */
export function checkOneLine(what: string, value: string): string {
  if (/\p{Cc}/u.test(value))
    throw new AppError('VALIDATION_FAILED', `${what} must be one line of text, without control characters (newline, tab, escape…)`);
  return value;
}
