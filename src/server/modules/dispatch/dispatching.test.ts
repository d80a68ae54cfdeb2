import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createSender, type SeededAccount, seedCustomerWithAccount } from '../../../../test/factories.js';
import { startTestSmsc, type TestSmsc } from '../../../../test/smsc.js';
import { systemClock } from '../../clock.js';
import { waitFor } from './dispatch-testing.js';
import { startDispatching } from './dispatching.js';

describeEachDialectWithApp('the dispatcher service of a process', (ctx) => {
  let smsc: TestSmsc;
  let seeded: SeededAccount;
  const silent = { debug() {}, info() {}, warn() {}, error() {} };

  beforeAll(async () => {
    smsc = await startTestSmsc({ behaviour: { holdResponses: true } });
    seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 100 } });
    await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
  });
  afterAll(async () => {
    await smsc?.close();
  });

  it('claims messages for RELAIS_DISPATCH_LEASE_MS (how soon a dead dispatcher’s messages return)', async () => {
    const dispatching = await startDispatching({
      carrierSpec: smsc.url('window=4&tps=0&enquire=0'),
      services: { ...ctx.app.services, config: { dispatchLeaseMs: 120_000 } },
      clock: systemClock,
      log: silent,
      stopTimeoutMs: 100,
    });
    try {
      const res = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${seeded.account.name}/jobs`,
        headers: seeded.auth,
        payload: { sender: 'MyShop', noStopClause: true, message: 'Held at the SMSC', receivers: ['+33612345678'] },
      });
      expect(res.statusCode, res.body).toBe(200);
      const [id] = res.json().ids as number[];
      // The SMSC holds its answer: the message stays claimed, its lease as configured (the default is 30 s).
      await waitFor(() => smsc.submits.length === 1, 'the submit at the SMSC');
      const claimedAt = Date.now();
      const { lease_until } = await ctx.database.db
        .selectFrom('dispatch_queue')
        .select('lease_until')
        .where('outgoing_id', '=', id)
        .executeTakeFirstOrThrow();
      expect(Number(lease_until)).toBeGreaterThan(claimedAt + 60_000);
      expect(Number(lease_until)).toBeLessThanOrEqual(claimedAt + 120_000);
    } finally {
      smsc.releaseResponses();
      await dispatching.stop();
    }
  });
});
