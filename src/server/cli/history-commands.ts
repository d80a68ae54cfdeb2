import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { accountAccessFor, SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import type { AccountAccess } from '../modules/auth/principal.js';
import type { ExportTextOptions } from '../modules/history/history.service.js';
import type { RawFilter } from '../modules/history/history-query.js';
import { reportCliError, withContext } from './context.js';

interface ExportOptions extends RawFilter {
  account: string;
  format: string;
  all?: boolean;
  limit?: string;
  sort?: string;
  output?: string;
  progress?: boolean;
  json?: boolean;
}

const FORMATS = ['seed', 'detailed', 'jsonl'];

/** Draws progress on stderr: a bar on a terminal, a line every 10% otherwise. */
function createProgress(total: number, enabled: boolean) {
  const started = performance.now();
  let lastDecile = -1;
  let lastDraw = 0;
  const tty = process.stderr.isTTY;
  const rate = (done: number) => Math.round(done / Math.max((performance.now() - started) / 1000, 0.001));
  return {
    update(done: number) {
      if (!enabled || total === 0) return;
      const fraction = Math.min(done / total, 1);
      if (tty) {
        const now = performance.now();
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        const width = 30;
        const filled = Math.round(fraction * width);
        process.stderr.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${done.toLocaleString('en')}/${total.toLocaleString('en')} rows  ${rate(done).toLocaleString('en')} rows/s `,
        );
      } else {
        const decile = Math.floor(fraction * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          process.stderr.write(`${decile * 10}% (${done.toLocaleString('en')}/${total.toLocaleString('en')} rows)\n`);
        }
      }
    },
    finish() {
      if (enabled && tty && total > 0) process.stderr.write('\n');
      return { seconds: (performance.now() - started) / 1000 };
    },
  };
}

/** `relais history export`. */
/** Opens `path` for the export (created or emptied), or says clearly why it cannot be written. */
async function openOutput(path: string): Promise<WriteStream> {
  if (path.trim() === '') throw new AppError('VALIDATION_FAILED', '--output must name a file (leave it out to write to stdout)');
  const stream = createWriteStream(path);
  try {
    await once(stream, 'open');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EISDIR'
        ? 'it is a directory'
        : code === 'ENOENT'
          ? 'its directory does not exist'
          : code === 'EACCES'
            ? 'permission denied'
            : (code ?? String(error));
    throw new AppError('VALIDATION_FAILED', `--output ${path}: cannot be written (${why})`);
  }
  return stream;
}

export function registerHistoryCommands(program: Command): void {
  const history = program.command('history').description('the history of sent SMS');
  history
    .command('export')
    .description("write the history as CSV (the seed's format by default) or JSON lines, to a file or stdout")
    .requiredOption('--account <name>', 'SMS account, e.g. sms-ab12345-1')
    .option('--format <format>', `${FORMATS.join(' | ')}`, 'seed')
    .option('--all', 'every matching message (default: the most recent RELAIS_CSV_DOWNLOAD_LIMIT, 2000)')
    .option('--limit <n>', 'at most this many messages, newest first')
    .option('--output <file>', 'write to this file (default: stdout)')
    .option('--user <login>', 'only this SMS user ("-" for messages sent from the Manager)')
    .option('--channel <channels>', 'comma-separated channels')
    .option('--sender <sender>')
    .option('--receiver <number>', 'a number, or a prefix ending with *')
    .option('--status <statuses>', 'comma-separated statuses')
    .option('--tag <tag>')
    .option('--from <date>', 'ISO 8601 date or datetime, inclusive, account timezone unless an offset is given')
    .option('--to <date>', 'ISO 8601 date or datetime, inclusive')
    .option('--q <text>', 'text contained in the message')
    .option('--sort <sort>', 'date (newest first), +date, sender, -receiver…')
    .option('--no-progress', 'no progress on stderr')
    .option('--json', 'print the summary as JSON on stderr')
    .action((options: ExportOptions) =>
      // Its stdout may carry the export: a JSON error goes to stderr, with the summary.
      exportHistory(options).catch((error: unknown) => {
        process.exitCode = reportCliError(error, { json: options.json, jsonTo: 'stderr' });
      }),
    );
}

/** `relais history export`. */
async function exportHistory(options: ExportOptions): Promise<void> {
  if (!FORMATS.includes(options.format)) throw new AppError('VALIDATION_FAILED', `--format must be one of ${FORMATS.join(', ')}`);
  let limit: number | null = null;
  if (options.limit !== undefined) {
    if (!/^\d+$/.test(options.limit) || Number(options.limit) < 1)
      throw new AppError('VALIDATION_FAILED', '--limit must be a whole number ≥ 1');
    limit = Number(options.limit);
  }
  await withContext(async ({ services, config }) => {
    const account = await services.accounts.getAccount(SYSTEM_ACTOR, options.account);
    const access: AccountAccess = accountAccessFor(account, null, 'cli');
    // The file opened before anything is counted or read: a path that cannot be written is the one error shown.
    const output = options.output === undefined ? undefined : await openOutput(options.output);
    const { user, channel, sender, receiver, status, tag, from, to, q, sort } = options;
    const query = { user, channel, sender, receiver, status, tag, from, to, q, sort };
    const rowsLimit = options.all ? limit : (limit ?? config.csvDownloadLimit);
    const text = services.history.exportText(access, query, {
      format: options.format as ExportTextOptions['format'],
      limit: rowsLimit,
    });
    const total = Math.min(await services.history.count(access, query), rowsLimit ?? Number.POSITIVE_INFINITY);
    const progress = createProgress(total, options.progress !== false && (options.output !== undefined || !process.stdout.isTTY));
    let done = 0;
    async function* chunks() {
      for await (const chunk of text) {
        if (chunk.rows > 0) {
          done += chunk.rows;
          progress.update(done);
        }
        yield chunk.data;
      }
    }
    const out: Writable = output ?? process.stdout;
    try {
      await pipeline(Readable.from(chunks()), out, { end: output !== undefined });
    } catch (error) {
      // No half-written export left behind as if it were whole.
      if (options.output) await rm(options.output, { force: true }).catch(() => {});
      throw error;
    }
    const { seconds } = progress.finish();
    const summary = {
      exported: done,
      seconds: Number(seconds.toFixed(3)),
      rowsPerSecond: Math.round(done / Math.max(seconds, 0.001)),
      output: options.output ?? null,
    };
    process.stderr.write(
      options.json
        ? `${JSON.stringify(summary)}\n`
        : `Exported ${done.toLocaleString('en')} messages of ${account.name}${options.output ? ` to ${options.output}` : ''} in ${seconds.toFixed(1)} s\n`,
    );
  });
}
