import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { bearer, createSmsUser, createToken, type SeededAccount, seedCustomerWithAccount, signIn } from '../../../../test/factories.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import type { DailyCounts, StatsResponse } from '../../../shared/stats.js';
import { OUTGOING_STATUSES } from '../../../shared/status.js';

/** "Now" for these tests: 2024-10-29 11:00 in Paris, two days after clocks went back. */
const NOW = Date.parse('2024-10-29T11:00:00+01:00');
const at = (iso: string) => Date.parse(iso);

/** A day's non-zero counts, e.g. `{ delivered: 2, failed: 1 }`. */
function counts(day: DailyCounts | undefined): Record<string, number> {
  expect(day).toBeDefined();
  return Object.fromEntries(OUTGOING_STATUSES.filter((s) => day![s] !== 0).map((s) => [s, day![s]]));
}

const byDay = (body: StatsResponse, day: string) => counts(body.days.find((d) => d.day === day));

describeEachDialectWithApp(
  'stats routes',
  (ctx) => {
    let main: SeededAccount;
    let other: SeededAccount;
    let userHeaders: { authorization: string };
    let ids: number[];

    beforeAll(async () => {
      main = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris' } });
      other = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris' } });
      await createSmsUser(ctx.app, main.account, { login: 'apiuser' });
      userHeaders = bearer(await createToken(ctx.app, main.account, { user: 'apiuser' }));
      const a = main.account.id;
      ids = await insertOutgoing(ctx.database, [
        // Around the end of summer time in Paris (2024-10-27 lasts 25 hours).
        buildOutgoing({ account_id: a, created_at: at('2024-10-26T23:59:59+02:00'), status: 'pending', channel: 'smpp' }),
        buildOutgoing({
          account_id: a,
          created_at: at('2024-10-27T00:30:00+02:00'),
          status: 'delivered',
          user_login: 'apiuser',
          channel: 'api',
        }),
        buildOutgoing({
          account_id: a,
          created_at: at('2024-10-27T02:30:00+02:00'),
          status: 'failed',
          channel: 'smpp',
          receiver: '+32470000001',
        }),
        buildOutgoing({
          account_id: a,
          created_at: at('2024-10-27T02:30:00+01:00'),
          status: 'delivered',
          user_login: 'apiuser',
          channel: 'api',
        }),
        buildOutgoing({
          account_id: a,
          created_at: at('2024-10-27T23:30:00+01:00'),
          status: 'sent',
          user_login: 'crm',
          message: 'Votre rendez-vous demain',
        }),
        buildOutgoing({ account_id: a, created_at: at('2024-10-28T00:00:00+01:00'), status: 'expired', tag: 'promo' }),
        buildOutgoing({ account_id: a, created_at: at('2024-10-29T09:00:00+01:00'), status: 'canceled' }),
        // The edges of the default period (2024-09-30 to today).
        buildOutgoing({ account_id: a, created_at: at('2024-09-29T23:59:59+02:00'), status: 'delivered' }),
        buildOutgoing({ account_id: a, created_at: at('2024-09-30T00:00:00+02:00'), status: 'delivered' }),
        // Around the start of summer time (2024-03-31 lasts 23 hours).
        buildOutgoing({ account_id: a, created_at: at('2024-03-30T23:59:59+01:00'), status: 'failed' }),
        buildOutgoing({ account_id: a, created_at: at('2024-03-31T00:00:00+01:00'), status: 'delivered' }),
        buildOutgoing({ account_id: a, created_at: at('2024-03-31T03:00:00+02:00'), status: 'delivered' }),
        buildOutgoing({ account_id: a, created_at: at('2024-03-31T23:59:59+02:00'), status: 'sent' }),
        buildOutgoing({ account_id: a, created_at: at('2024-04-01T00:00:00+02:00'), status: 'sent' }),
      ]);
      await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: other.account.id, created_at: at('2024-10-27T12:00:00+01:00'), status: 'failed' }),
      ]);
    });

    const stats = (qs = '', headers: Record<string, string> = main.auth, account = main.account.name) =>
      ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${account}/stats${qs ? `?${qs}` : ''}`, headers });
    const body = async (qs = '', headers?: Record<string, string>) => {
      const res = await stats(qs, headers);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as StatsResponse;
    };

    it('needs authentication', async () => {
      const res = await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${main.account.name}/stats` });
      expect([res.statusCode, res.json().error.code]).toEqual([401, 'UNAUTHENTICATED']);
    });

    it('gives the last 30 days of the account calendar by default, every day present, zeros included', async () => {
      const b = await body();
      expect(b).toMatchObject({ timeZone: 'Europe/Paris', from: '2024-09-30', to: '2024-10-29' });
      expect(b.days).toHaveLength(30);
      expect(b.days[0]).toEqual({ day: '2024-09-30', pending: 0, sent: 0, delivered: 1, failed: 0, expired: 0, canceled: 0 });
      expect(b.days[1]).toEqual({ day: '2024-10-01', pending: 0, sent: 0, delivered: 0, failed: 0, expired: 0, canceled: 0 });
      expect(b.days.map((d) => d.day).slice(-4)).toEqual(['2024-10-26', '2024-10-27', '2024-10-28', '2024-10-29']);
      expect(byDay(b, '2024-10-29')).toEqual({ canceled: 1 });
    });

    it('counts per calendar day in the account timezone across both DST changes', async () => {
      const autumn = await body('from=2024-10-26&to=2024-10-28');
      expect(autumn.days.map((d) => [d.day, counts(d)])).toEqual([
        ['2024-10-26', { pending: 1 }],
        ['2024-10-27', { sent: 1, delivered: 2, failed: 1 }],
        ['2024-10-28', { expired: 1 }],
      ]);
      const spring = await body('from=2024-03-30&to=2024-04-01');
      expect(spring.days.map((d) => [d.day, counts(d)])).toEqual([
        ['2024-03-30', { failed: 1 }],
        ['2024-03-31', { sent: 1, delivered: 2 }],
        ['2024-04-01', { sent: 1 }],
      ]);
    });

    it('applies the filters of the history', async () => {
      const period = 'from=2024-10-26&to=2024-10-28';
      expect(byDay(await body(`${period}&status=delivered,failed`), '2024-10-27')).toEqual({ delivered: 2, failed: 1 });
      expect(byDay(await body(`${period}&user=apiuser`), '2024-10-27')).toEqual({ delivered: 2 });
      expect(byDay(await body(`${period}&channel=smpp`), '2024-10-26')).toEqual({ pending: 1 });
      expect(byDay(await body(`${period}&channel=smpp`), '2024-10-27')).toEqual({ failed: 1 });
      expect(byDay(await body(`${period}&receiver=%2B32*`), '2024-10-27')).toEqual({ failed: 1 });
      expect(byDay(await body(`${period}&q=RENDEZ-VOUS`), '2024-10-27')).toEqual({ sent: 1 });
      expect(byDay(await body(`${period}&tag=promo`), '2024-10-28')).toEqual({ expired: 1 });
      expect(byDay(await body(`${period}&ids=${ids[1]},${ids[2]}`), '2024-10-27')).toEqual({ delivered: 1, failed: 1 });
      // A datetime counts from or up to that instant within its day.
      const hours = await body('from=2024-10-27T02:00:00%2B01:00&to=2024-10-28T00:00:00');
      expect(hours.days.map((d) => [d.day, counts(d)])).toEqual([
        ['2024-10-27', { sent: 1, delivered: 1 }],
        ['2024-10-28', { expired: 1 }],
      ]);
    });

    it('ends the period today without `to`, and starts it 29 days before its end without `from`', async () => {
      expect(await body('from=2024-10-20')).toMatchObject({ from: '2024-10-20', to: '2024-10-29' });
      const ending = await body('to=2024-10-27');
      expect(ending).toMatchObject({ from: '2024-09-28', to: '2024-10-27' });
      expect(ending.days).toHaveLength(30);
      expect(await body('from=2024-11-02')).toMatchObject({ from: '2024-11-02', to: '2024-11-02' });
    });

    it('refuses a period longer than 400 days, and bad dates, with a clear 400', async () => {
      const longest = await body('from=2023-09-26&to=2024-10-29');
      expect(longest.days).toHaveLength(400);
      const cases: [string, string][] = [
        ['from=2023-09-25&to=2024-10-29', 'PERIOD_TOO_LONG'],
        ['from=2020-01-01', 'PERIOD_TOO_LONG'],
        ['from=2024-02-30', 'INVALID_FILTER'],
        ['to=yesterday', 'INVALID_FILTER'],
        ['from=2024-10-29&to=2024-10-01', 'INVALID_FILTER'],
        ['status=lost', 'INVALID_FILTER'],
        ['ids=12,abc', 'INVALID_FILTER'],
        ['sort=date', 'VALIDATION_FAILED'],
      ];
      for (const [qs, code] of cases) {
        const res = await stats(qs);
        expect([qs, res.statusCode, res.json().error.code]).toEqual([qs, 400, code]);
        expect(res.json().error.message.length).toBeGreaterThan(10);
      }
      expect((await stats('from=2023-09-25&to=2024-10-29')).json().error.message).toContain('401 days');
    });

    it('keeps to the caller’s scope: another customer gets 404, an SMS-user token counts only its user', async () => {
      for (const headers of [other.auth, (await signIn(ctx.app, other.customer.email)).headers]) {
        const res = await stats('', headers);
        expect([res.statusCode, res.json().error.code]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
      }
      const own = await body('from=2024-10-27&to=2024-10-27', (await signIn(ctx.app, main.customer.email)).headers);
      expect(byDay(own, '2024-10-27')).toEqual({ sent: 1, delivered: 2, failed: 1 });
      const scoped = await body('from=2024-10-26&to=2024-10-28', userHeaders);
      expect(scoped.days.map((d) => [d.day, counts(d)])).toEqual([
        ['2024-10-26', {}],
        ['2024-10-27', { delivered: 2 }],
        ['2024-10-28', {}],
      ]);
      expect(byDay(await body('from=2024-10-27&to=2024-10-27&user=crm', userHeaders), '2024-10-27')).toEqual({});
      const theirs = (await stats('from=2024-10-27&to=2024-10-27', other.auth, other.account.name)).json() as StatsResponse;
      expect(byDay(theirs, '2024-10-27')).toEqual({ failed: 1 });
    });

    it('answers any query string with a 200 or a clear 4xx, never a 5xx (fuzzed)', async () => {
      const names = fc.constantFrom('user', 'channel', 'sender', 'receiver', 'status', 'tag', 'from', 'to', 'q', 'ids');
      const values = fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 30 }),
        fc.constantFrom('2024-10-27', '2024-10-27T02:30:00', '2024-03-31T02:30', '1970-01-01', '9999-12-31', '2024-02-29', '1,2,3', '+33*'),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(names, values), { maxLength: 4 }), async (pairs) => {
          const res = await stats(pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'));
          expect(res.statusCode).toBeLessThan(500);
          if (res.statusCode >= 400) expect(res.json().error.message).toBeTruthy();
          else expect((res.json() as StatsResponse).days.length).toBeGreaterThan(0);
        }),
        { numRuns: 100, seed: 20261125 },
      );
    });

    it('is described in OpenAPI', async () => {
      const doc = (await ctx.app.inject({ method: 'GET', url: '/api/docs/json' })).json();
      const route = doc.paths['/api/v1/accounts/{account}/stats'];
      expect(route.get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['from', 'to', 'status', 'ids']));
      expect(Object.keys(route.get.responses['200'].content['application/json'].schema.properties)).toEqual([
        'timeZone',
        'from',
        'to',
        'days',
      ]);
    });
  },
  { clock: { now: () => NOW } },
);
