import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import type { App } from '../../app.js';
import { SYSTEM_ACTOR } from '../accounts/accounts.service.js';

let seq = 0;

/** Account numbers of this run: a random start, then one each. */
const NAME_BASE = 10_000 + Math.floor(Math.random() * 80_000);

/** A customer with an account and a bearer token for it. */
async function seedAccount(app: App, options: { userLogin?: string } = {}) {
  seq += 1;
  const s = app.services;
  const email = `owner${seq}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const customer = await s.customers.create({ email, password: 'correct horse battery' });
  // Unique within the run (a random offset each, as before, collided once in a few hundred runs).
  const name = `sms-hi${String(NAME_BASE + seq).padStart(5, '0')}-1`;
  const account = await s.accounts.create({ name, ownerEmail: email, timezone: 'Europe/Paris', credits: 100 });
  if (options.userLogin) await s.smsUsers.create(SYSTEM_ACTOR, name, { login: options.userLogin, password: 'a-long-password-1' });
  const { bearer } = await s.apiTokens.create(SYSTEM_ACTOR, name, {});
  const scoped = options.userLogin ? (await s.apiTokens.create(SYSTEM_ACTOR, name, { userLogin: options.userLogin })).bearer : null;
  return {
    account,
    customer,
    headers: { authorization: `Bearer ${bearer}` },
    scopedHeaders: scoped ? { authorization: `Bearer ${scoped}` } : null,
  };
}

describeEachDialectWithApp(
  'history routes',
  (ctx) => {
    let main: Awaited<ReturnType<typeof seedAccount>>;
    let other: Awaited<ReturnType<typeof seedAccount>>;
    let ids: number[];
    const base = Date.parse('2014-11-29T11:25:43Z'); // 12:25:43 in Paris

    beforeAll(async () => {
      main = await seedAccount(ctx.app, { userLogin: 'apiuser' });
      other = await seedAccount(ctx.app);
      const a = main.account.id;
      ids = await insertOutgoing(ctx.database, [
        buildOutgoing({
          account_id: a,
          created_at: base,
          sender: 'OVH',
          receiver: '+33612345678',
          message: 'Mon\nmessage',
          status: 'sent',
          user_login: 'apiuser',
          channel: 'http2sms',
        }),
        buildOutgoing({
          account_id: a,
          created_at: base + 60_000,
          sender: 'Promo',
          receiver: '+33700000001',
          message: '=HYPERLINK("http://x")',
          status: 'failed',
          channel: 'api',
          user_login: 'apiuser',
        }),
        buildOutgoing({
          account_id: a,
          created_at: base + 120_000,
          sender: 'INFO',
          receiver: '+32470000000',
          message: 'Il a dit "bonjour"; ok',
          status: 'delivered',
          channel: 'manager',
        }),
        buildOutgoing({
          account_id: a,
          created_at: base + 180_000,
          sender: 'OVH',
          receiver: '+33612345679',
          message: 'Rendez-vous à 10h',
          status: 'pending',
          channel: 'api',
          user_login: 'crm',
          credits: 2,
        }),
      ]);
      await insertOutgoing(ctx.database, [buildOutgoing({ account_id: other.account.id, message: 'not yours' })]);
    });

    const get = (url: string, headers: Record<string, string> = main.headers) => ctx.app.inject({ method: 'GET', url, headers });
    const path = (suffix = '') => `/api/v1/accounts/${main.account.name}/outgoing${suffix}`;

    it('needs authentication', async () => {
      const res = await ctx.app.inject({ method: 'GET', url: path() });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('UNAUTHENTICATED');
    });

    it('lists the history newest first with every field, and an exact total', async () => {
      const res = await get(path());
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.data.map((r: { message: string }) => r.message)).toEqual([
        'Rendez-vous à 10h',
        'Il a dit "bonjour"; ok',
        '=HYPERLINK("http://x")',
        'Mon\nmessage',
      ]);
      expect(body).toMatchObject({ total: 4, totalIsExact: true, nextCursor: null, prevCursor: null });
      expect(body.data[3]).toMatchObject({
        id: ids[0],
        createdAt: '2014-11-29T12:25:43+01:00',
        sender: 'OVH',
        receiver: '+33612345678',
        status: 'sent',
        user: 'apiuser',
        channel: 'http2sms',
        parts: 1,
        credits: 1,
        ptt: 0,
      });
      expect(body.data[1].user).toBeNull();
    });

    it('filters and sorts from the query string', async () => {
      const messages = async (qs: string) => (await get(path(`?${qs}`))).json().data.map((r: { message: string }) => r.message);
      expect(await messages('user=apiuser&sort=-receiver')).toEqual(['=HYPERLINK("http://x")', 'Mon\nmessage']);
      expect(await messages('user=-')).toEqual(['Il a dit "bonjour"; ok']);
      expect(await messages('status=failed,pending&sort=sender')).toEqual(['Rendez-vous à 10h', '=HYPERLINK("http://x")']);
      expect(await messages('receiver=%2B336*')).toEqual(['Rendez-vous à 10h', 'Mon\nmessage']);
      expect(await messages('q=BONJOUR')).toEqual(['Il a dit "bonjour"; ok']);
      expect(await messages('channel=api&tag=')).toEqual(['Rendez-vous à 10h', '=HYPERLINK("http://x")']);
      expect(await messages('from=2014-11-29T12:26:43&to=2014-11-29T12:27:43')).toEqual([
        'Il a dit "bonjour"; ok',
        '=HYPERLINK("http://x")',
      ]);
      expect(await messages('sort=%2Bdate&limit=1')).toEqual(['Mon\nmessage']);
    });

    it('pages with cursors', async () => {
      const first = (await get(path('?limit=3'))).json();
      expect(first.data).toHaveLength(3);
      const second = (await get(path(`?limit=3&cursor=${first.nextCursor}`))).json();
      expect(second.data.map((r: { id: number }) => r.id)).toEqual([ids[0]]);
      expect(second.nextCursor).toBeNull();
      const back = (await get(path(`?limit=3&cursor=${second.prevCursor}`))).json();
      expect(back.data).toEqual(first.data);
    });

    it('answers bad input with a clear 4xx, never a 500', async () => {
      const cases: [string, number, string][] = [
        ['?sort=price', 400, 'INVALID_SORT'],
        ['?cursor=garbage!', 400, 'INVALID_CURSOR'],
        ['?cursor=WyJhIiwxLDEsIngiXQ', 400, 'INVALID_CURSOR'],
        ['?from=2014-13-01', 400, 'INVALID_FILTER'],
        ['?from=yesterday', 400, 'INVALID_FILTER'],
        ['?status=lost', 400, 'INVALID_FILTER'],
        ['?channel=fax', 400, 'INVALID_FILTER'],
        ['?receiver=abc', 400, 'INVALID_FILTER'],
        ['?limit=0', 400, 'VALIDATION_FAILED'],
        ['?limit=1001', 400, 'VALIDATION_FAILED'],
        ['?limit=ten', 400, 'VALIDATION_FAILED'],
        ['?statut=sent', 400, 'VALIDATION_FAILED'],
        ['?q=a%00b', 400, 'VALIDATION_FAILED'],
        ['?sender=%00', 400, 'VALIDATION_FAILED'],
        ['/abc', 400, 'VALIDATION_FAILED'],
        ['/999999999', 404, 'MESSAGE_NOT_FOUND'],
      ];
      for (const [suffix, status, code] of cases) {
        const res = await get(path(suffix));
        expect([suffix, res.statusCode, res.json().error.code]).toEqual([suffix, status, code]);
        expect(res.json().error.message.length).toBeGreaterThan(5);
      }
      const unknown = await get('/api/v1/accounts/sms-no00000-1/outgoing');
      expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
      const statut = await get(path('?statut=sent'));
      expect(statut.json().error.message).toContain('statut');
    });

    it('answers any query string with a 200 or a clear 4xx, never a 5xx (fuzzed)', async () => {
      const names = fc.constantFrom(
        'user',
        'channel',
        'sender',
        'receiver',
        'status',
        'tag',
        'from',
        'to',
        'q',
        'ids',
        'sort',
        'limit',
        'cursor',
        'format',
        'all',
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(names, fc.string({ unit: 'grapheme', maxLength: 30 })), { maxLength: 4 }),
          fc.boolean(),
          async (pairs, csv) => {
            const qs = pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
            const res = await get(path(`${csv ? '.csv' : ''}?${qs}`));
            expect(res.statusCode).toBeLessThan(500);
            if (res.statusCode >= 400) expect(res.json().error.message).toBeTruthy();
          },
        ),
        { numRuns: 150, seed: 20261125 },
      );
    });

    it('downloads the CSV in exactly the seed format, formulas neutralised, phone numbers untouched', async () => {
      const res = await get(path('.csv?user=apiuser&sort=%2Bdate'));
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(res.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="${main.account.name}-history-\\d{8}\\.csv"$`));
      expect(res.body).toBe(
        'date;sender;receiver;message;status\n' +
          '"20141129122543";"OVH";"+33612345678";"Mon\nmessage";"sent"\n' +
          '"20141129122643";"Promo";"+33700000001";"\'=HYPERLINK(""http://x"")";"failed"\n',
      );
      const quoted = await get(path('.csv?q=bonjour'));
      expect(quoted.body.split('\n')[1]).toBe('"20141129122743";"INFO";"+32470000000";"Il a dit ""bonjour""; ok";"delivered"');
    });

    it('limits the CSV to the most recent rows unless all=true, and offers the detailed format and JSON lines', async () => {
      const limited = await get(path('.csv'));
      expect(
        limited.body
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.slice(1, 15)),
      ).toEqual(['20141129122843', '20141129122743']);
      const all = await get(path('.csv?all=true'));
      expect(all.body.match(/^"2014/gm)).toHaveLength(4);
      // all=true with a limit: the limit wins (as the CLI's --all --limit N), in either order.
      for (const query of ['all=true&limit=3', 'limit=3&all=true']) {
        const capped = await get(path(`.csv?${query}`));
        expect(capped.statusCode, query).toBe(200);
        expect(
          capped.body
            .trim()
            .split('\n')
            .slice(1)
            .map((l) => l.slice(1, 15)),
          query,
        ).toEqual(['20141129122843', '20141129122743', '20141129122643']);
      }
      const detailed = await get(path('.csv?format=detailed&status=failed'));
      expect(detailed.body.split('\n')[0]).toBe(
        'id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt;user;channel;status',
      );
      expect(detailed.body.split('\n')[1]).toContain(`"${ids[1]}";"2014-11-29 12:26:43";"Promo"`);
      const jsonl = await get(path('.jsonl?status=sent'));
      expect(jsonl.headers['content-type']).toContain('application/x-ndjson');
      const lines = jsonl.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ id: ids[0], message: 'Mon\nmessage', status: 'sent' });
      const bad = await get(path('.csv?format=xls'));
      expect(bad.statusCode).toBe(400);
    });

    it('exports a history of several batches and chunks whole, in order, every row once', async () => {
      const big = await seedAccount(ctx.app);
      const count = 2_345;
      const text = (i: number) => `Message n°${i} ${'é'.repeat(i % 7)}${'x'.repeat(120)}`;
      await insertOutgoing(
        ctx.database,
        Array.from({ length: count }, (_, i) =>
          buildOutgoing({ account_id: big.account.id, created_at: base + i * 1000, message: text(i), status: 'sent' }),
        ),
      );
      const url = `/api/v1/accounts/${big.account.name}/outgoing`;
      const csv = (await get(`${url}.csv?all=true`, big.headers)).body.split('\n');
      expect(csv[0]).toBe('date;sender;receiver;message;status');
      expect(csv.slice(1, -1).map((l) => l.split(';')[3])).toEqual(Array.from({ length: count }, (_, i) => `"${text(count - 1 - i)}"`));
      expect(csv.at(-1)).toBe('');
      const jsonl = (await get(`${url}.jsonl?sort=%2Bdate`, big.headers)).body.trim().split('\n');
      expect(jsonl.map((l) => JSON.parse(l).message)).toEqual(Array.from({ length: count }, (_, i) => text(i)));
    });

    it('lists the SMS user logins of the history, a deleted user’s and one never created included; a user token its own only', async () => {
      // 'crm' has rows but no SMS user (deleted since, or a demo row); the Manager's messages have none.
      expect((await get(path('/users'))).json()).toEqual({ data: ['apiuser', 'crm'] });
      expect((await get(path('/users'), main.scopedHeaders!)).json()).toEqual({ data: ['apiuser'] });
      expect((await get(`/api/v1/accounts/${other.account.name}/outgoing/users`, other.headers)).json()).toEqual({ data: [] });
      const foreign = await get(`/api/v1/accounts/${main.account.name}/outgoing/users`, other.headers);
      expect([foreign.statusCode, foreign.json().error.code]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    });

    it('gives an SMS-user-scoped token only that user’s messages', async () => {
      const res = await get(path(), main.scopedHeaders!);
      expect(res.json().data.map((r: { user: string }) => r.user)).toEqual(['apiuser', 'apiuser']);
      expect((await get(path(`/${ids[2]}`), main.scopedHeaders!)).statusCode).toBe(404);
      const csv = await get(path('.csv?all=true'), main.scopedHeaders!);
      expect(csv.body).not.toContain('bonjour');
    });

    it('never lets another customer see or delete the account’s messages', async () => {
      const theirs = other.headers;
      const account = main.account.name;
      const routes: [string, string, unknown?][] = [
        ['GET', `/api/v1/accounts/${account}/outgoing`],
        ['GET', `/api/v1/accounts/${account}/outgoing/count`],
        ['GET', `/api/v1/accounts/${account}/outgoing/users`],
        ['GET', `/api/v1/accounts/${account}/outgoing/${ids[0]}`],
        ['DELETE', `/api/v1/accounts/${account}/outgoing/${ids[0]}`],
        ['POST', `/api/v1/accounts/${account}/outgoing/delete`, { ids: [ids[0]] }],
        ['POST', `/api/v1/accounts/${account}/outgoing/delete`, { filter: {} }],
        ['GET', `/api/v1/accounts/${account}/outgoing/delete-jobs/1`],
        ['GET', `/api/v1/accounts/${account}/outgoing.csv?all=true`],
        ['GET', `/api/v1/accounts/${account}/outgoing.jsonl`],
        ['GET', `/api/v1/accounts/${account}/deletions`],
      ];
      for (const [method, url, payload] of routes) {
        const res = await ctx.app.inject({ method: method as 'GET', url, headers: theirs, payload: payload as object });
        expect([method, url, res.statusCode, res.json().error.code]).toEqual([method, url, 404, 'ACCOUNT_NOT_FOUND']);
      }
      // Their own account, with our message ids: not found, and nothing deleted.
      const mine = `/api/v1/accounts/${other.account.name}/outgoing`;
      expect((await get(`${mine}/${ids[0]}`, theirs)).statusCode).toBe(404);
      expect((await ctx.app.inject({ method: 'DELETE', url: `${mine}/${ids[0]}`, headers: theirs })).statusCode).toBe(404);
      const res = await ctx.app.inject({ method: 'POST', url: `${mine}/delete`, headers: theirs, payload: { ids } });
      expect(res.json()).toEqual({ deleted: 0, refundedCredits: 0 });
      expect((await get(path())).json().total).toBe(4);
    });

    it('filters by ids (comma-separated or repeated): the rows that exist and the caller may see, with the other filters', async () => {
      const own = await seedAccount(ctx.app, { userLogin: 'apiuser' });
      const a = own.account.id;
      const [x, y, z, gone] = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: a, created_at: base, sender: 'B', status: 'sent', user_login: 'apiuser' }),
        buildOutgoing({ account_id: a, created_at: base + 1000, sender: 'A', status: 'failed' }),
        buildOutgoing({ account_id: a, created_at: base + 2000, sender: 'C', status: 'delivered', user_login: 'apiuser' }),
        buildOutgoing({ account_id: a, created_at: base + 3000, sender: 'D', status: 'delivered' }),
      ]);
      const list = `/api/v1/accounts/${own.account.name}/outgoing`;
      expect((await ctx.app.inject({ method: 'DELETE', url: `${list}/${gone}`, headers: own.headers })).statusCode).toBe(204);
      const foreign = ids[0];
      const asked = [x, y, z, gone, foreign, 999_999_999];
      const found = async (qs: string, headers = own.headers) => {
        const res = await get(`${list}?${qs}`, headers);
        expect(res.statusCode, res.body).toBe(200);
        return res.json().data.map((r: { id: number }) => r.id);
      };
      expect(await found(`ids=${asked.join(',')}`)).toEqual([z, y, x]);
      expect(await found(asked.map((id) => `ids=${id}`).join('&'))).toEqual([z, y, x]);
      expect(await found(`ids=${x},${y}&ids=${z}&sort=sender`)).toEqual([y, x, z]);
      expect(await found(`ids=${asked.join(',')}&status=sent,delivered&limit=1`)).toEqual([z]);
      expect(await found(`ids=${asked.join(',')}`, own.scopedHeaders!)).toEqual([z, x]);
      expect(await found(`ids=${gone},${foreign}`)).toEqual([]);
      expect((await get(`${list}/count?ids=${asked.join(',')}`, own.headers)).json()).toEqual({ total: 3 });
      const thousand = [...Array.from({ length: 999 }, (_, i) => 1_000_000_000 + i), y].join(',');
      expect(await found(`ids=${thousand}`)).toEqual([y]);
      const csv = await get(`${list}.csv?ids=${y},${z}&sort=%2Bdate`, own.headers);
      expect(
        csv.body
          .trim()
          .split('\n')
          .map((line) => line.split(';')[1]),
      ).toEqual(['sender', '"A"', '"C"']);

      const bad: [string, string][] = [
        ['ids=abc', 'INVALID_FILTER'],
        ['ids=0', 'INVALID_FILTER'],
        ['ids=1.5', 'INVALID_FILTER'],
        ['ids=-3', 'INVALID_FILTER'],
        ['ids=99999999999999999', 'INVALID_FILTER'],
        ['ids=', 'INVALID_FILTER'],
        [`ids=${Array.from({ length: 1001 }, (_, i) => i + 1).join(',')}`, 'TOO_MANY_IDS'],
      ];
      for (const [qs, code] of bad) {
        const res = await get(`${list}?${qs}`, own.headers);
        expect([qs.slice(0, 30), res.statusCode, res.json().error.code]).toEqual([qs.slice(0, 30), 400, code]);
        expect(res.json().error.message).toContain('ids');
      }

      // Deleting by a filter of ids deletes only the caller's own rows among them.
      const del = await ctx.app.inject({
        method: 'POST',
        url: `${list}/delete`,
        headers: own.headers,
        payload: { filter: { ids: [y, foreign] } },
      });
      expect(del.json()).toEqual({ deleted: 1 });
      expect(await found(`ids=${asked.join(',')}`)).toEqual([z, x]);
      expect((await get(path(`/${foreign}`))).statusCode).toBe(200);
      const empty = await ctx.app.inject({ method: 'POST', url: `${list}/delete`, headers: own.headers, payload: { filter: { ids: [] } } });
      expect([empty.statusCode, empty.json().error.code]).toEqual([400, 'INVALID_FILTER']);
      expect(await found(`ids=${asked.join(',')}`)).toEqual([z, x]);
    });

    describe('deleting', () => {
      it('deletes one, several by id, and by filter; a pending one gives its credits back; all audited', async () => {
        const a = main.account.name;
        const del = (payload: unknown) =>
          ctx.app.inject({ method: 'POST', url: path('/delete'), headers: main.headers, payload: payload as object });
        expect((await del({})).statusCode).toBe(400);
        expect((await del({ ids: [1], filter: {} })).statusCode).toBe(400);
        expect((await del({ ids: Array.from({ length: 10_001 }, (_, i) => i + 1) })).json().error.code).toBe('TOO_MANY_IDS');
        expect((await del({ filter: { status: 'nope' } })).json().error.code).toBe('INVALID_FILTER');

        const before = (await get(`/api/v1/accounts/${a}`)).json();
        const one = await ctx.app.inject({ method: 'DELETE', url: path(`/${ids[3]}`), headers: main.headers });
        expect(one.statusCode).toBe(204);
        expect((await get(path(`/${ids[3]}`))).statusCode).toBe(404);
        const after = (await get(`/api/v1/accounts/${a}`)).json();
        expect(after.credits).toBe(before.credits + 2);

        expect((await del({ ids: [ids[0], ids[1]] })).json()).toEqual({ deleted: 2, refundedCredits: 0 });
        // Deleting nothing (an unknown id, ids already gone) is no deletion: nothing is audited.
        expect((await ctx.app.inject({ method: 'DELETE', url: path(`/${ids[3]}`), headers: main.headers })).statusCode).toBe(404);
        expect((await del({ ids: [ids[0], 999_999_999] })).json()).toEqual({ deleted: 0, refundedCredits: 0 });
        expect((await del({ filter: { channel: 'manager' } })).json()).toEqual({ deleted: 1 });
        expect((await get(path())).json().total).toBe(0);

        const audit = (await get(`/api/v1/accounts/${a}/deletions`)).json().data;
        expect(audit.map((e: { kind: string; count: number }) => [e.kind, e.count])).toEqual([
          ['filter', 1],
          ['ids', 2],
          ['ids', 1],
        ]);
        expect(audit[0].actor).toMatch(/^token:\d+$/);
        expect(JSON.stringify(audit)).not.toContain('bonjour');
      });
    });

    it('describes the API in OpenAPI at /api/docs', async () => {
      const res = await ctx.app.inject({ method: 'GET', url: '/api/docs/json' });
      expect(res.statusCode).toBe(200);
      const paths = Object.keys(res.json().paths);
      expect(paths).toContain('/api/v1/accounts/{account}/outgoing');
      expect(paths).toContain('/api/v1/accounts/{account}/outgoing.csv');
      // The docs page is HTML on the Manager's origin: a CSP of its own, never framed, nothing upgraded.
      const page = await ctx.app.inject({ method: 'GET', url: '/api/docs/' });
      expect(page.statusCode).toBe(200);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('upgrade-insecure-requests');
    });
  },
  { config: { csvDownloadLimit: 2, argon2TestFast: true } as never },
);
