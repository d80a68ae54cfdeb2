import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from '../migrate.js';

/**
 * SQLite's text search index (migration 0001) becomes a contentless FTS5 table with
 * `contentless_delete=1`. Deleting a row then costs a tombstone instead of tokenizing the old text
 * again (~30 µs a row, more than half of a history row's delete). Searching is unchanged: the history
 * only ever reads rowids from this table and checks the text in `outgoing`. Existing rows are indexed
 * again (a few minutes for 10 million rows). PostgreSQL's pg_trgm index needs no change: a delete
 * there does not touch the indexes.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  if (ctx.dialect !== 'sqlite') return;
  for (const trigger of ['outgoing_fts_insert', 'outgoing_fts_delete', 'outgoing_fts_update']) {
    await sql`drop trigger if exists ${sql.id(trigger)}`.execute(db);
  }
  await sql`drop table if exists outgoing_fts`.execute(db);
  await createSqliteTextSearch(db);
  await sql`insert into outgoing_fts(rowid, message) select id, message from outgoing`.execute(db);
}

/** The SQLite text search table and the triggers that keep it in step with `outgoing`. */
export async function createSqliteTextSearch(db: Kysely<unknown>): Promise<void> {
  await sql`create virtual table outgoing_fts using fts5(message, content='', contentless_delete=1, tokenize='trigram case_sensitive 0 remove_diacritics 0', detail='none')`.execute(
    db,
  );
  await sql`create trigger outgoing_fts_insert after insert on outgoing begin
    insert into outgoing_fts(rowid, message) values (new.id, new.message); end`.execute(db);
  await sql`create trigger outgoing_fts_delete after delete on outgoing begin
    delete from outgoing_fts where rowid = old.id; end`.execute(db);
  await sql`create trigger outgoing_fts_update after update of message on outgoing begin
    delete from outgoing_fts where rowid = old.id;
    insert into outgoing_fts(rowid, message) values (new.id, new.message); end`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migration 0003 cannot be undone');
}
