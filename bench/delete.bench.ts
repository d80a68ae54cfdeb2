/**
 * Deleting by filter while the history is read (`node bin/run-ts.js bench/delete.bench.ts [--dialect sqlite|postgres|both]
 * [--messages N] [--delete N] [--readers N]`).
 *
 * On the benchmark data (N messages, 10 million by default, loaded once by `bench/history-data.ts`):
 * `POST /api/v1/accounts/{account}/outgoing/delete` with a date filter matching the oldest `--delete`
 * messages (1 million by default) starts a background job; meanwhile `--readers` clients (2) list
 * pages of the history over a real socket in several sorts and filters. Prints the deletion rate (goal
 * ≥ 20,000 rows/s on SQLite, more on PostgreSQL) and the readers' waits (goal: none above 100 ms),
 * with the same reads measured first without a deletion for comparison.
 *
 * The shared data is left as it is: on SQLite the benchmark works on a copy of the file (SQLite's backup
 * API), removed at the end; on PostgreSQL the deleted rows (and the account's credits, which deleting
 * pending messages gives back) are saved first and put back afterwards, with their ids.
 * Never part of `npm test`. The machine's other work shows in the figures: it prints the load average.
 */
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { buildApp } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';
import { type Dialect, openDatabase } from '../src/server/db/database.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { parseHistoryFilter } from '../src/server/modules/history/history-query.js';
import { openHistoryData } from './history-data.js';
import { busiestThreads, threadTimesOf } from './process-memory.js';

/** Bytes this process has read from and written to storage so far (/proc/PID/io). */
function ioOf(pid: number): { read: number; written: number } | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
    return { read: field('read_bytes'), written: field('write_bytes') };
  } catch {
    return undefined;
  }
}

const { values } = parseArgs({
  options: {
    dialect: { type: 'string', default: 'both' },
    messages: { type: 'string', default: '10000000' },
    delete: { type: 'string', default: '1000000' },
    readers: { type: 'string', default: '2' },
    baseline: { type: 'string', default: '5' },
  },
});
const dialects: Dialect[] = values.dialect === 'both' ? ['sqlite', 'postgres'] : [values.dialect as Dialect];
const messages = Number(values.messages.replace(/[_,]/g, ''));
const toDelete = Number(values.delete.replace(/[_,]/g, ''));
const readerCount = Number(values.readers);
const baselineSeconds = Number(values.baseline);

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)];
};
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** What the readers ask for, in turn: the Manager's usual pages. */
const READS = [
  '',
  'sort=sender',
  'sort=-receiver',
  'status=failed',
  'user=apiuser',
  'sort=%2Bdate',
  'channel=smpp&sort=-date',
  'sort=status',
];

