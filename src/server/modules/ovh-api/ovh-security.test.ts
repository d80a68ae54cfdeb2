import { randomInt } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp, TEST_SECRET_KEY } from '../../../../test/app.js';
import {
  bearer,
  createAccount,
  createCustomer,
  createSender,
  createSmsUser,
  createToken,
  signIn,
  type TestSession,
} from '../../../../test/factories.js';
import { ledger } from '../../../../test/ledger.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import { ALL_RULES, createOvhKeys, type OvhKeys, ovhCall, ovhHeaders } from '../../../../test/ovh.js';
import type { Account } from '../accounts/accounts.repository.js';
import type { Customer } from '../accounts/customers.repository.js';
import { type AccessRule, MAX_RULE_STARS, ovhSignature } from './ovh-signature.js';
import { DOCUMENT_TTL_MS } from './ovh-sms.views.js';

/**
 * A security review of the OVH-compatible API (`/1.0`) and of its keys (`/api/v1/ovh`): each test is an
 * attack, by someone with no keys, another customer's keys, a key with narrow access rules, an
 * application key only, a document id or download URL seen in a log, or another customer's Manager
 * session; each asserts the safe answer (the right refusal) and that nothing was written, debited or
 * leaked.
 */

/** A clock a test may move forward (document expiry, key validity); signatures carry its time. */
const clock = { offset: 0, now: () => Date.now() + clock.offset };
const seconds = () => Math.floor(clock.now() / 1000);

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Answer {
  statusCode: number;
  body: string;
  headers: IncomingHttpHeaders | LightMyRequestResponse['headers'];
}

