/**
 * Adversarial review of the history API of sent SMS (README "The history API", PRODUCT.md, the seed):
 * keyset cursors (tampered, forged, from another query or account, long sort values), every sort
 * paged forwards then backwards across ties compared with an in-memory sort, filters (LIKE wildcards,
 * case, dates to the millisecond, masked receivers), deletions (other accounts' ids, pending messages,
 * jobs racing with sending, the audit) and the CSV exports (seed format, formulas, all=true, detailed).
 */
import type { Insertable } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingRow } from '../src/server/db/schema.js';
import { queryFingerprint } from '../src/server/modules/history/cursor.js';
import { createSeedCsvFormatter } from '../src/shared/csv.js';
import { CHANNELS, type OutgoingStatus } from '../src/shared/status.js';
import { type AppTestContext, describeEachDialectWithApp } from './app.js';
import { bearer, createSender, createSmsUser, createToken, type SeededAccount, seedCustomerWithAccount } from './factories.js';
import { buildOutgoing, insertOutgoing } from './outgoing-factory.js';

type Json = Record<string, unknown>;
type Page = { data: Json[]; nextCursor: string | null; prevCursor: string | null; total: number; totalIsExact: boolean };

/** One inserted row, as the expectations need it. */
interface Row {
  id: number;
  created: number;
  sender: string;
  receiver: string;
  message: string;
  redacted: boolean;
  status: OutgoingStatus;
  user: string;
  channel: string;
  tag: string;
}

const SORT_KEYS = ['date', 'sender', 'receiver', 'message', 'status', 'user', 'channel'] as const;
type SortKey = (typeof SORT_KEYS)[number];

/** The value a row has in a sort column, as stored ('' for no user and for an erased text). */
function sortValue(r: Row, key: SortKey): string | number {
  switch (key) {
    case 'date':
      return r.created;
    case 'message':
      return r.redacted ? '' : r.message;
    default:
      return r[key];
  }
}

/** Code point order (UTF-8 bytes): what SQLite's BINARY and PostgreSQL's C.UTF-8 collations both give. */
function compareValues(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return Buffer.compare(Buffer.from(String(a), 'utf8'), Buffer.from(String(b), 'utf8'));
}

/** The ids of `rows` in the order `key` `direction`, ties broken by id in the same direction. */
function expectedOrder(rows: Row[], key: SortKey, direction: 'asc' | 'desc'): number[] {
  const sign = direction === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => sign * (compareValues(sortValue(a, key), sortValue(b, key)) || a.id - b.id)).map((r) => r.id);
}

/** The `sort` parameter of the API. */
function sortParam(key: SortKey, direction: 'asc' | 'desc'): string {
  if (key === 'date') return direction === 'desc' ? 'date' : '%2Bdate';
  return direction === 'desc' ? `-${key}` : key;
}

/** Inserts rows built from `overrides` and returns them with their ids. */
async function insertRows(ctx: AppTestContext, rows: (Partial<Insertable<OutgoingRow>> & { account_id: number })[]): Promise<Row[]> {
  const built = rows.map((r) => buildOutgoing(r));
  const ids = await insertOutgoing(ctx.database, built);
  return built.map((b, i) => ({
    id: ids[i],
    created: Number(b.created_at),
    sender: b.sender,
    receiver: b.receiver,
    message: b.message,
    redacted: b.redacted_at !== null && b.redacted_at !== undefined,
    status: b.status as OutgoingStatus,
    user: b.user_login ?? '',
    channel: b.channel,
    tag: b.tag ?? '',
  }));
}

