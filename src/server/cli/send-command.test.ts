import { beforeAll, expect, it } from 'vitest';
import { testConfig } from '../../../test/app.js';
import { describeEachDialect } from '../../../test/database.js';
import { runRelaisWithInput } from '../../../test/relais-cli.js';
import { systemClock } from '../clock.js';
import { SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import { composeServices } from '../services.js';

describeEachDialect('relais send (real process)', (ctx) => {
  const account = 'sms-se12345-1';
  const relais = (input: string | null, ...args: string[]) =>
    runRelaisWithInput(
      { RELAIS_DATABASE_URL: ctx.database.url, RELAIS_ARGON2_TEST_FAST: '1' },
      input,
      'send',
      '--account',
      account,
      ...args,
    );
  const rows = (tag: string) =>
    ctx.database.db
      .selectFrom('outgoing')
      .select(['receiver', 'message', 'status', 'channel', 'user_login', 'deferred_until'])
      .where('tag', '=', tag)
      .orderBy('id')
      .execute();
  const credits = async () =>
    Number((await ctx.database.db.selectFrom('accounts').select('credits').where('name', '=', account).executeTakeFirstOrThrow()).credits);

  beforeAll(async () => {
    const services = composeServices({ config: testConfig(), database: ctx.database, clock: systemClock });
    await services.customers.create({ email: 'sender@example.com', password: 'sender-password' });
    await services.accounts.create({ name: account, ownerEmail: 'sender@example.com', credits: 10, timezone: 'Europe/Paris' });
    await services.senders.create(SYSTEM_ACTOR, account, { sender: 'Shop' });
    await services.smsUsers.create(SYSTEM_ACTOR, account, { login: 'batch', password: 'batch-password-1', quota: 1 });
  });

  it('accepts a job like the API: pending rows, debit, refused receivers reported, JSON report', async () => {
    const res = await relais(
      null,
      '--sender',
      'Shop',
      '--to',
      '+33612345678',
      '0611223344,nope',
      '--message',
      'Votre colis arrive',
      '--tag',
      'cli-1',
      '--json',
    );
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report).toMatchObject({
      validReceivers: ['+33612345678', '+33611223344'],
      invalidReceivers: ['nope'],
      totalCreditsRemoved: 2,
      creditsLeft: 8,
      tag: 'cli-1',
    });
    expect(report.ids).toHaveLength(2);
    expect(await rows('cli-1')).toEqual([
      {
        receiver: '+33612345678',
        message: 'Votre colis arrive\nSTOP au 36180',
        status: 'pending',
        channel: 'api',
        user_login: '',
        deferred_until: null,
      },
      {
        receiver: '+33611223344',
        message: 'Votre colis arrive\nSTOP au 36180',
        status: 'pending',
        channel: 'api',
        user_login: '',
        deferred_until: null,
      },
    ]);
  });

  it('reads receivers and text from files or standard input, sends as an SMS user, defers to a time in the account timezone', async () => {
    const res = await relais(
      '+33600000001\n',
      '--sender',
      'Shop',
      '--to-file',
      '-',
      '--message',
      'Rappel',
      '--no-stop',
      '--user',
      'batch',
      '--at',
      '2099-06-01T09:30',
      '--tag',
      'cli-2',
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('Accepted 1 message (1 part, gsm7, 1 credits; 7 left), tag cli-2');
    expect(await rows('cli-2')).toEqual([
      {
        receiver: '+33600000001',
        message: 'Rappel',
        status: 'pending',
        channel: 'api',
        user_login: 'batch',
        deferred_until: Date.parse('2099-06-01T07:30:00Z'),
      },
    ]);
  });

  it('refuses bad input with a clear message and exit code 1, writing and debiting nothing', async () => {
    const before = await credits();
    const cases: [string[], string][] = [
      [['--sender', 'Nope', '--to', '+33612345678', '--message', 'x'], 'INVALID_SENDER'],
      [['--sender', 'Shop', '--to', 'nope', '--message', 'x'], 'INVALID_RECEIVER'],
      [['--sender', 'Shop', '--to', '+33612345678'], 'VALIDATION_FAILED'],
      [['--sender', 'Shop', '--message', 'x'], 'INVALID_RECEIVER'],
      [['--sender', 'Shop', '--to', '+33612345678', '--message', 'x', '--at', '2001-01-01T00:00'], 'VALIDATION_FAILED'],
      [['--sender', 'Shop', '--to', '+33612345678', '--message', 'x', '--priority', 'urgent'], 'VALIDATION_FAILED'],
      [['--sender', 'Shop', '--to', '+33612345678', '+33612345679', '--message', 'x', '--user', 'batch'], 'INSUFFICIENT_CREDITS'],
      [['--sender', 'Shop', '--to', '+33612345678', '--message', 'x', '--user', 'ghost'], 'USER_NOT_FOUND'],
    ];
    // Refusals write nothing, so the processes may run side by side.
    const results = await Promise.all(cases.map(([args]) => relais(null, ...args, '--json')));
    expect(results.map((res, i) => [cases[i][0].join(' '), res.code, JSON.parse(res.stdout).error.code])).toEqual(
      cases.map(([args, code]) => [args.join(' '), 1, code]),
    );
    expect(await credits()).toBe(before);
  }, 120_000);
});
