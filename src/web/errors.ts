import type { ErrorCode } from '../shared/error-codes.js';
import { ApiError } from './api.js';
import type { MessageKey, Params } from './i18n.js';

/**
 * An error as the Manager says it, in its language: a sentence of ours for the codes a Manager user
 * meets, else the server's own message. `detail`, when set, is the server's message (English) kept
 * beside our sentence because it tells more (which account, why the operator refused).
 */
export interface ErrorDescription {
  text: string;
  detail?: string;
}

/** What the page knows better than a generic sentence: its own sentence for a code (the login typed, the sender…). */
export type ErrorHints = Partial<Record<ErrorCode | 'NETWORK', string>>;

type Translate = (key: MessageKey, params?: Params) => string;

/** Our sentence for a code, and whether the server's message stays beside it. */
const SENTENCES: Partial<Record<ErrorCode | 'NETWORK', { key: MessageKey; detail: boolean }>> = {
  NETWORK: { key: 'error.NETWORK', detail: false },
  INSUFFICIENT_CREDITS: { key: 'error.INSUFFICIENT_CREDITS', detail: false },
  INVALID_RECEIVER: { key: 'error.INVALID_RECEIVER', detail: true },
  INVALID_SENDER: { key: 'error.INVALID_SENDER', detail: true },
  ACCOUNT_DISABLED: { key: 'error.ACCOUNT_DISABLED', detail: true },
  ACCOUNT_NOT_FOUND: { key: 'common.accountNotFound', detail: false },
  USER_EXISTS: { key: 'error.USER_EXISTS', detail: true },
  SENDER_EXISTS: { key: 'error.SENDER_EXISTS', detail: true },
  USER_NOT_FOUND: { key: 'error.USER_NOT_FOUND', detail: false },
  SENDER_NOT_FOUND: { key: 'error.SENDER_NOT_FOUND', detail: false },
  TOKEN_NOT_FOUND: { key: 'error.TOKEN_NOT_FOUND', detail: false },
  MESSAGE_NOT_FOUND: { key: 'error.MESSAGE_NOT_FOUND', detail: false },
  RATE_LIMITED: { key: 'error.RATE_LIMITED', detail: false },
  FORBIDDEN: { key: 'error.FORBIDDEN', detail: true },
  UNAUTHENTICATED: { key: 'error.UNAUTHENTICATED', detail: false },
  CSRF_FAILED: { key: 'error.CSRF_FAILED', detail: false },
  PAYLOAD_TOO_LARGE: { key: 'error.PAYLOAD_TOO_LARGE', detail: false },
  PERIOD_TOO_LONG: { key: 'error.PERIOD_TOO_LONG', detail: false },
  CARRIER_UNAVAILABLE: { key: 'error.CARRIER_UNAVAILABLE', detail: false },
  INTERNAL: { key: 'error.INTERNAL', detail: false },
};

/** The figure in "try again in 12 s" / "this job needs 3", when the server's message has one. */
function numberIn(message: string, pattern: RegExp): string | undefined {
  return pattern.exec(message)?.[1];
}

/**
 * How to say `error` (an ApiError, or anything thrown): the page's hint for its code, else our sentence
 * for it, else "Une erreur est survenue : <the server's message>" (VALIDATION_FAILED among them: the
 * server's message names the field and the value refused).
 */
export function describeError(error: unknown, t: Translate, hints: ErrorHints = {}): ErrorDescription {
  if (!(error instanceof ApiError)) {
    const message = error instanceof Error ? error.message : String(error);
    return { text: t('common.error', { message }) };
  }
  const code = error.code as ErrorCode | 'NETWORK';
  const hint = hints[code];
  if (hint) return { text: hint };
  const sentence = SENTENCES[code];
  if (!sentence) return { text: t('common.error', { message: error.message }) };
  if (code === 'RATE_LIMITED') {
    const seconds = numberIn(error.message, /(\d+)\s*s\b/);
    return { text: seconds ? t('error.RATE_LIMITED_IN', { s: seconds }) : t('error.RATE_LIMITED') };
  }
  if (code === 'INSUFFICIENT_CREDITS') {
    const needed = numberIn(error.message, /needs (\d+)/);
    if (error.message.includes('quota')) return { text: t('error.INSUFFICIENT_QUOTA') };
    return { text: needed ? t('error.INSUFFICIENT_CREDITS_N', { n: Number(needed) }) : t('error.INSUFFICIENT_CREDITS') };
  }
  const text = t(sentence.key);
  return sentence.detail && error.message && error.message !== text ? { text, detail: error.message } : { text };
}

/** True for an answer saying the account in the URL is none of this customer's (403 or 404 on its own path). */
export function isAccountMissing(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  return error.status === 404 || (error.status === 403 && (error.code === 'FORBIDDEN' || error.code === 'ACCOUNT_NOT_FOUND'));
}
