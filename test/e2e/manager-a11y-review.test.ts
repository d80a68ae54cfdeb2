import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Account } from '../../src/server/modules/accounts/accounts.repository.js';
import { describeEachDialectWithApp } from '../app.js';
import { createSender, createSmsUser, createToken, type SeededAccount, seedCustomerWithAccount, type TestSession } from '../factories.js';
import { buildOutgoing, insertOutgoing } from '../outgoing-factory.js';
import { apiSession, useSession as giveSession, launchBrowser, listen, tabWithoutFocusRing } from './browser.js';

/**
 * Review of the Manager as a demanding user meets it: keyboard only (Tab order, visible focus, no trap,
 * the history's grid, its detail panel, the delete dialog, the export and columns menus), a screen
 * reader (accessible names, one h1 a page, page titles, `<html lang>`, status badges in words, results
 * announced, errors tied to their fields, the long virtual grid's row count) and 200 % zoom (a 640 px
 * wide window: nothing cut, nothing overlapping, text really twice as big). Each test asserts what
 * WCAG 2.2 AA or the README's "Accessible" paragraph promises.
 */

// A browser test waits for the page, never for time; these budgets only bound a broken run.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 90_000 });

const WIDE = { width: 1400, height: 900 };
/** A 1280 × 900 screen at 200 % zoom: a 640 × 450 CSS pixel window drawn with two device pixels a pixel. */
const ZOOMED = { width: 640, height: 450 };
const STATUSES = ['delivered', 'sent', 'failed', 'pending', 'expired', 'canceled'] as const;
const STATUS_FR: Record<(typeof STATUSES)[number], string> = {
  delivered: 'Délivré',
  sent: 'Envoyé',
  failed: 'Échec',
  pending: 'En attente',
  expired: 'Expiré',
  canceled: 'Annulé',
};
const BIG = 1200;

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** The element with the focus, described by tag, role and name (or `body`). */
function active(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body || el === document.documentElement) return 'body';
    const field = /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName);
    const name = el.getAttribute('aria-label') ?? (field ? `[name=${el.getAttribute('name')}]` : (el.textContent ?? '').trim());
    const role = el.getAttribute('role');
    return `${el.tagName.toLowerCase()}${role ? `[role=${role}]` : ''} ${name.replace(/\s+/g, ' ').slice(0, 40)}`.trim();
  });
}

/** Whether the focused element matches `selector`. */
function focusIs(page: Page, selector: string): Promise<boolean> {
  return page.evaluate((s) => Boolean(document.activeElement?.matches(s)), selector);
}

/** Presses Tab (or Shift+Tab) until the focus is on `selector`; fails with the path taken when it never is. */
async function tabTo(page: Page, selector: string, options: { max?: number; back?: boolean } = {}): Promise<void> {
  const path: string[] = [];
  for (let i = 0; i < (options.max ?? 80); i++) {
    if (await focusIs(page, selector)) return;
    await page.keyboard.press(options.back ? 'Shift+Tab' : 'Tab');
    path.push(await active(page));
  }
  if (await focusIs(page, selector)) return;
  throw new Error(`Tab never reached ${selector}; went through ${JSON.stringify(path)}`);
}

/** Puts the sequential focus starting point at the top of the document (as a fresh page load does). */
async function focusTop(page: Page): Promise<void> {
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur?.();
    document.body.tabIndex = -1;
    document.body.focus();
    document.body.removeAttribute('tabindex');
  });
}

/**
 * The Tab stops of the page from the top, in order, until the sequence comes back to the first one
 * (`wrapped`: the focus is never trapped) or `max` presses; `body` (the browser's own UI) is left out.
 */
async function tabStops(page: Page, max: number): Promise<{ stops: string[]; wrapped: boolean }> {
  await focusTop(page);
  const stops: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const now = await active(page);
    if (now === 'body') continue;
    if (stops.length > 0 && now === stops[0]) return { stops, wrapped: true };
    stops.push(now);
  }
  return { stops, wrapped: false };
}

interface AXNode {
  ignored: boolean;
  role?: { value: string };
  name?: { value: string };
  properties?: { name: string; value: { value: unknown } }[];
  backendDOMNodeId?: number;
}

/**
 * The controls (everything focusable, plus grids, dialogs, images and forms) that the browser's own
 * accessibility tree gives no name: what a screen reader would call "button", "edit text" and no more.
 */
async function unnamedControls(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as unknown as { nodes: AXNode[] };
    // (A form without a name is no landmark, and needs none.)
    const NAMED_CONTAINERS = new Set(['grid', 'dialog', 'img', 'image', 'navigation', 'search', 'alertdialog']);
    const NOT_CONTROLS = new Set(['RootWebArea', 'WebArea', 'main', 'generic', 'rowgroup', 'none', 'presentation']);
    const found: string[] = [];
    for (const node of nodes) {
      if (node.ignored) continue;
      const role = node.role?.value ?? '';
      const focusable = node.properties?.some((p) => p.name === 'focusable' && p.value.value === true) ?? false;
      if (!NAMED_CONTAINERS.has(role) && (!focusable || NOT_CONTROLS.has(role))) continue;
      // A grid's rows are named by their cells; the grid itself must have a name.
      if (role === 'row') continue;
      if ((node.name?.value ?? '').trim() !== '') continue;
      let html = '';
      if (node.backendDOMNodeId !== undefined) {
        const { object } = (await cdp.send('DOM.resolveNode', { backendNodeId: node.backendDOMNodeId })) as {
          object: { objectId?: string };
        };
        if (object.objectId) {
          const answer = (await cdp.send('Runtime.callFunctionOn', {
            objectId: object.objectId,
            functionDeclaration: 'function () { return this.outerHTML ? this.outerHTML.slice(0, 90) : String(this.nodeName); }',
            returnByValue: true,
          })) as { result: { value: string } };
          html = answer.result.value;
        }
      }
      found.push(`${role}: ${html}`);
    }
    return found;
  } finally {
    await cdp.detach();
  }
}

/** The visible headings in document order: [level, text]. */
function headings(page: Page): Promise<[number, string][]> {
  return page.$$eval('h1, h2, h3, h4, h5, h6, [role="heading"]', (els) =>
    els
      .filter((el) => (el as HTMLElement).getClientRects().length > 0 && !el.closest('[aria-hidden="true"]'))
      .map((el) => [Number(el.getAttribute('aria-level') ?? el.tagName.slice(1)), (el.textContent ?? '').trim().replace(/\s+/g, ' ')]),
  );
}

