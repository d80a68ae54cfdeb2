import { beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialectWithApp } from './app.js';
import { bearer, createToken, type SeededAccount, seedCustomerWithAccount } from './factories.js';
import { createOvhKeys, type OvhKeys, ovhCall } from './ovh.js';

const LIMIT = 3;

describeEachDialectWithApp(
  'failed API authentications from one client',
  (ctx) => {
    let seeded: SeededAccount;
    let keys: OvhKeys;
    let readOnly: OvhKeys;
    const accounts = (authorization: string, remoteAddress: string) =>
      ctx.app.inject({ method: 'GET', url: '/api/v1/accounts', headers: { authorization }, remoteAddress });

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app);
      keys = await createOvhKeys(ctx.app, seeded.customer);
      readOnly = await createOvhKeys(ctx.app, seeded.customer, { rules: [{ method: 'GET', path: '/me' }] });
    });

    describe('bearer tokens', () => {
      it(`answers 401 for ${LIMIT} wrong tokens, then 429 with Retry-After even for a good one; other clients go on`, async () => {
        const ip = '198.51.100.7';
        const id = /^rls_(\d+)_/.exec(seeded.token)![1];
        const wrong = [`Bearer rls_${id}_${'x'.repeat(43)}`, `Bearer rls_999999_${'y'.repeat(43)}`, 'Bearer not-a-token'];
        for (const authorization of wrong) expect((await accounts(authorization, ip)).statusCode).toBe(401);
        const limited = await accounts(seeded.auth.authorization, ip);
        expect(limited.statusCode).toBe(429);
        expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
        expect(limited.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
        // Another address: unaffected, even a neighbour's (IPv4 addresses are clients of their own).
        expect((await accounts(seeded.auth.authorization, '198.51.100.8')).statusCode).toBe(200);
      });

      it('counts no good token: a client using its tokens is never limited', async () => {
        const ip = '198.51.100.9';
        const other = bearer(await createToken(ctx.app, seeded.account, { name: 'second' })).authorization;
        for (let i = 0; i < LIMIT * 3; i++) expect((await accounts(i % 2 ? other : seeded.auth.authorization, ip)).statusCode).toBe(200);
        for (let i = 0; i < LIMIT; i++) expect((await accounts('Bearer rls_1_nope', ip)).statusCode).toBe(401);
        expect((await accounts(other, ip)).statusCode).toBe(429);
      });

      it('counts an IPv6 /64 as one client', async () => {
        for (let i = 0; i < LIMIT; i++) expect((await accounts('Bearer rls_1_nope', `2001:db8:7:7::${i + 1}`)).statusCode).toBe(401);
        expect((await accounts(seeded.auth.authorization, '2001:db8:7:7:abcd::1')).statusCode).toBe(429);
        expect((await accounts(seeded.auth.authorization, '2001:db8:7:8::1')).statusCode).toBe(200);
      });
    });

    it('counts wrong bearer tokens and wrong OVH keys or signatures of one client as one budget', async () => {
      const remoteAddress = '198.51.100.30';
      for (let i = 0; i < LIMIT - 1; i++) expect((await accounts('Bearer rls_1_nope', remoteAddress)).statusCode).toBe(401);
      expect((await ovhCall(ctx.app, { ...keys, appSecret: 'not-the-secret' }, 'GET', '/me', { remoteAddress })).statusCode).toBe(403);
      expect((await ovhCall(ctx.app, keys, 'GET', '/me', { remoteAddress })).statusCode).toBe(429);
      expect((await accounts(seeded.auth.authorization, remoteAddress)).statusCode).toBe(429);
    });

    describe('OVH signed requests', () => {
      it(`answers ${LIMIT} wrong signatures or keys in OVH's words, then 429 (Client::TooManyRequests) even for a good one`, async () => {
        const remoteAddress = '198.51.100.20';
        const badSignature = await ovhCall(ctx.app, { ...keys, appSecret: 'not-the-secret' }, 'GET', '/me', { remoteAddress });
        expect(badSignature.json()).toMatchObject({ httpCode: '403 Forbidden', errorCode: 'INVALID_SIGNATURE' });
        const badConsumer = await ovhCall(ctx.app, { ...keys, consumerKey: 'A'.repeat(32) }, 'GET', '/me', { remoteAddress });
        expect(badConsumer.statusCode).toBe(403);
        const badApplication = await ovhCall(ctx.app, { ...keys, appKey: 'B'.repeat(16) }, 'GET', '/me', { remoteAddress });
        expect(badApplication.statusCode).toBe(403);
        const limited = await ovhCall(ctx.app, keys, 'GET', '/me', { remoteAddress });
        expect(limited.statusCode).toBe(429);
        expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
        expect(limited.json()).toMatchObject({ class: 'Client::TooManyRequests', errorCode: 'RATE_LIMITED' });
        expect((await ovhCall(ctx.app, keys, 'GET', '/me', { remoteAddress: '198.51.100.21' })).statusCode).toBe(200);
      });

      it('counts neither calls not granted nor clocks out of step: they are not guesses', async () => {
        const remoteAddress = '198.51.100.22';
        for (let i = 0; i < LIMIT * 2; i++) {
          expect((await ovhCall(ctx.app, readOnly, 'GET', '/sms', { remoteAddress })).json()).toMatchObject({
            errorCode: 'NOT_GRANTED_CALL',
          });
          const late = await ovhCall(ctx.app, keys, 'GET', '/me', { remoteAddress, timestamp: Math.floor(Date.now() / 1000) - 3600 });
          expect(late.json()).toMatchObject({ errorCode: 'QUERY_TIME_OUT_OF_BOUNDS' });
        }
        expect((await ovhCall(ctx.app, keys, 'GET', '/me', { remoteAddress })).statusCode).toBe(200);
      });
    });
  },
  { config: { apiAuthFailuresPerMinute: LIMIT } },
);
