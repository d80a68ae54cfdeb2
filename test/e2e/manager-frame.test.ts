import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { describeEachDialectWithApp } from '../app.js';
import { createSender, createSmsUser, type SeededAccount, seedCustomerWithAccount, type TestSession } from '../factories.js';
import { buildOutgoing, insertOutgoing } from '../outgoing-factory.js';
import { runRelais } from '../relais-cli.js';
import { apiSession, useSession as giveSession, launchBrowser, listen, newContext } from './browser.js';

/**
 * The Manager's frame and its errors, in a real browser:
 * - the account's status comes with /auth/me, read again when the frame shows another page: an account
 *   the operator disables with the CLI shows its notice on the next page (no reload), and moving from
 *   page to page never reads GET /api/v1/accounts/{account} for the frame;
 * - an error on screen is said in the language chosen, switched while it is shown (FR ⇄ EN), on every
 *   page that shows one (sign-in, send, users, senders, tokens, settings, history's deletion, OVH keys).
 */

const NOTICE_FR = 'Ce compte SMS est désactivé par l’opérateur : aucun SMS n’est envoyé.';
/** The frame's links (their French names) to the pages of the account, and each page's heading. */
const PAGES = [
  ['Envoyer un SMS', 'Envoyer un SMS'],
  ['Utilisateurs SMS', 'Utilisateurs SMS'],
  ['Expéditeurs', 'Expéditeurs'],
  ['Jetons d’API', 'Jetons d’API'],
  ['Historique des envois', 'Historique des envois'],
] as const;

// A browser test waits for the page, never for time; these budgets only bound a broken run.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** Clicks the FR or EN button of the language switch shown (the header's, or the sign-in page's). */
async function switchLanguage(page: Page, lang: 'fr' | 'en'): Promise<void> {
  await page.locator(`[data-lang="${lang}"]:visible`).first().click();
  await page.locator(`html[lang="${lang}"]`).waitFor({ state: 'attached' });
}

/** The form holding `field` (found by its field: its accessible name changes with the language). */
function formWith(page: Page, field: string) {
  return page.locator('form').filter({ has: page.locator(field) });
}

/** The text of the alerts of `scope` shown now, joined. */
async function alertsOf(scope: Page | ReturnType<Page['locator']>): Promise<string> {
  return (await scope.getByRole('alert').allTextContents()).join(' | ');
}

