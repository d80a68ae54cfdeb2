/**
 * Sending benchmark, issue 3 (`npm run bench:send -- [options]`): Relais against Kannel, in the same run,
 * on the same loopback SMSC. Never part of `npm test`.
 *
 * Processes (everything on 127.0.0.1, each in its own process so none steals another's event loop):
 * - a minimal SMPP SMSC (`bench/send-peers.ts smsc`): answers submit_sm at once, sends a DELIVRD receipt
 *   right after when receipts are on, counts per bind;
 * - a callback sink (`… sink`): the HTTP listener both systems call back (Relais' callback URL, Kannel's dlr-url);
 * - Kannel (Debian's bearerbox + smsbox) in a temporary directory: file store dumped every 5 s, one SMPP
 *   transceiver bind with max-pending-submits = the window, a sendsms user;
 * - Relais: `node bin/relais.js serve` (http + dispatcher) on a temporary SQLite file, `RELAIS_CARRIER=smpp://…
 *   ?window=W&tps=0`, two SMS users (one without callback URL, one whose callback URL is the sink), a token each;
 * - the load (`… load`): C keep-alive clients (node:http Agent), bounded by a count of requests.
 *
 * Phases, Kannel then Relais (never both at once), each after a warm-up:
 * 1. send: N single-receiver requests (Kannel `GET /cgi-bin/sendsms`, Relais `POST /api/v1/accounts/{a}/jobs`);
 *    acceptance = requests answered a second (each Relais answer comes after its commit); end to end =
 *    N / (the N-th submit_sm at the SMSC − the first request).
 * 2. receipts: the same with receipts on: Kannel asked for dlr-mask 9 (SMSC accepted + delivered: two calls a
 *    message, as Relais calls back on `sent` and on `delivered`); rate = N / (the N-th "delivered" callback −
 *    the first request); Relais' deliver_sm_resp count tells the receipts committed to the history.
 * 3. large jobs (Relais only): J jobs of R receivers: receivers accepted a second; then how fast they reach the SMSC.
 *
 * Options: --messages N (30,000 a phase), --large-jobs J (200), --receivers R (1,000), --clients C (64),
 * --window W (64), --warmup K (3,000), --systems kannel,relais, --phases send,receipts,large,
 * --services http,dispatcher (Relais' RELAIS_SERVICES; without dispatcher only acceptance is measured),
 * --relais-channel api|http2sms|ovh-api (what Relais is sent through: the native API, OVH's http2sms GET — `npm run
 * bench:channels` — or OVH's REST API, signed `POST /1.0/sms/{account}/users/{login}/jobs`),
 * --profile (run Relais with --cpu-prof and print its top functions by self time), --keep (keep the temp dir),
 * --relais-dir DIR (run the server of another checkout, e.g. `git archive HEAD` unpacked with node_modules linked).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { buildApp } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';
import { openDatabase } from '../src/server/db/database.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { withServerSecret } from '../src/server/server-secret.js';
import type { LoadReport, LoadSpec } from './send-peers.js';

// ---- options -------------------------------------------------------------------------------------

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const key = process.argv[i].replace(/^--/, '');
  const value = process.argv[i + 1];
  if (value === undefined || value.startsWith('--')) args.set(key, 'true');
  else {
    args.set(key, value);
    i++;
  }
}
const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
const list = (name: string, fallback: string) => (args.get(name) ?? fallback).split(',').map((s) => s.trim());
const MESSAGES = num('messages', 30_000);
/**
 * 1,000-receiver jobs a large-job phase sends. 50 (the earlier default) made a phase of about one second,
 * mostly its ramp-up: 29,000–48,000 receivers/s over 7 runs of that phase alone, where 200 jobs gave
 * 56,000–70,000 on the same build and machine (and 43,000–50,000 after the other phases had filled the history).
 */
