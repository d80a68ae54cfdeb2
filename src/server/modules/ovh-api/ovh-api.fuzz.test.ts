import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createSender, createSmsUser, type SeededAccount, seedCustomerWithAccount } from '../../../../test/factories.js';
import { ledger } from '../../../../test/ledger.js';
import { createOvhKeys, type OvhKeys, ovhCall, ovhHeaders } from '../../../../test/ovh.js';
import { OUTGOING_FILTERS } from './ovh-sms.views.js';

/** The statuses OVH's API answers a refusal with; anything else (a 500 above all) is a bug. */
const REFUSALS = [400, 403, 404, 409, 429];

const receiver = fc.oneof(
  { arbitrary: fc.constantFrom('+33612345678', '0033698765432', '0612345670', '+447700900123'), weight: 4 },
  { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
  { arbitrary: fc.stringMatching(/^\+?\d{1,18}$/), weight: 1 },
);

describeEachDialectWithApp('OVH API fuzz', (ctx) => {
  let seeded: SeededAccount;
  let keys: OvhKeys;

  beforeAll(async () => {
    seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 1_000_000 } });
    await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
    await createSmsUser(ctx.app, seeded.account, { login: 'shop' });
    keys = await createOvhKeys(ctx.app, seeded.customer);
  });

  it('answers any job body with a report or a refusal; a refusal writes and debits nothing, a report what it says', async () => {
    // Mostly a job OVH's clients would send (so that many are accepted), each field sometimes absent or wrong.
    const optional = <T>(right: fc.Arbitrary<T>, ...wrong: unknown[]) =>
      fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 4 },
        { arbitrary: right, weight: 10 },
        { arbitrary: wrong.length ? fc.constantFrom(...wrong) : fc.jsonValue({ maxDepth: 1 }), weight: 1 },
      );
    const body = fc
      .record({
        message: optional(fc.string({ minLength: 1, maxLength: 200 }), ''),
        receivers: optional(fc.array(receiver, { minLength: 1, maxLength: 5 }), []),
        sender: optional(fc.constant('MyShop'), 'Unknown', ''),
        senderForResponse: optional(fc.boolean()),
        noStopClause: optional(fc.boolean()),
        tag: optional(fc.string({ maxLength: 30 })),
        differedPeriod: optional(fc.integer({ min: 0, max: 600 }), -1, 10_000_000),
        validityPeriod: optional(fc.integer({ min: 1, max: 600_000 }), 0),
        priority: optional(fc.constantFrom('high', 'medium', 'low', 'veryLow'), 'urgent'),
        coding: optional(fc.constantFrom('7bit', '8bit'), '16bit'),
        charset: optional(fc.constant('UTF-8'), 'latin1'),
        class: optional(fc.constantFrom('flash', 'phoneDisplay', 'sim', 'toolkit'), 'none'),
        extra: fc.oneof({ arbitrary: fc.constant(undefined), weight: 20 }, { arbitrary: fc.string(), weight: 1 }),
      })
      .map((job) => Object.fromEntries(Object.entries(job).filter(([, v]) => v !== undefined)));
    let accepted = 0;
    const path = fc.constantFrom(`/sms/${seeded.account.name}/jobs`, `/sms/${seeded.account.name}/users/shop/jobs`);
    await fc.assert(
      fc.asyncProperty(body, path, async (job, url) => {
        const before = await ledger(ctx.database);
        const res = await ovhCall(ctx.app, keys, 'POST', url, { body: job });
        const after = await ledger(ctx.database);
        if (res.statusCode === 200) {
          accepted++;
          const report = res.json() as { ids: number[]; validReceivers: string[]; totalCreditsRemoved: number };
          expect(report.ids).toHaveLength(report.validReceivers.length);
          expect(after.outgoing - before.outgoing).toBe(report.ids.length);
          expect(before.credits[seeded.account.id] - after.credits[seeded.account.id]).toBeCloseTo(report.totalCreditsRemoved, 6);
        } else {
          expect(REFUSALS).toContain(res.statusCode);
          expect(typeof res.json().message).toBe('string');
          expect(after).toEqual(before);
        }
      }),
      { numRuns: 150 },
    );
    // About one job in six is accepted: the property checked both sides (none accepted in 150: ~1e-12).
    expect(accepted).toBeGreaterThan(0);
  });

  it('answers any query of the outgoing list with ids or a clear refusal', async () => {
    const value = fc.oneof(
      fc.constantFrom('2026-01-01', '2026-01-01T10:00:00+02:00', '2026-01-01T10:00:00 02:00', '0', '1', '8', '254', '+33612345678'),
      fc.string({ maxLength: 30 }),
    );
    const name = fc.constantFrom(...OUTGOING_FILTERS, 'unknown');
    await fc.assert(
      fc.asyncProperty(fc.dictionary(name, value, { maxKeys: 4 }), async (query) => {
        const res = await ovhCall(ctx.app, keys, 'GET', `/sms/${seeded.account.name}/outgoing`, { query });
        if (res.statusCode === 200) {
          const ids = res.json() as unknown[];
          expect(Array.isArray(ids) && ids.every((id) => Number.isInteger(id))).toBe(true);
        } else {
          expect(REFUSALS).toContain(res.statusCode);
          expect(typeof res.json().message).toBe('string');
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refuses any malformed authentication with OVH’s 400 or 403, never more', async () => {
    const header = fc.option(fc.oneof(fc.string({ maxLength: 60 }), fc.stringMatching(/^[A-Za-z0-9]{16,32}$/)), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        header,
        header,
        header,
        header,
        fc.string({ maxLength: 50 }),
        async (appKey, consumerKey, timestamp, signature, body) => {
          const url = `/1.0/sms/${seeded.account.name}/jobs`;
          const signed = ovhHeaders(keys, { method: 'POST', url, body });
          const headers: Record<string, string> = { ...signed };
          for (const [key, given] of [
            ['x-ovh-application', appKey],
            ['x-ovh-consumer', consumerKey],
            ['x-ovh-timestamp', timestamp],
            ['x-ovh-signature', signature],
          ] as const) {
            if (given === undefined) delete headers[key];
            else headers[key] = given.replace(/[^\x20-\x7e]/g, '');
          }
          const before = await ledger(ctx.database);
          const res = await ctx.app.inject({ method: 'POST', url, headers, payload: body });
          expect([400, 403]).toContain(res.statusCode);
          expect(await ledger(ctx.database)).toEqual(before);
        },
      ),
      { numRuns: 150 },
    );
  });
});
