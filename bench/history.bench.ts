/**
 * History benchmark (`npm run bench:history -- [--dialect sqlite|postgres|both] [--messages N] [--samples N]`).
 * On one account of N messages (10 million by default, loaded once by `relais demo` into bench/out/ or
 * the relais_bench PostgreSQL database), measures through the real app:
 * - a page of 50 for every sort column (both ways) × {no filter, user, status, date range, receiver
 *   prefix, text search}, first page and a deep page reached by cursor: p95 server time, goal ≤ 20 ms
 *   (≤ 100 ms with text search); the EXPLAIN plan of any query that misses;
 * - the CSV export of every row over a real socket: rows/s (goal ≥ 500,000) and peak RSS (goal < 200 MB);
 * - deleting ~1 million rows by filter while a reader lists pages: the longest read (goal ≤ 100 ms).
 * Never part of `npm test`.
 */
import { get as httpGet } from 'node:http';
import { buildApp } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';
import { type Database, type Dialect, openDatabase } from '../src/server/db/database.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { runDemo } from '../src/server/modules/demo/demo.service.js';
import { encodeCursor, queryFingerprint } from '../src/server/modules/history/cursor.js';
import { parseHistoryFilter, parseSort, type RawFilter, SORT_COLUMNS, type SortKey } from '../src/server/modules/history/history-query.js';
import { sortValueOf } from '../src/server/modules/history/outgoing.repository.js';
import { openHistoryData } from './history-data.js';
import { memoryOf } from './process-memory.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const dialects: Dialect[] = (args.get('dialect') ?? 'both') === 'both' ? ['sqlite', 'postgres'] : [args.get('dialect') as Dialect];
const messages = Number(args.get('messages') ?? 10_000_000);
const samples = Number(args.get('samples') ?? 15);
const deepRows = Number(args.get('deep') ?? 200_000);
const skipDelete = args.get('delete') === 'no';

const fmt = (n: number) => n.toLocaleString('en');
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];

