import { describe, expect, it } from 'vitest';
import { createTtlLruCache } from './ttl-cache.js';

describe('createTtlLruCache', () => {
  it('forgets the least recently used entry when full, a hot key read again staying the newest', () => {
    const cache = createTtlLruCache<number>({ max: 3, ttlMs: 1000, clock: { now: () => 0 } });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1); // a is now the newest: b is the oldest
    expect(cache.get('a')).toBe(1);
    cache.set('d', 4);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toBe(3); // c the newest, then a, d
    cache.set('e', 5);
    expect(cache.get('a')).toBeUndefined();
    expect([cache.get('c'), cache.get('d'), cache.get('e'), cache.size]).toEqual([3, 4, 5, 3]);
    cache.delete('e');
    expect(cache.get('e')).toBeUndefined();
    cache.set('f', 6);
    cache.set('g', 7);
    expect([cache.get('c'), cache.get('d'), cache.get('f'), cache.get('g')]).toEqual([undefined, 4, 6, 7]);
  });

  it('forgets every entry ttlMs after it was set, read or not', () => {
    let now = 0;
    const cache = createTtlLruCache<string>({ max: 10, ttlMs: 100, clock: { now: () => now } });
    cache.set('k', 'v');
    now = 99;
    expect(cache.get('k')).toBe('v');
    now = 100;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
