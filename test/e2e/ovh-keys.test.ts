import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import type { Account } from '../../src/server/modules/accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../../src/server/modules/accounts/accounts.service.js';
import { describeEachDialectWithApp } from '../app.js';
import { createAccount, type SeededAccount, seedCustomerWithAccount, type TestSession } from '../factories.js';
import { type HttpListener, startHttpListener } from '../http-listener.js';
import { createOvhKeys, type OvhKeys, ovhHeaders } from '../ovh.js';
import {
  ARTIFACTS,
  apiSession,
  useSession as giveSession,
  launchBrowser,
  listen,
  lowContrast,
  newContext,
  newPhoneContext,
  overflowX,
  screenshot,
  tabWithoutFocusRing,
} from './browser.js';

// A browser test waits for the page, never for time; these budgets only bound a broken run.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const XSS_NAME = '<img src=x onerror="window.__xss=1">';
const XSS_DESCRIPTION = '<script>window.__xss=2</script><b>gras</b>';

/** A screenshot of the whole page (these pages are long), kept with the others. */
const fullScreenshot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describeEachDialectWithApp('OVH API keys in the Manager, in a real browser', (ctx) => {
  let base: string;
  let seeded: SeededAccount;
  let second: Account;
  let vendor: SeededAccount;
  let session: TestSession;
  let context: BrowserContext;
  let page: Page;
  /** The application's own site, where a validation sends the browser back. */
  let receiver: HttpListener;
  const arrivals: string[] = [];

  /** The customer's SMS accounts as the Manager lists them (by name). */
  const accountNames = () => [seeded.account.name, second.name].sort().join(', ');

  type Keys = Pick<OvhKeys, 'appKey' | 'appSecret' | 'consumerKey'>;

  /** A signed call of the OVH-compatible API over HTTP, signed as OVH's npm client signs it. */
  const ovhFetch = async (keys: Keys, method: 'GET' | 'POST', path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const url = `/1.0${path}`;
    const headers = ovhHeaders(keys, { method, url, host: new URL(base).host });
    delete (headers as Partial<typeof headers>).host;
    const res = await fetch(`${base}${url}`, { method, headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** An application of another customer (a vendor's tool), as the operator makes it. */
  const vendorApplication = async (name: string, description: string) => {
    const { application, appSecret } = await ctx.app.services.ovhKeys.createApplication(SYSTEM_ACTOR, {
      name,
      description,
      ownerEmail: vendor.customer.email,
    });
    return { appKey: application.appKey, appSecret };
  };

  /** `POST /1.0/auth/credential` over HTTP, as a program asks for a consumer key. */
  const requestCredential = async (appKey: string, redirection: string | null) => {
    const res = await fetch(`${base}/1.0/auth/credential`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-ovh-application': appKey },
      body: JSON.stringify({
        accessRules: [
          { method: 'GET', path: '/me' },
          { method: 'GET', path: '/sms/*' },
          { method: 'POST', path: '/sms/*/jobs' },
        ],
        redirection,
      }),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { validationUrl: string; consumerKey: string; state: string };
    expect(answer.state).toBe('pendingValidation');
    expect(answer.validationUrl).toMatch(/\/ovh\/validate\?credentialToken=[\w-]+$/);
    return answer;
  };

  const credentialsOfCustomer = async () => {
    const res = await ctx.app.inject({ url: '/api/v1/ovh/credentials', headers: session.headers });
    expect(res.statusCode).toBe(200);
    return res.json() as { id: number; application: { name: string }; validatedAt: string; expiresAt: string | null }[];
  };

  beforeAll(async () => {
    seeded = await seedCustomerWithAccount(ctx.app);
    second = await createAccount(ctx.app, { owner: seeded.customer });
    vendor = await seedCustomerWithAccount(ctx.app);
    base = await listen(ctx.app);
    session = await apiSession(ctx.app, seeded.customer.email, seeded.password);
    receiver = await startHttpListener((request, response) => {
      arrivals.push(request.url ?? '');
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end('<!doctype html><title>Outil</title><h1>Back in the application</h1>');
    });
  });
  afterAll(async () => {
    await receiver?.close();
  });

  beforeEach(async () => {
    context = await newContext(browser, base);
    await giveSession(context, base, session);
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  it('creates an application and a consumer key in the page; their keys sign real calls until the key is revoked and the application deleted', async () => {
    // Reached from the header of any signed-in page.
    await page.goto(`/accounts/${seeded.account.name}/history`);
    await page.locator('.topbar-tools').getByRole('link', { name: 'API OVH' }).click();
    await page.waitForURL('**/ovh/keys');
    await page.getByRole('heading', { level: 1, name: 'API OVH' }).waitFor();
    expect(await page.locator('[data-endpoint]').textContent()).toBe(`${base}/1.0`);
    await page.getByText('Aucune application.').waitFor();
    expect(await page.locator('.ovh-facts').textContent()).toContain(`(${accountNames()})`);

    const create = page.getByRole('form', { name: 'Créer une application' });
    await create.getByLabel('Nom').fill('Facturation nocturne');
    await create.getByLabel('Description').fill('Envoie les rappels de factures');
    await create.getByRole('button', { name: 'Créer l’application' }).click();
    const panel = page.locator('.keys-panel');
    await panel.getByRole('heading', { name: 'Application « Facturation nocturne » créée' }).waitFor();
    await panel.getByText('il ne sera plus jamais affiché').waitFor();
    const appKey = (await panel.locator('[data-key="ak"]').textContent()) ?? '';
    const appSecret = (await panel.locator('[data-key="as"]').textContent()) ?? '';
    expect(appKey).toMatch(/^\w{16,}$/);
    expect(appSecret).toMatch(/^\w{32,}$/);
    await page.locator('tr[data-application]', { hasText: appKey }).waitFor();

    // The next step, a consumer key of that application, opens at once: own rules, 30 days, one IP.
    const keyForm = page.getByRole('form', { name: 'Créer une clé consommateur pour « Facturation nocturne »' });
    await keyForm.getByRole('radio', { name: /^Lecture seule/ }).waitFor();
    expect(await keyForm.locator('.rule-codes').textContent()).toBe('GET /smsGET /sms/*');
    await keyForm.getByRole('radio', { name: /^Personnalisés/ }).check();
    expect(await keyForm.getByLabel('Chemin de la règle 2').inputValue()).toBe('/sms/*');
    await keyForm.getByRole('button', { name: 'Ajouter une règle' }).click();
    await keyForm.getByLabel('Chemin de la règle 3').fill('/me');
    await keyForm.getByLabel('Durée de validité').selectOption({ label: '30 jours' });
    await keyForm.getByLabel('Adresses IP autorisées').fill('127.0.0.1');
    await keyForm.getByRole('button', { name: 'Créer la clé' }).click();
    await panel.getByRole('heading', { name: 'Clé consommateur créée pour « Facturation nocturne »' }).waitFor();
    await keyForm.waitFor({ state: 'detached' });
    const consumerKey = (await panel.locator('[data-key="ck"]').textContent()) ?? '';
    expect(consumerKey).toMatch(/^\w{32,}$/);
    // The secret is still known in this view, so the configuration to paste is complete.
    expect(await panel.locator('[data-key="as"]').textContent()).toBe(appSecret);
    const node = (await panel.locator('pre.code').textContent()) ?? '';
    for (const part of [
      "host: '127.0.0.1'",
      `appKey: '${appKey}'`,
      `appSecret: '${appSecret}'`,
      `consumerKey: '${consumerKey}'`,
      "requestPromised('GET', '/sms')",
    ]) {
      expect(node).toContain(part);
    }
    await panel.getByRole('button', { name: 'Python (ovh)' }).click();
    expect(await panel.locator('pre.code').textContent()).toContain(`ovh.client.ENDPOINTS['relais'] = '${base}/1.0'`);
    await panel.getByRole('button', { name: 'Node.js (ovh)' }).click();
    await screenshot(page, `${ctx.dialect}-ovh-keys-created`);

    const keys = { appKey, appSecret, consumerKey };
    const me = await ovhFetch(keys, 'GET', '/me');
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expect(me.body.email).toBe(seeded.customer.email);

    // The validated key is listed with its rules, IP and expiry; the application counts it.
    const row = page.locator('tr[data-credential]');
    await expect.poll(() => row.count()).toBe(1);
    const rowText = (await row.textContent()) ?? '';
    expect(rowText).toContain('Facturation nocturne');
    expect(rowText).toContain('GET /me');
    expect(rowText).toContain('127.0.0.1');
    expect(await page.locator('tr[data-application] td[data-label="Clés consommateur"]').textContent()).toBe('1');
    const [listed] = await credentialsOfCustomer();
    expect(Date.parse(listed.expiresAt ?? '') - Date.parse(listed.validatedAt)).toBe(30 * 86_400_000);
    await fullScreenshot(page, `${ctx.dialect}-ovh-keys-page`);
    expect(await lowContrast(page, '.muted, .hint, th, td, label, button, a, code, .warning, h2, h3')).toEqual([]);
    expect(await tabWithoutFocusRing(page, 40)).toEqual([]);
    await panel.getByRole('button', { name: 'J’ai noté mes clés' }).click();
    await panel.waitFor({ state: 'detached' });

    // Revoked in the page: the same signed call is refused.
    await row.getByRole('button', { name: 'Révoquer la clé de Facturation nocturne (GET /sms, GET /sms/*, GET /me)' }).click();
    const revoke = page.getByRole('dialog', { name: 'Révoquer une clé consommateur' });
    await revoke.getByText('reçoivent une erreur 403 dès maintenant').waitFor();
    await revoke.getByRole('button', { name: 'Révoquer' }).click();
    await page.getByText('Aucune clé consommateur validée.').waitFor();
    expect((await ovhFetch(keys, 'GET', '/me')).status).toBe(403);

    // A second key made from the application's row: the secret is no longer known, the snippet says so.
    await page.getByRole('button', { name: 'Nouvelle clé consommateur pour Facturation nocturne' }).click();
    await keyForm.getByRole('radio', { name: /^Tout\b/ }).check();
    await keyForm.getByRole('button', { name: 'Créer la clé' }).click();
    await panel.locator('[data-key="ck"]').waitFor();
    expect(await panel.locator('[data-key="as"]').count()).toBe(0);
    expect(await panel.locator('pre.code').textContent()).toContain("appSecret: 'VOTRE_SECRET_AS'");
    await panel.getByText('remplacez VOTRE_SECRET_AS par celui que vous avez noté').waitFor();
    const another = { appKey, appSecret, consumerKey: (await panel.locator('[data-key="ck"]').textContent()) ?? '' };
    expect((await ovhFetch(another, 'GET', '/me')).status).toBe(200);

    // Deleting the application ends its keys.
    await page.getByRole('button', { name: 'Supprimer Facturation nocturne' }).click();
    const remove = page.getByRole('dialog', { name: 'Supprimer une application' });
    await remove.getByText('cessent aussitôt de fonctionner').waitFor();
    await remove.getByRole('button', { name: 'Supprimer' }).click();
    await page.getByText('Aucune application.').waitFor();
    await page.getByText('Aucune clé consommateur validée.').waitFor();
    await panel.waitFor({ state: 'detached' });
    expect((await ovhFetch(another, 'GET', '/me')).status).toBe(403);
  });

  it('validation link: signed out, the sign-in comes first, then the request in plain words; "1 jour" and Autoriser send the browser back, and the key works', async () => {
    const vendorKeys = await vendorApplication('Outil de relance', 'Relance les clients par SMS');
    const redirection = `${receiver.base}/back?from=relais`;
    const requested = await requestCredential(vendorKeys.appKey, redirection);
    const keys = { ...vendorKeys, consumerKey: requested.consumerKey };
    expect((await ovhFetch(keys, 'GET', '/me')).status).toBe(403);

    await context.clearCookies();
    await page.goto(requested.validationUrl);
    await page.getByText('Une application demande l’accès à vos comptes SMS. Connectez-vous').waitFor();
    await screenshot(page, `${ctx.dialect}-ovh-validate-sign-in`);
    await page.getByLabel('Adresse e-mail').fill(seeded.customer.email);
    await page.getByLabel('Mot de passe').fill(seeded.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();

    // Back on the validation page, at the same address.
    await page.getByRole('heading', { name: '« Outil de relance » demande l’accès à vos comptes SMS' }).waitFor();
    expect(page.url()).toBe(requested.validationUrl);
    await page.getByText('Relance les clients par SMS').waitFor();
    expect(await page.locator('.grant-intro').textContent()).toBe(
      `Si vous l’autorisez, cette application pourra, sur tous vos comptes SMS (${accountNames()}) :`,
    );
    expect(await page.locator('.grants .grant-text').allTextContents()).toEqual([
      'Consulter les informations de votre espace client',
      'Consulter tout ce qui concerne vos comptes SMS : historique, envois, utilisateurs, expéditeurs, réglages',
      'Envoyer des SMS',
    ]);
    expect(await page.locator('.grants .rule-codes').allTextContents()).toEqual(['GET /me', 'GET /sms/*', 'POST /sms/*/jobs']);
    await page.getByText('Depuis n’importe quelle adresse IP.').waitFor();
    expect(await page.locator('.request-facts').textContent()).toContain(new URL(receiver.base).host);
    await page.getByText(`Vous répondez en tant que ${seeded.customer.email}.`).waitFor();
    await page.getByLabel('1 jour').check();
    await page.getByText('L’accès prendra fin le').waitFor();
    await screenshot(page, `${ctx.dialect}-ovh-validate`);
    expect(await lowContrast(page, '.muted, .hint, li, label, button, a, code, p, h2, blockquote')).toEqual([]);
    expect(await tabWithoutFocusRing(page, 20)).toEqual([]);

    await page.getByRole('button', { name: 'Autoriser' }).click();
    await page.waitForURL(redirection);
    await page.getByRole('heading', { name: 'Back in the application' }).waitFor();
    expect(arrivals).toContain('/back?from=relais');

    const me = await ovhFetch(keys, 'GET', '/me');
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expect(me.body.email).toBe(seeded.customer.email);
    const granted = (await credentialsOfCustomer()).find((c) => c.application.name === 'Outil de relance');
    expect(Date.parse(granted?.expiresAt ?? '') - Date.parse(granted?.validatedAt ?? '')).toBe(86_400_000);

    // The link opened again says it was answered, and offers the keys page.
    await page.goto(requested.validationUrl);
    await page.getByRole('heading', { name: 'Demande déjà traitée' }).waitFor();
    await page.getByText('a déjà été acceptée').waitFor();
    await page.getByRole('link', { name: 'Gérer vos clés d’API OVH' }).click();
    await page.waitForURL('**/ovh/keys');
    await page.locator('tr[data-credential]', { hasText: 'Outil de relance' }).waitFor();
  });

  it('Refuser: the page says so, and the consumer key stays unusable', async () => {
    const vendorKeys = await vendorApplication('Robot douteux', '');
    const requested = await requestCredential(vendorKeys.appKey, null);
    const keys = { ...vendorKeys, consumerKey: requested.consumerKey };
    await page.goto(requested.validationUrl);
    await page.getByRole('heading', { name: '« Robot douteux » demande l’accès à vos comptes SMS' }).waitFor();
    expect(await page.locator('.request-facts').textContent()).not.toContain('renvoyé vers');
    await page.getByRole('button', { name: 'Refuser' }).click();
    await page.getByRole('heading', { name: 'Accès refusé' }).waitFor();
    await page.getByText('La clé de « Robot douteux » ne fonctionnera pas.').waitFor();
    expect(page.url()).toBe(requested.validationUrl);
    expect((await ovhFetch(keys, 'GET', '/me')).status).toBe(403);
    expect((await credentialsOfCustomer()).some((c) => c.application.name === 'Robot douteux')).toBe(false);
    await page.reload();
    await page.getByText('La demande de « Robot douteux » a déjà été refusée').waitFor();
  });

  it('signing out from the header on a validation link stays on the link, for another customer to answer', async () => {
    const vendorKeys = await vendorApplication('Outil partagé', '');
    const requested = await requestCredential(vendorKeys.appKey, null);
    // A session of its own: signing out ends it, not the one the other tests share.
    await context.clearCookies();
    await page.goto(requested.validationUrl);
    await page.getByLabel('Adresse e-mail').fill(seeded.customer.email);
    await page.getByLabel('Mot de passe').fill(seeded.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('heading', { name: '« Outil partagé » demande l’accès à vos comptes SMS' }).waitFor();
    await page.getByRole('button', { name: 'Se déconnecter' }).first().click();
    await page.getByText('Une application demande l’accès à vos comptes SMS. Connectez-vous').waitFor();
    expect(page.url()).toBe(requested.validationUrl);
  });

  it('an unknown or missing validation token shows a clear message', async () => {
    await page.goto('/ovh/validate?credentialToken=not-a-real-token');
    await page.getByRole('heading', { name: 'Lien de validation inconnu' }).waitFor();
    await page.getByText('Demandez un nouveau lien à l’application.').waitFor();
    expect(await page.getByRole('button', { name: 'Autoriser' }).count()).toBe(0);
    await screenshot(page, `${ctx.dialect}-ovh-validate-unknown`);
    await page.goto('/ovh/validate');
    await page.getByRole('heading', { name: 'Lien de validation inconnu' }).waitFor();
  });

  it("shows an application's name and description as text, never as HTML", async () => {
    const vendorKeys = await vendorApplication(XSS_NAME, XSS_DESCRIPTION);
    const requested = await requestCredential(vendorKeys.appKey, null);
    await page.goto(requested.validationUrl);
    await page.getByRole('heading', { name: `« ${XSS_NAME} » demande l’accès à vos comptes SMS` }).waitFor();
    expect(await page.locator('.app-description').textContent()).toContain(XSS_DESCRIPTION);
    expect(await page.locator('main img, main b, main script').count()).toBe(0);
    await page.getByRole('button', { name: 'Autoriser' }).click();
    await page.getByRole('heading', { name: 'Accès autorisé' }).waitFor();
    // The keys page lists it (and its revocation asks about it) as text too.
    await page.getByRole('link', { name: 'Gérer vos clés d’API OVH' }).click();
    const row = page.locator('tr[data-credential]', { hasText: XSS_NAME });
    await row.waitFor();
    await row.getByRole('button', { name: /^Révoquer/ }).click();
    await page.getByRole('dialog').getByText(`Révoquer cette clé de « ${XSS_NAME} »`).waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Annuler' }).click();
    expect(await page.locator('main img, main b, main script').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
  });

  it('fits a phone, in English too', async () => {
    const own = await createOvhKeys(ctx.app, seeded.customer.email, { allowedIps: ['192.0.2.0/24', '198.51.100.7'] });
    expect(own.consumerKey).toBeTruthy();
    const vendorKeys = await vendorApplication(
      'Phone tool',
      'A long description that should wrap nicely on a narrow screen without overflow',
    );
    const requested = await requestCredential(vendorKeys.appKey, `${receiver.base}/back`);
    for (const locale of ['fr-FR', 'en-GB']) {
      const phone = await newPhoneContext(browser, base, locale);
      await giveSession(phone, base, session);
      const small = await phone.newPage();
      await small.goto('/ovh/keys');
      await small.locator('tr[data-credential]').first().waitFor();
      expect(await overflowX(small)).toEqual([]);
      await fullScreenshot(small, `${ctx.dialect}-ovh-keys-phone-${locale.slice(0, 2)}`);
      await small.goto(requested.validationUrl);
      await small.getByRole('button', { name: locale === 'fr-FR' ? 'Autoriser' : 'Authorise' }).waitFor();
      expect(await overflowX(small)).toEqual([]);
      await fullScreenshot(small, `${ctx.dialect}-ovh-validate-phone-${locale.slice(0, 2)}`);
      // The keys page is in the phone's menu too.
      await small.getByRole('button', { name: 'Menu' }).tap();
      expect(await overflowX(small)).toEqual([]);
      await screenshot(small, `${ctx.dialect}-ovh-phone-menu-${locale.slice(0, 2)}`);
      await small
        .locator('.menu-tools')
        .getByRole('link', { name: locale === 'fr-FR' ? 'API OVH' : 'OVH API' })
        .tap();
      await small.waitForURL('**/ovh/keys');
      await small.getByRole('heading', { level: 1, name: locale === 'fr-FR' ? 'API OVH' : 'OVH API' }).waitFor();
      await phone.close();
    }
  });
});
