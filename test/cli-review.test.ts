import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/server/clock.js';
import type { Dialect } from '../src/server/db/database.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { composeServices } from '../src/server/services.js';
import { TEST_SECRET_KEY, testConfig } from './app.js';
import { createTestDatabase, TEST_POSTGRES_URL, type TestDatabase } from './database.js';

// "Bad input gets a clear error, never a crash, and nothing is left half done": every `relais` command
// (serve excepted), run as a real process, for bad input prints one `error: …` line on stderr (or, with
// --json, one JSON error), exits 1, and leaves the database as it was.

const execFileAsync = promisify(execFile);

/** What one `relais` process did; `signal` set when it had to be killed (it hung). */
interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** A command that has not answered in this long hangs. */
const HANG_MS = 30_000;

/** `node bin/relais.js …args` with `env`, nothing on standard input, killed after HANG_MS. */
async function relais(env: Record<string, string>, ...args: string[]): Promise<Run> {
  const child = execFileAsync(process.execPath, ['bin/relais.js', ...args], {
    env: {
      ...process.env,
      NODE_NO_WARNINGS: '1',
      RELAIS_ARGON2_TEST_FAST: '1',
      // ovh-key reads the server secret; without it the CLI would write one into a data directory.
      RELAIS_SECRET_KEY: TEST_SECRET_KEY,
      ...env,
    },
    cwd: process.cwd(),
    timeout: HANG_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  child.child.stdin?.end();
  try {
    const { stdout, stderr } = await child;
    return { code: 0, signal: null, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; signal?: string | null; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : null, signal: e.signal ?? null, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `fn` over `items`, at most `width` at a time, answers in the items' order. */
async function inParallel<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]);
      }
    }),
  );
  return results;
}

/** What a crash, an internal value or a raw database error looks like in a message. */
const NOT_CLEAR = /\n\s+at |TypeError|ReferenceError|RangeError|\bundefined\b|\bNaN\b|SQLITE_|relation "|violates|syntax error/;

const short = (r: Run) =>
  `exit ${r.code}${r.signal ? ` (killed: ${r.signal}, hung)` : ''}; stdout ${JSON.stringify(r.stdout.slice(0, 200))}; stderr ${JSON.stringify(r.stderr.slice(0, 400))}`;

/** One clear `error: …` line on stderr, nothing on stdout, exit code 1 (soft: every case of a table is reported). */
function expectClearError(r: Run, what: string, pattern?: RegExp): void {
  expect.soft(r.code, `${what}: exit code — ${short(r)}`).toBe(1);
  expect.soft(r.stdout, `${what}: stdout — ${short(r)}`).toBe('');
  expect.soft(r.stderr, `${what}: one "error: …" line on stderr — ${short(r)}`).toMatch(/^error: [^\n]+\n$/);
  expect.soft(r.stderr, `${what}: no stack, internal value or raw SQL — ${short(r)}`).not.toMatch(NOT_CLEAR);
  if (pattern) expect.soft(r.stderr, `${what}: says why — ${short(r)}`).toMatch(pattern);
}

/**
 * A command line that cannot be read (README "## Command line"): exit 2, an "error: …" line on stderr
 * then at most two hint lines (a suggestion, "(add --help for usage)"), never the whole help; nothing on stdout.
 */
function expectUsageError(r: Run, what: string, pattern: RegExp): void {
  expect.soft(r.code, `${what}: exit code — ${short(r)}`).toBe(2);
  expect.soft(r.stdout, `${what}: stdout — ${short(r)}`).toBe('');
  expect
    .soft(r.stderr, `${what}: an "error: …" line and at most two hints — ${short(r)}`)
    .toMatch(/^error: [^\n]+\n(?:\([^\n]+\)\n){0,2}$/);
  expect.soft(r.stderr, `${what}: says why — ${short(r)}`).toMatch(pattern);
}

