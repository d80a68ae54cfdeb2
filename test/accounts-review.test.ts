/**
 * Adversarial review of managing accounts through the native API (/api/v1) and the `relais` command
 * line: SMS users (logins, passwords, IP restrictions, quotas, callbacks, deletion), senders, API tokens,
 * accounts (credits, timezone, status) and customers. Each test asserts the behaviour the README, the
 * product docs or common sense promise; a failing one shows a bug. Every test runs on both dialects.
 */
import { randomInt } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/server/clock.js';
import type { Account } from '../src/server/modules/accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { waitFor } from '../src/server/modules/dispatch/dispatch-testing.js';
import { composeServices } from '../src/server/services.js';
import { type AppTestContext, describeEachDialectWithApp, testConfig } from './app.js';
import {
  bearer,
  createAccount,
  createCustomer,
  createSender,
  createSmsUser,
  createToken,
  errorOf,
  fastAuthConfig,
  type SeededAccount,
  seedCustomerWithAccount,
  signIn,
  type TestSession,
} from './factories.js';
import { runRelais } from './relais-cli.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Headers = Record<string, string>;

const HTTP2SMS = '/cgi-bin/sms/http2sms.cgi';
const RECEIVER = '+33612345678';

let lastIp = randomInt(0, 50_000);
/** An IPv4 address of its own for each channel request, so that per-address limits never meet. */
const freshIp = () => {
  lastIp++;
  return `10.${90 + (lastIp >> 16)}.${(lastIp >> 8) & 255}.${lastIp & 255}`;
};

