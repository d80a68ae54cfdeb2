import { describe, expect, it } from 'vitest';
import { describeEachDialect } from '../../../../test/database.js';
import { createTtlLruCache } from '../../ttl-cache.js';
import { createPasswordHasher, type PasswordHasher } from '../auth/password.js';
import { createAccountsRepository } from './accounts.repository.js';
import { createAccountsService, RECENT_READ_TTL_MS, SYSTEM_ACTOR } from './accounts.service.js';
import { createApiTokensRepository } from './api-tokens.repository.js';
import { createApiTokensService } from './api-tokens.service.js';
import { createCustomersRepository } from './customers.repository.js';
import { createCustomersService } from './customers.service.js';
import { createSmsUsersRepository } from './sms-users.repository.js';
import { createSmsUsersService } from './sms-users.service.js';

/** Account numbers of this run: a random start, then one each. */
let accountNumber = 10_000 + Math.floor(Math.random() * 80_000);

describe('TTL LRU cache', () => {
  it('forgets the least recently used entry when full, and entries after their TTL', () => {
    const clock = { t: 0, now: () => clock.t };
    const cache = createTtlLruCache<number>({ max: 2, ttlMs: 100, clock });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.size]).toEqual([1, 3, 2]);
    clock.t = 100;
    expect(cache.get('a')).toBeUndefined();
    cache.set('d', 4);
    cache.deleteWhere((v) => v === 4);
    expect(cache.get('d')).toBeUndefined();
  });
});

