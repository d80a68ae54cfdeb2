/**
 * Security review of tenant isolation on the interfaces added or changed recently (PRODUCT.md: "one
 * customer never sees or changes another's data, through any interface"; an SMS user's token sees only
 * that user's messages). Two customers, A and B, each with an SMS account, SMS users — `shop` in both
 * accounts (the same login), `bob` and `quiet` in A, `carol` in B —, tokens (account-wide and user-scoped),
 * OVH keys and a Manager session. Each test is an attack written as the safe outcome: the refusal, nothing
 * changed, nothing of the other tenant answered; and a foreign account answered exactly as a missing one.
 *
 * What test/api-security.test.ts, test/channels-security.test.ts and test/ovh-review.test.ts already cover
 * (every native route of a foreign account, query_sm/cancel_sm between distinct logins, http2sms/mail2sms
 * mixing distinct logins, another account of the same customer through the OVH API) is not repeated here.
 */
import type { LightMyRequestResponse } from 'fastify';
import smpp from 'smpp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { silentLog, startSimulatorDispatching, waitFor } from '../src/server/modules/dispatch/dispatch-testing.js';
import type { Dispatching } from '../src/server/modules/dispatch/dispatching.js';
import { type Mail2SmsServer, startMail2Sms } from '../src/server/modules/mail2sms/mail2sms.server.js';
import { type SmppServer, startSmppServer } from '../src/server/modules/smpp/smpp.server.js';
import { MESSAGE_STATE } from '../src/server/modules/smpp/smpp.service.js';
import { type AppTestContext, describeEachDialectWithApp } from './app.js';
import {
  bearer,
  createAccount,
  createSender,
  createSmsUser,
  createToken,
  type SeededAccount,
  seedCustomerWithAccount,
  signIn,
  type TestSession,
} from './factories.js';
import { ledger } from './ledger.js';
import { buildOutgoing, insertOutgoing } from './outgoing-factory.js';
import { createOvhKeys, type OvhKeys, ovhCall } from './ovh.js';
import { SmppClient as Esme } from './smpp-client.js';
import { mailVia } from './smtp-client.js';

const E = smpp.errors;
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Headers = Record<string, string>;
interface Req {
  method?: Method;
  url: string;
  payload?: unknown;
}

/** SMS users' passwords of A and of B (the same login `shop` in both accounts, each its own password). */
const PA = 'a-shop-password-2024';
const PB = 'b-shop-password-2024';
/** What only B's messages hold: no answer to A may carry it. */
const B_TEXT = 'B private: code 7319';
const B_RECEIVER = '+33799000777';
/** A well-formed account name nobody has (the factories never make a `-0` suffix). */
const MISSING = 'sms-zz00000-0';
const HTTP2SMS = '/cgi-bin/sms/http2sms.cgi';
const DAYS = 'from=2024-01-10&to=2024-01-11';
const STATUSES = ['pending', 'sent', 'delivered', 'failed', 'expired', 'canceled'] as const;

let lastIp = 0;
/** A client address of its own for each request: per-address limits never meet. */
const freshIp = () => {
  lastIp++;
  return `10.${200 + (lastIp >> 16)}.${(lastIp >> 8) & 255}.${lastIp & 255}`;
};

interface World {
  a: SeededAccount;
  b: SeededAccount;
  sa: TestSession;
  sb: TestSession;
  /** User-scoped tokens: A's shop, A's bob, A's quiet (no message), B's shop. */
  aShop: Headers;
  aBob: Headers;
  aQuiet: Headers;
  bShop: Headers;
  aKeys: OvhKeys;
  bKeys: OvhKeys;
  ids: { aShop: number; aShopPending: number; aBob: number; aManager: number; bShop: number; bShopPending: number; bCarol: number };
  /** Secrets of B that no answer to A may hold. */
  bSecrets: string[];
}

async function seedWorld(ctx: AppTestContext): Promise<World> {
  const a = await seedCustomerWithAccount(ctx.app, { account: { credits: 100, timezone: 'UTC' } });
  const b = await seedCustomerWithAccount(ctx.app, { account: { credits: 100, timezone: 'UTC' } });
  const aShopUser = await createSmsUser(ctx.app, a.account, { login: 'shop', password: PA, quota: 50 });
  const aBobUser = await createSmsUser(ctx.app, a.account, { login: 'bob', password: PA });
  await createSmsUser(ctx.app, a.account, { login: 'quiet', password: PA });
  const bShopUser = await createSmsUser(ctx.app, b.account, { login: 'shop', password: PB, quota: 50 });
  const bCarolUser = await createSmsUser(ctx.app, b.account, { login: 'carol', password: PB });
  await createSender(ctx.app, a.account, { sender: 'ShopA' });
  await createSender(ctx.app, b.account, { sender: 'ShopB' });
  const aShop = await createToken(ctx.app, a.account, { user: 'shop' });
  const aBob = await createToken(ctx.app, a.account, { user: 'bob' });
  const aQuiet = await createToken(ctx.app, a.account, { user: 'quiet' });
  const bShop = await createToken(ctx.app, b.account, { user: 'shop' });
  const A = a.account.id;
  const B = b.account.id;
  const at = (day: number, hour: number) => Date.UTC(2024, 0, day, hour);
  const [aShopId, aShopPending, aBobId, aManager, bShopId, bShopPending, bCarol] = await insertOutgoing(ctx.database, [
    buildOutgoing({ account_id: A, user_id: aShopUser.id, user_login: 'shop', message: 'A shop text', created_at: at(10, 10) }),
    buildOutgoing({ account_id: A, user_id: aShopUser.id, user_login: 'shop', status: 'pending', credits: 2, created_at: at(10, 11) }),
    buildOutgoing({ account_id: A, user_id: aBobUser.id, user_login: 'bob', message: 'A bob text', created_at: at(11, 9) }),
    buildOutgoing({ account_id: A, user_login: '', channel: 'manager', message: 'A manager text', created_at: at(11, 10) }),
    buildOutgoing({
      account_id: B,
      user_id: bShopUser.id,
      user_login: 'shop',
      sender: 'ShopB',
      receiver: B_RECEIVER,
      message: B_TEXT,
      created_at: at(10, 10) + 30 * 60_000,
    }),
    buildOutgoing({
      account_id: B,
      user_id: bShopUser.id,
      user_login: 'shop',
      receiver: B_RECEIVER,
      message: B_TEXT,
      status: 'pending',
      credits: 3,
      created_at: at(10, 11) + 30 * 60_000,
    }),
    buildOutgoing({ account_id: B, user_id: bCarolUser.id, user_login: 'carol', message: B_TEXT, created_at: at(11, 9) }),
  ]);
  const aKeys = await createOvhKeys(ctx.app, a.customer);
  const bKeys = await createOvhKeys(ctx.app, b.customer);
  const secretOf = (token: string) => token.split('_').slice(2).join('_');
  return {
    a,
    b,
    sa: await signIn(ctx.app, a.customer.email),
    sb: await signIn(ctx.app, b.customer.email),
    aShop: bearer(aShop),
    aBob: bearer(aBob),
    aQuiet: bearer(aQuiet),
    bShop: bearer(bShop),
    aKeys,
    bKeys,
    ids: { aShop: aShopId, aShopPending, aBob: aBobId, aManager, bShop: bShopId, bShopPending, bCarol },
    bSecrets: [B_TEXT, B_RECEIVER, b.customer.email, PB, secretOf(b.token), secretOf(bShop), bKeys.appSecret, bKeys.consumerKey],
  };
}

