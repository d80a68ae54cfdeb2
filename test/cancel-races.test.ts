/**
 * Claims of the code that no other test holds to: two cancellations of one pending message at once
 * give its credits back once (OVH's `DELETE /jobs/{id}`, SMPP cancel_sm on several binds, and the two
 * mixed with the deletions of the OVH and native APIs); a consumer key unknown when first used is not
 * remembered as unknown; the SMPP server keeps at most its window of receipts unanswered on a
 * connection, and sends every receipt once.
 *
 * No dispatcher runs here (buildApp starts none): every message stays pending until canceled. The clock
 * stands still unless a test moves it; signatures carry its time.
 */
import smpp from 'smpp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server/app.js';
import type { Account } from '../src/server/modules/accounts/accounts.repository.js';
import { RECENT_READ_TTL_MS, SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import type { Customer } from '../src/server/modules/accounts/customers.repository.js';
import { createCustomersRepository } from '../src/server/modules/accounts/customers.repository.js';
import type { SmsUser } from '../src/server/modules/accounts/sms-users.repository.js';
import { createPasswordHasher, type PasswordHasher, randomUrlSafe, sha256Hex } from '../src/server/modules/auth/password.js';
import { fakeClock, memoryLog, waitFor } from '../src/server/modules/dispatch/dispatch-testing.js';
import { createOvhKeysRepository } from '../src/server/modules/ovh-api/ovh-keys.repository.js';
import { createOvhKeysService } from '../src/server/modules/ovh-api/ovh-keys.service.js';
import { CONSUMER_KEY_LENGTH, CONSUMER_KEY_LOOKUP_LENGTH, randomKey } from '../src/server/modules/ovh-api/ovh-signature.js';
import { type SmppServer, startSmppServer } from '../src/server/modules/smpp/smpp.server.js';
import { describeEachDialectWithApp, TEST_SECRET_KEY, testConfig } from './app.js';
import { bearer, createAccount, createCustomer, createSender, createSmsUser, createToken, signIn } from './factories.js';
import { ledger } from './ledger.js';
import { ALL_RULES, createOvhKeys, type OvhKeys, ovhCall, signedMeRequest } from './ovh.js';
import { closeClients, SmppClient } from './smpp-client.js';

const E = smpp.errors;
const PASSWORD = 'race-pass-2024';
/** The SMPP server's default receipt window (`receiptWindow` in smpp.server.ts): receipts unanswered on one connection. */
const RECEIPT_WINDOW = 10;

/** Stands still unless a test moves it: no cache entry expires by itself. */
const clock = fakeClock();
const seconds = () => Math.floor(clock.now() / 1000);

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** OVH's error body, as its API answers it. */
const ovhNotFound = (id: number) => ({
  class: 'Client::NotFound',
  message: `The requested object (id = ${id}) does not exist`,
  errorCode: 'MESSAGE_NOT_FOUND',
  httpCode: '404 Not Found',
});

/** An SMPP client that answers no deliver_sm until told to (`answer`): what a slow program does. */
async function holdingReceiver(port: number, systemId: string) {
  const client = await SmppClient.open(port);
  client.session.removeAllListeners('deliver_sm');
  const unanswered: smpp.PDU[] = [];
  /** The most receipts it held unanswered at once. */
  const seen = { maxUnanswered: 0 };
  client.session.on('deliver_sm', (pdu: smpp.PDU) => {
    client.delivered.push(pdu);
    unanswered.push(pdu);
    seen.maxUnanswered = Math.max(seen.maxUnanswered, unanswered.length);
  });
  const bound = await client.request('bind_receiver', { system_id: systemId, password: PASSWORD });
  expect(bound.command_status, 'bind_receiver').toBe(E.ESME_ROK);
  return {
    client,
    seen,
    unanswered: () => unanswered.length,
    /** Answers the `count` oldest receipts held (ESME_ROK). */
    answer(count = unanswered.length) {
      for (const pdu of unanswered.splice(0, count)) client.session.send(pdu.response());
    },
  };
}

describeEachDialectWithApp(
  'cancellations at once, unknown consumer keys, the SMPP receipt window',
  (ctx) => {
    let owner: Customer;
    let account: Account;
    let shop: SmsUser;
    let keys: OvhKeys;
    let token: string;
    let server: SmppServer;
    const clients: SmppClient[] = [];

    const call = (method: Method, path: string, options: Parameters<typeof ovhCall>[4] = {}) =>
      ovhCall(ctx.app, keys, method, path, { timestamp: seconds(), ...options });
    /** What a cancellation moves: messages, queue entries, every account's credits, every SMS user's quota. */
    const money = async () => {
      const { outgoing, queued, credits, quotas } = await ledger(ctx.database);
      return { outgoing, queued, credits, quotas };
    };
    const row = (id: number) => ctx.database.db.selectFrom('outgoing').select(['id', 'status']).where('id', '=', id).executeTakeFirst();
    /** The audit entries that name exactly this message. */
    const auditsOf = async (id: number) =>
      (await ctx.database.db.selectFrom('deletion_audit').select(['ids', 'count']).where('account_id', '=', account.id).execute()).filter(
        (a) => a.ids === JSON.stringify([id]),
      );
    /** Pending messages (deferred an hour), one per receiver, sent through OVH's API by the account or as the SMS user `shop`. */
    async function pending(count: number, as: 'account' | 'shop'): Promise<number[]> {
      const path = as === 'account' ? `/sms/${account.name}/jobs` : `/sms/${account.name}/users/shop/jobs`;
      const receivers = Array.from({ length: count }, (_, i) => `+336123${String(40_000 + i).padStart(5, '0')}`);
      const res = await call('POST', path, {
        body: { message: 'Later', receivers, sender: 'MyShop', differedPeriod: 60, noStopClause: true },
      });
      expect(res.statusCode, res.body).toBe(200);
      const { ids } = res.json() as { ids: number[] };
      for (const id of ids) expect(await row(id)).toEqual({ id, status: 'pending' });
      return ids;
    }
    async function bind(mode: 'bind_transmitter' | 'bind_transceiver' | 'bind_receiver', login = 'shop') {
      const c = await SmppClient.open(server.port);
      clients.push(c);
      const resp = await c.request(mode, { system_id: `${account.name}:${login}`, password: PASSWORD });
      expect(resp.command_status, mode).toBe(E.ESME_ROK);
      return c;
    }
    /** A pending message (deferred an hour) submitted over SMPP by `c`: its id. */
    async function submitted(c: SmppClient, n: number): Promise<string> {
      const resp = await c.request('submit_sm', {
        source_addr: 'MyShop',
        destination_addr: `+336123${String(50_000 + n).padStart(5, '0')}`,
        short_message: 'Cancel me',
        schedule_delivery_time: new Date(clock.now() + 3_600_000),
      });
      expect(resp.command_status, 'submit_sm').toBe(E.ESME_ROK);
      return String(resp.message_id);
    }
    /** After a race on `id`: the message gone from the history, audited once. */
    async function expectCanceledOnce(id: number) {
      expect(await row(id)).toBeUndefined();
      const shown = await call('GET', `/sms/${account.name}/outgoing/${id}`);
      expect([shown.statusCode, shown.json()]).toEqual([404, ovhNotFound(id)]);
      expect(await auditsOf(id)).toEqual([{ ids: JSON.stringify([id]), count: 1 }]);
    }

    beforeAll(async () => {
      owner = await createCustomer(ctx.app);
      account = await createAccount(ctx.app, { owner, credits: 1000 });
      await createSender(ctx.app, account, { sender: 'MyShop' });
      shop = await createSmsUser(ctx.app, account, { login: 'shop', password: PASSWORD, quota: 200 });
      await createSmsUser(ctx.app, account, { login: 'late', password: PASSWORD });
      await createSmsUser(ctx.app, account, { login: 'sentinel', password: PASSWORD });
      keys = await createOvhKeys(ctx.app, owner);
      token = await createToken(ctx.app, account);
      server = await startSmppServer({ services: ctx.app.services, log: memoryLog().log, port: 0, host: '127.0.0.1', receiptPollMs: 20 });
    });
    afterEach(async () => {
      await closeClients(clients);
    });
    afterAll(async () => {
      await server?.close();
    });

    describe('two cancellations of one pending message at once', () => {
      it('OVH DELETE /jobs/{id} sent 2 to 8 times at once: one stops the job, the others answer not found; credits and quota back once, one audit', async () => {
        const before = await money();
        const ids = [...(await pending(7, 'account')), ...(await pending(7, 'shop'))];
        const sent = await money();
        expect(sent.credits[account.id]).toBeLessThan(before.credits[account.id]);
        expect(sent.quotas[shop.id]).toBeLessThan(before.quotas[shop.id] as number);
        for (const [i, id] of ids.entries()) {
          const atOnce = 2 + (i % 7);
          const answers = await Promise.all(Array.from({ length: atOnce }, () => call('DELETE', `/sms/${account.name}/jobs/${id}`)));
          const stopped = answers.filter((a) => a.statusCode === 200);
          expect(
            stopped.map((a) => a.body),
            `job ${id}, ${atOnce} at once`,
          ).toEqual(['null']);
          const refused = answers.filter((a) => a.statusCode !== 200);
          expect(
            refused.map((a) => [a.statusCode, a.json()]),
            `job ${id}`,
          ).toEqual(Array(atOnce - 1).fill([404, ovhNotFound(id)]));
          await expectCanceledOnce(id);
        }
        expect((await call('GET', `/sms/${account.name}/jobs`)).json()).toEqual([]);
        expect(await money()).toEqual(before);
      });

      it('all the jobs of an SMS user canceled at once, each twice: every credit and quota unit back once', async () => {
        const before = await money();
        const ids = await pending(12, 'shop');
        const answers = await Promise.all(
          ids.flatMap((id) => [call('DELETE', `/sms/${account.name}/jobs/${id}`), call('DELETE', `/sms/${account.name}/jobs/${id}`)]),
        );
        expect(answers.filter((a) => a.statusCode === 200)).toHaveLength(ids.length);
        expect(answers.filter((a) => a.statusCode === 404)).toHaveLength(ids.length);
        for (const id of ids) await expectCanceledOnce(id);
        expect(await money()).toEqual(before);
      });

      it('cancel_sm on several transmitter and transceiver binds of the SMS user at once: one ESME_ROK, the others ESME_RCANCELFAIL; credits back once', async () => {
        const binds = [
          await bind('bind_transmitter'),
          await bind('bind_transceiver'),
          await bind('bind_transmitter'),
          await bind('bind_transceiver'),
        ];
        const before = await money();
        const ids: string[] = [];
        for (let n = 0; n < 8; n++) ids.push(await submitted(binds[n % binds.length], n));
        for (const [i, id] of ids.entries()) {
          const racing = binds.slice(0, 2 + (i % 3));
          const statuses = await Promise.all(racing.map((c) => c.request('cancel_sm', { message_id: id, source_addr: 'MyShop' })));
          expect(
            statuses.map((s) => s.command_status).sort((a, b) => a - b),
            `message ${id}`,
          ).toEqual([E.ESME_ROK, ...Array(racing.length - 1).fill(E.ESME_RCANCELFAIL)]);
          await expectCanceledOnce(Number(id));
        }
        expect(await money()).toEqual(before);
      });

      it('cancel_sm and a DELETE of the OVH or native API at once: one wins, the other answers not found; credits and quota back once', async () => {
        const c = await bind('bind_transceiver');
        const before = await money();
        const ids: string[] = [];
        for (let n = 0; n < 30; n++) ids.push(await submitted(c, 100 + n));
        const others: { name: string; send: (id: string) => Promise<{ statusCode: number; body: string }>; ok: number }[] = [
          { name: 'OVH DELETE /jobs/{id}', send: (id) => call('DELETE', `/sms/${account.name}/jobs/${id}`), ok: 200 },
          { name: 'OVH DELETE /outgoing/{id}', send: (id) => call('DELETE', `/sms/${account.name}/outgoing/${id}`), ok: 200 },
          {
            name: 'native DELETE /outgoing/{id}',
            send: (id) =>
              ctx.app.inject({ method: 'DELETE', url: `/api/v1/accounts/${account.name}/outgoing/${id}`, headers: bearer(token) }),
            ok: 204,
          },
        ];
        /** Each race that did not end with one winner and the other answering not found. */
        const wrong: string[] = [];
        for (const [i, id] of ids.entries()) {
          const other = others[i % others.length];
          const [cancel, deleted] = await Promise.all([c.request('cancel_sm', { message_id: id }), other.send(id)]);
          const notFound = deleted.statusCode === 404 && JSON.stringify(JSON.parse(deleted.body)).includes('"MESSAGE_NOT_FOUND"');
          const smppWon = cancel.command_status === E.ESME_ROK && notFound;
          const apiWon = cancel.command_status === E.ESME_RCANCELFAIL && deleted.statusCode === other.ok;
          if (!smppWon && !apiWon)
            wrong.push(`message ${id}: cancel_sm ${cancel.command_status}, ${other.name} ${deleted.statusCode} ${deleted.body}`);
          await expectCanceledOnce(Number(id));
        }
        expect(wrong).toEqual([]);
        expect(await money()).toEqual(before);
      });

      it('OVH’s cancel (DELETE /jobs/{id}) and the native delete (DELETE /outgoing/{id}) at once: one wins, the other answers not found, never an error', async () => {
        const before = await money();
        const ids = [...(await pending(20, 'account')), ...(await pending(20, 'shop'))];
        const answers: string[] = [];
        for (const [i, id] of ids.entries()) {
          const cancel = () => call('DELETE', `/sms/${account.name}/jobs/${id}`);
          const remove = () =>
            ctx.app.inject({ method: 'DELETE', url: `/api/v1/accounts/${account.name}/outgoing/${id}`, headers: bearer(token) });
          const [canceled, deleted] =
            i % 2 === 0 ? await Promise.all([cancel(), remove()]) : (await Promise.all([remove(), cancel()])).reverse();
          answers.push(`${canceled.statusCode} ${deleted.statusCode}`);
          await expectCanceledOnce(id);
        }
        // The OVH cancel stopped it (200) and the delete found nothing (404), or the delete took it (204) and the cancel found nothing.
        expect(answers.filter((a) => a !== '200 404' && a !== '404 204')).toEqual([]);
        expect(await money()).toEqual(before);
      });
    });

    describe('consumer keys unknown when first used', () => {
      /** `/1.0/me` signed with `consumerKey` on `app`. */
      const me = (app: App, consumerKey: string) => ovhCall(app, { ...keys, consumerKey }, 'GET', '/me', { timestamp: seconds() });

      it('a consumer key refused as unknown works on the very next request once it exists (made by another process), the clock standing still', async () => {
        const consumerKey = randomKey(CONSUMER_KEY_LENGTH);
        // Refused, once and several times at once (one lookup in flight shared by all).
        const first = await me(ctx.app, consumerKey);
        expect([first.statusCode, first.json()]).toEqual([
          403,
          {
            class: 'Client::Forbidden',
            message: 'This credential does not exist',
            errorCode: 'INVALID_CREDENTIAL',
            httpCode: '403 Forbidden',
          },
        ]);
        const atOnce = await Promise.all(Array.from({ length: 5 }, () => me(ctx.app, consumerKey)));
        expect(atOnce.map((r) => r.json().errorCode)).toEqual(Array(5).fill('INVALID_CREDENTIAL'));

        // The key is made where this process does not see it (`relais ovh-key create`, another Relais on the database).
        const now = clock.now();
        await createOvhKeysRepository(ctx.database.db).insertCredential({
          applicationId: keys.applicationId,
          customerId: owner.id,
          lookup: consumerKey.slice(0, CONSUMER_KEY_LOOKUP_LENGTH),
          keyHash: await createPasswordHasher({ fast: true }).hash(consumerKey),
          validationHash: sha256Hex(randomUrlSafe()),
          status: 'validated',
          rules: ALL_RULES,
          allowedIps: null,
          redirection: null,
          createdAt: now,
          validatedAt: now,
          expiresAt: null,
        });
        const next = await me(ctx.app, consumerKey);
        expect([next.statusCode, next.json().email]).toEqual([200, owner.email]);
      });

      it('a consumer key waiting for its validation, validated by another process, works here once its row is read again', async () => {
        const second = await buildApp({ config: testConfig(), database: ctx.database, clock });
        try {
          await second.ready();
          const asked = await ctx.app.inject({
            method: 'POST',
            url: '/1.0/auth/credential',
            headers: { 'x-ovh-application': keys.appKey, 'content-type': 'application/json' },
            payload: JSON.stringify({ accessRules: [{ method: 'GET', path: '/*' }] }),
          });
          expect(asked.statusCode, asked.body).toBe(200);
          const { consumerKey, validationUrl } = asked.json() as { consumerKey: string; validationUrl: string };
          const waiting = await me(ctx.app, consumerKey);
          expect([waiting.statusCode, waiting.json().message]).toEqual([403, 'This credential is not valid: it waits for its validation']);

          // Validated in the Manager served by the other process.
          const session = await signIn(second, owner.email);
          const credentialToken = new URL(validationUrl).searchParams.get('credentialToken') ?? '';
          const validated = await second.inject({
            method: 'POST',
            url: `/api/v1/ovh/credential-requests/${credentialToken}/validate`,
            headers: session.writeHeaders,
            payload: { validity: null },
          });
          expect(validated.statusCode, validated.body).toBe(200);
          expect((await me(second, consumerKey)).statusCode).toBe(200);

          clock.advance(RECENT_READ_TTL_MS);
          const here = await me(ctx.app, consumerKey);
          expect([here.statusCode, here.json().email]).toEqual([200, owner.email]);
        } finally {
          await second.close();
        }
      });

      it('unknown consumer keys push no verified key out of a full cache: argon2 runs once for a good key', async () => {
        // The service on this database with a hasher that counts its verifications per key (and costs nothing).
        const verifications = new Map<string, number>();
        const hasher: PasswordHasher = {
          hash: async (secret) => `test$${sha256Hex(secret)}`,
          verify: async (hash, secret) => {
            verifications.set(secret, (verifications.get(secret) ?? 0) + 1);
            return hash === `test$${sha256Hex(secret)}`;
          },
          verifyDummy: async () => {},
        };
        const service = createOvhKeysService({
          keys: createOvhKeysRepository(ctx.database.db),
          customers: createCustomersRepository(ctx.database.db),
          hasher,
          clock,
          serverSecret: TEST_SECRET_KEY,
        });
        const { application, appSecret } = await service.createApplication(SYSTEM_ACTOR, { name: 'cache', ownerEmail: owner.email });
        const good = await service.createCredential(SYSTEM_ACTOR, {
          applicationId: application.id,
          ownerEmail: owner.email,
          rules: ALL_RULES,
          validity: null,
        });
        const signed = (consumerKey: string) => signedMeRequest({ appKey: application.appKey, appSecret, consumerKey }, seconds());
        const refused = async (consumerKey: string) => {
          await expect(service.authenticate(signed(consumerKey))).rejects.toMatchObject({ code: 'OVH_INVALID_CREDENTIAL' });
        };
        expect(await service.authenticate(signed(good.consumerKey))).toMatchObject({ kind: 'ovh', credentialId: good.credentialId });
        expect(verifications.get(good.consumerKey)).toBe(1);

        // The cache filled (10,000 keys) behind the good key with keys that cost a verification: the good
        // key's first characters and another end (kept, so that argon2 does not run for them again).
        const lookup = good.consumerKey.slice(0, CONSUMER_KEY_LOOKUP_LENGTH);
        const wrong = Array.from({ length: 9_999 }, () => `${lookup}${randomKey(CONSUMER_KEY_LENGTH - CONSUMER_KEY_LOOKUP_LENGTH)}`);
        for (let i = 0; i < wrong.length; i += 500) await Promise.all(wrong.slice(i, i + 500).map(refused));
        expect(await service.authenticate(signed(good.consumerKey))).toMatchObject({ credentialId: good.credentialId });
        expect(verifications.get(good.consumerKey)).toBe(1);
        // Again behind them: the good key is now the least recently used.
        for (let i = 0; i < wrong.length; i += 500) await Promise.all(wrong.slice(i, i + 500).map(refused));
        expect(wrong.every((k) => verifications.get(k) === 1)).toBe(true);

        // Random keys no row starts with: refused without argon2, and (as their comment says) not kept.
        for (let i = 0; i < 20; i++) await refused(randomKey(CONSUMER_KEY_LENGTH));
        expect(await service.authenticate(signed(good.consumerKey))).toMatchObject({ credentialId: good.credentialId });
        expect(verifications.get(good.consumerKey), 'argon2 verifications of the good key').toBe(1);
      });
    });

    describe('the SMPP receipt window', () => {
      let nextOutgoingId = 900_000;
      /** Receipts owed to `userId` (as the dispatcher writes them when messages become final): their message ids. */
      async function owe(userId: number, count: number): Promise<string[]> {
        const now = clock.now();
        const rows = Array.from({ length: count }, () => {
          const outgoingId = ++nextOutgoingId;
          return {
            outgoing_id: outgoingId,
            account_id: account.id,
            user_id: userId,
            params: JSON.stringify({
              id: String(outgoingId),
              receiver: '+33612345678',
              sender: 'MyShop',
              status: 'delivered',
              submittedAt: now,
              doneAt: now,
              errorCode: null,
              text: 'Hello',
            }),
            created_at: now,
            next_attempt_at: now,
            attempts: 0,
            lease_owner: null,
            lease_until: 0,
          };
        });
        await ctx.database.db.insertInto('smpp_receipts').values(rows).execute();
        return rows.map((r) => String(r.outgoing_id));
      }
      const owed = async (userId: number) =>
        Number(
          (
            await ctx.database.db
              .selectFrom('smpp_receipts')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('user_id', '=', userId)
              .executeTakeFirstOrThrow()
          ).n,
        );

      it(`sends at most ${RECEIPT_WINDOW} receipts unanswered on a connection; answering lets the rest come, each once`, async () => {
        const late = await ctx.app.services.smsUsers.get(SYSTEM_ACTOR, account.name, 'late');
        const sentinelUser = await ctx.app.services.smsUsers.get(SYSTEM_ACTOR, account.name, 'sentinel');
        const expected = await owe(late.id, 27);
        const held = await holdingReceiver(server.port, `${account.name}:late`);
        clients.push(held.client);
        const sentinel = await bind('bind_receiver', 'sentinel');
        /**
         * Returns once the server has looked for receipts, in a whole pass over its receivers, after the
         * call, and everything it wrote to the held connection meanwhile has been read. Passes run one
         * at a time, each claiming a user's receipts once: the third sentinel receipt, owed after the
         * second arrived, is sent by a pass after the one that sent the second, which began after the
         * call; an enquire_link answered on the held connection then follows what that pass wrote there.
         */
        const settled = async () => {
          for (let i = 0; i < 3; i++) {
            const [id] = await owe(sentinelUser.id, 1);
            await waitFor(() => sentinel.delivered.some((p) => p.receipted_message_id === id), `sentinel receipt ${id}`);
          }
          expect((await held.client.request('enquire_link')).command_status).toBe(E.ESME_ROK);
        };
        const got = () => held.client.delivered.map((p) => String(p.receipted_message_id));

        await waitFor(() => held.unanswered() >= RECEIPT_WINDOW, 'a full window');
        await settled();
        expect(got()).toEqual(expected.slice(0, RECEIPT_WINDOW));

        // Three answered: three more, the window full again.
        held.answer(3);
        await waitFor(() => got().length >= RECEIPT_WINDOW + 3, 'three more receipts');
        await settled();
        expect([got().length, held.unanswered()]).toEqual([RECEIPT_WINDOW + 3, RECEIPT_WINDOW]);

        // Everything answered as it comes: the rest arrives.
        while (got().length < expected.length || held.unanswered() > 0) {
          held.answer();
          await waitFor(() => held.unanswered() > 0 || got().length === expected.length, 'the next receipts');
        }
        await settled();
        expect([...got()].sort()).toEqual([...expected].sort());
        expect(new Set(got()).size).toBe(expected.length);
        expect(held.seen.maxUnanswered).toBe(RECEIPT_WINDOW);
        await waitFor(async () => (await owed(late.id)) === 0, 'the answered receipts to go');
      });
    });
  },
  { clock },
);
