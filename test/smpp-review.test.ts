import { createConnection, type Socket } from 'node:net';
import smpp from 'smpp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../src/server/modules/accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { memoryLog, silentLog, startSimulatorDispatching, waitFor } from '../src/server/modules/dispatch/dispatch-testing.js';
import { type SmppServer, startSmppServer } from '../src/server/modules/smpp/smpp.server.js';
import { describeEachDialectWithApp } from './app.js';
import { createAccount, createSender, createSmsUser } from './factories.js';
import { ledger } from './ledger.js';
import { SmppClient as Client, closeClients } from './smpp-client.js';
import { selfSignedCertificate } from './tls.js';

// Adversarial review of the SMPP server for customers' programs: submit_multi, sessions ended by their
// SMS user's changes, SMPP over TLS and the bind limits, driven as a hostile or careless program would.

const PASSWORD = 'smpp-pass-2024';
const E = smpp.errors;
const LATER = () => new Date(Date.now() + 3_600_000);

/** dest_address entries: "+…" international (TON 1), other strings as given (TON 0), objects as they are. */
const to = (...destinations: (string | Record<string, unknown>)[]) =>
  destinations.map((d) =>
    typeof d === 'string' ? { dest_addr_ton: d.startsWith('+') ? 1 : 0, dest_addr_npi: 1, destination_addr: d.replace(/^\+/, '') } : d,
  );

/** A request's answer, or 'closed' when the connection ended first (or the request could not be written). */
async function outcomeOf(c: Client, request: Promise<smpp.PDU>): Promise<number | 'closed'> {
  return Promise.race([
    request.then(
      (pdu) => pdu.command_status,
      () => 'closed' as const,
    ),
    c.closed().then(() => 'closed' as const),
  ]);
}

/** Raw PDU bytes: what the `smpp` package would not encode (number_of_dests that lie). */
const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.from([0])]);
const addressEntry = (ton: number, npi: number, address: string) => Buffer.concat([Buffer.from([1, ton, npi]), cstr(address)]);
function rawSubmitMulti(sequence: number, numberOfDests: number, entries: Buffer[], text: string | null): Buffer {
  const body = Buffer.concat([
    cstr(''), // service_type
    Buffer.from([0, 0]),
    cstr('MyShop'),
    Buffer.from([numberOfDests]),
    ...entries,
    ...(text === null
      ? []
      : [
          Buffer.from([0, 0, 0]), // esm_class, protocol_id, priority_flag
          cstr(''), // schedule_delivery_time
          cstr(''), // validity_period
          Buffer.from([0, 0, 0, 0]), // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
          Buffer.from([text.length]),
          Buffer.from(text, 'latin1'),
        ]),
  ]);
  const head = Buffer.alloc(16);
  head.writeUInt32BE(16 + body.length, 0);
  head.writeUInt32BE(0x00000021, 4);
  head.writeUInt32BE(sequence, 12);
  return Buffer.concat([head, body]);
}

