import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sql } from 'kysely';
import { isValidPhoneNumber } from 'libphonenumber-js/max';
import { beforeAll, describe, expect, it } from 'vitest';
import { insertAccount } from '../../../../test/account-factory.js';
import { describeEachDialect, type TestDatabase } from '../../../../test/database.js';
import { runRelais } from '../../../../test/relais-cli.js';
import { analyzeSms } from '../../../shared/sms-encoding.js';
import { CHANNELS, OUTGOING_STATUSES } from '../../../shared/status.js';
import { openDatabase } from '../../db/database.js';
import { migrateToLatest } from '../../db/migrate.js';
import { DAY_MS } from '../../db/schema.js';
import { indexPendingText, purgeLeftDeletedText } from '../../db/sqlite-text-index.js';
import { createPasswordHasher } from '../auth/password.js';
import { EXPIRED_WITHOUT_RECEIPT, RECEIPT_GRACE_MS } from '../dispatch/dispatch.repository.js';
import { MAX_DEFERRAL_MINUTES } from '../sending/sending.service.js';
import {
  copyLine,
  createDemoRepository,
  type NewOutgoingRow,
  OUTGOING_INSERT_COLUMNS,
  type OutgoingBulkLoad,
  REBUILD_MIN_ROWS,
} from './demo.repository.js';
import { DEMO_SENDERS, DEMO_USER_LOGINS, generateDemoRows, runDemo } from './demo.service.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-25T10:30:00Z');
const USERS = [
  { id: 11, login: 'apiuser' },
  { id: 12, login: 'http2sms' },
  { id: 13, login: 'mailer' },
  { id: 14, login: 'crm' },
  { id: 15, login: 'smppgw' },
];
const SENDERS = ['Relais', 'INFO', 'Promo'];
const hasher = createPasswordHasher({ fast: true });

function generate(
  count: number,
  seed: string | number = 'test',
  extra: { spanDays?: number; batchSize?: number; storeText?: boolean } = {},
): NewOutgoingRow[] {
  return [...generateDemoRows({ accountId: 7, users: USERS, senders: SENDERS, count, seed, now: NOW, ...extra })].flat();
}

/** Every state reached has its timestamp, in order, never after `now`; no timestamp of a state not reached. */
function checkConsistent(r: NewOutgoingRow, now: number): void {
  const fail = (why: string) => {
    throw new Error(`${why}: ${JSON.stringify(r)}`);
  };
  if (r.created_at > now) fail('created in the future');
  const times = [r.sent_at, r.delivered_at, r.failed_at, r.expired_at, r.canceled_at];
  for (const t of times) if (t !== null && (t < r.created_at || t > now)) fail('timestamp out of range');
  const final = { delivered: r.delivered_at, failed: r.failed_at, expired: r.expired_at, canceled: r.canceled_at };
  for (const [status, at] of Object.entries(final)) if ((r.status === status) !== (at !== null)) fail(`${status}_at vs status`);
  const reachedCarrier = ['sent', 'delivered', 'failed', 'expired'].includes(r.status);
  if (reachedCarrier !== (r.sent_at !== null)) fail('sent_at vs status');
  if (reachedCarrier !== (r.carrier_message_id !== null)) fail('carrier_message_id vs status');
  if ((r.status === 'failed') !== (r.error_code !== null && r.error_text !== null)) fail('error vs status');
  for (const t of [r.delivered_at, r.failed_at, r.expired_at])
    if (t !== null && r.sent_at !== null && t < r.sent_at) fail('final state before sent');
  if (r.deferred_until !== null && r.sent_at !== null && r.sent_at < r.deferred_until) fail('sent before its deferred time');
  // The demo queues none of its rows: a pending one was just created, or its time is still to come.
  if (r.status === 'pending' && r.created_at < now - 5 * 60_000 && !(r.deferred_until !== null && r.deferred_until > now))
    fail('pending with nothing to wait for');
  if (r.deferred_until !== null && r.deferred_until - r.created_at > MAX_DEFERRAL_MINUTES * 60_000)
    fail('deferred beyond what any channel allows');
  // The dispatcher's housekeeping (expireUnconfirmed) would have nothing to change.
  if (r.status === 'sent' && (r.valid_until ?? Number.POSITIVE_INFINITY) < now - RECEIPT_GRACE_MS) fail('sent past its receipt’s time');
  if (r.status === 'expired' && r.error_text !== null) {
    if (r.error_text !== EXPIRED_WITHOUT_RECEIPT || r.error_code !== null || r.expired_at !== (r.valid_until ?? 0) + RECEIPT_GRACE_MS)
      fail('expired without receipt unlike the dispatcher’s');
  }
  if (r.status !== 'expired' && r.status !== 'failed' && r.error_text !== null) fail('error text without an error');
  if (r.credits !== r.parts || r.parts < 1) fail('credits vs parts');
  if (r.user_id === null ? r.user_login !== '' || r.channel !== 'manager' : r.channel === 'manager') fail('user vs channel');
}