describeEachDialect('API token and SMS user verification', (ctx) => {
  /** The services of one process (their caches are its own), on the test database. */
  const servicesOf = (clock: { now(): number }, hasher: PasswordHasher) => {
    const { db } = ctx.database;
    const customers = createCustomersRepository(db);
    const accounts = createAccountsService({ accounts: createAccountsRepository(db), customers, clock, defaultTimeZone: 'Europe/Paris' });
    const users = createSmsUsersRepository(db);
    const tokens = createApiTokensService({ tokens: createApiTokensRepository(db), users, accounts, hasher, clock, cacheTtlMs: 60_000 });
    const smsUsers = createSmsUsersService({ users, accounts, hasher, clock, onDeleted: tokens.forgetUser });
    return { customers, accounts, tokens, smsUsers };
  };
  const setup = async () => {
    const clock = { t: 1_700_000_000_000, now: () => clock.t };
    const real = createPasswordHasher({ fast: true });
    const calls = { verify: 0 };
    const hasher: PasswordHasher = {
      ...real,
      verify: async (hash, secret) => {
        calls.verify++;
        return real.verify(hash, secret);
      },
    };
    const { customers, accounts, tokens, smsUsers } = servicesOf(clock, hasher);
    const email = `c${Math.random()}@example.com`;
    await createCustomersService({ customers, hasher, clock }).create({ email, password: 'password1' });
    accountNumber += 1; // unique within the run
    const name = `sms-tk${String(accountNumber).padStart(5, '0')}-1`;
    await accounts.create({ name, ownerEmail: email });
    // Another process on the same database (the CLI, a second server): caches of its own.
    const elsewhere = servicesOf(clock, real);
    return { clock, calls, tokens, smsUsers, name, elsewhere };
  };

  it('runs argon2 once per token per TTL, shares a concurrent first check, and forgets a revoked token at once', async () => {
    const { clock, calls, tokens, name } = await setup();
    const { token, bearer } = await tokens.create(SYSTEM_ACTOR, name, { name: 'ci' });
    expect(bearer).toMatch(new RegExp(`^rls_${token.id}_[A-Za-z0-9_-]{43}$`));
    const results = await Promise.all([tokens.verify(bearer), tokens.verify(bearer), tokens.verify(bearer)]);
    expect(results[0]).toEqual({
      kind: 'token',
      tokenId: token.id,
      accountId: token.accountId,
      userId: null,
      userLogin: null,
      ipRestrictions: [],
    });
    expect(results[2]).toEqual(results[0]);
    for (let i = 0; i < 20; i++) await tokens.verify(bearer);
    expect(calls.verify).toBe(1);
    clock.t += 60_000;
    expect(await tokens.verify(bearer)).toBeDefined();
    expect(calls.verify).toBe(2);
    expect((await tokens.list(SYSTEM_ACTOR, name))[0].lastUsedAt).toBe(clock.t);
    await tokens.revoke(SYSTEM_ACTOR, name, token.id);
    expect(await tokens.verify(bearer)).toBeUndefined();
  });

  it('refuses malformed, unknown and wrong tokens (caching the refusal)', async () => {
    const { calls, tokens, name } = await setup();
    const { bearer } = await tokens.create(SYSTEM_ACTOR, name, {});
    const wrong = `${bearer.slice(0, -3)}${bearer.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    expect(await tokens.verify(wrong)).toBeUndefined();
    expect(await tokens.verify(wrong)).toBeUndefined();
    expect(calls.verify).toBe(1);
    expect(await tokens.verify('rls_999999_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')).toBeUndefined();
    for (const bad of ['', 'rls_', 'rls_0_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'Bearer x', `${bearer} `])
      expect(await tokens.verify(bad)).toBeUndefined();
    expect(calls.verify).toBe(1);
  });

  it('a user-scoped token names its user, and dies with it', async () => {
    const { tokens, smsUsers, name } = await setup();
    const { user } = await smsUsers.create(SYSTEM_ACTOR, name, { login: 'app-1', password: 'password1' });
    const { bearer } = await tokens.create(SYSTEM_ACTOR, name, { userLogin: 'app-1' });
    expect(await tokens.verify(bearer)).toMatchObject({ userId: user.id, userLogin: 'app-1' });
    await smsUsers.delete(SYSTEM_ACTOR, name, 'app-1');
    expect(await tokens.verify(bearer)).toBeUndefined();
    await expect(tokens.create(SYSTEM_ACTOR, name, { userLogin: 'app-1' })).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
  });

  it('authenticates SMS users (channels) with one argon2 run per TTL, and forgets a changed password', async () => {
    const { calls, smsUsers, name } = await setup();
    await smsUsers.create(SYSTEM_ACTOR, name, { login: 'http', password: 'first-pass' });
    const ok = await smsUsers.authenticate(name, 'http', 'first-pass');
    expect(ok.user.login).toBe('http');
    await smsUsers.authenticate(name, 'http', 'first-pass');
    expect(calls.verify).toBe(1);
    for (const [account, login, password] of [
      [name, 'http', 'wrong-pass'],
      [name, 'nobody', 'first-pass'],
      ['sms-zz99999-9', 'http', 'first-pass'],
    ]) {
      await expect(smsUsers.authenticate(account, login, password)).rejects.toMatchObject({
        code: 'INVALID_CREDENTIALS',
        message: 'Wrong account, login or password',
      });
    }
    await smsUsers.update(SYSTEM_ACTOR, name, 'http', { password: 'second-pass' });
    await expect(smsUsers.authenticate(name, 'http', 'first-pass')).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect((await smsUsers.authenticate(name, 'http', 'second-pass')).user.login).toBe('http');
  });

  it("sees another process's new password, user deletion and token revocation once it reads the row again (2 s)", async () => {
    const { clock, smsUsers, tokens, name, elsewhere } = await setup();
    await smsUsers.create(SYSTEM_ACTOR, name, { login: 'http', password: 'first-pass' });
    await smsUsers.create(SYSTEM_ACTOR, name, { login: 'gone', password: 'gone-pass' });
    const { bearer } = await tokens.create(SYSTEM_ACTOR, name, {});
    const { bearer: usersBearer } = await tokens.create(SYSTEM_ACTOR, name, { userLogin: 'gone' });
    // Verified and cached here.
    expect((await smsUsers.authenticate(name, 'http', 'first-pass')).user.login).toBe('http');
    expect((await smsUsers.authenticate(name, 'gone', 'gone-pass')).user.login).toBe('gone');
    expect(await tokens.verify(bearer)).toMatchObject({ userId: null });
    expect(await tokens.verify(usersBearer)).toMatchObject({ userLogin: 'gone' });

    await elsewhere.smsUsers.update(SYSTEM_ACTOR, name, 'http', { password: 'second-pass' });
    await elsewhere.smsUsers.delete(SYSTEM_ACTOR, name, 'gone');
    const [token] = (await elsewhere.tokens.list(SYSTEM_ACTOR, name)).filter((t) => t.userLogin === null);
    await elsewhere.tokens.revoke(SYSTEM_ACTOR, name, token.id);

    clock.t += RECENT_READ_TTL_MS;
    await expect(smsUsers.authenticate(name, 'http', 'first-pass')).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    await expect(smsUsers.authenticate(name, 'gone', 'gone-pass')).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(await tokens.verify(bearer)).toBeUndefined();
    expect(await tokens.verify(usersBearer)).toBeUndefined();
    expect((await smsUsers.authenticate(name, 'http', 'second-pass')).user.login).toBe('http');
  });

  it('reads a good token again at most every 2 s, not at every request', async () => {
    const { clock, tokens, name, elsewhere } = await setup();
    const { bearer } = await tokens.create(SYSTEM_ACTOR, name, {});
    expect(await tokens.verify(bearer)).toBeDefined();
    const [token] = await elsewhere.tokens.list(SYSTEM_ACTOR, name);
    await elsewhere.tokens.revoke(SYSTEM_ACTOR, name, token.id);
    // Within the 2 s, the row is not read again: the revocation elsewhere is not seen yet.
    clock.t += RECENT_READ_TTL_MS - 1;
    expect(await tokens.verify(bearer)).toBeDefined();
    clock.t += 1;
    expect(await tokens.verify(bearer)).toBeUndefined();
  });
});
