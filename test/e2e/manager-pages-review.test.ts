import type { Browser, BrowserContext, Page, Response, Route } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Account } from '../../src/server/modules/accounts/accounts.repository.js';
import { describeEachDialectWithApp } from '../app.js';
import {
  createAccount,
  createSender,
  createSmsUser,
  createToken,
  type SeededAccount,
  seedCustomerWithAccount,
  type TestSession,
} from '../factories.js';
import { buildOutgoing, insertOutgoing } from '../outgoing-factory.js';
import { apiSession, useSession as giveSession, launchBrowser, listen } from './browser.js';

/**
 * Review of the Manager's pages as a demanding customer uses them: the send form (live count against
 * what the server charges, refused receivers, credits, senders, deferred time in the account's timezone,
 * double submission), SMS users, API tokens, senders, a customer with two SMS accounts (switcher, URL,
 * back and forward, another customer's account), the history's chart against /stats, and the basics
 * of keyboard and screen-reader use. Each test asserts what the contract promises.
 */

// A browser test waits for the page, never for time; these budgets only bound a broken run.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

/** The browser's timezone: neither account's, so a page using the browser's clock shows it. */
const BROWSER_ZONE = 'America/New_York';
const ACCOUNT_ZONE = 'Asia/Tokyo';
const DAY = 86_400_000;
/** A STOP mention of this server's own (RELAIS_STOP_CLAUSE), longer than the default one. */
const CUSTOM_STOP = 'Desabonnement STOP au 36111';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

async function openContext(base: string, session: TestSession, locale = 'fr-FR'): Promise<BrowserContext> {
  const context = await browser.newContext({
    baseURL: base,
    locale,
    timezoneId: BROWSER_ZONE,
    viewport: { width: 1400, height: 900 },
  });
  await giveSession(context, base, session);
  return context;
}

/** The send page's counter: characters (septets or UTF-16 units), parts and encoding, as shown. */
async function counterOf(page: Page): Promise<{ chars: number; parts: number; encoding: string; remaining: number }> {
  const text = (await page.locator('[data-counter]').textContent()) ?? '';
  const m = /([\d\s\u202f\u00a0]+) caractères · (\d+) SMS · (GSM 7-bit|Unicode)\s*· ([\d\s\u202f\u00a0]+) caractères restants/.exec(text);
  if (!m) throw new Error(`counter not understood: ${JSON.stringify(text)}`);
  const num = (s: string) => Number(s.replace(/\D/g, ''));
  return { chars: num(m[1]), parts: num(m[2]), encoding: m[3] === 'Unicode' ? 'ucs2' : 'gsm7', remaining: num(m[4]) };
}

/** An independent count of a text as GSM 03.38 septets, or UTF-16 units when one character is not GSM. */
function expectedCount(text: string): { chars: number; encoding: 'gsm7' | 'ucs2'; parts: number } {
  const basic =
    '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
  const extension = '^{}\\[~]|€\f';
  let septets = 0;
  let gsm = true;
  for (const ch of text) {
    if (basic.includes(ch)) septets += 1;
    else if (extension.includes(ch)) septets += 2;
    else gsm = false;
  }
  if (gsm)
    return {
      chars: septets,
      encoding: 'gsm7',
      parts:
        septets <= 160
          ? 1
          : partsOf(
              [...text].map((c) => (extension.includes(c) ? 2 : 1)),
              153,
            ),
    };
  // UCS-2: a character outside the BMP is a surrogate pair, 2 units, never split across parts.
  const units = [...text].map((c) => c.length);
  const total = units.reduce((a, b) => a + b, 0);
  return { chars: total, encoding: 'ucs2', parts: total <= 70 ? 1 : partsOf(units, 67) };
}

function partsOf(costs: number[], perPart: number): number {
  let parts = 1;
  let used = 0;
  for (const c of costs) {
    if (used + c > perPart) {
      parts++;
      used = 0;
    }
    used += c;
  }
  return parts;
}

/** Form controls on screen without an accessible label (label element, aria-label or aria-labelledby). */
async function unlabelledFields(page: Page): Promise<string[]> {
  return page.$$eval('input, select, textarea', (elements) =>
    elements
      .filter((el) => {
        const input = el as HTMLInputElement;
        if (input.type === 'hidden' || input.getClientRects().length === 0) return false;
        const byLabel = [...(input.labels ?? [])].some((l) => (l.textContent ?? '').trim() !== '');
        const byAria = (input.getAttribute('aria-label') ?? '').trim() !== '';
        const byIds = (input.getAttribute('aria-labelledby') ?? '')
          .split(/\s+/)
          .some((id) => id && (document.getElementById(id)?.textContent ?? '').trim() !== '');
        return !byLabel && !byAria && !byIds;
      })
      .map((el) => `${el.tagName.toLowerCase()}[name=${el.getAttribute('name')}]`),
  );
}

