import { randomInt } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import {
  createAccount,
  createCustomer,
  createSender,
  createSmsUser,
  type SeededAccount,
  seedCustomerWithAccount,
  TEST_PASSWORD,
} from '../../../../test/factories.js';
import { createOvhKeys, type OvhKeys, ovhCall } from '../../../../test/ovh.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A random documentation address (TEST-NET-3), so that http2sms' per-address limits never meet across tests. */
const randomIp = () => `203.0.113.${randomInt(1, 255)}`;

/** The user object of a user made by OVH's POST and never changed. */
const FRESH_USER = {
  password: '',
  callBack: '',
  stopCallBack: '',
  ipRestrictions: [],
  quotaInformations: { quotaLeft: 0, quotaStatus: 'inactive' },
  alertThresholdInformations: { alertEmail: '', alertNumber: '', alertThreshold: 0, support: 'mail' },
};

describeEachDialectWithApp('OVH API: /sms/{serviceName}/users and /senders', (ctx) => {
  let owner: SeededAccount;
  let keys: OvhKeys;
  let sn: string;
  const call = (method: Method, path: string, body?: unknown, as: OvhKeys = keys) => ovhCall(ctx.app, as, method, path, { body });
  const expectOk = (res: LightMyRequestResponse, body: unknown = null) => {
    expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 200, body });
  };
  const expectOvhError = (res: LightMyRequestResponse, status: number, errorCode: string, message?: string | RegExp) => {
    const classes: Record<number, string> = {
      400: 'Client::BadRequest',
      403: 'Client::Forbidden',
      404: 'Client::NotFound',
      409: 'Client::Conflict',
    };
    expect({ status: res.statusCode, body: res.json() }).toEqual({
      status,
      body: {
        class: classes[status],
        message: message === undefined ? expect.any(String) : typeof message === 'string' ? message : expect.stringMatching(message),
        errorCode,
        httpCode: expect.stringMatching(new RegExp(`^${status} `)),
      },
    });
  };
  /** An http2sms send as `login`/`password` of the owner's account, answered in JSON. */
  const http2sms = async (login: string, password: string, remoteAddress = randomIp()) => {
    const query = new URLSearchParams({
      account: sn,
      login,
      password,
      from: 'MyShop',
      to: '+33612345678',
      message: 'Hello',
      contentType: 'application/json',
    });
    const res = await ctx.app.inject({ method: 'GET', url: `/cgi-bin/sms/http2sms.cgi?${query}`, remoteAddress });
    return res.json() as { status: number; message?: string; smsIds?: string[] };
  };
  const canSignIn = (login: string, password: string) =>
    ctx.app.services.smsUsers.authenticate(sn, login, password).then(
      () => true,
      () => false,
    );

  beforeAll(async () => {
    owner = await seedCustomerWithAccount(ctx.app, { account: { credits: 1000 } });
    sn = owner.account.name;
    keys = await createOvhKeys(ctx.app, owner.customer);
    await createSender(ctx.app, owner.account, { sender: 'MyShop' });
  });

  // SMS users

  it('creates a user (null, HTTP 200), lists its login, answers OVH’s user object, deletes it; then 404', async () => {
    expectOk(await call('GET', `/sms/${sn}/users`), []);
    expectOk(await call('POST', `/sms/${sn}/users`, { login: 'ovhuser', password: 'first-password' }));
    expectOk(await call('GET', `/sms/${sn}/users`), ['ovhuser']);
    expectOk(await call('GET', `/sms/${sn}/users/ovhuser`), { login: 'ovhuser', ...FRESH_USER });
    expect(await canSignIn('ovhuser', 'first-password')).toBe(true);
    expect((await http2sms('ovhuser', 'first-password')).status).toBe(100);

    expectOk(await call('DELETE', `/sms/${sn}/users/ovhuser`));
    expectOvhError(
      await call('GET', `/sms/${sn}/users/ovhuser`),
      404,
      'USER_NOT_FOUND',
      'The requested object (login = ovhuser) does not exist',
    );
    expectOk(await call('GET', `/sms/${sn}/users`), []);
    expect(await canSignIn('ovhuser', 'first-password')).toBe(false);
    expectOvhError(await call('DELETE', `/sms/${sn}/users/ovhuser`), 404, 'USER_NOT_FOUND');
    expectOvhError(await call('PUT', `/sms/${sn}/users/ovhuser`, { callBack: '' }), 404, 'USER_NOT_FOUND');
  });

  it('lists every user of the account by login', async () => {
    const account = await createAccount(ctx.app, { owner: owner.customer });
    await createSmsUser(ctx.app, account, { login: 'zeta' });
    await createSmsUser(ctx.app, account, { login: 'alpha' });
    expectOk(await call('GET', `/sms/${account.name}/users`), ['alpha', 'zeta']);
  });

  it('changes every field through PUT and answers it through GET; the new password works for http2sms', async () => {
    expectOk(await call('POST', `/sms/${sn}/users`, { login: 'putuser', password: 'first-password' }));
    expectOk(
      await call('PUT', `/sms/${sn}/users/putuser`, {
        password: 'second-password',
        callBack: 'https://example.com/dlr?x=1',
        ipRestrictions: ['192.0.2.10', '198.51.100.0/24'],
        quotaInformations: { quotaLeft: 42.5, quotaStatus: 'active' },
      }),
    );
    expectOk(await call('GET', `/sms/${sn}/users/putuser`), {
      ...FRESH_USER,
      login: 'putuser',
      callBack: 'https://example.com/dlr?x=1',
      ipRestrictions: ['192.0.2.10', '198.51.100.0/24'],
      quotaInformations: { quotaLeft: 42.5, quotaStatus: 'active' },
    });
    expect(await canSignIn('putuser', 'second-password')).toBe(true);
    expect(await canSignIn('putuser', 'first-password')).toBe(false);
    expect((await http2sms('putuser', 'second-password', '198.51.100.7')).status).toBe(100);
    expect(await http2sms('putuser', 'second-password', '203.0.113.9')).toMatchObject({ status: 401 });
    const user = await ctx.app.services.smsUsers.get({ kind: 'system' }, sn, 'putuser');
    expect(user).toMatchObject({ quota: 41.5, callbackUrl: 'https://example.com/dlr?x=1' });

    // Emptied: no callback, no restriction, no quota.
    expectOk(
      await call('PUT', `/sms/${sn}/users/putuser`, { callBack: '', ipRestrictions: [], quotaInformations: { quotaStatus: 'inactive' } }),
    );
    expectOk(await call('GET', `/sms/${sn}/users/putuser`), { login: 'putuser', ...FRESH_USER });
    expectOk(await call('PUT', `/sms/${sn}/users/putuser`, { callBack: 'http://example.org/cb' }));
    expectOk(await call('PUT', `/sms/${sn}/users/putuser`, { callBack: null }));
    expect((await call('GET', `/sms/${sn}/users/putuser`)).json().callBack).toBe('');
    expect(await canSignIn('putuser', 'second-password')).toBe(true);
  });

  it('maps quotaInformations onto the quota: active with or without quotaLeft, inactive, quotaLeft alone', async () => {
    await createSmsUser(ctx.app, owner.account, { login: 'quotauser' });
    const quota = async () => (await call('GET', `/sms/${sn}/users/quotauser`)).json().quotaInformations;
    const put = (quotaInformations: unknown) => call('PUT', `/sms/${sn}/users/quotauser`, { quotaInformations });

    expectOk(await put({ quotaStatus: 'active' }));
    expect(await quota()).toEqual({ quotaLeft: 0, quotaStatus: 'active' });
    expectOk(await put({ quotaLeft: 10 }));
    expect(await quota()).toEqual({ quotaLeft: 10, quotaStatus: 'active' });
    expectOk(await put({ quotaStatus: 'active' }));
    expect(await quota()).toEqual({ quotaLeft: 10, quotaStatus: 'active' });
    expectOk(await put({ quotaLeft: 99, quotaStatus: 'inactive' }));
    expect(await quota()).toEqual({ quotaLeft: 0, quotaStatus: 'inactive' });
    // Without a quota, an amount alone is not kept: the quota stays off.
    expectOk(await put({ quotaLeft: 5 }));
    expect(await quota()).toEqual({ quotaLeft: 0, quotaStatus: 'inactive' });
    expectOk(await put({}));
    expect(await quota()).toEqual({ quotaLeft: 0, quotaStatus: 'inactive' });
  });

  it('takes back the object it answered (GET, change one field, PUT it all) and keeps the password', async () => {
    await createSmsUser(ctx.app, owner.account, { login: 'roundtrip', ipRestrictions: ['192.0.2.1'], quota: 7 });
    const read = (await call('GET', `/sms/${sn}/users/roundtrip`)).json();
    expectOk(await call('PUT', `/sms/${sn}/users/roundtrip`, { ...read, callBack: 'https://example.com/cb' }));
    expectOk(await call('GET', `/sms/${sn}/users/roundtrip`), { ...read, callBack: 'https://example.com/cb' });
    expect(await canSignIn('roundtrip', TEST_PASSWORD)).toBe(true);
    expectOk(await call('PUT', `/sms/${sn}/users/roundtrip`));
    expectOk(await call('GET', `/sms/${sn}/users/roundtrip`), { ...read, callBack: 'https://example.com/cb' });
  });

  it('refuses a bad POST of a user with 400 or 409, naming the field, and creates nothing', async () => {
    await createSmsUser(ctx.app, owner.account, { login: 'taken' });
    const before = (await call('GET', `/sms/${sn}/users`)).json();
    const cases: [unknown, number, string, RegExp][] = [
      [{ login: 'taken', password: 'another-password' }, 409, 'USER_EXISTS', /taken already exists/],
      [{ login: 'x', password: 'good-password' }, 400, 'VALIDATION_FAILED', /^Invalid login "x": 3 to 32 letters/],
      [{ login: 'bad login!', password: 'good-password' }, 400, 'VALIDATION_FAILED', /^Invalid login "bad login!"/],
      [{ login: 'shortpass', password: 'short' }, 400, 'VALIDATION_FAILED', /password must be 8 to 256 characters/],
      [{ login: 'nopass' }, 400, 'INVALID_PARAMETER', /^Invalid parameter password: /],
      [{ password: 'good-password' }, 400, 'INVALID_PARAMETER', /^Invalid parameter login: /],
      [undefined, 400, 'INVALID_PARAMETER', /^Invalid parameter login: /],
      [{ login: 'long', password: 'x'.repeat(257) }, 400, 'INVALID_PARAMETER', /^Invalid parameter password: /],
      [
        { login: 'extra', password: 'good-password', quota: 3 },
        400,
        'VALIDATION_FAILED',
        /^Received not described parameters: \(quota\) while calling POST:\/sms\/\{serviceName\}\/users$/,
      ],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await call('POST', `/sms/${sn}/users`, body);
      expect({ body, status: res.statusCode, code: res.json().errorCode }).toEqual({ body, status, code });
      expectOvhError(res, status, code, message);
    }
    expectOk(await call('GET', `/sms/${sn}/users`), before);
    expect(await canSignIn('taken', TEST_PASSWORD)).toBe(true);
  });

  it('refuses a bad PUT of a user with 400 naming the field, and changes nothing', async () => {
    await createSmsUser(ctx.app, owner.account, {
      login: 'steady',
      callbackUrl: 'https://example.com/steady',
      ipRestrictions: ['192.0.2.1'],
      quota: 3,
    });
    const before = (await call('GET', `/sms/${sn}/users/steady`)).json();
    const cases: [unknown, string, RegExp][] = [
      [{ password: 'short', callBack: 'https://example.com/other' }, 'VALIDATION_FAILED', /password must be 8 to 256 characters/],
      [
        { callBack: 'ftp://example.com/x', password: 'changed-password' },
        'VALIDATION_FAILED',
        /^Invalid callback URL "ftp:\/\/example.com\/x"/,
      ],
      [{ ipRestrictions: ['192.0.2.1', 'not-an-ip'] }, 'VALIDATION_FAILED', /^Invalid IP restriction "not-an-ip"/],
      [{ ipRestrictions: 'x'.repeat(65) }, 'INVALID_PARAMETER', /^Invalid parameter ipRestrictions\.0: /],
      [{ quotaInformations: { quotaLeft: -1 } }, 'INVALID_PARAMETER', /^Invalid parameter quotaInformations\.quotaLeft: must be >= 0/],
      [
        { quotaInformations: { quotaStatus: 'on' } },
        'VALIDATION_FAILED',
        /^Invalid parameter quotaInformations\.quotaStatus: "on" is not one of active, inactive$/,
      ],
      [{ quotaInformations: { quota: 1 } }, 'VALIDATION_FAILED', /^Received not described parameters: \(quotaInformations\.quota\)/],
      [
        { stopCallBack: 'https://example.com/stop' },
        'VALIDATION_FAILED',
        /^Invalid parameter stopCallBack: Relais receives no STOP replies/,
      ],
      [
        { alertThresholdInformations: { alertThreshold: 50, support: 'mail', alertEmail: 'a@example.com' } },
        'VALIDATION_FAILED',
        /^Invalid parameter alertThresholdInformations\.alertThreshold: Relais sends no quota alerts/,
      ],
      [
        { alertThresholdInformations: { support: 'pigeon' } },
        'VALIDATION_FAILED',
        /^Invalid parameter alertThresholdInformations\.support: /,
      ],
      [{ login: 'renamed', callBack: '' }, 'VALIDATION_FAILED', /^Invalid parameter login: the login of a user cannot be changed/],
      [
        { callback: 'https://example.com/typo' },
        'VALIDATION_FAILED',
        /^Received not described parameters: \(callback\) while calling PUT:/,
      ],
      [[1, 2], 'INVALID_PARAMETER', /^Invalid parameter/],
    ];
    for (const [body, code, message] of cases) {
      const res = await call('PUT', `/sms/${sn}/users/steady`, body);
      expect({ body, status: res.statusCode, code: res.json().errorCode }).toEqual({ body, status: 400, code });
      expectOvhError(res, 400, code, message);
    }
    expectOk(await call('GET', `/sms/${sn}/users/steady`), before);
    expect(await canSignIn('steady', TEST_PASSWORD)).toBe(true);
    expect(await canSignIn('steady', 'changed-password')).toBe(false);
  });

  it('keeps the history of a deleted user naming it', async () => {
    expectOk(await call('POST', `/sms/${sn}/users`, { login: 'leaver', password: 'leaver-password' }));
    const sent = await http2sms('leaver', 'leaver-password');
    expect(sent.status).toBe(100);
    expectOk(await call('DELETE', `/sms/${sn}/users/leaver`));
    const row = await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${sn}/outgoing/${sent.smsIds?.[0]}`, headers: owner.auth });
    expect(row.json()).toMatchObject({ user: 'leaver', channel: 'http2sms' });
  });

  // Senders

  it('adds senders (null, HTTP 200), lists them, answers OVH’s sender object, deletes them; then 404', async () => {
    const account = await createAccount(ctx.app, { owner: owner.customer });
    const base = `/sms/${account.name}/senders`;
    expectOk(await call('GET', base), []);
    expectOk(await call('POST', base, { sender: 'My Shop', description: 'The shop', reason: 'Our brand' }));
    expectOk(await call('POST', base, { sender: '+33612345678' }));
    expectOk(await call('POST', base, { sender: 'Quiet', status: 'disable' }));
    expectOk(await call('GET', base), ['+33612345678', 'My Shop', 'Quiet']);
    const object = { comment: null, referer: 'custom', validationMedia: null };
    expectOk(await call('GET', `${base}/My%20Shop`), {
      sender: 'My Shop',
      description: 'The shop',
      status: 'enable',
      type: 'alpha',
      ...object,
    });
    expectOk(await call('GET', `${base}/%2B33612345678`), {
      sender: '+33612345678',
      description: '',
      status: 'enable',
      type: 'numeric',
      ...object,
    });
    expectOk(await call('GET', `${base}/+33612345678`), {
      sender: '+33612345678',
      description: '',
      status: 'enable',
      type: 'numeric',
      ...object,
    });
    expect((await call('GET', `${base}/Quiet`)).json()).toMatchObject({ status: 'disable' });

    expectOk(await call('DELETE', `${base}/My%20Shop`));
    expectOk(await call('DELETE', `${base}/%2B33612345678`));
    expectOvhError(
      await call('GET', `${base}/My%20Shop`),
      404,
      'SENDER_NOT_FOUND',
      'The requested object (sender = My Shop) does not exist',
    );
    expectOvhError(
      await call('GET', `${base}/%2B33612345678`),
      404,
      'SENDER_NOT_FOUND',
      'The requested object (sender = +33612345678) does not exist',
    );
    expectOvhError(await call('DELETE', `${base}/My%20Shop`), 404, 'SENDER_NOT_FOUND');
    expectOvhError(await call('PUT', `${base}/My%20Shop`, { description: 'x' }), 404, 'SENDER_NOT_FOUND');
    expectOk(await call('GET', base), ['Quiet']);
  });

  it('changes a sender’s description and status through PUT; a disabled sender cannot send', async () => {
    await createSender(ctx.app, owner.account, { sender: 'Promo 2', description: 'before' });
    await createSmsUser(ctx.app, owner.account, { login: 'promouser' });
    const path = `/sms/${sn}/senders/Promo%202`;
    expectOk(await call('PUT', path, { description: 'after', status: 'disable' }));
    expect((await call('GET', path)).json()).toMatchObject({ sender: 'Promo 2', description: 'after', status: 'disable' });
    const send = (from: string) =>
      ctx.app.inject({
        method: 'GET',
        url: `/cgi-bin/sms/http2sms.cgi?${new URLSearchParams({ account: sn, login: 'promouser', password: TEST_PASSWORD, from, to: '+33612345678', message: 'Hi', contentType: 'application/json' })}`,
        remoteAddress: randomIp(),
      });
    expect((await send('Promo 2')).json().status).not.toBe(100);
    expectOk(await call('PUT', path, { status: 'enable' }));
    expect((await call('GET', path)).json()).toMatchObject({ description: 'after', status: 'enable' });
    expect((await send('Promo 2')).json().status).toBe(100);
    // The object it answered, sent back whole with one change.
    const read = (await call('GET', path)).json();
    expectOk(await call('PUT', path, { ...read, description: 'again' }));
    expectOk(await call('GET', path), { ...read, description: 'again' });
    expectOk(await call('PUT', path, { sender: 'Promo 2', type: 'alpha', comment: '', referer: 'custom', validationMedia: '' }));
  });

  it('refuses bad sender bodies with 400 or 409 naming the field, and changes nothing', async () => {
    const account = await createAccount(ctx.app, { owner: owner.customer });
    await createSender(ctx.app, account, { sender: 'Kept', description: 'kept' });
    const base = `/sms/${account.name}/senders`;
    const posts: [unknown, number, string, RegExp][] = [
      [{ sender: 'Kept' }, 409, 'SENDER_EXISTS', /Kept already exists/],
      [{ sender: 'Much too long a name' }, 400, 'INVALID_SENDER', /^Invalid sender "Much too long a name": up to 11/],
      [{ sender: '+33 6 12' }, 400, 'INVALID_SENDER', /^Invalid sender/],
      [{ description: 'no sender' }, 400, 'INVALID_PARAMETER', /^Invalid parameter sender: /],
      [{ sender: 'Fine', description: 'x'.repeat(201) }, 400, 'INVALID_PARAMETER', /^Invalid parameter description: /],
      [
        { sender: 'Fine', status: 'refused' },
        400,
        'VALIDATION_FAILED',
        /^Invalid parameter status: "refused" is not one of enable, disable$/,
      ],
      [{ sender: 'Fine', type: 'alpha' }, 400, 'VALIDATION_FAILED', /^Received not described parameters: \(type\) while calling POST:/],
    ];
    for (const [body, status, code, message] of posts) {
      const res = await call('POST', base, body);
      expect({ body, status: res.statusCode, code: res.json().errorCode }).toEqual({ body, status, code });
      expectOvhError(res, status, code, message);
    }
    const puts: [unknown, string, RegExp][] = [
      [
        { status: 'waitingValidation' },
        'VALIDATION_FAILED',
        /^Invalid parameter status: "waitingValidation" is not one of enable, disable$/,
      ],
      [{ description: 'x'.repeat(201) }, 'INVALID_PARAMETER', /^Invalid parameter description: /],
      [{ sender: 'Other', description: 'renamed' }, 'VALIDATION_FAILED', /^Invalid parameter sender: a sender cannot be renamed/],
      [{ descripton: 'typo' }, 'VALIDATION_FAILED', /^Received not described parameters: \(descripton\)/],
      [{ type: 'numeric', description: 'retyped' }, 'VALIDATION_FAILED', /^Invalid parameter type: the type follows from the sender/],
      [{ referer: 'nic' }, 'VALIDATION_FAILED', /^Invalid parameter referer: /],
      [{ comment: 'approved', status: 'disable' }, 'VALIDATION_FAILED', /^Invalid parameter comment: /],
      [{ validationMedia: 'doc-1' }, 'VALIDATION_FAILED', /^Invalid parameter validationMedia: /],
    ];
    for (const [body, code, message] of puts) {
      const res = await call('PUT', `${base}/Kept`, body);
      expect({ body, status: res.statusCode, code: res.json().errorCode }).toEqual({ body, status: 400, code });
      expectOvhError(res, 400, code, message);
    }
    expectOk(await call('GET', base), ['Kept']);
    expect((await call('GET', `${base}/Kept`)).json()).toMatchObject({ description: 'kept', status: 'enable' });
  });

  // Scope and access rules

  it('never shows or changes another customer’s account: "This service does not exist", nothing changed', async () => {
    const other = await createCustomer(ctx.app);
    const otherKeys = await createOvhKeys(ctx.app, other);
    await createSmsUser(ctx.app, owner.account, { login: 'private' });
    const notMine: [Method, string, unknown?][] = [
      ['GET', `/sms/${sn}/users`],
      ['POST', `/sms/${sn}/users`, { login: 'intruder', password: 'intruder-password' }],
      ['GET', `/sms/${sn}/users/private`],
      ['PUT', `/sms/${sn}/users/private`, { password: 'intruder-password' }],
      ['DELETE', `/sms/${sn}/users/private`],
      ['GET', `/sms/${sn}/senders`],
      ['POST', `/sms/${sn}/senders`, { sender: 'Intruder' }],
      ['GET', `/sms/${sn}/senders/MyShop`],
      ['PUT', `/sms/${sn}/senders/MyShop`, { status: 'disable' }],
      ['DELETE', `/sms/${sn}/senders/MyShop`],
      ['GET', '/sms/sms-zz99999-9/users'],
      ['GET', '/sms/sms-zz99999-9/senders/MyShop'],
    ];
    for (const [method, path, body] of notMine) {
      const res = await call(method, path, body, otherKeys);
      expect({ method, path, status: res.statusCode }).toEqual({ method, path, status: 404 });
      expectOvhError(res, 404, 'ACCOUNT_NOT_FOUND', 'This service does not exist');
    }
    expect((await call('GET', `/sms/${sn}/users`)).json()).toContain('private');
    expect((await call('GET', `/sms/${sn}/users`)).json()).not.toContain('intruder');
    expect(await canSignIn('private', TEST_PASSWORD)).toBe(true);
    expect((await call('GET', `/sms/${sn}/senders`)).json()).toEqual(expect.arrayContaining(['MyShop']));
    expect((await call('GET', `/sms/${sn}/senders`)).json()).not.toContain('Intruder');
    expect((await call('GET', `/sms/${sn}/senders/MyShop`)).json()).toMatchObject({ status: 'enable' });
  });

  it('respects the consumer key’s access rules: a read-only key cannot write (403 NOT_GRANTED_CALL), nothing changed', async () => {
    const readOnly = await createOvhKeys(ctx.app, owner.customer, { rules: [{ method: 'GET', path: '/sms/*' }] });
    const usersOnly = await createOvhKeys(ctx.app, owner.customer, {
      rules: [
        { method: 'GET', path: `/sms/${sn}/users*` },
        { method: 'POST', path: `/sms/${sn}/users` },
      ],
    });
    await createSmsUser(ctx.app, owner.account, { login: 'guarded' });
    expect((await call('GET', `/sms/${sn}/users/guarded`, undefined, readOnly)).statusCode).toBe(200);
    expect((await call('GET', `/sms/${sn}/senders/MyShop`, undefined, readOnly)).statusCode).toBe(200);
    const refused: [OvhKeys, Method, string, unknown?][] = [
      [readOnly, 'POST', `/sms/${sn}/users`, { login: 'sneaky', password: 'sneaky-password' }],
      [readOnly, 'PUT', `/sms/${sn}/users/guarded`, { password: 'sneaky-password' }],
      [readOnly, 'DELETE', `/sms/${sn}/users/guarded`],
      [readOnly, 'POST', `/sms/${sn}/senders`, { sender: 'Sneaky' }],
      [readOnly, 'PUT', `/sms/${sn}/senders/MyShop`, { status: 'disable' }],
      [readOnly, 'DELETE', `/sms/${sn}/senders/MyShop`],
      [usersOnly, 'GET', `/sms/${sn}/senders`],
      [usersOnly, 'DELETE', `/sms/${sn}/users/guarded`],
      // Refused for the rule before the body is read: a bad body is still 403.
      [readOnly, 'POST', `/sms/${sn}/users`, { login: 'x' }],
    ];
    for (const [as, method, path, body] of refused) {
      const res = await call(method, path, body, as);
      expect({ method, path, status: res.statusCode }).toEqual({ method, path, status: 403 });
      expectOvhError(res, 403, 'NOT_GRANTED_CALL');
    }
    expectOk(await call('POST', `/sms/${sn}/users`, { login: 'allowed', password: 'allowed-password' }, usersOnly));
    const users = (await call('GET', `/sms/${sn}/users`, undefined, usersOnly)).json();
    expect(users).toEqual(expect.arrayContaining(['allowed', 'guarded']));
    expect(users).not.toContain('sneaky');
    expect(await canSignIn('guarded', TEST_PASSWORD)).toBe(true);
    expect((await call('GET', `/sms/${sn}/senders/MyShop`)).json()).toMatchObject({ status: 'enable' });
    expect((await call('GET', `/sms/${sn}/senders`)).json()).not.toContain('Sneaky');
  });

  it('refuses an unsigned or wrongly signed write with 403 and changes nothing', async () => {
    const forged = { ...keys, appSecret: 'not-the-secret' };
    expectOvhError(
      await call('POST', `/sms/${sn}/users`, { login: 'forged', password: 'forged-password' }, forged),
      403,
      'INVALID_SIGNATURE',
    );
    const unsigned = await ctx.app.inject({
      method: 'DELETE',
      url: `/1.0/sms/${sn}/senders/MyShop`,
      headers: { 'x-ovh-application': keys.appKey },
    });
    expect(unsigned.statusCode).toBe(403);
    expect((await call('GET', `/sms/${sn}/users`)).json()).not.toContain('forged');
    expect((await call('GET', `/sms/${sn}/senders`)).json()).toContain('MyShop');
  });
});
