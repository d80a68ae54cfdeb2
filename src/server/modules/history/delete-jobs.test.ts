import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { insertAccount } from '../../../../test/account-factory.js';
import { describeEachDialect, type TestDatabase } from '../../../../test/database.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import { waitUntil } from '../../../../test/relais-process.js';
import { indexPendingText } from '../../db/sqlite-text-index.js';
import type { AccountAccess } from '../auth/principal.js';
import { createDeletionsRepository } from './deletions.repository.js';
import { createHistoryService, SYNC_DELETE_LIMIT } from './history.service.js';
import { createOutgoingRepository } from './outgoing.repository.js';

const NOW = Date.UTC(2024, 5, 1);

/** An account (with `credits`) and an SMS user with a quota, as rows. */
async function createAccountWithUser(database: TestDatabase, name: string, credits: number, quota: number) {
  const { customerId, accountId } = await insertAccount(database, name, { credits, createdAt: NOW });
  const user = await database.db
    .insertInto('sms_users')
    .values({ account_id: accountId, login: 'apiuser', password_hash: 'x', ip_restrictions: '[]', quota, created_at: NOW })
    .returning('id')
    .executeTakeFirstOrThrow();
  const access: AccountAccess = {
    account: { id: accountId, name, timezone: 'Europe/Paris', ownerId: customerId, credits, status: 'enable', defaultCountry: 'FR' },
    userLogin: null,
    userId: null,
    actor: `customer:${name}@example.com`,
  };
  return { accountId, userId: user.id, access };
}

async function balances(database: TestDatabase, accountId: number, userId: number) {
  const account = await database.db.selectFrom('accounts').select('credits').where('id', '=', accountId).executeTakeFirstOrThrow();
  const user = await database.db.selectFrom('sms_users').select('quota').where('id', '=', userId).executeTakeFirstOrThrow();
  return { credits: Number(account.credits), quota: Number(user.quota) };
}

/** Messages of the account containing `word`: through the text search index, and by reading every text. */
async function searchCounts(database: TestDatabase, accountId: number, word: string): Promise<{ index: number; scan: number }> {
  const { db } = database;
  const scan = await sql<{
    n: number;
  }>`select count(*) as n from outgoing where account_id = ${accountId} and lower(message) like ${`%${word.toLowerCase()}%`}`.execute(db);
  if (database.dialect === 'postgres') {
    const index = await sql<{
      n: number;
    }>`select count(*) as n from outgoing where account_id = ${accountId} and message ilike ${`%${word}%`}`.execute(db);
    return { index: Number(index.rows[0].n), scan: Number(scan.rows[0].n) };
  }
  const chars = [...word.toLowerCase()];
  const match = [...new Set(chars.slice(2).map((_, i) => chars.slice(i, i + 3).join('')))].map((g) => `"${g}"`).join(' AND ');
  const index = await sql<{ n: number }>`select count(*) as n from outgoing_fts join outgoing on outgoing.id = outgoing_fts.rowid
    where outgoing_fts match ${match} and outgoing.account_id = ${accountId} and lower(outgoing.message) like ${`%${word.toLowerCase()}%`}`.execute(
    db,
  );
  return { index: Number(index.rows[0].n), scan: Number(scan.rows[0].n) };
}

