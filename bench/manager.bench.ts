/**
 * The Manager's history screen at scale, in real headless Chromium against a real Relais server:
 *
 *   npm run bench:manager -- --messages 1000000 [--dialect sqlite|postgres] [--scrolls 40] [--runs 5] [--verbose] [--trace]
 *
 * Measures (goals from issue 5): first rows painted after navigation (≤ 1 s), repaint after a sort or
 * filter change (≤ 300 ms), pages fetched while scrolling far down (keeps up), and the gzipped size of
 * the JavaScript the history screen loads (≤ 300 kB). Data comes from bench/history-data.ts (loaded
 * once by the demo loader, reused afterwards).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { buildApp } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';
import { SESSION_COOKIE } from '../src/server/modules/auth/auth.plugin.js';
import { SESSION_TTL_MS } from '../src/server/modules/auth/auth.service.js';
import { sha256Hex } from '../src/server/modules/auth/password.js';
import { buildWebIfStale, WEB_DIST } from '../src/web/build.js';
import { BENCH_OWNER, openHistoryData } from './history-data.js';

const GOALS = { firstPaintMs: 1000, repaintMs: 300, bundleKb: 300 };

const { values } = parseArgs({
  options: {
    dialect: { type: 'string', default: 'sqlite' },
    messages: { type: 'string', default: '1000000' },
    scrolls: { type: 'string', default: '40' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
  },
});
const dialect = values.dialect;
if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error(`--dialect must be sqlite or postgres, got ${dialect}`);
const messages = Number(String(values.messages).replace(/[_,]/g, ''));
const scrolls = Number(values.scrolls);
const runs = Number(values.runs);

const log = (line: string) => process.stderr.write(`${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))] ?? Number.NaN;
const ms = (x: number) => `${x.toFixed(0)} ms`;

/** The gzipped bytes of the JavaScript and CSS index.html loads (the history screen is in the first bundle). */
function bundleSize(): { jsGzip: number; cssGzip: number; files: string[] } {
  const html = readFileSync(join(WEB_DIST, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  let jsGzip = 0;
  let cssGzip = 0;
  for (const file of files) {
    const size = gzipSync(readFileSync(join(WEB_DIST, file)), { level: 9 }).length;
    if (file.endsWith('.js')) jsGzip += size;
    else cssGzip += size;
  }
  return { jsGzip, cssGzip, files };
}

// Marks, inside the page, when the first history rows are in the DOM and then painted.
const FIRST_ROWS_PROBE = `
  window.__name = (f) => f; // tsx's keepNames helper, for functions handed to page.evaluate
  window.__firstPaint = null;
  new MutationObserver((_, observer) => {
    if (document.querySelector('[role="row"][data-id]')) {
      observer.disconnect();
      requestAnimationFrame(() => setTimeout(() => { window.__firstPaint = performance.now(); }, 0));
    }
  }).observe(document, { subtree: true, childList: true });
`;

/** When each request of the page started and ended (ms after navigation), for --verbose. */
async function resourceTimings(page: Page): Promise<string> {
  const entries = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const rows = [{ name: 'document', start: nav.startTime, end: nav.responseEnd }];
    for (const e of performance.getEntriesByType('resource') as PerformanceResourceTiming[]) {
      rows.push({ name: e.name.replace(/^https?:\/\/[^/]+/, ''), start: e.startTime, end: e.responseEnd });
    }
    return rows;
  });
  return entries.map((e) => `    ${e.start.toFixed(0).padStart(5)}–${e.end.toFixed(0).padStart(5)} ms  ${e.name.slice(0, 90)}`).join('\n');
}

interface ProfileChunk {
  cpuProfile?: { nodes?: { id: number; callFrame: { functionName: string; url?: string; lineNumber?: number } }[]; samples?: number[] };
  timeDeltas?: number[];
}

const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-v8.cpu_profiler'];

