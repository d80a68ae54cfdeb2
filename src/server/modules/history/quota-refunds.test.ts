import { expect, it } from 'vitest';
import { insertAccount } from '../../../../test/account-factory.js';
import { describeEachDialect } from '../../../../test/database.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import type { Database } from '../../db/database.js';
import { createSmsUsersRepository, type SmsUser } from '../accounts/sms-users.repository.js';
import type { AccountAccess } from '../auth/principal.js';
import { createSendingRepository, type PreparedJob } from '../sending/sending.repository.js';
import { createDeletionsRepository } from './deletions.repository.js';
import { createHistoryService } from './history.service.js';
import { createOutgoingRepository } from './outgoing.repository.js';

const NOW = Date.UTC(2024, 5, 1);

// A canceled or deleted pending message gives its credits back to the account, and to its SMS user's
// quota only what that quota paid for it (refundCredits in outgoing.repository.ts).
describeEachDialect('credits given back to an SMS user quota', (ctx) => {
  let accounts = 0;

  /** An account with `credits` and one SMS user without a quota; the whole account's access. */
  async function world(credits = 100) {
    accounts += 1;
    const name = `sms-qr${String(accounts).padStart(5, '0')}-1`;
    const { customerId, accountId } = await insertAccount(ctx.database, name, { credits, createdAt: NOW });
    const users = createSmsUsersRepository(ctx.database.db);
    const user = await users.insert({
      accountId,
      login: 'shop',
      passwordHash: 'x',
      ipRestrictions: [],
      quota: null,
      callbackUrl: null,
      createdAt: NOW,
    });
    const access: AccountAccess = {
      account: { id: accountId, name, timezone: 'Europe/Paris', ownerId: customerId, credits, status: 'enable', defaultCountry: 'FR' },
      userLogin: null,
      userId: null,
      actor: `customer:${name}@example.com`,
    };
    /** The operator sets (or, null, removes) the user's quota. */
    const setQuota = async (quota: number | null) => {
      await users.update(user.id, { quota });
    };
    /** What the account and the user have now. */
    const balances = async () => {
      const account = await ctx.database.db.selectFrom('accounts').select('credits').where('id', '=', accountId).executeTakeFirstOrThrow();
      const row = await ctx.database.db.selectFrom('sms_users').select('quota').where('id', '=', user.id).executeTakeFirstOrThrow();
      return { credits: Number(account.credits), quota: row.quota === null ? null : Number(row.quota) };
    };
    return {
      accountId,
      user,
      access,
      setQuota,
      balances,
      send: (count: number, creditsEach: number) => send(accountId, user, count, creditsEach),
    };
  }

  /** Accepts one job of `count` messages of `creditsEach` credits as `user`, as every channel does; their ids. */
  async function send(accountId: number, user: SmsUser, count: number, creditsEach: number): Promise<number[]> {
    const job: PreparedJob = {
      accountId,
      userId: user.id,
      userLogin: user.login,
      channel: 'api',
      sender: 'Shop',
      receivers: Array.from({ length: count }, (_, i) => `+336${String(accounts * 1000 + i).padStart(8, '0')}`),
      message: 'Hello',
      storeText: true,
      encoding: 'gsm7',
      parts: creditsEach,
      credits: Array.from({ length: count }, () => creditsEach),
      tag: '',
      priority: 1,
      deferredUntil: NOW + 3_600_000,
      validUntil: NOW + 86_400_000,
      options: {},
      now: NOW,
    };
    const [result] = await createSendingRepository(ctx.database).acceptBatch([job]);
    if (!result.ok) throw result.error;
    return result.ids;
  }

  const history = () =>
    createHistoryService({
      outgoing: createOutgoingRepository(ctx.database),
      deletions: createDeletionsRepository(ctx.database),
      clock: { now: () => NOW },
    });

  it('deleting a pending message accepted before its user had a quota gives its credits to the account only; one paid from the quota, to both', async () => {
    const w = await world();
    const before = await w.send(2, 2);
    await w.setQuota(10);
    const paid = await w.send(1, 3);
    expect(await w.balances()).toEqual({ credits: 93, quota: 7 });

    expect(await history().deleteIds(w.access, [before[0]])).toEqual({ deleted: 1, refundedCredits: 2 });
    expect(await w.balances()).toEqual({ credits: 95, quota: 7 });
    expect(await history().deleteIds(w.access, [paid[0], before[1]])).toEqual({ deleted: 2, refundedCredits: 5 });
    expect(await w.balances()).toEqual({ credits: 100, quota: 10 });
  });

  it('canceling a pending message (SMPP cancel_sm, OVH DELETE …/jobs/{id}) gives back to the quota only what it paid', async () => {
    const w = await world();
    const before = await w.send(1, 2);
    await w.setQuota(4);
    const paid = await w.send(1, 1);
    const asUser: AccountAccess = { ...w.access, userLogin: w.user.login, userId: w.user.id, actor: `user:${w.user.login}` };

    expect(await history().cancelPending(asUser, before[0])).toBe('canceled');
    expect(await w.balances()).toEqual({ credits: 99, quota: 3 });
    expect(await history().cancelPending(asUser, paid[0])).toBe('canceled');
    expect(await w.balances()).toEqual({ credits: 100, quota: 4 });
  });

  it('a quota changed since the payment gets back what was paid; a quota removed since (no limit), or removed and set again, gets nothing', async () => {
    const w = await world();
    await w.setQuota(10);
    const paid = await w.send(3, 2);
    expect(await w.balances()).toEqual({ credits: 94, quota: 4 });

    await w.setQuota(1);
    expect(await history().deleteIds(w.access, [paid[0]])).toEqual({ deleted: 1, refundedCredits: 2 });
    expect(await w.balances()).toEqual({ credits: 96, quota: 3 });
    await w.setQuota(null);
    expect(await history().cancelPending(w.access, paid[1])).toBe('canceled');
    expect(await w.balances()).toEqual({ credits: 98, quota: null });
    // Set again: a new quota, which did not pay for the last message (paid from the removed one): nothing to it.
    await w.setQuota(0);
    expect(await history().deleteIds(w.access, [paid[2]])).toEqual({ deleted: 1, refundedCredits: 2 });
    expect(await w.balances()).toEqual({ credits: 100, quota: 0 });
  });

  it('a deletion by filter done at once gives back to the quota only what it paid', async () => {
    const w = await world();
    await w.send(2, 1);
    await w.setQuota(5);
    await w.send(1, 2);
    expect(await w.balances()).toEqual({ credits: 96, quota: 3 });

    expect(await history().deleteByFilter(w.access, { user: w.user.login })).toEqual({ deleted: 3 });
    expect(await w.balances()).toEqual({ credits: 100, quota: 5 });
  });

  it("a delete job's batches give back to the quota only what it paid (PostgreSQL; SQLite on the delete thread and on the serving connection)", async () => {
    const paths: [string, Database][] =
      ctx.dialect === 'sqlite'
        ? [
            ['delete thread', ctx.database],
            ['serving connection', { ...ctx.database, sqliteFile: undefined }],
          ]
        : [['one transaction', ctx.database]];
    for (const [path, database] of paths) {
      const w = await world();
      const before = await w.send(3, 1);
      await w.setQuota(6);
      const paid = await w.send(2, 2);
      expect(await w.balances(), path).toEqual({ credits: 93, quota: 2 });

      const outgoing = createOutgoingRepository(ctx.database);
      const deletions = createDeletionsRepository(database);
      const scope = { accountId: w.accountId, userLogin: null };
      const job = await deletions.createJob({ accountId: w.accountId, actor: 'test', filter: {}, now: NOW });
      try {
        // One message of each job first (by ids), then the rest (by the history's filter).
        expect(await deletions.deleteJobBatch({ jobId: job.id, scope, ids: [before[0], paid[0]], now: NOW }), path).toEqual({
          deleted: 2,
          refunded: 3,
          found: 2,
        });
        expect(await w.balances(), path).toEqual({ credits: 96, quota: 4 });
        const select = outgoing.findIdsQuery({ scope, filter: {}, limit: 100 });
        expect(await deletions.deleteJobBatch({ jobId: job.id, scope, select, now: NOW }), path).toEqual({
          deleted: 3,
          refunded: 4,
          found: 3,
        });
      } finally {
        await deletions.close();
      }
      expect(await w.balances(), path).toEqual({ credits: 100, quota: 6 });
      await deletions.updateJob(job.id, { status: 'done', now: NOW });

      // Paid from a quota removed and set again since: nothing to the new quota.
      const again = await world();
      await again.setQuota(5);
      const [id] = await again.send(1, 2);
      await again.setQuota(null);
      await again.setQuota(7);
      const other = createDeletionsRepository(database);
      const second = await other.createJob({ accountId: again.accountId, actor: 'test', filter: {}, now: NOW });
      try {
        const ids = [id];
        expect(
          await other.deleteJobBatch({ jobId: second.id, scope: { accountId: again.accountId, userLogin: null }, ids, now: NOW }),
          path,
        ).toEqual({
          deleted: 1,
          refunded: 2,
          found: 1,
        });
      } finally {
        await other.close();
      }
      expect(await again.balances(), path).toEqual({ credits: 100, quota: 7 });
    }
  });

  it('messages of a job accepted before migration 0011, or of no job, keep the former rule: back to the quota the user has', async () => {
    const w = await world();
    const old = await w.send(1, 2);
    // What an acceptance before migration 0011 left: a job that does not say whether the quota paid.
    const { job_id } = await ctx.database.db.selectFrom('outgoing').select('job_id').where('id', '=', old[0]).executeTakeFirstOrThrow();
    await ctx.database.db.updateTable('jobs').set({ quota_paid: null }).where('id', '=', job_id!).execute();
    const [jobless] = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: w.accountId, user_id: w.user.id, user_login: w.user.login, status: 'pending', credits: 3 }),
    ]);
    await w.setQuota(5);

    expect(await history().deleteIds(w.access, [old[0], jobless])).toEqual({ deleted: 2, refundedCredits: 5 });
    expect(await w.balances()).toEqual({ credits: 103, quota: 10 });
  });
});
