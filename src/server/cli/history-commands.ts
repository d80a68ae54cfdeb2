import { randomBytes } from 'node:crypto';
import { once as onceEvent } from 'node:events';
import { constants, createWriteStream, fstatSync, type Stats, unlinkSync } from 'node:fs';
import { access, type FileHandle, lstat, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { Database } from '../db/database.js';
import { AppError } from '../errors.js';
import { accountAccessFor, SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import type { AccountAccess } from '../modules/auth/principal.js';
import type { ExportTextOptions } from '../modules/history/history.service.js';
import { reportCliError, withContext } from './context.js';
import { once } from './options.js';

interface ExportOptions {
  account: string;
  format?: string;
  all?: boolean;
  limit?: string;
  sort?: string;
  output?: string;
  progress?: boolean;
  json?: boolean;
  user?: string;
  channel?: string;
  sender?: string;
  receiver?: string;
  status?: string;
  tag?: string;
  from?: string;
  to?: string;
  q?: string;
  ids?: string;
}

const FORMATS = ['seed', 'detailed', 'jsonl'];

/**
 * The parser of a list option (`--status`, `--channel`, `--ids`): given twice, the values are joined
 * with commas (`--status failed --status canceled` is `--status failed,canceled`), as `send --to` takes
 * its receivers; the API takes a repeated parameter the same way.
 */
const joined = (value: string, previous: string | undefined): string => (previous === undefined ? value : `${previous},${value}`);

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

/** Why a path cannot be opened or written, in words. */
function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOENT':
      return 'its directory does not exist';
    case 'ENOTDIR':
      return 'a part of its path is not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'ENXIO':
      return 'nothing reads from it';
    case 'ENOSPC':
      return 'no space left on device';
    case 'EFBIG':
      return 'file too large';
    case 'EDQUOT':
      return 'disk quota exceeded';
    default:
      return code ?? String(error);
  }
}

const unwritable = (path: string, why: string) => new AppError('VALIDATION_FAILED', `--output ${path}: cannot be written (${why})`);

/**
 * Where an export goes:
 * - `stdout`: no --output, or an --output that is standard output itself (`/dev/stdout`);
 * - `direct`: a FIFO or a character device (`/dev/null`, a terminal), written as it is and never removed;
 * - `file`: a regular file (or a new one), written to a temporary file beside it, owner-only, renamed onto
 *   it once whole. A refused or failed export leaves the file as it was (or no file at all).
 */
interface OutputTarget {
  kind: 'stdout' | 'direct' | 'file';
  stream: Writable;
  /** `direct`, or `stdout` named by --output: the target's status. */
  stats?: Stats;
  /** `file`: puts the whole export in place. */
  commit(): Promise<void>;
  /** Removes what this run made (`file`: its temporary file only); never throws. */
  discard(): Promise<void>;
}

/** The SQLite files of the database (the file, its WAL, shared memory and rollback journal), if any. */
const DATABASE_SUFFIXES = ['', '-wal', '-shm', '-journal'];

/** `path` resolved through the symbolic links of its directory (the file itself may not exist). */
async function resolvedPath(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    try {
      return join(await realpath(dirname(absolute)), basename(absolute));
    } catch {
      return absolute;
    }
  }
}

/** Refuses an --output that is the SQLite database of RELAIS_DATABASE_URL (or one of its side files). */
async function refuseDatabase(path: string, stats: Stats | null, database: Database): Promise<void> {
  if (!database.sqliteFile) return;
  const target = await resolvedPath(path);
  for (const suffix of DATABASE_SUFFIXES) {
    const file = `${database.sqliteFile}${suffix}`;
    const fileStats = await stat(file).catch(() => null);
    const same =
      (stats !== null && fileStats !== null && stats.dev === fileStats.dev && stats.ino === fileStats.ino) ||
      target === (await resolvedPath(file));
    if (same)
      throw unwritable(
        path,
        `it is the database${suffix ? `'s ${suffix.slice(1)} file` : ''} of RELAIS_DATABASE_URL, ${database.sqliteFile}`,
      );
  }
}