/** Helpers bound to one app: API calls, http2sms calls and error checks. */
function helpers(ctx: AppTestContext) {
  async function call(
    method: Method,
    url: string,
    headers: Headers,
    payload?: unknown,
    remoteAddress?: string,
  ): Promise<LightMyRequestResponse> {
    return ctx.app.inject({
      method,
      url,
      headers,
      ...(remoteAddress === undefined ? {} : { remoteAddress }),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  }

  /** An API error: the status, the code, JSON `{ error: { code, message } }`. */
  function expectError(res: LightMyRequestResponse, status: number, code?: string): void {
    expect(res.statusCode, `${res.statusCode} ${res.body.slice(0, 300)}`).toBe(status);
    const body = res.json() as { error?: { code?: string; message?: string } };
    expect(typeof body.error?.message).toBe('string');
    if (code) expect(body.error?.code).toBe(code);
  }

  /**
   * One http2sms request (JSON answer), from `ip`: `{ status, … }`. `from` defaults to a sender no
   * account has, so that a request whose login is accepted stops at the sender (241) and sends nothing.
   */
  async function http2sms(
    account: string,
    login: string,
    password: string,
    options: { from?: string; ip?: string; to?: string } = {},
  ): Promise<{ status: number; message?: string; smsIds?: string[] }> {
    const query = new URLSearchParams({
      account,
      login,
      password,
      from: options.from ?? 'NoSuchOne',
      to: options.to ?? RECEIVER,
      message: 'hello',
      contentType: 'application/json',
    });
    const res = await ctx.app.inject({ method: 'GET', url: `${HTTP2SMS}?${query}`, remoteAddress: options.ip ?? freshIp() });
    return res.json();
  }

  return { call, expectError, http2sms };
}

describeEachDialectWithApp(
  'accounts review: SMS users, senders, tokens and accounts through /api/v1',
  (ctx) => {
    const { call, expectError, http2sms } = helpers(ctx);
    let owner: SeededAccount;
    let session: TestSession;
    let base: string;
    const asOwner = (method: Method, path: string, payload?: unknown) =>
      call(method, `${base}${path}`, method === 'GET' ? session.headers : session.writeHeaders, payload);
    const send = (headers: Headers, payload: Record<string, unknown> = {}, remoteAddress?: string) =>
      call('POST', `${base}/jobs`, headers, { message: 'hello', receivers: [RECEIVER], sender: 'Shop', ...payload }, remoteAddress);

    beforeAll(async () => {
      owner = await seedCustomerWithAccount(ctx.app, { account: { credits: 1000 } });
      session = await signIn(ctx.app, owner.customer.email, owner.password);
      base = `/api/v1/accounts/${owner.account.name}`;
      await createSender(ctx.app, owner.account, { sender: 'Shop' });
    });

    describe('SMS users', () => {
      it('refuses logins the channels cannot carry (":" of SMPP system_id and mail2sms, ";", "=", spaces, "@", "%", unicode), creating nothing', async () => {
        const before = (await asOwner('GET', '/users')).json().length;
        for (const login of [
          'shop:eu',
          'shop;eu',
          'shop=eu',
          'shop eu',
          ' shop',
          'shop ',
          'shop@eu',
          'shop%3A',
          'café-app',
          'shop\tx',
          'ａｐｐ',
        ]) {
          const res = await asOwner('POST', '/users', { login, password: 'a-good-password' });
          expectError(res, 400, 'VALIDATION_FAILED');
        }
        expect((await asOwner('GET', '/users')).json()).toHaveLength(before);
      });

      it('two creations of the same login at once: one 201, the others 409 USER_EXISTS, never a 500; one user stored', async () => {
        const answers = await Promise.all(
          Array.from({ length: 6 }, (_, i) => asOwner('POST', '/users', { login: 'twin', password: `twin-password-${i}` })),
        );
        expect(answers.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409]);
        for (const r of answers.filter((a) => a.statusCode === 409)) expectError(r, 409, 'USER_EXISTS');
        const { rows } = await sql<{
          n: number;
        }>`select count(*) as n from sms_users where account_id = ${owner.account.id} and login = 'twin'`.execute(ctx.database.db);
        expect(Number(rows[0].n)).toBe(1);
        // The password that works is the one the 201 answered for, no other.
        const winner = answers.findIndex((r) => r.statusCode === 201);
        const { user } = await ctx.app.services.smsUsers.authenticate(owner.account.name, 'twin', `twin-password-${winner}`);
        expect(user.login).toBe('twin');
      });

      it('a quota given as "", true or false is refused (400), not read as "no quota", 1 or 0; the quota stays', async () => {
        await createSmsUser(ctx.app, owner.account, { login: 'quoted', quota: 100 });
        for (const quota of ['', true, false]) {
          const res = await asOwner('PATCH', '/users/quoted', { quota });
          expect({ quota, status: res.statusCode }).toEqual({ quota, status: 400 });
          expect((await asOwner('GET', '/users/quoted')).json().quota).toBe(100);
          // Put it back if it was changed, for the next case.
          await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, owner.account.name, 'quoted', { quota: 100 });
        }
        for (const quota of ['', true]) {
          const res = await asOwner('POST', '/users', { login: 'quoted-new', quota });
          expect({ quota, status: res.statusCode }).toEqual({ quota, status: 400 });
          expectError(await asOwner('GET', '/users/quoted-new'), 404, 'USER_NOT_FOUND');
        }
        // null removes it, as documented.
        expect((await asOwner('PATCH', '/users/quoted', { quota: null })).json().quota).toBeNull();
      });

      it('a PATCH that changes nothing answers the user as it is, and its password keeps working', async () => {
        const user = await createSmsUser(ctx.app, owner.account, {
          login: 'steady',
          quota: 7,
          ipRestrictions: ['192.0.2.0/24'],
          callbackUrl: 'https://example.com/cb',
        });
        const before = (await asOwner('GET', '/users/steady')).json();
        for (const payload of [{}, { generatePassword: false }]) {
          const res = await asOwner('PATCH', '/users/steady', payload);
          expect(res.statusCode, res.body).toBe(200);
          expect(res.json()).toEqual(before);
        }
        expect((await http2sms(owner.account.name, 'steady', user.password, { ip: '192.0.2.9' })).status).toBe(241);
      });

      it('IP restrictions: both families, CIDR ranges, IPv4-mapped clients and restrictions; spaces trimmed; bad entries refused whole', async () => {
        const user = await createSmsUser(ctx.app, owner.account, { login: 'fenced' });
        const restrict = (ipRestrictions: unknown) => asOwner('PATCH', '/users/fenced', { ipRestrictions });
        const knock = async (ip: string) => (await http2sms(owner.account.name, 'fenced', user.password, { ip })).status;

        for (const bad of [
          ['10.0.0.0/33'],
          ['2001:db8::/129'],
          ['010.0.0.1'],
          ['10.0.0.1/'],
          ['10.0.0.1/-1'],
          ['10.0.0.1/8/8'],
          ['example.com'],
          ['192.0.2.1', 'nope'],
          [''],
          Array.from({ length: 33 }, (_, i) => `192.0.2.${i}`),
        ]) {
          expectError(await restrict(bad), 400, 'VALIDATION_FAILED');
        }
        expect((await asOwner('GET', '/users/fenced')).json().ipRestrictions).toEqual([]);

        const set = await restrict([' 198.51.100.0/24 ', '198.51.100.0/24', '2001:db8::/32', '::ffff:203.0.113.0/120']);
        expect(set.statusCode, set.body).toBe(200);
        expect(set.json().ipRestrictions).toEqual(['198.51.100.0/24', '2001:db8::/32', '::ffff:203.0.113.0/120']);
        // 241: the login was accepted (and the unknown sender refused); 401: the address was not.
        expect(await knock('198.51.100.77')).toBe(241);
        expect(await knock('::ffff:198.51.100.78')).toBe(241);
        expect(await knock('2001:db8:5::1')).toBe(241);
        expect(await knock('203.0.113.9')).toBe(241);
        expect(await knock('198.51.101.1')).toBe(401);
        expect(await knock('2001:db9::1')).toBe(401);
        expect(await knock('::ffff:192.0.2.1')).toBe(401);

        // The empty list means any address (README: "empty = any").
        expect((await restrict([])).json().ipRestrictions).toEqual([]);
        expect(await knock('192.0.2.200')).toBe(241);
      });

      it('deleting a user: its token and its password stop at once; its messages keep its login, in the list and the user filter', async () => {
        const user = await createSmsUser(ctx.app, owner.account, { login: 'leaver' });
        const token = bearer(await createToken(ctx.app, owner.account, { user: 'leaver' }));
        const sent = await send(token, { message: 'before leaving' });
        expect(sent.statusCode, sent.body).toBe(200);
        expect((await http2sms(owner.account.name, 'leaver', user.password)).status).toBe(241);

        expect((await asOwner('DELETE', '/users/leaver')).statusCode).toBe(204);
        expectError(await call('GET', `${base}/outgoing`, token), 401, 'UNAUTHENTICATED');
        expectError(await send(token), 401, 'UNAUTHENTICATED');
        expect((await http2sms(owner.account.name, 'leaver', user.password)).status).toBe(401);
        // The token is gone from the list, not left behind as a live-looking entry.
        expect((await asOwner('GET', '/tokens')).json().some((t: { user: string | null }) => t.user === 'leaver')).toBe(false);

        const listed = await asOwner('GET', '/outgoing?user=leaver');
        expect(listed.statusCode, listed.body).toBe(200);
        expect(listed.json().data.map((m: { id: number; user: string }) => [m.id, m.user])).toEqual([[sent.json().ids[0], 'leaver']]);
      });

      it('a user-scoped token used from an address outside its user\'s IP restrictions neither sends nor reads (README: "checked … on every channel")', async () => {
        await createSmsUser(ctx.app, owner.account, { login: 'office', ipRestrictions: ['192.0.2.0/24'] });
        const token = bearer(await createToken(ctx.app, owner.account, { user: 'office' }));
        const inside = await send(token, { message: 'from the office' }, '192.0.2.10');
        expect(inside.statusCode, inside.body).toBe(200);
        const credits = (await asOwner('GET', '')).json().credits;

        const outside = await send(token, { message: 'from a stolen token' }, '203.0.113.66');
        expect(outside.statusCode, outside.body).toBeGreaterThanOrEqual(400);
        expect(outside.statusCode).toBeLessThan(500);
        expect((await call('GET', `${base}/outgoing`, token, undefined, '203.0.113.66')).statusCode).toBeGreaterThanOrEqual(400);
        expect((await asOwner('GET', '')).json().credits).toBe(credits);
      });
    });

    describe('senders', () => {
      it('two additions of the same sender at once: one 201, the others 409 SENDER_EXISTS, never a 500', async () => {
        const answers = await Promise.all(Array.from({ length: 6 }, () => asOwner('POST', '/senders', { sender: 'Twin' })));
        expect(answers.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409]);
        for (const r of answers.filter((a) => a.statusCode === 409)) expectError(r, 409, 'SENDER_EXISTS');
      });

      it('validates alphanumeric (≤ 11, a letter) and numeric (≤ 15 digits) senders, and types them', async () => {
        for (const [sender, type] of [
          ['ABCDEFGHIJK', 'alpha'],
          ['A', 'alpha'],
          ['1-2.3 Shop', 'alpha'],
          ['123456789012345', 'numeric'],
          ['+336000', 'numeric'],
        ] as const) {
          const res = await asOwner('POST', '/senders', { sender });
          expect(res.statusCode, `${sender}: ${res.body}`).toBe(201);
          expect(res.json().type).toBe(type);
        }
        for (const sender of ['ABCDEFGHIJKL', '1234567890123456', '...', '- -', 'Shop\u200b', 'Shop!', 'Sh\u00f6p', '+', '']) {
          const res = await asOwner('POST', '/senders', { sender });
          expect(res.statusCode, `${JSON.stringify(sender)}: ${res.body}`).toBe(400);
        }
      });

      it('a sender deleted, or disabled, is refused for sending at once; enabled again, it sends', async () => {
        await createSender(ctx.app, owner.account, { sender: 'Brief' });
        expect((await send(owner.auth, { sender: 'Brief' })).statusCode).toBe(200);
        expect((await asOwner('PATCH', '/senders/Brief', { status: 'disable' })).statusCode).toBe(200);
        expectError(await send(owner.auth, { sender: 'Brief' }), 400, 'INVALID_SENDER');
        expect((await asOwner('PATCH', '/senders/Brief', { status: 'enable' })).statusCode).toBe(200);
        expect((await send(owner.auth, { sender: 'Brief' })).statusCode).toBe(200);
        expect((await asOwner('DELETE', '/senders/Brief')).statusCode).toBe(204);
        expectError(await send(owner.auth, { sender: 'Brief' }), 400, 'INVALID_SENDER');
      });

      it('a sender the operator refused (or that awaits validation) cannot be enabled by its customer or an account token', async () => {
        await createSender(ctx.app, owner.account, { sender: 'Refused' });
        await createSender(ctx.app, owner.account, { sender: 'Waiting' });
        await sql`update senders set status = 'refused' where account_id = ${owner.account.id} and sender = 'Refused'`.execute(
          ctx.database.db,
        );
        await sql`update senders set status = 'waitingValidation' where account_id = ${owner.account.id} and sender = 'Waiting'`.execute(
          ctx.database.db,
        );
        const byOwner = await asOwner('PATCH', '/senders/Refused', { status: 'enable' });
        const byToken = await call('PATCH', `${base}/senders/Waiting`, owner.auth, { status: 'enable' });
        for (const res of [byOwner, byToken]) {
          expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
          expect(res.statusCode, res.body).toBeLessThan(500);
        }
        expect((await asOwner('GET', '/senders/Refused')).json().status).toBe('refused');
        expect((await asOwner('GET', '/senders/Waiting')).json().status).toBe('waitingValidation');
        expectError(await send(owner.auth, { sender: 'Refused' }), 400, 'INVALID_SENDER');
      });
    });

    describe('API tokens', () => {
      it('keeps only an argon2id hash of each secret; revoked tokens stay listed as revoked and revoking again is harmless', async () => {
        const created = await asOwner('POST', '/tokens', { name: '  ci  ' });
        expect(created.statusCode).toBe(201);
        const { id, token, name } = created.json();
        expect(name).toBe('ci');
        const secret = token.slice(`rls_${id}_`.length);
        const row = await ctx.database.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        expect(JSON.stringify(row)).not.toContain(secret);
        expect(row.secret_hash).toMatch(/^\$argon2id\$/);

        expect((await asOwner('DELETE', `/tokens/${id}`)).statusCode).toBe(204);
        expect((await asOwner('DELETE', `/tokens/${id}`)).statusCode).toBe(204);
        const listed = (await asOwner('GET', '/tokens')).json().find((t: { id: number }) => t.id === id);
        expect(listed).toMatchObject({ id, name: 'ci', revokedAt: expect.any(String) });
        expect(listed).not.toHaveProperty('token');
        expectError(await call('GET', base, bearer(token)), 401, 'UNAUTHENTICATED');
        // A token with the secret of another id is nobody's.
        const other = await asOwner('POST', '/tokens', { name: 'other' });
        expectError(await call('GET', base, bearer(`rls_${other.json().id}_${secret}`)), 401, 'UNAUTHENTICATED');
      });

      it("a customer's two accounts: a token of one reaches nothing of the other, and neither does its owner through the wrong account", async () => {
        const second = await createAccount(ctx.app, { owner: owner.customer, credits: 50 });
        await createSmsUser(ctx.app, second, { login: 'elsewhere' });
        await createSender(ctx.app, second, { sender: 'Elsewhere' });
        const secondToken = await createToken(ctx.app, second);
        const secondTokenId = Number(secondToken.split('_')[1]);
        const other = `/api/v1/accounts/${second.name}`;
        for (const [method, url, payload] of [
          ['GET', other, undefined],
          ['GET', `${other}/users`, undefined],
          ['GET', `${other}/users/elsewhere`, undefined],
          ['PATCH', `${other}/users/elsewhere`, { password: 'taken-over-1' }],
          ['DELETE', `${other}/users/elsewhere`, undefined],
          ['GET', `${other}/senders`, undefined],
          ['POST', `${other}/senders`, { sender: 'Intruder' }],
          ['GET', `${other}/credit-changes`, undefined],
          ['POST', `${other}/jobs`, { message: 'x', receivers: [RECEIVER], sender: 'Elsewhere' }],
        ] as const) {
          expectError(await call(method, url, owner.auth, payload), 404, 'ACCOUNT_NOT_FOUND');
        }
        // Through its own account: the other's token id, users and senders are not found there.
        expectError(await asOwner('DELETE', `/tokens/${secondTokenId}`), 404, 'TOKEN_NOT_FOUND');
        expectError(await asOwner('POST', '/tokens', { user: 'elsewhere' }), 404, 'USER_NOT_FOUND');
        expectError(await asOwner('GET', '/senders/Elsewhere'), 404, 'SENDER_NOT_FOUND');
        expect((await call('GET', other, bearer(secondToken))).statusCode).toBe(200);
        expect((await call('GET', `${other}/users/elsewhere`, bearer(secondToken))).statusCode).toBe(200);
        expect((await call('GET', other, bearer(secondToken))).json().credits).toBe(50);
      });
    });

    describe('accounts', () => {
      it("credit changes are dated in the account's timezone, following a change of it; limit 1–1000", async () => {
        const seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 10, timezone: 'Europe/Paris' } });
        const s = await signIn(ctx.app, seeded.customer.email, seeded.password);
        const path = `/api/v1/accounts/${seeded.account.name}`;
        await ctx.app.services.accounts.addCredits(SYSTEM_ACTOR, seeded.account.name, 5, { reason: 'tz' });
        const paris = (await call('GET', `${path}/credit-changes`, s.headers)).json().data;
        expect(paris[0].createdAt).toMatch(/\+0[12]:00$/);
        const patched = await call('PATCH', path, s.writeHeaders, { timezone: 'asia/tokyo' });
        expect(patched.json().timezone).toBe('Asia/Tokyo');
        const tokyo = (await call('GET', `${path}/credit-changes`, s.headers)).json().data;
        expect(tokyo.map((c: { createdAt: string }) => c.createdAt.slice(-6))).toEqual(['+09:00', '+09:00']);
        expect(Date.parse(tokyo[0].createdAt)).toBe(Date.parse(paris[0].createdAt));
        for (const limit of ['0', '1001', '-1', '1.5', 'abc', '']) {
          expectError(await call('GET', `${path}/credit-changes?limit=${limit}`, s.headers), 400, 'VALIDATION_FAILED');
        }
        expect((await call('GET', `${path}/credit-changes?limit=1000`, s.headers)).statusCode).toBe(200);
        for (const timezone of ['Mars/Olympus', 'Europe/Paris ', '+01:00', 'Local', '']) {
          expectError(await call('PATCH', path, s.writeHeaders, { timezone }), 400, 'VALIDATION_FAILED');
        }
        expect((await call('GET', path, s.headers)).json().timezone).toBe('Asia/Tokyo');
      });

      it('an account the operator disabled (status "disable") sends nothing, on the API (account and user tokens) and http2sms', async () => {
        const seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 100 } });
        await createSender(ctx.app, seeded.account, { sender: 'Shop' });
        const user = await createSmsUser(ctx.app, seeded.account, { login: 'worker' });
        const userToken = bearer(await createToken(ctx.app, seeded.account, { user: 'worker' }));
        await sql`update accounts set status = 'disable' where id = ${seeded.account.id}`.execute(ctx.database.db);
        const path = `/api/v1/accounts/${seeded.account.name}`;
        // Read afresh (this read also refreshes what the server remembers of the account for 2 s).
        expect((await call('GET', path, seeded.auth)).json().status).toBe('disable');

        const payload = { message: 'hello', receivers: [RECEIVER], sender: 'Shop' };
        const byAccount = await call('POST', `${path}/jobs`, seeded.auth, payload);
        const byUser = await call('POST', `${path}/jobs`, userToken, payload);
        const byHttp2sms = await http2sms(seeded.account.name, 'worker', user.password, { from: 'Shop' });
        expect({
          api: byAccount.statusCode >= 400 && byAccount.statusCode < 500,
          userToken: byUser.statusCode >= 400 && byUser.statusCode < 500,
          http2sms: byHttp2sms.status !== 100,
        }).toEqual({ api: true, userToken: true, http2sms: true });
        const { rows } = await sql<{ n: number }>`select count(*) as n from outgoing where account_id = ${seeded.account.id}`.execute(
          ctx.database.db,
        );
        expect(Number(rows[0].n)).toBe(0);
        expect((await call('GET', path, seeded.auth)).json().credits).toBe(100);
      });
    });
  },
  { config: fastAuthConfig },
);

