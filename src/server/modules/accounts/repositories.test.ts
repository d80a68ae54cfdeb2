import { expect, it } from 'vitest';
import { describeEachDialect } from '../../../../test/database.js';
import { createSessionsRepository } from '../auth/sessions.repository.js';
import { createAccountsRepository } from './accounts.repository.js';
import { createApiTokensRepository } from './api-tokens.repository.js';
import { createCustomersRepository } from './customers.repository.js';
import { createSendersRepository } from './senders.repository.js';
import { createSmsUsersRepository } from './sms-users.repository.js';

const T0 = 1_700_000_000_000;

describeEachDialect('accounts repositories', (ctx) => {
  const repos = () => {
    const { db } = ctx.database;
    return {
      customers: createCustomersRepository(db),
      accounts: createAccountsRepository(db),
      users: createSmsUsersRepository(db),
      senders: createSendersRepository(db),
      tokens: createApiTokensRepository(db),
      sessions: createSessionsRepository(db),
    };
  };
  let n = 0;
  const seed = async () => {
    const r = repos();
    n++;
    const customer = await r.customers.insert({ email: `c${n}@example.com`, passwordHash: 'HASH', createdAt: T0 });
    const account = await r.accounts.insert({
      name: `sms-ab${String(n).padStart(5, '0')}-1`,
      ownerId: customer.id,
      description: '',
      credits: 10.5,
      timezone: 'Europe/Paris',
      defaultCountry: 'FR',
      createdAt: T0,
    });
    return { r, customer, account };
  };

  it('customers: insert, find by id and e-mail, credentials only on request, unique e-mail', async () => {
    const { r, customer } = await seed();
    expect(customer).toEqual({ id: expect.any(Number), email: customer.email, createdAt: T0 });
    expect(await r.customers.findById(customer.id)).toEqual(customer);
    expect(await r.customers.findByEmail(customer.email)).toEqual(customer);
    expect(await r.customers.findByEmail('nobody@example.com')).toBeUndefined();
    expect(await r.customers.findCredentialsByEmail(customer.email)).toEqual({ customer, passwordHash: 'HASH' });
    await expect(r.customers.insert({ email: customer.email, passwordHash: 'x', createdAt: T0 })).rejects.toMatchObject({
      code: 'CUSTOMER_EXISTS',
    });
  });

  it('accounts: insert, find, list by owner sorted by name, update, unique name', async () => {
    const { r, customer, account } = await seed();
    expect(account).toMatchObject({
      ownerId: customer.id,
      credits: 10.5,
      status: 'enable',
      timezone: 'Europe/Paris',
      defaultCountry: 'FR',
      createdAt: T0,
    });
    const second = await r.accounts.insert({ ...account, name: 'sms-aa00000-9' });
    expect((await r.accounts.listByOwner(customer.id)).map((a) => a.name)).toEqual(['sms-aa00000-9', account.name]);
    expect(await r.accounts.findByName(account.name)).toEqual(account);
    expect(await r.accounts.findById(second.id)).toEqual(second);
    const updated = await r.accounts.update(account.id, { description: 'Shop', timezone: 'UTC', defaultCountry: 'BE' });
    expect(updated).toEqual({ ...account, description: 'Shop', timezone: 'UTC', defaultCountry: 'BE' });
    expect(await r.accounts.update(account.id, {})).toEqual(updated);
    await expect(r.accounts.insert({ ...account })).rejects.toMatchObject({ code: 'ACCOUNT_EXISTS' });
  });

  it('SMS users: restrictions round-trip, unique login per account, update, delete', async () => {
    const { r, account } = await seed();
    const other = (await seed()).account;
    const user = await r.users.insert({
      accountId: account.id,
      login: 'zeta',
      passwordHash: 'PH',
      ipRestrictions: ['192.0.2.1', '2001:db8::/32'],
      quota: 50,
      callbackUrl: 'https://example.com/cb',
      createdAt: T0,
    });
    expect(user).toEqual({
      id: expect.any(Number),
      accountId: account.id,
      login: 'zeta',
      ipRestrictions: ['192.0.2.1', '2001:db8::/32'],
      quota: 50,
      callbackUrl: 'https://example.com/cb',
      createdAt: T0,
    });
    expect(user).not.toHaveProperty('passwordHash');
    await r.users.insert({
      accountId: account.id,
      login: 'alpha',
      passwordHash: 'PH',
      ipRestrictions: [],
      quota: null,
      callbackUrl: null,
      createdAt: T0,
    });
    await r.users.insert({
      accountId: other.id,
      login: 'zeta',
      passwordHash: 'PH',
      ipRestrictions: [],
      quota: null,
      callbackUrl: null,
      createdAt: T0,
    });
    await expect(
      r.users.insert({
        accountId: account.id,
        login: 'zeta',
        passwordHash: 'PH',
        ipRestrictions: [],
        quota: null,
        callbackUrl: null,
        createdAt: T0,
      }),
    ).rejects.toMatchObject({ code: 'USER_EXISTS' });
    expect((await r.users.list(account.id)).map((u) => u.login)).toEqual(['alpha', 'zeta']);
    expect(await r.users.findByLogin(account.id, 'zeta')).toEqual(user);
    expect(await r.users.findByLogin(account.id, 'ZETA')).toBeUndefined();
    expect(await r.users.findCredentials(account.id, 'zeta')).toEqual({ user, passwordHash: 'PH' });
    const updated = await r.users.update(user.id, { passwordHash: 'PH2', ipRestrictions: [], quota: null, callbackUrl: null });
    expect(updated).toEqual({ ...user, ipRestrictions: [], quota: null, callbackUrl: null });
    expect((await r.users.findCredentials(account.id, 'zeta'))?.passwordHash).toBe('PH2');
    expect(await r.users.delete(user.id)).toBe(true);
    expect(await r.users.delete(user.id)).toBe(false);
    expect(await r.users.findById(user.id)).toBeUndefined();
  });

  it('senders: insert, find, list, update, delete, unique per account', async () => {
    const { r, account } = await seed();
    const sender = await r.senders.insert({
      accountId: account.id,
      sender: 'OVH',
      description: '',
      status: 'enable',
      type: 'alpha',
      createdAt: T0,
    });
    await r.senders.insert({
      accountId: account.id,
      sender: '+33612345678',
      description: 'mobile',
      status: 'enable',
      type: 'numeric',
      createdAt: T0,
    });
    await expect(
      r.senders.insert({ accountId: account.id, sender: 'OVH', description: '', status: 'enable', type: 'alpha', createdAt: T0 }),
    ).rejects.toMatchObject({ code: 'SENDER_EXISTS' });
    expect((await r.senders.list(account.id)).map((s) => s.sender)).toEqual(['+33612345678', 'OVH']);
    expect(await r.senders.find(account.id, 'OVH')).toEqual(sender);
    expect(await r.senders.update(sender.id, { status: 'disable', description: 'old' })).toEqual({
      ...sender,
      status: 'disable',
      description: 'old',
    });
    expect(await r.senders.delete(sender.id)).toBe(true);
    expect(await r.senders.find(account.id, 'OVH')).toBeUndefined();
  });

  it('senders: a short number stored as numeric (before shortcodes had their type) reads as a shortcode', async () => {
    const { r, account } = await seed();
    for (const sender of ['36180', '+36180', '33612345678'])
      await r.senders.insert({ accountId: account.id, sender, description: '', status: 'enable', type: 'numeric', createdAt: T0 });
    const types = new Map((await r.senders.list(account.id)).map((s) => [s.sender, s.type]));
    expect([...types].sort(([a], [b]) => (a < b ? -1 : 1))).toEqual([
      ['+36180', 'numeric'],
      ['33612345678', 'numeric'],
      ['36180', 'shortcode'],
    ]);
  });

  it('API tokens: list with the user login, verification data, use, revoke; deleted with their user', async () => {
    const { r, account } = await seed();
    const user = await r.users.insert({
      accountId: account.id,
      login: 'app',
      passwordHash: 'PH',
      ipRestrictions: [],
      quota: null,
      callbackUrl: null,
      createdAt: T0,
    });
    const accountToken = await r.tokens.insert({ accountId: account.id, userId: null, name: 'ci', secretHash: 'SH1', createdAt: T0 });
    const userToken = await r.tokens.insert({ accountId: account.id, userId: user.id, name: '', secretHash: 'SH2', createdAt: T0 + 1 });
    const listed = await r.tokens.list(account.id);
    expect(listed).toEqual([
      {
        id: accountToken,
        accountId: account.id,
        userId: null,
        userLogin: null,
        name: 'ci',
        createdAt: T0,
        lastUsedAt: null,
        revokedAt: null,
      },
      {
        id: userToken,
        accountId: account.id,
        userId: user.id,
        userLogin: 'app',
        name: '',
        createdAt: T0 + 1,
        lastUsedAt: null,
        revokedAt: null,
      },
    ]);
    expect(listed[0]).not.toHaveProperty('secretHash');
    expect(await r.tokens.findForVerification(userToken)).toEqual({ token: listed[1], secretHash: 'SH2', ipRestrictions: [] });
    expect(await r.tokens.find(account.id + 1000, accountToken)).toBeUndefined();
    await r.tokens.markUsed(accountToken, T0 + 5);
    expect(await r.tokens.revoke(accountToken, T0 + 9)).toBe(true);
    expect(await r.tokens.revoke(accountToken, T0 + 10)).toBe(false);
    expect(await r.tokens.find(account.id, accountToken)).toMatchObject({ lastUsedAt: T0 + 5, revokedAt: T0 + 9 });
    await r.users.delete(user.id);
    expect(await r.tokens.findForVerification(userToken)).toBeUndefined();
  });

  it('sessions: insert, find with the e-mail, extend, delete, delete expired', async () => {
    const { r, customer } = await seed();
    await r.sessions.insert({ id: 'a'.repeat(64), customerId: customer.id, csrfToken: 'csrf', createdAt: T0, expiresAt: T0 + 100 });
    await r.sessions.insert({ id: 'b'.repeat(64), customerId: customer.id, csrfToken: 'csrf2', createdAt: T0, expiresAt: T0 + 200 });
    expect(await r.sessions.find('a'.repeat(64))).toEqual({
      id: 'a'.repeat(64),
      customerId: customer.id,
      email: customer.email,
      csrfToken: 'csrf',
      createdAt: T0,
      expiresAt: T0 + 100,
    });
    await r.sessions.extend('a'.repeat(64), T0 + 1000);
    expect((await r.sessions.find('a'.repeat(64)))?.expiresAt).toBe(T0 + 1000);
    expect(await r.sessions.deleteExpired(T0 + 200)).toBe(1);
    expect(await r.sessions.find('b'.repeat(64))).toBeUndefined();
    await r.sessions.delete('a'.repeat(64));
    expect(await r.sessions.find('a'.repeat(64))).toBeUndefined();
  });
});
