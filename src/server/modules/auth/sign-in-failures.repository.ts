import { type Kysely, sql } from 'kysely';
import type { DB } from '../../db/schema.js';

/** A key's counts as stored: `failures` and `checking` count only while their times are within the window. */
export interface SignInFailures {
  failures: number;
  lastFailureAt: number;
  checking: number;
  checkingAt: number;
}

/**
 * The `sign_in_failures` table: the Manager's failed sign-ins and checks in progress by key, shared by
 * every process (see createSharedLoginAttempts in login-attempts.ts). `since` is the start of the window:
 * failures and checks stamped at or before it no longer count.
 */
export function createSignInFailuresRepository(db: Kysely<DB>) {
  /** The failures and checks of the existing row that still count after `since` (SQL, in an upsert or an update). */
  const counted = (since: number) => ({
    failures: sql<number>`case when sign_in_failures.last_failure_at > ${since} then sign_in_failures.failures else 0 end`,
    checking: sql<number>`case when sign_in_failures.checking_at > ${since} then sign_in_failures.checking else 0 end`,
  });
  /** One check fewer in progress (never below 0). */
  const oneCheckLess = sql<number>`case when sign_in_failures.checking > 0 then sign_in_failures.checking - 1 else 0 end`;

  return {
    /** Deletes the rows whose failures and checks all stopped counting at `since`. */
    async deleteExpired(since: number): Promise<void> {
      await db.deleteFrom('sign_in_failures').where('last_failure_at', '<=', since).where('checking_at', '<=', since).execute();
    },

    /**
     * Reserves a check of `key` begun at `now`, in one atomic upsert: refused (false) when the failures
     * and checks still counting reach `limit`; otherwise counted with them (what stopped counting is dropped).
     */
    async reserveCheck(key: string, { now, since, limit }: { now: number; since: number; limit: number }): Promise<boolean> {
      const was = counted(since);
      const reserved = await db
        .insertInto('sign_in_failures')
        .values({ key, failures: 0, last_failure_at: 0, checking: 1, checking_at: now })
        .onConflict((oc) =>
          oc
            .column('key')
            .doUpdateSet({ failures: was.failures, checking: sql<number>`${was.checking} + 1`, checking_at: now })
            .where(sql<boolean>`${was.failures} + ${was.checking} < ${limit}`),
        )
        .returning('key')
        .executeTakeFirst();
      return reserved !== undefined;
    },

    /** The counts of `key`, as stored. */
    async find(key: string): Promise<SignInFailures | undefined> {
      const row = await db
        .selectFrom('sign_in_failures')
        .select(['failures', 'last_failure_at', 'checking', 'checking_at'])
        .where('key', '=', key)
        .executeTakeFirst();
      return row && { failures: row.failures, lastFailureAt: row.last_failure_at, checking: row.checking, checkingAt: row.checking_at };
    },

    /** Ends a check of `key` as a failure at `now` (one more after those still counting); returns the failures counted and when the last was. */
    async endCheckFailed(
      key: string,
      { now, since }: { now: number; since: number },
    ): Promise<{ failures: number; lastFailureAt: number }> {
      const was = counted(since);
      const row = await db
        .insertInto('sign_in_failures')
        .values({ key, failures: 1, last_failure_at: now, checking: 0, checking_at: 0 })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({ failures: sql<number>`${was.failures} + 1`, last_failure_at: now, checking: oneCheckLess }),
        )
        .returning(['failures', 'last_failure_at'])
        .executeTakeFirstOrThrow();
      return { failures: row.failures, lastFailureAt: row.last_failure_at };
    },

    /** Ends a check of `key` that counts as no failure; returns what the row holds then (undefined: no row). */
    async endCheck(key: string): Promise<Omit<SignInFailures, 'failures'> | undefined> {
      const row = await db
        .updateTable('sign_in_failures')
        .set({ checking: oneCheckLess })
        .where('key', '=', key)
        .returning(['last_failure_at', 'checking', 'checking_at'])
        .executeTakeFirst();
      return row && { lastFailureAt: row.last_failure_at, checking: row.checking, checkingAt: row.checking_at };
    },

    /** Deletes the row of `key` if nothing in it counts any more: its failures stopped at `since` and its checks ended or stopped too. */
    async deleteIfSpent(key: string, since: number): Promise<void> {
      await db
        .deleteFrom('sign_in_failures')
        .where('key', '=', key)
        .where('last_failure_at', '<=', since)
        .where((eb) => eb.or([eb('checking', '<=', 0), eb('checking_at', '<=', since)]))
        .execute();
    },
  };
}

export type SignInFailuresRepository = ReturnType<typeof createSignInFailuresRepository>;
