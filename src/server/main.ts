import pino from 'pino';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';

/** The process: opens the database, migrates, starts the enabled services, closes gracefully on SIGINT/SIGTERM. */
export async function startRelais(config: Readonly<Config>): Promise<void> {
  const logger = pino({ level: config.logLevel, ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty' } } : {}) });
  const database = openDatabase(config.databaseUrl);
  await migrateToLatest(database);
  const app = await buildApp({ config, database, logger });
  if (config.services.includes('http')) {
    await app.listen({ port: config.httpPort, host: config.host });
  } else {
    await app.ready();
  }
  let closing = false;
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'closing');
    await app.close();
    await database.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void close('SIGINT'));
  process.once('SIGTERM', () => void close('SIGTERM'));
}