/** With --json: one JSON error on stdout (as the existing CLI tests pin), nothing on stderr, exit 1. */
function expectJsonError(r: Run, what: string, code: string): void {
  expect.soft(r.code, `${what}: exit code — ${short(r)}`).toBe(1);
  expect.soft(r.stderr, `${what}: stderr — ${short(r)}`).toBe('');
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    parsed = r.stdout;
  }
  expect.soft(parsed, `${what}: JSON error — ${short(r)}`).toMatchObject({ error: { code, message: expect.any(String) } });
}

/** Every row the CLI may touch (sorted: the comparison ignores the order rows come in). */
const TABLES = [
  'customers',
  'sessions',
  'accounts',
  'sms_users',
  'senders',
  'api_tokens',
  'outgoing',
  'jobs',
  'dispatch_queue',
  'credit_changes',
  'ovh_applications',
  'ovh_credentials',
  'delete_jobs',
  'deletion_audit',
] as const;

type Snapshot = Record<string, string[]>;

async function snapshot(database: TestDatabase): Promise<Snapshot> {
  const tables: Record<string, string[]> = {};
  for (const table of TABLES) {
    const rows = await database.db
      .selectFrom(table as 'accounts')
      .selectAll()
      .execute();
    tables[table] = rows.map((row) => JSON.stringify(row)).sort();
  }
  return tables;
}

/** The database as it was `before`, table by table (soft: every changed table is reported). */
async function expectUnchanged(database: TestDatabase, before: Snapshot, what: string): Promise<void> {
  const after = await snapshot(database);
  for (const table of TABLES) expect.soft(after[table], `${what}: rows of ${table} changed`).toEqual(before[table]);
}

const ACCOUNT = 'sms-ab12345-1';
/** An account without credits. */
const POOR = 'sms-ab12345-2';
const OWNER = 'owner@example.com';
const LONG = 'a'.repeat(10_000);

/** A customer, two accounts with a sender each, an SMS user with an IP restriction and a quota. */
async function seed(database: TestDatabase): Promise<void> {
  const services = composeServices({ config: testConfig(), database, clock: systemClock });
  try {
    await services.customers.create({ email: OWNER, password: 'owner-password' });
    await services.accounts.create({ name: ACCOUNT, ownerEmail: OWNER, credits: 100, timezone: 'Europe/Paris' });
    await services.accounts.create({ name: POOR, ownerEmail: OWNER, credits: 0, timezone: 'Europe/Paris' });
    await services.senders.create(SYSTEM_ACTOR, ACCOUNT, { sender: 'Shop' });
    await services.senders.create(SYSTEM_ACTOR, POOR, { sender: 'Shop' });
    await services.smsUsers.create(SYSTEM_ACTOR, ACCOUNT, {
      login: 'shop',
      password: 'shop-password',
      ipRestrictions: ['192.0.2.0/24'],
      quota: 50,
    });
  } finally {
    await services.close();
  }
}

/**
 * Bad input each command must refuse with one clear line, changing nothing (and why it is refused).
 * `parse`: refused while reading the arguments, before the database is opened (run on SQLite only).
 */
