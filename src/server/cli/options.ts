import { InvalidArgumentError } from 'commander';
import { AppError } from '../errors.js';
import { excerpt } from '../input-text.js';

/** A number as the command line takes it: decimal digits, an optional fraction (`100`, `12.5`). */
const DECIMAL = /^\d+(?:\.\d+)?$/;

/**
 * The number an option gives (`--credits`, `--quota`, `--add`…): decimal digits with an optional fraction,
 * ≥ 0 (> 0 when `positive`). Not `0x10`, `1e3`, `-5` nor `Infinity`, which Number() would take. Throws
 * VALIDATION_FAILED naming the option, and `or` (another word it takes, such as `"none"`). The services
 * set the upper bounds.
 */
export function decimalOption(option: string, value: string, options: { positive?: boolean; or?: string } = {}): number {
  const n = Number(value);
  if (!DECIMAL.test(value.trim()) || !Number.isFinite(n) || (options.positive && n === 0))
    throw new AppError(
      'VALIDATION_FAILED',
      `${option} must be a number ${options.positive ? '> 0' : '≥ 0'}${options.or ? ` or ${options.or}` : ''}, got "${excerpt(value)}": expected decimal digits, such as 100 or 12.5`,
    );
  return n;
}

/**
 * The parser of an option that takes one value: given twice (`--message a --message b`), the command line
 * is refused as unreadable (commander's usage error) instead of the last one silently winning.
 */
export function once(value: string, previous: string | undefined): string {
  if (previous !== undefined) throw new InvalidArgumentError(`given twice ("${excerpt(previous)}", then "${excerpt(value)}")`);
  return value;
}
