import type { Clock } from '../../clock.js';
import { createTtlLruCache } from '../../ttl-cache.js';
import { sha256Hex } from './password.js';

/** What checking a secret against its stored argon2 hash came to. */
export type SecretCheck<V> =
  | { kind: 'verified'; value: V }
  /** No row for it: nothing was verified (a row made later with this secret is found at once). */
  | { kind: 'unknown' }
  /** Its row exists and argon2 said no: refused again without argon2 while it is remembered. */
  | { kind: 'wrong' };

/**
 * Secrets checked with argon2id (API tokens, OVH consumer keys), remembered so that argon2 — slow on
 * purpose — runs once per secret per `ttlMs` per process, not per request. Keyed by the secret's
 * SHA-256 (the secret itself is never kept).
 *
 * - Only verified secrets enter the cache of good ones: unknown or wrong secrets, which anybody can
 *   send by the thousand, never push a good one out. Wrong ones have a cache of their own, so that a
 *   program retrying a wrong secret does not cost an argon2 each time.
 * - Concurrent first requests for one secret share one check.
 * - A good secret's row is read again (`reread`: one lookup, no argon2) once it was last read
 *   `rereadAfterMs` ago or more, shared by concurrent requests: a revocation by another process
 *   applies within that delay. `reread` answers the value as it now is, or null (gone, revoked…).
 * - `forgetWhere` drops good secrets at once (a revocation in this process); a check in progress
 *   meanwhile answers the requests that already waited for it, is not remembered, and is not shared
 *   with later requests (they check again, and read the revocation).
 */
export function createVerifiedSecrets<V>(options: { clock: Clock; rereadAfterMs: number; max?: number; ttlMs?: number }) {
  const { clock, rereadAfterMs } = options;
  const max = options.max ?? 10_000;
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  interface Entry {
    value: V;
    /** When its row was last read. */
    at: number;
    rereading?: Promise<V | null>;
  }
  const good = createTtlLruCache<Entry>({ max, ttlMs, clock });
  const wrong = createTtlLruCache<true>({ max, ttlMs, clock });
  const checking = new Map<string, Promise<V | null>>();
  /** Bumped by `forgetWhere`: a check started before it is not remembered. */
  let generation = 0;

  function reread(key: string, entry: Entry, read: (value: V) => Promise<V | null>): Promise<V | null> {
    entry.rereading ??= read(entry.value)
      .then((again) => {
        if (again === null) {
          if (good.get(key) === entry) good.delete(key);
        } else Object.assign(entry, { value: again, at: clock.now() });
        return again;
      })
      .finally(() => {
        entry.rereading = undefined;
      });
    return entry.rereading;
  }

  return {
    /** The value of a good `secret` (see `check` and `reread`), or null. Database errors are thrown. */
    async get(secret: string, check: () => Promise<SecretCheck<V>>, read: (value: V) => Promise<V | null>): Promise<V | null> {
      const key = sha256Hex(secret);
      const entry = good.get(key);
      if (entry) return clock.now() - entry.at < rereadAfterMs ? entry.value : reread(key, entry, read);
      if (wrong.get(key)) return null;
      let pending = checking.get(key);
      if (!pending) {
        const started = generation;
        pending = check()
          .then((outcome) => {
            if (outcome.kind === 'wrong') wrong.set(key, true);
            if (outcome.kind !== 'verified') return null;
            if (started === generation) good.set(key, { value: outcome.value, at: clock.now() });
            return outcome.value;
          })
          .finally(() => checking.delete(key));
        checking.set(key, pending);
      }
      return pending;
    },

    /**
     * Forgets the good secrets whose value matches. Checks in progress, which may have read the row
     * before the change, answer their own requests only: a request from now on checks again.
     */
    forgetWhere(predicate: (value: V) => boolean): void {
      generation++;
      checking.clear();
      good.deleteWhere((entry) => predicate(entry.value));
    },
  };
}