describe('generateDemoRows', () => {
  const rows = generate(20_000);

  it('yields exactly `count` rows in batches, oldest first, within the span, deterministic per seed', () => {
    expect(rows).toHaveLength(20_000);
    const batches = [
      ...generateDemoRows({ accountId: 7, users: USERS, senders: SENDERS, count: 2_500, seed: 1, now: NOW, batchSize: 1_000 }),
    ];
    expect(batches.map((b) => b.length)).toEqual([1_000, 1_000, 500]);
    for (let i = 1; i < rows.length; i++) expect(rows[i].created_at).toBeGreaterThanOrEqual(rows[i - 1].created_at);
    expect(rows[0].created_at).toBeGreaterThanOrEqual(NOW - 365 * DAY);
    expect(rows.at(-1)?.created_at).toBeLessThanOrEqual(NOW);
    // The span is covered: messages in its first and its last weeks.
    expect(rows[0].created_at).toBeLessThan(NOW - 350 * DAY);
    expect(rows.at(-1)?.created_at).toBeGreaterThan(NOW - 2 * DAY);
    expect(generate(300, 'same')).toEqual(generate(300, 'same'));
    expect(generate(300, 'other')).not.toEqual(generate(300, 'same'));
    const short = generate(1_000, 'x', { spanDays: 7 });
    expect(short[0].created_at).toBeGreaterThanOrEqual(NOW - 7 * DAY);
  });

  it('has every channel and status, in realistic shares, with consistent timestamps', () => {
    const share = (pred: (r: NewOutgoingRow) => boolean) => rows.filter(pred).length / rows.length;
    for (const channel of CHANNELS) expect(rows.some((r) => r.channel === channel)).toBe(true);
    for (const status of OUTGOING_STATUSES) expect(rows.some((r) => r.status === status)).toBe(true);
    expect(share((r) => r.status === 'delivered')).toBeGreaterThan(0.74);
    expect(share((r) => r.status === 'delivered')).toBeLessThan(0.86);
    expect(share((r) => r.status === 'failed')).toBeGreaterThan(0.04);
    expect(share((r) => r.status === 'failed')).toBeLessThan(0.1);
    expect(share((r) => r.status === 'pending')).toBeLessThan(0.08);
    expect(share((r) => r.user_id === null)).toBeGreaterThan(0.12);
    expect(share((r) => r.user_id === null)).toBeLessThan(0.18);
    for (const r of rows) checkConsistent(r, NOW);
    // Some pending messages are scheduled for later, and the newest ones are still on their way.
    expect(rows.some((r) => r.status === 'pending' && r.deferred_until !== null && r.deferred_until > NOW)).toBe(true);
    const errors = new Set(rows.filter((r) => r.status === 'failed').map((r) => `${r.error_code} ${r.error_text}`));
    expect(errors).toContain('3 destination unreachable');
    expect(errors).toContain('53 blacklisted (STOP)');
  });

  it('spreads rows over every SMS user, the first ones sending more, each mostly on its own channel', () => {
    const byUser = new Map<string, NewOutgoingRow[]>();
    for (const r of rows) byUser.set(r.user_login, [...(byUser.get(r.user_login) ?? []), r]);
    for (const u of USERS) expect(byUser.get(u.login)?.length ?? 0).toBeGreaterThan(rows.length * 0.05);
    expect(byUser.get('apiuser')?.length).toBeGreaterThan(byUser.get('smppgw')?.length ?? 0);
    const main = (login: string) => {
      const counts = new Map<string, number>();
      for (const r of byUser.get(login) ?? []) counts.set(r.channel, (counts.get(r.channel) ?? 0) + 1);
      return [...counts].sort((a, b) => b[1] - a[1])[0][0];
    };
    expect(USERS.map((u) => main(u.login))).toEqual(['api', 'http2sms', 'mail2sms', 'ovh-api', 'smpp']);
    for (const r of rows) expect(r.user_id === null || USERS.some((u) => u.id === r.user_id && u.login === r.user_login)).toBe(true);
    expect(new Set(rows.map((r) => r.sender))).toEqual(new Set(SENDERS));
  });

  it('sends more on weekdays in office hours (Europe/Paris)', () => {
    const local = (ms: number) => new Date(ms + 3_600_000); // CET; CEST shifts an hour, irrelevant here
    const office = rows.filter((r) => {
      const d = local(r.created_at);
      return d.getUTCDay() >= 1 && d.getUTCDay() <= 5 && d.getUTCHours() >= 9 && d.getUTCHours() < 19;
    });
    expect(office.length / rows.length).toBeGreaterThan(0.55);
    const night = rows.filter((r) => local(r.created_at).getUTCHours() < 6);
    expect(night.length / rows.length).toBeLessThan(0.05);
  });

  it('uses realistic receivers: valid E.164 mobiles, mostly French, some repeated', () => {
    const receivers = rows.map((r) => r.receiver);
    for (const receiver of receivers.slice(0, 3_000)) expect(isValidPhoneNumber(receiver), receiver).toBe(true);
    const share = (prefix: string) => receivers.filter((r) => r.startsWith(prefix)).length / receivers.length;
    expect(share('+336') + share('+337')).toBeGreaterThan(0.8);
    for (const prefix of ['+32', '+41', '+44', '+1']) expect(share(prefix)).toBeGreaterThan(0);
    expect(new Set(receivers).size).toBeLessThan(receivers.length * 0.9);
  });

  it('writes varied texts: French and English, multi-line, accents, emoji, CSV-hostile characters, long multi-part ones', () => {
    const texts = rows.map((r) => r.message);
    const some = (re: RegExp) => texts.filter((t) => re.test(t)).length;
    expect(new Set(texts).size).toBeGreaterThan(rows.length * 0.5);
    expect(some(/\n/)).toBeGreaterThan(100);
    for (const re of [
      /é/,
      /è/,
      /à/,
      /ç/,
      /ô/,
      /🎉/,
      /📦/,
      /✅/,
      /;/,
      /"/,
      /^=/,
      /^@/,
      /STOP au 36180/,
      /rendez-vous/i,
      /code/,
      /appointment|parcel|code is/,
    ]) {
      expect(some(re), String(re)).toBeGreaterThan(0);
    }
    expect(rows.some((r) => r.parts >= 3 && r.encoding === 'ucs2')).toBe(true);
    expect(rows.some((r) => r.parts >= 2 && r.encoding === 'gsm7')).toBe(true);
    const tags = new Set(rows.map((r) => r.tag));
    for (const tag of ['', 'otp', 'rappel', 'promo-2026-11']) expect(tags).toContain(tag);
  });

  it('leaves no `sent` row past its receipt’s time: expired as the dispatcher would, the carriers’ expiries kept', () => {
    const expired = rows.filter((r) => r.status === 'expired');
    const withoutReceipt = expired.filter((r) => r.error_text === EXPIRED_WITHOUT_RECEIPT);
    expect(withoutReceipt.length).toBeGreaterThan(rows.length * 0.03);
    expect(expired.length - withoutReceipt.length).toBeGreaterThan(rows.length * 0.01);
    // Still `sent`: only recent ones, their receipt still awaited.
    const sent = rows.filter((r) => r.status === 'sent');
    expect(sent.length).toBeGreaterThan(0);
    for (const r of sent) expect(r.valid_until).toBeGreaterThanOrEqual(NOW - RECEIPT_GRACE_MS);
  });

  it('writes no texts for an account that stores none, the rest of each row unchanged', () => {
    const secret = generate(2_000, 'secret', { storeText: false });
    const plain = generate(2_000, 'secret');
    expect(secret.map(({ message, redacted_at, ...r }) => r)).toEqual(plain.map(({ message, redacted_at, ...r }) => r));
    for (const r of secret) expect([r.message, r.redacted_at]).toEqual(['', r.created_at]);
    for (const r of plain) expect(r.redacted_at).toBeNull();
  });

  it('gives each row the encoding and parts analyzeSms counts', () => {
    for (const r of rows.slice(0, 2_000)) {
      const { encoding, parts } = analyzeSms(r.message);
      expect({ encoding: r.encoding, parts: r.parts }).toEqual({ encoding, parts });
    }
  });
});

