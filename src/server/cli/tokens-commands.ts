import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import type { ApiToken } from '../modules/accounts/api-tokens.repository.js';
import { type GlobalOptions, printResult, withContext } from './context.js';

function tokenId(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new AppError('VALIDATION_FAILED', `--id must be a token id (a whole number), got "${value}"`);
  return n;
}

/** `token create|list|revoke`: an account's API tokens. */
export function registerTokensCommands(program: Command): void {
  const token = program.command('token').description('API tokens');
  token
    .command('create')
    .description('create an API token for an account, or one SMS user of it (printed once)')
    .requiredOption('--account <name>', 'SMS account')
    .option('--user <login>', 'scope the token to this SMS user')
    .option('--name <name>', 'a name to recognise it by')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { account: string; user?: string; name?: string }) => {
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
    .action(async (options: GlobalOptions & { account: string }) => {
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
    .action(async (options: GlobalOptions & { account: string; id: number }) => {
      await withContext(({ services }) => services.apiTokens.revoke(SYSTEM_ACTOR, options.account, options.id));
      printResult(options, { id: options.id, revoked: true }, `Token ${options.id} of ${options.account} revoked.`);
    });
}
