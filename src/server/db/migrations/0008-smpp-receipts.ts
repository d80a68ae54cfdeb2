import type { Kysely } from 'kysely';
import type { MigrationContext } from '../migrate.js';
import { withId } from './0001-initial.js';

const ms = 'bigint' as const;

/**
 * The SMPP server's receipt outbox: a delivery receipt (`deliver_sm`) owed to an SMS user's program for
 * a message it submitted over SMPP with `registered_delivery`. Written by the dispatcher in the same
 * transaction as the status change; sent by whichever process holds a receiver bind of that SMS user
 * (claimed with a lease, so several processes never send one twice at once); kept while no program is
 * bound, until it is too old (smpp.server.ts).
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  await withId(ctx, db.schema.createTable('smpp_receipts'))
    .addColumn('outgoing_id', 'bigint', (c) => c.notNull())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('next_attempt_at', ms, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', ms, (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('smpp_receipts_user_due').on('smpp_receipts').columns(['user_id', 'next_attempt_at', 'id']).execute();
  await db.schema.createIndex('smpp_receipts_created').on('smpp_receipts').columns(['created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('smpp_receipts').execute();
}
