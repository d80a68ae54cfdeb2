import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { accountAccessFor, SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import { parseDateParam } from '../modules/history/history-query.js';
import type { SendInput } from '../modules/sending/sending.service.js';
import { printResult, withContext } from './context.js';

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

/** A file's text, or standard input for `-`. */
function readText(path: string): string {
  return readFileSync(path === '-' ? 0 : path, 'utf8');
}

/** `relais send`: the sending service from the command line (the same checks, debit and queue as the API). */
export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('send an SMS to one or many receivers (queued for the dispatcher of a running `relais serve`)')
    .requiredOption('--account <name>', 'SMS account, e.g. sms-ab12345-1')
    .option('--sender <sender>', 'one of the account’s enabled senders')
    .option('--sender-for-response', 'send from a reply-capable short number instead of a sender')
    .option('--to <numbers...>', 'receivers: +33…, 0033… or national numbers, comma- or space-separated')
    .option('--to-file <path>', 'receivers from a file, one a line (- for standard input)')
    .option('--message <text>', 'the text')
    .option('--message-file <path>', 'the text from a file (- for standard input)')
    .option('--user <login>', 'send as this SMS user (its quota applies; its history filter shows it)')
    .option('--no-stop', 'do not append the STOP mention (non-commercial message)')
    .option('--tag <tag>', 'a tag to find the messages by')
    .option('--at <datetime>', 'send at this time (ISO 8601, account timezone unless an offset is given)')
    .option('--differed-period <minutes>', 'send in this many minutes')
    .option('--validity <minutes>', 'give up after this many minutes (default 2880)')
    .option('--priority <priority>', PRIORITIES.join(' | '))
    .option('--coding <coding>', `${CODINGS.join(' | ')} (8bit forces UCS-2)`)
    .option('--class <class>', CLASSES.join(' | '))
    .option('--json', 'print JSON (the API’s sending report)')
    .action(async (options: SendOptions) => {
      if ((options.message === undefined) === (options.messageFile === undefined)) {
        throw new AppError('VALIDATION_FAILED', 'give the text with --message or --message-file (one of them)');
      }
      if (options.to === undefined && options.toFile === undefined)
        throw new AppError('INVALID_RECEIVER', 'give receivers with --to or --to-file');
      const message = options.message ?? readText(options.messageFile!).replace(/\r?\n$/, '');
      const receivers = [...(options.to ?? []), ...(options.toFile ? readText(options.toFile).split(/\r?\n/) : [])]
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
