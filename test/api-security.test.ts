import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../src/server/modules/auth/auth.plugin.js';
import { SIGN_IN_FAILURES_PER_EMAIL } from '../src/server/modules/auth/auth.routes.js';
import { sha256Hex } from '../src/server/modules/auth/password.js';
import { type AppTestContext, describeEachDialectWithApp } from './app.js';
import {
  bearer,
  createSender,
  createSmsUser,
  createToken,
  fastAuthConfig,
  type SeededAccount,
  seedCustomerWithAccount,
  signIn,
  TEST_PASSWORD,
  type TestSession,
} from './factories.js';
import { countRows } from './ledger.js';
import { buildOutgoing, insertOutgoing } from './outgoing-factory.js';

/**
 * Attacks on the native API (/api/v1) and the Manager's session, each written as the safe behaviour:
 * the right refusal, and nothing changed. Run on both dialects.
 */

type Method = 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE' | 'OPTIONS';
type Headers = Record<string, string>;
interface Req {
  method?: Method;
  url: string;
  payload?: unknown;
}

const EVIL_ORIGIN = 'https://evil.example';
/** A receiver only bob's messages have (the audit and exports must not show it to others). */
const BOB_RECEIVER = '+33799000001';
const BOB_TEXT = 'bob: code 4242';
const B_TEXT = 'account B: private';
const MISSING = '99999999999999999999';

/** Two customers with an account each; in A two SMS users (alice, bob) with tokens and messages. */
interface World {
  a: SeededAccount;
  b: SeededAccount;
  sa: TestSession;
  sb: TestSession;
  alice: Headers;
  bob: Headers;
  aliceUserId: number;
  bobUserId: number;
  ids: { alice: number; alicePending: number; bob: number; bobPending: number; manager: number; b: number; bPending: number };
  /** Every bearer string of the world (never to be seen in an answer once made). */
  secrets: string[];
}

async function seedWorld(ctx: AppTestContext): Promise<World> {
  const a = await seedCustomerWithAccount(ctx.app, { account: { credits: 100 } });
  const b = await seedCustomerWithAccount(ctx.app, { account: { credits: 100 } });
  const alice = await createSmsUser(ctx.app, a.account, { login: 'alice', quota: 50 });
  const bob = await createSmsUser(ctx.app, a.account, { login: 'bob', quota: 50 });
  await createSmsUser(ctx.app, b.account, { login: 'carol' });
  await createSender(ctx.app, a.account, { sender: 'ShopA' });
  await createSender(ctx.app, b.account, { sender: 'ShopB' });
  const aliceToken = await createToken(ctx.app, a.account, { user: 'alice' });
  const bobToken = await createToken(ctx.app, a.account, { user: 'bob' });
  const A = a.account.id;
  const [aliceId, alicePending, bobId, bobPending, manager, bId, bPending] = await insertOutgoing(ctx.database, [
    buildOutgoing({ account_id: A, user_login: 'alice', user_id: alice.id, message: 'alice hello' }),
    buildOutgoing({ account_id: A, user_login: 'alice', user_id: alice.id, status: 'pending', credits: 3 }),
    buildOutgoing({ account_id: A, user_login: 'bob', user_id: bob.id, receiver: BOB_RECEIVER, message: BOB_TEXT }),
    buildOutgoing({ account_id: A, user_login: 'bob', user_id: bob.id, receiver: BOB_RECEIVER, status: 'pending', credits: 4 }),
    buildOutgoing({ account_id: A, user_login: '', channel: 'manager', message: 'from the Manager' }),
    buildOutgoing({ account_id: b.account.id, message: B_TEXT }),
    buildOutgoing({ account_id: b.account.id, status: 'pending', credits: 5 }),
  ]);
  return {
    a,
    b,
    sa: await signIn(ctx.app, a.customer.email),
    sb: await signIn(ctx.app, b.customer.email),
    alice: bearer(aliceToken),
    bob: bearer(bobToken),
    aliceUserId: alice.id,
    bobUserId: bob.id,
    ids: { alice: aliceId, alicePending, bob: bobId, bobPending, manager, b: bId, bPending },
    secrets: [a.token, b.token, aliceToken, bobToken],
  };
}

/** What an attack could change anywhere in the database (not: last use of tokens, session expiry, audit). */
async function snapshot(ctx: AppTestContext) {
  const { db } = ctx.database;
  const count = (table: 'dispatch_queue' | 'jobs' | 'delete_jobs' | 'sessions') => countRows(ctx.database, table);
  return {
    outgoing: await db
      .selectFrom('outgoing')
      .select(['id', 'account_id', 'status', 'message', 'receiver', 'redacted_at', 'user_login'])
      .orderBy('id')
      .execute(),
    accounts: await db
      .selectFrom('accounts')
      .select(['id', 'name', 'owner_id', 'credits', 'description', 'timezone', 'store_text', 'redact_after_days', 'retention_days'])
      .orderBy('id')
      .execute(),
    users: await db
      .selectFrom('sms_users')
      .select(['id', 'account_id', 'login', 'password_hash', 'quota', 'callback_url', 'ip_restrictions'])
      .orderBy('id')
      .execute(),
    senders: await db.selectFrom('senders').select(['id', 'account_id', 'sender', 'status', 'description']).orderBy('id').execute(),
    tokens: await db.selectFrom('api_tokens').select(['id', 'account_id', 'user_id', 'name', 'revoked_at']).orderBy('id').execute(),
    customers: await db.selectFrom('customers').select(['id', 'email', 'password_hash']).orderBy('id').execute(),
    queued: await count('dispatch_queue'),
    jobs: await count('jobs'),
    deleteJobs: await count('delete_jobs'),
  };
}

/** The reads of one account's API, with existing names and ids of that account where a path needs one. */
function readsOf(account: string, ids: { message: number; user: string; sender: string; token: number }): Req[] {
  const base = `/api/v1/accounts/${account}`;
  return [
    { url: base },
    { url: `${base}/credit-changes` },
    { url: `${base}/users` },
    { url: `${base}/users/${ids.user}` },
    { url: `${base}/senders` },
    { url: `${base}/senders/${ids.sender}` },
    { url: `${base}/tokens` },
    { url: `${base}/outgoing` },
    { url: `${base}/outgoing?user=-` },
    { url: `${base}/outgoing/count` },
    { url: `${base}/outgoing/${ids.message}` },
    { url: `${base}/outgoing.csv` },
    { url: `${base}/outgoing.csv?all=true&format=detailed` },
    { url: `${base}/outgoing.jsonl` },
    { url: `${base}/stats?from=2023-12-01&to=2024-02-01` },
    { url: `${base}/deletions` },
    { url: `${base}/outgoing/delete-jobs/1` },
  ];
}

/** The writes of one account's API (valid bodies: only the caller's rights may stop them). */
function writesOf(account: string, ids: { message: number; pending: number; user: string; sender: string; token: number }): Req[] {
  const base = `/api/v1/accounts/${account}`;
  return [
    { method: 'PATCH', url: base, payload: { description: 'pwned', storeText: false, retentionDays: 1 } },
    { method: 'POST', url: `${base}/users`, payload: { login: 'mallory', password: 'mallory-password' } },
    {
      method: 'PATCH',
      url: `${base}/users/${ids.user}`,
      payload: { password: 'hijacked-password', callbackUrl: 'https://evil.example/x' },
    },
    { method: 'DELETE', url: `${base}/users/${ids.user}` },
    { method: 'POST', url: `${base}/senders`, payload: { sender: 'Evil' } },
    { method: 'PATCH', url: `${base}/senders/${ids.sender}`, payload: { status: 'disable' } },
    { method: 'DELETE', url: `${base}/senders/${ids.sender}` },
    { method: 'POST', url: `${base}/tokens`, payload: { name: 'stolen' } },
    { method: 'DELETE', url: `${base}/tokens/${ids.token}` },
    { method: 'DELETE', url: `${base}/outgoing/${ids.pending}` },
    { method: 'DELETE', url: `${base}/outgoing/${ids.message}` },
    { method: 'POST', url: `${base}/outgoing/delete`, payload: { ids: [ids.message, ids.pending] } },
    { method: 'POST', url: `${base}/outgoing/delete`, payload: { filter: {} } },
    { method: 'POST', url: `${base}/outgoing/redact`, payload: { ids: [ids.message] } },
    { method: 'POST', url: `${base}/jobs`, payload: { message: 'spam', receivers: ['+33612345678'], sender: ids.sender } },
  ];
}

