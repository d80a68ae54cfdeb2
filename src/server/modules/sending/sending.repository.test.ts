import { expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createAccount, createSmsUser } from '../../../../test/factories.js';
import { createSendingRepository, type PreparedJob } from './sending.repository.js';

describeEachDialectWithApp('sending repository: one transaction for many jobs', (ctx) => {
  function job(accountId: number, receivers: string[], overrides: Partial<PreparedJob> = {}): PreparedJob {
    return {
      accountId,
      userId: null,
      userLogin: '',
      channel: 'api',
      sender: 'Shop',
      receivers,
      message: 'Hello',
      storeText: true,
      encoding: 'gsm7',
      parts: 1,
      credits: receivers.map(() => 1),
      tag: 't',
      priority: 0,
      deferredUntil: null,
      validUntil: 2_000_000_000_000,
      options: {},
      now: 1_700_000_000_000,
      ...overrides,
    };
  }
  const balance = async (id: number) =>
    Number((await ctx.database.db.selectFrom('accounts').select('credits').where('id', '=', id).executeTakeFirstOrThrow()).credits);
  const quota = async (id: number) =>
    (await ctx.database.db.selectFrom('sms_users').select('quota').where('id', '=', id).executeTakeFirstOrThrow()).quota;
  const count = async (table: 'outgoing' | 'dispatch_queue' | 'jobs', accountId: number) =>
    Number(
      (
        await ctx.database.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('checks each job against the running balances in order: all or nothing per job, exact debits, ids in receiver order', async () => {
    const a = await createAccount(ctx.app, { credits: 10 });
    const b = await createAccount(ctx.app, { credits: 1 });
    const user = await createSmsUser(ctx.app, a, { quota: 5 });
    const free = await createSmsUser(ctx.app, a);
    const repository = createSendingRepository(ctx.database);
    const results = await repository.acceptBatch([
      job(a.id, ['+33600000001', '+33600000002', '+33600000003'], { userId: user.id, userLogin: user.login }), // quota 5 → 2, credits 10 → 7
      job(a.id, ['+33600000004', '+33600000005', '+33600000006'], { userId: user.id, userLogin: user.login }), // quota 2 < 3: refused
      job(b.id, ['+33600000007']), // b: 1 → 0
      job(a.id, ['+33600000008', '+33600000009'], { credits: [2, 3] }), // 5 credits: 7 → 2
      job(b.id, ['+33600000010']), // b: 0 < 1: refused
      job(a.id, ['+33600000011', '+33600000012', '+33600000013'], { userId: free.id, userLogin: free.login }), // 2 < 3: refused
      job(a.id, ['+33600000014', '+33600000015'], { userId: free.id, userLogin: free.login }), // 2 → 0
    ]);
    expect(results.map((r) => (r.ok ? `ok:${r.ids.length}:${r.creditsLeft}` : r.error.code))).toEqual([
      'ok:3:7',
      'INSUFFICIENT_CREDITS',
      'ok:1:0',
      'ok:2:2',
      'INSUFFICIENT_CREDITS',
      'INSUFFICIENT_CREDITS',
      'ok:2:0',
    ]);
    expect(await balance(a.id)).toBe(0);
    expect(await balance(b.id)).toBe(0);
    expect(await quota(user.id)).toBe(2);
    expect(await quota(free.id)).toBeNull();
    expect(await count('outgoing', a.id)).toBe(7);
    expect(await count('dispatch_queue', a.id)).toBe(7);
    expect(await count('jobs', a.id)).toBe(3);
    expect(await count('outgoing', b.id)).toBe(1);

    const ids = results.flatMap((r) => (r.ok ? r.ids : []));
    expect(new Set(ids).size).toBe(8);
    const rows = await ctx.database.db
      .selectFrom('outgoing')
      .select(['id', 'receiver', 'credits', 'user_login', 'job_id'])
      .where('id', 'in', ids)
      .execute();
    const byId = new Map(rows.map((r) => [Number(r.id), r]));
    const expected = [
      ['+33600000001', 1, user.login],
      ['+33600000002', 1, user.login],
      ['+33600000003', 1, user.login],
      ['+33600000007', 1, ''],
      ['+33600000008', 2, ''],
      ['+33600000009', 3, ''],
      ['+33600000014', 1, free.login],
      ['+33600000015', 1, free.login],
    ];
    expect(
      ids.map((id) => {
        const r = byId.get(id)!;
        return [r.receiver, Number(r.credits), r.user_login];
      }),
    ).toEqual(expected);
    const jobIds = results.map((r) => (r.ok ? r.jobId : null));
    expect(new Set(jobIds.filter((j) => j !== null)).size).toBe(4);
    for (const [i, r] of results.entries()) if (r.ok) for (const id of r.ids) expect(Number(byId.get(id)!.job_id)).toBe(jobIds[i]);
  });

  it('writes a job of more receivers than one statement holds', async () => {
    const a = await createAccount(ctx.app, { credits: 5_000 });
    const receivers = Array.from({ length: 1_234 }, (_, i) => `+336${String(i).padStart(8, '0')}`);
    const [result] = await createSendingRepository(ctx.database).acceptBatch([job(a.id, receivers)]);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.ids).toHaveLength(1_234);
    const rows = await ctx.database.db
      .selectFrom('outgoing')
      .select(['id', 'receiver'])
      .where('account_id', '=', a.id)
      .orderBy('id')
      .execute();
    expect(rows.map((r) => r.receiver)).toEqual(receivers);
    expect(rows.map((r) => Number(r.id))).toEqual(result.ids);
    expect(await count('dispatch_queue', a.id)).toBe(1_234);
    expect(await balance(a.id)).toBe(5_000 - 1_234);
  });
});