async function benchDialect(dialect: Dialect) {
  console.log(`\n=== ${dialect}: ${fmt(messages)} messages in one account (${process.platform}, 2 cores) ===`);
  const data = await openHistoryData({ dialect, messages });
  const { url, accountName } = data;
  await data.close();
  let lastSql: { sql: string; parameters: readonly unknown[] }[] = [];
  // As `relais serve` opens it (main.ts): WAL checkpoints on their own thread, lock waits on a timer.
  const database: Database = openDatabase(url, {
    onQuery: (s, p) => lastSql.push({ sql: s, parameters: p }),
    backgroundCheckpoints: {},
    nonBlockingLockWaits: true,
  });
  const config = Object.freeze({ ...loadConfig({}), databaseUrl: url });
  const app = await buildApp({ config, database });
  await app.ready();
  const { bearer } = await app.services.apiTokens.create(SYSTEM_ACTOR, accountName, { name: 'bench' });
  const headers = { authorization: `Bearer ${bearer}` };
  const base = `/api/v1/accounts/${accountName}/outgoing`;
  const account = await app.services.accounts.getAccount(SYSTEM_ACTOR, accountName);
  const access = { account: { ...account }, userLogin: null, userId: null, actor: 'bench' };

  // Filter values taken from the data itself.
  const sample = (await app.inject({ method: 'GET', url: `${base}?limit=1000`, headers })).json().data as {
    user: string | null;
    receiver: string;
    createdAt: string;
  }[];
  const user = sample.find((r) => r.user)?.user ?? 'apiuser';
  const newest = Date.parse(sample[0].createdAt);
  const from = new Date(newest - 30 * 86_400_000).toISOString();
  const filters: [string, RawFilter][] = [
    ['none', {}],
    ['user', { user }],
    ['status', { status: 'failed' }],
    ['date range (30 days)', { from, to: new Date(newest).toISOString() }],
    ['receiver prefix', { receiver: `${sample[0].receiver.slice(0, 6)}*` }],
    ['text search (common)', { q: 'rendez-vous' }],
    ['text search (rare)', { q: 'Xq9z' }],
  ];

  const misses: string[] = [];
  console.log(`\n${'sort'.padEnd(10)} ${'filter'.padEnd(22)} ${'first p95'.padStart(10)} ${'deep p95'.padStart(10)}  goal`);
  for (const key of Object.keys(SORT_COLUMNS) as SortKey[]) {
    for (const direction of ['asc', 'desc'] as const) {
      const sortParam = key === 'date' ? (direction === 'desc' ? 'date' : '+date') : direction === 'desc' ? `-${key}` : key;
      for (const [name, raw] of filters) {
        const goal = raw.q ? 100 : 20;
        const qs = new URLSearchParams({ ...(raw as Record<string, string>), sort: sortParam, limit: '50' });
        // A deep cursor: the row `deepRows` into this order (or half-way when fewer match).
        const filter = parseHistoryFilter(raw, account.timezone);
        const sort = parseSort(sortParam);
        let deepCursor: string | null = null;
        let seen = 0;
        let last = null;
        for await (const batch of app.services.history.export(access, { ...raw, sort: sortParam }, deepRows)) {
          seen += batch.length;
          last = batch[batch.length - 1];
        }
        if (last && seen > 100) {
          deepCursor = encodeCursor(
            { way: 'after', value: sortValueOf(last, sort), id: last.id },
            queryFingerprint(sort, filter, account.id, null),
          );
        }
        const time = async (url: string) => {
          const times: number[] = [];
          let worstSql: typeof lastSql = [];
          let worst = 0;
          for (let i = 0; i < samples + 2; i++) {
            lastSql = [];
            const t = performance.now();
            const res = await app.inject({ method: 'GET', url, headers });
            const took = performance.now() - t;
            if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
            if (i >= 2) times.push(took);
            if (took > worst) {
              worst = took;
              worstSql = lastSql;
            }
          }
          return { p95: p95(times), sql: worstSql };
        };
        const first = await time(`${base}?${qs}`);
        const deep = deepCursor ? await time(`${base}?${qs}&cursor=${deepCursor}`) : null;
        const ok = first.p95 <= goal && (!deep || deep.p95 <= goal);
        console.log(
          `${sortParam.padEnd(10)} ${name.padEnd(22)} ${`${first.p95.toFixed(1)} ms`.padStart(10)} ${deep ? `${deep.p95.toFixed(1)} ms`.padStart(10) : '       n/a'}  ≤ ${goal} ms ${ok ? 'ok' : 'MISS'}${deep ? ` (deep = row ${fmt(seen)})` : ''}`,
        );
        if (!ok) {
          const slow = first.p95 > goal ? first : deep!;
          for (const q of slow.sql.filter((s) => s.sql.startsWith('select'))) {
            misses.push(`-- ${sortParam} / ${name}\n${q.sql}\n${await explain(database, q.sql, q.parameters)}`);
          }
        }
      }
    }
  }
  if (misses.length) console.log(`\nPlans of the queries that missed their goal:\n${misses.join('\n\n')}`);

  // Export of every row over a real socket.
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  // Private memory (RssAnon: heap, buffers) is what an export costs; the resident set also counts the
  // pages of the memory-mapped SQLite file that the export touched, which the kernel reclaims at will.
  let peak = { rss: 0, anon: 0 };
  const sampler = setInterval(() => {
    const now = memoryOf(process.pid);
    if (now) peak = { rss: Math.max(peak.rss, now.rss), anon: Math.max(peak.anon, now.anon) };
  }, 50);
  const started = performance.now();
  const { lines, bytes } = await new Promise<{ lines: number; bytes: number }>((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path: `${base}.csv?all=true`, headers }, (res) => {
      let lines = 0;
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      });
      res.on('end', () => resolve({ lines, bytes }));
      res.on('error', reject);
    }).on('error', reject);
  });
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  const total = await app.services.history.count(access, {});
  console.log(
    `\nCSV export, all rows: ${fmt(total)} messages (${fmt(lines)} lines incl. multi-line texts, ${(bytes / 1e6).toFixed(0)} MB) in ${seconds.toFixed(1)} s = ${fmt(Math.round(total / seconds))} rows/s (goal ≥ 500,000) ${total / seconds >= 500_000 ? 'ok' : 'MISS'}; peak private memory (RssAnon, this process: server and client) ${(peak.anon / 1e6).toFixed(0)} MB (goal < 200 MB) ${peak.anon < 200e6 ? 'ok' : 'MISS'}, resident ${(peak.rss / 1e6).toFixed(0)} MB`,
  );

  if (!skipDelete) {
    // Delete about a million rows (the oldest ones) by filter while a reader keeps listing pages.
    const oldest = (await app.inject({ method: 'GET', url: `${base}?sort=%2Bdate&limit=1`, headers })).json().data[0];
    const target = Math.min(1_000_000, Math.floor(total / 10));
    let cutoff = oldest.createdAt as string;
    for await (const batch of app.services.history.export(access, { sort: '+date' }, target))
      cutoff = new Date(batch[batch.length - 1].createdAt).toISOString();
    // The reader's client warmed up first: Node loads fetch's implementation on its first call.
    for (let i = 0; i < 20; i++) await (await fetch(`http://127.0.0.1:${port}${base}?limit=50`, { headers })).arrayBuffer();
    const res = await app.inject({ method: 'POST', url: `${base}/delete`, headers, payload: { filter: { to: cutoff } } });
    const job = res.json().job;
    const reads: number[] = [];
    let done = !job;
    const t0 = performance.now();
    while (!done) {
      const t = performance.now();
      await (await fetch(`http://127.0.0.1:${port}${base}?limit=50`, { headers })).arrayBuffer();
      reads.push(performance.now() - t);
      const progress = (await app.inject({ method: 'GET', url: `${base}/delete-jobs/${job.id}`, headers })).json();
      done = progress.status !== 'running';
    }
    const deleted = job
      ? (await app.inject({ method: 'GET', url: `${base}/delete-jobs/${job.id}`, headers })).json().deleted
      : res.json().deleted;
    const longest = reads.reduce((a, b) => Math.max(a, b), 0);
    const deleteSeconds = (performance.now() - t0) / 1000;
    // Put back as many (new) rows, so the next run finds the data set complete.
    if (deleted > 0) await runDemo({ database, accountName, messages: deleted, seed: `refill-${Date.now()}` });
    console.log(
      `Delete by filter: ${fmt(deleted)} rows in ${deleteSeconds.toFixed(1)} s, ${fmt(reads.length)} reads meanwhile, longest read ${longest.toFixed(1)} ms, p95 ${p95(reads.length ? reads : [0]).toFixed(1)} ms (goal ≤ 100 ms) ${longest <= 100 ? 'ok' : 'MISS'}`,
    );
  }
  await app.close();
  await database.close();
}

async function explain(database: Database, query: string, parameters: readonly unknown[]): Promise<string> {
  if (database.dialect === 'sqlite') {
    const rows = database.sqlite!.prepare(`explain query plan ${query}`).all(...(parameters as unknown[])) as { detail: string }[];
    return rows.map((r) => `  ${r.detail}`).join('\n');
  }
  const { rows } = await database.pool!.query(`explain analyze ${query}`, parameters as unknown[]);
  return rows.map((r: Record<string, string>) => `  ${r['QUERY PLAN']}`).join('\n');
}

for (const dialect of dialects) await benchDialect(dialect);