const LARGE_JOBS = num('large-jobs', 200);
const RECEIVERS = num('receivers', 1_000);
const CLIENTS = num('clients', 64);
const WINDOW = num('window', 64);
const WARMUP = num('warmup', 3_000);
const SYSTEMS = list('systems', 'kannel,relais');
const PHASES = list('phases', 'send,receipts,large,large-receipts');
const SERVICES = args.get('services') ?? 'http,dispatcher';
const DISPATCHING = SERVICES.split(',').includes('dispatcher');
const PROFILE = args.has('profile');
/** How Relais is sent to: its native API (issue 3), OVH's http2sms (issue 4, `npm run bench:channels`) or OVH's REST API. */
const RELAIS_CHANNEL = (args.get('relais-channel') ?? 'api') as 'api' | 'http2sms' | 'ovh-api';
if (!['api', 'http2sms', 'ovh-api'].includes(RELAIS_CHANNEL)) throw new Error('--relais-channel is api, http2sms or ovh-api');
const KEEP = args.has('keep');
/** Where the Relais server runs from (another checkout, to compare versions on the same machine state). */
const RELAIS_DIR = args.get('relais-dir') ?? process.cwd();
/** No progress for this long ends a wait (the figure is then reported as partial). */
const STALL_MS = num('stall', 20_000);

const GOALS = { acceptance: 10_000, largeJobs: 50_000, ratio: 1.5 };
/** Kannel's figures quoted by the issue, for reference next to the ones measured here. */
const KANNEL_QUOTED = { accepted: 6_500, e2e: 6_600, receipts: 2_650 };
const ACCOUNT = 'sms-sb12345-1';

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const root = process.cwd();
const dir = mkdtempSync(join(tmpdir(), 'relais-bench-send-'));

// ---- child processes -----------------------------------------------------------------------------

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Ends a child we started: SIGTERM, then SIGKILL after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

type Counters = Record<string, { count: number; firstAt: number; lastAt: number }>;

/** An IPC child (smsc or sink): its port, counters and watches. */
class Peer {
  private next = 1;
  private readonly waiting = new Map<number, (m: Record<string, unknown>) => void>();
  port = 0;

  constructor(readonly child: ChildProcess) {
    child.on('message', (m: { type: string; req?: number; port?: number }) => {
      if (m.req !== undefined) {
        const w = this.waiting.get(m.req);
        this.waiting.delete(m.req);
        w?.(m);
      }
    });
  }

  static async start(role: 'smsc' | 'sink'): Promise<Peer> {
    const child = track(
      spawn(process.execPath, ['bin/run-ts.js', 'bench/send-peers.ts', role], {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const peer = new Peer(child);
    peer.port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
      child.on('message', (m: { type: string; port?: number }) => {
        if (m.type === 'ready' && m.port) resolve(m.port);
      });
    });
    return peer;
  }

  private request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    const req = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(req, resolve);
      this.child.send({ ...message, req });
    });
  }

  async counters(): Promise<Counters> {
    return (await this.request({ type: 'stats' })).counters as Counters;
  }

  async count(name: string): Promise<number> {
    return (await this.counters())[name]?.count ?? 0;
  }

  send(message: Record<string, unknown>): void {
    this.child.send(message);
  }

  /**
   * Waits until counter `name` reaches `target`: `{ reached: true, at }` (epoch ms of that event), or
   * `{ reached: false, count, at }` (the last event) once nothing moved for STALL_MS.
   */
  async waitFor(name: string, target: number): Promise<{ reached: boolean; count: number; at: number }> {
    let done: { reached: boolean; count: number; at: number } | null = null;
    const watch = this.request({ type: 'watch', counter: name, target }).then((m) => {
      done = { reached: true, count: target, at: m.at as number };
    });
    let last = -1;
    let movedAt = Date.now();
    while (!done) {
      await Promise.race([watch, new Promise((r) => setTimeout(r, 250))]);
      if (done) break;
      const c = (await this.counters())[name];
      const count = c?.count ?? 0;
      if (count !== last) {
        last = count;
        movedAt = Date.now();
      } else if (Date.now() - movedAt > STALL_MS) {
        return { reached: false, count, at: c?.lastAt ?? Date.now() };
      }
    }
    return done;
  }
}

