import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';

export interface ServiceDeps {
  config: Readonly<Config>;
  database: Database;
  clock: Clock;
}

/** The composition root: every repository and service, built once from plain factories. */
export function composeServices(deps: ServiceDeps) {
  return {
    config: deps.config,
    clock: deps.clock,
    database: deps.database,
    /** Stops background work (delete jobs…); the database is closed by its owner. */
    close: async () => {},
  };
}

export type Services = ReturnType<typeof composeServices>;
