import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/server/config.js';
import { type Dialect, openDatabase } from '../src/server/db/database.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import { TEST_SECRET_KEY } from './app.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from './database.js';
import { freePort, waitUntil } from './relais-process.js';
import { inspectRun, SENDER, type SendingAccount, seedSendingAccount, statusCounts } from './send-run.js';
import { SmppClient } from './smpp-client.js';
import { startTestSmsc, type TestSmsc } from './smsc.js';
import { selfSignedCertificate } from './tls.js';

// Configuration and start-up as an operator meets them: `relais serve` as a real process, given bad
// RELAIS_* values, busy ports, bad certificates, subsets of services, signals. A start that cannot
// succeed must end at once, non-zero, with one line naming what to fix — never a process left running
// half started (ports open, a dispatcher sending, the database held); a stop must lose nothing.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/**
 * How long a failed start may take to say what is wrong (a first start migrates and fills a demo: slow on
 * a busy machine), and how long it may then take to end: past that, it hangs.
 */
const SAY_MS = 90_000;
const END_MS = 10_000;

/** The environment without the caller's RELAIS_* settings (the test database's URL excepted). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RELAIS_') || k.startsWith('RELAIS_TEST_')) env[k] = v;
  return env;
}

interface Ports {
  http: number;
  https: number;
  smtp: number;
  smpp: number;
  smppTls: number;
}

async function freePorts(): Promise<Ports> {
  const [http, https, smtp, smpp, smppTls] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  return { http, https, smtp, smpp, smppTls };
}

/** RELAIS_*_PORT for these ports (the SMPP/TLS one too: it is off unless set). */
function portEnv(p: Ports): Record<string, string> {
  return {
    RELAIS_HTTP_PORT: String(p.http),
    RELAIS_HTTPS_PORT: String(p.https),
    RELAIS_SMTP_PORT: String(p.smtp),
    RELAIS_SMPP_PORT: String(p.smpp),
    RELAIS_SMPP_TLS_PORT: String(p.smppTls),
  };
}

interface Served {
  child: ChildProcess;
  ports: Ports;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: string | null }>;
  gone(): boolean;
}

const running = new Set<Served>();
const scratchDirs: string[] = [];

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'relais-config-review-'));
  scratchDirs.push(dir);
  return dir;
}

/** `node bin/relais.js serve` with `env` over a clean environment and free loopback ports. */
async function serve(env: Record<string, string>, ports?: Ports): Promise<Served> {
  const p = ports ?? (await freePorts());
  const child = spawn(process.execPath, ['bin/relais.js', 'serve'], {
    cwd: ROOT,
    env: {
      ...cleanEnv(),
      NODE_NO_WARNINGS: '1',
      RELAIS_LOG_LEVEL: 'warn',
      RELAIS_ARGON2_TEST_FAST: '1',
      RELAIS_SECRET_KEY: TEST_SECRET_KEY,
      ...portEnv(p),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  let isGone = false;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      isGone = true;
      resolve({ code, signal });
    });
  });
  const served: Served = { child, ports: p, stdout: () => out, stderr: () => err, exited, gone: () => isGone };
  running.add(served);
  void exited.then(() => running.delete(served));
  return served;
}

async function killHard(s: Served): Promise<void> {
  if (!s.gone()) s.child.kill('SIGKILL');
  await s.exited;
}

/** Resolves once the banner is printed; throws (with the output) if the process ends first. */
async function untilRunning(s: Served, timeoutMs = 90_000): Promise<void> {
  await waitUntil(
    () => {
      if (s.gone()) throw new Error(`relais serve exited before it was ready:\n${s.stdout()}\n${s.stderr()}`);
      return s.stdout().includes('Relais is running');
    },
    'relais serve to start',
    timeoutMs,
    20,
  );
}

