import { Command, CommanderError } from 'commander';
import { registerAccountsCommands } from './cli/accounts-commands.js';
import { reportCliError } from './cli/context.js';
import { registerCustomersCommands } from './cli/customers-commands.js';
import { registerDemoCommand } from './cli/demo-command.js';
import { registerHistoryCommands } from './cli/history-commands.js';
import { registerOvhCommands } from './cli/ovh-commands.js';
import { registerSendCommand } from './cli/send-command.js';
import { registerSendersCommands } from './cli/senders-commands.js';
import { registerServerCommands } from './cli/server-commands.js';
import { registerTokensCommands } from './cli/tokens-commands.js';
import { registerUsersCommands } from './cli/users-commands.js';

/** The `relais` command line. Every command prints a clear result, or JSON with `--json`. */
export function buildCli(): Command {
  // A command line that cannot be read gets one line and a hint (not the whole help), exit code 2.
  const program = new Command('relais')
    .description('Relais — self-hosted SMS platform')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerServerCommands(program);
  // The operator's set-up commands, in the order of a first set-up (and of `relais --help`).
  registerCustomersCommands(program);
  registerAccountsCommands(program);
  registerUsersCommands(program);
  registerSendersCommands(program);
  registerTokensCommands(program);
  registerOvhCommands(program);
  registerSendCommand(program);
  registerHistoryCommands(program);
  registerDemoCommand(program);
  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  const program = buildCli();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      // Scripts reading --json get the usage error as JSON too (commander wrote it on stderr).
      if (error.exitCode !== 0 && argv.includes('--json')) {
        process.stdout.write(`${JSON.stringify({ error: { code: 'USAGE', message: error.message.replace(/^error: /, '') } })}\n`);
      }
      return;
    }
    process.exitCode = reportCliError(error, { json: argv.includes('--json') });
  }
}