describeEachDialect('delete jobs', (ctx) => {
  const services = (budget?: number) =>
    createHistoryService({
      outgoing: createOutgoingRepository(ctx.database),
      deletions: createDeletionsRepository(ctx.database),
      clock: { now: () => NOW },
      ...(budget === undefined ? {} : { batchBudgetMs: budget }),
    });
  const leaseOf = async (id: number) => {
    const row = await ctx.database.db
      .selectFrom('delete_jobs')
      .select(['lease_owner', 'lease_until'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return { lease_owner: row.lease_owner, lease_until: Number(row.lease_until) };
  };

  it('deletes exactly the matches in batches, refunds the pending ones, audits the count and keeps the text index in step', async () => {
    const { accountId, userId, access } = await createAccountWithUser(ctx.database, 'sms-dj00001-1', 100, 50);
    // 6,000 matches (1,000 pending, half of them an SMS user's), interleaved with 2,000 rows that stay.
    const rows = Array.from({ length: 8_000 }, (_, i) => {
      const matches = i % 4 !== 3;
      const pending = matches && i % 6 === 0;
      return buildOutgoing({
        account_id: accountId,
        channel: matches ? 'api' : 'smpp',
        status: pending ? 'pending' : 'delivered',
        credits: pending ? 2 : 1,
        user_id: pending && i % 12 === 0 ? userId : null,
        user_login: pending && i % 12 === 0 ? 'apiuser' : '',
        message: i % 10 === 0 ? `Votre colis numéro ${i} arrive` : `Rappel ${i}`,
      });
    });
    await insertOutgoing(ctx.database, rows);
    const matching = rows.filter((r) => r.channel === 'api');
    const pending = matching.filter((r) => r.status === 'pending');
    const pendingOfUser = pending.filter((r) => r.user_id === userId);
    expect(matching.length).toBeGreaterThan(SYNC_DELETE_LIMIT);
    const keptColis = rows.filter((r) => r.channel === 'smpp' && r.message.includes('colis')).length;

    const history = services(1);
    const result = await history.deleteByFilter(access, { channel: 'api' });
    if (!('job' in result)) throw new Error('expected a background job');
    await history.waitForDeleteJob(result.job.id);

    const job = await history.getDeleteJob(access, result.job.id);
    expect(job).toMatchObject({ status: 'done', deleted: matching.length, total: matching.length });
    expect(await history.count(access, {})).toBe(rows.length - matching.length);
    expect(await history.count(access, { channel: 'api' })).toBe(0);
    expect(await balances(ctx.database, accountId, userId)).toEqual({
      credits: 100 + pending.reduce((sum, r) => sum + Number(r.credits), 0),
      quota: 50 + pendingOfUser.reduce((sum, r) => sum + Number(r.credits), 0),
    });
    const [audit] = await history.listAudit(access);
    expect(audit).toMatchObject({ kind: 'filter', count: matching.length, deleteJobId: job.id });
    // The filter as asked for, not the job's internal scope and id bound.
    expect(audit.filter).toEqual({ channel: 'api' });
    expect(await searchCounts(ctx.database, accountId, 'colis')).toEqual({ index: keptColis, scan: keptColis });
    if (ctx.dialect === 'sqlite') await sql`insert into outgoing_fts(outgoing_fts) values('integrity-check')`.execute(ctx.database.db);
  });

  it('counts a batch exactly: ids already gone, of another account or of another SMS user are not counted', async () => {
    const a = await createAccountWithUser(ctx.database, 'sms-dj00002-1', 0, 0);
    const b = await createAccountWithUser(ctx.database, 'sms-dj00003-1', 0, 0);
    const mine = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: a.accountId, user_login: 'apiuser' }),
      buildOutgoing({ account_id: a.accountId, user_login: 'apiuser', status: 'pending', credits: 3, user_id: a.userId }),
      buildOutgoing({ account_id: a.accountId, user_login: 'other' }),
    ]);
    const theirs = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: b.accountId })]);
    const deletions = createDeletionsRepository(ctx.database);
    const job = await deletions.createJob({ accountId: a.accountId, actor: 'test', filter: {}, now: NOW });
    await ctx.database.db.deleteFrom('outgoing').where('id', '=', mine[0]).execute();
    const result = await deletions.deleteJobBatch({
      jobId: job.id,
      scope: { accountId: a.accountId, userLogin: 'apiuser' },
      ids: [...mine, ...theirs, 999_999_999],
      now: NOW,
    });
    expect(result).toEqual({ deleted: 1, refunded: 3, found: 5 });
    expect(await deletions.findJob(a.accountId, job.id)).toMatchObject({ deleted: 1, status: 'running' });
    expect(await balances(ctx.database, a.accountId, a.userId)).toEqual({ credits: 3, quota: 3 });
    const left = await ctx.database.db
      .selectFrom('outgoing')
      .select('id')
      .where('id', 'in', [...mine, ...theirs])
      .orderBy('id')
      .execute();
    expect(left.map((r) => r.id)).toEqual([mine[2], theirs[0]]);
    await deletions.updateJob(job.id, { status: 'done', now: NOW });
  });

  it("reads a batch's ids with the history's filter in the batch itself (text search and SMS user scope included), at most the limit", async () => {
    const a = await createAccountWithUser(ctx.database, 'sms-dj00006-1', 0, 0);
    const b = await createAccountWithUser(ctx.database, 'sms-dj00007-1', 0, 0);
    const rows = await insertOutgoing(ctx.database, [
      ...Array.from({ length: 5 }, (_, i) =>
        buildOutgoing({ account_id: a.accountId, user_login: 'apiuser', message: `Votre Colis n°${i}` }),
      ),
      buildOutgoing({ account_id: a.accountId, user_login: 'other', message: 'Votre colis arrive' }),
      buildOutgoing({ account_id: a.accountId, user_login: 'apiuser', message: 'Rendez-vous demain' }),
      buildOutgoing({ account_id: b.accountId, user_login: 'apiuser', message: 'Votre colis aussi' }),
    ]);
    // SQLite: found through the text index.
    if (ctx.dialect === 'sqlite') await ctx.database.db.transaction().execute((trx) => indexPendingText(trx, null));
    const outgoing = createOutgoingRepository(ctx.database);
    const deletions = createDeletionsRepository(ctx.database);
    const scope = { accountId: a.accountId, userLogin: 'apiuser' };
    const filter = { q: 'COLIS' };
    const job = await deletions.createJob({ accountId: a.accountId, actor: 'test', filter, now: NOW });
    const batch = (limit: number) =>
      deletions.deleteJobBatch({ jobId: job.id, scope, select: outgoing.findIdsQuery({ scope, filter, limit }), now: NOW });
    try {
      expect(await batch(3)).toEqual({ deleted: 3, refunded: 0, found: 3 });
      expect(await batch(3)).toEqual({ deleted: 2, refunded: 0, found: 2 });
      expect(await batch(3)).toEqual({ deleted: 0, refunded: 0, found: 0 });
    } finally {
      await deletions.close();
    }
    expect(await deletions.findJob(a.accountId, job.id)).toMatchObject({ deleted: 5 });
    const left = await ctx.database.db.selectFrom('outgoing').select('id').where('id', 'in', rows).orderBy('id').execute();
    expect(left.map((r) => r.id)).toEqual(rows.slice(5));
    expect(await searchCounts(ctx.database, a.accountId, 'colis')).toEqual({ index: 1, scan: 1 });
    await deletions.updateJob(job.id, { status: 'done', now: NOW });
  });

  it('cancels deleted pending messages (queue entry gone, credits back) except one a dispatcher holds right now, by ids and by job', async () => {
    const a = await createAccountWithUser(ctx.database, 'sms-dj00005-1', 0, 10);
    const pending = (n: number) =>
      Array.from({ length: n }, () =>
        buildOutgoing({ account_id: a.accountId, user_login: 'apiuser', status: 'pending', credits: 2, user_id: a.userId }),
      );
    const byIds = await insertOutgoing(ctx.database, pending(3), { queued: false });
    const byJob = await insertOutgoing(ctx.database, pending(3), { queued: false });
    // Queued: the first of each group free, the second held by a running lease, the third's lease ran out.
    const entries = [byIds, byJob].flatMap((ids) =>
      ids.map((id, i) => ({
        outgoing_id: id,
        account_id: a.accountId,
        priority: 1,
        due_at: NOW - 1_000,
        attempts: 0,
        lease_owner: i === 0 ? null : 'dispatcher-1',
        lease_until: i === 0 ? 0 : i === 1 ? NOW + 30_000 : NOW - 1,
      })),
    );
    await ctx.database.db.insertInto('dispatch_queue').values(entries).execute();
    const queued = async () =>
      (await ctx.database.db.selectFrom('dispatch_queue').select('outgoing_id').where('account_id', '=', a.accountId).execute()).map(
        (r) => r.outgoing_id,
      );

    expect(await services().deleteIds(a.access, byIds)).toEqual({ deleted: 3, refundedCredits: 4 });
    expect(await queued()).toEqual([byIds[1], ...byJob]);

    const deletions = createDeletionsRepository(ctx.database);
    const job = await deletions.createJob({ accountId: a.accountId, actor: 'test', filter: {}, now: NOW });
    expect(
      await deletions.deleteJobBatch({ jobId: job.id, scope: { accountId: a.accountId, userLogin: null }, ids: byJob, now: NOW }),
    ).toEqual({
      deleted: 3,
      refunded: 4,
      found: 3,
    });
    await deletions.updateJob(job.id, { status: 'done', now: NOW });
    expect((await queued()).sort((x, y) => x - y)).toEqual([byIds[1], byJob[1]]);
    expect(await balances(ctx.database, a.accountId, a.userId)).toEqual({ credits: 8, quota: 18 });
  });

  it('stops between batches when closed, with its progress exact, and a restart finishes it with one exact audit entry', async () => {
    const { accountId, access } = await createAccountWithUser(ctx.database, 'sms-dj00004-1', 0, 0);
    const total = SYNC_DELETE_LIMIT + 2_000;
    await insertOutgoing(
      ctx.database,
      Array.from({ length: total + 10 }, (_, i) => buildOutgoing({ account_id: accountId, status: i < total ? 'failed' : 'delivered' })),
    );
    const first = services(1);
    const result = await first.deleteByFilter(access, { status: 'failed' });
    if (!('job' in result)) throw new Error('expected a background job');
    await first.close();
    const stopped = await first.getDeleteJob(access, result.job.id);
    expect(stopped.status).toBe('running');
    // Given back: the next start, or another process, takes it at once.
    expect(await leaseOf(result.job.id)).toEqual({ lease_owner: null, lease_until: 0 });
    expect(stopped.deleted).toBe(total - (await first.count(access, { status: 'failed' })));
    expect(await first.listAudit(access)).toEqual([]);

    const second = services();
    expect(await second.resumeDeleteJobs()).toBe(1);
    await second.waitForDeleteJob(result.job.id);
    expect(await second.getDeleteJob(access, result.job.id)).toMatchObject({ status: 'done', deleted: total, total });
    expect(await second.count(access, {})).toBe(10);
    const audit = await second.listAudit(access);
    expect(audit.map((e) => [e.kind, e.count, e.deleteJobId])).toEqual([['filter', total, result.job.id]]);
  });

  it("runs a job under one owner's lease: claims take only jobs nobody runs, and a batch or an end by an owner that lost it writes nothing", async () => {
    const a = await createAccountWithUser(ctx.database, 'sms-dj00008-1', 0, 0);
    const ids = await insertOutgoing(
      ctx.database,
      Array.from({ length: 4 }, () => buildOutgoing({ account_id: a.accountId })),
    );
    const scope = { accountId: a.accountId, userLogin: null };
    const deletions = createDeletionsRepository(ctx.database);
    const audit = { accountId: a.accountId, actor: 'test', filter: {} };
    const claim = (owner: string, now: number, jobId: number, anyLease?: boolean) =>
      deletions.claimJobs({ lease: { owner, until: now + 1_000 }, now, jobId, anyLease });
    const batch = (owner: string, jobId: number, these: number[], until: number) =>
      deletions.deleteJobBatch({ jobId, scope, ids: these, now: NOW, lease: { owner, until } });
    try {
      // Process A runs the job until NOW + 1 s; its batch renews that to NOW + 2 s.
      const job = await deletions.createJob({
        accountId: a.accountId,
        actor: 'test',
        filter: {},
        now: NOW,
        lease: { owner: 'A', until: NOW + 1_000 },
      });
      expect(await claim('B', NOW + 1_000, job.id)).toEqual([]);
      expect(await batch('A', job.id, ids.slice(0, 1), NOW + 2_000)).toEqual({ deleted: 1, refunded: 0, found: 1 });
      expect(await claim('B', NOW + 1_500, job.id)).toEqual([]);
      // A stopped renewing it (its process died): B takes it over, with what A deleted.
      const [taken] = await claim('B', NOW + 2_001, job.id);
      expect(taken).toMatchObject({ id: job.id, status: 'running', deleted: 1, timeZone: 'Europe/Paris' });
      expect(await leaseOf(job.id)).toEqual({ lease_owner: 'B', lease_until: NOW + 3_001 });
      // A (were it only slow) deletes nothing more and cannot end it.
      expect(await batch('A', job.id, ids.slice(1, 2), NOW + 4_000)).toEqual({ deleted: 0, refunded: 0, found: 0, lost: true });
      expect(await deletions.finishJob({ id: job.id, owner: 'A', now: NOW, status: 'done', audit })).toBeNull();
      expect(await deletions.listAudit(a.accountId, 10)).toEqual([]);
      expect(await batch('B', job.id, ids.slice(1), NOW + 4_000)).toEqual({ deleted: 3, refunded: 0, found: 3 });
      // Ended once, by its owner: the total and the audit entry are what the job deleted, A's batch included.
      expect(await deletions.finishJob({ id: job.id, owner: 'B', now: NOW, status: 'done', audit })).toEqual({ deleted: 4 });
      expect(await deletions.finishJob({ id: job.id, owner: 'B', now: NOW, status: 'done', audit })).toBeNull();
      expect(await deletions.findJob(a.accountId, job.id)).toMatchObject({ status: 'done', deleted: 4, total: 4 });
      expect((await deletions.listAudit(a.accountId, 10)).map((e) => [e.kind, e.count, e.deleteJobId])).toEqual([['filter', 4, job.id]]);
      expect(await leaseOf(job.id)).toEqual({ lease_owner: null, lease_until: 0 });

      // A job nobody holds (given back by a graceful stop) is taken at once; `anyLease` takes a held one too.
      const free = await deletions.createJob({ accountId: a.accountId, actor: 'test', filter: {}, now: NOW });
      const held = await deletions.createJob({
        accountId: a.accountId,
        actor: 'test',
        filter: {},
        now: NOW,
        lease: { owner: 'A', until: NOW + 60_000 },
      });
      expect((await claim('B', NOW, free.id)).map((j) => j.id)).toEqual([free.id]);
      expect(await claim('C', NOW, held.id)).toEqual([]);
      expect((await claim('C', NOW, held.id, true)).map((j) => j.id)).toEqual([held.id]);
      for (const j of [free, held]) await deletions.updateJob(j.id, { status: 'done', now: NOW });
      expect(await claim('C', NOW + 120_000, held.id, true)).toEqual([]);
    } finally {
      await deletions.close();
    }
  });

  it('takes over, once, a job whose process died (its lease ran out), and leaves alone one another process runs', async () => {
    const { accountId, access } = await createAccountWithUser(ctx.database, 'sms-dj00009-1', 0, 0);
    await insertOutgoing(
      ctx.database,
      Array.from({ length: 30 }, (_, i) => buildOutgoing({ account_id: accountId, status: i < 20 ? 'failed' : 'delivered' })),
    );
    const clock = { time: NOW, now: () => clock.time };
    const deletions = createDeletionsRepository(ctx.database);
    const history = createHistoryService({ outgoing: createOutgoingRepository(ctx.database), deletions, clock });
    let other: number | undefined;
    try {
      // This service runs (as `relais serve` does) with a lease of 300 ms: it looks for jobs to take every 100 ms.
      expect(await history.takeOverDeleteJobs({ leaseMs: 300 })).toBe(0);
      // Left by a process that died while its lease still ran, and one another process runs (it renews its lease).
      const dead = await deletions.createJob({
        accountId,
        actor: access.actor,
        filter: { status: 'failed' },
        now: NOW,
        lease: { owner: 'died', until: NOW + 1_000 },
      });
      other = (
        await deletions.createJob({
          accountId,
          actor: access.actor,
          filter: { status: 'delivered' },
          now: NOW,
          lease: { owner: 'alive', until: NOW + 60_000 },
        })
      ).id;
      expect(await history.takeOverDeleteJob(dead.id)).toBe(false);
      // The dead process's lease runs out.
      clock.time = NOW + 1_001;
      const ended = await waitUntil(
        async () => {
          const job = await history.getDeleteJob(access, dead.id);
          return job.status !== 'running' && job;
        },
        'the job to be taken over and ended',
        15_000,
        20,
      );
      expect(ended).toMatchObject({ status: 'done', deleted: 20, total: 20 });
      expect((await history.listAudit(access)).map((e) => [e.count, e.deleteJobId])).toEqual([[20, dead.id]]);
      expect(await history.getDeleteJob(access, other)).toMatchObject({ status: 'running', deleted: 0 });
      expect(await leaseOf(other)).toEqual({ lease_owner: 'alive', lease_until: NOW + 60_000 });
      expect(await history.count(access, {})).toBe(10);
    } finally {
      await history.close();
      if (other !== undefined) await deletions.updateJob(other, { status: 'done', now: NOW });
    }
  });

  it('ends as failed, with its audit entry, a job left running whose filter no longer reads, and resumes the others', async () => {
    const { accountId, access } = await createAccountWithUser(ctx.database, 'sms-dj00010-1', 0, 0);
    await insertOutgoing(
      ctx.database,
      Array.from({ length: 5 }, () => buildOutgoing({ account_id: accountId, status: 'failed' })),
    );
    const deletions = createDeletionsRepository(ctx.database);
    const broken = await deletions.createJob({ accountId, actor: access.actor, filter: { status: 'rejected' }, now: NOW });
    const fine = await deletions.createJob({ accountId, actor: access.actor, filter: { status: 'failed' }, now: NOW });
    const history = createHistoryService({ outgoing: createOutgoingRepository(ctx.database), deletions, clock: { now: () => NOW } });
    try {
      expect(await history.resumeDeleteJobs()).toBe(2);
      await history.waitForDeleteJob(broken.id);
      await history.waitForDeleteJob(fine.id);
      expect(await history.getDeleteJob(access, broken.id)).toMatchObject({ status: 'failed', error: expect.stringContaining('rejected') });
      expect(await history.getDeleteJob(access, fine.id)).toMatchObject({ status: 'done', deleted: 5, total: 5 });
      const audit = (await history.listAudit(access)).map((e) => [e.deleteJobId, e.count]).sort((x, y) => Number(x[0]) - Number(y[0]));
      expect(audit).toEqual([
        [broken.id, 0],
        [fine.id, 5],
      ]);
    } finally {
      await history.close();
    }
  });

  it("at start, resumes a killed process's job at once on SQLite (one process serves the file), on PostgreSQL once its lease ran out", async () => {
    const { accountId, access } = await createAccountWithUser(ctx.database, 'sms-dj00011-1', 0, 0);
    await insertOutgoing(
      ctx.database,
      Array.from({ length: 5 }, () => buildOutgoing({ account_id: accountId, status: 'failed' })),
    );
    const deletions = createDeletionsRepository(ctx.database);
    // Left by `kill -9` a moment ago: its lease still runs.
    const job = await deletions.createJob({
      accountId,
      actor: access.actor,
      filter: { status: 'failed' },
      now: NOW,
      lease: { owner: 'killed', until: NOW + 60_000 },
    });
    const clock = { time: NOW, now: () => clock.time };
    const history = createHistoryService({ outgoing: createOutgoingRepository(ctx.database), deletions, clock });
    try {
      if (ctx.dialect === 'sqlite') {
        expect(await history.resumeDeleteJobs()).toBe(1);
      } else {
        expect(await history.resumeDeleteJobs()).toBe(0);
        expect(await history.getDeleteJob(access, job.id)).toMatchObject({ status: 'running', deleted: 0 });
        clock.time = NOW + 60_001;
        expect(await history.takeOverDeleteJob(job.id)).toBe(true);
      }
      await history.waitForDeleteJob(job.id);
      expect(await history.getDeleteJob(access, job.id)).toMatchObject({ status: 'done', deleted: 5, total: 5 });
      expect((await history.listAudit(access)).map((e) => [e.deleteJobId, e.count])).toEqual([[job.id, 5]]);
    } finally {
      await history.close();
    }
  });
});
