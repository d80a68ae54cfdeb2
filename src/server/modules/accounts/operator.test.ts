import { InsertQueryNode, type KyselyPlugin } from 'kysely';
import { expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createCustomer, createSender, errorOf, seedCustomerWithAccount } from '../../../../test/factories.js';
import { createAccountsRepository } from './accounts.repository.js';
import { MAX_CREDITS, SYSTEM_ACTOR } from './accounts.service.js';

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

    // The audit trail holds exactly the 41 changes made, as each call answered them, newest first.
    const made = [...(results.slice(0, 40) as (typeof given)[]), given].map((r) => r.change);
    const audited = await accounts.listCreditChanges(SYSTEM_ACTOR, s.account.name, 1000);
    // The oldest: the account's initial credits, recorded with its creation.
    expect(audited.pop()).toMatchObject({ delta: 100, balanceAfter: 100, actor: 'operator', reason: 'initial credits' });
    expect(audited).toEqual([...made].sort((a, b) => b.id - a.id));
    expect(audited.filter((c) => c.delta === 1)).toHaveLength(30);
    expect(audited.filter((c) => c.delta === -1)).toHaveLength(10);
    expect(audited.every((c) => c.actor === 'operator' && c.reason === null && c.accountId === s.account.id)).toBe(true);
    // Each balance after is the real one: in the order of the changes, the balance before one is the
    // balance after the previous one less the debits committed in between (1 credit each, 20 in all).
    const chronological = [...audited].reverse();
    const debitsBetween = chronological.map((c, i) => (i === 0 ? 100 : chronological[i - 1]!.balanceAfter) - (c.balanceAfter - c.delta));
    expect(debitsBetween.every((n) => Number.isInteger(n) && n >= 0)).toBe(true);
    expect(debitsBetween.reduce((sum, n) => sum + n, 0)).toBe(20);
  });

  it('audits each credit change with its actor, delta, balance after and reason; a refused one leaves no trace', async () => {
    const s = await seedCustomerWithAccount(ctx.app, { account: { credits: 5 } });
    const { accounts } = ctx.app.services;
    const history = () => accounts.listCreditChanges(SYSTEM_ACTOR, s.account.name);
    // Created with 5 credits: recorded in the same transaction as the account.
    const initial = await history();
    expect(initial).toEqual([
      {
        id: expect.any(Number),
        accountId: s.account.id,
        actor: 'operator',
        delta: 5,
        balanceAfter: 5,
        reason: 'initial credits',
        createdAt: expect.any(Number),
      },
    ]);
    await expect(accounts.addCredits(SYSTEM_ACTOR, s.account.name, -6)).rejects.toMatchObject({ code: 'INSUFFICIENT_CREDITS' });
    await expect(accounts.addCredits(SYSTEM_ACTOR, s.account.name, 1, { reason: 'x'.repeat(201) })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'The reason must be at most 200 characters, got 201',
    });
    await expect(accounts.addCredits(SYSTEM_ACTOR, s.account.name, 1, { reason: 'two\nlines' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect(await history()).toEqual(initial);
    expect(await balance(s.account.name)).toBe(5);

    // The whole balance taken back: the change recorded is what was removed, down to 0.
    const emptied = await accounts.addCredits(SYSTEM_ACTOR, s.account.name, -5, { reason: '  refund of an unused pack  ' });
    expect(emptied).toMatchObject({ before: 5, after: 0 });
    expect(await history()).toEqual([
      {
        id: emptied.change.id,
        accountId: s.account.id,
        actor: 'operator',
        delta: -5,
        balanceAfter: 0,
        reason: 'refund of an unused pack',
        createdAt: expect.any(Number),
      },
      ...initial,
    ]);
    const given = await accounts.addCredits(SYSTEM_ACTOR, s.account.name, 2.25, { reason: 'é'.repeat(200) });
    expect(given.change).toMatchObject({ delta: 2.25, balanceAfter: 2.25, reason: 'é'.repeat(200) });

    // Ten removals of 1 race for 2.25 credits: two are made and audited, the others refused and not.
    const raced = await Promise.allSettled(Array.from({ length: 10 }, () => accounts.addCredits(SYSTEM_ACTOR, s.account.name, -1)));
    expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(raced.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(
      Array(8).fill('INSUFFICIENT_CREDITS'),
    );
    expect(await balance(s.account.name)).toBe(0.25);
    expect((await history()).map((c) => [c.delta, c.balanceAfter])).toEqual([
      [-1, 0.25],
      [-1, 1.25],
      [2.25, 2.25],
      [-5, 0],
      [5, 5],
    ]);
    expect((await accounts.listCreditChanges(SYSTEM_ACTOR, s.account.name, 1)).map((c) => c.balanceAfter)).toEqual([0.25]);
    for (const bad of [0, 1001, 1.5])
      await expect(accounts.listCreditChanges(SYSTEM_ACTOR, s.account.name, bad)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    // The account's own token reads them too (as it reads the balance); another account's does not see the account.
    const token = (await ctx.app.services.apiTokens.verify(s.token))!;
    expect((await accounts.listCreditChanges(token, s.account.name, 1)).map((c) => c.balanceAfter)).toEqual([0.25]);
    const stranger = (await ctx.app.services.apiTokens.verify((await seedCustomerWithAccount(ctx.app)).token))!;
    await expect(accounts.listCreditChanges(stranger, s.account.name)).rejects.toMatchObject({ code: 'ACCOUNT_NOT_FOUND' });
    await expect(accounts.listCreditChanges(SYSTEM_ACTOR, 'sms-zz99999-9')).rejects.toMatchObject({ code: 'ACCOUNT_NOT_FOUND' });
  });

  it('never changes the credits without their audit row: a failed audit write undoes the change', async () => {
    const s = await seedCustomerWithAccount(ctx.app, { account: { credits: 7 } });
    const failingAudit: KyselyPlugin = {
      transformQuery: ({ node }) => {
        if (InsertQueryNode.is(node)) throw new Error('audit write failed');
        return node;
      },
      transformResult: async ({ result }) => result,
    };
    const rows = createAccountsRepository(ctx.database.db.withPlugin(failingAudit));
    await expect(rows.addCredits(s.account.id, 3, { actor: 'operator', reason: null, createdAt: Date.now() })).rejects.toThrow(
      'audit write failed',
    );
    expect(await balance(s.account.name)).toBe(7);
    // Only the initial credits' row: the failed change left none.
    expect((await ctx.app.services.accounts.listCreditChanges(SYSTEM_ACTOR, s.account.name)).map((c) => c.delta)).toEqual([7]);
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

  it('one maximum for credits: an account is created with, and given or taken back at once, at most MAX_CREDITS', async () => {
    const owner = await createCustomer(ctx.app);
    const { accounts } = ctx.app.services;
    const create = (name: string, credits: number) => accounts.create({ name, ownerEmail: owner.email, credits });
    for (const bad of [MAX_CREDITS + 1, 1e300, -1, Number.NaN, Number.POSITIVE_INFINITY])
      await expect(create('sms-mx12345-1', bad), String(bad)).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(`^The initial credits must be a number from 0 to ${MAX_CREDITS}, got `),
      });
    expect(await accounts.list(SYSTEM_ACTOR)).not.toContainEqual(expect.objectContaining({ name: 'sms-mx12345-1' }));
    const rich = await create('sms-mx12345-2', MAX_CREDITS);
    expect(rich.credits).toBe(MAX_CREDITS);
    await expect(accounts.addCredits(SYSTEM_ACTOR, rich.name, -(MAX_CREDITS + 1))).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining(`at most ${MAX_CREDITS} at once`),
    });
    await expect(accounts.addCredits(SYSTEM_ACTOR, rich.name, MAX_CREDITS + 1)).rejects.toMatchObject({
      message: `The credits to add or remove must be a number other than 0, at most ${MAX_CREDITS} at once, got ${MAX_CREDITS + 1}`,
    });
    expect(await accounts.addCredits(SYSTEM_ACTOR, rich.name, -MAX_CREDITS)).toMatchObject({ before: MAX_CREDITS, after: 0 });
  });

  it('refuses control characters in a customer e-mail and an account description; errors echo 40 characters of a value at most', async () => {
    const owner = await createCustomer(ctx.app);
    const { accounts, customers } = ctx.app.services;
    for (const email of ['x\u0001y@example.com', 'x\u007fy@example.com', 'x\u0085y@example.com'])
      await expect(customers.create({ email, password: 'owner-password' }), JSON.stringify(email)).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringContaining('without control characters'),
      });
    // Trimmed as before: a newline around the address is not in it.
    expect((await customers.create({ email: ' Trim@Example.com\n', password: 'owner-password' })).email).toBe('trim@example.com');

    const account = await accounts.create({ name: 'sms-cc12345-1', ownerEmail: owner.email, description: 'Shop' });
    for (const description of ['a\u001b[31mb', 'two\nlines', 'tab\there'])
      await expect(accounts.update(SYSTEM_ACTOR, account.name, { description }), JSON.stringify(description)).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        message: 'The description must be one line of text, without control characters (newline, tab, escape…)',
      });
    await expect(accounts.create({ name: 'sms-cc12345-2', ownerEmail: owner.email, description: 'a\u001b[2Jb' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect((await accounts.get(SYSTEM_ACTOR, account.name)).description).toBe('Shop');
    expect(await accounts.list(SYSTEM_ACTOR)).not.toContainEqual(expect.objectContaining({ name: 'sms-cc12345-2' }));
    // Unicode letters and punctuation stay welcome.
    expect((await accounts.update(SYSTEM_ACTOR, account.name, { description: 'Café « Chez Zoé » – 🍰' })).description).toBe(
      'Café « Chez Zoé » – 🍰',
    );

    const long = 'a'.repeat(10_000);
    const cases: [() => Promise<unknown>, string][] = [
      [() => customers.create({ email: `${long}@example.com`, password: 'owner-password' }), 'Invalid e-mail address "'],
      [() => customers.setPassword(`${long}@example.com`), 'No customer with e-mail '],
      [() => accounts.create({ name: `sms-${long}`, ownerEmail: owner.email }), 'Invalid account name "'],
      [() => accounts.create({ name: 'sms-cc12345-3', ownerEmail: `${long}@example.com` }), 'No customer with e-mail '],
      [() => accounts.create({ name: 'sms-cc12345-3', ownerEmail: owner.email, timezone: long }), 'Unknown timezone "'],
      [() => accounts.update(SYSTEM_ACTOR, long, { description: 'x' }), 'No SMS account named '],
    ];
    for (const [refused, start] of cases) {
      const error = await errorOf(refused);
      expect(error?.message, start).toContain(start);
      expect(error?.message, start).toMatch(/a{30,40}…/);
      expect(error?.message.length, start).toBeLessThan(200);
    }
    // A value echoed keeps the error one line: its control characters are escaped.
    await expect(accounts.create({ name: 'sms-\n\u001b[2J', ownerEmail: owner.email })).rejects.toMatchObject({
      message: expect.stringMatching(/^Invalid account name "sms-\\n\\u001b\[2J": /),
    });
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
