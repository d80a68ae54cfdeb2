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
