import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialect } from '../../../../test/database.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import { createSeedCsvFormatter } from '../../../shared/csv.js';
import type { OutgoingStatus } from '../../../shared/status.js';
import type { HistoryFilter, HistorySort } from './history-query.js';
import { createOutgoingRepository, inlineParameters, type OutgoingRepository } from './outgoing.repository.js';

const ACCOUNT = 51;
const OTHER = 52;
const HOUR = 3_600_000;
/** Around Europe/Paris' change to summer time (2025-03-30 01:00 UTC) and back (2025-10-26 01:00 UTC). */
const SPRING = Date.UTC(2025, 2, 30, 1);
const AUTUMN = Date.UTC(2025, 9, 26, 1);

type Row = {
  id: number;
  created: number;
  sender: string;
  receiver: string;
  message: string;
  redacted: boolean;
  status: OutgoingStatus;
  user: string;
};

/**
 * The seed CSV of large exports is made by the database (seed-csv-sql.ts: on SQLite by the CSV threads,
 * on PostgreSQL by two connections), a second copy of csv.ts's formatter: every byte is compared with
 * csv.ts's lines of the same rows sorted in memory — random texts (formulas, plain and masked numbers,
 * quotes, newlines, emoji), dates around both clock changes of the account's zone, slices of 37 rows,
 * every filter made so and some left to the serving thread.
 */