const REFUSED: readonly (readonly [args: readonly string[], why: RegExp, parse?: 'parse'])[] = [
  [['customer', 'create', '--email', '', '--password', 'owner-password'], /Invalid e-mail address/],
  [['customer', 'create', '--email', '   ', '--password', 'owner-password'], /Invalid e-mail address/],
  [['customer', 'create', '--email', 'not-an-email', '--password', 'owner-password'], /Invalid e-mail address/],
  [['customer', 'create', '--email', OWNER, '--password', 'owner-password'], /CUSTOMER_EXISTS/],
  [['customer', 'create', '--email', 'new@example.com', '--password', 'short'], /8 to 256 characters/],
  [['customer', 'password', '--email', 'nobody@example.com'], /CUSTOMER_NOT_FOUND/],
  [['customer', 'password', '--email', OWNER, '--password', 'short'], /8 to 256 characters/],
  [['account', 'create', '--name', 'sms-ab12345-7', '--owner', OWNER, '--credits', 'abc'], /--credits must be a number/, 'parse'],
  [['account', 'create', '--name', 'sms-ab12345-7', '--owner', OWNER, '--credits', '1e999'], /--credits must be a number/, 'parse'],
  [['account', 'create', '--name', 'sms-ab12345-7', '--owner', OWNER, '--credits', '-5'], /--credits must be a number/, 'parse'],
  [['account', 'create', '--name', 'sms-ab12345-7', '--owner', OWNER, '--timezone', 'Mars/Olympus'], /Unknown timezone/],
  [['account', 'create', '--name', 'nope', '--owner', OWNER], /Invalid account name/],
  [['account', 'create', '--name', 'sms-ab12345-7', '--owner', 'nobody@example.com'], /CUSTOMER_NOT_FOUND/],
  [['account', 'create', '--name', ACCOUNT, '--owner', OWNER], /ACCOUNT_EXISTS/],
  [['account', 'update', '--name', ACCOUNT, '--timezone', 'UTC', '--default-country', 'XX'], /Unknown country "XX"/],
  [['account', 'update', '--name', ACCOUNT, '--retention-days', '0'], /VALIDATION_FAILED/],
  [['account', 'update', '--name', ACCOUNT, '--store-text', 'maybe'], /--store-text must be yes or no/, 'parse'],
  [['account', 'update', '--name', ACCOUNT], /Nothing to change/, 'parse'],
  [['account', 'update', '--name', 'sms-zz00000-1', '--description', 'x'], /ACCOUNT_NOT_FOUND/],
  [['account', 'credit', '--name', ACCOUNT, '--add', '1e13'], /VALIDATION_FAILED/],
  [['account', 'credit', '--name', ACCOUNT, '--add', 'abc'], /--add must be a number/, 'parse'],
  [['account', 'credit', '--name', ACCOUNT, '--add', '5', '--remove', '3'], /one of them/, 'parse'],
  [['account', 'credit', '--name', ACCOUNT, '--remove', '5000'], /INSUFFICIENT_CREDITS/],
  [['account', 'credit', '--name', ACCOUNT, '--add', '5', '--reason', 'x'.repeat(201)], /at most 200 characters/],
  [['account', 'credit', '--name', ACCOUNT, '--add', '5', '--reason', 'a\u001b[2Jb'], /control characters/],
  [['account', 'credit-history', '--name', ACCOUNT, '--limit', '0'], /--limit must be a whole number/, 'parse'],
  [['user', 'create', '--account', ACCOUNT, '--login', 'ab'], /Invalid login/],
  [['user', 'create', '--account', ACCOUNT, '--login', 'newuser', '--ip', '10.0.0.0/33'], /Invalid IP restriction/],
  [['user', 'create', '--account', ACCOUNT, '--login', 'newuser', '--quota', '-1'], /--quota must be a number/, 'parse'],
  [['user', 'create', '--account', ACCOUNT, '--login', 'newuser', '--callback-url', 'not a url'], /Invalid callback URL/],
  [['user', 'create', '--account', 'sms-zz00000-1', '--login', 'newuser'], /ACCOUNT_NOT_FOUND/],
  [['user', 'update', '--account', ACCOUNT, '--login', 'shop', '--quota', '5', '--ip', '300.1.1.1'], /Invalid IP restriction/],
  [['user', 'update', '--account', ACCOUNT, '--login', 'shop', '--password', 'x', '--new-password'], /not both/, 'parse'],
  [['user', 'update', '--account', ACCOUNT, '--login', 'nobody', '--quota', '5'], /USER_NOT_FOUND/],
  [['user', 'delete', '--account', ACCOUNT, '--login', 'nobody'], /USER_NOT_FOUND/],
  [['sender', 'add', '--account', ACCOUNT, '--sender', ''], /INVALID_SENDER/],
  [['sender', 'add', '--account', ACCOUNT, '--sender', 'ABCDEFGHIJKL'], /INVALID_SENDER/],
  [['sender', 'add', '--account', ACCOUNT, '--sender', 'Shop'], /SENDER_EXISTS/],
  [['token', 'create', '--account', ACCOUNT, '--user', 'nobody'], /USER_NOT_FOUND/],
  [['token', 'create', '--account', ACCOUNT, '--name', 'n'.repeat(101)], /at most 100 characters/],
  [['token', 'revoke', '--account', ACCOUNT, '--id', 'abc'], /--id must be a token id/, 'parse'],
  [['token', 'revoke', '--account', ACCOUNT, '--id', '999'], /TOKEN_NOT_FOUND/],
  [['ovh-key', 'create', '--owner', 'nobody@example.com'], /CUSTOMER_NOT_FOUND/],
  [['ovh-key', 'create', '--owner', OWNER, '--validity', '2d'], /--validity must be one of/, 'parse'],
  [['ovh-key', 'list', '--owner', 'nobody@example.com'], /CUSTOMER_NOT_FOUND/],
  [['send', '--account', ACCOUNT, '--sender', 'Shop', '--to', 'nope', '--message', 'hi'], /INVALID_RECEIVER/],
  [['send', '--account', ACCOUNT, '--sender', 'Shop', '--message', 'hi'], /--to/, 'parse'],
  [['send', '--account', ACCOUNT, '--to', '+33612345678', '--message', 'hi'], /INVALID_SENDER/],
  [['send', '--account', ACCOUNT, '--sender', 'Nope', '--to', '+33612345678', '--message', 'hi'], /INVALID_SENDER/],
  [['send', '--account', ACCOUNT, '--sender', 'Shop', '--to', '+33612345678', '--message', ''], /message is empty/],
  [['send', '--account', ACCOUNT, '--sender', 'Shop', '--to', '+33612345678', '--message', LONG], /too long/],
  [['send', '--account', ACCOUNT, '--sender', 'Shop', '--to', '+33612345678', '--message', 'hi', '--validity', 'abc'], /--validity/],
  [['send', '--account', ACCOUNT, '--sender', 'Shop', '--to', '+33612345678', '--message', 'hi', '--at', '2000-01-01'], /in the past/],
  [['send', '--account', ACCOUNT, '--sender', 'Shop', '--to', '+33612345678', '--message', 'hi', '--user', 'nobody'], /USER_NOT_FOUND/],
  [['send', '--account', POOR, '--sender', 'Shop', '--to', '+33612345678', '--message', 'hi'], /INSUFFICIENT_CREDITS/],
  [['history', 'export', '--account', 'sms-zz00000-1'], /ACCOUNT_NOT_FOUND/],
  [['history', 'export', '--account', ACCOUNT, '--format', 'xml'], /--format must be one of/, 'parse'],
  [['history', 'export', '--account', ACCOUNT, '--limit', '0'], /--limit/, 'parse'],
  [['history', 'export', '--account', ACCOUNT, '--status', 'bogus'], /unknown status/],
  [['history', 'export', '--account', ACCOUNT, '--from', '2024-13-45'], /not a real date/],
  [['demo', '--account', ACCOUNT, '--messages', '0'], /--messages must be a whole number/, 'parse'],
  [['demo', '--account', ACCOUNT, '--messages', 'abc'], /--messages must be a whole number/, 'parse'],
  [['demo', '--account', ACCOUNT, '--messages', '1e9'], /--messages must be a whole number/, 'parse'],
  [['demo', '--account', 'sms-zz00000-1', '--messages', '10'], /ACCOUNT_NOT_FOUND/],
  [['demo', '--account', ACCOUNT, '--messages', '10', '--days', '0'], /--days/, 'parse'],
];

