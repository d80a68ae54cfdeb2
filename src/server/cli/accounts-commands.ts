import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import type { ApiToken } from '../modules/accounts/api-tokens.repository.js';
import type { SmsUser } from '../modules/accounts/sms-users.repository.js';
import { givenOrGenerated } from '../modules/auth/password.js';
import { printResult, withContext } from './context.js';

interface JsonOption {
  json?: boolean;
}

/** `--ip 192.0.2.1,2001:db8::/32`: addresses and CIDR ranges; `any` (or nothing) clears them. */
function ipList(value: string): string[] {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'any') return [];
  return trimmed
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** A parser of a number option: ≥ 0, or > 0 when `positive`. */
function numberOption(option: string, positive = false) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (positive ? n <= 0 : n < 0))
      throw new AppError('VALIDATION_FAILED', `${option} must be a number ${positive ? '> 0' : '≥ 0'}, got "${value}"`);
    return n;
  };
}

/** `--quota 500` or `--quota none` (commander keeps no null from a parser: "none" is turned into null by `cleared`). */
function quota(value: string): number | 'none' {
  if (value.trim().toLowerCase() === 'none') return 'none';
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new AppError('VALIDATION_FAILED', `--quota must be a number ≥ 0 or "none", got "${value}"`);
  return n;
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
  return { ipRestrictions: options.ip, quota: cleared<number>(options.quota), callbackUrl: cleared<string>(options.callbackUrl) };
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

function tokenId(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new AppError('VALIDATION_FAILED', `--id must be a token id (a whole number), got "${value}"`);
  return n;
}

/** `customer create|list|password`, `account create|list|credit`, `user create|list|update|delete`, `sender add|list`, `token create|list|revoke`: the operator's set-up commands. */
export function registerAccountsCommands(program: Command): void {
  const customer = program.command('customer').description('customers (people who sign in to the Manager)');
  customer
    .command('create')
    .description('create a customer (prints a generated password when --password is omitted)')
    .requiredOption('--email <email>', 'e-mail address, used to sign in')
    .option('--password <password>', 'password (8 characters or more)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { email: string; password?: string }) => {
      const { password, generated } = givenOrGenerated(options.password);
      const created = await withContext(({ services }) => services.customers.create({ email: options.email, password }));
      printResult(
        options,
        { id: created.id, email: created.email, ...(generated === undefined ? {} : { password: generated }) },
        `Customer ${created.email} created (id ${created.id})${generated === undefined ? '' : `; password: ${generated}`}.`,
      );
    });

  customer
    .command('list')
    .description('list the customers and the SMS accounts they own')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const listed = await withContext(async ({ services }) => {
        const [customers, accounts] = await Promise.all([services.customers.list(), services.accounts.list(SYSTEM_ACTOR)]);
        return customers.map((c) => ({
          email: c.email,
          createdAt: new Date(c.createdAt).toISOString(),
          accounts: accounts.filter((a) => a.ownerId === c.id).map((a) => a.name),
        }));
      });
      printResult(
        options,
        listed,
        listed.length
          ? listed.map((c) => `${c.email}  ${c.accounts.length ? c.accounts.join(', ') : 'no SMS account'}`).join('\n')
          : 'No customer yet (create one with: relais customer create --email …).',
      );
    });

  customer
    .command('password')
    .description('set a customer’s password (a generated one, printed once, when --password is omitted); signs them out everywhere')
    .requiredOption('--email <email>', 'the customer’s e-mail')
    .option('--password <password>', 'the new password (8 characters or more)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { email: string; password?: string }) => {
      const { customer: changed, password } = await withContext(({ services }) =>
        services.customers.setPassword(options.email, options.password),
      );
      printResult(
        options,
        { email: changed.email, ...(password === undefined ? {} : { password }) },
        `Password of ${changed.email} changed, every session ended${password === undefined ? '' : `; new password: ${password}`}.`,
      );
    });

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
    .action(async (options: JsonOption & { name: string; owner: string; credits?: number; timezone?: string; description?: string }) => {
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
    .action(async (options: JsonOption) => {
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
    .command('credit')
    .description('give an account credits (--add), or take some back (--remove); sendings debit them')
    .requiredOption('--name <name>', 'account name, e.g. sms-ab12345-1')
    .option('--add <n>', 'credits to add', numberOption('--add', true))
    .option('--remove <n>', 'credits to take back (never below 0)', numberOption('--remove', true))
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { name: string; add?: number; remove?: number }) => {
      if ((options.add === undefined) === (options.remove === undefined))
        throw new AppError('VALIDATION_FAILED', 'Give --add N or --remove N (one of them)');
      const delta = options.add ?? -(options.remove ?? 0);
      const {
        account: changed,
        before,
        after,
      } = await withContext(({ services }) => services.accounts.addCredits(SYSTEM_ACTOR, options.name, delta));
      printResult(options, { name: changed.name, before, after }, `Account ${changed.name}: ${before} → ${after} credits.`);
    });

  const user = program.command('user').description('SMS users (logins for the API, http2sms and mail2sms)');
  user
    .command('create')
    .description('create an SMS user (prints a generated password when --password is omitted)')
    .requiredOption('--account <name>', 'SMS account')
    .requiredOption('--login <login>', 'login (3 to 32 of A-Z a-z 0-9 . _ -)')
    .option('--password <password>', 'password (8 characters or more)')
    .option('--ip <list>', 'addresses and CIDR ranges allowed to use it, comma-separated (default: any)', ipList)
    .option('--quota <n>', 'credits it may spend (default: none, the account decides)', quota)
    .option('--callback-url <url>', 'called at each status change of its messages (default: the account’s)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & UserSettingOptions & { account: string; login: string; password?: string }) => {
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
    .action(async (options: JsonOption & { account: string }) => {
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
    .option('--ip <list>', 'addresses and CIDR ranges allowed, comma-separated; "any" removes the restriction', ipList)
    .option('--quota <n>', 'credits it may spend; "none" removes the quota', quota)
    .option('--callback-url <url>', 'callback URL; "none" removes it (the account’s is used)')
    .option('--json', 'print JSON')
    .action(
      async (options: JsonOption & UserSettingOptions & { account: string; login: string; password?: string; newPassword?: boolean }) => {
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
    .action(async (options: JsonOption & { account: string; login: string }) => {
      await withContext(({ services }) => services.smsUsers.delete(SYSTEM_ACTOR, options.account, options.login));
      printResult(
        options,
        { account: options.account, login: options.login, deleted: true },
        `SMS user ${options.login} deleted from ${options.account} (its messages stay in the history).`,
      );
    });

  const sender = program.command('sender').description('senders (the names or numbers messages are sent from)');
  sender
    .command('add')
    .description('add an enabled sender to an account')
    .requiredOption('--account <name>', 'SMS account')
    .requiredOption('--sender <sender>', 'up to 11 letters/digits/spaces/dots/dashes, or a number')
    .option('--description <text>', 'description')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { account: string; sender: string; description?: string }) => {
      const created = await withContext(({ services }) =>
        services.senders.create(SYSTEM_ACTOR, options.account, { sender: options.sender, description: options.description }),
      );
      printResult(
        options,
        { account: options.account, sender: created.sender, type: created.type, status: created.status },
        `Sender "${created.sender}" (${created.type}) added to ${options.account}.`,
      );
    });

  sender
    .command('list')
    .description('list the senders of an account')
    .requiredOption('--account <name>', 'SMS account')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { account: string }) => {
      const senders = await withContext(({ services }) => services.senders.list(SYSTEM_ACTOR, options.account));
      printResult(
        options,
        senders.map((x) => ({ sender: x.sender, type: x.type, status: x.status, description: x.description })),
        senders.length
          ? senders.map((x) => `${x.sender}  (${x.type}, ${x.status}${x.description ? `: ${x.description}` : ''})`).join('\n')
          : `No sender in ${options.account} (add one with: relais sender add --account ${options.account} --sender …).`,
      );
    });

  const token = program.command('token').description('API tokens');
  token
    .command('create')
    .description('create an API token for an account, or one SMS user of it (printed once)')
    .requiredOption('--account <name>', 'SMS account')
    .option('--user <login>', 'scope the token to this SMS user')
    .option('--name <name>', 'a name to recognise it by')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { account: string; user?: string; name?: string }) => {
      const { token: created, bearer } = await withContext(({ services }) =>
        services.apiTokens.create(SYSTEM_ACTOR, options.account, { name: options.name, userLogin: options.user }),
      );
      const scope = created.userLogin === null ? options.account : `${created.userLogin} in ${options.account}`;
      printResult(
        options,
        { token: bearer, id: created.id },
        `Token ${created.id} for ${scope} (shown once, send it as Authorization: Bearer <token>): ${bearer}`,
      );
    });

  token
    .command('list')
    .description('list the API tokens of an account (never their secrets)')
    .requiredOption('--account <name>', 'SMS account')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { account: string }) => {
      const tokens = await withContext(({ services }) => services.apiTokens.list(SYSTEM_ACTOR, options.account));
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      const line = (t: ApiToken) =>
        [
          `${t.id}${t.name ? ` "${t.name}"` : ''}`,
          t.userLogin === null ? 'whole account' : `SMS user ${t.userLogin}`,
          `created ${iso(t.createdAt)}`,
          t.lastUsedAt === null ? 'never used' : `last used ${iso(t.lastUsedAt)}`,
          ...(t.revokedAt === null ? [] : [`REVOKED ${iso(t.revokedAt)}`]),
        ].join(', ');
      printResult(
        options,
        tokens.map((t) => ({
          id: t.id,
          name: t.name,
          user: t.userLogin,
          createdAt: iso(t.createdAt),
          lastUsedAt: iso(t.lastUsedAt),
          revokedAt: iso(t.revokedAt),
        })),
        tokens.length ? tokens.map(line).join('\n') : `No API token in ${options.account}.`,
      );
    });

  token
    .command('revoke')
    .description('revoke an API token (a running server refuses it within 2 seconds)')
    .requiredOption('--account <name>', 'SMS account')
    .requiredOption('--id <id>', 'the token’s id (token list shows them)', tokenId)
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { account: string; id: number }) => {
      await withContext(({ services }) => services.apiTokens.revoke(SYSTEM_ACTOR, options.account, options.id));
      printResult(options, { id: options.id, revoked: true }, `Token ${options.id} of ${options.account} revoked.`);
    });
}
