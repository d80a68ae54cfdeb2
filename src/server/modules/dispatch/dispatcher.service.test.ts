import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createSender, type SeededAccount, seedCustomerWithAccount } from '../../../../test/factories.js';
import { systemClock } from '../../clock.js';
import { type Database, openDatabase } from '../../db/database.js';
import { createCarrier } from '../carriers/carrier.js';
import { createDispatchRepository, type DispatchRepository } from './dispatch.repository.js';
import { fakeClock, manualCarrier, memoryLog, recordingCarrier, waitFor } from './dispatch-testing.js';
import { createDispatcher, retryDelayMs } from './dispatcher.service.js';

describe('retry back-off', () => {
  it('doubles from 1 s up to 5 minutes', () => {
    expect([1, 2, 3, 4, 9, 10, 30].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 256_000, 300_000, 300_000]);
  });
});

const clock = fakeClock();

interface ApiRow {
  id: number;
  status: string;
  ptt: number;
  deliveryReceipt: number;
  sentAt: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
  expiredAt: string | null;
  carrierMessageId: string | null;
  errorCode: string | null;
  errorText: string | null;
}

describeEachDialectWithApp(
  'dispatcher with the simulator carrier',
  (ctx) => {
    let seeded: SeededAccount;
    const running: { stop(): Promise<void> }[] = [];

    const send = async (payload: Record<string, unknown>): Promise<number[]> => {
      const res = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${seeded.account.name}/jobs`,
        headers: seeded.auth,
        payload: { sender: 'MyShop', noStopClause: true, message: 'Hello', ...payload },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().ids as number[];
    };
    const row = async (id: number): Promise<ApiRow | null> => {
      const res = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${seeded.account.name}/outgoing/${id}`,
        headers: seeded.auth,
      });
      return res.statusCode === 200 ? (res.json() as ApiRow) : null;
    };
    const statusIs = async (id: number, ...statuses: string[]) => {
      const r = await row(id);
      return r !== null && statuses.includes(r.status) ? r : null;
    };
    const waitStatus = (id: number, ...statuses: string[]) =>
      waitFor(() => statusIs(id, ...statuses), `message ${id} ${statuses.join('|')}`);

    /** A dispatcher on the simulator (real time for its rate and receipts), the test's clock for due dates and validity. */
    async function startDispatcher(
      options: {
        repository?: DispatchRepository;
        holdReceipts?: boolean;
        submits?: number[];
        owner?: string;
        batch?: number;
        maxInFlight?: number;
        pollMs?: number;
      } = {},
    ) {
      const { log, lines } = memoryLog();
      const sim = createCarrier('simulator?receipt_delay=0&tps=1000000', { clock: systemClock, log });
      const rec = recordingCarrier(sim, { holdReceipts: options.holdReceipts, submits: options.submits });
      const dispatcher = createDispatcher({
        repository: options.repository ?? ctx.app.services.dispatch,
        carrier: rec.carrier,
        clock,
        owner: options.owner ?? `test-${Math.random().toString(36).slice(2)}`,
        log,
        pollMs: options.pollMs ?? 20,
        batch: options.batch,
        maxInFlight: options.maxInFlight,
      });
      const unsubscribe = ctx.app.services.onAccepted(() => dispatcher.wake());
      await dispatcher.start();
      const handle = {
        dispatcher,
        ...rec,
        lines,
        async stop() {
          unsubscribe();
          await dispatcher.stop(5000);
          await sim.close();
        },
      };
      running.push(handle);
      return handle;
    }

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 100_000 } });
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
    });

    afterEach(async () => {
      for (const r of running.splice(0)) await r.stop();
    });

    it('sends accepted messages and records what the simulator answers, with the OVH codes', async () => {
      const d = await startDispatcher();
      const [delivered, unreachable, forbidden, expired, throttled] = await send({
        receivers: ['+33612340010', '+33612340000', '+33612340054', '+33612340002', '+33612340009'],
      });
      const [long] = await send({ receivers: ['+33612340011'], message: 'x'.repeat(200) });

      expect(await waitStatus(delivered, 'delivered')).toMatchObject({
        ptt: 0,
        deliveryReceipt: 1,
        errorCode: null,
        carrierMessageId: expect.stringMatching(/^sim-/),
      });
      const d1 = (await row(delivered))!;
      expect(d1.sentAt).not.toBeNull();
      expect(d1.deliveredAt).not.toBeNull();
      expect(await waitStatus(unreachable, 'failed')).toMatchObject({
        ptt: 3,
        deliveryReceipt: 2,
        errorCode: '3',
        errorText: 'destination unreachable',
      });
      expect((await row(unreachable))!.sentAt).not.toBeNull();
      // Refused at submit: failed without ever being sent.
      expect(await waitStatus(forbidden, 'failed')).toMatchObject({ ptt: 54, deliveryReceipt: 2, sentAt: null, carrierMessageId: null });
      expect(await waitStatus(expired, 'expired')).toMatchObject({ ptt: 801, deliveryReceipt: 2 });
      expect(await waitStatus(long, 'delivered')).toMatchObject({ ptt: 0, deliveryReceipt: 1 });
      const parts = await ctx.database.db
        .selectFrom('carrier_parts')
        .select(['part', 'status'])
        .where('outgoing_id', '=', long)
        .orderBy('part')
        .execute();
      expect(parts).toEqual([
        { part: 1, status: 'delivered' },
        { part: 2, status: 'delivered' },
      ]);

      // Throttled once: back in the queue for 1 s (the test's clock), then sent.
      const queued = await waitFor(
        () =>
          ctx.database.db
            .selectFrom('dispatch_queue')
            .select(['attempts', 'due_at', 'lease_owner'])
            .where('outgoing_id', '=', throttled)
            .where('attempts', '=', 1)
            .executeTakeFirst(),
        'the throttled message released',
      );
      expect(queued).toEqual({ attempts: 1, due_at: clock.now() + 1000, lease_owner: null });
      expect((await row(throttled))!.status).toBe('pending');
      clock.advance(1000);
      d.dispatcher.wake();
      expect(await waitStatus(throttled, 'delivered')).toMatchObject({ ptt: 0, deliveryReceipt: 1 });

      for (const id of [delivered, unreachable, forbidden, expired, long]) expect(d.count(id)).toBe(1);
      expect(d.count(throttled)).toBe(2);
      expect(
        await ctx.database.db
          .selectFrom('dispatch_queue')
          .select('outgoing_id')
          .where('outgoing_id', 'in', [delivered, throttled, long])
          .execute(),
      ).toEqual([]);
    });

    it('is woken by each accepted job instead of waiting for its next poll', async () => {
      const d = await startDispatcher({ pollMs: 600_000 });
      const [id] = await send({ receivers: ['+33612340015'] });
      await waitStatus(id, 'delivered');
      expect(d.count(id)).toBe(1);
    });

    it('shows sent (deliveryReceipt 8) until the receipt, then delivered', async () => {
      const d = await startDispatcher({ holdReceipts: true });
      const [id] = await send({ receivers: ['+33612340020'] });
      const sent = await waitStatus(id, 'sent');
      expect(sent).toMatchObject({ ptt: 0, deliveryReceipt: 8, deliveredAt: null, carrierMessageId: expect.stringMatching(/^sim-/) });
      await waitFor(() => d.heldReceipts.length === 1, 'the receipt');
      await d.releaseReceipts();
      expect(await waitStatus(id, 'delivered')).toMatchObject({ ptt: 0, deliveryReceipt: 1, sentAt: sent.sentAt });
    });

    it('does not send a deferred message before its time', async () => {
      const d = await startDispatcher();
      const [deferred] = await send({ receivers: ['+33612340030'], differedPeriod: 10 });
      const [now1] = await send({ receivers: ['+33612340031'] });
      await waitStatus(now1, 'delivered');
      clock.advance(9 * 60_000);
      const [now2] = await send({ receivers: ['+33612340032'] });
      await waitStatus(now2, 'delivered');
      expect((await row(deferred))!.status).toBe('pending');
      expect(d.count(deferred)).toBe(0);
      clock.advance(60_000);
      d.dispatcher.wake();
      expect(await waitStatus(deferred, 'delivered')).toMatchObject({ deliveryReceipt: 1 });
      expect(d.count(deferred)).toBe(1);
    });

    it('expires a message whose validity ended before it could be sent, without submitting it', async () => {
      const [id] = await send({ receivers: ['+33612340040'], validityPeriod: 1 });
      clock.advance(2 * 60_000);
      const d = await startDispatcher();
      const r = await waitStatus(id, 'expired');
      expect(r).toMatchObject({ ptt: 801, deliveryReceipt: 2, sentAt: null, carrierMessageId: null });
      expect(r.expiredAt).not.toBeNull();
      expect(d.count(id)).toBe(0);
    });

    it('never sends a message deleted while pending', async () => {
      const [gone, kept] = await send({ receivers: ['+33612340050', '+33612340051'] });
      const del = await ctx.app.inject({
        method: 'DELETE',
        url: `/api/v1/accounts/${seeded.account.name}/outgoing/${gone}`,
        headers: seeded.auth,
      });
      expect(del.statusCode).toBeLessThan(300);
      const d = await startDispatcher();
      await waitStatus(kept, 'delivered');
      expect(d.count(gone)).toBe(0);
      expect(await row(gone)).toBeNull();
      expect(await ctx.database.db.selectFrom('dispatch_queue').select('outgoing_id').where('outgoing_id', '=', gone).execute()).toEqual(
        [],
      );
    });

    it('stops gracefully: waits for submits in flight, gives back what it had not submitted', async () => {
      // A window of 2: of the 3 claimed, one waits in the dispatcher for room.
      const manual = manualCarrier(2);
      const { log } = memoryLog();
      const dispatcher = createDispatcher({
        repository: ctx.app.services.dispatch,
        carrier: manual.carrier,
        clock,
        owner: 'graceful',
        log,
        pollMs: 20,
      });
      const ids = await send({ receivers: ['+33612340061', '+33612340062', '+33612340063'] });
      await dispatcher.start();
      await waitFor(() => manual.pending.length === 2 && dispatcher.inFlight === 3, 'two submits in flight, one waiting');
      const submitted = manual.pending.map((p) => p.message.id);
      const [waiting] = ids.filter((id) => !submitted.includes(id));
      const stopped = dispatcher.stop(5000);
      const [late] = await send({ receivers: ['+33612340064'] });
      manual.acceptAll('graceful');
      await stopped;
      expect(dispatcher.inFlight).toBe(0);
      for (const id of submitted) expect(await statusIs(id, 'sent')).toMatchObject({ carrierMessageId: `graceful-${id}` });
      // Given back at once (no lease to wait for), and the message accepted meanwhile never claimed.
      const queue = await ctx.database.db
        .selectFrom('dispatch_queue')
        .select(['outgoing_id', 'lease_owner'])
        .where('outgoing_id', 'in', [waiting, late])
        .orderBy('outgoing_id')
        .execute();
      expect(queue).toEqual([
        { outgoing_id: waiting, lease_owner: null },
        { outgoing_id: late, lease_owner: null },
      ]);
      const d = await startDispatcher();
      await waitStatus(late, 'delivered');
      await waitStatus(waiting, 'delivered');
      expect([d.count(waiting), d.count(late)]).toEqual([1, 1]);
    });

    it('claims the next batch while the carrier’s window is full, so the window never waits for a claim', async () => {
      const manual = manualCarrier(4);
      const { log } = memoryLog();
      const dispatcher = createDispatcher({
        repository: ctx.app.services.dispatch,
        carrier: manual.carrier,
        clock,
        owner: 'ahead',
        log,
        pollMs: 20,
        batch: 4,
      });
      const ids = await send({ receivers: Array.from({ length: 20 }, (_, i) => `+336123402${String(i).padStart(2, '0')}`) });
      await dispatcher.start();
      running.push({ stop: () => dispatcher.stop(5000) });
      // Four at the carrier (its window) and four more claimed, waiting: no more than one batch ahead.
      await waitFor(() => manual.pending.length === 4 && dispatcher.inFlight === 8, 'a window in flight and a batch ahead');
      await new Promise((r) => setTimeout(r, 60));
      expect(dispatcher.inFlight).toBe(8);
      const answered = new Set<number>();
      await waitFor(async () => {
        for (const p of manual.pending) answered.add(p.message.id);
        manual.acceptAll('ahead');
        return answered.size === 20 && dispatcher.inFlight === 0;
      }, 'all twenty sent');
      for (const id of ids) expect(await statusIs(id, 'sent')).toMatchObject({ carrierMessageId: `ahead-${id}` });
    });

    it('a dispatcher that dies mid-flight: its claims return when the lease runs out, and its late answer changes nothing', async () => {
      const manual = manualCarrier();
      const { log, lines } = memoryLog();
      const leaseMs = 60_000;
      const dead = createDispatcher({
        repository: ctx.app.services.dispatch,
        carrier: manual.carrier,
        clock,
        owner: 'dead',
        log,
        pollMs: 20,
        leaseMs,
      });
      const [id] = await send({ receivers: ['+33612340071'] });
      await dead.start();
      await waitFor(() => manual.pending.length === 1, 'the submit in flight');
      // "Killed": it stops waiting for the carrier; the lease stays until it runs out.
      await dead.stop(10);
      const d = await startDispatcher({ owner: 'alive' });
      expect((await row(id))!.status).toBe('pending');
      expect(d.count(id)).toBe(0);
      clock.advance(leaseMs + 1);
      d.dispatcher.wake();
      const delivered = await waitStatus(id, 'delivered');
      expect(d.count(id)).toBe(1);
      // The dead one's carrier answers at last: nothing it records overwrites the newer state.
      manual.acceptAll('dead');
      await waitFor(async () => dead.inFlight === 0, 'the late answer handled');
      expect(await row(id)).toMatchObject({ status: 'delivered', carrierMessageId: delivered.carrierMessageId });
      expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toContain(
        'dispatcher: the carrier accepted a message this dispatcher no longer held: it may reach the receiver twice',
      );
    });

    it('two dispatchers on one database submit each of 500 messages exactly once', async () => {
      // PostgreSQL: a second pool, as a second process would have. SQLite: one writer per process, so the same connection.
      let second: Database | null = null;
      if (ctx.dialect === 'postgres') second = openDatabase(ctx.database.url, { poolSize: 4 });
      try {
        // Ending in 11: delivered (no simulator rule).
        const receivers = Array.from({ length: 500 }, (_, i) => `+33671${String(i).padStart(4, '0')}11`);
        const ids = await send({ receivers });
        const a = await startDispatcher({ owner: 'one', batch: 16, maxInFlight: 32 });
        const b = await startDispatcher({
          owner: 'two',
          batch: 16,
          maxInFlight: 32,
          repository: second ? createDispatchRepository(second) : undefined,
        });
        a.dispatcher.wake();
        b.dispatcher.wake();
        const countDelivered = async () =>
          Number(
            (
              await ctx.database.db
                .selectFrom('outgoing')
                .select((eb) => eb.fn.countAll().as('n'))
                .where('id', 'in', ids)
                .where('status', '=', 'delivered')
                .executeTakeFirstOrThrow()
            ).n,
          );
        try {
          await waitFor(async () => (await countDelivered()) === 500, '500 delivered', 60_000);
        } catch (e) {
          // Say where it stands: statuses, queue entries, and what each dispatcher did.
          const statuses = await ctx.database.db
            .selectFrom('outgoing')
            .select(['status', (eb) => eb.fn.countAll().as('n')])
            .where('id', 'in', ids)
            .groupBy('status')
            .execute();
          const queue = await ctx.database.db
            .selectFrom('dispatch_queue')
            .select(['lease_owner', 'attempts', (eb) => eb.fn.countAll().as('n')])
            .where('outgoing_id', 'in', ids)
            .groupBy(['lease_owner', 'attempts'])
            .execute();
          const problems = [...a.lines, ...b.lines].filter((l) => l.level === 'warn' || l.level === 'error').map((l) => l.msg);
          throw new Error(
            `${(e as Error).message}: ${JSON.stringify({ statuses, queue, submits: [a.submits.length, b.submits.length], problems })}`,
          );
        }
        const wanted = new Set(ids);
        const mine = [...a.submits, ...b.submits].filter((s) => wanted.has(s));
        expect(mine.length).toBe(500);
        expect(new Set(mine).size).toBe(500);
        const parts = await ctx.database.db
          .selectFrom('carrier_parts')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('outgoing_id', 'in', ids)
          .executeTakeFirstOrThrow();
        expect(Number(parts.n)).toBe(500);
      } finally {
        for (const r of running.splice(0)) await r.stop();
        await second?.close();
      }
    }, 90_000);
  },
  { clock },
);
