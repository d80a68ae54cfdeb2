import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from '../migrate.js';

/**
 * SQLite's text search index is written in batches instead of row by row. FTS5 writes a segment at
 * every commit: acceptance's small commits (a few dozen rows each) cost ~30 µs a row in the trigram
 * index, batches of a thousand rows ~13 µs. So no insert trigger any more: `outgoing_fts_mark` holds
 * the last id the index covers, a batch indexes the rows after it and moves it in the same
 * transaction (`indexPendingText`, sqlite-text-index.ts; the server does it a few times a second, bulk
 * loads at each of their commits), and a text search reads the index's rowids plus every row after
 * the mark, checking each text as before — so a row is found from the moment it is committed.
 *
 * The delete and update triggers stay for the rows the index covers; a row after the mark is not in
 * it, and the batch that indexes it reads its text as it then is. Ids only grow (AUTOINCREMENT), so a
 * new row is always after the mark. PostgreSQL's pg_trgm index already defers its work (GIN fastupdate).
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  if (ctx.dialect !== 'sqlite') return;
  for (const trigger of ['outgoing_fts_insert', 'outgoing_fts_delete', 'outgoing_fts_update']) {
    await sql`drop trigger if exists ${sql.id(trigger)}`.execute(db);
  }
  await sql`create table outgoing_fts_mark (id integer primary key check (id = 1), indexed_to integer not null)`.execute(db);
  // Every row so far was indexed by the insert trigger.
  await sql`insert into outgoing_fts_mark (id, indexed_to) select 1, coalesce(max(id), 0) from outgoing`.execute(db);
  await sql`create trigger outgoing_fts_delete after delete on outgoing
    when old.id <= (select indexed_to from outgoing_fts_mark) begin
    delete from outgoing_fts where rowid = old.id; end`.execute(db);
  await sql`create trigger outgoing_fts_update after update of message on outgoing
    when old.id <= (select indexed_to from outgoing_fts_mark) begin
    delete from outgoing_fts where rowid = old.id;
    insert into outgoing_fts(rowid, message) values (new.id, new.message); end`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migration 0005 cannot be undone');
}