/**
 * `--trace`: where the renderer's main thread spent the cold first paint — its longest kinds of work
 * (complete events, self time not separated: nested kinds overlap) — from a Chromium trace.
 */
function traceSummary(trace: Buffer): string {
  const events = (
    JSON.parse(trace.toString('utf8')) as {
      traceEvents: { name: string; ph: string; dur?: number; tid: number; pid: number; args?: { name?: string } }[];
    }
  ).traceEvents;
  // The page's renderer: the busiest of the renderers' main threads (about:blank had one too).
  const busy = new Map<string, number>();
  for (const e of events) if (e.ph === 'X' && e.dur) busy.set(`${e.pid}/${e.tid}`, (busy.get(`${e.pid}/${e.tid}`) ?? 0) + e.dur);
  const main = events
    .filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain')
    .sort((a, b) => (busy.get(`${b.pid}/${b.tid}`) ?? 0) - (busy.get(`${a.pid}/${a.tid}`) ?? 0))[0];
  const totals = new Map<string, number>();
  for (const e of events) {
    if (!main || e.pid !== main.pid || e.tid !== main.tid || e.ph !== 'X' || !e.dur) continue;
    totals.set(e.name, (totals.get(e.name) ?? 0) + e.dur / 1000);
  }
  // The sampled JavaScript profile: self time by function (sample count × time between samples).
  const frames = new Map<number, string>();
  const self = new Map<string, number>();
  for (const e of events as unknown as { name: string; pid: number; args?: { data?: ProfileChunk } }[]) {
    if (e.name !== 'ProfileChunk' || !main || e.pid !== main.pid) continue;
    const chunk = e.args?.data?.cpuProfile;
    for (const node of chunk?.nodes ?? []) {
      const url = (node.callFrame.url ?? '').replace(/^.*\//, '');
      frames.set(node.id, `${node.callFrame.functionName || '(anonymous)'} ${url}:${node.callFrame.lineNumber ?? ''}`);
    }
    const deltas = e.args?.data?.timeDeltas ?? [];
    for (const [i, id] of (chunk?.samples ?? []).entries()) {
      const name = frames.get(id) ?? String(id);
      self.set(name, (self.get(name) ?? 0) + (deltas[i + 1] ?? 0) / 1000);
    }
  }
  const hot = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
  const top = [...totals].sort((a, b) => b[1] - a[1]).slice(0, 25);
  return [
    'manager-bench: renderer main thread during the first cold paint (ms, nested kinds overlap):',
    ...top.map(([name, ms]) => `    ${ms.toFixed(1).padStart(8)}  ${name}`),
    'manager-bench: renderer JavaScript by self time (ms, sampled):',
    ...hot.map(([name, ms]) => `    ${ms.toFixed(1).padStart(8)}  ${name}`),
  ].join('\n');
}

async function firstPaint(page: Page, url: string): Promise<number> {
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(() => (window as unknown as { __firstPaint: number | null }).__firstPaint !== null, null, { timeout: 60_000 });
  return page.evaluate(() => (window as unknown as { __firstPaint: number }).__firstPaint);
}

/**
 * Runs `action` in the page and answers the ms until the grid shows the new rows (next generation,
 * painted), and how long of it the first page's request took (server and network).
 */
async function repaint(
  page: Page,
  action: { kind: 'sort'; column: string } | { kind: 'url'; search: string },
): Promise<{ ms: number; requestMs: number }> {
  return page.evaluate(async (a) => {
    performance.clearResourceTimings();
    const grid = document.querySelector('[role="grid"]') as HTMLElement;
    const generation = grid.dataset.generation;
    const start = performance.now();
    if (a.kind === 'sort') (document.querySelector(`[role="columnheader"][data-column="${a.column}"] button`) as HTMLButtonElement).click();
    else {
      window.history.pushState(null, '', `${window.location.pathname}${a.search}`);
      window.dispatchEvent(new PopStateEvent('popstate'));
    }
    await new Promise<void>((resolve) => {
      const done = () => grid.dataset.generation !== generation && grid.getAttribute('aria-busy') === 'false';
      if (done()) return resolve();
      const observer = new MutationObserver(() => {
        if (done()) {
          observer.disconnect();
          resolve();
        }
      });
      observer.observe(grid, { attributes: true, subtree: true, childList: true });
    });
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    const ms = performance.now() - start;
    const request = (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
      .filter((e) => e.name.includes('/outgoing?') && e.name.includes('limit=100'))
      .at(-1);
    return { ms, requestMs: request ? request.responseEnd - request.startTime : Number.NaN };
  }, action);
}

/** Scrolls to the bottom `times` times; answers the ms each next page took to arrive and be painted. */
async function scrollFar(page: Page, times: number): Promise<{ pages: number[]; rows: number; longTasksMs: number }> {
  await page.evaluate(() => {
    const w = window as unknown as { __longTasks: number };
    w.__longTasks = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.__longTasks += entry.duration;
    }).observe({ type: 'longtask', buffered: false });
  });
  const pages: number[] = [];
  for (let i = 0; i < times; i++) {
    const took = await page.evaluate(async () => {
      const grid = document.querySelector('[role="grid"]') as HTMLElement;
      const loaded = Number(grid.dataset.loaded);
      const start = performance.now();
      grid.scrollTop = grid.scrollHeight;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no next page within 30 s')), 30_000);
        const observer = new MutationObserver(() => {
          if (Number(grid.dataset.loaded) > loaded) {
            observer.disconnect();
            clearTimeout(timer);
            resolve();
          }
        });
        observer.observe(grid, { attributes: true });
      });
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
      return performance.now() - start;
    });
    pages.push(took);
  }
  const rows = await page.evaluate(() => Number((document.querySelector('[role="grid"]') as HTMLElement).dataset.loaded));
  const longTasksMs = await page.evaluate(() => (window as unknown as { __longTasks: number }).__longTasks);
  return { pages, rows, longTasksMs };
}