for (const dialect of ['sqlite', 'postgres'] as const satisfies readonly Dialect[]) {
  describe(`relais: bad input is refused in one line, exit 1, nothing changed [${dialect}]`, () => {
    let database: TestDatabase;
    const env = () => ({ RELAIS_DATABASE_URL: database.url });
    const run = (...args: string[]) => relais(env(), ...args);

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      await seed(database);
    });
    afterAll(async () => {
      await database?.close();
    });

    it('every command refuses its bad input with one clear line and exit 1; the database is unchanged', async () => {
      const before = await snapshot(database);
      const cases = dialect === 'sqlite' ? REFUSED : REFUSED.filter(([, , parse]) => parse === undefined);
      const results = await inParallel(cases, 4, ([args]) => run(...args));
      for (const [i, [args, why]] of cases.entries()) expectClearError(results[i], args.join(' ').slice(0, 120), why);
      await expectUnchanged(database, before, 'after the refusals');
    }, 120_000);

    it('with --json, the refusal is one JSON error on stdout, exit 1; the database is unchanged', async () => {
      const before = await snapshot(database);
      const [unknown, credits, poor] = await Promise.all([
        run('sender', 'add', '--account', 'sms-zz00000-1', '--sender', 'X1', '--json'),
        run('account', 'create', '--name', 'sms-ab12345-7', '--owner', OWNER, '--credits', 'abc', '--json'),
        run('send', '--account', POOR, '--sender', 'Shop', '--to', '+33612345678', '--message', 'hi', '--json'),
      ]);
      expectJsonError(unknown, 'sender add, unknown account', 'ACCOUNT_NOT_FOUND');
      expectJsonError(credits, 'account create --credits abc', 'VALIDATION_FAILED');
      expectJsonError(poor, 'send without credits', 'INSUFFICIENT_CREDITS');
      await expectUnchanged(database, before, 'after the refusals');
    }, 60_000);

    it('ovh-key create with a bad --ip or --rule leaves no OVH application behind', async () => {
      const before = await snapshot(database);
      const badIp = await run('ovh-key', 'create', '--owner', OWNER, '--ip', '300.0.0.1');
      expectClearError(badIp, 'ovh-key create --ip 300.0.0.1', /Invalid IP restriction/);
      const badPath = await run('ovh-key', 'create', '--owner', OWNER, '--rule', 'GET /sms?x');
      expectClearError(badPath, 'ovh-key create --rule "GET /sms?x"', /path/);
      await expectUnchanged(database, before, 'after the refused ovh-key create');
    }, 60_000);

    it('absurd amounts and dates are refused: --credits 1e300, --quota 1e300, --at in the year 9999', async () => {
      const before = await snapshot(database);
      const [credits, quota, at] = await Promise.all([
        run('account', 'create', '--name', 'sms-ab12345-8', '--owner', OWNER, '--credits', '1e300'),
        run('user', 'create', '--account', ACCOUNT, '--login', 'rich', '--quota', '1e300'),
        run('send', '--account', ACCOUNT, '--sender', 'Shop', '--to', '+33612345678', '--message', 'hi', '--at', '9999-12-31'),
      ]);
      // `account credit` refuses more than 1e12 at once, `--differed-period` more than a year.
      expectClearError(credits, 'account create --credits 1e300');
      expectClearError(quota, 'user create --quota 1e300');
      expectClearError(at, 'send --at 9999-12-31');
      await expectUnchanged(database, before, 'after the refusals');
    }, 60_000);

    it('history export to a path it cannot write says so in one line, exit 1, and writes nothing', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'relais-cli-review-'));
      try {
        // On SQLite the seed format's --all path has its own test below (it hangs up silently there).
        const format = dialect === 'sqlite' ? ['--format', 'jsonl'] : [];
        const res = await run('history', 'export', '--account', ACCOUNT, ...format, '--all', '--output', '/proc/x/y');
        expect(res.code, short(res)).toBe(1);
        expect(res.stdout).toBe('');
        expect(res.stderr.trim().split('\n').pop(), short(res)).toMatch(/^error: .*\/proc\/x\/y/);
        const json = await run('history', 'export', '--account', ACCOUNT, '--output', dir, '--json');
        expect(json.code, short(json)).toBe(1);
        expect(existsSync('/proc/x/y')).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });
}

