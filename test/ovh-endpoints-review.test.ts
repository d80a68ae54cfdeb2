import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import type { Account } from '../src/server/modules/accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import type { Customer } from '../src/server/modules/accounts/customers.repository.js';
import type { SmsUser } from '../src/server/modules/accounts/sms-users.repository.js';
import { describeEachDialectWithApp } from './app.js';
import { createAccount, createCustomer, createSender, createSmsUser } from './factories.js';
import { buildOutgoing, insertOutgoing } from './outgoing-factory.js';
import { createOvhKeys, type OvhKeys, ovhCall, ovhHeaders } from './ovh.js';

/**
 * An adversarial review of the less-trodden parts of the OVH-compatible REST API (`/1.0/sms/…`,
 * OVH-COMPAT.md §1–§2), beyond src/server/modules/ovh-api/*.test.ts and test/ovh-review.test.ts: the
 * answers at the edges of the API (malformed addresses, `/1.0` itself, requests Node cannot parse), the
 * content of a history document, the ptt of failed messages as a filter, the filters of a user's list,
 * stopping a job, users' IP restrictions, senders' types and operator statuses, bodies escaped as the
 * npm client escapes them, the types of the outgoing object, and void answers.
 */

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** March 2024, 10:00 UTC (11:00 in Paris) on `day`. */
const at = (day: number) => Date.UTC(2024, 2, day, 10, 0, 0);

/** OVH's error classes by status (ovh-api.plugin.ts' ERROR_CLASS). */
const OVH_CLASS: Record<number, string> = {
  400: 'Client::BadRequest',
  403: 'Client::Forbidden',
  404: 'Client::NotFound',
  409: 'Client::Conflict',
};

/** The detailed CSV's header line (OVH's `/document` columns, then Relais' user, channel and status). */
const DETAILED_HEADER = 'id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt;user;channel;status';

