import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../test/database.js';
import { AppError } from '../../errors.js';
import { startAcceptanceThread } from './acceptance-thread.js';
import type { PreparedJob } from './sending.repository.js';

/** SQLite only: on PostgreSQL every connection writes concurrently and acceptance stays on the serving thread. */
describe('the acceptance thread (SQLite file)', () => {
  let database: TestDatabase;
  let file: string;
  let accountId: number;

  const job = (receivers: string[], credits = 1, account = accountId): PreparedJob => ({
    accountId: account,
    userId: null,
    userLogin: '',
    channel: 'api',
    sender: 'Shop',
    receivers,
    message: 'Hello from the thread',
    storeText: true,
    encoding: 'gsm7',
    parts: 1,
    credits: receivers.map(() => credits),
    tag: 'thread',
    priority: 0,
    deferredUntil: null,
    validUntil: Date.now() + 86_400_000,
    options: {},
    now: Date.now(),
  });
  const balance = async () =>
    Number((await database.db.selectFrom('accounts').select('credits').where('id', '=', accountId).executeTakeFirstOrThrow()).credits);
  const count = async (table: 'outgoing' | 'dispatch_queue') =>
    Number(
      (
        await database.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    file = database.sqlite!.name;
    const customer = await database.db
      .insertInto('customers')
      .values({ email: 'thread@example.com', password_hash: 'x', created_at: Date.now() })
      .returning('id')
      .executeTakeFirstOrThrow();
    const account = await database.db
      .insertInto('accounts')
      .values({
        name: 'sms-th00000-1',
        owner_id: customer.id,
        description: '',
        status: 'enable',
        default_country: 'FR',
        store_text: 1,
        credits: 100,
        timezone: 'Europe/Paris',
        created_at: Date.now(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    accountId = Number(account.id);
  });
  afterAll(async () => {
    await database.close();
  });

  it('writes a batch on its own connection, each job all or nothing: rows, debit, queue entries, or the reason', async () => {
    const thread = startAcceptanceThread(file);
    try {
      const results = await thread.acceptBatch([
        job(['+33612345601', '+33612345602'], 30),
        job(['+33612345603'], 50), // 60 + 50 > 100: refused whole
        job(['+33612345604'], 1, 999_999), // no such account
        job(['+33612345605'], 40),
      ]);
      expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'INSUFFICIENT_CREDITS', 'ACCOUNT_NOT_FOUND', 'ok']);
      expect(results[1]).toMatchObject({ ok: false, error: expect.any(AppError) });
      const [first, , , last] = results;
      if (!first.ok || !last.ok) throw new Error('unreachable');
      expect(first.ids).toHaveLength(2);
      expect(first.creditsLeft).toBe(40);
      expect(last.creditsLeft).toBe(0);
      expect(last.ids[0]).toBeGreaterThan(first.ids[1]);
      // The serving connection sees what the thread committed.
      expect(await balance()).toBe(0);
      expect(await count('outgoing')).toBe(3);
      expect(await count('dispatch_queue')).toBe(3);
    } finally {
      await thread.close();
    }
  });

  it('answers batches in the order sent, and a close waits for those already sent', async () => {
    await database.db.updateTable('accounts').set({ credits: 1000 }).where('id', '=', accountId).execute();
    const before = await count('outgoing');
    const thread = startAcceptanceThread(file);
    const batches = Array.from({ length: 20 }, (_, b) =>
      thread.acceptBatch([job([`+3361234${String(b).padStart(2, '0')}10`]), job([`+3361234${String(b).padStart(2, '0')}11`])]),
    );
    const closed = thread.close();
    const answers = await Promise.all(batches);
    await closed;
    const ids = answers.flatMap((results) => results.flatMap((r) => (r.ok ? r.ids : [])));
    expect(ids).toHaveLength(40);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect((await count('outgoing')) - before).toBe(40);
    await expect(thread.acceptBatch([job(['+33612345699'])])).rejects.toThrow(/closed/);
  });

  it('lets the serving connection wait for the write lock without stopping its event loop', async () => {
    // Another connection (here: a plain one; in the server, the acceptance thread) holds the write lock.
    const other = new SqliteDatabase(file);
    other.exec('begin immediate');
    let released = false;
    const write = database.db.transaction().execute(async (trx) => {
      await trx.updateTable('accounts').set({ description: 'written after the lock' }).where('id', '=', accountId).execute();
      return released;
    });
    // Released by a timer of this very thread: it can fire only if the waiting write left the event loop free.
    setTimeout(() => {
      released = true;
      other.exec('commit');
    }, 30);
    expect(await write).toBe(true);
    other.close();
    const row = await database.db.selectFrom('accounts').select('description').where('id', '=', accountId).executeTakeFirstOrThrow();
    expect(row.description).toBe('written after the lock');
    // The same for a single statement outside a transaction.
    const again = new SqliteDatabase(file);
    again.exec('begin immediate');
    setTimeout(() => again.exec('commit'), 30);
    await sql`update accounts set description = 'second' where id = ${accountId}`.execute(database.db);
    again.close();
  });
});