async function benchDialect(dialect: Dialect) {
  console.log(
    `\n=== ${dialect}: delete ${fmt(toDelete)} of ${fmt(messages)} messages by filter, ${readerCount} readers (${os.cpus().length} cores) ===`,
  );
  const data = await openHistoryData({ dialect, messages });
  const { accountName, accountId } = data;
  let url = data.url;
  if (dialect === 'sqlite') {
    const copy = `${url.slice('sqlite:'.length).replace(/history-(\d+)\.db$/, 'delete-bench-$1.db')}`;
    const copiedAt = performance.now();
    await data.database.sqlite!.backup(copy);
    console.log(`copied the data to ${copy} in ${((performance.now() - copiedAt) / 1000).toFixed(1)} s`);
    url = `sqlite:${copy}`;
  }
  await data.close();
  // As `relais serve` opens it (main.ts): WAL checkpoints on their own thread, lock waits on a timer.
  const database = openDatabase(url, { backgroundCheckpoints: {}, nonBlockingLockWaits: true });
  const { db } = database;
  const config = Object.freeze({ ...loadConfig({}), databaseUrl: url });
  const app = await buildApp({ config, database });
  await app.ready();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const { bearer } = await app.services.apiTokens.create(SYSTEM_ACTOR, accountName, { name: 'delete-bench' });
  const headers = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' };
  const base = `http://127.0.0.1:${port}/api/v1/accounts/${accountName}/outgoing`;
  const account = await app.services.accounts.getAccount(SYSTEM_ACTOR, accountName);

  // The filter: everything up to the second of the `toDelete`-th oldest message.
  const nth = await db
    .selectFrom('outgoing')
    .select('created_at')
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .orderBy('id')
    .offset(toDelete - 1)
    .limit(1)
    .executeTakeFirstOrThrow();
  const raw = { to: new Date(nth.created_at).toISOString().replace(/\.\d{3}Z$/, 'Z') };
  const to = parseHistoryFilter(raw, account.timezone).to!;

  const matching = await db
    .selectFrom('outgoing')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .where('created_at', '<=', to)
    .executeTakeFirstOrThrow();
  const expected = Number(matching.n);
  // PostgreSQL: save what the deletion will change, to put it back.
  const credits = await db.selectFrom('accounts').select(['id', 'credits']).where('id', '=', accountId).execute();
  const quotas = await db.selectFrom('sms_users').select(['id', 'quota']).where('account_id', '=', accountId).execute();
  if (dialect === 'postgres') {
    const savedAt = performance.now();
    await sql`drop table if exists delete_bench_saved`.execute(db);
    await sql`create unlogged table delete_bench_saved as select * from outgoing where account_id = ${accountId} and created_at <= ${to}`.execute(
      db,
    );
    console.log(`saved the ${fmt(expected)} messages up to ${raw.to} in ${((performance.now() - savedAt) / 1000).toFixed(1)} s`);
  }
  let jobId: number | undefined;
  try {
    // Readers: each lists pages in turn and records how long each took, end to end over the socket.
    const readers = (seconds: number | null, stop: { done: boolean }) => {
      const waits: number[] = [];
      let slowest = { ms: 0, read: '' };
      const reader = async (offset: number) => {
        const until = seconds === null ? Number.POSITIVE_INFINITY : performance.now() + seconds * 1000;
        for (let i = offset; !stop.done && performance.now() < until; i++) {
          const query = READS[i % READS.length];
          const started = performance.now();
          const res = await fetch(`${base}?limit=50${query ? `&${query}` : ''}`, { headers });
          await res.arrayBuffer();
          const ms = performance.now() - started;
          if (res.status !== 200) throw new Error(`read ${query}: ${res.status}`);
          waits.push(ms);
          if (ms > slowest.ms) slowest = { ms, read: query || 'default' };
        }
      };
      return Promise.all(Array.from({ length: readerCount }, (_, i) => reader(i * 3))).then(() => ({ waits, slowest }));
    };
    const describe = (r: { waits: number[]; slowest: { ms: number; read: string } }) =>
      `${fmt(r.waits.length)} reads, p50 ${quantile(r.waits, 0.5).toFixed(1)} ms, p99 ${quantile(r.waits, 0.99).toFixed(1)} ms, max ${r.slowest.ms.toFixed(1)} ms (${r.slowest.read})`;

    const baseline = await readers(baselineSeconds, { done: false });
    console.log(`readers without a deletion: ${describe(baseline)}`);

    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const threadsBefore = threadTimesOf(process.pid);
    const ioBefore = ioOf(process.pid);
    const started = performance.now();
    const res = await fetch(`${base}/delete`, { method: 'POST', headers, body: JSON.stringify({ filter: raw }) });
    const body = (await res.json()) as { job?: { id: number }; deleted?: number };
    if (!body.job) throw new Error(`expected a job, got ${res.status} ${JSON.stringify(body)}`);
    jobId = body.job.id;
    const stop = { done: false };
    const reading = readers(null, stop);
    let job: { status: string; deleted: number; total: number };
    do {
      await new Promise((resolve) => setTimeout(resolve, 250));
      job = (await (await fetch(`${base}/delete-jobs/${body.job.id}`, { headers })).json()) as typeof job;
    } while (job.status === 'running');
    const seconds = (performance.now() - started) / 1000;
    const threadsAfter = threadTimesOf(process.pid);
    const ioAfter = ioOf(process.pid);
    stop.done = true;
    const during = await reading;
    loop.disable();
    const rate = job.deleted / seconds;
    const goalRate = dialect === 'sqlite' ? 20_000 : 50_000;
    const longest = during.slowest.ms;
    console.log(
      `delete by filter: ${fmt(job.deleted)} messages (job ${job.status}, ${job.deleted === expected ? 'exactly the matching ones' : `EXPECTED ${fmt(expected)}`}) in ${seconds.toFixed(1)} s = ${fmt(rate)} rows/s (goal ≥ ${fmt(goalRate)}) ${rate >= goalRate ? 'ok' : 'MISS'}`,
    );
    console.log(`readers meanwhile: ${describe(during)} (goal: none above 100 ms) ${longest <= 100 ? 'ok' : 'MISS'}`);
    console.log(`CPU meanwhile (busiest threads of this process): ${busiestThreads(threadsBefore, threadsAfter)}`);
    if (ioBefore && ioAfter) {
      const mb = (n: number) => `${fmt(n / 1e6)} MB`;
      console.log(
        `disk meanwhile: read ${mb(ioAfter.read - ioBefore.read)}, written ${mb(ioAfter.written - ioBefore.written)} (${fmt((ioAfter.written - ioBefore.written) / Math.max(1, job.deleted))} bytes a deleted row)`,
      );
    }
    console.log(
      `event loop delay meanwhile: p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms; load average ${load()}`,
    );
    const [audit] = await app.services.history.listAudit({ account, userLogin: null, userId: null, actor: 'bench' } as never, 1);
    if (audit?.deleteJobId !== body.job.id || audit.count !== job.deleted) throw new Error(`audit entry ${JSON.stringify(audit)}`);
  } finally {
    await app.close();
    if (dialect === 'postgres') {
      // Put everything back as it was.
      const restoredAt = performance.now();
      await sql`insert into outgoing select * from delete_bench_saved on conflict (id) do nothing`.execute(db);
      await sql`drop table delete_bench_saved`.execute(db);
      for (const c of credits) await db.updateTable('accounts').set({ credits: c.credits }).where('id', '=', c.id).execute();
      for (const q of quotas) await db.updateTable('sms_users').set({ quota: q.quota }).where('id', '=', q.id).execute();
      if (jobId !== undefined) {
        await db.deleteFrom('deletion_audit').where('delete_job_id', '=', jobId).execute();
        await db.deleteFrom('delete_jobs').where('id', '=', jobId).execute();
      }
      await db.deleteFrom('api_tokens').where('name', '=', 'delete-bench').execute();
      await sql`vacuum (analyze) outgoing`.execute(db);
      console.log(`put the ${fmt(expected)} messages back in ${((performance.now() - restoredAt) / 1000).toFixed(1)} s`);
    }
    await database.close();
    if (dialect === 'sqlite') {
      const file = url.slice('sqlite:'.length);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    }
  }
}

for (const dialect of dialects) await benchDialect(dialect);
