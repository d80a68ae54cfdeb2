import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import {
  bearer,
  createSender,
  createSmsUser,
  createToken,
  type SeededAccount,
  seedCustomerWithAccount,
} from '../../../../test/factories.js';
import { type HttpListener, startHttpListener } from '../../../../test/http-listener.js';
import { startTestSmsc, type TestSmsc } from '../../../../test/smsc.js';
import { systemClock } from '../../clock.js';
import { createCarrier } from '../carriers/carrier.js';
import { memoryLog, startDispatcherWithCallbacks, waitFor } from './dispatch-testing.js';
import type { DispatcherDeps } from './dispatcher.service.js';

// The dispatcher on the SMPP carrier against the loopback test SMSC: receipts recorded in groups,
// OVH codes of SMPP receipts, callbacks delivered.

describeEachDialectWithApp('dispatcher on SMPP: receipts', (ctx) => {
  let seeded: SeededAccount;
  let smsc: TestSmsc;
  let listener: HttpListener | undefined;
  let base: string;
  const calls: Record<string, string>[] = [];
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 100_000 } });
    await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
    smsc = await startTestSmsc();
    listener = await startHttpListener((req, res) => {
      calls.push(Object.fromEntries(new URL(req.url ?? '/', 'http://localhost').searchParams));
      res.writeHead(200).end('ok');
    });
    base = listener.base;
  });

  afterAll(async () => {
    await smsc?.close();
    await listener?.close();
  });

  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    smsc.setBehaviour({ autoReceipt: null });
  });

  /** A user with a callback URL on the listener; sends as that user. */
  async function sender() {
    const login = `sm-${Math.random().toString(36).slice(2, 8)}`;
    await createSmsUser(ctx.app, seeded.account, { login, callbackUrl: `${base}/cb` });
    const auth = bearer(await createToken(ctx.app, seeded.account, { user: login }));
    return async (receivers: string[]): Promise<number[]> => {
      const res = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${seeded.account.name}/jobs`,
        headers: auth,
        payload: { sender: 'MyShop', noStopClause: true, message: 'Hello', receivers },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().ids as number[];
    };
  }

  /** The SMPP carrier, a dispatcher counting the receipts of each commit, and a callbacks worker. */
  async function start() {
    const { log, lines } = memoryLog();
    const carrier = createCarrier(smsc.url('window=64&tps=0'), { clock: systemClock, log });
    const receiptsPerCommit: number[] = [];
    const repository: DispatcherDeps['repository'] = {
      claim: (...a) => ctx.app.services.dispatch.claim(...a),
      expireUnconfirmed: (...a) => ctx.app.services.dispatch.expireUnconfirmed(...a),
      extendLeases: (...a) => ctx.app.services.dispatch.extendLeases(...a),
      sweepEarlyReceipts: (...a) => ctx.app.services.dispatch.sweepEarlyReceipts(...a),
      settle: (owner, batch, now) => {
        if (batch.receipts?.length) receiptsPerCommit.push(batch.receipts.length);
        return ctx.app.services.dispatch.settle(owner, batch, now);
      },
    };
    const { stop } = await startDispatcherWithCallbacks({ services: ctx.app.services, carrier, clock: systemClock, log, repository });
    stops.push(stop);
    return { receiptsPerCommit, lines };
  }

  const message = async (id: number) => {
    const res = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/accounts/${seeded.account.name}/outgoing/${id}`,
      headers: seeded.auth,
    });
    return res.json() as { status: string; ptt: number; deliveryReceipt: number; errorCode: string | null; errorText: string | null };
  };

  it('records receipts that arrive together in shared transactions, answers each one, and calls back', async () => {
    const send = await sender();
    const { receiptsPerCommit } = await start();
    smsc.setBehaviour({ autoReceipt: { stat: 'DELIVRD', delayMs: 0 } });
    const resps = smsc.received.deliverSmResps.length;
    const receivers = Array.from({ length: 300 }, (_, i) => `+336123${String(i).padStart(5, '0')}`);
    const ids = await send(receivers);
    await waitFor(() => smsc.received.deliverSmResps.length - resps >= 300, 'every receipt answered');
    expect(smsc.received.deliverSmResps.slice(resps).every((s) => s === 0)).toBe(true);
    for (const id of [ids[0], ids[150], ids[299]])
      expect(await message(id)).toMatchObject({ status: 'delivered', ptt: 0, deliveryReceipt: 1 });
    const delivered = await ctx.database.db
      .selectFrom('outgoing')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('id', 'in', ids)
      .where('status', '=', 'delivered')
      .executeTakeFirstOrThrow();
    expect(Number(delivered.n)).toBe(300);
    // Not one transaction a receipt: receipts waiting while a commit runs share the next one.
    expect(receiptsPerCommit.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(300);
    expect(Math.max(...receiptsPerCommit)).toBeGreaterThan(1);
    expect(receiptsPerCommit.length).toBeLessThan(300);
    const idSet = new Set(ids.map(String));
    await waitFor(() => calls.filter((c) => idSet.has(c.id) && c.status === 'delivered').length === 300, 'a delivered callback each');
  });

  it('gives failed SMPP receipts the OVH ptt of their stat word and keeps err: as the operator code', async () => {
    const send = await sender();
    await start();
    const cases: { stat: string; err: string; status: string; ptt: number }[] = [
      { stat: 'UNDELIV', err: '001', status: 'failed', ptt: 9 },
      { stat: 'REJECTD', err: '003', status: 'failed', ptt: 803 },
      { stat: 'DELETED', err: '053', status: 'failed', ptt: 802 },
      { stat: 'UNKNOWN', err: '002', status: 'failed', ptt: 804 },
      { stat: 'EXPIRED', err: '000', status: 'expired', ptt: 801 },
    ];
    const receivers = cases.map((_, i) => `+3361299${String(i).padStart(4, '0')}`);
    const ids = await send(receivers);
    const submits = await waitFor(() => {
      const found = receivers.map((r) => smsc.submits.find((s) => s.destinationAddr === r.slice(1) && s.messageId));
      return found.every(Boolean) ? found : null;
    }, 'every message submitted');
    for (const id of ids) await waitFor(async () => (await message(id)).status === 'sent', `message ${id} sent`);
    for (const [i, c] of cases.entries()) {
      expect(await smsc.sendReceipt({ messageId: submits[i]!.messageId!, stat: c.stat, err: c.err, form: 'text' })).toBe(0);
    }
    for (const [i, c] of cases.entries()) {
      const m = await message(ids[i]);
      expect(m, c.stat).toMatchObject({ status: c.status, ptt: c.ptt, deliveryReceipt: 2, errorText: c.stat });
      if (c.status === 'failed') expect(m.errorCode, c.stat).toBe(c.err);
    }
    await waitFor(() => ids.every((id) => calls.some((c) => c.id === String(id) && c.status !== 'sent')), 'a final callback each');
    for (const [i, c] of cases.entries()) {
      expect(calls.find((call) => call.id === String(ids[i]) && call.status !== 'sent')).toMatchObject({
        status: c.status,
        ptt: String(c.ptt),
        description: '2',
      });
    }
  });

  it('applies receipts handed over concurrently in arrival order: a part’s first final receipt wins', async () => {
    const send = await sender();
    await start();
    const [id] = await send(['+33612399990']);
    const submit = await waitFor(() => smsc.submits.find((s) => s.destinationAddr === '33612399990' && s.messageId), 'submitted');
    await waitFor(async () => (await message(id)).status === 'sent', 'sent');
    // Three receipts in one burst: intermediate, final failure, then a late DELIVRD that must not win.
    const answers = await Promise.all(
      (['ACCEPTD', 'UNDELIV', 'DELIVRD'] as const).map((stat) => smsc.sendReceipt({ messageId: submit.messageId!, stat, err: '001' })),
    );
    expect(answers).toEqual([0, 0, 0]);
    expect(await message(id)).toMatchObject({ status: 'failed', ptt: 9, errorCode: '001', errorText: 'UNDELIV' });
  });
});
