/**
 * Statistics benchmark (`npm run bench:stats -- [--dialect sqlite|postgres|both] [--messages N] [--samples N]`).
 * On one account of N messages (a year of history from `relais demo`, loaded once by history-data.ts),
 * times `GET /api/v1/accounts/{account}/stats` through the real app: the default period (the last 30
 * days), a whole year, and filtered periods; prints p50/p95 next to the goal, the EXPLAIN plan of the
 * SQL behind each case, and a projection to 10 million messages.
 *
 * The projection: the time of a case is nearly proportional to the rows it counts, so the cost per row
 * measured on the whole year (every row of the account) times the rows the default 30 days hold at
 * 10 million (10M/N times those counted here) estimates the 10-million figure. Never part of `npm test`.
 */
import { buildApp } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';
import { type Dialect, openDatabase } from '../src/server/db/database.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { createOutgoingRepository } from '../src/server/modules/history/outgoing.repository.js';
import { createStatsRepository } from '../src/server/modules/history/stats.repository.js';
import { dayOf, dayStarts } from '../src/server/modules/history/stats-calendar.js';
import type { StatsResponse } from '../src/shared/stats.js';
import { OUTGOING_STATUSES } from '../src/shared/status.js';
import { BENCH_NOW, openHistoryData } from './history-data.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const dialects: Dialect[] = (args.get('dialect') ?? 'both') === 'both' ? ['sqlite', 'postgres'] : [args.get('dialect') as Dialect];
const messages = Number(String(args.get('messages') ?? 1_000_000).replace(/[_,]/g, ''));
const samples = Number(args.get('samples') ?? 15);
const GOAL_MS = 300;
const TARGET_ROWS = 10_000_000;

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * p) - 1)];
const total = (body: StatsResponse) => body.days.reduce((sum, d) => sum + OUTGOING_STATUSES.reduce((s, k) => s + d[k], 0), 0);

async function benchDialect(dialect: Dialect): Promise<void> {
  console.log(`\n=== ${dialect}: ${fmt(messages)} messages in one account, a year of history (2 cores, machine shared) ===`);
  const data = await openHistoryData({ dialect, messages });
  const { url, accountName } = data;
  await data.close();
  let captured: { sql: string; parameters: readonly unknown[] }[] = [];
  const database = openDatabase(url, { onQuery: (sql, parameters) => captured.push({ sql, parameters }) });
  if (database.pool) {
    // The steady state of a live table: autovacuum keeps its visibility map (index-only scans) current.
    // A freshly loaded table has none until it runs, and this server may have autovacuum off.
    await database.pool.query('vacuum (analyze) outgoing');
  }
  const app = await buildApp({ config: Object.freeze({ ...loadConfig({}), databaseUrl: url }), database, clock: { now: () => BENCH_NOW } });
  await app.ready();
  const { bearer } = await app.services.apiTokens.create(SYSTEM_ACTOR, accountName, { name: 'stats-bench' });
  const users = await app.services.smsUsers.list(SYSTEM_ACTOR, accountName);
  const user = users[0]?.login;
  const scoped = user
    ? (await app.services.apiTokens.create(SYSTEM_ACTOR, accountName, { name: 'stats-bench-user', userLogin: user })).bearer
    : null;
  const path = `/api/v1/accounts/${accountName}/stats`;

  const cases: { name: string; qs: string; token?: string; goal?: number }[] = [
    { name: 'default: last 30 days', qs: '', goal: GOAL_MS },
    { name: 'whole year (366 days)', qs: 'from=2025-11-25&to=2026-11-25' },
    { name: '30 days, status=failed,expired', qs: 'status=failed,expired' },
    ...(user ? [{ name: `30 days, user=${user}`, qs: `user=${user}` }] : []),
    ...(scoped ? [{ name: '30 days, SMS-user token', qs: '', token: scoped }] : []),
    { name: '30 days, channel=api', qs: 'channel=api' },
    { name: '30 days, receiver=+336*', qs: 'receiver=%2B336*' },
    { name: '30 days, q=rendez-vous', qs: 'q=rendez-vous' },
    { name: '30 days, q=Xq9z (rare)', qs: 'q=Xq9z' },
  ];
  const results = new Map<string, { min: number; p50: number; p95: number; rows: number }>();
  console.log(`\n${'case'.padEnd(34)} ${'rows'.padStart(10)} ${'min'.padStart(9)} ${'p50'.padStart(9)} ${'p95'.padStart(9)}  goal`);
  for (const c of cases) {
    const headers = { authorization: `Bearer ${c.token ?? bearer}` };
    const times: number[] = [];
    let body: StatsResponse | undefined;
    let sqls: typeof captured = [];
    for (let i = 0; i < samples + 2; i++) {
      captured = [];
      const started = performance.now();
      const res = await app.inject({ method: 'GET', url: `${path}?${c.qs}`, headers });
      const took = performance.now() - started;
      if (res.statusCode !== 200) throw new Error(`${c.name}: ${res.statusCode} ${res.body}`);
      if (i >= 2) times.push(took);
      body = res.json() as StatsResponse;
      sqls = captured.filter((q) => /\boutgoing\b/.test(q.sql) && /count\(\*\)/i.test(q.sql));
    }
    const rows = total(body!);
    const r = { min: Math.min(...times), p50: percentile(times, 0.5), p95: percentile(times, 0.95), rows };
    results.set(c.name, r);
    console.log(
      `${c.name.padEnd(34)} ${fmt(rows).padStart(10)} ${r.min.toFixed(1).padStart(7)}ms ${r.p50.toFixed(1).padStart(7)}ms ${r.p95.toFixed(1).padStart(7)}ms  ${c.goal ? `≤ ${c.goal} ms at ${fmt(TARGET_ROWS)} (projected below)` : ''}`,
    );
    for (const [i, q] of sqls.entries())
      await explain(database, dialect, q.sql, q.parameters, sqls.length > 1 ? `${c.name}, statement ${i + 1} of ${sqls.length}` : c.name);
  }

  const year = results.get('whole year (366 days)')!;
  const month = results.get('default: last 30 days')!;
  const rowsAtTarget = (month.rows * TARGET_ROWS) / messages;
  console.log(
    `\nprojection to ${fmt(TARGET_ROWS)} messages (an extrapolation, not a measurement): the default 30 days would count ~${fmt(rowsAtTarget)} rows;`,
  );
  for (const which of ['p50', 'min'] as const) {
    const perRow = year[which] / Math.max(year.rows, 1);
    const projected = perRow * rowsAtTarget;
    console.log(
      `  at the whole year's ${which} cost per row, ${(perRow * 1e6).toFixed(0)} ns (${fmt(year.rows)} rows counted): ~${projected.toFixed(0)} ms — goal ≤ ${GOAL_MS} ms: ${projected <= GOAL_MS ? 'met' : 'MISSED'}`,
    );
  }
  if (dialect === 'postgres') await compareParallel(database, data.accountId);
  await app.close();
  await database.close();
}

