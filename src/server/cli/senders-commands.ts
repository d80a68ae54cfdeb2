import type { Command } from 'commander';
import { SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import { type GlobalOptions, printResult, withContext } from './context.js';

/** `sender add|update|list`: the names or numbers an account's messages are sent from. */
export function registerSendersCommands(program: Command): void {
  const sender = program.command('sender').description('senders (the names or numbers messages are sent from)');
  sender
    .command('add')
    .description('add an enabled sender to an account')
    .requiredOption('--account <name>', 'SMS account')
    .requiredOption('--sender <sender>', 'up to 11 letters/digits/spaces/dots/dashes, or a number')
    .option('--description <text>', 'description')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { account: string; sender: string; description?: string }) => {
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
    .command('update')
    .description(
      "change a sender's status or description; refused and waitingValidation are the operator's: its customer can then neither enable it nor (refused) remove it",
    )
    .requiredOption('--account <name>', 'SMS account')
    .requiredOption('--sender <sender>', 'the sender')
    .option('--status <status>', 'enable | disable | refused | waitingValidation')
    .option('--description <text>', 'description')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { account: string; sender: string; status?: string; description?: string }) => {
      const updated = await withContext(({ services }) =>
        services.senders.update(SYSTEM_ACTOR, options.account, options.sender, {
          status: options.status,
          description: options.description,
        }),
      );
      printResult(
        options,
        { account: options.account, sender: updated.sender, type: updated.type, status: updated.status, description: updated.description },
        `Sender "${updated.sender}" of ${options.account}: ${updated.status}.`,
      );
    });

  sender
    .command('list')
    .description('list the senders of an account')
    .requiredOption('--account <name>', 'SMS account')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { account: string }) => {
      const senders = await withContext(({ services }) => services.senders.list(SYSTEM_ACTOR, options.account));
      printResult(
        options,
        senders.map((x) => ({ sender: x.sender, type: x.type, status: x.status, description: x.description })),
        senders.length
          ? senders.map((x) => `${x.sender}  (${x.type}, ${x.status}${x.description ? `: ${x.description}` : ''})`).join('\n')
          : `No sender in ${options.account} (add one with: relais sender add --account ${options.account} --sender …).`,
      );
    });
}