describeEachDialectWithApp(
  'accounts review: callback URLs on a server that calls only public addresses',
  (ctx) => {
    const { call, expectError } = helpers(ctx);
    let owner: SeededAccount;
    let base: string;

    beforeAll(async () => {
      owner = await seedCustomerWithAccount(ctx.app);
      base = `/api/v1/accounts/${owner.account.name}`;
      await createSmsUser(ctx.app, owner.account, { login: 'hooked', callbackUrl: 'https://example.com/cb' });
    });

    it('refuses private hosts in every spelling the URL parser normalises (decimal, hex, short, mapped, NAT64, 6to4), changing nothing', async () => {
      for (const callbackUrl of [
        'http://2130706433/',
        'http://0x7f000001/',
        'http://127.1/',
        'http://0/',
        'http://[::]/',
        'http://[::ffff:7f00:1]/',
        'http://[::ffff:10.0.0.1]/',
        'http://[64:ff9b::a9fe:a9fe]/',
        'http://[2002:c0a8:0101::]/',
        'http://[fd12:3456::1]/',
        'http://[fe80::1]/',
        'http://LOCALHOST:8080/',
        'http://app.localhost/',
        'http://100.64.0.1/',
        'http://169.254.169.254/latest/meta-data/',
      ]) {
        const patched = await call('PATCH', `${base}/users/hooked`, owner.auth, { callbackUrl });
        expect({ callbackUrl, status: patched.statusCode }).toEqual({ callbackUrl, status: 400 });
        expectError(patched, 400, 'VALIDATION_FAILED');
        expectError(await call('POST', `${base}/users`, owner.auth, { login: 'hooked-new', callbackUrl }), 400, 'VALIDATION_FAILED');
      }
      expect((await call('GET', `${base}/users/hooked`, owner.auth)).json().callbackUrl).toBe('https://example.com/cb');
      expectError(await call('GET', `${base}/users/hooked-new`, owner.auth), 404, 'USER_NOT_FOUND');
      const ok = await call('PATCH', `${base}/users/hooked`, owner.auth, { callbackUrl: 'https://93.184.215.14:8443/cb?x=1' });
      expect(ok.json().callbackUrl).toBe('https://93.184.215.14:8443/cb?x=1');
    });
  },
  { config: { ...fastAuthConfig, callbackPrivate: false } },
);

