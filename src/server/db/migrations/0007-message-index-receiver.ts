import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from '../migrate.js';

/**
 * SQLite: the message sort's index also holds the receiver, after the id (so its order — message, then
 * id — is unchanged). A page sorted by message and filtered by a receiver prefix walks this index and
 * tested each entry's receiver in its table row, a seek into the table for every entry walked; SQLite
 * now tests it on the index entry and reads only the matching rows: on 10,000,000 rows, `sort=-message`
 * with `receiver=+33612*` 18.8 → 2.0 ms, `sort=message` 11.7 → 2.0 ms (the other sorts with that filter
 * took 5–14 ms already). The index grows by the receivers (~15 %). PostgreSQL reads the table row of
 * every index entry of a plain index scan before testing it, so nothing changes there.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  if (ctx.dialect !== 'sqlite') return;
  await sql`drop index outgoing_message`.execute(db);
  await sql`create index outgoing_message on outgoing (account_id, message, id, receiver)`.execute(db);
  // A database analysed before (a demo load) has statistics for every other index: without the new
  // one's, the planner took it for any receiver filter (it holds the receiver) and sorted its matches —
  // 1.5 s for a page sorted by user with a receiver prefix on 10,000,000 rows. A bounded ANALYZE (sampled:
  // under a second there) gives it its own. With no statistics at all, the plans were right already.
  const { rows } = await sql<{ n: number }>`select count(*) as n from sqlite_master where name = 'sqlite_stat1'`.execute(db);
  if (Number(rows[0].n) > 0) {
    await sql`pragma analysis_limit = 2000`.execute(db);
    await sql`analyze outgoing_message`.execute(db);
    await sql`pragma analysis_limit = 0`.execute(db);
  }
}

export async function down(): Promise<void> {
  throw new Error('migration 0007 cannot be undone');
}
