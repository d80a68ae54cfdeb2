import { beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createAccount, createCustomer, createSender, createSmsUser } from '../../../../test/factories.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import { createOvhKeys, type OvhKeys, ovhCall, ovhHeaders } from '../../../../test/ovh.js';
import type { Account } from '../accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../accounts/accounts.service.js';
import type { Customer } from '../accounts/customers.repository.js';
import type { SmsUser } from '../accounts/sms-users.repository.js';
import { createOutgoingRepository } from '../history/outgoing.repository.js';
import { DOCUMENT_TTL_MS } from './ovh-sms.views.js';

/** The fields of OVH's job object (`GET /sms/{sn}/jobs/{id}`), sorted. */
const OVH_JOB_FIELDS = [
  'creationDatetime',
  'credits',
  'deliveryReceipt',
  'differedDelivery',
  'id',
  'message',
  'messageLength',
  'numberOfSms',
  'ptt',
  'receiver',
  'sender',
].sort();

/** A clock a test may move forward (a document's expiry); signatures carry its time. */
const clock = { offset: 0, now: () => Date.now() + clock.offset };
const seconds = () => Math.floor(clock.now() / 1000);

/** March 2024, 10:00 UTC (11:00 in Paris) on `day`. */
const at = (day: number) => Date.UTC(2024, 2, day, 10, 0, 0);

const UUID = '0e9f2f3c-5f39-4bd7-a43c-6a2f1a1f2b4c';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

