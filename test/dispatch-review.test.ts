// Adversarial review of the dispatcher and of the life of a message after its acceptance: claims,
// deferral, validity, carrier outcomes, receipts, timestamps, the OVH view, the detailed CSV, the
// callbacks queued with each status change, credits, and cancellations racing the dispatcher.
import { afterEach, beforeAll, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import {
  type Carrier,
  type CarrierMessage,
  createCarrier,
  type Receipt,
  type SubmitResult,
} from '../src/server/modules/carriers/carrier.js';
import {
  fakeClock,
  manualCarrier,
  memoryLog,
  recordingCarrier,
  silentLog,
  waitFor,
} from '../src/server/modules/dispatch/dispatch-testing.js';
import { createDispatcher } from '../src/server/modules/dispatch/dispatcher.service.js';
import { getTimeFormatter } from '../src/shared/account-time.js';
import { describeEachDialectWithApp } from './app.js';
import { bearer, createSender, createSmsUser, createToken, type SeededAccount, seedCustomerWithAccount } from './factories.js';
import { createOvhKeys, type OvhKeys, ovhCall } from './ovh.js';

const clock = fakeClock();
const HOOK = 'https://hooks.example.com/relais?k=1';
const INITIAL_CREDITS = 100_000;

interface ApiRow {
  id: number;
  status: string;
  createdAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
  expiredAt: string | null;
  carrierMessageId: string | null;
  errorCode: string | null;
  errorText: string | null;
  deferredUntil: string | null;
  validUntil: string | null;
  ptt: number;
  deliveryReceipt: number;
  credits: number;
}

interface OvhRow {
  id: number;
  ptt: number;
  deliveryReceipt: number;
  differedDelivery: number;
  sentAt: string | null;
  deliveredAt: string | null;
  creationDatetime: string;
}

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

describeEachDialectWithApp(
  'dispatch review: the life of a message after its acceptance',
  (ctx) => {
    let seeded: SeededAccount;
    let keys: OvhKeys;
    /** An SMS user with a callback URL: each status change of its messages queues a callback row (no worker runs: the rows stay). */
    let hooked: { login: string; password: string; auth: { authorization: string } };
    const stops: (() => Promise<void>)[] = [];
    const account = () => seeded.account.name;

    const send = async (payload: Record<string, unknown>, auth = hooked.auth) => {
      const res = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${account()}/jobs`,
        headers: auth,
        payload: { sender: 'MyShop', noStopClause: true, message: 'Hello', ...payload },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { ids: number[]; totalCreditsRemoved: number };
    };
    const sendIds = async (payload: Record<string, unknown>, auth = hooked.auth) => (await send(payload, auth)).ids;
    const row = async (id: number): Promise<ApiRow | null> => {
      const res = await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${account()}/outgoing/${id}`, headers: seeded.auth });
      return res.statusCode === 200 ? (res.json() as ApiRow) : null;
    };
    const statusOf = async (id: number) => (await row(id))?.status ?? 'gone';
    const waitStatus = (id: number, ...statuses: string[]) =>
      waitFor(
        async () => {
          const r = await row(id);
          return r !== null && statuses.includes(r.status) ? r : null;
        },
        `message ${id} ${statuses.join('|')}`,
      );
    const ovh = (method: 'GET' | 'POST' | 'DELETE', path: string, options: { body?: unknown; query?: Record<string, string> } = {}) =>
      ovhCall(ctx.app, keys, method, path, { ...options, timestamp: Math.floor(clock.now() / 1000) });
    const ovhOutgoing = async (id: number): Promise<OvhRow> => {
      const res = await ovh('GET', `/sms/${account()}/outgoing/${id}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as OvhRow;
    };
    const callbacks = async (id: number): Promise<Record<string, string>[]> =>
      (await ctx.app.services.callbacks.findByOutgoing(id)).map((r) => ({
        ...(JSON.parse(r.params) as Record<string, string>),
        url: r.url,
      }));
    const credits = async () =>
      Number(
        (await ctx.database.db.selectFrom('accounts').select('credits').where('id', '=', seeded.account.id).executeTakeFirstOrThrow())
          .credits,
      );
    /** The detailed CSV of these messages, by id: each line's cells by column name. */
    const detailedCsv = async (ids: number[]) => {
      const res = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${account()}/outgoing.csv?format=detailed&all=true&ids=${ids.join(',')}`,
        headers: seeded.auth,
      });
      expect(res.statusCode, res.body).toBe(200);
      const [header, ...lines] = res.body.split('\n').filter((l) => l !== '');
      const names = header.split(';');
      const out = new Map<number, Record<string, string>>();
      for (const line of lines) {
        const cells = line.slice(1, -1).split('";"');
        const record = Object.fromEntries(names.map((n, i) => [n, cells[i]]));
        out.set(Number(record.id), record);
      }
      return out;
    };

    /** A dispatcher on `carrier`, on the test's clock, woken by every accepted job. */
    async function startDispatcher(carrier: Carrier, options: { owner?: string; batch?: number; leaseMs?: number } = {}) {
      const { log, lines } = memoryLog();
      const dispatcher = createDispatcher({
        repository: ctx.app.services.dispatch,
        carrier,
        clock,
        owner: options.owner ?? `review-${Math.random().toString(36).slice(2)}`,
        log,
        pollMs: 20,
        batch: options.batch,
        leaseMs: options.leaseMs,
      });
      const unsubscribe = ctx.app.services.onAccepted(() => dispatcher.wake());
      await dispatcher.start();
      stops.push(async () => {
        unsubscribe();
        await dispatcher.stop(200);
        await carrier.close();
      });
      return { dispatcher, lines };
    }

    /** The simulator on the test's clock (its receipts' times, and its validity check, are the test's). */
    const simulator = () => recordingCarrier(createCarrier('simulator?receipt_delay=0&tps=1000000', { clock, log: silentLog }));

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: INITIAL_CREDITS } });
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
      keys = await createOvhKeys(ctx.app, seeded.customer);
      const user = await createSmsUser(ctx.app, seeded.account, { login: 'hooked', callbackUrl: HOOK });
      hooked = { login: user.login, password: user.password, auth: bearer(await createToken(ctx.app, seeded.account, { user: 'hooked' })) };
    });

    afterEach(async () => {
      for (const stop of stops.splice(0).reverse()) await stop();
      // Each test starts with an empty queue (a message left pending by one test is not the next one's).
      await ctx.database.db.deleteFrom('dispatch_queue').execute();
      clock.advance(60_000);
    });

    // ---------------------------------------------------------------------------------------------
    it('every outcome of the simulator: native API, OVH view, detailed CSV and callbacks agree; timestamps in order; no credit moves after acceptance', async () => {
      const creditsBefore = await credits();
      // Accepted first with a validity of one minute, then the clock passes it before any dispatcher runs.
      const tooLate = await send({ receivers: ['+33612350099'], validityPeriod: 1 });
      clock.advance(2 * 60_000);
      const job = await send({
        receivers: ['+33612350010', '+33612350000', '+33612350001', '+33612350053', '+33612350054', '+33612350002', '+33612350009'],
      });
      const [delivered, unreachable, undeliverable, blacklisted, forbidden, expired, throttled] = job.ids;
      const [expiredBefore] = tooLate.ids;
      const sim = simulator();
      const { dispatcher } = await startDispatcher(sim.carrier);
      for (const id of [delivered, unreachable, undeliverable, blacklisted, forbidden, expired, expiredBefore])
        await waitStatus(id, 'delivered', 'failed', 'expired');
      // Throttled once: back in the queue for a second of the test's clock.
      await waitFor(() => sim.count(throttled) === 1, 'the throttled submit');
      clock.advance(1000);
      dispatcher.wake();
      await waitStatus(throttled, 'delivered');

      const expected: Record<
        number,
        { status: string; ptt: number; dlr: number; text: string; code: string; sent: boolean; callbacks: string[] }
      > = {
        [delivered]: { status: 'delivered', ptt: 0, dlr: 1, text: 'delivered', code: '', sent: true, callbacks: ['sent', 'delivered'] },
        [unreachable]: {
          status: 'failed',
          ptt: 3,
          dlr: 2,
          text: 'destination unreachable',
          code: '3',
          sent: true,
          callbacks: ['sent', 'failed'],
        },
        [undeliverable]: { status: 'failed', ptt: 9, dlr: 2, text: 'undeliverable', code: '9', sent: true, callbacks: ['sent', 'failed'] },
        [blacklisted]: {
          status: 'failed',
          ptt: 53,
          dlr: 2,
          text: 'blacklisted (STOP)',
          code: '53',
          sent: true,
          callbacks: ['sent', 'failed'],
        },
        [forbidden]: { status: 'failed', ptt: 54, dlr: 2, text: 'forbidden destination', code: '54', sent: false, callbacks: ['failed'] },
        [expired]: { status: 'expired', ptt: 801, dlr: 2, text: 'expired', code: '', sent: true, callbacks: ['sent', 'expired'] },
        [expiredBefore]: { status: 'expired', ptt: 801, dlr: 2, text: 'expired', code: '', sent: false, callbacks: ['expired'] },
        [throttled]: { status: 'delivered', ptt: 0, dlr: 1, text: 'delivered', code: '', sent: true, callbacks: ['sent', 'delivered'] },
      };
      const ids = Object.keys(expected).map(Number);
      const csv = await detailedCsv(ids);
      const tz = getTimeFormatter(seeded.account.timezone);
      for (const id of ids) {
        const want = expected[id];
        const api = (await row(id))!;
        const o = await ovhOutgoing(id);
        const line = csv.get(id)!;
        const cbs = await callbacks(id);
        const what = `message ${id} (${want.status} ${want.ptt})`;
        expect({ status: api.status, ptt: api.ptt, dlr: api.deliveryReceipt }, what).toEqual({
          status: want.status,
          ptt: want.ptt,
          dlr: want.dlr,
        });
        expect({ ptt: o.ptt, dlr: o.deliveryReceipt, sentAt: ms(o.sentAt), deliveredAt: ms(o.deliveredAt) }, what).toEqual({
          ptt: want.ptt,
          dlr: want.dlr,
          sentAt: ms(api.sentAt),
          deliveredAt: ms(api.deliveredAt),
        });
        expect(
          {
            ptt: line.ptt,
            operatorCode: line.operatorCode,
            descriptionDlr: line.descriptionDlr,
            status: line.status,
            sentAt: line.sentAt,
            deliveredAt: line.deliveredAt,
          },
          what,
        ).toEqual({
          ptt: String(want.ptt),
          operatorCode: want.code,
          descriptionDlr: want.text,
          status: want.status,
          sentAt: api.sentAt === null ? '' : tz.sql(ms(api.sentAt)!),
          deliveredAt: api.deliveredAt === null ? '' : tz.sql(ms(api.deliveredAt)!),
        });
        expect(api.sentAt !== null, `${what}: sentAt`).toBe(want.sent);
        expect(api.deliveredAt !== null, `${what}: deliveredAt`).toBe(want.status === 'delivered');
        // Timestamps: created ≤ sent ≤ the final one.
        const created = ms(api.createdAt)!;
        const final = ms(api.deliveredAt ?? api.failedAt ?? api.expiredAt)!;
        expect(final, `${what}: final time`).not.toBeNull();
        if (api.sentAt !== null) {
          expect(created, `${what}: created ≤ sent`).toBeLessThanOrEqual(ms(api.sentAt)!);
          expect(ms(api.sentAt)!, `${what}: sent ≤ final`).toBeLessThanOrEqual(final);
        } else expect(created, `${what}: created ≤ final`).toBeLessThanOrEqual(final);
        // One callback per status change, in order, the last one saying what the OVH view says.
        expect(
          cbs.map((c) => c.status),
          what,
        ).toEqual(want.callbacks);
        expect(cbs.every((c) => c.url === HOOK && c.id === String(id))).toBe(true);
        const last = cbs.at(-1)!;
        expect({ ptt: last.ptt, description: last.description, descriptionDlr: last.descriptionDlr }, what).toEqual({
          ptt: String(want.ptt),
          description: String(want.dlr),
          descriptionDlr: want.text,
        });
        const dates = cbs.map((c) => Date.parse(c.date));
        expect(dates, `${what}: callback dates in order`).toEqual([...dates].sort((a, b) => a - b));
      }
      // Each submitted once, the throttled one twice, the one expired before sending never.
      for (const id of [delivered, unreachable, undeliverable, blacklisted, forbidden, expired]) expect(sim.count(id)).toBe(1);
      expect(sim.count(throttled)).toBe(2);
      expect(sim.count(expiredBefore)).toBe(0);
      // OVH's list filters see the same codes.
      const list = async (query: Record<string, string>) => {
        const res = await ovh('GET', `/sms/${account()}/outgoing`, { query });
        expect(res.statusCode, res.body).toBe(200);
        return (res.json() as number[]).filter((id) => ids.includes(id)).sort((a, b) => a - b);
      };
      expect(await list({ ptt: '801' })).toEqual([expired, expiredBefore].sort((a, b) => a - b));
      expect(await list({ deliveryReceipt: '1' })).toEqual([delivered, throttled].sort((a, b) => a - b));
      expect(await list({ ptt: '54' })).toEqual([forbidden]);
      // The debit of acceptance is all that moved: failures and expiries are not given back (the docs promise no refund), nothing is debited twice.
      expect(await credits()).toBe(creditsBefore - tooLate.totalCreditsRemoved - job.totalCreditsRemoved);
    });

    it('a message with only an intermediate receipt stays sent, then expires 6 hours after its validity (callback, OVH ptt 801, CSV); a late receipt changes nothing', async () => {
      const [held] = await sendIds({ receivers: ['+33612350008'], validityPeriod: 60 });
      const sim = simulator();
      const { dispatcher } = await startDispatcher(sim.carrier);
      const sent = await waitStatus(held, 'sent');
      expect(sent).toMatchObject({ ptt: 0, deliveryReceipt: 8 });
      // Validity over, but the grace period not yet: still waiting for its receipt.
      clock.advance(60 * 60_000 + 1000);
      await dispatcher.housekeeping();
      expect(await statusOf(held)).toBe('sent');
      clock.advance(6 * 3_600_000);
      await dispatcher.housekeeping();
      const r = (await row(held))!;
      expect(r).toMatchObject({ status: 'expired', ptt: 801, deliveryReceipt: 2, deliveredAt: null, sentAt: sent.sentAt });
      expect(ms(r.expiredAt)).toBe(Math.floor(clock.now() / 1000) * 1000);
      expect((await ovhOutgoing(held)).ptt).toBe(801);
      expect((await detailedCsv([held])).get(held)).toMatchObject({ ptt: '801', status: 'expired', deliveredAt: '' });
      expect((await callbacks(held)).map((c) => c.status)).toEqual(['sent', 'expired']);
      // The carrier's receipt, after all: an expired message does not become delivered, and no callback follows.
      await ctx.app.services.dispatch.applyReceipt(
        { carrierMessageId: sent.carrierMessageId!, status: 'delivered', at: clock.now(), errorCode: null, errorText: null },
        clock.now(),
      );
      expect(await statusOf(held)).toBe('expired');
      expect((await callbacks(held)).map((c) => c.status)).toEqual(['sent', 'expired']);
    });

    // ---------------------------------------------------------------------------------------------
    it('a receipt that comes before the carrier’s answer to the submit: sentAt ≤ deliveredAt, and the callbacks’ dates in order', async () => {
      const manual = manualCarrier();
      await startDispatcher(manual.carrier);
      const [id] = await sendIds({ receivers: ['+33612350101'] });
      await waitFor(() => manual.pending.length === 1, 'the submit at the carrier');
      // The SMSC sends the receipt (deliver_sm) before its submit_sm_resp is read: it is parked.
      const receivedAt = clock.now();
      await manual.receipt({ carrierMessageId: `early-${id}`, status: 'delivered', at: receivedAt, errorCode: null, errorText: null });
      expect(await statusOf(id)).toBe('pending');
      // The answer to the submit is read a moment later.
      clock.advance(1500);
      manual.acceptAll('early');
      const r = await waitStatus(id, 'delivered');
      const sentAt = ms(r.sentAt)!;
      const deliveredAt = ms(r.deliveredAt)!;
      expect(sentAt, `sentAt ${r.sentAt} must not be after deliveredAt ${r.deliveredAt}`).toBeLessThanOrEqual(deliveredAt);
      const o = await ovhOutgoing(id);
      expect(ms(o.sentAt)!).toBeLessThanOrEqual(ms(o.deliveredAt)!);
      const cbs = await callbacks(id);
      expect(cbs.map((c) => c.status)).toEqual(['sent', 'delivered']);
      expect(Date.parse(cbs[0].date)).toBeLessThanOrEqual(Date.parse(cbs[1].date));
    });

    it('a message whose validity ends while it waits for room at the carrier expires (ptt 801) and is never handed over', async () => {
      // A window of one: the first message holds it, the second waits in the dispatcher.
      const manual = manualCarrier(1);
      const { dispatcher } = await startDispatcher(manual.carrier);
      const [first] = await sendIds({ receivers: ['+33612350201'] });
      clock.advance(1);
      const [second] = await sendIds({ receivers: ['+33612350202'], validityPeriod: 1 });
      await waitFor(() => manual.pending.length === 1 && dispatcher.inFlight === 2, 'one at the carrier, one waiting for room');
      expect(manual.pending[0].message.id).toBe(first);
      // The carrier answers only after the second message's validity is over.
      clock.advance(2 * 60_000);
      manual.acceptAll('slow');
      const handedOver = () => manual.pending.some((p) => p.message.id === second);
      await waitFor(async () => handedOver() || (await statusOf(second)) !== 'pending', 'the second message handed over or settled');
      const handed = handedOver();
      manual.acceptAll('slow');
      expect(handed, 'a message past its validity was handed to the carrier').toBe(false);
      const r = await waitStatus(second, 'expired', 'sent', 'failed');
      expect(r).toMatchObject({ status: 'expired', ptt: 801, sentAt: null, carrierMessageId: null });
      expect((await callbacks(second)).map((c) => c.status)).toEqual(['expired']);
    });

    // ---------------------------------------------------------------------------------------------
    it('validity counts from the deferred send time: deferred 60 min with a 30 min validity is sent at its time, not expired', async () => {
      const sim = simulator();
      const { dispatcher } = await startDispatcher(sim.carrier);
      const [id] = await sendIds({ receivers: ['+33612350301'], differedPeriod: 60, validityPeriod: 30 });
      const accepted = (await row(id))!;
      expect(ms(accepted.validUntil)! - ms(accepted.deferredUntil)!).toBe(30 * 60_000);
      const o = await ovhOutgoing(id);
      expect(o).toMatchObject({ differedDelivery: 60, ptt: 254, deliveryReceipt: 0 });
      const jobs = await ovh('GET', `/sms/${account()}/jobs`);
      expect(jobs.json()).toContain(id);
      const byDeferral = async (minutes: string) =>
        (await ovh('GET', `/sms/${account()}/outgoing`, { query: { differedDelivery: minutes } })).json() as number[];
      expect(await byDeferral('60')).toContain(id);
      expect(await byDeferral('0')).not.toContain(id);
      clock.advance(59 * 60_000);
      dispatcher.wake();
      const [probe] = await sendIds({ receivers: ['+33612350302'] });
      await waitStatus(probe, 'delivered');
      expect(sim.count(id)).toBe(0);
      clock.advance(61_000);
      dispatcher.wake();
      const r = await waitStatus(id, 'delivered', 'expired', 'failed');
      expect(r.status).toBe('delivered');
      expect(ms(r.sentAt)!).toBeGreaterThanOrEqual(ms(r.deferredUntil)!);
      expect((await ovhOutgoing(id)).differedDelivery).toBe(60);
      expect((await ovh('GET', `/sms/${account()}/jobs`)).json()).not.toContain(id);
    });

    it('http2sms deferred (hhmmddMMYYYY in the account’s timezone): sent at that minute, not before; OVH shows the deferral', async () => {
      const sim = simulator();
      const { dispatcher } = await startDispatcher(sim.carrier);
      // Two hours ahead, on a whole minute, written in the account's timezone.
      const at = Math.ceil((clock.now() + 2 * 3_600_000) / 60_000) * 60_000;
      const parts = Object.fromEntries(
        new Intl.DateTimeFormat('en-GB', {
          timeZone: seeded.account.timezone,
          hourCycle: 'h23',
          year: 'numeric',
          month: '2-digit',
          day: '2-digit',
          hour: '2-digit',
          minute: '2-digit',
        })
          .formatToParts(new Date(at))
          .map((p) => [p.type, p.value]),
      );
      const deferred = `${parts.hour}${parts.minute}${parts.day}${parts.month}${parts.year}`;
      const query = new URLSearchParams({
        account: account(),
        login: hooked.login,
        password: hooked.password,
        from: 'MyShop',
        to: '+33612350401',
        message: 'Plus tard',
        noStop: '1',
        deferred,
        contentType: 'application/json',
      });
      const res = await ctx.app.inject({ method: 'GET', url: `/cgi-bin/sms/http2sms.cgi?${query}` });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { status: number; smsIds: string[] };
      expect(body.status, res.body).toBe(100);
      const id = Number(body.smsIds[0]);
      const accepted = (await row(id))!;
      expect(ms(accepted.deferredUntil)).toBe(at);
      expect((await ovhOutgoing(id)).differedDelivery).toBe(Math.round((at - ms(accepted.createdAt)!) / 60_000));
      clock.advance(at - clock.now() - 1000);
      dispatcher.wake();
      const [probe] = await sendIds({ receivers: ['+33612350402'] });
      await waitStatus(probe, 'delivered');
      expect(sim.count(id)).toBe(0);
      clock.advance(1000);
      dispatcher.wake();
      const r = await waitStatus(id, 'delivered', 'expired', 'failed');
      expect(r.status).toBe('delivered');
      expect(ms(r.sentAt)!).toBeGreaterThanOrEqual(at);
    });

    it('a deferred message canceled before its time (OVH DELETE /jobs/{id}) is never sent: credits back once, no callback', async () => {
      const sim = simulator();
      const { dispatcher } = await startDispatcher(sim.carrier);
      const before = await credits();
      const job = await send({ receivers: ['+33612350501'], differedPeriod: 10, message: 'x'.repeat(200) });
      const [id] = job.ids;
      expect(job.totalCreditsRemoved).toBe(2);
      expect(await credits()).toBe(before - 2);
      const del = await ovh('DELETE', `/sms/${account()}/jobs/${id}`);
      expect(del.statusCode, del.body).toBe(200);
      expect(await credits()).toBe(before);
      // A second cancel finds nothing and gives nothing back.
      expect((await ovh('DELETE', `/sms/${account()}/jobs/${id}`)).statusCode).toBe(404);
      expect(await credits()).toBe(before);
      clock.advance(11 * 60_000);
      dispatcher.wake();
      const [probe] = await sendIds({ receivers: ['+33612350502'] });
      await waitStatus(probe, 'delivered');
      expect(sim.count(id)).toBe(0);
      expect(await row(id)).toBeNull();
      expect(await callbacks(id)).toEqual([]);
      expect((await ovh('GET', `/sms/${account()}/outgoing/${id}`)).statusCode).toBe(404);
    });

    it('a throttled message waiting for its retry can be canceled: credits back, never submitted again, no callback', async () => {
      const sim = simulator();
      const { dispatcher } = await startDispatcher(sim.carrier);
      const before = await credits();
      const [id] = await sendIds({ receivers: ['+33612360009'] });
      await waitFor(
        () =>
          ctx.database.db
            .selectFrom('dispatch_queue')
            .select(['attempts', 'lease_owner'])
            .where('outgoing_id', '=', id)
            .where('attempts', '=', 1)
            .executeTakeFirst(),
        'the throttled message back in the queue',
      );
      expect(sim.count(id)).toBe(1);
      const del = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/accounts/${account()}/outgoing/${id}`, headers: seeded.auth });
      expect(del.statusCode, del.body).toBeLessThan(300);
      expect(await credits()).toBe(before);
      clock.advance(5000);
      dispatcher.wake();
      const [probe] = await sendIds({ receivers: ['+33612350610'] });
      await waitStatus(probe, 'delivered');
      expect(sim.count(id)).toBe(1);
      expect(await callbacks(id)).toEqual([]);
    });

    // ---------------------------------------------------------------------------------------------
    it('priority: a due low message is not held behind a deferred high one; once due, the high one passes the low ones due before it', async () => {
      // Accepted before any dispatcher runs, so that every one of them waits when the order is decided.
      const [deferredHigh] = await sendIds({ receivers: ['+33612350701'], priority: 'high', differedPeriod: 1 });
      clock.advance(1);
      const [low1] = await sendIds({ receivers: ['+33612350702'], priority: 'low' });
      clock.advance(1);
      const [medium] = await sendIds({ receivers: ['+33612350703'], priority: 'medium' });
      // A window of one and claims of one: the order of the submits is the order of the claims.
      const order: number[] = [];
      const answerNext = async (manual: ReturnType<typeof manualCarrier>) => {
        await waitFor(() => manual.pending.length === 1, 'a submit');
        order.push(manual.pending[0].message.id);
        manual.acceptAll('prio');
      };
      const manual1 = manualCarrier(1);
      const first = await startDispatcher(manual1.carrier, { batch: 1 });
      await answerNext(manual1);
      await answerNext(manual1);
      await waitFor(() => first.dispatcher.inFlight === 0, 'both recorded');
      // The high one is not due yet: the medium, then the low one.
      expect(order).toEqual([medium, low1]);
      await first.dispatcher.stop(200);
      // A low one due now; the high one becomes due a minute later (after it): the high one goes first.
      const [low2] = await sendIds({ receivers: ['+33612350705'], priority: 'veryLow' });
      clock.advance(60_000);
      const manual2 = manualCarrier(1);
      await startDispatcher(manual2.carrier, { batch: 1 });
      await answerNext(manual2);
      await answerNext(manual2);
      expect(order.slice(2)).toEqual([deferredHigh, low2]);
    });

    // ---------------------------------------------------------------------------------------------
    it('a receipt for a message deleted while sent changes nothing and does not hold up the receipt committed with it', async () => {
      const manual = manualCarrier();
      await startDispatcher(manual.carrier);
      const [gone, kept] = await sendIds({ receivers: ['+33612350801', '+33612350802'] });
      await waitFor(() => manual.pending.length === 2, 'both at the carrier');
      manual.acceptAll('del');
      await waitStatus(gone, 'sent');
      await waitStatus(kept, 'sent');
      const before = await credits();
      const del = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/accounts/${account()}/outgoing/${gone}`, headers: seeded.auth });
      expect(del.statusCode, del.body).toBeLessThan(300);
      // A sent message is paid: deleting it gives nothing back.
      expect(await credits()).toBe(before);
      const receipt = (cid: string, status: Receipt['status']): Receipt => ({
        carrierMessageId: cid,
        status,
        at: clock.now(),
        errorCode: status === 'failed' ? '3' : null,
        errorText: status === 'failed' ? 'destination unreachable' : null,
      });
      // Handed over together: one group commit.
      await Promise.all([manual.receipt(receipt(`del-${gone}`, 'failed')), manual.receipt(receipt(`del-${kept}`, 'delivered'))]);
      expect(await row(gone)).toBeNull();
      expect(await waitStatus(kept, 'delivered')).toMatchObject({ ptt: 0, deliveryReceipt: 1 });
      expect((await callbacks(gone)).map((c) => c.status)).toEqual(['sent']);
      expect((await callbacks(kept)).map((c) => c.status)).toEqual(['sent', 'delivered']);
      expect(await ctx.database.db.selectFrom('outgoing').select('id').where('id', '=', gone).execute()).toEqual([]);
    });

    it('an SMS user deleted while its messages are pending: they are still sent, and its callback URL is never called for them', async () => {
      const user = await createSmsUser(ctx.app, seeded.account, { login: 'leaving', callbackUrl: 'https://leaving.example.com/cb' });
      const auth = bearer(await createToken(ctx.app, seeded.account, { user: user.login }));
      const [id] = await sendIds({ receivers: ['+33612350901'] }, auth);
      await ctx.app.services.smsUsers.delete(SYSTEM_ACTOR, account(), user.login);
      const sim = simulator();
      await startDispatcher(sim.carrier);
      await waitStatus(id, 'delivered');
      expect(sim.count(id)).toBe(1);
      expect((await callbacks(id)).filter((c) => c.url.includes('leaving.example.com'))).toEqual([]);
    });

    // ---------------------------------------------------------------------------------------------
    it('a carrier whose submit throws (instead of answering retry): the message is retried, and the dispatcher goes on sending', async () => {
      const inner = simulator();
      let throwsLeft = 1;
      const submits: number[] = [];
      const throwing: Carrier = {
        name: 'throwing',
        get ready() {
          return inner.carrier.ready;
        },
        start: (onReceipt) => inner.carrier.start(onReceipt),
        submit(message: CarrierMessage): Promise<SubmitResult> {
          submits.push(message.id);
          if (throwsLeft > 0) {
            throwsLeft -= 1;
            throw new Error('socket not writable');
          }
          return inner.carrier.submit(message);
        },
        close: () => inner.carrier.close(),
      };
      const { dispatcher, lines } = await startDispatcher(throwing);
      const [first] = await sendIds({ receivers: ['+33612351001'] });
      await waitFor(() => submits.length === 1, 'the first submit');
      const [second] = await sendIds({ receivers: ['+33612351002'] });
      clock.advance(5000);
      dispatcher.wake();
      await waitFor(
        async () => (await statusOf(second)) === 'delivered' || lines.some((l) => l.msg === 'dispatcher: loop crashed'),
        'the second message delivered (or the loop crashed)',
        5000,
      );
      expect(
        lines.filter((l) => l.level === 'error').map((l) => l.msg),
        'the dispatcher’s loop must survive a carrier error',
      ).not.toContain('dispatcher: loop crashed');
      expect(await statusOf(second)).toBe('delivered');
      clock.advance(5000);
      dispatcher.wake();
      await waitFor(async () => (await statusOf(first)) === 'delivered', 'the first message retried and delivered', 5000);
      expect(submits.filter((id) => id === first)).toHaveLength(2);
      expect(dispatcher.inFlight).toBe(0);
    });

    it('messages claimed ahead of a carrier that went away go back to the queue within a second: canceling or deleting them then stops them (credits back)', async () => {
      // A window of one; the SMSC answers the first submit with a retry and goes away (the link is down):
      // the two messages claimed ahead of it, waiting in the dispatcher, are given back to the queue.
      // (Behind a window that is merely full they stay claimed, a few milliseconds: handed over at once.)
      const manual = manualCarrier(1);
      let up = true;
      const flaky: Carrier = {
        name: 'flaky',
        get ready() {
          return up && manual.carrier.ready;
        },
        start: (onReceipt) => manual.carrier.start(onReceipt),
        submit: (message) => manual.carrier.submit(message),
        close: () => manual.carrier.close(),
      };
      const { dispatcher } = await startDispatcher(flaky);
      const [first] = await sendIds({ receivers: ['+33612351101'] });
      await waitFor(() => manual.pending.length === 1, 'the first message at the carrier');
      const [canceled] = await sendIds({ receivers: ['+33612351102'] });
      const [deleted] = await sendIds({ receivers: ['+33612351103'] });
      await waitFor(() => dispatcher.inFlight === 3, 'the two others claimed, waiting for room');
      up = false;
      for (const p of manual.pending.splice(0)) p.answer({ ok: false, retry: true, reason: 'link lost' });
      await waitFor(() => dispatcher.inFlight === 0, 'the claimed messages given back');
      const before = await credits();
      const cancel = await ovh('DELETE', `/sms/${account()}/jobs/${canceled}`);
      const del = await ctx.app.inject({
        method: 'DELETE',
        url: `/api/v1/accounts/${account()}/outgoing/${deleted}`,
        headers: seeded.auth,
      });
      expect(del.statusCode, del.body).toBeLessThan(300);
      const creditsBack = (await credits()) - before;
      // The carrier comes back: only the first (retried) goes out.
      up = true;
      clock.advance(60_000);
      dispatcher.wake();
      const handed: number[] = [];
      await waitFor(() => {
        for (const p of manual.pending) handed.push(p.message.id);
        manual.acceptAll('back');
        return handed.includes(first) && dispatcher.inFlight === 0;
      }, 'the first message handed over again');
      expect({
        ovhCancel: cancel.statusCode,
        creditsBack,
        handedOverAfterwards: handed.filter((id) => id !== first),
        deletedRow: await row(deleted),
      }).toEqual({ ovhCancel: 200, creditsBack: 2, handedOverAfterwards: [], deletedRow: null });
    });

    it('several dispatchers at once on one database, with retries and deferrals: every message submitted once (twice when throttled), one callback per status change', async () => {
      const shared = createCarrier('simulator?receipt_delay=0&tps=1000000', { clock, log: silentLog });
      const submits: number[] = [];
      const a = recordingCarrier(shared, { submits });
      const b = recordingCarrier(shared, { submits });
      const receivers = Array.from({ length: 60 }, (_, i) => `+33671${String(i).padStart(2, '0')}${i % 3 === 0 ? '0009' : '0011'}`);
      const now = await sendIds({ receivers: receivers.slice(0, 40), priority: 'low' });
      const later = await sendIds({ receivers: receivers.slice(40), differedPeriod: 1 });
      const d1 = await startDispatcher(a.carrier, { owner: 'first', batch: 4 });
      const d2 = await startDispatcher(b.carrier, { owner: 'second', batch: 4 });
      const all = [...now, ...later];
      const settled = async () =>
        Number(
          (
            await ctx.database.db
              .selectFrom('outgoing')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('id', 'in', all)
              .where('status', '=', 'delivered')
              .executeTakeFirstOrThrow()
          ).n,
        );
      // The clock moves on (retries, deferral) only while neither dispatcher holds a message, so that no lease runs out under it.
      await waitFor(async () => {
        if (d1.dispatcher.inFlight === 0 && d2.dispatcher.inFlight === 0) {
          clock.advance(2000);
          d1.dispatcher.wake();
          d2.dispatcher.wake();
        }
        return (await settled()) === all.length;
      }, 'every message delivered');
      const throttledIds = new Set(all.filter((_, i) => i % 3 === 0));
      for (const id of all) {
        const n = submits.filter((s) => s === id).length;
        expect(n, `message ${id}`).toBe(throttledIds.has(id) ? 2 : 1);
        expect((await callbacks(id)).map((c) => c.status)).toEqual(['sent', 'delivered']);
      }
    });
  },
  { clock },
);
