/**
 * Credits are decimals (rates such as 1.3 per part) kept as doubles: sums and comparisons are made at a
 * millionth of a credit, so that 10 × 1.3 is 13 — what a customer with 13 credits left expects to pay —
 * and a balance worn to 1e-16 by earlier sums counts as 0.
 */
const SCALE = 1e6;

/** `value` at a millionth of a credit. */
export function roundCredits(value: number): number {
  return Math.round(value * SCALE) / SCALE;
}

/** The sum of `values`, at a millionth of a credit (added as integers, so no error accumulates). */
export function sumCredits(values: readonly number[]): number {
  let micro = 0;
  for (const value of values) micro += Math.round(value * SCALE);
  return micro / SCALE;
}
