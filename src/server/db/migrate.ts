import { type Kysely, type Migration, Migrator, sql } from 'kysely';
import type { Database, Dialect } from './database.js';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-sending.js';
import * as m0003 from './migrations/0003-text-search-deletes.js';
import * as m0004 from './migrations/0004-outgoing-days.js';
import * as m0005 from './migrations/0005-deferred-text-index.js';
import * as m0006 from './migrations/0006-text-index-deletes.js';
import * as m0007 from './migrations/0007-message-index-receiver.js';
import * as m0008 from './migrations/0008-smpp-receipts.js';
import * as m0009 from './migrations/0009-credit-changes.js';
import * as m0010 from './migrations/0010-ovh-keys.js';
import * as m0011 from './migrations/0011-job-quota-paid.js';
import * as m0012 from './migrations/0012-message-sort-prefix.js';
import * as m0013 from './migrations/0013-unconfirmed-expiry.js';
import * as m0014 from './migrations/0014-delete-job-leases.js';
import * as m0015 from './migrations/0015-sign-in-failures.js';

/** What a migration may need to know beyond the Kysely instance. */
export interface MigrationContext {
  dialect: Dialect;
}

interface RelaisMigration {
  up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void>;
  down?(db: Kysely<unknown>, ctx: MigrationContext): Promise<void>;
}

/** Every migration, in order. Names never change once released. */
const MIGRATIONS: Record<string, RelaisMigration> = {
  '0001-initial': m0001,
  '0002-sending': m0002,
  '0003-text-search-deletes': m0003,
  '0004-outgoing-days': m0004,
  '0005-deferred-text-index': m0005,
  '0006-text-index-deletes': m0006,
  '0007-message-index-receiver': m0007,
  '0008-smpp-receipts': m0008,
  '0009-credit-changes': m0009,
  '0010-ovh-keys': m0010,
  '0011-job-quota-paid': m0011,
  '0012-message-sort-prefix': m0012,
  '0013-unconfirmed-expiry': m0013,
  '0014-delete-job-leases': m0014,
  '0015-sign-in-failures': m0015,
};

async function migrator(database: Database): Promise<Migrator> {
  const ctx: MigrationContext = { dialect: database.dialect };
  // Keep the migration tables in the chosen schema, or on PostgreSQL the connection's current one
  // (where they are made without one): unnamed, Kysely would take another schema's for this one's.
  const schema =
    database.schema ??
    (database.dialect === 'postgres'
      ? ((await sql<{ schema: string | null }>`select current_schema() as schema`.execute(database.db)).rows[0]?.schema ?? undefined)
      : undefined);
  return new Migrator({
    db: database.db,
    ...(schema ? { migrationTableSchema: schema } : {}),
    provider: {
      getMigrations: async () =>
        Object.fromEntries(
          Object.entries(MIGRATIONS).map(([name, m]): [string, Migration] => [
            name,
            { up: (db) => m.up(db, ctx), down: m.down ? (db) => m.down!(db, ctx) : undefined },
          ]),
        ),
    },
  });
}

/** Brings the schema to the latest version; returns the names of the migrations it applied. */
export async function migrateToLatest(database: Database): Promise<string[]> {
  const { error, results } = await (await migrator(database)).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
