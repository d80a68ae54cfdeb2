import { randomBytes } from 'node:crypto';
import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/server/clock.js';
import { openDatabase } from '../src/server/db/database.js';
import type { DB } from '../src/server/db/schema.js';
import { RECENT_READ_TTL_MS, SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { SESSION_COOKIE } from '../src/server/modules/auth/auth.plugin.js';
import { RETENTION_ACTOR } from '../src/server/modules/history/privacy-keeper.js';
import { composeServices, type Services } from '../src/server/services.js';
import { testConfig } from './app.js';
import { createTestDatabase, TEST_POSTGRES_URL, type TestDatabase } from './database.js';
import { createAccount, createCustomer, createSender, createSmsUser, createToken } from './factories.js';
import { type HttpListener, startHttpListener } from './http-listener.js';
import { ALL_RULES, ovhHeaders } from './ovh.js';
import {
  freePort,
  killAllRelaisProcesses,
  partKey,
  type ReceiptPump,
  type RelaisProcess,
  startReceiptPump,
  startRelaisProcess,
  waitUntil,
} from './relais-process.js';
import { planJobs, postJob, type SendingAccount } from './send-run.js';
import { SmppClient } from './smpp-client.js';
import { startTestSmsc, type TestSmsc } from './smsc.js';
import { mailVia } from './smtp-client.js';

/*
 * Adversarial review of Relais scaled out (PRODUCT.md "Where it runs": several Relais processes against
 * one PostgreSQL behind a load balancer, every dispatcher safe to run concurrently; README "Scaling out to
 * PostgreSQL"). Real `relais serve` processes, a real PostgreSQL, a loopback SMSC and a callback receiver.
 * The load balancer has no stickiness: consecutive requests of one client go to either process.
 * test/two-servers.test.ts (10,000 messages through two dispatchers) and test/crash-recovery.test.ts
 * (kill -9 and restart of one process) are not repeated here.
 */

/** The server secret every process of the cluster shares (README: "Give every Relais sharing one PostgreSQL database the same"). */
const SECRET = `scale-out-review-${'0123456789abcdef'.repeat(3)}`;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** A documented cross-process delay ("within 2 s in the others"), plus a margin for a loaded machine. */
const AFTER_RECENT_READ = RECENT_READ_TTL_MS + 800;
/** Kysely's migration lock (kysely/dist/esm/dialect/postgres/postgres-adapter.js LOCK_ID): what `migrateToLatest` waits for. */
const MIGRATION_LOCK = '3853314791062309107';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// HTTP helpers: every request names its client in X-Forwarded-For (the processes trust loopback, as
// they would trust their load balancer), so that per-client limits of one test never touch another.

let nextClient = 1;
/** A client address of its own (TEST-NET-3). */
const newClient = () => `203.0.113.${nextClient++}`;

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, read field by field
  body: any;
  text: string;
}

async function call(
  p: RelaisProcess,
  method: string,
  path: string,
  options: { token?: string; session?: Session; csrf?: boolean; body?: unknown; client?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { 'x-forwarded-for': options.client ?? '198.51.100.1', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.session) {
    headers.cookie = options.session.cookie;
    if (options.csrf !== false) headers['x-csrf-token'] = options.session.csrfToken;
  }
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${p.baseUrl}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, text };
}

interface Session {
  cookie: string;
  csrfToken: string;
}

async function signIn(p: RelaisProcess, email: string, password: string, client = newClient()): Promise<Session> {
  const res = await fetch(`${p.baseUrl}/api/v1/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
    body: JSON.stringify({ email, password }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`sign-in answered ${res.status}: ${text}`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!cookie) throw new Error('no session cookie');
  return { cookie, csrfToken: (JSON.parse(text) as { csrfToken: string }).csrfToken };
}

/** A sign-in attempt's HTTP status (200, 401 wrong password, 429 limited). */
async function signInStatus(p: RelaisProcess, email: string, password: string, client: string): Promise<number> {
  const res = await fetch(`${p.baseUrl}/api/v1/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
    body: JSON.stringify({ email, password }),
  });
  await res.text();
  return res.status;
}

/** http2sms with OVH's JSON answer (`status` 100 when accepted). */
async function http2sms(
  p: RelaisProcess,
  params: Record<string, string>,
): Promise<{ status: number; message?: string; smsIds?: string[] }> {
  const res = await fetch(`${p.baseUrl}/cgi-bin/sms/http2sms.cgi?${new URLSearchParams({ ...params, contentType: 'text/json' })}`, {
    headers: { 'x-forwarded-for': newClient() },
  });
  return (await res.json()) as { status: number; message?: string; smsIds?: string[] };
}

/** A signed OVH request (the npm client's way: `https://host/1.0/…` without the port). */
async function ovhSigned(
  p: RelaisProcess,
  keys: { appKey: string; appSecret: string; consumerKey: string },
  method: string,
  path: string,
): Promise<Answer> {
  const host = new URL(p.baseUrl).host;
  const { host: _host, ...headers } = ovhHeaders(keys, { method, url: `/1.0${path}`, host });
  return call(p, method, `/1.0${path}`, { headers });
}

// ---------------------------------------------------------------------------------------------------
// Database helpers.

/** `n` history rows of an account written directly (as a bulk import would), ids in creation order. */
async function fillHistory(
  database: TestDatabase,
  accountId: number,
  n: number,
  row: { createdAt: number; status: string; message?: string; validUntil?: number | null; receiverBase: number },
): Promise<void> {
  const sentAt = row.status === 'pending' ? null : row.createdAt + 1000;
  const deliveredAt = row.status === 'delivered' ? row.createdAt + 2000 : null;
  await sql`insert into outgoing (account_id, user_login, channel, sender, receiver, message, encoding, parts, credits, tag, status,
      priority, created_at, sent_at, delivered_at, valid_until)
    select ${accountId}::bigint, '', 'api', 'Relais', '+336' || (${row.receiverBase}::bigint + g)::text, ${row.message ?? ''}, 'gsm7', 1, 1, '',
      ${row.status}, 1, ${row.createdAt}::bigint + g, ${sentAt}::bigint + g, ${deliveredAt}::bigint + g, ${row.validUntil ?? null}::bigint
    from generate_series(1, ${n}::int) as g`.execute(database.db);
}

