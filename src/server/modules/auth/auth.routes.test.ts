import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { describeEachDialectWithApp, testConfig } from '../../../../test/app.js';
import { bearer, createToken, fastAuthConfig, seedCustomerWithAccount, signIn, TEST_PASSWORD } from '../../../../test/factories.js';
import { buildApp } from '../../app.js';
import { SYSTEM_ACTOR } from '../accounts/accounts.service.js';
import { SIGN_IN_FAILURES_PER_CLIENT, SIGN_IN_FAILURES_PER_EMAIL } from './auth.routes.js';
import { sha256Hex } from './password.js';

const clock = { t: Date.UTC(2025, 0, 1), now: () => clock.t };
const DAY = 24 * 3600_000;
const ip = (n: number) => `192.0.2.${n}`;

describeEachDialectWithApp(
  'auth routes',
  (ctx) => {
    const post = (payload: Record<string, unknown>, remoteAddress = ip(1)) =>
      ctx.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload, remoteAddress });

    it('signs in: an HttpOnly SameSite=Lax session cookie (hashed at rest) and the CSRF token', async () => {
      const { customer } = await seedCustomerWithAccount(ctx.app);
      const res = await post({ email: customer.email.toUpperCase(), password: TEST_PASSWORD }, ip(2));
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toEqual({
        customer: { id: customer.id, email: customer.email },
        csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      });
      const setCookie = String(res.headers['set-cookie']);
      expect(setCookie).toMatch(/^relais_session=[A-Za-z0-9_-]{43};/);
      expect(setCookie).toContain('HttpOnly');
      expect(setCookie).toContain('SameSite=Lax');
      expect(setCookie).toContain('Path=/');
      expect(setCookie).toContain(`Max-Age=${30 * 24 * 3600}`);
      expect(setCookie).not.toContain('Secure');
      const value = res.cookies[0].value;
      const { rows } = await sql<{ id: string }>`select id from sessions where customer_id = ${customer.id}`.execute(ctx.database.db);
      expect(rows.map((r) => r.id)).toEqual([sha256Hex(value)]);
    });

    it('marks the cookie Secure when configured', async () => {
      const app = await buildApp({ config: testConfig({ ...fastAuthConfig, secureCookies: true }), database: ctx.database });
      try {
        const { customer } = await seedCustomerWithAccount(app);
        const res = await app.inject({
          method: 'POST',
          url: '/api/v1/auth/sign-in',
          payload: { email: customer.email, password: TEST_PASSWORD },
        });
        expect(String(res.headers['set-cookie'])).toContain('Secure');
      } finally {
        await app.close();
      }
    });

    it('refuses a wrong password and an unknown e-mail alike', async () => {
      const { customer } = await seedCustomerWithAccount(ctx.app);
      const wrong = await post({ email: customer.email, password: 'not the password' }, ip(3));
      const unknown = await post({ email: 'nobody@example.com', password: TEST_PASSWORD }, ip(3));
      for (const res of [wrong, unknown]) {
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual({ error: { code: 'INVALID_CREDENTIALS', message: 'Wrong e-mail or password' } });
        expect(res.headers['set-cookie']).toBeUndefined();
      }
      const invalid = await post({ email: customer.email }, ip(3));
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json().error.code).toBe('VALIDATION_FAILED');
    });

    it('limits failed sign-ins per address (for any e-mail), never counting successes', async () => {
      const { customer } = await seedCustomerWithAccount(ctx.app);
      for (let i = 0; i < SIGN_IN_FAILURES_PER_CLIENT * 2; i++)
        expect((await post({ email: customer.email, password: TEST_PASSWORD }, ip(90))).statusCode).toBe(200);
      for (let i = 0; i < SIGN_IN_FAILURES_PER_CLIENT; i++)
        expect((await post({ email: `x${i}@example.com`, password: 'wrong-wrong' }, ip(90))).statusCode).toBe(401);
      const limited = await post({ email: customer.email, password: TEST_PASSWORD }, ip(90));
      expect(limited.statusCode).toBe(429);
      expect(limited.json().error).toEqual({
        code: 'RATE_LIMITED',
        message: expect.stringMatching(/^Too many failed sign-ins from this address; try again in \d+ s$/),
      });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // The customer signs in from elsewhere: one address's guesses do not lock the account.
      expect((await post({ email: customer.email, password: TEST_PASSWORD }, ip(91))).statusCode).toBe(200);
    });

    it('limits failed sign-ins per e-mail from any address, at a number no single address reaches', async () => {
      const { customer } = await seedCustomerWithAccount(ctx.app);
      for (let i = 0; i < SIGN_IN_FAILURES_PER_EMAIL; i++) {
        const from = `198.18.${Math.floor(i / 5)}.${i % 5}`; // five guesses an address, under its own limit
        expect((await post({ email: customer.email, password: 'wrong-wrong' }, from)).statusCode).toBe(401);
      }
      const limited = await post({ email: customer.email.toUpperCase(), password: TEST_PASSWORD }, ip(120));
      expect(limited.statusCode).toBe(429);
      expect(limited.json().error.message).toMatch(/^Too many failed sign-ins for this e-mail address; try again in \d+ s$/);
      // Refused for its e-mail, that sign-in counted against no address: ip(120) still signs in others.
      const other = await seedCustomerWithAccount(ctx.app);
      for (let i = 0; i < SIGN_IN_FAILURES_PER_CLIENT; i++) await post({ email: customer.email, password: TEST_PASSWORD }, ip(120));
      expect((await post({ email: other.customer.email, password: TEST_PASSWORD }, ip(120))).statusCode).toBe(200);
    });

    it('counts failed sign-ins in the database: another process on it refuses the client, and the e-mail, with the same wait', async () => {
      const other = await buildApp({ config: testConfig(fastAuthConfig), database: ctx.database, clock });
      try {
        const { customer } = await seedCustomerWithAccount(ctx.app);
        const postTo = (app: typeof other, payload: Record<string, unknown>, remoteAddress: string) =>
          app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload, remoteAddress });
        for (let i = 0; i < SIGN_IN_FAILURES_PER_CLIENT; i++) {
          const wrong = await postTo(i % 2 ? other : ctx.app, { email: `y${i}@example.com`, password: 'wrong-wrong' }, ip(130));
          expect(wrong.statusCode).toBe(401);
        }
        const limited = [
          await postTo(other, { email: customer.email, password: TEST_PASSWORD }, ip(130)),
          await postTo(ctx.app, { email: customer.email, password: TEST_PASSWORD }, ip(130)),
        ];
        expect(limited.map((r) => [r.statusCode, r.headers['retry-after']])).toEqual([
          [429, '60'],
          [429, '60'],
        ]);
        for (let i = 0; i < SIGN_IN_FAILURES_PER_EMAIL; i++) {
          const from = `198.19.${Math.floor(i / 5)}.${i % 5}`;
          expect((await postTo(i % 2 ? other : ctx.app, { email: customer.email, password: 'wrong-wrong' }, from)).statusCode).toBe(401);
        }
        for (const app of [ctx.app, other]) {
          const res = await postTo(app, { email: customer.email, password: TEST_PASSWORD }, ip(131));
          expect(res.statusCode).toBe(429);
          expect(res.json().error.message).toBe('Too many failed sign-ins for this e-mail address; try again in 60 s');
          expect(res.headers['retry-after']).toBe('60');
        }
      } finally {
        await other.close();
      }
    });

    it('GET /auth/me answers the customer, the CSRF token and their accounts; 401 without a session', async () => {
      const { customer, account } = await seedCustomerWithAccount(ctx.app, { account: { description: 'Shop', credits: 42 } });
      const session = await signIn(ctx.app, customer.email);
      const res = await ctx.app.inject({ url: '/api/v1/auth/me', headers: session.headers });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        customer: { id: customer.id, email: customer.email },
        csrfToken: session.csrfToken,
        accounts: [{ name: account.name, description: 'Shop', status: 'enable', credits: 42, timezone: 'Europe/Paris' }],
        // Every service runs by default, HTTPS on its default port: the Manager's OVH snippets name it.
        httpsPort: 8443,
        // The Manager counts the parts of a text with the mention the server appends.
        stopClause: 'STOP au 36180',
      });
      const anonymous = await ctx.app.inject({ url: '/api/v1/auth/me' });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().error.code).toBe('UNAUTHENTICATED');
    });

    it('GET /auth/me tells each account’s status: the operator’s disabling shows in the next answer, and enabling it again', async () => {
      const { customer, account } = await seedCustomerWithAccount(ctx.app);
      const session = await signIn(ctx.app, customer.email);
      const statusOf = async () => {
        const res = await ctx.app.inject({ url: '/api/v1/auth/me', headers: session.headers });
        expect(res.statusCode, res.body).toBe(200);
        return (res.json().accounts as { name: string; status: string }[]).map((a) => [a.name, a.status]);
      };
      expect(await statusOf()).toEqual([[account.name, 'enable']]);
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, account.name, { status: 'disable' });
      expect(await statusOf()).toEqual([[account.name, 'disable']]);
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, account.name, { status: 'enable' });
      expect(await statusOf()).toEqual([[account.name, 'enable']]);
    });

    it('demands the X-CSRF-Token header on cookie-authenticated writes, not on bearer ones', async () => {
      const { customer, account, auth } = await seedCustomerWithAccount(ctx.app);
      const session = await signIn(ctx.app, customer.email);
      const patch = (headers: Record<string, string>) =>
        ctx.app.inject({ method: 'PATCH', url: `/api/v1/accounts/${account.name}`, headers, payload: { description: 'x' } });
      for (const headers of [session.headers, { ...session.headers, 'x-csrf-token': 'wrong' }]) {
        const res = await patch(headers);
        expect(res.statusCode).toBe(403);
        expect(res.json().error.code).toBe('CSRF_FAILED');
      }
      expect((await patch(session.writeHeaders)).statusCode).toBe(200);
      const viaToken = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${account.name}/senders`,
        headers: auth,
        payload: { sender: 'NoCsrf' },
      });
      expect(viaToken.statusCode).toBe(201);
    });

    it('signs out: the session ends and the cookie is cleared', async () => {
      const { customer } = await seedCustomerWithAccount(ctx.app);
      const session = await signIn(ctx.app, customer.email);
      expect((await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/sign-out', headers: session.headers })).statusCode).toBe(403);
      const res = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/sign-out', headers: session.writeHeaders });
      expect(res.statusCode).toBe(204);
      expect(String(res.headers['set-cookie'])).toMatch(/relais_session=;.*Expires=Thu, 01 Jan 1970/);
      expect((await ctx.app.inject({ url: '/api/v1/auth/me', headers: session.headers })).statusCode).toBe(401);
      expect((await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/sign-out' })).statusCode).toBe(204);
    });

    it('ignores and clears an unknown cookie; sign-in works with a stale cookie and no CSRF header', async () => {
      const { customer } = await seedCustomerWithAccount(ctx.app);
      const stale = { cookie: 'relais_session=forged' };
      const me = await ctx.app.inject({ url: '/api/v1/auth/me', headers: stale });
      expect(me.statusCode).toBe(401);
      expect(String(me.headers['set-cookie'])).toMatch(/^relais_session=;/);
      const session = await signIn(ctx.app, customer.email);
      const again = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        headers: session.headers,
        payload: { email: customer.email, password: TEST_PASSWORD },
        remoteAddress: ip(50),
      });
      expect(again.statusCode).toBe(200);
    });

    it('keeps a session 30 days after its last use (renewed at most daily), then ends it', async () => {
      const { customer } = await seedCustomerWithAccount(ctx.app);
      const session = await signIn(ctx.app, customer.email);
      const me = () => ctx.app.inject({ url: '/api/v1/auth/me', headers: session.headers });
      const first = await me();
      expect(first.statusCode).toBe(200);
      expect(first.headers['set-cookie']).toBeUndefined();
      clock.t += 20 * DAY;
      const renewed = await me();
      expect(renewed.statusCode).toBe(200);
      expect(String(renewed.headers['set-cookie'])).toContain(session.cookie);
      clock.t += 29 * DAY;
      expect((await me()).statusCode).toBe(200);
      clock.t += 31 * DAY;
      expect((await me()).statusCode).toBe(401);
    });

    it('authenticates bearer tokens; a bad or revoked one is 401 even with a valid cookie', async () => {
      const { customer, account, token, auth } = await seedCustomerWithAccount(ctx.app);
      const ok = await ctx.app.inject({ url: '/api/v1/accounts', headers: auth });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().map((a: { name: string }) => a.name)).toEqual([account.name]);
      const session = await signIn(ctx.app, customer.email);
      for (const header of [`${token}x`, 'rls_1_short', 'garbage']) {
        const res = await ctx.app.inject({ url: '/api/v1/accounts', headers: { ...session.headers, ...bearer(header) } });
        expect(res.statusCode).toBe(401);
        expect(res.json().error.code).toBe('UNAUTHENTICATED');
      }
      const id = Number(token.split('_')[1]);
      const revoke = await ctx.app.inject({
        method: 'DELETE',
        url: `/api/v1/accounts/${account.name}/tokens/${id}`,
        headers: session.writeHeaders,
      });
      expect(revoke.statusCode).toBe(204);
      const after = await ctx.app.inject({ url: '/api/v1/accounts', headers: auth });
      expect(after.statusCode).toBe(401);
      const { rows } = await sql<{ secret_hash: string }>`select secret_hash from api_tokens where id = ${id}`.execute(ctx.database.db);
      expect(rows[0].secret_hash).toMatch(/^\$argon2id\$/);
      expect(rows[0].secret_hash).not.toContain(token.split('_').slice(2).join('_'));
    });

    it('GET /auth/me is for customers: a token gets 403', async () => {
      const { account } = await seedCustomerWithAccount(ctx.app);
      const res = await ctx.app.inject({ url: '/api/v1/auth/me', headers: bearer(await createToken(ctx.app, account)) });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
    });
  },
  { config: fastAuthConfig, clock },
);

describeEachDialectWithApp(
  'GET /api/v1/auth/me without the HTTPS service',
  (ctx) => {
    it('answers httpsPort null, so the Manager does not name a port nothing listens on', async () => {
      const { customer } = await seedCustomerWithAccount(ctx.app);
      const session = await signIn(ctx.app, customer.email);
      const res = await ctx.app.inject({ url: '/api/v1/auth/me', headers: session.headers });
      expect(res.json()).toMatchObject({ httpsPort: null, stopClause: 'Stop: reply STOP' });
    });
  },
  { config: { services: ['http', 'dispatcher'], stopClause: 'Stop: reply STOP' } },
);
