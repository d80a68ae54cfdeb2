import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from '../migrate.js';

/**
 * The message sort reads the first MESSAGE_SORT_LENGTH characters of each text (then the id), and its
 * index holds those only. PostgreSQL refused to index a whole text whose entry (compressed) exceeds
 * 2,704 bytes: a 5,000-character text that compresses badly (Cyrillic, Chinese, codes) could not be
 * sent at all. And a page's cursor carried its last row's whole text (up to ~27 KB in a URL). Texts
 * that differ only after their first 200 characters now sort by id — as sent — on both dialects.
 * Rebuilding the index reads every row once (a minute or so for 10,000,000 rows on SQLite).
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  // MESSAGE_SORT_LENGTH (history-query.ts) as it was written here: the queries repeat this expression.
  const prefix = sql.raw('substr(message, 1, 200)');
  await sql`drop index outgoing_message`.execute(db);
  if (ctx.dialect === 'postgres') {
    await sql`create index outgoing_message on outgoing (account_id, ${prefix}, id)`.execute(db);
    return;
  }
  // SQLite keeps the receiver after the id (migration 0007), and gives the new index its statistics.
  await sql`create index outgoing_message on outgoing (account_id, ${prefix}, id, receiver)`.execute(db);
  const { rows } = await sql<{ n: number }>`select count(*) as n from sqlite_master where name = 'sqlite_stat1'`.execute(db);
  if (Number(rows[0].n) > 0) {
    await sql`pragma analysis_limit = 2000`.execute(db);
    await sql`analyze outgoing_message`.execute(db);
    await sql`pragma analysis_limit = 0`.execute(db);
  }
}

export async function down(): Promise<void> {
  throw new Error('migration 0012 cannot be undone');
}
