import { beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../../../test/database.js';
import { pageBefore, readPages } from '../../../../test/history-pages.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import type { HistoryFilter, HistorySort, SortKey } from './history-query.js';
import { createOutgoingRepository, type OutgoingRepository } from './outgoing.repository.js';

const ACCOUNT = 41;
const OTHER = 42;
const DAY = 86_400_000;
const START = Date.UTC(2025, 0, 1);

/**
 * Pages sorted by a column with few values and filtered by a broad date range are read value by value
 * within the ids of the range's days (outgoing_days); in the other orders but date, those ids bound the scan. Checked against the same query done in memory, on
 * rows whose ids do not follow their dates, with values that have no row in the range.
 */
describeEachDialect('history pages by sender, status, user or channel in a date range', (ctx) => {
  let repo: OutgoingRepository;
  const rows: {
    id: number;
    sender: string;
    status: string;
    user: string;
    channel: string;
    receiver: string;
    message: string;
    created: number;
  }[] = [];
  const scope = { accountId: ACCOUNT, userLogin: null };

  beforeAll(async () => {
    // The range is "broad" from 5 matching rows on (2,000 in production).
    repo = createOutgoingRepository(ctx.database, { broadRange: 5 });
    const senders = ['Mid', 'Zed', 'alpha', 'Beta'];
    const statuses = ['delivered', 'failed', 'sent', 'pending', 'expired'];
    const users = ['', 'apiuser', 'mailer'];
    const channels = ['api', 'http2sms', 'mail2sms', 'manager'];
    const built = [];
    // Dates in a scrambled order over 60 days: ids do not follow dates.
    for (let i = 0; i < 240; i++) {
      const created = START + ((i * 37) % 60) * DAY + (i % 7) * 3_600_000;
      built.push({
        sender: senders[i % 4],
        status: statuses[i % 5],
        user: users[i % 3],
        channel: channels[(i >> 1) % 4],
        receiver: `+336100${String((i * 7919) % 1000).padStart(5, '0')}`,
        message: `Message ${(i * 13) % 97}`,
        created,
      });
    }
    // Values whose rows all lie before the range (they sort first one way or the other).
    for (let i = 0; i < 30; i++) {
      const old = { receiver: `+3299900${String(i).padStart(4, '0')}`, created: START - (i + 1) * DAY };
      built.push({ sender: 'AAA-old', status: 'canceled', user: 'aaa', channel: 'api', message: 'AAA old', ...old });
      built.push({ sender: 'zzz-old', status: 'accepted', user: 'zzz', channel: 'smpp', message: 'zzz old', ...old });
    }
    const ids = await insertOutgoing(
      ctx.database,
      built.map((b) =>
        buildOutgoing({
          account_id: ACCOUNT,
          sender: b.sender,
          status: b.status as never,
          user_login: b.user,
          channel: b.channel,
          receiver: b.receiver,
          message: b.message,
          created_at: b.created,
        }),
      ),
    );
    built.forEach((b, i) => {
      rows.push({ id: ids[i], ...b });
    });
    // Another account's rows, with the same values, in the range.
    await insertOutgoing(
      ctx.database,
      ['Mid', 'AAA-old', 'zzz-old'].map((sender) => buildOutgoing({ account_id: OTHER, sender, created_at: START + 10 * DAY })),
    );
  });

  const field = { sender: 'sender', status: 'status', user: 'user', channel: 'channel', receiver: 'receiver', message: 'message' } as const;
  /** The expected ids, in order, computed in memory. */
  function expected(key: keyof typeof field, direction: 'asc' | 'desc', filter: HistoryFilter): number[] {
    const inRange = rows.filter(
      (r) =>
        (filter.from === undefined || r.created >= filter.from) &&
        (filter.to === undefined || r.created <= filter.to) &&
        (filter.statuses === undefined || filter.statuses.includes(r.status as never)),
    );
    const sign = direction === 'asc' ? 1 : -1;
    const value = (r: (typeof rows)[number]) => r[field[key]];
    return inRange
      .sort((a, b) => {
        const va = value(a);
        const vb = value(b);
        return (va < vb ? -1 : va > vb ? 1 : a.id - b.id) * sign;
      })
      .map((r) => r.id);
  }

  const filters: [string, HistoryFilter][] = [
    ['from and to', { from: START + 5 * DAY, to: START + 40 * DAY - 1 }],
    ['from only', { from: START + 20 * DAY }],
    ['to only (the old values in it)', { to: START + 3 * DAY }],
    ['with a status filter', { from: START, to: START + 59 * DAY, statuses: ['failed', 'sent'] }],
  ];

  it.each(filters)('gives every row once, in order, page after page forwards and backwards (%s)', async (_, filter) => {
    // Receiver and message: not value by value, but the range's ids are tested in their index too.
    for (const key of ['sender', 'status', 'user', 'channel', 'receiver', 'message'] as SortKey[]) {
      for (const direction of ['asc', 'desc'] as const) {
        const sort: HistorySort = { key, direction };
        const want = expected(key as keyof typeof field, direction, filter);
        expect(want.length, `${key} ${direction}`).toBeGreaterThan(5);
        const pages = await readPages(repo, { scope, filter, sort }, 7);
        expect(pages.flat(), `${key} ${direction}`).toEqual(want);
        // Back from the last page's first row: the page before it.
        if (pages.length > 1) {
          const back = await pageBefore(repo, { scope, filter, sort }, pages[pages.length - 1][0], 7);
          expect(back.ids, `${key} ${direction} backwards`).toEqual(pages[pages.length - 2]);
          expect(back.more).toBe(pages.length > 2);
        }
      }
    }
  });

  it('answers an empty page for a range without messages, and keeps to the scope of a user', async () => {
    const empty = await repo.list({
      scope,
      filter: { from: START + 400 * DAY, to: START + 500 * DAY },
      sort: { key: 'sender', direction: 'asc' },
      cursor: null,
      limit: 10,
    });
    expect(empty).toMatchObject({ rows: [], more: false });
    const filter = { from: START, to: START + 59 * DAY };
    const mine = await repo.list({
      scope: { accountId: ACCOUNT, userLogin: 'mailer' },
      filter,
      sort: { key: 'channel', direction: 'asc' },
      cursor: null,
      limit: 1000,
    });
    const want = rows
      .filter((r) => r.user === 'mailer' && r.created >= filter.from && r.created <= filter.to)
      .sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : a.id - b.id))
      .map((r) => r.id);
    expect(mine.rows.map((r) => r.id)).toEqual(want);
  });
});