describeEachDialect('seed CSV of large exports', (ctx) => {
  let repo: OutgoingRepository;
  const rows: Row[] = [];
  const TZ = 'Europe/Paris';

  beforeAll(async () => {
    repo = createOutgoingRepository(ctx.database, { csvSliceRows: 37 });
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.constantFrom(
        '=SUM(A1)',
        '+33612345678',
        '+336xxxxXXXX',
        '-1 2',
        '+1a',
        '- 1',
        '-',
        '@cmd',
        '\tx',
        '\rx',
        '"quoted" "twice"',
        'line\nbreak',
        'Crème brûlée 🍮',
        '',
      ),
    );
    const statuses: OutgoingStatus[] = ['delivered', 'failed', 'sent', 'pending'];
    const sample = fc.sample(
      fc.record({
        around: fc.constantFrom(SPRING, AUTUMN),
        // Within 3 hours of the change, to the millisecond; several rows share some instants.
        offset: fc.oneof(fc.integer({ min: -3 * HOUR, max: 3 * HOUR }), fc.constantFrom(0, -1, 1_000, HOUR - 1)),
        sender: fc.oneof(text, fc.constantFrom('Relais', 'Shop')),
        receiver: fc.constantFrom('+33612345678', '+4915112345678', '=1+1', '0033 6'),
        message: text,
        redacted: fc.boolean(),
        status: fc.constantFrom(...statuses),
        user: fc.constantFrom('', 'alice', 'bob', "o'hara\\$1"),
      }),
      { numRuns: 700, seed: 20261206 },
    );
    const ids = await insertOutgoing(
      ctx.database,
      sample.map((s) =>
        buildOutgoing({
          account_id: ACCOUNT,
          created_at: s.around + s.offset,
          sender: s.sender,
          receiver: s.receiver,
          message: s.message,
          redacted_at: s.redacted ? s.around : null,
          status: s.status,
          user_login: s.user,
        }),
      ),
    );
    sample.forEach((s, i) => {
      rows.push({ id: ids[i], created: s.around + s.offset, ...s });
    });
    // Another account's rows at the same instants: never in this account's export.
    await insertOutgoing(
      ctx.database,
      [SPRING, AUTUMN].map((t) => buildOutgoing({ account_id: OTHER, created_at: t, message: 'other account' })),
    );
  });

  afterAll(async () => {
    await repo.close();
  });

  /** csv.ts's lines of the matching rows, sorted in memory. */
  function expected(filter: HistoryFilter, sort: HistorySort, limit: number | null, userLogin: string | null): string {
    const f = createSeedCsvFormatter(TZ);
    const matching = rows
      .filter(
        (r) =>
          (userLogin === null || r.user === userLogin) &&
          (filter.user === undefined || r.user === (filter.user ?? '')) &&
          (!filter.statuses || filter.statuses.includes(r.status)) &&
          (filter.from === undefined || r.created >= filter.from) &&
          (filter.to === undefined || r.created <= filter.to) &&
          (filter.sender === undefined || r.sender === filter.sender),
      )
      .sort((a, b) => a.created - b.created || a.id - b.id);
    if (sort.direction === 'desc') matching.reverse();
    const shown = matching.slice(0, limit ?? undefined);
    return shown
      .map((r) =>
        f.row({ createdAt: r.created, sender: r.sender, receiver: r.receiver, message: r.redacted ? null : r.message, status: r.status }),
      )
      .join('');
  }

  /** What an export answers: the threads' bytes, or csv.ts's lines of `streamLean`'s rows. */
  async function exported(
    args: Parameters<OutgoingRepository['streamLean']>[0],
  ): Promise<{ text: string; threaded: boolean; rows: number }> {
    const threaded = repo.seedCsv(args, TZ);
    if (threaded) {
      const parts: Buffer[] = [];
      let rows = 0;
      for await (const part of threaded) {
        parts.push(Buffer.from(part.lines));
        rows += part.rows;
      }
      return { text: Buffer.concat(parts).toString('utf8'), threaded: true, rows };
    }
    const f = createSeedCsvFormatter(TZ);
    let text = '';
    let rows = 0;
    for await (const batch of repo.streamLean(args)) {
      for (const o of batch) text += f.row(o);
      rows += batch.length;
    }
    return { text, threaded: false, rows };
  }

  const cases: { name: string; filter: HistoryFilter; userLogin?: string; threads: boolean }[] = [
    { name: 'everything', filter: {}, threads: true },
    { name: 'a date range', filter: { from: SPRING - HOUR, to: AUTUMN + HOUR / 2 }, threads: true },
    { name: 'one SMS user', filter: { user: 'alice' }, threads: true },
    // Quoted into the statement on PostgreSQL (COPY takes no parameters).
    { name: 'an SMS user whose login holds a quote, a backslash and $1', filter: { user: "o'hara\\$1" }, threads: true },
    { name: 'no SMS user, in a range', filter: { user: null, from: SPRING }, threads: true },
    { name: 'one status', filter: { statuses: ['failed'] }, threads: true },
    { name: "a user-scoped token's messages", filter: {}, userLogin: 'bob', threads: true },
    { name: 'two statuses (left to the serving thread)', filter: { statuses: ['failed', 'sent'] }, threads: false },
    { name: 'a user and a status (left to the serving thread)', filter: { user: 'alice', statuses: ['sent'] }, threads: false },
    { name: 'a sender (left to the serving thread)', filter: { sender: 'Relais' }, threads: false },
  ];
  for (const c of cases) {
    for (const direction of ['desc', 'asc'] as const) {
      for (const limit of [null, 100, 37]) {
        it(`${c.name}, ${direction === 'desc' ? 'newest' : 'oldest'} first, ${limit ?? 'all'} rows`, async () => {
          const sort: HistorySort = { key: 'date', direction };
          const userLogin = c.userLogin ?? null;
          const { text, threaded, rows } = await exported({ scope: { accountId: ACCOUNT, userLogin }, filter: c.filter, sort, limit });
          expect(threaded).toBe(c.threads && limit === null);
          const want = expected(c.filter, sort, limit, userLogin);
          expect(want.length).toBeGreaterThan(0);
          expect(text).toBe(want);
          // Every line starts with the date's quote right after a newline (texts hold newlines too): count the rows.
          expect(rows).toBe(want.split(/(?:^|\n)"\d{14}";"/).length - 1);
        });
      }
    }
  }

  it('leaves other sorts, text searches and exports of at most N rows to the serving thread', () => {
    const scope = { accountId: ACCOUNT, userLogin: null };
    expect(repo.seedCsv({ scope, filter: {}, sort: { key: 'receiver', direction: 'asc' }, limit: null }, TZ)).toBeNull();
    expect(repo.seedCsv({ scope, filter: { q: 'brûlée' }, sort: { key: 'date', direction: 'desc' }, limit: null }, TZ)).toBeNull();
    expect(repo.seedCsv({ scope, filter: {}, sort: { key: 'date', direction: 'desc' }, limit: 100_000 }, TZ)).toBeNull();
  });

  it('answers several exports at once, each whole and in order', async () => {
    const scope = { accountId: ACCOUNT, userLogin: null };
    const runs = await Promise.all(
      (['desc', 'asc', 'desc', 'asc'] as const).map((direction) =>
        exported({ scope, filter: {}, sort: { key: 'date', direction }, limit: null }),
      ),
    );
    for (const [i, direction] of (['desc', 'asc', 'desc', 'asc'] as const).entries()) {
      expect(runs[i].text).toBe(expected({}, { key: 'date', direction }, null, null));
    }
  });

  it('holds the messages that matched when it started, not one accepted meanwhile', async () => {
    const scope = { accountId: ACCOUNT, userLogin: null };
    const sort: HistorySort = { key: 'date', direction: 'desc' };
    const parts = repo.seedCsv({ scope, filter: {}, sort, limit: null }, TZ);
    expect(parts).not.toBeNull();
    const first = await (parts as AsyncGenerator<{ lines: Uint8Array }>).next();
    // Newer than every row, and older than every row: both outside the export's extent, fixed at its start.
    const newest = Math.max(...rows.map((r) => r.created));
    const oldest = Math.min(...rows.map((r) => r.created));
    const added = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: ACCOUNT, created_at: newest + 1_000, message: 'accepted during the export' }),
      buildOutgoing({ account_id: ACCOUNT, created_at: oldest - 1_000, message: 'imported during the export' }),
    ]);
    try {
      const chunks = [Buffer.from((first.value as { lines: Uint8Array }).lines)];
      for await (const part of parts as AsyncGenerator<{ lines: Uint8Array }>) chunks.push(Buffer.from(part.lines));
      expect(Buffer.concat(chunks).toString('utf8')).toBe(expected({}, sort, null, null));
    } finally {
      await ctx.database.db.deleteFrom('outgoing').where('id', 'in', added).execute();
    }
  });

  it('exports nothing for an account with no messages', async () => {
    const { text } = await exported({
      scope: { accountId: 999, userLogin: null },
      filter: {},
      sort: { key: 'date', direction: 'desc' },
      limit: null,
    });
    expect(text).toBe('');
  });
});

describe('inlineParameters (COPY statements)', () => {
  it('quotes strings, writes numbers, and refuses anything else', () => {
    expect(inlineParameters('select $1, $2, $10', ["it's", 42, 1, 2, 3, 4, 5, 6, 7, 'x\\y'])).toBe("select 'it''s', 42,  E'x\\\\y'");
    expect(() => inlineParameters('select $1', [null])).toThrow(/cannot inline/);
    expect(() => inlineParameters('select $1', [Number.NaN])).toThrow(/cannot inline/);
  });
});
