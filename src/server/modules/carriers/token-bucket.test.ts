import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket (fake clock)', () => {
  it('lets a burst through, then one token per 1/rate seconds', () => {
    let now = 1_000_000;
    const bucket = new TokenBucket(10, now, 2);
    expect(bucket.take(now)).toBe(0);
    expect(bucket.take(now)).toBe(0);
    expect(bucket.canTake(now)).toBe(false);
    expect(bucket.take(now)).toBe(100);
    now += 40;
    expect(bucket.take(now)).toBe(60);
    now += 60;
    expect(bucket.take(now)).toBe(0);
    expect(bucket.canTake(now)).toBe(false);
  });

  it('sends exactly rate × seconds over a long run', () => {
    let now = 0;
    const bucket = new TokenBucket(50, now, 1);
    let sent = 0;
    while (now < 10_000) {
      const wait = bucket.take(now);
      if (wait === 0) sent++;
      else now += wait;
    }
    expect(sent).toBeGreaterThanOrEqual(500);
    expect(sent).toBeLessThanOrEqual(501);
  });

  it('never saves more than the burst while idle', () => {
    let now = 0;
    const bucket = new TokenBucket(100, now);
    now += 60_000;
    let burst = 0;
    while (bucket.take(now) === 0) burst++;
    expect(burst).toBe(10);
  });

  it('a rate of 0 is unlimited', () => {
    const bucket = new TokenBucket(0, 0);
    for (let i = 0; i < 10_000; i++) expect(bucket.take(0)).toBe(0);
  });

  it('ignores a clock going backwards', () => {
    const bucket = new TokenBucket(1, 5000, 1);
    expect(bucket.take(5000)).toBe(0);
    expect(bucket.take(4000)).toBeGreaterThan(0);
    expect(bucket.take(6000)).toBe(0);
  });
});
