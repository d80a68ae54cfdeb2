import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    // 09:30 in Paris, 60 days from now (a deferral is at most a year ahead).
    const day = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);
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
      `${day}T09:30`,
      '--tag',
      'cli-2',
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('Accepted 1 message (1 part, gsm7, 1 credits; 7 left), tag cli-2');
    const sent = await rows('cli-2');
    expect(sent).toEqual([
      {
        receiver: '+33600000001',
        message: 'Rappel',
        status: 'pending',
        channel: 'api',
        user_login: 'batch',
        deferred_until: expect.any(Number),
      },
    ]);
    const paris = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Paris', dateStyle: 'short', timeStyle: 'short' });
    expect(paris.format(Number(sent[0].deferred_until))).toBe(`${day} 09:30`);
  });

  it('refuses bad input with a clear message and exit code 1, writing and debiting nothing', async () => {
    const before = await credits();
    const cases: [string[], string][] = [
      [['--sender', 'Nope', '--to', '+33612345678', '--message', 'x'], 'INVALID_SENDER'],
      [['--sender', 'Shop', '--to', 'nope', '--message', 'x'], 'INVALID_RECEIVER'],
      [['--sender', 'Shop', '--to', '+33612345678'], 'VALIDATION_FAILED'],
      [['--sender', 'Shop', '--message', 'x'], 'INVALID_RECEIVER'],
      [['--sender', 'Shop', '--to', '+33612345678', '--message', 'x', '--at', '2001-01-01T00:00'], 'VALIDATION_FAILED'],
      [['--sender', 'Shop', '--to', '+33612345678', '--message', 'x', '--at', '9999-12-31'], 'VALIDATION_FAILED'],
      [['--sender', 'Shop', '--to', '+33612345678', '--message', 'x', '--differed-period', '525601'], 'VALIDATION_FAILED'],
      [['--sender', 'Shop', '--to', '+33612345678', '--message', 'x', '--tag', 'a\nb'], 'VALIDATION_FAILED'],
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
    // No sender: said with the command line's options, not the API's field names.
    const noSender = await relais(null, '--to', '+33612345678', '--message', 'x');
    expect([noSender.code, noSender.stderr.trim()]).toEqual([
      1,
      'error: give a sender with --sender (one of the account’s: relais sender list), or --sender-for-response (INVALID_SENDER)',
    ]);
  }, 120_000);

  it('a send time more than a year ahead is refused, saying so; a tag of two lines too; the text may have two', async () => {
    const before = await credits();
    const [far, tag] = await Promise.all([
      relais(null, '--sender', 'Shop', '--to', '+33612345678', '--message', 'x', '--at', '9999-12-31'),
      relais(null, '--sender', 'Shop', '--to', '+33612345678', '--message', 'x', '--tag', 'a\u001b[2Jb'),
    ]);
    expect(far).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'error: the send time is more than a year ahead: a job may be deferred by at most 525600 minutes (VALIDATION_FAILED)\n',
    });
    expect(tag).toMatchObject({ code: 1, stderr: expect.stringContaining('tag must be one line of text, without control characters') });
    expect(await credits()).toBe(before);
    const lines = await relais(
      null,
      '--sender',
      'Shop',
      '--to',
      '+33612345678',
      '--message',
      'line 1\nline 2',
      '--no-stop',
      '--tag',
      'cli-3',
    );
    expect(lines.code, lines.stderr).toBe(0);
    expect((await rows('cli-3')).map((r) => r.message)).toEqual(['line 1\nline 2']);
  }, 60_000);

  it('names the option and the file it cannot read: --to-file, --message-file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relais-send-'));
    try {
      const [toDir, toMissing, messageDir, messageMissing] = await Promise.all([
        relais(null, '--sender', 'Shop', '--to-file', dir, '--message', 'x'),
        relais(null, '--sender', 'Shop', '--to-file', join(dir, 'none.txt'), '--message', 'x'),
        relais(null, '--sender', 'Shop', '--to', '+33612345678', '--message-file', dir),
        relais(null, '--sender', 'Shop', '--to', '+33612345678', '--message-file', join(dir, 'none.txt'), '--json'),
      ]);
      expect(toDir).toMatchObject({ code: 1, stdout: '', stderr: `error: --to-file ${dir}: is a directory (VALIDATION_FAILED)\n` });
      expect(toMissing).toMatchObject({ code: 1, stderr: `error: --to-file ${join(dir, 'none.txt')}: no such file (VALIDATION_FAILED)\n` });
      expect(messageDir).toMatchObject({ code: 1, stderr: `error: --message-file ${dir}: is a directory (VALIDATION_FAILED)\n` });
      expect(JSON.parse(messageMissing.stdout)).toEqual({
        error: { code: 'VALIDATION_FAILED', message: `--message-file ${join(dir, 'none.txt')}: no such file` },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
