import { type Kysely, sql } from 'kysely';

/**
 * The dispatcher's expiry sweep (`expireUnconfirmed`) looks for messages still `sent` past their
 * validity. It read every `sent` message of every account through the (account, status, id) index and
 * each one's row for its validity: with a carrier that sends no receipts, every message of the last
 * two days (the default validity), each minute, in a write transaction. This partial index holds only
 * the messages awaiting a receipt, by the end of their validity: the sweep reads just the expired ones.
 * Kept small (only `sent` rows); building it reads the table once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index outgoing_sent_validity on outgoing (valid_until) where status = 'sent'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index outgoing_sent_validity`.execute(db);
}