describeEachDialectWithApp(
  'accounts review: the command line next to a running server',
  (ctx) => {
    const { call, http2sms } = helpers(ctx);
    let account: Account;
    let other: Account;
    const relais = (...args: string[]) =>
      runRelais({ RELAIS_DATABASE_URL: ctx.database.url, RELAIS_ARGON2_TEST_FAST: '1', RELAIS_CALLBACK_PRIVATE: 'deny' }, ...args);

    beforeAll(async () => {
      const owner = await createCustomer(ctx.app);
      account = await createAccount(ctx.app, { owner, credits: 100 });
      other = await createAccount(ctx.app, { owner, credits: 100 });
    });

    it('relais user delete: the running server refuses its token and its password within 2 s; its messages keep its login', async () => {
      const user = await createSmsUser(ctx.app, account, { login: 'cli-leaver' });
      await createSender(ctx.app, account, { sender: 'Shop' });
      const token = bearer(await createToken(ctx.app, account, { user: 'cli-leaver' }));
      const base = `/api/v1/accounts/${account.name}`;
      const sent = await call('POST', `${base}/jobs`, token, { message: 'hi', receivers: [RECEIVER], sender: 'Shop' });
      expect(sent.statusCode, sent.body).toBe(200);
      // Both verified once, so the server remembers them.
      expect((await http2sms(account.name, 'cli-leaver', user.password)).status).toBe(241);

      const deleted = await relais('user', 'delete', '--account', account.name, '--login', 'cli-leaver', '--json');
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(JSON.parse(deleted.stdout)).toEqual({ account: account.name, login: 'cli-leaver', deleted: true });
      await waitFor(async () => (await call('GET', `${base}/outgoing`, token)).statusCode === 401, 'the token refused', 5_000);
      await waitFor(async () => (await http2sms(account.name, 'cli-leaver', user.password)).status === 401, 'the password refused', 5_000);
      const owned = bearer(await createToken(ctx.app, account));
      const listed = (await call('GET', `${base}/outgoing?user=cli-leaver`, owned)).json().data;
      expect(listed.map((m: { user: string }) => m.user)).toEqual(['cli-leaver']);
    });

    it('relais user update --ip that leaves the client out: http2sms refuses it within 2 s; --ip any lets it in again', async () => {
      const user = await createSmsUser(ctx.app, account, { login: 'cli-fenced' });
      const ip = '198.51.100.44';
      expect((await http2sms(account.name, 'cli-fenced', user.password, { ip })).status).toBe(241);
      const fenced = await relais(
        'user',
        'update',
        '--account',
        account.name,
        '--login',
        'cli-fenced',
        '--ip',
        '192.0.2.0/24,2001:db8::/32',
      );
      expect(fenced.code, fenced.stderr).toBe(0);
      await waitFor(
        async () => (await http2sms(account.name, 'cli-fenced', user.password, { ip })).status === 401,
        'the address refused',
        5_000,
      );
      expect((await http2sms(account.name, 'cli-fenced', user.password, { ip: '192.0.2.5' })).status).toBe(241);
      const opened = await relais('user', 'update', '--account', account.name, '--login', 'cli-fenced', '--ip', 'any', '--json');
      expect(opened.code, opened.stderr).toBe(0);
      expect(JSON.parse(opened.stdout).ipRestrictions).toEqual([]);
      await waitFor(
        async () => (await http2sms(account.name, 'cli-fenced', user.password, { ip })).status === 241,
        'the address let in',
        5_000,
      );
    });

    it("relais token revoke/create across accounts: another account's token id or login is not found, and that token still works", async () => {
      const otherToken = await createToken(ctx.app, other);
      const otherId = otherToken.split('_')[1];
      await createSmsUser(ctx.app, other, { login: 'cli-other' });
      const revoke = await relais('token', 'revoke', '--account', account.name, '--id', otherId);
      expect(revoke.code).toBe(1);
      expect(revoke.stderr).toMatch(/TOKEN_NOT_FOUND/);
      const create = await relais('token', 'create', '--account', account.name, '--user', 'cli-other');
      expect(create.code).toBe(1);
      expect(create.stderr).toMatch(/USER_NOT_FOUND/);
      expect((await call('GET', `/api/v1/accounts/${other.name}`, bearer(otherToken))).statusCode).toBe(200);
      const listed = JSON.parse((await relais('token', 'list', '--account', other.name, '--json')).stdout);
      expect(listed).toEqual([expect.objectContaining({ id: Number(otherId), revokedAt: null, user: null })]);
      expect(JSON.stringify(listed)).not.toContain(otherToken.slice(`rls_${otherId}_`.length));
    });

    it('relais user create/update: a login the channels cannot carry and, by default, a private callback URL are refused; nothing is written', async () => {
      const before = await ctx.database.db.selectFrom('sms_users').select(['id', 'login', 'callback_url']).orderBy('id').execute();
      const refused = await Promise.all([
        relais('user', 'create', '--account', account.name, '--login', 'shop:eu'),
        relais('user', 'create', '--account', account.name, '--login', 'shop;eu'),
        relais('user', 'create', '--account', account.name, '--login', 'cli-private', '--callback-url', 'http://169.254.169.254/'),
        relais('user', 'create', '--account', account.name, '--login', 'cli-private', '--callback-url', 'http://[::ffff:127.0.0.1]:5432/'),
      ]);
      for (const r of refused) {
        expect(r.code, r.stdout + r.stderr).toBe(1);
        expect(r.stderr).toMatch(/^error: [^\n]+\(VALIDATION_FAILED\)\n$/);
      }
      expect(await ctx.database.db.selectFrom('sms_users').select(['id', 'login', 'callback_url']).orderBy('id').execute()).toEqual(before);
    });
  },
  { config: fastAuthConfig },
);