/** Opens where the export goes, or says clearly why it cannot be written. Nothing is created but a temporary file. */
async function openOutput(path: string | undefined, database: Database): Promise<OutputTarget> {
  const nothing = async () => {};
  if (path === undefined) return { kind: 'stdout', stream: process.stdout, commit: nothing, discard: nothing };
  if (path.trim() === '') throw new AppError('VALIDATION_FAILED', '--output must name a file (leave it out to write to stdout)');
  let stats: Stats | null = null;
  try {
    stats = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw unwritable(path, reason(error));
    // A symbolic link to nothing: renaming onto it would replace the link, writing through it would create its target.
    if ((await lstat(path).catch(() => null))?.isSymbolicLink()) throw unwritable(path, 'it is a symbolic link to nothing');
  }
  await refuseDatabase(path, stats, database);
  if (stats?.isDirectory()) throw unwritable(path, 'it is a directory');
  if (stats?.isBlockDevice()) throw unwritable(path, 'it is a block device');

  // Standard output itself (`/dev/stdout`, whatever it is: a pipe, a socket, a terminal): written as stdout is.
  if (stats !== null && !stats.isFile() && isStdout(stats))
    return { kind: 'stdout', stream: process.stdout, stats, commit: nothing, discard: nothing };
  if (stats !== null && !stats.isFile()) {
    // A FIFO, a character device, a socket: written as it is (opening a FIFO waits for its reader).
    const stream = createWriteStream(path);
    try {
      await onceEvent(stream, 'open');
    } catch (error) {
      throw unwritable(path, reason(error));
    }
    return {
      kind: 'direct',
      stream,
      stats,
      commit: nothing,
      discard: async () => {
        stream.destroy();
      },
    };
  }

  // A regular file, or a new one: the export goes to a temporary file in the same directory (the same file
  // system, so that the rename is atomic), through the links to the real file (a link stays a link).
  const final = stats === null ? resolve(path) : await realpath(path);
  if (stats !== null) {
    try {
      await access(final, constants.W_OK);
    } catch (error) {
      throw unwritable(path, reason(error));
    }
  }
  const temporary = join(dirname(final), `.${basename(final)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle;
  try {
    handle = await open(temporary, 'wx', 0o666);
  } catch (error) {
    throw unwritable(path, reason(error));
  }
  // The mode a new file gets here (the umask applied), the temporary file owner-only until it is whole.
  let newMode: number;
  try {
    newMode = (await handle.stat()).mode & 0o777;
    await handle.chmod(0o600);
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temporary, { force: true }).catch(() => {});
    throw unwritable(path, reason(error));
  }
  const removeOnSignal = () => {
    try {
      unlinkSync(temporary);
    } catch {}
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onSignal = (signal: NodeJS.Signals) => {
    removeOnSignal();
    for (const s of signals) process.off(s, onSignal);
    process.kill(process.pid, signal);
  };
  for (const s of signals) process.on(s, onSignal);
  const forgetSignals = () => {
    for (const s of signals) process.off(s, onSignal);
  };
  // Written chunk by chunk on the handle, which stays open for the fsync, mode and rename of `commit`.
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      handle.writeFile(chunk).then(() => callback(), callback);
    },
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close().catch(() => {});
  };
  return {
    kind: 'file',
    stream,
    async commit() {
      try {
        await handle.sync();
        // The file keeps the permissions (and, for root, the owner) it had; a new one gets a new file's.
        await handle.chmod(stats === null ? newMode : stats.mode & 0o7777);
        if (stats !== null && process.getuid?.() === 0) await handle.chown(stats.uid, stats.gid).catch(() => {});
        await close();
        await rename(temporary, final);
      } catch (error) {
        throw unwritable(path, reason(error));
      } finally {
        forgetSignals();
      }
    },
    async discard() {
      stream.destroy();
      await close();
      await rm(temporary, { force: true }).catch(() => {});
      forgetSignals();
    },
  };
}

/** Whether `stats` is the file behind standard output (`--output /dev/stdout`, `/dev/fd/1`). */
function isStdout(stats: Stats): boolean {
  try {
    const out = fstatSync(1);
    return out.dev === stats.dev && out.ino === stats.ino;
  } catch {
    return false;
  }
}

/** The reader went away (`| head -1`): the end of the export, as for any Unix tool. */
const isBrokenPipe = (error: unknown) => (error as NodeJS.ErrnoException | null)?.code === 'EPIPE';

export function registerHistoryCommands(program: Command): void {
  const history = program.command('history').description('the history of sent SMS');
  history
    .command('export')
    .description("write the history as CSV (the seed's format by default) or JSON lines, to a file or stdout")
    .requiredOption('--account <name>', 'SMS account, e.g. sms-ab12345-1', once)
    .option('--format <format>', `${FORMATS.join(' | ')} (default: seed)`, once)
    .option('--all', 'every matching message (CSV default: the most recent RELAIS_CSV_DOWNLOAD_LIMIT, 2000; jsonl: every match)')
    .option('--limit <n>', 'at most this many messages (with --all too)', once)
    .option('--output <file>', 'write to this file, replaced once the export is whole (default: stdout)', once)
    .option('--user <login>', 'only this SMS user ("-" for messages sent from the Manager)', once)
    .option('--channel <channels>', 'comma-separated channels (repeatable)', joined)
    .option('--sender <sender>', 'only this sender', once)
    .option('--receiver <number>', 'a number, or a prefix ending with *', once)
    .option('--status <statuses>', 'comma-separated statuses (repeatable)', joined)
    .option('--tag <tag>', 'only this tag', once)
    .option('--from <date>', 'ISO 8601 date or datetime, inclusive, account timezone unless an offset is given', once)
    .option('--to <date>', 'ISO 8601 date or datetime, inclusive', once)
    .option('--q <text>', 'text contained in the message', once)
    .option('--ids <ids>', 'only these message ids, comma-separated (repeatable; at most 1000)', joined)
    .option('--sort <sort>', 'date (newest first), +date, sender, -receiver…', once)
    .option('--no-progress', 'no progress on stderr')
    .option('--json', 'no progress; the summary as JSON: on stdout with --output, on stderr when stdout carries the export')
    .action((options: ExportOptions) => {
      // stdout may be closed by its reader at any time (`| head -1`): that ends the export (the pipeline
      // sees it), it is no crash; another failure of stdout is reported.
      process.stdout.on('error', (error: unknown) => {
        if (!isBrokenPipe(error)) process.exitCode = reportCliError(error, {});
      });
      // When stdout carries the export, a JSON error goes to stderr, with the summary.
      return exportHistory(options).catch((error: unknown) => {
        process.exitCode = reportCliError(error, { json: options.json, jsonTo: options.output === undefined ? 'stderr' : 'stdout' });
      });
    });
}

/** `relais history export`. */
async function exportHistory(options: ExportOptions): Promise<void> {
  const format = options.format ?? 'seed';
  if (!FORMATS.includes(format)) throw new AppError('VALIDATION_FAILED', `--format must be one of ${FORMATS.join(', ')}`);
  let limit: number | null = null;
  if (options.limit !== undefined) {
    if (!/^\d+$/.test(options.limit) || Number(options.limit) < 1)
      throw new AppError('VALIDATION_FAILED', '--limit must be a whole number ≥ 1');
    limit = Number(options.limit);
  }
  await withContext(async ({ services, config, database }) => {
    const account = await services.accounts.getAccount(SYSTEM_ACTOR, options.account);
    const access: AccountAccess = accountAccessFor(account, null, 'cli');
    const { user, channel, sender, receiver, status, tag, from, to, q, ids, sort } = options;
    const query = { user, channel, sender, receiver, status, tag, from, to, q, ids, sort };
    // As the API: a limit when one is given; otherwise every match with --all or in JSON lines
    // (GET …/outgoing.jsonl has no cap), the download limit for a CSV.
    const rowsLimit = limit ?? (options.all || format === 'jsonl' ? null : config.csvDownloadLimit);
    // The filter and the sort are checked here (a bad one throws) before anything is opened or written.
    const text = services.history.exportText(access, query, { format: format as ExportTextOptions['format'], limit: rowsLimit });
    // Then the output: a path that cannot be written is the error shown before anything is counted or read.
    const output = await openOutput(options.output, database);
    let done = 0;
    let progress = createProgress(0, false);
    try {
      const total = Math.min(await services.history.count(access, query), rowsLimit ?? Number.POSITIVE_INFINITY);
      progress = createProgress(total, options.progress !== false && !options.json && (output.kind !== 'stdout' || !process.stdout.isTTY));
      async function* chunks() {
        for await (const chunk of text) {
          if (chunk.rows > 0) {
            done += chunk.rows;
            progress.update(done);
          }
          yield chunk.data;
        }
      }
      await pipeline(Readable.from(chunks()), output.stream, { end: output.kind !== 'stdout' });
      await output.commit();
    } catch (error) {
      // No half-written export left behind as if it were whole: only what this run made is removed.
      await output.discard();
      if (output.kind !== 'file' && isBrokenPipe(error)) {
        // The reader went away (`| head -1`, a FIFO's reader): the end of the export, silently, exit 0.
        progress.finish();
        return;
      }
      // A write that failed (no space left, file too large…) names the output.
      const errno = error as NodeJS.ErrnoException;
      if (options.output !== undefined && typeof errno?.syscall === 'string' && typeof errno.code === 'string')
        throw unwritable(options.output, reason(error));
      throw error;
    }
    const { seconds } = progress.finish();
    const summary = {
      exported: done,
      seconds: Number(seconds.toFixed(3)),
      rowsPerSecond: Math.round(done / Math.max(seconds, 0.001)),
      output: options.output ?? null,
    };
    if (options.json) {
      // The result on stdout unless stdout carries the export (then on stderr, a line of its own).
      const toStdout = output.kind !== 'stdout';
      (toStdout ? process.stdout : process.stderr).write(`${JSON.stringify(summary)}\n`);
    } else {
      process.stderr.write(
        `Exported ${done.toLocaleString('en')} messages of ${account.name}${options.output ? ` to ${options.output}` : ''} in ${seconds.toFixed(1)} s\n`,
      );
    }
  });
}
