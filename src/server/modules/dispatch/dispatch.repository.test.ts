import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import {
  bearer,
  createSender,
  createSmsUser,
  createToken,
  type SeededAccount,
  seedCustomerWithAccount,
} from '../../../../test/factories.js';
import { SYSTEM_ACTOR } from '../accounts/accounts.service.js';
import type { Receipt } from '../carriers/carrier.js';
import { callbackParams, EXPIRED_WITHOUT_RECEIPT, RECEIPT_GRACE_MS } from './dispatch.repository.js';
import { fakeClock } from './dispatch-testing.js';

describe('callback parameters', () => {
  it('gives OVH callback parameters', () => {
    const at = Date.UTC(2024, 5, 13, 13, 3, 57);
    expect(
      callbackParams({ id: 7, status: 'failed', at, errorCode: '3', errorText: 'destination unreachable' }, 'promo', 'Europe/Paris'),
    ).toEqual({
      id: '7',
      ptt: '3',
      date: '2024-06-13T15:03:57+02:00',
      description: '2',
      descriptionDlr: 'destination unreachable',
      status: 'failed',
      tag: 'promo',
    });
    expect(callbackParams({ id: 7, status: 'sent', at, errorCode: null, errorText: null }, 't', 'UTC')).toMatchObject({
      ptt: '0',
      description: '8',
      descriptionDlr: 'sent',
    });
  });
});

const clock = fakeClock();
const LEASE = 10_000;

