import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../../test/app.js';
import { describeEachDialect } from '../../../test/database.js';
import { runRelais } from '../../../test/relais-cli.js';
import { systemClock } from '../clock.js';
import { openDatabase } from '../db/database.js';
import { SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import { composeServices } from '../services.js';

const file = join(tmpdir(), `relais-cli-${process.pid}-${Date.now()}.db`);
const relais = (...args: string[]) => runRelais({ RELAIS_DATABASE_URL: `sqlite:${file}`, RELAIS_ARGON2_TEST_FAST: '1' }, ...args);

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

  it('list, change and delete SMS users; a deleted user keeps its history', async () => {
    const account = 'sms-us12345-1';
    expect((await relais('account', 'create', '--name', account, '--owner', 'owner@example.com', '--credits', '10')).code).toBe(0);
    expect((await relais('user', 'list', '--account', account)).stdout).toBe(
      `No SMS user in ${account} (create one with: relais user create --account ${account} --login …).\n`,
    );
    const created = await relais(
      'user',
      'create',
      '--account',
      account,
      '--login',
      'shop',
      '--password',
      'shop-password',
      '--ip',
      '192.0.2.0/24, 2001:db8::1',
      '--quota',
      '100',
      '--callback-url',
      'https://example.com/cb',
    );
    expect(created).toMatchObject({ code: 0, stdout: `SMS user shop created in ${account}.\n` });
    expect((await relais('user', 'create', '--account', account, '--login', 'alerts', '--password', 'alerts-password')).code).toBe(0);

    const listed = await relais('user', 'list', '--account', account);
    expect(listed.stdout).toBe(
      'alerts  (IP: any; quota: none; callback: none)\nshop  (IP: 192.0.2.0/24, 2001:db8::1; quota: 100; callback: https://example.com/cb)\n',
    );
    const json = JSON.parse((await relais('user', 'list', '--account', account, '--json')).stdout);
    expect(json.map((u: { login: string }) => u.login)).toEqual(['alerts', 'shop']);
    expect(json[1]).toMatchObject({ ipRestrictions: ['192.0.2.0/24', '2001:db8::1'], quota: 100, callbackUrl: 'https://example.com/cb' });

    // Each setting changed alone, then removed with "any" / "none"; a new password generated and shown once.
    const quota = await relais('user', 'update', '--account', account, '--login', 'shop', '--quota', '5', '--json');
    expect(JSON.parse(quota.stdout)).toMatchObject({ login: 'shop', quota: 5, ipRestrictions: ['192.0.2.0/24', '2001:db8::1'] });
    const cleared = await relais(
      'user',
      'update',
      '--account',
      account,
      '--login',
      'shop',
      '--ip',
      'any',
      '--quota',
      'none',
      '--callback-url',
      'none',
      '--new-password',
    );
    expect(cleared.code).toBe(0);
    const password = /; new password: ([A-Za-z0-9]{16}) \(IP: any; quota: none; callback: none\)\.\n$/.exec(cleared.stdout)?.[1];
    expect(password, cleared.stdout).toBeDefined();

    // A message sent as the user, then the user deleted: the row still names it.
    const sent = await relais(
      'send',
      '--account',
      account,
      '--sender-for-response',
      '--user',
      'shop',
      '--to',
      '+33612345678',
      '--message',
      'hi',
      '--no-stop',
      '--json',
    );
    expect(sent.code, sent.stderr).toBe(0);
    const database = openDatabase(`sqlite:${file}`);
    try {
      const services = composeServices({ config: testConfig(), database, clock: systemClock });
      expect((await services.smsUsers.authenticate(account, 'shop', password!)).user.login).toBe('shop');
      await expect(services.smsUsers.authenticate(account, 'shop', 'shop-password')).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
      const deleted = await relais('user', 'delete', '--account', account, '--login', 'shop');
      expect(deleted).toMatchObject({ code: 0, stdout: `SMS user shop deleted from ${account} (its messages stay in the history).\n` });
      expect(
        JSON.parse((await relais('user', 'list', '--account', account, '--json')).stdout).map((u: { login: string }) => u.login),
      ).toEqual(['alerts']);
      const rows = await database.db.selectFrom('outgoing').select(['user_login', 'receiver']).execute();
      expect(rows).toContainEqual({ user_login: 'shop', receiver: '+33612345678' });
    } finally {
      await database.close();
    }

    const again = await relais('user', 'delete', '--account', account, '--login', 'shop', '--json');
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toEqual({ error: { code: 'USER_NOT_FOUND', message: `No SMS user shop in ${account}` } });
    const nothing = await relais('user', 'update', '--account', account, '--login', 'alerts');
    expect(nothing).toMatchObject({ code: 1, stderr: expect.stringContaining('Nothing to change') });
    const both = await relais('user', 'update', '--account', account, '--login', 'alerts', '--password', 'x-password', '--new-password');
    expect(both).toMatchObject({ code: 1, stderr: expect.stringContaining('not both') });
    const badIp = await relais('user', 'update', '--account', account, '--login', 'alerts', '--ip', '300.1.1.1');
    expect(badIp).toMatchObject({ code: 1, stderr: expect.stringContaining('Invalid IP restriction "300.1.1.1"') });
    const badQuota = await relais('user', 'create', '--account', account, '--login', 'other', '--quota', '-1');
    expect(badQuota).toMatchObject({ code: 1, stderr: expect.stringContaining('--quota must be a number ≥ 0 or "none"') });
  }, 120_000);

  it('list senders and API tokens, and revoke a token: the server refuses it', async () => {
    const account = 'sms-tk12345-1';
    expect((await relais('account', 'create', '--name', account, '--owner', 'owner@example.com')).code).toBe(0);
    expect((await relais('sender', 'list', '--account', account)).stdout).toBe(
      `No sender in ${account} (add one with: relais sender add --account ${account} --sender …).\n`,
    );
    await relais('sender', 'add', '--account', account, '--sender', 'MyShop', '--description', 'main');
    await relais('sender', 'add', '--account', account, '--sender', '+33612345678');
    expect((await relais('sender', 'list', '--account', account)).stdout).toBe(
      '+33612345678  (numeric, enable)\nMyShop  (alpha, enable: main)\n',
    );

    expect((await relais('token', 'list', '--account', account)).stdout).toBe(`No API token in ${account}.\n`);
    const { token: bearer, id } = JSON.parse((await relais('token', 'create', '--account', account, '--name', 'ci', '--json')).stdout);
    const listed = await relais('token', 'list', '--account', account);
    expect(listed.stdout).toMatch(new RegExp(`^${id} "ci", whole account, created \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z, never used\\n$`));
    expect(listed.stdout).not.toContain(bearer.slice(8));

    const database = openDatabase(`sqlite:${file}`);
    try {
      const services = composeServices({ config: testConfig(), database, clock: systemClock });
      expect(await services.apiTokens.verify(bearer)).toMatchObject({ tokenId: id });
      const revoked = await relais('token', 'revoke', '--account', account, '--id', String(id));
      expect(revoked).toMatchObject({ code: 0, stdout: `Token ${id} of ${account} revoked.\n` });
      // A fresh process (the server reads the row again within 2 s): refused.
      const later = composeServices({ config: testConfig(), database, clock: systemClock });
      expect(await later.apiTokens.verify(bearer)).toBeUndefined();
    } finally {
      await database.close();
    }
    const [json] = JSON.parse((await relais('token', 'list', '--account', account, '--json')).stdout);
    expect(json).toMatchObject({ id, name: 'ci', user: null, lastUsedAt: expect.any(String), revokedAt: expect.any(String) });
    const unknown = await relais('token', 'revoke', '--account', account, '--id', '999999');
    expect(unknown).toMatchObject({ code: 1, stderr: 'error: No API token 999999 in this account (TOKEN_NOT_FOUND)\n' });
    const bad = await relais('token', 'revoke', '--account', account, '--id', 'x');
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringContaining('--id must be a token id') });
  }, 60_000);

  it('the operator refuses a sender and disables an account: the customer cannot undo either, and nothing is sent', async () => {
    const account = 'sms-ds12345-1';
    expect((await relais('account', 'create', '--name', account, '--owner', 'owner@example.com', '--credits', '10')).code).toBe(0);
    await relais('sender', 'add', '--account', account, '--sender', 'BANK');
    await relais('sender', 'add', '--account', account, '--sender', 'MyShop');
    expect(await relais('sender', 'update', '--account', account, '--sender', 'BANK', '--status', 'refused')).toMatchObject({
      code: 0,
      stdout: `Sender "BANK" of ${account}: refused.\n`,
    });
    const bad = await relais('sender', 'update', '--account', account, '--sender', 'BANK', '--status', 'maybe');
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringContaining('Invalid sender status "maybe"') });
    const database = openDatabase(`sqlite:${file}`);
    try {
      const services = composeServices({ config: testConfig(), database, clock: systemClock });
      const owner = { kind: 'customer', customerId: 1, email: 'owner@example.com' } as const;
      await expect(services.senders.update(owner as never, account, 'BANK', { status: 'enable' })).rejects.toMatchObject({
        code: 'FORBIDDEN',
      });
      await expect(services.senders.delete(owner as never, account, 'BANK')).rejects.toMatchObject({ code: 'FORBIDDEN' });

      const disabled = await relais('account', 'update', '--name', account, '--status', 'disable');
      expect(disabled).toMatchObject({ code: 0, stdout: expect.stringContaining('DISABLED (sends nothing)') });
      const sent = await relais('send', '--account', account, '--sender', 'MyShop', '--to', '+33612345678', '--message', 'Hello');
      expect(sent).toMatchObject({ code: 1, stderr: expect.stringContaining('ACCOUNT_DISABLED') });
      const later = composeServices({ config: testConfig(), database, clock: systemClock });
      await expect(later.accounts.update(owner as never, account, { status: 'enable' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect((await relais('account', 'update', '--name', account, '--status', 'enable')).code).toBe(0);
      expect((await relais('send', '--account', account, '--sender', 'MyShop', '--to', '+33612345678', '--message', 'Hello')).code).toBe(0);
    } finally {
      await database.close();
    }
  }, 60_000);

  it('list the accounts, and give or take back credits', async () => {
    const account = 'sms-cr12345-1';
    expect((await relais('account', 'create', '--name', account, '--owner', 'owner@example.com', '--credits', '10')).code).toBe(0);
    const listed = await relais('account', 'list');
    expect(listed.stdout).toContain(`${account}  owner@example.com, 10 credits, Europe/Paris\n`);
    const json = JSON.parse((await relais('account', 'list', '--json')).stdout);
    expect(json).toContainEqual({ name: account, owner: 'owner@example.com', credits: 10, timezone: 'Europe/Paris', status: 'enable' });

    expect(await relais('account', 'credit', '--name', account, '--add', '1000')).toMatchObject({
      code: 0,
      stdout: `Account ${account}: 10 → 1010 credits.\n`,
    });
    const removed = await relais('account', 'credit', '--name', account, '--remove', '9.5', '--json');
    expect(JSON.parse(removed.stdout)).toEqual({ name: account, before: 1010, after: 1000.5 });
    const tooMuch = await relais('account', 'credit', '--name', account, '--remove', '5000');
    expect(tooMuch).toMatchObject({
      code: 1,
      stderr: `error: ${account} has 1000.5 credits: 5000 cannot be taken away (INSUFFICIENT_CREDITS)\n`,
    });
    const neither = await relais('account', 'credit', '--name', account);
    expect(neither).toMatchObject({ code: 1, stderr: expect.stringContaining('Give --add N or --remove N') });
    const negative = await relais('account', 'credit', '--name', account, '--add', '-3');
    expect(negative).toMatchObject({ code: 1, stderr: expect.stringContaining('--add must be a number > 0, got "-3"') });
    const unknown = await relais('account', 'credit', '--name', 'sms-zz00000-1', '--add', '1');
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('(ACCOUNT_NOT_FOUND)') });
    expect(JSON.parse((await relais('account', 'list', '--json')).stdout)).toContainEqual(
      expect.objectContaining({ name: account, credits: 1000.5 }),
    );
  }, 60_000);

  it("change an account's settings, privacy and retention included, and refuse bad values", async () => {
    const account = 'sms-st12345-1';
    expect((await relais('account', 'create', '--name', account, '--owner', 'owner@example.com')).code).toBe(0);
    // Created without credits: nothing in its credit history.
    expect((await relais('account', 'credit-history', '--name', account)).stdout).toBe(
      `No credit change in ${account} (relais account credit --name ${account} --add N records one).\n`,
    );
    const changed = await relais(
      'account',
      'update',
      '--name',
      account,
      '--store-text',
      'no',
      '--retention-days',
      '365',
      '--timezone',
      'America/New_York',
      '--description',
      'Boutique',
    );
    expect(changed).toMatchObject({
      code: 0,
      stdout: `Account ${account}: America/New_York, country FR, texts not stored, messages deleted after 365 days, "Boutique".\n`,
    });
    const back = await relais(
      'account',
      'update',
      '--name',
      account,
      '--store-text',
      'yes',
      '--redact-after-days',
      '30',
      '--retention-days',
      'never',
      '--json',
    );
    expect(JSON.parse(back.stdout)).toEqual({
      name: account,
      description: 'Boutique',
      timezone: 'America/New_York',
      defaultCountry: 'FR',
      storeText: true,
      redactAfterDays: 30,
      retentionDays: null,
      status: 'enable',
      callbackUrl: null,
    });
    // Read back by the services, as the server and the privacy keeper see it.
    const database = openDatabase(`sqlite:${file}`);
    try {
      const services = composeServices({ config: testConfig(), database, clock: systemClock });
      expect(await services.accounts.get(SYSTEM_ACTOR, account)).toMatchObject({
        storeText: true,
        redactAfterDays: 30,
        retentionDays: null,
      });
    } finally {
      await database.close();
    }
    for (const [args, message] of [
      [[], 'Nothing to change'],
      [['--retention-days', '0'], 'retentionDays must be a whole number of days from 1 to 3650'],
      [['--redact-after-days', 'soon'], '--redact-after-days must be a number of days or "never", got "soon"'],
      [['--store-text', 'maybe'], '--store-text must be yes or no, got "maybe"'],
      [['--timezone', 'Mars/Olympus'], 'Mars/Olympus'],
    ] as const) {
      const refused = await relais('account', 'update', '--name', account, ...args);
      expect(refused, args.join(' ')).toMatchObject({ code: 1, stderr: expect.stringContaining(message) });
    }
    expect(await relais('account', 'update', '--name', 'sms-zz00000-1', '--retention-days', '5')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('(ACCOUNT_NOT_FOUND)'),
    });
  }, 60_000);

  it('list the customers, and set a forgotten password: the old one refused, every session ended', async () => {
    const email = 'forgetful@example.com';
    expect((await relais('customer', 'create', '--email', email, '--password', 'first-password')).code).toBe(0);
    expect((await relais('account', 'create', '--name', 'sms-fg12345-1', '--owner', email)).code).toBe(0);
    expect((await relais('customer', 'list')).stdout).toContain(`${email}  sms-fg12345-1\n`);
    expect(JSON.parse((await relais('customer', 'list', '--json')).stdout)).toContainEqual({
      email,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      accounts: ['sms-fg12345-1'],
    });

    const database = openDatabase(`sqlite:${file}`);
    try {
      const services = composeServices({ config: testConfig(), database, clock: systemClock });
      const { cookie } = await services.auth.signIn(email, 'first-password');
      expect(await services.auth.sessionPrincipal(cookie)).toBeDefined();
      const reset = await relais('customer', 'password', '--email', 'Forgetful@Example.com');
      expect(reset.code).toBe(0);
      const password = /^Password of forgetful@example.com changed, every session ended; new password: ([A-Za-z0-9]{16})\.\n$/.exec(
        reset.stdout,
      )?.[1];
      expect(password, reset.stdout).toBeDefined();
      expect(await services.auth.sessionPrincipal(cookie)).toBeUndefined();
      await expect(services.auth.signIn(email, 'first-password')).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
      expect((await services.auth.signIn(email, password!)).customer.email).toBe(email);
      const given = await relais('customer', 'password', '--email', email, '--password', 'chosen-password', '--json');
      expect(JSON.parse(given.stdout)).toEqual({ email });
      expect((await services.auth.signIn(email, 'chosen-password')).customer.email).toBe(email);
    } finally {
      await database.close();
    }
    const unknown = await relais('customer', 'password', '--email', 'nobody@example.com');
    expect(unknown).toMatchObject({ code: 1, stderr: 'error: No customer with e-mail nobody@example.com (CUSTOMER_NOT_FOUND)\n' });
    const short = await relais('customer', 'password', '--email', email, '--password', 'short');
    expect(short).toMatchObject({ code: 1, stderr: expect.stringContaining('8 to 256 characters') });
  }, 60_000);

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

