import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createSender, fastAuthConfig, type SeededAccount, seedCustomerWithAccount } from '../../../../test/factories.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import { indexPendingText } from '../../db/sqlite-text-index.js';
import { SYSTEM_ACTOR } from '../accounts/accounts.service.js';
import { waitFor } from '../dispatch/dispatch-testing.js';
import { createDeletionsRepository } from './deletions.repository.js';
import { SYNC_DELETE_LIMIT } from './history.service.js';
import { createPrivacyRepository } from './privacy.repository.js';
import { createPrivacyKeeper, RETENTION_ACTOR, startPrivacyKeeper } from './privacy-keeper.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2024, 5, 1, 12, 0, 0);
const clock = { time: START, now: () => clock.time };

describeEachDialectWithApp(
  'privacy keeper',
  (ctx) => {
    const db = () => ctx.database.db;
    const seed = async (settings: { retentionDays?: number | null; redactAfterDays?: number | null } = {}) => {
      const seeded = await seedCustomerWithAccount(ctx.app);
      if (settings.retentionDays !== undefined || settings.redactAfterDays !== undefined)
        await ctx.app.services.accounts.update(SYSTEM_ACTOR, seeded.account.name, settings);
      return seeded;
    };
    const rowsOf = (accountId: number) =>
      db().selectFrom('outgoing').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
    const audit = async (seeded: SeededAccount) =>
      (await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${seeded.account.name}/deletions`, headers: seeded.auth })).json()
        .data as { actor: string; kind: string; count: number; filter: Record<string, unknown> | null }[];
    const search = async (seeded: SeededAccount, q: string) =>
      (
        (
          await ctx.app.inject({
            method: 'GET',
            url: `/api/v1/accounts/${seeded.account.name}/outgoing?limit=1000&q=${encodeURIComponent(q)}`,
            headers: seeded.auth,
          })
        ).json().data as { id: number }[]
      )
        .map((o) => o.id)
        .sort((a, b) => a - b);
    /** SQLite: the ids the text index itself holds for `word` (its trigrams), whatever the rows say now. */
    const indexed = async (word: string): Promise<number[]> => {
      const chars = [...word.toLowerCase()];
      const match = [...new Set(chars.slice(2).map((_, i) => chars.slice(i, i + 3).join('')))].map((g) => `"${g}"`).join(' AND ');
      const { rows } = await sql<{ id: number }>`select rowid as id from outgoing_fts where outgoing_fts match ${match}`.execute(db());
      return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    };
    const indexAll = async () => {
      if (ctx.dialect === 'sqlite')
        await db()
          .transaction()
          .execute((trx) => indexPendingText(trx, null));
    };
    /** A keeper on the app's database and clock, reading `maxBatch` rows a redaction batch. */
    const smallBatchKeeper = (maxBatch: number) =>
      createPrivacyKeeper({
        privacy: createPrivacyRepository(ctx.database),
        history: ctx.app.services.history,
        deletions: createDeletionsRepository(ctx.database),
        clock,
        maxBatch,
      });

    it('retention deletes the messages older than the limit that are not pending, with one audit entry a run', async () => {
      clock.time = START;
      const kept = await seed({ retentionDays: 30 });
      const neighbour = await seed();
      const old = START - 31 * DAY;
      const rows = (accountId: number) => [
        buildOutgoing({ account_id: accountId, created_at: old, status: 'delivered' }),
        buildOutgoing({ account_id: accountId, created_at: old + 1, status: 'failed' }),
        buildOutgoing({ account_id: accountId, created_at: old + 2, status: 'sent' }),
        buildOutgoing({ account_id: accountId, created_at: old + 3, status: 'expired' }),
        buildOutgoing({ account_id: accountId, created_at: old + 4, status: 'canceled' }),
        buildOutgoing({ account_id: accountId, created_at: old + 5, status: 'pending', deferred_until: START + DAY }),
        buildOutgoing({ account_id: accountId, created_at: START - 30 * DAY + 2000, status: 'delivered' }),
        buildOutgoing({ account_id: accountId, created_at: START - DAY, status: 'failed' }),
      ];
      const ids = await insertOutgoing(ctx.database, rows(kept.account.id));
      const neighbourIds = await insertOutgoing(ctx.database, rows(neighbour.account.id));
      const credits = async () => (await ctx.app.services.accounts.get(SYSTEM_ACTOR, kept.account.name)).credits;
      const before = await credits();

      const runs = (await ctx.app.services.privacyKeeper.runOnce())?.accounts;
      expect(runs?.find((r) => r.accountId === kept.account.id)).toEqual({ accountId: kept.account.id, deleted: 5, redacted: 0 });
      expect(runs?.some((r) => r.accountId === neighbour.account.id)).toBe(false);
      expect((await rowsOf(kept.account.id)).map((r) => r.id)).toEqual([ids[5], ids[6], ids[7]]);
      expect((await rowsOf(neighbour.account.id)).map((r) => r.id)).toEqual(neighbourIds);
      expect(await credits()).toBe(before); // the pending message stays, paid and queued as it was
      const entries = await audit(kept);
      expect(entries).toEqual([
        expect.objectContaining({
          actor: RETENTION_ACTOR,
          kind: 'filter',
          count: 5,
          filter: {
            to: new Date(START - 30 * DAY - 1000).toISOString().replace('.000Z', 'Z'),
            status: 'sent,delivered,failed,expired,canceled',
          },
        }),
      ]);
      expect(await audit(neighbour)).toEqual([]);

      // Nothing more to delete: no entry. A day later, the next message is old enough.
      await ctx.app.services.privacyKeeper.runOnce();
      expect(await audit(kept)).toHaveLength(1);
      clock.time = START + DAY;
      await ctx.app.services.privacyKeeper.runOnce();
      expect((await rowsOf(kept.account.id)).map((r) => r.id)).toEqual([ids[5], ids[7]]);
      expect((await audit(kept)).map((e) => [e.actor, e.count])).toEqual([
        [RETENTION_ACTOR, 1],
        [RETENTION_ACTOR, 5],
      ]);
      // Turned off: nothing more is deleted.
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, kept.account.name, { retentionDays: null });
      clock.time = START + 60 * DAY;
      await ctx.app.services.privacyKeeper.runOnce();
      expect((await rowsOf(kept.account.id)).map((r) => r.id)).toEqual([ids[5], ids[7]]);
    });

    it('retention of more than a few thousand messages runs as a job, with one audit entry once it ended', async () => {
      clock.time = START;
      const big = await seed({ retentionDays: 1 });
      const count = SYNC_DELETE_LIMIT + 100;
      await insertOutgoing(
        ctx.database,
        Array.from({ length: count }, (_, i) => buildOutgoing({ account_id: big.account.id, created_at: START - 2 * DAY + i })),
      );
      const recent = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: big.account.id, created_at: START - 1000 })]);
      const runs = (await ctx.app.services.privacyKeeper.runOnce())?.accounts;
      expect(runs?.find((r) => r.accountId === big.account.id)).toEqual({ accountId: big.account.id, deleted: count, redacted: 0 });
      expect((await rowsOf(big.account.id)).map((r) => r.id)).toEqual(recent);
      expect((await audit(big)).map((e) => [e.actor, e.kind, e.count])).toEqual([[RETENTION_ACTOR, 'filter', count]]);
    });

    it('a retention job left running is not started again: left to the process whose lease it is under, taken over once that ran out', async () => {
      clock.time = START;
      const left = await seed({ retentionDays: 1 });
      await insertOutgoing(
        ctx.database,
        Array.from({ length: 10 }, (_, i) => buildOutgoing({ account_id: left.account.id, created_at: START - 2 * DAY + i })),
      );
      // What another process's keeper started (the filter as the keeper writes it), under that process's lease.
      const deletions = createDeletionsRepository(ctx.database);
      const to = new Date(START - DAY - 1000).toISOString().replace('.000Z', 'Z');
      const job = await deletions.createJob({
        accountId: left.account.id,
        actor: RETENTION_ACTOR,
        filter: { to, status: 'sent,delivered,failed,expired,canceled' },
        now: START - 1000,
        lease: { owner: 'another process', until: START + 60_000 },
      });
      const jobsOf = async () =>
        (await db().selectFrom('delete_jobs').select(['id', 'status']).where('account_id', '=', left.account.id).execute()).map((j) => [
          Number(j.id),
          j.status,
        ]);
      const runFor = async () => (await ctx.app.services.privacyKeeper.runOnce())?.accounts.find((r) => r.accountId === left.account.id);

      expect(await runFor()).toEqual({ accountId: left.account.id, deleted: 0, redacted: 0 });
      expect(await jobsOf()).toEqual([[job.id, 'running']]);
      expect(await rowsOf(left.account.id)).toHaveLength(10);

      // That process died: its lease runs out, and the next run takes the job over and ends it.
      clock.time = START + 60_001;
      expect(await runFor()).toEqual({ accountId: left.account.id, deleted: 10, redacted: 0 });
      expect(await jobsOf()).toEqual([[job.id, 'done']]);
      expect(await rowsOf(left.account.id)).toEqual([]);
      expect((await audit(left)).map((e) => [e.actor, e.kind, e.count])).toEqual([[RETENTION_ACTOR, 'filter', 10]]);
    });

    it('redaction empties only the old texts that are not pending, keeps every other field, and leaves the text search', async () => {
      clock.time = START;
      const secret = await seed({ redactAfterDays: 7 });
      const plain = await seed();
      const old = START - 8 * DAY;
      const texts = (accountId: number) => [
        buildOutgoing({ account_id: accountId, created_at: old, status: 'delivered', message: 'Code secret 4711' }),
        buildOutgoing({ account_id: accountId, created_at: old + 1, status: 'failed', message: 'Code secret 4712' }),
        buildOutgoing({ account_id: accountId, created_at: old + 2, status: 'pending', message: 'Code secret 4713' }),
        buildOutgoing({ account_id: accountId, created_at: old + 3, status: 'sent', message: 'Code secret 4714' }),
        buildOutgoing({ account_id: accountId, created_at: old + 4, status: 'delivered', message: '', redacted_at: old }),
        buildOutgoing({ account_id: accountId, created_at: START - 7 * DAY + 6 * HOUR, status: 'delivered', message: 'Code secret 4715' }),
      ];
      const ids = await insertOutgoing(ctx.database, texts(secret.account.id));
      const plainIds = await insertOutgoing(ctx.database, texts(plain.account.id));
      await indexAll();
      if (ctx.dialect === 'sqlite')
        expect(await indexed('secret 471')).toEqual([...ids.slice(0, 4), ids[5], ...plainIds.slice(0, 4), plainIds[5]]);
      const before = await rowsOf(secret.account.id);
      const plainBefore = await rowsOf(plain.account.id);
      expect(await search(secret, 'secret 471')).toEqual([ids[0], ids[1], ids[2], ids[3], ids[5]]);

      clock.time = START + 1234;
      const keeper = smallBatchKeeper(2);
      const runs = (await keeper.runOnce())?.accounts;
      expect(runs?.find((r) => r.accountId === secret.account.id)).toEqual({ accountId: secret.account.id, deleted: 0, redacted: 3 });
      const after = await rowsOf(secret.account.id);
      const redactedIds = [ids[0], ids[1], ids[3]];
      expect(after).toEqual(before.map((r) => (redactedIds.includes(r.id) ? { ...r, message: '', redacted_at: START + 1234 } : r)));
      expect(await rowsOf(plain.account.id)).toEqual(plainBefore);
      // The text search finds the recent and the pending ones only, and the index holds the others no more.
      expect(await search(secret, 'secret 471')).toEqual([ids[2], ids[5]]);
      expect(await search(plain, 'secret 471')).toEqual([plainIds[0], plainIds[1], plainIds[2], plainIds[3], plainIds[5]]);
      if (ctx.dialect === 'sqlite') expect(await indexed('secret 471')).toEqual([ids[2], ids[5], ...plainIds.slice(0, 4), plainIds[5]]);
      const one = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${secret.account.name}/outgoing/${ids[0]}`,
        headers: secret.auth,
      });
      expect(one.json()).toMatchObject({ id: ids[0], message: null, status: 'delivered' });

      // Idempotent: a second run (and the service's keeper, which remembers nothing) changes nothing.
      clock.time = START + 5000;
      expect((await keeper.runOnce())?.accounts.find((r) => r.accountId === secret.account.id)?.redacted).toBe(0);
      expect((await ctx.app.services.privacyKeeper.runOnce())?.accounts.find((r) => r.accountId === secret.account.id)?.redacted).toBe(0);
      expect(await rowsOf(secret.account.id)).toEqual(after);

      // Hours later (the keeper reads from where every older text was erased, or pending): the pending one
      // was sent meanwhile, and the recent one aged.
      await db().updateTable('outgoing').set({ status: 'delivered' }).where('id', '=', ids[2]).execute();
      clock.time = START + 12 * HOUR;
      expect((await keeper.runOnce())?.accounts.find((r) => r.accountId === secret.account.id)?.redacted).toBe(2);
      expect(await search(secret, 'secret 471')).toEqual([]);
      expect((await rowsOf(secret.account.id)).map((r) => r.message)).toEqual(['', '', '', '', '', '']);
      if (ctx.dialect === 'sqlite') expect(await indexed('secret 471')).toEqual([...plainIds.slice(0, 4), plainIds[5]]);
    });

    it('forgets the text a job of an account storing none kept for sending, once none of its messages is pending', async () => {
      clock.time = START;
      const seeded = await seed();
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, seeded.account.name, { storeText: false });
      const send = async (message: string, extra: Record<string, unknown> = {}) => {
        const res = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/accounts/${seeded.account.name}/jobs`,
          headers: seeded.auth,
          payload: { sender: 'MyShop', noStopClause: true, message, receivers: ['+33612345678', '+33612345679'], ...extra },
        });
        expect(res.statusCode, res.body).toBe(200);
        const { ids } = res.json() as { ids: number[] };
        const { job_id } = await db().selectFrom('outgoing').select('job_id').where('id', '=', ids[0]).executeTakeFirstOrThrow();
        return { ids, jobId: Number(job_id) };
      };
      const textOf = async (jobId: number) =>
        (
          JSON.parse((await db().selectFrom('jobs').select('options').where('id', '=', jobId).executeTakeFirstOrThrow()).options) as {
            text?: string;
          }
        ).text;
      // Sent: both messages left the queue (as the dispatcher records them).
      const sent = await send('Sent secret');
      await db().updateTable('outgoing').set({ status: 'sent', sent_at: START }).where('id', 'in', sent.ids).execute();
      await db().deleteFrom('dispatch_queue').where('outgoing_id', 'in', sent.ids).execute();
      // One of its two messages still pending: the dispatcher still needs the text.
      const half = await send('Half secret');
      await db().updateTable('outgoing').set({ status: 'sent', sent_at: START }).where('id', '=', half.ids[0]).execute();
      await db().deleteFrom('dispatch_queue').where('outgoing_id', '=', half.ids[0]).execute();
      const deferred = await send('Deferred secret', { differedPeriod: 600 });
      expect([await textOf(sent.jobId), await textOf(half.jobId), await textOf(deferred.jobId)]).toEqual([
        'Sent secret',
        'Half secret',
        'Deferred secret',
      ]);

      // Within the margin for transactions still open: nothing is forgotten yet.
      clock.time = START + 60_000;
      const keeper = smallBatchKeeper(2);
      await keeper.runOnce();
      expect(await textOf(sent.jobId)).toBe('Sent secret');

      clock.time = START + HOUR;
      const run = await keeper.runOnce();
      expect([await textOf(sent.jobId), await textOf(half.jobId), await textOf(deferred.jobId)]).toEqual([
        undefined,
        'Half secret',
        'Deferred secret',
      ]);
      expect(run?.jobTextsForgotten).toBe(1);
      // The rest of the options stay.
      const { options } = await db().selectFrom('jobs').select('options').where('id', '=', sent.jobId).executeTakeFirstOrThrow();
      expect(JSON.parse(options)).toMatchObject({ noStopClause: true });

      // Once the last message left the queue, the next run forgets that text too.
      await db().updateTable('outgoing').set({ status: 'sent', sent_at: START }).where('id', '=', half.ids[1]).execute();
      await db().deleteFrom('dispatch_queue').where('outgoing_id', '=', half.ids[1]).execute();
      clock.time = START + 2 * HOUR;
      await keeper.runOnce();
      expect([await textOf(half.jobId), await textOf(deferred.jobId)]).toEqual([undefined, 'Deferred secret']);
    });

    it('relais serve runs it on a timer, and stops it on close', async () => {
      clock.time = START;
      const timed = await seed({ redactAfterDays: 1 });
      const [id] = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: timed.account.id, created_at: START - 2 * DAY })]);
      const started = startPrivacyKeeper(smallBatchKeeper(1000), { firstRunMs: 0, intervalMs: 60_000 });
      try {
        await waitFor(
          async () => (await db().selectFrom('outgoing').select('redacted_at').where('id', '=', id).executeTakeFirstOrThrow()).redacted_at,
          'the timed redaction',
        );
      } finally {
        await started.close();
      }
    });

    it('one keeper at a time over one database (PostgreSQL: an advisory lock)', async () => {
      const privacy = createPrivacyRepository(ctx.database);
      const inner = await privacy.exclusive(() => privacy.exclusive(async () => 'inner'));
      expect(inner).toEqual({ ran: true, result: ctx.dialect === 'postgres' ? { ran: false } : { ran: true, result: 'inner' } });
      // Released afterwards.
      expect(await privacy.exclusive(async () => 1)).toEqual({ ran: true, result: 1 });
    });
  },
  { config: fastAuthConfig, clock },
);
