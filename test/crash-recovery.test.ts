import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialect } from '../src/server/db/database.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from './database.js';
import {
  killAllRelaisProcesses,
  type ReceiptPump,
  type RelaisProcess,
  startReceiptPump,
  startRelaisProcess,
  waitUntil,
} from './relais-process.js';
import {
  inspectRun,
  type JobAnswer,
  type PlannedJob,
  planJobs,
  postJob,
  type SendingAccount,
  seedSendingAccount,
  statusCounts,
} from './send-run.js';
import { startTestSmsc, type TestSmsc } from './smsc.js';

// Issue 3: a server killed with SIGKILL in the middle of a 5,000-message run and restarted on the
// same database. Every message answered with an id is in the history and reaches the SMSC; a
// message reaches it twice only if it was in the SMPP window when the process died; none is
// debited twice, none is sent without a debit.

/** submit_sm the carrier keeps unanswered, at most: what a killed process may leave half-done at the SMSC. */
const WINDOW = 10;
const CREDITS = 1_000_000;
/** Concurrent HTTP clients. */
const CLIENTS = 6;
/** Before the kill, acceptance stays at most this many messages ahead of the SMSC, so both are in flight when it comes. */
const LEAD = 1_000;
/** The kill comes once the SMSC has received this many submits. */
const KILL_AFTER_SUBMITS = 1_500;

