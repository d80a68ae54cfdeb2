import type { Insertable } from 'kysely';
import type { Database } from '../src/server/db/database.js';
import type { OutgoingRow } from '../src/server/db/schema.js';

let counter = 0;

/** A history row with sensible defaults: `buildOutgoing({ status: 'failed' })`. */
export function buildOutgoing(overrides: Partial<Insertable<OutgoingRow>> & { account_id: number }): Insertable<OutgoingRow> {
  counter += 1;
  const created = overrides.created_at ?? Date.UTC(2024, 0, 1, 12, 0, 0) + counter * 1000;
  const status = overrides.status ?? 'delivered';
  return {
    job_id: null,
    user_id: null,
    user_login: '',
    channel: 'api',
    sender: 'Relais',
    receiver: `+3361234${String(counter % 10000).padStart(4, '0')}`,
    message: `Message ${counter}`,
    redacted_at: null,
    encoding: 'gsm7',
    parts: 1,
    credits: 1,
    tag: '',
    status,
    priority: 1,
    created_at: created,
    sent_at: status === 'pending' ? null : created + 1000,
    delivered_at: status === 'delivered' ? created + 5000 : null,
    failed_at: status === 'failed' ? created + 5000 : null,
    expired_at: null,
    canceled_at: null,
    carrier_message_id: status === 'pending' ? null : `sim-${counter}`,
    error_code: status === 'failed' ? '3' : null,
    error_text: status === 'failed' ? 'destination unreachable' : null,
    deferred_until: null,
    valid_until: null,
    ...overrides,
  };
}

/** When a factory's pending message is due: never (no dispatcher of a test claims it unless the test says so). */
export const FACTORY_QUEUE_DUE = 253_402_300_799_000; // 9999-12-31T23:59:59Z

/**
 * Inserts rows (in the given order, so ids increase with it) and returns their ids. A pending row gets its
 * dispatch queue entry, as an accepted message has (not due: see FACTORY_QUEUE_DUE), so that deleting it
 * cancels it and gives its credits back; `queued: false` leaves pending rows without one (as the demo's).
 */
export async function insertOutgoing(
  database: Database,
  rows: Insertable<OutgoingRow>[],
  options: { queued?: boolean } = {},
): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < rows.length; i += 500) {
    const slice = rows.slice(i, i + 500);
    const inserted = await database.db.insertInto('outgoing').values(slice).returning('id').execute();
    ids.push(...inserted.map((r) => r.id));
    const entries = slice.flatMap((row, k) =>
      row.status === 'pending' && options.queued !== false
        ? [
            {
              outgoing_id: inserted[k].id,
              account_id: row.account_id,
              priority: row.priority ?? 1,
              due_at: FACTORY_QUEUE_DUE,
              attempts: 0,
              lease_until: 0,
            },
          ]
        : [],
    );
    if (entries.length) await database.db.insertInto('dispatch_queue').values(entries).execute();
  }
  return ids;
}
