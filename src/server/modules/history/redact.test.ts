import { expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { bearer, createSmsUser, createToken, fastAuthConfig, seedCustomerWithAccount } from '../../../../test/factories.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import { indexPendingText } from '../../db/sqlite-text-index.js';

describeEachDialectWithApp(
  'redacting chosen messages (POST …/outgoing/redact)',
  (ctx) => {
    const indexAll = async () => {
      if (ctx.dialect === 'sqlite') await ctx.database.db.transaction().execute((trx) => indexPendingText(trx, null));
    };
    const redact = (account: string, auth: Record<string, string>, ids: number[]) =>
      ctx.app.inject({ method: 'POST', url: `/api/v1/accounts/${account}/outgoing/redact`, headers: auth, payload: { ids } });
    const row = (id: number) => ctx.database.db.selectFrom('outgoing').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('erases the text and masks the receiver, keeps every other field, leaves pending messages whole, and audits it', async () => {
      const seeded = await seedCustomerWithAccount(ctx.app);
      const other = await seedCustomerWithAccount(ctx.app);
      const [delivered, failed, pending, recent] = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: seeded.account.id, status: 'delivered', receiver: '+33612345678', message: 'Code secret 4711' }),
        buildOutgoing({ account_id: seeded.account.id, status: 'failed', receiver: '+4915112345678', message: 'Code secret 4712' }),
        buildOutgoing({ account_id: seeded.account.id, status: 'pending', receiver: '+33612345679', message: 'Code secret 4713' }),
        buildOutgoing({ account_id: seeded.account.id, status: 'delivered', receiver: '+33612345670', message: 'Code secret 4714' }),
      ]);
      const [foreign] = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: other.account.id, receiver: '+33611111111', message: 'Code secret 9999' }),
      ]);
      await indexAll();
      const before = await row(delivered);

      const res = await redact(seeded.account.name, seeded.auth, [delivered, failed, pending, foreign, 987_654_321]);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ redacted: 2, pending: [pending] });

      const after = await row(delivered);
      expect(after).toEqual({ ...before, message: '', receiver: '+336XXXXXX78', redacted_at: after.redacted_at });
      expect(after.redacted_at).not.toBeNull();
      expect((await row(failed)).receiver).toBe('+491XXXXXXXX78');
      expect(await row(pending)).toMatchObject({ message: 'Code secret 4713', receiver: '+33612345679', redacted_at: null });
      // Another customer's message is out of reach.
      expect(await row(foreign)).toMatchObject({ message: 'Code secret 9999', receiver: '+33611111111' });

      // The API shows it redacted; the text search no longer finds it.
      const got = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${seeded.account.name}/outgoing/${delivered}`,
        headers: seeded.auth,
      });
      expect(got.json()).toMatchObject({ message: null, receiver: '+336XXXXXX78', status: 'delivered' });
      const found = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${seeded.account.name}/outgoing?q=secret`,
        headers: seeded.auth,
      });
      expect((found.json().data as { id: number }[]).map((o) => o.id).sort((a, b) => a - b)).toEqual([pending, recent]);
      const csv = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${seeded.account.name}/outgoing.csv`,
        headers: seeded.auth,
      });
      expect(csv.body).toContain('"+336XXXXXX78";"";"delivered"');

      // Again: nothing changes (the first redaction time stays).
      expect((await redact(seeded.account.name, seeded.auth, [delivered])).json()).toEqual({ redacted: 1, pending: [] });
      expect(await row(delivered)).toEqual(after);

      const audit = await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${seeded.account.name}/deletions`, headers: seeded.auth });
      const [last, first] = audit.json().data as { kind: string; count: number; ids: number[]; actor: string }[];
      expect(first).toMatchObject({ kind: 'redact', count: 2, ids: [delivered, failed] });
      expect(last).toMatchObject({ kind: 'redact', count: 1, ids: [delivered] });
      expect(first.actor).toMatch(/^token:\d+$/);
    });

    it('lets a token scoped to an SMS user redact only that user’s messages', async () => {
      const seeded = await seedCustomerWithAccount(ctx.app);
      const user = await createSmsUser(ctx.app, seeded.account, { login: 'shop' });
      const [own, others] = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: seeded.account.id, user_id: user.id, user_login: 'shop', message: 'Mine' }),
        buildOutgoing({ account_id: seeded.account.id, user_login: '', message: 'Not mine' }),
      ]);
      const scoped = bearer(await createToken(ctx.app, seeded.account, { user: 'shop' }));
      expect((await redact(seeded.account.name, scoped, [own, others])).json()).toEqual({ redacted: 1, pending: [] });
      expect((await row(others)).message).toBe('Not mine');
    });

    it('refuses bad requests with a clear error', async () => {
      const seeded = await seedCustomerWithAccount(ctx.app);
      const empty = await redact(seeded.account.name, seeded.auth, []);
      expect(empty.statusCode).toBe(400);
      const tooMany = await redact(
        seeded.account.name,
        seeded.auth,
        Array.from({ length: 10_001 }, (_, i) => i + 1),
      );
      expect([tooMany.statusCode, tooMany.json().error.code]).toEqual([400, 'TOO_MANY_IDS']);
      const other = await seedCustomerWithAccount(ctx.app);
      expect((await redact(other.account.name, seeded.auth, [1])).statusCode).toBe(404);
    });
  },
  { config: fastAuthConfig },
);
