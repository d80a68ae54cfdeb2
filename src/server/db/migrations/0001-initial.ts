import { type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely, sql } from 'kysely';
import type { MigrationContext } from '../migrate.js';

/** An auto-increment integer id: the one column type that differs between the two dialects. */
export function withId<T extends string>(ctx: MigrationContext, table: CreateTableBuilder<T, never>) {
  return ctx.dialect === 'postgres'
    ? table.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

const ms = 'bigint' as const;
const nn = (c: ColumnDefinitionBuilder) => c.notNull();

export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  await withId(ctx, db.schema.createTable('customers'))
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', nn)
    .addColumn('created_at', ms, nn)
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('customer_id', 'bigint', (c) => c.notNull().references('customers.id').onDelete('cascade'))
    .addColumn('csrf_token', 'text', nn)
    .addColumn('created_at', ms, nn)
    .addColumn('expires_at', ms, nn)
    .execute();
  await db.schema.createIndex('sessions_customer').on('sessions').column('customer_id').execute();

  await withId(ctx, db.schema.createTable('accounts'))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('owner_id', 'bigint', (c) => c.notNull().references('customers.id'))
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('enable'))
    .addColumn('credits', 'double precision', (c) => c.notNull().defaultTo(0))
    .addColumn('timezone', 'text', nn)
    .addColumn('default_country', 'text', (c) => c.notNull().defaultTo('FR'))
    .addColumn('store_text', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('redact_after_days', 'integer')
    .addColumn('retention_days', 'integer')
    .addColumn('callback_url', 'text')
    .addColumn('created_at', ms, nn)
    .execute();
  await db.schema.createIndex('accounts_owner').on('accounts').column('owner_id').execute();

  await withId(ctx, db.schema.createTable('sms_users'))
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('login', 'text', nn)
    .addColumn('password_hash', 'text', nn)
    .addColumn('ip_restrictions', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('quota', 'double precision')
    .addColumn('callback_url', 'text')
    .addColumn('created_at', ms, nn)
    .addUniqueConstraint('sms_users_account_login', ['account_id', 'login'])
    .execute();

  await withId(ctx, db.schema.createTable('senders'))
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('sender', 'text', nn)
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('enable'))
    .addColumn('type', 'text', (c) => c.notNull().defaultTo('alpha'))
    .addColumn('created_at', ms, nn)
    .addUniqueConstraint('senders_account_sender', ['account_id', 'sender'])
    .execute();

  await withId(ctx, db.schema.createTable('api_tokens'))
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('user_id', 'bigint', (c) => c.references('sms_users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('secret_hash', 'text', nn)
    .addColumn('created_at', ms, nn)
    .addColumn('last_used_at', ms)
    .addColumn('revoked_at', ms)
    .execute();
  await db.schema.createIndex('api_tokens_account').on('api_tokens').column('account_id').execute();

  // The history. No foreign keys here: a message outlives its SMS user, and inserts must stay cheap.
  await withId(ctx, db.schema.createTable('outgoing'))
    .addColumn('account_id', 'bigint', nn)
    .addColumn('job_id', 'bigint')
    .addColumn('user_id', 'bigint')
    .addColumn('user_login', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('channel', 'text', nn)
    .addColumn('sender', 'text', nn)
    .addColumn('receiver', 'text', nn)
    .addColumn('message', 'text', nn)
    .addColumn('redacted_at', ms)
    .addColumn('encoding', 'text', nn)
    .addColumn('parts', 'integer', nn)
    .addColumn('credits', 'double precision', nn)
    .addColumn('tag', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('status', 'text', nn)
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', ms, nn)
    .addColumn('sent_at', ms)
    .addColumn('delivered_at', ms)
    .addColumn('failed_at', ms)
    .addColumn('expired_at', ms)
    .addColumn('canceled_at', ms)
    .addColumn('carrier_message_id', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_text', 'text')
    .addColumn('deferred_until', ms)
    .addColumn('valid_until', ms)
    .execute();
  // Indexes follow the history's queries: (account, sort column, id) for every sort, and the two
  // commonest filters combined with the default date sort.
  const idx = (name: string, columns: string[]) =>
    db.schema
      .createIndex(`outgoing_${name}`)
      .on('outgoing')
      .columns(['account_id', ...columns, 'id'])
      .execute();
  await idx('date', ['created_at']);
  await idx('sender', ['sender']);
  await idx('receiver', ['receiver']);
  await idx('message', ['message']);
  await idx('status', ['status']);
  await idx('user', ['user_login']);
  await idx('channel', ['channel']);
  await idx('tag', ['tag']);
  await idx('status_date', ['status', 'created_at']);
  await idx('user_date', ['user_login', 'created_at']);

  await withId(ctx, db.schema.createTable('deletion_audit'))
    .addColumn('account_id', 'bigint', nn)
    .addColumn('actor', 'text', nn)
    .addColumn('kind', 'text', nn)
    .addColumn('created_at', ms, nn)
    .addColumn('count', 'bigint', nn)
    .addColumn('ids', 'text')
    .addColumn('filter', 'text')
    .addColumn('delete_job_id', 'bigint')
    .execute();
  await db.schema.createIndex('deletion_audit_account').on('deletion_audit').columns(['account_id', 'id']).execute();

  await withId(ctx, db.schema.createTable('delete_jobs'))
    .addColumn('account_id', 'bigint', nn)
    .addColumn('actor', 'text', nn)
    .addColumn('filter', 'text', nn)
    .addColumn('status', 'text', nn)
    .addColumn('deleted', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('total', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', ms, nn)
    .addColumn('updated_at', ms, nn)
    .addColumn('finished_at', ms)
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('delete_jobs_status').on('delete_jobs').column('status').execute();

  await createTextSearchIndex(db, ctx);
}

/**
 * The full-text search over message texts: the one dialect-specific index of the history.
 * SQLite: an FTS5 trigram table kept in step by triggers (Unicode case folding, accents kept).
 * PostgreSQL: a pg_trgm GIN index serving ILIKE '%…%'.
 */
async function createTextSearchIndex(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  if (ctx.dialect === 'postgres') {
    await sql`create extension if not exists pg_trgm with schema public`.execute(db);
    await sql`create index outgoing_message_trgm on outgoing using gin (message public.gin_trgm_ops)`.execute(db);
    return;
  }
  await sql`create virtual table outgoing_fts using fts5(message, content='outgoing', content_rowid='id', tokenize='trigram case_sensitive 0 remove_diacritics 0', detail='none')`.execute(
    db,
  );
  await sql`create trigger outgoing_fts_insert after insert on outgoing begin
    insert into outgoing_fts(rowid, message) values (new.id, new.message); end`.execute(db);
  await sql`create trigger outgoing_fts_delete after delete on outgoing begin
    insert into outgoing_fts(outgoing_fts, rowid, message) values ('delete', old.id, old.message); end`.execute(db);
  await sql`create trigger outgoing_fts_update after update of message on outgoing begin
    insert into outgoing_fts(outgoing_fts, rowid, message) values ('delete', old.id, old.message);
    insert into outgoing_fts(rowid, message) values (new.id, new.message); end`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('the initial migration cannot be undone');
}