for (const dialect of DIALECTS) {
  describe(`kill -9 in the middle of a 5,000-message run [${dialect}]`, () => {
    let database: TestDatabase;
    let smsc: TestSmsc;
    let pump: ReceiptPump;
    let account: SendingAccount;

    beforeAll(async () => {
      database = await createTestDatabase(dialect as Dialect);
      account = await seedSendingAccount(database, CREDITS);
      // Answers a little late, like a real SMSC: the kill finds submits unanswered as well as answered and not yet recorded.
      smsc = await startTestSmsc({ behaviour: { responseDelayMs: 3 } });
      pump = startReceiptPump(smsc);
    });

    afterAll(async () => {
      await killAllRelaisProcesses();
      pump?.stop();
      await smsc?.close();
      await database?.close();
    });

    it('loses nothing, sends again only what was in the window, debits once', { timeout: 420_000 }, async () => {
      // 45 jobs of 100 receivers and 500 of one (every other one in two parts): 5,000 messages.
      const plan = planJobs({ bulkJobs: 45, bulkSize: 100, singles: 500 });
      expect(plan.reduce((a, j) => a + j.receivers.length, 0)).toBe(5_000);
      const carrier = smsc.url(`window=${WINDOW}&tps=0&enquire=0&reconnect_min=0.05&reconnect_max=0.5&timeout=10`);
      // Claims left by the killed process return after 3 s instead of 30 (RELAIS_DISPATCH_LEASE_MS).
      const start = () => startRelaisProcess({ databaseUrl: database.url, carrier, env: { RELAIS_DISPATCH_LEASE_MS: '3000' } });

      let server: RelaisProcess = await start();
      let killed = false;
      let victim: RelaisProcess | null = null;
      let restarted: () => void = () => {};
      let up: Promise<void> = Promise.resolve();
      const answered = new Map<number, JobAnswer>();
      /** Jobs whose request was cut by the kill: committed or not, nobody knows from the client side. */
      const cut: PlannedJob[] = [];
      let answeredMessages = 0;
      let requestsInFlight = 0;
      let next = 0;

      async function client(): Promise<void> {
        while (next < plan.length) {
          const job = plan[next++];
          if (!killed) await waitUntil(() => killed || answeredMessages - smsc.submits.length < LEAD, 'the SMSC to catch up', 120_000, 5);
          await up;
          const target = server;
          requestsInFlight++;
          try {
            const answer = await postJob(target.baseUrl, account, job);
            answered.set(job.index, answer);
            answeredMessages += answer.ids.length;
          } catch (error) {
            // Only the killed server may fail a request, and only by dropping the connection.
            if (target !== victim || !(error instanceof TypeError)) throw error;
            cut.push(job);
          } finally {
            requestsInFlight--;
          }
        }
      }

      async function killAndRestart() {
        let firstSubmitAt = 0;
        await waitUntil(
          () => {
            if (!firstSubmitAt && smsc.submits.length > 0) firstSubmitAt = Date.now();
            return smsc.submits.length >= KILL_AFTER_SUBMITS && requestsInFlight >= 2;
          },
          'dispatch and acceptance both in flight',
          180_000,
          2,
        );
        up = new Promise((resolve) => {
          restarted = resolve;
        });
        killed = true;
        const atKill = {
          submits: smsc.submits.length,
          unanswered: smsc.stats.inFlight,
          answered: answeredMessages,
          requestsInFlight,
          rate: Math.round((smsc.submits.length / Math.max(1, Date.now() - firstSubmitAt)) * 1000),
        };
        victim = server;
        await victim.kill();
        server = await start();
        restarted();
        return atKill;
      }

      const startedAt = Date.now();
      const clients = Promise.all(Array.from({ length: CLIENTS }, () => client()));
      const atKill = await Promise.race([
        killAndRestart(),
        clients.then(() => {
          throw new Error('every job was answered before the kill');
        }),
      ]);
      await clients;
      expect(answered.size + cut.length).toBe(plan.length);
      expect(atKill.answered).toBeLessThan(5_000);

      const timing: Record<string, number> = { clientsDone: Date.now() - startedAt };
      await waitUntil(
        async () => {
          const counts = await statusCounts(database, account.id);
          return !counts.pending;
        },
        'every accepted message sent',
        300_000,
        250,
      );
      timing.sent = Date.now() - startedAt;
      // Everything accepted ends delivered: the dead process's leases run out (30 s), its claims are sent again.
      await waitUntil(
        async () => {
          const counts = await statusCounts(database, account.id);
          const total = Object.values(counts).reduce((a, b) => a + b, 0);
          return total > 0 && counts.delivered === total && pump.waiting === 0;
        },
        'every accepted message delivered',
        300_000,
        250,
      );

      timing.delivered = Date.now() - startedAt;
      const run = await inspectRun(database, account, smsc);
      const ids = new Set(run.messages.map((m) => m.id));
      const answeredIds = [...answered.values()].flatMap((a) => a.ids);

      // Every id answered is in the history (the database, and the API of the restarted server).
      expect(answeredIds.filter((id) => !ids.has(id))).toEqual([]);
      expect(new Set(answeredIds).size).toBe(answeredIds.length);
      const res = await fetch(`${server.baseUrl}/api/v1/accounts/${account.name}/outgoing/count`, {
        headers: { authorization: `Bearer ${account.token}` },
      });
      expect(await res.json()).toEqual({ total: run.messages.length });

      // A job cut by the kill is all in the history or not at all; nothing else is.
      const byReceiver = new Map(run.messages.map((m) => [m.receiver, m]));
      for (const job of cut) {
        const present = job.receivers.filter((r) => byReceiver.has(r)).length;
        expect([0, job.receivers.length]).toContain(present);
      }
      const plannedReceivers = new Set(plan.flatMap((j) => j.receivers));
      expect(run.messages.filter((m) => !plannedReceivers.has(m.receiver))).toEqual([]);
      const answeredJobs = [...answered.values()];
      for (const a of answeredJobs) expect(run.jobs.find((j) => j.id === a.jobId)?.credits).toBe(a.totalCreditsRemoved);

      // Debited exactly once per accepted message, and no message without its debit.
      expect(run.badJobs).toEqual([]);
      expect(run.jobsDebited).toBe(run.debited);
      expect(run.credits).toBe(CREDITS - run.debited);

      // Every accepted message reached the SMSC; twice only within the window; nothing else reached it.
      expect(run.missing).toEqual([]);
      expect(run.unexpected).toEqual([]);
      console.info(
        `[crash-recovery ${dialect}] ${run.messages.length} messages accepted (${answeredIds.length} answered, ${cut.length} requests cut by the kill); ` +
          `killed after ${atKill.submits} submits (${atKill.rate}/s) with ${atKill.unanswered} unanswered at the SMSC and ${atKill.requestsInFlight} requests in flight; ` +
          `sent twice: ${run.duplicateParts} parts of ${run.duplicatedMessages} messages (window ${WINDOW}); ` +
          `carrier ids never recorded: ${run.unrecordedIds.length}; timing ${JSON.stringify(timing)}`,
      );
      expect(run.duplicateParts).toBeLessThanOrEqual(WINDOW);

      // The queue is empty, every part is recorded once with its receipt; the dead process's unrecorded ids are parked receipts.
      expect(run.queue).toBe(0);
      expect(run.badBookkeeping.map((m) => m.id)).toEqual([]);
      expect(run.unknownIds).toEqual([]);
      expect(run.unrecordedIds.length).toBeLessThanOrEqual(run.duplicateParts);

      // The restarted process never lost a lease it held, nor failed to record anything.
      expect(server.warnings().filter((w) => w.level >= 50 || /no longer held/.test(w.msg))).toEqual([]);

      if (dialect === 'sqlite') {
        // SQLite's text index, written in batches by the server: after the kill, the restarted server indexed
        // every row, each once (FTS5's own check, and as many index entries as history rows).
        const last = async () =>
          (
            await sql<{
              mark: number;
              top: number;
            }>`select (select indexed_to from outgoing_fts_mark) as mark, (select max(id) from outgoing) as top`.execute(database.db)
          ).rows[0];
        await waitUntil(async () => Number((await last()).mark) === Number((await last()).top), 'every row indexed', 60_000, 50);
        await sql`insert into outgoing_fts(outgoing_fts) values('integrity-check')`.execute(database.db);
        const counts = await sql<{
          fts: number;
          rows: number;
        }>`select (select count(*) from outgoing_fts) as fts, (select count(*) from outgoing) as rows`.execute(database.db);
        expect(Number(counts.rows[0].fts)).toBe(Number(counts.rows[0].rows));
      }
      // A text search through the restarted server finds every message of the run (both texts hold the words).
      const search = await fetch(
        `${server.baseUrl}/api/v1/accounts/${account.name}/outgoing/count?q=${encodeURIComponent('failure test')}`,
        {
          headers: { authorization: `Bearer ${account.token}` },
        },
      );
      expect(await search.json()).toEqual({ total: run.messages.length });
      await server.stop();
    });
  });
}