const tokenId = (token: string) => Number(token.split('_')[1]);

/** A tiny reader of the seed/detailed CSV: records of cells (quotes removed, `""` undone). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ';') {
      record.push(cell);
      cell = '';
    } else if (c === '\n') {
      record.push(cell);
      records.push(record);
      record = [];
      cell = '';
    } else cell += c;
  }
  expect(quoted).toBe(false);
  expect(cell).toBe('');
  return records;
}

/** Code points Python's `str.splitlines()` breaks lines at. */
const LINE_BREAKS = new Set([0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029]);

function splitOnEveryLineBreak(text: string): string[] {
  const pieces: string[] = [];
  let piece = '';
  for (const ch of text) {
    if (LINE_BREAKS.has(ch.codePointAt(0)!)) {
      pieces.push(piece);
      piece = '';
    } else piece += ch;
  }
  pieces.push(piece);
  return pieces;
}

describeEachDialectWithApp(
  'API security',
  (ctx) => {
    /** Every answer the attacks got (checked at the end for secrets). */
    const answers: string[] = [];
    const secrets: string[] = [];
    let w: World;

    async function call(req: Req, headers: Headers = {}): Promise<LightMyRequestResponse> {
      const res = await ctx.app.inject({
        method: req.method ?? 'GET',
        url: req.url,
        headers,
        ...(req.payload === undefined ? {} : { payload: req.payload as Record<string, unknown> }),
      });
      answers.push(`${JSON.stringify(res.headers)}\n${res.body}`);
      return res;
    }

    /** An error answer: JSON `{ error: { code, message } }` with `status` and `code`, never HTML. */
    function expectError(res: LightMyRequestResponse, status: number, code?: string) {
      expect(res.statusCode, `${res.statusCode} ${res.body.slice(0, 200)}`).toBe(status);
      expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
      const body = res.json() as { error: { code: string; message: string } };
      expect(typeof body.error.message).toBe('string');
      if (code) expect(body.error.code).toBe(code);
    }

    /** Not a server error: a 2xx or a 4xx with a clear code. */
    function expectNoServerError(res: LightMyRequestResponse) {
      expect(res.statusCode, `${res.statusCode} ${res.body.slice(0, 200)}`).toBeLessThan(500);
    }

    const world = async () => {
      const made = await seedWorld(ctx);
      secrets.push(...made.secrets);
      return made;
    };

    beforeAll(async () => {
      w = await world();
    });

    const idsOfA = () => ({
      message: w.ids.bob,
      pending: w.ids.bobPending,
      user: 'bob',
      sender: 'ShopA',
      token: tokenId(w.a.token),
    });

    // (a) an anonymous client

    describe('an anonymous client', () => {
      it('gets 401 from every read and write of an account, and changes nothing', async () => {
        const before = await snapshot(ctx);
        for (const req of [...readsOf(w.a.account.name, idsOfA()), ...writesOf(w.a.account.name, idsOfA())]) {
          expectError(await call(req), 401, 'UNAUTHENTICATED');
        }
        for (const url of ['/api/v1/accounts', '/api/v1/auth/me', '/api/v1/ovh/applications']) expectError(await call({ url }), 401);
        expect(await snapshot(ctx)).toEqual(before);
      });

      it('gets 401 for malformed, wrong, guessed or revoked bearer tokens, never an echo of them', async () => {
        const id = tokenId(w.a.token);
        const secret = w.a.token.split('_').slice(2).join('_');
        const attempts = [
          `rls_${id}_${'A'.repeat(43)}`, // the right id, a guessed secret
          `rls_${id}_${secret.slice(0, -1)}B`, // one character off
          `rls_${id + 1}_${secret}`, // the secret with another id
          `rls_0_${secret}`,
          `rls_${MISSING}_${secret}`,
          `rls_${id}_${secret}\u0000`,
          `${w.a.token} ${w.a.token}`,
          'rls__',
          '',
        ];
        for (const token of attempts) {
          const res = await call({ url: `/api/v1/accounts/${w.a.account.name}/outgoing` }, { authorization: `Bearer ${token}` });
          expectError(res, 401, 'UNAUTHENTICATED');
          expect(res.body).not.toContain(secret);
        }
      });

      it('is not signed in by a forged cookie, nor by the session id stored in the database', async () => {
        const { rows } = await sql<{ id: string }>`select id from sessions where customer_id = ${w.a.customer.id}`.execute(ctx.database.db);
        expect(rows.length).toBeGreaterThan(0);
        const value = w.sa.cookie.slice(SESSION_COOKIE.length + 1);
        for (const forged of [rows[0].id, sha256Hex(value), `${value}x`, value.toUpperCase(), 'x'.repeat(5000)]) {
          const res = await call({ url: '/api/v1/auth/me' }, { cookie: `${SESSION_COOKIE}=${forged}` });
          expectError(res, 401, 'UNAUTHENTICATED');
        }
      });

      it('gets JSON, never HTML, from the API, whatever it asks for', async () => {
        for (const url of [
          '/api/v1/nope',
          '/api/v1/accounts/%3Cscript%3Ealert(1)%3C%2Fscript%3E/outgoing',
          '/api/v1/accounts/x/outgoing.html',
          '/api/v1/<img src=x onerror=alert(1)>',
        ]) {
          const res = await call({ url }, { accept: 'text/html' });
          expect(res.statusCode).toBeGreaterThanOrEqual(400);
          expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
          expect(res.body).not.toMatch(/<html|<!doctype/i);
        }
      });
    });

    // (b) a customer signed in to the Manager reaching another customer's data

    describe("a signed-in customer and another customer's account", () => {
      it('gets 404 from every read and write of it (with a valid CSRF token), and changes nothing', async () => {
        const before = await snapshot(ctx);
        for (const req of readsOf(w.a.account.name, idsOfA())) {
          const res = await call(req, w.sb.headers);
          expectError(res, 404, 'ACCOUNT_NOT_FOUND');
          expect(res.body).not.toContain(BOB_TEXT);
        }
        for (const req of writesOf(w.a.account.name, idsOfA())) expectError(await call(req, w.sb.writeHeaders), 404, 'ACCOUNT_NOT_FOUND');
        expect(await snapshot(ctx)).toEqual(before);
        const mine = await call({ url: '/api/v1/accounts' }, w.sb.headers);
        expect(mine.json().map((x: { name: string }) => x.name)).toEqual([w.b.account.name]);
        const me = await call({ url: '/api/v1/auth/me' }, w.sb.headers);
        expect(me.json().accounts.map((x: { name: string }) => x.name)).toEqual([w.b.account.name]);
      });

      it("cannot reach the other account's messages, tokens or users through its own account", async () => {
        const before = await snapshot(ctx);
        const mine = `/api/v1/accounts/${w.b.account.name}`;
        const theirs = [w.ids.bob, w.ids.bobPending, w.ids.alicePending, w.ids.manager];
        for (const id of theirs) {
          expectError(await call({ url: `${mine}/outgoing/${id}` }, w.sb.headers), 404, 'MESSAGE_NOT_FOUND');
          expectError(await call({ method: 'DELETE', url: `${mine}/outgoing/${id}` }, w.sb.writeHeaders), 404, 'MESSAGE_NOT_FOUND');
        }
        const listed = await call({ url: `${mine}/outgoing?ids=${theirs.join(',')}` }, w.sb.headers);
        expect(listed.json()).toMatchObject({ data: [], total: 0 });
        const csv = await call({ url: `${mine}/outgoing.csv?ids=${theirs.join(',')}` }, w.sb.headers);
        expect(csv.body).toBe('date;sender;receiver;message;status\n');
        // Deleting another account's pending messages would refund their credits to someone.
        const deleted = await call({ method: 'POST', url: `${mine}/outgoing/delete`, payload: { ids: theirs } }, w.sb.writeHeaders);
        expect(deleted.json()).toEqual({ deleted: 0, refundedCredits: 0 });
        const byFilter = await call(
          { method: 'POST', url: `${mine}/outgoing/delete`, payload: { filter: { ids: theirs } } },
          w.sb.writeHeaders,
        );
        expect(byFilter.json()).toEqual({ deleted: 0 });
        const redacted = await call({ method: 'POST', url: `${mine}/outgoing/redact`, payload: { ids: theirs } }, w.sb.writeHeaders);
        expect(redacted.json()).toEqual({ redacted: 0, pending: [] });
        // Another account's token, by id through one's own account; a token for another account's user.
        expectError(
          await call({ method: 'DELETE', url: `${mine}/tokens/${tokenId(w.a.token)}` }, w.sb.writeHeaders),
          404,
          'TOKEN_NOT_FOUND',
        );
        expectError(
          await call({ method: 'POST', url: `${mine}/tokens`, payload: { user: 'alice' } }, w.sb.writeHeaders),
          404,
          'USER_NOT_FOUND',
        );
        expectError(await call({ url: `${mine}/users/alice` }, w.sb.headers), 404, 'USER_NOT_FOUND');
        expect(await snapshot(ctx)).toEqual(before);
      });
    });

    // (c) an account-wide API token

    describe('an account-wide API token', () => {
      it('gets 404 from every read and write of another account, and changes nothing', async () => {
        const before = await snapshot(ctx);
        const idsOfB = { message: w.ids.b, pending: w.ids.bPending, user: 'carol', sender: 'ShopB', token: tokenId(w.b.token) };
        for (const req of readsOf(w.b.account.name, idsOfB)) {
          const res = await call(req, w.a.auth);
          expectError(res, 404, 'ACCOUNT_NOT_FOUND');
          expect(res.body).not.toContain(B_TEXT);
        }
        for (const req of writesOf(w.b.account.name, idsOfB)) expectError(await call(req, w.a.auth), 404, 'ACCOUNT_NOT_FOUND');
        const mine = `/api/v1/accounts/${w.a.account.name}`;
        const deleted = await call(
          { method: 'POST', url: `${mine}/outgoing/delete`, payload: { ids: [w.ids.b, w.ids.bPending] } },
          w.a.auth,
        );
        expect(deleted.json()).toEqual({ deleted: 0, refundedCredits: 0 });
        expectError(await call({ url: `${mine}/outgoing/${w.ids.b}` }, w.a.auth), 404, 'MESSAGE_NOT_FOUND');
        expect(await snapshot(ctx)).toEqual(before);
        const listed = await call({ url: '/api/v1/accounts' }, w.a.auth);
        expect(listed.json().map((x: { name: string }) => x.name)).toEqual([w.a.account.name]);
        // Paths that try to step from its account into the other one.
        for (const url of [
          `${mine}/outgoing/../../${w.b.account.name}/outgoing`,
          `${mine}/%2e%2e/${w.b.account.name}/outgoing`,
          `/api/v1/accounts/${w.a.account.name}%2F..%2F${w.b.account.name}/outgoing`,
          `/api/v1/accounts/${w.b.account.name}%00/outgoing`,
          `/api/v1/accounts/${w.b.account.name.toUpperCase()}/outgoing`,
          `/api/v1/accounts/%20${w.b.account.name}/outgoing`,
          `/1.0/../api/v1/accounts/${w.b.account.name}/outgoing`,
        ]) {
          const res = await call({ url }, w.a.auth);
          expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
          expect(res.body).not.toContain(B_TEXT);
        }
      });

      it("may not do the owner's part: settings, tokens, the owner's profile and OVH keys", async () => {
        const before = await snapshot(ctx);
        const base = `/api/v1/accounts/${w.a.account.name}`;
        const ownerOnly: Req[] = [
          { method: 'PATCH', url: base, payload: { storeText: false } },
          { method: 'PATCH', url: base, payload: { retentionDays: 1 } },
          { method: 'PATCH', url: base, payload: { description: 'x' } },
          { url: `${base}/tokens` },
          { method: 'POST', url: `${base}/tokens`, payload: { name: 'another' } },
          { method: 'POST', url: `${base}/tokens`, payload: { name: 'another', user: 'alice' } },
          { method: 'DELETE', url: `${base}/tokens/${tokenId(w.a.token)}` },
          { method: 'DELETE', url: `${base}/tokens/${tokenId(w.secrets[2])}` },
          { url: '/api/v1/auth/me' },
          { url: '/api/v1/ovh/applications' },
          { method: 'POST', url: '/api/v1/ovh/applications', payload: { name: 'x' } },
        ];
        for (const req of ownerOnly) expectError(await call(req, w.a.auth), 403, 'FORBIDDEN');
        expect(await snapshot(ctx)).toEqual(before);
        // Signing out with a token ends nothing.
        expect((await call({ method: 'POST', url: '/api/v1/auth/sign-out' }, w.a.auth)).statusCode).toBe(204);
        expect((await call({ url: base }, w.a.auth)).statusCode).toBe(200);
        expect((await call({ url: '/api/v1/auth/me' }, w.sa.headers)).statusCode).toBe(200);
      });

      it('stops working at once when revoked, and so does the token of a deleted SMS user', async () => {
        const fresh = await world();
        const base = `/api/v1/accounts/${fresh.a.account.name}`;
        expect((await call({ url: `${base}/outgoing` }, fresh.alice)).statusCode).toBe(200);
        expect((await call({ method: 'DELETE', url: `${base}/users/alice` }, fresh.a.auth)).statusCode).toBe(204);
        expectError(await call({ url: `${base}/outgoing` }, fresh.alice), 401, 'UNAUTHENTICATED');
        const revoke = await call({ method: 'DELETE', url: `${base}/tokens/${tokenId(fresh.a.token)}` }, fresh.sa.writeHeaders);
        expect(revoke.statusCode).toBe(204);
        expectError(await call({ url: `${base}/outgoing` }, fresh.a.auth), 401, 'UNAUTHENTICATED');
        expectError(await call({ method: 'POST', url: `${base}/senders`, payload: { sender: 'Late' } }, fresh.a.auth), 401);
      });
    });

    // (d) a token scoped to one SMS user

    describe("a user-scoped token and other users' messages", () => {
      const base = () => `/api/v1/accounts/${w.a.account.name}`;
      const othersIds = () => [w.ids.bob, w.ids.bobPending, w.ids.manager];

      it('reads only its own messages, whatever filter widens the scope', async () => {
        const own = [w.ids.alice, w.ids.alicePending];
        const list = async (query: string) =>
          ((await call({ url: `${base()}/outgoing?${query}` }, w.alice)).json().data as { id: number }[]).map((r) => r.id).sort();
        expect(await list('')).toEqual([...own].sort());
        for (const query of ['user=bob', 'user=-', `user=${encodeURIComponent("' or 1=1 --")}`, `ids=${othersIds().join(',')}`]) {
          expect(await list(query)).toEqual([]);
        }
        expect(await list(`ids=${[...own, ...othersIds()].join(',')}&user=alice`)).toEqual([...own].sort());
        for (const id of othersIds()) expectError(await call({ url: `${base()}/outgoing/${id}` }, w.alice), 404, 'MESSAGE_NOT_FOUND');
        for (const query of ['', '?user=bob', '?user=-', `?ids=${othersIds().join(',')}`]) {
          expect((await call({ url: `${base()}/outgoing/count${query}` }, w.alice)).json().total).toBe(query ? 0 : 2);
          const csv = await call({ url: `${base()}/outgoing.csv${query}${query ? '&' : '?'}all=true` }, w.alice);
          expect(csv.body).not.toContain(BOB_RECEIVER);
          expect(csv.body).not.toContain('from the Manager');
          const jsonl = await call({ url: `${base()}/outgoing.jsonl${query}` }, w.alice);
          expect(jsonl.body).not.toContain(BOB_RECEIVER);
          const stats = await call({ url: `${base()}/stats${query}${query ? '&' : '?'}from=2023-12-01&to=2024-02-01` }, w.alice);
          const counted = (stats.json().days as Record<string, number | string>[])
            .flatMap((d) => Object.values(d).filter((v): v is number => typeof v === 'number'))
            .reduce((x, y) => x + y, 0);
          expect(counted).toBe(query ? 0 : 2);
        }
      });

      it('sends in its own name only: another user does not see the messages, the account does', async () => {
        const fresh = await world();
        const b = `/api/v1/accounts/${fresh.a.account.name}`;
        const sent = await call(
          {
            method: 'POST',
            url: `${b}/jobs`,
            payload: { message: 'from alice', receivers: ['+33612345678'], sender: 'ShopA', differedPeriod: 60 },
          },
          fresh.alice,
        );
        expect(sent.statusCode).toBe(200);
        const [id] = sent.json().ids as number[];
        expect((await call({ url: `${b}/outgoing/${id}` }, fresh.alice)).json()).toMatchObject({ user: 'alice', channel: 'api' });
        expectError(await call({ url: `${b}/outgoing/${id}` }, fresh.bob), 404, 'MESSAGE_NOT_FOUND');
        expectError(await call({ method: 'DELETE', url: `${b}/outgoing/${id}` }, fresh.bob), 404, 'MESSAGE_NOT_FOUND');
        expect((await call({ url: `${b}/outgoing/${id}` }, fresh.a.auth)).json().user).toBe('alice');
        expect((await call({ url: `${b}/users/alice` }, fresh.alice)).json().quota).toBe(49);
      });

      it('cannot read another user, nor change users, senders, tokens or settings', async () => {
        const before = await snapshot(ctx);
        const users = await call({ url: `${base()}/users` }, w.alice);
        expect(users.json().map((u: { login: string }) => u.login)).toEqual(['alice']);
        expectError(await call({ url: `${base()}/users/bob` }, w.alice), 404, 'USER_NOT_FOUND');
        const refused: Req[] = [
          { method: 'PATCH', url: `${base()}/users/alice`, payload: { generatePassword: true } },
          { method: 'PATCH', url: `${base()}/users/bob`, payload: { generatePassword: true } },
          { method: 'DELETE', url: `${base()}/users/bob` },
          { method: 'POST', url: `${base()}/users`, payload: { login: 'mallory' } },
          { method: 'POST', url: `${base()}/senders`, payload: { sender: 'Evil' } },
          { method: 'DELETE', url: `${base()}/senders/ShopA` },
          { url: `${base()}/tokens` },
          { method: 'POST', url: `${base()}/tokens`, payload: { user: 'bob' } },
          { method: 'DELETE', url: `${base()}/tokens/${tokenId(w.a.token)}` },
          { method: 'PATCH', url: base(), payload: { storeText: false } },
        ];
        for (const req of refused) {
          const res = await call(req, w.alice);
          expect([403, 404], `${req.method} ${req.url}: ${res.statusCode}`).toContain(res.statusCode);
        }
        // A job may not be sent in another user's name.
        const spoof = await call(
          { method: 'POST', url: `${base()}/jobs`, payload: { message: 'x', receivers: ['+33612345678'], sender: 'ShopA', user: 'bob' } },
          w.alice,
        );
        expectError(spoof, 400, 'VALIDATION_FAILED');
        expect(await snapshot(ctx)).toEqual(before);
      });

      it("deletes and redacts none of another user's messages, by id or by a filter that tries to widen the scope", async () => {
        const fresh = await world();
        const b = `/api/v1/accounts/${fresh.a.account.name}`;
        const others = [fresh.ids.bob, fresh.ids.bobPending, fresh.ids.manager];
        const before = await snapshot(ctx);
        for (const id of others) {
          expectError(await call({ method: 'DELETE', url: `${b}/outgoing/${id}` }, fresh.alice), 404, 'MESSAGE_NOT_FOUND');
        }
        const byIds = await call({ method: 'POST', url: `${b}/outgoing/delete`, payload: { ids: others } }, fresh.alice);
        expect(byIds.json()).toEqual({ deleted: 0, refundedCredits: 0 });
        for (const filter of [
          { user: 'bob' },
          { user: '-' },
          { ids: others.map(String) },
          { receiver: BOB_RECEIVER },
          { q: '%' },
          { q: '_' },
          { sender: "x' OR '1'='1" },
          { tag: "' OR 1=1 --" },
        ]) {
          const res = await call({ method: 'POST', url: `${b}/outgoing/delete`, payload: { filter } }, fresh.alice);
          expect(res.json(), JSON.stringify(filter)).toEqual({ deleted: 0 });
        }
        // A filter value of another type than the document's is refused whole (JSON bodies are not coerced).
        const listed = await call({ method: 'POST', url: `${b}/outgoing/delete`, payload: { filter: { user: ['bob'] } } }, fresh.alice);
        expectError(listed, 400, 'VALIDATION_FAILED');
        const redacted = await call({ method: 'POST', url: `${b}/outgoing/redact`, payload: { ids: others } }, fresh.alice);
        expect(redacted.json()).toEqual({ redacted: 0, pending: [] });
        expect(await snapshot(ctx)).toEqual(before);

        // Everything it may delete: its own messages only; its pending one refunds its own credits and quota.
        const all = await call({ method: 'POST', url: `${b}/outgoing/delete`, payload: { filter: {} } }, fresh.alice);
        expect(all.json()).toEqual({ deleted: 2 });
        const after = await snapshot(ctx);
        expect(after.outgoing.filter((o) => Number(o.account_id) === fresh.a.account.id).map((o) => Number(o.id))).toEqual([
          fresh.ids.bob,
          fresh.ids.bobPending,
          fresh.ids.manager,
        ]);
        const credits = after.accounts.find((x) => Number(x.id) === fresh.a.account.id)!.credits;
        expect(Number(credits)).toBe(103);
        const quotas = Object.fromEntries(after.users.map((u) => [Number(u.id), Number(u.quota)]));
        expect(quotas[fresh.aliceUserId]).toBe(53);
        expect(quotas[fresh.bobUserId]).toBe(50);
      });

      it('runs a large deletion as a job within its own messages; other accounts cannot follow that job', async () => {
        const fresh = await world();
        const A = fresh.a.account.id;
        await insertOutgoing(
          ctx.database,
          Array.from({ length: 5_001 }, () => buildOutgoing({ account_id: A, user_login: 'alice', user_id: fresh.aliceUserId })),
        );
        const b = `/api/v1/accounts/${fresh.a.account.name}`;
        const res = await call({ method: 'POST', url: `${b}/outgoing/delete`, payload: { filter: { user: 'bob' } } }, fresh.alice);
        expect(res.json()).toEqual({ deleted: 0 });
        const started = await call({ method: 'POST', url: `${b}/outgoing/delete`, payload: { filter: {} } }, fresh.alice);
        expect(started.statusCode).toBe(202);
        const jobId = started.json().job.id as number;
        await ctx.app.services.history.waitForDeleteJob(jobId);
        const done = await call({ url: `${b}/outgoing/delete-jobs/${jobId}` }, fresh.alice);
        expect(done.json()).toMatchObject({ status: 'done', deleted: 5_003 });
        const left = await ctx.database.db.selectFrom('outgoing').select(['id']).where('account_id', '=', A).orderBy('id').execute();
        expect(left.map((r) => Number(r.id))).toEqual([fresh.ids.bob, fresh.ids.bobPending, fresh.ids.manager]);
        // Another account, by its own path or by this one's; a session of another customer.
        expectError(
          await call({ url: `/api/v1/accounts/${fresh.b.account.name}/outgoing/delete-jobs/${jobId}` }, fresh.b.auth),
          404,
          'DELETE_JOB_NOT_FOUND',
        );
        expectError(await call({ url: `${b}/outgoing/delete-jobs/${jobId}` }, fresh.b.auth), 404, 'ACCOUNT_NOT_FOUND');
        expectError(await call({ url: `${b}/outgoing/delete-jobs/${jobId}` }, fresh.sb.headers), 404, 'ACCOUNT_NOT_FOUND');
      });

      it("does not show the deletion audit of other users' messages (their ids, receivers, the owner's e-mail)", async () => {
        const fresh = await world();
        const b = `/api/v1/accounts/${fresh.a.account.name}`;
        const byOwner = await call(
          { method: 'POST', url: `${b}/outgoing/delete`, payload: { filter: { receiver: BOB_RECEIVER } } },
          fresh.sa.writeHeaders,
        );
        expect(byOwner.json()).toEqual({ deleted: 2 });
        const byBob = await call({ method: 'POST', url: `${b}/outgoing/delete`, payload: { ids: [fresh.ids.manager] } }, fresh.a.auth);
        expect(byBob.json()).toMatchObject({ deleted: 1 });
        const res = await call({ url: `${b}/deletions` }, fresh.alice);
        if (res.statusCode === 200) {
          const leaks = (res.json().data as { actor: string; ids: number[] | null; filter: unknown }[]).filter(
            (e) =>
              e.actor.includes(fresh.a.customer.email) ||
              (e.ids ?? []).some((id) => [fresh.ids.bob, fresh.ids.bobPending, fresh.ids.manager].includes(id)) ||
              JSON.stringify(e.filter ?? {}).includes(BOB_RECEIVER),
          );
          expect(leaks).toEqual([]);
        } else {
          expect([403, 404]).toContain(res.statusCode);
        }
      });
    });

    // (e) a cross-site page driving a signed-in browser

    describe('a cross-site page driving a signed-in browser', () => {
      it('cannot write with the session cookie alone, a wrong token, or the token of another session', async () => {
        const before = await snapshot(ctx);
        const other = await signIn(ctx.app, w.a.customer.email); // the same customer, another session
        for (const headers of [
          w.sa.headers,
          { ...w.sa.headers, 'x-csrf-token': '' },
          { ...w.sa.headers, 'x-csrf-token': 'wrong' },
          { ...w.sa.headers, 'x-csrf-token': w.sb.csrfToken },
          { ...w.sa.headers, 'x-csrf-token': other.csrfToken },
          { ...w.sa.headers, 'x-csrf-token': `${w.sa.csrfToken} ` },
          { ...w.sa.headers, 'x-csrf-token': w.sa.csrfToken.toUpperCase() },
          { ...w.sa.headers, 'x-xsrf-token': w.sa.csrfToken },
          { ...w.sa.headers, cookie: `${w.sa.cookie}; x-csrf-token=${w.sa.csrfToken}` },
        ]) {
          for (const req of writesOf(w.a.account.name, idsOfA())) expectError(await call(req, headers), 403, 'CSRF_FAILED');
        }
        const signOut = await call({ method: 'POST', url: '/api/v1/auth/sign-out' }, w.sa.headers);
        expectError(signOut, 403, 'CSRF_FAILED');
        expect(await snapshot(ctx)).toEqual(before);
        expect((await call({ url: '/api/v1/auth/me' }, w.sa.headers)).statusCode).toBe(200);
      });

      it('cannot write with form content types (a plain HTML form) or a method override', async () => {
        const before = await snapshot(ctx);
        const base = `/api/v1/accounts/${w.a.account.name}`;
        const forms: [string, string][] = [
          ['application/x-www-form-urlencoded', `ids=${w.ids.bob}`],
          ['text/plain', JSON.stringify({ ids: [w.ids.bob] })],
          ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="ids"\r\n\r\n${w.ids.bob}\r\n--x--\r\n`],
        ];
        for (const [type, body] of forms) {
          for (const url of [`${base}/outgoing/delete`, `${base}/outgoing/redact`, `${base}/jobs`, `${base}/tokens`]) {
            const res = await ctx.app.inject({
              method: 'POST',
              url,
              headers: { ...w.sa.headers, 'content-type': type, origin: EVIL_ORIGIN },
              payload: body,
            });
            expect(res.statusCode, `${type} ${url}`).toBe(403);
          }
        }
        // A method override must not turn a GET (no CSRF check) or a POST into a deletion.
        const overrides: Headers[] = [
          { 'x-http-method-override': 'DELETE' },
          { 'x-http-method': 'DELETE' },
          { 'x-method-override': 'DELETE' },
        ];
        for (const headers of overrides) {
          const read = await call({ url: `${base}/outgoing/${w.ids.bob}?_method=DELETE` }, { ...w.sa.headers, ...headers });
          expect(read.statusCode).toBe(200);
          const post = await call({ method: 'POST', url: `${base}/outgoing/${w.ids.bob}?_method=DELETE` }, { ...w.sa.headers, ...headers });
          expect(post.statusCode).toBeGreaterThanOrEqual(400);
        }
        // URLs the auth hook skips (the OVH API authenticates its own way) must not reach the native API.
        for (const url of [
          `/1.0/../api/v1/accounts/${w.a.account.name}/outgoing/delete`,
          `/1.0/%2e%2e/api/v1/accounts/${w.a.account.name}/outgoing/delete`,
        ]) {
          const res = await call({ method: 'POST', url, payload: { ids: [w.ids.bob] } }, w.sa.headers);
          expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
        }
        const gets = ['/outgoing/delete', `/outgoing/delete?ids=${w.ids.bob}`, '/outgoing/redact', '/jobs'];
        for (const path of gets) expect((await call({ url: `${base}${path}` }, w.sa.headers)).statusCode).toBeGreaterThanOrEqual(400);
        expect(await snapshot(ctx)).toEqual(before);
      });

      it('gets no CORS permission: a preflight and a credentialed read from another origin are not allowed', async () => {
        const base = `/api/v1/accounts/${w.a.account.name}`;
        for (const url of [`${base}/outgoing/delete`, `${base}/outgoing/${w.ids.bob}`, '/api/v1/auth/me', '/api/v1/auth/sign-in']) {
          const preflight = await call(
            { method: 'OPTIONS', url },
            {
              ...w.sa.headers,
              origin: EVIL_ORIGIN,
              'access-control-request-method': 'DELETE',
              'access-control-request-headers': 'x-csrf-token, content-type',
            },
          );
          expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
          expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
          expect(preflight.headers['access-control-allow-methods']).toBeUndefined();
          expect(preflight.headers['access-control-allow-headers']).toBeUndefined();
        }
        // The CSRF token is in /auth/me: another origin must not be allowed to read it.
        const me = await call({ url: '/api/v1/auth/me' }, { ...w.sa.headers, origin: EVIL_ORIGIN });
        expect(me.headers['access-control-allow-origin']).toBeUndefined();
        expect(me.headers['access-control-allow-credentials']).toBeUndefined();
        expect((await call({ url: `${base}/outgoing/${w.ids.bob}` }, w.sa.headers)).statusCode).toBe(200);
      });

      it('cannot sign a browser in through a form (login CSRF)', async () => {
        const creds = { email: w.a.customer.email, password: TEST_PASSWORD };
        for (const [type, body] of [
          ['text/plain', JSON.stringify(creds)],
          ['application/x-www-form-urlencoded', `email=${encodeURIComponent(creds.email)}&password=${encodeURIComponent(creds.password)}`],
          ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="email"\r\n\r\n${creds.email}\r\n--x--\r\n`],
        ]) {
          const res = await ctx.app.inject({
            method: 'POST',
            url: '/api/v1/auth/sign-in',
            headers: { 'content-type': type, origin: EVIL_ORIGIN },
            payload: body,
            remoteAddress: '198.51.100.7',
          });
          expect(res.statusCode, type).toBeGreaterThanOrEqual(400);
          expect(res.headers['set-cookie']).toBeUndefined();
        }
      });
    });

    // The session itself

    describe('the Manager session', () => {
      it('is a new one at sign-in: a cookie planted before is not kept nor upgraded (session fixation)', async () => {
        const fresh = await world();
        const planted = 'A'.repeat(43);
        const attacker = fresh.sb.cookie; // a valid session of another customer, planted in the victim's browser
        for (const cookie of [`${SESSION_COOKIE}=${planted}`, attacker]) {
          const res = await ctx.app.inject({
            method: 'POST',
            url: '/api/v1/auth/sign-in',
            headers: { cookie },
            payload: { email: fresh.a.customer.email, password: TEST_PASSWORD },
            remoteAddress: '198.51.100.8',
          });
          expect(res.statusCode).toBe(200);
          const value = res.cookies.find((c) => c.name === SESSION_COOKIE)?.value;
          expect(value).toBeDefined();
          expect(`${SESSION_COOKIE}=${value}`).not.toBe(cookie);
          const me = await call({ url: '/api/v1/auth/me' }, { cookie: `${SESSION_COOKIE}=${value}` });
          expect(me.json().customer.email).toBe(fresh.a.customer.email);
        }
        expectError(await call({ url: '/api/v1/auth/me' }, { cookie: `${SESSION_COOKIE}=${planted}` }), 401);
        const stillB = await call({ url: '/api/v1/auth/me' }, { cookie: attacker });
        expect(stillB.json().customer.email).toBe(fresh.b.customer.email);
      });

      it('ends on the server at sign-out: the old cookie no longer reads nor writes', async () => {
        const fresh = await world();
        const kept = fresh.sa;
        const out = await call({ method: 'POST', url: '/api/v1/auth/sign-out' }, kept.writeHeaders);
        expect(out.statusCode).toBe(204);
        const { rows } = await sql<{
          n: number;
        }>`select count(*) as n from sessions where id = ${sha256Hex(kept.cookie.split('=')[1])}`.execute(ctx.database.db);
        expect(Number(rows[0].n)).toBe(0);
        const base = `/api/v1/accounts/${fresh.a.account.name}`;
        expectError(await call({ url: '/api/v1/auth/me' }, kept.headers), 401);
        expectError(await call({ url: `${base}/outgoing` }, kept.headers), 401);
        expectError(await call({ method: 'POST', url: `${base}/outgoing/delete`, payload: { filter: {} } }, kept.writeHeaders), 401);
      });

      it('ends every session of a customer whose password was reset', async () => {
        const fresh = await world();
        const second = await signIn(ctx.app, fresh.a.customer.email);
        await ctx.app.services.customers.setPassword(fresh.a.customer.email);
        const base = `/api/v1/accounts/${fresh.a.account.name}`;
        for (const session of [fresh.sa, second]) {
          expectError(await call({ url: '/api/v1/auth/me' }, session.headers), 401);
          expectError(await call({ url: `${base}/tokens` }, session.headers), 401);
          expectError(await call({ method: 'POST', url: `${base}/tokens`, payload: {} }, session.writeHeaders), 401);
        }
        const signInOld = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/auth/sign-in',
          payload: { email: fresh.a.customer.email, password: TEST_PASSWORD },
          remoteAddress: '198.51.100.9',
        });
        expectError(signInOld, 401, 'INVALID_CREDENTIALS');
      });

      it('limits sign-in attempts whatever the X-Forwarded-For header or the spelling of the e-mail', async () => {
        const fresh = await seedCustomerWithAccount(ctx.app);
        const attempt = (email: string, password: string, remoteAddress: string, xff?: string) =>
          ctx.app.inject({
            method: 'POST',
            url: '/api/v1/auth/sign-in',
            headers: xff ? { 'x-forwarded-for': xff } : {},
            payload: { email, password },
            remoteAddress,
          });
        for (let i = 0; i < 10; i++) {
          const res = await attempt(`nobody${i}@example.com`, 'wrong-password', '203.0.113.50', `192.0.2.${i + 1}`);
          expect(res.statusCode).toBe(401);
        }
        expectError(await attempt('nobody@example.com', 'wrong-password', '203.0.113.50', '192.0.2.99'), 429, 'RATE_LIMITED');

        const email = fresh.customer.email;
        const spellings = [email, email.toUpperCase(), ` ${email}`, `${email} `, email.replace(/^./, (c) => c.toUpperCase())];
        // The e-mail's own limit, from many addresses (each under its own), however the e-mail is spelt.
        for (let i = 0; i < SIGN_IN_FAILURES_PER_EMAIL; i++) {
          const res = await attempt(spellings[i % spellings.length], 'wrong-password', `198.18.${Math.floor(i / 5)}.${i % 5}`);
          expect(res.statusCode).toBe(401);
        }
        const right = await attempt(email, TEST_PASSWORD, '203.0.113.200');
        expectError(right, 429, 'RATE_LIMITED');
        expect(right.headers['set-cookie']).toBeUndefined();
      });
    });

    // Malformed input: always a clear 4xx, never a 500 or a change

    describe('malformed input', () => {
      const base = () => `/api/v1/accounts/${w.a.account.name}`;

      it('refuses sort keys that are not columns, prototype keys included (400 INVALID_SORT)', async () => {
        for (const sort of [
          'constructor',
          '__proto__',
          '-toString',
          '+valueOf',
          'hasOwnProperty',
          'created_at',
          'id; drop table outgoing',
          '-',
        ]) {
          for (const path of ['/outgoing', '/outgoing.csv', '/outgoing.jsonl']) {
            const res = await call({ url: `${base()}${path}?sort=${encodeURIComponent(sort)}` }, w.a.auth);
            expectError(res, 400, 'INVALID_SORT');
          }
        }
        const deleted = await call(
          { method: 'POST', url: `${base()}/outgoing/delete`, payload: { filter: { sort: 'constructor' } } },
          w.a.auth,
        );
        expectError(deleted, 400, 'VALIDATION_FAILED');
      });

      it('answers 4xx, never 500, for message, job and token ids beyond what the database holds', async () => {
        const before = await snapshot(ctx);
        const huge = [MISSING, '9223372036854775808', '9007199254740993', '1e30', '1e999', '-1e999'];
        for (const id of huge) {
          for (const req of [
            { url: `${base()}/outgoing/${id}` },
            { method: 'DELETE' as const, url: `${base()}/outgoing/${id}` },
            { url: `${base()}/outgoing/delete-jobs/${id}` },
          ]) {
            expectNoServerError(await call(req, w.a.auth));
          }
          expectNoServerError(await call({ method: 'DELETE', url: `${base()}/tokens/${id}` }, w.sa.writeHeaders));
        }
        for (const ids of [[1e20], [2 ** 63], [Number.MAX_VALUE], [2 ** 53 + 2], ['1e999'], ['-1e999']]) {
          expectNoServerError(await call({ method: 'POST', url: `${base()}/outgoing/delete`, payload: { ids } }, w.a.auth));
          expectNoServerError(await call({ method: 'POST', url: `${base()}/outgoing/redact`, payload: { ids } }, w.a.auth));
        }
        expect(await snapshot(ctx)).toEqual(before);
      });

      it('answers 4xx, never 500, for a limit written as 1e999 (read as Infinity)', async () => {
        for (const limit of ['1e999', '-1e999']) {
          for (const path of ['/deletions', '/outgoing', '/credit-changes', '/outgoing.csv', '/outgoing.jsonl']) {
            expectNoServerError(await call({ url: `${base()}${path}?limit=${limit}` }, w.a.auth));
          }
        }
      });

      it('refuses periods, quotas and day limits written as 1e999, and sends nothing', async () => {
        const before = await snapshot(ctx);
        const job = { message: 'x', receivers: ['+33612345678'], sender: 'ShopA' };
        for (const extra of [
          { differedPeriod: '1e999' },
          { differedPeriod: '-1e999' },
          { validityPeriod: '1e999' },
          { validityPeriod: '-1e999' },
          { validityPeriod: 0 },
          { differedPeriod: -1 },
        ]) {
          expectError(await call({ method: 'POST', url: `${base()}/jobs`, payload: { ...job, ...extra } }, w.a.auth), 400);
        }
        expectError(await call({ method: 'POST', url: `${base()}/users`, payload: { login: 'infinite', quota: '1e999' } }, w.a.auth), 400);
        expectError(await call({ method: 'PATCH', url: `${base()}/users/bob`, payload: { quota: '-1e999' } }, w.a.auth), 400);
        for (const days of ['1e999', '-1e999', 1e9, 0, 1.5, true, '30']) {
          expectError(await call({ method: 'PATCH', url: base(), payload: { retentionDays: days } }, w.sa.writeHeaders), 400);
        }
        expect(await snapshot(ctx)).toEqual(before);
      });

      it('refuses ids that are negative, zero, fractional or not numbers; 10,001 ids; 1,001 ids in a filter', async () => {
        const before = await snapshot(ctx);
        for (const ids of [[-1], [0], [1.5], ['abc'], [null], [{}], [[w.ids.alice, w.ids.bob]], [], 'all', { $gt: 0 }]) {
          for (const path of ['/outgoing/delete', '/outgoing/redact']) {
            expectError(await call({ method: 'POST', url: `${base()}${path}`, payload: { ids } }, w.a.auth), 400);
          }
        }
        for (const ids of ['-1', '0', '1.5', 'abc', '1e3', '0x10', ',', ' ', '1;2', '99999999999999999']) {
          expectError(await call({ url: `${base()}/outgoing?ids=${encodeURIComponent(ids)}` }, w.a.auth), 400);
          expectError(await call({ method: 'POST', url: `${base()}/outgoing/delete`, payload: { filter: { ids: [ids] } } }, w.a.auth), 400);
        }
        const many = Array.from({ length: 10_001 }, (_, i) => i + 1);
        for (const path of ['/outgoing/delete', '/outgoing/redact']) {
          expectError(await call({ method: 'POST', url: `${base()}${path}`, payload: { ids: many } }, w.a.auth), 400, 'TOO_MANY_IDS');
        }
        const tooMany = many.slice(0, 1001).join(',');
        expectError(await call({ url: `${base()}/outgoing?ids=${tooMany}` }, w.a.auth), 400, 'TOO_MANY_IDS');
        expectError(
          await call({ method: 'POST', url: `${base()}/outgoing/delete`, payload: { filter: { ids: [tooMany] } } }, w.a.auth),
          400,
          'TOO_MANY_IDS',
        );
        expect(await snapshot(ctx)).toEqual(before);
      });

      it('reads SQL-like and LIKE-wildcard filters as plain values', async () => {
        const before = await snapshot(ctx);
        const sqlish = ["' OR '1'='1", "x'; DELETE FROM outgoing; --", '%', '_', '\\', '"', '*', 'NEAR', 'a" OR "b', '%%%', '\\%'];
        for (const value of sqlish) {
          for (const name of ['sender', 'tag', 'q', 'user']) {
            const res = await call({ url: `${base()}/outgoing?${name}=${encodeURIComponent(value)}` }, w.a.auth);
            expect(res.statusCode, `${name}=${value}`).toBe(200);
            expect(res.json().data, `${name}=${value}`).toEqual([]);
            const count = await call({ url: `${base()}/outgoing/count?${name}=${encodeURIComponent(value)}` }, w.a.auth);
            expect(count.json().total).toBe(0);
          }
          const del = await call(
            { method: 'POST', url: `${base()}/outgoing/delete`, payload: { filter: { q: value, sender: value } } },
            w.a.auth,
          );
          expect(del.json()).toEqual({ deleted: 0 });
          expectError(await call({ url: `${base()}/outgoing?receiver=${encodeURIComponent(value)}` }, w.a.auth), 400, 'INVALID_FILTER');
        }
        expect(await snapshot(ctx)).toEqual(before);
      });

      it('refuses filters given as arrays, objects, prototype keys, unknown names or huge values', async () => {
        const before = await snapshot(ctx);
        for (const query of [
          'sender=a&sender=b',
          'user=alice&user=bob',
          'q=a&q=b',
          '__proto__=1',
          '__proto__[polluted]=1',
          'constructor[prototype][polluted]=1',
          'polluted=1',
          'user[$ne]=x',
          `q=${'x'.repeat(10_000)}`,
          `sender=${'x'.repeat(501)}`,
          'from=0000-00-00',
          'from=2024-13-40',
          'from=999999-01-01',
          'from=2024-02-01&to=2024-01-01',
          'status=sent,hacked',
          'channel=api%27--',
          'limit=0',
          'limit=1001',
          'limit=1e9',
          'cursor=%00',
        ]) {
          const res = await call({ url: `${base()}/outgoing?${query}` }, w.a.auth);
          expect(res.statusCode, query).toBe(400);
          expectError(res, 400);
        }
        for (const filter of [
          { user: { $ne: 'x' } },
          { sender: ['a', 'b'] },
          { ids: [{ $gt: 0 }] },
          { ids: [] },
          { __scopeUser: 'bob' },
          { constructor: { prototype: { polluted: 1 } } },
          { q: 'x'.repeat(10_000) },
          { status: 'pending,unknown' },
          'everything',
          [],
          null,
        ]) {
          const res = await call({ method: 'POST', url: `${base()}/outgoing/delete`, payload: { filter } }, w.a.auth);
          expectError(res, 400);
        }
        for (const raw of [
          '{"__proto__":{"polluted":1},"ids":[1]}',
          '{"constructor":{"prototype":{"polluted":1}},"ids":[1]}',
          '{"ids":[1],"ids":[2]',
        ]) {
          const res = await ctx.app.inject({
            method: 'POST',
            url: `${base()}/outgoing/delete`,
            headers: { ...w.a.auth, 'content-type': 'application/json' },
            payload: raw,
          });
          expectError(res, 400);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(await snapshot(ctx)).toEqual(before);
      });

      it('refuses NUL characters in the path, the query and the body', async () => {
        const before = await snapshot(ctx);
        expectError(await call({ url: `${base()}/outgoing?q=a%00b` }, w.a.auth), 400, 'VALIDATION_FAILED');
        expectError(await call({ url: `/api/v1/accounts/${w.a.account.name}%00/outgoing` }, w.a.auth), 400);
        expectError(
          await call({ method: 'POST', url: `${base()}/outgoing/delete`, payload: { filter: { sender: 'a\u0000' } } }, w.a.auth),
          400,
          'VALIDATION_FAILED',
        );
        expectError(
          await call(
            { method: 'POST', url: `${base()}/jobs`, payload: { message: 'a\u0000', receivers: ['+33612345678'], sender: 'ShopA' } },
            w.a.auth,
          ),
          400,
          'VALIDATION_FAILED',
        );
        expect(await snapshot(ctx)).toEqual(before);
      });

      it('refuses forged cursors (other types or values, another query, another scope) with 400, never 500', async () => {
        const pageOf = async (query: string, headers: Headers) =>
          (await call({ url: `${base()}/outgoing?limit=1&${query}` }, headers)).json();
        for (const sort of ['date', '+date', 'sender', '-receiver', 'status', 'user']) {
          const cursor = (await pageOf(`sort=${sort}`, w.a.auth)).nextCursor as string;
          expect(cursor).toEqual(expect.any(String));
          const [way, , id, fingerprint] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, unknown, number, string];
          for (const value of ['x', '', 1e300, -1e300, 1.5, 2 ** 64, "' OR 1=1 --", '1e400']) {
            for (const cursorId of [id, -1, 0]) {
              const forged = Buffer.from(JSON.stringify([way, value, cursorId, fingerprint])).toString('base64url');
              expectNoServerError(await call({ url: `${base()}/outgoing?limit=1&sort=${sort}&cursor=${forged}` }, w.a.auth));
            }
          }
          for (const parts of [
            [way, 1, 2 ** 60, fingerprint],
            [way, 1, 1.5, fingerprint],
            [way, 1, '1', fingerprint],
            [way, {}, id, fingerprint],
            [way, [1], id, fingerprint],
            ['x', 1, id, fingerprint],
            [way, 1, id, fingerprint, 'extra'],
          ]) {
            const forged = Buffer.from(JSON.stringify(parts)).toString('base64url');
            expectError(await call({ url: `${base()}/outgoing?limit=1&sort=${sort}&cursor=${forged}` }, w.a.auth), 400, 'INVALID_CURSOR');
          }
          // The cursor of one query used with another, or by a token of another scope.
          expectError(
            await call({ url: `${base()}/outgoing?limit=1&sort=${sort}&user=bob&cursor=${cursor}` }, w.a.auth),
            400,
            'INVALID_CURSOR',
          );
          expectError(await call({ url: `${base()}/outgoing?limit=1&sort=${sort}&cursor=${cursor}` }, w.alice), 400, 'INVALID_CURSOR');
        }
        for (const raw of ['%00', 'not-a-cursor!', 'W10', 'bnVsbA', 'e30', 'x'.repeat(3000)]) {
          expectError(await call({ url: `${base()}/outgoing?cursor=${raw}` }, w.a.auth), 400);
        }
      });
    });

    // Credits

    describe('credits', () => {
      it('gives back the credits of a pending message once, however many deletions race for it', async () => {
        const fresh = await world();
        const base = `/api/v1/accounts/${fresh.a.account.name}`;
        const creditsOf = async () => Number((await call({ url: base }, fresh.a.auth)).json().credits);
        const refundsPerMessage: number[] = [];
        const auditsPerMessage: number[] = [];
        // Several rounds: each sends one message (1 credit), then 24 deletions of it race.
        for (let round = 0; round < 5; round++) {
          const sent = await call(
            {
              method: 'POST',
              url: `${base}/jobs`,
              payload: { message: `hello ${round}`, receivers: ['+33612345678'], sender: 'ShopA', differedPeriod: 600 },
            },
            fresh.a.auth,
          );
          expect(sent.statusCode).toBe(200);
          const [id] = sent.json().ids as number[];
          if (round === 0) expect(await creditsOf()).toBe(99);
          const results = await Promise.all(
            Array.from({ length: 24 }, (_, i) =>
              i % 2 === 0
                ? call({ method: 'DELETE', url: `${base}/outgoing/${id}` }, fresh.a.auth)
                : call({ method: 'POST', url: `${base}/outgoing/delete`, payload: { ids: [id] } }, fresh.a.auth),
            ),
          );
          for (const res of results) expectNoServerError(res);
          refundsPerMessage.push(
            results
              .map((res) => (res.statusCode === 204 ? 1 : res.statusCode === 200 ? Number(res.json().refundedCredits) : 0))
              .reduce((x, y) => x + y, 0),
          );
          const audit = (await call({ url: `${base}/deletions` }, fresh.a.auth)).json().data as { ids: number[] | null }[];
          auditsPerMessage.push(audit.filter((e) => e.ids?.includes(id)).length);
        }
        expect(refundsPerMessage).toEqual([1, 1, 1, 1, 1]);
        expect(await creditsOf()).toBe(100);
        expect(auditsPerMessage).toEqual([1, 1, 1, 1, 1]);
      });
    });

    // (f) data crafted to hurt someone reading it

    describe('data crafted to hurt its reader', () => {
      const crafted = [
        { sender: '=cmd', receiver: '+33612345678', message: '=1+1' },
        { sender: '@SUM(1)', receiver: '+336XXXXXX78', message: '+SUM(A1)' },
        { sender: '-', receiver: '=2+5', message: '-2+3' },
        { sender: '+33612345678', receiver: '+33 6 12 34 56 78', message: '@cmd|calc' },
        { sender: 'OVH', receiver: '+33612345679', message: '\t=1' },
        { sender: 'OVH', receiver: '+33612345670', message: '\r=1' },
        { sender: 'OVH', receiver: '+33612345671', message: '=HYPERLINK("http://evil.example";"x")' },
        { sender: 'OVH', receiver: '+33612345672', message: '-12' },
        { sender: 'OVH', receiver: '+33612345673', message: '-1\n=cmd' },
        { sender: 'OVH', receiver: '+33612345674', message: '+1\n' },
        { sender: 'OVH', receiver: '+33612345675', message: 'Mon\nmessage; "ok"' },
        { sender: 'OVH', receiver: '+33612345676', message: '"}\n{"id":1,"message":"forged"}' },
        { sender: 'OVH', receiver: '+33612345677', message: 'line\u2028sep\u2029para\r\nend' },
        { sender: 'OVH', receiver: '+33612345680', message: '<script>alert(1)</script><img src=x onerror=alert(1)>' },
      ];
      /** What a safe cell holds: a leading ' before a formula start, unless a plain number. */
      const safe = (v: string) => (/^[=+\-@\t\r]/.test(v) && !/^[+-]?\d[\dxX ]*$/.test(v) ? `'${v}` : v);
      let name: string;
      let auth: Headers;

      beforeAll(async () => {
        const s = await seedCustomerWithAccount(ctx.app);
        name = s.account.name;
        auth = s.auth;
        secrets.push(s.token);
        await insertOutgoing(
          ctx.database,
          crafted.map((c, i) =>
            buildOutgoing({
              account_id: s.account.id,
              ...c,
              tag: i === 0 ? '=tag()' : '',
              created_at: Date.UTC(2024, 0, 1, 12) + i * 1000,
            }),
          ),
        );
      });

      it('neutralises formulas in every CSV export, and leaves phone numbers as they are', async () => {
        const newestFirst = [...crafted].reverse();
        const expected = newestFirst.map((c) => [safe(c.sender), safe(c.receiver), safe(c.message)]);
        for (const query of ['', '?all=true', '?limit=100', '?all=true&sort=%2Bdate', '?q=e']) {
          const res = await call({ url: `/api/v1/accounts/${name}/outgoing.csv${query}` }, auth);
          expect(res.statusCode).toBe(200);
          expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
          expect(String(res.headers['content-disposition'])).toMatch(/^attachment; filename="[\w.-]+\.csv"$/);
          const [header, ...rows] = parseCsv(res.body);
          expect(header).toEqual(['date', 'sender', 'receiver', 'message', 'status']);
          const got = rows.map((r) => [r[1], r[2], r[3]]);
          if (query === '?all=true&sort=%2Bdate') expect(got).toEqual([...expected].reverse());
          else if (query === '?q=e') expect(got).toEqual(expected.filter((e) => e[2].toLowerCase().includes('e')));
          else expect(got).toEqual(expected);
        }
        const detailed = await call({ url: `/api/v1/accounts/${name}/outgoing.csv?format=detailed&all=true` }, auth);
        const [header, ...rows] = parseCsv(detailed.body);
        const at = (column: string) => header.indexOf(column);
        expect(rows.map((r) => [r[at('sender')], r[at('receiver')], r[at('message')]])).toEqual(expected);
        expect(rows[rows.length - 1][at('tag')]).toBe("'=tag()");
        for (const r of rows) for (const cell of r) expect(/^[=+\-@\t\r]/.test(cell) && !/^[+-]?\d[\dxX ]*$/.test(cell)).toBe(false);
      });

      it('writes JSON lines that a message can neither split nor forge, and the same texts as the API', async () => {
        const res = await call({ url: `/api/v1/accounts/${name}/outgoing.jsonl` }, auth);
        expect(res.statusCode).toBe(200);
        expect(String(res.headers['content-type'])).toMatch(/^application\/x-ndjson/);
        expect(res.body.endsWith('\n')).toBe(true);
        const lines = res.body.slice(0, -1).split('\n');
        expect(lines).toHaveLength(crafted.length);
        for (const line of lines) expect(line).not.toMatch(/\r/);
        const records = lines.map((l) => JSON.parse(l) as { message: string; receiver: string; sender: string });
        expect(records.map((r) => [r.sender, r.receiver, r.message])).toEqual(
          [...crafted].reverse().map((c) => [c.sender, c.receiver, c.message]),
        );
        // A reader that splits on every Unicode line break (Python's splitlines) may fail on a piece, but
        // never reads a record the server did not write.
        for (const piece of splitOnEveryLineBreak(res.body)) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(piece);
          } catch {
            continue;
          }
          if (typeof parsed === 'object' && parsed !== null) expect(records).toContainEqual(parsed);
        }
        const api = await call({ url: `/api/v1/accounts/${name}/outgoing?limit=100` }, auth);
        expect(String(api.headers['content-type'])).toMatch(/^application\/json/);
        expect(api.json().data.map((r: { message: string }) => r.message)).toEqual(records.map((r) => r.message));
      });

      it('serves the Manager with a CSP that allows no inline or foreign script, and never echoes the address', async () => {
        const root = await call({ url: '/' });
        for (const url of [
          '/accounts/%3Cscript%3Ealert(1)%3C%2Fscript%3E/history',
          '/accounts/x/history?sort="><script>alert(1)</script>',
          '/ovh/validate',
        ]) {
          const res = await call({ url });
          expect(res.statusCode).toBe(200);
          expect(res.body).toBe(root.body);
          expect(res.body).not.toContain('alert(1)');
        }
        expect(root.statusCode).toBe(200);
        const csp = String(root.headers['content-security-policy']);
        expect(csp).toContain("default-src 'self'");
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).toContain("object-src 'none'");
        expect(csp).toContain("base-uri 'none'");
        expect(csp).not.toMatch(/script-src[^;]*('unsafe-inline'|'unsafe-eval'|\*|https?:|data:)/);
        expect(root.headers['x-content-type-options']).toBe('nosniff');
        // Every script of the page is a file of its own (the CSP allows no inline one).
        const scripts = root.body.match(/<script\b[^>]*>/g) ?? [];
        expect(scripts.length).toBeGreaterThan(0);
        for (const tag of scripts) expect(tag).toMatch(/\ssrc="\/[^"]+"/);
        expect(root.body.replace(/<script\b[^>]*><\/script>/g, '')).not.toMatch(/<script/);
      });

      it('gives the Manager page its CSP whatever the address it is loaded from (/index.html too)', async () => {
        for (const url of ['/index.html', '/INDEX.HTML', '/accounts/x/index.html']) {
          const res = await call({ url });
          if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/html')) continue;
          expect(String(res.headers['content-security-policy']), url).toContain("frame-ancestors 'none'");
          expect(String(res.headers['content-security-policy']), url).toContain("default-src 'self'");
        }
      });

      it('renders message text as text in the Manager (no HTML sinks in its sources)', () => {
        const web = fileURLToPath(new URL('../src/web/', import.meta.url));
        const files: string[] = [];
        const walk = (dir: string) => {
          for (const entry of readdirSync(dir)) {
            const path = join(dir, entry);
            if (statSync(path).isDirectory()) walk(path);
            else if (/\.(tsx?|js)$/.test(entry) && !/\.test\./.test(entry)) files.push(path);
          }
        };
        walk(web);
        expect(files.length).toBeGreaterThan(5);
        for (const file of files) {
          const text = readFileSync(file, 'utf8');
          expect(text, file).not.toMatch(
            /dangerouslySetInnerHTML|\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write\(|new Function\(|\beval\(/,
          );
        }
      });
    });

    // Last: nothing above ever carried a secret

    it('never answered a token secret, a password or a password hash', () => {
      expect(answers.length).toBeGreaterThan(100);
      const secretParts = secrets.map((t) => t.split('_').slice(2).join('_'));
      for (const answer of answers) {
        expect(answer).not.toMatch(/\$argon2/);
        expect(answer).not.toContain(TEST_PASSWORD);
        expect(answer).not.toMatch(/password_hash|passwordHash|secret_hash|secretHash/);
        for (const part of secretParts) expect(answer).not.toContain(part);
      }
    });
  },
  { config: fastAuthConfig },
);