describeEachDialectWithApp(
  'dispatch repository',
  (ctx) => {
    let seeded: SeededAccount;
    const repo = () => ctx.app.services.dispatch;
    const db = () => ctx.database.db;
    const send = async (payload: Record<string, unknown>, auth = seeded.auth, account = seeded.account.name): Promise<number[]> => {
      const res = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${account}/jobs`,
        headers: auth,
        payload: { sender: 'MyShop', noStopClause: true, message: 'Hello', receivers: ['+33612345678'], ...payload },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().ids as number[];
    };
    const message = (id: number) =>
      db()
        .selectFrom('outgoing')
        .select(['status', 'sent_at', 'delivered_at', 'failed_at', 'expired_at', 'carrier_message_id', 'error_code', 'error_text'])
        .where('id', '=', id)
        .executeTakeFirst();
    const receipt = (carrierMessageId: string, status: Receipt['status'] = 'delivered', extra: Partial<Receipt> = {}): Receipt => ({
      carrierMessageId,
      status,
      at: clock.now(),
      errorCode: null,
      errorText: null,
      ...extra,
    });
    const claimOne = async (owner: string, id: number) => {
      const claimed = await repo().claim(owner, clock.now(), 100, LEASE);
      expect(claimed.map((c) => c.id)).toContain(id);
      return claimed.find((c) => c.id === id)!;
    };

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 10_000 } });
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
    });

    afterEach(async () => {
      // Each test starts with an empty queue.
      await db().deleteFrom('dispatch_queue').execute();
      clock.advance(60_000);
    });

    it('claims due entries by priority, then due date, with what the carrier needs', async () => {
      const [low] = await send({ priority: 'veryLow', receivers: ['+33612345601'] });
      clock.advance(1);
      const [high] = await send({ priority: 'high', receivers: ['+33612345602'], class: 'flash', message: 'Été' });
      clock.advance(1);
      const [medium] = await send({ priority: 'medium', receivers: ['+33612345603'] });
      const [later] = await send({ priority: 'high', receivers: ['+33612345604'], differedPeriod: 5 });
      const claimed = await repo().claim('a', clock.now(), 10, LEASE);
      expect(claimed.map((c) => c.id)).toEqual([high, medium, low]);
      expect(claimed[0]).toEqual({
        id: high,
        sender: 'MyShop',
        receiver: '+33612345602',
        text: 'Été',
        encoding: 'gsm7',
        messageClass: 0,
        validUntil: expect.any(Number),
        attempts: 0,
        status: 'pending',
      });
      expect(claimed[1].messageClass).toBeNull();
      // Leased: nobody else gets them; the deferred one is not due.
      expect(await repo().claim('b', clock.now(), 10, LEASE)).toEqual([]);
      clock.advance(5 * 60_000);
      expect((await repo().claim('b', clock.now(), 10, LEASE)).map((c) => c.id).sort()).toEqual([low, high, medium, later].sort());
    });

    it('claims no more than asked', async () => {
      await send({ receivers: ['+33612345611', '+33612345612', '+33612345613'] });
      expect(await repo().claim('a', clock.now(), 2, LEASE)).toHaveLength(2);
      expect(await repo().claim('a', clock.now(), 2, LEASE)).toHaveLength(1);
    });

    it('sends the text kept with the job when the account does not store texts', async () => {
      const s = await seedCustomerWithAccount(ctx.app);
      await createSender(ctx.app, s.account, { sender: 'MyShop' });
      await db().updateTable('accounts').set({ store_text: 0 }).where('id', '=', s.account.id).execute();
      const [id] = await send({ message: 'secret code 1234' }, s.auth, s.account.name);
      expect((await db().selectFrom('outgoing').select('message').where('id', '=', id).executeTakeFirstOrThrow()).message).toBe('');
      expect((await claimOne('a', id)).text).toBe('secret code 1234');
    });

    it('records sent with the carrier ids, once, and only for the lease holder', async () => {
      const [id] = await send({});
      await claimOne('a', id);
      // a's lease runs out; b claims and sends.
      expect(await repo().claim('b', clock.now() + LEASE - 1, 10, LEASE)).toEqual([]);
      clock.advance(LEASE + 1);
      await claimOne('b', id);
      expect(await repo().markSent('b', id, ['b-1'], clock.now())).toBe(true);
      // a comes back late: nothing it says overwrites b's.
      expect(await repo().markSent('a', id, ['a-1'], clock.now())).toBe(false);
      expect(await repo().markFailed('a', id, 'ESME_RSYSERR', 'late', clock.now())).toBe(false);
      expect(await repo().markSent('b', id, ['b-2'], clock.now())).toBe(false);
      expect(await message(id)).toMatchObject({ status: 'sent', sent_at: clock.now(), carrier_message_id: 'b-1', error_code: null });
      expect(
        await db().selectFrom('carrier_parts').select(['carrier_message_id', 'part', 'status']).where('outgoing_id', '=', id).execute(),
      ).toEqual([{ carrier_message_id: 'b-1', part: 1, status: 'sent' }]);
      expect(await db().selectFrom('dispatch_queue').select('outgoing_id').where('outgoing_id', '=', id).execute()).toEqual([]);
    });

    it('records a message released by another dispatcher as sent (its answer came after all)', async () => {
      const [id] = await send({});
      await claimOne('a', id);
      clock.advance(LEASE + 1);
      await claimOne('b', id);
      expect(await repo().release('b', id, clock.now() + 1000, 1)).toBe(true);
      expect(await repo().markSent('a', id, ['a-1'], clock.now())).toBe(true);
      expect(await message(id)).toMatchObject({ status: 'sent', carrier_message_id: 'a-1' });
    });

    it('never resurrects a message deleted or canceled while it was being sent', async () => {
      const [deleted, canceled, orphan] = await send({ receivers: ['+33612345621', '+33612345622', '+33612345623'] });
      await claimOne('a', deleted);
      const res = await ctx.app.inject({
        method: 'DELETE',
        url: `/api/v1/accounts/${seeded.account.name}/outgoing/${deleted}`,
        headers: seeded.auth,
      });
      expect(res.statusCode).toBeLessThan(300);
      await db().updateTable('outgoing').set({ status: 'canceled', canceled_at: clock.now() }).where('id', '=', canceled).execute();
      expect(await repo().markSent('a', deleted, ['x-1'], clock.now())).toBe(false);
      expect(await repo().markSent('a', canceled, ['x-2'], clock.now())).toBe(false);
      expect(await message(deleted)).toBeUndefined();
      expect(await message(canceled)).toMatchObject({ status: 'canceled', sent_at: null, carrier_message_id: null });
      expect(
        await db().selectFrom('carrier_parts').select('carrier_message_id').where('carrier_message_id', 'in', ['x-1', 'x-2']).execute(),
      ).toEqual([]);
      // Deleted before any claim: its queue entry is dropped, never handed out.
      await db().deleteFrom('outgoing').where('id', '=', orphan).execute();
      clock.advance(LEASE + 1);
      expect(await repo().claim('b', clock.now(), 10, LEASE)).toEqual([]);
      expect(await db().selectFrom('dispatch_queue').select('outgoing_id').execute()).toEqual([]);
    });

    it('fails, expires and releases (back-off) only from pending', async () => {
      const [failed, expired, retried] = await send({ receivers: ['+33612345631', '+33612345632', '+33612345633'] });
      await repo().claim('a', clock.now(), 10, LEASE);
      expect(await repo().markFailed('a', failed, '54', 'forbidden destination', clock.now())).toBe(true);
      expect(await repo().markExpired('a', expired, clock.now())).toBe(true);
      expect(await repo().release('a', retried, clock.now() + 4000, 3)).toBe(true);
      expect(await message(failed)).toMatchObject({
        status: 'failed',
        failed_at: clock.now(),
        error_code: '54',
        error_text: 'forbidden destination',
        sent_at: null,
      });
      expect(await message(expired)).toMatchObject({ status: 'expired', expired_at: clock.now(), sent_at: null });
      expect(await repo().claim('b', clock.now() + 3999, 10, LEASE)).toEqual([]);
      clock.advance(4000);
      expect(await repo().claim('b', clock.now(), 10, LEASE)).toEqual([expect.objectContaining({ id: retried, attempts: 3 })]);
      // Leases are renewed only for their owner.
      expect(await repo().extendLeases('a', [retried], clock.now() + 99_999)).toBe(0);
      expect(await repo().extendLeases('b', [retried], clock.now() + 99_999)).toBe(1);
    });

    it('parks a receipt that comes before its message is recorded sent, and applies it then', async () => {
      const [id] = await send({});
      await claimOne('a', id);
      const early = receipt('early-1', 'delivered', { at: clock.now() + 5 });
      expect(await repo().applyReceipt(early, clock.now())).toBeUndefined();
      expect(await db().selectFrom('early_receipts').select('carrier_message_id').execute()).toEqual([{ carrier_message_id: 'early-1' }]);
      expect(await repo().markSent('a', id, ['early-1'], clock.now())).toBe(true);
      expect(await message(id)).toMatchObject({ status: 'delivered', sent_at: clock.now(), delivered_at: clock.now() + 5 });
      expect(await db().selectFrom('early_receipts').select('carrier_message_id').execute()).toEqual([]);
    });

    it('applies receipts per part: delivered when all are, failed as soon as one fails; duplicates change nothing', async () => {
      const [two, broken] = await send({ receivers: ['+33612345641', '+33612345642'], message: 'y'.repeat(200) });
      await repo().claim('a', clock.now(), 10, LEASE);
      await repo().settle(
        'a',
        {
          outcomes: [
            { kind: 'sent', id: two, carrierMessageIds: ['p-1', 'p-2'] },
            { kind: 'sent', id: broken, carrierMessageIds: ['q-1', 'q-2'] },
          ],
        },
        clock.now(),
      );
      expect(await repo().applyReceipt(receipt('p-1', 'sent'), clock.now())).toMatchObject({ id: two, status: 'sent' });
      expect(await repo().applyReceipt(receipt('p-1', 'delivered', { at: clock.now() + 1 }), clock.now())).toMatchObject({
        status: 'sent',
        deliveredAt: null,
      });
      expect(await repo().applyReceipt(receipt('p-2', 'delivered', { at: clock.now() + 2 }), clock.now())).toMatchObject({
        status: 'delivered',
        deliveredAt: clock.now() + 2,
        carrierMessageId: 'p-1',
      });
      expect(await repo().applyReceipt(receipt('p-2', 'failed', { errorCode: '3' }), clock.now())).toMatchObject({
        status: 'delivered',
        errorCode: null,
      });

      expect(
        await repo().applyReceipt(receipt('q-2', 'failed', { errorCode: '001', errorText: 'UNDELIV', at: clock.now() + 3 }), clock.now()),
      ).toMatchObject({
        status: 'failed',
        failedAt: clock.now() + 3,
        errorCode: '001',
        errorText: 'UNDELIV',
      });
      expect(await repo().applyReceipt(receipt('q-1', 'delivered'), clock.now())).toMatchObject({ status: 'failed', deliveredAt: null });
      expect(
        await db()
          .selectFrom('carrier_parts')
          .select(['carrier_message_id', 'status'])
          .where('outgoing_id', 'in', [two, broken])
          .orderBy('carrier_message_id')
          .execute(),
      ).toEqual([
        { carrier_message_id: 'p-1', status: 'delivered' },
        { carrier_message_id: 'p-2', status: 'delivered' },
        { carrier_message_id: 'q-1', status: 'delivered' },
        { carrier_message_id: 'q-2', status: 'failed' },
      ]);
    });

    it('sweeps parked receipts: applies those now known, drops those older than 24 hours', async () => {
      const [id] = await send({});
      expect(await repo().applyReceipt(receipt('late-1', 'expired', { errorText: 'EXPIRED' }), clock.now())).toBeUndefined();
      expect(await repo().applyReceipt(receipt('never-1'), clock.now())).toBeUndefined();
      // Another process recorded the id without seeing the parked receipt.
      await db()
        .updateTable('outgoing')
        .set({ status: 'sent', sent_at: clock.now(), carrier_message_id: 'late-1' })
        .where('id', '=', id)
        .execute();
      await db().insertInto('carrier_parts').values({ carrier_message_id: 'late-1', outgoing_id: id, part: 1, status: 'sent' }).execute();
      expect(await repo().sweepEarlyReceipts(clock.now())).toEqual({ applied: 1, dropped: 0 });
      expect(await message(id)).toMatchObject({ status: 'expired', error_text: 'EXPIRED' });
      expect(await repo().sweepEarlyReceipts(clock.now() + 24 * 3_600_000 + 1)).toEqual({ applied: 0, dropped: 1 });
      expect(await db().selectFrom('early_receipts').select('id').execute()).toEqual([]);
    });

    it('expires sent messages whose receipt never came, past their validity and a grace period, and forgets carrier ids no longer awaited', async () => {
      await createSmsUser(ctx.app, seeded.account, { login: 'noreceipt', callbackUrl: 'https://hooks.example.com/expired' });
      const asUser = bearer(await createToken(ctx.app, seeded.account, { user: 'noreceipt' }));
      const [silent] = await send({ validityPeriod: 60, receivers: ['+33612345691'] }, asUser);
      const [delivered] = await send({ validityPeriod: 60, receivers: ['+33612345692'] }, asUser);
      const [longer] = await send({ receivers: ['+33612345693'] }, asUser);
      await repo().claim('a', clock.now(), 10, LEASE);
      await repo().markSent('a', silent, ['nr-1', 'nr-2'], clock.now());
      await repo().markSent('a', delivered, ['nr-3'], clock.now());
      await repo().markSent('a', longer, ['nr-4'], clock.now());
      await repo().applyReceipt(receipt('nr-3'), clock.now());
      const parts = async () =>
        (
          await db()
            .selectFrom('carrier_parts')
            .select('carrier_message_id')
            .where('carrier_message_id', 'like', 'nr-%')
            .orderBy('carrier_message_id')
            .execute()
        ).map((r) => r.carrier_message_id);

      // Within the validity: nothing expires; the delivered message's carrier id is no longer needed.
      const first = await repo().expireUnconfirmed(clock.now());
      expect(first.partsDropped).toBeGreaterThanOrEqual(1);
      expect(await parts()).toEqual(['nr-1', 'nr-2', 'nr-4']);
      expect(await message(silent)).toMatchObject({ status: 'sent' });

      // Validity (1 h) and grace over: the silent one expires, with its callback; the longer one waits.
      const later = clock.now() + 60 * 60_000 + RECEIPT_GRACE_MS + 1000;
      const second = await repo().expireUnconfirmed(later);
      expect(second.expired).toBeGreaterThanOrEqual(1);
      expect(await message(silent)).toMatchObject({ status: 'expired', expired_at: later, error_text: EXPIRED_WITHOUT_RECEIPT });
      expect(await message(longer)).toMatchObject({ status: 'sent' });
      expect(await parts()).toEqual(['nr-4']);
      const callbacks = await ctx.app.services.callbacks.findByOutgoing(silent);
      expect(callbacks.map((r) => JSON.parse(r.params).status)).toEqual(['sent', 'expired']);
      expect(callbacks[1].url).toBe('https://hooks.example.com/expired');
      // A late receipt for it changes nothing (only `sent` messages take receipts).
      await repo().applyReceipt(receipt('nr-1'), later);
      expect(await message(silent)).toMatchObject({ status: 'expired' });
      expect(await repo().expireUnconfirmed(later)).toEqual({ expired: 0, partsDropped: 0 });
    });

    it('expires every message past its validity and drops every carrier id no longer awaited in one sweep, however many (in batches)', async () => {
      const ids = await send({
        validityPeriod: 1,
        receivers: ['+33612345601', '+33612345602', '+33612345603', '+33612345604', '+33612345605'],
      });
      const [delivered1, delivered2, delivered3] = await send({ receivers: ['+33612345606', '+33612345607', '+33612345608'] });
      await repo().claim('a', clock.now(), 100, LEASE);
      for (const [i, id] of ids.entries()) await repo().markSent('a', id, [`sweep-${i}`], clock.now());
      for (const [i, id] of [delivered1, delivered2, delivered3].entries()) {
        await repo().markSent('a', id, [`sweep-d${i}`], clock.now());
        await repo().applyReceipt(receipt(`sweep-d${i}`), clock.now());
      }
      const later = clock.now() + 60_000 + RECEIPT_GRACE_MS + 1000;
      // Batches of 2: five expired messages (their carrier ids go with them) and three delivered ones' ids take several.
      const swept = await repo().expireUnconfirmed(later, 2);
      expect(swept.expired).toBe(5);
      expect(swept.partsDropped).toBeGreaterThanOrEqual(3);
      for (const id of ids) expect(await message(id)).toMatchObject({ status: 'expired', error_text: EXPIRED_WITHOUT_RECEIPT });
      const left = await db()
        .selectFrom('carrier_parts')
        .select('carrier_message_id')
        .where('carrier_message_id', 'like', 'sweep-%')
        .execute();
      expect(left).toEqual([]);
      expect(await repo().expireUnconfirmed(later, 2)).toEqual({ expired: 0, partsDropped: 0 });
    });

    it('queues a callback with each status change, to the SMS user’s URL or else the account’s', async () => {
      await createSmsUser(ctx.app, seeded.account, { login: 'hooked', callbackUrl: 'https://hooks.example.com/sms?k=1' });
      const asUser = bearer(await createToken(ctx.app, seeded.account, { user: 'hooked' }));
      const [byUser] = await send({ tag: 'hooks' }, asUser);
      const [noUrl] = await send({});
      await repo().claim('a', clock.now(), 10, LEASE);
      await repo().markSent('a', byUser, ['cb-1'], clock.now());
      await repo().markSent('a', noUrl, ['cb-2'], clock.now());
      await repo().applyReceipt(receipt('cb-1', 'delivered', { at: clock.now() + 1000 }), clock.now());
      const rows = await ctx.app.services.callbacks.findByOutgoing(byUser);
      expect(rows.map((r) => [r.url, JSON.parse(r.params)])).toEqual([
        [
          'https://hooks.example.com/sms?k=1',
          callbackParams({ id: byUser, status: 'sent', at: clock.now(), errorCode: null, errorText: null }, 'hooks', 'Europe/Paris'),
        ],
        [
          'https://hooks.example.com/sms?k=1',
          callbackParams(
            { id: byUser, status: 'delivered', at: clock.now() + 1000, errorCode: null, errorText: null },
            'hooks',
            'Europe/Paris',
          ),
        ],
      ]);
      expect(JSON.parse(rows[1].params)).toMatchObject({
        id: String(byUser),
        ptt: '0',
        description: '1',
        descriptionDlr: 'delivered',
        status: 'delivered',
        tag: 'hooks',
      });
      expect(await ctx.app.services.callbacks.findByOutgoing(noUrl)).toEqual([]);

      // The account's URL when the SMS user has none (or for the Manager's messages), as its settings set it.
      const patched = await ctx.app.services.accounts.update(SYSTEM_ACTOR, seeded.account.name, {
        callbackUrl: 'https://account.example.com/cb',
      });
      expect(patched.callbackUrl).toBe('https://account.example.com/cb');
      const [byAccount] = await send({});
      await repo().claim('a', clock.now(), 10, LEASE);
      await repo().markFailed('a', byAccount, '54', 'forbidden destination', clock.now());
      const [row] = await ctx.app.services.callbacks.findByOutgoing(byAccount);
      expect(row.url).toBe('https://account.example.com/cb');
      expect(JSON.parse(row.params)).toMatchObject({
        ptt: '54',
        description: '2',
        descriptionDlr: 'forbidden destination',
        status: 'failed',
      });
      await db().updateTable('accounts').set({ callback_url: null }).where('id', '=', seeded.account.id).execute();
    });
  },
  { clock },
);
