import { readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { testConfig } from '../../../test/app.js';
import { describeEachDialect } from '../../../test/database.js';
import { buildOutgoing, insertOutgoing } from '../../../test/outgoing-factory.js';
import { runRelais } from '../../../test/relais-cli.js';
import { systemClock } from '../clock.js';
import { composeServices } from '../services.js';

describeEachDialect('relais history export (real process)', (ctx) => {
  const account = 'sms-ex12345-1';
  const relais = (extraEnv: Record<string, string>, ...args: string[]) =>
    runRelais({ RELAIS_DATABASE_URL: ctx.database.url, ...extraEnv }, ...args);

  beforeAll(async () => {
    const services = composeServices({ config: testConfig(), database: ctx.database, clock: systemClock });
    await services.customers.create({ email: 'exporter@example.com', password: 'exporter-password' });
    const created = await services.accounts.create({ name: account, ownerEmail: 'exporter@example.com', timezone: 'Europe/Paris' });
    await insertOutgoing(ctx.database, [
      buildOutgoing({
        account_id: created.id,
        created_at: Date.parse('2014-11-29T11:25:43Z'),
        sender: 'OVH',
        receiver: '+33612345678',
        message: 'Mon\nmessage',
        status: 'sent',
      }),
      buildOutgoing({ account_id: created.id, created_at: Date.parse('2014-11-30T11:25:43Z'), status: 'failed', message: '@SUM(1)' }),
      buildOutgoing({ account_id: created.id, created_at: Date.parse('2014-12-01T11:25:43Z'), status: 'delivered', message: 'Troisième' }),
    ]);
  });

  it('writes every message to a file in the seed format, newest first, and says how many', async () => {
    const file = join(tmpdir(), `relais-export-${ctx.dialect}-${process.pid}.csv`);
    try {
      const res = await relais({}, 'history', 'export', '--account', account, '--all', '--output', file);
      expect(res.code).toBe(0);
      expect(res.stderr).toContain(`Exported 3 messages of ${account} to ${file}`);
      const csv = readFileSync(file, 'utf8');
      expect(csv.startsWith('date;sender;receiver;message;status\n"20141201122543";')).toBe(true);
      expect(csv).toContain(`"'@SUM(1)";"failed"\n`);
      expect(csv.endsWith('"20141129122543";"OVH";"+33612345678";"Mon\nmessage";"sent"\n')).toBe(true);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('keeps to the download limit by default, takes filters, and prints JSON lines', async () => {
    const limited = await relais({ RELAIS_CSV_DOWNLOAD_LIMIT: '2' }, 'history', 'export', '--account', account, '--no-progress');
    expect(limited.stdout.trim().split('\n')).toHaveLength(3);
    const jsonl = await relais({}, 'history', 'export', '--account', account, '--format', 'jsonl', '--status', 'failed', '--json');
    const rows = jsonl.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'failed', message: '@SUM(1)' });
    expect(JSON.parse(jsonl.stderr.trim().split('\n').pop()!)).toMatchObject({ exported: 1 });
  });

  it('writes to a device or a pipe as it is, never removing it: /dev/null, /dev/stdout (then --json reports on stderr)', async () => {
    const toNull = await relais({}, 'history', 'export', '--account', account, '--all', '--output', '/dev/null', '--json');
    expect(toNull.code, toNull.stderr).toBe(0);
    expect(JSON.parse(toNull.stdout)).toMatchObject({ exported: 3, output: '/dev/null' });
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    const plain = await relais({}, 'history', 'export', '--account', account, '--all', '--no-progress');
    const toStdout = await relais({}, 'history', 'export', '--account', account, '--all', '--output', '/dev/stdout', '--json');
    expect(toStdout.code, toStdout.stderr).toBe(0);
    // stdout carries the export alone: the summary goes to stderr.
    expect(toStdout.stdout).toBe(plain.stdout);
    expect(JSON.parse(toStdout.stderr)).toMatchObject({ exported: 3, output: '/dev/stdout' });
  });

  it('takes --ids and repeated list options as the API does', async () => {
    const all = await relais({}, 'history', 'export', '--account', account, '--all', '--format', 'jsonl', '--no-progress');
    const ids = all.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: number }).id);
    const some = await relais(
      {},
      'history',
      'export',
      '--account',
      account,
      '--format',
      'jsonl',
      '--ids',
      String(ids[0]),
      '--ids',
      String(ids[2]),
    );
    expect(some.code, some.stderr).toBe(0);
    expect(
      some.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: number }).id),
    ).toEqual([ids[0], ids[2]]);
    const bad = await relais({}, 'history', 'export', '--account', account, '--ids', '1,two');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'error: ids must be message ids (whole numbers from 1), comma-separated or repeated; got "two" (INVALID_FILTER)\n',
    );
    const statuses = await relais(
      {},
      'history',
      'export',
      '--account',
      account,
      '--format',
      'jsonl',
      '--status',
      'failed',
      '--status',
      'sent',
    );
    expect(
      statuses.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { status: string }).status),
    ).toEqual(['failed', 'sent']);
  });

  it('explains bad input and exits 1', async () => {
    const format = await relais({}, 'history', 'export', '--account', account, '--format', 'xls');
    expect(format.code).toBe(1);
    expect(format.stderr).toContain('--format must be one of seed, detailed, jsonl');
    const unknown = await relais({}, 'history', 'export', '--account', 'sms-no00000-1');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('ACCOUNT_NOT_FOUND');
    const date = await relais({}, 'history', 'export', '--account', account, '--from', 'yesterday');
    expect(date.code).toBe(1);
    expect(date.stderr).toContain('from must be an ISO 8601 date');
  });
});
