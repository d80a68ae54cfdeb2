import { beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../../../test/database.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import { AppError } from '../../errors.js';
import type { AccountAccess } from '../auth/principal.js';
import { createDeletionsRepository } from './deletions.repository.js';
import { createHistoryService, type HistoryService, SYNC_DELETE_LIMIT } from './history.service.js';
import { createOutgoingRepository } from './outgoing.repository.js';

function accessTo(accountId: number, userLogin: string | null = null): AccountAccess {
  return {
    account: {
      id: accountId,
      name: `sms-te${String(accountId).padStart(5, '0')}-1`,
      timezone: 'Europe/Paris',
      ownerId: 1,
      credits: 0,
      status: 'enable',
      defaultCountry: 'FR',
    },
    userLogin,
    userId: null,
    actor: 'customer:owner@example.com',
  };
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describeEachDialect('history service', (ctx) => {
  let history: HistoryService;
  beforeAll(() => {
    history = createHistoryService({
      outgoing: createOutgoingRepository(ctx.database),
      deletions: createDeletionsRepository(ctx.database),
      clock: { now: () => Date.UTC(2024, 5, 1) },
      batchBudgetMs: 5,
    });
  });

  it('pages with opaque cursors both ways and refuses a cursor of another query', async () => {
    const a = accessTo(10);
    await insertOutgoing(
      ctx.database,
      Array.from({ length: 7 }, (_, i) => buildOutgoing({ account_id: 10, created_at: Date.UTC(2024, 0, 1) + i * 1000, message: `m${i}` })),
    );
    const first = await history.list(a, { limit: 3 });
    expect(first.data.map((o) => o.message)).toEqual(['m6', 'm5', 'm4']);
    expect(first.prevCursor).toBeNull();
    expect(first).toMatchObject({ total: 7, totalIsExact: true });
    const second = await history.list(a, { limit: 3, cursor: first.nextCursor });
    expect(second.data.map((o) => o.message)).toEqual(['m3', 'm2', 'm1']);
    const third = await history.list(a, { limit: 3, cursor: second.nextCursor });
    expect(third.data.map((o) => o.message)).toEqual(['m0']);
    expect(third.nextCursor).toBeNull();
    const back = await history.list(a, { limit: 3, cursor: third.prevCursor });
    expect(back.data.map((o) => o.message)).toEqual(['m3', 'm2', 'm1']);
    const backAgain = await history.list(a, { limit: 3, cursor: back.prevCursor });
    expect(backAgain.data.map((o) => o.message)).toEqual(['m6', 'm5', 'm4']);
    expect(backAgain.prevCursor).toBeNull();
    expect((await rejection(history.list(a, { limit: 3, cursor: second.nextCursor, sort: 'sender' }))).code).toBe('INVALID_CURSOR');
    expect((await rejection(history.list(a, { cursor: 'bm90LWEtY3Vyc29y' }))).code).toBe('INVALID_CURSOR');
    expect((await rejection(history.list(a, { sort: 'price' }))).code).toBe('INVALID_SORT');
    expect((await rejection(history.list(a, { from: '2024-02-30' }))).code).toBe('INVALID_FILTER');
  });

  it('reads dates without an offset in the account timezone, inclusive to the second or the day', async () => {
    const a = accessTo(11);
    // 2024-03-31 00:00:00 in Paris is 2024-03-30T23:00:00Z.
    await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: 11, created_at: Date.parse('2024-03-30T22:59:59.500Z'), message: 'before' }),
      buildOutgoing({ account_id: 11, created_at: Date.parse('2024-03-30T23:00:00.000Z'), message: 'first' }),
      buildOutgoing({ account_id: 11, created_at: Date.parse('2024-03-31T21:59:59.999Z'), message: 'last' }),
      buildOutgoing({ account_id: 11, created_at: Date.parse('2024-03-31T22:00:00.000Z'), message: 'after' }),
    ]);
    const day = await history.list(a, { from: '2024-03-31', to: '2024-03-31' });
    expect(day.data.map((o) => o.message)).toEqual(['last', 'first']);
    const second = await history.list(a, { from: '2024-03-31T23:59:59', to: '2024-03-31T23:59:59' });
    expect(second.data.map((o) => o.message)).toEqual(['last']);
    const utc = await history.list(a, { from: '2024-03-30T22:59:59Z', to: '2024-03-30T22:59:59Z' });
    expect(utc.data.map((o) => o.message)).toEqual(['before']);
  });

  it('keeps an SMS-user-scoped caller to that user’s messages, for reading and deleting', async () => {
    const [mine, theirs] = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: 12, user_login: 'apiuser' }),
      buildOutgoing({ account_id: 12, user_login: 'other' }),
    ]);
    const scoped = accessTo(12, 'apiuser');
    expect((await history.list(scoped, {})).data.map((o) => o.id)).toEqual([mine]);
    expect((await history.list(scoped, { user: 'other' })).data).toEqual([]);
    expect((await rejection(history.get(scoped, theirs))).code).toBe('MESSAGE_NOT_FOUND');
    expect(await history.deleteIds(scoped, [theirs])).toEqual({ deleted: 0, refundedCredits: 0 });
    expect((await history.get(accessTo(12), theirs)).id).toBe(theirs);
  });

  it('deletes by ids and by a small filter at once, and audits who, how many and what — never the text', async () => {
    const a = accessTo(13);
    const ids = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: 13, status: 'failed', message: 'secret text 1' }),
      buildOutgoing({ account_id: 13, status: 'failed', message: 'secret text 2' }),
      buildOutgoing({ account_id: 13, status: 'delivered' }),
    ]);
    expect(await history.deleteIds(a, [ids[2], 424242])).toEqual({ deleted: 1, refundedCredits: 0 });
    expect(await history.deleteByFilter(a, { status: 'failed' })).toEqual({ deleted: 2 });
    expect((await history.list(a, {})).total).toBe(0);
    const audit = await history.listAudit(a);
    expect(audit.map((e) => [e.kind, e.count, e.actor])).toEqual([
      ['filter', 2, 'customer:owner@example.com'],
      ['ids', 1, 'customer:owner@example.com'],
    ]);
    expect(audit[0].filter).toEqual({ status: 'failed' });
    expect(audit[1].ids).toEqual([ids[2]]);
    expect(JSON.stringify(audit)).not.toContain('secret text');
    expect(
      (
        await rejection(
          history.deleteIds(
            a,
            Array.from({ length: 10_001 }, (_, i) => i + 1),
          ),
        )
      ).code,
    ).toBe('TOO_MANY_IDS');
  });

  it('runs a large deletion by filter as a job in batches, with progress, leaving the rest', async () => {
    const a = accessTo(14);
    const count = SYNC_DELETE_LIMIT + 300;
    await insertOutgoing(
      ctx.database,
      Array.from({ length: count }, (_, i) => buildOutgoing({ account_id: 14, channel: i < count - 5 ? 'api' : 'smpp' })),
    );
    const result = await history.deleteByFilter(a, { channel: 'api' });
    expect('job' in result).toBe(true);
    if (!('job' in result)) return;
    await history.waitForDeleteJob(result.job.id);
    const job = await history.getDeleteJob(a, result.job.id);
    expect(job).toMatchObject({ status: 'done', deleted: count - 5, total: count - 5 });
    expect(await history.count(a, {})).toBe(5);
    expect((await history.listAudit(a))[0]).toMatchObject({ kind: 'filter', count: count - 5, deleteJobId: job.id });
    expect((await rejection(history.getDeleteJob(accessTo(15), job.id))).code).toBe('DELETE_JOB_NOT_FOUND');
  });

  it('exports the most recent matches up to a limit, or all of them, in batches', async () => {
    const a = accessTo(16);
    await insertOutgoing(
      ctx.database,
      Array.from({ length: 25 }, (_, i) => buildOutgoing({ account_id: 16, created_at: Date.UTC(2024, 0, 1) + i })),
    );
    const collect = async (limit: number | null) => {
      const out: number[] = [];
      for await (const batch of history.export(a, {}, limit)) out.push(...batch.map((o) => o.createdAt));
      return out;
    };
    const recent = await collect(10);
    expect(recent).toHaveLength(10);
    expect(recent[0]).toBe(Date.UTC(2024, 0, 1) + 24);
    expect(await collect(null)).toHaveLength(25);
  });
});
