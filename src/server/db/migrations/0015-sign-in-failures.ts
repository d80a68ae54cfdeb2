import type { Kysely } from 'kysely';

const ms = 'bigint' as const;

/**
 * The Manager's failed sign-ins, counted in the database so that every process sharing it sees them (they
 * were counted in each process's memory: behind a load balancer, N processes let a guesser try N times the
 * limit). One row per counted key, a client or an e-mail address, named by a SHA-256 (`key`, hex: no
 * address or typed e-mail is stored as such): `failures` since the window started, the time of the last
 * one, and the password checks in progress in every process (`checking`, with the time of the last one
 * begun: those of a process that died are forgotten a minute later). See createSharedLoginAttempts in
 * login-attempts.ts. Rows live about a minute: a key nothing counts against any more is deleted.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sign_in_failures')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('last_failure_at', ms, (c) => c.notNull())
    .addColumn('checking', 'integer', (c) => c.notNull())
    .addColumn('checking_at', ms, (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('sign_in_failures').execute();
}
