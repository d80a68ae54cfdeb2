import type { Kysely } from 'kysely';

/**
 * Which quota paid for a job's messages, so that a pending message canceled or deleted gives its
 * credits back to its SMS user's quota only when that very quota paid for it (`refundCredits` in
 * outgoing.repository.ts): a quota set after the acceptance is not raised by cancellations.
 *
 * - `sms_users.quota_epoch` (0 at first) goes up by one each time the user's quota is removed (set to
 *   null, no limit): what was paid from the removed quota is never given to a quota set later.
 * - `jobs.quota_paid`: 0 when the job did not pay from a quota (no SMS user, or one without a quota
 *   then), else the user's `quota_epoch` + 1 at the acceptance. Jobs accepted before this migration
 *   are left null: nothing says whether they paid from the quota, and they keep the former rule
 *   (their credits go back to the quota when the user has one at the refund).
 * Written by the acceptance's one multi-row insert of jobs, the epoch read with the quota it already
 * locks: no statement more per message.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('quota_paid', 'integer').execute();
  await db.schema
    .alterTable('sms_users')
    .addColumn('quota_epoch', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sms_users').dropColumn('quota_epoch').execute();
  await db.schema.alterTable('jobs').dropColumn('quota_paid').execute();
}
