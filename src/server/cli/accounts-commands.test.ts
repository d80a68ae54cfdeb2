import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../../test/app.js';
import { systemClock } from '../clock.js';
import { openDatabase } from '../db/database.js';
import { composeServices } from '../services.js';

const run = promisify(execFile);
const file = join(tmpdir(), `relais-cli-${process.pid}-${Date.now()}.db`);
const env = { ...process.env, RELAIS_DATABASE_URL: `sqlite:${file}`, RELAIS_ARGON2_TEST_FAST: '1', NODE_NO_WARNINGS: '1' };

async function relais(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/relais.js', ...args], { env, cwd: process.cwd() });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('relais customer/account/user/sender/token commands (real process, SQLite)', () => {
  afterAll(() => {
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  });

  it('set up an account end to end, in human text and in JSON', async () => {
    const customer = await relais('customer', 'create', '--email', 'Owner@Example.com', '--password', 'owner-password');
    expect(customer).toMatchObject({ code: 0, stdout: 'Customer owner@example.com created (id 1).\n' });

    const account = await relais(
      'account',
      'create',
      '--name',
      'sms-ab12345-1',
      '--owner',
      'owner@example.com',
      '--credits',
      '150',
      '--json',
    );
    expect(account.code).toBe(0);
    expect(JSON.parse(account.stdout)).toEqual({
      name: 'sms-ab12345-1',
      owner: 'owner@example.com',
      credits: 150,
      timezone: 'Europe/Paris',
    });

    const generated = await relais('user', 'create', '--account', 'sms-ab12345-1', '--login', 'api-user');
    expect(generated.code).toBe(0);
    expect(generated.stdout).toMatch(/^SMS user api-user created in sms-ab12345-1; password: [A-Za-z0-9]{16}\.\n$/);
    const given = await relais(
      'user',
      'create',
      '--account',
      'sms-ab12345-1',
      '--login',
      'mailer',
      '--password',
      'mailer-password',
      '--json',
    );
    expect(JSON.parse(given.stdout)).toEqual({ account: 'sms-ab12345-1', login: 'mailer' });

    const sender = await relais('sender', 'add', '--account', 'sms-ab12345-1', '--sender', 'My Shop', '--json');
    expect(JSON.parse(sender.stdout)).toEqual({ account: 'sms-ab12345-1', sender: 'My Shop', type: 'alpha', status: 'enable' });

    const token = await relais('token', 'create', '--account', 'sms-ab12345-1', '--user', 'api-user', '--name', 'ci', '--json');
    expect(token.code).toBe(0);
    const { token: bearer, id } = JSON.parse(token.stdout);
    expect(bearer).toMatch(new RegExp(`^rls_${id}_[A-Za-z0-9_-]{43}$`));
    const human = await relais('token', 'create', '--account', 'sms-ab12345-1');
    expect(human.stdout).toMatch(
      /^Token \d+ for sms-ab12345-1 \(shown once, send it as Authorization: Bearer <token>\): rls_\d+_[A-Za-z0-9_-]{43}\n$/,
    );

    const database = openDatabase(`sqlite:${file}`);
    try {
      const services = composeServices({ config: testConfig(), database, clock: systemClock });
      expect(await services.apiTokens.verify(bearer)).toMatchObject({ kind: 'token', userLogin: 'api-user' });
      expect((await services.smsUsers.authenticate('sms-ab12345-1', 'mailer', 'mailer-password')).user.login).toBe('mailer');
    } finally {
      await database.close();
    }
  }, 90_000);

  it('explain bad input and exit 1', async () => {
    const badName = await relais('account', 'create', '--name', 'nope', '--owner', 'owner@example.com');
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/^error: Invalid account name "nope".*\(VALIDATION_FAILED\)\n$/);
    const unknownAccount = await relais('sender', 'add', '--account', 'sms-zz00000-1', '--sender', 'X1', '--json');
    expect(unknownAccount.code).toBe(1);
    expect(JSON.parse(unknownAccount.stdout)).toEqual({
      error: { code: 'ACCOUNT_NOT_FOUND', message: 'No SMS account named sms-zz00000-1' },
    });
    const duplicate = await relais('customer', 'create', '--email', 'owner@example.com', '--password', 'whatever-123');
    expect(duplicate).toMatchObject({ code: 1, stderr: expect.stringContaining('(CUSTOMER_EXISTS)') });
    const missing = await relais('token', 'create');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--account <name>' not specified");
  }, 60_000);
});