function runLoad(spec: LoadSpec): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(process.execPath, ['bin/run-ts.js', 'bench/send-peers.ts', 'load', JSON.stringify(spec)], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load client exited with ${code}`));
      else resolve(JSON.parse(out) as LoadReport);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, what: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} is not listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForCount(peer: Peer, name: string, target: number, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await peer.count(name)) < target) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function tail(file: string, lines = 30): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

// ---- the systems ---------------------------------------------------------------------------------

interface System {
  name: 'kannel' | 'relais';
  /** The processes whose CPU time is the system's. */
  pids(): (number | undefined)[];
  /** The load for `count` requests of `receivers` receivers; `withCallbacks` for the receipts phase. */
  load(count: number, receivers: number, offset: number, withCallbacks: boolean): LoadSpec;
  /** The sink counter that counts "delivered" callbacks. */
  deliveredCallback: string;
  stop(): Promise<void>;
}

async function startKannel(smsc: Peer, sink: Peer): Promise<System> {
  const [adminPort, boxPort, sendsmsPort] = [await freePort(), await freePort(), await freePort()];
  const conf = join(dir, 'kannel.conf');
  writeFileSync(
    conf,
    `group = core
admin-port = ${adminPort}
admin-password = bench
admin-allow-ip = "127.0.0.1"
smsbox-port = ${boxPort}
box-allow-ip = "127.0.0.1"
log-file = "${dir}/bearerbox.log"
log-level = 3
store-type = file
store-location = "${dir}/kannel.store"
store-dump-freq = 5
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = bench
host = 127.0.0.1
port = ${smsc.port}
transceiver-mode = true
smsc-username = kannel
smsc-password = secret
system-type = ""
max-pending-submits = ${WINDOW}
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = ${boxPort}
sendsms-port = ${sendsmsPort}
log-file = "${dir}/smsbox.log"
log-level = 3

group = sendsms-user
username = bench
password = bench
max-messages = 10
concatenation = true

group = sms-service
keyword = default
text = "No service"
`,
  );
  const logFd = openSync(join(dir, 'kannel.out'), 'a');
  const bearerbox = track(spawn('/usr/sbin/bearerbox', ['-v', '4', conf], { cwd: dir, stdio: ['ignore', logFd, logFd] }));
  await waitForPort(boxPort, 'bearerbox', bearerbox);
  const smsbox = track(spawn('/usr/sbin/smsbox', ['-v', '4', conf], { cwd: dir, stdio: ['ignore', logFd, logFd] }));
  closeSync(logFd);
  try {
    await waitForPort(sendsmsPort, 'smsbox', smsbox);
    await waitForCount(smsc, 'bind:kannel', 1, 'Kannel to bind to the SMSC');
  } catch (error) {
    console.error(tail(join(dir, 'kannel.out')));
    throw error;
  }
  return {
    name: 'kannel',
    pids: () => [bearerbox.pid, smsbox.pid],
    load: (count, receivers, offset, withCallbacks) => ({
      target: 'kannel',
      port: sendsmsPort,
      clients: CLIENTS,
      count,
      receivers,
      offset,
      kannelUser: 'bench',
      dlrUrl: withCallbacks ? `http://127.0.0.1:${sink.port}/kannel?type=%d` : null,
      deadline: Date.now() + 300_000,
    }),
    deliveredCallback: 'cb:kannel:1',
    async stop() {
      await stopChild(smsbox);
      await stopChild(bearerbox);
    },
  };
}