describe('copyLine', () => {
  it('writes COPY text format: tabs separate, \\N is null, backslash, tab and line breaks escaped', () => {
    const [row] = generate(1);
    const line = copyLine({ ...row, message: 'a\tb\nc\\d\re "q";=1', error_code: null, user_id: 3 });
    expect(line.endsWith('\n')).toBe(true);
    const fields = line.slice(0, -1).split('\t');
    expect(fields).toHaveLength(26);
    expect(fields[2]).toBe('3');
    expect(fields[7]).toBe('a\\tb\\nc\\\\d\\re "q";=1');
    expect(fields[22]).toBe('\\N');
  });
});

async function createAccount(database: TestDatabase, name: string): Promise<number> {
  return (await insertAccount(database, name, { createdAt: NOW })).accountId;
}

/** The history's indexes and triggers, to check a load leaves them as it found them. */
async function schemaObjects(database: TestDatabase): Promise<string[]> {
  if (database.dialect === 'sqlite') {
    const rows = await sql<{
      d: string;
    }>`select type || ' ' || name || ' ' || coalesce(sql, '') as d from sqlite_master where tbl_name in ('outgoing', 'outgoing_fts') order by name`.execute(
      database.db,
    );
    return rows.rows.map((r) => r.d);
  }
  const rows = await sql<{
    d: string;
  }>`select indexdef as d from pg_indexes where tablename = 'outgoing' and schemaname = current_schema() order by indexname`.execute(
    database.db,
  );
  return rows.rows.map((r) => r.d);
}