describeEachDialectWithApp('SMPP server review: submit_multi, ended sessions, TLS, bind limits', (ctx) => {
  let server: SmppServer;
  let account: Account;
  let poor: Account;
  const clients: Client[] = [];
  const log = memoryLog();
  const open = async (port = server.port, from = '127.0.0.1') => {
    const c = await Client.open(port, from);
    clients.push(c);
    return c;
  };
  const bound = async (systemId = `${account.name}:shop`, port = server.port, mode = 'bind_transceiver') => {
    const c = await open(port);
    expect((await c.request(mode, { system_id: systemId, password: PASSWORD })).command_status, `bind ${systemId}`).toBe(E.ESME_ROK);
    return c;
  };
  /** The status a bind from `from` on `port` gets ('closed': the connection ended before any answer). */
  async function bindStatus(port: number, from: string, password = PASSWORD, tls?: { ca: string }): Promise<number | string> {
    let c: Client;
    try {
      c = await Client.open(port, from, '127.0.0.1', tls);
    } catch (error) {
      return `not connected: ${(error as Error).message}`;
    }
    clients.push(c);
    return outcomeOf(c, c.request('bind_transceiver', { system_id: `${account.name}:shop`, password }));
  }
  async function withServer(options: Partial<Parameters<typeof startSmppServer>[0]>, body: (own: SmppServer) => Promise<void>) {
    const own = await startSmppServer({ services: ctx.app.services, log: silentLog, port: 0, host: '127.0.0.1', ...options });
    try {
      await body(own);
    } finally {
      await closeClients(clients);
      await own.close();
    }
  }
  const state = () => ledger(ctx.database);
  const rowsTo = (receiver: string) =>
    ctx.database.db.selectFrom('outgoing').select(['id', 'status', 'message']).where('receiver', '=', receiver).execute();
  /** The messages of the job whose message `id` is, in id order. */
  const jobMessages = async (id: unknown) => {
    const first = await ctx.database.db.selectFrom('outgoing').select('job_id').where('id', '=', Number(id)).executeTakeFirstOrThrow();
    const rows = await ctx.database.db
      .selectFrom('outgoing')
      .select(['id', 'receiver', 'user_login', 'parts', 'credits', 'status', 'message', 'encoding'])
      .where('job_id', '=', Number(first.job_id))
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ ...r, id: Number(r.id), parts: Number(r.parts), credits: Number(r.credits) }));
  };

  beforeAll(async () => {
    account = await createAccount(ctx.app, { credits: 5000 });
    await createSender(ctx.app, account, { sender: 'MyShop' });
    await createSmsUser(ctx.app, account, { login: 'shop', password: PASSWORD });
    await createSmsUser(ctx.app, account, { login: 'other', password: PASSWORD });
    poor = await createAccount(ctx.app, { credits: 10 });
    await createSender(ctx.app, poor, { sender: 'MyShop' });
    await createSmsUser(ctx.app, poor, { login: 'shop', password: PASSWORD });
    server = await startSmppServer({ services: ctx.app.services, log: log.log, port: 0, host: '127.0.0.1', partsTimeoutMs: 300 });
  });
  afterEach(async () => {
    await closeClients(clients);
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('SMPP over TLS', () => {
    it('keeps other addresses able to connect to the TLS port while one address holds connections that never finish their handshake', async () => {
      const certificate = await selfSignedCertificate();
      try {
        await withServer({ maxSessions: 4, tls: { port: 0, key: certificate.key, cert: certificate.cert } }, async (own) => {
          const raws: Socket[] = [];
          /** Connections from `from` to `port` that connect and then say nothing. */
          const idle = async (port: number, from: string, count: number) => {
            for (let i = 0; i < count; i++) {
              const s = createConnection({ host: '127.0.0.1', port, localAddress: from });
              s.on('error', () => {});
              raws.push(s);
              await new Promise((resolve) => s.once('connect', resolve));
            }
          };
          try {
            // The plain port: one address keeps to its share (a quarter), the others get in.
            await idle(own.port, '127.0.0.41', 4);
            expect(await bindStatus(own.port, '127.0.0.42')).toBe(E.ESME_ROK);
            // The TLS port: the same from one address, before any handshake; another address must still get in.
            await idle(own.tlsPort!, '127.0.0.41', 4);
            expect(await bindStatus(own.tlsPort!, '127.0.0.43', PASSWORD, { ca: certificate.cert })).toBe(E.ESME_ROK);
          } finally {
            for (const s of raws) s.destroy();
          }
        });
      } finally {
        certificate.remove();
      }
    });

    it('counts failed binds on either port against the same address', async () => {
      const certificate = await selfSignedCertificate();
      const ca = { ca: certificate.cert };
      try {
        await withServer({ bindFailuresPerMinute: 2, tls: { port: 0, key: certificate.key, cert: certificate.cert } }, async (own) => {
          const plain = own.port;
          const secure = own.tlsPort!;
          expect([await bindStatus(plain, '127.0.0.44', 'wrong-1'), await bindStatus(plain, '127.0.0.44', 'wrong-2')]).toEqual([
            E.ESME_RINVPASWD,
            E.ESME_RINVPASWD,
          ]);
          expect(await bindStatus(secure, '127.0.0.44', PASSWORD, ca)).toBe(E.ESME_RBINDFAIL);
          expect([await bindStatus(secure, '127.0.0.45', 'wrong-1', ca), await bindStatus(secure, '127.0.0.45', 'wrong-2', ca)]).toEqual([
            E.ESME_RINVPASWD,
            E.ESME_RINVPASWD,
          ]);
          expect(await bindStatus(plain, '127.0.0.45', PASSWORD)).toBe(E.ESME_RBINDFAIL);
          expect(await bindStatus(secure, '127.0.0.46', PASSWORD, ca)).toBe(E.ESME_ROK);
        });
      } finally {
        certificate.remove();
      }
    });

    it('counts a TLS session in its address’s share of the connections, with its plain ones', async () => {
      const certificate = await selfSignedCertificate();
      const ca = { ca: certificate.cert };
      try {
        await withServer({ maxSessions: 8, tls: { port: 0, key: certificate.key, cert: certificate.cert } }, async (own) => {
          // Two connections per address (a quarter of 8), over both ports.
          expect([await bindStatus(own.port, '127.0.0.47'), await bindStatus(own.tlsPort!, '127.0.0.47', PASSWORD, ca)]).toEqual([
            E.ESME_ROK,
            E.ESME_ROK,
          ]);
          expect(String(await bindStatus(own.tlsPort!, '127.0.0.47', PASSWORD, ca))).toMatch(/^(closed|not connected)/);
          expect(await bindStatus(own.tlsPort!, '127.0.0.50', PASSWORD, ca)).toBe(E.ESME_ROK);
        });
      } finally {
        certificate.remove();
      }
    });
  });

  describe('binds', () => {
    it('checks no more passwords than the limit when one address sends many wrong binds at once', async () => {
      await withServer({ bindFailuresPerMinute: 3 }, async (own) => {
        const connections = await Promise.all(Array.from({ length: 8 }, () => open(own.port, '127.0.0.48')));
        const statuses = await Promise.all(
          connections.map((c, i) =>
            outcomeOf(c, c.request('bind_transceiver', { system_id: `${account.name}:shop`, password: `wrong-${i}` })),
          ),
        );
        expect(statuses.filter((s) => s === E.ESME_RINVPASWD)).toHaveLength(3);
        expect(statuses.filter((s) => s === E.ESME_RBINDFAIL)).toHaveLength(5);
        expect(await bindStatus(own.port, '127.0.0.48')).toBe(E.ESME_RBINDFAIL);
        expect(await bindStatus(own.port, '127.0.0.49')).toBe(E.ESME_ROK);
      });
    });

    it('refuses everything a session sends once its SMS user’s password changed — submit_multi, the rest of a held message, cancel_sm — writing nothing', async () => {
      await withServer({ sessionCheckMs: 20, partsTimeoutMs: 60_000 }, async (own) => {
        await createSmsUser(ctx.app, account, { login: 'revokee', password: PASSWORD });
        const c = await open(own.port);
        // This program does not answer the server's unbind: its connection stays open for a while.
        c.session.removeAllListeners('unbind');
        const unbound = new Promise<void>((resolve) => c.session.once('unbind', () => resolve()));
        expect((await c.request('bind_transceiver', { system_id: `${account.name}:revokee`, password: PASSWORD })).command_status).toBe(
          E.ESME_ROK,
        );
        const pending = await c.request('submit_sm', {
          source_addr: 'MyShop',
          destination_addr: '+33612345701',
          short_message: 'to cancel',
          schedule_delivery_time: LATER(),
        });
        expect(pending.command_status).toBe(E.ESME_ROK);
        const part = (seq: number, text: string) => ({
          source_addr: 'MyShop',
          dest_address: to('+33612345702', '+33612345703'),
          esm_class: 0x40,
          short_message: { udh: Buffer.from([0x05, 0x00, 0x03, 44, 2, seq]), message: text },
        });
        const first = outcomeOf(c, c.request('submit_multi', part(1, 'Held before, ')));
        await c.request('enquire_link');
        await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, account.name, 'revokee', { password: 'another-pass-2024' });
        await unbound;
        const before = await state();
        const after = await Promise.all([
          outcomeOf(c, c.request('submit_multi', { source_addr: 'MyShop', dest_address: to('+33612345704'), short_message: 'after' })),
          outcomeOf(c, c.request('submit_multi', part(2, 'completed after.'))),
          outcomeOf(c, c.request('cancel_sm', { message_id: pending.message_id })),
          outcomeOf(c, c.request('submit_sm', { source_addr: 'MyShop', destination_addr: '+33612345705', short_message: 'after' })),
        ]);
        for (const status of after) expect([E.ESME_RINVBNDSTS, 'closed']).toContain(status);
        await c.closed();
        // Answered on arrival (a part id of its own), or refused with its message: never sent.
        expect([E.ESME_ROK, E.ESME_RSUBMITFAIL, 'closed']).toContain(await first);
        expect(await state()).toEqual(before);
        for (const receiver of ['+33612345702', '+33612345703', '+33612345704', '+33612345705']) expect(await rowsTo(receiver)).toEqual([]);
        expect((await rowsTo('+33612345701')).map((r) => r.status)).toEqual(['pending']);
      });
    });
    it('sends no receipt to a session its SMS user’s change ended; the next bind gets it', async () => {
      await withServer({ sessionCheckMs: 20, receiptPollMs: 20 }, async (own) => {
        const user = await createSmsUser(ctx.app, account, { login: 'receiver', password: PASSWORD });
        const old = await open(own.port);
        old.session.removeAllListeners('unbind');
        const unbound = new Promise<void>((resolve) => old.session.once('unbind', () => resolve()));
        expect((await old.request('bind_receiver', { system_id: `${account.name}:receiver`, password: PASSWORD })).command_status).toBe(
          E.ESME_ROK,
        );
        await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, account.name, 'receiver', { password: 'another-pass-2024' });
        await unbound;
        const now = Date.now();
        const params = {
          id: '424242',
          receiver: '+33612345800',
          sender: 'MyShop',
          status: 'delivered',
          submittedAt: now,
          doneAt: now,
          errorCode: null,
          text: 'owed',
        };
        await ctx.database.db
          .insertInto('smpp_receipts')
          .values({
            outgoing_id: 424_242,
            account_id: account.id,
            user_id: user.id,
            params: JSON.stringify(params),
            created_at: now,
            next_attempt_at: now,
            attempts: 0,
            lease_owner: null,
            lease_until: 0,
          })
          .execute();
        const fresh = await open(own.port);
        expect(
          (await fresh.request('bind_receiver', { system_id: `${account.name}:receiver`, password: 'another-pass-2024' })).command_status,
        ).toBe(E.ESME_ROK);
        await waitFor(() => fresh.delivered.length === 1, 'the receipt on the new session');
        expect([fresh.delivered[0].receipted_message_id, old.delivered]).toEqual(['424242', []]);
      });
    });
  });

  describe('submit_multi', () => {
    it('keeps a submit_multi’s messages to its SMS user: another user, or the same login in another account, neither queries nor cancels them', async () => {
      const c = await bound();
      const resp = await c.request('submit_multi', {
        source_addr: 'MyShop',
        dest_address: to('+33612345710', '+33612345711'),
        short_message: 'Mine',
        schedule_delivery_time: LATER(),
      });
      expect(resp.command_status).toBe(E.ESME_ROK);
      const ids = (await jobMessages(resp.message_id)).map((m) => String(m.id));
      expect(ids[0]).toBe(resp.message_id);
      const before = await state();
      for (const stranger of [await bound(`${account.name}:other`), await bound(`${poor.name}:shop`)]) {
        for (const id of ids) {
          expect((await stranger.request('query_sm', { message_id: id, source_addr: 'MyShop' })).command_status).toBe(E.ESME_RQUERYFAIL);
          expect((await stranger.request('cancel_sm', { message_id: id, source_addr: 'MyShop' })).command_status).toBe(E.ESME_RCANCELFAIL);
        }
      }
      expect(await state()).toEqual(before);
      // The owner reads the other destination's message by the id its receipt would carry.
      const q = await c.request('query_sm', { message_id: ids[1], source_addr: 'MyShop' });
      expect([q.command_status, q.message_state]).toEqual([E.ESME_ROK, 1]);
    });

    it('sends each receipt of a submit_multi to its own SMS user only, not to another user nor to the same login of another account', async () => {
      const receiver = await bound(`${account.name}:shop`, server.port, 'bind_receiver');
      const strangers = [
        await bound(`${poor.name}:shop`, server.port, 'bind_receiver'),
        await bound(`${account.name}:other`, server.port, 'bind_receiver'),
      ];
      const tx = await bound(`${account.name}:shop`, server.port, 'bind_transmitter');
      // Dispatching only while this test runs: the others count queue entries.
      const dispatching = await startSimulatorDispatching(ctx.app.services);
      try {
        const sent = await tx.request('submit_multi', {
          source_addr: 'MyShop',
          dest_address: to('+33612345810', '+33612345811'),
          short_message: 'Receipts',
          registered_delivery: 1,
        });
        expect(sent.command_status).toBe(E.ESME_ROK);
        const ids = (await jobMessages(sent.message_id)).map((m) => String(m.id));
        const receipts = await waitFor(() => {
          const got = ids.map((id) => receiver.delivered.find((p) => p.receipted_message_id === id));
          return got.every((p) => p !== undefined) ? got : undefined;
        }, 'a receipt per destination');
        expect(receipts.map((p) => [p!.source_addr, p!.destination_addr])).toEqual([
          ['33612345810', 'MyShop'],
          ['33612345811', 'MyShop'],
        ]);
        expect(strangers.map((s) => s.delivered)).toEqual([[], []]);
      } finally {
        await dispatching.stop();
      }
    });

    it('sends a number given several ways once, debiting the SMS user’s quota and the credits once', async () => {
      await createSmsUser(ctx.app, account, { login: 'dupes', password: PASSWORD, quota: 2 });
      const c = await bound(`${account.name}:dupes`);
      const before = await state();
      const resp = await c.request('submit_multi', {
        source_addr: 'MyShop',
        dest_address: to('+33612345720', '0612345720', '0033612345720', '06 12 34 57 20', '+33612345721', '0612345721'),
        short_message: 'Once each',
      });
      expect([resp.command_status, resp.unsuccess_sme]).toEqual([E.ESME_ROK, []]);
      expect((await jobMessages(resp.message_id)).map((m) => m.receiver)).toEqual(['+33612345720', '+33612345721']);
      const after = await state();
      const userId = Number(
        (await ctx.database.db.selectFrom('sms_users').select('id').where('login', '=', 'dupes').executeTakeFirstOrThrow()).id,
      );
      expect([after.outgoing - before.outgoing, after.credits[account.id] - before.credits[account.id], after.quotas[userId]]).toEqual([
        2, -2, 0,
      ]);
      const again = await c.request('submit_multi', { source_addr: 'MyShop', dest_address: to('+33612345722'), short_message: 'No more' });
      expect(again.command_status).toBe(E.ESME_RSUBMITFAIL);
    });

    it('debits destinations × parts, all or nothing, for 255 destinations of a long text', async () => {
      const bulk = await createAccount(ctx.app, { credits: 1000 });
      await createSender(ctx.app, bulk, { sender: 'MyShop' });
      await createSmsUser(ctx.app, bulk, { login: 'bulk', password: PASSWORD });
      const c = await bound(`${bulk.name}:bulk`);
      const receivers = Array.from({ length: 255 }, (_, i) => `+336124${String(i).padStart(5, '0')}`);
      const fields = (parts: number) => ({
        source_addr: 'MyShop',
        dest_address: to(...receivers),
        message_payload: 'x'.repeat(153 * (parts - 1) + 1),
        schedule_delivery_time: LATER(),
      });
      const before = await state();
      // 255 × 5 = 1,275 credits: more than the account has.
      expect((await c.request('submit_multi', fields(5))).command_status).toBe(E.ESME_RSUBMITFAIL);
      expect(await state()).toEqual(before);
      const resp = await c.request('submit_multi', fields(3));
      expect(resp.command_status).toBe(E.ESME_ROK);
      const messages = await jobMessages(resp.message_id);
      expect([messages.length, new Set(messages.map((m) => m.parts)), messages.reduce((sum, m) => sum + m.credits, 0)]).toEqual([
        255,
        new Set([3]),
        765,
      ]);
      expect((await state()).credits[bulk.id]).toBe(before.credits[bulk.id] - 765);
    });

    it('holds submit_multi parts within the limit of a connection, each message counted by its whole number of parts', async () => {
      await withServer({}, async (own) => {
        const c = await bound(`${account.name}:shop`, own.port);
        const firstPart = (ref: number) => ({
          source_addr: 'MyShop',
          dest_address: to('+33612345730', '+33612345731'),
          esm_class: 0x40,
          short_message: { udh: Buffer.from([0x05, 0x00, 0x03, ref, 255, 1]), message: `part 1 of ${ref}` },
        });
        // 7 messages of 255 parts are 1,785 parts held; an eighth would pass 2,000.
        for (let ref = 1; ref <= 7; ref++) c.request('submit_multi', firstPart(ref)).catch(() => undefined);
        await c.request('enquire_link');
        const before = await state();
        expect((await c.request('submit_multi', firstPart(8))).command_status).toBe(E.ESME_RMSGQFUL);
        expect(await state()).toEqual(before);
      });
    });

    it('does not hold a quarter of a million destinations of unfinished submit_multi messages on one connection', async () => {
      await withServer({}, async (own) => {
        const c = await bound(`${account.name}:shop`, own.port);
        const receivers = Array.from({ length: 255 }, (_, i) => `+336125${String(i).padStart(5, '0')}`);
        const statuses: number[] = [];
        // 1,000 first parts of two-part messages (the 2,000 parts the limit reserves), each to 255 destinations:
        // about 60 KB held per part (a submit_sm part: about 2 KB), some 60 MB for this one connection.
        for (let ref = 1; ref <= 1000; ref++)
          c.request('submit_multi', {
            source_addr: 'MyShop',
            dest_address: to(...receivers),
            esm_class: 0x40,
            short_message: { udh: Buffer.from([0x06, 0x08, 0x04, ref >> 8, ref & 0xff, 2, 1]), message: `part 1 of ${ref}` },
          }).then(
            (p) => statuses.push(p.command_status),
            () => undefined,
          );
        await c.request('enquire_link');
        expect(statuses.filter((s) => s === E.ESME_RMSGQFUL).length).toBeGreaterThan(0);
      });
    });

    it('answers a submit_multi with a submit_multi_resp no larger than an SMPP PDU may be, whatever the names it lists', async () => {
      const c = await bound();
      const clientError = new Promise<string>((resolve) => c.session.once('error', (e: Error) => resolve(e.message)));
      // SMPP 3.4 keeps dl_name to 21 octets; these are 60, and the request still fits in 16 KiB.
      const lists = Array.from({ length: 254 }, (_, i) => ({ dl_name: `list-${String(i).padStart(3, '0')}-`.padEnd(60, 'x') }));
      const before = await state();
      const answer = await Promise.race([
        c
          .request('submit_multi', { source_addr: 'MyShop', dest_address: to('+33612345740', ...lists), short_message: 'x' })
          .then((pdu) => ({
            status: pdu.command_status,
            unsuccessful: pdu.command_status === E.ESME_ROK ? (pdu.unsuccess_sme as unknown[]).length : null,
          })),
        clientError.then((error) => ({ error })),
      ]);
      const written = (await state()).outgoing - before.outgoing;
      if ('error' in answer) expect.fail(`the program could not read the answer (${answer.error}); messages written meanwhile: ${written}`);
      // Answered with the message written, or refused with nothing written.
      if (answer.status === E.ESME_ROK) expect([answer.unsuccessful, written]).toEqual([254, 1]);
      else expect(written).toBe(0);
    });

    it('never puts together the parts of submit_multi messages to different destinations', async () => {
      const c = await bound();
      const udh = (seq: number) => Buffer.from([0x05, 0x00, 0x03, 31, 2, seq]);
      const toTwo = c.request('submit_multi', {
        source_addr: 'MyShop',
        dest_address: to('+33612345750', '+33612345751'),
        esm_class: 0x40,
        short_message: { udh: udh(1), message: 'To both, ' },
      });
      // One destination whose address holds a 0x01 octet and what follows: another message, to another destination.
      const toOne = c.request('submit_multi', {
        source_addr: 'MyShop',
        dest_address: [{ dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '33612345750\u00011:1:33612345751' }],
        esm_class: 0x40,
        short_message: { udh: udh(2), message: 'to the odd one.' },
      });
      const [two, one] = await Promise.all([toTwo, toOne]);
      // Each lacks a part, and nothing is sent: part 1 is answered on arrival with a part id of its own (no
      // message's), part 2 (its part 1 never came) fails when its time runs out.
      expect({
        two: [two.command_status, /^part-/.test(String(two.message_id))],
        one: one.command_status,
        toFirst: await rowsTo('+33612345750'),
      }).toEqual({ two: [E.ESME_ROK, true], one: E.ESME_RSUBMITFAIL, toFirst: [] });
    });

    it('puts UCS-2 parts together (16-bit reference), and refuses binary data whatever its UDH, writing nothing', async () => {
      const c = await bound();
      const part = (seq: number, text: string) => ({
        source_addr: 'MyShop',
        dest_address: to('+33612345760', '0612345761'),
        esm_class: 0x40,
        data_coding: 8,
        short_message: { udh: Buffer.from([0x06, 0x08, 0x04, 0x12, 0x34, 2, seq]), message: text },
      });
      const [second, first] = await Promise.all([
        c.request('submit_multi', part(2, 'мир 🎉')),
        c.request('submit_multi', part(1, 'Привет, ')),
      ]);
      expect([first.command_status, second.command_status, second.message_id]).toEqual([E.ESME_ROK, E.ESME_ROK, first.message_id]);
      expect((await jobMessages(first.message_id)).map((m) => [m.receiver, m.message, m.encoding])).toEqual([
        ['+33612345760', 'Привет, мир 🎉', 'ucs2'],
        ['+33612345761', 'Привет, мир 🎉', 'ucs2'],
      ]);
      const before = await state();
      const binary = await c.request('submit_multi', {
        source_addr: 'MyShop',
        dest_address: to('+33612345762'),
        esm_class: 0x40,
        data_coding: 4,
        short_message: Buffer.concat([Buffer.from([0x05, 0x00, 0x03, 9, 1, 1]), Buffer.from([0xde, 0xad, 0xbe, 0xef])]),
      });
      expect(binary.command_status).toBe(E.ESME_RINVDCS);
      expect(await state()).toEqual(before);
    });

    it('lists distribution lists with odd names as given (at most 20 octets), and sends nothing to a list named like a number', async () => {
      const c = await bound();
      const names = ['+33612345770', 'list:friends\u00011:1:33612345771', 'tab\there ~\u007f', ''];
      const resp = await c.request('submit_multi', {
        source_addr: 'MyShop',
        dest_address: to(...names.map((dl_name) => ({ dl_name })), '+33612345772'),
        short_message: 'Lists',
      });
      expect(resp.command_status).toBe(E.ESME_ROK);
      expect(resp.unsuccess_sme).toEqual(
        // As given, cut to SMPP's 21 octets (20 and the NUL): a longer echo could make an answer too big to read.
        names.map((name) => ({
          dest_addr_ton: 0,
          dest_addr_npi: 0,
          destination_addr: name.slice(0, 20),
          error_status_code: E.ESME_RINVDLNAME,
        })),
      );
      expect((await jobMessages(resp.message_id)).map((m) => m.receiver)).toEqual(['+33612345772']);
      expect([...(await rowsTo('+33612345770')), ...(await rowsTo('+33612345771'))]).toEqual([]);
    });

    it('writes nothing for a number_of_dests that lies, and goes on serving', async () => {
      const c = await bound();
      const answers = new Map<number, number>();
      c.session.on('pdu', (pdu: smpp.PDU) => {
        if (pdu.command === 'submit_multi_resp') answers.set(pdu.sequence_number, pdu.command_status);
      });
      // The raw encoding itself, told the truth: sent.
      c.session.socket.write(rawSubmitMulti(900_001, 1, [addressEntry(1, 1, '33612345780')], 'truthful'));
      await waitFor(() => answers.get(900_001) !== undefined, 'the truthful submit_multi answered');
      expect(answers.get(900_001)).toBe(E.ESME_ROK);
      expect((await rowsTo('+33612345780')).map((r) => r.message)).toEqual(['truthful']);

      const before = await state();
      // Three said, one given: the fields after it are read as destinations.
      c.session.socket.write(rawSubmitMulti(900_002, 3, [addressEntry(1, 1, '33612345781')], 'three said'));
      // Two given, one said: the second is read as the message's fields.
      c.session.socket.write(
        rawSubmitMulti(900_003, 1, [addressEntry(1, 1, '33612345782'), addressEntry(1, 1, '33612345783')], 'one said'),
      );
      await waitFor(() => answers.has(900_002) && answers.has(900_003), 'both lying submit_multi answered');
      expect(answers.get(900_002)).not.toBe(E.ESME_ROK);
      expect(answers.get(900_003)).not.toBe(E.ESME_ROK);
      expect(await state()).toEqual(before);

      // 255 said, none given, the PDU ends: this connection is dropped, nothing written, the others served.
      const liar = await bound();
      liar.session.socket.write(rawSubmitMulti(900_004, 255, [], null));
      expect(await outcomeOf(liar, liar.request('enquire_link'))).toBe('closed');
      expect(await state()).toEqual(before);
      expect((await (await bound()).request('enquire_link')).command_status).toBe(E.ESME_ROK);
    });

    it('refuses parts whose text put together is longer than a message may be, for every part, writing nothing', async () => {
      const c = await bound();
      const part = (seq: number) => ({
        source_addr: 'MyShop',
        dest_address: to('+33612345790', '+33612345791'),
        message_payload: String(seq).repeat(3000),
        sar_msg_ref_num: 0x4321,
        sar_total_segments: 2,
        sar_segment_seqnum: seq,
      });
      const before = await state();
      const answers = await Promise.all([c.request('submit_multi', part(1)), c.request('submit_multi', part(2))]);
      expect(answers.map((p) => p.command_status)).toEqual([E.ESME_RINVMSGLEN, E.ESME_RINVMSGLEN]);
      expect(await state()).toEqual(before);
    });
  });
});
