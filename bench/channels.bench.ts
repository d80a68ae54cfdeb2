/**
 * Channels benchmark (`npm run bench:channels -- [--requests N] [--seconds S] [--clients C]`), http2sms part.
 *
 * A real Relais listening on 127.0.0.1 with an embedded SQLite file (a temporary one), production argon2
 * parameters (the SMS user's password check is cached after the first request), rate limits raised out
 * of the way (their code still runs). A separate process plays C keep-alive clients (64 by default, node:http
 * Agent) sending single-receiver GET /cgi-bin/sms/http2sms.cgi requests until N are answered (50,000) or S
 * seconds have passed (15). Prints accepted requests a second next to the goal (≥ 10,000/s; Kannel's
 * sendsms does about 6,500/s on this kind of machine) and checks that every accepted message is in the
 * database (each answer is given once its transaction is committed). Also prints the server's CPU time
 * per request, which tells what one free core would do when the machine is shared. Never part of `npm test`.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';
import { openDatabase } from '../src/server/db/database.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { fmt, percentile, runLoadClient } from './load-client.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const requests = Number(args.get('requests') ?? 50_000);
const seconds = Number(args.get('seconds') ?? 15);
const clients = Number(args.get('clients') ?? 64);
const warmup = Number(args.get('warmup') ?? 2_000);
const GOAL = 10_000;
const KANNEL = 6_500;

/** The load generator, a separate process (plain JS): C concurrent loops over one keep-alive agent. */
const LOAD = `
const http = require('node:http');
const { port, base, clients, requests, seconds, offset } = JSON.parse(process.argv[1]);
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
let next = 0, accepted = 0, refused = 0, errors = 0, firstRefusal = null;
const latencies = [];
const deadline = Date.now() + seconds * 1000;
function one(i) {
  return new Promise((resolve) => {
    const to = '%2B3361' + String((offset + i) % 10000000).padStart(7, '0');
    const started = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, agent, path: base + '&to=' + to + '&message=Bench+message+' + i }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        if (res.statusCode === 200 && body.startsWith('OK\\n')) accepted++;
        else { refused++; firstRefusal ??= res.statusCode + ' ' + body; }
        resolve();
      });
    });
    req.on('error', (e) => { errors++; firstRefusal ??= String(e); resolve(); });
  });
}
async function loop() {
  while (Date.now() < deadline) {
    const i = next++;
    if (i >= requests) return;
    await one(i);
  }
}
const started = Date.now();
Promise.all(Array.from({ length: clients }, loop)).then(() => {
  agent.destroy();
  process.stdout.write(JSON.stringify({ accepted, refused, errors, firstRefusal, ms: Date.now() - started, latencies }));
});
`;

/** Runs the load generator for `count` requests, receivers numbered from `offset`. */
function runLoad(port: number, base: string, count: number, offset: number) {
  return runLoadClient(LOAD, { port, base, clients, requests: count, seconds, offset });
}

async function main() {
  const file = join(tmpdir(), `relais-bench-channels-${randomBytes(4).toString('hex')}.db`);
  const url = `sqlite:${file}`;
  const database = openDatabase(url);
  await migrateToLatest(database);
  const config = Object.freeze({
    ...loadConfig({}),
    databaseUrl: url,
    http2smsRateLimit: Object.freeze({ perIp: 10_000_000, perUser: 10_000_000, authFailuresPerMinute: 1000, windowMs: 1000 }),
  });
  const app = await buildApp({ config, database });
  const s = app.services;
  await s.customers.create({ email: 'bench@example.com', password: 'correct horse battery staple' });
  const account = await s.accounts.create({ name: 'sms-bc12345-1', ownerEmail: 'bench@example.com', credits: 100_000_000 });
  await s.senders.create(SYSTEM_ACTOR, account.name, { sender: 'BENCH' });
  const password = 'bench-password-123';
  await s.smsUsers.create(SYSTEM_ACTOR, account.name, { login: 'bench', password });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const base = `/cgi-bin/sms/http2sms.cgi?account=${account.name}&login=bench&password=${password}&from=BENCH&noStop=1`;

  console.log(
    `http2sms benchmark: SQLite ${file}, ${clients} keep-alive clients, single-receiver GET (${process.platform}, Node ${process.version})`,
  );
  if (warmup > 0) {
    const w = await runLoad(port, base, warmup, 0);
    console.log(`  warm-up: ${fmt(w.accepted)} accepted${w.refused ? `, ${w.refused} refused (${w.firstRefusal})` : ''}`);
  }
  const countRows = () => (database.sqlite!.prepare('select count(*) as n from outgoing').get() as { n: number }).n;
  const rowsBefore = countRows();
  const r = await runLoad(port, base, requests, warmup);
  const rowsAfter = countRows();
  const rate = (r.accepted / r.ms) * 1000;
  console.log(
    `  ${fmt(r.accepted)} accepted in ${(r.ms / 1000).toFixed(2)} s${r.refused || r.errors ? `, ${r.refused} refused, ${r.errors} errors (first: ${r.firstRefusal})` : ''}`,
  );
  const cpuPerRequest = (r.serverCpuMs * 1000) / Math.max(1, r.accepted);
  console.log(
    `  server CPU ${(r.serverCpuMs / 1000).toFixed(2)} s = ${cpuPerRequest.toFixed(0)} µs a request (≈ ${fmt(1e6 / cpuPerRequest)}/s if the server had one core to itself); load average ${loadavg()[0].toFixed(2)} on ${cpus().length} cores`,
  );
  console.log(`  latency p50 ${percentile(r.latencies, 0.5).toFixed(1)} ms, p99 ${percentile(r.latencies, 0.99).toFixed(1)} ms`);
  console.log(
    `  rows written: ${fmt(rowsAfter - rowsBefore)} (${rowsAfter - rowsBefore === r.accepted ? 'every accepted message is durable' : 'MISMATCH with accepted'})`,
  );
  console.log(
    `  => ${fmt(rate)} accepted requests/s — goal ≥ ${fmt(GOAL)}/s (${rate >= GOAL ? 'met' : 'NOT met'}); Kannel sendsms ≈ ${fmt(KANNEL)}/s for reference (×${(rate / KANNEL).toFixed(2)})`,
  );

  await app.close();
  await database.close();
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
}

await main();