describeEachDialectWithApp(
  'accounts review: customers and accounts created at once',
  (ctx) => {
    it('the same e-mail (any case) or account name created at once: one succeeds, the others say it exists, never a raw database error', async () => {
      const services = composeServices({ config: testConfig(fastAuthConfig), database: ctx.database, clock: systemClock });
      try {
        const emails = ['Race@Example.com', 'race@example.com', ' RACE@example.COM ', 'race@EXAMPLE.com'];
        const customers = await Promise.all(
          emails.map((email) => errorOf(() => services.customers.create({ email, password: 'race-password' }))),
        );
        expect(customers.filter((e) => e === undefined)).toHaveLength(1);
        for (const e of customers.filter((x) => x !== undefined)) expect(e).toMatchObject({ code: 'CUSTOMER_EXISTS' });

        const name = `sms-rc${String(randomInt(100_000)).padStart(5, '0')}-1`;
        const accounts = await Promise.all(
          Array.from({ length: 4 }, () => errorOf(() => services.accounts.create({ name, ownerEmail: 'race@example.com', credits: 10 }))),
        );
        expect(accounts.filter((e) => e === undefined)).toHaveLength(1);
        for (const e of accounts.filter((x) => x !== undefined)) expect(e).toMatchObject({ code: 'ACCOUNT_EXISTS' });
        // One account, one initial credit change: the losers left no credit history behind.
        const { rows } = await sql<{
          n: number;
        }>`select count(*) as n from credit_changes c join accounts a on a.id = c.account_id where a.name = ${name}`.execute(
          ctx.database.db,
        );
        expect(Number(rows[0].n)).toBe(1);
      } finally {
        await services.close();
      }
    });
  },
  { config: fastAuthConfig },
);
