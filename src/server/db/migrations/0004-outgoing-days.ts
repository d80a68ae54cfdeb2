import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from '../migrate.js';
import { DAY_MS } from '../schema.js';

/**
 * `outgoing_days`: for each account and UTC day, the smallest and largest id of the messages created
 * that day — kept by a trigger on every insert, whatever writes the rows. A date range then bounds the
 * ids of its messages exactly (ids need not follow creation times), so a page sorted by a column with few
 * values (sender, status, user, channel) and filtered by dates seeks each value's rows within those
 * ids through its (account, column, id) index, instead of walking every row of the first values when
 * they hold none in the range. Deleting messages leaves the bounds wide, never wrong.
 *
 * SQLite: a row trigger (an upsert of one row of this small table). PostgreSQL: a statement trigger
 * over the inserted rows (COPY included), one upsert a day; acceptance already locks the account's row,
 * so concurrent jobs of one account do not wait on this one more.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  if (ctx.dialect === 'sqlite') {
    await sql`create table outgoing_days (
      account_id integer not null, day integer not null, min_id integer not null, max_id integer not null,
      primary key (account_id, day)) without rowid`.execute(db);
    await sql`create trigger outgoing_days_insert after insert on outgoing begin
      insert into outgoing_days (account_id, day, min_id, max_id)
        values (new.account_id, new.created_at / ${sql.lit(DAY_MS)}, new.id, new.id)
        on conflict (account_id, day) do update
        set min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id); end`.execute(db);
    await sql`insert into outgoing_days (account_id, day, min_id, max_id)
      select account_id, created_at / ${sql.lit(DAY_MS)}, min(id), max(id) from outgoing group by 1, 2`.execute(db);
    return;
  }
  await sql`create table outgoing_days (
    account_id bigint not null, day bigint not null, min_id bigint not null, max_id bigint not null,
    primary key (account_id, day))`.execute(db);
  await sql`create function outgoing_days_note() returns trigger language plpgsql as $$
    begin
      insert into outgoing_days (account_id, day, min_id, max_id)
        select account_id, created_at / ${sql.lit(DAY_MS)}, min(id), max(id) from new_rows group by 1, 2
        on conflict (account_id, day) do update
        set min_id = least(outgoing_days.min_id, excluded.min_id), max_id = greatest(outgoing_days.max_id, excluded.max_id);
      return null;
    end $$`.execute(db);
  await sql`create trigger outgoing_days_insert after insert on outgoing
    referencing new table as new_rows for each statement execute function outgoing_days_note()`.execute(db);
  await sql`insert into outgoing_days (account_id, day, min_id, max_id)
    select account_id, created_at / ${sql.lit(DAY_MS)}, min(id), max(id) from outgoing group by 1, 2`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migration 0004 cannot be undone');
}