/** The cells of a `;`-separated CSV made of quoted values (quotes doubled, newlines inside quotes). */
function parseCsv(text: string): string[][] {
  const lines: string[][] = [];
  let i = 0;
  const header = text.indexOf('\n');
  lines.push(text.slice(0, header).split(';'));
  i = header + 1;
  while (i < text.length) {
    const cells: string[] = [];
    for (;;) {
      if (text[i] !== '"') throw new Error(`unquoted cell at ${i}: ${JSON.stringify(text.slice(i, i + 20))}`);
      let cell = '';
      i += 1;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error('unterminated cell');
        cell += text.slice(i, q);
        if (text[q + 1] === '"') {
          cell += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      cells.push(cell);
      if (text[i] === ';') {
        i += 1;
        continue;
      }
      if (text[i] !== '\n') throw new Error(`expected a newline at ${i}`);
      i += 1;
      break;
    }
    lines.push(cells);
  }
  return lines;
}

describeEachDialectWithApp('history API review', (ctx) => {
  const get = (url: string, headers: Record<string, string>) => ctx.app.inject({ method: 'GET', url, headers });
  const base = (s: SeededAccount) => `/api/v1/accounts/${s.account.name}`;
  const page = async (s: SeededAccount, query: string, headers = s.auth): Promise<Page> => {
    const res = await get(`${base(s)}/outgoing?${query}`, headers);
    if (res.statusCode !== 200) throw new Error(`${query} answered ${res.statusCode}: ${res.body}`);
    return res.json() as Page;
  };
  const errorOf = (res: { statusCode: number; json: () => unknown }) => [
    res.statusCode,
    (res.json() as { error?: { code?: string } }).error?.code,
  ];

  /**
   * Every page of `query` read forwards with `nextCursor`, then back from the last with `prevCursor`:
   * the ids in order, and whether the backward walk gave the same pages.
   */
  async function walk(s: SeededAccount, query: string, limit: number) {
    const forwards: Page[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 500; n++) {
      const p = await page(s, `${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      forwards.push(p);
      cursor = p.nextCursor;
      if (!cursor) break;
    }
    const backwards: Page[] = [forwards[forwards.length - 1]];
    cursor = forwards[forwards.length - 1].prevCursor;
    for (let n = 0; cursor && n < 500; n++) {
      const p = await page(s, `${query}&limit=${limit}&cursor=${cursor}`);
      backwards.unshift(p);
      cursor = p.prevCursor;
    }
    const idsOf = (pages: Page[]) => pages.map((p) => p.data.map((r) => r.id as number));
    return {
      ids: forwards.flatMap((p) => p.data.map((r) => r.id as number)),
      forwardPages: idsOf(forwards),
      backwardPages: idsOf(backwards),
    };
  }

  // -----------------------------------------------------------------------------------------------
  describe('keyset paging across ties, in every sort, both ways', () => {
    let s: SeededAccount;
    let rows: Row[];
    const T0 = Date.UTC(2024, 5, 10, 8, 0, 0);

    beforeAll(async () => {
      s = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris' } });
      const senders = ['Shop', 'shop', 'SHOP', 'Shöp', 'Ä', '😀x', '\uff61x', 'Shop'];
      // Texts equal but for case, accents, a trailing space, emoji (astral) against a BMP character above the surrogates.
      const texts = ['abc', 'ABC', 'Abc', 'àbc', 'abc ', 'a\nb', '😀 abc', '\uff61 abc', 'zz', 'abc', 'Mot de 100% sûr'];
      const users = ['', 'alice', 'Alice', 'bob', ''];
      const statuses: OutgoingStatus[] = ['delivered', 'failed', 'sent', 'pending', 'delivered', 'expired'];
      const receivers = ['+33612345678', '+33612345678', '+4915112345678', '+33700000001'];
      const spec = Array.from({ length: 46 }, (_, i) => ({
        account_id: s.account.id,
        // Five instants only: many rows share their date.
        created_at: T0 + (i % 5) * 60_000,
        sender: senders[i % senders.length],
        receiver: receivers[(i * 7) % receivers.length],
        message: texts[(i * 3) % texts.length],
        redacted_at: i % 9 === 4 ? T0 : null,
        status: statuses[(i * 5) % statuses.length],
        user_login: users[(i * 3) % users.length],
        channel: CHANNELS[(i * 11) % CHANNELS.length],
        tag: i % 4 === 0 ? 'promo' : '',
      }));
      // Stored with the erased text as redaction leaves it.
      rows = await insertRows(
        ctx,
        spec.map((r) => (r.redacted_at === null ? r : { ...r, message: '' })),
      );
    });

    const cases: { name: string; query: string; keep: (r: Row) => boolean }[] = [
      { name: 'no filter', query: '', keep: () => true },
      { name: 'messages with no SMS user', query: 'user=-', keep: (r) => r.user === '' },
      { name: 'two statuses', query: 'status=delivered,failed', keep: (r) => r.status === 'delivered' || r.status === 'failed' },
      {
        name: 'a text search',
        query: 'q=abc',
        keep: (r) => !r.redacted && r.message.toLowerCase().includes('abc'),
      },
      {
        name: 'a date range',
        query: `from=${encodeURIComponent(new Date(T0 + 60_000).toISOString())}&to=${encodeURIComponent(new Date(T0 + 180_000).toISOString())}`,
        keep: (r) => r.created >= T0 + 60_000 && r.created <= T0 + 180_000 + 999,
      },
    ];
    for (const c of cases) {
      it(`visits every row exactly once, forwards and backwards, in each sort (${c.name})`, async () => {
        const matching = rows.filter(c.keep);
        expect(matching.length).toBeGreaterThan(4);
        for (const key of SORT_KEYS) {
          for (const direction of ['asc', 'desc'] as const) {
            const label = `${c.name}, sort ${key} ${direction}`;
            const { ids, forwardPages, backwardPages } = await walk(s, `${c.query}&sort=${sortParam(key, direction)}`, 4);
            expect([label, ids]).toEqual([label, expectedOrder(matching, key, direction)]);
            expect([label, backwardPages]).toEqual([label, forwardPages]);
          }
        }
      });
    }

    it('keeps the first and last pages without a cursor on the far side, and totals exact', async () => {
      const first = await page(s, 'sort=message&limit=5');
      expect(first.prevCursor).toBeNull();
      expect(first.total).toBe(rows.length);
      expect(first.totalIsExact).toBe(true);
      const all = await page(s, 'sort=message&limit=1000');
      expect(all.nextCursor).toBeNull();
      expect(all.prevCursor).toBeNull();
      expect(all.data).toHaveLength(rows.length);
    });
  });

  // -----------------------------------------------------------------------------------------------
  describe('cursors', () => {
    let a: SeededAccount;
    let b: SeededAccount;
    let aRows: Row[];

    beforeAll(async () => {
      a = await seedCustomerWithAccount(ctx.app);
      b = await seedCustomerWithAccount(ctx.app);
      const t = Date.UTC(2024, 2, 1, 12);
      aRows = await insertRows(
        ctx,
        Array.from({ length: 6 }, (_, i) => ({ account_id: a.account.id, created_at: t + i * 1000, sender: `A${i}`, message: `a ${i}` })),
      );
      await insertRows(
        ctx,
        Array.from({ length: 6 }, (_, i) => ({ account_id: b.account.id, created_at: t + i * 1000, sender: `B${i}`, message: `b ${i}` })),
      );
    });

    it("refuses another account's cursor with a clear 400 rather than reading from its position", async () => {
      const fromA = await page(a, 'sort=sender&limit=2');
      expect(fromA.nextCursor).toBeTruthy();
      const res = await get(`${base(b)}/outgoing?sort=sender&limit=2&cursor=${fromA.nextCursor}`, b.auth);
      expect(errorOf(res)).toEqual([400, 'INVALID_CURSOR']);
    });

    it('refuses a cursor of another sort, direction, filter or scope, and tampered ones, with 400 INVALID_CURSOR', async () => {
      const user = await createSmsUser(ctx.app, a.account, { login: 'scoped' });
      const scoped = bearer(await createToken(ctx.app, a.account, { user: user.login }));
      const p = await page(a, 'sort=sender&limit=2');
      const cursor = p.nextCursor as string;
      const refused = [
        `sort=-sender&cursor=${cursor}`,
        `sort=receiver&cursor=${cursor}`,
        `sort=sender&status=sent&cursor=${cursor}`,
        `sort=sender&q=abc&cursor=${cursor}`,
        `sort=sender&cursor=${cursor.slice(0, -2)}`,
        `sort=sender&cursor=${cursor}AA`,
        `sort=sender&cursor=${cursor.replace(/^./, (ch) => (ch === 'W' ? 'X' : 'W'))}`,
        `sort=sender&cursor=${'A'.repeat(2001)}`,
        `sort=sender&cursor=${encodeURIComponent('eyJ+Ijoi/w==')}`,
      ];
      for (const query of refused) {
        const res = await get(`${base(a)}/outgoing?${query}`, a.auth);
        expect([query, ...errorOf(res)]).toEqual([query, 400, 'INVALID_CURSOR']);
      }
      // The account's cursor used with an SMS user's token (another scope): refused as well.
      const res = await get(`${base(a)}/outgoing?sort=sender&limit=2&cursor=${cursor}`, scoped);
      expect(errorOf(res)).toEqual([400, 'INVALID_CURSOR']);
    });

    it('answers a forged cursor of the right query with a 200 or a clear 400, never a 5xx', async () => {
      const forge = (sort: { key: SortKey; direction: 'asc' | 'desc' }, value: unknown, id: unknown, way = 'a') =>
        Buffer.from(JSON.stringify([way, value, id, queryFingerprint(sort as never, {}, a.account.id, null)])).toString('base64url');
      const asc = (key: SortKey) => ({ key, direction: 'asc' as const });
      const forged: [string, string][] = [
        ['sender', forge(asc('sender'), 'a\u0000b', 1)],
        ['message', forge(asc('message'), '\u0000', 1)],
        ['sender', forge(asc('sender'), '\ud800', 1)],
        ['sender', forge(asc('sender'), 'x', -5)],
        ['sender', forge(asc('sender'), 'x', Number.MAX_SAFE_INTEGER)],
        ['sender', forge(asc('sender'), 12, 1)],
        ['%2Bdate', forge({ key: 'date', direction: 'asc' }, 'yesterday', 1)],
        ['%2Bdate', forge({ key: 'date', direction: 'asc' }, -1, 1, 'b')],
        ['%2Bdate', forge({ key: 'date', direction: 'asc' }, Number.MAX_SAFE_INTEGER, 1)],
        ['status', forge(asc('status'), 'zzz', 0)],
      ];
      for (const [sort, cursor] of forged) {
        const res = await get(`${base(a)}/outgoing?sort=${sort}&limit=2&cursor=${cursor}`, a.auth);
        expect([sort, cursor, res.statusCode < 500]).toEqual([sort, cursor, true]);
        if (res.statusCode >= 400) expect(res.json().error.code).toBe('INVALID_CURSOR');
      }
    });

    it('leads back from an empty page past a cursor (the rows beyond it deleted meanwhile), in every way and order', async () => {
      for (const [sort, way] of [
        ['date', 'next'],
        ['%2Bdate', 'next'],
        ['sender', 'next'],
        ['-sender', 'next'],
        ['date', 'prev'],
        ['sender', 'prev'],
        ['-sender', 'prev'],
      ] as const) {
        const own = await seedCustomerWithAccount(ctx.app);
        const rows = await insertRows(
          ctx,
          Array.from({ length: 6 }, (_, i) => ({
            account_id: own.account.id,
            sender: `S${i % 2}`,
            created_at: Date.UTC(2024, 4, 1, 8, 0, i),
          })),
        );
        const all = (await page(own, `sort=${sort}&limit=6`)).data.map((r) => r.id as number);
        expect(all).toHaveLength(6);
        // The middle page of three, then every row beyond it (forwards) or before it (backwards) deleted.
        const first = await page(own, `sort=${sort}&limit=2`);
        const middle = await page(own, `sort=${sort}&limit=2&cursor=${first.nextCursor}`);
        const gone = way === 'next' ? all.slice(4) : all.slice(0, 2);
        await ctx.app.inject({ method: 'POST', url: `${base(own)}/outgoing/delete`, headers: own.auth, payload: { ids: gone } });
        const beyond = await page(own, `sort=${sort}&limit=2&cursor=${way === 'next' ? middle.nextCursor : middle.prevCursor}`);
        expect([sort, way, beyond.data]).toEqual([sort, way, []]);
        const ahead = way === 'next' ? beyond.nextCursor : beyond.prevCursor;
        const backCursor = way === 'next' ? beyond.prevCursor : beyond.nextCursor;
        expect([sort, way, ahead, typeof backCursor]).toEqual([sort, way, null, 'string']);
        // Back: the middle page's rows, its edge row included.
        const back = await page(own, `sort=${sort}&limit=2&cursor=${backCursor}`);
        expect([sort, way, back.data.map((r) => r.id)]).toEqual([sort, way, all.slice(2, 4)]);
        expect(rows).toHaveLength(6);
      }
    });

    it('pages past messages of a few thousand characters when sorted by message (their cursor must be usable)', async () => {
      const long = await seedCustomerWithAccount(ctx.app);
      // 1,600 characters: a text of 11 concatenated SMS (at most 5,000 characters are accepted).
      const texts = ['a', 'b', 'c'].map((letter) => `${letter.repeat(1600)} fin`);
      const made = await insertRows(
        ctx,
        texts.map((message) => ({ account_id: long.account.id, message })),
      );
      const seen: number[] = [];
      let cursor: string | null = null;
      for (let n = 0; n < 5; n++) {
        const res = await get(`${base(long)}/outgoing?sort=message&limit=1${cursor ? `&cursor=${cursor}` : ''}`, long.auth);
        expect([n, res.statusCode, res.statusCode === 200 ? '' : res.body.slice(0, 200)]).toEqual([n, 200, '']);
        const p = res.json() as Page;
        seen.push(...p.data.map((r) => r.id as number));
        cursor = p.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(made.map((r) => r.id));
    });

    it('still pages when the row a cursor points at was deleted meanwhile', async () => {
      const p = await page(a, 'sort=%2Bdate&limit=2');
      const last = p.data[1].id as number;
      const del = await ctx.app.inject({ method: 'DELETE', url: `${base(a)}/outgoing/${last}`, headers: a.auth });
      expect(del.statusCode).toBe(204);
      const next = await page(a, `sort=%2Bdate&limit=2&cursor=${p.nextCursor}`);
      expect(next.data.map((r) => r.id)).toEqual([aRows[2].id, aRows[3].id]);
      const back = await page(a, `sort=%2Bdate&limit=2&cursor=${next.prevCursor}`);
      expect(back.data.map((r) => r.id)).toEqual([aRows[0].id]);
    });
  });

  // -----------------------------------------------------------------------------------------------
  describe('a broad date range sorted by a column of few values (read value by value)', () => {
    let s: SeededAccount;
    let rows: Row[];
    // Around New York's change back to standard time (2024-11-03 06:00 UTC).
    const START = Date.UTC(2024, 10, 2, 12);

    beforeAll(async () => {
      s = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'America/New_York' } });
      const statuses: OutgoingStatus[] = ['delivered', 'failed', 'sent', 'expired'];
      rows = await insertRows(
        ctx,
        Array.from({ length: 2_600 }, (_, i) => ({
          account_id: s.account.id,
          // Over two and a half days, not in id order (ids need not follow dates).
          created_at: START + ((i * 7919) % 2_600) * 80_000,
          sender: ['Zeta', 'Alpha', 'Mid'][i % 3],
          status: statuses[(i >> 2) % 4],
          user_login: ['', 'crm', 'api'][(i >> 1) % 3],
          channel: CHANNELS[i % 4],
          message: i % 13 === 0 ? `=HYPERLINK("x${i}")` : `Texte ${i}; "ok"\nligne 2`,
          receiver: `+336${String(10_000_000 + i)}`,
        })),
      );
    });

    it('pages every sort of few values completely, forwards and backwards', async () => {
      const from = START + 100 * 80_000;
      const to = START + 2_400 * 80_000;
      const inRange = rows.filter((r) => r.created >= from && r.created <= to + 999);
      // More than 2,000 rows in the range: a broad range (see BROAD_RANGE in outgoing.repository.ts).
      expect(inRange.length).toBeGreaterThan(2_200);
      const range = `from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}`;
      for (const key of ['sender', 'status', 'user', 'channel'] as const) {
        for (const direction of ['asc', 'desc'] as const) {
          const { ids, forwardPages, backwardPages } = await walk(s, `${range}&sort=${sortParam(key, direction)}`, 400);
          expect([key, direction, ids]).toEqual([key, direction, expectedOrder(inRange, key, direction)]);
          expect([key, direction, backwardPages]).toEqual([key, direction, forwardPages]);
        }
      }
      const counted = await page(s, `${range}&limit=1`);
      expect([counted.total, counted.totalIsExact]).toEqual([1_000, false]);
      const exact = await get(`${base(s)}/outgoing/count?${range}`, s.auth);
      expect(exact.json()).toEqual({ total: inRange.length });
    });

    it("pages an SMS user's token through a broad range sorted by status, only that user's rows", async () => {
      await createSmsUser(ctx.app, s.account, { login: 'crm' });
      const crm = bearer(await createToken(ctx.app, s.account, { user: 'crm' }));
      const scoped = { ...s, auth: crm };
      const from = START;
      const to = START + 2_599 * 80_000;
      const range = `from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}`;
      for (const sort of ['status', '-status', 'user', '-sender'] as const) {
        const key = sort.replace('-', '') as SortKey;
        const direction = sort.startsWith('-') ? 'desc' : 'asc';
        const { ids, forwardPages, backwardPages } = await walk(scoped, `${range}&sort=${sort}`, 250);
        expect([sort, ids]).toEqual([
          sort,
          expectedOrder(
            rows.filter((r) => r.user === 'crm'),
            key,
            direction,
          ),
        ]);
        expect([sort, backwardPages]).toEqual([sort, forwardPages]);
      }
    });

    it('pages a text search (a common word, a rare one) completely in several sorts, and exports it the same', async () => {
      const words: [string, (r: Row) => boolean][] = [
        ['texte', (r) => r.message.startsWith('Texte')],
        ['hyperlink', (r) => r.message.startsWith('=HYPERLINK')],
        ['ligne 2', (r) => r.message.includes('ligne 2')],
      ];
      for (const [word, keep] of words) {
        const matching = rows.filter(keep);
        for (const sort of ['message', '-receiver', 'sender', '%2Bdate', '-status'] as const) {
          const key = sort.replace(/^[-+]|^%2B/, '') as SortKey;
          const direction = sort.startsWith('-') ? 'desc' : 'asc';
          const label = `${word} ${sort}`;
          const { ids, forwardPages, backwardPages } = await walk(s, `q=${encodeURIComponent(word)}&sort=${sort}`, 500);
          expect([label, ids]).toEqual([label, expectedOrder(matching, key, direction)]);
          expect([label, backwardPages]).toEqual([label, forwardPages]);
        }
        const csv = parseCsv(
          (await get(`${base(s)}/outgoing.csv?all=true&format=detailed&sort=-receiver&q=${encodeURIComponent(word)}`, s.auth)).body,
        );
        expect([word, csv.slice(1).map((line) => Number(line[0]))]).toEqual([word, expectedOrder(matching, 'receiver', 'desc')]);
      }
    });

    it('exports every row with all=true in the seed format, newest first, as the JavaScript formatter writes them', async () => {
      const f = createSeedCsvFormatter('America/New_York');
      const newest = [...rows].sort((x, y) => y.created - x.created || y.id - x.id);
      const want = (list: Row[]) =>
        f.header +
        list
          .map((r) => f.row({ createdAt: r.created, sender: r.sender, receiver: r.receiver, message: r.message, status: r.status }))
          .join('');
      const all = await get(`${base(s)}/outgoing.csv?all=true`, s.auth);
      expect(all.statusCode).toBe(200);
      expect(all.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(all.body === want(newest)).toBe(true);
      // The default download: the 2000 most recent.
      const recent = await get(`${base(s)}/outgoing.csv`, s.auth);
      expect(recent.body === want(newest.slice(0, 2_000))).toBe(true);
      // One SMS user (still made by the database), oldest first.
      const crm = await get(`${base(s)}/outgoing.csv?all=true&user=crm&sort=%2Bdate`, s.auth);
      expect(crm.body === want([...newest].reverse().filter((r) => r.user === 'crm'))).toBe(true);
    });

    it('writes the seed dates in the account timezone across its clock change', async () => {
      const csv = parseCsv((await get(`${base(s)}/outgoing.csv?all=true&sort=%2Bdate`, s.auth)).body);
      expect(csv[0]).toEqual(['date', 'sender', 'receiver', 'message', 'status']);
      // 2024-11-03 05:30 UTC is 01:30 EDT; 06:30 UTC is 01:30 EST: both print 01:30 local.
      const byId = new Map(rows.map((r) => [r.id, r]));
      const oldest = [...rows].sort((x, y) => x.created - y.created || x.id - y.id);
      for (const [i, line] of csv.slice(1).entries()) {
        const r = byId.get(oldest[i].id)!;
        const local = new Date(r.created + (r.created < Date.UTC(2024, 10, 3, 6) ? -4 : -5) * 3_600_000);
        const want = local.toISOString().slice(0, 19).replace(/[-T:]/g, '');
        if (line[0] !== want) expect([r.id, r.created, line[0]]).toEqual([r.id, r.created, want]);
      }
    });
  });

  // -----------------------------------------------------------------------------------------------
  describe('filters', () => {
    let s: SeededAccount;
    const T = Date.UTC(2024, 4, 1, 8, 0, 0); // 10:00:00 in Paris

    beforeAll(async () => {
      s = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris' } });
    });

    async function ids(query: string): Promise<number[]> {
      return (await page(s, `${query}&sort=%2Bdate&limit=1000`)).data.map((r) => r.id as number);
    }

    it('matches %, _, \\ and the text index syntax in q literally', async () => {
      const t = T + 86_400_000;
      const made = await insertRows(
        ctx,
        [
          'Remise de 100% ce soir',
          'Remise de 100 euros',
          'code a_b',
          'code axb',
          'dossier C:\\temp',
          'dossier C:temp',
          'Il a dit "oui" OR NOT*',
          'oui ou non',
        ].map((message, i) => ({ account_id: s.account.id, created_at: t + i * 1000, message })),
      );
      const day = 'from=2024-05-02&to=2024-05-02';
      expect(await ids(`${day}&q=${encodeURIComponent('%')}`)).toEqual([made[0].id]);
      expect(await ids(`${day}&q=${encodeURIComponent('100%')}`)).toEqual([made[0].id]);
      expect(await ids(`${day}&q=${encodeURIComponent('0% c')}`)).toEqual([made[0].id]);
      expect(await ids(`${day}&q=${encodeURIComponent('a_b')}`)).toEqual([made[2].id]);
      expect(await ids(`${day}&q=_`)).toEqual([made[2].id]);
      expect(await ids(`${day}&q=${encodeURIComponent('C:\\temp')}`)).toEqual([made[4].id]);
      expect(await ids(`${day}&q=${encodeURIComponent('\\')}`)).toEqual([made[4].id]);
      expect(await ids(`${day}&q=${encodeURIComponent('%%')}`)).toEqual([]);
      for (const q of ['"oui" OR', '"oui"', 'NOT*', 'T*', ' OR NOT', 'dit "']) {
        expect([q, await ids(`${day}&q=${encodeURIComponent(q)}`)]).toEqual([q, [made[6].id]]);
      }
      expect(await ids(`${day}&q=${encodeURIComponent('oui OR non')}`)).toEqual([]);
    });

    it('searches text case-insensitively with accents mattering, the same on both dialects', async () => {
      const t = T + 2 * 86_400_000;
      const made = await insertRows(
        ctx,
        ['ÉTÉ INDIEN', 'été indien', 'ete indien', 'Straße', 'ΚΑΛΗΜΕΡΑ ΣΑΣ'].map((message, i) => ({
          account_id: s.account.id,
          created_at: t + i * 1000,
          message,
        })),
      );
      const day = 'from=2024-05-03&to=2024-05-03';
      expect(await ids(`${day}&q=${encodeURIComponent('été')}`)).toEqual([made[0].id, made[1].id]);
      expect(await ids(`${day}&q=${encodeURIComponent('ÉTÉ IND')}`)).toEqual([made[0].id, made[1].id]);
      expect(await ids(`${day}&q=ete`)).toEqual([made[2].id]);
      expect(await ids(`${day}&q=${encodeURIComponent('STRAßE')}`)).toEqual([made[3].id]);
      // Not checked: Greek's final sigma. SQLite folds with JavaScript's toLowerCase (ΣΑΣ → σας), PostgreSQL's
      // ILIKE letter by letter (ΣΑΣ → σασ), so `σας` finds `ΣΑΣ` on SQLite only and `σασ` on PostgreSQL only.
    });

    it('honours the milliseconds of from and to', async () => {
      const t = T + 3 * 86_400_000; // 2024-05-04T08:00:00Z
      const made = await insertRows(ctx, [
        { account_id: s.account.id, created_at: t + 200 },
        { account_id: s.account.id, created_at: t + 700 },
      ]);
      expect(await ids(`from=${encodeURIComponent('2024-05-04T08:00:00.500Z')}&to=2024-05-04`)).toEqual([made[1].id]);
      expect(await ids(`from=2024-05-04&to=${encodeURIComponent('2024-05-04T10:00:00.500+02:00')}`)).toEqual([made[0].id]);
      // To the second, a bound covers its whole second.
      expect(await ids(`from=2024-05-04&to=${encodeURIComponent('2024-05-04T08:00:00Z')}`)).toEqual([made[0].id, made[1].id]);
    });

    it('reads dates with offsets, in the account timezone without one, a date covering its whole day', async () => {
      // 2024-05-05 23:30 in Paris = 21:30 UTC; 2024-05-06 00:30 in Paris = 22:30 UTC.
      const made = await insertRows(ctx, [
        { account_id: s.account.id, created_at: Date.UTC(2024, 4, 5, 21, 30) },
        { account_id: s.account.id, created_at: Date.UTC(2024, 4, 5, 22, 30) },
      ]);
      expect(await ids('from=2024-05-05&to=2024-05-05')).toEqual([made[0].id]);
      expect(await ids('from=2024-05-06&to=2024-05-06')).toEqual([made[1].id]);
      expect(await ids(`from=${encodeURIComponent('2024-05-05T17:30:00-04:00')}&to=2024-05-06`)).toEqual([made[0].id, made[1].id]);
      expect(await ids(`from=${encodeURIComponent('2024-05-06T04:00:00+05:30')}&to=2024-05-06`)).toEqual([made[1].id]);
      expect(await ids(`from=${encodeURIComponent('2024-05-05T21:30:01Z')}&to=2024-05-06`)).toEqual([made[1].id]);
      expect(await ids('from=2024-05-05T23:30&to=2024-05-05T23:30')).toEqual([made[0].id]);
    });

    it('refuses impossible dates, reversed ranges, unknown statuses and bad limits with a clear 400', async () => {
      const cases = [
        'from=2024-02-30',
        'from=2023-02-29',
        'from=2024-05-01T10:61',
        'from=2024-05-02&to=2024-05-01',
        `from=${encodeURIComponent('2024-05-01T10:00:01Z')}&to=${encodeURIComponent('2024-05-01T10:00:00Z')}`,
        'from=1969-12-31',
        'from=2024-5-1',
        'status=sent,lost',
        'channel=api,fax',
        'limit=0',
        'limit=1001',
        'limit=-1',
        'limit=2.5',
        'receiver=%2B336%25',
        'receiver=%2B33_612345678',
        'receiver=*',
        'sort=date,sender',
      ];
      for (const query of cases) {
        const res = await get(`${base(s)}/outgoing?${query}`, s.auth);
        expect([query, res.statusCode]).toEqual([query, 400]);
        expect(['INVALID_FILTER', 'VALIDATION_FAILED', 'INVALID_SORT']).toContain(res.json().error.code);
      }
      for (const query of ['status=sent,sent,failed', 'status=,sent,', 'limit=1', 'limit=1000', 'status=']) {
        expect([query, (await get(`${base(s)}/outgoing?${query}`, s.auth)).statusCode]).toEqual([query, 200]);
      }
    });

    it('finds a redacted message by the receiver prefix its mask keeps (+336XXXXXX78)', async () => {
      const t = T + 10 * 86_400_000;
      const [kept, erased] = await insertRows(ctx, [
        { account_id: s.account.id, created_at: t, receiver: '+33611111111', status: 'delivered' },
        { account_id: s.account.id, created_at: t + 1000, receiver: '+33612345678', status: 'delivered' },
      ]);
      const res = await ctx.app.inject({
        method: 'POST',
        url: `${base(s)}/outgoing/redact`,
        headers: s.auth,
        payload: { ids: [erased.id] },
      });
      expect(res.json()).toEqual({ redacted: 1, pending: [] });
      const day = 'from=2024-05-11&to=2024-05-11';
      const all = await page(s, `${day}&sort=%2Bdate`);
      expect(all.data.map((r) => [r.id, r.receiver, r.message])).toEqual([
        [kept.id, '+33611111111', kept.message],
        [erased.id, '+336XXXXXX78', null],
      ]);
      expect(await ids(`${day}&receiver=${encodeURIComponent('+336*')}`)).toEqual([kept.id, erased.id]);
    });
  });

  // -----------------------------------------------------------------------------------------------
  describe('deleting', () => {
    it("never deletes another account's messages, nor tells whether they exist", async () => {
      const mine = await seedCustomerWithAccount(ctx.app);
      const theirs = await seedCustomerWithAccount(ctx.app);
      const [own] = await insertRows(ctx, [{ account_id: mine.account.id }]);
      const [foreign] = await insertRows(ctx, [{ account_id: theirs.account.id, status: 'pending' }]);
      const del = (payload: object) =>
        ctx.app.inject({ method: 'POST', url: `${base(mine)}/outgoing/delete`, headers: mine.auth, payload });
      const missing = 9_007_199_254_740_000;
      expect((await del({ ids: [foreign.id] })).json()).toEqual({ deleted: 0, refundedCredits: 0 });
      expect((await del({ ids: [missing] })).json()).toEqual({ deleted: 0, refundedCredits: 0 });
      const one = await ctx.app.inject({ method: 'DELETE', url: `${base(mine)}/outgoing/${foreign.id}`, headers: mine.auth });
      const none = await ctx.app.inject({ method: 'DELETE', url: `${base(mine)}/outgoing/${missing}`, headers: mine.auth });
      expect(errorOf(one)).toEqual([404, 'MESSAGE_NOT_FOUND']);
      expect(errorOf(none)).toEqual([404, 'MESSAGE_NOT_FOUND']);
      expect(one.json().error.message.replace(String(foreign.id), 'N')).toBe(none.json().error.message.replace(String(missing), 'N'));
      expect(errorOf(await get(`${base(mine)}/outgoing/${foreign.id}`, mine.auth))).toEqual([404, 'MESSAGE_NOT_FOUND']);
      // A filter naming the other account's id reaches nothing either.
      expect((await del({ filter: { ids: [String(foreign.id)] } })).json()).toEqual({ deleted: 0 });
      expect((await get(`${base(theirs)}/outgoing/${foreign.id}`, theirs.auth)).statusCode).toBe(200);
      expect((await get(`${base(mine)}/outgoing/${own.id}`, mine.auth)).statusCode).toBe(200);
      // The other account's credits and audit are untouched.
      expect((await get(`${base(theirs)}`, theirs.auth)).json().credits).toBe(1000);
      expect((await get(`${base(theirs)}/deletions`, theirs.auth)).json().data).toEqual([]);
    });

    it('answers ids that are huge, negative, fractional or not numbers with a 4xx, never a 5xx', async () => {
      const s = await seedCustomerWithAccount(ctx.app);
      for (const id of ['9007199254740992', '99999999999999999999999', '-1', '0', '1.5', 'abc', '1e3', '%20', '0x10']) {
        for (const method of ['GET', 'DELETE'] as const) {
          const res = await ctx.app.inject({ method, url: `${base(s)}/outgoing/${id}`, headers: s.auth });
          expect([method, id, res.statusCode >= 400 && res.statusCode < 500]).toEqual([method, id, true]);
        }
      }
      const bodies: object[] = [
        { ids: [-1] },
        { ids: [0] },
        { ids: [1.5] },
        { ids: ['abc'] },
        { ids: [9_007_199_254_740_992] },
        { ids: [] },
        { ids: Array.from({ length: 10_001 }, (_, i) => i + 1) },
        { filter: { ids: ['x'] } },
        { filter: { ids: [] } },
        { filter: { from: '2024-02-30' } },
        { filter: { sort: 'date' } },
        { filter: { __scopeUser: 'x' } },
      ];
      for (const payload of bodies) {
        const res = await ctx.app.inject({ method: 'POST', url: `${base(s)}/outgoing/delete`, headers: s.auth, payload });
        expect([JSON.stringify(payload).slice(0, 40), res.statusCode]).toEqual([JSON.stringify(payload).slice(0, 40), 400]);
      }
      const max = await ctx.app.inject({
        method: 'POST',
        url: `${base(s)}/outgoing/delete`,
        headers: s.auth,
        payload: { ids: Array.from({ length: 10_000 }, (_, i) => 1_000_000_000 + i) },
      });
      expect(max.json()).toEqual({ deleted: 0, refundedCredits: 0 });
    });

    it('cancels a pending message it deletes, gives its credits back, and audits ids without the text', async () => {
      const s = await seedCustomerWithAccount(ctx.app);
      await createSender(ctx.app, s.account, { sender: 'Shop' });
      const secret = 'Votre code secret est 913245';
      const sent = await ctx.app.inject({
        method: 'POST',
        url: `${base(s)}/jobs`,
        headers: s.auth,
        payload: { message: secret, receivers: ['+33612345678', '+33612345679'], sender: 'Shop', differedPeriod: 120, noStopClause: true },
      });
      expect(sent.statusCode).toBe(200);
      const ids = sent.json().ids as number[];
      const before = (await get(base(s), s.auth)).json().credits as number;
      expect(before).toBe(1000 - sent.json().totalCreditsRemoved);
      const res = await ctx.app.inject({ method: 'POST', url: `${base(s)}/outgoing/delete`, headers: s.auth, payload: { ids } });
      expect(res.json()).toEqual({ deleted: 2, refundedCredits: sent.json().totalCreditsRemoved });
      expect((await get(base(s), s.auth)).json().credits).toBe(1000);
      for (const id of ids) expect((await get(`${base(s)}/outgoing/${id}`, s.auth)).statusCode).toBe(404);
      const audit = (await get(`${base(s)}/deletions`, s.auth)).json().data;
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ kind: 'ids', count: 2, filter: null });
      expect([...audit[0].ids].sort((x: number, y: number) => x - y)).toEqual([...ids].sort((x, y) => x - y));
      expect(JSON.stringify(audit)).not.toContain('913245');
      expect(JSON.stringify(audit)).not.toContain('+3361234567');
    });

    it('runs a large deletion by filter as a job with progress, audited once, leaving the rest', async () => {
      const s = await seedCustomerWithAccount(ctx.app);
      const t = Date.UTC(2024, 0, 2);
      await insertRows(
        ctx,
        Array.from({ length: 5_050 }, (_, i) => ({ account_id: s.account.id, created_at: t + i, status: 'failed' as const })),
      );
      const [survivor] = await insertRows(ctx, [{ account_id: s.account.id, created_at: t, status: 'delivered' }]);
      const res = await ctx.app.inject({
        method: 'POST',
        url: `${base(s)}/outgoing/delete`,
        headers: s.auth,
        payload: { filter: { status: 'failed' } },
      });
      expect(res.statusCode).toBe(202);
      const job = res.json().job as { id: number; status: string };
      expect(job.status).toBe('running');
      await ctx.app.services.history.waitForDeleteJob(job.id);
      const done = (await get(`${base(s)}/outgoing/delete-jobs/${job.id}`, s.auth)).json();
      expect(done).toMatchObject({ id: job.id, status: 'done', deleted: 5_050, total: 5_050, error: null });
      expect((await page(s, 'limit=10')).data.map((r) => r.id)).toEqual([survivor.id]);
      const audit = (await get(`${base(s)}/deletions`, s.auth)).json().data;
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ kind: 'filter', count: 5_050, ids: null, deleteJobId: job.id, filter: { status: 'failed' } });
      // Another account cannot follow the job.
      const other = await seedCustomerWithAccount(ctx.app);
      expect(errorOf(await get(`${base(other)}/outgoing/delete-jobs/${job.id}`, other.auth))[0]).toBe(404);
    });

    it('deletes by a text search as a job: exactly the matching messages, no longer found afterwards', async () => {
      const s = await seedCustomerWithAccount(ctx.app);
      const t = Date.UTC(2024, 0, 4);
      await insertRows(
        ctx,
        Array.from({ length: 5_060 }, (_, i) => ({
          account_id: s.account.id,
          created_at: t + i,
          message: i % 2 ? `Votre CODE Promo ${i}` : `Le code-promo ${i} 100%`,
        })),
      );
      const kept = await insertRows(
        ctx,
        ['Votre code pro', 'PROMO', 'Code: 1234'].map((message, i) => ({ account_id: s.account.id, created_at: t + i, message })),
      );
      const job = await ctx.app.inject({
        method: 'POST',
        url: `${base(s)}/outgoing/delete`,
        headers: s.auth,
        payload: { filter: { q: 'promo' } },
      });
      expect(job.statusCode).toBe(202);
      await ctx.app.services.history.waitForDeleteJob(job.json().job.id);
      expect((await get(`${base(s)}/outgoing/delete-jobs/${job.json().job.id}`, s.auth)).json()).toMatchObject({
        status: 'done',
        deleted: 5_061,
      });
      expect((await page(s, 'sort=%2Bdate&limit=100')).data.map((r) => r.id)).toEqual([kept[0].id, kept[2].id]);
      expect((await page(s, 'q=promo')).total).toBe(0);
      expect((await get(`${base(s)}/outgoing/count?q=code`, s.auth)).json()).toEqual({ total: 2 });
    });

    it('does not delete (nor cancel) a message sent after a deletion by filter was asked for', async () => {
      const s = await seedCustomerWithAccount(ctx.app);
      await createSender(ctx.app, s.account, { sender: 'Shop' });
      const crm = await createSmsUser(ctx.app, s.account, { login: 'crm' });
      const crmAuth = bearer(await createToken(ctx.app, s.account, { user: crm.login }));
      const t = Date.UTC(2024, 0, 3);
      await insertRows(
        ctx,
        Array.from({ length: 5_100 }, (_, i) => ({ account_id: s.account.id, created_at: t + i, user_login: 'crm', user_id: crm.id })),
      );
      const res = await ctx.app.inject({
        method: 'POST',
        url: `${base(s)}/outgoing/delete`,
        headers: s.auth,
        payload: { filter: { user: 'crm' } },
      });
      expect(res.statusCode).toBe(202);
      const jobId = res.json().job.id as number;
      // Messages of that user accepted once the deletion was asked for: one written at once (as another
      // process would), one sent through the API, while the old history is being deleted.
      const [written] = await insertRows(ctx, [{ account_id: s.account.id, created_at: Date.now(), user_login: 'crm', user_id: crm.id }]);
      const sent = await ctx.app.inject({
        method: 'POST',
        url: `${base(s)}/jobs`,
        headers: crmAuth,
        payload: { message: 'Nouveau message', receivers: ['+33612345678'], sender: 'Shop', differedPeriod: 120 },
      });
      expect(sent.statusCode).toBe(200);
      const [fresh] = sent.json().ids as number[];
      await ctx.app.services.history.waitForDeleteJob(jobId);
      const job = (await get(`${base(s)}/outgoing/delete-jobs/${jobId}`, s.auth)).json();
      expect(job.status).toBe('done');
      const survivors = await page(s, 'user=crm&limit=10');
      expect(survivors.data.map((r) => [r.id, r.status])).toEqual([
        [fresh, 'pending'],
        [written.id, 'delivered'],
      ]);
      expect(job.deleted).toBe(5_100);
    });
  });

  // -----------------------------------------------------------------------------------------------
  describe('CSV', () => {
    let s: SeededAccount;
    let rows: Row[];
    const T = Date.UTC(2024, 6, 14, 10, 0, 5); // 15:30:05 in Kolkata

    beforeAll(async () => {
      s = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Asia/Kolkata' } });
      const cells: [string, string, string, string][] = [
        // sender, receiver, message, tag
        ['OVH', '+33612345678', '=1+1', '=tag'],
        ['=cmd|x', '+33612345679', '+1+1', '@tag'],
        ['Shop;Co', '+33612345670', '-2+3', '-'],
        ['@Shop', '+4915112345678', '@SUM(A1)', 'promo'],
        ['Shop', '+33612345671', '\tTAB', '+33612345678'],
        ['Shop', '+33612345672', '\r=1', ''],
        ['Shop', '+33612345673', 'Il a dit "oui"; puis\nle 2e "non";\r\nfin', ''],
        ['+33700000000', '+33612345674', '+33 6 12 34 56 78', ''],
        ['-1', '+33612345675', '-12', ''],
        ['Shop', '+33612345676', 'Crème brûlée 🍮', ''],
      ];
      rows = await insertRows(
        ctx,
        cells.map(([sender, receiver, message, tag], i) => ({
          account_id: s.account.id,
          created_at: T + i * 1000,
          sender,
          receiver,
          message,
          tag,
          user_login: i % 2 ? '=user' : '',
          status: 'delivered' as const,
        })),
      );
    });

    const neutral = (v: string) => (/^[=+\-@\t\r]/.test(v) && !/^[+-]?\d[\dxX ]*$/.test(v) ? `'${v}` : v);

    it('writes the seed format exactly, formulas neutralised and phone numbers left as they are (default and all=true)', async () => {
      const header = 'date;sender;receiver;message;status';
      const want: string[][] = [
        header.split(';'),
        ...[...rows].reverse().map((r) => {
          const local = new Date(r.created + 5.5 * 3_600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
          return [local, neutral(r.sender), neutral(r.receiver), neutral(r.message), r.status];
        }),
      ];
      for (const query of ['', '?all=true']) {
        const res = await get(`${base(s)}/outgoing.csv${query}`, s.auth);
        expect(res.statusCode).toBe(200);
        expect(res.body.startsWith(`${header}\n"20240714153`)).toBe(true);
        expect(res.body.endsWith('"delivered"\n')).toBe(true);
        expect([query, parseCsv(res.body)]).toEqual([query, want]);
      }
      // Spot checks of the raw text.
      const body = (await get(`${base(s)}/outgoing.csv?all=true`, s.auth)).body;
      expect(body).toContain(`"20240714153005";"OVH";"+33612345678";"'=1+1";"delivered"\n`);
      expect(body).toContain(`;"Shop;Co";"+33612345670";"'-2+3";`);
      expect(body).toContain(`;"Shop";"+33612345673";"Il a dit ""oui""; puis\nle 2e ""non"";\r\nfin";`);
      expect(body).toContain(`;"+33700000000";"+33612345674";"+33 6 12 34 56 78";`);
      expect(body).toContain(`;"-1";"+33612345675";"-12";`);
      expect(body).toContain(`;"Shop";"+33612345671";"'\tTAB";`);
      expect(body).toContain(`;"Shop";"+33612345672";"'\r=1";`);
    });

    it('gives every field in the detailed format, in the account timezone, formulas neutralised', async () => {
      const res = await get(`${base(s)}/outgoing.csv?format=detailed&all=true&sort=%2Bdate`, s.auth);
      expect(res.statusCode).toBe(200);
      const csv = parseCsv(res.body);
      expect(csv[0]).toEqual(
        'id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt;user;channel;status'.split(';'),
      );
      expect(csv).toHaveLength(rows.length + 1);
      const sqlTime = (ms: number) => new Date(ms + 5.5 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
      for (const [i, r] of rows.entries()) {
        const line = csv[i + 1];
        expect(line).toHaveLength(14);
        const [id, date, sender, receiver, , , , tag, message, sentAt, deliveredAt, user, channel, status] = line;
        expect([id, date, sender, receiver, tag, message, sentAt, deliveredAt, user, channel, status]).toEqual([
          String(r.id),
          sqlTime(r.created),
          neutral(r.sender),
          neutral(r.receiver),
          neutral(r.tag),
          neutral(r.message),
          sqlTime(r.created + 1000),
          sqlTime(r.created + 5000),
          neutral(r.user),
          r.channel,
          r.status,
        ]);
      }
    });

    it('exports the same rows as the list in another sort and with a text search', async () => {
      const listed = (await page(s, 'sort=-sender&q=1&limit=1000')).data.map((r) => String(r.id));
      const csv = parseCsv((await get(`${base(s)}/outgoing.csv?format=detailed&sort=-sender&q=1`, s.auth)).body);
      expect(csv.slice(1).map((line) => line[0])).toEqual(listed);
      expect(listed.length).toBeGreaterThan(3);
    });
  });
});
