import { sql } from 'kysely';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import {
  bearer,
  createAccount,
  createSender,
  createSmsUser,
  createToken,
  errorOf,
  fastAuthConfig,
  type SeededAccount,
  seedCustomerWithAccount,
  signIn,
  type TestSession,
} from '../../../../test/factories.js';
import { MAX_CREDITS, SYSTEM_ACTOR } from './accounts.service.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

describeEachDialectWithApp(
  'accounts routes',
  (ctx) => {
    let owner: SeededAccount;
    let session: TestSession;
    let base: string;
    const call = (method: Method, url: string, headers: Record<string, string>, payload?: unknown) =>
      ctx.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
    const asOwner = (method: Method, path: string, payload?: unknown) =>
      call(method, `${base}${path}`, method === 'GET' ? session.headers : session.writeHeaders, payload);
    const expectError = (res: { statusCode: number; json: () => unknown }, status: number, code: string) => {
      expect({ status: res.statusCode, code: (res.json() as { error?: { code?: string } }).error?.code }).toEqual({ status, code });
    };

    beforeAll(async () => {
      owner = await seedCustomerWithAccount(ctx.app, { account: { description: 'Main', credits: 250 } });
      session = await signIn(ctx.app, owner.customer.email, owner.password);
      base = `/api/v1/accounts/${owner.account.name}`;
    });

    it('lists, reads and updates the accounts of the signed-in customer', async () => {
      const second = await createAccount(ctx.app, { owner: owner.customer, name: 'sms-aa00001-1' });
      const list = await call('GET', '/api/v1/accounts', session.headers);
      expect(list.statusCode).toBe(200);
      expect(list.json().map((a: { name: string }) => a.name)).toEqual([second.name, owner.account.name].sort());
      const one = await asOwner('GET', '');
      expect(one.json()).toEqual({
        name: owner.account.name,
        description: 'Main',
        status: 'enable',
        credits: 250,
        timezone: 'Europe/Paris',
        defaultCountry: 'FR',
        storeText: true,
        redactAfterDays: null,
        retentionDays: null,
        callbackUrl: null,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      // The account's callback URL: set, then cleared.
      expect((await asOwner('PATCH', '', { callbackUrl: 'https://example.com/sms-status' })).json()).toMatchObject({
        callbackUrl: 'https://example.com/sms-status',
      });
      expect((await asOwner('PATCH', '', { callbackUrl: 'not a url' })).statusCode).toBe(400);
      expect((await asOwner('PATCH', '', { callbackUrl: null })).json()).toMatchObject({ callbackUrl: null });
      const patched = await asOwner('PATCH', '', { description: 'Shop', timezone: 'america/new_york', defaultCountry: 'be' });
      expect(patched.statusCode).toBe(200);
      expect(patched.json()).toMatchObject({ description: 'Shop', timezone: 'America/New_York', defaultCountry: 'BE' });
      await asOwner('PATCH', '', { timezone: 'Europe/Paris', defaultCountry: 'FR' });
    });

    it('refuses bad account settings with 400', async () => {
      expectError(await asOwner('PATCH', '', { timezone: 'Mars/Olympus' }), 400, 'VALIDATION_FAILED');
      expectError(await asOwner('PATCH', '', { defaultCountry: 'XX' }), 400, 'VALIDATION_FAILED');
      expectError(await asOwner('PATCH', '', { retention: 3 }), 400, 'VALIDATION_FAILED');
      expectError(await asOwner('PATCH', '', { description: 'x'.repeat(201) }), 400, 'VALIDATION_FAILED');
    });

    it('sets the privacy settings, answers them, and turns the day limits off with null', async () => {
      const patched = await asOwner('PATCH', '', { storeText: false, redactAfterDays: 30, retentionDays: 3650 });
      expect(patched.statusCode).toBe(200);
      expect(patched.json()).toMatchObject({ storeText: false, redactAfterDays: 30, retentionDays: 3650 });
      expect((await asOwner('GET', '')).json()).toMatchObject({ storeText: false, redactAfterDays: 30, retentionDays: 3650 });
      // Other settings leave them as they are.
      await asOwner('PATCH', '', { description: 'Main' });
      expect((await asOwner('GET', '')).json()).toMatchObject({ description: 'Main', storeText: false, redactAfterDays: 30 });
      const listed = (await call('GET', '/api/v1/accounts', session.headers)).json() as { name: string; retentionDays: number }[];
      expect(listed.find((a) => a.name === owner.account.name)?.retentionDays).toBe(3650);
      const cleared = await asOwner('PATCH', '', { storeText: true, redactAfterDays: null, retentionDays: null });
      expect(cleared.json()).toMatchObject({ storeText: true, redactAfterDays: null, retentionDays: null });
      expect((await asOwner('PATCH', '', { redactAfterDays: 1 })).json()).toMatchObject({ redactAfterDays: 1, retentionDays: null });
      expect((await asOwner('GET', '')).json()).toMatchObject({ storeText: true, redactAfterDays: 1, retentionDays: null });
      await asOwner('PATCH', '', { redactAfterDays: null });
    });

    it('refuses bad privacy settings with 400 VALIDATION_FAILED and changes nothing', async () => {
      const bad: [Record<string, unknown>, string][] = [
        [{ storeText: null }, 'storeText'],
        [{ storeText: 'false' }, 'storeText'],
        [{ storeText: 0 }, 'storeText'],
        [{ redactAfterDays: 0 }, 'redactAfterDays'],
        [{ redactAfterDays: 3651 }, 'redactAfterDays'],
        [{ redactAfterDays: 1.5 }, 'redactAfterDays'],
        [{ redactAfterDays: '30' }, 'redactAfterDays'],
        [{ redactAfterDays: true }, 'redactAfterDays'],
        [{ retentionDays: -1 }, 'retentionDays'],
        [{ retentionDays: '' }, 'retentionDays'],
        [{ retentionDays: false }, 'retentionDays'],
        [{ retentionDays: [30] }, 'retentionDays'],
        [{ retentionDays: 30, storeText: 'no' }, 'storeText'],
      ];
      for (const [payload, field] of bad) {
        const res = await asOwner('PATCH', '', payload);
        expect({ payload, status: res.statusCode, code: res.json().error?.code }).toEqual({
          payload,
          status: 400,
          code: 'VALIDATION_FAILED',
        });
        expect(res.json().error.message).toContain(field);
      }
      expect((await asOwner('PATCH', '', { retentionDays: 0 })).json().error.message).toMatch(/from 1 to 3650, or null/);
      expect((await asOwner('GET', '')).json()).toMatchObject({ storeText: true, redactAfterDays: null, retentionDays: null });
    });

    it('storeText: false applies to the very next message, true again to the one after', async () => {
      const own = await seedCustomerWithAccount(ctx.app);
      const ownSession = await signIn(ctx.app, own.customer.email, own.password);
      const ownBase = `/api/v1/accounts/${own.account.name}`;
      const sender = await createSender(ctx.app, own.account, { sender: 'Private' });
      const send = async (message: string) => {
        const res = await call('POST', `${ownBase}/jobs`, own.auth, {
          message,
          receivers: ['+33612345678'],
          sender: sender.sender,
          noStopClause: true,
        });
        expect(res.statusCode).toBe(200);
        const [id] = res.json().ids as number[];
        return (await call('GET', `${ownBase}/outgoing/${id}`, own.auth)).json() as { message: string | null };
      };
      // The first message makes the sending service read (and keep for ~2 s) the account's settings.
      expect((await send('kept text')).message).toBe('kept text');
      const patch = (payload: unknown) => call('PATCH', ownBase, ownSession.writeHeaders, payload);
      expect((await patch({ storeText: false })).statusCode).toBe(200);
      expect((await send('secret text')).message).toBeNull();
      const stored = await ctx.database.db
        .selectFrom('outgoing')
        .select(['message', 'redacted_at'])
        .where('account_id', '=', own.account.id)
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      expect({ message: stored.message, redacted: stored.redacted_at !== null }).toEqual({ message: '', redacted: true });
      await patch({ storeText: true });
      expect((await send('kept again')).message).toBe('kept again');
    });

    it('creates SMS users: a generated password is returned once, a given one never', async () => {
      const generated = await asOwner('POST', '/users', { login: 'gen.user' });
      expect(generated.statusCode).toBe(201);
      const body = generated.json();
      expect(body).toEqual({
        login: 'gen.user',
        ipRestrictions: [],
        quota: null,
        callbackUrl: null,
        createdAt: expect.any(String),
        password: expect.stringMatching(/^[A-Za-z0-9]{16}$/),
      });
      expect((await ctx.app.services.smsUsers.authenticate(owner.account.name, 'gen.user', body.password)).user.login).toBe('gen.user');
      const again = await asOwner('GET', '/users/gen.user');
      expect(again.json()).not.toHaveProperty('password');

      const given = await asOwner('POST', '/users', {
        login: 'given_user',
        password: 'my-own-password',
        ipRestrictions: ['192.0.2.1', '198.51.100.0/24'],
        quota: 100,
        callbackUrl: 'https://example.com/cb',
      });
      expect(given.statusCode).toBe(201);
      expect(given.json()).toEqual({
        login: 'given_user',
        ipRestrictions: ['192.0.2.1', '198.51.100.0/24'],
        quota: 100,
        callbackUrl: 'https://example.com/cb',
        createdAt: expect.any(String),
      });
      expectError(await asOwner('POST', '/users', { login: 'given_user' }), 409, 'USER_EXISTS');
      const list = await asOwner('GET', '/users');
      expect(list.json().map((u: { login: string }) => u.login)).toEqual(['gen.user', 'given_user']);
      expect(list.body).not.toMatch(/argon2|password/i);
    });

    it('validates SMS users with 400 and a code', async () => {
      for (const payload of [
        { login: 'ab' },
        { login: '-abc' },
        { login: 'a'.repeat(33) },
        { login: 'okay', password: 'short' },
        { login: 'okay', ipRestrictions: ['10.0.0.0/33'] },
        { login: 'okay', ipRestrictions: ['example.com'] },
        { login: 'okay', quota: -1 },
        { login: 'okay', callbackUrl: 'ftp://example.com' },
        { login: 'okay', extra: true },
        // Taken as typed, never coerced: a one-address string is not a list, 12345 is not a login.
        { login: 'okay', ipRestrictions: '192.0.2.1' },
        { login: 12345 },
        { login: 'okay', callbackUrl: 5 },
        { login: 'okay', password: ['correct horse battery'] },
      ]) {
        expectError(await asOwner('POST', '/users', payload), 400, 'VALIDATION_FAILED');
      }
      expectError(await asOwner('GET', '/users/okay'), 404, 'USER_NOT_FOUND');
    });

    it('updates and deletes an SMS user; its history stays', async () => {
      await createSmsUser(ctx.app, owner.account, { login: 'changing', quota: 5, callbackUrl: 'http://example.com/a' });
      const patched = await asOwner('PATCH', '/users/changing', {
        ipRestrictions: ['2001:db8::/32'],
        quota: null,
        callbackUrl: null,
        password: 'a-new-password',
      });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(patched.json()).toMatchObject({ login: 'changing', ipRestrictions: ['2001:db8::/32'], quota: null, callbackUrl: null });
      expect((await ctx.app.services.smsUsers.authenticate(owner.account.name, 'changing', 'a-new-password')).user.login).toBe('changing');
      expect(patched.json().password).toBeUndefined();
      // A generated password, answered once; the one before stops working.
      const generated = await asOwner('PATCH', '/users/changing', { generatePassword: true });
      expect(generated.statusCode, generated.body).toBe(200);
      const { password } = generated.json();
      expect(password).toMatch(/^[A-Za-z0-9]{16}$/);
      expect((await ctx.app.services.smsUsers.authenticate(owner.account.name, 'changing', password)).user.login).toBe('changing');
      await expect(ctx.app.services.smsUsers.authenticate(owner.account.name, 'changing', 'a-new-password')).rejects.toMatchObject({
        code: 'INVALID_CREDENTIALS',
      });
      expect((await asOwner('GET', '/users/changing')).json().password).toBeUndefined();
      expectError(await asOwner('PATCH', '/users/changing', { generatePassword: true, password: 'x-password' }), 400, 'VALIDATION_FAILED');
      expectError(await asOwner('PATCH', '/users/changing', { callbackUrl: 'not a url' }), 400, 'VALIDATION_FAILED');
      expectError(await asOwner('PATCH', '/users/nobody', { quota: 1 }), 404, 'USER_NOT_FOUND');

      const { db } = ctx.database;
      await sql`insert into outgoing (account_id, user_id, user_login, channel, sender, receiver, message, encoding, parts, credits, status, created_at)
        values (${owner.account.id}, ${patched.json().id ?? null}, 'changing', 'api', 'OVH', '+33600000000', 'hello', 'gsm7', 1, 1, 'sent', 1)`.execute(
        db,
      );
      expect((await asOwner('DELETE', '/users/changing')).statusCode).toBe(204);
      expectError(await asOwner('GET', '/users/changing'), 404, 'USER_NOT_FOUND');
      expectError(await asOwner('DELETE', '/users/changing'), 404, 'USER_NOT_FOUND');
      const { rows } = await sql<{ n: number }>`select count(*) as n from outgoing where user_login = 'changing'`.execute(db);
      expect(Number(rows[0].n)).toBe(1);
    });

    it('manages senders: type derived, status enable/disable, duplicates and bad values refused', async () => {
      const alpha = await asOwner('POST', '/senders', { sender: 'My Shop', description: 'shop' });
      expect(alpha.statusCode).toBe(201);
      expect(alpha.json()).toEqual({
        sender: 'My Shop',
        description: 'shop',
        status: 'enable',
        type: 'alpha',
        createdAt: expect.any(String),
      });
      const numeric = await asOwner('POST', '/senders', { sender: '+33612345678', status: 'disable' });
      expect(numeric.json()).toMatchObject({ type: 'numeric', status: 'disable' });
      const short = await asOwner('POST', '/senders', { sender: '36180' });
      expect(short.statusCode).toBe(201);
      expect(short.json()).toMatchObject({ sender: '36180', type: 'shortcode' });
      expect((await asOwner('GET', '/senders/36180')).json()).toMatchObject({ type: 'shortcode' });
      expect((await asOwner('DELETE', '/senders/36180')).statusCode).toBe(204);
      expectError(await asOwner('POST', '/senders', { sender: 'My Shop' }), 409, 'SENDER_EXISTS');
      for (const sender of ['TwelveLetter', '12 34', 'Ünïcode', '+1234567890123456']) {
        expectError(await asOwner('POST', '/senders', { sender }), 400, 'INVALID_SENDER');
      }
      expectError(await asOwner('POST', '/senders', { sender: 'Okay', status: 'refused' }), 400, 'VALIDATION_FAILED');
      expect((await asOwner('GET', '/senders')).json().map((s: { sender: string }) => s.sender)).toEqual(['+33612345678', 'My Shop']);
      expect((await asOwner('GET', `/senders/${encodeURIComponent('My Shop')}`)).json().sender).toBe('My Shop');
      const patched = await asOwner('PATCH', `/senders/${encodeURIComponent('+33612345678')}`, { status: 'enable', description: 'mobile' });
      expect(patched.json()).toMatchObject({ status: 'enable', description: 'mobile' });
      expect((await asOwner('DELETE', `/senders/${encodeURIComponent('My Shop')}`)).statusCode).toBe(204);
      expectError(await asOwner('GET', `/senders/${encodeURIComponent('My Shop')}`), 404, 'SENDER_NOT_FOUND');
    });

    it('creates tokens (shown once), lists them without secrets, and revokes them', async () => {
      await createSmsUser(ctx.app, owner.account, { login: 'tokenuser' });
      const created = await asOwner('POST', '/tokens', { name: 'ci', user: 'tokenuser' });
      expect(created.statusCode).toBe(201);
      const body = created.json();
      expect(body).toEqual({
        id: expect.any(Number),
        name: 'ci',
        user: 'tokenuser',
        createdAt: expect.any(String),
        lastUsedAt: null,
        revokedAt: null,
        token: expect.stringMatching(new RegExp(`^rls_${body.id}_[A-Za-z0-9_-]{43}$`)),
      });
      expect((await call('GET', `${base}/users/tokenuser`, bearer(body.token))).statusCode).toBe(200);
      const list = await asOwner('GET', '/tokens');
      expect(list.json().find((t: { id: number }) => t.id === body.id)).toMatchObject({
        name: 'ci',
        user: 'tokenuser',
        lastUsedAt: expect.any(String),
      });
      expect(list.body).not.toContain(body.token.slice(`rls_${body.id}_`.length));
      expect(list.body).not.toContain('argon2');
      expectError(await asOwner('POST', '/tokens', { user: 'ghost' }), 404, 'USER_NOT_FOUND');
      expectError(await asOwner('POST', '/tokens', { name: 'x'.repeat(101) }), 400, 'VALIDATION_FAILED');
      expect((await asOwner('DELETE', `/tokens/${body.id}`)).statusCode).toBe(204);
      expect((await asOwner('GET', '/tokens')).json().find((t: { id: number }) => t.id === body.id).revokedAt).toEqual(expect.any(String));
      expectError(await call('GET', `${base}/users/tokenuser`, bearer(body.token)), 401, 'UNAUTHENTICATED');
      expectError(await asOwner('DELETE', '/tokens/999999'), 404, 'TOKEN_NOT_FOUND');
    });

    it('refuses control characters in descriptions and token names, and quotas above MAX_CREDITS, changing nothing', async () => {
      const message = (res: { json: () => unknown }) => (res.json() as { error: { message: string } }).error.message;
      const oneLine = /must be one line of text, without control characters/;
      const before = (await asOwner('GET', '')).json().description;
      for (const description of ['a\u001b[31mb', 'two\nlines', 'bell\u0007']) {
        const res = await asOwner('PATCH', '', { description });
        expectError(res, 400, 'VALIDATION_FAILED');
        expect(message(res)).toMatch(oneLine);
      }
      expect((await asOwner('GET', '')).json().description).toBe(before);

      const sender = await asOwner('POST', '/senders', { sender: 'Ctl', description: 'a\u001b[2Jb' });
      expectError(sender, 400, 'VALIDATION_FAILED');
      expect(message(sender)).toMatch(oneLine);
      expectError(await asOwner('GET', '/senders/Ctl'), 404, 'SENDER_NOT_FOUND');
      await createSender(ctx.app, owner.account, { sender: 'CtlOk', description: 'kept' });
      expectError(await asOwner('PATCH', '/senders/CtlOk', { description: 'x\ry' }), 400, 'VALIDATION_FAILED');
      expect((await asOwner('GET', '/senders/CtlOk')).json().description).toBe('kept');

      const tokens = (await asOwner('GET', '/tokens')).json().length;
      const token = await asOwner('POST', '/tokens', { name: 'a\u001b[2Jb' });
      expectError(token, 400, 'VALIDATION_FAILED');
      expect(message(token)).toMatch(oneLine);
      expect((await asOwner('GET', '/tokens')).json()).toHaveLength(tokens);

      for (const quota of [MAX_CREDITS + 1, 1e300]) {
        const res = await asOwner('POST', '/users', { login: 'quota-user', quota });
        expectError(res, 400, 'VALIDATION_FAILED');
        expect(message(res)).toContain(`The quota must be a number from 0 to ${MAX_CREDITS}`);
      }
      expectError(await asOwner('GET', '/users/quota-user'), 404, 'USER_NOT_FOUND');
      expect((await asOwner('POST', '/users', { login: 'quota-user', quota: MAX_CREDITS })).json().quota).toBe(MAX_CREDITS);
      expectError(await asOwner('PATCH', '/users/quota-user', { quota: MAX_CREDITS * 10 }), 400, 'VALIDATION_FAILED');
      expect((await asOwner('GET', '/users/quota-user')).json().quota).toBe(MAX_CREDITS);
    });

    it('echoes at most 40 characters of a bad value in an error, escaped to one line', async () => {
      const long = 'b'.repeat(10_000);
      const { smsUsers, senders } = ctx.app.services;
      const name = owner.account.name;
      const cases: [() => Promise<unknown>, string][] = [
        [() => smsUsers.create(SYSTEM_ACTOR, name, { login: long }), 'Invalid login "'],
        [() => smsUsers.create(SYSTEM_ACTOR, name, { login: 'echo-user', ipRestrictions: [long] }), 'Invalid IP restriction "'],
        [() => smsUsers.create(SYSTEM_ACTOR, name, { login: 'echo-user', callbackUrl: `https://${long}` }), 'Invalid callback URL "'],
        [() => smsUsers.update(SYSTEM_ACTOR, name, long, { quota: 1 }), 'No SMS user '],
        [() => senders.create(SYSTEM_ACTOR, name, { sender: long }), 'Invalid sender "'],
        [() => senders.create(SYSTEM_ACTOR, name, { sender: 'Echo', status: long }), 'Invalid sender status "'],
        [() => senders.get(SYSTEM_ACTOR, name, long), 'No sender "'],
      ];
      for (const [refused, start] of cases) {
        const error = await errorOf(refused);
        expect(error?.message, start).toContain(start);
        expect(error?.message, start).toMatch(/b{30,40}…/);
        expect(error?.message.length, start).toBeLessThan(250);
      }
      await expect(smsUsers.create(SYSTEM_ACTOR, name, { login: 'a\nb' })).rejects.toMatchObject({
        message: expect.stringMatching(/^Invalid login "a\\nb": /),
      });
    });

    it('an account token manages users and senders, not settings nor tokens', async () => {
      const t = bearer(await createToken(ctx.app, owner.account));
      expect((await call('GET', base, t)).statusCode).toBe(200);
      expect((await call('GET', '/api/v1/accounts', t)).json().map((a: { name: string }) => a.name)).toEqual([owner.account.name]);
      expect((await call('POST', `${base}/users`, t, { login: 'by-token', password: 'password-1' })).statusCode).toBe(201);
      expect((await call('PATCH', `${base}/users/by-token`, t, { quota: 3 })).statusCode).toBe(200);
      expect((await call('POST', `${base}/senders`, t, { sender: 'ByToken' })).statusCode).toBe(201);
      expect((await call('DELETE', `${base}/senders/ByToken`, t)).statusCode).toBe(204);
      expect((await call('DELETE', `${base}/users/by-token`, t)).statusCode).toBe(204);
      expectError(await call('PATCH', base, t, { description: 'no' }), 403, 'FORBIDDEN');
      expectError(await call('PATCH', base, t, { storeText: false }), 403, 'FORBIDDEN');
      expectError(await call('PATCH', base, t, { retentionDays: 1, redactAfterDays: 1 }), 403, 'FORBIDDEN');
      expectError(await call('GET', `${base}/tokens`, t), 403, 'FORBIDDEN');
      expectError(await call('POST', `${base}/tokens`, t, {}), 403, 'FORBIDDEN');
      expectError(await call('DELETE', `${base}/tokens/1`, t), 403, 'FORBIDDEN');
    });

    it('a user-scoped token reads only its own user, the account and its senders', async () => {
      await createSmsUser(ctx.app, owner.account, { login: 'scoped' });
      await createSmsUser(ctx.app, owner.account, { login: 'neighbour' });
      await createSender(ctx.app, owner.account, { sender: 'Visible' });
      const t = bearer(await createToken(ctx.app, owner.account, { user: 'scoped' }));
      expect((await call('GET', base, t)).statusCode).toBe(200);
      expect((await call('GET', `${base}/users`, t)).json().map((u: { login: string }) => u.login)).toEqual(['scoped']);
      expect((await call('GET', `${base}/users/scoped`, t)).json().login).toBe('scoped');
      expectError(await call('GET', `${base}/users/neighbour`, t), 404, 'USER_NOT_FOUND');
      expect((await call('GET', `${base}/senders`, t)).json().map((s: { sender: string }) => s.sender)).toContain('Visible');
      expect((await call('GET', `${base}/senders/Visible`, t)).statusCode).toBe(200);
      expectError(await call('PATCH', `${base}/users/scoped`, t, { quota: 1 }), 403, 'FORBIDDEN');
      expectError(await call('DELETE', `${base}/users/scoped`, t), 403, 'FORBIDDEN');
      expectError(await call('POST', `${base}/users`, t, { login: 'another' }), 403, 'FORBIDDEN');
      expectError(await call('POST', `${base}/senders`, t, { sender: 'Nope' }), 403, 'FORBIDDEN');
      expectError(await call('PATCH', `${base}/senders/Visible`, t, { status: 'disable' }), 403, 'FORBIDDEN');
      expectError(await call('PATCH', base, t, { description: 'no' }), 403, 'FORBIDDEN');
      expectError(await call('PATCH', base, t, { retentionDays: 1 }), 403, 'FORBIDDEN');
      expectError(await call('GET', `${base}/tokens`, t), 403, 'FORBIDDEN');
    });

    it("shows the account's credit changes to its owner and its tokens, newest first", async () => {
      const { accounts } = ctx.app.services;
      const seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 10 } });
      const seededSession = await signIn(ctx.app, seeded.customer.email, seeded.password);
      const path = `/api/v1/accounts/${seeded.account.name}/credit-changes`;
      const initial = {
        id: expect.any(Number),
        createdAt: expect.any(String),
        delta: 10,
        balanceAfter: 10,
        reason: 'initial credits',
        actor: 'operator',
      };
      expect((await call('GET', path, seededSession.headers)).json()).toEqual({ data: [initial] });
      await accounts.addCredits(SYSTEM_ACTOR, seeded.account.name, 500, { reason: 'December pack' });
      await accounts.addCredits(SYSTEM_ACTOR, seeded.account.name, -10);
      const listed = await call('GET', path, seededSession.headers);
      expect(listed.statusCode).toBe(200);
      expect(listed.json().data).toEqual([
        // Dated in the account's timezone (Europe/Paris).
        {
          id: expect.any(Number),
          createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00$/),
          delta: -10,
          balanceAfter: 500,
          reason: null,
          actor: 'operator',
        },
        {
          id: expect.any(Number),
          createdAt: expect.any(String),
          delta: 500,
          balanceAfter: 510,
          reason: 'December pack',
          actor: 'operator',
        },
        initial,
      ]);
      expect((await call('GET', `${path}?limit=1`, seeded.auth)).json().data.map((c: { delta: number }) => c.delta)).toEqual([-10]);
      expectError(await call('GET', `${path}?limit=0`, seeded.auth), 400, 'VALIDATION_FAILED');
    });

    it('isolation: another customer gets 404 ACCOUNT_NOT_FOUND on every route of this account, by cookie and by token', async () => {
      await createSmsUser(ctx.app, owner.account, { login: 'victim' });
      await createSender(ctx.app, owner.account, { sender: 'Victim' });
      const victimToken = await createToken(ctx.app, owner.account, { name: 'victim' });
      const tokenId = Number(victimToken.split('_')[1]);
      const intruder = await seedCustomerWithAccount(ctx.app);
      const intruderSession = await signIn(ctx.app, intruder.customer.email, intruder.password);
      const userToken = await createToken(ctx.app, intruder.account, { user: (await createSmsUser(ctx.app, intruder.account)).login });
      const routes: [Method, string, unknown?][] = [
        ['GET', ''],
        ['PATCH', '', { description: 'pwned' }],
        ['PATCH', '', { retentionDays: 1, storeText: false }],
        ['GET', '/users'],
        ['POST', '/users', { login: 'intruder', password: 'password-1' }],
        ['GET', '/users/victim'],
        ['PATCH', '/users/victim', { password: 'password-2' }],
        ['DELETE', '/users/victim'],
        ['GET', '/senders'],
        ['POST', '/senders', { sender: 'Intruder' }],
        ['GET', '/senders/Victim'],
        ['PATCH', '/senders/Victim', { status: 'disable' }],
        ['DELETE', '/senders/Victim'],
        ['GET', '/tokens'],
        ['POST', '/tokens', { name: 'stolen' }],
        ['DELETE', `/tokens/${tokenId}`],
        ['GET', '/credit-changes'],
      ];
      const credentials = {
        cookie: (method: Method) => (method === 'GET' ? intruderSession.headers : intruderSession.writeHeaders),
        'account token': () => intruder.auth,
        'user token': () => bearer(userToken),
      };
      for (const [label, headers] of Object.entries(credentials)) {
        for (const [method, path, payload] of routes) {
          const res = await call(method, `${base}${path}`, headers(method), payload);
          expect({ label, method, path, status: res.statusCode, body: res.json() }).toEqual({
            label,
            method,
            path,
            status: 404,
            body: { error: { code: 'ACCOUNT_NOT_FOUND', message: `No SMS account named ${owner.account.name}` } },
          });
        }
        const listed = await call('GET', '/api/v1/accounts', headers('GET'));
        expect(listed.json().map((a: { name: string }) => a.name)).not.toContain(owner.account.name);
      }
      const unknown = await call('GET', '/api/v1/accounts/sms-zz99999-9', intruder.auth);
      expect(unknown.json()).toEqual({ error: { code: 'ACCOUNT_NOT_FOUND', message: 'No SMS account named sms-zz99999-9' } });
      // nothing was changed
      expect((await asOwner('GET', '/users/victim')).statusCode).toBe(200);
      expect((await asOwner('GET', '/senders/Victim')).json().status).toBe('enable');
      expect((await asOwner('GET', '')).json().description).not.toBe('pwned');
      expect((await call('GET', base, bearer(victimToken))).statusCode).toBe(200);
    });

    it('answers 401 UNAUTHENTICATED on every route without credentials', async () => {
      for (const [method, path] of [
        ['GET', '/api/v1/accounts'],
        ['GET', base],
        ['PATCH', base],
        ['GET', `${base}/users`],
        ['POST', `${base}/users`],
        ['GET', `${base}/users/x`],
        ['PATCH', `${base}/users/x`],
        ['DELETE', `${base}/users/x`],
        ['GET', `${base}/senders`],
        ['POST', `${base}/senders`],
        ['GET', `${base}/senders/x`],
        ['PATCH', `${base}/senders/x`],
        ['DELETE', `${base}/senders/x`],
        ['GET', `${base}/tokens`],
        ['POST', `${base}/tokens`],
        ['DELETE', `${base}/tokens/1`],
        ['GET', `${base}/credit-changes`],
      ] as [Method, string][]) {
        expectError(await call(method, path, {}, method === 'POST' || method === 'PATCH' ? {} : undefined), 401, 'UNAUTHENTICATED');
      }
    });

    it('publishes the routes in the OpenAPI document', async () => {
      const doc = (await ctx.app.inject({ url: '/api/docs/json' })).json();
      for (const path of ['/api/v1/auth/sign-in', '/api/v1/accounts/{account}/users/{login}', '/api/v1/accounts/{account}/tokens/{id}']) {
        expect(doc.paths).toHaveProperty([path]);
      }
    });
  },
  { config: fastAuthConfig },
);
