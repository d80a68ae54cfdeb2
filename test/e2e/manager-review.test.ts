import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LightMyRequestResponse } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Account } from '../../src/server/modules/accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../../src/server/modules/accounts/accounts.service.js';
import { SESSION_COOKIE } from '../../src/server/modules/auth/auth.plugin.js';
import { describeEachDialectWithApp } from '../app.js';
import {
  createAccount,
  createSender,
  createSmsUser,
  createToken,
  fastAuthConfig,
  type SeededAccount,
  seedCustomerWithAccount,
  signIn,
  TEST_PASSWORD,
  type TestSession,
} from '../factories.js';
import { type HttpListener, startHttpListener } from '../http-listener.js';
import { countRows } from '../ledger.js';
import { buildOutgoing, insertOutgoing } from '../outgoing-factory.js';
import { createOvhKeys, type OvhKeys } from '../ovh.js';
import { useSession as giveSession, launchBrowser, listen, newContext } from './browser.js';

/**
 * Adversarial review of the Manager: stored and reflected XSS through every field a customer, an SMS user
 * or an API caller can set and the Manager shows; CSRF and clickjacking from a page of another origin in
 * a real browser; the session cookie; cross-customer access through the OVH key routes; cache headers of
 * private answers. Each test asserts the safe outcome.
 */

// A browser test waits for the page, never for time; these budgets only bound a broken run.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

/** An image whose error handler would run, and a marker element: either in the DOM means HTML was injected. */
const XSS = '<img src=x onerror=window.__xss=1><b data-xss>!</b>';
/** Fields without spaces (rule paths). */
const XSS_PATH = '/sms/<svg/onload=window.__xss=2>';
/** Within the Manager's 32-character login field. */
const XSS_LOGIN = '<svg onload=window.__xss=3>';
const EVIL_ORIGIN = 'https://evil.example';

