/**
 * A token bucket for a send rate: `ratePerSecond` tokens a second, at most `burst` saved up (default
 * a tenth of a second's worth, at least 1, so a carrier never sees more than that at once).
 * Pure: the caller passes the time, so it can be tested with a fake clock. A rate of 0 or less, or
 * Infinity, means unlimited.
 */
export class TokenBucket {
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;

  constructor(ratePerSecond: number, now: number, burst?: number) {
    this.rate = ratePerSecond > 0 && Number.isFinite(ratePerSecond) ? ratePerSecond : Number.POSITIVE_INFINITY;
    this.burst = Math.max(1, burst ?? Math.ceil(this.rate / 10));
    this.tokens = this.burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (this.rate === Number.POSITIVE_INFINITY) return;
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    }
    this.last = Math.max(this.last, now);
  }

  /** Whether a token is available now (takes none). */
  canTake(now: number): boolean {
    if (this.rate === Number.POSITIVE_INFINITY) return true;
    this.refill(now);
    return this.tokens >= 1;
  }

  /** Takes a token and returns 0, or takes none and returns the milliseconds until one is available (≥ 1). */
  take(now: number): number {
    if (this.rate === Number.POSITIVE_INFINITY) return 0;
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
  }
}
