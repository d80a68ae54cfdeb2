import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/server/modules/accounts/accounts.service.js';
import { describeEachDialectWithApp } from '../app.js';
import { type SeededAccount, seedCustomerWithAccount, type TestSession } from '../factories.js';
import {
  apiSession,
  useSession as giveSession,
  launchBrowser,
  listen,
  newContext,
  newPhoneContext,
  overflowX,
  screenshot,
} from './browser.js';

/**
 * The account's settings in the Manager: its callback URL (set, refused by the server, cleared) and its
 * status (an account disabled by the operator says so on every page of it, and its send button is off).
 */

const NOTICE_FR = 'Ce compte SMS est désactivé par l’opérateur : aucun SMS n’est envoyé.';
const NOTICE_EN = 'This SMS account is disabled by the operator: no SMS is sent.';
/** The signed-in pages of an account and their headings. */
const PAGES = [
  ['history', 'Historique des envois'],
  ['send', 'Envoyer un SMS'],
  ['users', 'Utilisateurs SMS'],
  ['senders', 'Expéditeurs'],
  ['tokens', 'Jetons d’API'],
  ['settings', 'Réglages du compte'],
] as const;
/** Shown as text if ever echoed: never an element, never run. */
const XSS_URL = 'javascript:<img src=x onerror="window.__xss=1">';

// A browser test waits for the page, never for time; these budgets only bound a broken run.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** Elements an injected `XSS_URL` would have made, and whether its script ran. */
async function injected(page: Page): Promise<{ elements: number; ran: unknown }> {
  return page.evaluate(() => ({
    elements: document.querySelectorAll('img[src="x"], script:not([src])').length,
    ran: (window as { __xss?: unknown }).__xss,
  }));
}