/** Sends `request` (bytes) over a real socket; the whole answer as text. */
function rawExchange(port: number, request: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

describeEachDialectWithApp('OVH API endpoints review (/1.0/sms)', (ctx) => {
  let owner: Customer;
  let main: Account;
  let keys: OvhKeys;
  let readOnly: OvhKeys;
  let shop: SmsUser;
  let other: SmsUser;

  const call = (method: Method, path: string, options: Parameters<typeof ovhCall>[4] = {}, as: OvhKeys = keys) =>
    ovhCall(ctx.app, as, method, path, options);
  /** A signed call with the body's text as sent (escapes and all). */
  const callRaw = (method: Method, path: string, rawBody: string, as: OvhKeys = keys) => call(method, path, { rawBody }, as);
  const ids = (res: LightMyRequestResponse): number[] => {
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as number[];
  };
  /** What an answer shows of itself: status, OVH's query id, and the body's shape. */
  const shapeOf = (res: LightMyRequestResponse) => {
    let body: unknown;
    try {
      body = res.json();
    } catch {
      body = res.body.slice(0, 80);
    }
    return { status: res.statusCode, queryId: res.headers['x-ovh-queryid'] ?? null, body };
  };
  /** OVH's error answer: its status, a query id, and `{ class, message, errorCode, httpCode }`. */
  const ovhError = (status: number, errorCode: string | RegExp = /^[A-Z_]+$/, message: string | RegExp = /./) => ({
    status,
    queryId: expect.stringMatching(/^EU\.relais\./),
    body: {
      class: OVH_CLASS[status],
      message: typeof message === 'string' ? message : expect.stringMatching(message),
      errorCode: typeof errorCode === 'string' ? errorCode : expect.stringMatching(errorCode),
      httpCode: expect.stringMatching(new RegExp(`^${status} [A-Z]`)),
    },
  });
  const credits = async (account: Account) => (await ctx.app.services.accounts.get(SYSTEM_ACTOR, account.name)).credits;
  const queued = async (id: number) =>
    (await ctx.database.db.selectFrom('dispatch_queue').select('outgoing_id').where('outgoing_id', '=', id).execute()).length;
  const outgoingRow = (id: number) =>
    ctx.database.db.selectFrom('outgoing').select(['id', 'status', 'user_login']).where('id', '=', id).executeTakeFirst();

  beforeAll(async () => {
    owner = await createCustomer(ctx.app);
    main = await createAccount(ctx.app, { owner, credits: 1000, timezone: 'Europe/Paris' });
    await createSender(ctx.app, main, { sender: 'MyShop' });
    shop = await createSmsUser(ctx.app, main, { login: 'shop', quota: 50 });
    other = await createSmsUser(ctx.app, main, { login: 'other' });
    keys = await createOvhKeys(ctx.app, owner);
    readOnly = await createOvhKeys(ctx.app, owner, {
      rules: [
        { method: 'GET', path: '/sms' },
        { method: 'GET', path: '/sms/*' },
      ],
    });
  });

  // ---------------------------------------------------------------------------------------------
  // Every answer in OVH's shape, with a query id

  it('answers every kind of refusal under /1.0 in OVH’s shape with an X-OVH-QueryID, and each answer its own query id', async () => {
    const sn = main.name;
    const [delivered] = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: main.id, status: 'delivered' })]);
    const forged = { ...keys, appSecret: 'x'.repeat(32) };
    const unknownApp = { ...keys, appKey: 'A'.repeat(16) };
    const cases: [string, Promise<LightMyRequestResponse>, ReturnType<typeof ovhError>][] = [
      ['unsigned', ctx.app.inject({ method: 'GET', url: `/1.0/sms/${sn}` }), ovhError(403)],
      ['wrong signature', call('GET', `/sms/${sn}`, {}, forged), ovhError(403, 'INVALID_SIGNATURE')],
      ['unknown application key', call('GET', `/sms/${sn}`, {}, unknownApp), ovhError(403, 'INVALID_KEY')],
      [
        'not granted',
        call('POST', `/sms/${sn}/jobs`, { body: { message: 'x', receivers: ['+33612345678'], sender: 'MyShop' } }, readOnly),
        ovhError(403, 'NOT_GRANTED_CALL'),
      ],
      ['unknown account', call('GET', '/sms/sms-zz99999-9'), ovhError(404, 'ACCOUNT_NOT_FOUND', 'This service does not exist')],
      ['unknown route', call('GET', `/sms/${sn}/nothing`), ovhError(404, 'NOT_FOUND')],
      ['unknown message', call('GET', `/sms/${sn}/outgoing/999999999`), ovhError(404, 'MESSAGE_NOT_FOUND')],
      ['no such job', call('DELETE', `/sms/${sn}/jobs/${delivered}`), ovhError(404, 'MESSAGE_NOT_FOUND')],
      ['bad id', call('GET', `/sms/${sn}/outgoing/abc`), ovhError(400, 'INVALID_PARAMETER')],
      ['bad filter value', call('GET', `/sms/${sn}/outgoing`, { query: { ptt: 'x' } }), ovhError(400, 'INVALID_FILTER')],
      ['unknown filter', call('GET', `/sms/${sn}/outgoing`, { query: { status: 'sent' } }), ovhError(400, 'VALIDATION_FAILED')],
      ['body not JSON', call('POST', `/sms/${sn}/jobs`, { rawBody: '{"message":' }), ovhError(400, 'VALIDATION_FAILED')],
      ['login taken', call('POST', `/sms/${sn}/users`, { body: { login: 'shop', password: 'good-password' } }), ovhError(409)],
      ['document key wrong', ctx.app.inject({ url: '/1.0/me/document/download?id=x.y&key=z' }), ovhError(404)],
      ['document id unknown', call('GET', '/me/document/abc'), ovhError(404)],
    ];
    const queryIds: string[] = [];
    for (const [what, pending, expected] of cases) {
      const res = await pending;
      expect({ what, ...shapeOf(res) }).toEqual({ what, ...expected });
      queryIds.push(String(res.headers['x-ovh-queryid']));
    }
    // Successes carry one too.
    for (const res of [await call('GET', '/sms'), await call('GET', `/sms/${sn}/outgoing`), await call('GET', '/auth/time')]) {
      expect(res.statusCode).toBe(200);
      queryIds.push(String(res.headers['x-ovh-queryid']));
    }
    expect(new Set(queryIds).size).toBe(queryIds.length);
  });

  it('answers a path with a malformed percent-escape (a % left unencoded) in OVH’s shape with an X-OVH-QueryID', async () => {
    // A script that puts a raw % in a path segment (`%E0%A4%A` is cut short): the router cannot decode it.
    const url = `/1.0/sms/${main.name}/outgoing/%E0%A4%A`;
    const res = await ctx.app.inject({ method: 'GET', url, headers: ovhHeaders(keys, { method: 'GET', url }) });
    expect(shapeOf(res)).toEqual(ovhError(400, /^[A-Z_]+$/, /percent-escape/));
    // Elsewhere, the native API's error, without a query id.
    const native = await ctx.app.inject({ method: 'GET', url: '/api/v1/accounts/%E0%A4%A' });
    expect(shapeOf(native)).toEqual({
      status: 400,
      queryId: null,
      body: { error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('percent-escape') } },
    });
  });

  it('answers /1.0 itself (the base path, no trailing slash) as OVH’s 404 with a query id, not with the Manager’s page', async () => {
    const url = '/1.0';
    const res = await ctx.app.inject({ method: 'GET', url, headers: ovhHeaders(keys, { method: 'GET', url }) });
    expect(shapeOf(res)).toEqual(ovhError(404));
    for (const [method, path] of [
      ['GET', '/1.0/'],
      ['GET', '/1.0?x=1'],
      ['POST', '/1.0'],
      ['HEAD', '/1.0'],
    ] as const) {
      const other = await ctx.app.inject({ method, url: path });
      expect({
        method,
        path,
        status: other.statusCode,
        queryId: other.headers['x-ovh-queryid'] !== undefined,
        type: other.headers['content-type'],
      }).toEqual({
        method,
        path,
        status: 404,
        queryId: true,
        type: expect.stringMatching(/^application\/json/),
      });
    }
  });

  it('answers a request Node cannot parse under /1.0 (a raw é in the query, real socket) in OVH’s shape with a query id', async () => {
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (ctx.app.server.address() as AddressInfo).port;
    // python-ovh given a query built by hand: the é goes out as its two UTF-8 bytes, not %C3%A9.
    const url = `/1.0/sms/${main.name}/outgoing?tag=caf\u00e9`;
    const headers = ovhHeaders(keys, { method: 'GET', url, host: `127.0.0.1:${port}` });
    const head = `GET ${url} HTTP/1.1\r\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join('\r\n')}\r\nConnection: close\r\n\r\n`;
    const answer = await rawExchange(port, Buffer.from(head, 'utf8'));
    const [top, body] = answer.split('\r\n\r\n');
    const lines = top.split('\r\n');
    const queryId = lines.find((line) => /^x-ovh-queryid:/i.test(line)) ?? null;
    let parsed: unknown = body;
    try {
      parsed = JSON.parse(body);
    } catch {}
    expect({ status: lines[0], queryId: queryId !== null, body: parsed }).toEqual({
      status: expect.stringMatching(/^HTTP\/1\.1 400 /),
      queryId: true,
      body: {
        class: 'Client::BadRequest',
        message: expect.stringContaining('URL-encoded'),
        errorCode: expect.any(String),
        httpCode: '400 Bad Request',
      },
    });
  });

  // ---------------------------------------------------------------------------------------------
  // Documents

  it('makes a document of exactly the rows asked for (this account, every user, the tag, the range) in OVH’s CSV, its size in bytes', async () => {
    const account = await createAccount(ctx.app, { owner, timezone: 'Europe/Paris' });
    const neighbour = await createAccount(ctx.app, { owner, timezone: 'Europe/Paris' });
    const rows = [
      // a: in the range and the tag, with what a CSV must quote.
      buildOutgoing({
        account_id: account.id,
        channel: 'http2sms',
        user_login: 'shop',
        sender: 'MyShop',
        receiver: '+33611111111',
        tag: 'promo',
        status: 'delivered',
        created_at: at(2),
        message: 'Été ; "cité"\nligne 2 🎉',
      }),
      // b: in the range and the tag, sent with senderForResponse, failed (blacklisted).
      buildOutgoing({
        account_id: account.id,
        channel: 'ovh-api',
        user_login: 'other',
        sender: '',
        receiver: '+33622222222',
        tag: 'promo',
        status: 'failed',
        created_at: at(3),
        message: 'Bloqué',
        error_code: '53',
        error_text: 'blacklisted',
      }),
      // Out: another tag, after the range, before it, another account.
      buildOutgoing({ account_id: account.id, tag: 'other', created_at: at(3) }),
      buildOutgoing({ account_id: account.id, tag: 'promo', created_at: at(10) }),
      buildOutgoing({ account_id: account.id, tag: 'promo', created_at: at(1) }),
      buildOutgoing({ account_id: neighbour.id, tag: 'promo', created_at: at(3) }),
    ];
    const [a, b] = await insertOutgoing(ctx.database, rows);
    const asked = await call('GET', `/sms/${account.name}/document`, {
      query: {
        wayType: 'outgoing',
        'creationDatetime.from': '2024-03-02',
        'creationDatetime.to': '2024-03-05T23:59:59+01:00',
        tag: 'promo',
      },
    });
    expect(asked.statusCode, asked.body).toBe(200);
    const described = await call('GET', `/me/document/${asked.json() as string}`);
    expect(described.statusCode, described.body).toBe(200);
    const document = described.json() as { getUrl: string; size: number };
    const url = new URL(document.getUrl);
    const csv = await ctx.app.inject({ url: `${url.pathname}${url.search}` });
    expect(csv.statusCode).toBe(200);
    expect(csv.body).toBe(
      `${DETAILED_HEADER}\n` +
        `"${b}";"2024-03-03 11:00:00";"";"+33622222222";"53";"53";"blacklisted";"promo";"Bloqué";"2024-03-03 11:00:01";"";"other";"ovh-api";"failed"\n` +
        `"${a}";"2024-03-02 11:00:00";"MyShop";"+33611111111";"0";"";"delivered";"promo";"Été ; ""cité""\nligne 2 🎉";"2024-03-02 11:00:01";"2024-03-02 11:00:05";"shop";"http2sms";"delivered"\n`,
    );
    expect(document.size).toBe(Buffer.byteLength(csv.body));
    // The CSV's ptt and sender are the outgoing object's.
    for (const id of [a, b]) {
      const object = (await call('GET', `/sms/${account.name}/outgoing/${id}`)).json() as { ptt: number; sender: string };
      const line = csv.body.split('\n').find((l) => l.startsWith(`"${id}";`)) ?? '';
      expect(line.split(';').slice(2, 5)).toEqual([`"${object.sender}"`, expect.any(String), `"${object.ptt}"`]);
    }
  });

  it('lets a key granted only GET /sms/* make a document id but not open it (/me/document is another path), nor write anything', async () => {
    const sn = main.name;
    const asked = await call('GET', `/sms/${sn}/document`, { query: { wayType: 'outgoing' } }, readOnly);
    expect(asked.statusCode).toBe(200);
    const before = { credits: await credits(main), users: (await call('GET', `/sms/${sn}/users`)).json() };
    const refused: [Method, string, unknown?][] = [
      ['GET', `/me/document/${asked.json() as string}`],
      ['POST', `/sms/${sn}/jobs`, { message: 'x', receivers: ['+33612345678'], sender: 'MyShop' }],
      ['POST', `/sms/${sn}/users/shop/jobs`, { message: 'x', receivers: ['+33612345678'], sender: 'MyShop' }],
      ['POST', `/sms/${sn}/users`, { login: 'sneaky', password: 'sneaky-password' }],
      ['PUT', `/sms/${sn}/senders/MyShop`, { description: 'sneaky' }],
      ['DELETE', `/sms/${sn}/users/other`],
    ];
    for (const [method, path, body] of refused) {
      const res = await call(method, path, { body }, readOnly);
      expect({ method, path, ...shapeOf(res) }).toEqual({ method, path, ...ovhError(403, 'NOT_GRANTED_CALL') });
    }
    expect({ credits: await credits(main), users: (await call('GET', `/sms/${sn}/users`)).json() }).toEqual(before);
  });

  // ---------------------------------------------------------------------------------------------
  // Filters

  it('filters failed messages by the ptt their outgoing object shows (carrier codes, SMPP stat words, unknown codes), and nothing else', async () => {
    const account = await createAccount(ctx.app, { owner, timezone: 'Europe/Paris' });
    const failed = (error_code: string | null, error_text: string | null) =>
      buildOutgoing({ account_id: account.id, status: 'failed', error_code, error_text });
    const inserted = await insertOutgoing(ctx.database, [
      failed('1', null),
      failed('0', null),
      failed('254', null),
      failed('3', 'REJECTD'),
      failed('053', 'UNDELIV'),
      failed('abc', 'carrier said no'),
      failed('101', null),
      failed('12', 'EXPIRED'),
      failed(null, null),
      buildOutgoing({ account_id: account.id, status: 'expired' }),
      buildOutgoing({ account_id: account.id, status: 'delivered' }),
      buildOutgoing({ account_id: account.id, status: 'sent' }),
      buildOutgoing({ account_id: account.id, status: 'canceled' }),
    ]);
    const pttOf = new Map<number, number>();
    for (const id of inserted) pttOf.set(id, ((await call('GET', `/sms/${account.name}/outgoing/${id}`)).json() as { ptt: number }).ptt);
    const all = ids(await call('GET', `/sms/${account.name}/outgoing`));
    for (const ptt of [0, 1, 3, 9, 53, 101, 254, 255, 801, 802, 803, 804]) {
      const listed = ids(await call('GET', `/sms/${account.name}/outgoing`, { query: { ptt } }));
      expect({ ptt, listed }).toEqual({ ptt, listed: all.filter((id) => pttOf.get(id) === ptt) });
    }
    // With deliveryReceipt 2 (failed or expired), the two tests hold together.
    const both = ids(await call('GET', `/sms/${account.name}/outgoing`, { query: { ptt: 801, deliveryReceipt: 2 } }));
    expect(both).toEqual(all.filter((id) => pttOf.get(id) === 801));
  });

  it('takes on a user’s list only its six filters, each as equality, and refuses the account list’s others with OVH’s 400', async () => {
    const sn = main.name;
    const [mine, mineLater, theirs] = await insertOutgoing(ctx.database, [
      buildOutgoing({
        account_id: main.id,
        user_id: shop.id,
        user_login: 'shop',
        tag: 'u-eq',
        created_at: at(4),
        deferred_until: at(4) + 15 * 60_000,
      }),
      buildOutgoing({
        account_id: main.id,
        user_id: shop.id,
        user_login: 'shop',
        tag: 'u-eq-2',
        created_at: at(5),
        deferred_until: at(5) + 30 * 60_000,
      }),
      buildOutgoing({ account_id: main.id, user_id: other.id, user_login: 'other', tag: 'u-eq', created_at: at(4) }),
    ]);
    const path = `/sms/${sn}/users/shop/outgoing`;
    expect(ids(await call('GET', path, { query: { tag: 'u-eq' } }))).toEqual([mine]);
    expect(ids(await call('GET', path, { query: { tag: 'u-eq-2' } }))).toEqual([mineLater]);
    // Equality, not "at least": 15 minutes is not 30.
    expect(ids(await call('GET', path, { query: { differedDelivery: 15 } }))).toEqual([mine]);
    expect(ids(await call('GET', `/sms/${sn}/users/other/outgoing`, { query: { tag: 'u-eq' } }))).toEqual([theirs]);
    for (const name of ['creationDatetime.from', 'creationDatetime.to', 'batchID', 'messageID'] as const) {
      const value = name.startsWith('creation') ? '2024-03-01' : '0e9f2f3c-5f39-4bd7-a43c-6a2f1a1f2b4c';
      const res = await call('GET', path, { query: { [name]: value } });
      expect({ name, ...shapeOf(res) }).toEqual({
        name,
        ...ovhError(
          400,
          'VALIDATION_FAILED',
          `Unknown parameter "${name}" (this call takes deliveryReceipt, differedDelivery, ptt, receiver, sender, tag)`,
        ),
      });
    }
  });

  // ---------------------------------------------------------------------------------------------
  // Jobs

  it('stops a job: DELETE /jobs/{id} takes it off the dispatch queue with its credits back, once; a sent message is no job (404, kept)', async () => {
    const account = await createAccount(ctx.app, { owner, credits: 10, timezone: 'Europe/Paris' });
    await createSender(ctx.app, account, { sender: 'MyShop' });
    const sent = await call('POST', `/sms/${account.name}/jobs`, {
      body: { message: 'Later', receivers: ['+33612345601', '+33612345602'], sender: 'MyShop', noStopClause: true, differedPeriod: 90 },
    });
    expect(sent.statusCode, sent.body).toBe(200);
    const [first, second] = sent.json().ids as number[];
    const [done] = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: account.id, status: 'sent' })]);
    expect(ids(await call('GET', `/sms/${account.name}/jobs`)).sort((x, y) => x - y)).toEqual([first, second].sort((x, y) => x - y));
    expect(await queued(first)).toBe(1);
    expect(await credits(account)).toBe(8);

    const stop = await call('DELETE', `/sms/${account.name}/jobs/${first}`);
    expect([stop.statusCode, stop.body]).toEqual([200, 'null']);
    expect(await queued(first)).toBe(0);
    expect(await credits(account)).toBe(9);
    expect(ids(await call('GET', `/sms/${account.name}/jobs`))).toEqual([second]);
    const again = await call('DELETE', `/sms/${account.name}/jobs/${first}`);
    expect(shapeOf(again)).toEqual(ovhError(404, 'MESSAGE_NOT_FOUND', `The requested object (id = ${first}) does not exist`));
    expect(await credits(account)).toBe(9);

    const notAJob = await call('DELETE', `/sms/${account.name}/jobs/${done}`);
    expect(shapeOf(notAJob)).toEqual(ovhError(404, 'MESSAGE_NOT_FOUND', `The requested object (id = ${done}) does not exist`));
    expect(await outgoingRow(done)).toMatchObject({ status: 'sent' });
    expect(await queued(second)).toBe(1);
  });

  // ---------------------------------------------------------------------------------------------
  // SMS users

  it('keeps a user’s IP restrictions to OVH’s five: five are taken, a sixth is refused with OVH’s 400 and nothing changes', async () => {
    await createSmsUser(ctx.app, main, { login: 'iplimit' });
    const five = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '198.51.100.0/24'];
    const put = (ipRestrictions: string[]) => call('PUT', `/sms/${main.name}/users/iplimit`, { body: { ipRestrictions } });
    expect(shapeOf(await put(five))).toMatchObject({ status: 200, body: null });
    expect((await call('GET', `/sms/${main.name}/users/iplimit`)).json().ipRestrictions).toEqual(five);
    const six = await put([...five, '203.0.113.7']);
    expect(shapeOf(six)).toEqual(ovhError(400, /^(VALIDATION_FAILED|INVALID_PARAMETER)$/, /ipRestrictions/));
    expect((await call('GET', `/sms/${main.name}/users/iplimit`)).json().ipRestrictions).toEqual(five);
  });

  it('takes back a user configured elsewhere with more than five IP restrictions (GET then PUT), but no other list longer than five', async () => {
    const seven = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '192.0.2.6', '198.51.100.0/24'];
    await createSmsUser(ctx.app, main, { login: 'manyips', ipRestrictions: seven });
    const path = `/sms/${main.name}/users/manyips`;
    const read = (await call('GET', path)).json();
    expect(read.ipRestrictions).toEqual(seven);
    expect(shapeOf(await call('PUT', path, { body: { ...read, callBack: 'https://example.com/many' } }))).toMatchObject({
      status: 200,
      body: null,
    });
    for (const ipRestrictions of [seven.slice(1), [...seven].reverse(), [...seven, '203.0.113.7']]) {
      const res = await call('PUT', path, { body: { ipRestrictions } });
      expect({ ipRestrictions, ...shapeOf(res) }).toEqual({
        ipRestrictions,
        ...ovhError(400, 'VALIDATION_FAILED', /^Invalid parameter ipRestrictions: at most 5 IP restrictions/),
      });
    }
    expect((await call('GET', path)).json()).toEqual({ ...read, callBack: 'https://example.com/many' });
    // Down to five is taken.
    expect(shapeOf(await call('PUT', path, { body: { ipRestrictions: seven.slice(2) } }))).toMatchObject({ status: 200 });
    expect((await call('GET', path)).json().ipRestrictions).toEqual(seven.slice(2));
  });

  it('refuses quota alert settings (an alert email, number or medium) with OVH’s 400, as Relais sends no alerts, and takes back what GET shows', async () => {
    await createSmsUser(ctx.app, main, { login: 'alerts' });
    const path = `/sms/${main.name}/users/alerts`;
    const read = (await call('GET', path)).json();
    expect(read.alertThresholdInformations).toEqual({ alertEmail: '', alertNumber: '', alertThreshold: 0, support: 'mail' });
    const refused: [Record<string, unknown>, string][] = [
      [{ alertEmail: 'alerts@example.com' }, 'alertEmail'],
      [{ alertNumber: '+33612345678' }, 'alertNumber'],
      [{ support: 'sms' }, 'support'],
      [{ support: 'both', alertEmail: '', alertNumber: '', alertThreshold: 0 }, 'support'],
      [{ alertThreshold: 10 }, 'alertThreshold'],
    ];
    for (const [alertThresholdInformations, field] of refused) {
      const res = await call('PUT', path, { body: { alertThresholdInformations } });
      expect({ alertThresholdInformations, ...shapeOf(res) }).toEqual({
        alertThresholdInformations,
        ...ovhError(
          400,
          'VALIDATION_FAILED',
          new RegExp(`^Invalid parameter alertThresholdInformations\\.${field}: Relais sends no quota alerts`),
        ),
      });
    }
    expect((await call('GET', path)).json()).toEqual(read);
    // What GET shows, or nothing (null), is taken.
    for (const alertThresholdInformations of [
      read.alertThresholdInformations,
      { alertEmail: null, alertNumber: null, alertThreshold: null, support: null },
      { alertEmail: '', alertThreshold: 0 },
    ]) {
      const res = await call('PUT', path, { body: { alertThresholdInformations } });
      expect({ alertThresholdInformations, ...shapeOf(res) }).toMatchObject({ alertThresholdInformations, status: 200, body: null });
    }
    expect((await call('GET', path)).json()).toEqual(read);
  });

  // ---------------------------------------------------------------------------------------------
  // Senders

  it('types each sender from its value: alpha (≤ 11 characters), numeric (a phone number), shortcode (a short number)', async () => {
    const account = await createAccount(ctx.app, { owner });
    const base = `/sms/${account.name}/senders`;
    const cases: [string, string][] = [
      ['My Shop', 'alpha'],
      ['ABCDEFGHIJK', 'alpha'],
      ['+33612345678', 'numeric'],
      ['0033612345678', 'numeric'],
      ['36180', 'shortcode'],
    ];
    for (const [sender] of cases) expect((await call('POST', base, { body: { sender } })).statusCode).toBe(200);
    const types: [string, string][] = [];
    for (const [sender] of cases) types.push([sender, (await call('GET', `${base}/${encodeURIComponent(sender)}`)).json().type]);
    expect(types).toEqual(cases);
    const tooLong = await call('POST', base, { body: { sender: 'ABCDEFGHIJKL' } });
    expect(shapeOf(tooLong)).toEqual(ovhError(400, 'INVALID_SENDER', /up to 11/));
  });

  it('shows an operator’s sender status (refused, waitingValidation) and keeps it out of the key’s hands, in OVH’s shape', async () => {
    const account = await createAccount(ctx.app, { owner });
    await ctx.app.services.senders.create(SYSTEM_ACTOR, account.name, { sender: 'Refused', status: 'refused' });
    await ctx.app.services.senders.create(SYSTEM_ACTOR, account.name, { sender: 'Waiting', status: 'waitingValidation' });
    const base = `/sms/${account.name}/senders`;
    expect((await call('GET', `${base}/Refused`)).json()).toMatchObject({ sender: 'Refused', status: 'refused', type: 'alpha' });
    expect((await call('GET', `${base}/Waiting`)).json()).toMatchObject({ status: 'waitingValidation' });
    for (const [method, path, body] of [
      ['PUT', `${base}/Refused`, { status: 'enable' }],
      ['PUT', `${base}/Waiting`, { status: 'enable' }],
      ['DELETE', `${base}/Refused`, undefined],
    ] as [Method, string, unknown][]) {
      const res = await call(method, path, { body });
      expect({ method, path, ...shapeOf(res) }).toEqual({ method, path, ...ovhError(403) });
    }
    // Its description stays the customer's; the status it had is kept.
    expect(shapeOf(await call('PUT', `${base}/Refused`, { body: { description: 'asked again' } }))).toMatchObject({ status: 200 });
    expect((await call('GET', `${base}/Refused`)).json()).toMatchObject({ description: 'asked again', status: 'refused' });
    // Neither can send.
    const job = await call('POST', `/sms/${account.name}/jobs`, { body: { message: 'x', receivers: ['+33612345678'], sender: 'Waiting' } });
    expect(shapeOf(job)).toEqual(ovhError(400, 'INVALID_SENDER'));
  });

  // ---------------------------------------------------------------------------------------------
  // Bodies as the npm client writes them

  it('reads bodies whose every non-ASCII character is escaped as \\uXXXX (the npm client), and refuses a lone surrogate or a NUL with OVH’s 400', async () => {
    const account = await createAccount(ctx.app, { owner, credits: 100, timezone: 'Europe/Paris' });
    await createSender(ctx.app, account, { sender: 'MyShop' });
    const sn = account.name;
    // Every non-ASCII UTF-16 unit escaped (npm, python-ovh), and <, > and & too (go-ovh's encoding/json).
    const escaped = (value: unknown) =>
      JSON.stringify(value).replace(/[\u0080-\uffff<>&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const message = 'Été 2024 : -20 % 🎉 — à très vite <b> & co';
    const tag = 'été-🎉';
    const job = await callRaw(
      'POST',
      `/sms/${sn}/jobs`,
      escaped({ message, receivers: ['+33612345678'], sender: 'MyShop', noStopClause: true, tag }),
    );
    expect(job.statusCode, job.body).toBe(200);
    expect(job.json().tag).toBe(tag);
    const [id] = job.json().ids as number[];
    expect((await call('GET', `/sms/${sn}/outgoing/${id}`)).json()).toMatchObject({ message, messageLength: [...message].length, tag });

    expect((await callRaw('PUT', `/sms/${sn}`, escaped({ description: 'Boutique « Été »' }))).statusCode).toBe(200);
    expect((await call('GET', `/sms/${sn}`)).json().description).toBe('Boutique « Été »');
    expect((await callRaw('POST', `/sms/${sn}/senders`, escaped({ sender: 'Promo', description: 'Soldes 🎉' }))).statusCode).toBe(200);
    expect((await call('GET', `/sms/${sn}/senders/Promo`)).json().description).toBe('Soldes 🎉');
    expect((await callRaw('POST', `/sms/${sn}/users`, '{"login":"\\u0061lice","password":"p\\u00e4ssw\\u00f6rd-1"}')).statusCode).toBe(200);
    expect(await ctx.app.services.smsUsers.authenticate(sn, 'alice', 'pässwörd-1')).toBeTruthy();

    const before = { credits: await credits(account), ids: ids(await call('GET', `/sms/${sn}/outgoing`)) };
    const refused: [Method, string, string][] = [
      ['POST', `/sms/${sn}/jobs`, '{"message":"half \\ud83c","receivers":["+33612345678"],"sender":"MyShop"}'],
      ['POST', `/sms/${sn}/jobs`, '{"message":"nul \\u0000","receivers":["+33612345678"],"sender":"MyShop"}'],
      ['PUT', `/sms/${sn}`, '{"description":"nul \\u0000"}'],
      ['POST', `/sms/${sn}/senders`, '{"sender":"Nul","description":"\\udfff"}'],
      ['POST', `/sms/${sn}/users`, '{"login":"bob","password":"nul\\u0000-password"}'],
    ];
    for (const [method, path, sent] of refused) {
      const res = await callRaw(method, path, sent);
      expect({ sent, ...shapeOf(res) }).toEqual({ sent, ...ovhError(400, 'VALIDATION_FAILED') });
    }
    expect({ credits: await credits(account), ids: ids(await call('GET', `/sms/${sn}/outgoing`)) }).toEqual(before);
    expect((await call('GET', `/sms/${sn}/senders`)).json()).not.toContain('Nul');
    expect((await call('GET', `/sms/${sn}/users`)).json()).not.toContain('bob');
  });

  // ---------------------------------------------------------------------------------------------
  // The outgoing object

  it('answers every field of sms.Outgoing with OVH’s type, for a pending reply-capable job, a fractional delivered one and a failed one', async () => {
    const account = await createAccount(ctx.app, { owner, credits: 100, timezone: 'Europe/Paris' });
    const job = await call('POST', `/sms/${account.name}/jobs`, {
      body: { message: 'Répondez OUI', receivers: ['0033612345678'], senderForResponse: true, differedPeriod: 7 },
    });
    expect(job.statusCode, job.body).toBe(200);
    const [pending] = job.json().ids as number[];
    const [fractional, failed] = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: account.id, status: 'delivered', credits: 0.65, parts: 1, receiver: '+4915112345678', tag: 'de' }),
      buildOutgoing({ account_id: account.id, status: 'failed', credits: 2.5, parts: 2, error_code: '3', error_text: null }),
    ]);
    const long = expect.any(Number);
    const datetime = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
    const objects = await Promise.all(
      [pending, fractional, failed].map(async (id) => (await call('GET', `/sms/${account.name}/outgoing/${id}`)).json()),
    );
    for (const object of objects) {
      expect(Object.keys(object).sort()).toEqual(
        [
          'batchID',
          'creationDatetime',
          'credits',
          'deliveredAt',
          'deliveryReceipt',
          'differedDelivery',
          'id',
          'message',
          'messageID',
          'messageLength',
          'numberOfSms',
          'ptt',
          'receiver',
          'sender',
          'sentAt',
          'tag',
          'tariffCode',
        ].sort(),
      );
      expect(object).toMatchObject({
        id: long,
        creationDatetime: datetime,
        receiver: expect.stringMatching(/^\+\d+$/),
        batchID: null,
        messageID: null,
      });
      for (const field of ['id', 'messageLength', 'numberOfSms', 'deliveryReceipt', 'ptt', 'differedDelivery'])
        expect([field, Number.isInteger(object[field])]).toEqual([field, true]);
    }
    expect(objects[0]).toMatchObject({
      sender: '',
      receiver: '+33612345678',
      differedDelivery: 7,
      deliveryReceipt: 0,
      ptt: 254,
      sentAt: null,
      deliveredAt: null,
      tag: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
    });
    expect(objects[0].tag).toBe(job.json().tag);
    expect(objects[1]).toMatchObject({
      credits: 0.65,
      tariffCode: 'DE-0.65',
      deliveryReceipt: 1,
      ptt: 0,
      sentAt: datetime,
      deliveredAt: datetime,
    });
    expect(objects[2]).toMatchObject({
      credits: 2.5,
      numberOfSms: 2,
      tariffCode: 'FR-1.25',
      deliveryReceipt: 2,
      ptt: 3,
      deliveredAt: null,
    });
  });

  // ---------------------------------------------------------------------------------------------
  // Void answers

  it('answers HTTP 200 with null to every call that returns nothing (the older npm client refuses any other status)', async () => {
    const account = await createAccount(ctx.app, { owner, credits: 100 });
    await createSender(ctx.app, account, { sender: 'MyShop' });
    const sn = account.name;
    const post = async (path: string) =>
      (await call('POST', path, { body: { message: 'x', receivers: ['+33612345678'], sender: 'MyShop', differedPeriod: 60 } })).json()
        .ids[0] as number;
    const steps: [Method, string, unknown?][] = [
      ['POST', `/sms/${sn}/users`, { login: 'voiduser', password: 'void-password' }],
      ['PUT', `/sms/${sn}/users/voiduser`, { callBack: 'https://example.com/dlr' }],
      ['POST', `/sms/${sn}/senders`, { sender: 'Void' }],
      ['PUT', `/sms/${sn}/senders/Void`, { description: 'void' }],
      ['PUT', `/sms/${sn}`, { description: 'void' }],
    ];
    for (const [method, path, body] of steps) {
      const res = await call(method, path, { body });
      expect({ method, path, status: res.statusCode, body: res.body }).toEqual({ method, path, status: 200, body: 'null' });
    }
    const accountJob = await post(`/sms/${sn}/jobs`);
    const userJob = await post(`/sms/${sn}/users/voiduser/jobs`);
    const accountMessage = await post(`/sms/${sn}/jobs`);
    const userMessage = await post(`/sms/${sn}/users/voiduser/jobs`);
    const deletes = [
      `/sms/${sn}/jobs/${accountJob}`,
      `/sms/${sn}/users/voiduser/jobs/${userJob}`,
      `/sms/${sn}/outgoing/${accountMessage}`,
      `/sms/${sn}/users/voiduser/outgoing/${userMessage}`,
      `/sms/${sn}/senders/Void`,
      `/sms/${sn}/users/voiduser`,
    ];
    for (const path of deletes) {
      const res = await call('DELETE', path);
      expect({ path, status: res.statusCode, body: res.body, type: res.headers['content-type'] }).toEqual({
        path,
        status: 200,
        body: 'null',
        type: expect.stringMatching(/^application\/json/),
      });
    }
    expect(await credits(account)).toBe(100);
  });
});