describeEachDialectWithApp(
  'OVH API /1.0/sms: accounts, history, jobs and documents',
  (ctx) => {
    let owner: Customer;
    let stranger: Customer;
    /** The history the list tests read: fixed rows, never changed. */
    let history: Account;
    /** Where jobs are sent and messages deleted. */
    let busy: Account;
    let strangers: Account;
    let keys: OvhKeys;
    let readOnlyKeys: OvhKeys;
    let strangerKeys: OvhKeys;
    let shop: SmsUser;
    let other: SmsUser;
    let busyShop: SmsUser;
    /** The ids of the history's rows by name. */
    const id: Record<string, number> = {};
    let strangersMessage: number;

    const call = (k: OvhKeys, method: Method, path: string, options: Parameters<typeof ovhCall>[4] = {}) =>
      ovhCall(ctx.app, k, method, path, { timestamp: seconds(), ...options });
    const get = (path: string, query?: Record<string, string | number>) =>
      call(keys, 'GET', path, { query: query && Object.keys(query).length > 0 ? query : undefined });
    /** The ids of a detailed CSV's records (a message may hold line breaks). */
    const csvIds = (csv: string) => [...csv.matchAll(/^"(\d+)";"\d{4}-\d{2}-\d{2} /gm)].map((m) => Number(m[1]));
    const list = async (path: string, query?: Record<string, string | number>) => {
      const res = await get(path, query);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as number[];
    };
    const names = (...rows: string[]) => rows.map((name) => id[name]);
    const credits = async (account: Account) => (await ctx.app.services.accounts.get(SYSTEM_ACTOR, account.name)).credits;
    const countRows = async (account: Account) =>
      Number(
        (
          await ctx.database.db
            .selectFrom('outgoing')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('account_id', '=', account.id)
            .executeTakeFirstOrThrow()
        ).n,
      );
    const row = (outgoingId: number) =>
      ctx.database.db
        .selectFrom('outgoing')
        .select([
          'id',
          'status',
          'channel',
          'user_login',
          'message',
          'sender',
          'receiver',
          'credits',
          'tag',
          'deferred_until',
          'created_at',
        ])
        .where('id', '=', outgoingId)
        .executeTakeFirst();
    const audits = (account: Account) =>
      ctx.database.db
        .selectFrom('deletion_audit')
        .select(['actor', 'kind', 'ids', 'count'])
        .where('account_id', '=', account.id)
        .orderBy('id')
        .execute();
    const ovhError = (status: number, message: string, errorCode: string) => ({
      class: { 400: 'Client::BadRequest', 403: 'Client::Forbidden', 404: 'Client::NotFound', 409: 'Client::Conflict' }[status],
      message,
      errorCode,
      httpCode: { 400: '400 Bad Request', 403: '403 Forbidden', 404: '404 Not Found', 409: '409 Conflict' }[status],
    });

    beforeAll(async () => {
      owner = await createCustomer(ctx.app);
      stranger = await createCustomer(ctx.app);
      history = await createAccount(ctx.app, { owner, credits: 100, timezone: 'Europe/Paris', description: 'The history' });
      busy = await createAccount(ctx.app, { owner, credits: 10, timezone: 'Europe/Paris' });
      strangers = await createAccount(ctx.app, { owner: stranger, credits: 100 });
      await createSender(ctx.app, busy, { sender: 'MyShop' });
      await createSender(ctx.app, strangers, { sender: 'MyShop' });
      shop = await createSmsUser(ctx.app, history, { login: 'shop' });
      other = await createSmsUser(ctx.app, history, { login: 'other', quota: 5 });
      busyShop = await createSmsUser(ctx.app, busy, { login: 'shop', quota: 4 });
      await createSmsUser(ctx.app, busy, { login: 'other' });
      keys = await createOvhKeys(ctx.app, owner);
      readOnlyKeys = await createOvhKeys(ctx.app, owner, {
        rules: [
          { method: 'GET', path: '/sms' },
          { method: 'GET', path: '/sms/*' },
        ],
      });
      strangerKeys = await createOvhKeys(ctx.app, stranger);

      const base = { account_id: history.id, channel: 'ovh-api' as const };
      const user = (u: SmsUser) => ({ user_id: u.id, user_login: u.login });
      const rows = {
        d1: { status: 'delivered', sender: 'MyShop', receiver: '+33611111111', tag: 'spring', created_at: at(1) },
        s1: { status: 'sent', ...user(shop), sender: 'MyShop', receiver: '+33622222222', tag: 'spring', created_at: at(2) },
        f3: {
          status: 'failed',
          ...user(shop),
          sender: 'Other',
          receiver: '+33611111111',
          tag: 'summer',
          created_at: at(3),
          error_code: '3',
        },
        f53: {
          status: 'failed',
          ...user(other),
          sender: 'MyShop',
          receiver: '+33633333333',
          tag: 'summer',
          created_at: at(4),
          error_code: '53',
          error_text: 'blacklisted',
        },
        fx: {
          status: 'failed',
          sender: 'MyShop',
          receiver: '+33644444444',
          tag: 'autumn',
          created_at: at(5),
          error_code: '012',
          error_text: 'EXPIRED',
        },
        ex: { status: 'expired', sender: 'MyShop', receiver: '+33611111111', tag: 'autumn', created_at: at(6), expired_at: at(6) + 60_000 },
        ca: {
          status: 'canceled',
          ...user(shop),
          sender: 'MyShop',
          receiver: '+33655555555',
          tag: 'autumn',
          created_at: at(7),
          canceled_at: at(7),
        },
        pd: {
          status: 'pending',
          ...user(shop),
          sender: 'MyShop',
          receiver: '+33666666666',
          tag: 'winter',
          created_at: at(8),
          deferred_until: at(8) + 30 * 60_000,
        },
        dd: {
          status: 'delivered',
          ...user(other),
          sender: '',
          receiver: '+33677777777',
          tag: 'winter',
          created_at: at(9),
          deferred_until: at(9) + 15 * 60_000,
          message: 'Été 2024 : -20 % 🎉\nSTOP au 36180',
          encoding: 'ucs2',
          parts: 2,
          credits: 2,
          sent_at: at(9) + 15 * 60_000 + 1_000,
          delivered_at: at(9) + 15 * 60_000 + 4_000,
        },
        t1: { status: 'delivered', sender: 'Tie', receiver: '+33688888888', tag: 'tie', created_at: at(10) },
        t2: { status: 'delivered', sender: 'Tie', receiver: '+33688888888', tag: 'tie', created_at: at(10) },
      };
      const inserted = await insertOutgoing(
        ctx.database,
        Object.values(rows).map((r) => buildOutgoing({ ...base, ...r })),
      );
      Object.keys(rows).forEach((name, i) => {
        id[name] = inserted[i];
      });
      [strangersMessage] = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: strangers.id, tag: 'spring' })]);
    });

    it('lists the accounts of the key’s customer, and only them (GET /sms)', async () => {
      expect((await list('/sms')).sort()).toEqual([history.name, busy.name].sort());
      expect((await call(strangerKeys, 'GET', '/sms')).json()).toEqual([strangers.name]);
    });

    it('shows an account as OVH’s sms.Account (GET /sms/{serviceName})', async () => {
      const res = await get(`/sms/${history.name}`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ovh-queryid']).toMatch(/^EU\.relais\./);
      expect(res.json()).toEqual({
        name: history.name,
        description: 'The history',
        status: 'enable',
        creditsLeft: 100,
        creditsHoldByQuota: 0,
        userQuantityWithQuota: 1,
        callBack: null,
        stopCallBack: null,
      });
    });

    it('never lets a key reach another customer’s account: 404 in OVH’s shape on every route, nothing changed', async () => {
      const notFound = ovhError(404, 'This service does not exist', 'ACCOUNT_NOT_FOUND');
      const calls: [Method, string, unknown?][] = [
        ['GET', `/sms/${strangers.name}`],
        ['PUT', `/sms/${strangers.name}`, { description: 'mine now' }],
        ['GET', `/sms/${strangers.name}/outgoing`],
        ['GET', `/sms/${strangers.name}/outgoing/${strangersMessage}`],
        ['DELETE', `/sms/${strangers.name}/outgoing/${strangersMessage}`],
        ['GET', `/sms/${strangers.name}/jobs`],
        ['POST', `/sms/${strangers.name}/jobs`, { message: 'Hi', receivers: ['+33612345678'], sender: 'MyShop' }],
        ['GET', `/sms/${strangers.name}/jobs/${strangersMessage}`],
        ['DELETE', `/sms/${strangers.name}/jobs/${strangersMessage}`],
        ['GET', `/sms/${strangers.name}/users/shop/outgoing`],
        ['POST', `/sms/${strangers.name}/users/shop/jobs`, { message: 'Hi', receivers: ['+33612345678'], sender: 'MyShop' }],
        ['GET', `/sms/${strangers.name}/users/shop/jobs`],
        ['GET', `/sms/${strangers.name}/users/shop/jobs/${strangersMessage}`],
        ['DELETE', `/sms/${strangers.name}/users/shop/jobs/${strangersMessage}`],
        ['GET', `/sms/${strangers.name}/document`],
        ['GET', '/sms/sms-zz99999-9'],
        ['GET', '/sms/sms-zz99999-9/outgoing'],
      ];
      for (const [method, path, body] of calls) {
        const res = await call(keys, method, path, { body, query: path.endsWith('/document') ? { wayType: 'outgoing' } : undefined });
        expect([method, path, res.statusCode, res.json()]).toEqual([method, path, 404, notFound]);
      }
      expect(await countRows(strangers)).toBe(1);
      expect(await credits(strangers)).toBe(100);
      expect((await ctx.app.services.accounts.get(SYSTEM_ACTOR, strangers.name)).description).toBe('');
      // A message of another account, asked for through one's own: not found either.
      const res = await get(`/sms/${history.name}/outgoing/${strangersMessage}`);
      expect([res.statusCode, res.json()]).toEqual([
        404,
        ovhError(404, `The requested object (id = ${strangersMessage}) does not exist`, 'MESSAGE_NOT_FOUND'),
      ]);
    });

    it('changes the description (PUT), answers null, ignores the counters, and refuses other read-only or unknown fields without changing anything', async () => {
      const path = `/sms/${busy.name}`;
      const put = (body: unknown) => call(keys, 'PUT', path, { body });
      const changed = await put({ description: 'Shop alerts' });
      expect([changed.statusCode, changed.body]).toEqual([200, 'null']);
      const read = (await get(path)).json();
      expect(read.description).toBe('Shop alerts');
      // A script sending back the whole object it read, with a new description.
      const whole = await put({ ...read, description: 'Shop alerts 2' });
      expect([whole.statusCode, whole.body]).toEqual([200, 'null']);
      // The counters change on their own (an SMS sent since it was read): another value is ignored, not taken.
      const counters = await put({ ...read, description: 'Shop alerts 2', creditsLeft: 1_000_000, userQuantityWithQuota: 7 });
      expect([counters.statusCode, counters.body]).toEqual([200, 'null']);
      expect(await credits(busy)).toBe(10);

      // The account's callback URL: set, shown, cleared (empty).
      expect((await put({ callBack: 'https://example.com/dlr' })).statusCode).toBe(200);
      expect((await get(path)).json()).toMatchObject({ callBack: 'https://example.com/dlr' });
      expect((await put({ ...((await get(path)).json() as Record<string, unknown>), description: 'Shop alerts 2' })).statusCode).toBe(200);
      expect((await put({ callBack: '' })).statusCode).toBe(200);
      expect((await get(path)).json()).toMatchObject({ callBack: null });

      const refusals: [unknown, string][] = [
        [{ callBack: 'ftp://example.com/dlr' }, expect.stringMatching(/callback URL/i) as unknown as string],
        [{ stopCallBack: 'https://example.com/stop' }, 'stopCallBack cannot be changed: Relais handles no STOP replies'],
        [{ status: 'disable' }, 'status cannot be changed: an SMS account is enabled or disabled by the operator'],
        [
          { automaticRecreditAmount: 100 },
          'Unknown field "automaticRecreditAmount": a Relais SMS account has no such setting (only description and callBack can be changed)',
        ],
        [{ description: 'y'.repeat(201) }, 'The description must be at most 200 characters'],
      ];
      for (const [body, message] of refusals) {
        const res = await put(body);
        expect([res.statusCode, res.json()]).toEqual([400, ovhError(400, message, 'VALIDATION_FAILED')]);
      }
      expect((await get(path)).json()).toMatchObject({ description: 'Shop alerts 2', creditsLeft: 10, status: 'enable' });
    });

    it('lists the history’s ids newest first (by creation, then id), as integers', async () => {
      const res = await get(`/sms/${history.name}/outgoing`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.json()).toEqual(names('t2', 't1', 'dd', 'pd', 'ca', 'ex', 'fx', 'f53', 'f3', 's1', 'd1'));
      expect(await list(`/sms/${busy.name}/outgoing`)).toEqual([]);
    });

    it('filters by each OVH filter, equality unless a range', async () => {
      const cases: [Record<string, string | number>, string[]][] = [
        [{ 'creationDatetime.from': '2024-03-08' }, ['t2', 't1', 'dd', 'pd']],
        [{ 'creationDatetime.to': '2024-03-02' }, ['s1', 'd1']],
        [{ 'creationDatetime.from': '2024-03-06T10:00:00Z' }, ['t2', 't1', 'dd', 'pd', 'ca', 'ex']],
        [{ 'creationDatetime.from': '2024-03-03T11:00:00+01:00', 'creationDatetime.to': '2024-03-05T11:00:00+01:00' }, ['fx', 'f53', 'f3']],
        [{ 'creationDatetime.from': '2024-03-03T11:00:01+01:00', 'creationDatetime.to': '2024-03-05T10:59:59+01:00' }, ['f53']],
        [{ sender: 'Other' }, ['f3']],
        [{ receiver: '+33611111111' }, ['ex', 'f3', 'd1']],
        [{ receiver: '0611111111' }, ['ex', 'f3', 'd1']],
        [{ receiver: '0033611111111' }, ['ex', 'f3', 'd1']],
        [{ tag: 'autumn' }, ['ca', 'ex', 'fx']],
        [{ deliveryReceipt: 0 }, ['pd']],
        [{ deliveryReceipt: 1 }, ['t2', 't1', 'dd', 'd1']],
        [{ deliveryReceipt: 2 }, ['ex', 'fx', 'f53', 'f3']],
        [{ deliveryReceipt: 4 }, []],
        [{ deliveryReceipt: 8 }, ['s1']],
        [{ deliveryReceipt: 16 }, ['ca']],
        [{ ptt: 0 }, ['t2', 't1', 'dd', 's1', 'd1']],
        [{ ptt: 3 }, ['f3']],
        [{ ptt: 53 }, ['f53']],
        [{ ptt: 254 }, ['pd']],
        [{ ptt: 801 }, ['ex', 'fx']],
        [{ ptt: 802 }, ['ca']],
        [{ ptt: 9 }, []],
        [{ differedDelivery: 30 }, ['pd']],
        [{ differedDelivery: 15 }, ['dd']],
        [{ differedDelivery: 0 }, ['t2', 't1', 'ca', 'ex', 'fx', 'f53', 'f3', 's1', 'd1']],
        [{ batchID: UUID }, []],
        [{ messageID: UUID }, []],
      ];
      for (const [query, expected] of cases) {
        expect([query, await list(`/sms/${history.name}/outgoing`, query)]).toEqual([query, names(...expected)]);
      }
    });

    it('combines filters: every one must hold', async () => {
      const cases: [Record<string, string | number>, string[]][] = [
        [{ tag: 'autumn', deliveryReceipt: 2 }, ['ex', 'fx']],
        [{ sender: 'MyShop', ptt: 801, 'creationDatetime.from': '2024-03-06' }, ['ex']],
        [{ receiver: '+33611111111', deliveryReceipt: 2 }, ['ex', 'f3']],
        [{ tag: 'spring', 'creationDatetime.to': '2024-03-01' }, ['d1']],
        [{ deliveryReceipt: 2, ptt: 3, 'creationDatetime.from': '2024-03-01', 'creationDatetime.to': '2024-03-31' }, ['f3']],
        [{ deliveryReceipt: 1, differedDelivery: 15 }, ['dd']],
        [{ deliveryReceipt: 1, ptt: 254 }, []],
        [{ tag: 'winter', ptt: 254, differedDelivery: 30, receiver: '+33666666666' }, ['pd']],
      ];
      for (const [query, expected] of cases) {
        expect([query, await list(`/sms/${history.name}/outgoing`, query)]).toEqual([query, names(...expected)]);
      }
    });

    it('refuses bad filters with a clear 400 in OVH’s shape', async () => {
      const cases: [Record<string, string>, string, string][] = [
        [
          { 'creationDatetime.from': 'last week' },
          'creationDatetime.from must be an ISO 8601 date or datetime such as 2024-05-01 or 2024-05-01T10:30:00+02:00, got "last week"',
          'INVALID_FILTER',
        ],
        [
          { 'creationDatetime.from': '2024-03-05', 'creationDatetime.to': '2024-03-01' },
          'creationDatetime.from must not be after creationDatetime.to',
          'INVALID_FILTER',
        ],
        [{ ptt: 'zero' }, 'ptt must be a whole number (a carrier code such as 0 no error or 254 pending), got "zero"', 'INVALID_FILTER'],
        [
          { deliveryReceipt: 'ok' },
          'deliveryReceipt must be a whole number (0 pending, 1 delivered, 2 failed, 4 waiting, 8 buffered, 16 error not billed), got "ok"',
          'INVALID_FILTER',
        ],
        [{ differedDelivery: '-5' }, 'differedDelivery must be a whole number (minutes), got "-5"', 'INVALID_FILTER'],
        [{ receiver: 'alice' }, 'receiver must be a phone number such as +33612345678, got "alice"', 'INVALID_FILTER'],
        [{ batchID: '42' }, 'batchID must be a UUID, got "42"', 'INVALID_FILTER'],
        [
          { status: 'sent' },
          `Unknown parameter "status" (this call takes creationDatetime.from, creationDatetime.to, sender, receiver, tag, ptt, deliveryReceipt, differedDelivery, batchID, messageID)`,
          'VALIDATION_FAILED',
        ],
      ];
      for (const [query, message, code] of cases) {
        const res = await get(`/sms/${history.name}/outgoing`, query);
        expect([query, res.statusCode, res.json()]).toEqual([query, 400, ovhError(400, message, code)]);
      }
      const url = `/1.0/sms/${history.name}/outgoing?tag=a&tag=b`;
      const twice = await ctx.app.inject({ method: 'GET', url, headers: ovhHeaders(keys, { method: 'GET', url, timestamp: seconds() }) });
      expect([twice.statusCode, twice.json().message]).toEqual([400, 'tag must be given once']);
    });

    it('streams a long list in keyset batches as one valid JSON array, filters tested across batches', async () => {
      const big = await createAccount(ctx.app, { owner, timezone: 'UTC' });
      const start = Date.UTC(2024, 0, 1);
      const rows = Array.from({ length: 11_000 }, (_, i) =>
        buildOutgoing({
          account_id: big.id,
          // Ten messages a second: many share their creation time (the order falls back to the id).
          created_at: start + Math.floor(i / 10) * 1000,
          status: i % 7 === 0 ? 'failed' : 'delivered',
          error_code: i % 7 === 0 ? (i % 2 === 0 ? '3' : '9') : null,
        }),
      );
      const ids = await insertOutgoing(ctx.database, rows);
      const newestFirst = ids
        .map((value, i) => ({ value, created: rows[i].created_at as number }))
        .sort((a, b) => b.created - a.created || b.value - a.value)
        .map((r) => r.value);
      const all = await get(`/sms/${big.name}/outgoing`);
      expect(all.statusCode).toBe(200);
      expect(all.json()).toEqual(newestFirst);
      const failedThree = ids.filter((_, i) => i % 7 === 0 && i % 2 === 0);
      expect(await list(`/sms/${big.name}/outgoing`, { ptt: 3 })).toEqual(newestFirst.filter((v) => failedThree.includes(v)));
      const from = new Date(start + 500_000).toISOString();
      expect(await list(`/sms/${big.name}/outgoing`, { 'creationDatetime.from': from })).toEqual(
        newestFirst.filter((v) => (rows[ids.indexOf(v)].created_at as number) >= start + 500_000),
      );

      // The repository's batches: keyset pages of the requested size, none repeated or skipped.
      const repository = createOutgoingRepository(ctx.database);
      const batches: number[][] = [];
      for await (const batch of repository.streamIds({ scope: { accountId: big.id, userLogin: null }, filter: {}, batchSize: 1_000 })) {
        batches.push(batch.map((r) => r.id));
      }
      expect(batches.map((b) => b.length)).toEqual(Array(11).fill(1_000));
      expect(batches.flat()).toEqual(newestFirst);
    });

    it('shows one message with every field of OVH’s sms.Outgoing (GET /outgoing/{id})', async () => {
      const res = await get(`/sms/${history.name}/outgoing/${id.dd}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        id: id.dd,
        creationDatetime: '2024-03-09T11:00:00+01:00',
        sender: '',
        receiver: '+33677777777',
        message: 'Été 2024 : -20 % 🎉\nSTOP au 36180',
        messageLength: 32,
        numberOfSms: 2,
        credits: 2,
        deliveryReceipt: 1,
        ptt: 0,
        differedDelivery: 15,
        tag: 'winter',
        tariffCode: 'FR-1',
        sentAt: '2024-03-09T11:15:01+01:00',
        deliveredAt: '2024-03-09T11:15:04+01:00',
        batchID: null,
        messageID: null,
      });
      expect((await get(`/sms/${history.name}/outgoing/${id.f53}`)).json()).toMatchObject({
        deliveryReceipt: 2,
        ptt: 53,
        sentAt: '2024-03-04T11:00:01+01:00',
        deliveredAt: null,
        differedDelivery: 0,
      });
      const unknown = await get(`/sms/${history.name}/outgoing/999999999`);
      expect([unknown.statusCode, unknown.json()]).toEqual([
        404,
        ovhError(404, 'The requested object (id = 999999999) does not exist', 'MESSAGE_NOT_FOUND'),
      ]);
      const bad = await get(`/sms/${history.name}/outgoing/abc`);
      expect([bad.statusCode, bad.json().message]).toEqual([400, 'Invalid parameter id: must be integer']);
    });

    it('deletes a message (DELETE /outgoing/{id}): gone from the history, audited as the consumer key, a pending one’s credits back', async () => {
      const [delivered, pending] = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: busy.id, status: 'delivered', credits: 1 }),
        buildOutgoing({ account_id: busy.id, status: 'pending', credits: 2 }),
      ]);
      const before = await credits(busy);
      const res = await call(keys, 'DELETE', `/sms/${busy.name}/outgoing/${delivered}`);
      expect([res.statusCode, res.body]).toEqual([200, 'null']);
      expect(await row(delivered)).toBeUndefined();
      expect((await call(keys, 'GET', `/sms/${busy.name}/outgoing/${delivered}`)).statusCode).toBe(404);
      expect(await credits(busy)).toBe(before);
      // Again: it is no longer there, and the refusal leaves no audit entry.
      const audited = (await audits(busy)).length;
      const again = await call(keys, 'DELETE', `/sms/${busy.name}/outgoing/${delivered}`);
      expect((await audits(busy)).length).toBe(audited);
      expect([again.statusCode, again.json().message]).toEqual([404, `The requested object (id = ${delivered}) does not exist`]);

      expect((await call(keys, 'DELETE', `/sms/${busy.name}/outgoing/${pending}`)).statusCode).toBe(200);
      expect(await credits(busy)).toBe(before + 2);
      const audit = await audits(busy);
      expect(audit.slice(-2).map((a) => ({ actor: a.actor, kind: a.kind, count: Number(a.count) }))).toEqual([
        { actor: `ovh:${keys.credentialId}`, kind: 'ids', count: 1 },
        { actor: `ovh:${keys.credentialId}`, kind: 'ids', count: 1 },
      ]);
      // Reset what the jobs tests count on.
      await ctx.database.db.updateTable('accounts').set({ credits: 10 }).where('id', '=', busy.id).execute();
    });

    it('sends a job (POST /jobs) with OVH’s body: accented text, several receivers, the invalid ones reported and not sent', async () => {
      const res = await call(keys, 'POST', `/sms/${busy.name}/jobs`, {
        body: {
          charset: 'UTF-8',
          class: 'phoneDisplay',
          coding: '7bit',
          message: 'Votre commande est expédiée : à très vite !',
          noStopClause: true,
          priority: 'high',
          receivers: ['+33612345678', '0033612345679', '0612345670', 'not-a-number'],
          sender: 'MyShop',
          senderForResponse: false,
          tag: 'été',
          validityPeriod: 2880,
        },
      });
      expect(res.statusCode).toBe(200);
      const report = res.json();
      expect(Object.keys(report).sort()).toEqual(['ids', 'invalidReceivers', 'tag', 'totalCreditsRemoved', 'validReceivers']);
      expect(report).toMatchObject({
        validReceivers: ['+33612345678', '+33612345679', '+33612345670'],
        invalidReceivers: ['not-a-number'],
        totalCreditsRemoved: 3,
        tag: 'été',
      });
      expect(report.ids).toHaveLength(3);
      expect(await credits(busy)).toBe(7);
      for (const [i, outgoingId] of (report.ids as number[]).entries()) {
        expect(await row(outgoingId)).toMatchObject({
          status: 'pending',
          channel: 'ovh-api',
          user_login: '',
          sender: 'MyShop',
          receiver: report.validReceivers[i],
          message: 'Votre commande est expédiée : à très vite !',
          tag: 'été',
        });
        const job = (await call(keys, 'GET', `/sms/${busy.name}/jobs/${outgoingId}`)).json();
        expect(job).toMatchObject({ id: outgoingId, deliveryReceipt: 0, ptt: 254, messageLength: 43, numberOfSms: 1, credits: 1 });
      }
      // OVH's defaults: a random 16-character tag, the STOP mention, sent at once.
      const plain = await call(keys, 'POST', `/sms/${busy.name}/jobs`, {
        body: { message: 'Hi', receivers: ['+33612345671'], sender: 'MyShop', differedPeriod: 45 },
      });
      const [plainId] = plain.json().ids as number[];
      expect(plain.json().tag).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect((await call(keys, 'GET', `/sms/${busy.name}/outgoing/${plainId}`)).json()).toMatchObject({
        message: 'Hi\nSTOP au 36180',
        differedDelivery: 45,
        deliveryReceipt: 0,
      });
      expect(await credits(busy)).toBe(6);
    });

    it('refuses a bad job with OVH’s statuses and a clear message, sending nothing', async () => {
      const before = { credits: await credits(busy), rows: await countRows(busy) };
      const post = (body: unknown) => call(keys, 'POST', `/sms/${busy.name}/jobs`, { body });
      const cases: [unknown, number, string, string][] = [
        [
          { message: 'Hi', receivers: ['+33612345678'], sender: 'Unknown' },
          400,
          `"Unknown" is not an enabled sender of ${busy.name}`,
          'INVALID_SENDER',
        ],
        [{ message: 'Hi', receivers: ['+33612345678'] }, 400, 'sender is missing (or set senderForResponse)', 'INVALID_SENDER'],
        [
          { message: 'Hi', receivers: ['nope', '123'], sender: 'MyShop' },
          400,
          'no valid receiver (refused: nope, 123)',
          'INVALID_RECEIVER',
        ],
        [{ message: 'Hi', sender: 'MyShop' }, 400, 'receivers is missing: list the numbers to send to', 'INVALID_RECEIVER'],
        [
          { receivers: ['+33612345678'], sender: 'MyShop' },
          400,
          "Invalid parameter message: must have required property 'message'",
          'INVALID_PARAMETER',
        ],
        [
          { message: 'Hi', receivers: ['+33612345678'], sender: 'MyShop', priority: 'urgent' },
          400,
          'Invalid parameter priority: must be equal to constant',
          'INVALID_PARAMETER',
        ],
        [
          { message: 'Hi', receiversDocumentUrl: 'https://example.com/list.csv', sender: 'MyShop' },
          400,
          'receiversDocumentUrl is not supported: Relais does not fetch receivers from a document: list the numbers in receivers',
          'VALIDATION_FAILED',
        ],
        [
          { message: 'Hi', receivers: ['+33612345678'], sender: 'MyShop', from: 'x' },
          400,
          'Unknown field "from" (a job takes message, receivers, sender, senderForResponse, noStopClause, tag, differedPeriod, validityPeriod, priority, coding, charset, class)',
          'VALIDATION_FAILED',
        ],
        [
          { message: 'Hi', receivers: Array.from({ length: 12 }, (_, i) => `+336123456${String(i).padStart(2, '0')}`), sender: 'MyShop' },
          403,
          '(a message about credits)',
          'INSUFFICIENT_CREDITS',
        ],
      ];
      for (const [body, status, message, errorCode] of cases) {
        const res = await post(body);
        const answer = res.json();
        expect([res.statusCode, answer.errorCode]).toEqual([status, errorCode]);
        if (errorCode === 'INSUFFICIENT_CREDITS') expect(answer.message).toMatch(/credits/);
        else if (errorCode === 'INVALID_PARAMETER') expect(answer.message).toMatch(/^Invalid parameter (message|priority)/);
        else expect(answer).toEqual(ovhError(status, message, errorCode));
      }
      expect({ credits: await credits(busy), rows: await countRows(busy) }).toEqual(before);
    });

    it('lists pending jobs, shows one, and stops one with its credits back (GET, DELETE /jobs/{id})', async () => {
      const sent = (
        await call(keys, 'POST', `/sms/${busy.name}/jobs`, {
          body: { message: 'Later', receivers: ['+33612340001', '+33612340002'], sender: 'MyShop', differedPeriod: 60 },
        })
      ).json();
      const [first, second] = sent.ids as number[];
      const pending = await list(`/sms/${busy.name}/jobs`);
      expect(pending.slice(0, 2).sort((a, b) => a - b)).toEqual([first, second].sort((a, b) => a - b));
      expect(pending.every((p) => typeof p === 'number')).toBe(true);
      // Only pending messages are jobs.
      const [done] = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: busy.id, status: 'delivered' })]);
      expect(pending).not.toContain(done);
      const doneJob = await call(keys, 'GET', `/sms/${busy.name}/jobs/${done}`);
      expect([doneJob.statusCode, doneJob.json()]).toEqual([
        404,
        ovhError(404, `The requested object (id = ${done}) does not exist`, 'MESSAGE_NOT_FOUND'),
      ]);

      const job = (await call(keys, 'GET', `/sms/${busy.name}/jobs/${first}`)).json();
      expect(Object.keys(job).sort()).toEqual(OVH_JOB_FIELDS);
      expect(job).toMatchObject({
        id: first,
        sender: 'MyShop',
        receiver: '+33612340001',
        differedDelivery: 60,
        deliveryReceipt: 0,
        ptt: 254,
        credits: 1,
      });
      expect(job.creationDatetime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0[12]:00$/);

      const before = await credits(busy);
      const stop = await call(keys, 'DELETE', `/sms/${busy.name}/jobs/${first}`);
      expect([stop.statusCode, stop.body]).toEqual([200, 'null']);
      expect(await credits(busy)).toBe(before + 1);
      expect(await row(first)).toBeUndefined();
      expect(await list(`/sms/${busy.name}/jobs`)).not.toContain(first);
      expect((await audits(busy)).at(-1)).toMatchObject({ actor: `ovh:${keys.credentialId}`, kind: 'ids' });
      const again = await call(keys, 'DELETE', `/sms/${busy.name}/jobs/${first}`);
      expect([again.statusCode, again.json().message]).toEqual([404, `The requested object (id = ${first}) does not exist`]);
      const notPending = await call(keys, 'DELETE', `/sms/${busy.name}/jobs/${done}`);
      expect(notPending.statusCode).toBe(404);
      expect(await row(done)).toBeDefined();

      // A job a dispatcher holds may be in the carrier's hands: refused, nothing changes.
      await ctx.database.db
        .updateTable('dispatch_queue')
        .set({ lease_owner: 'dispatcher-1', lease_until: Date.now() + 60_000 })
        .where('outgoing_id', '=', second)
        .execute();
      const held = await call(keys, 'DELETE', `/sms/${busy.name}/jobs/${second}`);
      expect([held.statusCode, held.json()]).toEqual([
        409,
        ovhError(409, `The job ${second} is being handed to the carrier: it can no longer be stopped`, 'CONFLICT'),
      ]);
      expect(await row(second)).toMatchObject({ status: 'pending' });
      expect(await credits(busy)).toBe(before + 1);
    });

    it('scopes a user’s paths to that SMS user’s messages (GET, DELETE /users/{login}/outgoing…)', async () => {
      const path = `/sms/${history.name}/users/shop/outgoing`;
      expect(await list(path)).toEqual(names('pd', 'ca', 'f3', 's1'));
      expect(await list(`/sms/${history.name}/users/other/outgoing`)).toEqual(names('dd', 'f53'));
      const cases: [Record<string, string | number>, string[]][] = [
        [{ ptt: 3 }, ['f3']],
        [{ deliveryReceipt: 16 }, ['ca']],
        [{ differedDelivery: 30 }, ['pd']],
        [{ receiver: '+33611111111' }, ['f3']],
        [{ sender: 'Other' }, ['f3']],
        [{ tag: 'spring' }, ['s1']],
        [{ tag: 'summer', ptt: 53 }, []],
      ];
      for (const [query, expected] of cases) expect([query, await list(path, query)]).toEqual([query, names(...expected)]);
      const refused = await get(path, { 'creationDatetime.from': '2024-03-01' });
      expect([refused.statusCode, refused.json().message]).toEqual([
        400,
        'Unknown parameter "creationDatetime.from" (this call takes deliveryReceipt, differedDelivery, ptt, receiver, sender, tag)',
      ]);

      expect((await get(`${path}/${id.f3}`)).json()).toMatchObject({ id: id.f3, ptt: 3, deliveryReceipt: 2, sender: 'Other' });
      // Another user's message, or one sent with no user: not found on this user's path, and not deleted.
      for (const name of ['f53', 'd1']) {
        const read = await get(`${path}/${id[name]}`);
        expect([read.statusCode, read.json().message]).toEqual([404, `The requested object (id = ${id[name]}) does not exist`]);
        const deleted = await call(keys, 'DELETE', `${path}/${id[name]}`);
        expect(deleted.statusCode).toBe(404);
        expect(await row(id[name])).toBeDefined();
      }
      const unknown = await get(`/sms/${history.name}/users/nobody/outgoing`);
      expect([unknown.statusCode, unknown.json()]).toEqual([
        404,
        ovhError(404, 'The requested object (login = nobody) does not exist', 'USER_NOT_FOUND'),
      ]);
      expect((await get(`/sms/${history.name}/users/nobody/outgoing/${id.f3}`)).statusCode).toBe(404);
    });

    it('deletes a user’s own message on the user’s path, audited', async () => {
      const [mine, theirs] = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: busy.id, user_id: busyShop.id, user_login: 'shop' }),
        buildOutgoing({ account_id: busy.id, user_login: 'other' }),
      ]);
      const res = await call(keys, 'DELETE', `/sms/${busy.name}/users/shop/outgoing/${mine}`);
      expect([res.statusCode, res.body]).toEqual([200, 'null']);
      expect(await row(mine)).toBeUndefined();
      expect((await call(keys, 'DELETE', `/sms/${busy.name}/users/shop/outgoing/${theirs}`)).statusCode).toBe(404);
      expect(await row(theirs)).toBeDefined();
      expect((await audits(busy)).at(-1)).toMatchObject({ actor: `ovh:${keys.credentialId}`, kind: 'ids' });
    });

    it('sends as the SMS user (POST /users/{login}/jobs): its login on the messages, its quota spent, its history', async () => {
      const res = await call(keys, 'POST', `/sms/${busy.name}/users/shop/jobs`, {
        body: { message: 'Hello from the shop', receivers: ['+33612349991', '+33612349992'], sender: 'MyShop', noStopClause: true },
      });
      expect(res.statusCode).toBe(200);
      const { ids } = res.json() as { ids: number[] };
      for (const outgoingId of ids)
        expect(await row(outgoingId)).toMatchObject({ user_login: 'shop', channel: 'ovh-api', status: 'pending' });
      expect((await ctx.app.services.smsUsers.get(SYSTEM_ACTOR, busy.name, 'shop')).quota).toBe(2);
      const mine = await list(`/sms/${busy.name}/users/shop/outgoing`);
      expect(ids.every((i) => mine.includes(i))).toBe(true);
      expect(await list(`/sms/${busy.name}/users/other/outgoing`)).not.toContain(ids[0]);
      // Over the user's quota: refused, nothing sent.
      const over = await call(keys, 'POST', `/sms/${busy.name}/users/shop/jobs`, {
        body: { message: 'Too many', receivers: ['+33612349993', '+33612349994', '+33612349995'], sender: 'MyShop' },
      });
      expect(over.statusCode).toBe(403);
      expect((await ctx.app.services.smsUsers.get(SYSTEM_ACTOR, busy.name, 'shop')).quota).toBe(2);
      const nobody = await call(keys, 'POST', `/sms/${busy.name}/users/nobody/jobs`, {
        body: { message: 'x', receivers: ['+33612349996'], sender: 'MyShop' },
      });
      expect([nobody.statusCode, nobody.json().message]).toEqual([404, 'The requested object (login = nobody) does not exist']);
    });

    it('stops sending as, and listing the messages of, an SMS user deleted a moment before, here at once (its recent read forgotten)', async () => {
      await createSmsUser(ctx.app, busy, { login: 'leaving' });
      const send = () =>
        call(keys, 'POST', `/sms/${busy.name}/users/leaving/jobs`, {
          body: { message: 'Bye', receivers: ['+33612349997'], sender: 'MyShop', noStopClause: true },
        });
      expect((await send()).statusCode).toBe(200);
      expect((await call(keys, 'GET', `/sms/${busy.name}/users/leaving/outgoing`)).json()).toHaveLength(1);
      expect((await call(keys, 'DELETE', `/sms/${busy.name}/users/leaving`)).statusCode).toBe(200);
      const after = await send();
      expect([after.statusCode, after.json().message]).toEqual([404, 'The requested object (login = leaving) does not exist']);
      expect((await call(keys, 'GET', `/sms/${busy.name}/users/leaving/outgoing`)).statusCode).toBe(404);
    });

    /** An account of the owner with the sender MyShop and the SMS users shop (a quota of 6) and other. */
    const jobsAccount = async () => {
      const account = await createAccount(ctx.app, { owner, credits: 20, timezone: 'Europe/Paris' });
      await createSender(ctx.app, account, { sender: 'MyShop' });
      const user = await createSmsUser(ctx.app, account, { login: 'shop', quota: 6 });
      await createSmsUser(ctx.app, account, { login: 'other' });
      return { account, user };
    };
    /** Jobs sent with the full key (as `login` when given), deferred an hour so that they stay pending. */
    const sendJobs = async (account: Account, login: string | null, receivers: string[]) => {
      const path = login === null ? `/sms/${account.name}/jobs` : `/sms/${account.name}/users/${login}/jobs`;
      const res = await call(keys, 'POST', path, {
        body: { message: 'Later', receivers, sender: 'MyShop', noStopClause: true, differedPeriod: 60 },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().ids as number[];
    };
    const quotaOf = async (account: Account, login: string) =>
      (await ctx.app.services.smsUsers.get(SYSTEM_ACTOR, account.name, login)).quota;
    const ascending = (ids: number[]) => [...ids].sort((a, b) => a - b);

    it('lists and shows an SMS user’s own pending jobs only (GET /users/{login}/jobs[/{id}]), as the account’s jobs are shown', async () => {
      const { account, user } = await jobsAccount();
      const mine = await sendJobs(account, 'shop', ['+33612347001', '+33612347002']);
      const [theirs] = await sendJobs(account, 'other', ['+33612347003']);
      const [noUser] = await sendJobs(account, null, ['+33612347004']);
      const [sentMine] = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: account.id, user_id: user.id, user_login: 'shop', status: 'sent' }),
      ]);
      const path = `/sms/${account.name}/users/shop/jobs`;

      const listed = await list(path);
      expect(listed.every((p) => typeof p === 'number')).toBe(true);
      expect(ascending(listed)).toEqual(ascending(mine));
      expect(await list(`/sms/${account.name}/users/other/jobs`)).toEqual([theirs]);
      expect(ascending(await list(`/sms/${account.name}/jobs`))).toEqual(ascending([...mine, theirs, noUser]));
      expect(await list(`/sms/${account.name}/users/shop/outgoing`)).toContain(sentMine);
      const refused = await get(path, { limit: 10 });
      expect([refused.statusCode, refused.json()]).toEqual([
        400,
        ovhError(400, 'Unknown parameter "limit" (this call takes none)', 'VALIDATION_FAILED'),
      ]);
      const nobody = await get(`/sms/${account.name}/users/nobody/jobs`);
      expect([nobody.statusCode, nobody.json()]).toEqual([
        404,
        ovhError(404, 'The requested object (login = nobody) does not exist', 'USER_NOT_FOUND'),
      ]);

      const job = await get(`${path}/${mine[0]}`);
      expect(job.statusCode).toBe(200);
      expect(Object.keys(job.json()).sort()).toEqual(OVH_JOB_FIELDS);
      expect(job.json()).toMatchObject({
        id: mine[0],
        sender: 'MyShop',
        receiver: '+33612347001',
        message: 'Later',
        messageLength: 5,
        numberOfSms: 1,
        credits: 1,
        differedDelivery: 60,
        deliveryReceipt: 0,
        ptt: 254,
      });
      expect(job.json().creationDatetime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0[12]:00$/);
      expect(job.json()).toEqual((await get(`/sms/${account.name}/jobs/${mine[0]}`)).json());

      // Another user's job, a job sent with no user, one of the user's messages already sent: not found here.
      for (const other of [theirs, noUser, sentMine]) {
        const res = await get(`${path}/${other}`);
        expect([other, res.statusCode, res.json()]).toEqual([
          other,
          404,
          ovhError(404, `The requested object (id = ${other}) does not exist`, 'MESSAGE_NOT_FOUND'),
        ]);
      }
    });

    it('stops an SMS user’s own job (DELETE /users/{login}/jobs/{id}): credits and quota back once, audited; never another’s', async () => {
      const { account, user } = await jobsAccount();
      const [first, second] = await sendJobs(account, 'shop', ['+33612348001', '+33612348002']);
      const [theirs] = await sendJobs(account, 'other', ['+33612348003']);
      const [noUser] = await sendJobs(account, null, ['+33612348004']);
      const [sentMine] = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: account.id, user_id: user.id, user_login: 'shop', status: 'sent' }),
      ]);
      const path = `/sms/${account.name}/users/shop/jobs`;
      const state = async () => ({
        credits: await credits(account),
        shopQuota: await quotaOf(account, 'shop'),
        audits: (await audits(account)).length,
        pending: ascending(await list(`/sms/${account.name}/jobs`)),
      });
      const before = await state();
      expect(before).toMatchObject({ credits: 16, shopQuota: 4, audits: 0 });

      // Another user's job, a job sent with no user, a message already sent: not found, nothing changed.
      for (const other of [theirs, noUser, sentMine]) {
        const res = await call(keys, 'DELETE', `${path}/${other}`);
        expect([other, res.statusCode, res.json()]).toEqual([
          other,
          404,
          ovhError(404, `The requested object (id = ${other}) does not exist`, 'MESSAGE_NOT_FOUND'),
        ]);
        expect(await row(other)).toBeDefined();
      }
      expect(await state()).toEqual(before);

      const stop = await call(keys, 'DELETE', `${path}/${first}`);
      expect([stop.statusCode, stop.body]).toEqual([200, 'null']);
      expect(await row(first)).toBeUndefined();
      expect(await list(path)).toEqual([second]);
      expect((await get(`${path}/${first}`)).statusCode).toBe(404);
      const after = await state();
      expect(after).toEqual({
        credits: 17,
        shopQuota: 5,
        audits: 1,
        pending: before.pending.filter((p) => p !== first),
      });
      const [audit] = await audits(account);
      expect({ ...audit, ids: JSON.parse(String(audit.ids)), count: Number(audit.count) }).toEqual({
        actor: `ovh:${keys.credentialId}`,
        kind: 'ids',
        ids: [first],
        count: 1,
      });

      // Once: stopped again, it is not found, and nothing is given back twice.
      const again = await call(keys, 'DELETE', `${path}/${first}`);
      expect([again.statusCode, again.json()]).toEqual([
        404,
        ovhError(404, `The requested object (id = ${first}) does not exist`, 'MESSAGE_NOT_FOUND'),
      ]);
      expect(await state()).toEqual(after);

      // A job a dispatcher holds: refused as on the account's path, nothing changes.
      await ctx.database.db
        .updateTable('dispatch_queue')
        .set({ lease_owner: 'dispatcher-1', lease_until: Date.now() + 60_000 })
        .where('outgoing_id', '=', second)
        .execute();
      const held = await call(keys, 'DELETE', `${path}/${second}`);
      expect([held.statusCode, held.json()]).toEqual([
        409,
        ovhError(409, `The job ${second} is being handed to the carrier: it can no longer be stopped`, 'CONFLICT'),
      ]);
      expect(await row(second)).toMatchObject({ status: 'pending' });
      expect(await state()).toEqual(after);
    });

    it('keeps a key allowed only GET /sms/*/users/*/jobs to listing a user’s jobs: it cannot read one nor stop it (403 NOT_GRANTED_CALL)', async () => {
      const { account } = await jobsAccount();
      const [job] = await sendJobs(account, 'shop', ['+33612349001']);
      const listOnly = await createOvhKeys(ctx.app, owner, { rules: [{ method: 'GET', path: '/sms/*/users/*/jobs' }] });
      const path = `/sms/${account.name}/users/shop/jobs`;
      const listed = await call(listOnly, 'GET', path);
      expect([listed.statusCode, listed.json()]).toEqual([200, [job]]);
      const before = { credits: await credits(account), quota: await quotaOf(account, 'shop'), rows: await countRows(account) };
      const refused: [Method, string, unknown?][] = [
        ['GET', `${path}/${job}`],
        ['DELETE', `${path}/${job}`],
        ['DELETE', `/sms/${account.name}/jobs/${job}`],
        ['GET', `/sms/${account.name}/jobs`],
        ['POST', path, { message: 'Hi', receivers: ['+33612349002'], sender: 'MyShop' }],
      ];
      for (const [method, target, body] of refused) {
        const res = await call(listOnly, method, target, { body });
        expect([method, target, res.statusCode, res.json().errorCode]).toEqual([method, target, 403, 'NOT_GRANTED_CALL']);
      }
      expect(await row(job)).toMatchObject({ status: 'pending' });
      expect({ credits: await credits(account), quota: await quotaOf(account, 'shop'), rows: await countRows(account) }).toEqual(before);
    });

    it('describes a user’s jobs in the schema document (/1.0/sms.json) as the account’s jobs are', async () => {
      const res = await ctx.app.inject({ url: '/1.0/sms.json' });
      expect(res.statusCode).toBe(200);
      const apis = (res.json() as { apis: { path: string; operations: { httpMethod: string; noAuthentication: boolean }[] }[] }).apis;
      const methods = (path: string) =>
        apis
          .find((a) => a.path === path)
          ?.operations.map((op) => `${op.httpMethod}${op.noAuthentication ? ' (unsigned)' : ''}`)
          .sort();
      expect(methods('/sms/{serviceName}/users/{login}/jobs')).toEqual(['GET', 'POST']);
      expect(methods('/sms/{serviceName}/users/{login}/jobs/{id}')).toEqual(['DELETE', 'GET']);
      expect(methods('/sms/{serviceName}/users/{login}/jobs')).toEqual(methods('/sms/{serviceName}/jobs'));
      expect(methods('/sms/{serviceName}/users/{login}/jobs/{id}')).toEqual(methods('/sms/{serviceName}/jobs/{id}'));
    });

    it('keeps a key to its access rules: one allowed only GET /sms/* reads but cannot send, delete or change (403 NOT_GRANTED_CALL)', async () => {
      expect((await call(readOnlyKeys, 'GET', '/sms')).statusCode).toBe(200);
      expect((await call(readOnlyKeys, 'GET', `/sms/${history.name}/outgoing`, { query: { tag: 'spring' } })).json()).toEqual(
        names('s1', 'd1'),
      );
      const before = {
        credits: await credits(busy),
        rows: await countRows(busy),
        description: (await get(`/sms/${busy.name}`)).json().description,
      };
      const [target] = await list(`/sms/${busy.name}/outgoing`);
      const writes: [Method, string, unknown?][] = [
        ['POST', `/sms/${busy.name}/jobs`, { message: 'Hi', receivers: ['+33612345678'], sender: 'MyShop' }],
        ['POST', `/sms/${busy.name}/users/other/jobs`, { message: 'Hi', receivers: ['+33612345678'], sender: 'MyShop' }],
        ['DELETE', `/sms/${busy.name}/outgoing/${target}`],
        ['DELETE', `/sms/${busy.name}/jobs/${target}`],
        ['PUT', `/sms/${busy.name}`, { description: 'changed' }],
      ];
      for (const [method, path, body] of writes) {
        const res = await call(readOnlyKeys, method, path, { body });
        expect([method, path, res.statusCode, res.json().errorCode]).toEqual([method, path, 403, 'NOT_GRANTED_CALL']);
      }
      expect({
        credits: await credits(busy),
        rows: await countRows(busy),
        description: (await get(`/sms/${busy.name}`)).json().description,
      }).toEqual(before);
    });

    it('makes a history document: an id, OVH’s document object, and a CSV any client can download from getUrl', async () => {
      const asked = await get(`/sms/${history.name}/document`, {
        wayType: 'outgoing',
        'creationDatetime.from': '2024-03-02',
        'creationDatetime.to': '2024-03-06T23:59:59+01:00',
        tag: 'autumn',
      });
      expect(asked.statusCode).toBe(200);
      expect(asked.headers['content-type']).toMatch(/^application\/json/);
      const documentId = asked.json() as string;
      expect(typeof documentId).toBe('string');

      const doc = await get(`/me/document/${documentId}`);
      expect(doc.statusCode).toBe(200);
      const body = doc.json();
      expect(body).toMatchObject({
        id: documentId,
        name: expect.stringMatching(new RegExp(`^${history.name}-outgoing-\\d{14}\\.csv$`)),
        tags: [],
      });
      expect(Date.parse(body.expirationDate) - Date.parse(body.creationDate)).toBe(DOCUMENT_TTL_MS);
      const url = new URL(body.getUrl);
      expect(url.pathname).toBe('/1.0/me/document/download');

      // No signature, no headers: as a browser or curl fetches it.
      const csv = await ctx.app.inject({ method: 'GET', url: `${url.pathname}${url.search}` });
      expect(csv.statusCode).toBe(200);
      expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(csv.headers['content-disposition']).toBe(`attachment; filename="${body.name}"`);
      const lines = csv.body.split('\n');
      expect(lines[0]).toBe('id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt;user;channel;status');
      expect(csvIds(csv.body)).toEqual(names('ex', 'fx'));
      expect(lines[1]).toMatch(/^"\d+";"2024-03-06 11:00:00";"MyShop";"\+33611111111";"801";"";"expired";"autumn";/);
      expect(body.size).toBe(Buffer.byteLength(csv.body));

      // The whole history up to the second it was asked in: later messages stay out.
      const whole = (await get(`/sms/${busy.name}/document`, { wayType: 'outgoing' })).json() as string;
      clock.offset += 2_000;
      const [later] = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: busy.id, created_at: clock.now() })]);
      const wholeDoc = (await get(`/me/document/${whole}`)).json();
      const wholeUrl = new URL(wholeDoc.getUrl);
      const wholeCsv = (await ctx.app.inject({ url: `${wholeUrl.pathname}${wholeUrl.search}` })).body;
      const listed = csvIds(wholeCsv);
      expect(listed).not.toContain(later);
      expect(listed).toEqual((await list(`/sms/${busy.name}/outgoing`)).filter((v) => v !== later));
      expect(wholeDoc.size).toBe(Buffer.byteLength(wholeCsv));

      // Counted once: a message of it deleted since, the document says the size it had (its CSV now is shorter).
      expect((await call(keys, 'DELETE', `/sms/${busy.name}/outgoing/${listed[0]}`)).statusCode).toBe(200);
      expect((await get(`/me/document/${whole}`)).json().size).toBe(wholeDoc.size);
      expect(Buffer.byteLength((await ctx.app.inject({ url: `${wholeUrl.pathname}${wholeUrl.search}` })).body)).toBeLessThan(wholeDoc.size);
    });

    it('keeps documents to their customer, their key and their time; refuses bad document queries', async () => {
      const documentId = (await get(`/sms/${history.name}/document`, { wayType: 'outgoing' })).json() as string;
      const doc = (await get(`/me/document/${documentId}`)).json();
      const url = new URL(doc.getUrl);
      const download = (search: string) => ctx.app.inject({ url: `${url.pathname}${search}` });
      const gone = ovhError(404, 'This document does not exist (or has expired)', 'NOT_FOUND');

      const other = await call(strangerKeys, 'GET', `/me/document/${documentId}`);
      expect([other.statusCode, other.json()]).toEqual([404, gone]);
      const [payload, mac] = documentId.split('.');
      const tampered = `${Buffer.from(JSON.stringify([1, strangers.name, stranger.id, strangerKeys.credentialId, strangerKeys.applicationId, null, Date.now(), null, Date.now()])).toString('base64url')}.${mac}`;
      expect((await call(strangerKeys, 'GET', `/me/document/${tampered}`)).statusCode).toBe(404);
      expect((await download(`?id=${tampered}&key=${url.searchParams.get('key')}`)).statusCode).toBe(404);
      expect((await download(`?id=${payload}.${mac}&key=${mac}`)).json()).toEqual(gone);
      expect((await download(`?id=${documentId}`)).statusCode).toBe(400);

      const bad: [Record<string, string>, string][] = [
        [{}, 'Invalid parameter wayType: it is required (outgoing)'],
        [{ wayType: 'incoming' }, 'Relais keeps no received SMS: wayType must be outgoing'],
        [
          { wayType: 'outgoing', 'creationDatetime.from': 'now' },
          'creationDatetime.from must be an ISO 8601 date or datetime such as 2024-05-01 or 2024-05-01T10:30:00+02:00, got "now"',
        ],
        [
          { wayType: 'outgoing', sender: 'x' },
          'Unknown parameter "sender" (this call takes wayType, creationDatetime.from, creationDatetime.to, tag)',
        ],
        // Refused at once, as the history refuses it, rather than in an id that cannot be opened.
        [{ wayType: 'outgoing', tag: 't'.repeat(501) }, 'tag is too long (at most 500 characters)'],
      ];
      for (const [query, message] of bad) {
        const res = await get(`/sms/${history.name}/document`, query);
        expect([query, res.statusCode, res.json().message]).toEqual([query, 400, message]);
      }

      // Expired: neither the object nor the file.
      clock.offset += DOCUMENT_TTL_MS;
      try {
        expect((await get(`/me/document/${documentId}`)).json()).toEqual(gone);
        expect((await download(url.search)).statusCode).toBe(404);
      } finally {
        clock.offset -= DOCUMENT_TTL_MS;
      }
      expect((await download(url.search)).statusCode).toBe(200);

      // The consumer key that asked for it revoked: its documents close with it.
      const shortLived = await createOvhKeys(ctx.app, owner);
      const revokedId = (
        await call(shortLived, 'GET', `/sms/${history.name}/document`, { query: { wayType: 'outgoing' } })
      ).json() as string;
      const revokedUrl = new URL((await call(shortLived, 'GET', `/me/document/${revokedId}`)).json().getUrl);
      expect((await download(revokedUrl.search)).statusCode).toBe(200);
      expect((await call(shortLived, 'POST', '/auth/logout')).statusCode).toBe(200);
      const revoked = await download(revokedUrl.search);
      expect([revoked.statusCode, revoked.json()]).toEqual([
        403,
        ovhError(403, 'The consumer key that asked for this document is no longer valid', 'INVALID_CREDENTIAL'),
      ]);
    });

    it('never shows another customer’s SMS user: the account is not found first', async () => {
      const paths = [
        `/users/shop/outgoing`,
        `/users/shop/outgoing/${id.f3}`,
        '/users/nobody/outgoing',
        '/users/shop/jobs',
        `/users/shop/jobs/${id.pd}`,
      ];
      for (const path of paths) {
        const res = await call(strangerKeys, 'GET', `/sms/${history.name}${path}`);
        expect([path, res.statusCode, res.json().message]).toEqual([path, 404, 'This service does not exist']);
      }
      const deleted = await call(strangerKeys, 'DELETE', `/sms/${history.name}/users/shop/outgoing/${id.f3}`);
      expect(deleted.statusCode).toBe(404);
      expect(await row(id.f3)).toBeDefined();
      const stopped = await call(strangerKeys, 'DELETE', `/sms/${history.name}/users/shop/jobs/${id.pd}`);
      expect([stopped.statusCode, stopped.json().message]).toEqual([404, 'This service does not exist']);
      expect(await row(id.pd)).toMatchObject({ status: 'pending' });
    });
  },
  { clock },
);
