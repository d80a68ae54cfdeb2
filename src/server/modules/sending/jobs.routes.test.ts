import { beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import {
  bearer,
  createSender,
  createSmsUser,
  createToken,
  type SeededAccount,
  seedCustomerWithAccount,
  signIn,
} from '../../../../test/factories.js';
import { accountAccessFor } from '../accounts/accounts.service.js';
import { waitFor } from '../dispatch/dispatch-testing.js';
import { createSendingRepository } from './sending.repository.js';
import { BATCHES_IN_FLIGHT, MAX_DEFERRAL_MINUTES } from './sending.service.js';

describeEachDialectWithApp('sending jobs', (ctx) => {
  let seeded: SeededAccount;
  const url = () => `/api/v1/accounts/${seeded.account.name}/jobs`;
  const post = (payload: unknown, headers = seeded.auth) =>
    ctx.app.inject({ method: 'POST', url: url(), headers, payload: payload as object });
  const credits = async (name = seeded.account.name) =>
    (await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${name}`, headers: seeded.auth })).json().credits as number;
  const history = async (qs = '') =>
    (
      await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${seeded.account.name}/outgoing?limit=1000${qs}`, headers: seeded.auth })
    ).json();
  const queued = async () =>
    Number(
      (
        await ctx.database.db
          .selectFrom('dispatch_queue')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('account_id', '=', seeded.account.id)
          .executeTakeFirstOrThrow()
      ).n,
    );

  beforeAll(async () => {
    seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 100 } });
    await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
    await createSender(ctx.app, seeded.account, { sender: 'Off', status: 'disable' });
  });

  it('accepts a job: one pending message per valid receiver, credits debited, queued, reported like OVH', async () => {
    const res = await post({
      message: 'Hello',
      receivers: ['0033612345678', '+33612345679', '06 12 34 56 70', 'nope'],
      sender: 'MyShop',
      noStopClause: true,
      tag: 'welcome',
    });
    expect(res.statusCode).toBe(200);
    const report = res.json();
    expect(report).toMatchObject({
      validReceivers: ['+33612345678', '+33612345679', '+33612345670'],
      invalidReceivers: ['nope'],
      totalCreditsRemoved: 3,
      tag: 'welcome',
      creditsLeft: 97,
      parts: 1,
      encoding: 'gsm7',
    });
    expect(report.ids).toHaveLength(3);
    expect(await credits()).toBe(97);
    const rows = (await history('&tag=welcome')).data;
    expect(rows.map((r: { receiver: string }) => r.receiver).sort()).toEqual(['+33612345670', '+33612345678', '+33612345679']);
    expect(
      rows.every(
        (r: { status: string; channel: string; user: null; message: string }) =>
          r.status === 'pending' && r.channel === 'api' && r.user === null && r.message === 'Hello',
      ),
    ).toBe(true);
    expect(await queued()).toBe(3);
  });

  it('appends the STOP mention unless noStopClause, counts parts and encoding, gives a random tag', async () => {
    const res = await post({ message: 'Soldes d’été ! 🎉', receivers: ['+33612340001'], sender: 'MyShop' });
    const report = res.json();
    expect(report).toMatchObject({ encoding: 'ucs2', parts: 1 });
    expect(report.tag).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const [row] = (await history(`&tag=${report.tag}`)).data;
    expect(row.message).toBe('Soldes d’été ! 🎉\nSTOP au 36180');
    const long = (await post({ message: 'x'.repeat(200), receivers: ['+33612340002'], sender: 'MyShop', noStopClause: true })).json();
    expect(long).toMatchObject({ parts: 2, totalCreditsRemoved: 2, encoding: 'gsm7' });
  });

  it('records the SMS user of a user-scoped token, and the Manager channel for a signed-in customer', async () => {
    await createSmsUser(ctx.app, seeded.account, { login: 'apiuser', quota: 2 });
    const scoped = bearer(await createToken(ctx.app, seeded.account, { user: 'apiuser' }));
    const byUser = (await post({ message: 'from user', receivers: ['+33612340003'], sender: 'MyShop', noStopClause: true }, scoped)).json();
    const session = await signIn(ctx.app, seeded.customer.email, seeded.password);
    const byManager = await ctx.app.inject({
      method: 'POST',
      url: url(),
      headers: session.writeHeaders,
      payload: { message: 'from manager', receivers: ['+33612340004'], sender: 'MyShop', noStopClause: true },
    });
    expect(byManager.statusCode).toBe(200);
    const rows = (await history()).data as { id: number; user: string | null; channel: string }[];
    expect(rows.find((r) => r.id === byUser.ids[0])).toMatchObject({ user: 'apiuser', channel: 'api' });
    expect(rows.find((r) => r.id === byManager.json().ids[0])).toMatchObject({ user: null, channel: 'manager' });
    // The user's quota (2, one spent) refuses a 2-credit job whole.
    const refused = await post({ message: 'y'.repeat(200), receivers: ['+33612340005'], sender: 'MyShop', noStopClause: true }, scoped);
    expect([refused.statusCode, refused.json().error.code]).toEqual([402, 'INSUFFICIENT_CREDITS']);
  });

  it("deleting a pending message gives back to its user's quota only what that quota paid (a quota set later stays as set)", async () => {
    const s = await seedCustomerWithAccount(ctx.app, { account: { credits: 20 } });
    await createSender(ctx.app, s.account, { sender: 'MyShop' });
    await createSmsUser(ctx.app, s.account, { login: 'late' });
    const scoped = bearer(await createToken(ctx.app, s.account, { user: 'late' }));
    const base = `/api/v1/accounts/${s.account.name}`;
    const send = async (receiver: string) => {
      const res = await ctx.app.inject({
        method: 'POST',
        url: `${base}/jobs`,
        headers: scoped,
        payload: { message: 'later', receivers: [receiver], sender: 'MyShop', noStopClause: true, differedPeriod: 60 },
      });
      expect(res.statusCode).toBe(200);
      return res.json().ids[0] as number;
    };
    const balances = async () => [
      (await ctx.app.inject({ method: 'GET', url: base, headers: s.auth })).json().credits,
      (await ctx.app.inject({ method: 'GET', url: `${base}/users/late`, headers: s.auth })).json().quota,
    ];
    const setQuota = async (quota: number) =>
      expect((await ctx.app.inject({ method: 'PATCH', url: `${base}/users/late`, headers: s.auth, payload: { quota } })).statusCode).toBe(
        200,
      );
    const remove = async (id: number) =>
      expect((await ctx.app.inject({ method: 'DELETE', url: `${base}/outgoing/${id}`, headers: s.auth })).statusCode).toBe(204);

    const beforeQuota = await send('+33612349001');
    await setQuota(5);
    const fromQuota = await send('+33612349002');
    expect(await balances()).toEqual([18, 4]);
    await remove(beforeQuota);
    expect(await balances()).toEqual([19, 4]);
    await remove(fromQuota);
    expect(await balances()).toEqual([20, 5]);
  });

  it('refuses bad jobs whole, with a clear error, writing and debiting nothing', async () => {
    const before = { credits: await credits(), rows: (await history()).total, queued: await queued() };
    const cases: [unknown, number, string][] = [
      [{ message: 'hi', receivers: ['+33612345678'], sender: 'Unknown' }, 400, 'INVALID_SENDER'],
      [{ message: 'hi', receivers: ['+33612345678'], sender: 'Off' }, 400, 'INVALID_SENDER'],
      [{ message: 'hi', receivers: ['+33612345678'] }, 400, 'INVALID_SENDER'],
      [{ message: 'hi', receivers: ['abc', '123'], sender: 'MyShop' }, 400, 'INVALID_RECEIVER'],
      [{ message: '   ', receivers: ['+33612345678'], sender: 'MyShop' }, 400, 'VALIDATION_FAILED'],
      [{ message: 'hi', receivers: [], sender: 'MyShop' }, 400, 'VALIDATION_FAILED'],
      [{ message: 'hi', receivers: ['+33612345678'], sender: 'MyShop', priority: 'urgent' }, 400, 'VALIDATION_FAILED'],
      [{ message: 'hi', receivers: ['+33612345678'], sender: 'MyShop', differedPeriod: -1 }, 400, 'VALIDATION_FAILED'],
      [{ message: 'nul \u0000 inside', receivers: ['+33612345678'], sender: 'MyShop' }, 400, 'VALIDATION_FAILED'],
      [
        { message: 'hi', receivers: Array.from({ length: 200 }, (_, i) => `+336123${String(i).padStart(5, '0')}`), sender: 'MyShop' },
        402,
        'INSUFFICIENT_CREDITS',
      ],
    ];
    for (const [payload, status, code] of cases) {
      const res = await post(payload);
      expect([JSON.stringify(payload).slice(0, 60), res.statusCode, res.json().error.code]).toEqual([
        JSON.stringify(payload).slice(0, 60),
        status,
        code,
      ]);
    }
    expect({ credits: await credits(), rows: (await history()).total, queued: await queued() }).toEqual(before);
    const other = await seedCustomerWithAccount(ctx.app);
    const foreign = await post({ message: 'hi', receivers: ['+33612345678'], sender: 'MyShop' }, other.auth);
    expect([foreign.statusCode, foreign.json().error.code]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
  });

  it('takes a JSON body as typed: a value of another type is refused naming its field, never coerced into a meaning', async () => {
    const before = { credits: await credits(), rows: (await history()).total };
    const base = { message: 'hi', receivers: ['+33612345678'], sender: 'MyShop' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, receivers: '+33612345678' }, 'receivers'],
      [{ ...base, message: ['hi'] }, 'message'],
      [{ ...base, noStopClause: 'false' }, 'noStopClause'],
      [{ ...base, noStopClause: null }, 'noStopClause'],
      [{ ...base, differedPeriod: '10' }, 'differedPeriod'],
      [{ ...base, validityPeriod: [60] }, 'validityPeriod'],
      [{ ...base, sender: 42 }, 'sender'],
      [{ ...base, tag: true }, 'tag'],
    ];
    for (const [payload, field] of cases) {
      const res = await post(payload);
      expect([field, res.statusCode, res.json().error.code, res.json().error.message]).toEqual([
        field,
        400,
        'VALIDATION_FAILED',
        expect.stringContaining(`"${field}"`),
      ]);
    }
    expect({ credits: await credits(), rows: (await history()).total }).toEqual(before);
    // The query string is text: its numbers and lists are still read from it.
    const pending = await history('&status=pending');
    expect(pending.data.length).toBeGreaterThan(0);
    expect(new Set(pending.data.map((row: { status: string }) => row.status))).toEqual(new Set(['pending']));
  });

  it('refuses a send time more than a year ahead whatever the channel gives; one in the past is sent now', async () => {
    const before = { credits: await credits(), rows: (await history()).total, queued: await queued() };
    const access = accountAccessFor(seeded.account, null, 'test');
    const job = (input: object) =>
      ctx.app.services.sending.accept(access, 'http2sms', { message: 'hi', receivers: ['+33612345678'], sender: 'MyShop', ...input });
    const yearMs = MAX_DEFERRAL_MINUTES * 60_000;
    for (const deferredUntil of [Date.now() + yearMs + 60_000, Date.parse('9999-12-31T00:00:00Z')])
      await expect(job({ deferredUntil }), new Date(deferredUntil).toISOString()).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        message: `the send time is more than a year ahead: a job may be deferred by at most ${MAX_DEFERRAL_MINUTES} minutes`,
      });
    await expect(job({ deferredUntil: Number.NaN })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const tooFar = await post({ message: 'hi', receivers: ['+33612345678'], sender: 'MyShop', differedPeriod: MAX_DEFERRAL_MINUTES + 1 });
    expect([tooFar.statusCode, tooFar.json().error.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect({ credits: await credits(), rows: (await history()).total, queued: await queued() }).toEqual(before);

    const deferred = (id: number) =>
      ctx.database.db.selectFrom('outgoing').select('deferred_until').where('id', '=', id).executeTakeFirstOrThrow();
    const within = Date.now() + yearMs - 60 * 60_000;
    const later = await job({ deferredUntil: within, tag: 'deferral' });
    expect(Number((await deferred(later.ids[0])).deferred_until)).toBe(within);
    const past = await job({ deferredUntil: Date.parse('2000-01-01T00:00:00Z'), tag: 'deferral' });
    expect((await deferred(past.ids[0])).deferred_until).toBeNull();
  });

  it('refuses a tag holding a control character (the text may have several lines)', async () => {
    const before = { credits: await credits(), rows: (await history()).total, queued: await queued() };
    for (const tag of ['a\nb', 'a\tb', 'a\u001b[2Jb', 'a\u0085b']) {
      const res = await post({ message: 'hi', receivers: ['+33612345678'], sender: 'MyShop', tag });
      expect([JSON.stringify(tag), res.statusCode, res.json().error]).toEqual([
        JSON.stringify(tag),
        400,
        { code: 'VALIDATION_FAILED', message: 'tag must be one line of text, without control characters (newline, tab, escape…)' },
      ]);
    }
    expect({ credits: await credits(), rows: (await history()).total, queued: await queued() }).toEqual(before);
    const lines = await post({ message: 'first line\nsecond line', receivers: ['+33612345678'], sender: 'MyShop', tag: 'lines' });
    expect(lines.statusCode).toBe(200);
  });

  it('keeps credits exact under concurrent jobs: every accepted one debited once, the rest refused whole', async () => {
    const s = await seedCustomerWithAccount(ctx.app, { account: { credits: 30 } });
    await createSender(ctx.app, s.account, { sender: 'MyShop' });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        ctx.app.inject({
          method: 'POST',
          url: `/api/v1/accounts/${s.account.name}/jobs`,
          headers: s.auth,
          payload: { message: `m${i}`, receivers: [`+336129${String(i).padStart(5, '0')}`], sender: 'MyShop', noStopClause: true },
        }),
      ),
    );
    const accepted = results.filter((r) => r.statusCode === 200);
    const refused = results.filter((r) => r.statusCode === 402);
    expect([accepted.length, refused.length]).toEqual([30, 10]);
    const left = (await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${s.account.name}`, headers: s.auth })).json().credits;
    expect(left).toBe(0);
    const rows = (
      await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${s.account.name}/outgoing?limit=100`, headers: s.auth })
    ).json();
    expect(rows.total).toBe(30);
    expect(new Set(accepted.map((r) => r.json().ids[0])).size).toBe(30);
  });

  it(`writes ${BATCHES_IN_FLIGHT} batches at a time through another writer, the jobs arriving meanwhile in the next batch; a declined batch is written here`, async () => {
    const s = await seedCustomerWithAccount(ctx.app, { account: { credits: 30 } });
    await createSender(ctx.app, s.account, { sender: 'MyShop' });
    const repository = createSendingRepository(ctx.database);
    const batches: number[] = [];
    const held: (() => void)[] = [];
    let decline = false;
    let wakes = 0;
    const unsubscribe = ctx.app.services.onAccepted(() => wakes++);
    // A writer that holds each batch until released, then writes it as the dispatcher's thread would.
    ctx.app.services.sending.acceptThrough((jobs) => {
      if (decline) return undefined;
      batches.push(jobs.length);
      return new Promise<void>((resolve) => held.push(resolve)).then(() => repository.acceptBatch(jobs));
    });
    try {
      const send = (i: number) =>
        ctx.app.inject({
          method: 'POST',
          url: `/api/v1/accounts/${s.account.name}/jobs`,
          headers: s.auth,
          payload: { message: `m${i}`, receivers: [`+336128${String(i).padStart(5, '0')}`], sender: 'MyShop', noStopClause: true },
        });
      const alone: ReturnType<typeof send>[] = [];
      for (let i = 1; i <= BATCHES_IN_FLIGHT; i++) {
        alone.push(send(i));
        await waitFor(() => batches.length === i, `batch ${i}, written beside the ones before`);
      }
      const rest = [1, 2, 3].map((i) => send(BATCHES_IN_FLIGHT + i));
      // Every write is held: the three jobs wait, then go as one batch when a write is answered.
      await waitFor(() => ctx.app.services.sending.jobsWaiting() === 3, 'three jobs waiting for a batch');
      expect(batches).toEqual(Array(BATCHES_IN_FLIGHT).fill(1));
      held.shift()?.();
      await waitFor(() => batches.length === BATCHES_IN_FLIGHT + 1, 'the next batch');
      expect(batches).toEqual([...Array(BATCHES_IN_FLIGHT).fill(1), 3]);
      for (const release of held.splice(0)) release();
      const answers = await Promise.all([...alone, ...rest]);
      expect(answers.map((r) => r.statusCode)).toEqual(Array(BATCHES_IN_FLIGHT + 3).fill(200));
      // The writer wakes the dispatcher beside it: batches it wrote are not announced here.
      expect(wakes).toBe(0);

      decline = true;
      const declined = await send(BATCHES_IN_FLIGHT + 4);
      expect([declined.statusCode, batches.length, wakes]).toEqual([200, BATCHES_IN_FLIGHT + 1, 1]);
      const left = (await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${s.account.name}`, headers: s.auth })).json().credits;
      expect(left).toBe(30 - (BATCHES_IN_FLIGHT + 4));
    } finally {
      ctx.app.services.sending.acceptThrough(null);
      unsubscribe();
    }
  });

  it('accepts a large job in one piece', async () => {
    const s = await seedCustomerWithAccount(ctx.app, { account: { credits: 5000 } });
    await createSender(ctx.app, s.account, { sender: 'MyShop' });
    const receivers = Array.from({ length: 3000 }, (_, i) => `+3361${String(i).padStart(7, '0')}`);
    const res = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${s.account.name}/jobs`,
      headers: s.auth,
      payload: { message: 'bulk', receivers, sender: 'MyShop', noStopClause: true },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().ids).toHaveLength(3000);
    expect(res.json().creditsLeft).toBe(2000);
  });
});
