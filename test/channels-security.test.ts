/**
 * Security review of the channels programs use with an SMS user's login and password: http2sms,
 * mail2sms, the SMPP server, and what they share (authentication, sending, callbacks).
 *
 * Each test is an attack, asserting the SAFE outcome: the right refusal, and nothing written or
 * debited (`ledger`). The attackers: (a) someone who knows nothing, (b) an SMS user of another
 * account, (c) another SMS user of the same account, (d) an SMS user with IP restrictions connecting
 * from elsewhere, (e) someone sending arbitrary bytes.
 */
import { randomInt } from 'node:crypto';
import http from 'node:http';
import { type AddressInfo, createConnection } from 'node:net';
import smpp from 'smpp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/server/clock.js';
import { AppError } from '../src/server/errors.js';
import type { Account } from '../src/server/modules/accounts/accounts.repository.js';
import { accountAccessFor, RECENT_READ_TTL_MS, SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { createSmsUsersRepository } from '../src/server/modules/accounts/sms-users.repository.js';
import { checkCallbackUrl, createSmsUsersService } from '../src/server/modules/accounts/sms-users.service.js';
import { createPasswordHasher, type PasswordHasher } from '../src/server/modules/auth/password.js';
import { isPrivateAddress } from '../src/server/modules/dispatch/callback-address.js';
import { createCallbackClient } from '../src/server/modules/dispatch/callbacks.service.js';
import { fakeClock, silentLog, startSimulatorDispatching, waitFor } from '../src/server/modules/dispatch/dispatch-testing.js';
import type { Dispatching } from '../src/server/modules/dispatch/dispatching.js';
import { type Mail2SmsServer, startMail2Sms } from '../src/server/modules/mail2sms/mail2sms.server.js';
import { MAX_HELD_PARTS, type SmppServer, startSmppServer } from '../src/server/modules/smpp/smpp.server.js';
import { describeEachDialectWithApp } from './app.js';
import { createAccount, createSender, createSmsUser } from './factories.js';
import { ledger } from './ledger.js';
import { SmppClient as Esme } from './smpp-client.js';
import { type MailOptions, mailVia } from './smtp-client.js';

const E = smpp.errors;
const PATH = '/cgi-bin/sms/http2sms.cgi';
const AUTH_FAILURES_PER_MINUTE = 5;
const PASSWORD = 'victim-pass-2024';
const EVIL_PASSWORD = 'mallory-pass-2024';

let lastIp = randomInt(0, 1000);
/** An address of its own for each request or test, so that per-address limits never meet. */
const freshIp = () => {
  lastIp++;
  return `10.${77 + (lastIp >> 16)}.${(lastIp >> 8) & 255}.${lastIp & 255}`;
};

/** Whether `text` holds a C0 or C1 control character (CR, LF, NUL, NEL…). */
const hasControl = (text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f));

