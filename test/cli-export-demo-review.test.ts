import { execFile, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  createReadStream,
  existsSync,
  linkSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Insertable } from 'kysely';
import { beforeAll, expect, it } from 'vitest';
import { systemClock } from '../src/server/clock.js';
import type { OutgoingRow } from '../src/server/db/schema.js';
import { DEMO_SENDERS, DEMO_USER_LOGINS } from '../src/server/modules/demo/demo.service.js';
import { composeServices, type Services } from '../src/server/services.js';
import { CHANNELS, OUTGOING_STATUSES } from '../src/shared/status.js';
import { describeEachDialectWithApp, testConfig } from './app.js';
import { describeEachDialect, describeWithDatabase, type TestDatabase } from './database.js';
import { bearer, createAccount, createCustomer, createSender, createSmsUser, createToken } from './factories.js';
import { buildOutgoing, insertOutgoing } from './outgoing-factory.js';

// Adversarial review of `relais history export` and `relais demo` against PRODUCT.md (the seed's CSV, "full
// export of any filtered history, streamed … with progress"; CLI "each prints a clear result; --json for
// scripts; long work shows progress"), OVH-COMPAT.md §6, README's command line section and the issue: the
// export writes what GET …/outgoing.csv (and …/outgoing.jsonl) answer, byte for byte, for every filter,
// sort, format and limit; demo fills an account with realistic history over its users and senders.
// Every command runs as a real process against the same database as an in-process app.

const execFileAsync = promisify(execFile);

/** A command that has not answered in this long hangs. */
const HANG_MS = 60_000;
/** The Manager's download limit, small here so that "the default limit" is visible on a small history. */
const DOWNLOAD_LIMIT = 7;
const DAY_MS = 86_400_000;

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * `node bin/relais.js …args`, nothing on standard input. The process's own time zones are set far from the
 * account's (and from each other): an export's dates must be the account's whatever the machine's.
 */
