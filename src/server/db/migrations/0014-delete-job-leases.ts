import type { Kysely } from 'kysely';

/**
 * Delete jobs get a lease, as the dispatch queue's entries have one: `lease_owner` (the history service
 * of one process, a random id of its own) runs the job until `lease_until`, renewed by every batch.
 * Another process takes a job over only once its lease ran out (its process died or stopped), so that a
 * job runs in one process at a time and ends once, with one audit entry. Jobs left running before this
 * migration have no owner: the first process to look takes them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('delete_jobs').addColumn('lease_owner', 'text').execute();
  await db.schema
    .alterTable('delete_jobs')
    .addColumn('lease_until', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('delete_jobs').dropColumn('lease_until').execute();
  await db.schema.alterTable('delete_jobs').dropColumn('lease_owner').execute();
}
