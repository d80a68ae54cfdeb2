import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import { generatePassword } from '../modules/auth/password.js';
import { printResult, withContext } from './context.js';

interface JsonOption {
  json?: boolean;
}

function credits(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new AppError('VALIDATION_FAILED', `--credits must be a number ≥ 0, got "${value}"`);
  return n;
}

/** `customer create`, `account create`, `user create`, `sender add`, `token create`: the operator's set-up commands. */
export function registerAccountsCommands(program: Command): void {
  const customer = program.command('customer').description('customers (people who sign in to the Manager)');
  customer
    .command('create')
    .description('create a customer (prints a generated password when --password is omitted)')
    .requiredOption('--email <email>', 'e-mail address, used to sign in')
    .option('--password <password>', 'password (8 characters or more)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { email: string; password?: string }) => {
      const password = options.password ?? generatePassword();
      const created = await withContext(({ services }) => services.customers.create({ email: options.email, password }));
      const generated = options.password === undefined ? { password } : {};
      printResult(
        options,
        { id: created.id, email: created.email, ...generated },
        `Customer ${created.email} created (id ${created.id})${options.password === undefined ? `; password: ${password}` : ''}.`,
      );
    });

  const account = program.command('account').description('SMS accounts');
  account
    .command('create')
    .description('create an SMS account owned by a customer')
    .requiredOption('--name <name>', 'account name, e.g. sms-ab12345-1')
    .requiredOption('--owner <email>', "the owner's e-mail (a customer)")
    .option('--credits <n>', 'initial credits', credits)
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

  const user = program.command('user').description('SMS users (logins for the API, http2sms, mail2sms and SMPP)');
  user
    .command('create')
    .description('create an SMS user (prints a generated password when --password is omitted)')
    .requiredOption('--account <name>', 'SMS account')
    .requiredOption('--login <login>', 'login (3 to 32 of A-Z a-z 0-9 . _ -)')
    .option('--password <password>', 'password (8 characters or more)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { account: string; login: string; password?: string }) => {
      const { user: created, password } = await withContext(({ services }) =>
        services.smsUsers.create(SYSTEM_ACTOR, options.account, { login: options.login, password: options.password }),
      );
      printResult(
        options,
        { account: options.account, login: created.login, ...(password === undefined ? {} : { password }) },
        `SMS user ${created.login} created in ${options.account}${password === undefined ? '' : `; password: ${password}`}.`,
      );
    });

  const sender = program.command('sender').description('senders (from values)');
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
}