async function startRelais(smsc: Peer, sink: Peer): Promise<System & { file: string }> {
  const file = join(dir, 'relais.db');
  const url = `sqlite:${file}`;
  const database = openDatabase(url);
  await migrateToLatest(database);
  // The sink is on loopback: allow private callback addresses (RELAIS_CALLBACK_PRIVATE, the SSRF guard).
  // The server secret is the file beside the database, which the server reads too (OVH application secrets).
  const app = await buildApp({
    config: withServerSecret(Object.freeze({ ...loadConfig({ RELAIS_CALLBACK_PRIVATE: 'allow' }), databaseUrl: url })),
    database,
  });
  const s = app.services;
  await s.customers.create({ email: 'bench@example.com', password: 'correct horse battery staple' });
  const account = await s.accounts.create({ name: ACCOUNT, ownerEmail: 'bench@example.com', credits: 1_000_000_000 });
  await s.senders.create(SYSTEM_ACTOR, account.name, { sender: 'BENCH' });
  await s.smsUsers.create(SYSTEM_ACTOR, account.name, { login: 'bench', password: 'bench-password-123' });
  await s.smsUsers.create(SYSTEM_ACTOR, account.name, {
    login: 'benchcb',
    password: 'bench-password-123',
    callbackUrl: `http://127.0.0.1:${sink.port}/relais`,
  });
  const plain = (await s.apiTokens.create(SYSTEM_ACTOR, account.name, { name: 'bench', userLogin: 'bench' })).bearer;
  const withCallback = (await s.apiTokens.create(SYSTEM_ACTOR, account.name, { name: 'benchcb', userLogin: 'benchcb' })).bearer;
  const { application, appSecret } = await s.ovhKeys.createApplication(SYSTEM_ACTOR, { name: 'bench', ownerEmail: 'bench@example.com' });
  const { consumerKey } = await s.ovhKeys.createCredential(SYSTEM_ACTOR, {
    applicationId: application.id,
    ownerEmail: 'bench@example.com',
    rules: [{ method: 'POST', path: '/sms/*' }],
    validity: null,
  });
  const ovh = { appKey: application.appKey, appSecret, consumerKey };
  await app.close();
  await database.close();

  const port = await freePort();
  const logFd = openSync(join(dir, 'relais.out'), 'a');
  const node = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profile')}`] : [];
  const server = track(
    spawn(process.execPath, [...node, 'bin/relais.js', 'serve'], {
      cwd: RELAIS_DIR,
      stdio: ['ignore', logFd, logFd],
      env: {
        ...process.env,
        RELAIS_DATABASE_URL: url,
        RELAIS_HTTP_PORT: String(port),
        RELAIS_HOST: '127.0.0.1',
        RELAIS_SERVICES: SERVICES,
        RELAIS_CARRIER: `smpp://relais:secret@127.0.0.1:${smsc.port}?window=${WINDOW}&tps=0`,
        RELAIS_LOG_LEVEL: 'warn',
        RELAIS_CALLBACK_PRIVATE: 'allow',
        // The load comes from one address and one SMS user: http2sms's rate limits out of the way.
        RELAIS_HTTP2SMS_RATE_PER_IP: '10000000',
        RELAIS_HTTP2SMS_RATE_PER_USER: '10000000',
      },
    }),
  );
  closeSync(logFd);
  try {
    await waitForPort(port, 'relais', server);
    if (DISPATCHING) await waitForCount(smsc, 'bind:relais', 1, 'Relais to bind to the SMSC');
  } catch (error) {
    console.error(tail(join(dir, 'relais.out')));
    throw error;
  }
  return {
    name: 'relais',
    file,
    pids: () => [server.pid],
    load: (count, receivers, offset, withCallbacks) => ({
      target: 'relais',
      port,
      clients: CLIENTS,
      count,
      receivers,
      offset,
      account: ACCOUNT,
      token: withCallbacks ? withCallback : plain,
      relaisChannel: RELAIS_CHANNEL,
      ovh,
      login: withCallbacks ? 'benchcb' : 'bench',
      password: 'bench-password-123',
      deadline: Date.now() + 300_000,
    }),
    deliveredCallback: 'cb:relais:delivered',
    async stop() {
      // SIGTERM: a graceful close, which also writes the CPU profile.
      await stopChild(server, 20_000);
    },
  };
}

// ---- phases --------------------------------------------------------------------------------------

interface PhaseResult {
  requests: number;
  receivers: number;
  load: LoadReport;
  /** Requests (or receivers, for large jobs) accepted a second. */
  acceptRate: number;
  /** Messages a second from the first request to the last awaited event (submit_sm, or delivered callback). */
  e2e: { rate: number; reached: boolean; count: number; seconds: number } | null;
  /** Receipts committed (deliver_sm_resp) and callbacks received, receipts phase. */
  receiptsCommitted?: number;
  callbacks?: number;
  cpu: number;
  /** CPU seconds of the SMSC, the callback sink and the load client meanwhile. */
  peersCpu: { smsc: number; sink: number; load: number };
}

let offset = 0;

