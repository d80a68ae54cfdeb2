import type { Kysely } from 'kysely';

/**
 * Whether a job's messages were paid from its SMS user's quota: `jobs.quota_paid` is 1 when the user had
 * a quota when the job was accepted (the job's credits were taken from the account and from that quota),
 * 0 when not (no SMS user, or a user without a quota then). A pending message canceled or deleted gives
 * its credits back to its user's quota only when its job paid from it (`refundCredits` in
 * outgoing.repository.ts), so that a quota set after the acceptance is not raised by cancellations.
 *
 * Jobs accepted before this migration are left null: nothing says whether they paid from the quota, and
 * they keep the former rule (their credits go back to the quota when the user has one at the refund).
 * Written by the acceptance's one multi-row insert of jobs: no statement more per message.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('quota_paid', 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').dropColumn('quota_paid').execute();
}
