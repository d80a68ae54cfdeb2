import type { Clock } from './clock.js';

/** A bounded map that forgets its least recently used entry when full, and every entry `ttlMs` after it was set. */
export function createTtlLruCache<V>(options: { max: number; ttlMs: number; clock: Clock }) {
  const entries = new Map<string, { value: V; expiresAt: number }>();
  return {
    get(key: string): V | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      entries.delete(key);
      if (entry.expiresAt <= options.clock.now()) return undefined;
      entries.set(key, entry);
      return entry.value;
    },
    set(key: string, value: V): void {
      entries.delete(key);
      entries.set(key, { value, expiresAt: options.clock.now() + options.ttlMs });
      if (entries.size > options.max) entries.delete(entries.keys().next().value!);
    },
    delete(key: string): void {
      entries.delete(key);
    },
    deleteWhere(predicate: (value: V) => boolean): void {
      for (const [key, entry] of entries) if (predicate(entry.value)) entries.delete(key);
    },
    get size(): number {
      return entries.size;
    },
  };
}