describe('relais: bad input is refused in one line, exit 1, nothing changed [sqlite only]', () => {
  let database: TestDatabase;
  const run = (...args: string[]) => relais({ RELAIS_DATABASE_URL: database.url }, ...args);

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    await seed(database);
  });
  afterAll(async () => {
    await database?.close();
  });

  it('--help of every command prints its usage on stdout and exits 0', async () => {
    const commands = [
      [],
      ['migrate'],
      ['customer'],
      ...['create', 'list', 'password'].map((c) => ['customer', c]),
      ['account'],
      ...['create', 'list', 'update', 'credit', 'credit-history'].map((c) => ['account', c]),
      ['user'],
      ...['create', 'list', 'update', 'delete'].map((c) => ['user', c]),
      ['sender'],
      ...['add', 'list'].map((c) => ['sender', c]),
      ['token'],
      ...['create', 'list', 'revoke'].map((c) => ['token', c]),
      ['ovh-key'],
      ...['create', 'list'].map((c) => ['ovh-key', c]),
      ['send'],
      ['history'],
      ['history', 'export'],
      ['demo'],
    ];
    const results = await inParallel(commands, 8, (command) => run(...command, '--help'));
    for (const [i, command] of commands.entries()) {
      const res = results[i];
      const what = ['relais', ...command, '--help'].join(' ');
      expect.soft(res.code, `${what}: ${short(res)}`).toBe(0);
      expect.soft(res.stdout, what).toMatch(new RegExp(`^Usage: ${['relais', ...command].join(' ')} `));
      expect.soft(res.stderr, what).toBe('');
    }
  }, 60_000);

  it('usage errors (unknown option or command, missing option) are one clear line and a hint, exit 2, JSON with --json', async () => {
    const before = await snapshot(database);
    const [unknownOption, missing, unknownCommand, missingJson] = await Promise.all([
      run('account', 'create', '--name', 'sms-ab12345-7', '--owner', OWNER, '--bogus'),
      run('account', 'create', '--owner', OWNER),
      run('acount', 'list'),
      run('account', 'create', '--owner', OWNER, '--json'),
    ]);
    // README "## Command line": a command line that cannot be read gives one line and a hint, exit code 2.
    expectUsageError(unknownOption, 'unknown option', /--bogus|--name/);
    expectUsageError(missing, 'missing --name', /--name/);
    expectUsageError(unknownCommand, 'unknown command', /acount/);
    expect.soft(missingJson.code, short(missingJson)).toBe(2);
    expect.soft(JSON.parse(missingJson.stdout), short(missingJson)).toEqual({
      error: { code: 'USAGE', message: expect.stringContaining('--name') },
    });
    await expectUnchanged(database, before, 'after the refusals');
  }, 60_000);

  it('an option given twice is refused, not silently replaced: send --message, user update --ip', async () => {
    const before = await snapshot(database);
    const message = await run(
      'send',
      '--account',
      ACCOUNT,
      '--sender',
      'Shop',
      '--to',
      '+33612345678',
      '--message',
      'first',
      '--message',
      'second',
    );
    expectUsageError(message, 'send --message first --message second', /given twice/);
    const ip = await run('user', 'update', '--account', ACCOUNT, '--login', 'shop', '--ip', '198.51.100.0/24', '--ip', '203.0.113.0/24');
    const restrictions = JSON.parse(
      (await database.db.selectFrom('sms_users').select('ip_restrictions').where('login', '=', 'shop').executeTakeFirstOrThrow())
        .ip_restrictions as string,
    );
    // Refused (restriction unchanged), or both kept as ovh-key --ip does: never one silently dropped.
    if (ip.code === 0) expect(restrictions, short(ip)).toEqual(['198.51.100.0/24', '203.0.113.0/24']);
    else expectClearError(ip, 'user update --ip A --ip B');
    if (ip.code !== 0) await expectUnchanged(database, before, 'after the refusals');
  }, 60_000);

  it('empty values are refused, not taken as "no restriction" or "stdout": user update --ip "", history export --output ""', async () => {
    const before = await snapshot(database);
    const [emptyIp, commaIp, emptyOutput] = await Promise.all([
      run('user', 'update', '--account', ACCOUNT, '--login', 'shop', '--ip', ''),
      run('user', 'update', '--account', ACCOUNT, '--login', 'shop', '--ip', ','),
      run('history', 'export', '--account', ACCOUNT, '--output', ''),
    ]);
    expectClearError(emptyIp, 'user update --ip ""');
    expectClearError(commaIp, 'user update --ip ","');
    expectClearError(emptyOutput, 'history export --output ""');
    await expectUnchanged(database, before, 'after the refusals');
  }, 60_000);

  it('control characters are refused wherever text is kept (as --reason refuses them)', async () => {
    const before = await snapshot(database);
    const cases = [
      ['customer', 'create', '--email', 'x\u0001y@example.com', '--password', 'owner-password'],
      ['account', 'update', '--name', ACCOUNT, '--description', 'a\u001b[31mb'],
      ['sender', 'add', '--account', ACCOUNT, '--sender', 'Other', '--description', 'a\u001b[2Jb'],
      ['token', 'create', '--account', ACCOUNT, '--name', 'a\u001b[2Jb'],
      ['send', '--account', ACCOUNT, '--sender', 'Shop', '--to', '+33612345678', '--message', 'hi', '--tag', 'a\nb'],
    ];
    const results = await inParallel(cases, 5, (args) => run(...args));
    for (const [i, args] of cases.entries()) expectClearError(results[i], JSON.stringify(args.slice(0, 2).concat(args.slice(-2))));
    await expectUnchanged(database, before, 'after the refusals');
  }, 60_000);

  it('10,000-character values get a short error line, not the value echoed back', async () => {
    const cases = [
      ['customer', 'create', '--email', `${LONG}@example.com`, '--password', 'owner-password'],
      ['account', 'create', '--name', `sms-${LONG}`, '--owner', OWNER],
      ['user', 'create', '--account', ACCOUNT, '--login', LONG],
      ['sender', 'add', '--account', ACCOUNT, '--sender', LONG],
    ];
    const results = await inParallel(cases, 4, (args) => run(...args));
    for (const [i, args] of cases.entries()) {
      const what = `${args[0]} ${args[1]} with a 10,000-character value`;
      expectClearError(results[i], what);
      expect.soft(results[i].stderr.length, `${what}: error line length`).toBeLessThan(500);
    }
  }, 60_000);

  it('send names the file it cannot read (--to-file, --message-file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relais-cli-review-'));
    try {
      const [toDir, messageMissing] = await Promise.all([
        run('send', '--account', ACCOUNT, '--sender', 'Shop', '--to-file', dir, '--message', 'hi'),
        run('send', '--account', ACCOUNT, '--sender', 'Shop', '--to', '+33612345678', '--message-file', join(dir, 'missing.txt')),
      ]);
      expectClearError(toDir, 'send --to-file <a directory>', new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      expectClearError(messageMissing, 'send --message-file <missing>', /missing\.txt/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('history export --json reports its error where it reports its summary (stderr), never into the data on stdout', async () => {
    const res = await run('history', 'export', '--account', 'sms-zz00000-1', '--json');
    expect(res.code, short(res)).toBe(1);
    expect(res.stdout, 'stdout carries the CSV').toBe('');
    expect(JSON.parse(res.stderr.trim() || 'null'), short(res)).toMatchObject({ error: { code: 'ACCOUNT_NOT_FOUND' } });
  }, 60_000);

  it('history export to an unwritable path after a real history: one error line, exit 1 (SQLite)', async () => {
    const account = 'sms-hx12345-1';
    const services = composeServices({ config: testConfig(), database, clock: systemClock });
    try {
      await services.accounts.create({ name: account, ownerEmail: OWNER, credits: 0, timezone: 'Europe/Paris' });
    } finally {
      await services.close();
    }
    const demo = await run('demo', '--account', account, '--messages', '10000', '--seed', 'review', '--json');
    expect(demo.code, short(demo)).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'relais-cli-review-'));
    try {
      // --all in the seed format reads slices on SQLite threads (the fast path), --limit the plain stream.
      const all = await run('history', 'export', '--account', account, '--all', '--output', '/proc/x/y');
      const limited = await run('history', 'export', '--account', account, '--limit', '100', '--output', dir);
      expectClearError(all, 'history export --all --output /proc/x/y', /\/proc\/x\/y/);
      expectClearError(limited, 'history export --limit 100 --output <a directory>', /EISDIR|directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('relais: a database it cannot use is one clear line and exit 1', () => {
  it('a SQLite file under /proc (no directory can be made there) fails at once instead of hanging', async () => {
    const res = await relais({ RELAIS_DATABASE_URL: 'sqlite:/proc/relais-nodir/relais.db' }, 'account', 'list');
    expect(res.signal, `hung ${HANG_MS / 1000} s: ${short(res)}`).toBeNull();
    expectClearError(res, 'sqlite:/proc/relais-nodir/relais.db', /relais-nodir/);
  }, 30_000);

  it('an empty SQLite path is refused rather than a throw-away in-memory database that loses what a command writes', async () => {
    const res = await relais(
      { RELAIS_DATABASE_URL: 'sqlite:' },
      'customer',
      'create',
      '--email',
      'lost@example.com',
      '--password',
      'lost-password',
    );
    expectClearError(res, 'RELAIS_DATABASE_URL=sqlite:', /RELAIS_DATABASE_URL/);
  }, 30_000);

  it('an unreachable or unusable database is named in the error, in one line, exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relais-cli-review-'));
    try {
      const file = join(dir, 'not-a-directory');
      writeFileSync(file, 'x');
      const csv = join(dir, 'history.csv');
      writeFileSync(
        csv,
        `date;sender;receiver;message;status\n${'"20141129122543";"OVH";"+33612345678";"Mon message";"sent"\n'.repeat(5)}`,
      );
      const [refused, underFile, notDb, mysql] = await Promise.all([
        relais({ RELAIS_DATABASE_URL: 'postgres://127.0.0.1:1/x' }, 'account', 'list'),
        relais({ RELAIS_DATABASE_URL: `sqlite:${file}/relais.db` }, 'migrate'),
        relais({ RELAIS_DATABASE_URL: `sqlite:${csv}` }, 'account', 'list'),
        relais({ RELAIS_DATABASE_URL: 'mysql://x' }, 'account', 'list'),
      ]);
      expectClearError(mysql, 'mysql://x', /RELAIS_DATABASE_URL/);
      // The operator must see that the database is the problem, and which one.
      expectClearError(refused, 'postgres://127.0.0.1:1/x', /database.*127\.0\.0\.1:1|127\.0\.0\.1:1.*database/i);
      expectClearError(underFile, 'sqlite under a file', /database.*not-a-directory|not-a-directory.*database/i);
      expectClearError(notDb, 'sqlite file that is not a database', /history\.csv/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('PostgreSQL: migrate the public schema of a database whose other schema already holds Relais (no raw SQL error)', async () => {
    const name = `relais_cli_review_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    try {
      await admin.query(`create database ${name}`);
      const url = new URL(TEST_POSTGRES_URL);
      url.pathname = `/${name}`;
      const other = await relais({ RELAIS_DATABASE_URL: `${url.href}?schema=other` }, 'migrate');
      expect(other.code, short(other)).toBe(0);
      const main = await relais({ RELAIS_DATABASE_URL: url.href }, 'migrate');
      expect(main.stderr, short(main)).not.toMatch(NOT_CLEAR);
      expect(main, short(main)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Applied: 0001-initial/) });
    } finally {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  }, 60_000);
});