/** The text search index's settings (SQLite's FTS5 configuration; PostgreSQL's pg_trgm index has none to compare). */
async function textIndexConfig(database: TestDatabase): Promise<string[]> {
  if (database.dialect !== 'sqlite') return [];
  const rows = await sql<{ k: string; v: string }>`select k, v from outgoing_fts_config order by k`.execute(database.db);
  return rows.rows.map((r) => `${r.k}=${r.v}`);
}

/**
 * The connection settings a bulk load changes for its own use. SQLite: page cache, temporary storage,
 * sorter threads of the (single) connection. PostgreSQL: the index builds' memory, set for the load's
 * transaction only (a pooled connection shows the server's value again).
 */
async function connectionSettings(database: TestDatabase): Promise<unknown[]> {
  const { sqlite } = database;
  if (sqlite) return ['cache_size', 'temp_store', 'threads'].map((name) => sqlite.pragma(name, { simple: true }));
  const rows = await sql<{ maintenance_work_mem: string }>`show maintenance_work_mem`.execute(database.db);
  return rows.rows.map((r) => r.maintenance_work_mem);
}

/** What the server's indexer does (sqlite-text-index.ts): index the rows waiting, remove those deleted. */
async function indexText(database: TestDatabase): Promise<void> {
  if (database.dialect !== 'sqlite') return;
  await database.db.transaction().execute(async (trx) => {
    await purgeLeftDeletedText(trx, Number.MAX_SAFE_INTEGER);
    await indexPendingText(trx, null);
  });
}

async function countSearch(database: TestDatabase, accountId: number, word: string): Promise<{ index: number; scan: number }> {
  const { db } = database;
  if (database.dialect === 'sqlite') {
    // The trigram table has detail=none (no phrase queries): every trigram of the word must be there.
    const chars = [...word.toLowerCase()];
    const grams = new Set(chars.slice(2).map((_, i) => chars.slice(i, i + 3).join('')));
    const match = [...grams].map((g) => `"${g}"`).join(' AND ');
    const index = await sql<{ n: number }>`select count(*) as n from outgoing_fts join outgoing on outgoing.id = outgoing_fts.rowid
      where outgoing_fts match ${match} and outgoing.account_id = ${accountId} and relais_contains(outgoing.message, ${word.toLowerCase()}) = 1`.execute(
      db,
    );
    const scan = await sql<{
      n: number;
    }>`select count(*) as n from outgoing where account_id = ${accountId} and relais_contains(message, ${word.toLowerCase()}) = 1`.execute(
      db,
    );
    return { index: Number(index.rows[0].n), scan: Number(scan.rows[0].n) };
  }
  const index = await sql<{
    n: number;
  }>`select count(*) as n from outgoing where account_id = ${accountId} and message ilike ${`%${word}%`}`.execute(db);
  const scan = await sql<{
    n: number;
  }>`select count(*) as n from outgoing where account_id = ${accountId} and position(lower(${word}) in lower(message)) > 0`.execute(db);
  return { index: Number(index.rows[0].n), scan: Number(scan.rows[0].n) };
}

