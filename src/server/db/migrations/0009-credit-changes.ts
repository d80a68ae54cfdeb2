import type { Kysely } from 'kysely';
import type { MigrationContext } from '../migrate.js';
import { withId } from './0001-initial.js';

const ms = 'bigint' as const;

/**
 * The audit trail of the operator's credit changes (`relais account credit`): who gave or took back how
 * many credits, the balance right after, and why. Written in the same transaction as the change
 * (accounts.repository.ts); read newest first per account, hence the index. Like `deletion_audit`, no
 * foreign key: an audit trail outlives what it names.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  await withId(ctx, db.schema.createTable('credit_changes'))
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('delta', 'double precision', (c) => c.notNull())
    .addColumn('balance_after', 'double precision', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('created_at', ms, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('credit_changes_account').on('credit_changes').columns(['account_id', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('credit_changes').execute();
}
