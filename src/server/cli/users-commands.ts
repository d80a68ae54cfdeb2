import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import type { SmsUser } from '../modules/accounts/sms-users.repository.js';
import { type GlobalOptions, printResult, withContext } from './context.js';
import { decimalOption } from './options.js';

/** The word of `--ip` that removes the IP restrictions (any address allowed). */
const ANY_IP = 'any';

/**
 * `--ip 192.0.2.1,2001:db8::/32`, repeatable: addresses and CIDR ranges, the values of every `--ip`
 * together; `--ip any` alone removes the restrictions. An empty value is refused: an unset shell variable
 * (`--ip "$ALLOWED"`) must not open the user to every address.
 */
function ipList(value: string, previous: string[] = []): string[] {
  const entries = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (entries.length === 0)
    throw new AppError('VALIDATION_FAILED', `--ip is empty: give addresses or CIDR ranges, or "${ANY_IP}" to allow every address`);
  return [...previous, ...entries.map((v) => (v.toLowerCase() === ANY_IP ? ANY_IP : v))];
}

/** The IP restrictions the `--ip` options give: `any` alone is none (every address); undefined when not given. */
function ipRestrictions(ip: string[] | undefined): string[] | undefined {
  if (ip === undefined || !ip.includes(ANY_IP)) return ip;
  if (ip.length > 1)
    throw new AppError('VALIDATION_FAILED', `--ip ${ANY_IP} allows every address: give it alone, not with addresses or ranges`);
  return [];
}

/** `--quota 500` or `--quota none` (commander keeps no null from a parser: "none" is turned into null by `cleared`). */
function quota(value: string): number | 'none' {
  if (value.trim().toLowerCase() === 'none') return 'none';
  return decimalOption('--quota', value, { or: '"none"' });
}

/** An option's value, null for "none" (removed), undefined when not given (unchanged). */
function cleared<T>(value: T | string | undefined): T | null | undefined {
  if (typeof value === 'string' && value.trim().toLowerCase() === 'none') return null;
  return value as T | undefined;
}

/** The settings `user create` and `user update` take. */
interface UserSettingOptions {
  ip?: string[];
  quota?: number | 'none';
  callbackUrl?: string;
}

/** The options' settings as the SMS users service takes them (undefined: not given; null: removed). */
function userSettings(options: UserSettingOptions) {
  return {
    ipRestrictions: ipRestrictions(options.ip),
    quota: cleared<number>(options.quota),
    callbackUrl: cleared<string>(options.callbackUrl),
  };
}

/** An SMS user as the commands print it in JSON. */
function userJson(user: SmsUser) {
  return {
    login: user.login,
    ipRestrictions: user.ipRestrictions,
    quota: user.quota,
    callbackUrl: user.callbackUrl,
    createdAt: new Date(user.createdAt).toISOString(),
  };
}

/** The settings of an SMS user in one line of text. */
function userText(user: SmsUser): string {
  const ips = user.ipRestrictions.length ? user.ipRestrictions.join(', ') : 'any';
  const q = user.quota === null ? 'none' : String(user.quota);
  return `IP: ${ips}; quota: ${q}; callback: ${user.callbackUrl ?? 'none'}`;
}

/** `user create|list|update|delete`: the SMS users of an account (logins for the API, http2sms, mail2sms and SMPP). */
export function registerUsersCommands(program: Command): void {
  const user = program.command('user').description('SMS users (logins for the API, http2sms, mail2sms and SMPP)');
  user
    .command('create')
    .description('create an SMS user (prints a generated password when --password is omitted)')
    .requiredOption('--account <name>', 'SMS account')
    .requiredOption('--login <login>', 'login (3 to 32 of A-Z a-z 0-9 . _ -)')
    .option('--password <password>', 'password (8 characters or more)')
    .option('--ip <list>', 'addresses and CIDR ranges allowed to use it, comma-separated or repeated (default: any)', ipList)
    .option('--quota <n>', 'credits it may spend (default: none, the account decides)', quota)
    .option('--callback-url <url>', 'called at each status change of its messages (default: the account’s)')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & UserSettingOptions & { account: string; login: string; password?: string }) => {
      const { user: created, password } = await withContext(({ services }) =>
        services.smsUsers.create(SYSTEM_ACTOR, options.account, {
          login: options.login,
          password: options.password,
          ...userSettings(options),
        }),
      );
      printResult(
        options,
        { account: options.account, login: created.login, ...(password === undefined ? {} : { password }) },
        `SMS user ${created.login} created in ${options.account}${password === undefined ? '' : `; password: ${password}`}.`,
      );
    });

  user
    .command('list')
    .description('list the SMS users of an account')
    .requiredOption('--account <name>', 'SMS account')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { account: string }) => {
      const users = await withContext(({ services }) => services.smsUsers.list(SYSTEM_ACTOR, options.account));
      const text = users.length
        ? users.map((u) => `${u.login}  (${userText(u)})`).join('\n')
        : `No SMS user in ${options.account} (create one with: relais user create --account ${options.account} --login …).`;
      printResult(options, users.map(userJson), text);
    });

  user
    .command('update')
    .description('change the password, IP restrictions, quota or callback URL of an SMS user (what is not given stays)')
    .requiredOption('--account <name>', 'SMS account')
    .requiredOption('--login <login>', 'the SMS user')
    .option('--password <password>', 'new password (8 characters or more)')
    .option('--new-password', 'generate a new password and print it once')
    .option('--ip <list>', 'addresses and CIDR ranges allowed, comma-separated or repeated; "any" removes the restriction', ipList)
    .option('--quota <n>', 'credits it may spend; "none" removes the quota', quota)
    .option('--callback-url <url>', 'callback URL; "none" removes it (the account’s is used)')
    .option('--json', 'print JSON')
    .action(
      async (
        options: GlobalOptions & UserSettingOptions & { account: string; login: string; password?: string; newPassword?: boolean },
      ) => {
        if (options.password !== undefined && options.newPassword)
          throw new AppError('VALIDATION_FAILED', 'Give --password or --new-password, not both');
        const changes = { password: options.password, generatePassword: options.newPassword, ...userSettings(options) };
        if (Object.values(changes).every((v) => v === undefined))
          throw new AppError('VALIDATION_FAILED', 'Nothing to change: give --password, --new-password, --ip, --quota or --callback-url');
        const { user: updated, password: generated } = await withContext(({ services }) =>
          services.smsUsers.update(SYSTEM_ACTOR, options.account, options.login, changes),
        );
        const what = generated !== undefined ? `; new password: ${generated}` : options.password !== undefined ? '; password changed' : '';
        printResult(
          options,
          { account: options.account, ...userJson(updated), ...(generated === undefined ? {} : { password: generated }) },
          `SMS user ${updated.login} of ${options.account} changed${what} (${userText(updated)}).`,
        );
      },
    );

  user
    .command('delete')
    .description('delete an SMS user and its API tokens (its messages stay in the history, under its login)')
    .requiredOption('--account <name>', 'SMS account')
    .requiredOption('--login <login>', 'the SMS user')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { account: string; login: string }) => {
      await withContext(({ services }) => services.smsUsers.delete(SYSTEM_ACTOR, options.account, options.login));
      printResult(
        options,
        { account: options.account, login: options.login, deleted: true },
        `SMS user ${options.login} deleted from ${options.account} (its messages stay in the history).`,
      );
    });
}
