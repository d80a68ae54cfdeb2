import type { Kysely } from 'kysely';
import type { MigrationContext } from '../migrate.js';
import { withId } from './0001-initial.js';

const ms = 'bigint' as const;

/**
 * The OVH-compatible API's keys (OVH-COMPAT.md §2). An application (its application key, public) belongs
 * to a customer; its application secret is never stored (derived from the server secret, see
 * ovh-keys.service.ts), only `secret_check`, another MAC of the key by the same server secret, which tells a
 * process whose server secret differs (a misconfigured scale-out) from a wrong signature. A credential is one consumer key asked for by an application: its access rules,
 * then validated by a signed-in customer in the Manager (bound to that customer) or refused. The consumer
 * key is stored as `lookup` (its first characters, public) and an argon2id hash of the whole key; the
 * validation link's token as its SHA-256 (a 256-bit random value).
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  await withId(ctx, db.schema.createTable('ovh_applications'))
    .addColumn('customer_id', 'bigint', (c) => c.notNull().references('customers.id').onDelete('cascade'))
    .addColumn('app_key', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('secret_check', 'text', (c) => c.notNull())
    .addColumn('created_at', ms, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ovh_applications_customer').on('ovh_applications').column('customer_id').execute();

  await withId(ctx, db.schema.createTable('ovh_credentials'))
    .addColumn('application_id', 'bigint', (c) => c.notNull().references('ovh_applications.id').onDelete('cascade'))
    .addColumn('customer_id', 'bigint', (c) => c.references('customers.id').onDelete('cascade'))
    .addColumn('lookup', 'text', (c) => c.notNull().unique())
    .addColumn('key_hash', 'text', (c) => c.notNull())
    .addColumn('validation_hash', 'text', (c) => c.notNull().unique())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('rules', 'text', (c) => c.notNull())
    .addColumn('allowed_ips', 'text')
    .addColumn('redirection', 'text')
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('validated_at', ms)
    .addColumn('expires_at', ms)
    .addColumn('last_used_at', ms)
    .execute();
  await db.schema.createIndex('ovh_credentials_customer').on('ovh_credentials').column('customer_id').execute();
  await db.schema.createIndex('ovh_credentials_application').on('ovh_credentials').column('application_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('ovh_credentials').execute();
  await db.schema.dropTable('ovh_applications').execute();
}
