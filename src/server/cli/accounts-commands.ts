import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { excerpt } from '../input-text.js';
import type { Account, AccountPatch, CreditChange } from '../modules/accounts/accounts.repository.js';
import {
  CREDIT_CHANGES_DEFAULT_LIMIT,
  CREDIT_CHANGES_MAX_LIMIT,
  CREDIT_REASON_MAX_LENGTH,
  SYSTEM_ACTOR,
} from '../modules/accounts/accounts.service.js';
import { type GlobalOptions, printResult, withContext } from './context.js';
import { decimalOption } from './options.js';

/** A parser of a number option: decimal digits ≥ 0, or > 0 when `positive` (the service sets the upper bound). */
function numberOption(option: string, positive = false) {
  return (value: string): number => decimalOption(option, value, { positive });
}

/** `--limit`: a whole number ≥ 1 (the service sets the upper bound). */
function limitOption(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1)
    throw new AppError('VALIDATION_FAILED', `--limit must be a whole number ≥ 1, got "${excerpt(value)}"`);
  return Number(value);
}

/**
 * `--redact-after-days` / `--retention-days`: a whole number of days, or `never` (the limit removed; kept
 * as the word: commander turns a parser's null into '').
 */
function dayLimitOption(option: string) {
  return (value: string): number | 'never' => {
    if (value.trim().toLowerCase() === 'never') return 'never';
    if (!/^\d+$/.test(value.trim()))
      throw new AppError('VALIDATION_FAILED', `${option} must be a number of days or "never", got "${excerpt(value)}"`);
    return Number(value);
  };
}

/** `--store-text yes|no`. */
function yesNoOption(option: string) {
  return (value: string): boolean => {
    const v = value.trim().toLowerCase();
    if (v === 'yes' || v === 'true') return true;
    if (v === 'no' || v === 'false') return false;
    throw new AppError('VALIDATION_FAILED', `${option} must be yes or no, got "${excerpt(value)}"`);
  };
}

/** An account's settings in one line of text. */
function settingsText(a: Account): string {
  const texts = a.storeText ? `texts kept${a.redactAfterDays === null ? '' : ` ${a.redactAfterDays} days`}` : 'texts not stored';
  const messages = a.retentionDays === null ? 'messages kept' : `messages deleted after ${a.retentionDays} days`;
  const disabled = a.status === 'enable' ? '' : ' DISABLED (sends nothing),';
  return `Account ${a.name}:${disabled} ${a.timezone}, country ${a.defaultCountry}, ${texts}, ${messages}${a.description ? `, "${a.description}"` : ''}.`;
}

/** A credit change in one line of text: when, how many, the balance after, who, and why. */
function creditChangeText(c: CreditChange): string {
  const delta = c.delta > 0 ? `+${c.delta}` : String(c.delta);
  const reason = c.reason === null ? '' : ` (${c.reason})`;
  return `${new Date(c.createdAt).toISOString()}  ${delta} → ${c.balanceAfter} credits, by ${c.actor}${reason}`;
}