/** The exit, or null when the process is still running after `timeoutMs`. */
async function exitWithin(s: Served, timeoutMs: number): Promise<{ code: number | null; signal: string | null } | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    return await Promise.race([s.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether something accepts TCP connections on `host:port`. */
function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function openPorts(p: Ports): Promise<string[]> {
  const names = Object.keys(p) as (keyof Ports)[];
  const open = await Promise.all(names.map((n) => listening(p[n])));
  return names.filter((_, i) => open[i]);
}

/** What a start that must fail did: exited or hung, how, what it printed, which of its ports were open at the end. */
interface FailedStart {
  exited: boolean;
  code: number | null;
  stderrLines: string[];
  stackOrJsonError: boolean;
  openPorts: string[];
}

/**
 * Starts `relais serve` with `env`; once it exits, prints on stderr or prints its banner, gives it END_MS
 * to exit; notes its open ports, kills it.
 */
async function failedStart(env: Record<string, string>, ports?: Ports): Promise<FailedStart> {
  const s = await serve(env, ports);
  try {
    await waitUntil(
      () => s.gone() || s.stderr().trim() !== '' || s.stdout().includes('Relais is running'),
      'a word from relais serve',
      SAY_MS,
      20,
    );
    const exit = await exitWithin(s, END_MS);
    const open = await openPorts(s.ports);
    const all = `${s.stdout()}\n${s.stderr()}`;
    return {
      exited: exit !== null,
      code: exit?.code ?? null,
      stderrLines: s
        .stderr()
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
      // A stack trace, or pino's dump of an error object ("err":{…"stack":…}).
      stackOrJsonError: /^\s+at .+:\d+:\d+\)?$/m.test(all) || /"stack":/.test(all),
      openPorts: open,
    };
  } finally {
    await killHard(s);
  }
}

/** The shape every failed start must have: ended non-zero, one line naming `what`, no trace, nothing listening. */
function clearFailure(what: RegExp) {
  return { exited: true, code: 1, stderrLines: [expect.stringMatching(what)], stackOrJsonError: false, openPorts: [] };
}

/** A POST of a job on a connection of its own (no keep-alive): the answer, or the socket error's code. */
function postJobOnce(
  baseUrl: string,
  account: SendingAccount,
  receivers: string[],
): Promise<{ status: number; ids: number[] } | { error: string }> {
  const body = JSON.stringify({ message: 'Relais config review', receivers, sender: SENDER, noStopClause: true });
  return new Promise((resolve) => {
    const req = request(
      `${baseUrl}/api/v1/accounts/${account.name}/jobs`,
      {
        method: 'POST',
        agent: false,
        headers: {
          authorization: `Bearer ${account.token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => {
          let ids: number[] = [];
          try {
            ids = (JSON.parse(text) as { ids?: number[] }).ids ?? [];
          } catch {}
          resolve({ status: res.statusCode ?? 0, ids });
        });
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(body);
  });
}

/** `fn` over `items`, at most `width` at a time, the answers in the items' order. */
async function inParallel<T, R>(items: readonly T[], width: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

async function pendingOf(database: TestDatabase, ids: number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await database.db.selectFrom('outgoing').select('status').where('id', 'in', ids).execute();
  return rows.filter((r) => r.status === 'pending').length;
}

/**
 * A migrated database without customers (a first start fills it with a demo). SQLite in a directory of its
 * own: the demo's credentials file is written beside the database, and must not be another test's.
 */
async function emptyDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'postgres') return createTestDatabase('postgres');
  const url = `sqlite:${join(scratch(), 'relais.db')}`;
  const database = openDatabase(url, { nonBlockingLockWaits: true });
  await migrateToLatest(database);
  return { ...database, url };
}

/** A URL on 127.0.0.1 to that process's HTTP port. */
const base = (s: Served) => `http://127.0.0.1:${s.ports.http}`;

/** The SMSC carrier URL the process tests use: quick reconnections, no throttling. */
const carrierOf = (smsc: TestSmsc) => smsc.url('window=10&tps=0&enquire=0&reconnect_min=0.05&reconnect_max=0.5&timeout=5');

beforeAll(async () => {
  // Builds the bundle once, before processes start in parallel.
  await new Promise<void>((resolve) => {
    const c = spawn(process.execPath, ['bin/relais.js', '--help'], { cwd: ROOT, stdio: 'ignore' });
    c.once('exit', () => resolve());
  });
}, 120_000);

/** Kills every process still running (in sequential blocks only: concurrent tests kill their own). */
const killAll = async () => {
  await Promise.all([...running].map(killHard));
};

afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

describe('relais serve refuses a bad RELAIS_* value in one line, exits non-zero at once, and listens nowhere', () => {
  it('values the configuration reader knows to be wrong: numbers, ranges, names, URLs, zones (all at once)', async () => {
    const dir = scratch();
    const db = (n: number) => ({ RELAIS_DATABASE_URL: `sqlite:${join(dir, `bad-${n}.db`)}` });
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ RELAIS_HTTP_PORT: 'abc' }, /RELAIS_HTTP_PORT/],
      [{ RELAIS_HTTPS_PORT: '-1' }, /RELAIS_HTTPS_PORT/],
      [{ RELAIS_SMTP_PORT: '1e999' }, /RELAIS_SMTP_PORT/],
      [{ RELAIS_SMPP_PORT: '70000' }, /RELAIS_SMPP_PORT/],
      [{ RELAIS_SMPP_TLS_PORT: '0' }, /RELAIS_SMPP_TLS_PORT/],
      [{ RELAIS_SMTP_MAX_SIZE: '12.5' }, /RELAIS_SMTP_MAX_SIZE/],
      [{ RELAIS_CSV_DOWNLOAD_LIMIT: '0' }, /RELAIS_CSV_DOWNLOAD_LIMIT/],
      [{ RELAIS_DISPATCH_LEASE_MS: '1e999' }, /RELAIS_DISPATCH_LEASE_MS/],
      [{ RELAIS_HTTP2SMS_RATE_PER_IP: '-5' }, /RELAIS_HTTP2SMS_RATE_PER_IP/],
      [{ RELAIS_HTTP2SMS_RATE_PER_USER: 'many' }, /RELAIS_HTTP2SMS_RATE_PER_USER/],
      [{ RELAIS_HTTP2SMS_AUTH_FAILURES_PER_MINUTE: '1.5' }, /RELAIS_HTTP2SMS_AUTH_FAILURES_PER_MINUTE/],
      [{ RELAIS_API_AUTH_FAILURES_PER_MINUTE: 'ten' }, /RELAIS_API_AUTH_FAILURES_PER_MINUTE/],
      [{ RELAIS_SERVICES: 'http,mail2sms' }, /RELAIS_SERVICES/],
      [{ RELAIS_DEFAULT_TIMEZONE: 'Europe/Pariss' }, /RELAIS_DEFAULT_TIMEZONE/],
      [{ RELAIS_DATABASE_URL: 'mysql://relais@127.0.0.1/relais' }, /RELAIS_DATABASE_URL/],
      [{ RELAIS_SECRET_KEY: 'short' }, /RELAIS_SECRET_KEY/],
      [{ RELAIS_TRUST_PROXY: 'everyone' }, /RELAIS_TRUST_PROXY/],
      [{ RELAIS_CREDIT_RATES: '+33=free' }, /RELAIS_CREDIT_RATES/],
      [{ RELAIS_CALLBACK_PRIVATE: 'yes' }, /RELAIS_CALLBACK_PRIVATE/],
      [{ RELAIS_TLS_CERT: '/etc/relais/cert.pem' }, /RELAIS_TLS_CERT/],
      [{ RELAIS_CARRIER: 'twilio://x' }, /RELAIS_CARRIER/],
    ];
    const results = await inParallel(cases, 4, ([env], i) => failedStart({ ...db(i), ...env }));
    const wrong = cases.flatMap(([env, what], i) => {
      const r = results[i];
      const ok = r.exited && r.code === 1 && r.stderrLines.length === 1 && what.test(r.stderrLines[0]) && !r.stackOrJsonError;
      return ok && r.openPorts.length === 0 ? [] : [{ env, ...r }];
    });
    expect(wrong).toEqual([]);
  }, 600_000);

  // Values the configuration reader lets through: each fails later (or never), and each must still be
  // one line naming the variable, a non-zero exit, and no process left listening.
  const lateCases: Array<[string, Record<string, string>, RegExp]> = [
    ['RELAIS_HTTP_PORT=0 (a random port, announced as localhost:0)', { RELAIS_HTTP_PORT: '0' }, /RELAIS_HTTP_PORT/],
    ['RELAIS_LOG_LEVEL=loud', { RELAIS_LOG_LEVEL: 'loud' }, /RELAIS_LOG_LEVEL/],
    ['RELAIS_HOST=relais.invalid (no such name)', { RELAIS_HOST: 'relais.invalid' }, /RELAIS_HOST/],
    ['RELAIS_HOST=192.0.2.1 (an address not of this machine)', { RELAIS_HOST: '192.0.2.1' }, /RELAIS_HOST/],
    ['RELAIS_PUBLIC_URL=not a url', { RELAIS_PUBLIC_URL: 'not a url' }, /RELAIS_PUBLIC_URL/],
    ['RELAIS_CARRIER=smpp:// (no host)', { RELAIS_CARRIER: 'smpp://' }, /RELAIS_CARRIER/],
    [
      'RELAIS_CARRIER with an unknown option (windw=)',
      { RELAIS_CARRIER: 'smpp://relais:secret@127.0.0.1:2775?windw=10' },
      /RELAIS_CARRIER.*windw|windw.*RELAIS_CARRIER/,
    ],
    ['RELAIS_CARRIER=simulator?tsp=10 (an unknown option)', { RELAIS_CARRIER: 'simulator?tsp=10' }, /RELAIS_CARRIER/],
    ['RELAIS_SERVICES=" , " (no service at all)', { RELAIS_SERVICES: ' , ' }, /RELAIS_SERVICES/],
    ['RELAIS_SECURE_COOKIES=yes (neither 1 nor true: silently off)', { RELAIS_SECURE_COOKIES: 'yes' }, /RELAIS_SECURE_COOKIES/],
    [
      'RELAIS_DATABASE_URL to a PostgreSQL that does not answer',
      { RELAIS_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/relais' },
      /database.*127\.0\.0\.1:1|127\.0\.0\.1:1.*database|RELAIS_DATABASE_URL/i,
    ],
  ];
  it.concurrent.each(lateCases)(
    '%s',
    async (_name, env, what) => {
      const dir = scratch();
      const result = await failedStart({ RELAIS_DATABASE_URL: `sqlite:${join(dir, 'relais.db')}`, ...env });
      expect(result).toEqual(clearFailure(what));
    },
    240_000,
  );

  it('an unknown RELAIS_ variable (a typo such as RELAIS_HTTP_PROT) is warned about, naming it', async () => {
    const dir = scratch();
    const s = await serve({ RELAIS_DATABASE_URL: `sqlite:${join(dir, 'relais.db')}`, RELAIS_SERVICES: 'http', RELAIS_HTTP_PROT: '9090' });
    try {
      await untilRunning(s);
      expect(`${s.stdout()}\n${s.stderr()}`).toMatch(/RELAIS_HTTP_PROT/);
    } finally {
      await killHard(s);
    }
  }, 120_000);
});

describe('the documented defaults are the defaults', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const product = readFileSync(join(ROOT, '..', 'shared', 'PRODUCT.md'), 'utf8');

  /** `| \`RELAIS_X\` | default | meaning |` rows of a markdown table, as variable → default cell. */
  function defaultsOf(markdown: string): Map<string, string> {
    const rows = new Map<string, string>();
    for (const m of markdown.matchAll(/^\| `(RELAIS_[A-Z0-9_]+)` \| ([^|]*) \|/gm)) rows.set(m[1], m[2].trim());
    return rows;
  }

  /** What loadConfig({}) holds for each variable, written as the tables write defaults. */
  function actualDefault(variable: string): string | undefined {
    const c = loadConfig({});
    const shown: Record<string, string> = {
      RELAIS_DATABASE_URL: `\`${c.databaseUrl}\``,
      RELAIS_HTTP_PORT: `\`${c.httpPort}\``,
      RELAIS_HTTPS_PORT: `\`${c.httpsPort}\``,
      RELAIS_SMTP_PORT: `\`${c.smtpPort}\``,
      RELAIS_SMPP_PORT: `\`${c.smppPort}\``,
      RELAIS_SMPP_TLS_PORT: c.smppTlsPort === null ? 'off' : `\`${c.smppTlsPort}\``,
      RELAIS_HOST: `\`${c.host}\``,
      RELAIS_CARRIER: `\`${c.carrier}\``,
      RELAIS_SERVICES: c.services.length === 5 ? 'all' : c.services.join(','),
      RELAIS_CSV_DOWNLOAD_LIMIT: `\`${c.csvDownloadLimit}\``,
      RELAIS_DEFAULT_TIMEZONE: `\`${c.defaultTimeZone}\``,
      RELAIS_LOG_LEVEL: `\`${c.logLevel}\``,
      RELAIS_PUBLIC_URL: c.publicUrl === null ? '`http://localhost:PORT`' : c.publicUrl,
      RELAIS_DISPATCH_LEASE_MS: `\`${c.dispatchLeaseMs}\``,
      RELAIS_SECRET_KEY: c.secretKey === null ? 'file `relais-secret.key`' : c.secretKey,
      RELAIS_API_AUTH_FAILURES_PER_MINUTE: `\`${c.apiAuthFailuresPerMinute}\``,
      RELAIS_HTTP2SMS_AUTH_FAILURES_PER_MINUTE: `\`${c.http2smsRateLimit.authFailuresPerMinute}\``,
      RELAIS_TRUST_PROXY: c.trustProxy.length === 0 ? 'none' : c.trustProxy.join(','),
      RELAIS_SECURE_COOKIES: c.secureCookies ? 'on' : 'off',
      RELAIS_SMTP_MAX_SIZE: `\`${c.smtpMaxSize}\``,
      RELAIS_CREDIT_RATES: `\`${Object.entries(c.creditRates)
        .map(([prefix, rate]) => `${prefix}=${rate}`)
        .join(',')}\``,
      RELAIS_STOP_CLAUSE: `\`${c.stopClause}\``,
      RELAIS_CALLBACK_PRIVATE: c.callbackPrivate ? '`allow`' : '`deny`',
    };
    return shown[variable];
  }

  it('every default in the README and PRODUCT.md tables is what loadConfig({}) gives', () => {
    const documented = [...defaultsOf(readme), ...defaultsOf(product)];
    expect(documented.length).toBeGreaterThan(10);
    const differing = documented.filter(([variable, cell]) => actualDefault(variable) !== cell);
    expect(differing).toEqual([]);
  });

  it("the README's Configuration table lists every variable loadConfig reads (tests-only ones aside)", () => {
    const source = readFileSync(join(ROOT, 'src/server/config.ts'), 'utf8');
    const read = [...new Set([...source.matchAll(/'(RELAIS_[A-Z0-9_]+)'|env\.(RELAIS_[A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]))];
    const testsOnly = ['RELAIS_ARGON2_TEST_FAST'];
    const tabled = defaultsOf(readme);
    // A variable may share a row with its siblings ("also `RELAIS_HTTP2SMS_RATE_PER_IP` (200/s)…").
    const rows = readme.split('\n').filter((l) => l.startsWith('| `RELAIS_'));
    const missing = read.filter((v) => !testsOnly.includes(v) && !tabled.has(v) && !rows.some((r) => r.includes(`\`${v}\``)));
    expect(missing).toEqual([]);
  });
});

describe('relais serve with a port already in use: one line, non-zero, nothing left half started', () => {
  let blocker: Server;
  let busy: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    busy = (blocker.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  });

  const listeners: Array<[keyof Ports, string]> = [
    ['http', 'RELAIS_HTTP_PORT'],
    ['https', 'RELAIS_HTTPS_PORT'],
    ['smtp', 'RELAIS_SMTP_PORT'],
    ['smpp', 'RELAIS_SMPP_PORT'],
    ['smppTls', 'RELAIS_SMPP_TLS_PORT'],
  ];
  it.concurrent.each(listeners)(
    'every service, %s port busy: the process ends, naming %s; the SQLite file is free for the next start',
    async (listener, variable) => {
      const dir = scratch();
      const databaseUrl = `sqlite:${join(dir, 'relais.db')}`;
      const ports = { ...(await freePorts()), [listener]: busy };
      const result = await failedStart({ RELAIS_DATABASE_URL: databaseUrl }, ports);
      // The busy port is someone else's: only Relais's own ports must be closed.
      result.openPorts = result.openPorts.filter((p) => p !== listener);
      expect(result).toEqual(clearFailure(new RegExp(variable)));
      // Nothing holds the database: a start with free ports works.
      const next = await serve({ RELAIS_DATABASE_URL: databaseUrl });
      try {
        await untilRunning(next);
        expect(await listening(next.ports.http)).toBe(true);
      } finally {
        await killHard(next);
      }
    },
    240_000,
  );

  it('PostgreSQL, mail2sms port busy (the last listener but SMPP): the process ends, its dispatcher stopped', async () => {
    const database = await createTestDatabase('postgres');
    try {
      const ports = { ...(await freePorts()), smtp: busy };
      const result = await failedStart({ RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http,smtp,dispatcher' }, ports);
      result.openPorts = result.openPorts.filter((p) => p !== 'smtp');
      expect(result).toEqual(clearFailure(/RELAIS_SMTP_PORT/));
    } finally {
      await database.close();
    }
  }, 180_000);

  it('HTTP and HTTPS given the same port: refused before anything listens, naming both', async () => {
    const dir = scratch();
    const ports = await freePorts();
    const result = await failedStart(
      { RELAIS_DATABASE_URL: `sqlite:${join(dir, 'relais.db')}`, RELAIS_HTTPS_PORT: String(ports.http) },
      { ...ports, https: ports.http },
    );
    expect(result).toEqual(clearFailure(/RELAIS_HTTPS?_PORT.*RELAIS_HTTPS?_PORT/));
  }, 180_000);
});

describe('relais serve with TLS files it cannot use: one line naming the variable, nothing listening', () => {
  let good: Awaited<ReturnType<typeof selfSignedCertificate>>;
  let other: Awaited<ReturnType<typeof selfSignedCertificate>>;
  let files: { cert: string; key: string; junk: string; dir: string; otherKey: string };
  beforeAll(async () => {
    good = await selfSignedCertificate();
    other = await selfSignedCertificate();
    const dir = scratch();
    files = {
      cert: join(dir, 'cert.pem'),
      key: join(dir, 'key.pem'),
      junk: join(dir, 'junk.pem'),
      dir: join(dir, 'a-directory.pem'),
      otherKey: join(dir, 'other-key.pem'),
    };
    writeFileSync(files.cert, good.cert);
    writeFileSync(files.key, good.key);
    writeFileSync(files.otherKey, other.key);
    writeFileSync(files.junk, 'this is not PEM\n');
    mkdirSync(files.dir);
  });
  afterAll(() => {
    good?.remove();
    other?.remove();
  });

  const cases: Array<[string, () => Record<string, string>, RegExp]> = [
    ['a missing certificate file', () => ({ RELAIS_TLS_CERT: '/nonexistent/cert.pem', RELAIS_TLS_KEY: files.key }), /RELAIS_TLS_CERT/],
    [
      'a certificate path that is a directory (unreadable)',
      () => ({ RELAIS_TLS_CERT: files.dir, RELAIS_TLS_KEY: files.key }),
      /RELAIS_TLS_CERT/,
    ],
    ['a certificate file that is not PEM', () => ({ RELAIS_TLS_CERT: files.junk, RELAIS_TLS_KEY: files.key }), /RELAIS_TLS_CERT/],
    ['a key file that is not PEM', () => ({ RELAIS_TLS_CERT: files.cert, RELAIS_TLS_KEY: files.junk }), /RELAIS_TLS_KEY/],
    ['the key of another certificate', () => ({ RELAIS_TLS_CERT: files.cert, RELAIS_TLS_KEY: files.otherKey }), /RELAIS_TLS_KEY/],
    [
      'a missing certificate with mail2sms alone (its STARTTLS reads it)',
      () => ({ RELAIS_TLS_CERT: '/nonexistent/cert.pem', RELAIS_TLS_KEY: files.key, RELAIS_SERVICES: 'smtp' }),
      /RELAIS_TLS_CERT/,
    ],
  ];
  it.concurrent.each(cases)(
    '%s',
    async (_name, env, what) => {
      const dir = scratch();
      const result = await failedStart({ RELAIS_DATABASE_URL: `sqlite:${join(dir, 'relais.db')}`, ...env() });
      expect(result).toEqual(clearFailure(what));
    },
    240_000,
  );
});

for (const dialect of DIALECTS) {
  describe(`first and second start on an empty database [${dialect}]`, () => {
    afterEach(killAll);

    it('a SIGTERM while the first start fills its demo: the next start still gives a demo one can sign in to', async () => {
      const database = await emptyDatabase(dialect);
      try {
        // Real argon2 parameters: the demo's set-up takes as long as an operator's machine takes.
        const env = { RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http', RELAIS_ARGON2_TEST_FAST: '' };
        const first = await serve(env);
        await waitUntil(
          async () => {
            if (first.gone()) throw new Error(`exited: ${first.stderr()}`);
            return (await database.db.selectFrom('customers').select('id').execute()).length > 0;
          },
          'the demo customer to be written',
          90_000,
          5,
        );
        first.child.kill('SIGTERM');
        await exitWithin(first, 60_000);
        const second = await serve(env);
        await untilRunning(second);
        // PostgreSQL keeps no credentials file: the interrupted first start printed them as it stopped.
        const printed = dialect === 'sqlite' ? second.stdout() : `${first.stdout()}\n${second.stdout()}`;
        const signInLine = /^ {2}Sign in {3}(demo@relais\.local) \/ (\S+)$/m.exec(printed);
        expect(signInLine, printed).not.toBeNull();
        const signedIn = await fetch(`${base(second)}/api/v1/auth/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: signInLine![1], password: signInLine![2] }),
        });
        expect(signedIn.status).toBe(200);
      } finally {
        await killAll();
        await database.close();
      }
    }, 240_000);

    it('the first start prints the Manager URL and working demo credentials; the second makes no other demo (and prints them again only from the SQLite credentials file)', async () => {
      const database = await emptyDatabase(dialect);
      try {
        const env = { RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http' };
        const first = await serve(env);
        await untilRunning(first);
        const banner = first.stdout();
        expect(banner).toContain(`  Manager   http://localhost:${first.ports.http}/`);
        const signInLine = /^ {2}Sign in {3}(demo@relais\.local) \/ (\S+)$/m.exec(banner);
        expect(signInLine, banner).not.toBeNull();
        const [, email, password] = signInLine!;
        const signedIn = await fetch(`${base(first)}/api/v1/auth/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password }),
        });
        expect(signedIn.status).toBe(200);
        first.child.kill('SIGTERM');
        expect(await exitWithin(first, 60_000)).toEqual({ code: 0, signal: null });

        const second = await serve(env);
        await untilRunning(second);
        const customers = await database.db.selectFrom('customers').select('email').execute();
        const accounts = await database.db.selectFrom('accounts').select('name').execute();
        expect({ customers: customers.map((c) => c.email), accounts: accounts.map((a) => a.name) }).toEqual({
          customers: ['demo@relais.local'],
          accounts: ['sms-de00001-1'],
        });
        // Product decision: while the demo credentials file exists (SQLite: beside the database), every
        // start prints how to sign in, as the README promises; PostgreSQL keeps no such file.
        if (dialect === 'sqlite') expect(second.stdout()).toContain(`demo@relais.local / ${password}`);
        else expect(second.stdout()).not.toContain(password);
      } finally {
        await killAll();
        await database.close();
      }
    }, 120_000);
  });

  describe(`RELAIS_SERVICES subsets [${dialect}]`, () => {
    afterEach(killAll);
    let database: TestDatabase;
    let account: SendingAccount;
    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      account = await seedSendingAccount(database, 1000);
    });
    afterAll(async () => {
      await Promise.all([...running].map(killHard));
      await database?.close();
    });

    it('http alone: accepts, leaves the message pending, opens no other port; dispatcher alone: opens no port, announces no Manager, sends it', async () => {
      const http = await serve({ RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http' });
      await untilRunning(http);
      const answer = await postJobOnce(base(http), account, ['+33612340001']);
      expect(answer).toMatchObject({ status: 200, ids: [expect.any(Number)] });
      const ids = 'ids' in answer ? answer.ids : [];
      expect(await openPorts(http.ports)).toEqual(['http']);
      expect(http.stdout()).not.toMatch(/Mail2SMS|SMPP|HTTPS/);
      // It sends nothing itself: its banner says so rather than naming a carrier it does not use.
      expect(http.stdout()).toContain('Relais is running — no dispatcher in this process (RELAIS_SERVICES)');
      expect(http.stdout()).not.toContain('SIMULATOR');
      // No dispatcher anywhere: the simulator would have sent it within milliseconds.
      await new Promise((r) => setTimeout(r, 2500));
      expect(await pendingOf(database, ids)).toBe(1);

      const dispatcher = await serve({ RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'dispatcher' });
      await untilRunning(dispatcher);
      expect(await openPorts(dispatcher.ports)).toEqual([]);
      await waitUntil(async () => (await pendingOf(database, ids)) === 0, 'the dispatcher-only process to send it', 30_000, 100);
      // It serves no web page: a banner pointing the operator at a Manager URL here is wrong.
      expect(dispatcher.stdout()).not.toMatch(/Manager {3}http/);
      expect(dispatcher.stdout()).toContain('Relais is running — carrier: built-in SIMULATOR');
    }, 120_000);

    it('http,smtp: mail2sms listens, SMPP and HTTPS do not; RELAIS_HOST unset binds loopback only (127.0.0.2 is refused, as documented)', async () => {
      const s = await serve({ RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http,smtp' });
      await untilRunning(s);
      expect(await openPorts(s.ports)).toEqual(['http', 'smtp']);
      expect([await listening(s.ports.http, '127.0.0.2'), await listening(s.ports.smtp, '127.0.0.2')]).toEqual([false, false]);
      // The check can tell: with 0.0.0.0, 127.0.0.2 reaches it.
      const everywhere = await serve({ RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http', RELAIS_HOST: '0.0.0.0' });
      await untilRunning(everywhere);
      expect(await listening(everywhere.ports.http, '127.0.0.2')).toBe(true);
    }, 120_000);
  });

  describe(`SIGTERM and SIGINT: a graceful stop that loses nothing [${dialect}]`, () => {
    afterEach(killAll);
    let database: TestDatabase;
    let account: SendingAccount;
    let smsc: TestSmsc;
    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      account = await seedSendingAccount(database, 100_000);
      smsc = await startTestSmsc({ behaviour: { responseDelayMs: 150, autoReceipt: { stat: 'DELIVRD', delayMs: 50 } } });
    });
    afterAll(async () => {
      await Promise.all([...running].map(killHard));
      await smsc?.close();
      await database?.close();
    });

    it('SIGTERM with jobs in flight: each request answered or refused, exit 0; after a restart every accepted message is sent exactly once', async () => {
      const env = { RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http,dispatcher', RELAIS_CARRIER: carrierOf(smsc) };
      const first = await serve(env);
      await untilRunning(first);
      let n = 0;
      const receivers = (k: number) => Array.from({ length: k }, () => `+3361${String(2_000_000 + n++).padStart(7, '0')}`);
      // A stream of jobs from 8 clients; SIGTERM in the middle of it.
      let stop = false;
      const answers: Array<({ status: number; ids: number[] } | { error: string }) & { receivers: string[] }> = [];
      const clients = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const to = receivers(5);
          const a = await postJobOnce(base(first), account, to);
          answers.push({ ...a, receivers: to });
          if ('error' in a) break;
        }
      });
      await waitUntil(() => smsc.submits.length >= 20, 'some submits at the SMSC', 30_000, 10);
      first.child.kill('SIGTERM');
      const exit = await exitWithin(first, 60_000);
      stop = true;
      await Promise.all(clients);
      expect(exit, first.stdout() + first.stderr()).toEqual({ code: 0, signal: null });
      // Connections refused once the port closed are fine, and so is a reset of a connection the server had
      // not taken yet (the kernel resets its listening queue): nothing was accepted. A job accepted whose
      // answer never came is not: its client will send it again.
      const failed = answers.filter((a) => 'error' in a).flatMap((a) => a.receivers);
      const acceptedUnanswered =
        failed.length === 0
          ? []
          : await database.db.selectFrom('outgoing').select(['id', 'receiver']).where('receiver', 'in', failed).execute();
      const refusedWithStatus = answers.filter((a) => 'status' in a && a.status !== 200 && a.status !== 503);
      expect({ acceptedUnanswered, refusedWithStatus }).toEqual({ acceptedUnanswered: [], refusedWithStatus: [] });
      const accepted = answers.flatMap((a) => ('ids' in a && a.status === 200 ? a.ids : []));
      expect(accepted.length).toBeGreaterThan(0);

      const second = await serve(env);
      await untilRunning(second);
      await waitUntil(
        async () => (await pendingOf(database, accepted)) === 0,
        'every accepted message sent after the restart',
        90_000,
        200,
        async () => JSON.stringify(await statusCounts(database, account.id)),
      );
      const run = await inspectRun(database, account, smsc);
      const rows = new Set(run.messages.map((m) => m.id));
      expect({
        lost: accepted.filter((id) => !rows.has(id)).length,
        missingAtSmsc: run.missing.length,
        sentTwice: run.duplicatedMessages,
        badJobs: run.badJobs.length,
      }).toEqual({ lost: 0, missingAtSmsc: 0, sentTwice: 0, badJobs: 0 });
    }, 240_000);

    it('SIGINT (Ctrl+C) stops it the same way: exit 0, every port closed', async () => {
      const s = await serve({ RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http,smtp,smpp,dispatcher' });
      await untilRunning(s);
      // Answered once: its event loop has run since the banner (signals before that: see the first start's test).
      expect((await fetch(`${base(s)}/api/v1/auth/me`)).status).toBeLessThan(500);
      s.child.kill('SIGINT');
      expect(await exitWithin(s, 60_000)).toEqual({ code: 0, signal: null });
      expect(await openPorts(s.ports)).toEqual([]);
    }, 120_000);

    it('SIGTERM with an idle SMTP session and a bound SMPP client open: it still exits 0', async () => {
      const s = await serve({ RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http,smtp,smpp,dispatcher' });
      await untilRunning(s);
      const smtp: Socket = connect({ port: s.ports.smtp, host: '127.0.0.1' });
      smtp.on('error', () => {});
      await new Promise((r) => smtp.once('data', r));
      const smpp = await SmppClient.open(s.ports.smpp);
      // Bound or refused, the connection stays open.
      await smpp.request('bind_transceiver', { system_id: `${account.name}:nobody`, password: 'x' }).catch(() => null);
      s.child.kill('SIGTERM');
      const exit = await exitWithin(s, 60_000);
      smtp.destroy();
      smpp.close();
      expect(exit).toEqual({ code: 0, signal: null });
    }, 120_000);

    it('a second SIGTERM during the stop does not cut it short: exit 0, and the next start finds everything', async () => {
      const env = { RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http,smtp,dispatcher', RELAIS_CARRIER: carrierOf(smsc) };
      const s = await serve(env);
      await untilRunning(s);
      const answer = await postJobOnce(base(s), account, ['+33612349999']);
      const ids = 'ids' in answer ? answer.ids : [];
      expect(ids).toHaveLength(1);
      // An idle SMTP session keeps the stop busy for a while (mail2sms lets sessions finish).
      const smtp: Socket = connect({ port: s.ports.smtp, host: '127.0.0.1' });
      smtp.on('error', () => {});
      await new Promise((r) => smtp.once('data', r));
      s.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      if (!s.gone()) s.child.kill('SIGTERM');
      const exit = await exitWithin(s, 60_000);
      smtp.destroy();
      expect.soft(exit, 'a second SIGTERM killed it mid-stop').toEqual({ code: 0, signal: null });
      const next = await serve(env);
      await untilRunning(next);
      await waitUntil(async () => (await pendingOf(database, ids)) === 0, 'the message sent', 90_000, 200);
      const rows = await database.db.selectFrom('outgoing').select('id').where('id', 'in', ids).execute();
      expect(rows).toHaveLength(1);
    }, 240_000);
  });
}

describe('two relais serve on one SQLite file', () => {
  afterEach(killAll);
  let database: TestDatabase;
  let account: SendingAccount;
  let smsc: TestSmsc;
  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    account = await seedSendingAccount(database, 100_000);
    smsc = await startTestSmsc({ behaviour: { autoReceipt: { stat: 'DELIVRD', delayMs: 20 } } });
  });
  afterAll(async () => {
    await Promise.all([...running].map(killHard));
    await smsc?.close();
    await database?.close();
  });

  it('the second either refuses in one clear line or both run: nothing corrupted, every message sent once', async () => {
    const env = { RELAIS_DATABASE_URL: database.url, RELAIS_SERVICES: 'http,dispatcher', RELAIS_CARRIER: carrierOf(smsc) };
    const a = await serve(env);
    await untilRunning(a);
    const b = await serve(env);
    const bExit = await Promise.race([untilRunning(b).then(() => null), b.exited]);
    const servers = bExit === null ? [a, b] : [a];
    if (bExit !== null) {
      const lines = b.stderr().trim().split('\n').filter(Boolean);
      expect({ code: bExit.code, lines: lines.length }).toEqual({ code: 1, lines: 1 });
    }
    const ids: number[] = [];
    const first = 20_000_000 + Number.parseInt(randomBytes(2).toString('hex'), 16) * 100;
    let n = 0;
    await Promise.all(
      Array.from({ length: 6 }, async (_, client) => {
        for (let j = 0; j < 10; j++) {
          const server = servers[(client + j) % servers.length];
          const a = await postJobOnce(`http://127.0.0.1:${server.ports.http}`, account, [`+336${first + n++}`, `+336${first + n++}`]);
          if ('ids' in a && a.status === 200) ids.push(...a.ids);
          else throw new Error(`job refused: ${JSON.stringify(a)}`);
        }
      }),
    );
    await waitUntil(async () => (await pendingOf(database, ids)) === 0, 'every message sent', 60_000, 100);
    const run = await inspectRun(database, account, smsc);
    const integrity = await database.db.selectFrom('accounts').select('credits').where('id', '=', account.id).executeTakeFirstOrThrow();
    expect({ sentTwice: run.duplicatedMessages, missing: run.missing.length, debited: 100_000 - integrity.credits }).toEqual({
      sentTwice: 0,
      missing: 0,
      debited: ids.length,
    });
  }, 180_000);
});
