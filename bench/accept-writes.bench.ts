/**
 * Acceptance's SQLite write, alone (`npm run bench:accept-writes -- [--jobs 64000] [--batch 32]
 * [--variants full,no-text-index,no-indexes]`): the sending repository's `acceptBatch` committing
 * single-receiver jobs `batch` at a time (as the sending service groups concurrent requests), on a fresh
 * migrated SQLite file, with distinct texts. Prints CPU and wall time a job for each variant of the
 * schema: as migrated, the text index written in batches as the server does (`full`); the text index
 * written row by row by a trigger, as before migration 0005 (`row-trigger`); no text index at all;
 * without any secondary index of the history — so what each part costs a job is measured, not guessed. Never part of
 * `npm test`. The goal it serves: issue 3's 10,000 accepted jobs/s on 2 cores leaves ~100 µs of the
 * serving thread a job for everything.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/server/db/database.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import { indexPendingText, TEXT_INDEX_BATCH_ROWS } from '../src/server/db/sqlite-text-index.js';
import { createSendingRepository, type PreparedJob } from '../src/server/modules/sending/sending.repository.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '64000' },
    batch: { type: 'string', default: '32' },
    variants: { type: 'string', default: 'full,row-trigger,no-text-index,no-indexes' },
  },
});
const JOBS = Number(values.jobs);
const BATCH = Number(values.batch);
const WARM_UP = Math.min(10_000, JOBS);
const TEXTS = [
  'Votre code de connexion est',
  'Bonjour, votre commande est en préparation, numéro',
  'Rappel : rendez-vous demain à 10 h, référence',
  'Votre colis sera livré aujourd’hui entre 14 h et 18 h, suivi',
  'Merci pour votre achat ! Votre facture est disponible, numéro',
  'Alerte : une connexion depuis un nouvel appareil, code',
];

async function measure(variant: string): Promise<{ cpu: number; wall: number }> {
  const file = join(tmpdir(), `relais-accept-writes-${process.pid}-${variant}.db`);
  const database = openDatabase(`sqlite:${file}`, { backgroundCheckpoints: {}, nonBlockingLockWaits: true });
  try {
    await migrateToLatest(database);
    const sqlite = database.sqlite!;
    // The text index as the server keeps it: batches of TEXT_INDEX_BATCH_ROWS on the same thread
    // (`full`); or one row at a time by an insert trigger, as before migration 0005 (`row-trigger`).
    if (variant === 'row-trigger')
      sqlite.exec(`create trigger outgoing_fts_insert after insert on outgoing begin
        insert into outgoing_fts(rowid, message) values (new.id, new.message); end`);
    const batchedTextIndex = variant === 'full';
    if (variant === 'no-indexes') {
      const indexes = sqlite
        .prepare<[], { name: string }>("select name from sqlite_master where type = 'index' and tbl_name = 'outgoing' and sql is not null")
        .all();
      for (const { name } of indexes) sqlite.exec(`drop index "${name}"`);
    }
    sqlite.exec("insert into customers (email, password_hash, created_at) values ('bench@relais.test', 'x', 0)");
    const accountId = Number(
      sqlite
        .prepare(
          "insert into accounts (name, owner_id, credits, timezone, status, created_at) values ('sms-bw00001-1', 1, 1e12, 'Europe/Paris', 'active', 0)",
        )
        .run().lastInsertRowid,
    );
    const repository = createSendingRepository(database);
    const job = (n: number): PreparedJob => ({
      accountId,
      userId: null,
      userLogin: 'api',
      channel: 'api',
      sender: 'Relais',
      receivers: [`+336${String((n * 7919) % 100_000_000).padStart(8, '0')}`],
      message: `${TEXTS[n % TEXTS.length]} ${(n * 104_729) % 1_000_000}.`,
      storeText: true,
      encoding: 'ucs2',
      parts: 1,
      credits: [1],
      tag: '',
      priority: 1,
      deferredUntil: null,
      validUntil: Date.now() + 86_400_000,
      options: {},
      now: Date.now(),
    });
    let n = 0;
    const run = async (jobs: number) => {
      for (let done = 0; done < jobs; done += BATCH) {
        const results = await repository.acceptBatch(Array.from({ length: BATCH }, () => job(n++)));
        if (!results.every((r) => r.ok)) throw new Error('a job was refused');
        if (batchedTextIndex && n % TEXT_INDEX_BATCH_ROWS < BATCH) {
          while ((await database.db.transaction().execute((trx) => indexPendingText(trx, TEXT_INDEX_BATCH_ROWS))) > 0);
        }
      }
    };
    await run(WARM_UP);
    const cpu = process.cpuUsage();
    const started = performance.now();
    await run(JOBS);
    const used = process.cpuUsage(cpu);
    return { cpu: (used.user + used.system) / JOBS, wall: ((performance.now() - started) * 1000) / JOBS };
  } finally {
    await database.close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  }
}

console.log(`acceptBatch, ${JOBS.toLocaleString('en')} single-receiver jobs, ${BATCH} a commit, SQLite file, distinct texts (2 cores)`);
for (const variant of values.variants.split(',')) {
  const { cpu, wall } = await measure(variant);
  // CPU counts this process's threads: the serving one and the WAL checkpointer's.
  console.log(
    `  ${variant.padEnd(14)} ${cpu.toFixed(1).padStart(6)} µs of CPU a job (all threads), ${wall.toFixed(1).padStart(6)} µs of wall time`,
  );
}
