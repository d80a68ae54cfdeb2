import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from '../migrate.js';

/**
 * SQLite: a deleted row leaves the text index with the other rows of its statement, not on its own.
 * The row trigger of 0005 deleted each row from `outgoing_fts` in a statement of its own, and FTS5
 * writes a contentless table's tombstone pages at the end of every statement. Now the trigger only
 * notes the id in `outgoing_fts_gone`, and the deleting transaction removes the ids it deleted from the
 * index in one statement (`PURGE_DELETED_TEXT_SQL`, sqlite-text-index.ts). Measured deleting the
 * oldest of 10,000,000 rows, 10,000 a transaction: 55–58 µs of CPU a row before, 40 µs now (1,000 a
 * transaction: 68 → 38 µs). Ids a writer left noted (a tool's plain DELETE) are removed by the
 * server's indexer; meanwhile a search is still right, as it checks every candidate's text in
 * `outgoing` and ids are never reused (AUTOINCREMENT).
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  if (ctx.dialect !== 'sqlite') return;
  await sql`create table outgoing_fts_gone (id integer primary key)`.execute(db);
  await sql`drop trigger outgoing_fts_delete`.execute(db);
  await sql`create trigger outgoing_fts_delete after delete on outgoing
    when old.id <= (select indexed_to from outgoing_fts_mark) begin
    insert or ignore into outgoing_fts_gone (id) values (old.id); end`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migration 0006 cannot be undone');
}