describeEachDialectWithApp('Manager pages review', (ctx) => {
  let base: string;
  /** The customer with two SMS accounts: A (Asia/Tokyo) and B (Europe/Paris). */
  let owner: SeededAccount;
  let accountA: Account;
  let accountB: Account;
  let stranger: SeededAccount;
  let session: TestSession;
  let context: BrowserContext;
  let page: Page;

  /** The API as the owner's session (both accounts), or as `auth`. */
  const api = async (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: Record<string, unknown>,
    auth: Record<string, string> = session.writeHeaders,
  ) => {
    const res = await ctx.app.inject({ method, url: `/api/v1${url}`, headers: auth, ...(payload ? { payload } : {}) });
    return { status: res.statusCode, body: (res.body ? res.json() : null) as unknown };
  };
  const listOf = async <T>(url: string, auth: Record<string, string> = session.writeHeaders): Promise<T[]> =>
    (await api('GET', url, undefined, auth)).body as unknown as T[];
  const outgoingCount = async (account: Account, query: string, auth: Record<string, string> = session.writeHeaders) =>
    ((await api('GET', `/accounts/${account.name}/outgoing/count?${query}`, undefined, auth)).body as { total: number }).total;
  const shownLogins = (p: Page) => p.$$eval('tr[data-login]', (rows) => rows.map((r) => r.getAttribute('data-login')));
  const jobAnswer = (p: Page) => p.waitForResponse((r) => r.url().endsWith('/jobs') && r.request().method() === 'POST');
  const sendButton = (p: Page) => p.getByRole('button', { name: 'Envoyer', exact: true });

  beforeAll(async () => {
    owner = await seedCustomerWithAccount(ctx.app, { account: { timezone: ACCOUNT_ZONE, credits: 1000 } });
    accountA = owner.account;
    accountB = await createAccount(ctx.app, { owner: owner.customer, timezone: 'Europe/Paris', credits: 500, description: 'Compte B' });
    await createSender(ctx.app, accountA, { sender: 'ShopA' });
    await createSender(ctx.app, accountA, { sender: 'PauseA', status: 'disable' });
    await createSender(ctx.app, accountA, { sender: 'AttenteA', status: 'waitingValidation' });
    await createSender(ctx.app, accountA, { sender: 'RefusA', status: 'refused' });
    await createSender(ctx.app, accountB, { sender: 'ShopB' });
    await createSmsUser(ctx.app, accountA, { login: 'alice' });
    await createSmsUser(ctx.app, accountB, { login: 'bob' });
    await createToken(ctx.app, accountB, { name: 'jeton-b' });
    stranger = await seedCustomerWithAccount(ctx.app);
    await createSender(ctx.app, stranger.account, { sender: 'SecretSnd' });
    await createSmsUser(ctx.app, stranger.account, { login: 'eve-secret' });
    await insertOutgoing(ctx.database, [buildOutgoing({ account_id: stranger.account.id, message: 'secret of another customer' })]);
    base = await listen(ctx.app);
    session = await apiSession(ctx.app, owner.customer.email, owner.password);
  });

  beforeEach(async () => {
    context = await openContext(base, session);
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  describe('send page', () => {
    const openSend = async (account: Account = accountA) => {
      await page.goto(`/accounts/${account.name}/send`);
      await page.getByRole('heading', { name: 'Envoyer un SMS' }).waitFor();
      await page.locator('select[name="sender"] option[value="ShopA"], select[name="sender"] option[value="ShopB"]').first().waitFor({
        state: 'attached',
      });
    };

    it('counts € [ ] { } ~ ^ \\ | as two septets and emoji as whole surrogate pairs, exactly as the server then charges', async () => {
      await openSend();
      await page.locator('select[name="sender"]').selectOption('ShopA');
      await page.locator('textarea[name="receivers"]').fill('+33612345678');
      const ext = '€[]{}~^\\|';
      const cases: { text: string; stop: boolean }[] = [
        { text: `${'a'.repeat(142)}${ext}`, stop: false }, // 160 septets: one SMS, none left
        { text: `${'a'.repeat(143)}${ext}`, stop: false }, // 161: two
        { text: `${'a'.repeat(152)}€${'b'.repeat(10)}`, stop: false }, // the € pair not split: 152 + (2 + 10)
        { text: `Prix 5€ {promo} [x]`, stop: true },
        { text: '😀'.repeat(35), stop: false }, // 70 units: one SMS
        { text: `x${'😀'.repeat(35)}`, stop: false }, // 71 units: x + 33 emoji, then 2 emoji
        { text: `ab${'😀'.repeat(40)}`, stop: false }, // a pair never split at 67
        { text: 'Bonne année 🎉', stop: true },
      ];
      const mismatches: string[] = [];
      for (const { text, stop } of cases) {
        const stopBox = page.getByLabel(/Ajouter la mention STOP/);
        if ((await stopBox.isChecked()) !== stop) await stopBox.setChecked(stop);
        await page.locator('textarea[name="message"]').fill(text);
        const expected = expectedCount(stop ? `${text}\nSTOP au 36180` : text);
        await expect.poll(async () => (await counterOf(page)).chars).toBe(expected.chars);
        const shown = await counterOf(page);
        const answer = jobAnswer(page);
        await sendButton(page).click();
        const report = (await (await answer).json()) as { ids: number[]; parts: number; encoding: string; totalCreditsRemoved: number };
        const stored = (await api('GET', `/accounts/${accountA.name}/outgoing/${report.ids[0]}`)).body as {
          parts: number;
          credits: number;
          encoding: string;
        };
        const label = `${JSON.stringify(text.slice(0, 12))}… (${text.length} units, stop ${stop})`;
        if (shown.parts !== expected.parts || shown.encoding !== expected.encoding)
          mismatches.push(`${label}: counter ${JSON.stringify(shown)}, expected ${JSON.stringify(expected)}`);
        if (report.parts !== shown.parts || stored.parts !== shown.parts || stored.encoding !== shown.encoding)
          mismatches.push(`${label}: counter ${shown.parts} ${shown.encoding}, server ${stored.parts} ${stored.encoding}`);
        if (report.totalCreditsRemoved !== shown.parts || stored.credits !== shown.parts)
          mismatches.push(`${label}: ${shown.parts} parts shown, ${report.totalCreditsRemoved} credits charged`);
        await page.getByRole('status').filter({ hasText: 'SMS acceptés' }).waitFor();
      }
      expect(mismatches).toEqual([]);
    });

    it('lists the refused receivers and sends to the others; a job with none valid is refused whole, the form kept', async () => {
      await openSend();
      await page.locator('select[name="sender"]').selectOption('ShopA');
      await page.locator('textarea[name="receivers"]').fill('+33612340001\nabc\n0612340002\n+999\n06 12');
      await page.locator('textarea[name="message"]').fill('Relance partielle');
      const answer = jobAnswer(page);
      await sendButton(page).click();
      const report = (await (await answer).json()) as { validReceivers: string[]; invalidReceivers: string[] };
      expect(report.validReceivers).toEqual(['+33612340001', '+33612340002']);
      const status = page.getByRole('status').filter({ hasText: 'SMS acceptés' });
      await status.waitFor();
      const said = (await status.textContent()) ?? '';
      expect(said).toContain('2 SMS acceptés');
      for (const refused of report.invalidReceivers) expect(said).toContain(refused);
      expect(report.invalidReceivers.sort()).toEqual(['+999', '06 12', 'abc'].sort());
      // Only the refused numbers stay in the field (sending again never repeats the valid ones), with the text.
      expect((await page.locator('textarea[name="receivers"]').inputValue()).split('\n').sort()).toEqual(report.invalidReceivers.sort());
      expect(await page.locator('textarea[name="message"]').inputValue()).toBe('Relance partielle');

      // None valid: nothing sent, the server's reason shown as an alert, everything typed kept.
      await page.locator('textarea[name="receivers"]').fill('abc\n+999');
      await page.locator('textarea[name="message"]').fill('Jamais envoyé');
      const before = await outgoingCount(accountA, 'q=Jamais');
      await sendButton(page).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(/abc/);
      expect(await page.getByRole('status').filter({ hasText: 'SMS acceptés' }).count()).toBe(0);
      expect(await page.locator('textarea[name="message"]').inputValue()).toBe('Jamais envoyé');
      expect(await page.locator('textarea[name="receivers"]').inputValue()).toBe('abc\n+999');
      expect(await outgoingCount(accountA, 'q=Jamais')).toBe(before);
    });

    it('refuses a job beyond the credits with a clear message: nothing sent, credits unchanged, the text kept', async () => {
      const poor = await seedCustomerWithAccount(ctx.app, { account: { credits: 1 } });
      await createSender(ctx.app, poor.account, { sender: 'Pauvre' });
      const poorSession = await apiSession(ctx.app, poor.customer.email, poor.password);
      const poorContext = await openContext(base, poorSession);
      try {
        const p = await poorContext.newPage();
        await p.goto(`/accounts/${poor.account.name}/send`);
        await p.locator('select[name="sender"] option[value="Pauvre"]').waitFor({ state: 'attached' });
        await p.locator('select[name="sender"]').selectOption('Pauvre');
        await p.locator('textarea[name="receivers"]').fill('+33612345678');
        const text = `Long message ${'x'.repeat(180)}`;
        await p.locator('textarea[name="message"]').fill(text);
        await sendButton(p).click();
        const alert = p.getByRole('alert');
        await alert.waitFor();
        expect(await alert.textContent()).toMatch(/crédit|credit/i);
        // Said in the page's language, not "Une erreur est survenue : Not enough credits…".
        expect(await alert.textContent()).not.toMatch(/Not enough|Une erreur est survenue/);
        await p.screenshot({ path: '/tmp/review-send-error.png', fullPage: true });
        expect(await p.locator('textarea[name="message"]').inputValue()).toBe(text);
        expect(await outgoingCount(poor.account, '', poor.auth)).toBe(0);
        expect(((await api('GET', `/accounts/${poor.account.name}`, undefined, poor.auth)).body as { credits: number }).credits).toBe(1);
      } finally {
        await poorContext.close();
      }
    });

    it('offers only the enabled senders, and its default choice sends', async () => {
      await openSend();
      const offered = await page.$$eval('select[name="sender"] option', (options) => options.map((o) => (o as HTMLOptionElement).value));
      const enabled = (await listOf<{ sender: string; status: string }>(`/accounts/${accountA.name}/senders`))
        .filter((s) => s.status === 'enable')
        .map((s) => s.sender);
      expect(offered.filter(Boolean).sort()).toEqual(enabled.sort());
      expect(offered).not.toContain('PauseA');
      expect(offered).not.toContain('AttenteA');
      expect(offered).not.toContain('RefusA');

      // No "account's default sender" (the server has none: a sender is required): the first enabled
      // sender is chosen, and left as it is, the SMS goes. (Corrected: the review expected an empty
      // "Expéditeur par défaut du compte" choice, which the server always refused with INVALID_SENDER.)
      const chosen = await page.locator('select[name="sender"]').inputValue();
      expect(enabled).toContain(chosen);
      expect(chosen).toBe(offered[0]);
      await page.locator('textarea[name="receivers"]').fill('+33612345678');
      await page.locator('textarea[name="message"]').fill('Avec l’expéditeur par défaut');
      await sendButton(page).click();
      await expect
        .poll(async () => ((await page.locator('.notice[role="status"], [role="alert"]').first().textContent()) ?? '').trim(), {
          timeout: 10_000,
        })
        .toMatch(/^1 SMS acceptés/);

      // An account with no enabled sender says so, with the way to add one; a sending is refused in French.
      const bare = await seedCustomerWithAccount(ctx.app);
      await createSender(ctx.app, bare.account, { sender: 'Attente', status: 'waitingValidation' });
      const bareContext = await openContext(base, await apiSession(ctx.app, bare.customer.email, bare.password));
      try {
        const p = await bareContext.newPage();
        await p.goto(`/accounts/${bare.account.name}/send`);
        await p.locator('[data-notice="no-sender"]').waitFor();
        expect(await p.locator('select[name="sender"]').count()).toBe(0);
        expect(await p.locator('[data-notice="no-sender"]').getByRole('link', { name: 'Ajouter un expéditeur' }).getAttribute('href')).toBe(
          `/accounts/${bare.account.name}/senders`,
        );
        await p.locator('textarea[name="receivers"]').fill('+33612345678');
        await p.locator('textarea[name="message"]').fill('Sans expéditeur');
        await sendButton(p).click();
        await expect.poll(async () => (await p.getByRole('alert').allTextContents()).join(' ')).toMatch(/^Aucun expéditeur actif/);
        expect(await outgoingCount(bare.account, '', bare.auth)).toBe(0);
      } finally {
        await bareContext.close();
      }
    });

    it('defers to the time typed in the account’s timezone (not the browser’s), and says which zone that is', async () => {
      await openSend();
      await page.locator('select[name="sender"]').selectOption('ShopA');
      await page.locator('textarea[name="receivers"]').fill('+33612345678');
      await page.locator('textarea[name="message"]').fill('Rappel différé');
      await page.getByLabel('Envoi différé').check();
      // Tomorrow 10:00 in Tokyo (UTC+9, no summer time) is 01:00 UTC that day.
      const tokyo = new Date(Date.now() + 9 * 3_600_000 + DAY);
      const day = tokyo.toISOString().slice(0, 10);
      const expected = Date.UTC(tokyo.getUTCFullYear(), tokyo.getUTCMonth(), tokyo.getUTCDate(), 10, 0) - 9 * 3_600_000;
      await page.locator('input[name="at"]').fill(`${day}T10:00`);
      const form = (await page.locator('form').textContent()) ?? '';
      expect.soft(form, 'the form names the timezone of the time typed').toMatch(/Asia\/Tokyo|Tokyo/);
      const answer = jobAnswer(page);
      await sendButton(page).click();
      const report = (await (await answer).json()) as { ids: number[] };
      const stored = (await api('GET', `/accounts/${accountA.name}/outgoing/${report.ids[0]}`)).body as { deferredUntil: string | null };
      expect(stored.deferredUntil).not.toBeNull();
      const off = (Date.parse(stored.deferredUntil ?? '') - expected) / 3_600_000;
      // Minutes are rounded up: anything but a whole-hours shift is the right time.
      expect(Math.round(off), `deferred until ${stored.deferredUntil}, typed ${day} 10:00 ${ACCOUNT_ZONE}`).toBe(0);

      // A time already past in the account's zone (yesterday): a clear message, nothing sent.
      const posted: string[] = [];
      page.on('request', (r) => {
        if (r.url().endsWith('/jobs') && r.method() === 'POST') posted.push(r.url());
      });
      const yesterday = new Date(Date.now() + 9 * 3_600_000 - DAY).toISOString().slice(0, 10);
      await page.locator('textarea[name="message"]').fill('Trop tard');
      await page.locator('input[name="at"]').fill(`${yesterday}T10:00`);
      await sendButton(page).click();
      await expect.poll(async () => (await page.getByRole('alert').allTextContents()).join(' ')).toMatch(/déjà passé/);
      expect(await page.getByRole('alert').textContent()).toContain('Asia/Tokyo');

      // A time the account's zone skips (Paris, last Sunday of March, 02:30): said so, nothing sent.
      await page.goto(`/accounts/${accountB.name}/send`);
      await page.locator('select[name="sender"] option[value="ShopB"]').waitFor({ state: 'attached' });
      await page.locator('textarea[name="receivers"]').fill('+33612345678');
      await page.locator('textarea[name="message"]').fill('Heure sautée');
      await page.getByLabel('Envoi différé').check();
      expect(await page.locator('form').textContent()).toContain('Europe/Paris');
      const year = new Date().getUTCFullYear() + 1;
      const lastSunday = 31 - new Date(Date.UTC(year, 2, 31)).getUTCDay();
      await page.locator('input[name="at"]').fill(`${year}-03-${lastSunday}T02:30`);
      await sendButton(page).click();
      await expect.poll(async () => (await page.getByRole('alert').allTextContents()).join(' ')).toMatch(/n’existe pas/);
      expect(posted).toEqual([]);
    });

    it('sends once on a double click, and once on Enter pressed twice', async () => {
      await openSend();
      await page.locator('select[name="sender"]').selectOption('ShopA');
      await page.locator('textarea[name="receivers"]').fill('+33612345678');
      await page.locator('textarea[name="message"]').fill('Double clic');
      await page.locator('input[name="tag"]').fill('double-clic');
      await sendButton(page).dblclick();
      await page.getByRole('status').filter({ hasText: 'SMS acceptés' }).waitFor();
      await expect.poll(() => outgoingCount(accountA, 'tag=double-clic')).toBe(1);

      await page.locator('textarea[name="message"]').fill('Double entrée');
      await page.locator('input[name="tag"]').fill('double-entree');
      await page.locator('input[name="tag"]').press('Enter');
      await page.locator('input[name="tag"]').press('Enter');
      await expect.poll(() => outgoingCount(accountA, 'tag=double-entree')).toBeGreaterThan(0);
      await sendButton(page).waitFor();
      await expect.poll(() => sendButton(page).isEnabled()).toBe(true);
      expect(await outgoingCount(accountA, 'tag=double-entree')).toBe(1);
    });
  });

  describe('users page', () => {
    const openUsers = async () => {
      await page.goto(`/accounts/${accountA.name}/users`);
      await page.locator('tr[data-login="alice"]').waitFor();
    };

    it('shows the server’s reason for a login already taken and for a bad IP restriction, keeping what was typed', async () => {
      await openUsers();
      await page.locator('input[name="login"]').fill('alice');
      await page.getByRole('button', { name: 'Créer', exact: true }).click();
      const alert = page.getByRole('form', { name: 'Créer un utilisateur' }).getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(/alice/);
      expect(await alert.textContent()).toMatch(/already exists|existe déjà/);
      expect(await alert.textContent()).not.toMatch(/Une erreur est survenue/);
      // "Créé le" in the account's zone (Asia/Tokyo), as the history shows its dates, not the browser's.
      const created = ((await api('GET', `/accounts/${accountA.name}/users/alice`)).body as { createdAt: string }).createdAt;
      const inZone = await page.evaluate(
        ([iso, timeZone]) => new Date(iso).toLocaleString('fr-FR', { dateStyle: 'short', timeStyle: 'short', timeZone }),
        [created, ACCOUNT_ZONE] as const,
      );
      expect(await page.locator('tr[data-login="alice"] td[data-label="Créé le"]').textContent()).toBe(inZone);
      expect(await page.locator('input[name="login"]').inputValue()).toBe('alice');
      expect(await page.locator('[data-secret]').count()).toBe(0);

      await page.locator('input[name="login"]').fill('mauvaise-ip');
      await page.locator('textarea[name="ips"]').fill('192.0.2.1\n300.1.2.3');
      await page.locator('input[name="quota"]').fill('12.5');
      await page.getByRole('button', { name: 'Créer', exact: true }).click();
      await expect.poll(() => alert.textContent()).toMatch(/300\.1\.2\.3/);
      expect(await page.locator('textarea[name="ips"]').inputValue()).toBe('192.0.2.1\n300.1.2.3');
      expect(await page.locator('input[name="quota"]').inputValue()).toBe('12.5');
      expect((await api('GET', `/accounts/${accountA.name}/users/mauvaise-ip`)).status).toBe(404);
      await page.screenshot({ path: '/tmp/review-users-error.png', fullPage: true });

      // Corrected, with its quota: created as typed.
      await page.locator('textarea[name="ips"]').fill('192.0.2.1');
      await page.getByRole('button', { name: 'Créer', exact: true }).click();
      await page.locator('tr[data-login="mauvaise-ip"]').waitFor();
      expect(await page.locator('tr[data-login="mauvaise-ip"]').textContent()).toMatch(/12,5/);
      expect((await api('GET', `/accounts/${accountA.name}/users/mauvaise-ip`)).body).toMatchObject({
        ipRestrictions: ['192.0.2.1'],
        quota: 12.5,
      });
    });

    it('shows a new user’s password once, in view and focused, even below a long list; gone after going away and back', async () => {
      for (let i = 0; i < 25; i++) await createSmsUser(ctx.app, accountA, { login: `lot-${String(i).padStart(2, '0')}` });
      await openUsers();
      await page.locator('tr[data-login="lot-24"]').waitFor();
      await page.locator('input[name="login"]').fill('nouvelle');
      await page.locator('input[name="login"]').press('Enter');
      const secret = page.locator('[data-secret]');
      await secret.waitFor();
      await page.locator('tr[data-login="nouvelle"]').waitFor();
      await page.screenshot({ path: '/tmp/review-users.png' });
      await page.screenshot({ path: '/tmp/review-users-full.png', fullPage: true });
      // Shown once: it must be where the customer looks, and the keyboard focus with it.
      const box = await secret.boundingBox();
      const viewport = page.viewportSize() ?? { width: 1400, height: 900 };
      const inView = box !== null && box.y >= 0 && box.y + box.height <= viewport.height;
      const focusNear = await page.evaluate(() => Boolean(document.activeElement?.closest('.secret')));
      expect.soft({ inView, y: box?.y }, 'the password shown once is in view').toMatchObject({ inView: true });
      expect.soft(focusNear, 'the focus moves to the password (or its Copy button)').toBe(true);

      await page.getByRole('link', { name: 'Expéditeurs' }).click();
      await page.getByRole('heading', { name: 'Expéditeurs' }).waitFor();
      await page.goBack();
      await page.locator('tr[data-login="nouvelle"]').waitFor();
      expect(await page.locator('[data-secret]').count()).toBe(0);
    });

    it('keeps a deleted user’s messages: the history still lists them by that user, from the URL and from the user filter', async () => {
      await createSmsUser(ctx.app, accountA, { login: 'ancien' });
      const token = await createToken(ctx.app, accountA, { user: 'ancien', name: 'ancien' });
      const sent = await fetch(`${base}/api/v1/accounts/${accountA.name}/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          message: 'Envoyé par ancien',
          receivers: ['+33612345678', '+33612345679'],
          sender: 'ShopA',
          noStopClause: true,
        }),
      });
      expect(sent.status).toBe(200);
      await openUsers();
      await page.locator('tr[data-login="ancien"]').getByRole('button', { name: 'Supprimer' }).click();
      await page.getByRole('dialog', { name: 'Supprimer un utilisateur SMS' }).getByRole('button', { name: 'Supprimer' }).click();
      await page.locator('tr[data-login="ancien"]').waitFor({ state: 'detached' });
      expect(await outgoingCount(accountA, 'user=ancien')).toBe(2);

      await page.goto(`/accounts/${accountA.name}/history?user=ancien`);
      await page.waitForSelector('[role="grid"][aria-busy="false"] [role="row"][data-id]');
      await expect.poll(() => page.locator('[role="row"][data-id]').count()).toBe(2);
      expect(await page.locator('.cell-message').allTextContents()).toEqual(['Envoyé par ancien', 'Envoyé par ancien']);

      // From the unfiltered history, the user filter still offers it (its messages are still there).
      await page.goto(`/accounts/${accountA.name}/history`);
      await page.locator('select[name="user"] option[value="alice"]').waitFor({ state: 'attached' });
      const offered = await page.$$eval('select[name="user"] option', (options) => options.map((o) => (o as HTMLOptionElement).value));
      expect(offered).toContain('ancien');
      expect(await page.locator('select[name="user"] option[value="ancien"]').textContent()).toBe('ancien (supprimé)');
    });
  });

  describe('tokens page', () => {
    it('shows a token once with a working Copy button; scoped to a user it reads and sends as that user only, within its quota; revoked it stops at once over HTTP', async () => {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
      await createSmsUser(ctx.app, accountA, { login: 'scope', quota: 3 });
      await page.goto(`/accounts/${accountA.name}/tokens`);
      await page.locator('select[name="user"] option[value="scope"]').waitFor({ state: 'attached' });
      await page.locator('input[name="name"]').fill('jeton-scope');
      await page.locator('select[name="user"]').selectOption('scope');
      await page.getByRole('button', { name: 'Créer un jeton' }).last().click();
      const secret = page.locator('[data-secret]');
      await secret.waitFor();
      const token = (await secret.textContent()) ?? '';
      expect(token.length).toBeGreaterThan(20);
      await page.locator('.secret').getByRole('button', { name: 'Copier' }).click();
      await page.locator('.secret').getByRole('button', { name: 'Copié' }).waitFor();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
      const row = page.getByRole('row', { name: /jeton-scope/ });
      expect(await row.textContent()).toContain('scope');

      const http = (method: string, path: string, body?: unknown) =>
        fetch(`${base}/api/v1/accounts/${accountA.name}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
      const users = (await (await http('GET', '/users')).json()) as { login: string }[];
      expect(users.map((u) => u.login)).toEqual(['scope']);
      const job = await http('POST', '/jobs', {
        message: 'Par le jeton',
        receivers: ['+33612345678'],
        sender: 'ShopA',
        noStopClause: true,
      });
      expect(job.status).toBe(200);
      const history = (await (await http('GET', '/outgoing?limit=100')).json()) as { data: { user: string | null }[] };
      expect(history.data.map((r) => r.user)).toEqual(['scope']);
      // The quota, shown on the users page, was spent by one credit; beyond it the server refuses.
      await page.goto(`/accounts/${accountA.name}/users`);
      await expect.poll(async () => (await page.locator('tr[data-login="scope"] td').nth(2).textContent())?.trim()).toBe('2');
      const beyond = await http('POST', '/jobs', { message: 'x'.repeat(400), receivers: ['+33612345678'], sender: 'ShopA' });
      expect(beyond.status).toBe(402);

      // Gone from the page once left; revoked, it stops working over HTTP.
      await page.goto(`/accounts/${accountA.name}/tokens`);
      await page.getByRole('row', { name: /jeton-scope/ }).waitFor();
      expect(await page.locator('[data-secret]').count()).toBe(0);
      await page
        .getByRole('row', { name: /jeton-scope/ })
        .getByRole('button', { name: 'Révoquer' })
        .click();
      await page.getByRole('dialog', { name: 'Révoquer un jeton d’API' }).getByRole('button', { name: 'Révoquer' }).click();
      await page
        .getByRole('row', { name: /jeton-scope/ })
        .getByText('Révoqué')
        .waitFor();
      expect((await http('GET', '/users')).status).toBe(401);
      expect((await http('POST', '/jobs', { message: 'Après', receivers: ['+33612345678'], sender: 'ShopA' })).status).toBe(401);
    });
  });

  describe('senders page', () => {
    it('refuses a malformed sender with a clear message next to the form, keeping what was typed', async () => {
      for (let i = 0; i < 20; i++) await createSender(ctx.app, accountA, { sender: `Lot${String(i).padStart(2, '0')}` });
      await page.goto(`/accounts/${accountA.name}/senders`);
      await page.locator('tr[data-sender="Lot19"]').waitFor();
      const field = page.locator('input[name="sender"]');
      const problems: string[] = [];
      for (const value of ['Expediteur12', 'Shop_#1', 'Été']) {
        await field.fill(value);
        await field.press('Enter');
        const alert = page.getByRole('alert');
        await alert.waitFor();
        const text = (await alert.textContent()) ?? '';
        if (!text.includes(value)) problems.push(`${value}: the message does not name it: ${text}`);
        if (!/11/.test(text)) problems.push(`${value}: the message does not say the rule: ${text}`);
        const box = await alert.boundingBox();
        const viewport = page.viewportSize() ?? { width: 1400, height: 900 };
        if (!box || box.y < 0 || box.y + box.height > viewport.height)
          problems.push(`${value}: the message is out of view (at y=${box?.y}) while the form is at the bottom`);
        if ((await field.inputValue()) !== value) problems.push(`${value}: the field was changed to ${await field.inputValue()}`);
        expect((await api('GET', `/accounts/${accountA.name}/senders/${encodeURIComponent(value)}`)).status).toBe(404);
      }
      // A number pasted longer than allowed (16 digits): refused, never cut silently into another, valid, number.
      await field.fill('');
      await field.focus();
      await page.keyboard.insertText('+3361234567890123');
      const kept = await field.inputValue();
      const added = page.waitForResponse((r) => r.url().endsWith('/senders') && r.request().method() === 'POST');
      await field.press('Enter');
      await added;
      const created = (await listOf<{ sender: string }>(`/accounts/${accountA.name}/senders`))
        .map((s) => s.sender)
        .filter((s) => s.startsWith('+'));
      if (kept !== '+3361234567890123' || created.length > 0)
        problems.push(`a pasted 16-digit number became ${JSON.stringify(kept)}; senders created: ${JSON.stringify(created)}`);
      expect(problems).toEqual([]);
    });

    it('shows senders awaiting validation or refused with their status, and offers no action the server refuses', async () => {
      await page.goto(`/accounts/${accountA.name}/senders`);
      const waiting = page.locator('tr[data-sender="AttenteA"]');
      const refused = page.locator('tr[data-sender="RefusA"]');
      await refused.waitFor();
      expect(await waiting.textContent()).toContain('En validation');
      expect(await refused.textContent()).toContain('Refusé');
      expect(await waiting.getByRole('button', { name: /Activer|Désactiver/ }).count()).toBe(0);
      expect(await refused.getByRole('button', { name: /Activer|Désactiver/ }).count()).toBe(0);
      // The server refuses to delete a refused sender ("only the operator may remove it"): the page must not offer it.
      const offered = await refused.getByRole('button', { name: /Supprimer/ }).count();
      let answer = '';
      if (offered > 0) {
        await refused.getByRole('button', { name: /Supprimer/ }).click();
        const dialog = page.getByRole('dialog', { name: 'Supprimer un expéditeur' });
        await dialog.getByRole('button', { name: 'Supprimer' }).click();
        answer = (await dialog.getByRole('alert').textContent()) ?? '';
      }
      expect({ offered, answer }).toEqual({ offered: 0, answer: '' });
    });

    it('keeps the senders not enabled off the send page, and the server refuses them', async () => {
      await page.goto(`/accounts/${accountA.name}/send`);
      await page.locator('select[name="sender"] option[value="ShopA"]').waitFor({ state: 'attached' });
      const offered = await page.$$eval('select[name="sender"] option', (options) => options.map((o) => (o as HTMLOptionElement).value));
      for (const s of ['PauseA', 'AttenteA', 'RefusA']) {
        expect(offered).not.toContain(s);
        const res = await api('POST', `/accounts/${accountA.name}/jobs`, { message: 'x', receivers: ['+33612345678'], sender: s });
        expect(res.status).toBe(400);
      }
    });
  });

  describe('a customer with two SMS accounts', () => {
    const switchTo = async (account: Account) => {
      await page.locator('.account-select select').selectOption(account.name);
    };
    const usersOf = async (account: Account) => (await listOf<{ login: string }>(`/accounts/${account.name}/users`)).map((u) => u.login);

    it('chooses an account on the accounts page, switches with the selector, and keeps URL, data and header together through back and forward', async () => {
      await page.goto('/accounts');
      const cards = page.locator('.account-list a');
      await expect.poll(() => cards.count()).toBe(2);
      await page.getByRole('link', { name: new RegExp(accountB.name) }).click();
      await page.waitForURL(`**/accounts/${accountB.name}/history`);
      await page.getByRole('navigation').getByRole('link', { name: 'Utilisateurs SMS' }).click();
      await page.waitForURL(`**/accounts/${accountB.name}/users`);
      await expect.poll(() => shownLogins(page)).toEqual(await usersOf(accountB));
      expect(await page.locator('.topbar .credits').textContent()).toContain('500');

      await switchTo(accountA);
      await page.waitForURL(`**/accounts/${accountA.name}/users`);
      await expect.poll(() => shownLogins(page)).toEqual(await usersOf(accountA));
      expect(await page.locator('.topbar .credits').textContent()).not.toContain('500');

      await page.getByRole('navigation').getByRole('link', { name: 'Expéditeurs' }).click();
      await page.waitForURL(`**/accounts/${accountA.name}/senders`);
      await page.locator('tr[data-sender="ShopA"]').waitFor();
      expect(await page.locator('tr[data-sender="ShopB"]').count()).toBe(0);

      const consistent = async (account: Account, pageName: 'users' | 'senders') => {
        await page.waitForURL(`**/accounts/${account.name}/${pageName}`);
        expect(await page.locator('.account-select select').inputValue()).toBe(account.name);
        if (pageName === 'users') await expect.poll(() => shownLogins(page)).toEqual(await usersOf(account));
        else {
          const senders = (await listOf<{ sender: string }>(`/accounts/${account.name}/senders`)).map((s) => s.sender).sort();
          await expect
            .poll(async () => (await page.$$eval('tr[data-sender]', (rows) => rows.map((r) => r.getAttribute('data-sender')))).sort())
            .toEqual(senders);
        }
        await expect.poll(() => page.locator('.topbar .credits').textContent()).toContain(account === accountB ? '500' : 'crédits');
      };
      await page.goBack();
      await consistent(accountA, 'users');
      await page.goBack();
      await consistent(accountB, 'users');
      await page.goForward();
      await consistent(accountA, 'users');
      await page.goForward();
      await consistent(accountA, 'senders');
    });

    it('leaves nothing of one account on screen after switching to the other: no token shown once, no sending report, no sender of the other', async () => {
      await page.goto(`/accounts/${accountA.name}/tokens`);
      await page.locator('input[name="name"]').fill('jeton-fuite');
      await page.getByRole('button', { name: 'Créer un jeton' }).last().click();
      await page.locator('[data-secret]').waitFor();
      await switchTo(accountB);
      await page.waitForURL(`**/accounts/${accountB.name}/tokens`);
      await page.getByRole('row', { name: /jeton-b/ }).waitFor();
      expect.soft(await page.locator('[data-secret]').count(), "account A's new token still shown on B's tokens page").toBe(0);

      await page.goto(`/accounts/${accountA.name}/send`);
      await page.locator('select[name="sender"] option[value="ShopA"]').waitFor({ state: 'attached' });
      await page.locator('select[name="sender"]').selectOption('ShopA');
      await page.locator('textarea[name="receivers"]').fill('+33612345678');
      await page.locator('textarea[name="message"]').fill('Depuis A');
      await sendButton(page).click();
      await page.getByRole('status').filter({ hasText: 'SMS acceptés' }).waitFor();
      await switchTo(accountB);
      await page.waitForURL(`**/accounts/${accountB.name}/send`);
      await page.locator('select[name="sender"] option[value="ShopB"]').waitFor({ state: 'attached' });
      expect
        .soft(await page.getByRole('status').filter({ hasText: 'SMS acceptés' }).count(), "A's sending report shown on B's send page")
        .toBe(0);
      const select = await page.locator('select[name="sender"]').evaluate((el: HTMLSelectElement) => ({
        value: el.value,
        index: el.selectedIndex,
      }));
      expect.soft(select.index, `the sender select shows nothing (value ${JSON.stringify(select.value)})`).toBeGreaterThanOrEqual(0);
      // B's page starts afresh: nothing typed on A's is left (corrected: the review reused A's receivers here).
      expect(await page.locator('textarea[name="receivers"]').inputValue()).toBe('');
      // Sending now sends what the screen shows, from B.
      await page.locator('textarea[name="receivers"]').fill('+33612345678');
      await page.locator('textarea[name="message"]').fill('Depuis B');
      const answer = jobAnswer(page);
      await sendButton(page).click();
      const res = await answer;
      expect(res.status(), await res.text()).toBe(200);
    });

    it('never shows the previous account’s rows under the new one while its list loads', async () => {
      await page.goto(`/accounts/${accountA.name}/users`);
      await page.locator('tr[data-login="alice"]').waitFor();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      await page.route(`**/api/v1/accounts/${accountB.name}/users`, async (route: Route) => {
        await gate;
        await route.continue();
      });
      await switchTo(accountB);
      await page.waitForURL(`**/accounts/${accountB.name}/users`);
      await page.waitForFunction(
        (name) => document.querySelector<HTMLSelectElement>('.account-select select')?.value === name,
        accountB.name,
      );
      const whileLoading = await shownLogins(page);
      release();
      await page.locator('tr[data-login="bob"]').waitFor();
      expect(whileLoading, `the page of ${accountB.name} listed A's users while B's loaded`).not.toContain('alice');
    });

    it('answers an account of another customer in the URL with a clear “not found” on every page, and none of its data', async () => {
      const problems: string[] = [];
      for (const name of ['history', 'send', 'users', 'senders', 'tokens']) {
        const loaded = page.waitForResponse(
          (r: Response) => r.url().includes(`/api/v1/accounts/${stranger.account.name}/`) && r.status() === 404,
        );
        await page.goto(`/accounts/${stranger.account.name}/${name}`);
        await loaded;
        const alerts = page.getByRole('alert');
        let said = '';
        try {
          await expect.poll(() => alerts.count()).toBeGreaterThan(0);
          said = (await alerts.allTextContents()).join(' ');
        } catch {
          said = '';
        }
        if (!/n’existe pas|ne vous appartient pas|No SMS account/.test(said))
          problems.push(`${name}: no "not found" shown (alert: ${JSON.stringify(said)})`);
        const body = (await page.locator('main').textContent()) ?? '';
        for (const secret of ['eve-secret', 'SecretSnd', 'secret of another customer'])
          if (body.includes(secret)) problems.push(`${name}: shows ${secret}`);
        if (name === 'send' && (await sendButton(page).count()) > 0) {
          await page.locator('textarea[name="receivers"]').fill('+33612345678');
          if (await sendButton(page).isEnabled()) problems.push('send: the form to send from that account is offered');
        }
      }
      expect(problems).toEqual([]);
    });
  });

  describe('history chart', () => {
    const STATS_STATUSES = ['delivered', 'sent', 'failed', 'pending', 'expired', 'canceled'] as const;
    const stats = async (query: string) => {
      const res = await api('GET', `/accounts/${accountA.name}/stats${query ? `?${query}` : ''}`);
      expect(res.status).toBe(200);
      return res.body as unknown as { from: string; to: string; days: Record<string, number | string>[] };
    };
    const totalOf = (s: { days: Record<string, number | string>[] }) =>
      s.days.reduce((sum, d) => sum + STATS_STATUSES.reduce((a, k) => a + Number(d[k]), 0), 0);
    const chartTotal = async () => {
      const text = (await page.locator('figure.chart figcaption').textContent()) ?? '';
      const m = /([\d\s\u202f\u00a0]+) SMS sur la période/.exec(text);
      return m ? Number(m[1].replace(/\D/g, '')) : Number.NaN;
    };

    it('totals what /stats counts for the same filter, follows the filters, and tells each day’s whole count', async () => {
      const now = Date.now();
      const rows = Array.from({ length: 48 }, (_, i) => {
        const status = STATS_STATUSES[i % STATS_STATUSES.length];
        const createdAt = now - (i % 8) * DAY - 3_600_000;
        return buildOutgoing({
          account_id: accountA.id,
          created_at: createdAt,
          status,
          sent_at: status === 'pending' || status === 'canceled' ? null : createdAt + 1000,
          delivered_at: status === 'delivered' ? createdAt + 2000 : null,
          failed_at: status === 'failed' ? createdAt + 2000 : null,
          expired_at: status === 'expired' ? createdAt + 2000 : null,
          canceled_at: status === 'canceled' ? createdAt + 2000 : null,
          user_login: i % 3 === 0 ? 'alice' : i % 3 === 1 ? 'robot' : '',
          message: `Statistique ${i}`,
        });
      });
      await insertOutgoing(ctx.database, rows, { queued: false });

      await page.goto(`/accounts/${accountA.name}/history`);
      await page.locator('figure.chart svg').waitFor();
      await expect.poll(chartTotal).toBe(totalOf(await stats('')));

      await page.locator('select[name="user"] option[value="alice"]').waitFor({ state: 'attached' });
      await page.locator('select[name="user"]').selectOption('alice');
      await page.waitForURL(/user=alice/);
      await expect.poll(chartTotal).toBe(totalOf(await stats('user=alice')));

      const day = (d: number) => new Date(now - d * DAY + 9 * 3_600_000).toISOString().slice(0, 10);
      await page.goto(`/accounts/${accountA.name}/history?status=failed,pending&from=${day(5)}&to=${day(1)}`);
      await page.locator('figure.chart svg').waitFor();
      const filtered = await stats(`status=failed,pending&from=${day(5)}&to=${day(1)}`);
      await expect.poll(chartTotal).toBe(totalOf(filtered));
      const caption = (await page.locator('figure.chart figcaption').textContent()) ?? '';
      const fr = (iso: string) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
      expect(caption).toContain(`du ${fr(filtered.from)} au ${fr(filtered.to)}`);

      // Each day's bar tells (in its title, what a mouse or a screen reader gets) its whole count.
      await page.goto(`/accounts/${accountA.name}/history`);
      await page.locator('figure.chart svg').waitFor();
      const all = await stats('');
      await expect.poll(chartTotal).toBe(totalOf(all));
      const titles = await page.locator('figure.chart svg g > title').allTextContents();
      expect(titles).toHaveLength(all.days.length);
      const told = titles.map((t) => (t.split('—')[1] ?? '').match(/\d+/g)?.reduce((a, b) => a + Number(b), 0) ?? 0);
      const counted = all.days.map((d) => STATS_STATUSES.reduce((a, k) => a + Number(d[k]), 0));
      expect(told).toEqual(counted);
    });
  });

  describe('keyboard and screen readers', () => {
    it('labels every field of the send, users, senders and tokens pages, announces errors as alerts, and keeps the focus in the page after a submit', async () => {
      const unlabelled: string[] = [];
      for (const name of ['send', 'users', 'senders', 'tokens']) {
        await page.goto(`/accounts/${accountA.name}/${name}`);
        await page.locator('main form').first().waitFor();
        await page.locator('main table, main select[name="sender"] option[value="ShopA"]').first().waitFor({ state: 'attached' });
        if (name === 'send') await page.getByLabel('Envoi différé').check();
        unlabelled.push(...(await unlabelledFields(page)).map((f) => `${name}: ${f}`));
      }
      expect(unlabelled).toEqual([]);
      // The hints and the live counter describe the fields (aria-describedby), they are not part of their names.
      await page.goto(`/accounts/${accountA.name}/send`);
      await page.locator('select[name="sender"] option[value="ShopA"]').waitFor({ state: 'attached' });
      expect(await page.getByRole('textbox', { name: 'Destinataires', exact: true }).count()).toBe(1);
      expect(await page.getByRole('textbox', { name: 'Message', exact: true }).count()).toBe(1);

      // A refused sending: the reason is an alert, the focus stays in the form (not lost to the page).
      await page.goto(`/accounts/${accountA.name}/send`);
      await page.locator('select[name="sender"] option[value="ShopA"]').waitFor({ state: 'attached' });
      await page.locator('select[name="sender"]').selectOption('ShopA');
      await page.locator('textarea[name="receivers"]').fill('pas-un-numero');
      await page.locator('textarea[name="message"]').fill('Erreur attendue');
      await page.locator('textarea[name="message"]').press('Tab');
      await sendButton(page).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('alert').waitFor();
      const focused = () =>
        page.evaluate(() => `${document.activeElement?.tagName.toLowerCase()} ${document.activeElement?.textContent?.slice(0, 20)}`);
      expect
        .soft(
          await page.evaluate(() => Boolean(document.activeElement?.closest('form'))),
          `focus on ${await focused()} after a refused sending`,
        )
        .toBe(true);
      // Corrected and sent with the keyboard: the report is a status, the focus still in the form.
      await page.locator('textarea[name="receivers"]').fill('+33612345678');
      await sendButton(page).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('status').filter({ hasText: 'SMS acceptés' }).waitFor();
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(
        await page.evaluate(() => Boolean(document.activeElement?.closest('form'))),
        `focus on ${await focused()} after a sending`,
      ).toBe(true);
    });
  });
});

describeEachDialectWithApp(
  'Manager send page with this server’s own STOP mention (RELAIS_STOP_CLAUSE)',
  (ctx) => {
    let context: BrowserContext;
    it('counts and shows the STOP mention the server appends', async () => {
      const seeded = await seedCustomerWithAccount(ctx.app);
      await createSender(ctx.app, seeded.account, { sender: 'Relais' });
      const base = await listen(ctx.app);
      context = await openContext(base, await apiSession(ctx.app, seeded.customer.email, seeded.password));
      try {
        const page = await context.newPage();
        await page.goto(`/accounts/${seeded.account.name}/send`);
        await page.locator('select[name="sender"] option[value="Relais"]').waitFor({ state: 'attached' });
        await page.locator('select[name="sender"]').selectOption('Relais');
        await page.locator('textarea[name="receivers"]').fill('+33612345678');
        // 140 + 1 + 27 = 168 septets with this server's mention: two SMS (with the default one, 155: one).
        const text = 'a'.repeat(140);
        await page.locator('textarea[name="message"]').fill(text);
        await expect.poll(async () => (await page.locator('[data-counter]').textContent()) ?? '').toMatch(/caractères/);
        const shown = await counterOf(page);
        const answer = page.waitForResponse((r) => r.url().endsWith('/jobs'));
        await page.getByRole('button', { name: 'Envoyer', exact: true }).click();
        const report = (await (await answer).json()) as { parts: number };
        const form = (await page.locator('form').textContent()) ?? '';
        expect({ chars: shown.chars, parts: shown.parts, server: report.parts, mentionShown: form.includes(CUSTOM_STOP) }).toEqual({
          chars: 140 + 1 + CUSTOM_STOP.length,
          parts: 2,
          server: 2,
          mentionShown: true,
        });
      } finally {
        await context?.close();
      }
    });
  },
  { config: { stopClause: CUSTOM_STOP } },
);