/** What an injection would leave in the DOM, and whether a script of it ran. */
async function injected(page: Page): Promise<{ elements: number; ran: unknown }> {
  return page.evaluate(() => ({
    elements: document.querySelectorAll('img[src="x"], svg[onload], [data-xss], script:not([src]), iframe, object, embed').length,
    ran: (window as { __xss?: unknown }).__xss,
  }));
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describeEachDialectWithApp(
  'Manager review',
  (ctx) => {
    let base: string;
    let a: SeededAccount;
    let b: SeededAccount;
    let sa: TestSession;
    let sb: TestSession;
    let aSecond: Account;
    let aKeys: OvhKeys;
    let vendor: SeededAccount;
    /** The application's site and the attacker's site: one listener on another port of 127.0.0.1 (same site, other origin). */
    let other: HttpListener;
    let attackerPage = '';
    const arrivals: string[] = [];
    let context: BrowserContext;
    let page: Page;

    const inject = (
      method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'HEAD',
      url: string,
      headers: Record<string, string>,
      payload?: unknown,
    ) => ctx.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

    /** `POST /1.0/auth/credential`: a consumer key request of the vendor's application, as a program makes it. */
    const requestCredential = async (appKey: string, redirection: string | null, path = '/sms/*') => {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/1.0/auth/credential',
        headers: { 'content-type': 'application/json', 'x-ovh-application': appKey, host: new URL(base).host },
        payload: { accessRules: [{ method: 'GET', path }], redirection },
        remoteAddress: `192.0.2.${Math.floor(Math.random() * 250) + 1}`,
      });
      expect(res.statusCode, res.body).toBe(200);
      const answer = res.json() as { validationUrl: string; consumerKey: string };
      return { ...answer, token: new URL(answer.validationUrl).searchParams.get('credentialToken') ?? '' };
    };
    const requestStatus = async (token: string, session: TestSession = sa) => {
      const res = await inject('GET', `/api/v1/ovh/credential-requests/${token}`, session.headers);
      expect(res.statusCode, res.body).toBe(200);
      return (res.json() as { status: string }).status;
    };
    const vendorApplication = async (name: string, description = '') =>
      ctx.app.services.ovhKeys.createApplication(SYSTEM_ACTOR, { name, description, ownerEmail: vendor.customer.email });

    beforeAll(async () => {
      a = await seedCustomerWithAccount(ctx.app, { account: { credits: 100 } });
      aSecond = await createAccount(ctx.app, { owner: a.customer });
      b = await seedCustomerWithAccount(ctx.app, { account: { credits: 100 } });
      vendor = await seedCustomerWithAccount(ctx.app);
      sa = await signIn(ctx.app, a.customer.email);
      sb = await signIn(ctx.app, b.customer.email);
      aKeys = await createOvhKeys(ctx.app, a.customer);
      await createSender(ctx.app, a.account, { sender: 'ShopA' });
      await createSmsUser(ctx.app, a.account, { login: 'alice' });
      base = await listen(ctx.app);
      other = await startHttpListener((request: IncomingMessage, response: ServerResponse) => {
        arrivals.push(request.url ?? '');
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end(request.url?.startsWith('/attack') ? attackerPage : '<!doctype html><title>Ailleurs</title><h1>Elsewhere</h1>');
      });
    });
    afterAll(async () => {
      await other?.close();
    });

    beforeEach(async () => {
      context = await newContext(browser, base);
      page = await context.newPage();
    });
    afterEach(async () => {
      await context?.close();
    });

    // ---------------------------------------------------------------- raw HTTP

    describe('over raw HTTP', () => {
      it('refuses every OVH key write made with the session cookie but without, with a wrong or with another session’s CSRF token, or as a form', async () => {
        const app = await ctx.app.services.ovhKeys.createApplication(SYSTEM_ACTOR, { name: 'kept', ownerEmail: a.customer.email });
        const vendorApp = await vendorApplication('Vendeur CSRF');
        const pending = await requestCredential(vendorApp.application.appKey, null);
        const writes: { method: 'POST' | 'DELETE'; url: string; payload?: unknown }[] = [
          { method: 'POST', url: '/api/v1/ovh/applications', payload: { name: 'planted' } },
          { method: 'DELETE', url: `/api/v1/ovh/applications/${app.application.id}` },
          {
            method: 'POST',
            url: `/api/v1/ovh/applications/${app.application.id}/credentials`,
            payload: { rules: [{ method: 'GET', path: '/*' }], validity: null },
          },
          { method: 'DELETE', url: `/api/v1/ovh/credentials/${aKeys.credentialId}` },
          { method: 'POST', url: `/api/v1/ovh/credential-requests/${pending.token}/validate`, payload: { validity: null } },
          { method: 'POST', url: `/api/v1/ovh/credential-requests/${pending.token}/refuse`, payload: {} },
        ];
        const other = await signIn(ctx.app, a.customer.email);
        const badHeaders: Record<string, string>[] = [
          { ...sa.headers },
          { ...sa.headers, 'x-csrf-token': '' },
          { ...sa.headers, 'x-csrf-token': 'wrong' },
          { ...sa.headers, 'x-csrf-token': sb.csrfToken },
          { ...sa.headers, 'x-csrf-token': other.csrfToken },
          { ...sa.headers, origin: EVIL_ORIGIN },
        ];
        const before = { apps: await countRows(ctx.database, 'ovh_applications'), creds: await countRows(ctx.database, 'ovh_credentials') };
        for (const headers of badHeaders) {
          for (const w of writes) {
            const res = await inject(w.method, w.url, headers, w.payload);
            expect(res.statusCode, `${w.method} ${w.url} ${JSON.stringify(headers)}: ${res.body}`).toBe(403);
            expect(res.json().error.code).toBe('CSRF_FAILED');
          }
        }
        // Plain HTML forms (no custom header possible): text/plain carrying JSON, urlencoded, multipart.
        for (const [type, body] of [
          ['text/plain', JSON.stringify({ validity: null })],
          ['application/x-www-form-urlencoded', 'validity='],
          ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="validity"\r\n\r\n\r\n--x--\r\n'],
        ]) {
          const res = await ctx.app.inject({
            method: 'POST',
            url: `/api/v1/ovh/credential-requests/${pending.token}/validate`,
            headers: { ...sa.headers, 'content-type': type, origin: EVIL_ORIGIN },
            payload: body,
          });
          expect(res.statusCode, type).toBe(403);
        }
        expect(await requestStatus(pending.token)).toBe('pendingValidation');
        expect(await countRows(ctx.database, 'ovh_applications')).toBe(before.apps);
        expect(await countRows(ctx.database, 'ovh_credentials')).toBe(before.creds);
        // The real token works (the refusals above were the CSRF check's, not another problem).
        const ok = await inject('POST', `/api/v1/ovh/credential-requests/${pending.token}/refuse`, sa.writeHeaders, {});
        expect(ok.statusCode, ok.body).toBe(200);
      });

      it("gives one customer's session none of another customer's OVH applications and consumer keys: not listed, not deleted, not used to mint keys", async () => {
        const listApps = (s: TestSession) => inject('GET', '/api/v1/ovh/applications', s.headers);
        const listCreds = (s: TestSession) => inject('GET', '/api/v1/ovh/credentials', s.headers);
        expect((await listApps(sb)).json()).toEqual([]);
        expect((await listCreds(sb)).json()).toEqual([]);
        const attempts: [string, string, unknown][] = [
          ['DELETE', `/api/v1/ovh/applications/${aKeys.applicationId}`, undefined],
          ['DELETE', `/api/v1/ovh/credentials/${aKeys.credentialId}`, undefined],
          [
            'POST',
            `/api/v1/ovh/applications/${aKeys.applicationId}/credentials`,
            { rules: [{ method: 'GET', path: '/*' }], validity: null },
          ],
        ];
        for (const [method, url, payload] of attempts) {
          const res = await inject(method as 'POST', url, sb.writeHeaders, payload);
          expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(404);
          expect(res.body).not.toContain(aKeys.appKey);
        }
        const appsOfA = (await listApps(sa)).json() as { id: number; credentials: number }[];
        expect(appsOfA.find((x) => x.id === aKeys.applicationId)).toMatchObject({ credentials: 1 });
        expect(((await listCreds(sa)).json() as { id: number }[]).map((c) => c.id)).toContain(aKeys.credentialId);
        // B validating a vendor's request binds it to B's accounts only: A's history stays out of its reach.
        const vendorApp = await vendorApplication('Vendeur IDOR');
        const req = await requestCredential(vendorApp.application.appKey, null);
        expect(
          (await inject('POST', `/api/v1/ovh/credential-requests/${req.token}/validate`, sb.writeHeaders, { validity: 3600 })).statusCode,
        ).toBe(200);
        expect(
          ((await listCreds(sa)).json() as { application: { name: string } }[]).some((c) => c.application.name === 'Vendeur IDOR'),
        ).toBe(false);
      });

      it("reaches none of another customer's history through other spellings of its account name or path tricks", async () => {
        const secret = `secret of A ${Date.now()}`;
        await insertOutgoing(ctx.database, [buildOutgoing({ account_id: a.account.id, message: secret })]);
        const A = a.account.name;
        const B = b.account.name;
        const paths = [
          `/api/v1/accounts/${A.toUpperCase()}/outgoing`,
          `/api/v1/accounts/${A}%20/outgoing`,
          `/api/v1/accounts/%20${A}/outgoing`,
          `/api/v1/accounts/${encodeURIComponent(A)}%2F/outgoing`,
          `/api/v1/accounts/${B}/../${A}/outgoing`,
          `/api/v1/accounts/${B}/%2e%2e/${A}/outgoing`,
          `/api/v1/accounts/${B}%2F..%2F${A}/outgoing`,
          `/api/v1/accounts/${A}/outgoing.csv?all=true`,
          `/api/v1/accounts/${A}/outgoing.jsonl`,
          `/api/v1/accounts/${A}/outgoing?user=-&q=${encodeURIComponent(secret)}`,
          `/api/v1/accounts/${A}/stats?from=2020-01-01&to=2030-01-01`,
        ];
        for (const url of paths) {
          const res = await inject('GET', url, sb.headers);
          expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
          expect(res.statusCode, url).toBeLessThan(500);
          expect(res.body, url).not.toContain(secret);
        }
        const own = await inject('GET', `/api/v1/accounts/${A}/outgoing?q=${encodeURIComponent(secret)}`, sa.headers);
        expect(own.body).toContain(secret);
      });

      it('marks the private answers of the API as not to be stored by any cache (who is signed in and its CSRF token, history, tokens, users, OVH keys)', async () => {
        const name = a.account.name;
        const urls = [
          '/api/v1/auth/me',
          '/api/v1/accounts',
          `/api/v1/accounts/${name}`,
          `/api/v1/accounts/${name}/outgoing`,
          `/api/v1/accounts/${name}/outgoing/count`,
          `/api/v1/accounts/${name}/users`,
          `/api/v1/accounts/${name}/tokens`,
          '/api/v1/ovh/applications',
          '/api/v1/ovh/credentials',
        ];
        const missing: string[] = [];
        for (const url of urls) {
          const res = await inject('GET', url, sa.headers);
          expect(res.statusCode, url).toBe(200);
          if (!/no-store/.test(String(res.headers['cache-control'] ?? '')))
            missing.push(`${url} (cache-control: ${res.headers['cache-control']})`);
        }
        // The exports already say so.
        expect(String((await inject('GET', `/api/v1/accounts/${name}/outgoing.csv`, sa.headers)).headers['cache-control'])).toBe(
          'no-store',
        );
        expect(missing).toEqual([]);
      });

      it('forbids framing and sniffing on every HTML answer: Manager pages, /index.html, HEAD, unknown pages, validation links, the API docs', async () => {
        const pending = await requestCredential((await vendorApplication('Cadre')).application.appKey, null);
        const urls = [
          '/',
          '/index.html',
          '/accounts',
          `/accounts/${a.account.name}/history`,
          '/no/such/page',
          '/ovh/keys',
          `/ovh/validate?credentialToken=${pending.token}`,
          '/api/docs',
          '/api/docs/',
          '/api/docs/static/oauth2-redirect.html',
        ];
        for (const method of ['GET', 'HEAD'] as const) {
          for (const url of urls) {
            for (const headers of [{}, sa.headers]) {
              const res = await inject(method, url, headers);
              const type = String(res.headers['content-type'] ?? '');
              if (!type.startsWith('text/html')) continue;
              const csp = String(res.headers['content-security-policy'] ?? '');
              const framing = /frame-ancestors 'none'/.test(csp) || /^deny$/i.test(String(res.headers['x-frame-options'] ?? ''));
              expect(framing, `${method} ${url}: ${csp}`).toBe(true);
              expect(csp, `${method} ${url}`).not.toMatch(/script-src[^;]*'unsafe-inline'/);
            }
          }
        }
        // Files that are not pages never come back as HTML that a frame could show.
        for (const url of ['/nope.html', '/assets/nope.html', '/accounts/x/history.html']) {
          const res = await inject('GET', url, sa.headers);
          expect(String(res.headers['content-type']), url).not.toMatch(/text\/html/);
        }
      });

      it('sets the session cookie HttpOnly, SameSite=Lax, Path=/, without Domain; clears an unknown one; sign-out clears it and ends the session for good', async () => {
        const res = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/auth/sign-in',
          payload: { email: a.customer.email, password: TEST_PASSWORD },
          remoteAddress: '198.51.100.78',
        });
        expect(res.statusCode).toBe(200);
        const setCookie = String(res.headers['set-cookie']);
        expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[\\w-]{40,}`));
        expect(setCookie).toMatch(/; HttpOnly/i);
        expect(setCookie).toMatch(/; SameSite=Lax/i);
        expect(setCookie).toMatch(/; Path=\/(;|$)/);
        expect(setCookie).not.toMatch(/; Domain=/i);
        // The cookie's value never appears in the body (a script could read it there).
        const value = res.cookies.find((c) => c.name === SESSION_COOKIE)?.value ?? '';
        expect(res.body).not.toContain(value);
        const cookie = `${SESSION_COOKIE}=${value}`;
        const me = await inject('GET', '/api/v1/auth/me', { cookie });
        expect(me.statusCode).toBe(200);
        const csrf = (me.json() as { csrfToken: string }).csrfToken;
        expect(me.body).not.toContain(value);

        const unknown = await inject('GET', '/api/v1/auth/me', { cookie: `${SESSION_COOKIE}=${'B'.repeat(43)}` });
        expect(unknown.statusCode).toBe(401);
        expect(String(unknown.headers['set-cookie'])).toMatch(new RegExp(`^${SESSION_COOKIE}=;.*Expires=Thu, 01 Jan 1970`, 'i'));

        const out = await inject('POST', '/api/v1/auth/sign-out', { cookie, 'x-csrf-token': csrf });
        expect(out.statusCode).toBe(204);
        expect(String(out.headers['set-cookie'])).toMatch(/Expires=Thu, 01 Jan 1970/i);
        expect(String(out.headers['set-cookie'])).toMatch(/; HttpOnly/i);
        // The old cookie replayed, with its CSRF token, reads and writes nothing, even on the OVH key routes.
        expect((await inject('GET', '/api/v1/auth/me', { cookie })).statusCode).toBe(401);
        expect((await inject('GET', '/api/v1/ovh/credentials', { cookie })).statusCode).toBe(401);
        const replay = await inject('POST', '/api/v1/ovh/applications', { cookie, 'x-csrf-token': csrf }, { name: 'after sign-out' });
        expect(replay.statusCode).toBe(401);
        // The other sessions of the customer stay.
        expect((await inject('GET', '/api/v1/auth/me', sa.headers)).statusCode).toBe(200);
      });

      it('answers errors that echo input as JSON, never as HTML a browser would render', async () => {
        for (const [method, url] of [
          ['GET', '/api/v1/<img src=x onerror=alert(1)>'],
          ['GET', `/api/v1/accounts/${encodeURIComponent(XSS)}/outgoing`],
          ['DELETE', '/api/v1/<script>alert(1)</script>'],
          ['GET', `/api/v1/ovh/credential-requests/${encodeURIComponent(XSS)}`],
        ] as const) {
          const res = await inject(method, url, method === 'GET' ? sa.headers : sa.writeHeaders);
          expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
          expect(res.statusCode, url).toBeLessThan(500);
          expect(String(res.headers['content-type']), url).toMatch(/^application\/json/);
        }
        // A user created with HTML for a login is refused with a JSON message.
        const res = await inject('POST', `/api/v1/accounts/${a.account.name}/users`, sa.writeHeaders, {
          login: XSS_LOGIN,
          password: 'long enough password',
        });
        expect(res.statusCode).toBe(400);
        expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
      });
    });

    // ---------------------------------------------------------------- real browser

    describe('in a real browser', () => {
      describe('stored data shown as text', () => {
        let appName: string;
        beforeAll(async () => {
          // The owner's own fields, as the Manager or the API lets them be set.
          const patch = await inject('PATCH', `/api/v1/accounts/${a.account.name}`, sa.writeHeaders, { description: XSS });
          expect(patch.statusCode, patch.body).toBe(200);
          await createSender(ctx.app, a.account, { sender: 'XssShop', description: XSS });
          await createSmsUser(ctx.app, a.account, { login: 'hooked', callbackUrl: `https://example.com/${XSS}` });
          await createToken(ctx.app, a.account, { name: XSS });
          // History rows whose every text field an API caller, an SMS user or a carrier wrote.
          await insertOutgoing(ctx.database, [
            buildOutgoing({
              account_id: a.account.id,
              message: `msg ${XSS}`,
              sender: XSS.slice(0, 32),
              tag: `tag ${XSS}`,
              user_login: `u${XSS}`,
              status: 'failed',
              error_text: `err ${XSS}`,
              error_code: '<b data-xss>7</b>',
              created_at: Date.now() - 60_000,
            }),
          ]);
          // An OVH application of the customer, and a consumer key whose rule path holds HTML.
          appName = `app ${XSS}`;
          const made = await ctx.app.services.ovhKeys.createApplication(SYSTEM_ACTOR, {
            name: appName,
            description: `desc ${XSS}`,
            ownerEmail: a.customer.email,
          });
          await ctx.app.services.ovhKeys.createCredential(SYSTEM_ACTOR, {
            applicationId: made.application.id,
            ownerEmail: a.customer.email,
            rules: [{ method: 'GET', path: XSS_PATH }],
            validity: null,
            allowedIps: ['192.0.2.1'],
          });
        });

        it('shows the account description, senders, SMS user callback URL, token names, history fields and OVH keys literally; no element injected, no script run', async () => {
          await giveSession(context, base, sa);
          const seen: string[] = [];
          const check = async (where: string) => {
            const found = await injected(page);
            expect(found, where).toEqual({ elements: 0, ran: undefined });
            seen.push(where);
          };
          await page.goto('/accounts');
          await page.getByText(XSS, { exact: true }).first().waitFor();
          await check('accounts');

          await page.goto(`/accounts/${a.account.name}/history?q=msg`);
          const row = page.locator('[role="row"][data-id]').first();
          await row.waitFor();
          expect(await row.locator('.cell-message').textContent()).toBe(`msg ${XSS}`);
          expect(await row.textContent()).toContain(`u${XSS}`);
          await row.click();
          const panel = page.locator('.detail');
          await panel.getByText(`tag ${XSS}`).waitFor();
          expect(await panel.textContent()).toContain(`err ${XSS}`);
          expect(await panel.textContent()).toContain('(<b data-xss>7</b>)');
          expect(await panel.textContent()).toContain(XSS.slice(0, 32));
          await check('history');

          await page.goto(`/accounts/${a.account.name}/users`);
          await page.getByText(`https://example.com/${XSS}`).waitFor();
          await check('users');

          await page.goto(`/accounts/${a.account.name}/senders`);
          await page.locator('tr', { hasText: 'XssShop' }).getByText(XSS).waitFor();
          await check('senders');

          await page.goto(`/accounts/${a.account.name}/tokens`);
          await page.getByText(XSS, { exact: true }).first().waitFor();
          await check('tokens');

          await page.goto(`/accounts/${a.account.name}/settings`);
          await page.getByRole('heading').first().waitFor();
          await page.waitForLoadState('networkidle');
          await check('settings');

          await page.goto(`/accounts/${a.account.name}/send`);
          await page.getByRole('heading').first().waitFor();
          await page.waitForLoadState('networkidle');
          await check('send');

          await page.goto('/ovh/keys');
          await page.getByText(appName).first().waitFor();
          await page.getByText(`desc ${XSS}`).first().waitFor();
          await page.getByText(XSS_PATH).first().waitFor();
          await check('ovh keys');
          expect(seen).toHaveLength(8);
        });

        it('shows an application’s name, description and rule paths on its validation link literally; no element injected, no script run', async () => {
          const vendorApp = await vendorApplication(`v ${XSS}`, `vd ${XSS}`);
          const req = await requestCredential(vendorApp.application.appKey, null, XSS_PATH);
          await giveSession(context, base, sa);
          await page.goto(`/ovh/validate?credentialToken=${req.token}`);
          await page.getByRole('heading', { name: `« v ${XSS} » demande l’accès à vos comptes SMS` }).waitFor();
          expect(await page.locator('.app-description').textContent()).toContain(`vd ${XSS}`);
          expect(await page.locator('.grants').textContent()).toContain(XSS_PATH);
          expect(await injected(page)).toEqual({ elements: 0, ran: undefined });
        });
      });

      it('shows input echoed by the address or by an error as text: an account name in the URL, an HTML login refused', async () => {
        await giveSession(context, base, sa);
        await page.goto(`/accounts/${encodeURIComponent(XSS)}/history`);
        await page.locator('[data-error="account"]').waitFor();
        expect(await injected(page)).toEqual({ elements: 0, ran: undefined });
        await page.goto(
          `/accounts/${a.account.name}/history?user=${encodeURIComponent(XSS)}&tag=${encodeURIComponent(XSS)}&q=${encodeURIComponent(XSS)}`,
        );
        await page.locator('[role="grid"][aria-busy="false"]').waitFor();
        expect(await injected(page)).toEqual({ elements: 0, ran: undefined });

        await page.goto(`/accounts/${a.account.name}/users`);
        await page.locator('input[name="login"]').fill(XSS_LOGIN);
        await page.getByRole('button', { name: 'Créer', exact: true }).click();
        const alert = page.locator('.error[role="alert"]');
        await alert.waitFor();
        expect(await alert.textContent()).toContain(XSS_LOGIN);
        expect(await injected(page)).toEqual({ elements: 0, ran: undefined });
      });

      it('never sends the browser to a javascript: or data: redirection of a consumer key request, even one stored by an older version', async () => {
        for (const redirection of [
          'javascript:window.__xss=9//',
          'data:text/html,<script>window.__xss=9</script>',
          'JaVaScRiPt:window.__xss=9',
        ]) {
          const vendorApp = await vendorApplication('Redirige');
          // Refused when asked for.
          const asked = await ctx.app.inject({
            method: 'POST',
            url: '/1.0/auth/credential',
            headers: { 'content-type': 'application/json', 'x-ovh-application': vendorApp.application.appKey },
            payload: { accessRules: [{ method: 'GET', path: '/me' }], redirection },
            remoteAddress: '192.0.2.200',
          });
          expect(asked.statusCode, redirection).toBe(400);
          // Stored anyway (a row written before the check existed): the page follows only http(s).
          const req = await requestCredential(vendorApp.application.appKey, `${other.base}/back`);
          await ctx.database.db
            .updateTable('ovh_credentials')
            .set({ redirection })
            .where('redirection', '=', `${other.base}/back`)
            .execute();
          const pageCtx = await newContext(browser, base);
          try {
            await giveSession(pageCtx, base, sa);
            const p = await pageCtx.newPage();
            await p.goto(`/ovh/validate?credentialToken=${req.token}`);
            await p.getByRole('button', { name: 'Refuser' }).click();
            await p.getByRole('heading', { name: 'Accès refusé' }).waitFor();
            expect(new URL(p.url()).origin).toBe(base);
            expect(await injected(p)).toEqual({ elements: 0, ran: undefined });
          } finally {
            await pageCtx.close();
          }
        }
      });

      it('follows no redirection parameter at sign-in: the customer stays on this Relais', async () => {
        const query = `?next=${encodeURIComponent(`${other.base}/phish`)}&redirect=${encodeURIComponent('javascript:window.__xss=1')}&returnTo=//evil.example/`;
        await page.goto(`/${query}`);
        await page.getByLabel('Adresse e-mail').fill(a.customer.email);
        await page.getByLabel('Mot de passe').fill(TEST_PASSWORD);
        await page.getByRole('button', { name: 'Se connecter' }).click();
        await page
          .getByRole('heading', { name: 'Choisissez un compte SMS' })
          .or(page.getByRole('heading', { name: 'Historique des envois' }))
          .first()
          .waitFor();
        expect(new URL(page.url()).origin).toBe(base);
        expect(arrivals.filter((x) => x.startsWith('/phish'))).toEqual([]);
        expect(await injected(page)).toEqual({ elements: 0, ran: undefined });
      });

      it('cannot be framed by a page of another origin (clickjacking the validation link or the history)', async () => {
        const req = await requestCredential((await vendorApplication('Cadre navigateur')).application.appKey, null);
        await giveSession(context, base, sa);
        const targets = [`${base}/ovh/validate?credentialToken=${req.token}`, `${base}/accounts/${a.account.name}/history`];
        attackerPage = `<!doctype html><title>Gagnez</title>${targets
          .map((t, i) => `<iframe id="f${i}" src="${t}" width="800" height="600" onload="window.__loaded=(window.__loaded||0)+1"></iframe>`)
          .join('')}<iframe src="/elsewhere" onload="window.__loaded=(window.__loaded||0)+1"></iframe>`;
        const seenFramed: string[] = [];
        page.on('response', (r) => {
          if (r.url().startsWith(base) && r.request().resourceType() === 'document') seenFramed.push(r.url());
        });
        await page.goto(`${other.base}/attack/frame`);
        await page.waitForFunction(() => (window as { __loaded?: number }).__loaded === 3, undefined, { timeout: 20_000 });
        expect(seenFramed.sort()).toEqual([...targets].sort());
        for (const frame of page.frames()) {
          if (frame === page.mainFrame()) continue;
          if (frame.url().startsWith(other.base)) {
            expect(await frame.locator('h1').textContent()).toBe('Elsewhere');
            continue;
          }
          // The Manager's document was refused in the frame: nothing of it to click.
          expect(frame.url().startsWith(base), frame.url()).toBe(false);
        }
        expect(await requestStatus(req.token)).toBe('pendingValidation');
      });

      it('a page of another origin on the same site cannot read the CSRF token nor validate a consumer key, mint a token, delete or send with the signed-in browser', async () => {
        const fresh = await signIn(ctx.app, a.customer.email);
        await giveSession(context, base, fresh);
        const req = await requestCredential((await vendorApplication('Vendeur navigateur')).application.appKey, null);
        const [victimId] = await insertOutgoing(ctx.database, [
          buildOutgoing({ account_id: a.account.id, message: 'à garder', status: 'pending' }),
        ]);
        const name = a.account.name;
        const writes: [string, string][] = [
          [`/api/v1/ovh/credential-requests/${req.token}/validate`, JSON.stringify({ validity: null })],
          [`/api/v1/accounts/${name}/tokens`, JSON.stringify({ name: 'stolen' })],
          [`/api/v1/accounts/${name}/outgoing/delete`, JSON.stringify({ ids: [victimId] })],
          [`/api/v1/accounts/${name}/jobs`, JSON.stringify({ message: 'spam', receivers: ['+33612345678'], sender: 'ShopA' })],
          ['/api/v1/ovh/applications', JSON.stringify({ name: 'planted' })],
          [`/api/v1/accounts/${name}/users`, JSON.stringify({ login: 'mallory', password: 'mallory-password-1' })],
          ['/api/v1/auth/sign-out', '{}'],
        ];
        const before = {
          tokens: await countRows(ctx.database, 'api_tokens'),
          outgoing: await countRows(ctx.database, 'outgoing'),
          apps: await countRows(ctx.database, 'ovh_applications'),
          users: await countRows(ctx.database, 'sms_users'),
        };
        const forms = writes
          .flatMap(([url, body], i) => {
            const [key, value] = [`${body.slice(0, -1)},"x":"`, '"}'];
            return [
              `<iframe name="t${i}a" onload="window.__loads=(window.__loads||0)+1"></iframe>`,
              `<form id="a${i}" method="post" enctype="text/plain" target="t${i}a" action="${base}${url}"><input type="hidden" name='${key}' value='${value}'></form>`,
              `<iframe name="t${i}b" onload="window.__loads=(window.__loads||0)+1"></iframe>`,
              `<form id="b${i}" method="post" target="t${i}b" action="${base}${url}"><input type="hidden" name="validity" value=""></form>`,
            ];
          })
          .join('\n');
        attackerPage = `<!doctype html><title>Promo</title>${forms}
<script>
(async () => {
  const T = ${JSON.stringify(base)};
  const writes = ${JSON.stringify(writes)};
  const out = { read: 'not tried' };
  try { const r = await fetch(T + '/api/v1/auth/me', { credentials: 'include' }); out.read = 'read: ' + (await r.text()); }
  catch { out.read = 'blocked'; }
  for (const [url, body] of writes) {
    try { await fetch(T + url, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body }); }
    catch {}
  }
  window.__loads = 0;
  for (let i = 0; i < writes.length; i++) { document.getElementById('a' + i).submit(); document.getElementById('b' + i).submit(); }
  window.__out = out;
})();
</script>`;
        await page.goto(`${other.base}/attack/csrf`);
        // Done once every fetch has settled and every form's answer has loaded in its frame.
        await page.waitForFunction(
          (n) => {
            const w = window as { __loads?: number; __out?: unknown };
            return w.__out !== undefined && w.__loads === n;
          },
          writes.length * 2,
          { timeout: 30_000 },
        );
        const out = await page.evaluate(() => (window as { __out?: { read: string } }).__out);
        expect(out?.read).toBe('blocked');
        // The browser did send the session cookie (same site): each form was refused for its CSRF token, not as anonymous.
        const answers: string[] = [];
        for (const frame of page.frames())
          if (frame.url().startsWith(base)) answers.push((await frame.locator('body').textContent()) ?? '');
        expect(answers).toHaveLength(writes.length * 2);
        for (const answer of answers) expect(answer).toContain('CSRF_FAILED');
        expect(await requestStatus(req.token)).toBe('pendingValidation');
        expect(await countRows(ctx.database, 'api_tokens')).toBe(before.tokens);
        expect(await countRows(ctx.database, 'outgoing')).toBe(before.outgoing);
        expect(await countRows(ctx.database, 'ovh_applications')).toBe(before.apps);
        expect(await countRows(ctx.database, 'sms_users')).toBe(before.users);
        const kept = await inject('GET', `/api/v1/accounts/${name}/outgoing/${victimId}`, fresh.headers);
        expect(kept.statusCode, 'the session is still valid and the message still there').toBe(200);
        expect(kept.json()).toMatchObject({ status: 'pending', message: 'à garder' });
      });

      it('signing out in the browser ends the session on the server: its cookie replayed reads nothing', async () => {
        const fresh = await signIn(ctx.app, a.customer.email);
        await giveSession(context, base, fresh);
        await page.goto(`/accounts/${a.account.name}/history`);
        await page.getByRole('heading', { name: 'Historique des envois' }).waitFor();
        await page.getByRole('button', { name: 'Se déconnecter' }).first().click();
        await page.getByLabel('Adresse e-mail').waitFor();
        expect((await context.cookies()).filter((c) => c.name === SESSION_COOKIE)).toEqual([]);
        const replay: LightMyRequestResponse = await inject('GET', `/api/v1/accounts/${a.account.name}/outgoing`, fresh.headers);
        expect(replay.statusCode).toBe(401);
        expect((await inject('POST', `/api/v1/accounts/${a.account.name}/tokens`, fresh.writeHeaders, { name: 'x' })).statusCode).toBe(401);
        // The account list of the other account of the customer is not reachable either.
        expect((await inject('GET', `/api/v1/accounts/${aSecond.name}`, fresh.headers)).statusCode).toBe(401);
      });
    });
  },
  { config: fastAuthConfig },
);
