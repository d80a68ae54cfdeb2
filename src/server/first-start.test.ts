import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testConfig } from '../../test/app.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/database.js';
import { createCustomer } from '../../test/factories.js';
import { type App, buildApp } from './app.js';
import type { Config } from './config.js';
import { type Dialect, openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import {
  DEMO_ACCOUNT,
  DEMO_EMAIL,
  DEMO_MESSAGES,
  DEMO_SENDER,
  DEMO_SMS_USER,
  type DemoCredentials,
  demoCredentialsFile,
  demoSteps,
  ensureDemo,
} from './first-start.js';
import { SYSTEM_ACTOR } from './modules/accounts/accounts.service.js';
import { runDemo } from './modules/demo/demo.service.js';

/**
 * A fresh migrated database with its app: on SQLite in a directory of its own (the credentials file
 * is written beside the database, and every other test database sits directly in the temporary
 * directory).
 */
interface DemoContext {
  dialect: Dialect;
  database: TestDatabase;
  config: Readonly<Config>;
  app: App;
  /** The credentials file (SQLite), null on PostgreSQL. */
  file: string | null;
  close(): Promise<void>;
}

async function demoContext(dialect: Dialect): Promise<DemoContext> {
  let database: TestDatabase;
  let dir: string | null = null;
  if (dialect === 'sqlite') {
    dir = mkdtempSync(join(tmpdir(), 'relais-first-start-'));
    const url = `sqlite:${join(dir, 'relais.db')}`;
    const opened = openDatabase(url, { nonBlockingLockWaits: true });
    await migrateToLatest(opened);
    database = { ...opened, url };
  } else {
    database = await createTestDatabase('postgres');
  }
  const config = testConfig({ databaseUrl: database.url });
  const app = await buildApp({ config, database });
  await app.ready();
  return {
    dialect,
    database,
    config,
    app,
    file: demoCredentialsFile(config),
    async close() {
      await app.close();
      await database.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function withDemoContext(dialect: Dialect, body: (ctx: DemoContext) => Promise<void>): Promise<void> {
  const ctx = await demoContext(dialect);
  try {
    await body(ctx);
  } finally {
    await ctx.close();
  }
}

/** Credentials a test chooses for the first start it cuts short. */
const FIRST: DemoCredentials = {
  email: DEMO_EMAIL,
  password: 'first-start-password-1',
  account: DEMO_ACCOUNT,
  smsUser: DEMO_SMS_USER,
  smsUserPassword: 'first-start-sms-user-1',
  messages: DEMO_MESSAGES,
};

const STEP_NAMES = ['credentials file, unfinished', 'customer', 'account', 'sender', 'SMS user', 'history', 'credentials file, finished'];

/** The first `done` steps of a first start with `credentials` (and, with `file` null, no credentials file, as older versions). */
async function cutAfter(ctx: DemoContext, done: number, options: { credentials?: DemoCredentials; file?: string | null } = {}) {
  const steps = demoSteps(
    ctx.config,
    ctx.database,
    ctx.app.services,
    options.credentials ?? FIRST,
    options.file === undefined ? ctx.file : options.file,
  );
  expect(steps.map((s) => s.name)).toEqual(STEP_NAMES);
  for (const step of steps.slice(0, done)) await step.run();
}

async function signInStatus(ctx: DemoContext, email: string, password: string): Promise<number> {
  return (await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email, password } })).statusCode;
}

const names = async (ctx: DemoContext, table: 'customers' | 'accounts' | 'senders' | 'sms_users') => {
  const { db } = ctx.database;
  if (table === 'customers') return (await db.selectFrom('customers').select('email').orderBy('id').execute()).map((r) => r.email);
  if (table === 'accounts') return (await db.selectFrom('accounts').select('name').orderBy('id').execute()).map((r) => r.name);
  if (table === 'senders') return (await db.selectFrom('senders').select('sender').orderBy('id').execute()).map((r) => r.sender);
  return (await db.selectFrom('sms_users').select('login').orderBy('id').execute()).map((r) => r.login);
};

const historyCount = async (ctx: DemoContext) =>
  Number(
    (
      await ctx.database.db
        .selectFrom('outgoing')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

const fileMode = (file: string) => statSync(file).mode & 0o777;
const fileContent = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials & { finished?: boolean };

/** One demo, whole and working with `demo`: sign-in, 400 rows seen over HTTP, its sender, its SMS user; the file finished, owner-only. */
async function expectWholeDemo(ctx: DemoContext, demo: DemoCredentials | null): Promise<void> {
  expect(demo).toMatchObject({ email: DEMO_EMAIL, account: DEMO_ACCOUNT, smsUser: DEMO_SMS_USER, messages: DEMO_MESSAGES });
  const signIn = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/sign-in',
    payload: { email: demo!.email, password: demo!.password },
  });
  expect(signIn.statusCode).toBe(200);
  const cookie = String(signIn.headers['set-cookie']).split(';')[0];
  const history = await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${DEMO_ACCOUNT}/outgoing/count`, headers: { cookie } });
  expect(history.json().total).toBe(DEMO_MESSAGES);
  const senders = await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${DEMO_ACCOUNT}/senders`, headers: { cookie } });
  expect(JSON.stringify(senders.json())).toContain(DEMO_SENDER);
  await expect(ctx.app.services.smsUsers.authenticate(DEMO_ACCOUNT, DEMO_SMS_USER, demo!.smsUserPassword)).resolves.toMatchObject({
    user: { login: DEMO_SMS_USER },
  });
  // Nothing made twice.
  expect({
    customers: await names(ctx, 'customers'),
    accounts: await names(ctx, 'accounts'),
    senders: await names(ctx, 'senders'),
    smsUsers: await names(ctx, 'sms_users'),
    rows: await historyCount(ctx),
  }).toEqual({ customers: [DEMO_EMAIL], accounts: [DEMO_ACCOUNT], senders: [DEMO_SENDER], smsUsers: [DEMO_SMS_USER], rows: DEMO_MESSAGES });
  if (ctx.file) {
    expect(fileContent(ctx.file)).toEqual({ ...demo, finished: true });
    expect(fileMode(ctx.file)).toBe(0o600);
    expect(existsSync(`${ctx.file}.tmp`)).toBe(false);
  }
}

