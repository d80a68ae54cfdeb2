import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import type { Account } from '../src/server/modules/accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import type { Customer } from '../src/server/modules/accounts/customers.repository.js';
import type { SmsUser } from '../src/server/modules/accounts/sms-users.repository.js';
import { describeEachDialectWithApp } from './app.js';
import { createAccount, createCustomer, createSender, createSmsUser } from './factories.js';
import { buildOutgoing, insertOutgoing } from './outgoing-factory.js';
import { createOvhKeys, type OvhKeys, ovhCall } from './ovh.js';

/**
 * An adversarial review of the OVH-compatible API (`/1.0`, OVH-COMPAT.md §1–2), beyond what the suites
 * of src/server/modules/ovh-api/ cover: documents whose id cannot be opened, a read-modify-write of the
 * account object, query strings written by hand, another account's messages reached through one's own
 * path, access rules with a star inside the path, the timestamp window, and lists longer than a batch.
 */

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** The header line of the detailed CSV a document downloads (README "History"). */
const DETAILED_HEADER = 'id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt;user;channel;status';

describeEachDialectWithApp('OVH API review (/1.0)', (ctx) => {
  let owner: Customer;
  /** The account most tests read and write. */
  let main: Account;
  /** Another account of the same customer. */
  let second: Account;
  let keys: OvhKeys;
  let shop: SmsUser;
  let other: SmsUser;
  let secondShop: SmsUser;

  const call = (method: Method, path: string, options: Parameters<typeof ovhCall>[4] = {}, as: OvhKeys = keys) =>
    ovhCall(ctx.app, as, method, path, options);
  const ids = (res: LightMyRequestResponse): number[] => {
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as number[];
  };
  const outgoingRow = (id: number) =>
    ctx.database.db.selectFrom('outgoing').select(['id', 'status', 'account_id']).where('id', '=', id).executeTakeFirst();
  const credits = async (account: Account) => (await ctx.app.services.accounts.get(SYSTEM_ACTOR, account.name)).credits;

  beforeAll(async () => {
    owner = await createCustomer(ctx.app);
    main = await createAccount(ctx.app, { owner, credits: 1000, timezone: 'Europe/Paris' });
    second = await createAccount(ctx.app, { owner, credits: 1000, timezone: 'Europe/Paris' });
    await createSender(ctx.app, main, { sender: 'MyShop' });
    await createSender(ctx.app, second, { sender: 'MyShop' });
    shop = await createSmsUser(ctx.app, main, { login: 'shop' });
    other = await createSmsUser(ctx.app, main, { login: 'other' });
    secondShop = await createSmsUser(ctx.app, second, { login: 'shop' });
    keys = await createOvhKeys(ctx.app, owner);
  });

  // ---------------------------------------------------------------------------------------------
  // Documents

  it('gives no document id that cannot be opened: a range starting after now, or a tag the history refuses, is refused at once or is an empty document', async () => {
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    const queries: Record<string, string>[] = [
      // A script whose clock is ahead, asking for "what was sent since now".
      { wayType: 'outgoing', 'creationDatetime.from': inAnHour },
      { wayType: 'outgoing', 'creationDatetime.from': tomorrow, 'creationDatetime.to': `${tomorrow}T23:00:00Z` },
      // The outgoing list refuses this tag at once ("tag is too long"): the document must not defer the refusal.
      { wayType: 'outgoing', tag: 't'.repeat(501) },
    ];
    const outcomes: string[] = [];
    for (const query of queries) {
      const asked = await call('GET', `/sms/${main.name}/document`, { query });
      if (asked.statusCode !== 200) {
        outcomes.push(`refused ${asked.statusCode}`);
        continue;
      }
      const described = await call('GET', `/me/document/${asked.json() as string}`);
      if (described.statusCode !== 200) {
        outcomes.push(`an id that cannot be opened: ${described.statusCode} ${described.json().message}`);
        continue;
      }
      const url = new URL((described.json() as { getUrl: string }).getUrl);
      const download = await ctx.app.inject({ method: 'GET', url: `${url.pathname}${url.search}` });
      outcomes.push(
        download.statusCode === 200 && download.body.trim() === DETAILED_HEADER ? 'empty document' : `download ${download.statusCode}`,
      );
    }
    const acceptable = expect.stringMatching(/^(refused 400|empty document)$/);
    expect(outcomes).toEqual(queries.map(() => acceptable));
  });

  // ---------------------------------------------------------------------------------------------
  // PUT of the account object

  it('takes back the account object it read (GET, change the description, PUT it all) although an SMS sent meanwhile changed creditsLeft', async () => {
    const account = await createAccount(ctx.app, { owner, credits: 10 });
    await createSender(ctx.app, account, { sender: 'MyShop' });
    const read = (await call('GET', `/sms/${account.name}`)).json() as Record<string, unknown>;
    expect(read.creditsLeft).toBe(10);
    // Another script of the customer sends an SMS between the read and the write.
    const sent = await call('POST', `/sms/${account.name}/jobs`, {
      body: { message: 'Hello', receivers: ['+33612345678'], sender: 'MyShop', differedPeriod: 60 },
    });
    expect(sent.statusCode, sent.body).toBe(200);

    const put = await call('PUT', `/sms/${account.name}`, { body: { ...read, description: 'Shop alerts' } });
    expect([put.statusCode, put.body]).toEqual([200, 'null']);
    expect((await call('GET', `/sms/${account.name}`)).json()).toMatchObject({ description: 'Shop alerts', creditsLeft: 9 });
  });

  // ---------------------------------------------------------------------------------------------
  // Query strings written by hand

  it('reads a + left unencoded in the sender and receiver filters as the + it was, as it does in the dates', async () => {
    const account = await createAccount(ctx.app, { owner, defaultCountry: 'FR' });
    const [numeric, german] = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: account.id, sender: '+33699999999', receiver: '+33611111111' }),
      buildOutgoing({ account_id: account.id, sender: 'MyShop', receiver: '+4915112345678' }),
    ]);
    const list = async (queryString: string) => ({
      queryString,
      ids: ids(await call('GET', `/sms/${account.name}/outgoing?${queryString}`)),
    });
    // Encoded, as the official clients send them: the control.
    expect(await list('sender=%2B33699999999')).toEqual({ queryString: 'sender=%2B33699999999', ids: [numeric] });
    expect(await list('receiver=%2B4915112345678')).toEqual({ queryString: 'receiver=%2B4915112345678', ids: [german] });
    // Typed by hand (curl, a browser): a sender or a number never starts with a space, so the space was a +.
    expect(await list('creationDatetime.from=2024-01-01T00:00:00+01:00&sender=+33699999999')).toEqual({
      queryString: 'creationDatetime.from=2024-01-01T00:00:00+01:00&sender=+33699999999',
      ids: [numeric],
    });
    expect(await list('receiver=+4915112345678')).toEqual({ queryString: 'receiver=+4915112345678', ids: [german] });
  });

  // ---------------------------------------------------------------------------------------------
  // Another account's messages through one's own path

  it('never reads, stops or deletes a message of another of the customer’s accounts through an account’s path', async () => {
    const [delivered, pending] = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: second.id, status: 'delivered', user_id: secondShop.id, user_login: 'shop' }),
      buildOutgoing({ account_id: second.id, status: 'pending', credits: 3, user_id: secondShop.id, user_login: 'shop' }),
    ]);
    const before = { main: await credits(main), second: await credits(second) };
    const attempts: [Method, string][] = [
      ['GET', `/sms/${main.name}/outgoing/${delivered}`],
      ['DELETE', `/sms/${main.name}/outgoing/${delivered}`],
      ['DELETE', `/sms/${main.name}/outgoing/${pending}`],
      ['GET', `/sms/${main.name}/jobs/${pending}`],
      ['DELETE', `/sms/${main.name}/jobs/${pending}`],
      // The same login in both accounts: the user's path of one account reaches only its own messages.
      ['GET', `/sms/${main.name}/users/shop/outgoing/${delivered}`],
      ['DELETE', `/sms/${main.name}/users/shop/outgoing/${delivered}`],
      ['DELETE', `/sms/${main.name}/users/shop/outgoing/${pending}`],
      ['GET', `/sms/${main.name}/users/shop/jobs/${pending}`],
      ['DELETE', `/sms/${main.name}/users/shop/jobs/${pending}`],
    ];
    for (const [method, path] of attempts) {
      const res = await call(method, path);
      expect([method, path, res.statusCode, res.json().errorCode]).toEqual([method, path, 404, 'MESSAGE_NOT_FOUND']);
    }
    expect(ids(await call('GET', `/sms/${main.name}/outgoing`))).not.toContain(delivered);
    expect(ids(await call('GET', `/sms/${main.name}/jobs`))).not.toContain(pending);
    expect(await outgoingRow(delivered)).toEqual({ id: delivered, status: 'delivered', account_id: second.id });
    expect(await outgoingRow(pending)).toEqual({ id: pending, status: 'pending', account_id: second.id });
    expect({ main: await credits(main), second: await credits(second) }).toEqual(before);
  });

  // ---------------------------------------------------------------------------------------------
  // Access rules with a star inside the path

  it('keeps a key allowed only GET and DELETE under /sms/*/users/shop/outgoing/* to that: no account path, no other user, no job, no other method', async () => {
    const narrow = await createOvhKeys(ctx.app, owner, {
      rules: [
        { method: 'GET', path: '/sms/*/users/shop/outgoing' },
        { method: 'GET', path: '/sms/*/users/shop/outgoing/*' },
        { method: 'DELETE', path: '/sms/*/users/shop/outgoing/*' },
      ],
    });
    const [mine, mine2, others, pendingMine] = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: main.id, user_id: shop.id, user_login: 'shop', message: 'shop text' }),
      buildOutgoing({ account_id: main.id, user_id: shop.id, user_login: 'shop', message: 'shop text 2' }),
      buildOutgoing({ account_id: main.id, user_id: other.id, user_login: 'other', message: 'other text' }),
      buildOutgoing({ account_id: main.id, user_id: shop.id, user_login: 'shop', status: 'pending' }),
    ]);
    const sn = main.name;
    const refused: [Method, string, unknown?][] = [
      ['GET', `/sms/${sn}/outgoing/${mine}`],
      ['DELETE', `/sms/${sn}/outgoing/${mine2}`],
      ['GET', `/sms/${sn}/users/other/outgoing`],
      ['GET', `/sms/${sn}/users/other/outgoing/${others}`],
      ['DELETE', `/sms/${sn}/users/other/outgoing/${others}`],
      ['GET', `/sms/${sn}/users/shop`],
      ['GET', `/sms/${sn}/users/shop/jobs`],
      ['DELETE', `/sms/${sn}/users/shop/jobs/${pendingMine}`],
      ['POST', `/sms/${sn}/users/shop/jobs`, { message: 'x', receivers: ['+33612345678'], sender: 'MyShop' }],
      ['PUT', `/sms/${sn}/users/shop`, { callBack: 'https://example.com/cb' }],
      ['DELETE', `/sms/${sn}/users/shop`],
      ['GET', `/sms/${sn}/document`],
      ['GET', '/sms'],
    ];
    for (const [method, path, body] of refused) {
      const res = await call(method, path, { body }, narrow);
      expect([method, path, res.statusCode, res.json().errorCode]).toEqual([method, path, 403, 'NOT_GRANTED_CALL']);
      expect(res.body).not.toMatch(/shop text|other text/);
    }
    expect(await outgoingRow(mine2)).toBeDefined();
    expect(await outgoingRow(others)).toBeDefined();
    expect(await outgoingRow(pendingMine)).toMatchObject({ status: 'pending' });

    // What the rules allow works, and only on the user's own messages.
    expect(ids(await call('GET', `/sms/${sn}/users/shop/outgoing`, {}, narrow))).toEqual(
      expect.arrayContaining([mine, mine2, pendingMine]),
    );
    expect(ids(await call('GET', `/sms/${sn}/users/shop/outgoing`, {}, narrow))).not.toContain(others);
    const read = await call('GET', `/sms/${sn}/users/shop/outgoing/${mine}`, {}, narrow);
    expect([read.statusCode, read.json().message]).toEqual([200, 'shop text']);
    const foreign = await call('DELETE', `/sms/${sn}/users/shop/outgoing/${others}`, {}, narrow);
    expect([foreign.statusCode, foreign.json().errorCode]).toEqual([404, 'MESSAGE_NOT_FOUND']);
    const deleted = await call('DELETE', `/sms/${sn}/users/shop/outgoing/${mine}`, {}, narrow);
    expect([deleted.statusCode, deleted.body]).toEqual([200, 'null']);
    expect(await outgoingRow(mine)).toBeUndefined();
    expect(await outgoingRow(others)).toBeDefined();
  });

  // ---------------------------------------------------------------------------------------------
  // The timestamp window

  it('accepts a timestamp a little less than five minutes off either way, and refuses one beyond with 400 QUERY_TIME_OUT_OF_BOUNDS', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const timestamp of [now - 298, now + 298]) {
      const res = await call('GET', `/sms/${main.name}`, { timestamp });
      expect([timestamp - now, res.statusCode]).toEqual([timestamp - now, 200]);
    }
    for (const timestamp of [now - 400, now + 400]) {
      const res = await call('GET', `/sms/${main.name}`, { timestamp });
      expect([timestamp - now, res.statusCode, res.json().errorCode]).toEqual([timestamp - now, 400, 'QUERY_TIME_OUT_OF_BOUNDS']);
    }
  });

  // ---------------------------------------------------------------------------------------------
  // Lists longer than a batch

  it('lists an SMS user’s pending jobs and filtered history completely past one batch, newest first, and only that user’s', async () => {
    const bulk = await createAccount(ctx.app, { owner, timezone: 'UTC' });
    const bulkShop = await createSmsUser(ctx.app, bulk, { login: 'shop' });
    const bulkOther = await createSmsUser(ctx.app, bulk, { login: 'other' });
    const start = Date.UTC(2024, 0, 1);
    const rows = Array.from({ length: 7_200 }, (_, i) => {
      const user = i % 12 === 0 ? bulkOther : bulkShop;
      // Several messages a second: the order falls back to the id.
      const created = start + Math.floor(i / 4) * 1000;
      return buildOutgoing({
        account_id: bulk.id,
        user_id: user.id,
        user_login: user.login,
        status: i % 5 === 0 ? 'delivered' : 'pending',
        created_at: created,
        deferred_until: i % 7 === 0 ? created + 30 * 60_000 : null,
      });
    });
    const inserted = await insertOutgoing(ctx.database, rows);
    const newestFirst = (keep: (row: (typeof rows)[number]) => boolean) =>
      inserted
        .map((id, i) => ({ id, row: rows[i] }))
        .filter(({ row }) => keep(row))
        .sort((a, b) => (b.row.created_at as number) - (a.row.created_at as number) || b.id - a.id)
        .map(({ id }) => id);

    const shopJobs = newestFirst((r) => r.user_login === 'shop' && r.status === 'pending');
    expect(shopJobs.length).toBeGreaterThan(5_000);
    const listedJobs = ids(await call('GET', `/sms/${bulk.name}/users/shop/jobs`));
    expect(listedJobs.length).toBe(shopJobs.length);
    expect(listedJobs).toEqual(shopJobs);
    expect(ids(await call('GET', `/sms/${bulk.name}/jobs`))).toEqual(newestFirst((r) => r.status === 'pending'));

    const deferred = ids(await call('GET', `/sms/${bulk.name}/users/shop/outgoing`, { query: { differedDelivery: 30 } }));
    expect(deferred).toEqual(newestFirst((r) => r.user_login === 'shop' && r.deferred_until !== null));
    const shopPending = ids(await call('GET', `/sms/${bulk.name}/users/shop/outgoing`, { query: { deliveryReceipt: 0 } }));
    expect(shopPending).toEqual(shopJobs);
  });
});
