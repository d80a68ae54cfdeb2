import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Account } from '../../src/server/modules/accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../../src/server/modules/accounts/accounts.service.js';
import { COUNT_DELAY_MS, POLL_MS } from '../../src/web/features/history/use-history.js';
import { describeEachDialectWithApp } from '../app.js';
import { bearer, createSender, createSmsUser, type SeededAccount, seedCustomerWithAccount, type TestSession } from '../factories.js';
import { buildOutgoing, FACTORY_QUEUE_DUE, insertOutgoing } from '../outgoing-factory.js';
import {
  apiSession,
  launchBrowser,
  listen,
  lowContrast,
  newContext,
  newPhoneContext,
  overflowX,
  parseSeedCsv,
  rowIds,
  screenshot,
  selectedIds,
  tabWithoutFocusRing,
  useSession,
  waitForFirstRows,
} from './browser.js';

const STATUSES = ['delivered', 'sent', 'failed', 'pending', 'expired'] as const;
const USERS = ['apiuser', 'robot', ''] as const;
const CHANNELS = ['api', 'http2sms', 'manager'] as const;
const WORDS = ['Livraison', 'rendez-vous', 'Code', 'Promo', 'Alerte', 'facture', 'Bienvenue', 'rappel'];
const MESSAGES = 150;
const SPECIAL_TEXT = 'Bonjour "Marie"\nÀ demain ; merci';
const XSS_TEXT = '<img src=x onerror="window.__xss=1">';
/** The signed-in pages and their headings. */
const PAGES = [
  ['history', 'Historique des envois'],
  ['send', 'Envoyer un SMS'],
  ['users', 'Utilisateurs SMS'],
  ['senders', 'Expéditeurs'],
  ['tokens', 'Jetons d’API'],
  ['settings', 'Réglages du compte'],
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

describeEachDialectWithApp('Manager in a real browser', (ctx) => {
  let base: string;
  let seeded: SeededAccount;
  let other: SeededAccount;
  let account: Account;
  let context: BrowserContext;
  let page: Page;
  let session: TestSession;
  const now = Date.now() - 60_000;

  /** The API's answer for a list query (the truth the screen must show). */
  const apiIds = async (query: string, limit = 10): Promise<number[]> => {
    const res = await ctx.app.inject({
      url: `/api/v1/accounts/${account.name}/outgoing?limit=${limit}${query ? `&${query}` : ''}`,
      headers: seeded.auth,
    });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { data: { id: number }[] }).data.map((r) => r.id);
  };
  const apiTotal = async (query: string): Promise<number> => {
    const res = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/outgoing/count?${query}`, headers: seeded.auth });
    return (res.json() as { total: number }).total;
  };
  const historyUrl = (query = '') => `/accounts/${account.name}/history${query}`;
  const openHistory = async (query = '') => {
    await page.goto(historyUrl(query));
    await page.waitForSelector('[role="grid"][aria-busy="false"] [role="row"][data-id]');
  };

  beforeAll(async () => {
    seeded = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris' } });
    account = seeded.account;
    await createSmsUser(ctx.app, account, { login: 'apiuser' });
    await createSmsUser(ctx.app, account, { login: 'robot' });
    await createSender(ctx.app, account, { sender: 'Relais' });
    await createSender(ctx.app, account, { sender: 'Shop' });
    const rows = Array.from({ length: MESSAGES }, (_, i) => {
      const user = USERS[i % 3];
      const status = STATUSES[i % 5];
      let message = `${WORDS[(i * 7) % WORDS.length]} n°${(i * 37) % 101} pour vous`;
      if (i === 120) message = SPECIAL_TEXT;
      if (i === 121) message = XSS_TEXT;
      if (i === 122) message = `Texte long ${'très long '.repeat(40)}fin`;
      // Oldest first, so ids grow with time; the newest (i = 149) is a minute ago.
      const createdAt = now - (MESSAGES - 1 - i) * 47 * 60_000;
      return buildOutgoing({
        account_id: account.id,
        created_at: createdAt,
        sent_at: status === 'pending' ? null : createdAt + 1000,
        delivered_at: status === 'delivered' ? createdAt + 4000 : null,
        failed_at: status === 'failed' ? createdAt + 4000 : null,
        expired_at: status === 'expired' ? createdAt + 3_600_000 : null,
        status,
        user_login: user,
        channel: CHANNELS[i % 3],
        sender: ['Relais', 'Shop', 'Zeta'][(i * 5) % 3],
        receiver: `+3361${String((i * 7919) % 100_000).padStart(5, '0')}00${i % 10}`,
        message,
        tag: i % 4 === 0 ? 'campagne' : '',
      });
    });
    await insertOutgoing(ctx.database, rows);
    other = await seedCustomerWithAccount(ctx.app);
    await insertOutgoing(ctx.database, [buildOutgoing({ account_id: other.account.id, message: 'secret of another customer' })]);
    base = await listen(ctx.app);
    session = await apiSession(ctx.app, seeded.customer.email, seeded.password);
  });

  beforeEach(async () => {
    context = await newContext(browser, base);
    await useSession(context, base, session);
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  it('signs in with the form and lands on the history of the only account, newest first', async () => {
    await context.clearCookies();
    await page.goto('/');
    await page.getByLabel('Adresse e-mail').fill(seeded.customer.email);
    await page.getByLabel('Mot de passe').fill('not the password');
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByText('E-mail ou mot de passe incorrect.').waitFor();
    await screenshot(page, `${ctx.dialect}-sign-in`);
    await page.getByLabel('Mot de passe').fill(seeded.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.waitForURL(`**${historyUrl()}`);
    await page.getByRole('heading', { name: 'Historique des envois' }).waitFor();
    await waitForFirstRows(page, await apiIds('', 10));
    await expect.poll(() => page.locator('.total').textContent()).toBe(`${MESSAGES} SMS`);
    const headers = await page.locator('[role="columnheader"]').allTextContents();
    expect(headers.map((h) => h.replace(/[▲▼]|,.*$/g, '').trim())).toEqual([
      'Date',
      'Heure',
      'Expéditeur',
      'Destinataire',
      'Message',
      'Statut',
      'Utilisateur',
      'Canal',
    ]);
    // Dates and times in the account's timezone (Europe/Paris), read from the newest row.
    const newest = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/outgoing?limit=1`, headers: seeded.auth });
    const createdAt = (newest.json() as { data: { createdAt: string }[] }).data[0].createdAt;
    const firstRow = page.locator('[role="row"][data-id]').first();
    const cells = await firstRow.locator('[role="gridcell"]').allTextContents();
    expect(cells[0]).toBe(`${createdAt.slice(8, 10)}/${createdAt.slice(5, 7)}/${createdAt.slice(0, 4)}`);
    expect(cells[1]).toBe(createdAt.slice(11, 19));
    await page.locator('figure.chart svg').waitFor();
    await screenshot(page, `${ctx.dialect}-history`);

    // The account is remembered: "/" goes straight back to it.
    await page.goto('/');
    await page.waitForURL(`**${historyUrl()}`);
  });

  it('asks who is signed in and for the first rows once each, before its JavaScript has loaded', async () => {
    const asked: string[] = [];
    page.on('request', (request) => asked.push(new URL(request.url()).pathname + new URL(request.url()).search));
    await page.goto(historyUrl());
    await waitForFirstRows(page, await apiIds('', 10));
    expect(asked.filter((url) => url === `/api/v1/accounts/${account.name}/outgoing?limit=100`)).toHaveLength(1);
    expect(asked.filter((url) => url === '/api/v1/auth/me')).toHaveLength(1);
    // Both were started by early.js and taken over by the app (none left waiting).
    expect(asked).toContain('/early.js');
    expect(await page.evaluate(() => Object.keys((window as { __relaisEarly?: object }).__relaisEarly ?? { missing: true }))).toEqual([]);
  });

  describe('with more than 1,000 SMS matching', () => {
    /** SMS of each user: over 1,000, so each view's first page gives a lower bound and the exact count is asked for apart. */
    const ROBOT = 1300;
    const APIUSER = 1100;
    let big: SeededAccount;
    let bigSession: TestSession;
    /** The Manager's requests for the big account, as `/outgoing?…`, `/outgoing/count?…`, `/stats?…`. */
    let asked: string[];
    const historyOfBig = (query = '') => `/accounts/${big.account.name}/history${query}`;
    const askedFor = (path: string) => asked.filter((url) => url.split('?')[0] === path);
    const bigIds = async (query: string): Promise<number[]> => {
      const res = await ctx.app.inject({ url: `/api/v1/accounts/${big.account.name}/outgoing?limit=10&${query}`, headers: big.auth });
      expect(res.statusCode, res.body).toBe(200);
      return (res.json() as { data: { id: number }[] }).data.map((r) => r.id);
    };
    const bigTotal = async (query: string): Promise<number> => {
      const res = await ctx.app.inject({ url: `/api/v1/accounts/${big.account.name}/outgoing/count?${query}`, headers: big.auth });
      return (res.json() as { total: number }).total;
    };
    /** The total above the grid, its spaces (French digit groups) made plain. */
    const shownTotal = async () => (await page.locator('.total').textContent())?.replace(/\s/g, ' ');
    const waitForExactTotal = async (total: number) => {
      await page.locator(`.total[data-total="${total}"]`).waitFor();
      expect(await shownTotal()).toBe(`${total.toLocaleString('fr-FR').replace(/\s/g, ' ')} SMS`);
    };
    /**
     * Lets the page's clock run past the delays of the exact count and of the chart (a view "stays").
     * The chart's timer starts in an effect after the rows are shown, so a test that waits for the chart
     * request lets time pass again until it comes (`expect.poll(() => stay().then(…))`).
     */
    const stay = () => page.clock.runFor(COUNT_DELAY_MS);
    /** Clicks a column's sort button; waits for the first rows of the new order (`sort` as in the URL, null for the default). */
    const sortBy = async (column: string, sort: string | null, filter: string) => {
      await page.locator(`[role="columnheader"][data-column="${column}"]`).getByRole('button').click();
      await page.waitForURL((url) => url.searchParams.get('sort') === sort);
      await waitForFirstRows(page, await bigIds(sort ? `${filter}&sort=${encodeURIComponent(sort)}` : filter));
    };
    const chooseUser = async (login: string, sort: string) => {
      await page.getByLabel('Filtre utilisateurs').selectOption(login);
      await page.waitForURL((url) => url.searchParams.get('user') === login);
      await waitForFirstRows(page, await bigIds(`user=${login}&sort=${encodeURIComponent(sort)}`));
    };

    beforeAll(async () => {
      big = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris' } });
      await createSmsUser(ctx.app, big.account, { login: 'robot' });
      await createSmsUser(ctx.app, big.account, { login: 'apiuser' });
      const count = ROBOT + APIUSER;
      await insertOutgoing(
        ctx.database,
        Array.from({ length: count }, (_, i) =>
          buildOutgoing({
            account_id: big.account.id,
            created_at: now - (count - i) * 60_000,
            user_login: i % 24 < 11 ? 'apiuser' : 'robot',
            receiver: `+336${String((i * 7919) % 100_000_000).padStart(8, '0')}`,
          }),
        ),
      );
      bigSession = await apiSession(ctx.app, big.customer.email, big.password);
    });

    beforeEach(async () => {
      await useSession(context, base, bigSession);
      asked = [];
      const prefix = `/api/v1/accounts/${big.account.name}`;
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.pathname.startsWith(`${prefix}/`)) asked.push(url.pathname.slice(prefix.length) + url.search);
      });
      // The page's clock stands still: its delayed requests (count, chart, poll) go only when the test lets time pass.
      await page.clock.install();
      await page.clock.pauseAt(Date.now() + 1000);
    });

    it('asks for the exact count once a view has stayed, reuses it for another sort of the same filter, asks again for another filter', async () => {
      await page.goto(historyOfBig());
      await waitForFirstRows(page, await bigIds(''));
      expect(await shownTotal()).toBe('plus de 1 000 SMS');
      expect(await page.locator('.total').getAttribute('data-total')).toBeNull();
      expect(askedFor('/outgoing/count')).toEqual([]);
      expect(askedFor('/stats')).toEqual([]);

      // The view stays: one count, and the exact total replaces the bound; one chart too.
      await stay();
      const all = await bigTotal('');
      expect(all).toBe(ROBOT + APIUSER);
      await waitForExactTotal(all);
      expect(askedFor('/outgoing/count')).toEqual(['/outgoing/count']);
      await expect.poll(() => stay().then(() => askedFor('/stats'))).toEqual(['/stats']);

      // Another sort, the same filter: exact with its first rows (no time has passed, so no count answered), and none asked.
      await sortBy('receiver', 'receiver', '');
      expect(await page.locator('.total').getAttribute('data-total')).toBe(String(all));
      await stay();

      // Another filter: neither its chart nor its count is asked for while its rows are on their way, however long.
      let held!: (route: Route) => void;
      const firstPage = new Promise<Route>((resolve) => {
        held = resolve;
      });
      await page.route((url) => url.pathname.endsWith('/outgoing') && url.searchParams.get('user') === 'robot', held, { times: 1 });
      await page.getByLabel('Filtre utilisateurs').selectOption('robot');
      await page.waitForURL((url) => url.searchParams.get('user') === 'robot');
      const route = await firstPage;
      await stay();
      await route.continue();
      await waitForFirstRows(page, await bigIds('user=robot&sort=receiver'));
      expect(await shownTotal()).toBe('plus de 1 000 SMS');
      expect(askedFor('/outgoing/count')).toEqual(['/outgoing/count']);
      expect(askedFor('/stats').filter((url) => url.includes('user='))).toEqual([]);
      // Once that view stays, its own count, and its chart once.
      await stay();
      await waitForExactTotal(await bigTotal('user=robot'));
      expect(askedFor('/outgoing/count')).toEqual(['/outgoing/count', '/outgoing/count?user=robot']);
      await expect.poll(() => stay().then(() => askedFor('/stats').filter((url) => url.includes('user=')))).toEqual(['/stats?user=robot']);

      // The other way round, the same filter: the count is reused again.
      await sortBy('receiver', '-receiver', 'user=robot');
      expect(await page.locator('.total').getAttribute('data-total')).toBe(String(ROBOT));
      await stay();

      // A third filter asks for its own count (the list request for it comes after any count the last view asked for).
      await chooseUser('apiuser', '-receiver');
      expect(askedFor('/outgoing/count')).toEqual(['/outgoing/count', '/outgoing/count?user=robot']);
      await stay();
      await waitForExactTotal(APIUSER);
      expect(askedFor('/outgoing/count')).toEqual(['/outgoing/count', '/outgoing/count?user=robot', '/outgoing/count?user=apiuser']);
      // The chart was asked once a filter: another sort of a view (time having passed) kept it.
      expect(askedFor('/stats').filter((url) => !url.includes('user=apiuser'))).toEqual(['/stats', '/stats?user=robot']);
    });

    it('asks for the exact count again after rows are deleted, new rows come, time passes, or the page is reloaded', async () => {
      const counts = () => askedFor('/outgoing/count');
      // A view left before it stays (the user clicking through) asks for no count.
      await page.goto(historyOfBig('?sort=receiver'));
      await waitForFirstRows(page, await bigIds('sort=receiver'));
      await chooseUser('robot', 'receiver');
      await stay();
      let robot = await bigTotal('user=robot');
      await waitForExactTotal(robot);
      expect(counts()).toEqual(['/outgoing/count?user=robot']);

      // Two rows deleted from the Manager: the total follows at once, and the next sort of the filter counts again.
      const shown = await rowIds(page);
      await page.locator(`[role="row"][data-id="${shown[0]}"]`).click();
      await page.locator(`[role="row"][data-id="${shown[1]}"]`).click({ modifiers: ['Control'] });
      await page.getByRole('button', { name: 'Supprimer (2)' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Supprimer' }).click();
      await page.getByText('2 SMS supprimés.').waitFor();
      robot = await bigTotal('user=robot');
      expect(robot).toBe(ROBOT - 2);
      await waitForExactTotal(robot);
      await sortBy('receiver', '-receiver', 'user=robot');
      expect(await shownTotal()).toBe('plus de 1 000 SMS');
      await stay();
      await waitForExactTotal(robot);
      expect(counts()).toEqual(['/outgoing/count?user=robot', '/outgoing/count?user=robot']);

      // Newest first, that count is reused; then new messages come in on top: the next sort counts again.
      await sortBy('date', null, 'user=robot');
      expect(await page.locator('.total').getAttribute('data-total')).toBe(String(robot));
      await insertOutgoing(
        ctx.database,
        [1, 2, 3].map((i) => buildOutgoing({ account_id: big.account.id, created_at: Date.now() + i, user_login: 'robot' })),
      );
      await page.clock.runFor(POLL_MS);
      await waitForFirstRows(page, await bigIds('user=robot'));
      robot = await bigTotal('user=robot');
      expect(robot).toBe(ROBOT + 1);
      await waitForExactTotal(robot);
      expect(counts()).toHaveLength(2);
      await sortBy('receiver', 'receiver', 'user=robot');
      expect(await shownTotal()).toBe('plus de 1 000 SMS');
      await stay();
      await waitForExactTotal(robot);
      expect(counts()).toHaveLength(3);

      // An hour later, the count is asked for again for another sort.
      await page.clock.setSystemTime(Date.now() + 3_600_000);
      await sortBy('receiver', '-receiver', 'user=robot');
      expect(await shownTotal()).toBe('plus de 1 000 SMS');
      await stay();
      await waitForExactTotal(robot);
      expect(counts()).toHaveLength(4);

      // So does a reload of the page.
      await page.reload();
      await waitForFirstRows(page, await bigIds('user=robot&sort=-receiver'));
      expect(await shownTotal()).toBe('plus de 1 000 SMS');
      await stay();
      await waitForExactTotal(robot);
      expect(counts()).toEqual(Array(5).fill('/outgoing/count?user=robot'));
    });
  });

  it('sorts on the server by each column, both ways, with the order in the URL', async () => {
    await openHistory();
    const columns = [
      { column: 'date', first: '+date', second: null },
      { column: 'sender', first: 'sender', second: '-sender' },
      { column: 'receiver', first: 'receiver', second: '-receiver' },
      { column: 'message', first: 'message', second: '-message' },
      { column: 'status', first: 'status', second: '-status' },
      { column: 'user', first: 'user', second: '-user' },
      { column: 'channel', first: 'channel', second: '-channel' },
    ];
    for (const { column, first, second } of columns) {
      const header = page.locator(`[role="columnheader"][data-column="${column}"]`);
      await header.getByRole('button').click();
      await page.waitForURL((url) => url.searchParams.get('sort') === first);
      await waitForFirstRows(page, await apiIds(`sort=${encodeURIComponent(first)}`));
      expect(await header.getAttribute('aria-sort')).toBe('ascending');
      expect(await header.locator('.sort-arrow').textContent()).toBe('▲');

      await header.getByRole('button').click();
      await page.waitForURL((url) => url.searchParams.get('sort') === second);
      await waitForFirstRows(page, await apiIds(second ? `sort=${encodeURIComponent(second)}` : ''));
      expect(await header.getAttribute('aria-sort')).toBe('descending');
      expect(await header.locator('.sort-arrow').textContent()).toBe('▼');
    }
    // A reload keeps the view.
    await page.reload();
    await waitForFirstRows(page, await apiIds('sort=-channel'));
    expect(await page.locator('[role="columnheader"][data-column="channel"]').getAttribute('aria-sort')).toBe('descending');
  });

  it('selects with click, Ctrl+click and Shift+click, then deletes the selection', async () => {
    await openHistory();
    const shown = await rowIds(page);
    const row = (i: number) => page.locator(`[role="row"][data-id="${shown[i]}"]`);
    await row(0).click();
    expect(await selectedIds(page)).toEqual([shown[0]]);
    await row(2).click({ modifiers: ['Control'] });
    expect(await selectedIds(page)).toEqual([shown[0], shown[2]].sort((a, b) => a - b));
    await row(5).click({ modifiers: ['Shift'] });
    const range = [shown[2], shown[3], shown[4], shown[5]];
    expect(await selectedIds(page)).toEqual([...range].sort((a, b) => a - b));
    await row(8).click({ modifiers: ['Control'] });
    await row(3).click({ modifiers: ['Control'] });
    const chosen = [shown[2], shown[4], shown[5], shown[8]].sort((a, b) => a - b);
    expect(await selectedIds(page)).toEqual(chosen);
    // Selected rows are highlighted in blue; the others are not.
    const background = (i: number) => row(i).evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(await background(2)).toBe('rgb(207, 224, 255)');
    expect(await background(3)).not.toBe('rgb(207, 224, 255)');
    await screenshot(page, `${ctx.dialect}-selection`);

    // Pending ones give their credits back, which the header shows once they are deleted.
    const headerCredits = async () => Number((await page.locator('.credits').first().textContent())?.replace(/\D/g, ''));
    const creditsBefore = await headerCredits();
    // One of them at least is waiting to be sent, in the queue (the history of this test is inserted delivered).
    await ctx.database.db.updateTable('outgoing').set({ status: 'pending', sent_at: null }).where('id', '=', chosen[0]).execute();
    await ctx.database.db
      .insertInto('dispatch_queue')
      .values({ outgoing_id: chosen[0], account_id: account.id, priority: 1, due_at: FACTORY_QUEUE_DUE, attempts: 0, lease_until: 0 })
      .execute();
    let refunded = 0;
    for (const id of chosen) {
      const message = (await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/outgoing/${id}`, headers: seeded.auth })).json();
      if (message.status === 'pending') refunded += message.credits as number;
    }
    expect(refunded).toBeGreaterThan(0);
    await page.getByRole('button', { name: /^Supprimer/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Supprimer 4 SMS de l’historique ?').waitFor();
    await screenshot(page, `${ctx.dialect}-delete-dialog`);
    await dialog.getByRole('button', { name: 'Supprimer' }).click();
    await page.getByText('4 SMS supprimés.').waitFor();
    await expect.poll(headerCredits).toBe(creditsBefore + refunded);
    await page.waitForFunction((gone) => gone.every((id) => !document.querySelector(`[role="row"][data-id="${id}"]`)), chosen);
    expect(await page.locator('.total').textContent()).toBe(`${MESSAGES - 4} SMS`);
    for (const id of shown.slice(0, 10)) {
      const res = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/outgoing/${id}`, headers: seeded.auth });
      expect(res.statusCode, `message ${id}`).toBe(chosen.includes(id) ? 404 : 200);
    }
    // The rows left are the API's, in order, without a reload.
    await waitForFirstRows(page, await apiIds('', 10));
  });

  it('erases the content of the selection: texts erased and receivers masked, the rows kept', async () => {
    // Rows of its own (tagged), gone at its end: the other tests compare the page with the seeded rows.
    const own = await insertOutgoing(
      ctx.database,
      [0, 1, 2].map((i) =>
        buildOutgoing({
          account_id: account.id,
          tag: 'e2e-redact',
          receiver: `+3361111222${i}`,
          message: `Code secret ${i}`,
          created_at: now - i * 1000,
        }),
      ),
    );
    await openHistory('?tag=e2e-redact');
    await waitForFirstRows(page, own);
    const shown = await rowIds(page);
    const row = (i: number) => page.locator(`[role="row"][data-id="${shown[i]}"]`);
    await row(0).click();
    await row(1).click({ modifiers: ['Control'] });
    await page.getByRole('button', { name: 'Effacer le contenu' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Effacer le texte et masquer le destinataire de 2 SMS ?').waitFor();
    await dialog.getByRole('button', { name: 'Effacer' }).click();
    await page.getByText('Contenu de 2 SMS effacé.').waitFor();
    for (const i of [0, 1]) {
      await row(i).getByText('Texte effacé ou non conservé').waitFor();
      expect(await row(i).textContent()).toContain('+336XXXXXX2');
      const message = (await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/outgoing/${shown[i]}`, headers: seeded.auth })).json();
      expect(message).toMatchObject({ message: null, status: 'delivered' });
      expect(message.receiver).toMatch(/^\+336X{6}2\d$/);
    }
    // The others are untouched, and every row is still there.
    expect(await row(2).textContent()).not.toContain('Texte effacé');
    expect(await rowIds(page)).toEqual(shown);
    await screenshot(page, `${ctx.dialect}-redacted`);
    await ctx.database.db.deleteFrom('outgoing').where('id', 'in', own).execute();
  });

  it('selects with the keyboard: arrows, Shift+arrows, Space, Ctrl+A, Escape and Delete', async () => {
    await openHistory('?status=expired');
    const shown = await rowIds(page);
    await page.locator('[role="row"][data-id]').first().click();
    const grid = page.getByRole('grid');
    await grid.press('ArrowDown');
    await grid.press('ArrowDown');
    expect(await selectedIds(page)).toEqual([shown[2]]);
    await grid.press('Shift+ArrowDown');
    await grid.press('Shift+ArrowDown');
    expect(await selectedIds(page)).toEqual([shown[2], shown[3], shown[4]].sort((a, b) => a - b));
    await grid.press('Space');
    expect(await selectedIds(page)).toEqual([shown[2], shown[3]].sort((a, b) => a - b));
    await grid.press('Control+a');
    expect((await selectedIds(page)).length).toBe(shown.length);
    await grid.press('Escape');
    expect(await selectedIds(page)).toEqual([]);

    // Ctrl+A, then Delete: every loaded row goes, by ids.
    const expired = await apiTotal('status=expired');
    await grid.press('Control+a');
    await grid.press('Delete');
    const dialog = page.getByRole('dialog');
    await dialog.getByText(`Supprimer ${expired} SMS de l’historique ?`).waitFor();
    await dialog.getByRole('button', { name: 'Supprimer' }).click();
    await page.getByText(`${expired} SMS supprimés.`).waitFor();
    await page.getByText('Aucun SMS ne correspond.').waitFor();
    expect(await apiTotal('status=expired')).toBe(0);
    expect(await apiTotal('status=delivered')).toBeGreaterThan(0);
  });

  it('selects all the SMS matching a filter beyond the rows loaded, and deletes them by filter', async () => {
    const bulk = Array.from({ length: 800 }, (_, i) =>
      buildOutgoing({
        account_id: account.id,
        created_at: now - 200 * 86_400_000 + i * 1000,
        status: 'canceled',
        sent_at: null,
        canceled_at: now - 200 * 86_400_000 + i * 1000 + 10,
        user_login: 'bulk',
        message: `Ancien message ${i}`,
      }),
    );
    await insertOutgoing(ctx.database, bulk);
    await openHistory('?status=canceled');
    await page.locator('.total').getByText('800 SMS').waitFor();
    await page.locator('[role="row"][data-id]').first().click();
    await page.getByRole('grid').press('Control+a');
    const loaded = Number(await page.getByRole('grid').getAttribute('data-loaded'));
    expect(loaded).toBeLessThan(800);
    await page.getByText(`Les ${loaded} SMS chargés sont sélectionnés.`).waitFor();
    await page.getByRole('button', { name: 'Sélectionner les 800 SMS correspondant au filtre' }).click();
    await page.locator('[data-selection="all"]').waitFor();
    expect(await page.getByRole('button', { name: /^Supprimer/ }).textContent()).toBe('Supprimer (800)');
    await screenshot(page, `${ctx.dialect}-select-all-matching`);

    await page.getByRole('button', { name: /^Supprimer/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Supprimer les 800 SMS correspondant au filtre ?').waitFor();
    await dialog.getByRole('button', { name: 'Supprimer' }).click();
    await page.getByText('800 SMS supprimés.').waitFor();
    await page.getByText('Aucun SMS ne correspond.').waitFor();
    expect(await apiTotal('status=canceled')).toBe(0);
    expect(await apiTotal('status=delivered')).toBeGreaterThan(0);
  });

  it('lists only the SMS of the user chosen in "Filtre utilisateurs", and searches the text', async () => {
    await openHistory();
    await page.getByLabel('Filtre utilisateurs').selectOption('apiuser');
    await page.waitForURL((url) => url.searchParams.get('user') === 'apiuser');
    await waitForFirstRows(page, await apiIds('user=apiuser', 10));
    const users = await page.locator('[role="row"][data-id] .cell-user').allTextContents();
    expect(users.length).toBeGreaterThan(5);
    expect(new Set(users)).toEqual(new Set(['apiuser']));
    await expect.poll(() => page.locator('.total').textContent()).toBe(`${await apiTotal('user=apiuser')} SMS`);

    await page.getByLabel('Filtre utilisateurs').selectOption({ label: 'Envoyés depuis le Manager' });
    await page.waitForURL((url) => url.searchParams.get('user') === '-');
    await waitForFirstRows(page, await apiIds('user=-', 10));

    await page.getByLabel('Filtre utilisateurs').selectOption('');
    await page.getByLabel('Rechercher dans les messages').fill('promo');
    await page.waitForURL((url) => url.searchParams.get('q') === 'promo');
    const matching = await apiIds('q=promo', 100);
    expect(matching.length).toBeGreaterThan(0);
    await waitForFirstRows(page, matching);
    const texts = await page.locator('[role="row"][data-id] .cell-message').allTextContents();
    expect(texts.every((text) => text.toLowerCase().includes('promo'))).toBe(true);
    expect(await rowIds(page)).toEqual(matching);
    await screenshot(page, `${ctx.dialect}-filtered`);

    // The view is a bookmark: status, user and sort from the URL alone.
    await openHistory('?sort=-receiver&user=robot&status=failed');
    await waitForFirstRows(page, await apiIds('sort=-receiver&user=robot&status=failed', 10));
    expect(await page.getByLabel('Filtre utilisateurs').inputValue()).toBe('robot');
    expect(await page.locator('[role="columnheader"][data-column="receiver"]').getAttribute('aria-sort')).toBe('descending');
  });

  it('downloads "Télécharger l\'historique" as the seed\'s CSV, newest first', async () => {
    await openHistory('?user=apiuser');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Télécharger l’historique' }).click(),
    ]);
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    expect(download.suggestedFilename()).toBe(`${account.name}-history-${day}.csv`);
    const text = readFileSync((await download.path())!, 'utf8');
    const { header, records } = parseSeedCsv(text);
    expect(header).toBe('date;sender;receiver;message;status');
    expect(text.endsWith('\n')).toBe(true);
    const res = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/outgoing?user=apiuser&limit=1000`, headers: seeded.auth });
    const expected = (res.json() as { data: { createdAt: string; sender: string; receiver: string; message: string; status: string }[] })
      .data;
    expect(records.length).toBe(expected.length);
    records.forEach((record, i) => {
      const o = expected[i];
      const date = o.createdAt.slice(0, 19).replace(/[-T:]/g, '');
      expect(record).toEqual([date, o.sender, o.receiver, o.message, o.status]);
      expect(record[0]).toMatch(/^\d{14}$/);
    });
    // The text with a quote, a semicolon and a line break comes back whole.
    expect(records.some((r) => r[3] === SPECIAL_TEXT) || !expected.some((o) => o.message === SPECIAL_TEXT)).toBe(true);
    expect(text).toContain('"Bonjour ""Marie""\nÀ demain ; merci"');
  });

  it('exports every match with "Exporter tout" in the detailed format', async () => {
    await openHistory('?status=failed');
    await page.locator('summary', { hasText: 'Exporter tout' }).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'CSV détaillé (tous les champs)' }).click(),
    ]);
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    expect(download.suggestedFilename()).toBe(`${account.name}-history-${day}.csv`);
    const { header, records } = parseSeedCsv(readFileSync((await download.path())!, 'utf8'));
    expect(header).toBe('id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt;user;channel;status');
    const res = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/outgoing?status=failed&limit=1000`, headers: seeded.auth });
    const expected = (res.json() as { data: { id: number; receiver: string; message: string; channel: string }[] }).data;
    expect(expected.length).toBeGreaterThan(0);
    expect(records.map((r) => [Number(r[0]), r[3], r[8], r[12], r[13]])).toEqual(
      expected.map((o) => [o.id, o.receiver, o.message, o.channel, 'failed']),
    );
  });

  it('shows one message whole in the detail panel, its text escaped', async () => {
    await openHistory('?q=Marie');
    await page.locator('[role="row"][data-id]').first().click();
    const panel = page.getByRole('complementary', { name: 'Détail du SMS' });
    await panel.waitFor();
    expect(await panel.locator('.message-text').textContent()).toBe(SPECIAL_TEXT);
    await screenshot(page, `${ctx.dialect}-detail`);

    await openHistory('?q=onerror');
    await page.locator('[role="row"][data-id]').first().click();
    expect(await page.locator('.detail .message-text').textContent()).toBe(XSS_TEXT);
    expect(await page.locator('[role="row"][data-id] .cell-message').first().textContent()).toBe(XSS_TEXT);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('.grid img').count()).toBe(0);
  });

  it('switches between French and English, and remembers the choice', async () => {
    await openHistory();
    await page.getByRole('button', { name: 'EN' }).click();
    await page.getByRole('heading', { name: 'Sent SMS history' }).waitFor();
    expect(await page.locator('[role="columnheader"][data-column="receiver"]').textContent()).toContain('Receiver');
    await page.getByRole('link', { name: 'Download the history' }).waitFor();
    await screenshot(page, `${ctx.dialect}-history-en`);
    await page.reload();
    await page.getByRole('heading', { name: 'Sent SMS history' }).waitFor();
    await page.getByRole('button', { name: 'FR' }).click();
    await page.getByRole('heading', { name: 'Historique des envois' }).waitFor();
    expect(await page.locator('[role="columnheader"][data-column="receiver"]').textContent()).toContain('Destinataire');

    // A new visitor gets the browser's language.
    const english = await newContext(browser, base, 'en-US');
    await useSession(english, base, session);
    const englishPage = await english.newPage();
    await englishPage.goto(historyUrl());
    await englishPage.getByRole('heading', { name: 'Sent SMS history' }).waitFor();
    await english.close();
  });

  it("does not reach another customer's account", async () => {
    await page.goto(`/accounts/${other.account.name}/history`);
    await page.locator('[data-error="account"]').waitFor();
    expect(await page.getByText('Ce compte SMS n’existe pas ou ne vous appartient pas.').isVisible()).toBe(true);
    expect(await page.locator('[role="row"][data-id]').count()).toBe(0);
    expect(await page.content()).not.toContain('secret of another customer');
    const res = await ctx.app.inject({ url: `/api/v1/accounts/${other.account.name}/outgoing`, headers: bearer(seeded.token) });
    expect(res.statusCode).toBe(404);
  });

  it('shows new messages and new statuses without a reload, keeping the selection', async () => {
    await openHistory();
    const first = (await rowIds(page))[0];
    await page.locator(`[role="row"][data-id="${first}"]`).click();
    const [id] = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: account.id, created_at: Date.now(), status: 'pending', sent_at: null, message: 'Tout nouveau message' }),
    ]);
    const fresh = page.locator(`[role="row"][data-id="${id}"]`);
    await fresh.waitFor({ timeout: 20_000 });
    expect(await fresh.locator('.cell-status').textContent()).toBe('En attente');
    expect(await selectedIds(page)).toEqual([first]);
    await ctx.database.db
      .updateTable('outgoing')
      .set({ status: 'delivered', sent_at: Date.now(), delivered_at: Date.now() })
      .where('id', '=', id)
      .execute();
    await page.waitForFunction((x) => document.querySelector(`[role="row"][data-id="${x}"] .cell-status`)?.textContent === 'Délivré', id, {
      timeout: 20_000,
    });
    expect(await selectedIds(page)).toEqual([first]);
  });

  it('works on a phone: cards, tap to select, details, filters behind a button, deletion, a menu, no sideways scrolling', async () => {
    const phone = await newPhoneContext(browser, base);
    await useSession(phone, base, session);
    const p = await phone.newPage();
    try {
      await p.goto(historyUrl('?user=robot'));
      await waitForFirstRows(p, await apiIds('user=robot', 5));
      // The same rows, laid out as cards: date and status on a line, receiver and message below, then the rest.
      const grid = p.getByRole('grid');
      expect(await grid.getAttribute('class')).toContain('compact');
      const first = p.locator('[role="row"][data-id]').first();
      // Every cell's box read at the same instant: the list may still settle its rows' heights, moving a row
      // between two separate reads.
      const [date, status, receiver, message, sender, channel] = await first.evaluate((row) =>
        ['date', 'status', 'receiver', 'message', 'sender', 'channel'].map((cell) => {
          const r = (row.querySelector(`.cell-${cell}`) as HTMLElement).getBoundingClientRect();
          return { x: r.x, y: r.y, width: r.width, height: r.height };
        }),
      );
      expect(Math.abs(date.y - status.y)).toBeLessThan(4);
      expect(status.x).toBeGreaterThan(date.x + date.width);
      expect(receiver.y).toBeGreaterThanOrEqual(date.y + date.height - 1);
      expect(Math.abs(receiver.y - message.y)).toBeLessThan(4);
      expect(sender.y).toBeGreaterThanOrEqual(receiver.y + receiver.height - 1);
      expect(Math.abs(sender.y - channel.y)).toBeLessThan(4);
      expect(channel.x + channel.width).toBeLessThanOrEqual(390);
      expect(await grid.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
      expect(await p.locator('[role="columnheader"]').count()).toBe(8);
      expect(await overflowX(p)).toEqual([]);

      // The filters fold behind a button that tells how many are in use.
      expect(await p.getByLabel('Filtre utilisateurs').count()).toBe(0);
      const filtersButton = p.getByRole('button', { name: /^Filtres/ });
      expect(await filtersButton.getAttribute('aria-expanded')).toBe('false');
      expect(await filtersButton.textContent()).toContain('Filtres (1)');
      await filtersButton.click();
      expect(await filtersButton.getAttribute('aria-expanded')).toBe('true');
      expect(await p.getByLabel('Filtre utilisateurs').inputValue()).toBe('robot');
      expect(await overflowX(p)).toEqual([]);
      await screenshot(p, `${ctx.dialect}-phone-filters`);
      await p.getByLabel('Filtre utilisateurs').selectOption('apiuser');
      await p.waitForURL((url) => url.searchParams.get('user') === 'apiuser');
      await waitForFirstRows(p, await apiIds('user=apiuser', 5));
      await expect.poll(() => p.locator('[data-announce]').textContent()).toBe(`Résultats : ${await apiTotal('user=apiuser')} SMS.`);
      await filtersButton.click();
      expect(await p.getByLabel('Filtre utilisateurs').count()).toBe(0);

      // The sort is a menu (the column headers are hidden on a phone).
      await p.getByLabel('Trier par').selectOption({ label: 'Destinataire — tri croissant' });
      await p.waitForURL((url) => url.searchParams.get('sort') === 'receiver');
      await waitForFirstRows(p, await apiIds('user=apiuser&sort=receiver', 5));
      await screenshot(p, `${ctx.dialect}-phone-sorted`);

      // A tap adds a card to the selection or takes it out.
      const shown = await rowIds(p);
      const card = (i: number) => p.locator(`[role="row"][data-id="${shown[i]}"]`);
      await card(0).tap();
      expect(await selectedIds(p)).toEqual([shown[0]]);
      await card(2).tap();
      expect(await selectedIds(p)).toEqual([shown[0], shown[2]].sort((a, b) => a - b));
      await card(0).tap();
      expect(await selectedIds(p)).toEqual([shown[2]]);
      expect(await card(2).evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(207, 224, 255)');

      // "Voir le détail" shows the whole message over the screen; Escape closes it and gives the focus back.
      await p.getByRole('button', { name: 'Voir le détail' }).tap();
      const detail = p.getByRole('dialog', { name: 'Détail du SMS' });
      await detail.waitFor();
      const one = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/outgoing/${shown[2]}`, headers: seeded.auth });
      expect(await detail.locator('.message-text').textContent()).toBe((one.json() as { message: string }).message);
      expect(await overflowX(p)).toEqual([]);
      await screenshot(p, `${ctx.dialect}-phone-detail`);
      await p.keyboard.press('Escape');
      await detail.waitFor({ state: 'detached' });
      expect(await p.evaluate(() => document.activeElement?.getAttribute('data-action'))).toBe('open-detail');

      // Two cards selected, then deleted after the confirmation.
      await card(3).tap();
      await p.getByRole('button', { name: 'Supprimer (2)' }).tap();
      const dialog = p.getByRole('dialog', { name: 'Supprimer des SMS' });
      await dialog.getByText('Supprimer 2 SMS de l’historique ?').waitFor();
      await screenshot(p, `${ctx.dialect}-phone-delete`);
      await dialog.getByRole('button', { name: 'Supprimer' }).tap();
      await p.getByText('2 SMS supprimés.').waitFor();
      for (const id of [shown[2], shown[3]]) {
        const gone = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/outgoing/${id}`, headers: seeded.auth });
        expect(gone.statusCode).toBe(404);
        expect(await p.locator(`[role="row"][data-id="${id}"]`).count()).toBe(0);
      }

      // The pages, the language and sign-out are behind "Menu".
      const menu = p.getByRole('button', { name: 'Menu' });
      expect(await menu.getAttribute('aria-expanded')).toBe('false');
      expect(await p.getByRole('link', { name: 'Expéditeurs' }).count()).toBe(0);
      await menu.tap();
      expect(await menu.getAttribute('aria-expanded')).toBe('true');
      await p.getByRole('button', { name: 'Se déconnecter' }).waitFor();
      expect(await overflowX(p)).toEqual([]);
      await screenshot(p, `${ctx.dialect}-phone-menu`);
      await p.getByRole('link', { name: 'Expéditeurs' }).tap();
      await p.waitForURL(`**/accounts/${account.name}/senders`);
      expect(await menu.getAttribute('aria-expanded')).toBe('false');

      // Every page fits the width of a phone.
      for (const [path, heading] of PAGES) {
        await p.goto(`/accounts/${account.name}/${path}`);
        await p.getByRole('heading', { name: heading, level: 1 }).waitFor();
        if (path === 'history') {
          await p.locator('[role="grid"][aria-busy="false"] [role="row"][data-id]').first().waitFor();
          await p.locator('figure.chart svg').waitFor(); // the chart comes a moment after the rows
        }
        if (path === 'users' || path === 'senders' || path === 'tokens') await p.locator('table.list tbody tr').first().waitFor();
        expect(await overflowX(p), path).toEqual([]);
        await screenshot(p, `${ctx.dialect}-phone-${path}`);
      }
      // Tables become cards but stay tables for assistive technology.
      await p.goto(`/accounts/${account.name}/senders`);
      await p.getByRole('row', { name: /Shop/ }).getByRole('button', { name: 'Désactiver' }).waitFor();
    } finally {
      await phone.close();
    }
  });

  it('exposes a real grid (roles, sort, row count and index), announces results, labels fields, shows focus, reads well', async () => {
    // One message of every status, so that every badge is on screen.
    await insertOutgoing(
      ctx.database,
      (['expired', 'canceled', 'pending'] as const).map((status, i) =>
        buildOutgoing({ account_id: account.id, created_at: Date.now() - i * 1000, status, sent_at: null, user_login: '' }),
      ),
    );
    await openHistory();
    const grid = page.getByRole('grid', { name: 'Historique des SMS envoyés' });
    const total = await apiTotal('');
    await expect.poll(() => grid.getAttribute('aria-rowcount')).toBe(String(total + 1));
    expect(await grid.getAttribute('aria-multiselectable')).toBe('true');
    expect(await grid.getAttribute('aria-colcount')).toBe('8');
    expect(await page.locator('[role="row"][aria-rowindex="1"] > [role="columnheader"]').count()).toBe(8);
    // aria-sort on the sorted header only.
    const sorted = () =>
      page
        .locator('[role="columnheader"][aria-sort]')
        .evaluateAll((els) => els.map((e) => [e.getAttribute('data-column'), e.getAttribute('aria-sort')]));
    expect(await sorted()).toEqual([['date', 'descending']]);

    // Each virtual row tells its place in the whole list (header = 1) and holds 8 gridcells.
    const rowsInDom = () =>
      page.$$eval('[role="grid"] > [role="rowgroup"] > [role="row"][data-id]', (els) =>
        els.map((e) => ({
          id: Number(e.getAttribute('data-id')),
          index: Number(e.getAttribute('aria-rowindex')),
          cells: e.querySelectorAll(':scope > [role="gridcell"]').length,
          selected: e.getAttribute('aria-selected'),
        })),
      );
    const ids = await apiIds('', 200);
    for (const row of await rowsInDom()) {
      expect(row).toEqual({ id: ids[row.index - 2], index: row.index, cells: 8, selected: 'false' });
    }
    await grid.evaluate((el) => {
      el.scrollTop = 60 * 36;
    });
    await page.waitForFunction(() => document.querySelector('[role="row"][aria-rowindex="2"]') === null);
    const far = await rowsInDom();
    expect(Math.min(...far.map((r) => r.index))).toBeGreaterThan(30);
    for (const row of far) expect(row.id).toBe(ids[row.index - 2]);
    await grid.evaluate((el) => {
      el.scrollTop = 0;
    });
    await page.locator('[role="row"][aria-rowindex="2"]').waitFor();

    // The focused row is the grid's active descendant.
    const firstRow = page.locator('[role="row"][data-id]').first();
    await firstRow.click();
    expect(await grid.getAttribute('aria-activedescendant')).toBe(await firstRow.getAttribute('id'));
    expect(await firstRow.getAttribute('aria-selected')).toBe('true');

    // Text and badges (in a selected row too) read at 4.5:1 or more.
    expect(
      await lowContrast(page, '.badge, .muted, .total, .field > span, .tabs a, .help, .grid-cell, .sort-button, button, a.button, .link'),
    ).toEqual([]);

    // After a filter change, a polite status region says how many SMS match.
    await page.getByLabel('Filtre utilisateurs').selectOption('robot');
    await page.waitForURL((url) => url.searchParams.get('user') === 'robot');
    const announce = page.locator('[role="status"][data-announce]');
    await expect.poll(() => announce.textContent()).toBe(`Résultats : ${await apiTotal('user=robot')} SMS.`);
    await page.getByRole('button', { name: /Plus de filtres/ }).click();
    // A menu button is named by its field and its value ("Statut Tous").
    const statusName = await page
      .locator('summary[aria-labelledby]')
      .first()
      .evaluate((el) => (el.getAttribute('aria-labelledby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent));
    expect(statusName).toEqual(['Statut', 'Tous']);

    // Every field has a label, on every page; every control reached with Tab shows a focus ring.
    const unlabelled = () =>
      page.$$eval('input, select, textarea', (els) =>
        els
          .filter((e) => (e as HTMLInputElement).type !== 'hidden' && (e as HTMLElement).offsetParent !== null)
          .filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
          .map((e) => e.outerHTML.slice(0, 80)),
      );
    expect(await unlabelled()).toEqual([]);
    expect(await tabWithoutFocusRing(page, 45)).toEqual([]);
    for (const [path, heading] of PAGES.slice(1)) {
      await page.goto(`/accounts/${account.name}/${path}`);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      expect(await unlabelled(), path).toEqual([]);
      expect(await tabWithoutFocusRing(page, 25), path).toEqual([]);
      expect(await lowContrast(page, '.muted, .hint, th, td, label, button, a'), path).toEqual([]);
    }
  });

  it('sets the privacy settings on the settings page: texts not stored, erased and deleted after N days', async () => {
    const settings = async () =>
      (await ctx.app.inject({ url: `/api/v1/accounts/${account.name}`, headers: seeded.auth })).json() as Record<string, unknown>;
    await page.goto(`/accounts/${account.name}/settings`);
    await page.getByRole('heading', { name: 'Réglages du compte', level: 1 }).waitFor();
    const store = page.getByLabel('Conserver le texte des SMS envoyés');
    expect(await store.isChecked()).toBe(true);
    await store.uncheck();
    await page.getByLabel('Effacer le texte après (jours)').fill('30');
    await page.getByLabel('Supprimer les SMS après (jours)').fill('365');
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.getByText('Réglages enregistrés.').waitFor();
    expect(await settings()).toMatchObject({ storeText: false, redactAfterDays: 30, retentionDays: 365 });
    // Emptied: never again.
    await store.check();
    await page.getByLabel('Effacer le texte après (jours)').fill('');
    await page.getByLabel('Supprimer les SMS après (jours)').fill('');
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.getByText('Réglages enregistrés.').waitFor();
    expect(await settings()).toMatchObject({ storeText: true, redactAfterDays: null, retentionDays: null });

    // The credit history: what the operator gave and took back (net zero, for the other tests' balance).
    await ctx.app.services.accounts.addCredits(SYSTEM_ACTOR, account.name, 500, { reason: 'Pack <b>décembre</b>' });
    await ctx.app.services.accounts.addCredits(SYSTEM_ACTOR, account.name, -500);
    await page.reload();
    const rows = page.locator('[data-list="credit-changes"] tbody tr');
    await rows.nth(2).waitFor();
    expect(await rows.allTextContents()).toEqual([
      expect.stringMatching(/^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d-500\s*\d[\d\s\u202f]*—$/),
      expect.stringMatching(/^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d\+500\d[\d\s\u202f]*Pack <b>décembre<\/b>$/),
      // The account's creation with its credits.
      expect.stringMatching(/^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d\+1[\s\u202f]?000\d[\d\s\u202f]*initial credits$/),
    ]);
    await screenshot(page, `${ctx.dialect}-settings`);
  });

  it('asks before deleting a sender in its own dialog: Escape cancels, Supprimer deletes', async () => {
    let nativeDialogs = 0;
    page.on('dialog', (d) => {
      nativeDialogs++;
      void d.dismiss();
    });
    await createSender(ctx.app, account, { sender: 'Ephemere' });
    const getSender = () => ctx.app.inject({ url: `/api/v1/accounts/${account.name}/senders/Ephemere`, headers: seeded.auth });
    await page.goto(`/accounts/${account.name}/senders`);
    const button = page.locator('tr[data-sender="Ephemere"]').getByRole('button', { name: 'Supprimer' });
    await button.click();
    const dialog = page.getByRole('dialog', { name: 'Supprimer un expéditeur' });
    await dialog.waitFor();
    expect(await dialog.getByText('Supprimer l’expéditeur Ephemere ?').isVisible()).toBe(true);
    // The focus starts on "Annuler" (the safe choice) and stays in the dialog; the page behind is inert.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Annuler');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    await page.locator('input[name="sender"]').evaluate((el: HTMLElement) => el.focus());
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    await screenshot(page, `${ctx.dialect}-confirm-sender`);

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await button.evaluate((el) => el === document.activeElement)).toBe(true);
    expect((await getSender()).statusCode).toBe(200);

    await button.press('Enter');
    await dialog.getByRole('button', { name: 'Supprimer' }).click();
    await page.locator('tr[data-sender="Ephemere"]').waitFor({ state: 'detached' });
    expect((await getSender()).statusCode).toBe(404);
    expect(nativeDialogs).toBe(0);
  });

  it('sends an SMS from the form, with a live count of characters and parts, and finds it in the history', async () => {
    await page.goto(`/accounts/${account.name}/send`);
    await page.getByRole('heading', { name: 'Envoyer un SMS' }).waitFor();
    await page.getByLabel('Expéditeur').selectOption('Relais');
    await page.locator('textarea[name="receivers"]').fill('+33612345678');
    const counter = page.locator('[data-counter]');
    await page.locator('textarea[name="message"]').fill('a'.repeat(150));
    // 150 characters, a line break and "STOP au 36180": 164 septets, two parts.
    await expect.poll(() => counter.textContent()).toContain('164 caractères · 2 SMS · GSM 7-bit');
    await page.getByLabel(/Ajouter la mention STOP/).uncheck();
    await expect.poll(() => counter.textContent()).toContain('150 caractères · 1 SMS · GSM 7-bit');
    await page.locator('textarea[name="message"]').fill('Café ☕ à midi');
    await expect.poll(() => counter.textContent()).toContain('Unicode');
    await page.locator('textarea[name="message"]').fill('Bonjour depuis le Manager');
    await screenshot(page, `${ctx.dialect}-send`);
    const headerCredits = async () => Number((await page.locator('.credits').first().textContent())?.replace(/\D/g, ''));
    const before = await headerCredits();
    await page.getByRole('button', { name: 'Envoyer', exact: true }).click();
    await page.getByText(/1 SMS acceptés/).waitFor();
    // The header's credits follow the sending (one part, one credit).
    await expect.poll(headerCredits).toBe(before - 1);
    await page.getByRole('link', { name: 'Voir l’historique' }).click();
    await page.waitForURL(`**${historyUrl()}`);
    const first = page.locator('[role="row"][data-id]').first();
    await expect.poll(() => first.locator('.cell-message').textContent()).toBe('Bonjour depuis le Manager');
    expect(await first.locator('.cell-channel').textContent()).toBe('Manager');
    expect(await first.locator('.cell-receiver').textContent()).toBe('+33612345678');
  });

  it('creates an SMS user with a password shown once, changes its settings and password, then deletes it', async () => {
    await page.goto(`/accounts/${account.name}/users`);
    await page.locator('input[name="login"]').fill('newbie');
    await page.locator('textarea[name="ips"]').fill('192.0.2.10\n198.51.100.0/24');
    await page.locator('input[name="quota"]').fill('50');
    await page.getByRole('button', { name: 'Créer', exact: true }).click();
    const secret = page.locator('[data-secret]');
    await secret.waitFor();
    const password = (await secret.textContent()) ?? '';
    expect(password.length).toBeGreaterThanOrEqual(12);
    await page.locator('tr[data-login="newbie"]').waitFor();
    await screenshot(page, `${ctx.dialect}-users`);
    const res = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/users/newbie`, headers: seeded.auth });
    expect(res.json()).toMatchObject({ login: 'newbie', ipRestrictions: ['192.0.2.10', '198.51.100.0/24'], quota: 50 });
    await page.reload();
    expect(await page.locator('[data-secret]').count()).toBe(0);

    // Its settings changed, and a new password given (shown once; the old one stops working).
    await page.locator('tr[data-login="newbie"]').getByRole('button', { name: 'Modifier' }).click();
    const edit = page.getByRole('form', { name: 'Modifier l’utilisateur newbie' });
    // Opened with its first field focused.
    await edit.locator('input[name="quota"]:focus').waitFor();
    expect(await edit.locator('textarea[name="ips"]').inputValue()).toBe('192.0.2.10\n198.51.100.0/24');
    expect(await edit.locator('input[name="quota"]').inputValue()).toBe('50');
    await edit.locator('textarea[name="ips"]').fill('');
    await edit.locator('input[name="quota"]').fill('75');
    await edit.locator('input[name="callbackUrl"]').fill('https://example.com/newbie');
    await edit.getByLabel('Lui donner un nouveau mot de passe', { exact: false }).check();
    await screenshot(page, `${ctx.dialect}-users-edit`);
    await edit.getByRole('button', { name: 'Enregistrer' }).click();
    await edit.waitFor({ state: 'detached' });
    const renewed = page.locator('[data-secret]');
    await page.getByText('Nouveau mot de passe de newbie', { exact: false }).waitFor();
    const newPassword = (await renewed.textContent()) ?? '';
    expect(newPassword).toMatch(/^[A-Za-z0-9]{16}$/);
    await page.locator('tr[data-login="newbie"]').getByRole('cell', { name: 'https://example.com/newbie' }).waitFor();
    const changed = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/users/newbie`, headers: seeded.auth });
    expect(changed.json()).toMatchObject({ ipRestrictions: [], quota: 75, callbackUrl: 'https://example.com/newbie' });
    expect((await ctx.app.services.smsUsers.authenticate(account.name, 'newbie', newPassword)).user.login).toBe('newbie');
    await expect(ctx.app.services.smsUsers.authenticate(account.name, 'newbie', password)).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
    });
    // Cancelling an edit changes nothing.
    await page.locator('tr[data-login="newbie"]').getByRole('button', { name: 'Modifier' }).click();
    await edit.locator('input[name="quota"]').fill('1');
    await edit.getByRole('button', { name: 'Annuler' }).click();
    await edit.waitFor({ state: 'detached' });
    const unchanged = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/users/newbie`, headers: seeded.auth });
    expect(unchanged.json().quota).toBe(75);

    await page.locator('tr[data-login="newbie"]').getByRole('button', { name: 'Supprimer' }).click();
    const dialog = page.getByRole('dialog', { name: 'Supprimer un utilisateur SMS' });
    await dialog.getByText('Supprimer l’utilisateur newbie ?', { exact: false }).waitFor();
    await dialog.getByRole('button', { name: 'Supprimer' }).click();
    await page.locator('tr[data-login="newbie"]').waitFor({ state: 'detached' });
    const gone = await ctx.app.inject({ url: `/api/v1/accounts/${account.name}/users/newbie`, headers: seeded.auth });
    expect(gone.statusCode).toBe(404);
  });

  it('adds a sender and creates then revokes an API token', async () => {
    await page.goto(`/accounts/${account.name}/senders`);
    await page.locator('input[name="sender"]').fill('Boutique');
    await page.getByRole('button', { name: 'Ajouter un expéditeur' }).last().click();
    await page.getByRole('cell', { name: 'Boutique', exact: true }).waitFor();
    await screenshot(page, `${ctx.dialect}-senders`);

    await page.goto(`/accounts/${account.name}/tokens`);
    await page.locator('input[name="name"]').fill('script de facturation');
    await page.getByRole('button', { name: 'Créer un jeton' }).last().click();
    const token = (await page.locator('[data-secret]').textContent()) ?? '';
    const withToken = () => ctx.app.inject({ url: `/api/v1/accounts/${account.name}/outgoing?limit=1`, headers: bearer(token) });
    expect((await withToken()).statusCode).toBe(200);
    await screenshot(page, `${ctx.dialect}-tokens`);
    await page
      .getByRole('row', { name: /script de facturation/ })
      .getByRole('button', { name: 'Révoquer' })
      .click();
    await page.getByRole('dialog', { name: 'Révoquer un jeton d’API' }).getByRole('button', { name: 'Révoquer' }).click();
    await page
      .getByRole('row', { name: /script de facturation/ })
      .getByText('Révoqué')
      .waitFor();
    expect((await withToken()).statusCode).toBe(401);
  });
});