async function relais(database: TestDatabase, args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const child = execFileAsync(process.execPath, ['bin/relais.js', ...args], {
    env: {
      ...process.env,
      NODE_NO_WARNINGS: '1',
      RELAIS_ARGON2_TEST_FAST: '1',
      RELAIS_DATABASE_URL: database.url,
      RELAIS_CSV_DOWNLOAD_LIMIT: String(DOWNLOAD_LIMIT),
      TZ: 'Asia/Tokyo',
      PGTZ: 'Pacific/Honolulu',
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
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

/** A short picture of a run for assertion messages. */
function short(run: Run): string {
  return `exit ${run.code}${run.signal ? ` (${run.signal})` : ''}; stdout: ${JSON.stringify(run.stdout.slice(0, 300))}; stderr: ${JSON.stringify(run.stderr.slice(0, 600))}`;
}

/** A Node stack trace or an unhandled error's report: what a clear CLI error never shows. */
const STACK_TRACE = /^\s+at .+[(:]\d+|node:internal|Unhandled|uncaught|ERR_STREAM/im;

/** The query parameters of one export, as the API takes them; the CLI's options bear the same names. */
type ExportParams = Record<string, string>;

/** The CLI's arguments for `params` (`all: 'true'` is `--all`). */
function cliArgs(account: string, params: ExportParams): string[] {
  const args = ['history', 'export', '--account', account];
  for (const [key, value] of Object.entries(params)) {
    if (key === 'all') {
      if (value === 'true') args.push('--all');
    } else args.push(`--${key}`, value);
  }
  return args;
}

/** One line of progress as `relais history export` prints it when stderr is not a terminal. */
const PROGRESS_LINE = /^\d{1,3}% \([\d,]+\/[\d,]+ rows\)$/;

async function withServices<T>(database: TestDatabase, fn: (services: Services) => Promise<T>): Promise<T> {
  const services = composeServices({ config: testConfig(), database, clock: systemClock });
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The history the export is checked on: every field a CSV can choke on, formulas, redacted texts, ties for
// every sort, both days of New York's clock changes (a wall time that happens twice, one that never does).

const NEW_YORK = 'America/New_York';
/** Texts a spreadsheet would run as a formula, and plain numbers it would not. */
const FORMULAS = ['=1+1', '+cmd', "-2+3+cmd|' /C calc'!A0", '@SUM(1)', '\t=1+1', '\r=1+1', '=HYPERLINK("http://x.example/?a;b")'];
const HARMLESS = ['-12', '+33 6 12', '- première ligne\n- deuxième', '+ 5 points de fidélité 🎁'];
const SECRET = 'SECRET-REDACTED-TEXT';

function craftedRows(accountId: number, users: { alice: number; bob: number }): Insertable<OutgoingRow>[] {
  const rows: Insertable<OutgoingRow>[] = [];
  const at = (iso: string) => Date.parse(iso);
  const user = (login: 'alice' | 'bob' | null) =>
    login === null
      ? { user_id: null, user_login: '', channel: 'manager' }
      : { user_id: users[login], user_login: login, channel: login === 'alice' ? 'api' : 'http2sms' };
  // The seed's own example: 2014-11-29 12:25:43 in New York (UTC-5 in November).
  rows.push(
    buildOutgoing({
      account_id: accountId,
      ...user(null),
      created_at: at('2014-11-29T17:25:43Z'),
      sender: 'OVH',
      receiver: '+336xxxxxxxx',
      message: 'Mon\nmessage',
      status: 'sent',
    }),
  );
  // Formulas in every text column a CSV holds; plain numbers left as they are.
  for (const [i, text] of FORMULAS.entries()) {
    rows.push(
      buildOutgoing({
        account_id: accountId,
        ...user(i % 2 === 0 ? 'alice' : null),
        created_at: at('2023-06-01T12:00:00Z') + i * 60_000,
        sender: i === 0 ? '@Shop' : i === 1 ? '-Promo' : 'Relais',
        receiver: '+33612345678',
        message: text,
        tag: i === 2 ? '=tag' : i === 3 ? '+tag' : '',
        status: 'failed',
        error_code: '3',
        error_text: '=evil()',
      }),
    );
  }
  for (const [i, text] of HARMLESS.entries()) {
    rows.push(
      buildOutgoing({
        account_id: accountId,
        ...user('bob'),
        created_at: at('2023-07-01T12:00:00Z') + i * 60_000,
        receiver: '+447700900123',
        message: text,
        status: 'delivered',
      }),
    );
  }
  // Quotes, separators, CRLF, U+2028, accents, emoji.
  const hostile = ['a;b"c"\nd\r\ne', '"déjà" vu;', 'ligne\u2028suivante', 'émoji 🎉 accentué çà, ß, 中文', '', ' espace devant'];
  for (const [i, text] of hostile.entries()) {
    rows.push(
      buildOutgoing({
        account_id: accountId,
        ...user(i % 3 === 0 ? 'alice' : i % 3 === 1 ? 'bob' : null),
        created_at: at('2024-01-15T08:00:00Z') + i * 3_600_000,
        sender: 'Relais',
        message: text,
        status: (['pending', 'sent', 'delivered', 'failed', 'expired', 'canceled'] as const)[i],
        tag: 'hostile',
      }),
    );
  }
  // Redacted: no text anywhere, the receiver masked (as the redaction stores it).
  for (let i = 0; i < 3; i++) {
    rows.push(
      buildOutgoing({
        account_id: accountId,
        ...user('alice'),
        created_at: at('2024-02-01T10:00:00Z') + i * 1000,
        receiver: '+336XXXXXX78',
        message: `${SECRET} ${i}`,
        redacted_at: at('2024-02-02T10:00:00Z'),
        status: 'delivered',
      }),
    );
  }
  // New York's clock changes of 2024: 01:30 happens twice on 3 November; 02:30 never happens on 10 March.
  for (const iso of ['2024-11-03T05:30:00Z', '2024-11-03T06:30:00Z', '2024-11-03T05:59:59Z', '2024-11-03T06:00:00Z']) {
    rows.push(
      buildOutgoing({ account_id: accountId, ...user('bob'), created_at: at(iso), message: `fall back ${iso}`, status: 'delivered' }),
    );
  }
  for (const iso of ['2024-03-10T06:59:59Z', '2024-03-10T07:00:00Z', '2024-03-10T07:30:00Z']) {
    rows.push(
      buildOutgoing({ account_id: accountId, ...user('alice'), created_at: at(iso), message: `spring forward ${iso}`, status: 'sent' }),
    );
  }
  // Volume with ties on every sort key (same sender, receiver, text, status, user, channel, and same instants).
  const senders = ['Relais', 'INFO', 'Promo'];
  const texts = ['Votre code est 1234', 'Rappel : rendez-vous demain', 'Votre colis arrive', 'MESSAGE identique'];
  for (let i = 0; i < 60; i++) {
    const who = i % 4 === 0 ? null : i % 4 === 1 ? 'bob' : 'alice';
    rows.push(
      buildOutgoing({
        account_id: accountId,
        ...user(who),
        ...(i % 5 === 0 ? { channel: who === null ? 'manager' : 'smpp' } : {}),
        created_at: at('2024-06-01T00:00:00Z') + Math.floor(i / 3) * 3_600_000,
        sender: senders[i % 3],
        receiver: `+3361111${String(i % 7).padStart(4, '0')}`,
        message: texts[i % 4],
        status: OUTGOING_STATUSES[i % OUTGOING_STATUSES.length],
        tag: i % 2 ? 'campagne' : '',
      }),
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------

describeEachDialectWithApp(
  'relais history export writes what GET …/outgoing.csv and …/outgoing.jsonl answer',
  (ctx) => {
    let account: string;
    let auth: { authorization: string };
    let ids: number[];
    let dir: string;
    const run = (args: readonly string[], env?: Record<string, string>) => relais(ctx.database, args, env);
    const http = async (path: 'outgoing.csv' | 'outgoing.jsonl', params: ExportParams) => {
      const res = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${account}/${path}?${new URLSearchParams(params)}`,
        headers: auth,
      });
      return res;
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'relais-export-review-'));
      const owner = await createCustomer(ctx.app);
      const created = await createAccount(ctx.app, { owner, timezone: NEW_YORK });
      account = created.name;
      const alice = await createSmsUser(ctx.app, account, { login: 'alice' });
      const bob = await createSmsUser(ctx.app, account, { login: 'bob' });
      auth = bearer(await createToken(ctx.app, account));
      ids = await insertOutgoing(ctx.database, craftedRows(created.id, { alice: alice.id, bob: bob.id }));
      // Another customer's account: never in this one's export.
      const other = await createAccount(ctx.app, { timezone: 'Europe/Paris' });
      await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: other.id, message: 'not yours', created_at: Date.parse('2024-06-01T00:30:00Z') }),
      ]);
      // A deleted message is gone from every export.
      const deleted = await ctx.app.inject({
        method: 'DELETE',
        url: `/api/v1/accounts/${account}/outgoing/${ids[ids.length - 1]}`,
        headers: auth,
      });
      expect(deleted.statusCode).toBe(204);
      return () => rmSync(dir, { recursive: true, force: true });
    });

    /** Every filter, every sort, both CSV formats, the default limit, a limit and all=true. */
    const CSV_CASES: ExportParams[] = [
      {},
      { format: 'detailed' },
      { all: 'true' },
      { all: 'true', format: 'detailed' },
      { limit: '3' },
      { all: 'true', user: 'alice' },
      { all: 'true', user: 'nobody' },
      { all: 'true', user: '-', format: 'detailed' },
      { all: 'true', channel: 'api,manager' },
      { all: 'true', sender: '@Shop' },
      { all: 'true', receiver: '+336*' },
      { all: 'true', receiver: '0044 7700 900123', format: 'detailed' },
      { all: 'true', status: 'failed,canceled' },
      { all: 'true', status: 'sent' },
      { status: 'pending', format: 'detailed' },
      { all: 'true', tag: '=tag' },
      // 01:00–01:59:59 happens twice in New York on 3 November 2024.
      { all: 'true', from: '2024-11-03T01:00:00', to: '2024-11-03T01:59:59', format: 'detailed' },
      { all: 'true', from: '2014-01-01T00:00:00Z', to: '2023-06-01T12:03:00+05:30' },
      { all: 'true', q: 'émoji' },
      { all: 'true', user: 'alice', status: 'delivered', sort: '+date', format: 'detailed' },
      ...['+date', '-sender', 'receiver', '-message', 'status', '-user', 'channel'].map((sort) => ({ all: 'true', sort })),
      { sort: '-receiver' },
      { sort: 'user', limit: '11', format: 'detailed' },
    ];

    it('gives the same bytes as GET …/outgoing.csv for every filter, sort, format and limit (stdout carries nothing else)', async () => {
      const results = await inParallel(CSV_CASES, 6, (params) => run(cliArgs(account, params)));
      const mismatches: string[] = [];
      for (const [i, params] of CSV_CASES.entries()) {
        const res = await http('outgoing.csv', params);
        expect(res.statusCode, `HTTP ${JSON.stringify(params)}: ${res.body.slice(0, 300)}`).toBe(200);
        const cli = results[i];
        expect(cli.code, `CLI ${JSON.stringify(params)}: ${short(cli)}`).toBe(0);
        if (cli.stdout !== res.body)
          mismatches.push(
            `${JSON.stringify(params)}\n  CLI:  ${JSON.stringify(cli.stdout.slice(0, 400))}\n  HTTP: ${JSON.stringify(res.body.slice(0, 400))}`,
          );
        // stderr: progress lines (not a terminal: a line now and then) and the one-line result.
        const lines = cli.stderr.trimEnd().split('\n');
        expect(lines.pop(), short(cli)).toMatch(new RegExp(`^Exported [\\d,]+ messages of ${account} in \\d+\\.\\d s$`));
        for (const line of lines) expect(line, short(cli)).toMatch(PROGRESS_LINE);
      }
      expect(mismatches, mismatches.join('\n')).toEqual([]);
    }, 120_000);

    it('gives the same JSON lines as GET …/outgoing.jsonl (every match, a limit, filters, sorts)', async () => {
      const cases: ExportParams[] = [{}, { limit: '5', sort: 'message' }, { user: '-', status: 'failed', sort: '-receiver' }];
      const results = await inParallel(cases, 3, (params) =>
        run(cliArgs(account, { format: 'jsonl', ...(params.limit ? {} : { all: 'true' }), ...params })),
      );
      for (const [i, params] of cases.entries()) {
        const res = await http('outgoing.jsonl', params);
        expect(res.statusCode).toBe(200);
        expect(results[i].code, short(results[i])).toBe(0);
        expect(results[i].stdout, JSON.stringify(params)).toBe(res.body);
      }
      // GET …/outgoing.jsonl has no download limit (and no `all`): nor has --format jsonl without --all.
      const byDefault = await run(cliArgs(account, { format: 'jsonl' }));
      expect(byDefault.code, short(byDefault)).toBe(0);
      expect(byDefault.stdout, 'jsonl without --all stopped at the CSV download limit').toBe(results[0].stdout);
      expect(byDefault.stderr.trimEnd().split('\n').pop()).toMatch(new RegExp(`^Exported ${ids.length - 1} messages of `));
      // Each line one object; a redacted text is null, never the text; U+2028 escaped (a line stays a line).
      const lines = results[0].stdout.trimEnd().split('\n');
      expect(lines.length).toBe(ids.length - 1);
      const objects = lines.map((l) => JSON.parse(l) as { message: string | null; receiver: string; createdAt: string });
      expect(objects.filter((o) => o.receiver === '+336XXXXXX78').map((o) => o.message)).toEqual([null, null, null]);
      expect(results[0].stdout).not.toContain(SECRET);
      expect(results[0].stdout).toContain('ligne\\u2028suivante');
      // Dates in the account's time zone (the process runs in Tokyo): the seed's example at 12:25:43 in New York.
      expect(objects.some((o) => o.createdAt === '2014-11-29T12:25:43-05:00')).toBe(true);
    }, 60_000);

    it("writes the seed's format exactly, dates in the account's time zone, formulas neutralised, numbers and receivers as they are", async () => {
      // --all by date goes the database's way (lines made in SQL), --limit the formatter's: the same bytes.
      const [sql, js, detailed] = await Promise.all([
        run(cliArgs(account, { all: 'true', output: join(dir, 'sql.csv') })),
        run(cliArgs(account, { limit: '1000000', output: join(dir, 'js.csv') })),
        run(cliArgs(account, { all: 'true', format: 'detailed', output: join(dir, 'detailed.csv') })),
      ]);
      for (const r of [sql, js, detailed]) expect(r.code, short(r)).toBe(0);
      const csv = readFileSync(join(dir, 'sql.csv'));
      expect(csv.equals(readFileSync(join(dir, 'js.csv'))), 'the database-made lines and the formatted ones differ').toBe(true);
      const text = csv.toString('utf8');
      expect(text.startsWith('date;sender;receiver;message;status\n')).toBe(true);
      expect(text.endsWith('"20141129122543";"OVH";"+336xxxxxxxx";"Mon\nmessage";"sent"\n')).toBe(true);
      // A formula gets a leading ' (the quotes of the CSV doubled); a plain number or phone number does not.
      for (const f of FORMULAS) expect(text, JSON.stringify(f)).toContain(`;"'${f.replaceAll('"', '""')}";"failed"\n`);
      expect(text).toContain(';"\'@Shop";"+33612345678";');
      expect(text).toContain(';"\'-Promo";"+33612345678";');
      expect(text).toContain(';"-12";"delivered"\n');
      expect(text).toContain(';"+33 6 12";"delivered"\n');
      expect(text).toContain(`;"'- première ligne\n- deuxième";"delivered"\n`);
      expect(text).toContain(`;"'+ 5 points de fidélité 🎁";"delivered"\n`);
      expect(text).toContain(';"a;b""c""\nd\r\ne";"pending"\n');
      expect(text).toContain(';"""déjà"" vu;";"sent"\n');
      expect(text).toContain(';"émoji 🎉 accentué çà, ß, 中文";"failed"\n');
      // Redacted: the masked receiver as it is, no text.
      expect(text).toContain(';"+336XXXXXX78";"";"delivered"\n');
      expect(text).not.toContain(SECRET);
      // New York's clock changes: 01:30 twice, the later one (EST) first (newest first); 03:00 right after 01:59:59.
      expect(text).toContain('"20241103013000";"Relais";');
      expect(text.indexOf('fall back 2024-11-03T06:30:00Z')).toBeLessThan(text.indexOf('fall back 2024-11-03T05:30:00Z'));
      expect(text).toMatch(/"20241103013000";[^\n]*fall back 2024-11-03T06:30:00Z/);
      expect(text).toMatch(/"20241103013000";[^\n]*fall back 2024-11-03T05:30:00Z/);
      expect(text).toMatch(/"20240310015959";[^\n]*spring forward 2024-03-10T06:59:59Z/);
      expect(text).toMatch(/"20240310030000";[^\n]*spring forward 2024-03-10T07:00:00Z/);
      expect(text).not.toContain('not yours');
      // Every row once: the header, then one record per message (deleted one excepted).
      expect(sql.stderr.trimEnd().split('\n').pop()).toBe(
        `Exported ${ids.length - 1} messages of ${account} to ${join(dir, 'sql.csv')} in ${sql.stderr.match(/in (\d+\.\d) s\n$/)?.[1]} s`,
      );

      // The detailed format: OVH's later columns, then user, channel, status; its dates YYYY-MM-DD HH:MM:SS.
      const d = readFileSync(join(dir, 'detailed.csv'), 'utf8');
      expect(
        d.startsWith('id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt;user;channel;status\n'),
      ).toBe(true);
      expect(d).toContain(`"${ids[0]}";"2014-11-29 12:25:43";"OVH";"+336xxxxxxxx";`);
      expect(d).toContain(';"\'=tag";');
      expect(d).toContain(';"\'+tag";');
      expect(d).not.toContain(SECRET);
      // The carrier's error text (descriptionDlr of a failure) is a cell too.
      expect(d).toContain(';"\'=evil()";');
    }, 60_000);

    it('refuses every bad filter value as the API does: the same code and the same sentence, exit 1, nothing on stdout', async () => {
      const long = 'x'.repeat(501);
      const bad: ExportParams[] = [
        { status: 'sent,lost' },
        { channel: 'fax' },
        { receiver: 'hello' },
        { from: 'yesterday' },
        { from: '2024-05-02', to: '2024-05-01' },
        { to: '9999-12-31T23:59:59-12:00' },
        { sort: '-bogus' },
        { user: long },
        { ids: '1,x' },
        { ids: ',' },
        { ids: Array.from({ length: 1001 }, (_, i) => i + 1).join(',') },
      ];
      const results = await inParallel(bad, 6, (params) => run(cliArgs(account, params)));
      for (const [i, params] of bad.entries()) {
        const res = await http('outgoing.csv', params);
        expect(res.statusCode, JSON.stringify(params)).toBe(400);
        const { code, message } = (res.json() as { error: { code: string; message: string } }).error;
        const cli = results[i];
        expect(cli.code, `${JSON.stringify(params)}: ${short(cli)}`).toBe(1);
        expect(cli.stdout).toBe('');
        expect(cli.stderr, JSON.stringify(params)).toBe(`error: ${message} (${code})\n`);
      }
    }, 90_000);

    it('takes the ids filter the API takes (--ids), with the same answer', async () => {
      const some = `${ids[0]},${ids[3]},${ids[10]}`;
      const res = await http('outgoing.csv', { ids: some, format: 'detailed' });
      expect(res.statusCode).toBe(200);
      const cli = await run(cliArgs(account, { ids: some, format: 'detailed' }));
      expect(cli.code, short(cli)).toBe(0);
      expect(cli.stdout).toBe(res.body);
    }, 30_000);

    it('--all with --limit exports what all=true&limit=N answers (or both refuse the pair)', async () => {
      const res = await http('outgoing.csv', { all: 'true', limit: '2' });
      const cli = await run(cliArgs(account, { all: 'true', limit: '2' }));
      if (res.statusCode === 400 && cli.code === 1) return;
      expect(res.statusCode).toBe(200);
      expect(cli.code, short(cli)).toBe(0);
      const records = (csv: string) => csv.match(/^"\d{14}";/gm)?.length ?? 0;
      expect(records(cli.stdout), 'CLI --all --limit 2').toBe(2);
      expect(records(res.body), 'HTTP all=true&limit=2 against CLI --all --limit 2').toBe(records(cli.stdout));
    }, 30_000);

    it('a filter given twice is refused (or both kept), never silently narrowed to the last one', async () => {
      const both = await http('outgoing.csv', { all: 'true', status: 'failed,canceled' });
      const cli = await run([...cliArgs(account, { all: 'true', status: 'failed' }), '--status', 'canceled']);
      const refused = cli.code === 2 && /given twice/.test(cli.stderr);
      expect(refused || (cli.code === 0 && cli.stdout === both.body), `--status failed --status canceled: ${short(cli)}`).toBe(true);
      // The list options are joined, as the API joins a repeated parameter (and `send --to` its receivers).
      const lists: [string[], ExportParams][] = [
        [['--status', 'failed', '--status', 'canceled'], { status: 'failed,canceled' }],
        [['--channel', 'api', '--channel', 'manager'], { channel: 'api,manager' }],
        [['--ids', `${ids[0]},${ids[3]}`, '--ids', String(ids[10])], { ids: `${ids[0]},${ids[3]},${ids[10]}` }],
      ];
      for (const [args, params] of lists) {
        const repeated = await run([...cliArgs(account, { all: 'true', format: 'detailed' }), ...args]);
        expect(repeated.code, short(repeated)).toBe(0);
        expect(repeated.stdout, args.join(' ')).toBe((await http('outgoing.csv', { all: 'true', format: 'detailed', ...params })).body);
      }
      // An option that takes one value is refused when given twice: a usage error (exit 2), nothing exported.
      const twice = [
        ['--format', 'seed', '--format', 'detailed'],
        ['--sort', 'date', '--sort', 'sender'],
        ['--user', 'alice', '--user', 'bob'],
        ['--limit', '1', '--limit', '2'],
        ['--output', join(dir, 'one.csv'), '--output', join(dir, 'two.csv')],
      ];
      const refusals = await inParallel(twice, 5, (args) => run([...cliArgs(account, {}), ...args]));
      for (const [i, args] of twice.entries()) {
        expect(refusals[i].code, `${args.join(' ')}: ${short(refusals[i])}`).toBe(2);
        expect(refusals[i].stderr, args.join(' ')).toContain('given twice');
        expect(refusals[i].stdout).toBe('');
      }
      expect(existsSync(join(dir, 'one.csv')) || existsSync(join(dir, 'two.csv'))).toBe(false);
    }, 60_000);

    it('a bad filter leaves an existing --output file as it was, and creates no empty file', async () => {
      const existing = join(dir, 'precious.csv');
      writeFileSync(existing, 'last month’s export\n');
      const res = await run(cliArgs(account, { status: 'bogus', output: existing }));
      expect(res.code, short(res)).toBe(1);
      expect(res.stderr).toContain('INVALID_FILTER');
      expect(readFileSync(existing, 'utf8'), 'the existing file was emptied by a refused export').toBe('last month’s export\n');
      const fresh = join(dir, 'fresh.csv');
      const sort = await run(cliArgs(account, { sort: 'nothing', output: fresh }));
      expect(sort.code, short(sort)).toBe(1);
      expect(existsSync(fresh), 'a refused export left an empty file behind').toBe(false);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }, 30_000);

    it('replaces a file only when the export is whole: its mode kept, a link to it still a link, no temporary file left', async () => {
      const sub = mkdtempSync(join(dir, 'replace-'));
      const file = join(sub, 'kept.csv');
      writeFileSync(file, 'old\n');
      chmodSync(file, 0o640);
      const link = join(sub, 'link.csv');
      symlinkSync(file, link);
      const res = await run(cliArgs(account, { limit: '3', output: link }));
      expect(res.code, short(res)).toBe(0);
      expect(lstatSync(link).isSymbolicLink(), 'the link was replaced by a file').toBe(true);
      expect(readFileSync(file, 'utf8')).toBe((await http('outgoing.csv', { limit: '3' })).body);
      expect(statSync(file).mode & 0o777).toBe(0o640);
      // A new file: what a new file gets here (not the temporary file's owner-only mode).
      const fresh = join(sub, 'new.csv');
      expect((await run(cliArgs(account, { limit: '1', output: fresh }))).code).toBe(0);
      writeFileSync(join(sub, 'probe'), '');
      expect(statSync(fresh).mode & 0o777).toBe(statSync(join(sub, 'probe')).mode & 0o777);
      expect(readdirSync(sub).sort()).toEqual(['kept.csv', 'link.csv', 'new.csv', 'probe']);
      // A directory, or a path whose directory does not exist: refused, nothing made.
      for (const output of [sub, join(sub, 'missing', 'x.csv')]) {
        const refused = await run(cliArgs(account, { output }));
        expect(refused.code, short(refused)).toBe(1);
        expect(refused.stderr).toMatch(
          /^error: --output .+: cannot be written \((it is a directory|its directory does not exist)\) \(VALIDATION_FAILED\)\n$/,
        );
      }
      expect(readdirSync(sub).sort()).toEqual(['kept.csv', 'link.csv', 'new.csv', 'probe']);
    }, 30_000);

    it('overwrites an existing, longer file with exactly the new export', async () => {
      const file = join(dir, 'overwrite.csv');
      writeFileSync(file, 'x'.repeat(1_000_000));
      const res = await run([...cliArgs(account, { limit: '2', output: file }), '--no-progress']);
      expect(res.code, short(res)).toBe(0);
      expect(readFileSync(file, 'utf8')).toBe((await http('outgoing.csv', { limit: '2' })).body);
      // --no-progress: the result line alone.
      expect(res.stderr).toMatch(/^Exported 2 messages of [^\n]+ in \d+\.\d s\n$/);
    }, 30_000);

    it('--json with --output gives a script one JSON result it can parse: the count and the path', async () => {
      const file = join(dir, 'json.csv');
      const res = await run([...cliArgs(account, { all: 'true', output: file }), '--json']);
      expect(res.code, short(res)).toBe(0);
      const rows = ids.length - 1;
      const onStdout = res.stdout.trim() === '' ? null : (JSON.parse(res.stdout) as { exported: number; output: string });
      let onStderr: { exported: number; output: string } | null = null;
      try {
        // Documented on stderr: then stderr as a whole must be JSON (lines), not progress text around it.
        const objects = res.stderr
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l) as { exported?: number; output?: string });
        const summary = objects.find((o) => o.exported !== undefined);
        onStderr = summary ? (summary as { exported: number; output: string }) : null;
      } catch {
        onStderr = null;
      }
      const summary = onStdout ?? onStderr;
      expect(summary, `no parseable JSON result: ${short(res)}`).not.toBeNull();
      expect(summary).toMatchObject({ exported: rows, output: file });
      // As chosen: on stdout (free with --output), alone; no progress text around it.
      expect(JSON.parse(res.stdout)).toMatchObject({ exported: rows, output: file });
      expect(res.stderr).toBe('');
      // The export on stdout: the summary is one JSON line on stderr, no progress; stdout the export alone.
      const piped = await run([...cliArgs(account, { all: 'true' }), '--json']);
      expect(piped.code, short(piped)).toBe(0);
      expect(piped.stdout).toBe((await http('outgoing.csv', { all: 'true' })).body);
      expect(piped.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(JSON.parse(piped.stderr)).toMatchObject({ exported: rows, output: null });
      // A refused export with --json --output: the JSON error on stdout, as any command's.
      const refused = await run([...cliArgs(account, { status: 'bogus', output: join(dir, 'refused.csv') }), '--json']);
      expect(refused.code).toBe(1);
      expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'INVALID_FILTER' } });
      expect(existsSync(join(dir, 'refused.csv'))).toBe(false);
    }, 30_000);
  },
  { config: { csvDownloadLimit: DOWNLOAD_LIMIT } },
);

// ---------------------------------------------------------------------------------------------------------

describeEachDialect('relais demo', (ctx) => {
  const EMPTY = 'sms-de12345-1';
  const FURNISHED = 'sms-df12345-1';
  const OWNER = 'demo-review@example.com';
  const run = (args: readonly string[]) => relais(ctx.database, args);
  const db = () => ctx.database.db;
  let dir: string;

  async function accountId(name: string): Promise<number> {
    const row = await db().selectFrom('accounts').select('id').where('name', '=', name).executeTakeFirstOrThrow();
    return Number(row.id);
  }
  async function rowsOf(name: string) {
    const rows = await db()
      .selectFrom('outgoing')
      .select([
        'id',
        'user_id',
        'user_login',
        'channel',
        'sender',
        'receiver',
        'message',
        'status',
        'created_at',
        'sent_at',
        'delivered_at',
        'failed_at',
        'expired_at',
        'canceled_at',
      ])
      .where('account_id', '=', await accountId(name))
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      ...r,
      id: Number(r.id),
      user_id: r.user_id === null ? null : Number(r.user_id),
      created_at: Number(r.created_at),
      times: [r.sent_at, r.delivered_at, r.failed_at, r.expired_at, r.canceled_at].filter((t) => t !== null).map(Number),
    }));
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'relais-demo-review-'));
    await withServices(ctx.database, async (services) => {
      await services.customers.create({ email: OWNER, password: 'a long password here' });
      await services.accounts.create({ name: EMPTY, ownerEmail: OWNER, timezone: 'Europe/Paris' });
      await services.accounts.create({ name: FURNISHED, ownerEmail: OWNER, timezone: 'America/Sao_Paulo' });
      await createSmsUser(services, FURNISHED, { login: 'alice' });
      await createSmsUser(services, FURNISHED, { login: 'bob' });
      await createSender(services, FURNISHED, { sender: 'MyShop' });
      await createSender(services, FURNISHED, { sender: 'Pending', status: 'waitingValidation' });
      await createSender(services, FURNISHED, { sender: 'Off', status: 'disable' });
    });
    // Existing history, recent: the demo's rows come after it in id order.
    const furnished = await accountId(FURNISHED);
    await insertOutgoing(
      ctx.database,
      Array.from({ length: 5 }, (_, i) =>
        buildOutgoing({ account_id: furnished, created_at: Date.now() - (i + 1) * 60_000, sender: 'MyShop', message: `existing ${i}` }),
      ),
    );
    return () => rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('fills an empty account: demo users and senders made, every channel and status, some rows with no user, a year of dates, none ahead', async () => {
    const before = Date.now();
    const res = await run(['demo', '--account', EMPTY, '--messages', '20000', '--json']);
    const after = Date.now();
    expect(res.code, short(res)).toBe(0);
    // --json: one JSON object on stdout; progress on stderr only.
    expect(JSON.parse(res.stdout)).toMatchObject({ inserted: 20_000, strategy: expect.stringMatching(/^(incremental|rebuild)$/) });
    // What it made besides the rows: the SMS users and the senders.
    expect(JSON.parse(res.stdout).created).toEqual({ users: [...DEMO_USER_LOGINS], senders: DEMO_SENDERS.map((s) => s.sender) });
    expect(res.stdout.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('demo: 100% (20,000/20,000 messages');

    const id = await accountId(EMPTY);
    const users = await db().selectFrom('sms_users').select(['id', 'login']).where('account_id', '=', id).orderBy('id').execute();
    expect(users.map((u) => u.login)).toEqual([...DEMO_USER_LOGINS]);
    const senders = await db().selectFrom('senders').select(['sender', 'status']).where('account_id', '=', id).orderBy('id').execute();
    expect(senders).toEqual(DEMO_SENDERS.map((s) => ({ sender: s.sender, status: 'enable' })));

    const rows = await rowsOf(EMPTY);
    expect(rows).toHaveLength(20_000);
    expect(new Set(rows.map((r) => r.channel))).toEqual(new Set(CHANNELS));
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(OUTGOING_STATUSES));
    expect(new Set(rows.map((r) => r.sender))).toEqual(new Set(DEMO_SENDERS.map((s) => s.sender)));
    // Sent from the Manager: no user, the manager channel; every other row by one of the account's users.
    const byId = new Map(users.map((u) => [Number(u.id), u.login]));
    const manager = rows.filter((r) => r.user_id === null);
    expect(manager.length).toBeGreaterThan(1000);
    for (const r of manager) expect([r.user_login, r.channel]).toEqual(['', 'manager']);
    for (const r of rows.filter((x) => x.user_id !== null)) {
      expect(byId.get(r.user_id as number)).toBe(r.user_login);
      expect(r.channel).not.toBe('manager');
    }
    expect(new Set(rows.map((r) => r.user_login))).toEqual(new Set(['', ...DEMO_USER_LOGINS]));
    // Over the last year, nothing after now (sent, delivered, failed, expired, canceled included).
    const created = rows.map((r) => r.created_at);
    expect(Math.min(...created)).toBeGreaterThanOrEqual(before - 365 * DAY_MS - 3_600_000);
    expect(Math.min(...created)).toBeLessThan(before - 300 * DAY_MS);
    expect(Math.max(...created, ...rows.flatMap((r) => r.times))).toBeLessThanOrEqual(after);
    // Ids follow the dates.
    for (let i = 1; i < rows.length; i++) expect(rows[i].created_at).toBeGreaterThanOrEqual(rows[i - 1].created_at);
    // Multi-line, accented and emoji texts; receivers E.164.
    const texts = rows.map((r) => r.message);
    expect(texts.some((t) => t.includes('\n'))).toBe(true);
    expect(texts.some((t) => /[éèàçêô]/.test(t))).toBe(true);
    expect(texts.some((t) => /\p{Extended_Pictographic}/u.test(t))).toBe(true);
    for (const r of rows) expect(r.receiver).toMatch(/^\+[1-9]\d{7,14}$/);
  }, 120_000);

  it('exports what it made: --all by the database and --limit by the formatter give the same bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relais-demo-export-'));
    try {
      const [a, b] = await Promise.all([
        run(['history', 'export', '--account', EMPTY, '--all', '--output', join(dir, 'a.csv')]),
        run(['history', 'export', '--account', EMPTY, '--limit', '1000000', '--output', join(dir, 'b.csv')]),
      ]);
      expect(a.code, short(a)).toBe(0);
      expect(b.code, short(b)).toBe(0);
      const sql = readFileSync(join(dir, 'a.csv'));
      expect(sql.equals(readFileSync(join(dir, 'b.csv')))).toBe(true);
      expect(a.stderr).toContain(`Exported 20,000 messages of ${EMPTY}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  // The next tests read the 20,000 messages the first one made.
  /** Runs the export with its stdout read until the first line, then closed (`| head -1`). */
  async function headOne(args: string[]): Promise<{ code: number | null; signal: string | null; first: string; stderr: string }> {
    const child = spawn(process.execPath, ['bin/relais.js', ...args], {
      env: { ...process.env, NODE_NO_WARNINGS: '1', RELAIS_DATABASE_URL: ctx.database.url },
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const first = await new Promise<string>((resolve) => {
      let seen = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        seen += d;
        if (seen.includes('\n')) {
          child.stdout.destroy();
          resolve(seen.slice(0, seen.indexOf('\n')));
        }
      });
      child.stdout.on('end', () => resolve(seen));
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), HANG_MS);
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    clearTimeout(timer);
    return { code, signal, first, stderr };
  }

  it('stdout closed by its reader after one line (| head -1): no stack trace, no crash, no hang, every format', async () => {
    const runs = await Promise.all([
      headOne(['history', 'export', '--account', EMPTY, '--all']),
      headOne(['history', 'export', '--account', EMPTY, '--all', '--format', 'detailed']),
      headOne(['history', 'export', '--account', EMPTY, '--all', '--format', 'jsonl']),
      headOne(['history', 'export', '--account', EMPTY, '--all', '--sort', 'receiver']),
    ]);
    expect(
      runs.map((r) => r.first.slice(0, r.first.startsWith('{') ? 6 : 20)),
      runs.map((r) => `${r.code} ${r.signal} ${r.stderr.slice(0, 300)}`).join('\n'),
    ).toEqual(['date;sender;receiver', 'id;date;sender;recei', '{"id":', 'date;sender;receiver']);
    for (const r of runs) {
      expect(r.signal, r.stderr).toBeNull();
      expect([0, 1], r.stderr).toContain(r.code);
      expect(r.stderr).not.toMatch(STACK_TRACE);
      // As a Unix tool: the reader leaving is the end of the output, no error (exit 0, no message).
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/error|EPIPE/i);
    }
  }, 120_000);

  it('a write that fails midway removes only a file it made: never the path of a pipe or a link it wrote through (/dev/stdout is one)', async () => {
    // A named pipe whose reader goes away after its first bytes, reached through a symbolic link, as
    // `--output /dev/stdout | head -1` reaches the pipe through /dev/stdout (→ /proc/self/fd/1).
    const fifo = join(dir, 'pipe');
    const link = join(dir, 'stdout-link');
    execFileSync('mkfifo', [fifo]);
    symlinkSync(fifo, link);
    let read = false;
    const reader = new Promise<void>((resolve) => {
      const stream = createReadStream(fifo);
      const done = () => {
        read = true;
        resolve();
      };
      stream.once('data', () => {
        stream.destroy();
        done();
      });
      stream.once('error', done);
      stream.once('end', done);
    });
    const res = await run(['history', 'export', '--account', EMPTY, '--all', '--output', link]);
    // A command that never opened the pipe leaves the reader waiting in open(): a writer that comes and goes frees it.
    if (!read && existsSync(fifo)) closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    await reader;
    expect(res.signal, short(res)).toBeNull();
    expect([0, 1], short(res)).toContain(res.code);
    expect(res.stderr).not.toMatch(STACK_TRACE);
    expect(() => lstatSync(link), 'the export deleted the link it wrote through').not.toThrow();
    expect(() => lstatSync(fifo), 'the export deleted the pipe it wrote to').not.toThrow();
    // The pipe's reader leaving ends the export as `| head -1` does; nothing but the pipe in the directory.
    expect(res.code, short(res)).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);

  it('a write that fails midway leaves the existing file as it was, and no temporary file', async () => {
    const sub = mkdtempSync(join(dir, 'midway-'));
    const file = join(sub, 'precious.csv');
    writeFileSync(file, 'last month’s export\n');
    // Files of this process may not grow past 64 blocks (32 KiB): the 20,000 rows' write fails with EFBIG.
    const child = execFileAsync(
      '/bin/sh',
      [
        '-c',
        'ulimit -f 64 && exec "$0" "$@"',
        process.execPath,
        'bin/relais.js',
        ...['history', 'export', '--account', EMPTY, '--all'],
        '--output',
        file,
      ],
      { env: { ...process.env, NODE_NO_WARNINGS: '1', RELAIS_DATABASE_URL: ctx.database.url }, cwd: process.cwd(), timeout: HANG_MS },
    );
    const res = await child.then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code?: number; stdout: string; stderr: string }) => ({ code: e.code ?? null, stdout: e.stdout, stderr: e.stderr }),
    );
    expect(res.code, JSON.stringify(res)).toBe(1);
    expect(res.stderr.trimEnd().split('\n').pop()).toBe(`error: --output ${file}: cannot be written (file too large) (VALIDATION_FAILED)`);
    expect(readFileSync(file, 'utf8'), 'the failed export touched the existing file').toBe('last month’s export\n');
    expect(readdirSync(sub)).toEqual(['precious.csv']);
  }, 60_000);

  it('progress goes to stderr only, one plain line every tenth when it is not a terminal, ending at 100%', async () => {
    const file = join(dir, 'progress.csv');
    const res = await run(['history', 'export', '--account', EMPTY, '--all', '--format', 'detailed', '--output', file]);
    expect(res.code, short(res)).toBe(0);
    expect(res.stdout).toBe('');
    const lines = res.stderr.trimEnd().split('\n');
    expect(lines.pop()).toMatch(new RegExp(`^Exported 20,000 messages of ${EMPTY} to ${file} in \\d+\\.\\d s$`));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(11);
    for (const line of lines) expect(line).toMatch(PROGRESS_LINE);
    expect(lines[lines.length - 1]).toBe('100% (20,000/20,000 rows)');
    expect(res.stderr.includes('\r') || res.stderr.includes('\u001b')).toBe(false);
    const csv = readFileSync(file, 'utf8');
    expect(csv.split('\n').filter((l) => /^"\d+";"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d";/.test(l))).toHaveLength(20_000);
  }, 60_000);

  it("spreads the rows over the account's own users and enabled senders, after its history, twice in a row", async () => {
    const existing = await rowsOf(FURNISHED);
    expect(existing).toHaveLength(5);
    const first = await run(['demo', '--account', FURNISHED, '--messages', '3000', '--seed', 'one']);
    expect(first.code, short(first)).toBe(0);
    expect(first.stdout).toMatch(
      new RegExp(`^Inserted 3,000 messages into ${FURNISHED} in \\d+\\.\\d s \\([\\d,]+ rows/s, incremental load\\)\\n$`),
    );
    const second = await run(['demo', '--account', FURNISHED, '--messages', '1000', '--seed', 'one', '--json']);
    expect(second.code, short(second)).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ inserted: 1000, strategy: 'incremental', created: { users: [], senders: [] } });

    const rows = await rowsOf(FURNISHED);
    expect(rows).toHaveLength(4005);
    // The existing rows untouched and first in id order; each run's rows after the previous ones.
    expect(rows.slice(0, 5)).toEqual(existing);
    const firstRun = rows.slice(5, 3005);
    const secondRun = rows.slice(3005);
    expect(Math.min(...firstRun.map((r) => r.id))).toBeGreaterThan(Math.max(...existing.map((r) => r.id)));
    expect(Math.min(...secondRun.map((r) => r.id))).toBeGreaterThan(Math.max(...firstRun.map((r) => r.id)));
    // No user made (it has two), no sender added (it has an enabled one), only that sender used.
    const id = await accountId(FURNISHED);
    const users = await db().selectFrom('sms_users').select('login').where('account_id', '=', id).orderBy('id').execute();
    expect(users.map((u) => u.login)).toEqual(['alice', 'bob']);
    const senders = await db().selectFrom('senders').select(['sender', 'status']).where('account_id', '=', id).orderBy('id').execute();
    expect(senders).toEqual([
      { sender: 'MyShop', status: 'enable' },
      { sender: 'Pending', status: 'waitingValidation' },
      { sender: 'Off', status: 'disable' },
    ]);
    const demoRows = rows.slice(5);
    expect(new Set(demoRows.map((r) => r.sender))).toEqual(new Set(['MyShop']));
    expect(new Set(demoRows.map((r) => r.user_login))).toEqual(new Set(['', 'alice', 'bob']));
  }, 120_000);

  it('says in its result line what it created besides the rows', async () => {
    const name = 'sms-dg12345-1';
    await withServices(ctx.database, async (services) => {
      await services.accounts.create({ name, ownerEmail: OWNER, timezone: 'Europe/Paris' });
      await createSmsUser(services, name, { login: 'carol' });
    });
    const res = await run(['demo', '--account', name, '--messages', '200']);
    expect(res.code, short(res)).toBe(0);
    expect(res.stdout).toMatch(
      new RegExp(
        `^Inserted 200 messages into ${name} in \\d+\\.\\d s \\([\\d,]+ rows/s, incremental load\\); created ${DEMO_SENDERS.length} senders \\(${DEMO_SENDERS.map((s) => s.sender).join(', ')}\\)\\n$`,
      ),
    );
    // Given twice, a single-value option is refused.
    const twice = await run(['demo', '--account', name, '--messages', '10', '--messages', '20']);
    expect(twice.code, short(twice)).toBe(2);
    expect(twice.stderr).toContain('given twice');
  }, 60_000);

  it('refuses a count that is not a whole number from 1 to 100M, in one line (JSON with --json), adding nothing', async () => {
    const before = (
      await db()
        .selectFrom('outgoing')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n;
    const counts = ['-5', '1.5', '', '100000001'];
    const results = await inParallel(counts, 4, (n) => run(['demo', '--account', FURNISHED, '--messages', n]));
    for (const [i, n] of counts.entries()) {
      const res = results[i];
      expect(res.code, `--messages ${JSON.stringify(n)}: ${short(res)}`).not.toBe(0);
      expect(res.stdout, n).toBe('');
      expect(res.stderr.trim().split('\n')[0], n).toMatch(/--messages must be a whole number from 1 to 100,000,000/);
      expect(res.stderr).not.toMatch(STACK_TRACE);
    }
    const json = await run(['demo', '--account', FURNISHED, '--messages', '-5', '--json']);
    expect(json.code, short(json)).not.toBe(0);
    expect(JSON.parse(json.stdout), short(json)).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    const after = (
      await db()
        .selectFrom('outgoing')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n;
    expect(Number(after)).toBe(Number(before));
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------------------

describeWithDatabase('sqlite', 'relais history export --output the database itself', (ctx) => {
  const ACCOUNT = 'sms-db12345-1';
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'relais-export-db-'));
    await withServices(ctx.database, async (services) => {
      await services.customers.create({ email: 'db-review@example.com', password: 'a long password here' });
      const created = await services.accounts.create({ name: ACCOUNT, ownerEmail: 'db-review@example.com', timezone: 'Europe/Paris' });
      await insertOutgoing(ctx.database, [buildOutgoing({ account_id: created.id, message: 'kept' })]);
    });
    return () => rmSync(dir, { recursive: true, force: true });
  });

  it('is refused, by path, through a link or a hard link, and for its -wal and -shm files: the database stays whole', async () => {
    const file = ctx.database.sqliteFile!;
    const link = join(dir, 'db-link');
    symlinkSync(file, link);
    const hard = join(dir, 'db-hard');
    linkSync(file, hard);
    const outputs = [file, link, hard, `${file}-wal`, `${file}-shm`, join(dir, '..', file.split('/').pop()!)];
    const before = statSync(file);
    for (const output of outputs) {
      const res = await relais(ctx.database, ['history', 'export', '--account', ACCOUNT, '--all', '--output', output]);
      expect(res.code, `${output}: ${short(res)}`).toBe(1);
      expect(res.stderr, output).toMatch(
        /^error: --output .+: cannot be written \(it is the database.* of RELAIS_DATABASE_URL, .+\) \(VALIDATION_FAILED\)\n$/,
      );
    }
    const after = statSync(file);
    expect([after.ino, after.size]).toEqual([before.ino, before.size]);
    expect(ctx.database.sqlite!.pragma('integrity_check', { simple: true })).toBe('ok');
    const rows = await ctx.database.db.selectFrom('outgoing').select('message').execute();
    expect(rows.map((r) => r.message)).toEqual(['kept']);
    // Another file of the same directory is no database.
    const beside = `${file}.csv`;
    try {
      const ok = await relais(ctx.database, ['history', 'export', '--account', ACCOUNT, '--all', '--output', beside]);
      expect(ok.code, short(ok)).toBe(0);
      expect(readFileSync(beside, 'utf8')).toContain('"kept"');
    } finally {
      rmSync(beside, { force: true });
    }
  }, 60_000);
});