/** `account create|list|update|credit|credit-history`: SMS accounts, their settings and their credits. */
export function registerAccountsCommands(program: Command): void {
  const account = program.command('account').description('SMS accounts');
  account
    .command('create')
    .description('create an SMS account owned by a customer')
    .requiredOption('--name <name>', 'account name, e.g. sms-ab12345-1')
    .requiredOption('--owner <email>', "the owner's e-mail (a customer)")
    .option('--credits <n>', 'initial credits', numberOption('--credits'))
    .option('--timezone <zone>', 'IANA timezone (default: RELAIS_DEFAULT_TIMEZONE, Europe/Paris)')
    .option('--description <text>', 'description')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { name: string; owner: string; credits?: number; timezone?: string; description?: string }) => {
      const created = await withContext(({ services }) =>
        services.accounts.create({
          name: options.name,
          ownerEmail: options.owner,
          credits: options.credits,
          timezone: options.timezone,
          description: options.description,
        }),
      );
      printResult(
        options,
        { name: created.name, owner: options.owner.trim().toLowerCase(), credits: created.credits, timezone: created.timezone },
        `Account ${created.name} created for ${options.owner} (${created.credits} credits, ${created.timezone}).`,
      );
    });

  account
    .command('list')
    .description('list every SMS account, with its owner and credits')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions) => {
      const listed = await withContext(async ({ services }) => {
        const [accounts, customers] = await Promise.all([services.accounts.list(SYSTEM_ACTOR), services.customers.list()]);
        const owners = new Map(customers.map((c) => [c.id, c.email]));
        return accounts.map((a) => ({
          name: a.name,
          owner: owners.get(a.ownerId) ?? '?',
          credits: a.credits,
          timezone: a.timezone,
          status: a.status,
        }));
      });
      printResult(
        options,
        listed,
        listed.length
          ? listed
              .map((a) => `${a.name}  ${a.owner}, ${a.credits} credits, ${a.timezone}${a.status === 'enable' ? '' : `, ${a.status}`}`)
              .join('\n')
          : 'No SMS account yet (create one with: relais account create --name sms-ab12345-1 --owner …).',
      );
    });

  account
    .command('update')
    .description("change an account's settings: description, timezone, default country, privacy, retention and status")
    .requiredOption('--name <name>', 'account name, e.g. sms-ab12345-1')
    .option('--description <text>', 'description')
    .option('--timezone <zone>', 'IANA timezone of its dates (e.g. Europe/Paris)')
    .option('--default-country <code>', 'country of national receiver numbers (ISO 3166, e.g. FR)')
    .option('--store-text <yes|no>', 'keep the texts of new messages (no: sent, then kept without their text)', yesNoOption('--store-text'))
    .option('--redact-after-days <n|never>', 'erase texts older than N days', dayLimitOption('--redact-after-days'))
    .option('--retention-days <n|never>', 'delete messages older than N days (pending ones excepted)', dayLimitOption('--retention-days'))
    .option('--status <enable|disable>', 'disable: the account sends nothing, on any channel (its history stays readable)')
    .option('--callback-url <url|none>', "called on each status change of messages without an SMS user's own URL")
    .option('--json', 'print JSON')
    .action(
      async (
        options: GlobalOptions & {
          name: string;
          description?: string;
          timezone?: string;
          defaultCountry?: string;
          storeText?: boolean;
          redactAfterDays?: number | 'never';
          retentionDays?: number | 'never';
          status?: string;
          callbackUrl?: string;
        },
      ) => {
        const days = (v: number | 'never') => (v === 'never' ? null : v);
        const patch: AccountPatch = {
          ...(options.description === undefined ? {} : { description: options.description }),
          ...(options.timezone === undefined ? {} : { timezone: options.timezone }),
          ...(options.defaultCountry === undefined ? {} : { defaultCountry: options.defaultCountry }),
          ...(options.storeText === undefined ? {} : { storeText: options.storeText }),
          ...(options.redactAfterDays === undefined ? {} : { redactAfterDays: days(options.redactAfterDays) }),
          ...(options.retentionDays === undefined ? {} : { retentionDays: days(options.retentionDays) }),
          ...(options.status === undefined ? {} : { status: options.status as 'enable' | 'disable' }),
          ...(options.callbackUrl === undefined ? {} : { callbackUrl: options.callbackUrl === 'none' ? null : options.callbackUrl }),
        };
        if (Object.keys(patch).length === 0)
          throw new AppError(
            'VALIDATION_FAILED',
            'Nothing to change: give --description, --timezone, --default-country, --store-text, --redact-after-days, --retention-days, --status or --callback-url',
          );
        const updated = await withContext(({ services }) => services.accounts.update(SYSTEM_ACTOR, options.name, patch));
        printResult(
          options,
          {
            name: updated.name,
            description: updated.description,
            timezone: updated.timezone,
            defaultCountry: updated.defaultCountry,
            storeText: updated.storeText,
            redactAfterDays: updated.redactAfterDays,
            retentionDays: updated.retentionDays,
            status: updated.status,
            callbackUrl: updated.callbackUrl,
          },
          settingsText(updated),
        );
      },
    );

  account
    .command('credit')
    .description('give an account credits (--add), or take some back (--remove); sendings debit them')
    .requiredOption('--name <name>', 'account name, e.g. sms-ab12345-1')
    .option('--add <n>', 'credits to add', numberOption('--add', true))
    .option('--remove <n>', 'credits to take back (never below 0)', numberOption('--remove', true))
    .option('--reason <text>', `why, kept in the credit history (at most ${CREDIT_REASON_MAX_LENGTH} characters)`)
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { name: string; add?: number; remove?: number; reason?: string }) => {
      if ((options.add === undefined) === (options.remove === undefined))
        throw new AppError('VALIDATION_FAILED', 'Give --add N or --remove N (one of them)');
      const delta = options.add ?? -(options.remove ?? 0);
      const {
        account: changed,
        before,
        after,
      } = await withContext(({ services }) => services.accounts.addCredits(SYSTEM_ACTOR, options.name, delta, { reason: options.reason }));
      printResult(options, { name: changed.name, before, after }, `Account ${changed.name}: ${before} → ${after} credits.`);
    });

  account
    .command('credit-history')
    .description('list the credit changes of an account (relais account credit), newest first')
    .requiredOption('--name <name>', 'account name, e.g. sms-ab12345-1')
    .option(
      '--limit <n>',
      `at most this many changes (default ${CREDIT_CHANGES_DEFAULT_LIMIT}, at most ${CREDIT_CHANGES_MAX_LIMIT})`,
      limitOption,
    )
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { name: string; limit?: number }) => {
      const changes = await withContext(({ services }) => services.accounts.listCreditChanges(SYSTEM_ACTOR, options.name, options.limit));
      printResult(
        options,
        changes.map((c) => ({
          id: c.id,
          createdAt: new Date(c.createdAt).toISOString(),
          actor: c.actor,
          delta: c.delta,
          balanceAfter: c.balanceAfter,
          reason: c.reason,
        })),
        changes.length
          ? changes.map(creditChangeText).join('\n')
          : `No credit change in ${options.name} (relais account credit --name ${options.name} --add N records one).`,
      );
    });
}
