import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { accountAccessFor, SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import { parseDateParam } from '../modules/history/history-query.js';
import type { SendInput } from '../modules/sending/sending.service.js';
import { printResult, withContext } from './context.js';
import { once } from './options.js';

interface SendOptions {
  account: string;
  user?: string;
  sender?: string;
  senderForResponse?: boolean;
  to?: string[];
  toFile?: string;
  message?: string;
  messageFile?: string;
  stop: boolean;
  tag?: string;
  at?: string;
  differedPeriod?: string;
  validity?: string;
  priority?: string;
  coding?: string;
  class?: string;
  json?: boolean;
}

const PRIORITIES = ['high', 'medium', 'low', 'veryLow'] as const;
const CODINGS = ['7bit', '8bit'] as const;
const CLASSES = ['flash', 'phoneDisplay', 'sim', 'toolkit'] as const;

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw new AppError('VALIDATION_FAILED', `--${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}

function minutes(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new AppError('VALIDATION_FAILED', `--${name} must be a whole number of minutes`);
  return Number(value);
}

/** Why a file cannot be read, in words, by its error code. */
const UNREADABLE: Readonly<Record<string, string>> = {
  EISDIR: 'is a directory',
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  ENOTDIR: 'a part of the path is not a directory',
};

/** The text of the file `option` names, or standard input for `-`; VALIDATION_FAILED naming both when it cannot be read. */
function readText(option: string, path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    const file = path === '-' ? 'standard input' : path;
    throw new AppError('VALIDATION_FAILED', `${option} ${file}: ${UNREADABLE[code] ?? `cannot be read (${code})`}`);
  }
}

/** `relais send`: the sending service from the command line (the same checks, debit and queue as the API). */
export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('send an SMS to one or many receivers (queued for the dispatcher of a running `relais serve`)')
    .requiredOption('--account <name>', 'SMS account, e.g. sms-ab12345-1', once)
    .option('--sender <sender>', 'one of the account’s enabled senders', once)
    .option('--sender-for-response', 'send from a reply-capable short number instead of a sender')
    .option('--to <numbers...>', 'receivers: +33…, 0033… or national numbers, comma- or space-separated')
    .option('--to-file <path>', 'receivers from a file, one a line (- for standard input)', once)
    .option('--message <text>', 'the text', once)
    .option('--message-file <path>', 'the text from a file (- for standard input)', once)
    .option('--user <login>', 'send as this SMS user (its quota applies; its history filter shows it)', once)
    .option('--no-stop', 'do not append the STOP mention (non-commercial message)')
    .option('--tag <tag>', 'a tag to find the messages by', once)
    .option('--at <datetime>', 'send at this time (ISO 8601, account timezone unless an offset is given)', once)
    .option('--differed-period <minutes>', 'send in this many minutes', once)
    .option('--validity <minutes>', 'give up after this many minutes (default 2880)', once)
    .option('--priority <priority>', PRIORITIES.join(' | '), once)
    .option('--coding <coding>', `${CODINGS.join(' | ')} (8bit forces UCS-2)`, once)
    .option('--class <class>', CLASSES.join(' | '), once)
    .option('--json', 'print JSON (the API’s sending report)')
    .action(async (options: SendOptions) => {
      if ((options.message === undefined) === (options.messageFile === undefined)) {
        throw new AppError('VALIDATION_FAILED', 'give the text with --message or --message-file (one of them)');
      }
      if (options.to === undefined && options.toFile === undefined)
        throw new AppError('INVALID_RECEIVER', 'give receivers with --to or --to-file');
      // Said in the command line's words (the service's message names the API field senderForResponse).
      if (!options.sender && !options.senderForResponse)
        throw new AppError(
          'INVALID_SENDER',
          'give a sender with --sender (one of the account’s: relais sender list), or --sender-for-response',
        );
      const message = options.message ?? readText('--message-file', options.messageFile!).replace(/\r?\n$/, '');
      const receivers = [...(options.to ?? []), ...(options.toFile ? readText('--to-file', options.toFile).split(/\r?\n/) : [])]
        .flatMap((r) => r.split(','))
        .map((r) => r.trim())
        .filter(Boolean);
      const report = await withContext(async ({ services, clock }) => {
        const account = await services.accounts.getAccount(SYSTEM_ACTOR, options.account);
        const user = options.user === undefined ? null : await services.smsUsers.get(SYSTEM_ACTOR, account.name, options.user);
        const access = accountAccessFor(account, user && { id: user.id, login: user.login }, 'cli');
        const input: SendInput = {
          message,
          receivers,
          sender: options.sender,
          senderForResponse: options.senderForResponse,
          noStopClause: !options.stop,
          tag: options.tag,
          differedPeriod: minutes('differed-period', options.differedPeriod),
          validityPeriod: minutes('validity', options.validity),
          priority: oneOf('priority', options.priority, PRIORITIES),
          coding: oneOf('coding', options.coding, CODINGS),
          class: oneOf('class', options.class, CLASSES),
        };
        if (options.at !== undefined) {
          const at = parseDateParam('at', options.at, account.timezone, false);
          if (at <= clock.now()) throw new AppError('VALIDATION_FAILED', '--at is in the past');
          input.deferredUntil = at;
        }
        return services.sending.accept(access, 'api', input);
      });
      const refused = report.invalidReceivers.length ? `; refused: ${report.invalidReceivers.join(', ')}` : '';
      printResult(
        options,
        report,
        `Accepted ${report.ids.length} message${report.ids.length === 1 ? '' : 's'} (${report.parts} part${report.parts === 1 ? '' : 's'}, ${report.encoding}, ${report.totalCreditsRemoved} credits; ${report.creditsLeft} left), tag ${report.tag}, job ${report.jobId}${refused}.\nThe dispatcher of a running \`relais serve\` sends them; follow them with \`relais history export --account ${options.account} --tag ${report.tag}\` or in the Manager.`,
      );
    });
}