describeEachDialectWithApp(
  'tenant isolation review',
  (ctx) => {
    /** Every answer an attack of A got (checked at the end for B's data). */
    const answers: { what: string; text: string }[] = [];
    let w: World;

    /** A native API call; `record: false` for the other tenant's own (control) calls. */
    async function api(req: Req, headers: Headers, record = true): Promise<LightMyRequestResponse> {
      const res = await ctx.app.inject({
        method: req.method ?? 'GET',
        url: req.url,
        headers,
        remoteAddress: freshIp(),
        ...(req.payload === undefined ? {} : { payload: req.payload as Record<string, unknown> }),
      });
      if (record) answers.push({ what: `${req.method ?? 'GET'} ${req.url}`, text: `${JSON.stringify(res.headers)}\n${res.body}` });
      return res;
    }

    async function ovh(
      keys: OvhKeys,
      method: 'GET' | 'POST' | 'PUT' | 'DELETE',
      path: string,
      options: Parameters<typeof ovhCall>[4] = {},
      record = true,
    ): Promise<LightMyRequestResponse> {
      const res = await ovhCall(ctx.app, keys, method, path, options);
      if (record) answers.push({ what: `OVH ${method} ${path}`, text: `${JSON.stringify(res.headers)}\n${res.body}` });
      return res;
    }

    /** `{ error: { code } }` of a native API answer, with its status. */
    const outcome = (res: LightMyRequestResponse) => {
      const body = res.json() as { error?: { code: string } };
      return [res.statusCode, body.error?.code];
    };

    /** What an attack could change: every message, user, sender, token, account, OVH key, job and audit entry. */
    async function snapshot() {
      const { db } = ctx.database;
      return {
        outgoing: await db
          .selectFrom('outgoing')
          .select(['id', 'account_id', 'status', 'message', 'receiver', 'redacted_at', 'user_login'])
          .orderBy('id')
          .execute(),
        accounts: await db
          .selectFrom('accounts')
          .select(['id', 'owner_id', 'credits', 'description', 'status', 'callback_url'])
          .orderBy('id')
          .execute(),
        users: await db
          .selectFrom('sms_users')
          .select(['id', 'account_id', 'login', 'password_hash', 'quota', 'callback_url'])
          .orderBy('id')
          .execute(),
        senders: await db.selectFrom('senders').select(['id', 'account_id', 'sender', 'status', 'description']).orderBy('id').execute(),
        tokens: await db.selectFrom('api_tokens').select(['id', 'account_id', 'user_id', 'revoked_at']).orderBy('id').execute(),
        apps: await db.selectFrom('ovh_applications').select(['id', 'customer_id']).orderBy('id').execute(),
        credentials: await db.selectFrom('ovh_credentials').select(['id', 'customer_id', 'status']).orderBy('id').execute(),
        deleteJobs: await db.selectFrom('delete_jobs').select(['id', 'account_id', 'status']).orderBy('id').execute(),
        audit: await db.selectFrom('deletion_audit').select(['id', 'account_id', 'actor', 'ids']).orderBy('id').execute(),
        queued: await db.selectFrom('dispatch_queue').select(['outgoing_id']).orderBy('outgoing_id').execute(),
      };
    }

    /** Messages per status over the days of a /stats answer. */
    const statusTotals = (res: LightMyRequestResponse) => {
      expect(res.statusCode, res.body).toBe(200);
      const totals: Record<string, number> = {};
      for (const day of res.json().days as Record<string, number | string>[]) {
        for (const status of STATUSES) totals[status] = (totals[status] ?? 0) + Number(day[status]);
      }
      return Object.fromEntries(Object.entries(totals).filter(([, n]) => n > 0));
    };

    const idsOfJsonl = (res: LightMyRequestResponse) => {
      expect(res.statusCode, res.body).toBe(200);
      return res.body
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { id: number }).id)
        .sort((x, y) => x - y);
    };

    const base = (account: { account: { name: string } } | string) =>
      `/api/v1/accounts/${typeof account === 'string' ? account : account.account.name}`;

    beforeAll(async () => {
      w = await seedWorld(ctx);
    });

    // ---------------------------------------------------------------------------------------------
    describe('GET /outgoing/users (the logins of the history)', () => {
      it('lists only the logins of the caller’s account, and to a user-scoped token only its own', async () => {
        const list = async (headers: Headers, account = w.a) => {
          const res = await api({ url: `${base(account)}/outgoing/users` }, headers);
          expect(res.statusCode, res.body).toBe(200);
          return res.json().data as string[];
        };
        // `carol` is a login of B only; `shop` is a login of both accounts.
        expect(await list(w.a.auth)).toEqual(['bob', 'shop']);
        expect(await list(w.sa.headers)).toEqual(['bob', 'shop']);
        expect(await list(w.aShop)).toEqual(['shop']);
        expect(await list(w.aBob)).toEqual(['bob']);
        // A user without messages in A: none, though `shop` and `carol` have some in B.
        expect(await list(w.aQuiet)).toEqual([]);
        // The query string cannot widen it.
        for (const query of ['?user=bob', `?account=${w.b.account.name}`, '?user=carol']) {
          const res = await api({ url: `${base(w.a)}/outgoing/users${query}` }, w.aShop);
          if (res.statusCode === 200) expect(res.json().data).toEqual(['shop']);
          else expect(res.statusCode).toBe(400);
        }
        // B's own view, as a control: B's logins.
        expect(await list(w.b.auth, w.b)).toEqual(['carol', 'shop']);
      });

      it('is 404 ACCOUNT_NOT_FOUND on another customer’s account for every kind of principal', async () => {
        for (const headers of [w.a.auth, w.sa.headers, w.aShop, w.aQuiet]) {
          expect(outcome(await api({ url: `${base(w.b)}/outgoing/users` }, headers))).toEqual([404, 'ACCOUNT_NOT_FOUND']);
        }
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('ids of another account’s messages in counts, lists and exports', () => {
      const bIds = () => [w.ids.bShop, w.ids.bShopPending, w.ids.bCarol];

      it('counts, lists and exports none of them, mixed with the caller’s own or alone', async () => {
        const mixed = [...bIds(), w.ids.aBob].join(',');
        for (const headers of [w.a.auth, w.sa.headers]) {
          const a = base(w.a);
          expect((await api({ url: `${a}/outgoing/count?ids=${bIds().join(',')}` }, headers)).json()).toEqual({ total: 0 });
          expect((await api({ url: `${a}/outgoing/count?ids=${mixed}` }, headers)).json()).toEqual({ total: 1 });
          expect(idsOfJsonl(await api({ url: `${a}/outgoing.jsonl?ids=${mixed}` }, headers))).toEqual([w.ids.aBob]);
          const list = await api({ url: `${a}/outgoing?ids=${mixed}` }, headers);
          expect((list.json().data as { id: number }[]).map((r) => r.id)).toEqual([w.ids.aBob]);
          for (const query of [`ids=${mixed}`, `ids=${mixed}&all=true&format=detailed`, `ids=${mixed}&limit=5`]) {
            const csv = await api({ url: `${a}/outgoing.csv?${query}` }, headers);
            expect(csv.statusCode).toBe(200);
            expect(csv.body.trim().split('\n'), query).toHaveLength(2);
            expect(csv.body).toContain('A bob text');
          }
          const none = await api({ url: `${a}/outgoing.csv?all=true&ids=${bIds().join(',')}` }, headers);
          expect(none.body).toBe('date;sender;receiver;message;status\n');
          expect((await api({ url: `${a}/outgoing.jsonl?ids=${bIds().join(',')}` }, headers)).body).toBe('');
        }
      });

      it('gives a user-scoped token none of another user’s or another account’s same-login messages', async () => {
        const a = base(w.a);
        const others = [w.ids.aBob, w.ids.aManager, ...bIds()].join(',');
        expect((await api({ url: `${a}/outgoing/count?ids=${others}` }, w.aShop)).json()).toEqual({ total: 0 });
        expect((await api({ url: `${a}/outgoing.jsonl?ids=${others}` }, w.aShop)).body).toBe('');
        const own = `${others},${w.ids.aShop},${w.ids.aShopPending}`;
        expect(idsOfJsonl(await api({ url: `${a}/outgoing.jsonl?ids=${own}` }, w.aShop))).toEqual([w.ids.aShop, w.ids.aShopPending]);
        // B's `shop` has the same login: never in A's `shop` token's answers, whatever the export path.
        for (const url of [
          `${a}/outgoing.csv?all=true&${DAYS}`,
          `${a}/outgoing.csv?all=true`,
          `${a}/outgoing.csv?all=true&format=detailed&${DAYS}`,
          `${a}/outgoing.jsonl?${DAYS}`,
          `${a}/outgoing?${DAYS}&sort=receiver`,
        ]) {
          const res = await api({ url }, w.aShop);
          expect(res.statusCode, url).toBe(200);
          expect(res.body, url).not.toContain(B_RECEIVER);
          expect(res.body, url).not.toContain(B_TEXT);
          expect(res.body, url).not.toContain('A bob text');
        }
        expect((await api({ url: `${a}/outgoing/count?${DAYS}` }, w.aShop)).json()).toEqual({ total: 2 });
      });

      it('filters `user=shop` to the account’s own shop (the database-made CSV included), never the other account’s', async () => {
        const a = base(w.a);
        for (const headers of [w.a.auth, w.sa.headers, w.aShop]) {
          expect((await api({ url: `${a}/outgoing/count?user=shop&${DAYS}` }, headers)).json()).toEqual({ total: 2 });
          // Every match, sorted by date, filtered by dates and one user: the export whose lines the database makes.
          const csv = await api({ url: `${a}/outgoing.csv?all=true&user=shop&${DAYS}` }, headers);
          expect(csv.body.trim().split('\n')).toHaveLength(3);
          expect(csv.body).not.toContain(B_RECEIVER);
        }
        expect((await api({ url: `${a}/outgoing/count?user=carol` }, w.a.auth)).json()).toEqual({ total: 0 });
      });

      it('refuses the cursor of another account’s list, even for the same login, and says nothing of its rows', async () => {
        for (const [theirs, mine, account] of [
          [w.sb.headers, w.sa.headers, w.a],
          [w.bShop, w.aShop, w.a],
          [w.b.auth, w.a.auth, w.a],
        ] as const) {
          const page = await api({ url: `${base(w.b)}/outgoing?limit=1&sort=receiver` }, theirs, false);
          const cursor = page.json().nextCursor as string;
          expect(cursor).toEqual(expect.any(String));
          const res = await api({ url: `${base(account)}/outgoing?limit=1&sort=receiver&cursor=${cursor}` }, mine);
          expect(outcome(res)).toEqual([400, 'INVALID_CURSOR']);
        }
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('delete jobs reached by guessing their ids', () => {
      let jobs: { aOwner: number; aBob: number; aShop: number; bOwner: number; bShop: number };

      beforeAll(async () => {
        const now = Date.now();
        const row = (account: number, actor: string, filter: Record<string, unknown>) => ({
          account_id: account,
          actor,
          filter: JSON.stringify(filter),
          status: 'done',
          deleted: 2,
          total: 2,
          created_at: now,
          updated_at: now,
          finished_at: now,
          error: null,
          lease_owner: null,
        });
        const A = w.a.account.id;
        const B = w.b.account.id;
        const inserted = await ctx.database.db
          .insertInto('delete_jobs')
          .values([
            row(A, `customer:${w.a.customer.email}`, { status: 'delivered', __upTo: 1 }),
            row(A, 'token:1', { __scopeUser: 'bob', __upTo: 1 }),
            row(A, 'token:2', { __scopeUser: 'shop', __upTo: 1 }),
            row(B, `customer:${w.b.customer.email}`, { receiver: B_RECEIVER, __upTo: 1 }),
            row(B, 'token:3', { __scopeUser: 'shop', q: B_TEXT, __upTo: 1 }),
          ])
          .returning('id')
          .execute();
        const [aOwner, aBob, aShop, bOwner, bShop] = inserted.map((r) => Number(r.id));
        jobs = { aOwner, aBob, aShop, bOwner, bShop };
      });

      const job = (account: string, id: number | string, headers: Headers) =>
        api({ url: `${base(account)}/outgoing/delete-jobs/${id}` }, headers);

      it('shows the account’s jobs to its owner and account token, and none of the other account’s, whichever path', async () => {
        const [A, B] = [w.a.account.name, w.b.account.name];
        for (const headers of [w.a.auth, w.sa.headers]) {
          for (const id of [jobs.aOwner, jobs.aBob, jobs.aShop]) expect((await job(A, id, headers)).statusCode).toBe(200);
          for (const id of [jobs.bOwner, jobs.bShop]) {
            expect(outcome(await job(A, id, headers))).toEqual([404, 'DELETE_JOB_NOT_FOUND']);
            expect(outcome(await job(B, id, headers))).toEqual([404, 'ACCOUNT_NOT_FOUND']);
          }
        }
      });

      it('shows a user-scoped token only its own user’s jobs: not the owner’s, another user’s, nor the same login’s of another account', async () => {
        const A = w.a.account.name;
        expect((await job(A, jobs.aShop, w.aShop)).json()).toMatchObject({ id: jobs.aShop, status: 'done', deleted: 2 });
        for (const id of [jobs.aOwner, jobs.aBob, jobs.bOwner, jobs.bShop]) {
          expect(outcome(await job(A, id, w.aShop))).toEqual([404, 'DELETE_JOB_NOT_FOUND']);
        }
        expect((await job(w.b.account.name, jobs.bShop, w.bShop)).statusCode).toBe(200);
        expect(outcome(await job(w.b.account.name, jobs.aShop, w.bShop))).toEqual([404, 'DELETE_JOB_NOT_FOUND']);
      });

      it('answers a job of the other account exactly as an id that never existed, and a sweep of ids finds only the account’s', async () => {
        const A = w.a.account.name;
        const never = Math.max(...Object.values(jobs)) + 1000;
        const shape = (res: LightMyRequestResponse, id: number) => `${res.statusCode} ${res.body.replace(`job ${id} `, 'job ID ')}`;
        for (const headers of [w.a.auth, w.sa.headers, w.aShop]) {
          const missing = shape(await job(A, never, headers), never);
          for (const id of [jobs.bOwner, jobs.bShop]) expect(shape(await job(A, id, headers), id)).toBe(missing);
        }
        const found: number[] = [];
        for (let id = 1; id <= Math.max(...Object.values(jobs)) + 3; id++) {
          const res = await job(A, id, w.a.auth);
          if (res.statusCode === 200) found.push(id);
          else expect(outcome(res)).toEqual([404, 'DELETE_JOB_NOT_FOUND']);
        }
        expect(found).toEqual([jobs.aOwner, jobs.aBob, jobs.aShop]);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('redaction and deletion with foreign ids, and the deletion audit', () => {
      it('redacts and deletes only the caller’s own messages, lists none of another account’s as pending, audits only its own ids', async () => {
        const fresh = await seedWorld(ctx);
        const A = base(fresh.a);
        const bIds = [fresh.ids.bShop, fresh.ids.bShopPending, fresh.ids.bCarol];
        const bRowsBefore = (await snapshot()).outgoing.filter((o) => Number(o.account_id) === fresh.b.account.id);
        const bCredits = async () =>
          Number(
            (await ctx.database.db.selectFrom('accounts').select('credits').where('id', '=', fresh.b.account.id).executeTakeFirstOrThrow())
              .credits,
          );
        const creditsBefore = await bCredits();

        // B's pending message is not "pending" to A: listing it would tell A that the id is a pending message of someone.
        for (const headers of [fresh.a.auth, fresh.sa.writeHeaders, fresh.aShop]) {
          const res = await api({ method: 'POST', url: `${A}/outgoing/redact`, payload: { ids: bIds } }, headers);
          expect(res.json()).toEqual({ redacted: 0, pending: [] });
        }
        const mixed = await api(
          { method: 'POST', url: `${A}/outgoing/redact`, payload: { ids: [...bIds, fresh.ids.aBob, fresh.ids.aShopPending] } },
          fresh.a.auth,
        );
        expect(mixed.json()).toEqual({ redacted: 1, pending: [fresh.ids.aShopPending] });
        // A's shop token: bob's message and the Manager's are not its own.
        const byShop = await api(
          { method: 'POST', url: `${A}/outgoing/redact`, payload: { ids: [fresh.ids.aManager, fresh.ids.aBob, ...bIds] } },
          fresh.aShop,
        );
        expect(byShop.json()).toEqual({ redacted: 0, pending: [] });
        const deleted = await api(
          { method: 'POST', url: `${A}/outgoing/delete`, payload: { ids: [...bIds, fresh.ids.aManager] } },
          fresh.sa.writeHeaders,
        );
        expect(deleted.json()).toEqual({ deleted: 1, refundedCredits: 0 });
        for (const id of bIds) {
          expect(outcome(await api({ method: 'DELETE', url: `${A}/outgoing/${id}` }, fresh.a.auth))).toEqual([404, 'MESSAGE_NOT_FOUND']);
        }
        const bRowsAfter = (await snapshot()).outgoing.filter((o) => Number(o.account_id) === fresh.b.account.id);
        expect(bRowsAfter).toEqual(bRowsBefore);
        expect(await bCredits()).toBe(creditsBefore);

        // B deletes one of its own: A's audit never names it, nor B's customer.
        const own = await api(
          { method: 'POST', url: `${base(fresh.b)}/outgoing/delete`, payload: { ids: [fresh.ids.bCarol] } },
          fresh.sb.writeHeaders,
          false,
        );
        expect(own.json()).toMatchObject({ deleted: 1 });
        const aIds = new Set([fresh.ids.aShop, fresh.ids.aShopPending, fresh.ids.aBob, fresh.ids.aManager]);
        for (const headers of [fresh.a.auth, fresh.sa.headers]) {
          const audit = await api({ url: `${A}/deletions` }, headers);
          expect(audit.statusCode).toBe(200);
          const entries = audit.json().data as { actor: string; ids: number[] | null; kind: string }[];
          expect(entries.length).toBeGreaterThan(0);
          for (const entry of entries) {
            expect(entry.actor).not.toContain(fresh.b.customer.email);
            for (const id of entry.ids ?? []) expect(aIds.has(id), `audit of A names message ${id}`).toBe(true);
          }
          // Redactions that touched nothing (foreign ids only) leave no empty entry.
          const redactions = entries.filter((e) => e.kind === 'redact') as unknown as { count: number }[];
          for (const r of redactions) expect(r.count).toBeGreaterThan(0);
        }
        expect(outcome(await api({ url: `${A}/deletions` }, fresh.aShop))).toEqual([403, 'FORBIDDEN']);
        // B's audit names none of A's actors.
        const bAudit = (await api({ url: `${base(fresh.b)}/deletions` }, fresh.b.auth, false)).json().data as { actor: string }[];
        expect(bAudit.map((e) => e.actor)).toEqual([`customer:${fresh.b.customer.email}`]);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('statistics with user filters', () => {
      it('counts the account’s own `shop` only, nothing for another account’s login or ids, and a user token its own only', async () => {
        const stats = (query: string, headers: Headers, account = w.a) =>
          api({ url: `${base(account)}/stats?${DAYS}${query ? `&${query}` : ''}` }, headers).then(statusTotals);
        const shopOfA = { delivered: 1, pending: 1 };
        for (const headers of [w.a.auth, w.sa.headers]) {
          expect(await stats('', headers)).toEqual({ delivered: 3, pending: 1 });
          expect(await stats('user=shop', headers)).toEqual(shopOfA);
          expect(await stats('user=carol', headers)).toEqual({});
          expect(await stats(`ids=${w.ids.bShop},${w.ids.bShopPending},${w.ids.bCarol}`, headers)).toEqual({});
          expect(await stats(`receiver=${encodeURIComponent(B_RECEIVER)}`, headers)).toEqual({});
          expect(await stats(`q=${encodeURIComponent('code 7319')}`, headers)).toEqual({});
        }
        expect(await stats('', w.aShop)).toEqual(shopOfA);
        expect(await stats('user=shop', w.aShop)).toEqual(shopOfA);
        for (const query of ['user=bob', 'user=-', 'user=carol', `ids=${w.ids.aBob},${w.ids.bShop}`, 'status=delivered&user=bob']) {
          expect(await stats(query, w.aShop), query).toEqual({});
        }
        expect(await stats('', w.aQuiet)).toEqual({});
        for (const headers of [w.a.auth, w.sa.headers, w.aShop]) {
          expect(outcome(await api({ url: `${base(w.b)}/stats?user=shop` }, headers))).toEqual([404, 'ACCOUNT_NOT_FOUND']);
        }
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('the accounts a principal is told about', () => {
      it('/auth/me lists the customer’s own accounts with their status, never another customer’s', async () => {
        const fresh = await seedWorld(ctx);
        const second = await createAccount(ctx.app, { owner: fresh.a.customer, credits: 5 });
        await ctx.app.services.accounts.update(SYSTEM_ACTOR, second.name, { status: 'disable' });
        await ctx.app.services.accounts.update(SYSTEM_ACTOR, fresh.b.account.name, { status: 'disable' });
        const accountsOf = async (session: TestSession) => {
          const me = await api({ url: '/api/v1/auth/me' }, session.headers, session === fresh.sa);
          expect(me.statusCode).toBe(200);
          return (me.json().accounts as { name: string; status: string }[])
            .map((x) => ({ name: x.name, status: x.status }))
            .sort((x, y) => x.name.localeCompare(y.name));
        };
        expect(await accountsOf(fresh.sa)).toEqual(
          [
            { name: fresh.a.account.name, status: 'enable' },
            { name: second.name, status: 'disable' },
          ].sort((x, y) => x.name.localeCompare(y.name)),
        );
        expect(await accountsOf(fresh.sb)).toEqual([{ name: fresh.b.account.name, status: 'disable' }]);
        const listed = await api({ url: '/api/v1/accounts' }, fresh.a.auth);
        expect(listed.json().map((x: { name: string }) => x.name)).toEqual([fresh.a.account.name]);
        const mine = await api({ url: '/api/v1/accounts' }, fresh.aShop);
        expect(mine.json().map((x: { name: string }) => x.name)).toEqual([fresh.a.account.name]);
        const sms = await ovh(fresh.aKeys, 'GET', '/sms');
        expect((sms.json() as string[]).sort()).toEqual([fresh.a.account.name, second.name].sort());
        // Tokens and OVH keys have no profile.
        expect(outcome(await api({ url: '/api/v1/auth/me' }, fresh.a.auth))).toEqual([403, 'FORBIDDEN']);
        expect(outcome(await api({ url: '/api/v1/auth/me' }, fresh.aShop))).toEqual([403, 'FORBIDDEN']);
        await ctx.app.services.accounts.update(SYSTEM_ACTOR, fresh.b.account.name, { status: 'enable' });
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('the OVH API: A’s consumer key on B', () => {
      /** Every /1.0/sms call about one account, with existing names and ids of that account. */
      const ovhCalls = (name: string, ids: { message: number; pending: number; sender: string }) => {
        const job = { message: 'spam', receivers: ['+33612345678'], sender: ids.sender };
        return [
          ['GET', `/sms/${name}`],
          ['PUT', `/sms/${name}`, { description: 'pwned' }],
          ['GET', `/sms/${name}/outgoing`],
          ['GET', `/sms/${name}/outgoing/${ids.message}`],
          ['DELETE', `/sms/${name}/outgoing/${ids.message}`],
          ['GET', `/sms/${name}/jobs`],
          ['POST', `/sms/${name}/jobs`, job],
          ['GET', `/sms/${name}/jobs/${ids.pending}`],
          ['DELETE', `/sms/${name}/jobs/${ids.pending}`],
          ['GET', `/sms/${name}/users`],
          ['POST', `/sms/${name}/users`, { login: 'mallory', password: 'mallory-pass-2024' }],
          ['GET', `/sms/${name}/users/shop`],
          ['PUT', `/sms/${name}/users/shop`, { password: 'hijacked-pass-2024' }],
          ['DELETE', `/sms/${name}/users/shop`],
          ['GET', `/sms/${name}/users/shop/outgoing`],
          ['GET', `/sms/${name}/users/shop/outgoing/${ids.message}`],
          ['DELETE', `/sms/${name}/users/shop/outgoing/${ids.message}`],
          ['GET', `/sms/${name}/users/shop/jobs`],
          ['POST', `/sms/${name}/users/shop/jobs`, job],
          ['GET', `/sms/${name}/users/shop/jobs/${ids.pending}`],
          ['DELETE', `/sms/${name}/users/shop/jobs/${ids.pending}`],
          ['GET', `/sms/${name}/senders`],
          ['POST', `/sms/${name}/senders`, { sender: 'EvilCo' }],
          ['GET', `/sms/${name}/senders/${ids.sender}`],
          ['PUT', `/sms/${name}/senders/${ids.sender}`, { description: 'pwned' }],
          ['DELETE', `/sms/${name}/senders/${ids.sender}`],
          ['GET', `/sms/${name}/document`, undefined, { wayType: 'outgoing' }],
        ] as ['GET' | 'POST' | 'PUT' | 'DELETE', string, unknown?, Record<string, string>?][];
      };

      it('answers every call about B “This service does not exist”, exactly as for an account that never existed, and changes nothing', async () => {
        const before = await snapshot();
        const bCalls = ovhCalls(w.b.account.name, { message: w.ids.bShop, pending: w.ids.bShopPending, sender: 'ShopB' });
        const missingCalls = ovhCalls(MISSING, { message: w.ids.bShop, pending: w.ids.bShopPending, sender: 'ShopB' });
        for (const [i, [method, path, body, query]] of bCalls.entries()) {
          const res = await ovh(w.aKeys, method, path, { body, query });
          expect([method, path, res.statusCode, res.json().errorCode]).toEqual([method, path, 404, 'ACCOUNT_NOT_FOUND']);
          expect(res.json().message).toBe('This service does not exist');
          const [, missingPath] = missingCalls[i];
          const missing = await ovh(w.aKeys, method, missingPath, { body, query });
          expect([method, path, missing.statusCode, missing.body]).toEqual([method, path, res.statusCode, res.body]);
        }
        expect(await snapshot()).toEqual(before);
        // A control: B's own keys reach the same paths.
        expect((await ovh(w.bKeys, 'GET', `/sms/${w.b.account.name}/users/shop/outgoing`, {}, false)).json()).toEqual(
          expect.arrayContaining([w.ids.bShop, w.ids.bShopPending]),
        );
      });

      it('lists and reads through A’s own `shop` only A’s shop messages, never those of B’s `shop`', async () => {
        const A = w.a.account.name;
        const listed = (await ovh(w.aKeys, 'GET', `/sms/${A}/users/shop/outgoing`)).json() as number[];
        expect(listed).toEqual(expect.arrayContaining([w.ids.aShop, w.ids.aShopPending]));
        for (const id of [w.ids.bShop, w.ids.bShopPending, w.ids.aBob, w.ids.aManager]) expect(listed).not.toContain(id);
        const jobs = (await ovh(w.aKeys, 'GET', `/sms/${A}/users/shop/jobs`)).json() as number[];
        expect(jobs).toContain(w.ids.aShopPending);
        expect(jobs).not.toContain(w.ids.bShopPending);
        const before = await snapshot();
        for (const [method, path] of [
          ['GET', `/sms/${A}/users/shop/outgoing/${w.ids.bShop}`],
          ['DELETE', `/sms/${A}/users/shop/outgoing/${w.ids.bShop}`],
          ['GET', `/sms/${A}/users/shop/jobs/${w.ids.bShopPending}`],
          ['DELETE', `/sms/${A}/users/shop/jobs/${w.ids.bShopPending}`],
          // Another user of the same account.
          ['GET', `/sms/${A}/users/shop/outgoing/${w.ids.aBob}`],
          ['DELETE', `/sms/${A}/users/bob/jobs/${w.ids.aShopPending}`],
          ['GET', `/sms/${A}/users/bob/jobs/${w.ids.aShopPending}`],
          ['GET', `/sms/${A}/users/carol/outgoing`],
        ] as const) {
          const res = await ovh(w.aKeys, method, path);
          expect([method, path, res.statusCode]).toEqual([method, path, 404]);
          expect(['MESSAGE_NOT_FOUND', 'USER_NOT_FOUND']).toContain(res.json().errorCode);
        }
        expect(await snapshot()).toEqual(before);
      });

      it('keeps B’s history documents B’s: A’s key cannot describe them, nor open them with another key', async () => {
        const made = await ovh(w.bKeys, 'GET', `/sms/${w.b.account.name}/document`, { query: { wayType: 'outgoing' } }, false);
        expect(made.statusCode, made.body).toBe(200);
        const bDocument = made.json() as string;
        const described = await ovh(w.bKeys, 'GET', `/me/document/${bDocument}`, {}, false);
        expect(described.statusCode).toBe(200);
        const bUrl = new URL((described.json() as { getUrl: string }).getUrl);
        const download = await ctx.app.inject({ method: 'GET', url: `${bUrl.pathname}${bUrl.search}` });
        expect(download.body).toContain(B_TEXT); // the control: the document holds B's history

        const foreign = await ovh(w.aKeys, 'GET', `/me/document/${bDocument}`);
        const nonsense = await ovh(w.aKeys, 'GET', `/me/document/${bDocument.slice(0, -4)}AAAA`);
        expect([foreign.statusCode, foreign.json().errorCode]).toEqual([404, 'NOT_FOUND']);
        expect(foreign.body).toBe(nonsense.body);

        // A's own document of A, and its download key used with B's id.
        const mine = (await ovh(w.aKeys, 'GET', `/sms/${w.a.account.name}/document`, { query: { wayType: 'outgoing' } })).json() as string;
        const mineUrl = new URL(((await ovh(w.aKeys, 'GET', `/me/document/${mine}`)).json() as { getUrl: string }).getUrl);
        const own = await ctx.app.inject({ method: 'GET', url: `${mineUrl.pathname}${mineUrl.search}` });
        answers.push({ what: 'A document download', text: own.body });
        expect(own.statusCode).toBe(200);
        expect(own.body).toContain('A shop text');
        const key = mineUrl.searchParams.get('key')!;
        const swapped = await ctx.app.inject({
          method: 'GET',
          url: `${mineUrl.pathname}?${new URLSearchParams({ id: bDocument, key }).toString()}`,
        });
        answers.push({ what: 'B document with A key', text: swapped.body });
        expect(swapped.statusCode).toBe(404);
      });

      it('refuses A’s application key with B’s consumer key, and B’s with A’s', async () => {
        for (const keys of [
          { ...w.aKeys, consumerKey: w.bKeys.consumerKey },
          { ...w.bKeys, consumerKey: w.aKeys.consumerKey },
        ]) {
          for (const path of ['/sms', `/sms/${w.a.account.name}`, `/sms/${w.b.account.name}/outgoing`, '/me']) {
            const res = await ovhCall(ctx.app, keys, 'GET', path);
            answers.push({ what: `mixed keys ${path}`, text: res.body });
            expect([path, res.statusCode, res.json().errorCode]).toEqual([path, 403, 'INVALID_CREDENTIAL']);
          }
        }
      });

      it('lets A’s Manager session neither delete, use nor revoke B’s OVH application or consumer key (answered as missing ones)', async () => {
        const before = await snapshot();
        const never = 99_999_999;
        const same = async (req: (id: number) => Req, id: number) => {
          const res = await api(req(id), w.sa.writeHeaders);
          const missing = await api(req(never), w.sa.writeHeaders);
          expect(res.statusCode).toBe(404);
          expect(res.body.replaceAll(String(id), 'ID')).toBe(missing.body.replaceAll(String(never), 'ID'));
        };
        await same((id) => ({ method: 'DELETE', url: `/api/v1/ovh/applications/${id}` }), w.bKeys.applicationId);
        await same(
          (id) => ({
            method: 'POST',
            url: `/api/v1/ovh/applications/${id}/credentials`,
            payload: { rules: [{ method: 'GET', path: '/*' }], validity: null },
          }),
          w.bKeys.applicationId,
        );
        await same((id) => ({ method: 'DELETE', url: `/api/v1/ovh/credentials/${id}` }), w.bKeys.credentialId);
        const apps = (await api({ url: '/api/v1/ovh/applications' }, w.sa.headers)).json() as { id: number }[];
        expect(apps.map((x) => x.id)).toEqual([w.aKeys.applicationId]);
        const credentials = (await api({ url: '/api/v1/ovh/credentials' }, w.sa.headers)).json() as { id: number }[];
        expect(credentials.map((x) => x.id)).toEqual([w.aKeys.credentialId]);
        expect(await snapshot()).toEqual(before);
        expect((await ovh(w.bKeys, 'GET', '/sms', {}, false)).json()).toEqual([w.b.account.name]);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('SMPP: the same login in two accounts', () => {
      let server: SmppServer;
      const esmes: Esme[] = [];
      const bind = async (systemId: string, password: string) => {
        const e = await Esme.open(server.port);
        esmes.push(e);
        const resp = await e.request('bind_transceiver', { system_id: systemId, password });
        return { e, status: resp.command_status as number };
      };
      const bound = async (systemId: string, password: string) => {
        const { e, status } = await bind(systemId, password);
        expect(status, `bind ${systemId}`).toBe(E.ESME_ROK);
        return e;
      };

      beforeAll(async () => {
        server = await startSmppServer({
          services: ctx.app.services,
          log: silentLog,
          port: 0,
          host: '127.0.0.1',
          receiptPollMs: 50,
          bindFailuresPerMinute: 1_000_000,
        });
      });
      afterEach(async () => {
        for (const e of esmes.splice(0)) {
          e.close();
          await e.closed();
        }
      });
      afterAll(async () => {
        await server?.close();
      });

      it('never binds one account’s `shop` with the other’s password, and answers a foreign account as a missing one', async () => {
        expect((await bind(`${w.a.account.name}:shop`, PB)).status).toBe(E.ESME_RINVPASWD);
        expect((await bind(`${w.b.account.name}:shop`, PA)).status).toBe(E.ESME_RINVPASWD);
        expect((await bind(`${w.b.account.name}:shop`, 'wrong-password')).status).toBe(
          (await bind(`${MISSING}:shop`, 'wrong-password')).status,
        );
      });

      it('query_sm and cancel_sm of A’s `shop` messages from B’s `shop` fail, the canceled one included (its audit is A’s)', async () => {
        const aShop = await bound(`${w.a.account.name}:shop`, PA);
        const bShop = await bound(`${w.b.account.name}:shop`, PB);
        const aBob = await bound(`${w.a.account.name}:bob`, PA);
        const sent = await aShop.request('submit_sm', { source_addr: 'ShopA', destination_addr: '+33612349001', short_message: 'hi' });
        const later = await aShop.request('submit_sm', {
          source_addr: 'ShopA',
          destination_addr: '+33612349002',
          short_message: 'later',
          schedule_delivery_time: new Date(Date.now() + 3_600_000),
        });
        const toCancel = await aShop.request('submit_sm', {
          source_addr: 'ShopA',
          destination_addr: '+33612349003',
          short_message: 'cancel me',
          schedule_delivery_time: new Date(Date.now() + 3_600_000),
        });
        for (const pdu of [sent, later, toCancel]) expect(pdu.command_status).toBe(E.ESME_ROK);
        const before = await ledger(ctx.database);
        for (const intruder of [bShop, aBob]) {
          for (const id of [sent.message_id, later.message_id, String(w.ids.aShop), String(w.ids.aShopPending)]) {
            const q = await intruder.request('query_sm', { message_id: String(id), source_addr: 'ShopA' });
            expect([id, q.command_status]).toEqual([id, E.ESME_RQUERYFAIL]);
          }
          const c = await intruder.request('cancel_sm', { message_id: String(later.message_id) });
          expect(c.command_status).toBe(E.ESME_RCANCELFAIL);
        }
        expect(await ledger(ctx.database)).toEqual(before);

        // A's shop cancels its own: it then reads DELETED (the deletion audit of A, actor "user:shop")…
        expect((await aShop.request('cancel_sm', { message_id: String(toCancel.message_id) })).command_status).toBe(E.ESME_ROK);
        const own = await aShop.request('query_sm', { message_id: String(toCancel.message_id), source_addr: 'ShopA' });
        expect([own.command_status, own.message_state]).toEqual([E.ESME_ROK, MESSAGE_STATE.DELETED]);
        // …but B's shop, whose audit actor has the same name, and A's bob do not.
        for (const intruder of [bShop, aBob]) {
          const q = await intruder.request('query_sm', { message_id: String(toCancel.message_id), source_addr: 'ShopA' });
          expect(q.command_status).toBe(E.ESME_RQUERYFAIL);
        }
        // B's shop queries its own (the control).
        const bSent = await bShop.request('submit_sm', { source_addr: 'ShopB', destination_addr: '+33612349004', short_message: 'b' });
        expect((await bShop.request('query_sm', { message_id: String(bSent.message_id), source_addr: 'ShopB' })).command_status).toBe(
          E.ESME_ROK,
        );
        expect((await aShop.request('query_sm', { message_id: String(bSent.message_id), source_addr: 'ShopB' })).command_status).toBe(
          E.ESME_RQUERYFAIL,
        );
      });

      it('refuses B’s sender to A’s `shop`, and books each submit on its own account and user', async () => {
        const aShop = await bound(`${w.a.account.name}:shop`, PA);
        const before = await ledger(ctx.database);
        const refused = await aShop.request('submit_sm', { source_addr: 'ShopB', destination_addr: '+33612349005', short_message: 'x' });
        expect(refused.command_status).toBe(E.ESME_RINVSRCADR);
        expect(await ledger(ctx.database)).toEqual(before);
        const ok = await aShop.request('submit_sm', { source_addr: 'ShopA', destination_addr: '+33612349006', short_message: 'x' });
        const row = await ctx.database.db
          .selectFrom('outgoing')
          .select(['account_id', 'user_login'])
          .where('id', '=', Number(ok.message_id))
          .executeTakeFirstOrThrow();
        expect([Number(row.account_id), row.user_login]).toEqual([w.a.account.id, 'shop']);
      });

      describe('receipts', () => {
        let dispatching: Dispatching;
        beforeAll(async () => {
          dispatching = await startSimulatorDispatching(ctx.app.services);
        });
        afterAll(async () => {
          await dispatching?.stop();
        });

        it('sends the receipt of A’s `shop` to A’s `shop` receiver binds only, never to B’s `shop`', async () => {
          const bReceiver = await bound(`${w.b.account.name}:shop`, PB);
          const aReceiver = await bound(`${w.a.account.name}:shop`, PA);
          const aShop = await bound(`${w.a.account.name}:shop`, PA);
          const sent = await aShop.request('submit_sm', {
            source_addr: 'ShopA',
            destination_addr: '+33612349007',
            short_message: 'A private receipt',
            registered_delivery: 1,
          });
          expect(sent.command_status).toBe(E.ESME_ROK);
          await waitFor(() => aReceiver.delivered.find((p) => p.receipted_message_id === sent.message_id), 'A’s receipt');
          // A later receipt of B's own on B's bind: what came before it there was all there was.
          const bShop = await bound(`${w.b.account.name}:shop`, PB);
          const own = await bShop.request('submit_sm', {
            source_addr: 'ShopB',
            destination_addr: '+33612349008',
            short_message: 'B own',
            registered_delivery: 1,
          });
          await waitFor(() => bReceiver.delivered.find((p) => p.receipted_message_id === own.message_id), 'B’s own receipt');
          expect(bReceiver.delivered.map((p) => p.receipted_message_id)).toEqual([own.message_id]);
          expect(aReceiver.delivered.map((p) => p.receipted_message_id)).not.toContain(own.message_id);
        });
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('http2sms and mail2sms mixing the two accounts', () => {
      let smtp: Mail2SmsServer;
      beforeAll(async () => {
        smtp = await startMail2Sms({
          services: ctx.app.services,
          config: { smtpMaxSize: 1024 * 1024, tlsCertFile: null, tlsKeyFile: null },
          log: silentLog,
          port: 0,
          host: '127.0.0.1',
        });
      });
      afterAll(async () => {
        await smtp?.close();
      });

      const http2sms = async (params: Record<string, string>) => {
        const res = await ctx.app.inject({
          method: 'GET',
          url: `${HTTP2SMS}?${new URLSearchParams({ to: '+33612348001', message: 'Hello', noStop: '1', ...params }).toString()}`,
          remoteAddress: freshIp(),
        });
        answers.push({ what: `http2sms ${JSON.stringify(params)}`, text: res.body });
        return res;
      };

      it('http2sms: A’s account with B’s `shop` password (and the reverse) is a wrong password, nothing sent', async () => {
        const before = await ledger(ctx.database);
        for (const params of [
          { account: w.a.account.name, login: 'shop', password: PB, from: 'ShopA' },
          { account: w.a.account.name, login: 'shop', password: PB, from: 'ShopB' },
          { account: w.b.account.name, login: 'shop', password: PA, from: 'ShopB' },
          { account: w.a.account.name, login: 'carol', password: PB, from: 'ShopA' },
          { account: w.b.account.name, login: 'bob', password: PA, from: 'ShopA' },
        ]) {
          expect((await http2sms(params)).body, JSON.stringify(params)).toBe('KO\nWrong account, login or password');
        }
        // A's shop with B's sender: "sender not found", in A.
        expect((await http2sms({ account: w.a.account.name, login: 'shop', password: PA, from: 'ShopB' })).body).toMatch(
          /^KO\nSender not found/,
        );
        expect(await ledger(ctx.database)).toEqual(before);
        // The same login's right password sends in its own account, as its own user.
        const ok = await http2sms({ account: w.b.account.name, login: 'shop', password: PB, from: 'ShopB' });
        expect(ok.body).toMatch(/^OK\n/);
        const id = Number(ok.body.trim().split('\n')[2]);
        const row = await ctx.database.db
          .selectFrom('outgoing')
          .select(['account_id', 'user_id'])
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        const bShopId = (await ctx.app.services.smsUsers.get(SYSTEM_ACTOR, w.b.account.name, 'shop')).id;
        expect([Number(row.account_id), Number(row.user_id)]).toEqual([w.b.account.id, bShopId]);
      });

      it('mail2sms: a subject mixing the accounts is refused (5.7.x), positional or named, nothing sent', async () => {
        const before = await ledger(ctx.database);
        const A = w.a.account.name;
        const B = w.b.account.name;
        for (const subject of [
          `${A}:shop:${PB}:ShopA:+33612348002`,
          `${B}:shop:${PA}:ShopB:+33612348002`,
          `${A}:carol:${PB}:ShopA:+33612348002`,
          `Account=${B};Login=shop;Password=${PA};From=ShopB;To=+33612348002`,
          `Login=shop;Password=${PA};From=ShopA;To=+33612348002;Account=${B}`,
          `Account=${A};Login=shop;Password=${PA};From=ShopA;To=+33612348002;Account=${B}`,
          `Account=${A};Login=shop;Password=${PA};From=ShopB;To=+33612348002`,
        ]) {
          const sent = await mailVia(smtp.port, { subject, text: 'hello' }, { localAddress: '127.0.0.1' });
          answers.push({ what: `mail2sms ${subject}`, text: sent.response });
          expect(sent.ok, subject).toBe(false);
          expect(sent.ok ? 0 : sent.code, subject).toBeGreaterThanOrEqual(500);
        }
        expect(await ledger(ctx.database)).toEqual(before);
        // A foreign account and a missing one are answered alike.
        const foreign = await mailVia(smtp.port, { subject: `${B}:shop:wrong-password:ShopB:+33612348002`, text: 'x' });
        const missing = await mailVia(smtp.port, { subject: `${MISSING}:shop:wrong-password:ShopB:+33612348002`, text: 'x' });
        expect(foreign.response.replace(/\s*-\s*\S+$/, '')).toBe(missing.response.replace(/\s*-\s*\S+$/, ''));
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('the same login in two accounts: restrictions and quotas', () => {
      it('applies B’s `shop` IP restrictions and quota to B’s `shop` only, on tokens and http2sms', async () => {
        const fresh = await seedWorld(ctx);
        await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, fresh.b.account.name, 'shop', { ipRestrictions: ['192.0.2.0/24'] });
        const ids = {
          a: (await ctx.app.services.smsUsers.get(SYSTEM_ACTOR, fresh.a.account.name, 'shop')).id,
          b: (await ctx.app.services.smsUsers.get(SYSTEM_ACTOR, fresh.b.account.name, 'shop')).id,
        };
        expect(outcome(await api({ url: `${base(fresh.b)}/outgoing/count` }, fresh.bShop, false))).toEqual([403, 'IP_NOT_ALLOWED']);
        expect((await api({ url: `${base(fresh.a)}/outgoing/count` }, fresh.aShop)).json()).toEqual({ total: 2 });
        const before = await ledger(ctx.database);
        const sent = await ctx.app.inject({
          method: 'GET',
          url: `${HTTP2SMS}?${new URLSearchParams({ account: fresh.a.account.name, login: 'shop', password: PA, from: 'ShopA', to: '+33612348010', message: 'x', noStop: '1' }).toString()}`,
          remoteAddress: freshIp(),
        });
        expect(sent.body).toMatch(/^OK\n/);
        const after = await ledger(ctx.database);
        expect([after.quotas[ids.a], after.quotas[ids.b]]).toEqual([Number(before.quotas[ids.a]) - 1, before.quotas[ids.b]]);
        expect(after.credits[fresh.b.account.id]).toBe(before.credits[fresh.b.account.id]);
        const fenced = await ctx.app.inject({
          method: 'GET',
          url: `${HTTP2SMS}?${new URLSearchParams({ account: fresh.b.account.name, login: 'shop', password: PB, from: 'ShopB', to: '+33612348011', message: 'x' }).toString()}`,
          remoteAddress: freshIp(),
        });
        expect(fenced.body).toMatch(/^KO\nIP not allowed/);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('Manager sessions and CSRF tokens of two customers', () => {
      it('never writes with one customer’s cookie and the other’s CSRF token, on either account', async () => {
        const before = await snapshot();
        const crossed = [
          { cookie: w.sa.cookie, 'x-csrf-token': w.sb.csrfToken },
          { cookie: w.sb.cookie, 'x-csrf-token': w.sa.csrfToken },
        ];
        for (const headers of crossed) {
          for (const account of [w.a, w.b]) {
            for (const req of [
              { method: 'POST' as const, url: `${base(account)}/outgoing/delete`, payload: { filter: {} } },
              { method: 'POST' as const, url: `${base(account)}/outgoing/redact`, payload: { ids: [w.ids.bShop, w.ids.aShop] } },
              { method: 'POST' as const, url: `${base(account)}/tokens`, payload: { name: 'stolen' } },
              { method: 'DELETE' as const, url: `${base(account)}/users/shop` },
              { method: 'DELETE' as const, url: `/api/v1/ovh/credentials/${w.bKeys.credentialId}` },
            ]) {
              expect(outcome(await api(req, headers))).toEqual([403, 'CSRF_FAILED']);
            }
          }
        }
        expect(await snapshot()).toEqual(before);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('a login deleted and created again', () => {
      it('ends the deleted user’s token at once (deleted through the OVH API); the new user of the login sees the old history of its own account only', async () => {
        const fresh = await seedWorld(ctx);
        const A = base(fresh.a);
        expect((await api({ url: `${A}/outgoing/users` }, fresh.aShop)).statusCode).toBe(200);
        const deleted = await ovh(fresh.aKeys, 'DELETE', `/sms/${fresh.a.account.name}/users/shop`);
        expect([deleted.statusCode, deleted.body]).toEqual([200, 'null']);
        for (const url of [
          `${A}/outgoing`,
          `${A}/outgoing/users`,
          `${A}/outgoing/count`,
          `${A}/outgoing.jsonl`,
          `${A}/outgoing.csv?all=true`,
          `${A}/stats`,
          `${A}/outgoing/delete-jobs/1`,
          `${A}/users/shop`,
        ]) {
          expect([url, ...outcome(await api({ url }, fresh.aShop))]).toEqual([url, 401, 'UNAUTHENTICATED']);
        }
        expect(outcome(await api({ method: 'POST', url: `${A}/outgoing/delete`, payload: { filter: {} } }, fresh.aShop))).toEqual([
          401,
          'UNAUTHENTICATED',
        ]);

        // Created again with the same login: the old token stays dead; a new one is the same identity to the history.
        const created = await api(
          { method: 'POST', url: `${A}/users`, payload: { login: 'shop', password: 'new-shop-password-2024' } },
          fresh.sa.writeHeaders,
        );
        expect(created.statusCode, created.body).toBe(201);
        expect(outcome(await api({ url: `${A}/outgoing` }, fresh.aShop))).toEqual([401, 'UNAUTHENTICATED']);
        const token = await api({ method: 'POST', url: `${A}/tokens`, payload: { name: 'new shop', user: 'shop' } }, fresh.sa.writeHeaders);
        expect(token.statusCode, token.body).toBe(201);
        const again = bearer(token.json().token as string);
        expect((await api({ url: `${A}/outgoing/users` }, again)).json()).toEqual({ data: ['shop'] });
        expect(idsOfJsonl(await api({ url: `${A}/outgoing.jsonl` }, again))).toEqual([fresh.ids.aShop, fresh.ids.aShopPending]);
        expect((await api({ url: `${A}/outgoing/count` }, again)).json()).toEqual({ total: 2 });
        expect(await api({ url: `${A}/stats?${DAYS}` }, again).then(statusTotals)).toEqual({ delivered: 1, pending: 1 });
        const ids = `${fresh.ids.bShop},${fresh.ids.bShopPending}`;
        expect((await api({ url: `${A}/outgoing/count?ids=${ids}` }, again)).json()).toEqual({ total: 0 });
        expect((await ovh(fresh.aKeys, 'GET', `/sms/${fresh.a.account.name}/users/shop/outgoing`)).json()).toEqual(
          expect.not.arrayContaining([fresh.ids.bShop]),
        );
        // B's shop is untouched by all this.
        expect((await api({ url: `${base(fresh.b)}/outgoing/count` }, fresh.bShop, false)).json()).toEqual({ total: 2 });
        // http2sms: the new password of A's shop works in A; B's never in A.
        const via = (account: string, password: string, from: string) =>
          ctx.app.inject({
            method: 'GET',
            url: `${HTTP2SMS}?${new URLSearchParams({ account, login: 'shop', password, from, to: '+33612348009', message: 'x' }).toString()}`,
            remoteAddress: freshIp(),
          });
        expect((await via(fresh.a.account.name, PA, 'ShopA')).body).toBe('KO\nWrong account, login or password');
        expect((await via(fresh.a.account.name, PB, 'ShopA')).body).toBe('KO\nWrong account, login or password');
        expect((await via(fresh.a.account.name, 'new-shop-password-2024', 'ShopA')).body).toMatch(/^OK\n/);
      });

      it('ends the token of a user deleted by the operator (CLI), even read a moment before', async () => {
        const fresh = await seedWorld(ctx);
        const A = base(fresh.a);
        expect((await api({ url: `${A}/outgoing/count` }, fresh.aShop)).json()).toEqual({ total: 2 });
        await ctx.app.services.smsUsers.delete(SYSTEM_ACTOR, fresh.a.account.name, 'shop');
        expect(outcome(await api({ url: `${A}/outgoing/count` }, fresh.aShop))).toEqual([401, 'UNAUTHENTICATED']);
        await createSmsUser(ctx.app, fresh.a.account, { login: 'shop', password: PA });
        expect(outcome(await api({ url: `${A}/outgoing/users` }, fresh.aShop))).toEqual([401, 'UNAUTHENTICATED']);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('enumeration: another customer’s account answers as one that never existed', () => {
      const routes = (name: string): Req[] => {
        const b = `/api/v1/accounts/${name}`;
        const ids = `${w.ids.bShop},${w.ids.bCarol}`;
        return [
          { url: b },
          { url: `${b}/outgoing/users` },
          { url: `${b}/outgoing/count?ids=${ids}` },
          { url: `${b}/outgoing?user=shop` },
          { url: `${b}/outgoing.jsonl?ids=${ids}` },
          { url: `${b}/outgoing.csv?all=true&user=shop` },
          { url: `${b}/outgoing/${w.ids.bShop}` },
          { url: `${b}/outgoing/delete-jobs/1` },
          { url: `${b}/stats?user=shop` },
          { url: `${b}/deletions` },
          { url: `${b}/credit-changes` },
          { url: `${b}/users` },
          { url: `${b}/users/shop` },
          { url: `${b}/senders` },
          { url: `${b}/tokens` },
          { method: 'POST', url: `${b}/outgoing/redact`, payload: { ids: [w.ids.bShop] } },
          { method: 'POST', url: `${b}/outgoing/delete`, payload: { ids: [w.ids.bShop] } },
          { method: 'POST', url: `${b}/outgoing/delete`, payload: { filter: { user: 'shop' } } },
          { method: 'DELETE', url: `${b}/outgoing/${w.ids.bShopPending}` },
          { method: 'POST', url: `${b}/jobs`, payload: { message: 'x', receivers: ['+33612345678'], sender: 'ShopB' } },
          { method: 'PATCH', url: `${b}/users/shop`, payload: { quota: 1 } },
          { method: 'DELETE', url: `${b}/users/carol` },
          { method: 'POST', url: `${b}/tokens`, payload: { name: 'x', user: 'shop' } },
          { method: 'PATCH', url: b, payload: { description: 'x' } },
        ];
      };

      it('gives the same status, code and message (name aside) to a session, an account token and a user token', async () => {
        const before = await snapshot();
        const principals: [string, Headers][] = [
          ['session', w.sa.writeHeaders],
          ['account token', w.a.auth],
          ['user token', w.aShop],
        ];
        for (const [who, headers] of principals) {
          const foreign = routes(w.b.account.name);
          const missing = routes(MISSING);
          for (const [i, req] of foreign.entries()) {
            const theirs = await api(req, headers);
            const none = await api(missing[i], headers);
            const label = `${who}: ${req.method ?? 'GET'} ${req.url}`;
            expect([label, theirs.statusCode, theirs.body.replaceAll(w.b.account.name, 'NAME')]).toEqual([
              label,
              none.statusCode,
              none.body.replaceAll(MISSING, 'NAME'),
            ]);
            expect([label, ...outcome(theirs)]).toEqual([label, 404, 'ACCOUNT_NOT_FOUND']);
          }
        }
        expect(await snapshot()).toEqual(before);
      });
    });

    // ---------------------------------------------------------------------------------------------
    it('answered no attack with B’s texts, receivers, e-mail, passwords, token secrets or OVH keys', () => {
      expect(answers.length).toBeGreaterThan(200);
      const leaks: string[] = [];
      for (const { what, text } of answers) {
        for (const secret of w.bSecrets) if (text.includes(secret)) leaks.push(`${what}: ${secret}`);
        if (/\$argon2/.test(text)) leaks.push(`${what}: a password hash`);
      }
      expect(leaks).toEqual([]);
    });
  },
  {
    config: {
      http2smsRateLimit: { perIp: 1_000_000, perUser: 1_000_000, authFailuresPerMinute: 1_000_000, windowMs: 1000 },
    },
  },
);