/**
 * What a 640 px wide window shows badly: controls, headings, labels, paragraphs and the grid's cells
 * overlapping another one (neither inside the other), and text cut off by a box that hides its
 * overflow without an ellipsis. Content scrolled out of its own scroll box does not count.
 */
async function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const describe = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.classList.length ? `.${[...el.classList].join('.')}` : ''} "${(el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 25)}"`;
    /** The part of `el` not hidden by an ancestor's overflow box (null when nothing shows). */
    const shown = (el: Element): DOMRect | null => {
      let box = el.getBoundingClientRect();
      for (let a = el.parentElement; a; a = a.parentElement) {
        const style = getComputedStyle(a);
        if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
        const clip = a.getBoundingClientRect();
        const left = Math.max(box.left, clip.left);
        const top = Math.max(box.top, clip.top);
        const right = Math.min(box.right, clip.right);
        const bottom = Math.min(box.bottom, clip.bottom);
        if (right - left < 1 || bottom - top < 1) return null;
        box = new DOMRect(left, top, right - left, bottom - top);
      }
      return box;
    };
    const candidates = [
      ...document.querySelectorAll(
        'a, button, input, select, textarea, summary, label, h1, h2, h3, p, .badge, .grid-cell, .hint, .counter, legend, th, td, dt, dd',
      ),
    ].filter((el) => {
      // Not the content of a closed <details> (laid out, never drawn), nor what is there for screen readers only.
      if (!el.checkVisibility({ visibilityProperty: true }) || el.closest('.visually-hidden, [aria-hidden="true"], .skip')) return false;
      const box = el.getBoundingClientRect();
      return box.width > 2 && box.height > 2;
    });
    const boxes = candidates.map((el) => ({ el, box: shown(el) })).filter((c): c is { el: Element; box: DOMRect } => c.box !== null);
    const problems: string[] = [];
    const width = window.innerWidth;
    if (document.documentElement.scrollWidth > width)
      problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth}px > ${width}px`);
    for (const { el, box } of boxes)
      if (box.right > width + 0.5) problems.push(`${describe(el)} ends at ${Math.round(box.right)}px, past the ${width}px window`);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i];
        const b = boxes[j];
        if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
        const w = Math.min(a.box.right, b.box.right) - Math.max(a.box.left, b.box.left);
        const h = Math.min(a.box.bottom, b.box.bottom) - Math.max(a.box.top, b.box.top);
        if (w > 2 && h > 2) problems.push(`${describe(a.el)} overlaps ${describe(b.el)} (${Math.round(w)}×${Math.round(h)} px)`);
      }
    }
    for (const { el } of boxes) {
      const style = getComputedStyle(el);
      const text = (el.textContent ?? '').trim();
      if (!text || /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) continue;
      const hidesX = style.overflowX === 'hidden' || style.overflowX === 'clip';
      const hidesY = style.overflowY === 'hidden' || style.overflowY === 'clip';
      const html = el as HTMLElement;
      if (hidesX && style.textOverflow !== 'ellipsis' && html.scrollWidth > html.clientWidth + 1)
        problems.push(`${describe(el)} cut: ${html.scrollWidth}px of text in ${html.clientWidth}px`);
      if (hidesY && html.scrollHeight > html.clientHeight + 1)
        problems.push(`${describe(el)} cut: ${html.scrollHeight}px of text in ${html.clientHeight}px high`);
    }
    return problems;
  });
}

