import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { openMigrated, printResult } from './context.js';

/** `relais serve` and `relais migrate`. */
export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('run Relais (the services named by RELAIS_SERVICES, all by default)')
    .action(async () => {
      const { startRelais } = await import('../main.js');
      await startRelais(loadConfig());
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