describeEachDialect('demo loader', (ctx) => {
  const clock = { now: () => NOW };

  it('fails with ACCOUNT_NOT_FOUND for an unknown account', async () => {
    await expect(runDemo({ database: ctx.database, clock, hasher, accountName: 'sms-zz99999-1', messages: 10 })).rejects.toMatchObject({
      code: 'ACCOUNT_NOT_FOUND',
    });
  });

  // In this order: the first load finds the history empty (as migrated), the others do not.
  const loads = [
    { title: 'bulk load of 20,000 messages into an empty history', strategy: 'rebuild', name: 'sms-bu12345-1' },
    { title: 'incremental load of 20,000 messages', strategy: 'incremental', name: 'sms-in12345-1' },
    { title: 'rebuild load of 20,000 messages into a history with rows', strategy: 'rebuild', name: 'sms-re12345-1' },
  ] as const;
  let migrated: { objects: string[]; textIndexConfig: string[] } | undefined;
  for (const { title, strategy, name } of loads) {
    describe(title, () => {
      let accountId: number;
      let objectsBefore: string[];
      let settingsBefore: unknown[];
      let result: Awaited<ReturnType<typeof runDemo>>;
      const phases = new Set<string>();

      beforeAll(async () => {
        migrated ??= { objects: await schemaObjects(ctx.database), textIndexConfig: await textIndexConfig(ctx.database) };
        accountId = await createAccount(ctx.database, name);
        objectsBefore = await schemaObjects(ctx.database);
        settingsBefore = await connectionSettings(ctx.database);
        result = await runDemo({
          database: ctx.database,
          clock,
          hasher,
          accountName: name,
          messages: 20_000,
          seed: 42,
          strategy,
          onProgress: (p) => phases.add(p.phase),
        });
      }, 120_000);

      it('inserts every row, reports it, and leaves indexes and triggers as they were', async () => {
        expect(result.inserted).toBe(20_000);
        expect(result.strategy).toBe(strategy);
        expect(result.rowsPerSecond).toBeGreaterThan(0);
        expect(phases).toContain('inserting');
        expect(phases.has('indexing')).toBe(strategy === 'rebuild');
        const { n } = await ctx.database.db
          .selectFrom('outgoing')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow();
        expect(Number(n)).toBe(20_000);
        expect(await schemaObjects(ctx.database)).toEqual(objectsBefore);
        // The same indexes, triggers and text search settings as a freshly migrated database.
        expect(await schemaObjects(ctx.database)).toEqual(migrated?.objects);
        expect(await textIndexConfig(ctx.database)).toEqual(migrated?.textIndexConfig);
        // SQLite: the load's page cache, and the index builds' temporary files and sorter threads, are
        // the load's only: the connection (the server's, when the first start fills the demo) gets its own back.
        expect(await connectionSettings(ctx.database)).toEqual(settingsBefore);
      });

      it('records the id bounds of each day of the loaded rows (outgoing_days)', async () => {
        const days = await ctx.database.db
          .selectFrom('outgoing_days')
          .select(['day', 'min_id', 'max_id'])
          .where('account_id', '=', accountId)
          .orderBy('day')
          .execute();
        const actual = await sql<{ day: number; min_id: number; max_id: number }>`select created_at / ${sql.lit(DAY_MS)} as day,
          min(id) as min_id, max(id) as max_id from outgoing where account_id = ${accountId} group by 1 order by 1`.execute(
          ctx.database.db,
        );
        const plain = (rows: { day: number; min_id: number; max_id: number }[]) =>
          rows.map((r) => [Number(r.day), Number(r.min_id), Number(r.max_id)]);
        expect(days.length).toBeGreaterThan(300);
        expect(plain(days)).toEqual(plain(actual.rows));
      });

      it('creates demo SMS users and senders, and spreads the rows over them', async () => {
        const { db } = ctx.database;
        const users = await db
          .selectFrom('sms_users')
          .select(['id', 'login', 'password_hash'])
          .where('account_id', '=', accountId)
          .execute();
        expect(users.map((u) => u.login).sort()).toEqual([...DEMO_USER_LOGINS].sort());
        for (const u of users) expect(u.password_hash).toMatch(/^\$argon2id\$/);
        const senders = await db.selectFrom('senders').select('sender').where('account_id', '=', accountId).execute();
        expect(senders.map((s) => s.sender).sort()).toEqual(['INFO', 'Promo', 'Relais']);
        const perUser = await db
          .selectFrom('outgoing')
          .select(['user_id', 'user_login', 'channel'])
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('account_id', '=', accountId)
          .groupBy(['user_id', 'user_login', 'channel'])
          .execute();
        const logins = new Set(perUser.map((r) => r.user_login));
        for (const u of users) {
          expect(logins).toContain(u.login);
          for (const r of perUser.filter((p) => p.user_login === u.login)) expect(Number(r.user_id)).toBe(Number(u.id));
        }
        const manager = perUser.filter((r) => r.user_id === null);
        expect(manager.map((r) => [r.user_login, r.channel])).toEqual([['', 'manager']]);
        expect(new Set(perUser.map((r) => r.channel))).toEqual(new Set(CHANNELS));
      });

      it('stores rows whose ids follow their dates, with consistent timestamps and every status', async () => {
        const rows = await ctx.database.db
          .selectFrom('outgoing')
          .select(['id', ...OUTGOING_INSERT_COLUMNS])
          .where('account_id', '=', accountId)
          .orderBy('id')
          .execute();
        for (let i = 1; i < rows.length; i++) expect(rows[i].created_at).toBeGreaterThanOrEqual(rows[i - 1].created_at);
        for (const r of rows) checkConsistent(r, NOW);
        expect(rows[0].created_at).toBeGreaterThanOrEqual(NOW - 365 * DAY);
        expect(new Set(rows.map((r) => r.status))).toEqual(new Set(OUTGOING_STATUSES));
        expect(rows.some((r) => r.message.includes('\n'))).toBe(true);
        expect(rows.some((r) => /[éèàçô]/.test(r.message))).toBe(true);
        expect(rows.some((r) => /\p{Extended_Pictographic}/u.test(r.message))).toBe(true);
        expect(rows.some((r) => r.message.includes('"') && r.message.includes(';'))).toBe(true);
        // Every value survives the bulk path exactly (COPY escaping on PostgreSQL): the same seed gives the same rows.
        const repository = createDemoRepository(ctx.database);
        const users = await repository.findDemoUsers(accountId);
        const senders = await repository.findSenders(accountId);
        const expected = [
          ...generateDemoRows({ accountId, users, senders, count: 20_000, seed: 42, now: NOW, timeZone: 'Europe/Paris' }),
        ].flat();
        expect(
          rows.map(({ id: _, ...r }) => ({
            ...r,
            account_id: Number(r.account_id),
            user_id: r.user_id === null ? null : Number(r.user_id),
          })),
        ).toEqual(expected);
      });

      it('keeps the text search index complete', async () => {
        for (const word of ['rendez', 'colis', 'Vérification', 'STOP au 36180', 'entre 9h']) {
          const { index, scan } = await countSearch(ctx.database, accountId, word);
          expect(index, word).toBe(scan);
          expect(index, word).toBeGreaterThan(0);
        }
        if (ctx.dialect === 'sqlite') {
          // FTS5 checks its index's structure, and that it holds exactly the history's rows.
          await sql`insert into outgoing_fts(outgoing_fts) values('integrity-check')`.execute(ctx.database.db);
          const indexed = await sql<{ n: number }>`select count(*) as n from outgoing_fts`.execute(ctx.database.db);
          const rows = await sql<{ n: number }>`select count(*) as n from outgoing`.execute(ctx.database.db);
          expect(Number(indexed.rows[0].n)).toBe(Number(rows.rows[0].n));
        }
      });

      it('indexes the rows written after the load, and forgets the deleted ones', async () => {
        const { db } = ctx.database;
        const word = `zq${name.slice(4, 9)}`;
        const [row] = generate(1, word).map((r) => ({ ...r, account_id: accountId, message: `Après le chargement : ${word}` }));
        await db.insertInto('outgoing').values(row).execute();
        // SQLite indexes texts in batches (the server's indexer, a few times a second): not yet here.
        expect(await countSearch(ctx.database, accountId, word)).toEqual({ index: ctx.dialect === 'sqlite' ? 0 : 1, scan: 1 });
        await indexText(ctx.database);
        expect(await countSearch(ctx.database, accountId, word)).toEqual({ index: 1, scan: 1 });
        await db.deleteFrom('outgoing').where('account_id', '=', accountId).where('message', 'like', `%${word}%`).execute();
        expect(await countSearch(ctx.database, accountId, word)).toEqual({ index: 0, scan: 0 });
        const before = await countSearch(ctx.database, accountId, 'colis');
        const some = await db
          .selectFrom('outgoing')
          .select('id')
          .where('account_id', '=', accountId)
          .where('message', 'like', '%colis%')
          .limit(10)
          .execute();
        await db
          .deleteFrom('outgoing')
          .where(
            'id',
            'in',
            some.map((r) => r.id),
          )
          .execute();
        const after = await countSearch(ctx.database, accountId, 'colis');
        expect(after).toEqual({ index: before.index - some.length, scan: before.scan - some.length });
        // Plain deletes leave their rows noted in the index until the server's indexer removes them.
        await indexText(ctx.database);
      });
    });
  }

  it('leaves the history as it was when a rebuild is aborted, and keeps later rows searchable', async () => {
    const accountId = await createAccount(ctx.database, 'sms-ab54321-1');
    const repository = createDemoRepository(ctx.database);
    const objectsBefore = await schemaObjects(ctx.database);
    const rows = generate(500, 'abort').map((r) => ({ ...r, account_id: accountId }));
    const load = await repository.openBulkLoad({ strategy: 'rebuild' });
    await load.write(rows);
    await load.abort();
    const count = async () =>
      Number(
        (
          await ctx.database.db
            .selectFrom('outgoing')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('account_id', '=', accountId)
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(await count()).toBe(0);
    expect(await schemaObjects(ctx.database)).toEqual(objectsBefore);

    await ctx.database.db
      .insertInto('outgoing')
      .values({ ...rows[0], message: 'Bonjour, message zyxwvu inséré après le chargement' })
      .execute();
    await indexText(ctx.database);
    expect(await countSearch(ctx.database, accountId, 'zyxwvu')).toEqual({ index: 1, scan: 1 });
  });
});

describeEachDialect('demo loader: the account’s senders and privacy', (ctx) => {
  const clock = { now: () => NOW };

  it('uses only the account’s enabled senders, adding the demo ones when it has none, and keeps its senders as they were', async () => {
    const { db } = ctx.database;
    const name = 'sms-se12345-1';
    const accountId = await createAccount(ctx.database, name);
    const add = (sender: string, status: string) =>
      db.insertInto('senders').values({ account_id: accountId, sender, description: '', status, type: 'alpha', created_at: NOW }).execute();
    await add('Refused', 'refused');
    await add('Waiting', 'waitingValidation');
    await add('INFO', 'disable');
    const senders = () => db.selectFrom('senders').select(['sender', 'status']).where('account_id', '=', accountId).orderBy('id').execute();
    const before = await senders();
    await runDemo({ database: ctx.database, clock, hasher, accountName: name, messages: 500, seed: 'senders' });
    // The demo senders not named as one of its own, enabled; its own untouched.
    expect(await senders()).toEqual([...before, { sender: 'Relais', status: 'enable' }, { sender: 'Promo', status: 'enable' }]);
    const used = await db.selectFrom('outgoing').select('sender').distinct().where('account_id', '=', accountId).execute();
    expect(used.map((r) => r.sender).sort()).toEqual(['Promo', 'Relais']);

    // Once it has enabled senders, only those: none added.
    await db.updateTable('senders').set({ status: 'disable' }).where('account_id', '=', accountId).where('sender', '=', 'Promo').execute();
    const second = await senders();
    const { last } = await db
      .selectFrom('outgoing')
      .select((eb) => eb.fn.max('id').as('last'))
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    await runDemo({ database: ctx.database, clock, hasher, accountName: name, messages: 300, seed: 'senders-2' });
    expect(await senders()).toEqual(second);
    const added = await db
      .selectFrom('outgoing')
      .select('sender')
      .distinct()
      .where('account_id', '=', accountId)
      .where('id', '>', Number(last))
      .execute();
    expect(added.map((r) => r.sender)).toEqual(['Relais']);
  });

  it('refuses, writing nothing, an account whose senders bear the demo senders’ names but none is enabled', async () => {
    const { db } = ctx.database;
    const name = 'sms-se54321-1';
    const accountId = await createAccount(ctx.database, name);
    await db
      .insertInto('senders')
      .values(
        DEMO_SENDERS.map((s) => ({
          account_id: accountId,
          sender: s.sender,
          description: '',
          status: 'disable',
          type: 'alpha',
          created_at: NOW,
        })),
      )
      .execute();
    await expect(runDemo({ database: ctx.database, clock, hasher, accountName: name, messages: 10 })).rejects.toMatchObject({
      code: 'INVALID_SENDER',
    });
    const rows = await db.selectFrom('outgoing').select('id').where('account_id', '=', accountId).execute();
    expect(rows).toEqual([]);
  });

  it('writes no texts into an account that stores none', async () => {
    const { db } = ctx.database;
    const name = 'sms-st12345-1';
    const accountId = await createAccount(ctx.database, name);
    await db.updateTable('accounts').set({ store_text: 0 }).where('id', '=', accountId).execute();
    await runDemo({ database: ctx.database, clock, hasher, accountName: name, messages: 300, seed: 'no-text' });
    const rows = await db
      .selectFrom('outgoing')
      .select(['message', 'redacted_at', 'created_at'])
      .where('account_id', '=', accountId)
      .execute();
    expect(rows).toHaveLength(300);
    for (const r of rows) expect([r.message, r.redacted_at]).toEqual(['', r.created_at]);
  });
});

describeEachDialect('demo loader: choosing the path', (ctx) => {
  const count = async () =>
    Number(
      (
        await ctx.database.db
          .selectFrom('outgoing')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  /** Scratch files a bulk load's text index worker leaves next to a SQLite database (none, once it is over). */
  const scratchFiles = () =>
    ctx.dialect === 'sqlite' ? readdirSync(dirname(ctx.database.sqlite!.name)).filter((f) => f.includes('.fts-load-')) : [];

  it('bulk-loads a big load into an empty history, and aborting it leaves the history empty and as migrated', async () => {
    const repository = createDemoRepository(ctx.database);
    const accountId = await createAccount(ctx.database, 'sms-ch12345-1');
    const objectsBefore = await schemaObjects(ctx.database);
    expect((await repository.openBulkLoad({ expectedRows: REBUILD_MIN_ROWS - 1 }).then(abortAfter)).strategy).toBe('incremental');
    const load = await repository.openBulkLoad({ expectedRows: REBUILD_MIN_ROWS });
    expect(load.strategy).toBe('rebuild');
    await load.write(generate(2_500, 'aborted').map((r) => ({ ...r, account_id: accountId })));
    await load.abort();
    expect(await count()).toBe(0);
    expect(await schemaObjects(ctx.database)).toEqual(objectsBefore);
    expect(scratchFiles()).toEqual([]);
  });

  it('keeps the indexes live for a load into a history that has rows, whatever its size', async () => {
    const repository = createDemoRepository(ctx.database);
    const accountId = await createAccount(ctx.database, 'sms-ch54321-1');
    await ctx.database.db
      .insertInto('outgoing')
      .values(generate(1, 'one').map((r) => ({ ...r, account_id: accountId })))
      .execute();
    const load = await repository.openBulkLoad({ expectedRows: 10 * REBUILD_MIN_ROWS });
    expect(load.strategy).toBe('incremental');
    await load.abort();
    expect(await count()).toBe(1);
  });
});

async function abortAfter(load: OutgoingBulkLoad): Promise<OutgoingBulkLoad> {
  await load.abort();
  return load;
}

describe('relais demo (real process, SQLite)', () => {
  const file = join(tmpdir(), `relais-demo-cli-${process.pid}-${Date.now()}.db`);
  const relais = (...args: string[]) => runRelais({ RELAIS_DATABASE_URL: `sqlite:${file}`, RELAIS_ARGON2_TEST_FAST: '1' }, ...args);

  beforeAll(async () => {
    const database = openDatabase(`sqlite:${file}`);
    await migrateToLatest(database);
    await createAccount({ ...database, url: `sqlite:${file}` }, 'sms-cl12345-1');
    await database.close();
    return () => {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    };
  });

  it('fills an account, prints the result (or JSON), with progress on stderr', async () => {
    const human = await relais('demo', '--account', 'sms-cl12345-1', '--messages', '3k', '--seed', 'cli');
    expect(human.code).toBe(0);
    // The account had no SMS users nor senders: the demo made some, and says which.
    expect(human.stdout).toMatch(
      /^Inserted 3,000 messages into sms-cl12345-1 in \d+\.\d s \([\d,]+ rows\/s, incremental load\); created 5 SMS users \([a-z0-9, ]+\) and 3 senders \([A-Za-z, ]+\)\n$/,
    );
    expect(human.stderr).toContain('demo: incremental load: indexes kept up to date');
    expect(human.stderr).toContain('demo: 100% (3,000/3,000 messages');

    const json = await relais('demo', '--account', 'sms-cl12345-1', '--messages', '2000', '--json');
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(Object.keys(result)).toEqual(['inserted', 'seconds', 'rowsPerSecond', 'strategy', 'created']);
    // The second run made none: they exist now.
    expect(result.created).toEqual({ users: [], senders: [] });
    expect(result.strategy).toBe('incremental');
    expect(result.inserted).toBe(2_000);

    const database = openDatabase(`sqlite:${file}`);
    try {
      const { n } = await database.db
        .selectFrom('outgoing')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(n)).toBe(5_000);
      const fts = await sql<{
        n: number;
      }>`select count(*) as n from outgoing_fts where outgoing_fts match '"ren" AND "end" AND "nde" AND "dez"'`.execute(database.db);
      expect(Number(fts.rows[0].n)).toBeGreaterThan(0);
    } finally {
      await database.close();
    }
  });

  it('refuses an unknown account and a bad count, clearly', async () => {
    const unknown = await relais('demo', '--account', 'sms-zz99999-1', '--messages', '10');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No SMS account named sms-zz99999-1 (ACCOUNT_NOT_FOUND)');
    const json = await relais('demo', '--account', 'sms-zz99999-1', '--messages', '10', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'ACCOUNT_NOT_FOUND' } });
    const bad = await relais('demo', '--account', 'sms-cl12345-1', '--messages', 'lots');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--messages must be a whole number');
  });
});
