/**
 * Export benchmark (`npm run bench:export -- --dialect sqlite|postgres --messages N [--format seed|detailed]`):
 * the CSV export of every message of the benchmark account (`?all=true`), served by a real `relais serve`
 * in its own process and read over a socket by this one (which only counts bytes and lines). Prints rows/s
 * next to the goal (≥ 500,000) and the server's peak memory next to its goal (< 200 MB): private memory
 * (RssAnon: heap, buffers) and the whole resident set (VmRSS, which also counts the pages of the database
 * file SQLite maps into memory and the Node binary — shared, clean, given back by the kernel under
 * pressure). Never part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/server/clock.js';
import { loadConfig } from '../src/server/config.js';
import type { Dialect } from '../src/server/db/database.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { composeServices } from '../src/server/services.js';
import { openHistoryData } from './history-data.js';
import { busiestThreads, memoryOf, threadTimesOf } from './process-memory.js';

const { values } = parseArgs({
  options: {
    dialect: { type: 'string', default: 'sqlite' },
    messages: { type: 'string', default: '10000000' },
    format: { type: 'string', default: 'seed' },
    profile: { type: 'boolean', default: false },
  },
});
const dialect = values.dialect as Dialect;
const messages = Number(values.messages);
const RATE_GOAL = 500_000;
const MEMORY_GOAL = 200e6;
const fmt = (n: number) => Math.round(n).toLocaleString('en');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const data = await openHistoryData({ dialect, messages });
const services = composeServices({
  config: Object.freeze({ ...loadConfig({}), databaseUrl: data.url }),
  database: data.database,
  clock: systemClock,
});
const { bearer } = await services.apiTokens.create(SYSTEM_ACTOR, data.accountName, { name: 'export bench' });
await services.close();
await data.close();

const port = await freePort();
// --profile: the server runs with --cpu-prof; its profile is written when it stops (SIGINT) and summarised.
const PROFILE_DIR = 'bench/out/export-profile';
const server = spawn(
  process.execPath,
  [...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), 'bin/relais.js', 'serve'],
  {
    env: {
      ...process.env,
      RELAIS_DATABASE_URL: data.url,
      RELAIS_SERVICES: 'http',
      RELAIS_HTTP_PORT: String(port),
      RELAIS_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
const stopServer = () => server.exitCode === null && server.kill('SIGKILL');
process.on('exit', stopServer);
try {
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/auth/me' }, (res) => {
        res.resume();
        resolve(true);
      });
      req.once('error', () => resolve(false));
      req.end();
    });
    if (up) break;
    if (i > 300) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const idle = memoryOf(server.pid!)!;
  let peak = { ...idle };
  const sampler = setInterval(() => {
    const m = memoryOf(server.pid!);
    if (m) peak = { rss: Math.max(peak.rss, m.rss), anon: Math.max(peak.anon, m.anon) };
  }, 50);
  // Meanwhile another client reads history pages, one after the other: how long does it wait?
  let exporting = true;
  const pageWaits: number[] = [];
  const pages = (async () => {
    while (exporting) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const path = `/api/v1/accounts/${data.accountName}/outgoing?limit=50`;
        const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${bearer}` } }, (res) => {
          res.resume();
          res.once('end', resolve);
        });
        req.once('error', reject);
        req.end();
      });
      pageWaits.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const threadsBefore = threadTimesOf(server.pid!);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const { bytes, lines } = await new Promise<{ bytes: number; lines: number }>((resolve, reject) => {
    const path = `/api/v1/accounts/${data.accountName}/outgoing.csv?all=true&format=${values.format}`;
    const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${bearer}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`export answered ${res.statusCode}`));
      let bytes = 0;
      let lines = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      });
      res.once('end', () => resolve({ bytes, lines }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
  const seconds = (performance.now() - started) / 1000;
  exporting = false;
  await pages;
  const threadsAfter = threadTimesOf(server.pid!);
  const client = process.cpuUsage(clientBefore);
  clearInterval(sampler);
  const rate = messages / seconds;
  console.log(
    `CSV export (${values.format}), ${dialect}, ${fmt(messages)} messages, ${cpus().length} cores, load average ${loadavg()[0].toFixed(1)} at the end (machine shared)`,
  );
  console.log(`  ${fmt(lines)} lines (multi-line texts), ${(bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s`);
  console.log(`  => ${fmt(rate)} rows/s — goal ≥ ${fmt(RATE_GOAL)} ${rate >= RATE_GOAL ? 'ok' : 'MISS'}`);
  console.log(
    `  server memory: private (RssAnon) ${(idle.anon / 1e6).toFixed(0)} MB idle, peak ${(peak.anon / 1e6).toFixed(0)} MB — goal < ${MEMORY_GOAL / 1e6} MB ${peak.anon < MEMORY_GOAL ? 'ok' : 'MISS'}; resident (VmRSS, with the mapped database file) peak ${(peak.rss / 1e6).toFixed(0)} MB`,
  );
  pageWaits.sort((a, b) => a - b);
  const at = (q: number) => pageWaits[Math.min(pageWaits.length - 1, Math.floor(q * pageWaits.length))].toFixed(0);
  console.log(
    `  meanwhile ${pageWaits.length} history pages read by another client: median ${at(0.5)} ms, p99 ${at(0.99)} ms, longest ${at(1)} ms`,
  );
  console.log(
    `  CPU: server's busiest threads ${busiestThreads(threadsBefore, threadsAfter)}; this client ${((client.user + client.system) / 1e6).toFixed(1)} s`,
  );
  if (values.profile) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGINT');
    await exited;
    console.log(topSelfTime(PROFILE_DIR));
  }
} finally {
  stopServer();
}

/** The functions that took the most self time in the largest CPU profile of `dir` (the main thread's; tsx's loader thread writes one too). */
function topSelfTime(dir: string): string {
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0];
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const frames = new Map(
    profile.nodes.map((n) => [
      n.id,
      `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules\/)?/, '')}:${n.callFrame.lineNumber}`,
    ]),
  );
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const name = frames.get(id) ?? String(id);
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [
    '  server self time by function:',
    ...[...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([name, ms]) => `    ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${name}`),
  ].join('\n');
}