describeEachDialectWithApp('Manager frame and errors in a real browser', (ctx) => {
  let base: string;
  let seeded: SeededAccount;
  let session: TestSession;
  let context: BrowserContext;
  let page: Page;
  /** The page's API requests, as `METHOD /path` (no query string). */
  let asked: string[];

  const name = () => seeded.account.name;
  const url = (path: string) => `/accounts/${name()}/${path}`;
  /** GET /api/v1/accounts/{account}: what the frame read on every page before /auth/me told the status. */
  const accountReads = () => asked.filter((a) => a === `GET /api/v1/accounts/${name()}`).length;
  const meReads = () => asked.filter((a) => a === 'GET /api/v1/auth/me').length;
  /** The operator's command line, a real `relais` process on this test's database. */
  const relais = (...args: string[]) => runRelais({ RELAIS_DATABASE_URL: ctx.database.url, RELAIS_ARGON2_TEST_FAST: '1' }, ...args);
  const notice = (p: Page) => p.getByRole('alert').filter({ hasText: NOTICE_FR });
  /** Goes to another page of the account through the frame's navigation (no reload), and waits for its heading. */
  const follow = async (link: string, heading: string) => {
    await page.getByRole('navigation', { name: 'Navigation' }).getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
  };

  beforeAll(async () => {
    seeded = await seedCustomerWithAccount(ctx.app);
    await createSender(ctx.app, seeded.account, { sender: 'Boutique' });
    base = await listen(ctx.app);
    session = await apiSession(ctx.app, seeded.customer.email, seeded.password);
  });

  beforeEach(async () => {
    context = await newContext(browser, base);
    await giveSession(context, base, session);
    page = await context.newPage();
    asked = [];
    page.on('request', (request) => {
      const requested = new URL(request.url());
      if (requested.pathname.startsWith('/api/')) asked.push(`${request.method()} ${requested.pathname}`);
    });
  });
  afterEach(async () => {
    await context?.close();
    await ctx.app.services.accounts.update({ kind: 'system' }, name(), { status: 'enable' });
  });

  it('moves from page to page reading /auth/me once each, never GET /accounts/{account} (only the settings page reads it, for its form)', async () => {
    await page.goto(url('history'));
    await page.getByRole('heading', { name: 'Historique des envois', level: 1 }).waitFor();
    // The status is known from /auth/me, read once at start-up (by early.js, taken over by the app).
    await page.locator('main[data-account-status="enable"]').waitFor();
    expect(meReads()).toBe(1);
    expect(accountReads()).toBe(0);

    for (const [link, heading] of PAGES) await follow(link, heading);
    // One read of /auth/me per page shown after the first.
    await expect.poll(meReads).toBe(1 + PAGES.length);
    expect(accountReads()).toBe(0);

    // A filter of the history changes the query string, not the page: no read.
    const filtered = page.waitForResponse((r) => new URL(r.url()).searchParams.get('q') === 'bonjour');
    await page.locator('input[name="q"]').fill('bonjour');
    await page.locator('input[name="q"]').press('Enter');
    await page.waitForURL((u) => u.searchParams.get('q') === 'bonjour');
    await filtered;
    expect(meReads()).toBe(1 + PAGES.length);
    // Back (the browser's button; the filter replaced the history's entry): another page, one read.
    await page.goBack();
    await page.getByRole('heading', { name: 'Jetons d’API', level: 1 }).waitFor();
    await expect.poll(meReads).toBe(2 + PAGES.length);

    // The settings page reads the account for its own form (storeText, retention, callback URL): that one read only.
    await follow('Réglages', 'Réglages du compte');
    await page.getByRole('form', { name: 'Confidentialité et conservation' }).waitFor();
    expect(accountReads()).toBe(1);
    await follow('Historique des envois', 'Historique des envois');
    await expect.poll(meReads).toBe(4 + PAGES.length);
    expect(accountReads()).toBe(1);
  });

  it('shows the disabled notice on the next page after `relais account update --status disable`, without a reload, and drops it once enabled', async () => {
    await page.goto(url('history'));
    await page.locator('main[data-account-status="enable"]').waitFor();
    await page.evaluate(() => {
      (window as { __sameDocument?: boolean }).__sameDocument = true;
    });

    const disabled = await relais('account', 'update', '--name', name(), '--status', 'disable');
    expect(disabled, disabled.stderr).toMatchObject({ code: 0, stdout: expect.stringContaining('DISABLED') });
    // The frame reads the status when it shows a page: the page on screen stays as it was read.
    expect(await notice(page).count()).toBe(0);

    await follow('Utilisateurs SMS', 'Utilisateurs SMS');
    await notice(page).waitFor();
    await page.locator('main[data-account-status="disable"]').waitFor();
    await follow('Envoyer un SMS', 'Envoyer un SMS');
    expect(await notice(page).isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('button', { name: 'Envoyer', exact: true }).getAttribute('aria-disabled')).toBe('true');

    const enabled = await relais('account', 'update', '--name', name(), '--status', 'enable');
    expect(enabled.code, enabled.stderr).toBe(0);
    await follow('Jetons d’API', 'Jetons d’API');
    await page.locator('main[data-account-status="enable"]').waitFor();
    expect(await notice(page).count()).toBe(0);

    // Never reloaded, and never read the account itself.
    expect(await page.evaluate(() => (window as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    expect(accountReads()).toBe(0);
  });

  it('says a refused sign-in in the language switched to while it is shown', async () => {
    const anonymous = await newContext(browser, base);
    try {
      const p = await anonymous.newPage();
      await p.goto('/');
      await p.getByLabel('Adresse e-mail').fill(seeded.customer.email);
      await p.getByLabel('Mot de passe').fill('not the password');
      await p.getByRole('button', { name: 'Se connecter' }).click();
      await p.getByRole('alert').filter({ hasText: 'E-mail ou mot de passe incorrect.' }).waitFor();
      await switchLanguage(p, 'en');
      await expect.poll(() => alertsOf(p)).toBe('Wrong e-mail or password.');
      await switchLanguage(p, 'fr');
      await expect.poll(() => alertsOf(p)).toBe('E-mail ou mot de passe incorrect.');
    } finally {
      await anonymous.close();
    }
  });

  it('says the send page’s refusals (the server’s, and a deferred time already past) in the language switched to', async () => {
    await page.goto(url('send'));
    await page.locator('select[name="sender"] option[value="Boutique"]').waitFor({ state: 'attached' });
    await page.locator('textarea[name="receivers"]').fill('abc');
    await page.locator('textarea[name="message"]').fill('Bonjour');
    await page.getByRole('button', { name: 'Envoyer', exact: true }).click();
    await expect.poll(() => alertsOf(page)).toBe('Aucun numéro valide : rien n’a été envoyé. Numéros refusés : abc');
    await switchLanguage(page, 'en');
    await expect.poll(() => alertsOf(page)).toBe('No valid number: nothing was sent. Refused numbers: abc');

    // Refused before sending: a time already past (yesterday, in the account's zone).
    await switchLanguage(page, 'fr');
    await page.locator('textarea[name="receivers"]').fill('+33612345678');
    await page.getByLabel('Envoi différé').check();
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await page.locator('input[name="at"]').fill(`${yesterday}T10:00`);
    await page.getByRole('button', { name: 'Envoyer', exact: true }).click();
    await expect.poll(() => alertsOf(page)).toContain('est déjà passé : choisissez une heure à venir.');
    await switchLanguage(page, 'en');
    await expect.poll(() => alertsOf(page)).toContain('is already past: choose a time to come.');
    expect(await alertsOf(page)).not.toContain('déjà passé');
    const sent = await ctx.app.inject({ url: `/api/v1/accounts/${name()}/outgoing?limit=1`, headers: seeded.auth });
    expect(sent.json().data).toEqual([]);
  });

  it('says the refusals of the users, senders, tokens and settings pages in the language switched to', async () => {
    // SMS users: a login that exists already.
    await createSmsUser(ctx.app, seeded.account, { login: 'dupont' });
    await page.goto(url('users'));
    const userForm = formWith(page, 'input[name="login"]');
    await userForm.locator('input[name="login"]').fill('dupont');
    await userForm.getByRole('button', { name: 'Créer', exact: true }).click();
    await expect.poll(() => alertsOf(userForm)).toBe('L’identifiant dupont existe déjà dans ce compte : choisissez-en un autre.');
    await switchLanguage(page, 'en');
    await expect.poll(() => alertsOf(userForm)).toBe('The login dupont already exists in this account: choose another one.');
    await switchLanguage(page, 'fr');

    // Senders: one the server refuses.
    await follow('Expéditeurs', 'Expéditeurs');
    const senderForm = formWith(page, 'input[name="sender"]');
    await senderForm.locator('input[name="sender"]').fill('Boutique de Paris');
    await senderForm.getByRole('button', { name: 'Ajouter un expéditeur' }).click();
    await expect.poll(() => alertsOf(senderForm)).toContain('L’expéditeur « Boutique de Paris » n’est pas valable');
    await switchLanguage(page, 'en');
    await expect.poll(() => alertsOf(senderForm)).toContain('The sender “Boutique de Paris” is not valid');
    await switchLanguage(page, 'fr');

    // API tokens: for an SMS user deleted meanwhile.
    const gone = await createSmsUser(ctx.app, seeded.account, { login: 'parti' });
    await follow('Jetons d’API', 'Jetons d’API');
    const tokenForm = formWith(page, 'select[name="user"]');
    await tokenForm.locator('select[name="user"] option[value="parti"]').waitFor({ state: 'attached' });
    await tokenForm.locator('select[name="user"]').selectOption('parti');
    await ctx.app.services.smsUsers.delete({ kind: 'system' }, name(), gone.login);
    await tokenForm.getByRole('button', { name: 'Créer un jeton' }).click();
    await expect.poll(() => alertsOf(tokenForm)).toContain('Cet utilisateur SMS n’existe plus');
    await switchLanguage(page, 'en');
    await expect.poll(() => alertsOf(tokenForm)).toContain('This SMS user no longer exists');
    await switchLanguage(page, 'fr');

    // Settings: a callback URL the server refuses (its own message, in a sentence of the language).
    await follow('Réglages', 'Réglages du compte');
    const callback = formWith(page, 'input[name="callbackUrl"]');
    await callback.getByLabel('URL de rappel du compte').fill('ftp://example.com/status');
    await callback.getByRole('button', { name: 'Mettre à jour l’URL' }).click();
    await expect
      .poll(() => alertsOf(callback))
      .toBe('Une erreur est survenue : Invalid callback URL "ftp://example.com/status": expected an http:// or https:// URL');
    await switchLanguage(page, 'en');
    await expect
      .poll(() => alertsOf(callback))
      .toBe('Something went wrong: Invalid callback URL "ftp://example.com/status": expected an http:// or https:// URL');
  });

  it('says a failed deletion of the history in the language switched to while its dialog shows it', async () => {
    await insertOutgoing(ctx.database, [buildOutgoing({ account_id: seeded.account.id, created_at: Date.now() - 60_000 })]);
    await page.goto(url('history'));
    const row = page.locator('[role="row"][data-id]').first();
    await row.click();
    await page.getByRole('button', { name: /^Supprimer/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Supprimer 1 SMS de l’historique ?').waitFor();
    // Signed in again in another tab meanwhile: the session's CSRF token of this page is refused.
    await giveSession(context, base, await apiSession(ctx.app, seeded.customer.email, seeded.password));
    await dialog.getByRole('button', { name: 'Supprimer', exact: true }).click();
    await expect
      .poll(() => alertsOf(dialog))
      .toBe('La suppression a échoué : Votre session a changé dans un autre onglet : rechargez la page.');
    // The modal dialog leaves the header's switch inert to the pointer: the language is switched by a script.
    await page.evaluate(() => document.querySelector<HTMLButtonElement>('.topbar-tools [data-lang="en"]')?.click());
    await page.locator('html[lang="en"]').waitFor({ state: 'attached' });
    await expect.poll(() => alertsOf(dialog)).toBe('The deletion failed: Your session changed in another tab: reload the page.');
    expect(await dialog.getByRole('button', { name: 'Close' }).isVisible()).toBe(true);
  });

  it('says a refused consumer key of the OVH keys page in the language switched to', async () => {
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/ovh/applications',
      headers: session.writeHeaders,
      payload: { name: 'Facturation' },
    });
    expect(created.statusCode, created.body).toBeLessThan(300);
    await page.goto('/ovh/keys');
    await page.getByRole('button', { name: 'Nouvelle clé consommateur pour Facturation' }).click();
    const keyForm = formWith(page, 'textarea[name="allowedIps"]');
    await keyForm.getByLabel('Adresses IP autorisées').fill('pas-une-adresse');
    await keyForm.getByRole('button', { name: 'Créer la clé' }).click();
    await expect.poll(() => alertsOf(keyForm)).toMatch(/^Une erreur est survenue : .*pas-une-adresse/);
    const server = (await alertsOf(keyForm)).slice('Une erreur est survenue : '.length);
    await switchLanguage(page, 'en');
    await expect.poll(() => alertsOf(keyForm)).toBe(`Something went wrong: ${server}`);
  });
});