describeEachDialect('relais account credit --reason and account credit-history (real process)', (ctx) => {
  const account = 'sms-ch12345-1';
  const relais = (...args: string[]) => runRelais({ RELAIS_DATABASE_URL: ctx.database.url }, ...args);

  beforeAll(async () => {
    const services = composeServices({ config: testConfig(), database: ctx.database, clock: systemClock });
    await services.customers.create({ email: 'credits@example.com', password: 'credits-password' });
    await services.accounts.create({ name: account, ownerEmail: 'credits@example.com', credits: 10 });
  });

  it('records each change with who made it, the balance after and the reason, and lists them newest first', async () => {
    const ts = '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z';
    // The account's creation recorded its 10 credits.
    const initial = await relais('account', 'credit-history', '--name', account);
    expect(initial.code).toBe(0);
    expect(initial.stdout).toMatch(new RegExp(`^${ts}  \\+10 → 10 credits, by operator \\(initial credits\\)\\n$`));
    expect(await relais('account', 'credit', '--name', account, '--add', '1000', '--reason', 'December refill')).toMatchObject({
      code: 0,
      stdout: `Account ${account}: 10 → 1010 credits.\n`,
    });
    const removed = await relais('account', 'credit', '--name', account, '--remove', '9.5', '--json');
    expect(JSON.parse(removed.stdout)).toEqual({ name: account, before: 1010, after: 1000.5 });
    // Refused (more than the balance, a reason too long): nothing changed, nothing recorded.
    expect(await relais('account', 'credit', '--name', account, '--remove', '5000')).toMatchObject({ code: 1 });
    const tooLong = await relais('account', 'credit', '--name', account, '--add', '1', '--reason', 'x'.repeat(201));
    expect(tooLong).toMatchObject({ code: 1, stderr: 'error: The reason must be at most 200 characters, got 201 (VALIDATION_FAILED)\n' });
    const tooLongJson = await relais('account', 'credit', '--name', account, '--add', '1', '--reason', 'x'.repeat(201), '--json');
    expect(JSON.parse(tooLongJson.stdout)).toEqual({
      error: { code: 'VALIDATION_FAILED', message: 'The reason must be at most 200 characters, got 201' },
    });

    const listed = await relais('account', 'credit-history', '--name', account);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(
        `^${ts}  -9\\.5 → 1000\\.5 credits, by operator\\n${ts}  \\+1000 → 1010 credits, by operator \\(December refill\\)\\n${ts}  \\+10 → 10 credits, by operator \\(initial credits\\)\\n$`,
      ),
    );
    const json = JSON.parse((await relais('account', 'credit-history', '--name', account, '--json')).stdout);
    expect(json).toEqual([
      {
        id: expect.any(Number),
        createdAt: expect.stringMatching(/^\d{4}-/),
        actor: 'operator',
        delta: -9.5,
        balanceAfter: 1000.5,
        reason: null,
      },
      {
        id: expect.any(Number),
        createdAt: expect.stringMatching(/^\d{4}-/),
        actor: 'operator',
        delta: 1000,
        balanceAfter: 1010,
        reason: 'December refill',
      },
      {
        id: expect.any(Number),
        createdAt: expect.stringMatching(/^\d{4}-/),
        actor: 'operator',
        delta: 10,
        balanceAfter: 10,
        reason: 'initial credits',
      },
    ]);
    expect(json[0].id).toBeGreaterThan(json[1].id);
    const newest = JSON.parse((await relais('account', 'credit-history', '--name', account, '--limit', '1', '--json')).stdout);
    expect(newest).toEqual([json[0]]);
  }, 60_000);

  it('refuses an unknown account and a bad limit, and exits 1', async () => {
    const unknown = await relais('account', 'credit-history', '--name', 'sms-zz00000-1');
    expect(unknown).toMatchObject({ code: 1, stderr: 'error: No SMS account named sms-zz00000-1 (ACCOUNT_NOT_FOUND)\n' });
    const unknownJson = await relais('account', 'credit', '--name', 'sms-zz00000-1', '--add', '1', '--reason', 'test', '--json');
    expect(unknownJson.code).toBe(1);
    expect(JSON.parse(unknownJson.stdout)).toEqual({ error: { code: 'ACCOUNT_NOT_FOUND', message: 'No SMS account named sms-zz00000-1' } });
    expect(await relais('account', 'credit-history', '--name', account, '--limit', '0')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--limit must be a whole number ≥ 1, got "0"'),
    });
    expect(await relais('account', 'credit-history', '--name', account, '--limit', '1001')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('The limit must be a whole number from 1 to 1000'),
    });
    expect((await relais('account', 'credit-history')).code).toBe(2);
  }, 60_000);
});

