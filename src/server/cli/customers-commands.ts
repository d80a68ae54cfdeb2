import type { Command } from 'commander';
import { SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import { givenOrGenerated } from '../modules/auth/password.js';
import { type GlobalOptions, printResult, withContext } from './context.js';

/** `customer create|list|password`: the people who sign in to the Manager. */
export function registerCustomersCommands(program: Command): void {
  const customer = program.command('customer').description('customers (people who sign in to the Manager)');
  customer
    .command('create')
    .description('create a customer (prints a generated password when --password is omitted)')
    .requiredOption('--email <email>', 'e-mail address, used to sign in')
    .option('--password <password>', 'password (8 characters or more)')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { email: string; password?: string }) => {
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
    .action(async (options: GlobalOptions) => {
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
    .action(async (options: GlobalOptions & { email: string; password?: string }) => {
      const { customer: changed, password } = await withContext(({ services }) =>
        services.customers.setPassword(options.email, options.password),
      );
      printResult(
        options,
        { email: changed.email, ...(password === undefined ? {} : { password }) },
        `Password of ${changed.email} changed, every session ended${password === undefined ? '' : `; new password: ${password}`}.`,
      );
    });
}
