import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp, testConfig } from '../../../../test/app.js';
import { bearer, type SeededAccount, seedCustomerWithAccount, signIn, type TestSession } from '../../../../test/factories.js';
import { createOvhKeys, type OvhKeys, ovhCall, ovhHeaders } from '../../../../test/ovh.js';
import { type App, buildApp } from '../../app.js';
import { ovhSignature } from './ovh-signature.js';

/** A clock a test moves forward (expiry, the 2-s re-read); starts at the real time, as signatures carry it. */
const clock = { offset: 0, now: () => Date.now() + clock.offset };
const seconds = () => Math.floor(clock.now() / 1000);

describeEachDialectWithApp(
  'OVH API authentication (/1.0/auth, signed requests)',
  (ctx) => {
    let owner: SeededAccount;
    let session: TestSession;
    let keys: OvhKeys;

    beforeAll(async () => {
      owner = await seedCustomerWithAccount(ctx.app);
      session = await signIn(ctx.app, owner.customer.email);
      keys = await createOvhKeys(ctx.app, owner.customer);
    });

    const me = (k: Pick<OvhKeys, 'appKey' | 'appSecret' | 'consumerKey'>, options: Parameters<typeof ovhCall>[4] = {}) =>
      ovhCall(ctx.app, k, 'GET', '/me', { timestamp: seconds(), ...options });

    /** Asks for a consumer key as a program does, without signature: answers the key and the validation token. */
    async function askForKey(body: unknown, appKey = keys.appKey, remoteAddress = '127.0.0.1') {
      return ctx.app.inject({
        method: 'POST',
        url: '/1.0/auth/credential',
        headers: { 'x-ovh-application': appKey, 'content-type': 'application/json' },
        payload: JSON.stringify(body),
        remoteAddress,
      });
    }

    function tokenOf(validationUrl: string): string {
      const url = new URL(validationUrl);
      expect(url.pathname).toBe('/ovh/validate');
      return url.searchParams.get('credentialToken') ?? '';
    }

    it('answers /auth/time with the bare Unix time, unsigned, with a query id', async () => {
      const res = await ctx.app.inject({ url: '/1.0/auth/time' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatch(/^\d+$/);
      expect(Math.abs(Number(res.body) - seconds())).toBeLessThanOrEqual(1);
      expect(res.headers['x-ovh-queryid']).toMatch(/^EU\.relais\./);
    });

    it('answers a signed call made as the npm client signs it (https, no port) and as python-ovh does (the URL as sent)', async () => {
      const npm = await me(keys);
      expect(npm.statusCode).toBe(200);
      expect(npm.json()).toMatchObject({ email: owner.customer.email });

      const url = '/1.0/me?x=%C3%A9t%C3%A9';
      const timestamp = String(seconds());
      const signature = ovhSignature({ ...keys, method: 'GET', url: `http://127.0.0.1:8080${url}`, body: '', timestamp });
      const python = await ctx.app.inject({
        method: 'GET',
        url,
        headers: {
          host: '127.0.0.1:8080',
          'x-ovh-application': keys.appKey,
          'x-ovh-consumer': keys.consumerKey,
          'x-ovh-timestamp': timestamp,
          'x-ovh-signature': signature,
        },
      });
      expect(python.statusCode).toBe(200);
    });

    it('refuses a request whose body, query, method or host differs from what was signed', async () => {
      const url = '/1.0/auth/logout';
      const body = '{"a":1}';
      const headers = ovhHeaders(keys, { method: 'POST', url, body, timestamp: seconds() });
      const tampered = [
        { method: 'POST' as const, url, payload: '{"a":2}', headers },
        { method: 'POST' as const, url: `${url}?x=1`, payload: body, headers },
        { method: 'PUT' as const, url, payload: body, headers },
        { method: 'POST' as const, url, payload: body, headers: { ...headers, host: 'elsewhere.example' } },
      ];
      for (const request of tampered) {
        const res = await ctx.app.inject(request);
        expect(res.statusCode).toBe(request.method === 'PUT' ? 404 : 403);
        if (request.method !== 'PUT') expect(res.json()).toMatchObject({ errorCode: 'INVALID_SIGNATURE', message: 'Invalid signature' });
      }
      // The key still works: none of these ended it.
      expect((await me(keys)).statusCode).toBe(200);
    });

    it('answers OVH errors for a missing or unknown application key, an unknown consumer key, a stale timestamp', async () => {
      const unknownApp = await me({ ...keys, appKey: 'AAAAAAAAAAAAAAAA' });
      expect(unknownApp.statusCode).toBe(403);
      expect(unknownApp.json()).toEqual({
        class: 'Client::Forbidden',
        message: 'Invalid application key',
        errorCode: 'INVALID_KEY',
        httpCode: '403 Forbidden',
      });
      const noHeaders = await ctx.app.inject({ url: '/1.0/me' });
      expect(noHeaders.json()).toMatchObject({ errorCode: 'INVALID_KEY' });
      const unknownKey = await me({ ...keys, consumerKey: 'B'.repeat(32) });
      expect(unknownKey.json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });
      const malformedKey = await me({ ...keys, consumerKey: 'short' });
      expect(malformedKey.json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });
      const stale = await me(keys, { timestamp: seconds() - 301 });
      expect(stale.statusCode).toBe(400);
      expect(stale.json()).toMatchObject({ errorCode: 'QUERY_TIME_OUT_OF_BOUNDS' });
      const early = await me(keys, { timestamp: seconds() + 301 });
      expect(early.json()).toMatchObject({ errorCode: 'QUERY_TIME_OUT_OF_BOUNDS' });
      expect((await me(keys, { timestamp: seconds() - 290 })).statusCode).toBe(200);
    });

    it("refuses a consumer key with another application's key, and one application's keys never reach another customer", async () => {
      const other = await seedCustomerWithAccount(ctx.app);
      const otherKeys = await createOvhKeys(ctx.app, other.customer);
      const mixed = await me({ appKey: otherKeys.appKey, appSecret: otherKeys.appSecret, consumerKey: keys.consumerKey });
      expect(mixed.json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });
      const theirs = await me(otherKeys);
      expect(theirs.json()).toMatchObject({ email: other.customer.email });
    });

    it('lets a consumer key call only what its access rules allow, and always /auth about itself', async () => {
      const readOnly = await createOvhKeys(ctx.app, owner.customer, { rules: [{ method: 'GET', path: '/sms/*' }] });
      const denied = await me(readOnly);
      expect(denied.statusCode).toBe(403);
      expect(denied.json()).toMatchObject({ errorCode: 'NOT_GRANTED_CALL', message: 'This call has not been granted' });
      const current = await ovhCall(ctx.app, readOnly, 'GET', '/auth/currentCredential', { timestamp: seconds() });
      expect(current.statusCode).toBe(200);
      expect(current.json()).toMatchObject({
        credentialId: readOnly.credentialId,
        applicationId: readOnly.applicationId,
        rules: [{ method: 'GET', path: '/sms/*' }],
        status: 'validated',
        expiration: null,
      });
    });

    it('refuses a path that hides a slash in a segment', async () => {
      const res = await ovhCall(ctx.app, keys, 'GET', '/sms/a%2F..%2Fb', { timestamp: seconds() });
      expect(res.statusCode).toBe(400);
    });

    it('lets a consumer key be used only from its allowed addresses', async () => {
      const fenced = await createOvhKeys(ctx.app, owner.customer, { allowedIps: ['10.0.0.0/8'] });
      const outside = await me(fenced);
      expect(outside.json()).toMatchObject({ errorCode: 'NOT_GRANTED_CALL' });
      const url = '/1.0/me';
      const inside = await ctx.app.inject({
        url,
        remoteAddress: '10.1.2.3',
        headers: ovhHeaders(fenced, { method: 'GET', url, timestamp: seconds() }),
      });
      expect(inside.statusCode).toBe(200);
    });

    it('ignores a Manager session on /1.0: no CSRF check there, and a session is no OVH credential', async () => {
      const res = await ctx.app.inject({ method: 'POST', url: '/1.0/auth/logout', headers: session.headers });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ errorCode: 'INVALID_KEY' });
    });

    it('refuses a body that is not JSON, in OVH’s shape', async () => {
      const url = '/1.0/auth/logout';
      const body = '{not json';
      const res = await ctx.app.inject({
        method: 'POST',
        url,
        payload: body,
        headers: ovhHeaders(keys, { method: 'POST', url, body, timestamp: seconds() }),
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ class: 'Client::BadRequest', message: 'The body is not valid JSON' });
    });

    it('serves the schema documents that the npm client loads when given `apis`', async () => {
      const auth = await ctx.app.inject({ url: '/1.0/auth.json' });
      expect(auth.statusCode).toBe(200);
      const paths = (
        auth.json() as {
          apis: Array<{ path: string; operations: Array<{ httpMethod: string; noAuthentication: boolean; apiStatus: { value: string } }> }>;
        }
      ).apis;
      expect(paths.find((p) => p.path === '/auth/time')?.operations).toEqual([
        expect.objectContaining({ httpMethod: 'GET', noAuthentication: true, apiStatus: expect.objectContaining({ value: 'PRODUCTION' }) }),
      ]);
      expect(paths.find((p) => p.path === '/auth/logout')?.operations).toEqual([
        expect.objectContaining({ httpMethod: 'POST', noAuthentication: false }),
      ]);
      const me = (await ctx.app.inject({ url: '/1.0/me.json' })).json() as { apis: Array<{ path: string }> };
      expect(me.apis.map((a) => a.path)).toEqual(expect.arrayContaining(['/me', '/me/document/{id}']));
      expect((await ctx.app.inject({ url: '/1.0/nothing.json' })).statusCode).toBe(404);
    });

    it('answers an unknown path in OVH’s shape', async () => {
      const res = await ctx.app.inject({ url: '/1.0/nothing/here' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ class: 'Client::NotFound', errorCode: 'NOT_FOUND' });
    });

    it('gives a consumer key on request, usable once the customer validated it in the Manager, for the chosen time', async () => {
      const asked = await askForKey({ accessRules: [{ method: 'GET', path: '/*' }], redirection: 'https://example.com/done?x=1' });
      expect(asked.statusCode).toBe(200);
      const { consumerKey, state, validationUrl } = asked.json() as { consumerKey: string; state: string; validationUrl: string };
      expect(state).toBe('pendingValidation');
      expect(consumerKey).toMatch(/^[A-Za-z0-9]{32}$/);
      const token = tokenOf(validationUrl);
      const pending = { ...keys, consumerKey };
      const before = await me(pending);
      expect(before.statusCode).toBe(403);
      expect(before.json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL', message: expect.stringMatching(/validation/) });

      const shown = await ctx.app.inject({ url: `/api/v1/ovh/credential-requests/${token}`, headers: session.headers });
      expect(shown.json()).toMatchObject({
        application: { name: 'test script' },
        rules: [{ method: 'GET', path: '/*' }],
        redirection: 'https://example.com/done?x=1',
        status: 'pendingValidation',
      });
      const validated = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/ovh/credential-requests/${token}/validate`,
        headers: session.writeHeaders,
        payload: { validity: 3600 },
      });
      expect(validated.statusCode).toBe(200);
      expect(validated.json()).toEqual({ status: 'validated', redirection: 'https://example.com/done?x=1' });
      const after = await me(pending);
      expect(after.statusCode).toBe(200);
      expect(after.json()).toMatchObject({ email: owner.customer.email });

      const again = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/ovh/credential-requests/${token}/refuse`,
        headers: session.writeHeaders,
      });
      expect(again.statusCode).toBe(400);
      expect((await me(pending)).statusCode).toBe(200);

      clock.offset += 3600_000;
      try {
        const expired = await me(pending);
        expect(expired.statusCode).toBe(403);
        expect(expired.json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });
      } finally {
        clock.offset -= 3600_000;
      }
    });

    it('leaves a refused or too old request unusable', async () => {
      const refused = await askForKey({ accessRules: [{ method: 'GET', path: '/*' }] });
      const refusedToken = tokenOf(refused.json().validationUrl);
      const answer = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/ovh/credential-requests/${refusedToken}/refuse`,
        headers: session.writeHeaders,
      });
      expect(answer.json()).toEqual({ status: 'refused', redirection: null });
      expect((await me({ ...keys, consumerKey: refused.json().consumerKey })).json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });

      const old = await askForKey({ accessRules: [{ method: 'GET', path: '/*' }] });
      const oldToken = tokenOf(old.json().validationUrl);
      clock.offset += 24 * 3600_000;
      try {
        const shown = await ctx.app.inject({ url: `/api/v1/ovh/credential-requests/${oldToken}`, headers: session.headers });
        expect(shown.json()).toMatchObject({ status: 'expired' });
        const late = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/ovh/credential-requests/${oldToken}/validate`,
          headers: session.writeHeaders,
          payload: { validity: null },
        });
        expect(late.statusCode).toBe(400);
        expect(late.json().error.message).toMatch(/too old/);
      } finally {
        clock.offset -= 24 * 3600_000;
      }
      expect((await ctx.app.inject({ url: '/api/v1/ovh/credential-requests/nope', headers: session.headers })).statusCode).toBe(404);
    });

    it('limits the requests for keys from one address, and forgets requests never answered after two days', async () => {
      const rules = { accessRules: [{ method: 'GET', path: '/*' }] };
      for (let i = 0; i < 20; i++) expect((await askForKey(rules, keys.appKey, '192.0.2.7')).statusCode).toBe(200);
      const limited = await askForKey(rules, keys.appKey, '192.0.2.7');
      expect(limited.statusCode).toBe(429);
      expect(limited.json()).toMatchObject({ class: 'Client::TooManyRequests', errorCode: 'RATE_LIMITED' });
      expect((await askForKey(rules, keys.appKey, '192.0.2.8')).statusCode).toBe(200);
      // IPv6: one /64 is one client, whichever of its addresses asks.
      for (let i = 0; i < 20; i++) expect((await askForKey(rules, keys.appKey, `2001:db8:1:2::${i.toString(16)}`)).statusCode).toBe(200);
      expect((await askForKey(rules, keys.appKey, '2001:db8:1:2:ffff::1')).statusCode).toBe(429);
      expect((await askForKey(rules, keys.appKey, '2001:db8:1:3::1')).statusCode).toBe(200);

      const forgotten = tokenOf((await askForKey(rules, keys.appKey, '192.0.2.9')).json().validationUrl);
      clock.offset += 49 * 3600_000;
      try {
        await askForKey(rules, keys.appKey, '192.0.2.10');
        expect((await ctx.app.inject({ url: `/api/v1/ovh/credential-requests/${forgotten}`, headers: session.headers })).statusCode).toBe(
          404,
        );
      } finally {
        clock.offset -= 49 * 3600_000;
      }
    });

    it('refuses a request for a key with an unknown application key or malformed rules, saying why', async () => {
      const unknown = await askForKey({ accessRules: [{ method: 'GET', path: '/*' }] }, 'ZZZZZZZZZZZZZZZZ');
      expect(unknown.statusCode).toBe(403);
      expect(unknown.json()).toMatchObject({ errorCode: 'INVALID_KEY' });
      const badMethod = await askForKey({ accessRules: [{ method: 'PATCH', path: '/*' }] });
      expect(badMethod.statusCode).toBe(400);
      expect(badMethod.json().message).toMatch(/accessRules\[0\]\.method/);
      const badRedirect = await askForKey({ accessRules: [{ method: 'GET', path: '/*' }], redirection: 'javascript:alert(1)' });
      expect(badRedirect.statusCode).toBe(400);
      expect(badRedirect.json().message).toMatch(/redirection/);
      const badIp = await askForKey({ accessRules: [{ method: 'GET', path: '/*' }], allowedIPs: ['nope'] });
      expect(badIp.statusCode).toBe(400);
    });

    it('ends a consumer key on /auth/logout, on revocation, and with its application', async () => {
      const a = await createOvhKeys(ctx.app, owner.customer);
      const out = await ovhCall(ctx.app, a, 'POST', '/auth/logout', { timestamp: seconds() });
      expect(out.statusCode).toBe(200);
      expect(out.body).toBe('null');
      expect((await me(a)).json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });

      const b = await createOvhKeys(ctx.app, owner.customer);
      expect((await me(b)).statusCode).toBe(200);
      const listed = await ctx.app.inject({ url: '/api/v1/ovh/credentials', headers: session.headers });
      const row = (listed.json() as Array<{ id: number; lastUsedAt: string | null }>).find((c) => c.id === b.credentialId);
      expect(row?.lastUsedAt).not.toBeNull();
      const revoked = await ctx.app.inject({
        method: 'DELETE',
        url: `/api/v1/ovh/credentials/${b.credentialId}`,
        headers: session.writeHeaders,
      });
      expect(revoked.statusCode).toBe(204);
      expect((await me(b)).json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });

      const c = await createOvhKeys(ctx.app, owner.customer);
      expect((await me(c)).statusCode).toBe(200);
      const deleted = await ctx.app.inject({
        method: 'DELETE',
        url: `/api/v1/ovh/applications/${c.applicationId}`,
        headers: session.writeHeaders,
      });
      expect(deleted.statusCode).toBe(204);
      expect((await me(c)).json()).toMatchObject({ errorCode: 'INVALID_KEY' });
    });

    describe2Processes();

    function describe2Processes() {
      let second: App;
      beforeAll(async () => {
        second = await buildApp({ config: testConfig(), database: ctx.database, clock });
        await second.ready();
      });
      afterAll(async () => {
        await second?.close();
      });

      it('stops a key revoked by another process within 2 s, and knows keys made there', async () => {
        const k = await createOvhKeys(ctx.app, owner.customer);
        const there = () => ovhCall(second, k, 'GET', '/me', { timestamp: seconds() });
        expect((await there()).statusCode).toBe(200);
        await ctx.app.inject({ method: 'DELETE', url: `/api/v1/ovh/credentials/${k.credentialId}`, headers: session.writeHeaders });
        clock.offset += 2_000;
        try {
          expect((await there()).json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });
        } finally {
          clock.offset -= 2_000;
        }
      });
    }

    it('says so when a Relais on the same database has another server secret, rather than "Invalid signature"', async () => {
      const misconfigured = await buildApp({
        config: testConfig({ secretKey: 'another-server-secret-0123456789abcdefgh' }),
        database: ctx.database,
        clock,
      });
      try {
        const res = await ovhCall(misconfigured, keys, 'GET', '/me', { timestamp: seconds() });
        expect(res.statusCode).toBe(500);
        expect(res.json().message).toMatch(/another server secret.*RELAIS_SECRET_KEY/);
        expect((await me({ ...keys, appSecret: 'x'.repeat(32) })).json()).toMatchObject({ errorCode: 'INVALID_SIGNATURE' });
      } finally {
        await misconfigured.close();
      }
    });

    it('keeps the keys to their customer: tokens may not manage them, another customer cannot touch them', async () => {
      expect((await ctx.app.inject({ url: '/api/v1/ovh/applications', headers: bearer(owner.token) })).statusCode).toBe(403);
      const made = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/ovh/applications',
        headers: bearer(owner.token),
        payload: { name: 'x' },
      });
      expect(made.statusCode).toBe(403);
      const other = await seedCustomerWithAccount(ctx.app);
      const otherSession = await signIn(ctx.app, other.customer.email);
      const k = await createOvhKeys(ctx.app, owner.customer);
      for (const [method, url] of [
        ['DELETE', `/api/v1/ovh/applications/${k.applicationId}`],
        ['DELETE', `/api/v1/ovh/credentials/${k.credentialId}`],
      ] as const) {
        expect((await ctx.app.inject({ method, url, headers: otherSession.writeHeaders })).statusCode).toBe(404);
      }
      const theirList = await ctx.app.inject({ url: '/api/v1/ovh/credentials', headers: otherSession.headers });
      expect(theirList.json()).toEqual([]);
      expect((await me(k)).statusCode).toBe(200);
      const anonymous = await ctx.app.inject({ url: '/api/v1/ovh/applications' });
      expect(anonymous.statusCode).toBe(401);
    });

    it('shows an application secret once, and stores neither it nor the consumer key', async () => {
      const created = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/ovh/applications',
        headers: session.writeHeaders,
        payload: { name: 'Mon script', description: 'envoie les rappels' },
      });
      expect(created.statusCode).toBe(201);
      const app = created.json() as { id: number; appKey: string; appSecret: string };
      expect(app.appKey).toMatch(/^[A-Za-z0-9]{16}$/);
      expect(app.appSecret).toMatch(/^[A-Za-z0-9]{32}$/);
      const key = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/ovh/applications/${app.id}/credentials`,
        headers: session.writeHeaders,
        payload: { rules: [{ method: 'GET', path: '/me' }], validity: 86400 },
      });
      expect(key.statusCode).toBe(201);
      const { consumerKey } = key.json() as { consumerKey: string };
      expect((await me({ appKey: app.appKey, appSecret: app.appSecret, consumerKey })).statusCode).toBe(200);

      const listed = await ctx.app.inject({ url: '/api/v1/ovh/applications', headers: session.headers });
      const row = (listed.json() as Array<Record<string, unknown>>).find((a) => a.id === app.id);
      expect(row).toMatchObject({ name: 'Mon script', description: 'envoie les rappels', credentials: 1 });
      expect(row).not.toHaveProperty('appSecret');
      const { db } = ctx.database;
      const stored = JSON.stringify([
        await db.selectFrom('ovh_applications').selectAll().execute(),
        await db.selectFrom('ovh_credentials').selectAll().execute(),
      ]);
      expect(stored).not.toContain(app.appSecret);
      expect(stored).not.toContain(consumerKey);
      expect(stored).toContain('$argon2id$');
    });

    it('refuses bad key settings with a clear message', async () => {
      const app = (
        await ctx.app.inject({ method: 'POST', url: '/api/v1/ovh/applications', headers: session.writeHeaders, payload: { name: 'x' } })
      ).json();
      const badValidity = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/ovh/applications/${app.id}/credentials`,
        headers: session.writeHeaders,
        payload: { rules: [{ method: 'GET', path: '/me' }], validity: 5 },
      });
      expect(badValidity.statusCode).toBe(400);
      const badIp = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/ovh/applications/${app.id}/credentials`,
        headers: session.writeHeaders,
        payload: { rules: [{ method: 'GET', path: '/me' }], validity: null, allowedIps: ['300.1.1.1'] },
      });
      expect(badIp.statusCode).toBe(400);
      const emptyName = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/ovh/applications',
        headers: session.writeHeaders,
        payload: { name: '   ' },
      });
      expect(emptyName.statusCode).toBe(400);
      expect(emptyName.json().error.message).toMatch(/name/);
    });
  },
  { clock },
);
