import type { Kysely } from 'kysely';
import type { MigrationContext } from '../migrate.js';
import { withId } from './0001-initial.js';

const ms = 'bigint' as const;

/** Sending: jobs, the durable dispatch queue, carrier part ids, early receipts and the callback outbox. */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  // One send request (one text, one or many receivers). Its messages are rows of `outgoing`.
  await withId(ctx, db.schema.createTable('jobs'))
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'bigint')
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('receivers', 'integer', (c) => c.notNull())
    .addColumn('credits', 'double precision', (c) => c.notNull())
    .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', ms, (c) => c.notNull())
    .execute();

  // A pending message waiting for the dispatcher. Claimed with a lease (owner + until) so that a
  // dispatcher killed mid-flight gives its claims back when the lease runs out.
  await db.schema
    .createTable('dispatch_queue')
    .addColumn('outgoing_id', 'bigint', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('due_at', ms, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', ms, (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('dispatch_queue_due').on('dispatch_queue').columns(['priority', 'due_at']).execute();

  // Carrier ids of every part of a sent message: receipts come per part.
  await db.schema
    .createTable('carrier_parts')
    .addColumn('carrier_message_id', 'text', (c) => c.primaryKey())
    .addColumn('outgoing_id', 'bigint', (c) => c.notNull())
    .addColumn('part', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('carrier_parts_outgoing').on('carrier_parts').column('outgoing_id').execute();

  // Receipts that arrived before their message's carrier id was recorded; matched again later.
  await withId(ctx, db.schema.createTable('early_receipts'))
    .addColumn('carrier_message_id', 'text', (c) => c.notNull())
    .addColumn('receipt', 'text', (c) => c.notNull())
    .addColumn('received_at', ms, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('early_receipts_carrier_id').on('early_receipts').column('carrier_message_id').execute();

  // Delivery callbacks to call (OVH-COMPAT §5), in order per message, retried with back-off.
  await withId(ctx, db.schema.createTable('callback_outbox'))
    .addColumn('outgoing_id', 'bigint', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('next_attempt_at', ms, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', ms, (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('callback_outbox_due').on('callback_outbox').columns(['next_attempt_at', 'id']).execute();
  await db.schema.createIndex('callback_outbox_outgoing').on('callback_outbox').columns(['outgoing_id', 'id']).execute();
}
