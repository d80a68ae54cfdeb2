/**
 * What the channel benchmarks (mail2sms, SMPP) share: a Relais app on a temporary SQLite file, production
 * argon2 parameters, and one SMS account (100,000,000 credits) with the sender `BENCH` and the SMS user
 * `bench`. `close()` stops the app and removes the file.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';
import { openDatabase } from '../src/server/db/database.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';

export const BENCH_SENDER = 'BENCH';
export const BENCH_LOGIN = 'bench';
export const BENCH_PASSWORD = 'bench-password-123';

export async function openChannelBench(name: string, accountName: string) {
  const file = join(tmpdir(), `relais-bench-${name}-${randomBytes(4).toString('hex')}.db`);
  const url = `sqlite:${file}`;
  const database = openDatabase(url);
  await migrateToLatest(database);
  const config = Object.freeze({ ...loadConfig({}), databaseUrl: url });
  const app = await buildApp({ config, database });
  const s = app.services;
  await s.customers.create({ email: 'bench@example.com', password: 'correct horse battery staple' });
  const account = await s.accounts.create({ name: accountName, ownerEmail: 'bench@example.com', credits: 100_000_000 });
  await s.senders.create(SYSTEM_ACTOR, account.name, { sender: BENCH_SENDER });
  await s.smsUsers.create(SYSTEM_ACTOR, account.name, { login: BENCH_LOGIN, password: BENCH_PASSWORD });
  return {
    file,
    database,
    config,
    app,
    account,
    /** Rows of `outgoing` sent through `channel` (read on the SQLite file directly). */
    countRows(channel: string): number {
      return (database.sqlite!.prepare('select count(*) as n from outgoing where channel = ?').get(channel) as { n: number }).n;
    },
    async close() {
      await app.close();
      await database.close();
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    },
  };
}