async function runPhase(
  system: System,
  smsc: Peer,
  sink: Peer,
  kind: 'warmup' | 'send' | 'receipts' | 'large' | 'large-receipts',
  requests: number,
  receivers: number,
): Promise<PhaseResult> {
  const withCallbacks = kind === 'receipts' || kind === 'large-receipts';
  smsc.send({ type: 'receipts', on: withCallbacks });
  const messages = requests * receivers;
  const submitsBefore = await smsc.count(`submit:${system.name}`);
  const respsBefore = await smsc.count(`receipt-resp:${system.name}`);
  const callbacksBefore = await sink.count(system.deliveredCallback);
  const allCallbacksBefore = await sink.count(`cb:${system.name}`);
  const cpuBefore = system.pids().reduce<number>((a, pid) => a + cpuSeconds(pid), 0);
  const peersBefore = { smsc: cpuSeconds(smsc.child.pid), sink: cpuSeconds(sink.child.pid) };
  const spec = system.load(requests, receivers, offset, withCallbacks);
  offset += messages;
  const load = await runLoad(spec);
  const acceptedMessages = load.accepted * receivers;
  const acceptRate = (acceptedMessages / Math.max(1, load.endedAt - load.startedAt)) * 1000;
  let e2e: PhaseResult['e2e'] = null;
  const result: PhaseResult = { requests, receivers, load, acceptRate, e2e, cpu: 0, peersCpu: { smsc: 0, sink: 0, load: load.cpu } };
  if (DISPATCHING || system.name === 'kannel') {
    const counter = withCallbacks ? system.deliveredCallback : `submit:${system.name}`;
    const base = withCallbacks ? callbacksBefore : submitsBefore;
    const w = await (withCallbacks ? sink : smsc).waitFor(counter, base + acceptedMessages);
    const seconds = (w.at - load.startedAt) / 1000;
    e2e = { rate: (w.count - base) / Math.max(0.001, seconds), reached: w.reached, count: w.count - base, seconds };
    result.e2e = e2e;
    if (withCallbacks) {
      result.receiptsCommitted = (await smsc.count(`receipt-resp:${system.name}`)) - respsBefore;
      result.callbacks = (await sink.count(`cb:${system.name}`)) - allCallbacksBefore;
    }
  }
  result.cpu = system.pids().reduce<number>((a, pid) => a + cpuSeconds(pid), 0) - cpuBefore;
  result.peersCpu.smsc = cpuSeconds(smsc.child.pid) - peersBefore.smsc;
  result.peersCpu.sink = cpuSeconds(sink.child.pid) - peersBefore.sink;
  smsc.send({ type: 'receipts', on: false });
  return result;
}

function describePhase(name: string, r: PhaseResult, unit: string): string {
  const l = r.load;
  const lines = [
    `  ${name}: ${fmt(l.accepted)} of ${fmt(r.requests)} requests accepted${r.receivers > 1 ? ` (${fmt(l.accepted * r.receivers)} receivers)` : ''} in ${((l.endedAt - l.startedAt) / 1000).toFixed(2)} s = ${fmt(r.acceptRate)} ${unit}/s; latency p50 ${l.p50Ms.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms${l.refused || l.errors ? `; ${l.refused} refused, ${l.errors} errors (first: ${l.firstRefusal})` : ''}`,
  ];
  if (r.e2e) {
    lines.push(
      `    end to end: ${fmt(r.e2e.count)} ${r.receiptsCommitted !== undefined ? 'delivered callbacks' : 'submit_sm at the SMSC'} ${r.e2e.seconds.toFixed(2)} s after the first request = ${fmt(r.e2e.rate)} msg/s${r.e2e.reached ? '' : ' (INCOMPLETE: stalled)'}`,
    );
  }
  if (r.receiptsCommitted !== undefined) {
    lines.push(
      `    receipts answered (deliver_sm_resp, after they are recorded): ${fmt(r.receiptsCommitted)}; callbacks received: ${fmt(r.callbacks ?? 0)}`,
    );
  }
  const msgs = r.e2e?.count ?? l.accepted * r.receivers;
  const p = r.peersCpu;
  lines.push(
    `    CPU of the system: ${r.cpu.toFixed(1)} s = ${((r.cpu * 1e6) / Math.max(1, msgs)).toFixed(0)} µs a message (meanwhile SMSC ${p.smsc.toFixed(1)} s, callback sink ${p.sink.toFixed(1)} s, load client ${p.load.toFixed(1)} s)`,
  );
  return lines.join('\n');
}

interface SystemResults {
  send?: PhaseResult;
  receipts?: PhaseResult;
  large?: PhaseResult;
  largeReceipts?: PhaseResult;
}