describeEachDialectWithApp('Manager settings in a real browser: callback URL and disabled account', (ctx) => {
  let base: string;
  let seeded: SeededAccount;
  let session: TestSession;
  let context: BrowserContext;
  let page: Page;

  const name = () => seeded.account.name;
  const url = (path: string) => `/accounts/${name()}/${path}`;
  /** The account as the API answers it (the truth the screen must show). */
  const apiAccount = async () => {
    const res = await ctx.app.inject({ url: `/api/v1/accounts/${name()}`, headers: seeded.auth });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { callbackUrl: string | null; status: string; storeText: boolean; retentionDays: number | null };
  };
  /** The operator's `relais account update --status …`. */
  const setStatus = (status: 'enable' | 'disable') => ctx.app.services.accounts.update(SYSTEM_ACTOR, name(), { status });
  /** Opens `path` and waits until the frame has read the account (its status is known). */
  const open = async (p: Page, path: string, status: 'enable' | 'disable') => {
    await p.goto(url(path));
    await p.locator(`main[data-account-status="${status}"]`).waitFor();
  };
  const notice = (p: Page, text = NOTICE_FR) => p.getByRole('alert').filter({ hasText: text });

  beforeAll(async () => {
    seeded = await seedCustomerWithAccount(ctx.app);
    base = await listen(ctx.app);
    session = await apiSession(ctx.app, seeded.customer.email, seeded.password);
  });

  beforeEach(async () => {
    context = await newContext(browser, base);
    await giveSession(context, base, session);
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
    // Each test starts from an enabled account.
    await setStatus('enable');
  });

  it('sets the account callback URL, shows the server refusing a bad one (nothing saved), and clears it to null', async () => {
    expect((await apiAccount()).callbackUrl).toBeNull();
    await open(page, 'settings', 'enable');
    await page.getByRole('heading', { name: 'Réglages du compte', level: 1 }).waitFor();
    // The status, enabled; no notice.
    const status = page
      .locator('section[data-account-status="enable"]')
      .filter({ has: page.getByRole('heading', { name: 'État du compte' }) });
    expect(await status.textContent()).toContain('Actif');
    expect(await notice(page).count()).toBe(0);

    const form = page.getByRole('form', { name: 'Accusés de réception' });
    const field = form.getByLabel('URL de rappel du compte');
    expect(await field.inputValue()).toBe('');
    expect(await form.textContent()).toContain('l’URL propre d’un utilisateur SMS passe avant');
    const save = form.getByRole('button', { name: 'Mettre à jour l’URL' });
    // The privacy form keeps the page's only "Enregistrer" button (names match by substring).
    expect(await page.getByRole('button', { name: 'Enregistrer' }).count()).toBe(1);

    // Set: saved, answered, kept.
    await field.fill('https://example.com/relais-status?from=manager');
    await save.click();
    await form.getByRole('status').filter({ hasText: 'URL de rappel enregistrée.' }).waitFor();
    expect(await apiAccount()).toMatchObject({ callbackUrl: 'https://example.com/relais-status?from=manager', storeText: true });
    await page.reload();
    await expect.poll(() => field.inputValue()).toBe('https://example.com/relais-status?from=manager');
    await screenshot(page, `${ctx.dialect}-settings-callback`);

    // Refused by the server: its message next to the field, the field marked invalid and kept as typed, nothing saved.
    await field.fill('ftp://example.com/status');
    await save.click();
    const alert = form.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe(
      'Une erreur est survenue : Invalid callback URL "ftp://example.com/status": expected an http:// or https:// URL',
    );
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    const describedBy = (await field.getAttribute('aria-describedby'))?.split(' ') ?? [];
    expect(describedBy).toContain(await alert.getAttribute('id'));
    expect(await field.inputValue()).toBe('ftp://example.com/status');
    expect(await form.getByRole('status').count()).toBe(0);
    expect((await apiAccount()).callbackUrl).toBe('https://example.com/relais-status?from=manager');
    await screenshot(page, `${ctx.dialect}-settings-callback-refused`);

    // Not a URL at all, with HTML in it: refused, echoed as text, nothing injected.
    await field.fill(XSS_URL);
    await save.click();
    await expect.poll(() => alert.textContent()).toContain('Invalid callback URL "javascript:<img src=x');
    expect(await injected(page)).toEqual({ elements: 0, ran: undefined });
    expect((await apiAccount()).callbackUrl).toBe('https://example.com/relais-status?from=manager');

    // Emptied (spaces only): none, null; the error goes.
    await field.fill('   ');
    await save.click();
    await form.getByRole('status').filter({ hasText: 'URL de rappel supprimée' }).waitFor();
    expect(await form.getByRole('alert').count()).toBe(0);
    expect(await field.getAttribute('aria-invalid')).toBeNull();
    expect(await field.inputValue()).toBe('');
    expect((await apiAccount()).callbackUrl).toBeNull();

    // The privacy form is its own: saving it leaves the callback URL alone, and the reverse.
    await field.fill('https://example.com/kept');
    await save.click();
    await form.getByRole('status').filter({ hasText: 'URL de rappel enregistrée.' }).waitFor();
    const privacy = page.getByRole('form', { name: 'Confidentialité et conservation' });
    await privacy.getByLabel('Supprimer les SMS après (jours)').fill('400');
    await privacy.getByRole('button', { name: 'Enregistrer', exact: true }).click();
    await privacy.getByText('Réglages enregistrés.').waitFor();
    expect(await apiAccount()).toMatchObject({ callbackUrl: 'https://example.com/kept', retentionDays: 400 });
    await privacy.getByLabel('Supprimer les SMS après (jours)').fill('');
    await privacy.getByRole('button', { name: 'Enregistrer', exact: true }).click();
    await expect.poll(async () => (await apiAccount()).retentionDays).toBeNull();
    await field.fill('');
    await save.click();
    await form.getByRole('status').filter({ hasText: 'URL de rappel supprimée' }).waitFor();
    expect((await apiAccount()).callbackUrl).toBeNull();
  });

  it('on a phone, the callback URL form fits the screen', async () => {
    const phone = await newPhoneContext(browser, base);
    try {
      await giveSession(phone, base, session);
      const p = await phone.newPage();
      await open(p, 'settings', 'enable');
      const form = p.getByRole('form', { name: 'Accusés de réception' });
      await form.waitFor();
      await form.getByLabel('URL de rappel du compte').fill('ftp://example.com/a-rather-long-path/that-goes-on/and-on?with=a&query=string');
      await form.getByRole('button', { name: 'Mettre à jour l’URL' }).click();
      await form.getByRole('alert').waitFor();
      expect(await overflowX(p)).toEqual([]);
      await form.scrollIntoViewIfNeeded();
      await screenshot(p, `${ctx.dialect}-settings-callback-phone`);
    } finally {
      await phone.close();
    }
  });

  it('says on every page of a disabled account that nothing is sent, turns the send button off, and stops once enabled again', async () => {
    await setStatus('disable');
    for (const [path, heading] of PAGES) {
      await open(page, path, 'disable');
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      const shown = notice(page);
      expect(await shown.isVisible(), path).toBe(true);
      expect(await shown.textContent(), path).toContain(NOTICE_FR);
    }

    // The settings page tells the status.
    const status = page
      .locator('section[data-account-status="disable"]')
      .filter({ has: page.getByRole('heading', { name: 'État du compte' }) });
    expect(await status.textContent()).toContain('Désactivé');
    expect(await status.textContent()).toContain('aucun SMS n’est envoyé');

    // The send page: the notice, and a send button that stays off even with a complete form.
    await open(page, 'send', 'disable');
    await page.locator('textarea[name="receivers"]').fill('+33612345678');
    await page.locator('textarea[name="message"]').fill('Bonjour');
    const send = page.getByRole('button', { name: 'Envoyer', exact: true });
    expect(await send.isDisabled()).toBe(true);
    const why = page.getByText('Envoi impossible tant que le compte est désactivé.');
    expect(await why.isVisible()).toBe(true);
    expect(await send.getAttribute('aria-describedby')).toBe(await why.getAttribute('id'));
    expect(await notice(page).isVisible()).toBe(true);
    await screenshot(page, `${ctx.dialect}-account-disabled`);
    // The server refuses anyway.
    const refused = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${name()}/jobs`,
      headers: seeded.auth,
      payload: { message: 'Bonjour', receivers: ['+33612345678'] },
    });
    expect({ status: refused.statusCode, code: refused.json().error?.code }).toEqual({ status: 403, code: 'ACCOUNT_DISABLED' });

    // On a phone too, and it fits.
    const phone = await newPhoneContext(browser, base);
    try {
      await giveSession(phone, base, session);
      const p = await phone.newPage();
      await open(p, 'send', 'disable');
      await p.getByRole('heading', { name: 'Envoyer un SMS', level: 1 }).waitFor();
      expect(await notice(p).isVisible()).toBe(true);
      expect(await overflowX(p)).toEqual([]);
      await screenshot(p, `${ctx.dialect}-account-disabled-phone`);
    } finally {
      await phone.close();
    }

    // Enabled again: no notice on any page, and the button sends.
    await setStatus('enable');
    for (const [path] of PAGES) {
      await open(page, path, 'enable');
      expect(await notice(page).count(), path).toBe(0);
    }
    expect(await page.locator('section[data-account-status="enable"]').filter({ hasText: 'État du compte' }).textContent()).toContain(
      'Actif',
    );
    await open(page, 'send', 'enable');
    await page.locator('textarea[name="receivers"]').fill('+33612345678');
    await page.locator('textarea[name="message"]').fill('Bonjour');
    expect(await send.isDisabled()).toBe(false);
    expect(await page.getByText('Envoi impossible tant que le compte est désactivé.').count()).toBe(0);
  });

  it('follows the operator without a reload: on the next page shown, and when a send is refused', async () => {
    // Disabled while the history is open: the next page (the frame's link, no reload) says so.
    await open(page, 'history', 'enable');
    await setStatus('disable');
    await page.getByRole('navigation', { name: 'Navigation' }).getByRole('link', { name: 'Envoyer un SMS' }).click();
    await page.getByRole('heading', { name: 'Envoyer un SMS', level: 1 }).waitFor();
    await notice(page).waitFor();
    await expect.poll(() => page.getByRole('button', { name: 'Envoyer', exact: true }).isDisabled()).toBe(true);

    // Disabled while the send page is open: the server's refusal shows, then the notice and the button follow.
    await setStatus('enable');
    await open(page, 'send', 'enable');
    expect(await notice(page).count()).toBe(0);
    await page.locator('textarea[name="receivers"]').fill('+33612345678');
    await page.locator('textarea[name="message"]').fill('Bonjour');
    await setStatus('disable');
    const send = page.getByRole('button', { name: 'Envoyer', exact: true });
    await send.click();
    await page
      .getByRole('alert')
      .filter({ hasText: `The SMS account ${name()} is disabled by the operator` })
      .waitFor();
    await notice(page).waitFor();
    await expect.poll(() => send.isDisabled()).toBe(true);
    const sent = await ctx.app.inject({ url: `/api/v1/accounts/${name()}/outgoing?limit=1`, headers: seeded.auth });
    expect(sent.json().data).toEqual([]);
  });

  it('speaks English: the notice, the status and the callback URL field', async () => {
    const english = await newContext(browser, base, 'en-GB');
    try {
      await giveSession(english, base, session);
      const p = await english.newPage();
      await setStatus('disable');
      await open(p, 'settings', 'disable');
      await p.getByRole('heading', { name: 'Account settings', level: 1 }).waitFor();
      expect(await notice(p, NOTICE_EN).isVisible()).toBe(true);
      const status = p
        .locator('section[data-account-status="disable"]')
        .filter({ has: p.getByRole('heading', { name: 'Account status' }) });
      expect(await status.textContent()).toContain('Disabled by the operator: no SMS is sent');
      await screenshot(p, `${ctx.dialect}-settings-disabled-en`);
      const form = p.getByRole('form', { name: 'Delivery receipts' });
      expect(await form.textContent()).toContain('an SMS user’s own URL takes precedence');
      await form.getByLabel('Account callback URL').fill('not a url');
      await form.getByRole('button', { name: 'Update the URL' }).click();
      expect(await form.getByRole('alert').textContent()).toBe('Something went wrong: Invalid callback URL "not a url"');
      await form.getByLabel('Account callback URL').fill('https://example.com/en');
      await form.getByRole('button', { name: 'Update the URL' }).click();
      await form.getByRole('status').filter({ hasText: 'Callback URL saved.' }).waitFor();
      expect((await apiAccount()).callbackUrl).toBe('https://example.com/en');

      await open(p, 'send', 'disable');
      expect(await notice(p, NOTICE_EN).isVisible()).toBe(true);
      await p.getByText('Sending is impossible while the account is disabled.').waitFor();
    } finally {
      await english.close();
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, name(), { callbackUrl: null });
    }
  });
});
