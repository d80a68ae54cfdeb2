import type { Clock } from './clock.js';

/** A bounded map that forgets its least recently used entry when full, and every entry `ttlMs` after it was set. */
export function createTtlLruCache<V>(options: { max: number; ttlMs: number; clock: Clock }) {
  const entries = new Map<string, { value: V; expiresAt: number }>();
  // The most recently used key: a hot key read again is not moved (a Map's delete and set leave holes
  // that its next growth compacts, which cost several µs a read under load).
  let newest: string | undefined;
  return {
    get(key: string): V | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= options.clock.now()) {
        entries.delete(key);
        return undefined;
      }
      if (key !== newest) {
        entries.delete(key);
        entries.set(key, entry);
        newest = key;
      }
      return entry.value;
    },
    set(key: string, value: V): void {
      entries.delete(key);
      entries.set(key, { value, expiresAt: options.clock.now() + options.ttlMs });
      newest = key;
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