/**
 * Reads the SQLite file once, so that its pages are in the OS file cache as on a server whose memory
 * holds the database (this machine's kernel reclaims cold file pages within minutes: without this, the
 * first sort by a column after a pause read its index from disk, 0.4–0.7 s).
 */
function warmFileCache(file: string): string {
  const started = performance.now();
  const buffer = Buffer.alloc(8 << 20);
  const fd = openSync(file, 'r');
  let bytes = 0;
  try {
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) bytes += n;
  } finally {
    closeSync(fd);
  }
  return `read the database file once into the OS cache (${(bytes / 1e9).toFixed(1)} GB in ${((performance.now() - started) / 1000).toFixed(1)} s)`;
}

async function main(): Promise<void> {
  if (await buildWebIfStale()) log('manager-bench: built the Manager');
  const bundle = bundleSize();
  const data = await openHistoryData({ dialect: dialect as 'sqlite' | 'postgres', messages, log });
  if (data.url.startsWith('sqlite:')) log(`manager-bench: ${warmFileCache(data.url.slice('sqlite:'.length))}`);
  const config = loadConfig({ RELAIS_DATABASE_URL: data.url, RELAIS_ARGON2_TEST_FAST: '1', RELAIS_LOG_LEVEL: 'warn' });
  const app = await buildApp({ config, database: data.database });
  // --verbose: the API requests the server took long over, and the longest pause of its event loop.
  const slow: { url: string; start: number; ms: number }[] = [];
  app.addHook('onResponse', async (request, reply) => {
    if (reply.elapsedTime > 100 && request.url.startsWith('/api/')) {
      slow.push({ url: request.url.slice(0, 90), start: performance.now() - reply.elapsedTime, ms: reply.elapsedTime });
    }
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  const base = `http://127.0.0.1:${address.port}`;

  // A session for the bench account's owner, written as sign-in would (its password is random).
  const owner = await data.database.db.selectFrom('customers').select('id').where('email', '=', BENCH_OWNER).executeTakeFirstOrThrow();
  const cookie = randomBytes(32).toString('base64url');
  const now = Date.now();
  await data.database.db
    .insertInto('sessions')
    .values({
      id: sha256Hex(cookie),
      customer_id: owner.id,
      csrf_token: randomBytes(16).toString('hex'),
      created_at: now,
      expires_at: now + SESSION_TTL_MS,
    })
    .execute();

  const browser: Browser = await chromium.launch({
    executablePath: process.env.RELAIS_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const newContext = async (): Promise<BrowserContext> => {
    const context = await browser.newContext({ baseURL: base, locale: 'fr-FR', viewport: { width: 1400, height: 900 } });
    await context.addCookies([{ name: SESSION_COOKIE, value: cookie, url: base, httpOnly: true, sameSite: 'Lax' }]);
    await context.addInitScript(FIRST_ROWS_PROBE);
    return context;
  };
  const historyUrl = `/accounts/${data.accountName}/history`;
  try {
    // 1. First rows painted after navigation: cold (fresh context, empty cache) and warm (reload).
    const cold: number[] = [];
    const warm: number[] = [];
    // One navigation first, not measured: the server's first requests after its start (code compiled
    // on first use, statements prepared, files first read) and the browser's first context (its
    // network and GPU processes) are no part of opening the Manager on a running server.
    {
      const context = await newContext();
      const page = await context.newPage();
      await firstPaint(page, historyUrl);
      await page.waitForLoadState('networkidle');
      await context.close();
    }
    for (let i = 0; i < runs; i++) {
      const context = await newContext();
      const page = await context.newPage();
      if (values.trace && i === 0) await browser.startTracing(page, { categories: TRACE_CATEGORIES });
      cold.push(await firstPaint(page, historyUrl));
      if (values.trace && i === 0) {
        const trace = await browser.stopTracing();
        writeFileSync('bench/out/manager-trace.json', trace);
        log(`${traceSummary(trace)}\n    (the whole trace: bench/out/manager-trace.json, for chrome://tracing or Perfetto)`);
      }
      if (values.verbose) log(await resourceTimings(page));
      // What the page asks for after its first rows (the exact count of 10M rows, the chart's counts)
      // finishes before the next navigation, so that each one starts on an idle server.
      await page.waitForLoadState('networkidle');
      warm.push(await firstPaint(page, historyUrl));
      await page.waitForLoadState('networkidle');
      await context.close();
    }
    log(`manager-bench: first paint (after one unmeasured navigation) cold ${cold.map(ms).join(', ')}; warm ${warm.map(ms).join(', ')}`);

    // 2. Repaint after each sort (both ways) and some filters.
    const context = await newContext();
    const page = await context.newPage();
    await firstPaint(page, historyUrl);
    const users = (await (await page.request.get(`/api/v1/accounts/${data.accountName}/users`)).json()) as { login: string }[];
    const repaints: { action: string; ms: number; requestMs: number }[] = [];
    for (const column of ['date', 'sender', 'receiver', 'message', 'status', 'user', 'channel']) {
      for (const way of ['first', 'second']) {
        repaints.push({ action: `sort ${column} (${way} click)`, ...(await repaint(page, { kind: 'sort', column })) });
      }
    }
    const week = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10);
    const filters = [
      '',
      '?status=failed',
      `?user=${encodeURIComponent(users[0]?.login ?? '-')}`,
      `?user=${encodeURIComponent(users[users.length - 1]?.login ?? '-')}&status=delivered`,
      '?user=-',
      '?channel=http2sms',
      '?receiver=%2B336*',
      `?from=${week}`,
      '?q=code',
      '?q=rendez-vous',
      '?sort=-receiver&status=failed',
      '',
    ];
    for (const search of filters)
      repaints.push({ action: `view ${search || '(default)'}`, ...(await repaint(page, { kind: 'url', search })) });
    for (const r of repaints) log(`manager-bench: ${r.action.padEnd(48)} ${ms(r.ms).padStart(8)}  (first page request ${ms(r.requestMs)})`);

    // 3. Scrolling far down: keyset pages as the grid reaches its end.
    const scroll = await scrollFar(page, scrolls);
    await context.close();

    const repaintTimes = repaints.map((r) => r.ms);
    const clientTimes = repaints.map((r) => r.ms - r.requestMs).filter((x) => !Number.isNaN(x));
    const summary = {
      dialect,
      messages,
      bundle: { jsGzipKb: Math.round(bundle.jsGzip / 102.4) / 10, cssGzipKb: Math.round(bundle.cssGzip / 102.4) / 10, files: bundle.files },
      firstPaintMs: { coldMedian: Math.round(median(cold)), coldMax: Math.round(Math.max(...cold)), warmMedian: Math.round(median(warm)) },
      repaintMs: {
        median: Math.round(median(repaintTimes)),
        p95: Math.round(p95(repaintTimes)),
        max: Math.round(Math.max(...repaintTimes)),
        browserMedian: Math.round(median(clientTimes)),
        browserMax: Math.round(Math.max(...clientTimes)),
      },
      repaints: repaints.map((r) => ({ action: r.action, ms: Math.round(r.ms), requestMs: Math.round(r.requestMs) })),
      scroll: {
        pages: scroll.pages.length,
        rowsLoaded: scroll.rows,
        pageMedianMs: Math.round(median(scroll.pages)),
        pageP95Ms: Math.round(p95(scroll.pages)),
        pageMaxMs: Math.round(Math.max(...scroll.pages)),
        longTasksMs: Math.round(scroll.longTasksMs),
      },
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
      const ok = (good: boolean) => (good ? 'ok  ' : 'SLOW');
      const lines = [
        `Manager history benchmark — ${dialect}, ${messages.toLocaleString('en-US')} messages`,
        `  ${ok(bundle.jsGzip / 1024 <= GOALS.bundleKb)} history screen JS    ${summary.bundle.jsGzipKb} kB gzipped (+ ${summary.bundle.cssGzipKb} kB CSS)   goal ≤ ${GOALS.bundleKb} kB`,
        `  ${ok(summary.firstPaintMs.coldMax <= GOALS.firstPaintMs)} first rows painted   cold median ${summary.firstPaintMs.coldMedian} ms, max ${summary.firstPaintMs.coldMax} ms; warm ${summary.firstPaintMs.warmMedian} ms   goal ≤ ${GOALS.firstPaintMs} ms`,
        `  ${ok(summary.repaintMs.max <= GOALS.repaintMs)} sort/filter repaint  median ${summary.repaintMs.median} ms, p95 ${summary.repaintMs.p95} ms, max ${summary.repaintMs.max} ms (${repaints.length} changes; in the browser beyond the request: median ${summary.repaintMs.browserMedian} ms, max ${summary.repaintMs.browserMax} ms)   goal ≤ ${GOALS.repaintMs} ms`,
        `  ${ok(summary.scroll.pageP95Ms <= GOALS.repaintMs)} scrolling far down   ${summary.scroll.pages} pages to ${summary.scroll.rowsLoaded.toLocaleString('en-US')} rows: next page median ${summary.scroll.pageMedianMs} ms, p95 ${summary.scroll.pageP95Ms} ms, max ${summary.scroll.pageMaxMs} ms; long tasks ${summary.scroll.longTasksMs} ms`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    if (values.verbose) {
      log(
        `manager-bench: server event loop: longest pause ${(loopDelay.max / 1e6).toFixed(0)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms`,
      );
      const t0 = slow[0]?.start ?? 0;
      for (const r of slow) log(`    ${(r.start - t0).toFixed(0).padStart(7)} ms +${r.ms.toFixed(0).padStart(5)} ms  ${r.url}`);
    }
  } finally {
    await browser.close();
    await app.close();
    await data.close();
  }
}

await main();