/** PostgreSQL: the default 30 days and the whole year in one statement, then split in two run at once. */
async function compareParallel(database: ReturnType<typeof openDatabase>, accountId: number): Promise<void> {
  console.log(`\nPostgreSQL, unfiltered counts by the repository: one statement vs the days split into two run at once`);
  const today = dayOf(BENCH_NOW, 'Europe/Paris');
  for (const [name, days] of [
    ['last 30 days', 30],
    ['whole year (366 days)', 366],
  ] as const) {
    const starts = dayStarts(today - days + 1, today, 'Europe/Paris');
    const line: string[] = [];
    for (const parallel of [1, 2]) {
      const repo = createStatsRepository(database, createOutgoingRepository(database), { parallel });
      const times: number[] = [];
      for (let i = 0; i < samples + 2; i++) {
        const started = performance.now();
        await repo.countByDay({ scope: { accountId, userLogin: null }, filter: {}, starts });
        if (i >= 2) times.push(performance.now() - started);
      }
      line.push(
        `${parallel} statement${parallel > 1 ? 's' : ''}: min ${Math.min(...times).toFixed(1)} ms, p50 ${percentile(times, 0.5).toFixed(1)} ms`,
      );
    }
    console.log(`  ${name.padEnd(24)} ${line.join(';  ')}`);
  }
}

async function explain(
  database: ReturnType<typeof openDatabase>,
  dialect: Dialect,
  sql: string,
  parameters: readonly unknown[],
  name: string,
) {
  const short = (s: string) => (s.length > 220 ? `${s.slice(0, 220)}…` : s);
  console.log(`  EXPLAIN (${name}): ${short(sql.replace(/\s+/g, ' '))}`);
  if (dialect === 'sqlite') {
    const plan = database.sqlite!.prepare(`explain query plan ${sql}`).all(...(parameters as unknown[])) as { detail: string }[];
    for (const p of plan) console.log(`    ${p.detail}`);
    return;
  }
  const { rows } = await database.pool!.query({ text: `explain (analyze, buffers, costs off) ${sql}`, values: parameters as unknown[] });
  for (const r of rows as { 'QUERY PLAN': string }[]) console.log(`    ${short(r['QUERY PLAN'])}`);
}

for (const dialect of dialects) await benchDialect(dialect);
