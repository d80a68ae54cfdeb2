import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './database.js';
import { killAllRelaisProcesses, type ReceiptPump, startReceiptPump, startRelaisProcess, waitUntil } from './relais-process.js';
import { inspectRun, type JobAnswer, planJobs, postJob, type SendingAccount, seedSendingAccount, statusCounts } from './send-run.js';
import { startTestSmsc, type TestSmsc } from './smsc.js';

// Issue 3: two Relais processes on one PostgreSQL, both dispatching, 10,000 messages accepted by
// either: each reaches the SMSC exactly once. The SMSC sends every receipt on one connection, so
// one process applies receipts for parts the other one sent.

const WINDOW = 50;
const CREDITS = 1_000_000;
const CLIENTS = 8;

describe('two servers on one PostgreSQL dispatching 10,000 messages', () => {
  let database: TestDatabase;
  let smsc: TestSmsc;
  let pump: ReceiptPump;
  let account: SendingAccount;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    account = await seedSendingAccount(database, CREDITS);
    smsc = await startTestSmsc();
    pump = startReceiptPump(smsc);
  });

  afterAll(async () => {
    await killAllRelaisProcesses();
    pump?.stop();
    await smsc?.close();
    await database?.close();
  });

  it('sends each message once, whichever server accepted it', { timeout: 420_000 }, async () => {
    // 95 jobs of 100 receivers and 500 of one (every other one in two parts): 10,000 messages.
    const plan = planJobs({ bulkJobs: 95, bulkSize: 100, singles: 500 });
    expect(plan.reduce((a, j) => a + j.receivers.length, 0)).toBe(10_000);
    const carrier = smsc.url(`window=${WINDOW}&tps=0&enquire=0&reconnect_min=0.05&reconnect_max=0.5&timeout=10`);
    const servers = await Promise.all(
      [0, 1].map(() => startRelaisProcess({ databaseUrl: database.url, carrier, env: { RELAIS_LOG_LEVEL: 'info' } })),
    );

    const startedAt = Date.now();
    const answered: JobAnswer[] = [];
    let next = 0;
    async function client(): Promise<void> {
      while (next < plan.length) {
        const job = plan[next++];
        answered.push(await postJob(servers[job.index % 2].baseUrl, account, job));
      }
    }
    await Promise.all(Array.from({ length: CLIENTS }, () => client()));
    const timing: Record<string, number> = { accepted: Date.now() - startedAt };
    await waitUntil(
      async () => !(await statusCounts(database, account.id)).pending,
      'every message sent',
      300_000,
      250,
      async () => JSON.stringify(await statusCounts(database, account.id)),
    );
    timing.sent = Date.now() - startedAt;
    await waitUntil(
      async () => {
        const counts = await statusCounts(database, account.id);
        return counts.delivered === 10_000 && pump.waiting === 0;
      },
      'every message delivered',
      300_000,
      250,
      async () =>
        `${JSON.stringify(await statusCounts(database, account.id))}, receipts waiting ${pump.waiting}, acknowledged ${pump.acknowledged}, ` +
        `early receipts ${(await database.db.selectFrom('early_receipts').select('id').execute()).length}\n` +
        servers.map((s) => s.output().slice(-3000)).join('\n----\n'),
    );
    timing.delivered = Date.now() - startedAt;

    const run = await inspectRun(database, account, smsc);
    const ids = new Set(run.messages.map((m) => m.id));
    const answeredIds = answered.flatMap((a) => a.ids);
    expect(answeredIds.length).toBe(10_000);
    expect(answeredIds.filter((id) => !ids.has(id))).toEqual([]);
    expect(run.messages.length).toBe(10_000);

    // Each part of each message reached the SMSC exactly once, and nothing else did.
    expect(run.missing).toEqual([]);
    expect(run.unexpected).toEqual([]);
    expect(run.duplicateParts).toBe(0);
    expect(smsc.submits.length).toBe(run.messages.reduce((a, m) => a + m.parts, 0));

    // Both processes sent (one SMSC connection each).
    const perConnection = Object.values(run.submitsByConnection);
    expect(perConnection.length).toBeGreaterThanOrEqual(2);
    expect(perConnection.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);

    // Queue empty, parts recorded once with their receipts, every carrier id known; debited once.
    expect(run.queue).toBe(0);
    expect(run.badBookkeeping.map((m) => m.id)).toEqual([]);
    expect(run.unrecordedIds).toEqual([]);
    expect(run.badJobs).toEqual([]);
    expect(run.credits).toBe(CREDITS - run.debited);
    expect(run.debited).toBe(answered.reduce((a, j) => a + j.totalCreditsRemoved, 0));

    // No lease was taken over from a live process, nothing failed to be recorded.
    const warnings = servers.flatMap((s) => s.warnings());
    expect(warnings.filter((w) => w.level >= 50 || /no longer held/.test(w.msg))).toEqual([]);
    const swept = servers
      .flatMap((s) => s.output().split('\n'))
      .filter((l) => l.includes('early receipts swept'))
      .map((l) => (JSON.parse(l) as { applied: number }).applied)
      .reduce((a, b) => a + b, 0);
    console.info(
      `[two-servers postgres] 10,000 messages, ${smsc.submits.length} submits, split ${perConnection.join(' / ')} by connection; ` +
        `duplicates ${run.duplicateParts}; receipts applied late by the sweep: ${swept}; timing ${JSON.stringify(timing)}`,
    );
    await Promise.all(servers.map((s) => s.stop()));
  });
});