for (const dialect of DIALECTS) {
  describe(`first start [${dialect}]`, () => {
    it('fills an empty database with a demo anyone can sign in to, and does it only once', async () => {
      await withDemoContext(dialect, async (ctx) => {
        const demo = await ensureDemo(ctx.config, ctx.database, ctx.app.services);
        await expectWholeDemo(ctx, demo);
        // A later start changes nothing; the embedded database keeps showing the credentials from its file.
        const again = await ensureDemo(ctx.config, ctx.database, ctx.app.services);
        expect(again).toEqual(dialect === 'sqlite' ? demo : null);
        await expectWholeDemo(ctx, demo);
      });
    });

    // A first start cut after each of its steps (kill -9, power cut): the next start finishes the demo.
    for (let done = 0; done <= STEP_NAMES.length; done++) {
      const cut = done === 0 ? 'before its first step' : `after its step “${STEP_NAMES[done - 1]}”`;
      const finishedInDatabase = done >= STEP_NAMES.indexOf('history') + 1;
      // Until the first customer is written, the database is empty: the next start is a first start again.
      const empty = done <= STEP_NAMES.indexOf('customer');
      const expectation = empty
        ? 'the next start makes the demo, with fresh credentials, and prints them'
        : dialect === 'sqlite'
          ? 'the next start finishes the demo with the credentials of the file, and prints them'
          : finishedInDatabase
            ? 'the demo is whole in the database: the next start leaves it as it is (its credentials were that start’s to print)'
            : 'the next start finishes the demo with fresh credentials (the first ones lost with the process), and prints them';
      it(`a first start cut ${cut}: ${expectation}`, async () => {
        await withDemoContext(dialect, async (ctx) => {
          await cutAfter(ctx, done);
          if (ctx.file && done >= 1 && done < STEP_NAMES.length) {
            // Written before anything else, owner-only, and marked unfinished until the end.
            expect(fileContent(ctx.file)).toEqual({ ...FIRST, finished: false });
            expect(fileMode(ctx.file)).toBe(0o600);
          }
          const demo = await ensureDemo(ctx.config, ctx.database, ctx.app.services);
          if (dialect === 'postgres' && finishedInDatabase) {
            expect(demo).toBeNull();
            await expectWholeDemo(ctx, FIRST);
            return;
          }
          await expectWholeDemo(ctx, demo);
          if (dialect === 'sqlite' && !empty) expect(demo).toEqual(FIRST);
          else {
            expect(demo!.password).not.toBe(FIRST.password);
            expect(demo!.smsUserPassword).not.toBe(FIRST.smsUserPassword);
            // The first start's passwords, if it set them, no longer open the demo.
            expect(await signInStatus(ctx, DEMO_EMAIL, FIRST.password)).toBe(401);
          }
          // And the start after that changes nothing.
          expect(await ensureDemo(ctx.config, ctx.database, ctx.app.services)).toEqual(dialect === 'sqlite' ? demo : null);
          await expectWholeDemo(ctx, demo);
        });
      });
    }

    it('a database with a customer of its own gets no demo', async () => {
      await withDemoContext(dialect, async (ctx) => {
        await createCustomer(ctx.app, { email: 'owner@example.com' });
        expect(await ensureDemo(ctx.config, ctx.database, ctx.app.services)).toBeNull();
        expect({ customers: await names(ctx, 'customers'), accounts: await names(ctx, 'accounts') }).toEqual({
          customers: ['owner@example.com'],
          accounts: [],
        });
        if (ctx.file) expect(existsSync(ctx.file)).toBe(false);
      });
    });

    it('an unfinished demo beside a customer of the database’s own is left as it is', async () => {
      await withDemoContext(dialect, async (ctx) => {
        await cutAfter(ctx, STEP_NAMES.indexOf('account') + 1);
        await createCustomer(ctx.app, { email: 'owner@example.com' });
        expect(await ensureDemo(ctx.config, ctx.database, ctx.app.services)).toBeNull();
        expect({
          customers: await names(ctx, 'customers'),
          accounts: await names(ctx, 'accounts'),
          senders: await names(ctx, 'senders'),
          rows: await historyCount(ctx),
        }).toEqual({ customers: [DEMO_EMAIL, 'owner@example.com'], accounts: [DEMO_ACCOUNT], senders: [], rows: 0 });
        // Not even the demo customer's password reset.
        expect(await signInStatus(ctx, DEMO_EMAIL, FIRST.password)).toBe(200);
        if (ctx.file) expect(fileContent(ctx.file).finished).toBe(false);
      });
    });

    it('a demo customer that owns an account of its own (made one’s own) is left as it is', async () => {
      await withDemoContext(dialect, async (ctx) => {
        await cutAfter(ctx, STEP_NAMES.indexOf('customer') + 1, { file: null });
        await ctx.app.services.accounts.create({ name: 'sms-ow12345-1', ownerEmail: DEMO_EMAIL });
        expect(await ensureDemo(ctx.config, ctx.database, ctx.app.services)).toBeNull();
        expect(await names(ctx, 'accounts')).toEqual(['sms-ow12345-1']);
        expect(await signInStatus(ctx, DEMO_EMAIL, FIRST.password)).toBe(200);
      });
    });
  });
}

