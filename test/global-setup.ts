import pg from 'pg';
import { buildWebIfStale } from '../src/web/build.js';
import { TEST_POSTGRES_URL } from './database.js';

// Runs once before all test files: extensions are per database, so create them here rather than
// racing from several test files at once; and drop schemas left by an interrupted earlier run.
// Also builds the Manager (dist/web) when it is missing or older than src/web: the browser tests serve it.
export default async function setup(): Promise<void> {
  await buildWebIfStale();
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query('create extension if not exists pg_trgm with schema public');
    const { rows } = await client.query<{ nspname: string }>("select nspname from pg_namespace where nspname like 't\\_%'");
    const hourAgo = Date.now() / 1000 - 3600;
    for (const r of rows) {
      const created = Number(r.nspname.split('_')[1]);
      if (!(created > hourAgo)) await client.query(`drop schema if exists ${r.nspname} cascade`);
    }
  } finally {
    await client.end();
  }
}