describeEachDialect('relais: amounts, IP restrictions and one-line texts are checked (real process)', (ctx) => {
  const account = 'sms-in12345-1';
  const owner = 'input@example.com';
  const relais = (...args: string[]) => runRelais({ RELAIS_DATABASE_URL: ctx.database.url, RELAIS_ARGON2_TEST_FAST: '1' }, ...args);
  const restrictions = async (login: string) =>
    JSON.parse(
      (await ctx.database.db.selectFrom('sms_users').select('ip_restrictions').where('login', '=', login).executeTakeFirstOrThrow())
        .ip_restrictions as string,
    );
  const accounts = async () => (await ctx.database.db.selectFrom('accounts').select(['name', 'credits', 'description']).execute()).length;

  beforeAll(async () => {
    const services = composeServices({ config: testConfig(), database: ctx.database, clock: systemClock });
    await services.customers.create({ email: owner, password: 'input-password' });
    await services.accounts.create({ name: account, ownerEmail: owner, credits: 10 });
    await services.smsUsers.create(SYSTEM_ACTOR, account, { login: 'shop', password: 'shop-password', ipRestrictions: ['192.0.2.0/24'] });
  });

  it('takes --credits, --add, --remove and --quota in decimal digits only, up to 1000000000000', async () => {
    const before = await accounts();
    const create = (credits: string) => relais('account', 'create', '--name', 'sms-in12345-2', '--owner', owner, '--credits', credits);
    const refused = await Promise.all([
      ...['0x10', '1e3', '1e300', '-5', 'Infinity', ' ', '1_000', '.5'].map(create),
      relais('account', 'credit', '--name', account, '--add', '0x10'),
      relais('account', 'credit', '--name', account, '--remove', '1e1'),
      relais('user', 'create', '--account', account, '--login', 'rich', '--quota', '0x10'),
      relais('user', 'update', '--account', account, '--login', 'shop', '--quota', '1e3'),
    ]);
    for (const res of refused) {
      expect(res.code, res.stderr).toBe(1);
      expect(res.stderr).toMatch(
        /^error: --(credits|add|remove|quota) must be a number .*, got ".*": expected decimal digits, such as 100 or 12\.5 \(VALIDATION_FAILED\)\n$/,
      );
    }
    // Beyond the maximum: the same rule for an account's creation, a credit and a quota, saying it.
    const [tooMany, tooMuch, tooRich] = await Promise.all([
      create('1000000000001'),
      relais('account', 'credit', '--name', account, '--add', '1000000000001'),
      relais('user', 'create', '--account', account, '--login', 'rich', '--quota', '1000000000000.5'),
    ]);
    expect(tooMany).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('must be a number from 0 to 1000000000000, got 1000000000001'),
    });
    expect(tooMuch).toMatchObject({ code: 1, stderr: expect.stringContaining('at most 1000000000000 at once') });
    expect(tooRich).toMatchObject({ code: 1, stderr: expect.stringContaining('The quota must be a number from 0 to 1000000000000') });
    expect(await accounts()).toBe(before);
    expect(await relais('user', 'list', '--account', account, '--json')).toMatchObject({
      code: 0,
      stdout: expect.not.stringContaining('rich'),
    });

    expect(await create('12.5')).toMatchObject({ code: 0, stdout: expect.stringContaining('(12.5 credits,') });
    expect(await relais('account', 'credit', '--name', 'sms-in12345-2', '--add', '1000000000000')).toMatchObject({ code: 0 });
    const rich = await relais('user', 'create', '--account', account, '--login', 'rich', '--quota', '1000000000000');
    expect(rich.code, rich.stderr).toBe(0);
  }, 60_000);

  it('--ip: repeatable and comma-separated; "any" alone removes the restrictions; an empty value is refused', async () => {
    const update = (...ips: string[]) =>
      relais('user', 'update', '--account', account, '--login', 'shop', ...ips.flatMap((ip) => ['--ip', ip]), '--json');
    const refused = await Promise.all([update(''), update(','), update(' , '), update('any', '198.51.100.7'), update('any,198.51.100.7')]);
    expect(refused.map((r) => [r.code, JSON.parse(r.stdout).error.code])).toEqual(Array(5).fill([1, 'VALIDATION_FAILED']));
    expect(JSON.parse(refused[0].stdout).error.message).toBe(
      '--ip is empty: give addresses or CIDR ranges, or "any" to allow every address',
    );
    expect(JSON.parse(refused[3].stdout).error.message).toContain('--ip any allows every address: give it alone');
    expect(await restrictions('shop')).toEqual(['192.0.2.0/24']);

    const both = await update('198.51.100.0/24', '203.0.113.1, 2001:db8::/32');
    expect(both.code, both.stderr).toBe(0);
    expect(JSON.parse(both.stdout).ipRestrictions).toEqual(['198.51.100.0/24', '203.0.113.1', '2001:db8::/32']);
    expect(await restrictions('shop')).toEqual(['198.51.100.0/24', '203.0.113.1', '2001:db8::/32']);
    const created = await relais('user', 'create', '--account', account, '--login', 'twoips', '--ip', '192.0.2.1', '--ip', '192.0.2.2');
    expect(created.code, created.stderr).toBe(0);
    expect(await restrictions('twoips')).toEqual(['192.0.2.1', '192.0.2.2']);
    expect((await relais('user', 'create', '--account', account, '--login', 'noip', '--ip', '')).code).toBe(1);

    const any = await update('ANY');
    expect(any.code, any.stderr).toBe(0);
    expect(await restrictions('shop')).toEqual([]);
  }, 60_000);

  it('refuses control characters in an e-mail, a description or a token name; a 10,000-character value is not echoed', async () => {
    const refused = await Promise.all([
      relais('customer', 'create', '--email', 'x\u0001y@example.com', '--password', 'owner-password'),
      relais('account', 'update', '--name', account, '--description', 'a\u001b[31mb'),
      relais('account', 'create', '--name', 'sms-in12345-3', '--owner', owner, '--description', 'two\nlines'),
      relais('sender', 'add', '--account', account, '--sender', 'Other', '--description', 'a\u001b[2Jb'),
      relais('token', 'create', '--account', account, '--name', 'a\u001b[2Jb'),
    ]);
    for (const res of refused)
      expect(res).toMatchObject({
        code: 1,
        stderr: expect.stringMatching(
          /^error: .* must be one line of text, without control characters \(newline, tab, escape…\) \(VALIDATION_FAILED\)\n$/,
        ),
      });
    const long = 'a'.repeat(10_000);
    const echoed = await Promise.all([
      relais('customer', 'create', '--email', `${long}@example.com`, '--password', 'owner-password'),
      relais('account', 'create', '--name', `sms-${long}`, '--owner', owner),
      relais('user', 'create', '--account', account, '--login', long),
      relais('sender', 'add', '--account', account, '--sender', long),
      relais('account', 'create', '--name', 'sms-in12345-3', '--owner', owner, '--credits', long),
    ]);
    for (const res of echoed) {
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/^error: [^\n]*a…"[^\n]*\n$/);
      expect(res.stderr.length).toBeLessThan(300);
    }
    const lists = await Promise.all([
      relais('customer', 'list', '--json'),
      relais('account', 'list', '--json'),
      relais('sender', 'list', '--account', account, '--json'),
      relais('token', 'list', '--account', account, '--json'),
    ]);
    for (const list of lists) expect(list.stdout).not.toMatch(/\\u00(01|1b)|\\n/);
  }, 60_000);
});