/** An array nested `depth` times (`[[[…]]]`), written as JSON text: the JSON parser takes it, recursion does not. */
const deepJson = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describeEachDialectWithApp(
  'OVH API security review',
  (ctx) => {
    let owner: Customer;
    let stranger: Customer;
    /** The owner's account every attack aims at, and one whose name starts with its name (…-1 and …-10). */
    let mine: Account;
    let mine10: Account;
    let theirs: Account;
    let keys: OvhKeys;
    let strangerKeys: OvhKeys;
    let session: TestSession;
    let strangerSession: TestSession;
    /** Messages by name: `shop` and `other` (SMS users of `mine`), `ten` (of `mine10`), `theirs` (the stranger's). */
    const msg: Record<string, number> = {};
    let port: number;
    /** Every secret the answers must never hold. */
    const secrets = new Set<string>([TEST_SECRET_KEY, '$argon2']);

    const remember = (k: OvhKeys) => {
      secrets.add(k.appSecret);
      secrets.add(k.consumerKey);
      return k;
    };
    const newKeys = async (who: Customer, rules: AccessRule[] = ALL_RULES) => remember(await createOvhKeys(ctx.app, who, { rules }));

    /** Fails when an answer holds a secret (an application secret, a consumer key, the server secret, a hash). */
    const noLeak = <T extends Answer>(res: T): T => {
      const text = `${res.body}\n${JSON.stringify(res.headers)}`;
      for (const secret of secrets) expect(text, `an answer leaks ${secret.slice(0, 6)}…`).not.toContain(secret);
      expect(res.statusCode, res.body).toBeLessThan(500);
      return res;
    };
    const call = async (k: Pick<OvhKeys, 'appKey' | 'appSecret' | 'consumerKey'>, method: Method, path: string, options = {}) =>
      noLeak(await ovhCall(ctx.app, k, method, path, { timestamp: seconds(), ...options }));
    const inject = async (options: {
      method?: string;
      url: string;
      headers?: Record<string, string | string[]>;
      payload?: unknown;
      remoteAddress?: string;
    }) => noLeak(await ctx.app.inject(options as InjectOptions));
    const errorCode = (res: Answer) => (JSON.parse(res.body || 'null') as { errorCode?: string } | null)?.errorCode;

    /** A request on a real socket, its target sent byte for byte (app.inject would normalise `..`, drop a `#`…). */
    const onSocket = (method: string, target: string, options: { headers?: Record<string, string>; body?: string } = {}) =>
      new Promise<Answer>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, method, path: target, agent: false, headers: { connection: 'close', ...options.headers } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              body += chunk;
            });
            res.on('end', () => resolve(noLeak({ statusCode: res.statusCode ?? 0, body, headers: res.headers })));
          },
        );
        req.on('error', reject);
        req.end(options.body);
      });
    /** A request signed as python-ovh signs it (the target exactly as sent), on a real socket. */
    const signedOnSocket = (k: OvhKeys, method: string, target: string, body?: unknown) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const headers = ovhHeaders(k, { method, url: target, body: text, host: `127.0.0.1:${port}`, timestamp: seconds() });
      return onSocket(method, target, { headers, body: text });
    };

    /** What an attack could change: messages, queue, jobs, credits, quotas, users, senders, descriptions, keys, audits. */
    async function state() {
      const { db } = ctx.database;
      return {
        ledger: await ledger(ctx.database),
        outgoing: await db.selectFrom('outgoing').select(['id', 'status', 'account_id']).orderBy('id').execute(),
        users: await db
          .selectFrom('sms_users')
          .select(['account_id', 'login', 'password_hash', 'callback_url', 'quota', 'ip_restrictions'])
          .orderBy('id')
          .execute(),
        senders: await db.selectFrom('senders').select(['account_id', 'sender', 'status', 'description']).orderBy('id').execute(),
        accounts: await db.selectFrom('accounts').select(['id', 'description', 'status']).orderBy('id').execute(),
        credentials: await db.selectFrom('ovh_credentials').select(['id', 'status', 'customer_id', 'expires_at']).orderBy('id').execute(),
        applications: await db.selectFrom('ovh_applications').select(['id', 'customer_id']).orderBy('id').execute(),
        audits: await db.selectFrom('deletion_audit').select(['id']).orderBy('id').execute(),
      };
    }
    const exists = async (table: 'sms_users' | 'senders', column: 'login' | 'sender', value: string) =>
      (await ctx.database.db
        .selectFrom(table)
        .select('id')
        .where(column as never, '=', value as never)
        .executeTakeFirst()) !== undefined;
    const outgoingRow = (id: number) =>
      ctx.database.db.selectFrom('outgoing').select(['id', 'status']).where('id', '=', id).executeTakeFirst();

    /** A pending message of `account` (deferred an hour), sent by the owner's full key. */
    async function pendingIn(account: Account, as: OvhKeys = keys): Promise<number> {
      const res = await call(as, 'POST', `/sms/${account.name}/jobs`, {
        body: { message: 'Later', receivers: ['+33612349876'], sender: 'MyShop', differedPeriod: 60 },
      });
      expect(res.statusCode, res.body).toBe(200);
      return (res.json() as { ids: number[] }).ids[0];
    }

    /** A document of `account` asked for by `as`, and its download URL (path and query). */
    async function documentOf(account: Account, as: OvhKeys = keys): Promise<{ id: string; download: string }> {
      const asked = await call(as, 'GET', `/sms/${account.name}/document`, { query: { wayType: 'outgoing' } });
      expect(asked.statusCode, asked.body).toBe(200);
      const id = asked.json() as string;
      const doc = await call(as, 'GET', `/me/document/${id}`);
      expect(doc.statusCode, doc.body).toBe(200);
      const url = new URL((doc.json() as { getUrl: string }).getUrl);
      return { id, download: `${url.pathname}${url.search}` };
    }

    beforeAll(async () => {
      owner = await createCustomer(ctx.app);
      stranger = await createCustomer(ctx.app);
      const base = `sms-sr${String(randomInt(100_000)).padStart(5, '0')}`;
      mine = await createAccount(ctx.app, { owner, name: `${base}-1`, credits: 1000, description: 'mine' });
      mine10 = await createAccount(ctx.app, { owner, name: `${base}-10`, credits: 1000, description: 'mine10' });
      theirs = await createAccount(ctx.app, { owner: stranger, credits: 1000, description: 'theirs' });
      await createSender(ctx.app, mine, { sender: 'MyShop' });
      await createSender(ctx.app, mine10, { sender: 'MyShop' });
      await createSender(ctx.app, theirs, { sender: 'TheirShop' });
      const shop = await createSmsUser(ctx.app, mine, { login: 'shop', quota: 3 });
      const other = await createSmsUser(ctx.app, mine, { login: 'other' });
      await createSmsUser(ctx.app, theirs, { login: 'theirs' });
      keys = remember(await createOvhKeys(ctx.app, owner));
      strangerKeys = remember(await createOvhKeys(ctx.app, stranger));
      session = await signIn(ctx.app, owner.email);
      strangerSession = await signIn(ctx.app, stranger.email);
      const rows = [
        buildOutgoing({ account_id: mine.id, user_id: shop.id, user_login: 'shop', message: 'shop secret text', receiver: '+33611000001' }),
        buildOutgoing({
          account_id: mine.id,
          user_id: other.id,
          user_login: 'other',
          message: 'other secret text',
          receiver: '+33611000002',
        }),
        buildOutgoing({ account_id: mine10.id, message: 'ten secret text', receiver: '+33611000010' }),
        buildOutgoing({ account_id: theirs.id, message: 'their secret text', receiver: '+33611000099' }),
      ];
      [msg.shop, msg.other, msg.ten, msg.theirs] = await insertOutgoing(ctx.database, rows);
      await ctx.app.listen({ port: 0, host: '127.0.0.1' });
      port = (ctx.app.server.address() as AddressInfo).port;
    });

    /** Every signed route of the API, aimed at `sn` (messages `id`, pending `job`). */
    const everyRoute = (sn: string, id: number, job: number): [Method, string, unknown?][] => [
      ['GET', '/sms'],
      ['GET', `/sms/${sn}`],
      ['PUT', `/sms/${sn}`, { description: 'owned' }],
      ['GET', `/sms/${sn}/outgoing`],
      ['GET', `/sms/${sn}/outgoing/${id}`],
      ['DELETE', `/sms/${sn}/outgoing/${id}`],
      ['GET', `/sms/${sn}/jobs`],
      ['POST', `/sms/${sn}/jobs`, { message: 'pwned', receivers: ['+33612340000'], sender: 'MyShop' }],
      ['GET', `/sms/${sn}/jobs/${job}`],
      ['DELETE', `/sms/${sn}/jobs/${job}`],
      ['GET', `/sms/${sn}/users`],
      ['POST', `/sms/${sn}/users`, { login: 'intruder', password: 'intruder-password-1' }],
      ['GET', `/sms/${sn}/users/shop`],
      ['PUT', `/sms/${sn}/users/shop`, { callBack: 'https://attacker.example/cb' }],
      ['DELETE', `/sms/${sn}/users/other`],
      ['GET', `/sms/${sn}/users/shop/outgoing`],
      ['GET', `/sms/${sn}/users/shop/outgoing/${id}`],
      ['DELETE', `/sms/${sn}/users/shop/outgoing/${id}`],
      ['POST', `/sms/${sn}/users/shop/jobs`, { message: 'pwned', receivers: ['+33612340000'], sender: 'MyShop' }],
      ['GET', `/sms/${sn}/senders`],
      ['POST', `/sms/${sn}/senders`, { sender: 'FAKEBANK' }],
      ['GET', `/sms/${sn}/senders/MyShop`],
      ['PUT', `/sms/${sn}/senders/MyShop`, { status: 'disable' }],
      ['DELETE', `/sms/${sn}/senders/MyShop`],
      ['GET', `/sms/${sn}/document`],
      ['GET', '/me'],
      ['GET', '/me/document/x.y'],
      ['GET', '/auth/currentCredential'],
      ['POST', '/auth/logout'],
    ];

    // ---------------------------------------------------------------------------------------------
    // (a) no keys, (d) an application key only

    it('(a, d) refuses every signed route without keys, with an application key only, or with a pending key, and writes nothing', async () => {
      const job = await pendingIn(mine);
      const asked = await inject({
        method: 'POST',
        url: '/1.0/auth/credential',
        headers: { 'x-ovh-application': keys.appKey, 'content-type': 'application/json' },
        payload: JSON.stringify({ accessRules: ALL_RULES }),
      });
      expect(asked.statusCode).toBe(200);
      const pending = (asked.json() as { consumerKey: string }).consumerKey;
      secrets.add(pending);
      const before = await state();
      for (const [method, path, body] of everyRoute(mine.name, msg.shop, job)) {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const url = `/1.0${path}`;
        const bare = await inject({ method, url, payload, headers: payload ? { 'content-type': 'application/json' } : {} });
        expect([method, path, bare.statusCode, errorCode(bare)]).toEqual([method, path, 403, 'INVALID_KEY']);
        const appOnly = await inject({
          method,
          url,
          payload,
          headers: { 'x-ovh-application': keys.appKey, ...(payload ? { 'content-type': 'application/json' } : {}) },
        });
        expect([method, path, appOnly.statusCode, errorCode(appOnly)]).toEqual([method, path, 403, 'INVALID_CREDENTIAL']);
        // The pending key, signed with what a holder of the public application key might guess as its secret.
        for (const guess of ['', keys.appKey, pending]) {
          const res = await call({ appKey: keys.appKey, appSecret: guess, consumerKey: pending }, method, path, { body });
          expect([method, path, res.statusCode, errorCode(res)]).toEqual([method, path, 403, 'INVALID_CREDENTIAL']);
        }
        // A validated key's consumer key alone (seen in a log): without the application secret, no signature holds.
        const noSecret = await call({ appKey: keys.appKey, appSecret: '', consumerKey: keys.consumerKey }, method, path, { body });
        expect([method, path, noSecret.statusCode, errorCode(noSecret)]).toEqual([method, path, 403, 'INVALID_SIGNATURE']);
      }
      expect(await state()).toEqual(before);
    });

    // ---------------------------------------------------------------------------------------------
    // (b) another customer's valid keys

    it('(b) never lets another customer’s keys reach the owner’s accounts: every route is "This service does not exist", nothing changed', async () => {
      const job = await pendingIn(mine);
      const before = await state();
      for (const [method, path, body] of everyRoute(mine.name, msg.shop, job)) {
        if (!path.startsWith('/sms/')) continue;
        const res = await call(strangerKeys, method, path, {
          body,
          query: path.endsWith('/document') ? { wayType: 'outgoing' } : undefined,
        });
        expect([method, path, res.statusCode, res.json()]).toEqual([
          method,
          path,
          404,
          expect.objectContaining({ message: 'This service does not exist', errorCode: 'ACCOUNT_NOT_FOUND' }),
        ]);
      }
      expect(await state()).toEqual(before);
      expect((await call(strangerKeys, 'GET', '/sms')).json()).toEqual([theirs.name]);
    });

    it('(b) never reaches the owner’s message ids, pending jobs, logins or senders through the stranger’s own account', async () => {
      const job = await pendingIn(mine);
      const before = await state();
      const sn = theirs.name;
      const attempts: [Method, string, unknown?][] = [
        ['GET', `/sms/${sn}/outgoing/${msg.shop}`],
        ['DELETE', `/sms/${sn}/outgoing/${msg.shop}`],
        ['GET', `/sms/${sn}/jobs/${job}`],
        ['DELETE', `/sms/${sn}/jobs/${job}`],
        ['GET', `/sms/${sn}/users/shop`],
        ['PUT', `/sms/${sn}/users/shop`, { password: 'taken-over-password-1' }],
        ['DELETE', `/sms/${sn}/users/shop`],
        ['GET', `/sms/${sn}/users/shop/outgoing`],
        ['GET', `/sms/${sn}/users/theirs/outgoing/${msg.shop}`],
        ['DELETE', `/sms/${sn}/users/theirs/outgoing/${msg.shop}`],
        ['POST', `/sms/${sn}/users/shop/jobs`, { message: 'x', receivers: ['+33612340000'], sender: 'TheirShop' }],
        ['GET', `/sms/${sn}/senders/MyShop`],
        ['PUT', `/sms/${sn}/senders/MyShop`, { status: 'disable' }],
        ['DELETE', `/sms/${sn}/senders/MyShop`],
      ];
      for (const [method, path, body] of attempts) {
        const res = await call(strangerKeys, method, path, { body });
        expect([method, path, res.statusCode]).toEqual([method, path, 404]);
        expect(res.body).not.toContain('secret text');
      }
      // The owner's sender, named in a job of the stranger's account: refused, nothing sent nor debited.
      const borrowed = await call(strangerKeys, 'POST', `/sms/${sn}/jobs`, {
        body: { message: 'x', receivers: ['+33612340000'], sender: 'MyShop' },
      });
      expect([borrowed.statusCode, errorCode(borrowed)]).toEqual([400, 'INVALID_SENDER']);
      expect(await state()).toEqual(before);
      expect(await outgoingRow(job)).toEqual({ id: job, status: 'pending' });
    });

    it('(f) takes no Manager session nor API token as an OVH credential on /1.0', async () => {
      const token = await createToken(ctx.app, mine);
      const before = await state();
      for (const headers of [strangerSession.writeHeaders, session.writeHeaders, bearer(token)]) {
        const res = await inject({
          method: 'POST',
          url: `/1.0/sms/${mine.name}/jobs`,
          headers: { ...headers, 'content-type': 'application/json' },
          payload: JSON.stringify({ message: 'x', receivers: ['+33612340000'], sender: 'MyShop' }),
        });
        expect([res.statusCode, errorCode(res)]).toEqual([403, 'INVALID_KEY']);
      }
      expect(await state()).toEqual(before);
    });

    // ---------------------------------------------------------------------------------------------
    // (c) narrow access rules: path spellings

    it('(c) keeps a key for one account’s paths to that account, however the path is spelt (real socket)', async () => {
      const sn = mine.name;
      const ten = mine10.name;
      const one = await newKeys(
        owner,
        (['GET', 'POST', 'PUT', 'DELETE'] as const).map((method) => ({ method, path: `/sms/${sn}/*` })),
      );
      const control = await signedOnSocket(one, 'GET', `/1.0/sms/${sn}/outgoing`);
      expect([control.statusCode, control.body]).toEqual([200, expect.stringContaining(String(msg.shop))]);

      const encodeAll = (s: string) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
      const before = await state();
      const reads = [
        `/1.0/sms/${ten}/outgoing`,
        `/1.0/sms/${ten}/outgoing/${msg.ten}`,
        `/1.0/sms/${ten}`,
        `/1.0/sms/${theirs.name}/outgoing/${msg.theirs}`,
        `/1.0/sms/${sn}/../${ten}/outgoing`,
        `/1.0/sms/${sn}/../../sms/${ten}/outgoing/${msg.ten}`,
        `/1.0/sms/${sn}/%2e%2e/${ten}/outgoing/${msg.ten}`,
        `/1.0/sms/${sn}/users/../../${ten}/outgoing`,
        `/1.0/sms/${sn}%2F..%2F${ten}/outgoing`,
        `/1.0/sms/${ten}%2Foutgoing`,
        `/1.0/sms//${ten}/outgoing`,
        `/1.0//sms/${ten}/outgoing`,
        `/1.0/sms/${ten}//outgoing`,
        `/1.0/sms/${ten}/outgoing/`,
        `/1.0/sms/${ten}/outgoing/${msg.ten}/`,
        `/1.0/sms/${ten.toUpperCase()}/outgoing`,
        `/1.0/SMS/${ten}/outgoing`,
        `/1.0/sms/${encodeAll(ten)}/outgoing/${msg.ten}`,
        `/1.0/sms/${ten}/outgoing?path=/sms/${sn}/x`,
        `/1.0/sms/${ten}/outgoing/${msg.ten}?/sms/${sn}/`,
        `/1.0/sms/${ten}/outgoing/${msg.ten};/sms/${sn}/x`,
        `/1.0/sms/${ten}/outgoing/${msg.ten}#/sms/${sn}/x`,
        `/1.0/sms/${ten}%00/outgoing`,
        `/1.0/sms/${ten}%0a/outgoing`,
        `/1.0/sms/${ten}%C0%AF/outgoing`,
        `/1.0/sms`,
        `/1.0/me`,
        `/1.0%2Fsms/${ten}/outgoing`,
        `/1%2E0/sms/${ten}/outgoing/${msg.ten}`,
        `/1.0/./sms/${ten}/outgoing`,
        `/1.0/sms/./${ten}/outgoing`,
        `http://127.0.0.1:${port}/1.0/sms/${ten}/outgoing/${msg.ten}`,
      ];
      for (const target of reads) {
        for (const method of ['GET', 'HEAD', 'OPTIONS', 'PATCH']) {
          const res = await signedOnSocket(one, method, target);
          // A refusal, or (outside /1.0, for a GET) the Manager's page: never the API's data.
          const managerPage = String(res.headers['content-type']).startsWith('text/html');
          expect([method, target, res.statusCode, (res.statusCode >= 400 && res.statusCode < 500) || managerPage]).toEqual([
            method,
            target,
            res.statusCode,
            true,
          ]);
          expect(res.body).not.toMatch(/ten secret text|their secret text|\+33611000010|\+33611000099/);
          expect(res.body.startsWith('['), res.body).toBe(false);
        }
      }
      const writes: [string, string, unknown?][] = [
        ['DELETE', `/1.0/sms/${ten}/outgoing/${msg.ten}`],
        ['DELETE', `/1.0/sms/${sn}/../${ten}/outgoing/${msg.ten}`],
        ['DELETE', `/1.0/sms/${ten}/outgoing/${msg.ten}#/sms/${sn}/x`],
        ['DELETE', `/1.0/sms/${ten}/outgoing/${msg.ten};/sms/${sn}/x`],
        ['DELETE', `/1.0//sms/${ten}/outgoing/${msg.ten}`],
        ['PUT', `/1.0/sms/${ten}`, { description: 'owned' }],
        ['PUT', `/1.0/sms/${ten}#/sms/${sn}/`, { description: 'owned' }],
        ['POST', `/1.0/sms/${ten}/jobs`, { message: 'x', receivers: ['+33612340000'], sender: 'MyShop' }],
        ['POST', `/1.0/sms/${ten}/jobs?/sms/${sn}/`, { message: 'x', receivers: ['+33612340000'], sender: 'MyShop' }],
        ['POST', `/1.0/sms/${ten}/users`, { login: 'intruder', password: 'intruder-password-1' }],
        ['POST', `/1.0/sms/${ten}/senders`, { sender: 'FAKEBANK' }],
      ];
      for (const [method, target, body] of writes) {
        const res = await signedOnSocket(one, method, target, body);
        expect([method, target, res.statusCode >= 400 && res.statusCode < 500]).toEqual([method, target, true]);
      }
      expect(await state()).toEqual(before);
    });

    it('(c) answers a signed HEAD, OPTIONS or PATCH with a refusal, never with the data, whatever the key', async () => {
      const readOnly = await newKeys(owner, [{ method: 'GET', path: '/sms/*' }]);
      for (const k of [keys, readOnly]) {
        for (const method of ['HEAD', 'OPTIONS', 'PATCH'] as const) {
          for (const path of [`/sms/${mine.name}/outgoing/${msg.shop}`, `/sms/${mine.name}/outgoing`, '/me']) {
            const url = `/1.0${path}`;
            const res = await inject({ method, url, headers: ovhHeaders(k, { method, url, timestamp: seconds() }) });
            expect([method, path, res.statusCode >= 400 && res.statusCode < 500]).toEqual([method, path, true]);
            expect(res.body).not.toContain('secret text');
          }
        }
      }
    });

    // ---------------------------------------------------------------------------------------------
    // (c) narrow access rules: a `*` followed by more path, and a fragment (`#…`) the router does not read

    it('(c) a key allowed only POST /sms/*/jobs cannot create SMS users or senders by appending "#/jobs" (real socket)', async () => {
      const jobsOnly = await newKeys(owner, [{ method: 'POST', path: '/sms/*/jobs' }]);
      const control = await signedOnSocket(jobsOnly, 'POST', `/1.0/sms/${mine.name}/users`, {
        login: 'intruder',
        password: 'pw-intruder-123',
      });
      expect([control.statusCode, errorCode(control)]).toEqual([403, 'NOT_GRANTED_CALL']);

      const before = await state();
      const user = await signedOnSocket(jobsOnly, 'POST', `/1.0/sms/${mine.name}/users#/jobs`, {
        login: 'intruder',
        password: 'pw-intruder-123',
      });
      const sender = await signedOnSocket(jobsOnly, 'POST', `/1.0/sms/${mine.name}/senders#/jobs`, { sender: 'FAKEBANK' });
      expect({
        user: [user.statusCode, errorCode(user)],
        sender: [sender.statusCode, errorCode(sender)],
        intruderExists: await exists('sms_users', 'login', 'intruder'),
        fakeBankExists: await exists('senders', 'sender', 'FAKEBANK'),
      }).toEqual({
        user: [403, 'NOT_GRANTED_CALL'],
        sender: [403, 'NOT_GRANTED_CALL'],
        intruderExists: false,
        fakeBankExists: false,
      });
      expect(await state()).toEqual(before);
    });

    it('(c) a key allowed only to send as one SMS user cannot send as the whole account (its quota bypassed) with "#/users/shop/jobs"', async () => {
      const asShop = await newKeys(owner, [{ method: 'POST', path: '/sms/*/users/shop/jobs' }]);
      const before = await state();
      const job = { message: 'no quota', receivers: ['+33612340001', '+33612340002', '+33612340003', '+33612340004'], sender: 'MyShop' };
      const direct = await signedOnSocket(asShop, 'POST', `/1.0/sms/${mine.name}/jobs`, job);
      expect([direct.statusCode, errorCode(direct)]).toEqual([403, 'NOT_GRANTED_CALL']);
      const smuggled = await signedOnSocket(asShop, 'POST', `/1.0/sms/${mine.name}/jobs#/users/shop/jobs`, job);
      expect([smuggled.statusCode, errorCode(smuggled)]).toEqual([403, 'NOT_GRANTED_CALL']);
      expect(await state()).toEqual(before);
    });

    it('(c) a key allowed only to stop pending jobs cannot delete sent messages, SMS users or senders with "#/jobs/1"', async () => {
      const stopOnly = await newKeys(owner, [{ method: 'DELETE', path: '/sms/*/jobs/*' }]);
      const before = await state();
      const attempts = [
        `/1.0/sms/${mine.name}/outgoing/${msg.other}#/jobs/1`,
        `/1.0/sms/${mine.name}/users/other#/jobs/1`,
        `/1.0/sms/${mine10.name}/senders/MyShop#/jobs/1`,
      ];
      const answers = [];
      for (const target of attempts) answers.push([target, (await signedOnSocket(stopOnly, 'DELETE', target)).statusCode]);
      expect(answers).toEqual(attempts.map((target) => [target, 403]));
      expect(await state()).toEqual(before);
    });

    it('(c) a key allowed only to list ids (GET /sms/*/outgoing) cannot read a message or a user with "#/outgoing"', async () => {
      const listOnly = await newKeys(owner, [{ method: 'GET', path: '/sms/*/outgoing' }]);
      const list = await signedOnSocket(listOnly, 'GET', `/1.0/sms/${mine.name}/outgoing`);
      expect(list.statusCode).toBe(200);
      const message = await signedOnSocket(listOnly, 'GET', `/1.0/sms/${mine.name}/outgoing/${msg.shop}#/outgoing`);
      const user = await signedOnSocket(listOnly, 'GET', `/1.0/sms/${mine.name}/users/shop#/outgoing`);
      expect({ message: [message.statusCode, message.body.includes('shop secret text')], user: user.statusCode }).toEqual({
        message: [403, false],
        user: 403,
      });
    });

    // ---------------------------------------------------------------------------------------------
    // (c) narrow access rules: rules that cost too much to match

    it('(c) refuses a rule with more stars than MAX_RULE_STARS when the key is made, and matches one at the limit by a walk that cannot backtrack', async () => {
      // (the answer holds the application secret, shown once: read without the leak check)
      const application = (
        await ctx.app.inject({ method: 'POST', url: '/api/v1/ovh/applications', headers: session.writeHeaders, payload: { name: 'stars' } })
      ).json() as { id: number; appKey: string; appSecret: string };
      const make = (path: string) =>
        ctx.app.inject({
          method: 'POST',
          url: `/api/v1/ovh/applications/${application.id}/credentials`,
          headers: session.writeHeaders,
          payload: { rules: [{ method: 'GET', path }], validity: null },
        });
      const tooMany = await make(`/${'*a'.repeat(MAX_RULE_STARS + 1)}b`);
      expect(tooMany.statusCode).toBe(400);
      expect(tooMany.json().error.message).toMatch(new RegExp(`at most ${MAX_RULE_STARS} \\*`));
      // At the limit: the rule a regular expression of .* runs would backtrack on for seconds (globMatches walks it).
      const credential = await make(`/${'*a'.repeat(MAX_RULE_STARS)}b`);
      expect(credential.statusCode).toBe(201);
      const k = {
        appKey: application.appKey,
        appSecret: application.appSecret,
        consumerKey: (credential.json() as { consumerKey: string }).consumerKey,
      };
      secrets.add(k.appSecret);
      secrets.add(k.consumerKey);
      const res = await call(k, 'GET', `/sms/${'a'.repeat(44)}`);
      expect(res.statusCode).toBe(403);
      expect(errorCode(res)).toBe('NOT_GRANTED_CALL');
    });

    // ---------------------------------------------------------------------------------------------
    // (c) a key for one SMS user's paths

    it('(c) keeps a key for one SMS user’s paths to that user’s messages: another user’s or account’s ids are not found, nothing deleted', async () => {
      const sn = mine.name;
      const shopOnly = await newKeys(
        owner,
        (['GET', 'POST', 'DELETE'] as const).map((method) => ({ method, path: `/sms/${sn}/users/shop/*` })),
      );
      expect((await call(shopOnly, 'GET', `/sms/${sn}/users/shop/outgoing`)).json()).toEqual([msg.shop]);
      const before = await state();
      const attempts: [Method, string, number][] = [
        ['GET', `/sms/${sn}/users/other/outgoing`, 403],
        ['GET', `/sms/${sn}/outgoing/${msg.other}`, 403],
        ['GET', `/sms/${sn}/users/shop/outgoing/${msg.other}`, 404],
        ['DELETE', `/sms/${sn}/users/shop/outgoing/${msg.other}`, 404],
        ['GET', `/sms/${sn}/users/shop/outgoing/${msg.ten}`, 404],
        ['DELETE', `/sms/${sn}/users/shop/outgoing/${msg.theirs}`, 404],
        ['GET', `/sms/${mine10.name}/users/shop/outgoing`, 403],
        ['DELETE', `/sms/${sn}/users/other`, 403],
      ];
      for (const [method, path, status] of attempts) {
        const res = await call(shopOnly, method, path);
        expect([method, path, res.statusCode]).toEqual([method, path, status]);
        expect(res.body).not.toContain('secret text');
      }
      expect(await state()).toEqual(before);
    });

    // ---------------------------------------------------------------------------------------------
    // (c, e) documents

    it('(c, e) does not open another account’s document to a key whose rules never reached that account', async () => {
      const sn = mine.name;
      const narrow = await newKeys(owner, [
        { method: 'GET', path: `/sms/${sn}/*` },
        { method: 'GET', path: '/me/document/*' },
      ]);
      // Its own account's document: fine.
      await documentOf(mine, narrow);
      // A document of mine10 asked for by another key of the same customer, its id seen in a log.
      const { id } = await documentOf(mine10, keys);
      expect((await call(narrow, 'GET', `/sms/${mine10.name}/document`, { query: { wayType: 'outgoing' } })).statusCode).toBe(403);
      const res = await call(narrow, 'GET', `/me/document/${id}`);
      expect({ status: res.statusCode, getUrl: res.body.includes('/me/document/download') }).toEqual({ status: 404, getUrl: false });
    });

    it('(e) keeps a document to its id, its key, its customer and its hour: a log’s id or URL opens nothing else', async () => {
      const first = await documentOf(mine);
      const second = await documentOf(mine10);
      const firstUrl = new URL(first.download, 'http://x');
      const secondUrl = new URL(second.download, 'http://x');
      const download = (id: string, key: string) =>
        inject({ url: `/1.0/me/document/download?id=${encodeURIComponent(id)}&key=${encodeURIComponent(key)}` });
      const firstKey = firstUrl.searchParams.get('key') ?? '';
      const secondKey = secondUrl.searchParams.get('key') ?? '';
      expect((await download(first.id, firstKey)).statusCode).toBe(200);

      const [payload, mac] = first.id.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown[];
      const forge = (change: (c: unknown[]) => void) => {
        const c = [...claims];
        change(c);
        return `${Buffer.from(JSON.stringify(c)).toString('base64url')}.${mac}`;
      };
      const forged = [
        forge((c) => {
          c[1] = mine10.name;
        }),
        forge((c) => {
          c[1] = theirs.name;
          c[2] = stranger.id;
        }),
        forge((c) => {
          c[8] = (c[8] as number) + 30 * 86_400_000;
        }),
        forge((c) => {
          c[5] = null;
          c[6] = 8_640_000_000_000_000;
        }),
        forge((c) => {
          c[3] = strangerKeys.credentialId;
        }),
      ];
      const attempts: [string, string, number[]][] = [
        [second.id, firstKey, [404]],
        [first.id, secondKey, [404]],
        [first.id, mac, [404]],
        [first.id, '', [400, 404]],
        [`${first.id}x`, firstKey, [404]],
        [first.id.toUpperCase(), firstKey, [404]],
        ...forged.map((id): [string, string, number[]] => [id, firstKey, [404]]),
      ];
      for (const [id, key, statuses] of attempts) {
        const res = await download(id, key);
        expect(statuses).toContain(res.statusCode);
        expect(res.body).not.toContain('secret text');
      }
      for (const id of forged) expect((await call(keys, 'GET', `/me/document/${id}`)).statusCode).toBe(404);
      expect((await inject({ url: `/1.0/me/document/download?id=${first.id}` })).statusCode).toBe(400);
      expect((await inject({ url: `${first.download}&id=${second.id}` })).statusCode).toBe(400);
      // Another customer's key with the id: not found, and no download key for it.
      const theirsView = await call(strangerKeys, 'GET', `/me/document/${first.id}`);
      expect([theirsView.statusCode, theirsView.body.includes(firstKey)]).toEqual([404, false]);
      // An hour later, neither the id nor the URL.
      clock.offset += DOCUMENT_TTL_MS;
      try {
        expect((await download(first.id, firstKey)).statusCode).toBe(404);
        expect((await call(keys, 'GET', `/me/document/${first.id}`)).statusCode).toBe(404);
      } finally {
        clock.offset -= DOCUMENT_TTL_MS;
      }
    });

    // ---------------------------------------------------------------------------------------------
    // Signatures: replays with another method, URL, body, host, timestamp

    it('refuses a signed request replayed with another method, path, query, body, host or content type, and writes nothing', async () => {
      const sn = mine.name;
      const job = { message: 'signed', receivers: ['+33612340001'], sender: 'MyShop', differedPeriod: 60 };
      const body = JSON.stringify(job);
      const jobsUrl = `/1.0/sms/${sn}/jobs`;
      const signedJob = ovhHeaders(keys, { method: 'POST', url: jobsUrl, body, timestamp: seconds() });
      const readUrl = `/1.0/sms/${sn}/outgoing/${msg.shop}`;
      const signedRead = ovhHeaders(keys, { method: 'GET', url: readUrl, timestamp: seconds() });
      const signedEmpty = ovhHeaders(keys, { method: 'POST', url: jobsUrl, body: '', timestamp: seconds() });
      const before = await state();
      const replays: { method: Method; url: string; payload?: string; headers: Record<string, string> }[] = [
        { method: 'DELETE', url: readUrl, headers: signedRead },
        { method: 'GET', url: `${readUrl}?x=1`, headers: signedRead },
        { method: 'GET', url: `/1.0/sms/${mine10.name}/outgoing/${msg.ten}`, headers: signedRead },
        {
          method: 'POST',
          url: jobsUrl,
          payload: JSON.stringify({ ...job, receivers: ['+33612340001', '+33612340002'] }),
          headers: signedJob,
        },
        { method: 'POST', url: `${jobsUrl}?x=1`, payload: body, headers: signedJob },
        { method: 'POST', url: `/1.0/sms/${mine10.name}/jobs`, payload: body, headers: signedJob },
        { method: 'POST', url: `/1.0/sms/${sn}/users/shop/jobs`, payload: body, headers: signedJob },
        { method: 'PUT', url: jobsUrl, payload: body, headers: signedJob },
        { method: 'POST', url: jobsUrl, payload: body, headers: { ...signedJob, host: 'elsewhere.example' } },
        { method: 'POST', url: jobsUrl, payload: `${body} `, headers: signedJob },
        { method: 'POST', url: jobsUrl, payload: body.replace('{', '{ '), headers: signedJob },
        // The body sent as another type than JSON: the signature (over an empty body, or over the text) opens nothing.
        { method: 'POST', url: jobsUrl, payload: body, headers: { ...signedEmpty, 'content-type': 'text/plain' } },
        { method: 'POST', url: jobsUrl, payload: body, headers: { ...signedJob, 'content-type': 'text/plain' } },
        {
          method: 'POST',
          url: jobsUrl,
          payload: 'message=x&receivers=%2B33612340001&sender=MyShop',
          headers: { ...signedEmpty, 'content-type': 'application/x-www-form-urlencoded' },
        },
        { method: 'POST', url: jobsUrl, payload: body, headers: { ...signedJob, 'content-type': 'application/json-patch+json' } },
        {
          method: 'POST',
          url: jobsUrl,
          payload: body,
          headers: { ...signedJob, 'x-ovh-consumer': strangerKeys.consumerKey, 'x-ovh-application': strangerKeys.appKey },
        },
      ];
      for (const replay of replays) {
        const res = await inject(replay);
        expect([replay.method, replay.url, replay.headers['content-type'], res.statusCode >= 400]).toEqual([
          replay.method,
          replay.url,
          replay.headers['content-type'],
          true,
        ]);
        expect(res.body).not.toContain('secret text');
      }
      expect(await state()).toEqual(before);
    });

    it('refuses a malformed, repeated, stale or far timestamp and a malformed or repeated signature, writing nothing', async () => {
      const url = `/1.0/sms/${mine.name}/jobs`;
      const body = JSON.stringify({ message: 'ts', receivers: ['+33612340001'], sender: 'MyShop', differedPeriod: 60 });
      const now = seconds();
      const signedAt = (timestamp: string): Record<string, string> => ({
        ...ovhHeaders(keys, { method: 'POST', url, body }),
        'x-ovh-timestamp': timestamp,
        'x-ovh-signature': ovhSignature({ ...keys, method: 'POST', url: `https://localhost${url}`, body, timestamp }),
      });
      const before = await state();
      const timestamps = [
        `+${now}`,
        ` ${now}`,
        `${now} `,
        `${now}.0`,
        `0x${now.toString(16)}`,
        `${now}e0`,
        '-1',
        '',
        '9'.repeat(12),
        '9'.repeat(400),
      ];
      timestamps.push(String(now - 400), String(now + 400), `${now}\t`);
      for (const timestamp of timestamps) {
        const res = await inject({ method: 'POST', url, payload: body, headers: signedAt(timestamp) });
        expect([timestamp, [400, 403].includes(res.statusCode)]).toEqual([timestamp, true]);
      }
      const good = signedAt(String(now));
      const signatures = [
        good['x-ovh-signature'].toUpperCase(),
        good['x-ovh-signature'].slice(3),
        `${good['x-ovh-signature']} `,
        '$1$',
        '$2$x',
      ];
      for (const signature of signatures) {
        const res = await inject({ method: 'POST', url, payload: body, headers: { ...good, 'x-ovh-signature': signature } });
        expect([signature, res.statusCode, errorCode(res)]).toEqual([signature, 403, 'INVALID_SIGNATURE']);
      }
      // Repeated headers (an array): none of the copies is taken.
      for (const name of ['x-ovh-signature', 'x-ovh-timestamp', 'x-ovh-consumer', 'x-ovh-application'] as const) {
        const res = await inject({ method: 'POST', url, payload: body, headers: { ...good, [name]: [good[name], good[name]] } });
        expect([name, res.statusCode]).toEqual([name, 403]);
      }
      expect(await state()).toEqual(before);
    });

    // ---------------------------------------------------------------------------------------------
    // Bodies: prototype keys, duplicate keys, huge and deeply nested values

    it('refuses prototype keys in a job and pollutes nothing; a duplicate key counts once, as JSON says (the last)', async () => {
      const url = `/sms/${mine.name}/jobs`;
      const before = await state();
      for (const raw of [
        '{"message":"x","receivers":["+33612340001"],"sender":"MyShop","__proto__":{"polluted":true}}',
        '{"message":"x","receivers":["+33612340001"],"sender":"MyShop","constructor":{"prototype":{"polluted":true}}}',
        '{"__proto__":{"senderForResponse":true},"message":"x","receivers":["+33612340001"]}',
      ]) {
        const res = await inject({
          method: 'POST',
          url: `/1.0${url}`,
          payload: raw,
          headers: ovhHeaders(keys, { method: 'POST', url: `/1.0${url}`, body: raw, timestamp: seconds() }),
        });
        expect([raw, res.statusCode]).toEqual([raw, 400]);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(await state()).toEqual(before);

      const twice = '{"message":"x","receivers":["+33612340001"],"receivers":["+33612340002"],"sender":"MyShop","differedPeriod":60}';
      const res = await inject({
        method: 'POST',
        url: `/1.0${url}`,
        payload: twice,
        headers: ovhHeaders(keys, { method: 'POST', url: `/1.0${url}`, body: twice, timestamp: seconds() }),
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ validReceivers: ['+33612340002'], invalidReceivers: [] });
      expect((await ledger(ctx.database)).outgoing).toBe(before.ledger.outgoing + 1);
    });

    it('refuses huge values with a 400, sending and debiting nothing', async () => {
      const url = `/sms/${mine.name}/jobs`;
      const before = await state();
      const huge = [
        { message: 'x'.repeat(5001), receivers: ['+33612340001'], sender: 'MyShop' },
        { message: 'x', receivers: Array.from({ length: 100_001 }, () => '+33612340001'), sender: 'MyShop' },
        { message: 'x', receivers: ['+33612340001'], sender: 'MyShop', tag: 't'.repeat(65) },
        { message: 'x', receivers: ['+33612340001'], sender: 'MyShop', differedPeriod: Number.MAX_SAFE_INTEGER },
        { message: 'x', receivers: ['+33612340001'], sender: 'MyShop', validityPeriod: 1e300 },
        { message: 'x', receivers: ['9'.repeat(64)], sender: 'MyShop' },
      ];
      for (const body of huge) {
        const res = await call(keys, 'POST', url, { body });
        expect(res.statusCode).toBe(400);
      }
      const tooBig = await call(keys, 'PUT', `/sms/${mine.name}`, { body: { description: 'd'.repeat(17 * 1024 * 1024) } });
      expect(tooBig.statusCode).toBe(400);
      expect(await state()).toEqual(before);
    });

    it('answers a deeply nested JSON value with a 400, never a 500, on every route taking a body', async () => {
      const deep = deepJson(100_000);
      const before = await state();
      const bodies: [Method, string, string][] = [
        ['PUT', `/sms/${mine.name}`, `{"callBack":${deep}}`],
        ['PUT', `/sms/${mine.name}`, `{"description":${deep}}`],
        ['POST', `/sms/${mine.name}/jobs`, `{"message":${deep},"receivers":["+33612340001"]}`],
        ['POST', `/sms/${mine.name}/users`, `{"login":${deep},"password":"x"}`],
        ['PUT', `/sms/${mine.name}/users/shop`, `{"quotaInformations":{"quotaStatus":${deep}}}`],
        ['POST', `/sms/${mine.name}/senders`, `{"sender":"Deep","status":${deep}}`],
        ['PUT', `/sms/${mine.name}/senders/MyShop`, `{"status":${deep}}`],
      ];
      const answers = [];
      for (const [method, path, raw] of bodies) {
        const res = await ovhCall(ctx.app, keys, method, path, { rawBody: raw, timestamp: seconds() });
        answers.push([method, path, raw.slice(0, 30), res.statusCode]);
      }
      expect(answers).toEqual(bodies.map(([method, path, raw]) => [method, path, raw.slice(0, 30), 400]));
      expect(await state()).toEqual(before);
    });

    it('answers an object under a built-in property name (constructor, toString, __proto__) with a 400, never a 500', async () => {
      const before = await state();
      const bodies: [Method, string, string][] = [];
      for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        bodies.push(
          ['PUT', `/sms/${mine.name}`, `{"${name}":{"a":1}}`],
          ['POST', `/sms/${mine.name}/jobs`, `{"message":"x","receivers":["+33612340001"],"sender":"MyShop","${name}":{"a":1}}`],
          ['POST', `/sms/${mine.name}/users`, `{"login":"built","password":"built-in-pw-1","${name}":{"a":1}}`],
          ['PUT', `/sms/${mine.name}/users/shop`, `{"${name}":{"a":1}}`],
          ['POST', `/sms/${mine.name}/senders`, `{"sender":"Builtin","${name}":{"a":1}}`],
          ['PUT', `/sms/${mine.name}/senders/MyShop`, `{"${name}":{"a":1}}`],
        );
      }
      const answers = [];
      for (const [method, path, raw] of bodies) {
        const res = await ovhCall(ctx.app, keys, method, path, { rawBody: raw, timestamp: seconds() });
        answers.push([method, path, raw, res.statusCode]);
      }
      expect(answers).toEqual(bodies.map(([method, path, raw]) => [method, path, raw, 400]));
      expect(await state()).toEqual(before);
    });

    // ---------------------------------------------------------------------------------------------
    // The validation flow

    /** A consumer key asked for by the owner's application (as a program does): its key and validation token. */
    async function askForKey(rules: AccessRule[] = ALL_RULES) {
      const res = await inject({
        method: 'POST',
        url: '/1.0/auth/credential',
        headers: { 'x-ovh-application': keys.appKey, 'content-type': 'application/json' },
        payload: JSON.stringify({ accessRules: rules }),
        remoteAddress: `198.51.100.${randomInt(1, 255)}`,
      });
      expect(res.statusCode).toBe(200);
      const { consumerKey, validationUrl } = res.json() as { consumerKey: string; validationUrl: string };
      secrets.add(consumerKey);
      return { k: { ...keys, consumerKey }, token: new URL(validationUrl).searchParams.get('credentialToken') ?? '' };
    }
    const decide = (as: Record<string, string>, token: string, decision: 'validate' | 'refuse') =>
      inject({
        method: 'POST',
        url: `/api/v1/ovh/credential-requests/${token}/${decision}`,
        headers: as,
        ...(decision === 'validate' ? { payload: { validity: null } } : {}),
      });

    it('binds a key to the first customer who validated it: a second validation or a refusal, by anyone, changes nothing', async () => {
      const { k, token } = await askForKey();
      expect((await decide(strangerSession.writeHeaders, token, 'validate')).statusCode).toBe(200);
      const who = async () => (await call(k, 'GET', '/me')).json() as { email: string };
      expect((await who()).email).toBe(stranger.email);
      const before = await state();
      for (const [as, decision] of [
        [session.writeHeaders, 'validate'],
        [session.writeHeaders, 'refuse'],
        [strangerSession.writeHeaders, 'validate'],
        [strangerSession.writeHeaders, 'refuse'],
      ] as const) {
        const res = await decide(as, token, decision);
        expect([decision, res.statusCode]).toEqual([decision, 400]);
      }
      expect(await state()).toEqual(before);
      expect((await who()).email).toBe(stranger.email);
      // Validated by the stranger: it reaches the stranger's accounts only, never the application owner's.
      expect((await call(k, 'GET', '/sms')).json()).toEqual([theirs.name]);
      expect((await call(k, 'GET', `/sms/${mine.name}/outgoing`)).statusCode).toBe(404);
    });

    it('settles a validation racing a refusal once: one wins, and the key works only if the validation did', async () => {
      for (let i = 0; i < 4; i++) {
        const { k, token } = await askForKey();
        // A pending key tried first (its verification now cached) must not stay usable or unusable by mistake.
        expect((await call(k, 'GET', '/me')).statusCode).toBe(403);
        const answers = await Promise.all([
          decide(session.writeHeaders, token, 'validate'),
          decide(strangerSession.writeHeaders, token, 'refuse'),
          decide(strangerSession.writeHeaders, token, 'validate'),
        ]);
        const won = answers.filter((a) => a.statusCode === 200);
        expect(won).toHaveLength(1);
        expect(answers.filter((a) => a.statusCode === 400)).toHaveLength(2);
        const outcome = won[0].json() as { status: string };
        const me = await call(k, 'GET', '/me');
        if (outcome.status === 'refused') {
          expect([me.statusCode, errorCode(me)]).toEqual([403, 'INVALID_CREDENTIAL']);
        } else {
          expect(me.statusCode).toBe(200);
          expect([owner.email, stranger.email]).toContain((me.json() as { email: string }).email);
        }
      }
    });

    it('never makes a refused key usable, nor lets an API token, a missing CSRF token or no session answer a request', async () => {
      const { k, token } = await askForKey();
      const apiToken = await createToken(ctx.app, mine);
      const refusals: [Record<string, string>, number][] = [
        [{}, 401],
        [bearer(apiToken), 403],
        [session.headers, 403],
        [{ ...session.headers, 'x-csrf-token': strangerSession.csrfToken }, 403],
      ];
      const before = await state();
      for (const [headers, status] of refusals) {
        for (const decision of ['validate', 'refuse'] as const) {
          expect([decision, (await decide(headers, token, decision)).statusCode]).toEqual([decision, status]);
        }
      }
      expect((await inject({ url: `/api/v1/ovh/credential-requests/${token}`, headers: bearer(apiToken) })).statusCode).toBe(403);
      expect(await state()).toEqual(before);
      expect((await decide(session.writeHeaders, token, 'refuse')).statusCode).toBe(200);
      expect((await decide(session.writeHeaders, token, 'validate')).statusCode).toBe(400);
      expect((await decide(strangerSession.writeHeaders, token, 'validate')).statusCode).toBe(400);
      const me = await call(k, 'GET', '/me');
      expect([me.statusCode, errorCode(me)]).toEqual([403, 'INVALID_CREDENTIAL']);
      expect((await inject({ url: `/api/v1/ovh/credential-requests/${'x'.repeat(101)}`, headers: session.headers })).statusCode).toBe(400);
    });

    // ---------------------------------------------------------------------------------------------
    // /api/v1/ovh: the keys' management

    it('keeps /api/v1/ovh to a signed-in customer: no API token, no OVH signature, no write without the CSRF token', async () => {
      const made = await newKeys(owner);
      const apiToken = await createToken(ctx.app, mine);
      const routes: [Method, string, unknown?][] = [
        ['GET', '/api/v1/ovh/applications'],
        ['POST', '/api/v1/ovh/applications', { name: 'x' }],
        ['DELETE', `/api/v1/ovh/applications/${made.applicationId}`],
        ['POST', `/api/v1/ovh/applications/${made.applicationId}/credentials`, { rules: ALL_RULES, validity: null }],
        ['GET', '/api/v1/ovh/credentials'],
        ['DELETE', `/api/v1/ovh/credentials/${made.credentialId}`],
      ];
      const before = await state();
      for (const [method, url, payload] of routes) {
        const withToken = await inject({ method, url, payload: payload as never, headers: bearer(apiToken) });
        expect([method, url, withToken.statusCode]).toEqual([method, url, 403]);
        const signed = await inject({
          method,
          url,
          payload: payload as never,
          headers: ovhHeaders(made, {
            method,
            url,
            body: payload === undefined ? undefined : JSON.stringify(payload),
            timestamp: seconds(),
          }),
        });
        expect([method, url, signed.statusCode]).toEqual([method, url, 401]);
        if (method === 'GET') continue;
        for (const headers of [session.headers, { ...session.headers, 'x-csrf-token': 'wrong' }]) {
          const forged = await inject({ method, url, payload: payload as never, headers });
          expect([method, url, forged.statusCode, forged.json().error.code]).toEqual([method, url, 403, 'CSRF_FAILED']);
        }
        // A cross-site HTML form (no custom header possible): refused too.
        const form = await inject({
          method,
          url,
          payload: 'name=x&rules=1',
          headers: { ...session.headers, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
        });
        expect([method, url, form.statusCode]).toEqual([method, url, 403]);
      }
      expect(await state()).toEqual(before);
      expect((await call(made, 'GET', '/me')).statusCode).toBe(200);
    });

    it('(f) never lets another customer’s session list, mint, revoke or delete the owner’s applications and keys', async () => {
      const made = await newKeys(owner);
      const before = await state();
      const attempts: [Method, string, unknown?][] = [
        ['POST', `/api/v1/ovh/applications/${made.applicationId}/credentials`, { rules: ALL_RULES, validity: null }],
        ['DELETE', `/api/v1/ovh/applications/${made.applicationId}`],
        ['DELETE', `/api/v1/ovh/credentials/${made.credentialId}`],
        ['DELETE', `/api/v1/ovh/credentials/${keys.credentialId}`],
      ];
      for (const [method, url, payload] of attempts) {
        const res = await inject({ method, url, payload: payload as never, headers: strangerSession.writeHeaders });
        expect([method, url, res.statusCode]).toEqual([method, url, 404]);
      }
      const apps = (await inject({ url: '/api/v1/ovh/applications', headers: strangerSession.headers })).json() as { appKey: string }[];
      expect(apps.map((a) => a.appKey)).not.toContain(made.appKey);
      const creds = (await inject({ url: '/api/v1/ovh/credentials', headers: strangerSession.headers })).json() as { id: number }[];
      expect(creds.map((c) => c.id)).not.toContain(made.credentialId);
      expect(await state()).toEqual(before);
      expect((await call(made, 'GET', '/me')).statusCode).toBe(200);
    });

    // ---------------------------------------------------------------------------------------------
    // Caches: revoked, logged-out, expired keys and deleted applications stop at once

    it('stops a key at once when revoked, logged out, expired or its application deleted, although its check was cached; its documents too', async () => {
      const revoked = await newKeys(owner);
      const loggedOut = await newKeys(owner);
      const deletedApp = await newKeys(owner);
      const expiring = remember(await createOvhKeys(ctx.app, owner, { validity: 3600 }));
      const docs = [];
      for (const k of [revoked, loggedOut, deletedApp, expiring]) {
        expect((await call(k, 'GET', '/me')).statusCode).toBe(200);
        docs.push((await documentOf(mine, k)).download);
      }
      expect(
        (await inject({ method: 'DELETE', url: `/api/v1/ovh/credentials/${revoked.credentialId}`, headers: session.writeHeaders }))
          .statusCode,
      ).toBe(204);
      expect((await call(loggedOut, 'POST', '/auth/logout')).statusCode).toBe(200);
      expect(
        (await inject({ method: 'DELETE', url: `/api/v1/ovh/applications/${deletedApp.applicationId}`, headers: session.writeHeaders }))
          .statusCode,
      ).toBe(204);
      for (const k of [revoked, loggedOut, deletedApp]) {
        const res = await call(k, 'POST', `/sms/${mine.name}/jobs`, {
          body: { message: 'x', receivers: ['+33612340001'], sender: 'MyShop' },
        });
        expect(res.statusCode).toBe(403);
      }
      for (const download of docs.slice(0, 3)) expect((await inject({ url: download })).statusCode).toBe(403);
      clock.offset += 3600_000;
      try {
        const before = await state();
        expect((await call(expiring, 'GET', '/me')).statusCode).toBe(403);
        expect((await call(expiring, 'DELETE', `/sms/${mine.name}/outgoing/${msg.other}`)).statusCode).toBe(403);
        expect(await state()).toEqual(before);
      } finally {
        clock.offset -= 3600_000;
      }
    });

    // ---------------------------------------------------------------------------------------------
    // Odd requests: never a 500, never a secret

    it('answers odd requests with a 4xx, never a 500 nor a secret', async () => {
      const odd: [string, string, Record<string, string>?][] = [
        ['GET', '/1.0/__proto__.json'],
        ['GET', '/1.0/constructor.json'],
        ['GET', '/1.0/toString.json'],
        ['GET', '/1.0/hasOwnProperty.json'],
        ['GET', '/1.0/me/document/download?id=x.y&key=z'],
        ['GET', `/1.0/me/document/download?id=${'a'.repeat(5000)}&key=z`],
        ['GET', '/1.0/me/document/download'],
        ['GET', '/1.0/auth/credential'],
        ['POST', '/1.0/auth/credential', { 'x-ovh-application': keys.appKey, 'content-type': 'text/plain' }],
        ['POST', '/1.0/auth/time'],
        ['DELETE', '/1.0/auth/time'],
      ];
      for (const [method, url, headers] of odd) {
        const res = await inject({ method: method as Method, url, headers });
        expect([method, url, res.statusCode >= 400 && res.statusCode < 500]).toEqual([method, url, true]);
      }
      const signed: [Method, string][] = [
        ['GET', `/me/document/${'a'.repeat(990)}.${'b'.repeat(22)}`],
        ['GET', `/sms/${mine.name}/outgoing?creationDatetime.from=a&creationDatetime.from=b`],
        ['GET', `/sms/${mine.name}/outgoing?constructor=1`],
        ['GET', `/sms/${mine.name}/outgoing?__proto__=1`],
        ['GET', `/sms/${mine.name}/document?wayType=outgoing&wayType=outgoing`],
        ['GET', `/sms/${mine.name}/outgoing/99999999999999999999`],
        ['GET', `/sms/${mine.name}/outgoing/-1`],
        ['DELETE', `/sms/${mine.name}/jobs/0`],
        ['GET', `/sms/${'x'.repeat(1001)}`],
        ['GET', `/sms/${mine.name}/users/${'%E2%80%AE'.repeat(30)}`],
      ];
      for (const [method, path] of signed) {
        const res = await call(keys, method, path);
        expect([method, path, res.statusCode >= 400 && res.statusCode < 500]).toEqual([method, path, true]);
      }
      // Odd Host headers (the signed URL is made of it): an answer, never a 500.
      for (const host of ['[::1', '[', ']', '', 'a'.repeat(2000), 'localhost:99999999', 'localhost:']) {
        const url = `/1.0/sms/${mine.name}`;
        await inject({ url, headers: { ...ovhHeaders(keys, { method: 'GET', url, timestamp: seconds() }), host } });
      }
    });
  },
  { clock },
);