describe('first start [sqlite]: the credentials file', () => {
  // What a start of an older version, which wrote the file last, leaves when cut after each step.
  for (let done = STEP_NAMES.indexOf('customer') + 1; done <= STEP_NAMES.indexOf('SMS user') + 1; done++) {
    it(`a half-made demo without a credentials file (older version, cut after “${STEP_NAMES[done - 1]}”) is finished with fresh credentials`, async () => {
      await withDemoContext('sqlite', async (ctx) => {
        await cutAfter(ctx, done, { file: null });
        expect(existsSync(ctx.file!)).toBe(false);
        const demo = await ensureDemo(ctx.config, ctx.database, ctx.app.services);
        await expectWholeDemo(ctx, demo);
        expect(demo!.password).not.toBe(FIRST.password);
        expect(await ensureDemo(ctx.config, ctx.database, ctx.app.services)).toEqual(demo);
      });
    });
  }

  it('a history cut part-way is topped up to the demo’s count', async () => {
    await withDemoContext('sqlite', async (ctx) => {
      await cutAfter(ctx, STEP_NAMES.indexOf('SMS user') + 1);
      await runDemo({ database: ctx.database, accountName: DEMO_ACCOUNT, messages: 150, spanDays: 60 });
      const demo = await ensureDemo(ctx.config, ctx.database, ctx.app.services);
      expect(demo).toEqual(FIRST);
      await expectWholeDemo(ctx, demo);
    });
  });

  it('a finished demo is never redone from the database: its file says it is finished', async () => {
    await withDemoContext('sqlite', async (ctx) => {
      const demo = await ensureDemo(ctx.config, ctx.database, ctx.app.services);
      // Its owner deletes the whole history and the SMS user, and changes the password.
      await ctx.database.db.deleteFrom('outgoing').execute();
      await ctx.app.services.smsUsers.delete(SYSTEM_ACTOR, DEMO_ACCOUNT, DEMO_SMS_USER);
      await ctx.app.services.customers.setPassword(DEMO_EMAIL, 'a password of my own');
      expect(await ensureDemo(ctx.config, ctx.database, ctx.app.services)).toEqual(demo);
      expect({ rows: await historyCount(ctx), smsUsers: await names(ctx, 'sms_users') }).toEqual({ rows: 0, smsUsers: [] });
      expect(await signInStatus(ctx, DEMO_EMAIL, 'a password of my own')).toBe(200);
    });
  });

  it('a file written by an older version (no “finished”, written last) is read as finished', async () => {
    await withDemoContext('sqlite', async (ctx) => {
      await cutAfter(ctx, STEP_NAMES.length, { file: null });
      writeFileSync(ctx.file!, `${JSON.stringify(FIRST, null, 2)}\n`, { mode: 0o600 });
      expect(await ensureDemo(ctx.config, ctx.database, ctx.app.services)).toEqual(FIRST);
      expect(await signInStatus(ctx, DEMO_EMAIL, FIRST.password)).toBe(200);
    });
  });

  it('a file left by another database beside an empty one is replaced by a new demo’s, owner-only', async () => {
    await withDemoContext('sqlite', async (ctx) => {
      writeFileSync(ctx.file!, `${JSON.stringify({ ...FIRST, finished: true }, null, 2)}\n`, { mode: 0o644 });
      writeFileSync(`${ctx.file}.tmp`, 'left by a cut write', { mode: 0o644 });
      const demo = await ensureDemo(ctx.config, ctx.database, ctx.app.services);
      expect(demo!.password).not.toBe(FIRST.password);
      await expectWholeDemo(ctx, demo);
      expect(readdirSync(join(ctx.file!, '..')).filter((f) => f.startsWith('demo-credentials'))).toEqual(['demo-credentials.json']);
    });
  });
});
