import { type Clock, systemClock } from '../clock.js';
import { type Config, loadConfig } from '../config.js';
import { type Database, openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { AppError } from '../errors.js';
import { withServerSecret } from '../server-secret.js';
import { composeServices, type Services } from '../services.js';

/** Options every command accepts. */
export interface GlobalOptions {
  json?: boolean;
}

/** What a command runs with: config, a migrated database and the composed services. */
export interface CliContext {
  config: Readonly<Config>;
  database: Database;
  services: Services;
  clock: Clock;
}

/**
 * Opens the configured database (migrating it), runs `fn`, closes everything. `serverSecret`: the command
 * needs the server secret (OVH keys), read or made as `relais serve` does.
 */
export async function withContext<T>(fn: (ctx: CliContext) => Promise<T>, options: { serverSecret?: boolean } = {}): Promise<T> {
  const config = options.serverSecret ? withServerSecret(loadConfig()) : loadConfig();
  const database = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database);
    const services = composeServices({ config, database, clock: systemClock });
    try {
      return await fn({ config, database, services, clock: systemClock });
    } finally {
      await services.close();
    }
  } finally {
    await database.close();
  }
}

/** Prints a command's result: `json` for scripts (`--json`), or the human text. */
export function printResult(options: GlobalOptions, json: unknown, human: string): void {
  if (options.json) process.stdout.write(`${JSON.stringify(json)}\n`);
  else process.stdout.write(`${human}\n`);
}

/** Turns a failure into a clear message and exit code 1 (2 for usage errors), never a stack trace for known errors. */
export function reportCliError(error: unknown, options: GlobalOptions): number {
  if (error instanceof AppError) {
    if (options.json) process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    else process.stderr.write(`error: ${error.message} (${error.code})\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (options.json) process.stdout.write(`${JSON.stringify({ error: { code: 'INTERNAL', message } })}\n`);
  else process.stderr.write(`error: ${message}\n`);
  return 1;
}
