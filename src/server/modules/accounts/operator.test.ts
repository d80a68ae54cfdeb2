import { expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createSender, seedCustomerWithAccount } from '../../../../test/factories.js';
import { SYSTEM_ACTOR } from './accounts.service.js';

describeEachDialectWithApp("the operator's actions: credits, a customer's password", (ctx) => {
  const balance = async (name: string) => (await ctx.app.services.accounts.get(SYSTEM_ACTOR, name)).credits;

  it('adds and takes back credits exactly while jobs debit the account', async () => {
    const s = await seedCustomerWithAccount(ctx.app, { account: { credits: 100 } });
    await createSender(ctx.app, s.account, { sender: 'MyShop' });
    const { accounts } = ctx.app.services;
    const send = (i: number) =>
      ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${s.account.name}/jobs`,
        headers: s.auth,
        payload: { message: `m${i}`, receivers: [`+3361200${String(i).padStart(4, '0')}`], sender: 'MyShop', noStopClause: true },
      });
    // 30 credits given, 10 taken back and 20 single-part jobs (1 credit each), all at once.
    const results = await Promise.all([
      ...Array.from({ length: 30 }, () => accounts.addCredits(SYSTEM_ACTOR, s.account.name, 1)),
      ...Array.from({ length: 10 }, () => accounts.addCredits(SYSTEM_ACTOR, s.account.name, -1)),
      ...Array.from({ length: 20 }, (_, i) => send(i)),
    ]);
    expect(results.slice(40).map((r) => (r as { statusCode: number }).statusCode)).toEqual(Array(20).fill(200));
    expect(await balance(s.account.name)).toBe(100 + 30 - 10 - 20);
    const given = await accounts.addCredits(SYSTEM_ACTOR, s.account.name, 0.5);
    expect(given).toMatchObject({ before: 100, after: 100.5 });
  });

  it('never goes below 0, refuses bad amounts, and is not for customers or tokens', async () => {
    const s = await seedCustomerWithAccount(ctx.app, { account: { credits: 5 } });
    const { accounts } = ctx.app.services;
    await expect(accounts.addCredits(SYSTEM_ACTOR, s.account.name, -6)).rejects.toMatchObject({
      code: 'INSUFFICIENT_CREDITS',
      message: `${s.account.name} has 5 credits: 6 cannot be taken away`,
    });
    expect(await balance(s.account.name)).toBe(5);
    for (const bad of [0, Number.NaN, Number.POSITIVE_INFINITY, 2e12])
      await expect(accounts.addCredits(SYSTEM_ACTOR, s.account.name, bad)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const { cookie } = await ctx.app.services.auth.signIn(s.customer.email, s.password);
    const customer = (await ctx.app.services.auth.sessionPrincipal(cookie))!.principal;
    const token = (await ctx.app.services.apiTokens.verify(s.token))!;
    for (const actor of [customer, token])
      await expect(accounts.addCredits(actor, s.account.name, 10)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(accounts.addCredits(SYSTEM_ACTOR, 'sms-zz99999-9', 1)).rejects.toMatchObject({ code: 'ACCOUNT_NOT_FOUND' });
    expect(await balance(s.account.name)).toBe(5);
    expect((await accounts.list(SYSTEM_ACTOR)).map((a) => a.name)).toContain(s.account.name);
  });

  it("sets a customer's password and ends their sessions, theirs only", async () => {
    const s = await seedCustomerWithAccount(ctx.app);
    const other = await seedCustomerWithAccount(ctx.app);
    const { auth, customers } = ctx.app.services;
    const mine = (await auth.signIn(s.customer.email, s.password)).cookie;
    const theirs = (await auth.signIn(other.customer.email, other.password)).cookie;
    const { password } = await customers.setPassword(s.customer.email.toUpperCase());
    expect(password).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(await auth.sessionPrincipal(mine)).toBeUndefined();
    expect(await auth.sessionPrincipal(theirs)).toBeDefined();
    await expect(auth.signIn(s.customer.email, s.password)).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect((await auth.signIn(s.customer.email, password!)).customer.id).toBe(s.customer.id);
    expect((await customers.list()).map((c) => c.email)).toEqual(expect.arrayContaining([s.customer.email, other.customer.email]));
    await expect(customers.setPassword('nobody@example.com', 'long-enough-1')).rejects.toMatchObject({ code: 'CUSTOMER_NOT_FOUND' });
    await expect(customers.setPassword(s.customer.email, 'short')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