/** The account's history rows, those matching `where` when given. */
async function countRows(
  database: TestDatabase,
  accountId: number,
  where?: (eb: ExpressionBuilder<DB, 'outgoing'>) => Expression<SqlBool>,
): Promise<number> {
  const row = await database.db
    .selectFrom('outgoing')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .$if(where !== undefined, (qb) => qb.where(where!))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function auditsOf(database: TestDatabase, accountId: number) {
  return database.db
    .selectFrom('deletion_audit')
    .select(['id', 'actor', 'kind', 'count', 'delete_job_id'])
    .where('account_id', '=', accountId)
    .orderBy('id')
    .execute();
}

/**
 * Locks every history row of an account in a transaction of its own (another client of the database,
 * say a report or a long export holding them): a delete job reaching them waits there, still `running`,
 * for as long as the test needs. `release` ends the transaction.
 */
async function holdRows(url: string, accountId: number): Promise<{ release(): Promise<void> }> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: parsed.toString(), options: schema ? `-c search_path=${schema},public` : undefined });
  await client.connect();
  await client.query('begin');
  await client.query('select id from outgoing where account_id = $1 for update', [accountId]);
  return {
    async release() {
      await client.query('commit');
      await client.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------------

describe('relais serve processes starting together on an empty PostgreSQL database', () => {
  const dropped: (() => Promise<void>)[] = [];

  /** A new, empty database (not even the pg_trgm extension), dropped after the block. */
  async function emptyDatabase(): Promise<string> {
    const name = `relais_scale_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await c.connect();
    await c.query(`create database ${name}`);
    await c.end();
    dropped.push(async () => {
      const d = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await d.connect();
      await d.query(`drop database if exists ${name} with (force)`);
      await d.end();
    });
    const u = new URL(TEST_POSTGRES_URL);
    u.pathname = `/${name}`;
    return u.toString();
  }

  // Production argon2 parameters (RELAIS_ARGON2_TEST_FAST unset): the first start's demo takes as long as it does in production.
  const start = (url: string) =>
    startRelaisProcess({
      databaseUrl: url,
      carrier: 'simulator',
      env: { RELAIS_SERVICES: 'http', RELAIS_SECRET_KEY: SECRET, RELAIS_ARGON2_TEST_FAST: '0', RELAIS_LOG_LEVEL: 'info' },
    });

  /** Locks `table` in SHARE mode (its inserts wait) on `client` in a transaction, as soon as a migration has made it. */
  async function lockOnceMade(client: pg.Client, table: string): Promise<void> {
    await waitUntil(
      async () => {
        await client.query('begin');
        try {
          await client.query("set local lock_timeout = '100ms'");
          await client.query(`lock table ${table} in share mode`);
          return true;
        } catch {
          await client.query('rollback');
          return false;
        }
      },
      `the ${table} table made by the migration`,
      60_000,
      5,
    );
  }

  /** Requests waiting for a lock in the database of `client`, matching `what`. */
  const waiters = async (client: pg.Client, what: string) =>
    Number((await client.query(`select count(*) as n from pg_locks where not granted and ${what}`)).rows[0].n);

  afterAll(async () => {
    await killAllRelaisProcesses();
    for (const drop of dropped) await drop();
  });

  it('both start: the schema is migrated once and the first-start demo is made once', { timeout: 120_000 }, async () => {
    const url = await emptyDatabase();
    // Started "at the same moment": the processes' own start-up times differ by a second or two on a
    // loaded machine, so the test lines them up where they meet anyway, at the migration lock (Kysely's
    // advisory lock), held here until both wait for it.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`select pg_advisory_lock(${MIGRATION_LOCK})`);
    const starting = [start(url), start(url)];
    const inserts = new pg.Client({ connectionString: url });
    try {
      await waitUntil(
        async () => (await waiters(admin, "locktype = 'advisory'")) === 2,
        'both processes at the migration lock',
        60_000,
        20,
      );
      // The first process to get the lock migrates; the other waits, then finds nothing to do. Then each
      // makes the first start's demo unless it finds a customer. The demo's first write (the customer,
      // after an argon2 hash of its password) is held here until both processes wait to make it: what two
      // processes a few milliseconds apart do without the hold, when the second one reads "no customer"
      // before the first one's insert is committed.
      await inserts.connect();
      await admin.query(`select pg_advisory_unlock(${MIGRATION_LOCK})`);
      await lockOnceMade(inserts, 'customers');
      await waitUntil(
        async () => (await waiters(admin, "locktype = 'relation' and relation = 'customers'::regclass")) === 2,
        'both processes making the demo',
        20_000,
        20,
      ).catch(() => {});
      await inserts.query('commit');
    } finally {
      await inserts.end().catch(() => {});
      await admin.end();
    }
    const started = await Promise.allSettled(starting);
    const failures = started.flatMap((s) => (s.status === 'rejected' ? [String((s.reason as Error).message).slice(0, 3000)] : []));
    const database = openDatabase(url, { poolSize: 2 });
    try {
      const migrations = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(database.db);
      const demoCustomers = await database.db.selectFrom('customers').select('id').where('email', '=', 'demo@relais.local').execute();
      const demoMessages = await sql<{ n: number }>`select count(*)::int as n from outgoing`.execute(database.db);
      expect({
        failures,
        migrationsApplied: migrations.rows[0].n > 0,
        demoCustomers: demoCustomers.length,
        demoMessages: demoMessages.rows[0].n,
      }).toEqual({ failures: [], migrationsApplied: true, demoCustomers: 1, demoMessages: 400 });
    } finally {
      await database.close();
      for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
    }
  });

  it('one started while the other is still making the demo leaves it alone: 400 messages, and every password a banner printed signs in', {
    timeout: 120_000,
  }, async () => {
    const url = await emptyDatabase();
    // The first process makes the demo; its last step (the history rows) waits here, as a slow disk would
    // make it wait, while a second process starts (a rolling start, a replica scheduled a moment later).
    const history = new pg.Client({ connectionString: url });
    await history.connect();
    const first = start(url);
    let second: Promise<RelaisProcess> | undefined;
    try {
      await lockOnceMade(history, 'outgoing');
      const outgoingWaiters = () => waiters(history, "locktype = 'relation' and relation = 'outgoing'::regclass");
      await waitUntil(async () => (await outgoingWaiters()) === 1, 'the first process writing the demo history', 60_000, 20);
      second = start(url);
      let secondUp = false;
      void second.then(
        () => {
          secondUp = true;
        },
        () => {
          secondUp = true;
        },
      );
      // The second one starts (leaving the demo to the first), waits for the first to finish it (the
      // first start's lock), or it starts making the demo too.
      const firstStartWaiters = () => waiters(history, "locktype = 'advisory'");
      await waitUntil(
        async () => secondUp || (await outgoingWaiters()) === 2 || (await firstStartWaiters()) === 1,
        'the second process started, waiting for the demo, or making it',
        60_000,
        20,
      );
      await history.query('commit');
    } finally {
      await history.end().catch(() => {});
    }
    const started = await Promise.allSettled([first, second ?? Promise.reject(new Error('not started'))]);
    const failures = started.flatMap((s) => (s.status === 'rejected' ? [String((s.reason as Error).message).slice(0, 3000)] : []));
    const up = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      // Each banner's "Sign in   demo@relais.local / PASSWORD", tried on the process that printed it.
      const printed = up.flatMap((p) => {
        const m = /Sign in\s+(\S+@\S+) \/ (\S+)/.exec(p.output());
        return m ? [{ p, email: m[1], password: m[2] }] : [];
      });
      const signIns = await Promise.all(printed.map((c) => signInStatus(c.p, c.email, c.password, newClient())));
      const database = openDatabase(url, { poolSize: 2 });
      try {
        const demoMessages = await sql<{ n: number }>`select count(*)::int as n from outgoing`.execute(database.db);
        expect({ failures, printed: printed.length > 0, signIns, demoMessages: demoMessages.rows[0].n }).toEqual({
          failures: [],
          printed: true,
          signIns: printed.map(() => 200),
          demoMessages: 400,
        });
      } finally {
        await database.close();
      }
    } finally {
      for (const p of up) await p.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------------

describe('a cluster of relais serve behind a load balancer without stickiness, on one PostgreSQL', () => {
  let database: TestDatabase;
  let services: Services;
  let smsc: TestSmsc;
  let pump: ReceiptPump;
  let receiver: HttpListener;
  /** Every callback the receiver got: message id, status, and which account's URL it called. */
  const callbacks: { id: number; status: string; acc: string }[] = [];
  let carrier: string;
  let a: RelaisProcess;
  let b: RelaisProcess;
  const ports = new Map<RelaisProcess, { smtp: number; smpp: number }>();
  let startedAt = 0;

  let owner: { email: string; password: string };
  let main: SendingAccount;
  let ops: { name: string; id: number };
  let ret: { name: string; id: number };
  let exp: { name: string; id: number };
  let del1: { name: string; id: number; token: string };
  let del2: { name: string; id: number; token: string };

  const RET_OLD = 6_000;
  const RET_OLD_PENDING = 5;
  const RET_REDACTABLE = 1_000;
  const RET_RECENT = 100;
  const EXP_SENT = 150;
  const DEL_ROWS = 30_000;

  async function startMember(extra: Record<string, string> = {}): Promise<RelaisProcess> {
    const smtp = await freePort();
    const smpp = await freePort();
    const p = await startRelaisProcess({
      databaseUrl: database.url,
      carrier,
      env: {
        RELAIS_SERVICES: 'http,smtp,smpp,dispatcher',
        RELAIS_SMTP_PORT: String(smtp),
        RELAIS_SMPP_PORT: String(smpp),
        RELAIS_TRUST_PROXY: 'loopback',
        RELAIS_CALLBACK_PRIVATE: 'allow',
        RELAIS_SECRET_KEY: SECRET,
        RELAIS_DISPATCH_LEASE_MS: '3000',
        RELAIS_LOG_LEVEL: 'info',
        ...extra,
      },
    });
    ports.set(p, { smtp, smpp });
    return p;
  }

  /** Lines of a process's log at warn level or above, as `level msg message` (what an operator would be paged for). */
  const problems = (p: RelaisProcess) => p.warnings().map((w) => `${w.level} ${w.msg} ${String(w.message ?? w.err ?? '')}`.slice(0, 300));

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    services = composeServices({ config: testConfig({ secretKey: SECRET }), database, clock: systemClock });
    receiver = await startHttpListener((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      callbacks.push({
        id: Number(u.searchParams.get('id')),
        status: u.searchParams.get('status') ?? '',
        acc: u.searchParams.get('acc') ?? '',
      });
      res.end('ok');
    });
    smsc = await startTestSmsc();
    pump = startReceiptPump(smsc);
    // 100 submits a second per process at most: a run of a few thousand messages is still in flight when a process is killed.
    carrier = smsc.url('window=10&tps=100&enquire=0&reconnect_min=0.05&reconnect_max=0.5&timeout=10');

    const customer = await createCustomer(services, { password: 'owner-password-2024' });
    owner = { email: customer.email, password: 'owner-password-2024' };
    const account = async (credits = 1_000_000) => {
      const made = await createAccount(services, { owner: customer, credits });
      await createSender(services, made, { sender: 'Relais' });
      return made;
    };
    const mainAccount = await account();
    main = { id: mainAccount.id, name: mainAccount.name, token: await createToken(services, mainAccount), credits: 1_000_000 };
    await services.accounts.update(SYSTEM_ACTOR, main.name, { callbackUrl: `${receiver.base}/cb?acc=main` });
    const opsAccount = await account(1_000);
    ops = { name: opsAccount.name, id: opsAccount.id };
    await createSmsUser(services, opsAccount, { login: 'shop', password: 'shop-password-2024' });
    await createSmsUser(services, opsAccount, { login: 'rotating', password: 'first-password-2024' });

    // Retention and redaction (applied by every process's privacy keeper 30 s after its start).
    const retAccount = await account();
    ret = { name: retAccount.name, id: retAccount.id };
    await services.accounts.update(SYSTEM_ACTOR, ret.name, { retentionDays: 30, redactAfterDays: 7 });
    const now = Date.now();
    await fillHistory(database, ret.id, RET_OLD, {
      createdAt: now - 40 * DAY_MS,
      status: 'delivered',
      message: 'old',
      receiverBase: 71_000_000,
    });
    await fillHistory(database, ret.id, RET_OLD_PENDING, {
      createdAt: now - 40 * DAY_MS + 10_000,
      status: 'pending',
      message: 'old but pending',
      receiverBase: 72_000_000,
    });
    await fillHistory(database, ret.id, RET_REDACTABLE, {
      createdAt: now - 10 * DAY_MS,
      status: 'delivered',
      message: 'ten days old secret',
      receiverBase: 73_000_000,
    });
    await fillHistory(database, ret.id, RET_RECENT, {
      createdAt: now - DAY_MS,
      status: 'delivered',
      message: 'fresh',
      receiverBase: 74_000_000,
    });

    // Sent messages whose receipt never came, validity over more than 6 hours ago (every dispatcher's housekeeping, 60 s after its start).
    const expAccount = await account();
    exp = { name: expAccount.name, id: expAccount.id };
    await services.accounts.update(SYSTEM_ACTOR, exp.name, { callbackUrl: `${receiver.base}/cb?acc=exp` });
    await fillHistory(database, exp.id, EXP_SENT, {
      createdAt: now - 50 * HOUR_MS,
      status: 'sent',
      message: 'no receipt',
      validUntil: now - 7 * HOUR_MS,
      receiverBase: 75_000_000,
    });

    // Histories to delete by filter in the background.
    for (const [i, set] of [
      (v: typeof del1) => {
        del1 = v;
      },
      (v: typeof del2) => {
        del2 = v;
      },
    ].entries()) {
      const made = await account();
      set({ name: made.name, id: made.id, token: await createToken(services, made) });
      await fillHistory(database, made.id, DEL_ROWS, {
        createdAt: now - 5 * DAY_MS,
        status: 'delivered',
        receiverBase: 76_000_000 + i * 1_000_000,
      });
    }
    await sql`analyze outgoing`.execute(database.db);

    startedAt = Date.now();
    [a, b] = await Promise.all([startMember(), startMember()]);
  }, 120_000);

  afterAll(async () => {
    await killAllRelaisProcesses();
    pump?.stop();
    await smsc?.close();
    await receiver?.close();
    await database?.close();
  });

  it('a Manager session opened on A works on B, its CSRF token included, and signing out on B ends it on A', async () => {
    const session = await signIn(a, owner.email, owner.password);
    const me = await call(b, 'GET', '/api/v1/auth/me', { session });
    expect([me.status, me.body.csrfToken]).toEqual([200, session.csrfToken]);
    const write = await call(b, 'PATCH', `/api/v1/accounts/${main.name}`, { session, body: { description: 'written through B' } });
    expect(write.status).toBe(200);
    const noCsrf = await call(b, 'PATCH', `/api/v1/accounts/${main.name}`, { session, csrf: false, body: { description: 'no token' } });
    expect(noCsrf.status).toBe(403);
    expect((await call(a, 'GET', `/api/v1/accounts/${main.name}`, { session })).body.description).toBe('written through B');
    expect((await call(b, 'POST', '/api/v1/auth/sign-out', { session })).status).toBe(204);
    expect((await call(a, 'GET', '/api/v1/auth/me', { session })).status).toBe(401);
  });

  it('a token revoked on A is refused on B within the documented 2 s (B had just verified it)', async () => {
    const session = await signIn(a, owner.email, owner.password);
    const made = await call(a, 'POST', `/api/v1/accounts/${main.name}/tokens`, { session, body: { name: 'behind the balancer' } });
    expect(made.status).toBe(201);
    const token = made.body.token as string;
    expect((await call(b, 'GET', `/api/v1/accounts/${main.name}`, { token })).status).toBe(200);
    expect((await call(a, 'DELETE', `/api/v1/accounts/${main.name}/tokens/${made.body.id}`, { session })).status).toBe(204);
    expect((await call(a, 'GET', `/api/v1/accounts/${main.name}`, { token })).status).toBe(401);
    await sleep(AFTER_RECENT_READ);
    expect((await call(b, 'GET', `/api/v1/accounts/${main.name}`, { token })).status).toBe(401);
  });

  it("an SMS user's password changed through A: B refuses the old one on http2sms within 2 s and ends its SMPP session", async () => {
    const user = { account: ops.name, login: 'rotating' };
    const smpp = await SmppClient.open(ports.get(b)!.smpp);
    try {
      const bind = await smpp.request('bind_transceiver', { system_id: `${ops.name}:rotating`, password: 'first-password-2024' });
      expect(bind.command_status).toBe(0);
      const send = (p: RelaisProcess, password: string) =>
        http2sms(p, { ...user, password, from: 'Relais', to: '+33677000001', message: 'rotation', noStop: '1' });
      expect((await send(b, 'first-password-2024')).status).toBe(100);
      const session = await signIn(a, owner.email, owner.password);
      const changed = await call(a, 'PATCH', `/api/v1/accounts/${ops.name}/users/rotating`, {
        session,
        body: { password: 'second-password-2024' },
      });
      expect(changed.status).toBe(200);
      expect((await send(a, 'first-password-2024')).status).not.toBe(100);
      await sleep(AFTER_RECENT_READ);
      expect((await send(b, 'first-password-2024')).status).not.toBe(100);
      expect((await send(b, 'second-password-2024')).status).toBe(100);
      // README: "their SMPP sessions end within 5 s of a password change" (checked every 5 s, from the database).
      await waitUntil(
        () => smpp.session.socket.destroyed || smpp.session.socket.readyState !== 'open',
        'the SMPP session on B to end',
        15_000,
      );
    } finally {
      smpp.close();
    }
  });

  it('an account disabled by the operator sends nothing through either process within 2 s (API, http2sms, mail2sms, an SMPP session bound before)', async () => {
    const shop = { account: ops.name, login: 'shop', password: 'shop-password-2024', from: 'Relais', noStop: '1' };
    const smpp = await SmppClient.open(ports.get(a)!.smpp);
    try {
      expect((await smpp.request('bind_transceiver', { system_id: `${ops.name}:shop`, password: shop.password })).command_status).toBe(0);
      const submit = () => smpp.request('submit_sm', { source_addr: 'Relais', destination_addr: '+33677000002', short_message: 'smpp' });
      expect((await submit()).command_status).toBe(0);
      expect((await http2sms(b, { ...shop, to: '+33677000003', message: 'before' })).status).toBe(100);

      // `relais account update --status disable` (another process: the command line).
      await services.accounts.update(SYSTEM_ACTOR, ops.name, { status: 'disable' });
      await sleep(AFTER_RECENT_READ);
      const refused = {
        http2smsA: (await http2sms(a, { ...shop, to: '+33677000004', message: 'after' })).status,
        http2smsB: (await http2sms(b, { ...shop, to: '+33677000005', message: 'after' })).status,
        smppBoundOnA: (await submit()).command_status,
        mail2smsB: await mailVia(ports.get(b)!.smtp, {
          subject: `${ops.name}:shop:${shop.password}:Relais:+33677000006`,
          text: 'after',
        }).then((r) => (r.ok ? 'accepted' : r.code)),
      };
      expect(refused).toEqual({ http2smsA: 401, http2smsB: 401, smppBoundOnA: 0x45, mail2smsB: 550 });

      await services.accounts.update(SYSTEM_ACTOR, ops.name, { status: 'enable' });
      await sleep(AFTER_RECENT_READ);
      expect((await http2sms(b, { ...shop, to: '+33677000007', message: 'again' })).status).toBe(100);
      expect((await submit()).command_status).toBe(0);
    } finally {
      smpp.close();
    }
  });

  it('credits taken back by the operator apply at once in every process (read in the sending transaction)', async () => {
    const shop = { account: ops.name, login: 'shop', password: 'shop-password-2024', from: 'Relais', noStop: '1' };
    // Both processes read the account (and cache it) just before.
    expect((await http2sms(a, { ...shop, to: '+33677000010', message: 'warm' })).status).toBe(100);
    expect((await http2sms(b, { ...shop, to: '+33677000011', message: 'warm' })).status).toBe(100);
    const balance = (await services.accounts.get(SYSTEM_ACTOR, ops.name)).credits;
    await services.accounts.addCredits(SYSTEM_ACTOR, ops.name, -balance, { reason: 'scale-out review' });
    const answers = [
      (await http2sms(a, { ...shop, to: '+33677000012', message: 'no credits' })).status,
      (await http2sms(b, { ...shop, to: '+33677000013', message: 'no credits' })).status,
    ];
    await services.accounts.addCredits(SYSTEM_ACTOR, ops.name, 1_000, { reason: 'scale-out review' });
    expect(answers).toEqual([402, 402]);
  });

  it('SMPP across processes: receipts of messages submitted through A reach one receiver bind of the user once; B queries and cancels them', async () => {
    const password = 'shop-password-2024';
    const tx = await SmppClient.open(ports.get(a)!.smpp);
    const rxA = await SmppClient.open(ports.get(a)!.smpp);
    const rxB = await SmppClient.open(ports.get(b)!.smpp);
    try {
      expect((await tx.request('bind_transmitter', { system_id: `${ops.name}:shop`, password })).command_status).toBe(0);
      expect((await rxA.request('bind_receiver', { system_id: `${ops.name}:shop`, password })).command_status).toBe(0);
      expect((await rxB.request('bind_receiver', { system_id: `${ops.name}:shop`, password })).command_status).toBe(0);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await tx.request('submit_sm', {
          source_addr: 'Relais',
          destination_addr: `+336790000${String(i).padStart(2, '0')}`,
          short_message: `receipt ${i}`,
          registered_delivery: 1,
        });
        expect(r.command_status).toBe(0);
        ids.push(String(r.message_id));
      }
      const wanted = new Set(ids);
      const receipts = () =>
        [...rxA.delivered, ...rxB.delivered].map((pdu) => String(pdu.receipted_message_id ?? '')).filter((id) => wanted.has(id));
      await waitUntil(
        () => receipts().length >= ids.length,
        'a receipt for each message',
        60_000,
        50,
        () => `${receipts().length} receipts`,
      );
      await sleep(1500);
      const perId = new Map<string, number>();
      for (const id of receipts()) perId.set(id, (perId.get(id) ?? 0) + 1);
      expect([...perId.entries()].filter(([, n]) => n !== 1)).toEqual([]);
      expect(perId.size).toBe(ids.length);

      // A message deferred by an hour, submitted through A: B's session of the same user reads and cancels it.
      const txB = await SmppClient.open(ports.get(b)!.smpp);
      try {
        expect((await txB.request('bind_transmitter', { system_id: `${ops.name}:shop`, password })).command_status).toBe(0);
        const later = await tx.request('submit_sm', {
          source_addr: 'Relais',
          destination_addr: '+33679000099',
          short_message: 'deferred',
          schedule_delivery_time: new Date(Date.now() + HOUR_MS),
        });
        expect(later.command_status).toBe(0);
        const query = await txB.request('query_sm', { message_id: later.message_id, source_addr: 'Relais' });
        expect(query.command_status).toBe(0);
        expect((await txB.request('cancel_sm', { message_id: later.message_id, source_addr: 'Relais' })).command_status).toBe(0);
        const row = await database.db.selectFrom('outgoing').select('id').where('id', '=', Number(later.message_id)).executeTakeFirst();
        expect(row).toBeUndefined();
      } finally {
        txB.close();
      }
    } finally {
      for (const c of [tx, rxA, rxB]) c.close();
    }
  });

  it('an OVH consumer key asked for on A and validated in the Manager through B works on both; revoked on B, A refuses it within 2 s', async () => {
    const session = await signIn(a, owner.email, owner.password);
    const app = await call(a, 'POST', '/api/v1/ovh/applications', { session, body: { name: 'load-balanced script' } });
    expect(app.status).toBe(201);
    const asked = await call(a, 'POST', '/1.0/auth/credential', {
      headers: { 'x-ovh-application': app.body.appKey },
      body: { accessRules: ALL_RULES },
    });
    expect(asked.status).toBe(200);
    const keys = {
      appKey: app.body.appKey as string,
      appSecret: app.body.appSecret as string,
      consumerKey: asked.body.consumerKey as string,
    };
    // B sees it pending first (and remembers that it checked it).
    expect((await ovhSigned(b, keys, 'GET', '/me')).status).not.toBe(200);
    const token = new URL(asked.body.validationUrl).searchParams.get('credentialToken') ?? '';
    const validated = await call(b, 'POST', `/api/v1/ovh/credential-requests/${encodeURIComponent(token)}/validate`, {
      session,
      body: { validity: null },
    });
    expect(validated.status).toBe(200);
    await sleep(AFTER_RECENT_READ);
    const me = [await ovhSigned(a, keys, 'GET', '/me'), await ovhSigned(b, keys, 'GET', '/me')];
    expect(me.map((r) => [r.status, r.body.email])).toEqual([
      [200, owner.email],
      [200, owner.email],
    ]);
    const sms = await ovhSigned(a, keys, 'GET', `/sms/${main.name}`);
    expect(sms.status).toBe(200);
    // A history document asked for on A is described on B and downloaded from A (its id and key are signed, not stored).
    const documentId = (await ovhSigned(a, keys, 'GET', `/sms/${main.name}/document?wayType=outgoing`)).body as string;
    const described = await ovhSigned(b, keys, 'GET', `/me/document/${encodeURIComponent(documentId)}`);
    expect(described.status).toBe(200);
    const download = new URL(described.body.getUrl as string);
    const csv = await call(a, 'GET', `${download.pathname}${download.search}`);
    expect([csv.status, csv.text.split('\n')[0].startsWith('id;')]).toEqual([200, true]);

    const listed = await call(b, 'GET', '/api/v1/ovh/credentials', { session });
    const credential = (listed.body as { id: number }[])[0];
    expect((await call(b, 'DELETE', `/api/v1/ovh/credentials/${credential.id}`, { session })).status).toBe(204);
    await sleep(AFTER_RECENT_READ);
    expect((await ovhSigned(a, keys, 'GET', '/me')).status).not.toBe(200);
  });

  it('failed Manager sign-ins from one client are counted across processes (README: 10 per client, then 429)', async () => {
    const client = newClient();
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push(await signInStatus(a, owner.email, `wrong-password-${i}`, client));
    expect(statuses).toEqual(Array(10).fill(401));
    // The load balancer sends the eleventh guess to B.
    expect(await signInStatus(b, owner.email, 'wrong-password-10', client)).toBe(429);
  });

  it('failed sign-ins for one e-mail address are counted from anywhere (README: 100, then 429), whichever process they reach', async () => {
    const victim = await createCustomer(services, { password: 'victim-password-2024' });
    const statuses: number[] = [];
    // 100 guesses from 100 addresses, spread over the two processes by the load balancer.
    for (let i = 0; i < 100; i++) statuses.push(await signInStatus(i % 2 === 0 ? a : b, victim.email, `guess-${i}`, newClient()));
    expect(statuses.filter((s) => s !== 401)).toEqual([]);
    expect([
      await signInStatus(a, victim.email, 'guess-100', newClient()),
      await signInStatus(b, victim.email, 'guess-101', newClient()),
    ]).toEqual([429, 429]);
  });

  it('wrong sign-ins of one client sent at once to both processes check at most 10 passwords in all (README: guesses sent together wait their turn), then 429 with Retry-After', async () => {
    const client = newClient();
    const sent = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const res = await fetch(`${(i % 2 === 0 ? a : b).baseUrl}/api/v1/auth/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
          body: JSON.stringify({ email: owner.email, password: `together-${i}` }),
        });
        await res.text();
        return { status: res.status, retryAfter: Number(res.headers.get('retry-after')) };
      }),
    );
    expect([sent.filter((r) => r.status === 401).length, sent.filter((r) => r.status === 429).length]).toEqual([10, 20]);
    expect(sent.filter((r) => r.status === 429 && !(r.retryAfter >= 1 && r.retryAfter <= 60))).toEqual([]);
    // The customer still signs in from another client, through either process.
    for (const p of [a, b]) expect(await signInStatus(p, owner.email, owner.password, newClient())).toBe(200);
  });

  it('callbacks with two dispatchers: each status change of each message called once, sent before delivered', {
    timeout: 120_000,
  }, async () => {
    const ids: number[] = [];
    for (let j = 0; j < 30; j++) {
      const receivers = Array.from({ length: 10 }, (_, i) => `+3367800${String(j * 10 + i).padStart(4, '0')}`);
      const res = await call(j % 2 === 0 ? a : b, 'POST', `/api/v1/accounts/${main.name}/jobs`, {
        token: main.token,
        body: { message: 'callback order', receivers, sender: 'Relais', noStopClause: true },
      });
      expect(res.status).toBe(200);
      ids.push(...(res.body.ids as number[]));
    }
    const wanted = new Set(ids);
    const mine = () => callbacks.filter((c) => c.acc === 'main' && wanted.has(c.id));
    await waitUntil(
      () => mine().length >= ids.length * 2,
      'a sent and a delivered callback for each message',
      90_000,
      100,
      () => JSON.stringify({ calls: mine().length, waitingReceipts: pump.waiting }),
    );
    // Duplicates would come after: give them a moment.
    await sleep(1500);
    const byId = new Map<number, string[]>();
    for (const c of mine()) byId.set(c.id, [...(byId.get(c.id) ?? []), c.status]);
    const wrong = ids.filter((id) => JSON.stringify(byId.get(id)) !== JSON.stringify(['sent', 'delivered']));
    expect(wrong.map((id) => [id, byId.get(id)])).toEqual([]);
    // Both dispatchers took part (one SMSC connection each).
    expect(new Set(smsc.submits.filter((s) => s.destinationAddr.startsWith('3367800')).map((s) => s.connection)).size).toBe(2);
  });

  it('the privacy keeper of both processes (30 s after their start): old messages deleted once with one audit entry, texts redacted, no error logged', {
    timeout: 120_000,
  }, async () => {
    const isOld = (eb: ExpressionBuilder<DB, 'outgoing'>) => eb('created_at', '<', Date.now() - 30 * DAY_MS);
    await waitUntil(
      async () => (await countRows(database, ret.id, isOld)) === RET_OLD_PENDING && (await auditsOf(database, ret.id)).length > 0,
      'retention applied',
      Math.max(10_000, startedAt + 90_000 - Date.now()),
      250,
      async () => `old rows left ${await countRows(database, ret.id, isOld)}`,
    );
    await waitUntil(
      async () => (await countRows(database, ret.id, (eb) => eb('message', '=', 'ten days old secret'))) === 0,
      'texts redacted',
      20_000,
      250,
    );
    // Both keepers have run by now (30 s after the start, hourly after): what the second one did shows too.
    await waitUntil(() => Date.now() > startedAt + 40_000, 'both keepers to have had their turn', 60_000, 250);
    const audits = await auditsOf(database, ret.id);
    expect(audits.map((x) => ({ actor: x.actor, kind: x.kind, count: Number(x.count) }))).toEqual([
      { actor: RETENTION_ACTOR, kind: 'filter', count: RET_OLD },
    ]);
    expect(await countRows(database, ret.id, (eb) => eb.and([eb('redacted_at', 'is not', null), eb('message', '=', '')]))).toBe(
      RET_REDACTABLE,
    );
    expect(await countRows(database, ret.id, (eb) => eb('message', '=', 'fresh'))).toBe(RET_RECENT);
    expect(await countRows(database, ret.id, (eb) => eb('message', '=', 'old but pending'))).toBe(RET_OLD_PENDING);
    expect([...problems(a), ...problems(b)].filter((l) => /retention|redaction|texts/.test(l))).toEqual([]);
  });

  it('sent messages without a receipt past their validity expire once with both dispatchers sweeping (60 s after the start): one callback each', {
    timeout: 150_000,
  }, async () => {
    await waitUntil(
      async () => (await countRows(database, exp.id, (eb) => eb('status', '=', 'expired'))) === EXP_SENT,
      'the expiry sweep',
      Math.max(10_000, startedAt + 120_000 - Date.now()),
      250,
      async () => `expired ${await countRows(database, exp.id, (eb) => eb('status', '=', 'expired'))} of ${EXP_SENT}`,
    );
    const mine = () => callbacks.filter((c) => c.acc === 'exp');
    await waitUntil(
      () => mine().length >= EXP_SENT,
      'the expiry callbacks',
      30_000,
      100,
      () => `${mine().length} calls`,
    );
    // Both sweeps have run by now (each process's first one is 60 s after its start).
    await waitUntil(() => Date.now() > startedAt + 70_000, 'both sweeps to have had their turn', 60_000, 250);
    await sleep(1500);
    const perId = new Map<number, string[]>();
    for (const c of mine()) perId.set(c.id, [...(perId.get(c.id) ?? []), c.status]);
    expect([...perId.values()].filter((s) => JSON.stringify(s) !== '["expired"]')).toEqual([]);
    expect(perId.size).toBe(EXP_SENT);
    expect([...problems(a), ...problems(b)].filter((l) => /expiry|sweep|deadlock/.test(l))).toEqual([]);
  });

  describe('a large deletion by filter', () => {
    let job: { id: number };
    let c: RelaisProcess;

    it('started on A, its progress is read on B; a third process started meanwhile (a rolling restart, a scale-up) does not run it a second time', {
      timeout: 120_000,
    }, async () => {
      const held = await holdRows(database.url, del1.id);
      let released = false;
      try {
        const asked = await call(a, 'POST', `/api/v1/accounts/${del1.name}/outgoing/delete`, {
          token: del1.token,
          body: { filter: { status: 'delivered' } },
        });
        expect(asked.status).toBe(202);
        job = asked.body.job;
        const onB = await call(b, 'GET', `/api/v1/accounts/${del1.name}/outgoing/delete-jobs/${job.id}`, { token: del1.token });
        expect([onB.status, onB.body.status]).toEqual([200, 'running']);
        // Another process joins the cluster while A's job runs (its first batch waits for the rows held above).
        c = await startMember();
        await held.release();
        released = true;
      } finally {
        if (!released) await held.release();
      }
      const final = await waitUntil(
        async () => {
          const r = await call(b, 'GET', `/api/v1/accounts/${del1.name}/outgoing/delete-jobs/${job.id}`, { token: del1.token });
          return r.body.status !== 'running' && r.body;
        },
        'the deletion to end',
        90_000,
        100,
      );
      // Whoever else ran it finishes too: give it its last batch.
      await sleep(2000);
      const again = (await call(b, 'GET', `/api/v1/accounts/${del1.name}/outgoing/delete-jobs/${job.id}`, { token: del1.token })).body;
      const audits = (await auditsOf(database, del1.id)).filter((x) => Number(x.delete_job_id) === job.id);
      const resumedByC = c.output().includes('resumed deletions left running');
      console.info(`[scale-out] deletion ${job.id}: the process started meanwhile resumed it too: ${resumedByC}`);
      expect({
        status: final.status,
        left: await countRows(database, del1.id),
        deleted: again.deleted,
        total: again.total,
        auditEntries: audits.map((x) => Number(x.count)),
        errors: [...problems(a), ...problems(c)].filter((l) => /delete|deadlock/.test(l)),
      }).toEqual({
        status: 'done',
        left: 0,
        deleted: DEL_ROWS,
        total: DEL_ROWS,
        auditEntries: [DEL_ROWS],
        errors: [],
      });
    });

    afterAll(async () => {
      await c?.stop();
    });
  });

  it('no process logged an error during all of this (level 50 or above: what an operator is paged for)', () => {
    const errors = [a, b].flatMap((p) =>
      p
        .warnings()
        .filter((w) => w.level >= 50)
        .map((w) => `${w.msg} ${String(w.message ?? w.err ?? '')}`.slice(0, 300)),
    );
    expect(errors).toEqual([]);
  });

  describe('A killed with SIGKILL while it sends and deletes', () => {
    const plan = planJobs({ bulkJobs: 15, bulkSize: 100, singles: 500, first: 0 });
    const planned = new Set(plan.flatMap((j) => j.receivers.map((r) => r.slice(1))));
    let deleteJob: { id: number };
    let atKill: { submits: number; unanswered: number } = { submits: 0, unanswered: 0 };
    let posting: Promise<unknown> = Promise.resolve();

    beforeAll(async () => {
      // A deletion A is in the middle of (its batch waits for rows another client holds)…
      const held = await holdRows(database.url, del2.id);
      try {
        const asked = await call(a, 'POST', `/api/v1/accounts/${del2.name}/outgoing/delete`, {
          token: del2.token,
          body: { filter: { status: 'delivered' } },
        });
        expect(asked.status).toBe(202);
        deleteJob = asked.body.job;
        // …and 2,000 messages being sent by both dispatchers (accepted by B, which stays up: A's dispatcher
        // claims them from the shared queue as well).
        let next = 0;
        const client = async () => {
          while (next < plan.length) await postJob(b.baseUrl, main, plan[next++]);
        };
        posting = Promise.all(Array.from({ length: 6 }, () => client()));
        const mine = () => smsc.submits.filter((s) => planned.has(s.destinationAddr));
        await waitUntil(
          () => mine().length >= 400 && new Set(mine().map((s) => s.connection)).size >= 2,
          'both dispatchers sending',
          60_000,
          5,
        );
        atKill = { submits: mine().length, unanswered: smsc.stats.inFlight };
        await a.kill();
      } finally {
        await held.release();
      }
    }, 120_000);

    it("B sends what A had claimed once its lease runs out: every part reaches the SMSC, twice only within A's window", {
      timeout: 120_000,
    }, async () => {
      await posting;
      const byReceiver = async () =>
        database.db
          .selectFrom('outgoing')
          .select(['receiver', 'status', 'parts'])
          .where('account_id', '=', main.id)
          .where(
            'receiver',
            'in',
            [...planned].map((r) => `+${r}`),
          )
          .execute();
      await waitUntil(
        async () => (await byReceiver()).every((m) => m.status === 'delivered') && pump.waiting === 0,
        'every message delivered',
        90_000,
        250,
        async () =>
          JSON.stringify(
            (await byReceiver()).reduce<Record<string, number>>((acc, m) => {
              acc[m.status] = (acc[m.status] ?? 0) + 1;
              return acc;
            }, {}),
          ),
      );
      const rows = await byReceiver();
      expect(rows.length).toBe(2_000);
      const received = new Map<string, number>();
      for (const s of smsc.submits) if (planned.has(s.destinationAddr)) received.set(partKey(s), (received.get(partKey(s)) ?? 0) + 1);
      const missing: string[] = [];
      for (const m of rows)
        for (let p = 1; p <= m.parts; p++) {
          const key = partKey({ destinationAddr: m.receiver.slice(1), udh: m.parts > 1 ? { ref: 0, total: m.parts, seq: p } : null });
          if (!received.has(key)) missing.push(key);
        }
      const twice = [...received.values()].reduce((n, k) => n + (k - 1), 0);
      console.info(
        `[scale-out] A killed after ${atKill.submits} submits (${atKill.unanswered} unanswered at the SMSC); parts sent twice: ${twice}`,
      );
      expect(missing).toEqual([]);
      // The carrier's window is 10: at most the submits A had made and not recorded.
      expect(twice).toBeLessThanOrEqual(10);
      expect(problems(b).filter((l) => /^50|^60|no longer held/.test(l))).toEqual([]);
    });

    it('the deletion A was running is finished by B (not left "running" for ever)', { timeout: 60_000 }, async () => {
      const read = async () =>
        (await call(b, 'GET', `/api/v1/accounts/${del2.name}/outgoing/delete-jobs/${deleteJob.id}`, { token: del2.token })).body as {
          status: string;
          deleted: number;
          total: number;
        };
      // A's dispatch claims went to B after RELAIS_DISPATCH_LEASE_MS (3 s); its deletion gets several times that.
      const ended = await waitUntil(async () => (await read()).status !== 'running', 'the deletion to end', 20_000, 250).catch(() => null);
      const job = await read();
      expect({ ended: ended !== null, status: job.status, left: await countRows(database, del2.id) }).toEqual({
        ended: true,
        status: 'done',
        left: 0,
      });
    });
  });
});
