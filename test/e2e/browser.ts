import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { App } from '../../src/server/app.js';
import { SESSION_COOKIE } from '../../src/server/modules/auth/auth.plugin.js';
import { signIn, type TestSession } from '../factories.js';

/** Debian's Chromium (installed by .ci/run); RELAIS_CHROMIUM points elsewhere. */
export const CHROMIUM = process.env.RELAIS_CHROMIUM || '/usr/bin/chromium';

/** Screenshots of the main screens, kept as test artefacts (git-ignored). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Listens on a free loopback port; answers the base URL (`http://127.0.0.1:PORT`). */
export async function listen(app: App): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

/** A fresh browser context (own cookies and storage) in French or English. */
export async function newContext(browser: Browser, baseURL: string, locale = 'fr-FR'): Promise<BrowserContext> {
  return browser.newContext({ baseURL, locale, acceptDownloads: true, viewport: { width: 1400, height: 900 } });
}

/** A phone-sized context (390×844, touch) for the small-screen layout. */
export async function newPhoneContext(browser: Browser, baseURL: string, locale = 'fr-FR'): Promise<BrowserContext> {
  return browser.newContext({ baseURL, locale, viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
}

/**
 * What makes the page wider than the window: the document scrolling sideways, or an element reaching past
 * the right edge (a mobile browser may clip such content instead of scrolling, which is no better).
 * Content inside its own scroll or clip box (a grid, an ellipsis) does not count. Empty when it fits.
 */
export async function overflowX(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const limit = Math.min(window.innerWidth, window.screen.width);
    const found: string[] = [];
    if (document.documentElement.scrollWidth > limit) found.push(`document ${document.documentElement.scrollWidth}px > ${limit}px`);
    const visit = (el: Element) => {
      const box = el.getBoundingClientRect();
      if (box.width > 0 && box.right > limit + 0.5) {
        found.push(
          `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${(el.textContent ?? '').trim().slice(0, 30)}" ends at ${Math.round(box.right)}px`,
        );
      }
      if (getComputedStyle(el).overflowX !== 'visible') return;
      for (const child of el.children) visit(child);
    };
    visit(document.body);
    return found;
  });
}

/**
 * The visible elements matching `selector` whose text contrast is under `minimum` (WCAG's ratio), with
 * the background composed from the element's ancestors. Disabled controls are exempt, as in WCAG.
 */
export async function lowContrast(page: Page, selector: string, minimum = 4.5): Promise<{ text: string; ratio: number }[]> {
  return page.$$eval(
    selector,
    (elements, min) => {
      const parse = (css: string): [number, number, number, number] => {
        const m = css.match(/rgba?\(([^)]+)\)/);
        if (!m) return [0, 0, 0, 0];
        const [r, g, b, a = 1] = m[1]
          .split(/[ ,/]+/)
          .filter(Boolean)
          .map(Number);
        return [r, g, b, a];
      };
      const over = (top: number[], bottom: number[]) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3]));
      const luminance = (rgb: number[]) => {
        const [r, g, b] = rgb.map((v) => {
          const c = v / 255;
          return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const failures: { text: string; ratio: number }[] = [];
      for (const el of elements) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.height === 0 || !el.textContent?.trim() || el.closest(':disabled')) continue;
        const layers: number[][] = [];
        for (let node: Element | null = el; node; node = node.parentElement) layers.push(parse(getComputedStyle(node).backgroundColor));
        let background = [255, 255, 255];
        for (const layer of layers.reverse()) background = over(layer, background);
        const color = over(parse(getComputedStyle(el).color), background);
        const [light, dark] = [luminance(color), luminance(background)].sort((x, y) => y - x);
        const ratio = (light + 0.05) / (dark + 0.05);
        if (ratio < min) failures.push({ text: el.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100 });
      }

      return failures;
    },
    minimum,
  );
}

/**
 * Presses Tab up to `presses` times from the top of the page; answers the elements reached that show no
 * focus ring (outline or box-shadow), described by tag, role and text.
 */
