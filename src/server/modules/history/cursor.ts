import { createHash } from 'node:crypto';
import { AppError } from '../../errors.js';
import { isUnstorable } from '../../input-text.js';
import { type HistoryFilter, type HistorySort, MESSAGE_SORT_LENGTH } from './history-query.js';

/** A position in one ordered, filtered history: the row's sort value and id, and which way to read. */
export interface Cursor {
  value: string | number;
  id: number;
  /** 'after' reads the next page, 'before' the previous one. */
  way: 'after' | 'before';
}

/**
 * Ties a cursor to its query — sort, filter, account and SMS user — so that a cursor reused with another
 * is refused, not misread.
 */
export function queryFingerprint(sort: HistorySort, filter: HistoryFilter, accountId: number, userLogin: string | null): string {
  return createHash('sha256')
    .update(JSON.stringify([sort.key, sort.direction, filter, accountId, userLogin]))
    .digest('base64url')
    .slice(0, 12);
}

/** An opaque cursor string. */
export function encodeCursor(cursor: Cursor, fingerprint: string): string {
  return Buffer.from(JSON.stringify([cursor.way === 'after' ? 'a' : 'b', cursor.value, cursor.id, fingerprint])).toString('base64url');
}

/** Longest sort value a cursor may carry: a text's first characters (see MESSAGE_SORT_LENGTH), in UTF-16 units. */
const MAX_CURSOR_VALUE = 2 * MESSAGE_SORT_LENGTH;

/**
 * Reads a cursor made by `encodeCursor` for the same query; anything else is INVALID_CURSOR. `numeric`: the
 * sort's values are whole numbers (the date), else strings: a forged cursor's value of another type or out of
 * range is refused here rather than by the database.
 */
export function decodeCursor(raw: string, fingerprint: string, numeric = true): Cursor {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]{1,4000}$/.test(raw)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw new AppError('INVALID_CURSOR', 'cursor is not one this API gave out');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 4 ||
    (parsed[0] !== 'a' && parsed[0] !== 'b') ||
    (typeof parsed[1] !== 'string' && typeof parsed[1] !== 'number') ||
    !Number.isSafeInteger(parsed[2]) ||
    typeof parsed[3] !== 'string'
  ) {
    throw new AppError('INVALID_CURSOR', 'cursor is not one this API gave out');
  }
  if (
    numeric
      ? !Number.isSafeInteger(parsed[1])
      : typeof parsed[1] !== 'string' || parsed[1].length > MAX_CURSOR_VALUE || isUnstorable(parsed[1])
  ) {
    throw new AppError('INVALID_CURSOR', 'cursor is not one this API gave out');
  }
  if (parsed[3] !== fingerprint) {
    throw new AppError('INVALID_CURSOR', 'cursor belongs to another sort or filter: start again without a cursor');
  }
  return { way: parsed[0] === 'a' ? 'after' : 'before', value: parsed[1], id: parsed[2] };
}