/** An RFC 2047 encoded-word carrying any characters (CR, LF, NUL…) in a header. */
const encodedWord = (text: string) => `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;

/** A raw RFC 5322 message. */
function rawMail(headers: Record<string, string>, body: string): string {
  const lines = Object.entries({ From: 'app@example.com', To: 'email2sms@relais.test', ...headers }).map(([k, v]) => `${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}\r\n`;
}

/** A verifying hasher that counts its argon2 verifications (the cost an attacker can time). */
function countingHasher(inner: PasswordHasher) {
  const counter = { verifications: 0 };
  const hasher: PasswordHasher = {
    hash: (secret) => inner.hash(secret),
    verify: async (hash, secret) => {
      counter.verifications++;
      return inner.verify(hash, secret);
    },
    verifyDummy: async (secret) => {
      counter.verifications++;
      return inner.verifyDummy(secret);
    },
  };
  return { hasher, counter };
}

describeEachDialectWithApp(
  'channels under attack',
  (ctx) => {
    /** The victim's account: alice and bob (two SMS users), fenced (IP restricted). */
    let victim: Account;
    /** Another customer's account: mallory. */
    let evil: Account;
    let aliceId: number;
    let bobId: number;
    let malloryId: number;
    const state = () => ledger(ctx.database);
    const outgoingRow = (id: number | string | undefined) =>
      ctx.database.db
        .selectFrom('outgoing')
        .select(['id', 'account_id', 'user_login', 'sender', 'receiver', 'message', 'status'])
        .where('id', '=', Number(id))
        .executeTakeFirst();

    beforeAll(async () => {
      victim = await createAccount(ctx.app, { credits: 1000 });
      await createSender(ctx.app, victim, { sender: 'VictimCo' });
      aliceId = (await createSmsUser(ctx.app, victim, { login: 'alice', password: PASSWORD })).id;
      bobId = (await createSmsUser(ctx.app, victim, { login: 'bob', password: PASSWORD, quota: 5 })).id;
      await createSmsUser(ctx.app, victim, {
        login: 'fenced',
        password: PASSWORD,
        ipRestrictions: ['127.0.0.2/32', '192.0.2.0/24'],
      });
      evil = await createAccount(ctx.app, { credits: 1000 });
      await createSender(ctx.app, evil, { sender: 'EvilCo' });
      malloryId = (await createSmsUser(ctx.app, evil, { login: 'mallory', password: EVIL_PASSWORD })).id;
    });

    // ---------------------------------------------------------------------------------------------
    describe('SMPP', () => {
      let server: SmppServer;
      const esmes: Esme[] = [];
      const open = async (localAddress = '127.0.0.1', port = server.port) => {
        const e = await Esme.open(port, localAddress);
        esmes.push(e);
        return e;
      };
      const bind = async (systemId: string, password: string, mode = 'bind_transceiver', localAddress = '127.0.0.1') => {
        const e = await open(localAddress);
        const resp = await e.request(mode, { system_id: systemId, password });
        expect(resp.command_status, `bind ${systemId}`).toBe(E.ESME_ROK);
        return e;
      };
      const asAlice = (mode?: string) => bind(`${victim.name}:alice`, PASSWORD, mode);
      const asBob = (mode?: string) => bind(`${victim.name}:bob`, PASSWORD, mode);
      const asMallory = (mode?: string) => bind(`${evil.name}:mallory`, EVIL_PASSWORD, mode);
      const later = () => new Date(Date.now() + 3_600_000);

      beforeAll(async () => {
        server = await startSmppServer({
          services: ctx.app.services,
          log: silentLog,
          port: 0,
          host: '127.0.0.1',
          receiptPollMs: 20,
          partsTimeoutMs: 300,
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

      it('(b, c) query_sm never answers about another account’s or another SMS user’s message, whatever its (sequential) id', async () => {
        const alice = await asAlice();
        const sent = await alice.request('submit_sm', {
          source_addr: 'VictimCo',
          destination_addr: '+33612345001',
          short_message: 'secret',
        });
        expect(sent.command_status).toBe(E.ESME_ROK);
        const id = Number(sent.message_id);
        for (const intruder of [await asMallory(), await asBob()]) {
          for (const probe of [id - 1, id, id + 1, `0${id}`, ` ${id}`, `${id}\u0000`]) {
            const q = await intruder.request('query_sm', { message_id: String(probe), source_addr: 'VictimCo' });
            expect([String(probe), q.command_status]).toEqual([String(probe), E.ESME_RQUERYFAIL]);
            expect(q.message_state ?? 0).toBe(0);
          }
        }
      });

      it('(b, c) cancel_sm of another account’s or another SMS user’s pending message is refused and changes nothing', async () => {
        const alice = await asAlice();
        const sent = await alice.request('submit_sm', {
          source_addr: 'VictimCo',
          destination_addr: '+33612345002',
          short_message: 'keep me',
          schedule_delivery_time: later(),
        });
        expect(sent.command_status).toBe(E.ESME_ROK);
        const before = await state();
        for (const intruder of [await asMallory(), await asBob()]) {
          for (const probe of [String(sent.message_id), `00${sent.message_id}`]) {
            expect((await intruder.request('cancel_sm', { message_id: probe })).command_status).toBe(E.ESME_RCANCELFAIL);
          }
        }
        expect(await state()).toEqual(before);
        expect((await outgoingRow(sent.message_id))?.status).toBe('pending');
      });

      it('(b) refuses another account’s sender, and debits nothing anywhere', async () => {
        const mallory = await asMallory();
        const before = await state();
        for (const sender of ['VictimCo', 'victimco', ' VictimCo ', 'VictimCo.']) {
          const resp = await mallory.request('submit_sm', { source_addr: sender, destination_addr: '+33612345003', short_message: 'x' });
          expect([sender, resp.command_status]).toEqual([sender, E.ESME_RINVSRCADR]);
        }
        expect(await state()).toEqual(before);
      });

      it('(b, c) debits only the sender’s own account and quota', async () => {
        const before = await state();
        const mallory = await asMallory();
        expect(
          (await mallory.request('submit_sm', { source_addr: 'EvilCo', destination_addr: '+33612345004', short_message: 'x' }))
            .command_status,
        ).toBe(E.ESME_ROK);
        const alice = await asAlice();
        expect(
          (await alice.request('submit_sm', { source_addr: 'VictimCo', destination_addr: '+33612345005', short_message: 'x' }))
            .command_status,
        ).toBe(E.ESME_ROK);
        const after = await state();
        expect(after.credits[evil.id]).toBe(before.credits[evil.id] - 1);
        expect(after.credits[victim.id]).toBe(before.credits[victim.id] - 1);
        expect(after.quotas[bobId]).toBe(before.quotas[bobId]);
        expect(after.quotas[aliceId]).toBeNull();
      });

      it('(b) keeps concatenated parts per connection: the same reference on two users’ connections makes no message', async () => {
        const alice = await asAlice();
        const mallory = await asMallory();
        const before = await state();
        const part = (seq: number, text: string) => ({
          source_addr: '',
          destination_addr: '+33612345006',
          esm_class: 0x40,
          short_message: { udh: Buffer.from([0x05, 0x00, 0x03, 0x42, 2, seq]), message: text },
        });
        const [a, m] = await Promise.all([
          alice.request('submit_sm', part(1, 'alice-1 ')),
          mallory.request('submit_sm', part(2, 'mallory-2')),
        ]);
        // Alice's part 1 is answered on arrival with a part id, no message's (README, SMPP: for programs that
        // wait for each answer); Mallory's part 2, with no part 1 on its own connection, is held, then refused.
        expect([a.command_status, m.command_status]).toEqual([E.ESME_ROK, E.ESME_RSUBMITFAIL]);
        expect(String(a.message_id)).not.toMatch(/^\d+$/);
        expect(await state()).toEqual(before);
      });

      it('(c) keeps concatenated parts of two users with the same reference apart, each message whole and its own', async () => {
        const alice = await asAlice();
        const bob = await asBob();
        const part = (who: string, seq: number) => ({
          source_addr: 'VictimCo',
          destination_addr: '+33612345007',
          esm_class: 0x40,
          short_message: { udh: Buffer.from([0x05, 0x00, 0x03, 0x43, 2, seq]), message: `${who}-${seq} ` },
        });
        const [a1, b1, a2, b2] = await Promise.all([
          alice.request('submit_sm', part('alice', 1)),
          bob.request('submit_sm', part('bob', 1)),
          alice.request('submit_sm', part('alice', 2)),
          bob.request('submit_sm', part('bob', 2)),
        ]);
        expect([a1, b1, a2, b2].map((p) => p.command_status)).toEqual([E.ESME_ROK, E.ESME_ROK, E.ESME_ROK, E.ESME_ROK]);
        // A first part is answered with the message's id when the second follows at once, else with an id of its
        // own (a client waiting for each answer must get one): the part completing the message has the message's.
        for (const [first, last] of [
          [a1, a2],
          [b1, b2],
        ]) {
          expect(first.message_id === last.message_id || /^part-/.test(first.message_id ?? '')).toBe(true);
        }
        expect(await outgoingRow(a2.message_id)).toMatchObject({ user_login: 'alice', message: 'alice-1 alice-2 ' });
        expect(await outgoingRow(b2.message_id)).toMatchObject({ user_login: 'bob', message: 'bob-1 bob-2 ' });
      });

      it('(e) counts a part sent again toward the parts a connection may hold (no unbounded memory)', async () => {
        const mallory = await asMallory();
        const before = await state();
        const again = {
          source_addr: 'EvilCo',
          destination_addr: '+33612345008',
          esm_class: 0x40,
          short_message: { udh: Buffer.from([0x05, 0x00, 0x03, 0x44, 2, 1]), message: 'x'.repeat(150) },
        };
        const copies = MAX_HELD_PARTS + 20;
        let answered = 0;
        const pending = Array.from({ length: copies }, () =>
          mallory.request('submit_sm', again).then((resp) => {
            answered++;
            return resp;
          }),
        );
        // PDUs are read in order: once enquire_link is answered, every submit before it has been looked at.
        await mallory.request('enquire_link');
        await new Promise((resolve) => setImmediate(resolve));
        const answeredBeforeTimeout = answered;
        await Promise.all(pending);
        expect(await state()).toEqual(before);
        expect(answeredBeforeTimeout, 'copies refused at once instead of being held').toBeGreaterThanOrEqual(copies - MAX_HELD_PARTS);
      });

      it('(b) sends one message per submit_sm: a destination_addr holding a list is refused, nothing debited', async () => {
        const mallory = await asMallory();
        for (const destination of ['+33612345009,+33612345010', '0612345011;0612345012', '+33612345013 +33612345014']) {
          const before = await state();
          const resp = await mallory.request('submit_sm', { source_addr: 'EvilCo', destination_addr: destination, short_message: 'many?' });
          expect([destination, resp.command_status]).toEqual([destination, E.ESME_RINVDSTADR]);
          expect(await state()).toEqual(before);
        }
      });

      it('(e) refuses a text holding NUL (U+0000) for good, on every dialect, writing nothing', async () => {
        const mallory = await asMallory();
        const before = await state();
        const resp = await mallory.request('submit_sm', {
          source_addr: 'EvilCo',
          destination_addr: '+33612345015',
          data_coding: 8,
          short_message: 'nul \u0000 inside',
        });
        expect(resp.command_status).not.toBe(E.ESME_ROK);
        expect(resp.command_status, 'a permanent refusal, not "try again"').not.toBe(E.ESME_RX_T_APPN);
        expect(await state()).toEqual(before);
      });

      it('(a) refuses account or login variants (case, spaces) and never binds them', async () => {
        for (const systemId of [
          `${victim.name.toUpperCase()}:alice`,
          `${victim.name}:Alice`,
          ` ${victim.name}:alice`,
          `${victim.name}:alice `,
          `${victim.name}: alice`,
          `${victim.name}::alice`,
          `${victim.name}:alice:`,
        ]) {
          const e = await open();
          const resp = await e.request('bind_transceiver', { system_id: systemId, password: PASSWORD });
          expect([systemId, resp.command_status]).toEqual([systemId, E.ESME_RINVPASWD]);
          expect((await e.request('query_sm', { message_id: '1' })).command_status).toBe(E.ESME_RINVBNDSTS);
        }
        const e = await open();
        const resp = await e.request('bind_transceiver', { system_id: `${victim.name}:alice`, password: `${PASSWORD} ` });
        expect(resp.command_status).toBe(E.ESME_RINVPASWD);
      });

      it('(b) binding with a password of another account’s user does not bind', async () => {
        const e = await open();
        const resp = await e.request('bind_transceiver', { system_id: `${victim.name}:mallory`, password: EVIL_PASSWORD });
        expect(resp.command_status).toBe(E.ESME_RINVPASWD);
        const t = await open();
        const typed = await t.request('bind_transceiver', { system_id: 'mallory', system_type: victim.name, password: EVIL_PASSWORD });
        expect(typed.command_status).toBe(E.ESME_RINVPASWD);
      });

      it('(d) refuses a restricted user from another address whatever the password, and binds it from its own', async () => {
        for (const password of [PASSWORD, 'wrong']) {
          const e = await open('127.0.0.3');
          expect((await e.request('bind_transceiver', { system_id: `${victim.name}:fenced`, password })).command_status).toBe(
            E.ESME_RBINDFAIL,
          );
        }
        await bind(`${victim.name}:fenced`, PASSWORD, 'bind_transceiver', '127.0.0.2');
      });

      it('(c) a second bind on a bound connection is refused, even sent before the first is answered', async () => {
        const e = await open();
        const [first, second] = await Promise.all([
          e.request('bind_transceiver', { system_id: `${victim.name}:alice`, password: PASSWORD }),
          e.request('bind_transceiver', { system_id: `${victim.name}:bob`, password: PASSWORD }),
        ]);
        expect(first.command_status).toBe(E.ESME_ROK);
        expect(second.command_status).toBe(E.ESME_RALYBND);
        const sent = await e.request('submit_sm', { source_addr: 'VictimCo', destination_addr: '+33612345016', short_message: 'who?' });
        expect((await outgoingRow(sent.message_id))?.user_login).toBe('alice');
      });

      it('(c) refuses submits of a bound user deleted since, debiting nothing', async () => {
        const temp = await createSmsUser(ctx.app, victim, { login: 'temp-user', password: PASSWORD });
        const e = await bind(`${victim.name}:temp-user`, PASSWORD);
        await ctx.app.services.smsUsers.delete(SYSTEM_ACTOR, victim.name, temp.login);
        const before = await state();
        const resp = await e.request('submit_sm', { source_addr: 'VictimCo', destination_addr: '+33612345017', short_message: 'ghost' });
        expect(resp.command_status).not.toBe(E.ESME_ROK);
        expect(await state()).toEqual(before);
      });

      it('(e) survives odd command_length values and closes what it cannot read, serving others', async () => {
        const headers = [
          [0, 0, 0, 0],
          [0, 0, 0, 1],
          [0, 0, 0, 4],
          [0, 0, 0, 8, 0, 0, 0, 9],
          [0xff, 0xff, 0xff, 0xff],
          [0, 0, 0, 16, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1], // bind_transmitter with no body
          [0, 0, 0, 17, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0x41], // unterminated system_id
        ];
        for (const bytes of headers) {
          const socket = createConnection({ host: '127.0.0.1', port: server.port });
          await new Promise((resolve) => socket.once('connect', resolve));
          socket.on('error', () => {});
          socket.write(Buffer.from(bytes));
          socket.end();
          await new Promise((resolve) => socket.once('close', resolve));
        }
        const alice = await asAlice();
        expect((await alice.request('enquire_link')).command_status).toBe(E.ESME_ROK);
      });

      describe('failed binds', () => {
        let limited: SmppServer;
        const LIMIT = 3;
        beforeAll(async () => {
          limited = await startSmppServer({
            services: ctx.app.services,
            log: silentLog,
            port: 0,
            host: '127.0.0.1',
            bindFailuresPerMinute: LIMIT,
          });
        });
        afterAll(async () => {
          await limited?.close();
        });

        it('(a) checks at most the limit of passwords from one address, even sent at once on one connection', async () => {
          const e = await open('127.0.0.10', limited.port);
          const answers = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              e.request('bind_transceiver', { system_id: `${victim.name}:alice`, password: `guess-${i}` }).catch(() => null),
            ),
          );
          const checked = answers.filter((a) => a?.command_status === E.ESME_RINVPASWD).length;
          expect(checked, 'passwords checked').toBeLessThanOrEqual(LIMIT);
        });

        it('(a) checks at most the limit of passwords from one address, sent at once over several connections', async () => {
          const es = await Promise.all(Array.from({ length: 30 }, () => open('127.0.0.11', limited.port)));
          const answers = await Promise.all(
            es.map((e, i) => e.request('bind_transceiver', { system_id: `${victim.name}:alice`, password: `guess-${i}` })),
          );
          const checked = answers.filter((a) => a.command_status === E.ESME_RINVPASWD).length;
          expect(checked, 'passwords checked').toBeLessThanOrEqual(LIMIT);
        });

        it('(a) once over the limit, refuses even the right password from that address (other addresses unaffected)', async () => {
          for (let i = 0; i < LIMIT; i++) {
            const e = await open('127.0.0.12', limited.port);
            expect((await e.request('bind_transceiver', { system_id: `${victim.name}:alice`, password: 'nope' })).command_status).toBe(
              E.ESME_RINVPASWD,
            );
          }
          const e = await open('127.0.0.12', limited.port);
          expect((await e.request('bind_transceiver', { system_id: `${victim.name}:alice`, password: PASSWORD })).command_status).toBe(
            E.ESME_RBINDFAIL,
          );
          const other = await open('127.0.0.13', limited.port);
          expect((await other.request('bind_transceiver', { system_id: `${victim.name}:alice`, password: PASSWORD })).command_status).toBe(
            E.ESME_ROK,
          );
        });
      });

      describe('listeners', () => {
        it('(d) on a dual-stack listener, matches IPv4-mapped client addresses against IPv4 restrictions', async () => {
          const dual = await startSmppServer({ services: ctx.app.services, log: silentLog, port: 0, host: '::' });
          try {
            const from = async (localAddress: string, password: string) => {
              const e = await Esme.open(dual.port, localAddress);
              esmes.push(e);
              return (await e.request('bind_transceiver', { system_id: `${victim.name}:fenced`, password })).command_status;
            };
            expect(await from('127.0.0.3', PASSWORD)).toBe(E.ESME_RBINDFAIL);
            expect(await from('127.0.0.3', 'wrong')).toBe(E.ESME_RBINDFAIL);
            expect(await from('127.0.0.2', PASSWORD)).toBe(E.ESME_ROK);
          } finally {
            await dual.close();
          }
        });

        it('(e) closes connections left unreadable by a bad command_length, bound or not', async () => {
          const strict = await startSmppServer({
            services: ctx.app.services,
            log: silentLog,
            port: 0,
            host: '127.0.0.1',
            bindTimeoutMs: 300,
            enquireLinkMs: 200,
          });
          try {
            const unbound = createConnection({ host: '127.0.0.1', port: strict.port });
            unbound.on('error', () => {});
            await new Promise((resolve) => unbound.once('connect', resolve));
            const unboundClosed = new Promise((resolve) => unbound.once('close', resolve));
            unbound.write(Buffer.from([0, 0, 0, 1, 0, 0, 0, 0x15]));
            const e = await Esme.open(strict.port);
            esmes.push(e);
            expect((await e.request('bind_transceiver', { system_id: `${victim.name}:alice`, password: PASSWORD })).command_status).toBe(
              E.ESME_ROK,
            );
            e.session.socket.write(Buffer.from([0, 0, 0, 2, 0, 0, 0, 0x15]));
            await unboundClosed;
            await e.closed();
          } finally {
            await strict.close();
          }
        });
      });

      describe('receipts', () => {
        let dispatching: Dispatching;
        beforeAll(async () => {
          dispatching = await startSimulatorDispatching(ctx.app.services);
        });
        afterAll(async () => {
          await dispatching?.stop();
        });

        it('(b, c) sends a receipt only to its own SMS user’s receiver binds', async () => {
          const bob = await asBob('bind_receiver');
          const mallory = await asMallory('bind_receiver');
          const aliceRx = await asAlice('bind_receiver');
          const alice = await asAlice('bind_transmitter');
          const sent = await alice.request('submit_sm', {
            source_addr: 'VictimCo',
            destination_addr: '+33612345018',
            short_message: 'private text',
            registered_delivery: 1,
          });
          expect(sent.command_status).toBe(E.ESME_ROK);
          await waitFor(() => aliceRx.delivered.find((p) => p.receipted_message_id === sent.message_id), 'alice’s receipt');
          // A later receipt of mallory's own, on the same receiver bind: what came before it was all there was.
          const m = await asMallory('bind_transmitter');
          const own = await m.request('submit_sm', {
            source_addr: 'EvilCo',
            destination_addr: '+33612345019',
            short_message: 'mine',
            registered_delivery: 1,
          });
          await waitFor(() => mallory.delivered.find((p) => p.receipted_message_id === own.message_id), 'mallory’s own receipt');
          expect(mallory.delivered.map((p) => p.receipted_message_id)).toEqual([own.message_id]);
          expect(bob.delivered).toEqual([]);
        });
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('http2sms', () => {
      const get = (params: Record<string, string>, remoteAddress = freshIp()) =>
        ctx.app.inject({ method: 'GET', url: `${PATH}?${new URLSearchParams(params).toString()}`, remoteAddress });
      const getRaw = (raw: string, remoteAddress = freshIp()) => ctx.app.inject({ method: 'GET', url: `${PATH}?${raw}`, remoteAddress });
      const post = (body: string, rawQuery = '', contentType = 'application/x-www-form-urlencoded', remoteAddress = freshIp()) =>
        ctx.app.inject({
          method: 'POST',
          url: `${PATH}${rawQuery ? `?${rawQuery}` : ''}`,
          headers: { 'content-type': contentType },
          payload: body,
          remoteAddress,
        });
      const as = (login: string, password: string, account: string, extra: Record<string, string> = {}) => ({
        account,
        login,
        password,
        from: 'VictimCo',
        to: '+33612346001',
        message: 'Hello',
        ...extra,
      });
      const alice = (extra: Record<string, string> = {}) => as('alice', PASSWORD, victim.name, extra);
      const mallory = (extra: Record<string, string> = {}) => as('mallory', EVIL_PASSWORD, evil.name, { from: 'EvilCo', ...extra });

      it('(a) checks at most the failed-login limit of passwords from one address, even sent at once', async () => {
        const ip = freshIp();
        const answers = await Promise.all(
          Array.from({ length: 30 }, (_, i) => get(alice({ password: `guess-${i}`, contentType: 'application/json' }), ip)),
        );
        const checked = answers.filter((r) => r.json().message === 'Wrong account, login or password').length;
        expect(answers.every((r) => r.statusCode === 200 || r.statusCode === 429)).toBe(true);
        expect(checked, 'passwords checked').toBeLessThanOrEqual(AUTH_FAILURES_PER_MINUTE);
      });

      it('(a) once over the limit, refuses even the right password from that address with 429, writing nothing', async () => {
        const ip = freshIp();
        for (let i = 0; i < AUTH_FAILURES_PER_MINUTE; i++) {
          expect((await get(alice({ password: 'nope' }), ip)).body).toBe('KO\nWrong account, login or password');
        }
        const before = await state();
        const res = await get(alice(), ip);
        expect(res.statusCode).toBe(429);
        expect(res.body).toMatch(/^KO\nToo many failed logins/);
        expect(res.headers['retry-after']).toBeDefined();
        expect(await state()).toEqual(before);
        expect((await get(alice({ noStop: '1' }), freshIp())).body).toMatch(/^OK\n/);
      });

      it('(a) counts failures of case and whitespace variants, and accepts none of them', async () => {
        const ip = freshIp();
        const variants = [
          alice({ account: victim.name.toUpperCase() }),
          alice({ login: 'Alice' }),
          alice({ login: ' alice' }),
          alice({ login: 'alice ' }),
          alice({ password: `${PASSWORD} ` }),
        ];
        const before = await state();
        for (const params of variants) expect((await get(params, ip)).body).toBe('KO\nWrong account, login or password');
        expect((await get(alice(), ip)).statusCode).toBe(429);
        expect(await state()).toEqual(before);
      });

      it('(a) answers a wrong password, an unknown login and an unknown account alike', async () => {
        const bodies = new Set<string>();
        for (const params of [alice({ password: 'wrong' }), alice({ login: 'nobody' }), alice({ account: 'sms-zz99999-9' })]) {
          const res = await get({ ...params, contentType: 'text/xml' });
          bodies.add(`${res.statusCode} ${res.body}`);
        }
        expect([...bodies]).toHaveLength(1);
      });

      it('(b) mixing one account’s name with another account’s user and password is refused', async () => {
        const before = await state();
        expect((await get(as('mallory', EVIL_PASSWORD, victim.name))).body).toBe('KO\nWrong account, login or password');
        // The same parameter twice (query then body): the last one counts, never a mix that passes.
        const q = new URLSearchParams(as('alice', PASSWORD, victim.name)).toString();
        const res = await post(new URLSearchParams({ password: EVIL_PASSWORD }).toString(), q);
        expect(res.body).toBe('KO\nWrong account, login or password');
        const res2 = await post(new URLSearchParams({ account: evil.name }).toString(), q);
        expect(res2.body).toBe('KO\nWrong account, login or password');
        expect(await state()).toEqual(before);
      });

      it('(b) refuses another account’s sender (241), debiting nothing, the sender escaped in every format', async () => {
        const before = await state();
        expect((await get(mallory({ from: 'VictimCo' }))).body).toMatch(/^KO\nSender not found: "VictimCo"/);
        const evilSender = '<script>alert(1)</script>&"\'';
        const html = await get(mallory({ from: evilSender, contentType: 'text/html' }));
        expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(html.body).not.toContain('<script');
        expect(html.body).toContain('&lt;script&gt;');
        const xml = await get(mallory({ from: evilSender, contentType: 'text/xml' }));
        expect(xml.body).toMatch(
          /^<\?xml version="1.0" encoding="UTF-8" \?><response><status>241<\/status><message>[^<>]*<\/message><\/response>$/,
        );
        const json = await get(mallory({ from: evilSender, contentType: 'application/json' }));
        expect(json.json()).toMatchObject({ status: 241 });
        expect(json.json().message).toContain('<script>');
        expect(await state()).toEqual(before);
      });

      it('(e) escapes echoed parameters before login, and keeps each KO one line in its format', async () => {
        const payload = '"><img src=x onerror=alert(1)>\r\n\u2028</message><status>100</status>';
        for (const name of ['class', 'smsCoding', 'deferred', 'noStop']) {
          const html = await get({ ...alice({ [name]: payload }), contentType: 'text/html' });
          expect(html.body, name).not.toMatch(/<img|<\/message>|<status>/);
          const xml = await get({ ...alice({ [name]: payload }), contentType: 'application/xml' });
          expect(xml.body.match(/<status>/g), name).toHaveLength(1);
          expect(xml.body).toContain('<status>202</status>');
          const plain = await get(alice({ [name]: payload }));
          expect(plain.body.split('\n'), name).toHaveLength(2);
          const json = await get({ ...alice({ [name]: payload }), contentType: 'text/json' });
          expect(json.json().status, name).toBe(202);
          expect(json.body).not.toContain('\u2028');
        }
      });

      it('(e) takes no header from parameters: contentType with CR/LF is refused in text/plain', async () => {
        const res = await getRaw(`${new URLSearchParams(alice()).toString()}&contentType=text/html%0d%0aSet-Cookie:%20x=1`);
        expect(res.headers['set-cookie']).toBeUndefined();
        expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
        expect(res.body).toMatch(/^KO\nInvalid contentType/);
        const res2 = await getRaw(`${new URLSearchParams(alice()).toString()}&contentType=text%2Fjson%0d%0a`);
        expect(res2.headers['content-type']).toBe('text/json; charset=utf-8');
      });

      it('(e) refuses NUL anywhere with 202 (no 500), and never echoes the password', async () => {
        const base = new URLSearchParams(alice({ password: 'pw-SECRET-value' })).toString();
        const before = await state();
        for (const extra of ['&message=a%00b', '&login=al%00ice', '&password=pw-SECRET%00', '&account=%00', '&tag=t%00', '&to=%2B336%00']) {
          const res = await getRaw(`${base}${extra}`);
          expect([extra, res.statusCode]).toEqual([extra, 200]);
          expect(res.body, extra).toMatch(/^KO\nInvalid \w+: contains a NUL character/);
          expect(res.body).not.toContain('SECRET');
        }
        expect(await state()).toEqual(before);
      });

      it('(e) reads odd encodings without a 500: charsets, invalid UTF-8, UTF-16, unknown labels', async () => {
        const base = new URLSearchParams(alice({ noStop: '1' })).toString().replace(/&message=[^&]*/, '');
        const before = await state();
        const cases: [string, RegExp][] = [
          ['message=%E9t%E9&charset=ISO-8859-1', /^OK\n/],
          ['message=%C3%A9t%C3%A9', /^OK\n/],
          ['message=%FF%FE%FD', /^OK\n/],
          ['message=%C3%28&charset=utf-8', /^OK\n/],
          ['message=a%00&charset=utf-16le', /^KO\n/],
          ['message=x&charset=iso-2022-kr', /^KO\nInvalid charset/],
          ['message=x&charset=%00', /^KO\nInvalid charset/],
          ['message=x&charset=utf-16le', /^KO\n/],
        ];
        let sent = 0;
        for (const [extra, expected] of cases) {
          const res = await getRaw(`${base}&${extra}`);
          expect([extra, res.statusCode]).toEqual([extra, 200]);
          expect(res.body, extra).toMatch(expected);
          if (res.body.startsWith('OK')) sent++;
        }
        const after = await state();
        expect(after.outgoing - before.outgoing).toBe(sent);
        const body = await post(`message=%E9t%E9&${base}`, '', 'application/x-www-form-urlencoded; charset=x-user-defined');
        expect(body.statusCode).toBe(200);
      });

      it('(e) answers unreadable or foreign bodies in the protocol’s format, never 500', async () => {
        const q = new URLSearchParams(alice()).toString();
        for (const [body, type] of [
          ['{"account":"x"}', 'application/json'],
          ['<a/>', 'text/xml'],
          ['a=%ZZ&&&=&%', 'application/x-www-form-urlencoded'],
          ['\u0000\u0001', 'application/x-www-form-urlencoded; charset=utf-16'],
        ]) {
          const res = await post(body, `${q}&contentType=application/json`, type);
          expect(res.statusCode, type).toBeLessThan(500);
          expect(() => res.json()).not.toThrow();
        }
      });

      it('(c) one SMS user never spends another’s quota; (b) another account’s credits are never touched', async () => {
        const before = await state();
        expect((await get(alice({ noStop: '1' }))).body).toMatch(/^OK\n/);
        expect((await get(mallory({ noStop: '1' }))).body).toMatch(/^OK\n/);
        const after = await state();
        expect(after.quotas[bobId]).toBe(before.quotas[bobId]);
        expect(after.credits[victim.id]).toBe(before.credits[victim.id] - 1);
        expect(after.credits[evil.id]).toBe(before.credits[evil.id] - 1);
        expect(after.quotas[malloryId]).toBeNull();
      });

      it('(c) a user over its quota is refused whole (402), without touching the account’s other users', async () => {
        const before = await state();
        const res = await get(
          as('bob', PASSWORD, victim.name, {
            to: '+33612346002,+33612346003,+33612346004,+33612346005,+33612346006,+33612346007',
            noStop: '1',
          }),
        );
        expect(res.body).toMatch(/^KO\n.*quota/);
        expect(await state()).toEqual(before);
      });

      it('(d) trusts no forwarding header: X-Forwarded-For neither passes IP restrictions nor escapes the failed-login limit', async () => {
        const before = await state();
        const spoofed = await ctx.app.inject({
          method: 'GET',
          url: `${PATH}?${new URLSearchParams(as('fenced', PASSWORD, victim.name)).toString()}`,
          remoteAddress: '203.0.113.60',
          headers: { 'x-forwarded-for': '192.0.2.9', 'x-real-ip': '192.0.2.9', forwarded: 'for=192.0.2.9' },
        });
        expect(spoofed.body).toBe('KO\nIP not allowed for this user (203.0.113.60)');
        const ip = freshIp();
        for (let i = 0; i <= AUTH_FAILURES_PER_MINUTE; i++) {
          await ctx.app.inject({
            method: 'GET',
            url: `${PATH}?${new URLSearchParams(alice({ password: `guess-${i}` })).toString()}`,
            remoteAddress: ip,
            headers: { 'x-forwarded-for': `192.0.2.${i + 1}` },
          });
        }
        expect((await get(alice(), ip)).statusCode).toBe(429);
        expect(await state()).toEqual(before);
      });

      it('(a) sends nothing on HEAD or other methods', async () => {
        const before = await state();
        const url = `${PATH}?${new URLSearchParams(alice()).toString()}`;
        for (const method of ['HEAD', 'PUT', 'DELETE', 'PATCH'] as const) {
          const res = await ctx.app.inject({ method, url, remoteAddress: freshIp() });
          expect([method, res.statusCode]).toEqual([method, 404]);
        }
        expect(await state()).toEqual(before);
      });

      it('(c) concurrent sends never spend more than a quota or an account’s credits', async () => {
        const poor = await createAccount(ctx.app, { credits: 3 });
        await createSender(ctx.app, poor, { sender: 'PoorCo' });
        await createSmsUser(ctx.app, poor, { login: 'dave', password: PASSWORD });
        const carol = await createSmsUser(ctx.app, victim, { login: 'carol', password: PASSWORD, quota: 4 });
        const before = await state();
        const [byQuota, byCredits] = await Promise.all([
          Promise.all(
            Array.from({ length: 15 }, (_, i) =>
              get(as('carol', PASSWORD, victim.name, { to: `+336123470${String(i).padStart(2, '0')}`, noStop: '1' })),
            ),
          ),
          Promise.all(
            Array.from({ length: 15 }, (_, i) =>
              get(as('dave', PASSWORD, poor.name, { from: 'PoorCo', to: `+336123471${String(i).padStart(2, '0')}`, noStop: '1' })),
            ),
          ),
        ]);
        const accepted = (answers: { body: string }[]) => answers.filter((r) => r.body.startsWith('OK')).length;
        expect([accepted(byQuota), accepted(byCredits)]).toEqual([4, 3]);
        const after = await state();
        expect([after.quotas[carol.id], after.credits[poor.id]]).toEqual([0, 0]);
        expect(after.credits[victim.id]).toBe(before.credits[victim.id] - 4);
      });

      it('(d) refuses a restricted user from elsewhere (IPv4, IPv4-mapped IPv6, IPv6) with the right or a wrong password', async () => {
        const before = await state();
        for (const ip of ['203.0.113.7', '::ffff:203.0.113.7', '2001:db8::7', '::ffff:127.0.0.3']) {
          for (const password of [PASSWORD, 'wrong']) {
            const res = await get(as('fenced', password, victim.name), ip);
            expect([ip, password, res.body]).toEqual([ip, password, `KO\nIP not allowed for this user (${ip})`]);
          }
        }
        expect(await state()).toEqual(before);
        expect((await get(as('fenced', PASSWORD, victim.name, { noStop: '1' }), '::ffff:192.0.2.9')).body).toMatch(/^OK\n/);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('mail2sms', () => {
      let smtp: Mail2SmsServer;
      const MAX_SIZE = 4 * 1024 * 1024;
      const send = (mail: MailOptions, localAddress = '127.0.0.1') => mailVia(smtp.port, mail, { localAddress });
      const subject = (rest: string, login = 'alice', password = PASSWORD, account = victim.name) =>
        `${account}:${login}:${password}:${rest}`;

      beforeAll(async () => {
        smtp = await startMail2Sms({
          services: ctx.app.services,
          config: { smtpMaxSize: MAX_SIZE, tlsCertFile: null, tlsKeyFile: null },
          log: silentLog,
          port: 0,
          host: '127.0.0.1',
        });
      });
      afterAll(async () => {
        await smtp?.close();
      });

      it('(b) refuses another account’s sender, and another account’s name with one’s own login (5.7.x), writing nothing', async () => {
        const before = await state();
        const s1 = await send({ subject: subject('VictimCo:+33612347001', 'mallory', EVIL_PASSWORD, evil.name), text: 'x' });
        expect(s1).toMatchObject({ ok: false, code: 550 });
        expect(s1.response).toMatch(/5\.7\.1 Unknown sender/);
        const s2 = await send({ subject: subject('EvilCo:+33612347001', 'mallory', EVIL_PASSWORD, victim.name), text: 'x' });
        expect(s2.response).toMatch(/5\.7\.8 Wrong account, login or password/);
        expect(await state()).toEqual(before);
      });

      it('(d) refuses a restricted user from another address, and accepts it from its own', async () => {
        const before = await state();
        for (const password of [PASSWORD, 'wrong']) {
          const s = await send({ subject: subject('VictimCo:+33612347002', 'fenced', password), text: 'x' }, '127.0.0.3');
          expect(s.response).toMatch(/5\.7\.1 IP address 127\.0\.0\.3 is not allowed/);
        }
        expect(await state()).toEqual(before);
        expect(await send({ subject: subject('VictimCo:+33612347002', 'fenced'), text: 'x' }, '127.0.0.2')).toMatchObject({ ok: true });
      });

      it('(a) limits failed logins from one address: after many, even the right password is refused, nothing written', async () => {
        const ip = '127.0.0.20';
        for (let i = 0; i < 40; i++) {
          const s = await send({ subject: subject('VictimCo:+33612347003', 'alice', `guess-${i}`), text: 'x' }, ip);
          if (!s.response.includes('Wrong account, login or password')) break;
        }
        const before = await state();
        const s = await send({ subject: subject('VictimCo:+33612347003'), text: 'found it' }, ip);
        expect(s.ok, 'the right password after 40 failed logins from one address').toBe(false);
        expect(await state()).toEqual(before);
      });

      it('(e) refuses NUL in the login, the tag or the text for good (5xx, never 451), writing nothing', async () => {
        const before = await state();
        const cases: [string, MailOptions][] = [
          ['login', { raw: rawMail({ Subject: encodedWord(subject('VictimCo:+33612347004', 'ali\u0000ce')) }, 'x') }],
          ['password', { raw: rawMail({ Subject: encodedWord(subject('VictimCo:+33612347004', 'alice', `${PASSWORD}\u0000`)) }, 'x') }],
          [
            'tag',
            {
              raw: rawMail(
                {
                  Subject: encodedWord(
                    `Account=${victim.name};Login=alice;Password=${PASSWORD};From=VictimCo;To=+33612347004;Tag=t\u0000g`,
                  ),
                },
                'x',
              ),
            },
          ],
          [
            'text',
            {
              raw: rawMail(
                {
                  Subject: subject('VictimCo:+33612347004'),
                  'Content-Type': 'text/plain; charset=utf-8',
                  'Content-Transfer-Encoding': 'base64',
                },
                Buffer.from('nul \u0000 here', 'utf8').toString('base64'),
              ),
            },
          ],
        ];
        const outcomes = [];
        for (const [what, mail] of cases) {
          const s = await send(mail);
          outcomes.push([what, s.ok ? 250 : s.code]);
        }
        expect(JSON.stringify(outcomes)).toBe(JSON.stringify(cases.map(([what]) => [what, 550])));
        expect(await state()).toEqual(before);
      });

      it('(e) keeps every reply one line: CR, LF and control characters of the subject are not echoed', async () => {
        const evilSubject = `Foo\r\n250 2.0.0 faked\u0085\u000b=1;Account=${victim.name};Login=alice;Password=${PASSWORD};From=VictimCo;To=+33612347005`;
        const s = await send({ raw: rawMail({ Subject: encodedWord(evilSubject) }, 'x') });
        expect(s).toMatchObject({ ok: false, code: 550 });
        expect(hasControl(s.response), s.response).toBe(false);
        const s2 = await send({ raw: rawMail({ Subject: encodedWord(subject('VictimCo:+3361234\r\n7005\u0000')) }, 'x') });
        expect(s2.ok).toBe(false);
        expect(hasControl(s2.response), s2.response).toBe(false);
      });

      it('(e) one mail is one job, however many recipients the envelope names', async () => {
        const before = await state();
        const recipients = Array.from({ length: 60 }, (_, i) => `${i % 2 ? 'EMAIL2SMS' : 'email2sms'}@host-${i}.test`);
        const s = await send({
          envelope: { from: 'app@example.com', to: recipients },
          subject: subject('VictimCo:+33612347006::::1'),
          text: 'once',
        });
        expect(s.ok, s.response).toBe(true);
        const after = await state();
        expect([after.outgoing - before.outgoing, after.jobs - before.jobs]).toEqual([1, 1]);
      });

      it('(b) a contact file of thousands of numbers beyond the credits is refused whole, nothing written', async () => {
        const numbers = Array.from({ length: 5000 }, (_, i) => `+336${String(10_000_000 + i).slice(0, 8)}`);
        const before = await state();
        const s = await send({
          subject: subject('EvilCo', 'mallory', EVIL_PASSWORD, evil.name),
          text: 'bulk',
          attachments: [{ filename: 'contacts.txt', content: numbers.join('\n') }],
        });
        expect(s).toMatchObject({ ok: false, code: 550 });
        expect(s.response).toMatch(/5\.7\.1 Not enough credits/);
        expect(await state()).toEqual(before);
      });

      it('(d) on a dual-stack listener, matches IPv4-mapped client addresses against IPv4 restrictions', async () => {
        const dual = await startMail2Sms({
          services: ctx.app.services,
          config: { smtpMaxSize: MAX_SIZE, tlsCertFile: null, tlsKeyFile: null },
          log: silentLog,
          port: 0,
          host: '::',
        });
        try {
          const before = await state();
          const refused = await mailVia(
            dual.port,
            { subject: subject('VictimCo:+33612347009', 'fenced'), text: 'x' },
            { localAddress: '127.0.0.3' },
          );
          expect(refused).toMatchObject({ ok: false, code: 550 });
          expect(refused.response).toMatch(/5\.7\.1 IP address/);
          expect(await state()).toEqual(before);
          const ok = await mailVia(
            dual.port,
            { subject: subject('VictimCo:+33612347009::::1', 'fenced'), text: 'x' },
            { localAddress: '127.0.0.2' },
          );
          expect(ok).toMatchObject({ ok: true });
        } finally {
          await dual.close();
        }
      });

      it('(e) a huge subject or header is refused or read, never a 451 or a crash', async () => {
        const before = await state();
        const big = await send({ subject: `${subject('VictimCo:+33612347007')}:${'x'.repeat(200_000)}`, text: 'x' });
        expect(big).toMatchObject({ ok: false, code: 550 });
        const many = await send({
          raw: rawMail(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`X-H${i}`, 'y'.repeat(50)])), 'x'),
        });
        expect(many).toMatchObject({ ok: false, code: 550 });
        expect(await state()).toEqual(before);
        expect(await send({ subject: subject('VictimCo:+33612347008::::1'), text: 'still up' })).toMatchObject({ ok: true });
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('one sending path', () => {
      it('(b) a job that cannot be written fails alone: another account’s job in the same batch is accepted', async () => {
        const { sending } = ctx.app.services;
        const access = (account: Account, id: number, login: string) => accountAccessFor(account, { id, login }, `user:${login}`);
        const ok = { message: 'warm', receivers: ['+33612348001'], sender: 'VictimCo', noStopClause: true };
        // Both profiles read once, so that both jobs reach the same group commit.
        await sending.accept(access(victim, aliceId, 'alice'), 'api', ok);
        await sending.accept(access(evil, malloryId, 'mallory'), 'api', { ...ok, sender: 'EvilCo' });
        const before = await state();
        const [poisoned, innocent] = await Promise.allSettled([
          sending.accept(access(evil, malloryId, 'mallory'), 'smpp', { ...ok, sender: 'EvilCo', message: 'bad \u0000 text' }),
          sending.accept(access(victim, aliceId, 'alice'), 'smpp', { ...ok, message: 'innocent' }),
        ]);
        expect(innocent.status, 'the innocent job of another account').toBe('fulfilled');
        if (poisoned.status === 'rejected') expect(poisoned.reason).toBeInstanceOf(AppError);
        const after = await state();
        expect(after.credits[victim.id]).toBe(before.credits[victim.id] - 1);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe('authentication shared by the channels', () => {
      const serviceWith = (clock = systemClock as { now(): number }) => {
        const { hasher, counter } = countingHasher(createPasswordHasher({ fast: true }));
        const users = createSmsUsersService({
          users: createSmsUsersRepository(ctx.database.db),
          accounts: ctx.app.services.accounts,
          hasher,
          clock,
        });
        return { users, counter };
      };

      it('(d) from a refused address, a right password costs what a wrong one does (no timing oracle)', async () => {
        const { users, counter } = serviceWith();
        // The user works from its own address: its password is now in the verified cache.
        expect((await users.authenticateFrom(victim.name, 'fenced', PASSWORD, '192.0.2.1')).ok).toBe(true);
        const cost = async (password: string) => {
          const start = counter.verifications;
          const outcome = await users.authenticateFrom(victim.name, 'fenced', password, '203.0.113.50');
          expect(outcome).toEqual({ ok: false, reason: 'IP_NOT_ALLOWED' });
          return counter.verifications - start;
        };
        const right = await cost(PASSWORD);
        const wrong = await cost('a-wrong-guess');
        expect(right, 'argon2 verifications for the right password vs a wrong one').toBe(wrong);
      });

      it('forgets a verified password changed by another process, and never accepts a wrong one', async () => {
        const clock = fakeClock();
        const { users } = serviceWith(clock);
        const temp = await createSmsUser(ctx.app, victim, { login: 'rotating', password: 'first-pass-2024' });
        expect((await users.authenticateFrom(victim.name, 'rotating', 'first-pass-2024', '203.0.113.1')).ok).toBe(true);
        await expect(users.authenticate(victim.name, 'rotating', 'first-pass-2024 ')).rejects.toMatchObject({
          code: 'INVALID_CREDENTIALS',
        });
        // Another process sets a new password (the CLI): this one's cache must not keep the old one for long.
        const newHash = await createPasswordHasher({ fast: true }).hash('second-pass-2024');
        await ctx.database.db.updateTable('sms_users').set({ password_hash: newHash }).where('id', '=', temp.id).execute();
        clock.advance(RECENT_READ_TTL_MS + 1);
        await expect(users.authenticate(victim.name, 'rotating', 'first-pass-2024')).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
        expect((await users.authenticate(victim.name, 'rotating', 'second-pass-2024')).user.id).toBe(temp.id);
        // Deleted by another process: refused once re-read.
        await ctx.database.db.deleteFrom('sms_users').where('id', '=', temp.id).execute();
        clock.advance(RECENT_READ_TTL_MS + 1);
        await expect(users.authenticate(victim.name, 'rotating', 'second-pass-2024')).rejects.toMatchObject({
          code: 'INVALID_CREDENTIALS',
        });
      });

      it('(b) a cached password of one account never lets its user in under another account’s name', async () => {
        const { users } = serviceWith();
        expect((await users.authenticateFrom(evil.name, 'mallory', EVIL_PASSWORD, '203.0.113.1')).ok).toBe(true);
        await expect(users.authenticate(victim.name, 'mallory', EVIL_PASSWORD)).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
        await expect(users.authenticate(`${evil.name}\u0000mallory`, '', EVIL_PASSWORD)).rejects.toMatchObject({
          code: 'INVALID_CREDENTIALS',
        });
      });

      it('never returns a password hash with a user', async () => {
        const { user } = await ctx.app.services.smsUsers.authenticate(victim.name, 'alice', PASSWORD);
        expect(JSON.stringify(user)).not.toMatch(/argon2|password/i);
      });
    });
  },
  {
    config: {
      http2smsRateLimit: { perIp: 1_000_000, perUser: 1_000_000, authFailuresPerMinute: AUTH_FAILURES_PER_MINUTE, windowMs: 1000 },
    },
  },
);

// -------------------------------------------------------------------------------------------------
describe('callback URLs (SSRF)', () => {
  it('refuses loopback, private, link-local and metadata addresses in every spelling', () => {
    for (const url of [
      'http://127.0.0.1/cb',
      'http://127.1/cb',
      'http://2130706433/cb',
      'http://0x7f.0.0.1/cb',
      'http://0177.0.0.1/cb',
      'http://0.0.0.0/cb',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/cb',
      'http://172.16.0.1/cb',
      'http://192.168.1.1/cb',
      'http://100.64.0.1/cb',
      'http://[::1]/cb',
      'http://[::]/cb',
      'http://[::ffff:127.0.0.1]/cb',
      'http://[::ffff:a9fe:a9fe]/cb',
      'http://[0:0:0:0:0:ffff:7f00:1]/cb',
      'http://[fe80::1]/cb',
      'http://[fd00:ec2::254]/cb',
      'http://localhost/cb',
      'http://LOCALHOST:8080/cb',
      'http://app.localhost/cb',
      'https://user:pw@127.0.0.1:443/cb',
    ]) {
      expect(() => checkCallbackUrl(url, false), url).toThrow(/private address|Invalid callback URL/);
    }
    for (const url of [
      'file:///etc/passwd',
      'gopher://127.0.0.1:6379/_x',
      'ftp://example.com/',
      'javascript:alert(1)',
      `https://example.com/${'a'.repeat(2100)}`,
    ]) {
      expect(() => checkCallbackUrl(url, false), url).toThrow(/Invalid callback URL/);
    }
    expect(checkCallbackUrl('https://hooks.example.com/relais?x=1', false)).toBe('https://hooks.example.com/relais?x=1');
  });

  it('refuses NAT64 addresses that embed a private IPv4 address (64:ff9b::/96)', () => {
    for (const address of ['64:ff9b::a9fe:a9fe', '64:ff9b::7f00:1', '64:ff9b::a00:1']) {
      expect([address, isPrivateAddress(address)]).toEqual([address, true]);
    }
    expect(() => checkCallbackUrl('http://[64:ff9b::a9fe:a9fe]/latest/meta-data/', false)).toThrow(/private address/);
    expect(isPrivateAddress('64:ff9b::808:808')).toBe(false);
  });

  describe('the HTTP client', () => {
    let target: http.Server;
    let hits = 0;
    let port: number;
    beforeAll(async () => {
      target = http.createServer((_req, res) => {
        hits++;
        res.end('ok');
      });
      await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
      port = (target.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => target.close(resolve));
    });

    it('never calls loopback, whatever the spelling (trailing dot, mapped IPv6 literal, 0.0.0.0)', async () => {
      const client = createCallbackClient(2);
      try {
        await expect(client.get(`http://localhost.:${port}/cb`, 2000)).rejects.toThrow();
        for (const url of [`http://[::ffff:127.0.0.1]:${port}/cb`, `http://127.0.0.1:${port}/cb`, `http://0.0.0.0:${port}/cb`]) {
          await expect(client.get(url, 2000), url).rejects.toMatchObject({ code: 'PRIVATE_ADDRESS' });
        }
        expect(hits).toBe(0);
      } finally {
        client.close();
      }
    });

    it('follows no redirect: a 302 to a private address is an answer, not a call there', async () => {
      let redirected = 0;
      const redirector = http.createServer((_req, res) => {
        redirected++;
        res.writeHead(302, { location: `http://127.0.0.1:${port}/internal` }).end();
      });
      await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
      const client = createCallbackClient(2, { allowPrivate: true });
      try {
        const before = hits;
        expect(await client.get(`http://127.0.0.1:${(redirector.address() as AddressInfo).port}/cb`, 2000)).toBe(302);
        expect([redirected, hits - before]).toEqual([1, 0]);
      } finally {
        client.close();
        await new Promise((resolve) => redirector.close(resolve));
      }
    });
  });
});
