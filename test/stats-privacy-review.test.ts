/**
 * Adversarial review of three pieces of the history: the statistics (`GET …/stats`: days of the account's
 * timezone, half-hour and +14 zones, DST, edges of days and years, bad or huge periods, deletions, tenancy,
 * agreement with `/outgoing/count`), the privacy keeper (exactly the rows past each account's limits,
 * pending messages kept, resumable after a failure mid-run, every view of a redacted message alike) and
 * `relais demo` (rows valid per the data model and stable under the system's own housekeeping, existing
 * users and senders respected, other accounts untouched).
 */
import { isValidPhoneNumber } from 'libphonenumber-js/max';
import { beforeAll, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { createPasswordHasher } from '../src/server/modules/auth/password.js';
import { runDemo } from '../src/server/modules/demo/demo.service.js';
import { createDispatchRepository, RECEIPT_GRACE_MS } from '../src/server/modules/dispatch/dispatch.repository.js';
import { createDeletionsRepository } from '../src/server/modules/history/deletions.repository.js';
import { createPrivacyRepository, type PrivacyRepository } from '../src/server/modules/history/privacy.repository.js';
import { createPrivacyKeeper } from '../src/server/modules/history/privacy-keeper.js';
import { analyzeSms } from '../src/shared/sms-encoding.js';
import type { DailyCounts, StatsResponse } from '../src/shared/stats.js';
import { OUTGOING_STATUSES, type OutgoingStatus } from '../src/shared/status.js';
import { type AppTestContext, describeEachDialectWithApp } from './app.js';
import {
  bearer,
  createSender,
  createSmsUser,
  createToken,
  fastAuthConfig,
  type SeededAccount,
  seedCustomerWithAccount,
} from './factories.js';
import { buildOutgoing, insertOutgoing } from './outgoing-factory.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (iso: string) => Date.parse(iso);

/** A day's non-zero counts, e.g. `{ delivered: 2, failed: 1 }`. */
function nonZero(day: DailyCounts): Record<string, number> {
  return Object.fromEntries(OUTGOING_STATUSES.filter((s) => day[s] !== 0).map((s) => [s, day[s]]));
}
const perDay = (b: StatsResponse) => b.days.map((d) => [d.day, nonZero(d)]);
const total = (b: StatsResponse) => b.days.reduce((sum, d) => sum + OUTGOING_STATUSES.reduce((s, st) => s + d[st], 0), 0);

async function getJson<T>(ctx: AppTestContext, url: string, headers: Record<string, string>): Promise<T> {
  const res = await ctx.app.inject({ method: 'GET', url, headers });
  expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
  return res.json() as T;
}

// ---------------------------------------------------------------------------------------------
// Statistics

/** "Now" of the statistics: 2024-11-05 12:00 UTC — 08:30 in St. John's, already the 6th in Kiritimati. */
const STATS_NOW = at('2024-11-05T12:00:00Z');

describeEachDialectWithApp(
  'review: statistics in the account timezone',
  (ctx) => {
    let stJohns: SeededAccount;
    let kiritimati: SeededAccount;
    let paris: SeededAccount;
    let neighbour: SeededAccount;

    const stats = (who: SeededAccount, qs = '', headers: Record<string, string> = who.auth, account = who.account.name) =>
      ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${account}/stats${qs ? `?${qs}` : ''}`, headers });
    const body = async (who: SeededAccount, qs = '', headers?: Record<string, string>) => {
      const res = await stats(who, qs, headers);
      expect(res.statusCode, `${qs}: ${res.body}`).toBe(200);
      return res.json() as StatsResponse;
    };

    beforeAll(async () => {
      stJohns = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'America/St_Johns' } });
      kiritimati = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Pacific/Kiritimati' } });
      paris = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris' } });
      neighbour = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris' } });
      const s = stJohns.account.id;
      const k = kiritimati.account.id;
      const p = paris.account.id;
      await insertOutgoing(ctx.database, [
        // St. John's (-03:30, summer -02:30): 2024-03-10 lasts 23 hours, 2024-11-03 25 hours.
        buildOutgoing({ account_id: s, created_at: at('2024-03-09T23:59:59.999-03:30'), status: 'delivered' }),
        buildOutgoing({ account_id: s, created_at: at('2024-03-10T00:00:00-03:30'), status: 'failed' }),
        buildOutgoing({ account_id: s, created_at: at('2024-03-10T23:59:59-02:30'), status: 'sent' }),
        buildOutgoing({ account_id: s, created_at: at('2024-03-11T00:00:00-02:30'), status: 'delivered' }),
        buildOutgoing({ account_id: s, created_at: at('2024-11-02T23:59:59-02:30'), status: 'pending' }),
        buildOutgoing({ account_id: s, created_at: at('2024-11-03T01:30:00-02:30'), status: 'delivered' }),
        buildOutgoing({ account_id: s, created_at: at('2024-11-03T01:30:00-03:30'), status: 'delivered' }),
        buildOutgoing({ account_id: s, created_at: at('2024-11-03T23:59:59.999-03:30'), status: 'expired' }),
        buildOutgoing({ account_id: s, created_at: at('2024-11-04T00:00:00-03:30'), status: 'canceled' }),
        // Kiritimati (+14:00): its 28th begins at 10:00 UTC on the 27th.
        buildOutgoing({ account_id: k, created_at: at('2024-10-27T23:59:59.999+14:00'), status: 'delivered' }),
        buildOutgoing({ account_id: k, created_at: at('2024-10-28T00:00:00+14:00'), status: 'failed' }),
        buildOutgoing({ account_id: k, created_at: at('2024-10-28T23:59:59+14:00'), status: 'sent' }),
        buildOutgoing({ account_id: k, created_at: at('2024-11-06T01:00:00+14:00'), status: 'pending' }),
        // Paris, across a new year and a leap day.
        buildOutgoing({ account_id: p, created_at: at('2023-12-31T23:59:59+01:00'), status: 'delivered' }),
        buildOutgoing({ account_id: p, created_at: at('2024-01-01T00:00:00+01:00'), status: 'failed' }),
        buildOutgoing({ account_id: p, created_at: at('2024-02-29T12:00:00+01:00'), status: 'delivered' }),
        buildOutgoing({ account_id: p, created_at: at('2024-11-01T10:00:00.200Z'), status: 'delivered' }),
        buildOutgoing({ account_id: p, created_at: at('2024-11-01T10:00:00.800Z'), status: 'failed' }),
      ]);
      // The neighbour sends on the very same days.
      await insertOutgoing(
        ctx.database,
        ['2023-12-31T12:00:00+01:00', '2024-01-01T12:00:00+01:00', '2024-11-01T10:00:00.500Z', '2024-11-04T12:00:00+01:00'].map((iso) =>
          buildOutgoing({ account_id: neighbour.account.id, created_at: at(iso), status: 'failed' }),
        ),
      );
    });

    it('St. John’s (half-hour offsets): days of 23 and 25 hours, 23:59:59 vs 00:00:00, on both counting paths', async () => {
      // No filter: per-status index ranges; `channel=api` (every row's channel): the grouped pass.
      for (const extra of ['', '&channel=api']) {
        expect(perDay(await body(stJohns, `from=2024-03-09&to=2024-03-11${extra}`)), extra).toEqual([
          ['2024-03-09', { delivered: 1 }],
          ['2024-03-10', { failed: 1, sent: 1 }],
          ['2024-03-11', { delivered: 1 }],
        ]);
        expect(perDay(await body(stJohns, `from=2024-11-02&to=2024-11-04${extra}`)), extra).toEqual([
          ['2024-11-02', { pending: 1 }],
          ['2024-11-03', { delivered: 2, expired: 1 }],
          ['2024-11-04', { canceled: 1 }],
        ]);
      }
      // "Today" is St. John's: 08:30 on the 5th.
      expect(await body(stJohns)).toMatchObject({ timeZone: 'America/St_Johns', from: '2024-10-07', to: '2024-11-05' });
    });

    it('Kiritimati (+14:00): the calendar day is the account’s, today included', async () => {
      for (const extra of ['', '&channel=api']) {
        expect(perDay(await body(kiritimati, `from=2024-10-27&to=2024-10-28${extra}`)), extra).toEqual([
          ['2024-10-27', { delivered: 1 }],
          ['2024-10-28', { failed: 1, sent: 1 }],
        ]);
      }
      // 12:00 UTC on the 5th is 02:00 on the 6th there: the default period ends on the 6th and counts its message.
      const recent = await body(kiritimati);
      expect(recent).toMatchObject({ timeZone: 'Pacific/Kiritimati', from: '2024-10-08', to: '2024-11-06' });
      expect(perDay(recent).at(-1)).toEqual(['2024-11-06', { pending: 1 }]);
      // An instant given in UTC is placed in the account's calendar: 10:00Z on the 27th is its 28th's first instant.
      expect(perDay(await body(kiritimati, 'from=2024-10-27T10:00:00Z&to=2024-10-28'))).toEqual([['2024-10-28', { failed: 1, sent: 1 }]]);
      expect(perDay(await body(kiritimati, 'from=2024-10-27&to=2024-10-27T09:59:59.999Z'))).toEqual([['2024-10-27', { delivered: 1 }]]);
    });

    it('a period across a new year and a leap day, and a period of 371 days, count every message once', async () => {
      expect(perDay(await body(paris, 'from=2023-12-30&to=2024-01-02'))).toEqual([
        ['2023-12-30', {}],
        ['2023-12-31', { delivered: 1 }],
        ['2024-01-01', { failed: 1 }],
        ['2024-01-02', {}],
      ]);
      const year = await body(paris, 'from=2023-11-01&to=2024-11-05');
      expect(year.days).toHaveLength(371);
      expect(year.days.map((d) => d.day)).toContain('2024-02-29');
      expect(nonZero(year.days.find((d) => d.day === '2024-02-29')!)).toEqual({ delivered: 1 });
      expect(total(year)).toBe(5);
      expect(new Set(year.days.map((d) => d.day)).size).toBe(371);
    });

    it('an empty history or period answers every day with zeros', async () => {
      const empty = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'America/St_Johns' } });
      const b = await body(empty, 'from=2024-02-28&to=2024-03-01&status=pending');
      expect(b.days).toEqual(
        ['2024-02-28', '2024-02-29', '2024-03-01'].map((day) => ({
          day,
          pending: 0,
          sent: 0,
          delivered: 0,
          failed: 0,
          expired: 0,
          canceled: 0,
        })),
      );
      expect(total(await body(paris, 'from=2024-06-01&to=2024-06-30'))).toBe(0);
    });

    it('refuses huge periods with a clear 400 before any work, and never answers a malformed day', async () => {
      for (const qs of ['from=1970-01-01&to=9999-12-31', 'from=1970-01-01', 'from=2024-01-01&to=2025-02-05']) {
        const res = await stats(paris, qs);
        expect([qs, res.statusCode, res.json().error.code]).toEqual([qs, 400, 'PERIOD_TOO_LONG']);
      }
      // The last day that has a four-digit year, and instants past it: each answer is a 400 or well-formed days.
      const day = /^\d{4}-\d{2}-\d{2}$/;
      for (const qs of [
        'to=9999-12-31',
        'from=9999-12-31',
        `from=${encodeURIComponent('9999-12-31T23:00:00-05:00')}`,
        `to=${encodeURIComponent('9999-12-31T23:30:00-12:00')}`,
      ]) {
        const res = await stats(paris, qs);
        expect(res.statusCode, `${qs}: ${res.body}`).toBeLessThan(500);
        if (res.statusCode === 200) {
          const b = res.json() as StatsResponse;
          expect(
            [qs, b.from, b.to, ...b.days.map((d) => d.day)].filter((d, i) => i > 0 && !day.test(d)),
            qs,
          ).toEqual([]);
        } else {
          expect(res.json().error.code, qs).toBe('INVALID_FILTER');
        }
      }
    });

    it('a datetime with milliseconds counts from (or up to) that very millisecond', async () => {
      // 10:00:00.200 (delivered) and 10:00:00.800 (failed) UTC on 2024-11-01.
      const from = await body(paris, `from=${encodeURIComponent('2024-11-01T10:00:00.500Z')}&to=2024-11-01`);
      expect(perDay(from)).toEqual([['2024-11-01', { failed: 1 }]]);
      const to = await body(paris, `from=2024-11-01&to=${encodeURIComponent('2024-11-01T10:00:00.500Z')}`);
      expect(perDay(to)).toEqual([['2024-11-01', { delivered: 1 }]]);
    });

    it('another account’s messages are invisible, and its stats unreachable, whatever the credentials', async () => {
      // The neighbour's messages on the same days are not counted.
      expect(perDay(await body(paris, 'from=2023-12-31&to=2024-01-01'))).toEqual([
        ['2023-12-31', { delivered: 1 }],
        ['2024-01-01', { failed: 1 }],
      ]);
      expect(perDay(await body(neighbour, 'from=2023-12-31&to=2024-01-01'))).toEqual([
        ['2023-12-31', { failed: 1 }],
        ['2024-01-01', { failed: 1 }],
      ]);
      await createSmsUser(ctx.app, neighbour.account, { login: 'nb-user' });
      const userToken = bearer(await createToken(ctx.app, neighbour.account, { user: 'nb-user' }));
      for (const headers of [neighbour.auth, userToken]) {
        for (const qs of ['', 'from=2023-12-31&to=2024-01-01', `ids=1,2,3`, 'user=-']) {
          const res = await stats(paris, qs, headers);
          expect([403, 404], `${qs}: ${res.statusCode}`).toContain(res.statusCode);
        }
      }
      // An account name in another case or with spaces is not another way in.
      for (const name of [paris.account.name.toUpperCase(), ` ${paris.account.name}`, `${paris.account.name}%00`]) {
        const res = await stats(paris, '', neighbour.auth, encodeURIComponent(name).replace('%2500', '%00'));
        expect(res.statusCode, name).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, name).toBeLessThan(500);
      }
    });

    it('deleted messages leave the statistics at once; redacted ones stay counted', async () => {
      const own = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris' } });
      const ids = await insertOutgoing(
        ctx.database,
        (['delivered', 'failed', 'delivered', 'sent', 'pending'] as OutgoingStatus[]).map((status, i) =>
          buildOutgoing({ account_id: own.account.id, created_at: at('2024-11-04T09:00:00+01:00') + i * 1000, status }),
        ),
      );
      const day = async () => nonZero((await body(own, 'from=2024-11-04&to=2024-11-04')).days[0]);
      expect(await day()).toEqual({ delivered: 2, failed: 1, sent: 1, pending: 1 });
      const del = await ctx.app.inject({
        method: 'DELETE',
        url: `/api/v1/accounts/${own.account.name}/outgoing/${ids[0]}`,
        headers: own.auth,
      });
      expect(del.statusCode, del.body).toBe(204);
      expect(await day()).toEqual({ delivered: 1, failed: 1, sent: 1, pending: 1 });
      const byFilter = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${own.account.name}/outgoing/delete`,
        headers: own.auth,
        payload: { filter: { status: 'failed,pending' } },
      });
      expect(byFilter.statusCode, byFilter.body).toBe(200);
      expect(byFilter.json().deleted).toBe(2);
      expect(await day()).toEqual({ delivered: 1, sent: 1 });
      const redact = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${own.account.name}/outgoing/redact`,
        headers: own.auth,
        payload: { ids: [ids[2], ids[3]] },
      });
      expect(redact.statusCode, redact.body).toBe(200);
      expect(await day()).toEqual({ delivered: 1, sent: 1 });
    });

    it('agrees with /outgoing/count for every filter, across both DST changes of a half-hour zone', async () => {
      const own = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'America/St_Johns' } });
      await createSmsUser(ctx.app, own.account, { login: 'user1' });
      const userHeaders = bearer(await createToken(ctx.app, own.account, { user: 'user1' }));
      // Deterministic pseudo-random rows around both changes (every 37 to 5,000 s), some on the exact edges of days.
      let seed = 12345;
      const rnd = () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      const rows: ReturnType<typeof buildOutgoing>[] = [];
      for (const [start, end] of [
        [at('2024-03-08T00:00:00-03:30'), at('2024-03-13T00:00:00-02:30')],
        [at('2024-11-01T00:00:00-02:30'), at('2024-11-05T12:00:00-03:30')],
      ]) {
        for (let t = start; t < end; t += 37_000 + Math.floor(rnd() * 5_000_000)) {
          rows.push(
            buildOutgoing({
              account_id: own.account.id,
              created_at: t,
              status: OUTGOING_STATUSES[Math.floor(rnd() * OUTGOING_STATUSES.length)],
              channel: rnd() < 0.5 ? 'smpp' : 'api',
              user_login: rnd() < 0.4 ? 'user1' : '',
              receiver: rnd() < 0.3 ? '+32470000001' : '+33612345678',
              tag: rnd() < 0.2 ? 'promo' : '',
            }),
          );
        }
      }
      for (const edge of [
        '2024-03-10T00:00:00-03:30',
        '2024-03-10T23:59:59.999-02:30',
        '2024-11-03T00:00:00-02:30',
        '2024-11-04T00:00:00-03:30',
      ])
        rows.push(buildOutgoing({ account_id: own.account.id, created_at: at(edge), status: 'delivered' }));
      await insertOutgoing(ctx.database, rows);
      const periods = [
        'from=2024-03-08&to=2024-03-12',
        'from=2024-11-01&to=2024-11-05',
        `from=${encodeURIComponent('2024-03-10T01:15:00')}&to=${encodeURIComponent('2024-03-10T23:59:59')}`,
        `from=${encodeURIComponent('2024-11-03T01:30:00-03:30')}&to=${encodeURIComponent('2024-11-04T00:00:00')}`,
      ];
      const filters = [
        '',
        'status=delivered,failed',
        'channel=smpp',
        'user=user1',
        'user=-',
        'receiver=%2B32*',
        'tag=promo',
        'status=pending&channel=api',
      ];
      for (const period of periods) {
        for (const filter of filters) {
          const qs = filter ? `${period}&${filter}` : period;
          for (const headers of [own.auth, userHeaders]) {
            const s = await body(own, qs, headers);
            const { total: count } = await getJson<{ total: number }>(
              ctx,
              `/api/v1/accounts/${own.account.name}/outgoing/count?${qs}`,
              headers,
            );
            expect([qs, total(s)]).toEqual([qs, count]);
          }
        }
      }
    });
  },
  { clock: { now: () => STATS_NOW } },
);

// ---------------------------------------------------------------------------------------------
// The privacy keeper

const KEEPER_START = Date.UTC(2024, 5, 1, 12, 0, 0);
const keeperClock = { time: KEEPER_START, now: () => keeperClock.time };

describeEachDialectWithApp(
  'review: the privacy keeper',
  (ctx) => {
    const db = () => ctx.database.db;
    const rowsOf = (accountId: number) =>
      db().selectFrom('outgoing').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
    const seed = async (settings: { retentionDays?: number | null; redactAfterDays?: number | null } = {}, timezone = 'Europe/Paris') => {
      const seeded = await seedCustomerWithAccount(ctx.app, { account: { timezone } });
      if (Object.keys(settings).length > 0) await ctx.app.services.accounts.update(SYSTEM_ACTOR, seeded.account.name, settings);
      return seeded;
    };
    /** A fresh keeper (a process that just started: it remembers nothing), on the app's database and clock. */
    const keeper = (options: { maxBatch?: number; privacy?: PrivacyRepository } = {}) =>
      createPrivacyKeeper({
        privacy: options.privacy ?? createPrivacyRepository(ctx.database),
        history: ctx.app.services.history,
        deletions: createDeletionsRepository(ctx.database),
        clock: keeperClock,
        maxBatch: options.maxBatch,
      });
    const runFor = async (k: ReturnType<typeof keeper>, accountId: number) =>
      (await k.runOnce())?.accounts.find((a) => a.accountId === accountId);

    it('redacts exactly the rows past each account’s own limit, to the millisecond, and touches nothing else', async () => {
      keeperClock.time = KEEPER_START;
      const now = KEEPER_START;
      const week = await seed({ redactAfterDays: 7 }, 'Pacific/Kiritimati');
      const month = await seed({ redactAfterDays: 30 }, 'America/St_Johns');
      const none = await seed();
      const retentionOnly = await seed({ retentionDays: 10 });
      const ages = [
        { age: 40 * DAY, status: 'delivered' },
        { age: 40 * DAY - 1, status: 'pending' },
        { age: 30 * DAY + 1, status: 'failed' },
        { age: 30 * DAY, status: 'delivered' },
        { age: 8 * DAY, status: 'expired' },
        { age: 7 * DAY + 1, status: 'canceled' },
        { age: 7 * DAY, status: 'sent' },
        { age: 7 * DAY - 1, status: 'delivered' },
        { age: HOUR, status: 'delivered' },
      ] as const;
      const make = (accountId: number) =>
        ages.map(({ age, status }, i) =>
          buildOutgoing({ account_id: accountId, created_at: now - age, status, message: `Texte privé ${i} ${accountId}` }),
        );
      const ids = new Map<number, number[]>();
      const before = new Map<number, Awaited<ReturnType<typeof rowsOf>>>();
      for (const a of [week, month, none, retentionOnly]) {
        ids.set(a.account.id, await insertOutgoing(ctx.database, make(a.account.id)));
        before.set(a.account.id, await rowsOf(a.account.id));
      }
      keeperClock.time = now;
      const run = await keeper({ maxBatch: 3 }).runOnce();
      const byAccount = new Map(run?.accounts.map((a) => [a.accountId, a]));
      // Strictly older than the limit, and not pending.
      const weekRedacted = [0, 2, 3, 4, 5];
      const monthRedacted = [0, 2];
      expect(byAccount.get(week.account.id)).toEqual({ accountId: week.account.id, deleted: 0, redacted: weekRedacted.length });
      expect(byAccount.get(month.account.id)).toEqual({ accountId: month.account.id, deleted: 0, redacted: monthRedacted.length });
      expect(byAccount.has(none.account.id)).toBe(false);
      for (const [account, redacted] of [
        [week, weekRedacted],
        [month, monthRedacted],
      ] as const) {
        const expected = before
          .get(account.account.id)!
          .map((r, i) => (redacted.includes(i) ? { ...r, message: '', redacted_at: now } : r));
        expect(await rowsOf(account.account.id)).toEqual(expected);
      }
      expect(await rowsOf(none.account.id)).toEqual(before.get(none.account.id));
      // Retention only: the rows strictly older than 10 days and not pending go, the others stay whole.
      expect(byAccount.get(retentionOnly.account.id)).toMatchObject({ deleted: 3, redacted: 0 });
      expect(await rowsOf(retentionOnly.account.id)).toEqual(
        before.get(retentionOnly.account.id)!.filter((_, i) => ![0, 2, 3].includes(i)),
      );
    });

    it('never redacts a pending message, however old, and redacts it at the first run after it was sent', async () => {
      keeperClock.time = KEEPER_START;
      const a = await seed({ redactAfterDays: 1 });
      const [pending, ...others] = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: a.account.id, created_at: KEEPER_START - 10 * DAY, status: 'pending', message: 'Pas encore envoyé' }),
        ...Array.from({ length: 7 }, (_, i) =>
          buildOutgoing({
            account_id: a.account.id,
            created_at: KEEPER_START - 5 * DAY + i * HOUR,
            status: 'delivered',
            message: `Vieux ${i}`,
          }),
        ),
        buildOutgoing({ account_id: a.account.id, created_at: KEEPER_START - 12 * HOUR, status: 'delivered', message: 'Récent' }),
      ]);
      const k = keeper({ maxBatch: 2 });
      expect((await runFor(k, a.account.id))?.redacted).toBe(7);
      const message = async (id: number) =>
        await db().selectFrom('outgoing').select(['message', 'redacted_at']).where('id', '=', id).executeTakeFirstOrThrow();
      expect(await message(pending)).toEqual({ message: 'Pas encore envoyé', redacted_at: null });
      // Hours later, still pending: still whole (each run reads from it again).
      for (const hours of [1, 2, 3]) {
        keeperClock.time = KEEPER_START + hours * HOUR;
        expect((await runFor(k, a.account.id))?.redacted).toBe(0);
        expect(await message(pending)).toEqual({ message: 'Pas encore envoyé', redacted_at: null });
      }
      // Sent now: the next run erases it, and the recent one once it aged.
      await db().updateTable('outgoing').set({ status: 'sent', sent_at: keeperClock.time }).where('id', '=', pending).execute();
      keeperClock.time = KEEPER_START + 4 * HOUR;
      expect((await runFor(k, a.account.id))?.redacted).toBe(1);
      expect((await message(pending)).message).toBe('');
      keeperClock.time = KEEPER_START + 13 * HOUR;
      expect((await runFor(k, a.account.id))?.redacted).toBe(1);
      expect((await rowsOf(a.account.id)).every((r) => r.message === '' && r.redacted_at !== null)).toBe(true);
      expect(others).toHaveLength(8);
    });

    it('a run failing mid-walk leaves whole rows only, and the next run (or a restarted process) finishes exactly once', async () => {
      keeperClock.time = KEEPER_START;
      const a = await seed({ redactAfterDays: 2 });
      const ids = await insertOutgoing(
        ctx.database,
        // Ages 12 days down to 2 days (the last one not older than the limit); the fifth still pending.
        Array.from({ length: 11 }, (_, i) =>
          buildOutgoing({
            account_id: a.account.id,
            created_at: KEEPER_START - (12 - i) * DAY,
            status: i === 4 ? 'pending' : 'delivered',
            message: `Secret ${i}`,
          }),
        ),
      );
      const real = createPrivacyRepository(ctx.database);
      let calls = 0;
      const crashing: PrivacyRepository = {
        ...real,
        redactBatch: async (args) => {
          if (args.accountId === a.account.id) calls += 1;
          if (calls === 3) throw new Error('connection lost');
          return real.redactBatch(args);
        },
      };
      const k = keeper({ maxBatch: 2, privacy: crashing });
      const first = await runFor(k, a.account.id);
      expect(first?.error).toContain('connection lost');
      const rows = await rowsOf(a.account.id);
      // Two batches of two committed; the rest untouched, no row half-done.
      for (const r of rows) expect(r.message === '' ? r.redacted_at !== null : r.redacted_at === null).toBe(true);
      expect(first?.redacted ?? 0).toBe(0);
      expect(rows.filter((r) => r.redacted_at !== null).map((r) => r.id)).toEqual(ids.slice(0, 4));
      // The same keeper's next run, and then a restarted process, finish it: each eligible row erased once.
      const second = await runFor(k, a.account.id);
      expect(second).toEqual({ accountId: a.account.id, deleted: 0, redacted: 5 });
      expect((await runFor(keeper(), a.account.id))?.redacted).toBe(0);
      const after = await rowsOf(a.account.id);
      expect(after.map((r) => (r.redacted_at === null ? r.message : ''))).toEqual(
        ids.map((_, i) => (i === 4 || i === 10 ? `Secret ${i}` : '')),
      );
    });

    it('a redacted message reads the same everywhere: list, one message, CSV (both paths, both formats), JSON lines, search, stats', async () => {
      keeperClock.time = KEEPER_START;
      const a = await seed({ redactAfterDays: 3 });
      const [old, recent] = await insertOutgoing(ctx.database, [
        buildOutgoing({
          account_id: a.account.id,
          created_at: KEEPER_START - 5 * DAY,
          status: 'delivered',
          receiver: '+33612345678',
          message: 'Secret "code"; 4711\n=SUM(A1)',
        }),
        buildOutgoing({ account_id: a.account.id, created_at: KEEPER_START - DAY, status: 'delivered', message: 'Visible text' }),
      ]);
      expect((await runFor(keeper(), a.account.id))?.redacted).toBe(1);
      const base = `/api/v1/accounts/${a.account.name}`;
      const list = await getJson<{ data: { id: number; message: string | null; receiver: string }[] }>(ctx, `${base}/outgoing`, a.auth);
      const listed = new Map(list.data.map((o) => [o.id, o]));
      expect(listed.get(old)?.message).toBeNull();
      expect(listed.get(recent)?.message).toBe('Visible text');
      const one = await getJson<{ message: string | null; receiver: string }>(ctx, `${base}/outgoing/${old}`, a.auth);
      expect(one.message).toBeNull();
      expect(one.receiver).toBe(listed.get(old)?.receiver);

      const text = async (url: string) => {
        const res = await ctx.app.inject({ method: 'GET', url, headers: a.auth });
        expect(res.statusCode, res.body).toBe(200);
        return res.body;
      };
      const limited = await text(`${base}/outgoing.csv`);
      const all = await text(`${base}/outgoing.csv?all=true`);
      expect(all).toBe(limited);
      expect(limited).not.toContain('Secret');
      expect(limited).not.toContain('4711');
      expect(limited).toContain(`;"${one.receiver}";"";"delivered"\n`);
      const detailed = await text(`${base}/outgoing.csv?format=detailed&all=true`);
      expect(detailed).not.toContain('Secret');
      expect(detailed).toContain(`"${old}";`);
      const jsonl = (await text(`${base}/outgoing.jsonl`))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: number; message: string | null; receiver: string });
      expect(jsonl.find((o) => o.id === old)).toMatchObject({ message: null, receiver: one.receiver });
      for (const q of ['Secret', 'code', '4711']) {
        const found = await getJson<{ data: unknown[] }>(ctx, `${base}/outgoing?q=${q}`, a.auth);
        expect(found.data, q).toEqual([]);
      }
      expect((await getJson<{ data: { id: number }[] }>(ctx, `${base}/outgoing?q=Visible`, a.auth)).data.map((o) => o.id)).toEqual([
        recent,
      ]);
      // Still a delivered message of its day.
      const day = new Date(KEEPER_START - 5 * DAY).toISOString().slice(0, 10);
      const s = await getJson<StatsResponse>(ctx, `${base}/stats?from=${day}&to=${day}`, a.auth);
      expect(nonZero(s.days[0])).toEqual({ delivered: 1 });
    });

    it('retention of one account never deletes another account’s messages, whatever their limits', async () => {
      keeperClock.time = KEEPER_START;
      const short = await seed({ retentionDays: 10 });
      const long = await seed({ retentionDays: 100 });
      const rows = (accountId: number) => [
        buildOutgoing({ account_id: accountId, created_at: KEEPER_START - 50 * DAY, status: 'delivered' }),
        buildOutgoing({ account_id: accountId, created_at: KEEPER_START - 50 * DAY, status: 'pending' }),
        buildOutgoing({ account_id: accountId, created_at: KEEPER_START - 5 * DAY, status: 'failed' }),
      ];
      const shortIds = await insertOutgoing(ctx.database, rows(short.account.id));
      await insertOutgoing(ctx.database, rows(long.account.id));
      const longBefore = await rowsOf(long.account.id);
      const run = await keeper().runOnce();
      expect(run?.accounts.find((x) => x.accountId === short.account.id)?.deleted).toBe(1);
      expect(run?.accounts.find((x) => x.accountId === long.account.id)?.deleted).toBe(0);
      expect((await rowsOf(short.account.id)).map((r) => r.id)).toEqual(shortIds.slice(1));
      expect(await rowsOf(long.account.id)).toEqual(longBefore);
      const day = new Date(KEEPER_START - 50 * DAY).toISOString().slice(0, 10);
      const statsOf = async (who: SeededAccount) =>
        nonZero((await getJson<StatsResponse>(ctx, `/api/v1/accounts/${who.account.name}/stats?from=${day}&to=${day}`, who.auth)).days[0]);
      expect(await statsOf(short)).toEqual({ pending: 1 });
      expect(await statsOf(long)).toEqual({ delivered: 1, pending: 1 });
    });
  },
  { config: fastAuthConfig, clock: keeperClock },
);

// ---------------------------------------------------------------------------------------------
// relais demo

const DEMO_NOW = Date.parse('2026-11-25T10:30:00Z');
const demoClock = { now: () => DEMO_NOW };
const hasher = createPasswordHasher({ fast: true });

describeEachDialectWithApp(
  'review: relais demo',
  (ctx) => {
    const db = () => ctx.database.db;
    let fresh: SeededAccount;
    let shop: SeededAccount;
    let neighbour: SeededAccount;
    let neighbourBefore: unknown;

    const demo = (account: SeededAccount, messages: number, seed: string) =>
      runDemo({ database: ctx.database, clock: demoClock, hasher, accountName: account.account.name, messages, seed });
    const rowsOf = (accountId: number) =>
      db().selectFrom('outgoing').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
    const snapshot = async (accountId: number) => ({
      rows: await rowsOf(accountId),
      users: await db().selectFrom('sms_users').selectAll().where('account_id', '=', accountId).orderBy('id').execute(),
      senders: await db().selectFrom('senders').selectAll().where('account_id', '=', accountId).orderBy('id').execute(),
      account: await db().selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirstOrThrow(),
      days: await db().selectFrom('outgoing_days').selectAll().where('account_id', '=', accountId).orderBy('day').execute(),
    });
    const credits = async (who: SeededAccount) => (await ctx.app.services.accounts.get(SYSTEM_ACTOR, who.account.name)).credits;

    /** Every rule of the data model a history row must follow (see PRODUCT.md, README.md). */
    async function checkRows(who: SeededAccount, allowedSenders: string[]) {
      const rows = await rowsOf(who.account.id);
      const users = new Map(
        (await db().selectFrom('sms_users').select(['id', 'login']).where('account_id', '=', who.account.id).execute()).map((u) => [
          Number(u.id),
          u.login,
        ]),
      );
      const problems: string[] = [];
      const bad = (r: (typeof rows)[number], why: string) => {
        if (problems.length < 10) problems.push(`${why}: ${JSON.stringify(r)}`);
      };
      for (const r of rows) {
        if (r.created_at > DEMO_NOW || r.created_at < DEMO_NOW - 365 * DAY) bad(r, 'created outside the last year');
        if (!isValidPhoneNumber(r.receiver) || !/^\+[1-9]\d{6,14}$/.test(r.receiver)) bad(r, 'receiver not E.164');
        if (!allowedSenders.includes(r.sender)) bad(r, 'sender not an enabled sender of the account');
        if (r.user_id === null ? r.user_login !== '' : users.get(Number(r.user_id)) !== r.user_login) bad(r, 'user not of the account');
        const { encoding, parts } = analyzeSms(r.message);
        if (r.encoding !== encoding || r.parts !== parts) bad(r, `encoding/parts vs text (${encoding}, ${parts})`);
        if (r.credits !== r.parts) bad(r, 'credits vs parts at the default rate');
        const final = { delivered: r.delivered_at, failed: r.failed_at, expired: r.expired_at, canceled: r.canceled_at };
        for (const [status, t] of Object.entries(final)) if ((r.status === status) !== (t !== null)) bad(r, `${status}_at vs status`);
        const reached = ['sent', 'delivered', 'failed', 'expired'].includes(r.status);
        if (reached !== (r.sent_at !== null)) bad(r, 'sent_at vs status');
        for (const t of [r.sent_at, r.delivered_at, r.failed_at, r.expired_at, r.canceled_at])
          if (t !== null && (t < r.created_at || t > DEMO_NOW)) bad(r, 'timestamp out of order');
        for (const t of [r.delivered_at, r.failed_at, r.expired_at])
          if (t !== null && r.sent_at !== null && t < r.sent_at) bad(r, 'final before sent');
        if (r.valid_until === null || r.valid_until < (r.deferred_until ?? r.created_at)) bad(r, 'validity');
      }
      expect(problems).toEqual([]);
      return rows;
    }

    beforeAll(async () => {
      fresh = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Pacific/Kiritimati' } });
      neighbour = await seedCustomerWithAccount(ctx.app);
      await createSmsUser(ctx.app, neighbour.account, { login: 'apiuser' });
      await createSender(ctx.app, neighbour.account, { sender: 'Relais' });
      await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: neighbour.account.id, created_at: DEMO_NOW - DAY, user_login: 'apiuser', status: 'pending' }),
        buildOutgoing({ account_id: neighbour.account.id, created_at: DEMO_NOW - 100 * DAY, status: 'sent', valid_until: DEMO_NOW }),
      ]);
      neighbourBefore = await snapshot(neighbour.account.id);

      shop = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'America/St_Johns' } });
      await createSmsUser(ctx.app, shop.account, { login: 'shop-api' });
      await createSender(ctx.app, shop.account, { sender: 'Shop' });
      await createSender(ctx.app, shop.account, { sender: 'Refused', status: 'refused' });
      await createSender(ctx.app, shop.account, { sender: 'Waiting', status: 'waitingValidation' });
      await createSender(ctx.app, shop.account, { sender: 'Off', status: 'disable' });

      expect((await demo(fresh, 3_000, 'review-fresh')).inserted).toBe(3_000);
      expect((await demo(shop, 1_500, 'review-shop-1')).inserted).toBe(1_500);
    }, 120_000);

    it('creates valid rows in an account without users or senders: its own demo users and senders only', async () => {
      const users = await db().selectFrom('sms_users').select('login').where('account_id', '=', fresh.account.id).execute();
      expect(users.map((u) => u.login).sort()).toEqual(['apiuser', 'crm', 'http2sms', 'mailer', 'smppgw']);
      const rows = await checkRows(fresh, ['Relais', 'INFO', 'Promo']);
      expect(rows).toHaveLength(3_000);
      expect(new Set(rows.map((r) => r.status))).toEqual(new Set(OUTGOING_STATUSES));
    });

    it('never touches another account (its rows, users, senders, credits, day bounds)', async () => {
      expect(await snapshot(neighbour.account.id)).toEqual(neighbourBefore);
    });

    it('an account with users and senders keeps them as they are, and its rows use only senders it may send from', async () => {
      const users = await db().selectFrom('sms_users').select('login').where('account_id', '=', shop.account.id).execute();
      expect(users.map((u) => u.login)).toEqual(['shop-api']);
      const senders = await db()
        .selectFrom('senders')
        .select(['sender', 'status'])
        .where('account_id', '=', shop.account.id)
        .orderBy('id')
        .execute();
      expect(senders.map((s) => s.sender)).toEqual(['Shop', 'Refused', 'Waiting', 'Off']);
      // Sending from a refused, unvalidated or disabled sender is refused by every channel: no such history.
      await checkRows(shop, ['Shop']);
    });

    it('a second run adds its rows and nothing else, every row still valid', async () => {
      const before = await snapshot(shop.account.id);
      expect((await demo(shop, 1_000, 'review-shop-2')).inserted).toBe(1_000);
      const after = await snapshot(shop.account.id);
      expect(after.rows).toHaveLength(before.rows.length + 1_000);
      expect(after.rows.slice(0, before.rows.length)).toEqual(before.rows);
      expect(after.users).toEqual(before.users);
      expect(after.senders).toEqual(before.senders);
      expect(after.account).toEqual(before.account);
      // Every row of the second run, checked as the first ones.
      expect(await snapshot(neighbour.account.id)).toEqual(neighbourBefore);
      const second = after.rows.slice(before.rows.length);
      for (const r of second) expect(analyzeSms(r.message)).toMatchObject({ encoding: r.encoding, parts: r.parts });
    });

    it('an account that stores no texts gets demo rows without texts, as its own messages are kept', async () => {
      const secret = await seedCustomerWithAccount(ctx.app);
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, secret.account.name, { storeText: false });
      await demo(secret, 200, 'review-secret');
      const page = await getJson<{ data: { message: string | null }[] }>(
        ctx,
        `/api/v1/accounts/${secret.account.name}/outgoing?limit=200`,
        secret.auth,
      );
      expect(page.data).toHaveLength(200);
      expect(page.data.filter((o) => o.message !== null)).toEqual([]);
    });

    it('deleting the demo’s pending messages gives back no credits it never took', async () => {
      const before = await credits(fresh);
      const pending = (await rowsOf(fresh.account.id)).filter((r) => r.status === 'pending');
      expect(pending.length).toBeGreaterThan(0);
      const res = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${fresh.account.name}/outgoing/delete`,
        headers: fresh.auth,
        payload: { filter: { status: 'pending' } },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().deleted).toBe(pending.length);
      expect(res.json().refundedCredits ?? 0).toBe(0);
      expect(await credits(fresh)).toBe(before);
    });

    it('the dispatcher’s housekeeping finds nothing to change in a fresh demo history (no `sent` message past its receipt’s time)', async () => {
      const stale = (await rowsOf(fresh.account.id)).filter(
        (r) => r.status === 'sent' && r.valid_until !== null && r.valid_until < DEMO_NOW - RECEIPT_GRACE_MS,
      );
      expect(stale.map((r) => ({ id: r.id, created: new Date(r.created_at).toISOString() })).slice(0, 5)).toEqual([]);
      const statuses = async () => (await rowsOf(fresh.account.id)).map((r) => r.status);
      const before = await statuses();
      await createDispatchRepository(ctx.database).expireUnconfirmed(DEMO_NOW, 100_000);
      expect(await statuses()).toEqual(before);
    });
  },
  { config: fastAuthConfig },
);
