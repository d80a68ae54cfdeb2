import type { Command } from 'commander';
import { loadConfig, unknownVariableWarnings } from '../config.js';
import { openMigrated, printResult, reportCliError } from './context.js';

/** `relais serve` and `relais migrate`. */
export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('run Relais (the services named by RELAIS_SERVICES, all by default)')
    .action(async () => {
      // A start that fails has closed what it had started (main.ts): one line, exit 1 at once, whatever
      // else (a pino transport, a worker) would keep the event loop alive.
      try {
        for (const warning of unknownVariableWarnings()) process.stderr.write(`${warning}\n`);
        const config = loadConfig();
        const { startRelais } = await import('../main.js');
        await startRelais(config);
      } catch (error) {
        process.exit(reportCliError(error, {}));
      }
    });

  program
    .command('migrate')
    .description('bring the database schema to the latest version')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const { database, applied } = await openMigrated(loadConfig());
      try {
        printResult(options, { applied }, applied.length ? `Applied: ${applied.join(', ')}` : 'The database is up to date.');
      } finally {
        await database.close();
      }
    });
}