async function benchSystem(system: System, smsc: Peer, sink: Peer): Promise<SystemResults> {
  const out: SystemResults = {};
  const dispatching = DISPATCHING || system.name === 'kannel';
  if (WARMUP > 0) {
    const w = await runPhase(system, smsc, sink, 'warmup', WARMUP, 1);
    console.log(`  warm-up: ${fmt(w.load.accepted)} accepted${w.e2e ? `, ${fmt(w.e2e.count)} at the SMSC` : ''}`);
  }
  if (PHASES.includes('send')) {
    console.log(`  (load average ${loadavg()[0].toFixed(1)})`);
    out.send = await runPhase(system, smsc, sink, 'send', MESSAGES, 1);
    console.log(describePhase('send, one receiver a request', out.send, 'requests'));
  }
  if (PHASES.includes('receipts') && dispatching) {
    console.log(`  (load average ${loadavg()[0].toFixed(1)})`);
    out.receipts = await runPhase(system, smsc, sink, 'receipts', MESSAGES, 1);
    console.log(describePhase('with receipts and callbacks', out.receipts, 'requests'));
  }
  if (PHASES.includes('large') && system.name === 'relais') {
    console.log(`  (load average ${loadavg()[0].toFixed(1)})`);
    out.large = await runPhase(system, smsc, sink, 'large', LARGE_JOBS, RECEIVERS);
    console.log(describePhase(`large jobs, ${fmt(RECEIVERS)} receivers each`, out.large, 'receivers'));
  }
  if (PHASES.includes('large-receipts') && system.name === 'relais' && dispatching) {
    console.log(`  (load average ${loadavg()[0].toFixed(1)})`);
    out.largeReceipts = await runPhase(system, smsc, sink, 'large-receipts', LARGE_JOBS, RECEIVERS);
    console.log(describePhase(`large jobs with receipts and callbacks (the dispatch side alone, nearly)`, out.largeReceipts, 'receivers'));
  }
  return out;
}

/**
 * A summary of the V8 CPU profiles in `profileDir`: busy time, the top functions by self time, the
 * project's functions by inclusive time (time with everything they call), and self time by area
 * (a package of node_modules, a module of src, or Node's internals).
 */
function summariseProfile(profileDir: string, top = 20, only?: string): string {
  if (!existsSync(profileDir)) return '  (no profile written)';
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  const threads: string[] = [];
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (const f of readdirSync(profileDir).filter((n) => n.endsWith('.cpuprofile') && (!only || n === only))) {
    const p = JSON.parse(readFileSync(join(profileDir, f), 'utf8')) as {
      nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
      samples: number[];
      timeDeltas: number[];
    };
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const where = (url: string) => url.replace(/^file:\/\//, '').replace(`${root}/`, '');
    const label = (id: number) => {
      const n = byId.get(id)!;
      const w = where(n.callFrame.url);
      return `${n.callFrame.functionName || '(anonymous)'}${w ? ` ${w}:${n.callFrame.lineNumber + 1}` : ''}`;
    };
    const area = (url: string) => {
      const w = where(url);
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(w);
      if (pkg) return pkg[1];
      if (w.startsWith('src/')) return w.split('/').slice(0, -1).join('/');
      return w.startsWith('node:') ? 'node internals' : w || '(native, GC)';
    };
    let threadBusy = 0;
    p.samples.forEach((id, i) => {
      const dt = p.timeDeltas[i] ?? 0;
      const name = byId.get(id)!.callFrame.functionName;
      if (name === '(idle)') {
        idle += dt;
        return;
      }
      busy += dt;
      threadBusy += dt;
      add(self, label(id), dt);
      add(areas, area(byId.get(id)!.callFrame.url), dt);
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        if (!/^(src|dist)\//.test(where(byId.get(at)!.callFrame.url))) continue;
        const k = label(at);
        if (!seen.has(k)) {
          seen.add(k);
          add(inclusive, k, dt);
        }
      }
    });
    threads.push(`${(threadBusy / 1e6).toFixed(1)} s ${f.replace(/^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/, 'pid $1 thread $2')}`);
  }
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `    ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`)
      .join('\n');
  return [
    `  busy ${(busy / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s (percentages are of busy time)`,
    `  busy by thread: ${threads.join('; ')}`,
    '  self time by function:',
    rows(self),
    "  inclusive time of the project's functions:",
    rows(inclusive),
    '  self time by area:',
    rows(areas),
  ].join('\n');
}

