import { type Clock, systemClock } from '../clock.js';
import { type Config, loadConfig, unusableDatabase } from '../config.js';
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
 * Opens the configured database and brings its schema up to date; an error names the database (its
 * password hidden) and says why it cannot be used.
 */
export async function openMigrated(config: Readonly<Config>): Promise<{ database: Database; applied: string[] }> {
  const unusable = (error: unknown) => unusableDatabase(config.databaseUrl, error);
  let database: Database;
  try {
    database = openDatabase(config.databaseUrl);
  } catch (error) {
    throw unusable(error);
  }
  try {
    return { database, applied: await migrateToLatest(database) };
  } catch (error) {
    await database.close().catch(() => {});
    throw unusable(error);
  }
}

/**
 * Opens the configured database (migrating it), runs `fn`, closes everything. `serverSecret`: the command
 * needs the server secret (OVH keys), read or made as `relais serve` does.
 */
export async function withContext<T>(fn: (ctx: CliContext) => Promise<T>, options: { serverSecret?: boolean } = {}): Promise<T> {
  const loaded = loadConfig();
  // With SQLite the secret lives beside the database, where the server keeps it too; with PostgreSQL in
  // ./data of the working directory: a command run elsewhere must not make a secret the servers do not have.
  const config = options.serverSecret ? withServerSecret(loaded, { create: loaded.databaseUrl.startsWith('sqlite:') }) : loaded;
  const { database } = await openMigrated(config);
  try {
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

/**
 * Turns a failure into a clear message and exit code 1 (usage errors: 2, in cli.ts), never a stack trace
 * for known errors. A JSON error goes to stdout, with the results, unless `jsonTo` says stderr (a command
 * whose stdout carries data: `history export`).
 */
export function reportCliError(error: unknown, options: GlobalOptions & { jsonTo?: 'stdout' | 'stderr' }): number {
  const jsonOut = options.jsonTo === 'stderr' ? process.stderr : process.stdout;
  if (error instanceof AppError) {
    if (options.json) jsonOut.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    else process.stderr.write(`error: ${error.message} (${error.code})\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (options.json) jsonOut.write(`${JSON.stringify({ error: { code: 'INTERNAL', message } })}\n`);
  else process.stderr.write(`error: ${message}\n`);
  return 1;
}
