import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { createPasswordHasher } from '../modules/auth/password.js';
import { type BulkLoadStrategy, createDemoRepository } from '../modules/demo/demo.repository.js';
import { type DemoProgress, runDemo } from '../modules/demo/demo.service.js';
import { printResult, withContext } from './context.js';
import { once } from './options.js';

const thousands = new Intl.NumberFormat('en-US');
const fmt = (n: number): string => thousands.format(Math.round(n));

/** The most `--messages` accepts: beyond, a demo is not a demo. */
const MAX_MESSAGES = 100_000_000;

/** `1000000`, `1_000_000`, `1,000,000`, `250k`, `10M`. */
export function parseMessageCount(value: string): number {
  const match = /^(\d+(?:[_,]\d{3})*|\d+(?:\.\d+)?)\s*([kKmM]?)$/.exec(value.trim());
  const n = match ? Number(match[1].replace(/[_,]/g, '')) * ({ k: 1e3, m: 1e6 }[match[2].toLowerCase() as 'k' | 'm'] ?? 1) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_MESSAGES) {
    throw new AppError(
      'VALIDATION_FAILED',
      `--messages must be a whole number from 1 to ${fmt(MAX_MESSAGES)} (e.g. 100000, 250k, 10M), got "${value}"`,
    );
  }
  return n;
}

/** `parse`, for an option given once (`once`: given twice, the command line is refused). */
const onceParsed =
  <T>(parse: (value: string) => T) =>
  (value: string, previous: T | undefined): T =>
    parse(once(value, previous === undefined ? undefined : String(previous)));

function parseDays(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 3650)
    throw new AppError('VALIDATION_FAILED', `--days must be a whole number from 1 to 3650, got "${value}"`);
  return n;
}

const PHASE_TEXT: Record<Exclude<DemoProgress['phase'], 'inserting'>, string> = {
  indexing: 'building indexes and the search index…',
  analyzing: 'updating planner statistics…',
};

/** How each path of a load is told (see `BulkLoadStrategy`). */
export const STRATEGY_TEXT: Record<BulkLoadStrategy, string> = {
  rebuild: 'bulk load: indexes dropped, rebuilt after the rows, all in one transaction',
  incremental: 'incremental load: indexes kept up to date as the rows go in (the history has rows, or the load is small)',
};

/**
 * Progress on stderr: a bar redrawn in place on a terminal, otherwise one line every ~10% (logs, CI).
 * stdout stays clean for the result (and `--json`).
 */
function createProgressReporter(stream: NodeJS.WriteStream) {
  const tty = stream.isTTY === true;
  let lastDraw = 0;
  let lastDecile = 0;
  let drawn = false;
  let announced = false;
  const clearLine = () => {
    if (tty && drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    update(p: DemoProgress) {
      if (!announced) {
        announced = true;
        stream.write(`demo: ${STRATEGY_TEXT[p.strategy]}\n`);
      }
      if (p.phase !== 'inserting') {
        clearLine();
        stream.write(`demo: ${PHASE_TEXT[p.phase]} (${p.seconds.toFixed(1)} s)\n`);
        return;
      }
      const ratio = p.total > 0 ? p.inserted / p.total : 1;
      const rate = p.seconds > 0 ? p.inserted / p.seconds : 0;
      if (tty) {
        const now = performance.now();
        if (now - lastDraw < 100 && p.inserted < p.total) return;
        lastDraw = now;
        const width = 30;
        const full = Math.round(ratio * width);
        const eta = rate > 0 ? (p.total - p.inserted) / rate : 0;
        stream.write(
          `\r\x1b[2K[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${Math.floor(ratio * 100)}% ${fmt(p.inserted)}/${fmt(p.total)} · ${fmt(rate)} rows/s · ETA ${eta.toFixed(0)} s`,
        );
        drawn = true;
        return;
      }
      const decile = Math.floor(ratio * 10);
      if (decile > lastDecile) {
        lastDecile = decile;
        stream.write(`demo: ${decile * 10}% (${fmt(p.inserted)}/${fmt(p.total)} messages, ${p.seconds.toFixed(1)} s)\n`);
      }
    },
    done: clearLine,
  };
}

/** The SMS users and the enabled senders of an account (what the demo may create). */
async function accountMakings(repository: ReturnType<typeof createDemoRepository>, accountId: number) {
  const [users, senders] = await Promise.all([repository.findDemoUsers(accountId), repository.findSenders(accountId)]);
  return { users: users.map((u) => u.login), senders };
}

/** `; created 5 SMS users (apiuser, …) and 3 senders (Relais, …)`, or nothing when the account had them. */
function createdText(created: { users: string[]; senders: string[] }): string {
  const parts = [
    created.users.length ? `${created.users.length} SMS user${created.users.length > 1 ? 's' : ''} (${created.users.join(', ')})` : '',
    created.senders.length
      ? `${created.senders.length} sender${created.senders.length > 1 ? 's' : ''} (${created.senders.join(', ')})`
      : '',
  ].filter(Boolean);
  return parts.length ? `; created ${parts.join(' and ')}` : '';
}

/** `relais demo --account NAME --messages N [--seed S] [--days D] [--json]`. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'fill an SMS account with realistic sent-SMS history, fast (creates demo SMS users when it has none, and senders when it has no enabled one)',
    )
    .requiredOption('--account <name>', 'SMS account, e.g. sms-ab12345-1', once)
    .requiredOption('--messages <n>', 'how many messages (e.g. 100000, 250k, 10M)', onceParsed(parseMessageCount))
    .option('--seed <seed>', 'same seed, same messages (default: random)', once)
    .option('--days <n>', 'spread the messages over the last N days (default 365)', onceParsed(parseDays))
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nA load of 100,000 messages or more into an empty history is a bulk load: one transaction drops the\n' +
        "history's indexes and builds them after the rows; all or nothing, several times faster; meanwhile other\n" +
        'writers (SQLite) or every reader and writer of the history (PostgreSQL) wait. Other loads keep the indexes\n' +
        'up to date as the rows go in (SQLite commits every 10,000 messages). The output says which path was taken.',
    )
    .action(async (options: { account: string; messages: number; seed?: string; days?: number; json?: boolean }) => {
      const progress = createProgressReporter(process.stderr);
      const { result, created } = await withContext(async ({ database, config, clock }) => {
        // What the account has before: the demo creates SMS users when it has none, senders when it has no enabled one.
        const repository = createDemoRepository(database);
        const account = await repository.findAccountByName(options.account);
        const before = account && (await accountMakings(repository, account.id));
        const result = await runDemo({
          database,
          clock,
          hasher: createPasswordHasher({ fast: config.argon2TestFast }),
          accountName: options.account,
          messages: options.messages,
          seed: options.seed,
          spanDays: options.days,
          onProgress: progress.update,
        });
        const after = account && (await accountMakings(repository, account.id));
        const created = {
          users: after?.users.filter((u) => !before?.users.includes(u)) ?? [],
          senders: after?.senders.filter((s) => !before?.senders.includes(s)) ?? [],
        };
        return { result, created };
      }).finally(progress.done);
      printResult(
        options,
        {
          inserted: result.inserted,
          seconds: Math.round(result.seconds * 1000) / 1000,
          rowsPerSecond: result.rowsPerSecond,
          strategy: result.strategy,
          created,
        },
        `Inserted ${fmt(result.inserted)} messages into ${options.account} in ${result.seconds.toFixed(1)} s (${fmt(result.rowsPerSecond)} rows/s, ${result.strategy === 'rebuild' ? 'bulk load' : 'incremental load'})${createdText(created)}`,
      );
    });
}