function historyCounts(file: string): string {
  const db = new SqliteDatabase(file, { readonly: true });
  try {
    const rows = db.prepare('select status, count(*) as n from outgoing group by status order by status').all() as {
      status: string;
      n: number;
    }[];
    const queue = (db.prepare('select count(*) as n from dispatch_queue').get() as { n: number }).n;
    const outbox = (db.prepare('select count(*) as n from callback_outbox').get() as { n: number }).n;
    return `${rows.map((r) => `${r.status} ${fmt(r.n)}`).join(', ')}; queue ${fmt(queue)}, callback outbox ${fmt(outbox)}`;
  } finally {
    db.close();
  }
}

// ---- main ----------------------------------------------------------------------------------------

function kannelVersion(): string {
  try {
    return /version `([^']+)'/.exec(execFileSync('/usr/sbin/bearerbox', ['--version'], { encoding: 'utf8', stdio: 'pipe' }))?.[1] ?? '?';
  } catch (error) {
    const out = String((error as { stdout?: string }).stdout ?? '');
    return /version `([^']+)'/.exec(out)?.[1] ?? '?';
  }
}

async function main(): Promise<void> {
  console.log(
    `send benchmark: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0].toFixed(2)}, Node ${process.version}, Kannel ${kannelVersion()}`,
  );
  console.log(
    `  ${fmt(MESSAGES)} messages a phase, ${CLIENTS} keep-alive clients, SMPP window ${WINDOW}, one bind each, warm-up ${fmt(WARMUP)}; large jobs ${fmt(LARGE_JOBS)} × ${fmt(RECEIVERS)} receivers; temp dir ${dir}`,
  );
  const smsc = await Peer.start('smsc');
  const sink = await Peer.start('sink');
  const results: Record<string, SystemResults> = {};

  if (SYSTEMS.includes('kannel')) {
    console.log(`Kannel (bearerbox + smsbox, file store dumped every 5 s, dlr-mask 9 in the receipts phase):`);
    const kannel = await startKannel(smsc, sink);
    try {
      results.kannel = await benchSystem(kannel, smsc, sink);
    } finally {
      await kannel.stop();
    }
  }
  if (SYSTEMS.includes('relais')) {
    console.log(
      `Relais (node bin/relais.js serve, RELAIS_SERVICES=${SERVICES}, ${RELAIS_CHANNEL === 'http2sms' ? 'sent through http2sms GET' : RELAIS_CHANNEL === 'ovh-api' ? 'sent through OVH’s REST API, signed POST /1.0/sms/…/jobs' : 'native API POST …/jobs'}, SQLite, smpp://…?window=${WINDOW}&tps=0):`,
    );
    const relais = await startRelais(smsc, sink);
    try {
      results.relais = await benchSystem(relais, smsc, sink);
    } finally {
      await relais.stop();
    }
    console.log(`  history after the run: ${historyCounts(relais.file)}`);
    if (PROFILE) {
      const profileDir = join(dir, 'profile');
      console.log(`Relais CPU profile:\n${summariseProfile(profileDir)}`);
      // Then each busy thread alone: the serving thread and the dispatcher's do different work.
      for (const f of existsSync(profileDir) ? readdirSync(profileDir).filter((n) => n.endsWith('.cpuprofile')) : []) {
        const summary = summariseProfile(profileDir, 12, f);
        if (!/busy [0-9.]+ s/.test(summary) || /busy 0\.[0-4] s/.test(summary)) continue;
        console.log(`Relais CPU profile, ${f}:\n${summary}`);
      }
    }
  }

  const r = results.relais;
  const k = results.kannel;
  const cell = (n: number | undefined) => (n === undefined ? '—' : `${fmt(n)}/s`);
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '—' : `×${(a / b).toFixed(2)}`);
  const verdict = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? 'met' : 'NOT met');
  const rows: [string, string, string, string, string, string][] = [
    ['figure', 'goal', 'Relais', 'Kannel (here)', 'Relais/Kannel', ''],
    [
      RELAIS_CHANNEL === 'http2sms'
        ? 'acceptance, http2sms GET, 1 receiver'
        : RELAIS_CHANNEL === 'ovh-api'
          ? 'acceptance, OVH API signed POST, 1 receiver'
          : 'acceptance, 1 receiver a request',
      `≥ ${fmt(GOALS.acceptance)}/s`,
      cell(r?.send?.acceptRate),
      cell(k?.send?.acceptRate),
      ratio(r?.send?.acceptRate, k?.send?.acceptRate),
      verdict(r?.send ? r.send.acceptRate >= GOALS.acceptance : undefined),
    ],
    [
      `receivers in ${fmt(RECEIVERS)}-receiver jobs`,
      `≥ ${fmt(GOALS.largeJobs)}/s`,
      cell(r?.large?.acceptRate),
      '—',
      '—',
      verdict(r?.large ? r.large.acceptRate >= GOALS.largeJobs : undefined),
    ],
    [
      'end to end (→ submit_sm), msg/s',
      `≥ ×${GOALS.ratio} Kannel`,
      cell(r?.send?.e2e?.rate),
      cell(k?.send?.e2e?.rate),
      ratio(r?.send?.e2e?.rate, k?.send?.e2e?.rate),
      verdict(r?.send?.e2e && k?.send?.e2e ? r.send.e2e.rate >= GOALS.ratio * k.send.e2e.rate : undefined),
    ],
    [
      'with receipts + callbacks, msg/s',
      `≥ ×${GOALS.ratio} Kannel`,
      cell(r?.receipts?.e2e?.rate),
      cell(k?.receipts?.e2e?.rate),
      ratio(r?.receipts?.e2e?.rate, k?.receipts?.e2e?.rate),
      verdict(r?.receipts?.e2e && k?.receipts?.e2e ? r.receipts.e2e.rate >= GOALS.ratio * k.receipts.e2e.rate : undefined),
    ],
    [
      `${fmt(RECEIVERS)}-receiver jobs with receipts + callbacks, msg/s`,
      '(dispatch side)',
      cell(r?.largeReceipts?.e2e?.rate),
      '—',
      '—',
      '',
    ],
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  console.log('\nResult (2 cores shared with other work: rates are noisy, run more than once)');
  for (const row of rows) console.log(`  ${row.map((c, i) => c.padEnd(widths[i])).join('  ')}`);
  // CPU time a message is the figure a busy machine disturbs least (a single-threaded Node process
  // gets a smaller share of a loaded machine than Kannel's many threads do).
  const us = (p: PhaseResult | undefined) => (p ? (p.cpu * 1e6) / Math.max(1, p.e2e?.count ?? p.load.accepted * p.receivers) : undefined);
  const usCell = (n: number | undefined) => (n === undefined ? '—' : `${fmt(n)} µs (≈ ${fmt(1e6 / n)}/s a core)`);
  const cpuRows: [string, string, string, string][] = [
    ['CPU of the system a message', 'Relais', 'Kannel', 'Kannel/Relais'],
    ['send (accept + submit_sm)', usCell(us(r?.send)), usCell(us(k?.send)), ratio(us(k?.send), us(r?.send))],
    ['with receipts + callbacks', usCell(us(r?.receipts)), usCell(us(k?.receipts)), ratio(us(k?.receipts), us(r?.receipts))],
    [`${fmt(RECEIVERS)}-receiver jobs (accept + submit_sm)`, usCell(us(r?.large)), '—', '—'],
    [`${fmt(RECEIVERS)}-receiver jobs with receipts + callbacks`, usCell(us(r?.largeReceipts)), '—', '—'],
  ];
  const cw = cpuRows[0].map((_, i) => Math.max(...cpuRows.map((row) => row[i].length)));
  console.log('');
  for (const row of cpuRows) console.log(`  ${row.map((c, i) => c.padEnd(cw[i])).join('  ')}`);
  console.log(
    `  Kannel as quoted by the issue: ${fmt(KANNEL_QUOTED.accepted)} accepted/s, ${fmt(KANNEL_QUOTED.e2e)}/s to the SMSC, ${fmt(KANNEL_QUOTED.receipts)}/s with receipts and callbacks`,
  );
}

try {
  await main();
} finally {
  killAll();
  if (KEEP) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
