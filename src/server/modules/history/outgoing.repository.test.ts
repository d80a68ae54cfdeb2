import { beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialect } from '../../../../test/database.js';
import { pageBefore, readPages } from '../../../../test/history-pages.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import type { HistoryFilter, HistorySort } from './history-query.js';
import { createOutgoingRepository, type OutgoingRepository } from './outgoing.repository.js';

const ACCOUNT = 1;
const OTHER = 2;

describeEachDialect('outgoing repository', (ctx) => {
  let repo: OutgoingRepository;
  const scope = { accountId: ACCOUNT, userLogin: null };
  beforeAll(async () => {
    repo = createOutgoingRepository(ctx.database);
    const base = Date.UTC(2024, 4, 1, 8, 0, 0);
    const rows = [
      buildOutgoing({
        account_id: ACCOUNT,
        sender: 'OVH',
        receiver: '+33611111111',
        message: 'Votre rendez-vous est confirmé',
        status: 'delivered',
        user_login: 'apiuser',
        channel: 'api',
        created_at: base,
        tag: 'rdv',
      }),
      buildOutgoing({
        account_id: ACCOUNT,
        sender: 'Promo',
        receiver: '+33622222222',
        message: 'ÉTÉ: -20% sur tout',
        status: 'failed',
        user_login: 'mailer',
        channel: 'mail2sms',
        created_at: base + 1000,
      }),
      buildOutgoing({
        account_id: ACCOUNT,
        sender: 'INFO',
        receiver: '+32470000000',
        message: 'Colis 📦 livré\nMerci',
        status: 'sent',
        user_login: '',
        channel: 'manager',
        created_at: base + 2000,
      }),
      buildOutgoing({
        account_id: ACCOUNT,
        sender: 'OVH',
        receiver: '+33633333333',
        message: 'code 123456 (100% sûr)',
        status: 'pending',
        user_login: 'apiuser',
        channel: 'http2sms',
        created_at: base + 3000,
      }),
      buildOutgoing({
        account_id: ACCOUNT,
        sender: 'alpha',
        receiver: '+33611111112',
        message: 'été à la plage',
        status: 'delivered',
        user_login: 'apiuser',
        channel: 'api',
        created_at: base + 3000,
      }),
      buildOutgoing({
        account_id: OTHER,
        sender: 'OVH',
        receiver: '+33611111111',
        message: 'Votre rendez-vous (autre compte)',
        status: 'delivered',
        user_login: 'apiuser',
        created_at: base,
      }),
    ];
    await insertOutgoing(ctx.database, rows);
  });

  const messages = async (filter: HistoryFilter, sort: HistorySort = { key: 'date', direction: 'desc' }) =>
    (await repo.list({ scope, filter, sort, cursor: null, limit: 100 })).rows.map((r) => r.message);

  it('lists only the account, newest first, ties broken by id', async () => {
    expect(await messages({})).toEqual([
      'été à la plage',
      'code 123456 (100% sûr)',
      'Colis 📦 livré\nMerci',
      'ÉTÉ: -20% sur tout',
      'Votre rendez-vous est confirmé',
    ]);
  });

  it('sorts by each column both ways', async () => {
    const senders = async (direction: 'asc' | 'desc') =>
      (await repo.list({ scope, filter: {}, sort: { key: 'sender', direction }, cursor: null, limit: 100 })).rows.map((r) => r.sender);
    expect(await senders('asc')).toEqual(['INFO', 'OVH', 'OVH', 'Promo', 'alpha']);
    expect(await senders('desc')).toEqual(['alpha', 'Promo', 'OVH', 'OVH', 'INFO']);
    const users = (await repo.list({ scope, filter: {}, sort: { key: 'user', direction: 'asc' }, cursor: null, limit: 100 })).rows.map(
      (r) => r.userLogin,
    );
    expect(users).toEqual([null, 'apiuser', 'apiuser', 'apiuser', 'mailer']);
  });

  it('filters by user (and by "no user"), channel, status, sender, tag, receiver and dates', async () => {
    expect(await messages({ user: 'mailer' })).toEqual(['ÉTÉ: -20% sur tout']);
    expect(await messages({ user: null })).toEqual(['Colis 📦 livré\nMerci']);
    expect(await messages({ channels: ['api', 'mail2sms'] })).toHaveLength(3);
    expect(await messages({ statuses: ['failed', 'pending'] })).toEqual(['code 123456 (100% sûr)', 'ÉTÉ: -20% sur tout']);
    expect(await messages({ sender: 'OVH', tag: 'rdv' })).toEqual(['Votre rendez-vous est confirmé']);
    expect(await messages({ receiver: { prefix: '+336111' } })).toEqual(['été à la plage', 'Votre rendez-vous est confirmé']);
    expect(await messages({ receiver: { exact: '+32470000000' } })).toEqual(['Colis 📦 livré\nMerci']);
    const base = Date.UTC(2024, 4, 1, 8, 0, 0);
    expect(await messages({ from: base + 1000, to: base + 2000 })).toEqual(['Colis 📦 livré\nMerci', 'ÉTÉ: -20% sur tout']);
  });

  it.each([
    ['the full-text index (few candidates)', {}],
    ['a window of rows in sort order', { ftsFew: 0 }],
    ['the full-text index (window too small)', { ftsFew: 0, scanWindow: 1 }],
  ])('searches text case-insensitively, accents mattering, LIKE characters literal, through %s', async (_, options) => {
    const messages = async (filter: HistoryFilter) =>
      (
        await createOutgoingRepository(ctx.database, options).list({
          scope,
          filter,
          sort: { key: 'date', direction: 'desc' },
          cursor: null,
          limit: 100,
        })
      ).rows.map((r) => r.message);
    expect(await messages({ q: 'RENDEZ' })).toEqual(['Votre rendez-vous est confirmé']);
    expect(await messages({ q: 'été' })).toEqual(['été à la plage', 'ÉTÉ: -20% sur tout']);
    expect(await messages({ q: 'ete' })).toEqual([]);
    expect(await messages({ q: '100%' })).toEqual(['code 123456 (100% sûr)']);
    expect(await messages({ q: '%' })).toEqual(['code 123456 (100% sûr)', 'ÉTÉ: -20% sur tout']);
    expect(await messages({ q: '📦' })).toEqual(['Colis 📦 livré\nMerci']);
    expect(await messages({ q: 'livré\nmerci' })).toEqual(['Colis 📦 livré\nMerci']);
  });

  it('streams a text search in order, in bounded windows of the sort order, every match once, up to a limit', async () => {
    const scanned = createOutgoingRepository(ctx.database, { ftsFew: 0, scanWindow: 2 });
    const sorts: HistorySort[] = [
      { key: 'date', direction: 'desc' },
      { key: 'message', direction: 'asc' },
      { key: 'receiver', direction: 'desc' },
    ];
    for (const sort of sorts) {
      for (const q of ['é', 'o', 'RENDEZ', 'absent']) {
        const expected = (await repo.list({ scope, filter: { q }, sort, cursor: null, limit: 100 })).rows.map((r) => r.id);
        const streamed: number[] = [];
        for await (const batch of scanned.streamLean({ scope, filter: { q }, sort, limit: null, batchSize: 1 })) {
          expect(batch.length).toBeLessThanOrEqual(1);
          streamed.push(...batch.map((r) => r.id));
        }
        expect(streamed).toEqual(expected);
        const firstTwo: number[] = [];
        for await (const batch of scanned.stream({ scope, filter: { q }, sort, limit: 2 })) firstTwo.push(...batch.map((r) => r.id));
        expect(firstTwo).toEqual(expected.slice(0, 2));
      }
    }
  });

  it('gives the same pages when a date or receiver range is read without its index (broad ranges)', async () => {
    const broad = createOutgoingRepository(ctx.database, { broadRange: 0 });
    const base = Date.UTC(2024, 4, 1, 8, 0, 0);
    for (const key of ['date', 'sender', 'receiver', 'message'] as const) {
      for (const filter of [{ from: base + 1000, to: base + 3000 }, { receiver: { prefix: '+336' } }] as HistoryFilter[]) {
        const sort = { key, direction: 'asc' as const };
        const expected = (await repo.list({ scope, filter, sort, cursor: null, limit: 100 })).rows.map((r) => r.id);
        const got = (await broad.list({ scope, filter, sort, cursor: null, limit: 100 })).rows.map((r) => r.id);
        expect(got, `${key} ${JSON.stringify(filter)}`).toEqual(expected);
        expect(expected.length).toBeGreaterThan(0);
      }
    }
  });

  it('pages forwards and backwards with keyset cursors in every sort, with and without a date range', async () => {
    const base = Date.UTC(2024, 4, 1, 8, 0, 0);
    for (const [key, filter] of [
      ...(['date', 'sender', 'receiver', 'message', 'status', 'user', 'channel'] as const).map((k) => [k, {}] as const),
      ['date', { from: base + 1000, to: base + 3000 }] as const,
    ]) {
      for (const direction of ['asc', 'desc'] as const) {
        const sort = { key, direction };
        const all = (await repo.list({ scope, filter, sort, cursor: null, limit: 100 })).rows.map((r) => r.id);
        const pages = await readPages(repo, { scope, filter, sort }, 2);
        expect(pages.flat(), `${key} ${direction}`).toEqual(all);
        expect(all.length).toBeGreaterThan(2);
        // From the last page, going back gives the page before it.
        const back = await pageBefore(repo, { scope, filter, sort }, pages[pages.length - 1][0], 2);
        expect(back.ids).toEqual(pages[pages.length - 2]);
      }
    }
  });

  it('pages by cursor when a filter allows one value of the sort column (the rest of that value only)', async () => {
    const PINNED = 4;
    const statuses = ['delivered', 'failed', 'sent'] as const;
    await insertOutgoing(
      ctx.database,
      Array.from({ length: 24 }, (_, i) =>
        buildOutgoing({
          account_id: PINNED,
          status: statuses[i % 3],
          user_login: i % 2 === 0 ? 'apiuser' : '',
          channel: i % 4 === 0 ? 'smpp' : 'api',
          sender: i % 3 === 1 ? 'INFO' : 'Relais',
          receiver: i % 5 === 0 ? '+33600000005' : `+336000000${String(i).padStart(2, '0')}`,
        }),
      ),
    );
    const own = { accountId: PINNED, userLogin: null };
    const cases: [HistorySort['key'], HistoryFilter, { accountId: number; userLogin: string | null }][] = [
      ['status', { statuses: ['failed'] }, own],
      ['user', { user: 'apiuser' }, own],
      ['user', { user: null }, own],
      ['user', {}, { accountId: PINNED, userLogin: 'apiuser' }],
      ['channel', { channels: ['smpp'] }, own],
      ['sender', { sender: 'INFO' }, own],
      ['receiver', { receiver: { exact: '+33600000005' } }, own],
      ['status', { statuses: ['failed'], user: 'apiuser' }, own],
      // Not pinned: two values, or a receiver prefix.
      ['status', { statuses: ['failed', 'sent'] }, own],
      ['receiver', { receiver: { prefix: '+3360000000' } }, own],
    ];
    for (const [key, filter, scope] of cases) {
      for (const direction of ['asc', 'desc'] as const) {
        const sort = { key, direction };
        const view = { scope, filter, sort };
        const all = (await repo.list({ ...view, cursor: null, limit: 100 })).rows.map((r) => r.id);
        expect(all.length, `${key} ${JSON.stringify(filter)}`).toBeGreaterThanOrEqual(4);
        const pages = await readPages(repo, view, 2);
        expect(pages.flat(), `${key} ${direction} ${JSON.stringify(filter)}`).toEqual(all);
        const back = await pageBefore(repo, view, pages[pages.length - 1][0], 2);
        expect(back.ids).toEqual(pages[pages.length - 2]);
      }
    }
  });

  it('filters by ids: only those that exist in the scope, with the other filters and in any sort', async () => {
    const ACCOUNT_IDS = 3;
    const [a, b, c, gone] = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: ACCOUNT_IDS, sender: 'B', status: 'sent', user_login: 'apiuser', created_at: Date.UTC(2024, 5, 1) }),
      buildOutgoing({ account_id: ACCOUNT_IDS, sender: 'A', status: 'failed', created_at: Date.UTC(2024, 5, 2) }),
      buildOutgoing({ account_id: ACCOUNT_IDS, sender: 'C', status: 'delivered', user_login: 'apiuser', created_at: Date.UTC(2024, 5, 3) }),
      buildOutgoing({ account_id: ACCOUNT_IDS, sender: 'D', status: 'delivered', created_at: Date.UTC(2024, 5, 4) }),
    ]);
    const [foreign] = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: OTHER })]);
    await repo.deleteIds({ accountId: ACCOUNT_IDS, userLogin: null }, [gone], Date.now());
    const own = { accountId: ACCOUNT_IDS, userLogin: null };
    const ids = async (
      filter: HistoryFilter,
      sort: HistorySort = { key: 'date', direction: 'desc' },
      s: { accountId: number; userLogin: string | null } = own,
    ) => (await repo.list({ scope: s, filter, sort, cursor: null, limit: 100 })).rows.map((r) => r.id);
    const asked = [a, b, c, gone, foreign, 999_999_999];
    expect(await ids({ ids: asked })).toEqual([c, b, a]);
    expect(await ids({ ids: asked }, { key: 'sender', direction: 'asc' })).toEqual([b, a, c]);
    expect(await ids({ ids: asked, statuses: ['sent', 'delivered'] })).toEqual([c, a]);
    expect(await ids({ ids: asked }, undefined, { accountId: ACCOUNT_IDS, userLogin: 'apiuser' })).toEqual([c, a]);
    expect(await ids({ ids: [gone, foreign] })).toEqual([]);
    expect(await repo.count({ scope: own, filter: { ids: asked }, cap: 100 })).toEqual({ count: 3, exact: true });
    const many = Array.from({ length: 1000 }, (_, i) => 1_000_000 + i);
    expect(await ids({ ids: [...many.slice(0, 999), b] })).toEqual([b]);
  });

  it('counts exactly up to a cap', async () => {
    expect(await repo.count({ scope, filter: {}, cap: 100 })).toEqual({ count: 5, exact: true });
    expect(await repo.count({ scope, filter: {}, cap: 3 })).toEqual({ count: 3, exact: false });
    expect(await repo.count({ scope: { accountId: ACCOUNT, userLogin: 'apiuser' }, filter: {}, cap: 100 })).toEqual({
      count: 3,
      exact: true,
    });
  });

  describe('deleting', () => {
    it('deletes only the scope, refunds pending credits, and reports the ids deleted', async () => {
      const accountRow = await ctx.database.db
        .insertInto('customers')
        .values({ email: `r-${ctx.dialect}@example.com`, password_hash: 'x', created_at: 0 })
        .returning('id')
        .executeTakeFirstOrThrow();
      const account = await ctx.database.db
        .insertInto('accounts')
        .values({
          name: 'sms-zz99999-1',
          owner_id: accountRow.id,
          credits: 10,
          timezone: 'UTC',
          created_at: 0,
          description: '',
          status: 'enable',
          default_country: 'FR',
          store_text: 1,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const ids = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: account.id, status: 'pending', credits: 2 }),
        buildOutgoing({ account_id: account.id, status: 'delivered', credits: 1 }),
      ]);
      const [otherId] = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: OTHER })]);
      const result = await repo.deleteIds({ accountId: account.id, userLogin: null }, [...ids, otherId, 999_999], Date.now());
      expect(result.deleted.sort()).toEqual([...ids].sort());
      expect(result.refunded).toBe(2);
      const credits = await ctx.database.db.selectFrom('accounts').select('credits').where('id', '=', account.id).executeTakeFirstOrThrow();
      expect(credits.credits).toBe(12);
      expect(await repo.findById({ accountId: OTHER, userLogin: null }, otherId)).toBeDefined();
    });
  });
});