describeEachDialectWithApp('Manager accessibility and keyboard review', (ctx) => {
  let base: string;
  let owner: SeededAccount;
  let account: Account;
  let big: SeededAccount;
  let session: TestSession;
  let bigSession: TestSession;
  let context: BrowserContext;
  let page: Page;

  const total = async (query = '', who: SeededAccount = owner): Promise<number> => {
    const res = await ctx.app.inject({ url: `/api/v1/accounts/${who.account.name}/outgoing/count?${query}`, headers: who.auth });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { total: number }).total;
  };
  const history = (query = '') => `/accounts/${account.name}/history${query}`;
  const openHistory = async (p: Page = page, query = '') => {
    await p.goto(history(query));
    await p.waitForSelector('[role="grid"][aria-busy="false"] [role="row"][data-id]');
  };
  const openContext = async (options: { who?: TestSession | null; viewport?: { width: number; height: number }; scale?: number } = {}) => {
    const c = await browser.newContext({
      baseURL: base,
      locale: 'fr-FR',
      timezoneId: 'Europe/Paris',
      viewport: options.viewport ?? WIDE,
      deviceScaleFactor: options.scale ?? 1,
    });
    if (options.who !== null) await giveSession(c, base, options.who ?? session);
    return c;
  };
  const announced = (p: Page) => p.locator('[role="status"][data-announce]');
  /** The text of the results' live region, its spaces (French digit groups) made plain. */
  const announcement = async (p: Page) => ((await announced(p).textContent()) ?? '').replace(/\s+/g, ' ').trim();
  const results = (n: number) => `Résultats : ${n.toLocaleString('fr-FR').replace(/\s/g, ' ')} SMS.`;

  beforeAll(async () => {
    owner = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris', credits: 1000 } });
    account = owner.account;
    await createSender(ctx.app, account, { sender: 'ShopA' });
    await createSmsUser(ctx.app, account, { login: 'alice' });
    const now = Date.now() - 120_000;
    await insertOutgoing(
      ctx.database,
      Array.from({ length: 48 }, (_, i) => {
        const status = STATUSES[i % STATUSES.length];
        const createdAt = now - i * 3_600_000;
        return buildOutgoing({
          account_id: account.id,
          created_at: createdAt,
          status,
          sent_at: status === 'pending' || status === 'canceled' ? null : createdAt + 1000,
          delivered_at: status === 'delivered' ? createdAt + 2000 : null,
          failed_at: status === 'failed' ? createdAt + 2000 : null,
          expired_at: status === 'expired' ? createdAt + 2000 : null,
          canceled_at: status === 'canceled' ? createdAt + 2000 : null,
          user_login: i % 2 === 0 ? 'alice' : '',
          channel: i % 3 === 0 ? 'manager' : 'api',
          sender: 'ShopA',
          receiver: `+336120000${String(i).padStart(2, '0')}`,
          message: `Rappel de rendez-vous numéro ${i}, à confirmer par retour`,
        });
      }),
      { queued: false },
    );
    big = await seedCustomerWithAccount(ctx.app, { account: { timezone: 'Europe/Paris' } });
    await insertOutgoing(
      ctx.database,
      Array.from({ length: BIG }, (_, i) => buildOutgoing({ account_id: big.account.id, created_at: now - (BIG - i) * 60_000 })),
      { queued: false },
    );
    base = await listen(ctx.app);
    session = await apiSession(ctx.app, owner.customer.email, owner.password);
    bigSession = await apiSession(ctx.app, big.customer.email, big.password);
  });

  beforeEach(async () => {
    context = await openContext();
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  describe('keyboard', () => {
    it('signs in without a mouse: language, e-mail, password and button in order, each with a visible focus, and no trap', async () => {
      const signedOut = await openContext({ who: null });
      try {
        const p = await signedOut.newPage();
        await p.goto('/');
        await p.getByRole('heading', { name: 'Connexion à votre espace client', level: 1 }).waitFor();
        const { stops, wrapped } = await tabStops(p, 12);
        expect(stops).toEqual(['button FR', 'button EN', 'input [name=email]', 'input [name=password]', 'button Se connecter']);
        expect(wrapped, 'Tab comes back to the top of the page').toBe(true);
        expect(await tabWithoutFocusRing(p, 6)).toEqual([]);

        // The language with the keyboard: <html lang> and the page follow, the switch says which is on.
        await focusTop(p);
        await tabTo(p, 'button[data-lang="en"]');
        await p.keyboard.press('Enter');
        await p.getByRole('heading', { level: 1, name: /Sign in/i }).waitFor();
        expect(await p.evaluate(() => document.documentElement.lang)).toBe('en');
        expect(await p.locator('button[data-lang="en"]').getAttribute('aria-pressed')).toBe('true');
        expect(await p.locator('button[data-lang="fr"]').getAttribute('aria-pressed')).toBe('false');
        await tabTo(p, 'button[data-lang="fr"]', { back: true });
        await p.keyboard.press('Space');
        await p.getByRole('heading', { name: 'Connexion à votre espace client', level: 1 }).waitFor();
        expect(await p.evaluate(() => document.documentElement.lang)).toBe('fr');

        // Typed and sent with Enter; then the history of the only account.
        await tabTo(p, 'input[name="email"]');
        await p.keyboard.type(owner.customer.email);
        await p.keyboard.press('Tab');
        await p.keyboard.type(owner.password);
        await p.keyboard.press('Enter');
        await p.getByRole('heading', { name: 'Historique des envois', level: 1 }).waitFor();
      } finally {
        await signedOut.close();
      }
    });

    it('history: a skip link first, then the frame, the toolbar, the filters and the grid in order; every stop shows its focus; Tab never gets stuck', async () => {
      await openHistory();
      expect(await page.$$eval('[tabindex]', (els) => els.filter((e) => Number(e.getAttribute('tabindex')) > 0).length)).toBe(0);
      const { stops, wrapped } = await tabStops(page, 90);
      expect(wrapped, `Tab went through ${JSON.stringify(stops)} and never came back to the top`).toBe(true);
      expect(stops[0]).toBe('a Aller au contenu');
      const at = (pattern: RegExp) => stops.findIndex((s) => pattern.test(s));
      const order = [
        at(/^a Historique des envois$/),
        at(/^a Télécharger/),
        at(/^summary Exporter tout/),
        at(/^select \[name=user\]/),
        at(/^input \[name=q\]/),
        at(/^div\[role=grid\]/),
      ];
      expect(order.every((i) => i >= 0) && order.every((i, k) => k === 0 || i > order[k - 1]), JSON.stringify(stops)).toBe(true);

      // The skip link shows when focused and takes the focus into the content, whose first control is next.
      await focusTop(page);
      await page.keyboard.press('Tab');
      const skip = await page.locator('a.skip').boundingBox();
      expect(skip && skip.x >= 0 && skip.y >= 0 && skip.width > 20 && skip.height > 10, JSON.stringify(skip)).toBe(true);
      await page.keyboard.press('Enter');
      expect(await focusIs(page, '#main')).toBe(true);
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => Boolean(document.activeElement?.closest('main')))).toBe(true);

      // With a row selected (selection bar and detail panel shown) every stop still shows its focus.
      await tabTo(page, '[role="grid"]');
      await page.keyboard.press('ArrowDown');
      await page.locator('aside.detail').waitFor();
      expect(await tabWithoutFocusRing(page, 70)).toEqual([]);
    });

    it('history grid: rows selected with the arrows, the focused row marked and kept in view, Enter opens the details', async () => {
      await openHistory();
      await tabTo(page, '[role="grid"]');
      const grid = page.getByRole('grid', { name: 'Historique des SMS envoyés' });
      const first = Number(await page.locator('[role="row"][data-id]').first().getAttribute('data-id'));
      await page.keyboard.press('ArrowDown');
      expect(await grid.getAttribute('aria-activedescendant')).toBe(`row-${first}`);
      expect(await page.locator(`#row-${first}`).getAttribute('aria-selected')).toBe('true');
      // The keyboard's row is marked by more than its colour (a ring), while the grid has the focus.
      expect(await page.locator(`#row-${first}`).evaluate((el) => getComputedStyle(el).boxShadow)).not.toBe('none');
      await page.locator(`aside.detail[data-detail-id="${first}"]`).waitFor();

      // Down past the bottom of the window: the focused row is scrolled into view, whole, below the sticky header.
      const hidden: string[] = [];
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('ArrowDown');
        const where = await page.evaluate(() => {
          const g = document.querySelector('[role="grid"]') as HTMLElement;
          const id = g.getAttribute('aria-activedescendant');
          const row = id ? document.getElementById(id) : null;
          if (!row) return `row ${id} not in the page`;
          const frame = g.getBoundingClientRect();
          const head = (g.querySelector('.grid-head') as HTMLElement).getBoundingClientRect();
          const box = row.getBoundingClientRect();
          const top = Math.max(frame.top, head.bottom);
          return box.top >= top - 1 && box.bottom <= frame.top + g.clientHeight + 1
            ? null
            : `${id} spans ${Math.round(box.top)}–${Math.round(box.bottom)}px, the grid shows ${Math.round(top)}–${Math.round(frame.top + g.clientHeight)}px`;
        });
        if (where) hidden.push(`after ${i + 2} × ArrowDown: ${where}`);
      }
      expect(hidden, 'the focused row is out of sight').toEqual([]);
      await page.keyboard.press('Home');
      expect(await grid.getAttribute('aria-activedescendant')).toBe(`row-${first}`);
      expect(await page.locator(`#row-${first}`).isVisible()).toBe(true);
    });

    it('history grid: sorts by a column from the keyboard, Enter or Space on its header button', async () => {
      await openHistory();
      await focusTop(page);
      await tabTo(page, '[role="columnheader"][data-column="receiver"] button');
      await page.keyboard.press('Enter');
      // The header's click changes the address at once (history.pushState in the click handler).
      const afterEnter = await page.evaluate(() => new URLSearchParams(window.location.search).get('sort'));
      await page.keyboard.press('Space');
      const afterSpace = await page.evaluate(() => new URLSearchParams(window.location.search).get('sort'));
      expect({ afterEnter, afterSpace }).toEqual({ afterEnter: 'receiver', afterSpace: '-receiver' });
      await expect.poll(() => page.locator('[role="columnheader"][data-column="receiver"]').getAttribute('aria-sort')).toBe('descending');
    });

    it('history detail panel: reached with Tab, closed with Escape or its button, the focus then back on the grid; opened again with Enter', async () => {
      await openHistory();
      await tabTo(page, '[role="grid"]');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      const id = Number((await page.getByRole('grid').getAttribute('aria-activedescendant'))?.slice(4));
      const panel = page.getByRole('complementary', { name: 'Détail du SMS' });
      await panel.waitFor();
      expect(await panel.getAttribute('data-detail-id')).toBe(String(id));
      const problems: string[] = [];

      // Tab from the grid reaches the panel's close button.
      await tabTo(page, 'aside.detail button', { max: 12 });
      await page.keyboard.press('Escape');
      if ((await panel.count()) > 0) problems.push('Escape in the detail panel leaves it open');
      else if (!(await focusIs(page, '[role="grid"]'))) problems.push(`after Escape the focus is on ${await active(page)}, not the grid`);

      if ((await panel.count()) > 0) {
        await page.keyboard.press('Enter');
        await panel.waitFor({ state: 'detached' });
        if (!(await focusIs(page, '[role="grid"]')))
          problems.push(`after its close button the focus is on ${await active(page)}, not the grid`);
      }
      // The panel closed, the row stays selected; Enter on the grid shows it again.
      expect(await page.locator(`#row-${id}`).getAttribute('aria-selected')).toBe('true');
      if (!(await focusIs(page, '[role="grid"]'))) await tabTo(page, '[role="grid"]', { back: true });
      await page.keyboard.press('Enter');
      await panel.waitFor();
      expect(await panel.getAttribute('data-detail-id')).toBe(String(id));
      expect(problems).toEqual([]);
    });

    it('delete dialog: opened with Delete, Cancel focused first, Tab kept inside, Escape gives the focus back to the grid', async () => {
      await openHistory();
      await tabTo(page, '[role="grid"]');
      await page.keyboard.press('ArrowDown');
      const id = (await page.getByRole('grid').getAttribute('aria-activedescendant')) ?? '';
      await page.keyboard.press('Delete');
      const dialog = page.getByRole('dialog', { name: 'Supprimer des SMS' });
      await dialog.waitFor();
      expect(await active(page)).toBe('button Annuler');
      const escaped: string[] = [];
      for (const key of ['Tab', 'Tab', 'Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
        await page.keyboard.press(key);
        const inside = await page.evaluate(() => Boolean(document.activeElement?.closest('dialog[open]')));
        // Leaving for the browser's own UI (body here) is allowed; the page behind the dialog is not.
        if (!inside && (await active(page)) !== 'body') escaped.push(`${key} → ${await active(page)}`);
      }
      expect(escaped).toEqual([]);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      expect(await active(page)).toMatch(/^div\[role=grid\]/);
      expect(await page.locator(`#${id}`).getAttribute('aria-selected')).toBe('true');
    });

    it('delete dialog: confirmed from the toolbar button, the result is said and the focus lands in the page, not on nothing', async () => {
      await openHistory();
      const before = await total();
      await tabTo(page, '[role="grid"]');
      await page.keyboard.press('ArrowDown');
      await tabTo(page, 'button[data-action="delete"]', { back: true, max: 40 });
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: 'Supprimer des SMS' });
      await dialog.waitFor();
      await tabTo(page, 'button[data-action="confirm-delete"]', { max: 4 });
      await page.keyboard.press('Enter');
      await dialog.waitFor({ state: 'detached' });
      await page.getByRole('status').filter({ hasText: '1 SMS supprimés.' }).waitFor();
      expect(await total()).toBe(before - 1);
      const where = await active(page);
      expect(where, 'the focus fell to the document (a screen reader starts again from the top)').not.toBe('body');
      expect(await page.evaluate(() => Boolean(document.activeElement?.closest('main')))).toBe(true);
    });

    it('list dialogs (delete an SMS user, revoke a token): Cancel first, Escape back to the row’s button, done then the focus still in the page', async () => {
      await createSmsUser(ctx.app, account, { login: 'bob-a11y' });
      await createToken(ctx.app, account, { name: 'jeton-a11y' });
      const problems: string[] = [];
      for (const [path, row, button] of [
        ['users', 'tr[data-login="bob-a11y"]', 'button[aria-label="Supprimer bob-a11y"]'],
        ['tokens', 'tr:has(button[aria-label="Révoquer jeton-a11y"])', 'button[aria-label="Révoquer jeton-a11y"]'],
      ] as const) {
        await page.goto(`/accounts/${account.name}/${path}`);
        await page.locator(row).waitFor();
        await focusTop(page);
        await tabTo(page, button);
        await page.keyboard.press('Enter');
        const dialog = page.getByRole('dialog');
        await dialog.waitFor();
        expect(await active(page)).toBe('button Annuler');
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });
        expect(await focusIs(page, button)).toBe(true);
        await page.keyboard.press('Enter');
        await dialog.waitFor();
        await page.keyboard.press('Tab');
        await page.keyboard.press('Enter');
        await dialog.waitFor({ state: 'detached' });
        // Done once the list is read again: the row (or its button) is gone.
        await page.locator(button).waitFor({ state: 'detached' });
        const where = await active(page);
        if (where === 'body' || !(await page.evaluate(() => Boolean(document.activeElement?.closest('main')))))
          problems.push(`${path}: once done, the focus is on ${where}`);
      }
      expect(problems).toEqual([]);
    });

    it('export and columns menus: opened with Enter or Space, closed with Escape back on their button; a column hidden with Space', async () => {
      await openHistory();
      await focusTop(page);
      const exportMenu = page.locator('details', { has: page.locator('summary', { hasText: 'Exporter tout' }) });
      await tabTo(page, 'details:has([data-action="export-seed"]) > summary');
      await page.keyboard.press('Enter');
      expect(await exportMenu.getAttribute('open')).not.toBeNull();
      await page.keyboard.press('Tab');
      expect(await focusIs(page, '[data-action="export-seed"]')).toBe(true);
      await page.keyboard.press('Escape');
      expect(await exportMenu.getAttribute('open')).toBeNull();
      expect(await focusIs(page, 'details:has([data-action="export-seed"]) > summary')).toBe(true);

      const grid = page.getByRole('grid');
      const columns = Number(await grid.getAttribute('aria-colcount'));
      await tabTo(page, 'details:has(input[name="column-time"]) > summary', { max: 4 });
      await page.keyboard.press('Space');
      await page.keyboard.press('Tab');
      expect(await focusIs(page, 'input[name="column-time"]')).toBe(true);
      await page.keyboard.press('Space');
      await expect.poll(() => grid.getAttribute('aria-colcount')).toBe(String(columns - 1));
      expect(await page.locator('[role="columnheader"][data-column="time"]').count()).toBe(0);
      await page.keyboard.press('Escape');
      expect(await focusIs(page, 'details:has(input[name="column-time"]) > summary')).toBe(true);
      expect(await page.locator('details:has(input[name="column-time"])').getAttribute('open')).toBeNull();
    });

    it('export and columns menus: the arrows move through their items, and a menu closes when the focus leaves it', async () => {
      await openHistory();
      await focusTop(page);
      const problems: string[] = [];
      await tabTo(page, 'details:has([data-action="export-seed"]) > summary');
      await page.keyboard.press('Enter');
      await page.keyboard.press('ArrowDown');
      if (!(await focusIs(page, '[data-action="export-seed"]')))
        problems.push(`ArrowDown in "Exporter tout" left the focus on ${await active(page)}`);
      else {
        await page.keyboard.press('ArrowDown');
        if (!(await focusIs(page, '[data-action="export-detailed"]'))) problems.push(`second ArrowDown went to ${await active(page)}`);
      }
      await page.keyboard.press('Escape');
      await tabTo(page, 'details:has([data-action="export-seed"]) > summary', { back: true, max: 4 });

      // Tab through the open menu and out of it: it must not stay open over the page.
      await page.keyboard.press('Enter');
      await tabTo(page, 'details:has(input[name="column-time"]) > summary', { max: 6 });
      const cover = await page.evaluate(() => {
        const menu = document.querySelector('details:has([data-action="export-seed"])') as HTMLDetailsElement;
        if (!menu.open) return null;
        const panel = menu.querySelector('.dropdown-panel')!.getBoundingClientRect();
        return `still open (${Math.round(panel.width)}×${Math.round(panel.height)} px over the page) with the focus on the next menu`;
      });
      if (cover) problems.push(`"Exporter tout" ${cover}`);
      await page.keyboard.press('Enter');
      await page.keyboard.press('ArrowDown');
      if (!(await focusIs(page, 'input[name="column-time"]')))
        problems.push(`ArrowDown in "Colonnes" left the focus on ${await active(page)}`);
      expect(problems).toEqual([]);
    });
  });

  describe('screen readers', () => {
    /** Each page: its path, its h1, and what shows once its data is there. */
    const PAGES: [string, string, string][] = [
      ['/accounts/{a}/history', 'Historique des envois', '[role="grid"] [role="row"][data-id]'],
      ['/accounts/{a}/send', 'Envoyer un SMS', 'select[name="sender"]'],
      ['/accounts/{a}/users', 'Utilisateurs SMS', 'tr[data-login]'],
      ['/accounts/{a}/senders', 'Expéditeurs', 'tr[data-sender]'],
      ['/accounts/{a}/tokens', 'Jetons d’API', 'main table tbody tr'],
      ['/accounts/{a}/settings', 'Réglages du compte', 'main form'],
      ['/accounts', 'Choisissez un compte SMS', '.account-list a'],
      ['/ovh/keys', 'API OVH', 'main table tbody tr'],
    ];
    const open = async (p: Page, path: string, title: string, ready: string) => {
      await p.goto(path.replace('{a}', account.name));
      await p.getByRole('heading', { name: title, level: 1 }).waitFor();
      await p.locator(ready).first().waitFor();
    };

    it('gives every page one h1, first, and headings that never skip a level', async () => {
      const problems: string[] = [];
      const check = (where: string, list: [number, string][]) => {
        const h1 = list.filter(([level]) => level === 1);
        if (h1.length !== 1) problems.push(`${where}: ${h1.length} h1 (${JSON.stringify(h1)})`);
        if (list[0]?.[0] !== 1) problems.push(`${where}: starts with ${JSON.stringify(list[0])}`);
        for (let i = 1; i < list.length; i++)
          if (list[i][0] > list[i - 1][0] + 1)
            problems.push(`${where}: h${list[i - 1][0]} "${list[i - 1][1]}" then h${list[i][0]} "${list[i][1]}"`);
      };
      for (const [path, title, ready] of PAGES) {
        await open(page, path, title, ready);
        if (path.endsWith('/history')) {
          await page.locator('[role="row"][data-id]').first().click();
          await page.locator('aside.detail').waitFor();
        }
        check(path, await headings(page));
      }
      const signedOut = await openContext({ who: null });
      try {
        const p = await signedOut.newPage();
        await p.goto('/');
        await p.getByRole('heading', { level: 1 }).waitFor();
        check('sign-in', await headings(p));
      } finally {
        await signedOut.close();
      }
      expect(problems).toEqual([]);
    });

    it('names each page in the document title, and moves the focus to the new page when a link is followed with the keyboard', async () => {
      const titles: string[] = [];
      for (const [path, title, ready] of PAGES) {
        await open(page, path, title, ready);
        const said = await page.title();
        if (!said.includes(title)) titles.push(`${path}: title ${JSON.stringify(said)}, page "${title}"`);
      }
      await openHistory();
      await focusTop(page);
      await tabTo(page, 'nav.tabs a[href$="/send"]');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Envoyer un SMS', level: 1 }).waitFor();
      const focus = await page.evaluate(() => {
        const el = document.activeElement;
        return el && (el.id === 'main' || el.tagName === 'H1' || el.closest('h1')) ? null : el?.outerHTML.slice(0, 80);
      });
      expect({ titles, focusAfterLink: focus ?? 'on the new page' }).toEqual({ titles: [], focusAfterLink: 'on the new page' });
    });

    it('gives every control, the grid, the dialogs and the chart an accessible name, on every page and the sign-in', async () => {
      const problems: string[] = [];
      for (const [path, title, ready] of PAGES) {
        await open(page, path, title, ready);
        if (path.endsWith('/history')) {
          await page.getByRole('button', { name: /Plus de filtres/ }).click();
          await page.locator('[role="row"][data-id]').first().click();
          await page.locator('aside.detail').waitFor();
          await page.locator('figure.chart svg').waitFor();
          for (const menu of await page.locator('details').all()) await menu.evaluate((d) => ((d as HTMLDetailsElement).open = true));
        }
        if (path.endsWith('/send')) await page.getByLabel('Envoi différé').check();
        if (path.endsWith('/users')) await page.getByRole('button', { name: 'Modifier alice' }).click();
        problems.push(...(await unnamedControls(page)).map((c) => `${path}: ${c}`));
      }
      // The delete dialog, named by its title.
      await openHistory();
      await page.locator('figure.chart svg').waitFor();
      await page.locator('[role="row"][data-id]').first().click();
      await page.getByRole('grid').press('Delete');
      await page.getByRole('dialog', { name: 'Supprimer des SMS' }).waitFor();
      problems.push(...(await unnamedControls(page)).map((c) => `delete dialog: ${c}`));
      await page.keyboard.press('Escape');

      // The main controls found by role and name, as a screen reader lists them.
      const named = [
        page.getByRole('grid', { name: 'Historique des SMS envoyés' }),
        page.getByRole('combobox', { name: 'Filtre utilisateurs' }),
        page.getByRole('searchbox', { name: 'Rechercher dans les messages' }),
        page.getByRole('search', { name: 'Filtres' }),
        page.getByRole('navigation', { name: 'Navigation' }),
        page.getByRole('group', { name: 'Langue' }),
        page.getByRole('combobox', { name: 'Compte SMS' }),
        page.getByRole('img', { name: /^SMS par jour/ }),
        page.getByRole('button', { name: 'Fermer' }),
        page.getByRole('columnheader', { name: /^Date/ }),
      ];
      for (const locator of named)
        if ((await locator.count()) !== 1) problems.push(`history: ${locator} found ${await locator.count()} times`);

      const signedOut = await openContext({ who: null });
      try {
        const p = await signedOut.newPage();
        await p.goto('/');
        await p.getByRole('heading', { level: 1 }).waitFor();
        problems.push(...(await unnamedControls(p)).map((c) => `sign-in: ${c}`));
        for (const locator of [
          p.getByRole('textbox', { name: 'Adresse e-mail' }),
          p.getByRole('textbox', { name: 'Mot de passe' }),
          p.getByRole('button', { name: 'Se connecter' }),
        ])
          if ((await locator.count()) !== 1) problems.push(`sign-in: ${locator} found ${await locator.count()} times`);
      } finally {
        await signedOut.close();
      }
      expect(problems).toEqual([]);
    });

    it('sets <html lang> from the language switch on a signed-in page, remembered after a reload', async () => {
      await openHistory();
      expect(await page.evaluate(() => document.documentElement.lang)).toBe('fr');
      expect(await page.getByRole('group', { name: 'Langue' }).count()).toBe(1);
      await focusTop(page);
      await tabTo(page, 'button[data-lang="en"]');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Sent SMS history', level: 1 }).waitFor();
      expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
      expect(await page.getByRole('grid', { name: 'History of sent SMS' }).count()).toBe(1);
      await page.reload();
      await page.getByRole('heading', { name: 'Sent SMS history', level: 1 }).waitFor();
      expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    });

    it('says every status in words (not by colour alone), in the grid, the detail panel and the chart legend', async () => {
      await openHistory();
      const badges = await page.$$eval('[role="row"][data-id] .badge', (els) =>
        els.map((e) => ({ text: (e.textContent ?? '').trim(), status: [...e.classList].find((c) => c.startsWith('status-'))?.slice(7) })),
      );
      expect(badges.length).toBeGreaterThan(10);
      for (const badge of badges) expect(badge.text).toBe(STATUS_FR[badge.status as keyof typeof STATUS_FR]);
      expect(new Set(badges.map((b) => b.status)).size).toBe(STATUSES.length);
      await page.locator('[role="row"][data-id]').first().click();
      expect(((await page.locator('aside.detail .badge').textContent()) ?? '').trim()).not.toBe('');
      await page.locator('figure.chart svg').waitFor();
      const legend = await page.$$eval('figure.chart .legend > span', (els) => els.map((e) => (e.textContent ?? '').trim()));
      expect(legend.every((text) => text !== '')).toBe(true);
    });

    it('announces the number of results in a live region after a sort, a filter and a search with none, each time anew', async () => {
      await openHistory();
      const region = announced(page);
      expect(await region.getAttribute('role')).toBe('status');
      await expect.poll(() => announcement(page)).toBe(results(await total()));
      // The announcement must be a new text node each time, or a screen reader says nothing for the same count.
      await region.locator('span').evaluate((el) => el.setAttribute('data-old', ''));

      // (Sorted with the mouse here: the keyboard cannot, see "sorts by a column from the keyboard".)
      await page.locator('[role="columnheader"][data-column="receiver"] button').click();
      await page.waitForURL((url) => url.searchParams.get('sort') === 'receiver');
      await expect.poll(() => region.locator('span:not([data-old])').count()).toBe(1);
      expect(await announcement(page)).toBe(results(await total()));

      // Status "Échec" ticked with the keyboard in its menu.
      await focusTop(page);
      await tabTo(page, '#status-summary');
      await page.keyboard.press('Enter');
      await tabTo(page, 'input[name="status"][value="failed"]', { max: 8 });
      await page.keyboard.press('Space');
      await page.waitForURL((url) => url.searchParams.get('status') === 'failed');
      await expect.poll(() => announcement(page)).toBe(results(await total('status=failed')));
      await page.keyboard.press('Escape');

      await tabTo(page, 'input[name="q"]', { max: 6 });
      await page.keyboard.type('aucun-message-ainsi');
      await page.keyboard.press('Enter');
      await expect.poll(() => announcement(page)).toBe(results(0));
      await page.getByText('Aucun SMS ne correspond.').waitFor();
    });

    it('ties each refusal to its field (aria-invalid, aria-describedby to the alert): sign-in, SMS user, send, sender', async () => {
      const problems: string[] = [];
      const tied = async (p: Page, where: string, field: string, alertText: RegExp) => {
        const alert = p.getByRole('alert').filter({ hasText: alertText });
        await alert.waitFor();
        const alertId = await alert.getAttribute('id');
        const input = p.locator(field);
        const invalid = await input.getAttribute('aria-invalid');
        const describedBy = ((await input.getAttribute('aria-describedby')) ?? '').split(/\s+/);
        if (invalid !== 'true') problems.push(`${where}: ${field} not aria-invalid`);
        if (!alertId || !describedBy.includes(alertId))
          problems.push(
            `${where}: ${field} aria-describedby=${JSON.stringify(describedBy.join(' '))}, the alert's id ${JSON.stringify(alertId)}`,
          );
      };

      // The sender form does it (the pattern the others should follow).
      await page.goto(`/accounts/${account.name}/senders`);
      await page.locator('tr[data-sender="ShopA"]').waitFor();
      await page.locator('input[name="sender"]').fill('ceci-est-bien-trop-long-pour-un-expediteur');
      await page.locator('input[name="sender"]').press('Enter');
      await tied(page, 'senders', 'input[name="sender"]', /./);

      await page.goto(`/accounts/${account.name}/users`);
      await page.locator('tr[data-login="alice"]').waitFor();
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="login"]').press('Enter');
      await tied(page, 'users', 'input[name="login"]', /alice/);

      await page.goto(`/accounts/${account.name}/send`);
      await page.locator('select[name="sender"] option[value="ShopA"]').waitFor({ state: 'attached' });
      await page.locator('textarea[name="receivers"]').fill('pas-un-numero');
      await page.locator('textarea[name="message"]').fill('Bonjour');
      await page.getByRole('button', { name: 'Envoyer', exact: true }).press('Enter');
      await tied(page, 'send', 'textarea[name="receivers"]', /pas-un-numero/);
      await page.locator('textarea[name="receivers"]').fill('+33612345678');
      await page.getByLabel('Envoi différé').check();
      await page.locator('input[name="at"]').fill('2020-01-01T10:00');
      await page.getByRole('button', { name: 'Envoyer', exact: true }).press('Enter');
      await tied(page, 'send (deferred)', 'input[name="at"]', /déjà passé/);

      const signedOut = await openContext({ who: null });
      try {
        const p = await signedOut.newPage();
        await p.goto('/');
        await p.locator('input[name="email"]').fill(owner.customer.email);
        await p.locator('input[name="password"]').fill('pas-le-bon-mot-de-passe');
        await p.locator('input[name="password"]').press('Enter');
        await tied(p, 'sign-in', 'input[name="password"]', /incorrect/);
        await tied(p, 'sign-in', 'input[name="email"]', /incorrect/);
      } finally {
        await signedOut.close();
      }
      expect(problems).toEqual([]);
    });

    it('tells the long virtual grid’s whole row count (aria-rowcount) while holding only some rows, and the keyboard’s row stays in the page', async () => {
      await context.close();
      context = await openContext({ who: bigSession });
      page = await context.newPage();
      await page.goto(`/accounts/${big.account.name}/history`);
      const grid = page.getByRole('grid');
      await page.waitForSelector('[role="grid"][aria-busy="false"] [role="row"][data-id]');
      // A lower bound first (-1: unknown), then the exact count once asked for.
      await expect.poll(() => grid.getAttribute('aria-rowcount'), { timeout: 15_000 }).toBe(String(BIG + 1));
      await expect.poll(() => announcement(page)).toBe(results(BIG));
      const inDom = await page.locator('[role="row"][data-id]').count();
      expect(inDom).toBeLessThan(200);
      // Every row tells its place in the whole list (header = 1).
      const indexes = await page.$$eval('[role="row"][data-id]', (rows) => rows.map((r) => Number(r.getAttribute('aria-rowindex'))));
      expect(Math.min(...indexes)).toBe(2);

      // End, again and again (each brings the next page): the keyboard reaches the real last row, which
      // is in the page and tells its place, the last of the count.
      await grid.focus();
      await page.keyboard.press('ArrowDown');
      const rowOfFocus = async () => {
        const row = page.locator(`#${await grid.getAttribute('aria-activedescendant')}`);
        return (await row.count()) === 1 ? Number(await row.getAttribute('aria-rowindex')) : -1;
      };
      let reached = 0;
      for (let i = 0; i < 20 && reached !== BIG + 1; i++) {
        await page.keyboard.press('End');
        reached = await rowOfFocus();
        expect(reached, 'the focused row is not in the page').toBeGreaterThan(1);
        if (reached !== BIG + 1) await expect.poll(async () => Number(await grid.getAttribute('data-loaded'))).toBeGreaterThan(reached - 1);
      }
      expect(reached).toBe(BIG + 1);
      expect(await grid.getAttribute('aria-rowcount')).toBe(String(BIG + 1));
    });
  });

  describe('200 % zoom', () => {
    it('shows every page in a 640 px window without cut or overlapping content', async () => {
      const zoomed = await openContext({ viewport: ZOOMED, scale: 2 });
      const problems: string[] = [];
      try {
        const p = await zoomed.newPage();
        for (const [name, heading] of [
          ['history', 'Historique des envois'],
          ['send', 'Envoyer un SMS'],
          ['users', 'Utilisateurs SMS'],
          ['senders', 'Expéditeurs'],
          ['tokens', 'Jetons d’API'],
          ['settings', 'Réglages du compte'],
        ] as const) {
          await p.goto(`/accounts/${account.name}/${name}`);
          await p.getByRole('heading', { name: heading, level: 1 }).waitFor();
          await p.locator('main table tbody tr, [role="grid"] [role="row"][data-id], main form').first().waitFor();
          if (name === 'history') {
            await p.getByRole('button', { name: /^Filtres/ }).click();
            await p.locator('figure.chart svg').waitFor();
          }
          problems.push(...(await layoutProblems(p)).map((o) => `${name}: ${o}`));
          if (name === 'history') {
            // "Exporter tout" opened: its whole menu in the window (a menu open over the page is no overlap).
            await p.locator('details:has([data-action="export-seed"]) > summary').focus();
            await p.keyboard.press('Enter');
            const cut = await p.$$eval('details[open] .dropdown-panel, details[open] .dropdown-panel *', (els) =>
              els
                .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
                .map(
                  (el) =>
                    `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${(el.textContent ?? '').trim().slice(0, 25)}" ends at ${Math.round(el.getBoundingClientRect().right)}px`,
                ),
            );
            problems.push(...cut.map((o) => `history, "Exporter tout" open: ${o} (window ${ZOOMED.width}px)`));
            await p.keyboard.press('Escape');
          }
        }
        await p.goto('/ovh/keys');
        await p.getByRole('heading', { name: 'API OVH', level: 1 }).waitFor();
        problems.push(...(await layoutProblems(p)).map((o) => `ovh: ${o}`));
      } finally {
        await zoomed.close();
      }
      const signedOut = await openContext({ who: null, viewport: ZOOMED, scale: 2 });
      try {
        const p = await signedOut.newPage();
        await p.goto('/');
        await p.getByRole('heading', { level: 1 }).waitFor();
        problems.push(...(await layoutProblems(p)).map((o) => `sign-in: ${o}`));
      } finally {
        await signedOut.close();
      }
      expect(problems).toEqual([]);
    });

    it('at 640 px: the menu opens from the keyboard, Escape closes it back on its button; statuses still in words', async () => {
      const zoomed = await openContext({ viewport: ZOOMED, scale: 2 });
      try {
        const p = await zoomed.newPage();
        await openHistory(p);
        await focusTop(p);
        await tabTo(p, '#menu-toggle');
        expect(await p.locator('#menu-toggle').getAttribute('aria-expanded')).toBe('false');
        await p.keyboard.press('Enter');
        expect(await p.locator('#menu-toggle').getAttribute('aria-expanded')).toBe('true');
        await p.keyboard.press('Tab');
        expect(await active(p)).toBe('a Historique des envois');
        expect(await p.getByRole('link', { name: 'Envoyer un SMS' }).isVisible()).toBe(true);
        await p.keyboard.press('Escape');
        expect(await p.locator('#menu-toggle').getAttribute('aria-expanded')).toBe('false');
        expect(await focusIs(p, '#menu-toggle')).toBe(true);
        const badges = await p.$$eval('[role="row"][data-id] .badge', (els) => els.map((e) => (e.textContent ?? '').trim()));
        expect(badges.length).toBeGreaterThan(0);
        for (const text of badges) expect(Object.values(STATUS_FR)).toContain(text);
      } finally {
        await zoomed.close();
      }
    });

    /** Font sizes in device pixels (what the eye gets) on the send page, and the browser's own text size (`medium`). */
    const sizes = async (viewport: { width: number; height: number }, scale: number, defaultSize?: number) => {
      const c = await openContext({ viewport, scale });
      try {
        const p = await c.newPage();
        if (defaultSize) {
          const cdp = await c.newCDPSession(p);
          await cdp.send('Page.setFontSizes', { fontSizes: { standard: defaultSize } } as never);
        }
        await p.goto(`/accounts/${account.name}/send`);
        await p.getByRole('heading', { level: 1 }).waitFor();
        // Device pixels: what the eye gets.
        return await p.evaluate((s) => {
          const found: Record<string, number> = Object.fromEntries(
            ['body', 'h1', 'label', 'textarea', '.hint', 'nav a, .tabs a'].map((q) => {
              const el = document.querySelector(q);
              return [q, el ? Number.parseFloat(getComputedStyle(el).fontSize) * s : 0];
            }),
          );
          // The browser's own text size: what `font-size: medium` (or 100 %, 1rem unset) is.
          const probe = document.createElement('span');
          probe.style.fontSize = 'medium';
          document.body.append(probe);
          found.medium = Number.parseFloat(getComputedStyle(probe).fontSize);
          probe.remove();
          return found;
        }, scale);
      } finally {
        await c.close();
      }
    };

    it('makes text twice as big at 200 % zoom as at 100 %', async () => {
      const normal = await sizes({ width: 1280, height: 900 }, 1);
      const zoomed = await sizes(ZOOMED, 2);
      const small: string[] = [];
      for (const [q, px] of Object.entries(normal))
        if (q !== 'medium' && zoomed[q] < 2 * px - 0.01)
          small.push(`${q}: ${px}px at 100 %, ${zoomed[q]}px at 200 % (${Math.round((zoomed[q] / px) * 100)} %)`);
      expect(small).toEqual([]);
    });

    it('follows the browser’s own text size (a reader who set 24px instead of 16px gets bigger text)', async () => {
      const normal = await sizes({ width: 1280, height: 900 }, 1);
      const larger = await sizes({ width: 1280, height: 900 }, 1, 24);
      expect(larger.medium, 'the browser’s text size set to 24px').toBe(24);
      expect({ body: larger.body, label: larger.label }).toEqual({ body: (normal.body * 24) / 16, label: (normal.label * 24) / 16 });
    });
  });
});
