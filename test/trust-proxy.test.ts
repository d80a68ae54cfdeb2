import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server/app.js';
import { testConfig } from './app.js';
import { describeEachDialect } from './database.js';
import { createSender, createSmsUser, type SeededAccount, seedCustomerWithAccount, TEST_PASSWORD } from './factories.js';

/** A GET over a real socket from `localAddress`, with `headers`: the status, headers and body. */
function get(port: number, path: string, headers: Record<string, string>, localAddress = '127.0.0.1') {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describeEachDialect('behind a reverse proxy (RELAIS_TRUST_PROXY)', (ctx) => {
  /** Apps trusting these proxies, each listening on a loopback port. */
  const apps: { app: App; port: number }[] = [];
  let seeded: SeededAccount;
  const serve = async (trustProxy: string[]) => {
    const app = await buildApp({ config: testConfig({ trustProxy }), database: ctx.database });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const served = { app, port: (app.server.address() as AddressInfo).port };
    apps.push(served);
    return served;
  };
  const http2sms = (forwardedFor?: string) => {
    const q = new URLSearchParams({
      account: seeded.account.name,
      login: 'fenced',
      password: TEST_PASSWORD,
      from: 'MyShop',
      to: '+33612345678',
      message: 'Hi',
      contentType: 'text/json',
    });
    const headers: Record<string, string> = forwardedFor ? { 'x-forwarded-for': forwardedFor } : {};
    return { path: `/cgi-bin/sms/http2sms.cgi?${q}`, headers };
  };

  beforeAll(async () => {
    const setUp = await serve([]);
    seeded = await seedCustomerWithAccount(setUp.app, { account: { credits: 100 } });
    await createSender(setUp.app, seeded.account, { sender: 'MyShop' });
    await createSmsUser(setUp.app, seeded.account, { login: 'fenced', ipRestrictions: ['203.0.113.0/24'] });
  });
  afterAll(async () => {
    for (const { app } of apps) await app.close();
  });

  describe('from a trusted proxy', () => {
    it('takes the client named by X-Forwarded-For for the SMS user’s IP restrictions', async () => {
      const { port } = await serve(['127.0.0.1']);
      const { path, headers } = http2sms('203.0.113.9');
      const allowed = await get(port, path, headers);
      expect(JSON.parse(allowed.body).status).toBe(100);
      const elsewhere = http2sms('198.51.100.1, 203.0.113.9'); // the proxy appends the address it saw: what precedes it the client wrote itself
      expect(JSON.parse((await get(port, elsewhere.path, elsewhere.headers)).body).status).toBe(100);
      const outside = http2sms('203.0.113.9, 198.51.100.1');
      expect(JSON.parse((await get(port, outside.path, outside.headers)).body).status).toBe(401);
    });

    it('marks the session cookie Secure when the proxy says the client came over HTTPS', async () => {
      const { app } = await serve(['loopback']);
      const signIn = (proto?: string) =>
        app.inject({
          method: 'POST',
          url: '/api/v1/auth/sign-in',
          remoteAddress: '127.0.0.1',
          headers: proto ? { 'x-forwarded-proto': proto } : {},
          payload: { email: seeded.customer.email, password: TEST_PASSWORD },
        });
      expect(String((await signIn('https')).headers['set-cookie'])).toContain('Secure');
      expect(String((await signIn()).headers['set-cookie'])).not.toContain('Secure');
    });
  });

  describe('from anywhere else', () => {
    it('ignores X-Forwarded-For: a client cannot pretend to be elsewhere', async () => {
      for (const trustProxy of [[], ['127.0.0.2']]) {
        const { port } = await serve(trustProxy);
        const { path, headers } = http2sms('203.0.113.9');
        expect(JSON.parse((await get(port, path, headers, '127.0.0.1')).body).status, String(trustProxy)).toBe(401);
      }
      // The trusted proxy itself, at 127.0.0.2, is heard.
      const { port } = await serve(['127.0.0.2']);
      const { path, headers } = http2sms('203.0.113.9');
      expect(JSON.parse((await get(port, path, headers, '127.0.0.2')).body).status).toBe(100);
    });
  });
});