export async function tabWithoutFocusRing(page: Page, presses: number): Promise<string[]> {
  // Tab then starts from the top of the document, whatever had the focus before.
  await page.evaluate(() => {
    document.body.tabIndex = -1;
    document.body.focus();
    document.body.removeAttribute('tabindex');
  });
  const missing: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < presses; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      const ring = (style.outlineStyle !== 'none' && Number.parseFloat(style.outlineWidth) >= 2) || style.boxShadow !== 'none';
      const name = `${el.tagName.toLowerCase()}${el.getAttribute('role') ? `[role=${el.getAttribute('role')}]` : ''} "${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 30)}"`;
      return { name, ring };
    });
    if (!focused || seen.has(focused.name)) continue;
    seen.add(focused.name);
    if (!focused.ring) missing.push(focused.name);
  }
  return missing;
}

/** Signs in through the API once; `useSession` hands the session to each browser context (no rate limit trouble). */
export async function apiSession(app: App, email: string, password: string): Promise<TestSession> {
  return signIn(app, email, password);
}

/** Gives the context the session cookie of `session`. */
export async function useSession(context: BrowserContext, baseURL: string, session: TestSession): Promise<void> {
  const value = session.cookie.slice(SESSION_COOKIE.length + 1);
  await context.addCookies([{ name: SESSION_COOKIE, value, url: baseURL, httpOnly: true, sameSite: 'Lax' }]);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

/** The ids of the history rows in the DOM, in display order. */
export async function rowIds(page: Page): Promise<number[]> {
  return page.$$eval('[role="row"][data-id]', (rows) =>
    rows
      .map((r) => ({ id: Number(r.getAttribute('data-id')), index: Number(r.getAttribute('aria-rowindex')) }))
      .sort((a, b) => a.index - b.index)
      .map((r) => r.id),
  );
}

/** The ids of the rows marked aria-selected="true". */
export async function selectedIds(page: Page): Promise<number[]> {
  return page.$$eval('[role="row"][data-id][aria-selected="true"]', (rows) =>
    rows.map((r) => Number(r.getAttribute('data-id'))).sort((a, b) => a - b),
  );
}

/** Waits until the first rows on screen are `expected` (the start of the list), or fails with what is shown. */
export async function waitForFirstRows(page: Page, expected: number[], timeout = 10_000): Promise<void> {
  try {
    await page.waitForFunction(
      (want) => {
        const rows = [...document.querySelectorAll('[role="row"][data-id]')]
          .map((r) => ({ id: Number(r.getAttribute('data-id')), index: Number(r.getAttribute('aria-rowindex')) }))
          .sort((a, b) => a.index - b.index)
          .map((r) => r.id);
        return want.every((id, i) => rows[i] === id) && document.querySelector('[role="grid"]')?.getAttribute('aria-busy') === 'false';
      },
      expected,
      { timeout, polling: 50 },
    );
  } catch (error) {
    throw new Error(
      `expected first rows ${JSON.stringify(expected)}, saw ${JSON.stringify((await rowIds(page)).slice(0, expected.length))}: ${error}`,
    );
  }
}

/** Parses the seed's CSV: `;`-separated, values in double quotes (`""` inside), newlines kept in quotes. */
export function parseSeedCsv(text: string): { header: string; records: string[][] } {
  const newline = text.indexOf('\n');
  const header = text.slice(0, newline);
  const records: string[][] = [];
  let i = newline + 1;
  while (i < text.length) {
    const record: string[] = [];
    for (;;) {
      if (text[i] !== '"') throw new Error(`expected a quote at ${i}: ${JSON.stringify(text.slice(i, i + 20))}`);
      i++;
      let value = '';
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error('unterminated value');
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      record.push(value);
      if (text[i] === ';') {
        i++;
        continue;
      }
      if (text[i] === '\n') {
        i++;
        break;
      }
      throw new Error(`expected ; or a line end at ${i}`);
    }
    records.push(record);
  }
  return { header, records };
}
