import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server/app.js';
import type { Config } from '../src/server/config.js';
import type { Account } from '../src/server/modules/accounts/accounts.repository.js';
import { createAccountsRepository } from '../src/server/modules/accounts/accounts.repository.js';
import { createAccountsService, RECENT_READ_TTL_MS, SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { createApiTokensRepository } from '../src/server/modules/accounts/api-tokens.repository.js';
import { createApiTokensService } from '../src/server/modules/accounts/api-tokens.service.js';
import { createCustomersRepository } from '../src/server/modules/accounts/customers.repository.js';
import { createSmsUsersRepository } from '../src/server/modules/accounts/sms-users.repository.js';
import { createPasswordHasher, type PasswordHasher } from '../src/server/modules/auth/password.js';
import { createOvhKeysRepository } from '../src/server/modules/ovh-api/ovh-keys.repository.js';
import { createOvhKeysService } from '../src/server/modules/ovh-api/ovh-keys.service.js';
import { describeEachDialectWithApp, TEST_SECRET_KEY, testConfig } from './app.js';
import {
  createAccount,
  createCustomer,
  createSender,
  createSmsUser,
  createToken,
  type SeededAccount,
  seedCustomerWithAccount,
  TEST_PASSWORD,
} from './factories.js';
import { ALL_RULES, createOvhKeys, type OvhKeys, ovhCall, signedMeRequest } from './ovh.js';

// Adversarial review of the failed-authentication limits (login-attempts.ts), the verified-secrets cache
// (API tokens, OVH consumer keys), RELAIS_TRUST_PROXY, the OVH user-scoped jobs routes and the quota
// refund rule. Tests that fail here name a bug; the others hold what an attacker could otherwise break.

/** Failed API authentications allowed per client (RELAIS_API_AUTH_FAILURES_PER_MINUTE) in these apps. */
const LIMIT = 3;
const config: Partial<Config> = { apiAuthFailuresPerMinute: LIMIT };
/** The time of every app of this file: moved by hand (re-reads of cached secrets). */
const clock = { t: Date.now(), now: () => clock.t };
const seconds = () => Math.floor(clock.now() / 1000);

/** A fresh client address for each use, so that tests never share a failure budget by accident. */
let addresses = 0;
const freshIp = () => {
  addresses += 1;
  return `198.18.${addresses >> 8}.${addresses & 255}`;
};

const statuses = (responses: LightMyRequestResponse[]) => responses.map((r) => r.statusCode);
const count = (list: number[], status: number) => list.filter((s) => s === status).length;

describeEachDialectWithApp(
  'authentication under attack',
  (ctx) => {
    let seeded: SeededAccount;
    let keys: OvhKeys;
    /** Another Relais on the same database, trusting the proxy at 127.0.0.1. */
    let proxied: App;
    /** Another Relais on the same database, not trusting any proxy (a second server behind a balancer). */
    let elsewhere: App;

    const accounts = (app: App, authorization: string, remoteAddress: string, headers: Record<string, string> = {}) =>
      app.inject({ method: 'GET', url: '/api/v1/accounts', headers: { authorization, ...headers }, remoteAddress });
    /** A request through the trusted proxy, for the client it names in X-Forwarded-For. */
    const viaProxy = (authorization: string, forwardedFor: string) =>
      accounts(proxied, authorization, '127.0.0.1', { 'x-forwarded-for': forwardedFor });
    const wrongBearer = () => `Bearer rls_999999_${'w'.repeat(43)}`;
    const me = (k: Pick<OvhKeys, 'appKey' | 'appSecret' | 'consumerKey'>, remoteAddress: string, app = ctx.app) =>
      ovhCall(app, k, 'GET', '/me', { remoteAddress, timestamp: seconds() });
    /** The seeded customer signed in to the Manager (revokes its OVH keys). */
    const owner = () =>
      ({ kind: 'customer', customerId: seeded.customer.id, email: seeded.customer.email, csrfToken: '', sessionId: '' }) as const;
    const signIn = (email: string, password: string, remoteAddress: string) =>
      ctx.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email, password }, remoteAddress });

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app);
      keys = await createOvhKeys(ctx.app, seeded.customer);
      proxied = await buildApp({ config: testConfig({ ...config, trustProxy: ['127.0.0.1'] }), database: ctx.database, clock });
      elsewhere = await buildApp({ config: testConfig(config), database: ctx.database, clock });
      await Promise.all([proxied.ready(), elsewhere.ready()]);
    });
    afterAll(async () => {
      await proxied?.close();
      await elsewhere?.close();
    });

    describe('who a client is', () => {
      it('counts an IPv4 address and its IPv4-mapped IPv6 form as one client, and every spelling of an IPv6 /64 as one', async () => {
        for (const wrong of ['198.51.100.30', '::ffff:198.51.100.30', '::FFFF:198.51.100.30'])
          expect((await accounts(ctx.app, wrongBearer(), wrong)).statusCode).toBe(401);
        expect((await accounts(ctx.app, seeded.auth.authorization, '198.51.100.30')).statusCode).toBe(429);
        expect((await accounts(ctx.app, seeded.auth.authorization, '::ffff:198.51.100.31')).statusCode).toBe(200);

        for (const wrong of ['2001:db8:a:b::1', '2001:DB8:A:B:0:0:0:2', '2001:0db8:000a:000b:ffff::3'])
          expect((await accounts(ctx.app, wrongBearer(), wrong)).statusCode).toBe(401);
        expect((await accounts(ctx.app, seeded.auth.authorization, '2001:db8:a:b:1:2:3:4')).statusCode).toBe(429);
        expect((await accounts(ctx.app, seeded.auth.authorization, '2001:db8:a:c::1')).statusCode).toBe(200);
      });

      it('reads the other spellings of an IPv4-mapped address a proxy may forward as that IPv4 client, not as one client shared by all of IPv4', async () => {
        // 198.51.100.41 = c633:6429; ::ffff:0:0/96 written out in full, or in hex.
        for (const wrong of ['0:0:0:0:0:ffff:198.51.100.41', '::ffff:c633:6429', '0:0:0:0:0:ffff:c633:6429'])
          expect((await viaProxy(wrongBearer(), wrong)).statusCode).toBe(401);
        const anotherIpv4Client = await viaProxy(seeded.auth.authorization, '0:0:0:0:0:ffff:198.51.100.42');
        const sameClientDotted = await viaProxy(seeded.auth.authorization, '198.51.100.41');
        // Currently [429, 200]: all three spellings fall into the "/64" 0:0:0:0::/64, which every IPv4 client
        // so written shares (one attacker locks them all out), and none is counted with 198.51.100.41.
        expect([anotherIpv4Client.statusCode, sameClientDotted.statusCode]).toEqual([200, 429]);
      });

      it('counts a client forwarded with its port (ip:port, [ipv6]:port, as Azure Application Gateway or IIS ARR write it) as that address whatever the port', async () => {
        for (let port = 40001; port <= 40003; port++) expect((await viaProxy(wrongBearer(), `203.0.113.77:${port}`)).statusCode).toBe(401);
        const v4 = await viaProxy(seeded.auth.authorization, '203.0.113.77:40004');
        for (let port = 40001; port <= 40003; port++)
          expect((await viaProxy(wrongBearer(), `[2001:db8:77::1]:${port}`)).statusCode).toBe(401);
        const v6 = await viaProxy(seeded.auth.authorization, '[2001:db8:77::2]:40004');
        // Currently [200, 429]: each port of an IPv4 client is a client of its own, with a fresh budget (the
        // bracketed IPv6 form happens to keep its /64, the port landing past the fourth group).
        expect([v4.statusCode, v6.statusCode]).toEqual([429, 429]);
      });

      it('ignores X-Forwarded-For from an untrusted address: rotating it neither escapes the limit nor locks out the client it names', async () => {
        for (let i = 1; i <= LIMIT; i++)
          expect((await accounts(ctx.app, wrongBearer(), '198.51.100.60', { 'x-forwarded-for': `198.51.100.${70 + i}` })).statusCode).toBe(
            401,
          );
        const rotated = await accounts(ctx.app, seeded.auth.authorization, '198.51.100.60', { 'x-forwarded-for': '198.51.100.99' });
        expect(rotated.statusCode).toBe(429);
        expect((await accounts(ctx.app, seeded.auth.authorization, '198.51.100.71')).statusCode).toBe(200);
      });

      it('behind a trusted proxy counts the client it appended: a forged prefix neither escapes the limit nor frames its victim, and the proxy itself is not locked', async () => {
        for (let i = 1; i <= LIMIT; i++) expect((await viaProxy(wrongBearer(), `10.9.9.${i}, 203.0.113.50`)).statusCode).toBe(401);
        expect((await viaProxy(seeded.auth.authorization, '10.9.9.9, 203.0.113.50')).statusCode).toBe(429);
        expect((await viaProxy(seeded.auth.authorization, '203.0.113.51')).statusCode).toBe(200);
        expect((await viaProxy(seeded.auth.authorization, '10.9.9.1')).statusCode).toBe(200);
        expect((await accounts(proxied, seeded.auth.authorization, '127.0.0.1')).statusCode).toBe(200);
        // A client that reaches the server directly, not through the proxy, cannot name another.
        for (let i = 1; i <= LIMIT; i++)
          expect((await accounts(proxied, wrongBearer(), '203.0.113.52', { 'x-forwarded-for': `10.8.8.${i}` })).statusCode).toBe(401);
        expect((await accounts(proxied, seeded.auth.authorization, '203.0.113.52', { 'x-forwarded-for': '10.8.8.9' })).statusCode).toBe(
          429,
        );
      });
    });

    describe('failed API authentications at once', () => {
      it('checks no more wrong bearer tokens or OVH signatures than the limit when they all arrive together', async () => {
        const ip = freshIp();
        const bearers = statuses(await Promise.all(Array.from({ length: 20 }, () => accounts(ctx.app, wrongBearer(), ip))));
        expect([count(bearers, 401), count(bearers, 429)]).toEqual([LIMIT, 20 - LIMIT]);

        const other = freshIp();
        const forged = { ...keys, appSecret: 'not-the-application-secret' };
        const signed = statuses(await Promise.all(Array.from({ length: 20 }, () => me(forged, other))));
        expect([count(signed, 403), count(signed, 429)]).toEqual([LIMIT, 20 - LIMIT]);
      });

      it('never refuses a client sending many good requests at once', async () => {
        const ip = freshIp();
        const all = await Promise.all([
          ...Array.from({ length: 15 }, () => accounts(ctx.app, seeded.auth.authorization, ip)),
          ...Array.from({ length: 15 }, () => me(keys, ip)),
        ]);
        expect(statuses(all).every((s) => s === 200)).toBe(true);
      });

      it('counts wrong bearer tokens and wrong OVH signatures of one client against one budget, as RELAIS_API_AUTH_FAILURES_PER_MINUTE says', async () => {
        const ip = freshIp();
        for (let i = 0; i < LIMIT; i++) expect((await accounts(ctx.app, wrongBearer(), ip)).statusCode).toBe(401);
        expect((await accounts(ctx.app, seeded.auth.authorization, ip)).statusCode).toBe(429);
        // Currently 403 INVALID_SIGNATURE: the OVH API keeps a budget of its own, a second LIMIT guesses.
        const guess = await me({ ...keys, appSecret: 'not-the-application-secret' }, ip);
        expect(guess.statusCode).toBe(429);
      });
    });

    describe('the verified-secrets cache', () => {
      it('neither caches a wrong secret of a real token id as good nor refuses the good one after it (API tokens and OVH consumer keys)', async () => {
        const ip = freshIp();
        const id = /^rls_(\d+)_/.exec(seeded.token)![1];
        const sameId = `Bearer rls_${id}_${'A'.repeat(43)}`;
        expect((await accounts(ctx.app, sameId, ip)).statusCode).toBe(401);
        expect((await accounts(ctx.app, seeded.auth.authorization, ip)).statusCode).toBe(200);
        expect((await accounts(ctx.app, sameId, ip)).statusCode).toBe(401);
        expect((await accounts(ctx.app, seeded.auth.authorization, ip)).statusCode).toBe(200);

        const other = freshIp();
        const sameLookup = `${keys.consumerKey.slice(0, 10)}${'Z'.repeat(22)}`;
        expect((await me({ ...keys, consumerKey: sameLookup }, other)).json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });
        expect((await me(keys, other)).statusCode).toBe(200);
        expect((await me({ ...keys, consumerKey: sameLookup }, other)).statusCode).toBe(403);
        expect((await me(keys, other)).statusCode).toBe(200);
      });

      it('refuses a token revoked, a token whose SMS user was deleted and a consumer key revoked by another Relais once RECENT_READ_TTL_MS has passed', async () => {
        const user = await createSmsUser(ctx.app, seeded.account);
        const revoked = `Bearer ${await createToken(ctx.app, seeded.account, { name: 'revoked elsewhere' })}`;
        const ofUser = `Bearer ${await createToken(ctx.app, seeded.account, { user: user.login })}`;
        const ck = await createOvhKeys(ctx.app, seeded.customer);
        const ip = freshIp();
        for (const authorization of [revoked, ofUser]) expect((await accounts(ctx.app, authorization, ip)).statusCode).toBe(200);
        expect((await me(ck, ip)).statusCode).toBe(200);

        const revokedId = Number(/^Bearer rls_(\d+)_/.exec(revoked)![1]);
        await elsewhere.services.apiTokens.revoke(SYSTEM_ACTOR, seeded.account.name, revokedId);
        await elsewhere.services.smsUsers.delete(SYSTEM_ACTOR, seeded.account.name, user.login);
        await elsewhere.services.ovhKeys.revokeCredential(owner(), ck.credentialId);
        clock.t += RECENT_READ_TTL_MS;

        expect((await accounts(ctx.app, revoked, freshIp())).statusCode).toBe(401);
        expect((await accounts(ctx.app, ofUser, freshIp())).statusCode).toBe(401);
        expect((await me(ck, freshIp())).json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });
        // The account's own token, untouched, still works there.
        expect((await accounts(ctx.app, seeded.auth.authorization, freshIp())).statusCode).toBe(200);
      });

      /** A hasher whose next verification waits for `release` (an argon2 check still running). */
      const gatedHasher = () => {
        const real = createPasswordHasher({ fast: true });
        let entered!: () => void;
        let release!: () => void;
        const inCheck = new Promise<void>((resolve) => (entered = resolve));
        const released = new Promise<void>((resolve) => (release = resolve));
        const hasher: PasswordHasher = {
          ...real,
          verify: async (hash, secret) => {
            entered();
            await released;
            return real.verify(hash, secret);
          },
        };
        return { hasher, inCheck, release };
      };

      it('refuses a revoked API token to a request made after revoke() returned, though a check begun before it is still running', async () => {
        const { db } = ctx.database;
        const { hasher, inCheck, release } = gatedHasher();
        const accountsService = createAccountsService({
          accounts: createAccountsRepository(db),
          customers: createCustomersRepository(db),
          clock,
          defaultTimeZone: 'Europe/Paris',
        });
        const tokens = createApiTokensService({
          tokens: createApiTokensRepository(db),
          users: createSmsUsersRepository(db),
          accounts: accountsService,
          hasher,
          clock,
        });
        const { token, bearer } = await tokens.create(SYSTEM_ACTOR, seeded.account.name, { name: 'race' });
        const before = tokens.verify(bearer); // its check reads the row, then waits in argon2
        await inCheck;
        await tokens.revoke(SYSTEM_ACTOR, seeded.account.name, token.id);
        const after = tokens.verify(bearer);
        release();
        await before;
        // Currently the principal: the later request joins the earlier check (verified-secrets.ts `checking`).
        expect(await after).toBeUndefined();
        expect(await tokens.verify(bearer)).toBeUndefined();
      });

      it('refuses a revoked OVH consumer key to a request made after revokeCredential() returned, though a check begun before it is still running', async () => {
        const { db } = ctx.database;
        const { hasher, inCheck, release } = gatedHasher();
        const ovhKeys = createOvhKeysService({
          keys: createOvhKeysRepository(db),
          customers: createCustomersRepository(db),
          hasher,
          clock,
          serverSecret: TEST_SECRET_KEY,
        });
        const { application, appSecret } = await ovhKeys.createApplication(SYSTEM_ACTOR, {
          name: 'race',
          ownerEmail: seeded.customer.email,
        });
        const { consumerKey, credentialId } = await ovhKeys.createCredential(SYSTEM_ACTOR, {
          applicationId: application.id,
          ownerEmail: seeded.customer.email,
          rules: ALL_RULES,
          validity: null,
        });
        const authenticate = () =>
          ovhKeys.authenticate(signedMeRequest({ appKey: application.appKey, appSecret, consumerKey }, seconds(), '198.51.100.1'));
        const before = authenticate().catch((error: unknown) => error);
        await inCheck;
        await ovhKeys.revokeCredential(owner(), credentialId);
        const after = authenticate().then(
          (principal) => ({ accepted: principal.credentialId }),
          (error: { code?: string }) => ({ refused: error.code }),
        );
        release();
        await before;
        expect(await after).toEqual({ refused: 'OVH_INVALID_CREDENTIAL' });
      });
    });

    describe('Manager sign-in', () => {
      it('checks at most 10 wrong passwords of one client sent together, whatever the e-mail; the customer still signs in from elsewhere', async () => {
        const victim = await createCustomer(ctx.app);
        const ip = freshIp();
        const wrong = statuses(
          await Promise.all(
            Array.from({ length: 30 }, (_, i) => signIn(i % 3 ? victim.email : `nobody-${i}@example.com`, `wrong password ${i}`, ip)),
          ),
        );
        expect([count(wrong, 401), count(wrong, 429)]).toEqual([10, 20]);
        expect((await signIn(victim.email, TEST_PASSWORD, ip)).statusCode).toBe(429);
        expect((await signIn(victim.email, TEST_PASSWORD, freshIp())).statusCode).toBe(200);
        // Successes never count: a client signing in again and again is never limited.
        const good = freshIp();
        for (let i = 0; i < 12; i++) expect((await signIn(victim.email, TEST_PASSWORD, good)).statusCode).toBe(200);
      });

      it('checks at most 100 wrong passwords for one e-mail from many clients at once, however its case and spaces are written', async () => {
        const victim = await createCustomer(ctx.app);
        const spellings = [victim.email, victim.email.toUpperCase(), `  ${victim.email} `, `\t${victim.email.replace('c', 'C')}`];
        const clients = Array.from({ length: 12 }, () => freshIp());
        const attempts = clients.flatMap((ip, c) =>
          Array.from({ length: 10 }, (_, i) => signIn(spellings[(c + i) % spellings.length], `guess ${c}-${i}`, ip)),
        );
        const all = statuses(await Promise.all(attempts));
        expect([count(all, 401), count(all, 429)]).toEqual([100, 20]);
        // As documented: the e-mail is then refused from anywhere until a minute passes without a failure.
        expect((await signIn(victim.email, TEST_PASSWORD, freshIp())).statusCode).toBe(429);
      });
    });

    describe("OVH users' jobs and refunds", () => {
      const pendingJob = async (account: Account, login: string | null, receiver: string) => {
        const path = login === null ? `/sms/${account.name}/jobs` : `/sms/${account.name}/users/${login}/jobs`;
        const res = await ovhCall(ctx.app, keys, 'POST', path, {
          body: { message: 'Later', receivers: [receiver], sender: 'MyShop', noStopClause: true, differedPeriod: 60 },
          remoteAddress: freshIp(),
          timestamp: seconds(),
        });
        expect(res.statusCode, res.body).toBe(200);
        return (res.json() as { ids: number[] }).ids[0];
      };
      const quotaOf = async (account: Account, login: string) =>
        (await ctx.app.services.smsUsers.get(SYSTEM_ACTOR, account.name, login)).quota;
      const creditsOf = async (account: Account) => (await ctx.app.services.accounts.getAccount(SYSTEM_ACTOR, account.name)).credits;
      const userAccount = async (quota: number | null) => {
        const account = await createAccount(ctx.app, { owner: seeded.customer, credits: 100 });
        await createSender(ctx.app, account, { sender: 'MyShop' });
        await createSmsUser(ctx.app, account, { login: 'shop', quota });
        return account;
      };

      it('gives a canceled job nothing back to a quota removed and set again since it was paid (a quota set after the acceptance)', async () => {
        const account = await userAccount(10);
        const id = await pendingJob(account, 'shop', '+33612349001');
        expect(await quotaOf(account, 'shop')).toBe(9);
        await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, account.name, 'shop', { quota: null });
        await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, account.name, 'shop', { quota: 50 });
        const stop = await ovhCall(ctx.app, keys, 'DELETE', `/sms/${account.name}/users/shop/jobs/${id}`, {
          remoteAddress: freshIp(),
          timestamp: seconds(),
        });
        expect(stop.statusCode).toBe(200);
        expect(await creditsOf(account)).toBe(100);
        // Currently 51: the job's quota_paid = 1 says "paid from the quota", whichever quota is there now.
        expect(await quotaOf(account, 'shop')).toBe(50);
      });

      it("cancels a user's job once when its user's and its account's paths are asked together: credits and quota back once", async () => {
        const account = await userAccount(5);
        const id = await pendingJob(account, 'shop', '+33612349002');
        const paths = [`/sms/${account.name}/users/shop/jobs/${id}`, `/sms/${account.name}/jobs/${id}`];
        const answers = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            ovhCall(ctx.app, keys, 'DELETE', paths[i % 2], { remoteAddress: freshIp(), timestamp: seconds() }),
          ),
        );
        const all = statuses(answers);
        expect([count(all, 200), count(all, 404)]).toEqual([1, 7]);
        expect([await creditsOf(account), await quotaOf(account, 'shop')]).toEqual([100, 5]);
      });

      it('never reaches through one account’s user path the job of a user of the same login in another account, nor another customer’s', async () => {
        const mine = await userAccount(null);
        const alsoMine = await userAccount(null);
        const theirs = await createAccount(ctx.app, { credits: 100 });
        await createSmsUser(ctx.app, theirs, { login: 'shop' });
        const strangerKeys = await createOvhKeys(ctx.app, await createCustomer(ctx.app));
        const id = await pendingJob(alsoMine, 'shop', '+33612349003');
        const call = (k: OvhKeys, method: 'GET' | 'DELETE', path: string) =>
          ovhCall(ctx.app, k, method, path, { remoteAddress: freshIp(), timestamp: seconds() });

        expect((await call(keys, 'GET', `/sms/${mine.name}/users/shop/jobs/${id}`)).statusCode).toBe(404);
        expect((await call(keys, 'DELETE', `/sms/${mine.name}/users/shop/jobs/${id}`)).statusCode).toBe(404);
        expect((await call(keys, 'GET', `/sms/${mine.name}/users/shop/jobs`)).json()).toEqual([]);
        for (const method of ['GET', 'DELETE'] as const) {
          const res = await call(strangerKeys, method, `/sms/${alsoMine.name}/users/shop/jobs/${id}`);
          expect([res.statusCode, res.json().message]).toEqual([404, 'This service does not exist']);
        }
        expect((await call(strangerKeys, 'GET', `/sms/${alsoMine.name}/users/shop/jobs`)).statusCode).toBe(404);
        expect((await call(keys, 'GET', `/sms/${alsoMine.name}/users/shop/jobs`)).json()).toEqual([id]);
        expect(await creditsOf(alsoMine)).toBe(99);
      });
    });
  },
  { config, clock },
);
