import { createConnection } from 'node:net';
import smpp from 'smpp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createAccount, createSender, createSmsUser } from '../../../../test/factories.js';
import { ledger } from '../../../../test/ledger.js';
import { SmppClient as Client, closeClients } from '../../../../test/smpp-client.js';
import { selfSignedCertificate } from '../../../../test/tls.js';
import type { Account } from '../accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../accounts/accounts.service.js';
import { memoryLog, silentLog, startSimulatorDispatching, waitFor } from '../dispatch/dispatch-testing.js';
import type { Dispatching } from '../dispatch/dispatching.js';
import { MAX_HELD_PARTS, MAX_UNREAD_BYTES, type SmppServer, startSmppServer } from './smpp.server.js';
import { createSmppReceiptsRepository } from './smpp-receipts.repository.js';

const PASSWORD = 'smpp-pass-2024';
const E = smpp.errors;

describeEachDialectWithApp('SMPP server for customers’ programs', (ctx) => {
  let server: SmppServer;
  let account: Account;
  let poor: Account;
  let userId: number;
  const clients: Client[] = [];
  const log = memoryLog();
  const open = async (port = server.port) => {
    const c = await Client.open(port);
    clients.push(c);
    return c;
  };
  const bound = async (mode = 'bind_transceiver', systemId = `${account.name}:shop`, password = PASSWORD) => {
    const c = await open();
    const resp = await c.request(mode, { system_id: systemId, password });
    expect(resp.command_status, 'bind').toBe(E.ESME_ROK);
    return c;
  };
  /** Runs `body` against a server of its own (`options` over the defaults), closing its connections and it after. */
  async function withServer(options: Partial<Parameters<typeof startSmppServer>[0]>, body: (port: number) => Promise<void>) {
    const own = await startSmppServer({ services: ctx.app.services, log: memoryLog().log, port: 0, host: '127.0.0.1', ...options });
    try {
      await body(own.port);
    } finally {
      await closeClients(clients);
      await own.close();
    }
  }
  const row = (id: string | number) =>
    ctx.database.db
      .selectFrom('outgoing')
      .select([
        'id',
        'receiver',
        'sender',
        'message',
        'channel',
        'user_login',
        'user_id',
        'status',
        'encoding',
        'parts',
        'deferred_until',
        'valid_until',
        'created_at',
        'job_id',
      ])
      .where('id', '=', Number(id))
      .executeTakeFirst();
  const state = () => ledger(ctx.database);
  /** Submits and expects `status`, with nothing written or debited. */
  async function expectRefused(c: Client, fields: Record<string, unknown>, status: number) {
    const before = await state();
    const resp = await c.request('submit_sm', fields);
    expect(resp.command_status).toBe(status);
    expect(await state()).toEqual(before);
  }

  beforeAll(async () => {
    account = await createAccount(ctx.app, { credits: 1000 });
    await createSender(ctx.app, account, { sender: 'MyShop' });
    userId = (await createSmsUser(ctx.app, account, { login: 'shop', password: PASSWORD })).id;
    await createSmsUser(ctx.app, account, { login: 'other', password: PASSWORD });
    await createSmsUser(ctx.app, account, { login: 'fenced', password: PASSWORD, ipRestrictions: ['192.0.2.0/24'] });
    poor = await createAccount(ctx.app, { credits: 0 });
    await createSender(ctx.app, poor, { sender: 'MyShop' });
    await createSmsUser(ctx.app, poor, { login: 'shop', password: PASSWORD });
    server = await startSmppServer({
      services: ctx.app.services,
      log: log.log,
      port: 0,
      host: '127.0.0.1',
      receiptPollMs: 20,
      partsTimeoutMs: 300,
    });
  });
  // Each test's connections end with it: a receipt goes to any receiver bind of its SMS user.
  afterEach(async () => {
    await closeClients(clients);
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('SMPP over TLS', () => {
    it('serves the same programs over TLS on a port of its own: bind, submit, into the history; plain SMPP there is refused', async () => {
      const made = await selfSignedCertificate();
      try {
        const own = await startSmppServer({
          services: ctx.app.services,
          log: silentLog,
          port: 0,
          host: '127.0.0.1',
          tls: { port: 0, key: made.key, cert: made.cert },
        });
        try {
          expect(own.tlsPort).toEqual(expect.any(Number));
          const secure = await Client.open(own.tlsPort!, '127.0.0.1', '127.0.0.1', { ca: made.cert });
          clients.push(secure);
          expect((await secure.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD })).command_status).toBe(
            E.ESME_ROK,
          );
          const resp = await secure.request('submit_sm', {
            source_addr: 'MyShop',
            destination_addr: '+33612345699',
            short_message: 'sur TLS',
          });
          expect(resp.command_status).toBe(E.ESME_ROK);
          expect(await row(String(resp.message_id))).toMatchObject({
            channel: 'smpp',
            user_login: 'shop',
            message: 'sur TLS',
            receiver: '+33612345699',
          });
          // Plain SMPP on the TLS port: no bind is ever answered, the connection is closed.
          const plain = await Client.open(own.tlsPort!);
          clients.push(plain);
          let answered = false;
          void plain.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD }).then(() => (answered = true));
          await plain.closed();
          expect(answered).toBe(false);
          // The plain port of the same server still serves.
          const c = await Client.open(own.port);
          clients.push(c);
          expect((await c.request('bind_transmitter', { system_id: `${account.name}:shop`, password: PASSWORD })).command_status).toBe(
            E.ESME_ROK,
          );
        } finally {
          await closeClients(clients);
          await own.close();
        }
      } finally {
        made.remove();
      }
    });

    it('closes a TLS connection whose handshake does not finish within handshakeTimeoutMs, and gives its address’s share back', async () => {
      const made = await selfSignedCertificate();
      try {
        // One connection per address: a slot not given back would keep this address out for good.
        const own = await startSmppServer({
          services: ctx.app.services,
          log: silentLog,
          port: 0,
          host: '127.0.0.1',
          maxSessionsPerAddress: 1,
          tls: { port: 0, key: made.key, cert: made.cert, handshakeTimeoutMs: 300 },
        });
        try {
          /**
           * A raw TCP connection from `from` to the TLS port, sending `bytes` (if any) and nothing more;
           * resolved once the server closed it (the generous bound only turns a hang into a clear failure).
           */
          const stalled = async (from: string, bytes?: Buffer) => {
            const socket = createConnection({ host: '127.0.0.1', port: own.tlsPort!, localAddress: from });
            socket.on('error', () => {});
            socket.resume();
            await new Promise((resolve) => socket.once('connect', resolve));
            let closed = false;
            socket.once('close', () => (closed = true));
            if (bytes) socket.write(bytes);
            try {
              await waitFor(() => closed, `the server to close a TLS connection from ${from} that never finished its handshake`, 10_000);
            } finally {
              socket.destroy();
            }
          };
          /** A TLS client from `from`, bound; tried again while the server has not yet counted the closed connection out. */
          const boundOverTls = (from: string) =>
            waitFor(async () => {
              const c = await Client.open(own.tlsPort!, from, '127.0.0.1', { ca: made.cert });
              clients.push(c);
              return (await c.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD })).command_status ===
                E.ESME_ROK
                ? c
                : null;
            }, `a TLS bind from ${from}`);
          // Nothing sent at all.
          await stalled('127.0.0.12');
          // Half a ClientHello: a handshake record announcing 512 bytes, of which only the first few come.
          await stalled('127.0.0.13', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
          // Each address's one slot is free again: a real TLS client from it binds.
          await boundOverTls('127.0.0.12');
          const secure = await boundOverTls('127.0.0.13');
          expect((await secure.request('enquire_link')).command_status).toBe(E.ESME_ROK);
        } finally {
          await closeClients(clients);
          await own.close();
        }
      } finally {
        made.remove();
      }
    });
  });

  describe('binds', () => {
    it('binds an SMS user as transceiver with system_id "account:login", or with system_type the account', async () => {
      const c = await open();
      const resp = await c.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD });
      expect([resp.command_status, resp.system_id]).toEqual([E.ESME_ROK, 'Relais']);
      const t = await open();
      expect(
        (await t.request('bind_transmitter', { system_id: 'shop', system_type: account.name, password: PASSWORD })).command_status,
      ).toBe(E.ESME_ROK);
      expect((await t.request('bind_receiver', { system_id: 'shop', system_type: account.name, password: PASSWORD })).command_status).toBe(
        E.ESME_RALYBND,
      );
    });

    it('answers the same status for a wrong password, an unknown login and an unknown account', async () => {
      for (const systemId of [`${account.name}:shop`, `${account.name}:nobody`, 'sms-zz99999-9:shop']) {
        const c = await open();
        const resp = await c.request('bind_transceiver', {
          system_id: systemId,
          password: systemId.endsWith(':shop') ? 'wrong' : PASSWORD,
        });
        expect(resp.command_status, systemId).toBe(E.ESME_RINVPASWD);
      }
    });

    it('refuses an address outside the SMS user’s IP restrictions, whatever the password', async () => {
      for (const password of [PASSWORD, 'wrong']) {
        const c = await open();
        expect((await c.request('bind_transceiver', { system_id: `${account.name}:fenced`, password })).command_status).toBe(
          E.ESME_RBINDFAIL,
        );
      }
    });

    it('counts binds from an address the SMS user does not allow as failed binds of that address', async () => {
      await withServer({ bindFailuresPerMinute: 2 }, async (port) => {
        const from = '127.0.0.2';
        for (let i = 0; i < 2; i++) {
          const c = await Client.open(port, from);
          clients.push(c);
          expect((await c.request('bind_transceiver', { system_id: `${account.name}:fenced`, password: PASSWORD })).command_status).toBe(
            E.ESME_RBINDFAIL,
          );
        }
        // The right credentials of another user, from that address: refused unchecked for the rest of the minute.
        const c = await Client.open(port, from);
        clients.push(c);
        expect((await c.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD })).command_status).toBe(
          E.ESME_RBINDFAIL,
        );
        const elsewhere = await Client.open(port, '127.0.0.3');
        clients.push(elsewhere);
        expect(
          (await elsewhere.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD })).command_status,
        ).toBe(E.ESME_ROK);
      });
    });

    it('ends the sessions of an SMS user deleted, or whose password or allowed addresses changed (here or in another process)', async () => {
      await withServer({ sessionCheckMs: 20 }, async (port) => {
        const logins = ['keeps', 'repass', 'fenced-now', 'gone'];
        for (const login of logins) await createSmsUser(ctx.app, account, { login, password: PASSWORD, quota: 50 });
        const sessions = new Map<string, { client: Client; unbound: Promise<void> }>();
        for (const login of logins) {
          const client = await Client.open(port);
          clients.push(client);
          const unbound = new Promise<void>((resolve) => client.session.once('unbind', () => resolve()));
          expect(
            (await client.request('bind_transceiver', { system_id: `${account.name}:${login}`, password: PASSWORD })).command_status,
          ).toBe(E.ESME_ROK);
          sessions.set(login, { client, unbound });
        }
        const { smsUsers } = ctx.app.services;
        // A change that does not touch the credentials: the session goes on.
        await smsUsers.update(SYSTEM_ACTOR, account.name, 'keeps', { quota: 10, callbackUrl: null });
        await smsUsers.update(SYSTEM_ACTOR, account.name, 'repass', { password: 'another-pass-2024' });
        // As `relais user update` in another process would: the database alone changes.
        await ctx.database.db
          .updateTable('sms_users')
          .set({ ip_restrictions: JSON.stringify(['192.0.2.0/24']) })
          .where('account_id', '=', account.id)
          .where('login', '=', 'fenced-now')
          .execute();
        await smsUsers.delete(SYSTEM_ACTOR, account.name, 'gone');
        for (const login of ['repass', 'fenced-now', 'gone']) {
          const { client, unbound } = sessions.get(login)!;
          await unbound;
          await client.closed();
        }
        // Checked with the others after the last change: still bound, still sending.
        const keeps = sessions.get('keeps')!.client;
        expect((await keeps.request('enquire_link')).command_status).toBe(E.ESME_ROK);
        expect(
          (await keeps.request('submit_sm', { source_addr: 'MyShop', destination_addr: '+33612345671', short_message: 'still here' }))
            .command_status,
        ).toBe(E.ESME_ROK);
        // The new password binds again.
        const again = await Client.open(port);
        clients.push(again);
        expect(
          (await again.request('bind_transceiver', { system_id: `${account.name}:repass`, password: 'another-pass-2024' })).command_status,
        ).toBe(E.ESME_ROK);
      });
    });

    it('keeps one address to its share of the connections: its idle ones do not keep others out', async () => {
      await withServer({ maxSessions: 8 }, async (port) => {
        for (let i = 0; i < 2; i++) {
          const c = await Client.open(port, '127.0.0.8');
          clients.push(c);
          expect((await c.request('enquire_link')).command_status).toBe(E.ESME_ROK);
        }
        const third = await Client.open(port, '127.0.0.8');
        clients.push(third);
        await third.closed();
        const other = await Client.open(port, '127.0.0.9');
        clients.push(other);
        expect((await other.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD })).command_status).toBe(
          E.ESME_ROK,
        );
      });
    });

    it('refuses every command but binds and enquire_link before a bind, and unknown commands with generic_nack', async () => {
      const c = await open();
      expect((await c.request('enquire_link')).command_status).toBe(E.ESME_ROK);
      expect(
        (await c.request('submit_sm', { source_addr: 'MyShop', destination_addr: '33612345678', short_message: 'x' })).command_status,
      ).toBe(E.ESME_RINVBNDSTS);
      expect((await c.request('query_sm', { message_id: '1' })).command_status).toBe(E.ESME_RINVBNDSTS);
      const nack = await new Promise<smpp.PDU>((resolve) => {
        c.session.once('generic_nack', resolve);
        const raw = Buffer.alloc(16);
        raw.writeUInt32BE(16, 0);
        raw.writeUInt32BE(0x00000077, 4);
        raw.writeUInt32BE(99, 12);
        c.session.socket.write(raw);
      });
      expect([nack.command_status, nack.sequence_number]).toEqual([E.ESME_RINVCMDID, 99]);
    });

    it('refuses binds unchecked after too many failures from one address in a minute', async () => {
      const strict = await startSmppServer({
        services: ctx.app.services,
        log: silentLog,
        port: 0,
        host: '127.0.0.1',
        bindFailuresPerMinute: 2,
      });
      try {
        const statuses: number[] = [];
        for (const password of ['bad-1', 'bad-2', PASSWORD]) {
          const c = await open(strict.port);
          statuses.push((await c.request('bind_transceiver', { system_id: `${account.name}:shop`, password })).command_status);
        }
        expect(statuses).toEqual([E.ESME_RINVPASWD, E.ESME_RINVPASWD, E.ESME_RBINDFAIL]);
      } finally {
        await strict.close();
      }
    });

    it('closes a connection that does not bind in time, asks an idle one with enquire_link, and closes it when unanswered', async () => {
      const strict = await startSmppServer({
        services: ctx.app.services,
        log: silentLog,
        port: 0,
        host: '127.0.0.1',
        bindTimeoutMs: 100,
        enquireLinkMs: 300,
      });
      try {
        const silent = await open(strict.port);
        await silent.closed();

        // Answering the server's enquire_link keeps the connection: a second one comes on the same connection.
        const alive = await open(strict.port);
        let asked = 0;
        alive.session.on('enquire_link', (pdu: smpp.PDU) => {
          asked++;
          alive.session.send(pdu.response());
        });
        expect((await alive.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD })).command_status).toBe(
          E.ESME_ROK,
        );
        await waitFor(() => asked >= 2, 'two enquire_link on an idle connection that answers them');

        // Not answering them: asked once, then closed.
        const mute = await open(strict.port);
        const requests: string[] = [];
        mute.session.on('pdu', (pdu: smpp.PDU) => {
          if (!pdu.isResponse()) requests.push(pdu.command);
        });
        expect((await mute.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD })).command_status).toBe(
          E.ESME_ROK,
        );
        await mute.closed();
        expect(requests).toEqual(['enquire_link']);
      } finally {
        await strict.close();
      }
    });

    it('reads no further from a program that leaves its answers unread (bound or not), and reads again once it takes them', async () => {
      const watched = memoryLog();
      const own = await startSmppServer({ services: ctx.app.services, log: watched.log, port: 0, host: '127.0.0.1' });
      const socket = createConnection({ host: '127.0.0.1', port: own.port });
      try {
        socket.on('error', () => {});
        await new Promise((resolve) => socket.once('connect', resolve));
        // 32 MiB of enquire_link (16 octets each, answered with as many), far beyond the kernel's buffers; none of the answers read.
        const chunk = Buffer.alloc(16 * 65_536);
        for (let at = 0; at < chunk.length; at += 16) {
          chunk.writeUInt32BE(16, at);
          chunk.writeUInt32BE(0x00000015, at + 4);
          chunk.writeUInt32BE(at / 16 + 1, at + 12);
        }
        const total = 32 * chunk.length;
        for (let i = 0; i < 32; i++) socket.write(chunk);
        const paused = await waitFor(
          () =>
            watched.lines.find((l) => l.msg === 'smpp: answers unread, reading paused')?.obj as
              | { unread: number; read: number }
              | undefined,
          'reading paused',
          // Hundreds of thousands of PDUs are read before the answers fill the buffers: slow on a loaded machine.
          45_000,
        );
        expect(paused.unread).toBeGreaterThan(MAX_UNREAD_BYTES);
        expect(paused.read).toBeLessThan(total);
        // Taking the answers: more come than the server had read when it paused, so it reads again.
        let received = 0;
        socket.on('data', (data: Buffer) => {
          received += data.length;
        });
        await waitFor(() => received > paused.read, 'answers beyond the pause', 45_000);
      } finally {
        socket.destroy();
        await own.close();
      }
    }, 120_000);

    it('answers unbind and closes the connection', async () => {
      const c = await bound();
      expect((await c.request('unbind')).command_status).toBe(E.ESME_ROK);
      await c.closed();
    });
  });

  describe('submit_sm', () => {
    it('stores one pending smpp message of the SMS user, debited, and answers its id once committed', async () => {
      const c = await bound('bind_transmitter');
      const before = await state();
      const resp = await c.request('submit_sm', {
        source_addr: 'MyShop',
        dest_addr_ton: 1,
        destination_addr: '33612345678',
        short_message: 'Code: 1234 {ok}',
      });
      expect(resp.command_status).toBe(E.ESME_ROK);
      expect(await row(resp.message_id as string)).toMatchObject({
        receiver: '+33612345678',
        sender: 'MyShop',
        message: 'Code: 1234 {ok}', // as written: no STOP mention added
        channel: 'smpp',
        user_login: 'shop',
        status: 'pending',
        encoding: 'gsm7',
        parts: 1,
      });
      expect(Number((await row(resp.message_id as string))?.user_id)).toBe(userId);
      const after = await state();
      expect([after.outgoing - before.outgoing, after.queued - before.queued, after.jobs - before.jobs]).toEqual([1, 1, 1]);
      expect(after.credits[account.id]).toBe(before.credits[account.id] - 1);
    });

    it('reads UCS-2, Latin-1, message_payload and national receivers', async () => {
      const c = await bound();
      const ucs2 = await c.request('submit_sm', {
        source_addr: 'MyShop',
        destination_addr: '0612345601',
        short_message: 'Привет 🎉',
        data_coding: 8,
      });
      expect(await row(ucs2.message_id as string)).toMatchObject({ receiver: '+33612345601', message: 'Привет 🎉', encoding: 'ucs2' });
      const latin = await c.request('submit_sm', {
        source_addr: 'MyShop',
        destination_addr: '+33612345602',
        short_message: 'Crème brûlée',
        data_coding: 3,
      });
      // û is not in the GSM alphabet.
      expect(await row(latin.message_id as string)).toMatchObject({ message: 'Crème brûlée', encoding: 'ucs2' });
      const gsm = await c.request('submit_sm', {
        source_addr: 'MyShop',
        destination_addr: '+33612345602',
        short_message: 'Crème à 5 £',
        data_coding: 3,
      });
      expect(await row(gsm.message_id as string)).toMatchObject({ message: 'Crème à 5 £', encoding: 'gsm7' });
      const long = `${'Un long message. '.repeat(20)}Fin`;
      const payload = await c.request('submit_sm', {
        source_addr: 'MyShop',
        dest_addr_ton: 1,
        destination_addr: '33612345603',
        message_payload: long,
      });
      expect(await row(payload.message_id as string)).toMatchObject({ message: long, parts: 3 });
    });

    it('takes data_sm like submit_sm (text in message_payload), answered data_sm_resp with the id', async () => {
      const c = await bound();
      const resp = await c.request('data_sm', {
        source_addr: 'MyShop',
        dest_addr_ton: 1,
        destination_addr: '33612345616',
        message_payload: 'Par data_sm',
      });
      expect([resp.command, resp.command_status]).toEqual(['data_sm_resp', E.ESME_ROK]);
      expect(await row(resp.message_id as string)).toMatchObject({ message: 'Par data_sm', channel: 'smpp', receiver: '+33612345616' });
      const rx = await bound('bind_receiver');
      expect(
        (await rx.request('data_sm', { source_addr: 'MyShop', destination_addr: '+33612345617', message_payload: 'x' })).command_status,
      ).toBe(E.ESME_RINVBNDSTS);
    });

    it('puts concatenated parts together: a part whose earlier parts came answered on arrival, the others with the message’s id once it is whole', async () => {
      const c = await bound();
      const part = (ref: number, seq: number, text: string) => ({
        source_addr: 'MyShop',
        dest_addr_ton: 1,
        destination_addr: '33612345604',
        esm_class: 0x40,
        short_message: { udh: Buffer.from([0x05, 0x00, 0x03, ref, 3, seq]), message: text },
      });
      const first = c.request('submit_sm', part(9, 1, 'Première partie, '));
      let thirdAnswered = false;
      const third = c.request('submit_sm', part(9, 3, 'et la fin.')).then((p) => {
        thirdAnswered = true;
        return p;
      });
      // Part 1 is answered with a part id of its own (no message id); part 3, before part 2, is held.
      expect((await first).command_status).toBe(E.ESME_ROK);
      expect(String((await first).message_id)).toMatch(/^part-[\w-]+$/);
      await c.request('enquire_link');
      expect(thirdAnswered).toBe(false);
      const none = await ctx.database.db.selectFrom('outgoing').select('id').where('receiver', '=', '+33612345604').execute();
      expect(none).toEqual([]);
      const second = await c.request('submit_sm', part(9, 2, 'puis la deuxième, '));
      expect([second.command_status, (await third).command_status, (await third).message_id]).toEqual([
        E.ESME_ROK,
        E.ESME_ROK,
        second.message_id,
      ]);
      expect(String(second.message_id)).toMatch(/^\d+$/);
      expect(await row(second.message_id as string)).toMatchObject({ message: 'Première partie, puis la deuxième, et la fin.', parts: 1 });

      const sar = (seq: number, text: string) => ({
        source_addr: 'MyShop',
        destination_addr: '+33612345605',
        short_message: text,
        sar_msg_ref_num: 0x1234,
        sar_total_segments: 2,
        sar_segment_seqnum: seq,
      });
      const [a, b] = await Promise.all([c.request('submit_sm', sar(2, 'world')), c.request('submit_sm', sar(1, 'hello '))]);
      expect(a.message_id).toBe(b.message_id);
      expect(await row(a.message_id as string)).toMatchObject({ message: 'hello world' });
    });

    it('drops a message whose other parts never come, storing nothing: a held part refused, a part answered on arrival never sent', async () => {
      const c = await bound();
      const before = await state();
      const part = (ref: number, seq: number) => ({
        source_addr: 'MyShop',
        destination_addr: '+33612345606',
        esm_class: 0x40,
        short_message: { udh: Buffer.from([0x05, 0x00, 0x03, ref, 2, seq]), message: 'alone' },
      });
      // Part 2 without part 1: held, then refused when the time runs out.
      expect((await c.request('submit_sm', part(77, 2))).command_status).toBe(E.ESME_RSUBMITFAIL);
      expect(log.lines.map((l) => (l.obj as { reason?: string }).reason)).toContainEqual(expect.stringMatching(/only 1 of the 2 parts/));
      // Part 1: answered on arrival with a part id, which names no message.
      const dropped = () => log.lines.filter((l) => l.msg === 'smpp: message dropped').length;
      const droppedBefore = dropped();
      const first = await c.request('submit_sm', part(78, 1));
      expect(first.command_status).toBe(E.ESME_ROK);
      expect((await c.request('query_sm', { message_id: first.message_id })).command_status).toBe(E.ESME_RINVMSGID);
      expect((await c.request('cancel_sm', { message_id: first.message_id })).command_status).toBe(E.ESME_RINVMSGID);
      // Its part 2 after the time ran out: the message was dropped, so is this part.
      await waitFor(() => dropped() > droppedBefore, 'the message dropped');
      expect((await c.request('submit_sm', part(78, 2))).command_status).toBe(E.ESME_RSUBMITFAIL);
      expect(await state()).toEqual(before);
    });

    it('refuses on arrival a part whose whole message the account cannot pay for, holding nothing of it', async () => {
      const c = await bound('bind_transceiver', `${poor.name}:shop`);
      const before = await state();
      const part = (seq: number) => ({
        source_addr: 'MyShop',
        destination_addr: '+33612345608',
        esm_class: 0x40,
        short_message: { udh: Buffer.from([0x05, 0x00, 0x03, 5, 2, seq]), message: `part ${seq}` },
      });
      expect((await c.request('submit_sm', part(1))).command_status).toBe(E.ESME_RSUBMITFAIL);
      // Not held: the same part again is checked again (not "sent twice"), and refused again.
      expect((await c.request('submit_sm', part(1))).command_status).toBe(E.ESME_RSUBMITFAIL);
      const reasons = log.lines.map((l) => (l.obj as { reason?: string }).reason ?? '');
      expect(reasons.filter((r) => r.includes('the 2 parts need 2'))).toHaveLength(2);
      expect(reasons.filter((r) => r.includes('(reference 5) is held already'))).toEqual([]);
      expect(await state()).toEqual(before);
    });

    it('answers the submits read before unbind, refuses the held parts, then answers unbind and closes', async () => {
      await withServer({}, async (port) => {
        const c = await open(port);
        expect((await c.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD })).command_status).toBe(
          E.ESME_ROK,
        );
        const before = await state();
        const held = c.request('submit_sm', {
          source_addr: 'MyShop',
          destination_addr: '+33612345609',
          esm_class: 0x40,
          short_message: { udh: Buffer.from([0x05, 0x00, 0x03, 6, 2, 2]), message: 'part 2 of 2' },
        });
        const whole = c.request('submit_sm', { source_addr: 'MyShop', destination_addr: '+33612345609', short_message: 'whole' });
        const order: string[] = [];
        void held.then(() => order.push('held'));
        void whole.then(() => order.push('whole'));
        const unbound = await c.request('unbind');
        order.push('unbind');
        expect([(await held).command_status, (await whole).command_status, unbound.command_status]).toEqual([
          E.ESME_RSUBMITFAIL,
          E.ESME_ROK,
          E.ESME_ROK,
        ]);
        expect(order.at(-1)).toBe('unbind');
        await c.closed();
        const after = await state();
        expect(after.outgoing - before.outgoing).toBe(1);
        expect((await row((await whole).message_id as string))?.message).toBe('whole');
      });
    });

    it('holds at most MAX_HELD_PARTS parts of unfinished messages on one connection, refusing more with ESME_RMSGQFUL', async () => {
      // A server of its own, whose held parts wait longer than this test lasts.
      const patient = await startSmppServer({ services: ctx.app.services, log: memoryLog().log, port: 0, host: '127.0.0.1' });
      try {
        const c = await open(patient.port);
        expect((await c.request('bind_transceiver', { system_id: `${account.name}:shop`, password: PASSWORD })).command_status).toBe(
          E.ESME_ROK,
        );
        const firstPart = (ref: number, seq = 1) => ({
          source_addr: 'MyShop',
          destination_addr: '+33612345607',
          esm_class: 0x40,
          short_message: { udh: Buffer.from([0x06, 0x08, 0x04, ref >> 8, ref & 0xff, 2, seq]), message: `part ${seq} of ${ref}` },
        });
        // Each first part is answered on arrival, and its message held.
        const held = await Promise.all(Array.from({ length: MAX_HELD_PARTS / 2 }, (_, i) => c.request('submit_sm', firstPart(i + 1))));
        expect(new Set(held.map((p) => p.command_status))).toEqual(new Set([E.ESME_ROK]));
        const before = await state();
        const refused = await c.request('submit_sm', firstPart(MAX_HELD_PARTS));
        expect(refused.command_status).toBe(E.ESME_RMSGQFUL);
        expect(await state()).toEqual(before);
        const whole = await c.request('submit_sm', {
          source_addr: 'MyShop',
          destination_addr: '+33612345607',
          short_message: 'not in parts',
        });
        expect(whole.command_status).toBe(E.ESME_ROK);
        const last = await c.request('submit_sm', firstPart(1, 2));
        expect(last.command_status).toBe(E.ESME_ROK);
        expect(await row(last.message_id as string)).toMatchObject({ message: 'part 1 of 1part 2 of 1' });
      } finally {
        await patient.close();
      }
    });

    it('keeps the schedule and validity times', async () => {
      const c = await bound();
      const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000);
      const resp = await c.request('submit_sm', {
        source_addr: 'MyShop',
        destination_addr: '+33612345607',
        short_message: 'Later',
        schedule_delivery_time: at,
        validity_period: new Date(at.getTime() + 2 * 3_600_000),
      });
      const stored = await row(resp.message_id as string);
      expect(Number(stored?.deferred_until)).toBe(at.getTime());
      expect(Number(stored?.valid_until)).toBe(at.getTime() + 2 * 3_600_000);
    });

    /**
     * A submit_sm written byte by byte, with schedule_delivery_time and validity_period exactly as given
     * (the package's client would pad a short string into a relative time it can read), answered with
     * its status; rejected if the server closes the connection instead.
     */
    function rawSubmitSm(c: Client, sequence: number, times: { schedule?: string; validity?: string }): Promise<number> {
      const cstring = (value: string) => Buffer.concat([Buffer.from(value, 'latin1'), Buffer.alloc(1)]);
      const text = Buffer.from('raw times', 'latin1');
      const body = Buffer.concat([
        cstring(''), // service_type
        Buffer.from([0, 0]), // source_addr_ton, source_addr_npi
        cstring('MyShop'),
        Buffer.from([1, 1]), // dest_addr_ton, dest_addr_npi
        cstring('33612345612'),
        Buffer.from([0, 0, 0]), // esm_class, protocol_id, priority_flag
        cstring(times.schedule ?? ''),
        cstring(times.validity ?? ''),
        Buffer.from([0, 0, 0, 0, text.length]), // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id, sm_length
        text,
      ]);
      const header = Buffer.alloc(16);
      header.writeUInt32BE(16 + body.length, 0);
      header.writeUInt32BE(0x00000004, 4); // submit_sm
      header.writeUInt32BE(sequence, 12);
      return new Promise((resolve, reject) => {
        const socket = c.session.socket;
        const done = () => {
          c.session.off('pdu', onPdu);
          socket.off('close', onClose);
        };
        const onPdu = (pdu: smpp.PDU) => {
          if (pdu.command !== 'submit_sm_resp' || pdu.sequence_number !== sequence) return;
          done();
          resolve(pdu.command_status);
        };
        const onClose = () => {
          done();
          reject(new Error('the server closed the connection instead of answering'));
        };
        c.session.on('pdu', onPdu);
        socket.once('close', onClose);
        socket.write(Buffer.concat([header, body]));
      });
    }

    it('refuses a validity_period the smpp package cannot read (relative time "1R") with ESME_RINVEXPIRY, writing nothing, and stays bound', async () => {
      const c = await bound();
      // The same bytes with a relative time it can read (one hour): accepted, so the refusal below is the time's.
      expect(await rawSubmitSm(c, 0x7f000001, { validity: '000000010000000R' })).toBe(E.ESME_ROK);
      const before = await state();
      expect(await rawSubmitSm(c, 0x7f000002, { validity: '1R' })).toBe(E.ESME_RINVEXPIRY);
      expect(await state()).toEqual(before);
      const resp = await c.request('submit_sm', { source_addr: 'MyShop', destination_addr: '+33612345613', short_message: 'still bound' });
      expect(resp.command_status).toBe(E.ESME_ROK);
      expect(await row(resp.message_id as string)).toMatchObject({ channel: 'smpp', message: 'still bound' });
    });

    it('refuses a schedule_delivery_time the smpp package cannot read (relative time "1R") with ESME_RINVSCHED, writing nothing, and stays bound', async () => {
      const c = await bound();
      const before = await state();
      expect(await rawSubmitSm(c, 0x7f000003, { schedule: '1R' })).toBe(E.ESME_RINVSCHED);
      expect(await rawSubmitSm(c, 0x7f000004, { schedule: '1R', validity: '1R' })).toBe(E.ESME_RINVSCHED);
      expect(await state()).toEqual(before);
      const resp = await c.request('submit_sm', { source_addr: 'MyShop', destination_addr: '+33612345614', short_message: 'still bound' });
      expect(resp.command_status).toBe(E.ESME_ROK);
      expect(await row(resp.message_id as string)).toMatchObject({ channel: 'smpp', message: 'still bound' });
    });

    it('refuses with the status that says why, writing and debiting nothing', async () => {
      const c = await bound();
      const ok = { source_addr: 'MyShop', destination_addr: '+33612345608', short_message: 'x' };
      await expectRefused(c, { ...ok, source_addr: 'Unknown' }, E.ESME_RINVSRCADR);
      await expectRefused(c, { ...ok, destination_addr: '12' }, E.ESME_RINVDSTADR);
      await expectRefused(c, { ...ok, short_message: '' }, E.ESME_RINVMSGLEN);
      await expectRefused(c, { ...ok, short_message: 'y'.repeat(10), message_payload: 'z'.repeat(6000) }, E.ESME_RINVMSGLEN);
      await expectRefused(c, { ...ok, message_payload: 'z'.repeat(6000), short_message: '' }, E.ESME_RINVMSGLEN);
      await expectRefused(c, { ...ok, short_message: Buffer.from([0xde, 0xad]), data_coding: 4 }, E.ESME_RINVDCS);
      await expectRefused(c, { ...ok, validity_period: new Date(Date.now() - 60_000) }, E.ESME_RINVEXPIRY);
      const broke = await bound('bind_transceiver', `${poor.name}:shop`);
      await expectRefused(broke, ok, E.ESME_RSUBMITFAIL);
      const rx = await bound('bind_receiver');
      await expectRefused(rx, ok, E.ESME_RINVBNDSTS);
      expect((await c.request('replace_sm', { message_id: '1', short_message: 'x' })).command_status).toBe(E.ESME_RINVCMDID);
    });

    it('closes a connection that sends an undecodable PDU, and goes on serving others', async () => {
      const c = await bound();
      const raw = Buffer.alloc(16);
      raw.writeUInt32BE(0x7fffffff, 0); // longer than any PDU may be
      c.session.socket.write(raw);
      await c.closed();
      const other = await bound();
      expect((await other.request('enquire_link')).command_status).toBe(E.ESME_ROK);
    });

    it('survives a raw socket sending garbage and leaving', async () => {
      const socket = createConnection({ host: '127.0.0.1', port: server.port });
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.end(Buffer.from([0, 0, 0, 20, 0, 0, 0, 4, 1, 2, 3]));
      await new Promise((resolve) => socket.once('close', resolve));
      const other = await bound();
      expect((await other.request('enquire_link')).command_status).toBe(E.ESME_ROK);
    });
  });

  describe('submit_multi', () => {
    /** dest_address entries: "+…" international (TON 1), other strings as given (TON 0), objects as they are (distribution lists). */
    const to = (...destinations: (string | { dl_name: string })[]) =>
      destinations.map((d) =>
        typeof d === 'string' ? { dest_addr_ton: d.startsWith('+') ? 1 : 0, dest_addr_npi: 1, destination_addr: d.replace(/^\+/, '') } : d,
      );
    /** The messages of the job whose message `id` is, in id order. */
    const jobMessages = async (id: unknown) => {
      const first = await row(id as string);
      const rows = await ctx.database.db
        .selectFrom('outgoing')
        .select(['id', 'receiver', 'channel', 'user_login', 'parts', 'credits', 'status', 'message'])
        .where('job_id', '=', Number(first?.job_id))
        .orderBy('id')
        .execute();
      return rows.map((r) => ({ ...r, id: Number(r.id), parts: Number(r.parts), credits: Number(r.credits) }));
    };
    /** submit_multi expected refused with `status`, nothing written or debited. */
    async function expectMultiRefused(c: Client, fields: Record<string, unknown>, status: number) {
      const before = await state();
      const resp = await c.request('submit_multi', fields);
      expect([resp.command, resp.command_status]).toEqual(['submit_multi_resp', status]);
      expect(await state()).toEqual(before);
    }

    it('sends one text to several receivers: one smpp message each, of the SMS user, in one job, debited per receiver and part', async () => {
      const c = await bound('bind_transmitter');
      const before = await state();
      const text = `${'Deux parties. '.repeat(15)}Fin`;
      const resp = await c.request('submit_multi', {
        source_addr: 'MyShop',
        // The last one is the first again, written otherwise: sent once.
        dest_address: to('+33612345630', '0612345631', '+33612345632', '0033612345630'),
        short_message: text,
      });
      expect([resp.command, resp.command_status, resp.unsuccess_sme]).toEqual(['submit_multi_resp', E.ESME_ROK, []]);
      const messages = await jobMessages(resp.message_id);
      expect(messages.map(({ id: _id, ...m }) => m)).toEqual(
        ['+33612345630', '+33612345631', '+33612345632'].map((receiver) => ({
          receiver,
          channel: 'smpp',
          user_login: 'shop',
          parts: 2,
          credits: 2,
          status: 'pending',
          message: text,
        })),
      );
      // message_id: the first destination's message.
      expect(messages[0].id).toBe(Number(resp.message_id));
      const after = await state();
      expect([after.outgoing - before.outgoing, after.queued - before.queued, after.jobs - before.jobs]).toEqual([3, 3, 1]);
      expect(after.credits[account.id]).toBe(before.credits[account.id] - 6);
    });

    it('sends to the valid destinations and lists the others in unsuccess_sme with their status (distribution lists too)', async () => {
      const c = await bound();
      const before = await state();
      const resp = await c.request('submit_multi', {
        source_addr: 'MyShop',
        dest_address: to('12', '+33612345633', { dl_name: 'friends' }, '0612345634', 'abc'),
        short_message: 'Some of you',
      });
      expect(resp.command_status).toBe(E.ESME_ROK);
      expect(resp.unsuccess_sme).toEqual([
        { dest_addr_ton: 0, dest_addr_npi: 1, destination_addr: '12', error_status_code: E.ESME_RINVDSTADR },
        { dest_addr_ton: 0, dest_addr_npi: 0, destination_addr: 'friends', error_status_code: E.ESME_RINVDLNAME },
        { dest_addr_ton: 0, dest_addr_npi: 1, destination_addr: 'abc', error_status_code: E.ESME_RINVDSTADR },
      ]);
      const messages = await jobMessages(resp.message_id);
      expect(messages.map((m) => m.receiver)).toEqual(['+33612345633', '+33612345634']);
      expect(messages[0].id).toBe(Number(resp.message_id));
      const after = await state();
      expect([after.outgoing - before.outgoing, after.credits[account.id] - before.credits[account.id]]).toEqual([2, -2]);
      // Logged before the answer is written.
      const logged = log.lines.find((l) => (l.obj as { messageId?: string }).messageId === resp.message_id)?.obj as
        | { unsuccessful: { address: string; status: string; reason: string }[] }
        | undefined;
      expect(logged?.unsuccessful.map((u) => [u.address, u.status])).toEqual([
        ['12', 'ESME_RINVDSTADR'],
        ['friends', 'ESME_RINVDLNAME'],
        ['abc', 'ESME_RINVDSTADR'],
      ]);
    });

    it('refuses a submit_multi none of whose destinations can be sent to, with the first one’s status, writing nothing', async () => {
      const c = await bound();
      const fields = { source_addr: 'MyShop', short_message: 'Nobody' };
      await expectMultiRefused(c, { ...fields, dest_address: to('12', { dl_name: 'friends' }) }, E.ESME_RINVDSTADR);
      await expectMultiRefused(
        c,
        { ...fields, dest_address: to({ dl_name: 'friends' }, '+33 6 12 34 56 35, +33612345636') },
        E.ESME_RINVDLNAME,
      );
    });

    it('writes nothing when the account’s credits or the SMS user’s quota do not cover every receiver', async () => {
      const fields = {
        source_addr: 'MyShop',
        short_message: 'All or nothing',
        dest_address: to('+33612345637', '+33612345638', '+33612345639'),
      };
      const broke = await bound('bind_transceiver', `${poor.name}:shop`);
      await expectMultiRefused(broke, fields, E.ESME_RSUBMITFAIL);
      await createSmsUser(ctx.app, account, { login: 'tight', password: PASSWORD, quota: 2 });
      const tight = await bound('bind_transceiver', `${account.name}:tight`);
      await expectMultiRefused(tight, fields, E.ESME_RSUBMITFAIL);
      const two = await tight.request('submit_multi', { ...fields, dest_address: fields.dest_address.slice(0, 2) });
      expect(two.command_status).toBe(E.ESME_ROK);
      expect((await jobMessages(two.message_id)).map((m) => m.user_login)).toEqual(['tight', 'tight']);
    });

    it('refuses no destination (ESME_RINVNUMDESTS), a receiver bind, and a message submit_sm would refuse, writing nothing', async () => {
      const c = await bound();
      const ok = { source_addr: 'MyShop', short_message: 'x', dest_address: to('+33612345640') };
      await expectMultiRefused(c, { ...ok, dest_address: [] }, E.ESME_RINVNUMDESTS);
      await expectMultiRefused(c, { ...ok, source_addr: 'Unknown' }, E.ESME_RINVSRCADR);
      await expectMultiRefused(c, { ...ok, short_message: '' }, E.ESME_RINVMSGLEN);
      await expectMultiRefused(c, { ...ok, short_message: Buffer.from([0xde, 0xad]), data_coding: 4 }, E.ESME_RINVDCS);
      const rx = await bound('bind_receiver');
      await expectMultiRefused(rx, ok, E.ESME_RINVBNDSTS);
    });

    it('takes 255 destinations, the most number_of_dests holds', async () => {
      const c = await bound();
      const receivers = Array.from({ length: 255 }, (_, i) => `+336123${String(i).padStart(5, '0')}`);
      const before = await state();
      const resp = await c.request('submit_multi', {
        source_addr: 'MyShop',
        dest_address: to(...receivers),
        short_message: 'Everybody',
        schedule_delivery_time: new Date(Date.now() + 3_600_000),
      });
      expect([resp.command_status, resp.unsuccess_sme]).toEqual([E.ESME_ROK, []]);
      expect((await jobMessages(resp.message_id)).map((m) => m.receiver)).toEqual(receivers);
      expect((await state()).credits[account.id]).toBe(before.credits[account.id] - 255);
    });

    it('puts concatenated parts together as submit_sm does: one message per receiver, every part answered with the same id', async () => {
      const c = await bound();
      const part = (seq: number, text: string) => ({
        source_addr: 'MyShop',
        dest_address: to('+33612345641', '0612345642'),
        esm_class: 0x40,
        short_message: { udh: Buffer.from([0x05, 0x00, 0x03, 21, 2, seq]), message: text },
      });
      const second = c.request('submit_multi', part(2, 'et la suite.'));
      await c.request('enquire_link');
      expect(await ctx.database.db.selectFrom('outgoing').select('id').where('receiver', '=', '+33612345641').execute()).toEqual([]);
      const first = await c.request('submit_multi', part(1, 'Le début, '));
      expect([(await second).command_status, (await second).message_id]).toEqual([E.ESME_ROK, first.message_id]);
      expect((await jobMessages(first.message_id)).map((m) => [m.receiver, m.message])).toEqual([
        ['+33612345641', 'Le début, et la suite.'],
        ['+33612345642', 'Le début, et la suite.'],
      ]);
    });

    it('answers on arrival a part whose earlier parts came, for programs with a window of 1: a part id, the destinations left out', async () => {
      const c = await bound();
      const before = await state();
      const part = (ref: number, seq: number, text: string) => ({
        source_addr: 'MyShop',
        dest_address: to('+33612345665', 'abc', '0612345666'),
        esm_class: 0x40,
        short_message: { udh: Buffer.from([0x05, 0x00, 0x03, ref, 3, seq]), message: text },
      });
      // One PDU at a time, each sent once the previous one is answered.
      const first = await c.request('submit_multi', part(22, 1, 'Un, '));
      expect([first.command, first.command_status]).toEqual(['submit_multi_resp', E.ESME_ROK]);
      expect(String(first.message_id)).toMatch(/^part-[\w-]+-1of3$/);
      expect(first.unsuccess_sme).toEqual([
        { dest_addr_ton: 0, dest_addr_npi: 1, destination_addr: 'abc', error_status_code: E.ESME_RINVDSTADR },
      ]);
      expect(await state()).toEqual(before);
      const second = await c.request('submit_multi', part(22, 2, 'deux, '));
      expect([second.command_status, String(second.message_id)]).toEqual([E.ESME_ROK, expect.stringMatching(/^part-[\w-]+-2of3$/)]);
      expect((await c.request('query_sm', { message_id: second.message_id })).command_status).toBe(E.ESME_RINVMSGID);
      const third = await c.request('submit_multi', part(22, 3, 'trois.'));
      expect([third.command_status, String(third.message_id), (third.unsuccess_sme as unknown[]).length]).toEqual([
        E.ESME_ROK,
        expect.stringMatching(/^\d+$/),
        1,
      ]);
      expect((await jobMessages(third.message_id)).map((m) => [m.receiver, m.message])).toEqual([
        ['+33612345665', 'Un, deux, trois.'],
        ['+33612345666', 'Un, deux, trois.'],
      ]);
      const after = await state();
      expect([after.outgoing - before.outgoing, after.credits[account.id] - before.credits[account.id]]).toEqual([2, -2]);
    });

    it('refuses on arrival a submit_multi part whose message cannot be sent (credits for every receiver, destinations), holding nothing', async () => {
      const part = (seq: number, destinations: (string | { dl_name: string })[]) => ({
        source_addr: 'MyShop',
        dest_address: to(...destinations),
        esm_class: 0x40,
        short_message: { udh: Buffer.from([0x05, 0x00, 0x03, 23, 2, seq]), message: `part ${seq}` },
      });
      const poorClient = await bound('bind_transceiver', `${poor.name}:shop`);
      const before = await state();
      expect((await poorClient.request('submit_multi', part(1, ['+33612345667', '+33612345668']))).command_status).toBe(E.ESME_RSUBMITFAIL);
      // Not held: sent again, it is checked again (not "sent twice"), and refused again.
      expect((await poorClient.request('submit_multi', part(1, ['+33612345667', '+33612345668']))).command_status).toBe(E.ESME_RSUBMITFAIL);
      const reasons = log.lines.map((l) => (l.obj as { reason?: string }).reason ?? '');
      expect(reasons.filter((r) => r.includes('the 2 parts to 2 receivers need 4'))).toHaveLength(2);
      const c = await bound();
      const none = await c.request('submit_multi', part(1, ['abc', { dl_name: 'friends' }]));
      expect(none.command_status).toBe(E.ESME_RINVDSTADR);
      expect(await state()).toEqual(before);
    });

    it('answers query_sm on its message_id with the first destination’s message, and cancel_sm cancels that one only', async () => {
      const c = await bound();
      const resp = await c.request('submit_multi', {
        source_addr: 'MyShop',
        dest_address: to('+33612345643', '+33612345644'),
        short_message: 'Query us',
        schedule_delivery_time: new Date(Date.now() + 3_600_000),
      });
      const q = await c.request('query_sm', { message_id: resp.message_id, source_addr: 'MyShop' });
      expect([q.command_status, q.message_id, q.message_state]).toEqual([E.ESME_ROK, resp.message_id, 1]);
      const before = await state();
      expect((await c.request('cancel_sm', { message_id: resp.message_id, source_addr: 'MyShop' })).command_status).toBe(E.ESME_ROK);
      const after = await state();
      expect([after.outgoing - before.outgoing, after.credits[account.id] - before.credits[account.id]]).toEqual([-1, 1]);
      const left = await ctx.database.db
        .selectFrom('outgoing')
        .select(['receiver', 'status'])
        .where('receiver', '=', '+33612345644')
        .execute();
      expect(left).toEqual([{ receiver: '+33612345644', status: 'pending' }]);
    });
  });

  describe('query_sm and cancel_sm', () => {
    it('answers the state of the SMS user’s own messages only', async () => {
      const c = await bound();
      const sent = await c.request('submit_sm', { source_addr: 'MyShop', destination_addr: '+33612345609', short_message: 'Query me' });
      const q = await c.request('query_sm', { message_id: sent.message_id, source_addr: 'MyShop' });
      expect([q.command_status, q.message_id, q.message_state, q.final_date]).toEqual([E.ESME_ROK, sent.message_id, 1, '']);
      const other = await bound('bind_transceiver', `${account.name}:other`);
      expect((await other.request('query_sm', { message_id: sent.message_id })).command_status).toBe(E.ESME_RQUERYFAIL);
      expect((await c.request('query_sm', { message_id: 'abc' })).command_status).toBe(E.ESME_RQUERYFAIL);
    });

    it('cancels a pending message: not sent, credits given back; a message not pending is refused', async () => {
      const c = await bound();
      const later = new Date(Date.now() + 3_600_000);
      const sent = await c.request('submit_sm', {
        source_addr: 'MyShop',
        destination_addr: '+33612345610',
        short_message: 'Cancel me',
        schedule_delivery_time: later,
      });
      const before = await state();
      const other = await bound('bind_transceiver', `${account.name}:other`);
      expect((await other.request('cancel_sm', { message_id: sent.message_id })).command_status).toBe(E.ESME_RCANCELFAIL);
      expect((await c.request('cancel_sm', { message_id: sent.message_id, source_addr: 'MyShop' })).command_status).toBe(E.ESME_ROK);
      const after = await state();
      expect([
        after.outgoing - before.outgoing,
        after.queued - before.queued,
        after.credits[account.id] - before.credits[account.id],
      ]).toEqual([-1, -1, 1]);
      expect((await c.request('cancel_sm', { message_id: sent.message_id })).command_status).toBe(E.ESME_RCANCELFAIL);
      const audit = await ctx.database.db
        .selectFrom('deletion_audit')
        .select(['actor', 'ids'])
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      expect(audit).toEqual({ actor: 'user:shop', ids: JSON.stringify([Number(sent.message_id)]) });

      // Pending, but a dispatcher holds it (it may be in the carrier's hands): refused, and nothing changes.
      const held = await c.request('submit_sm', {
        source_addr: 'MyShop',
        destination_addr: '+33612345615',
        short_message: 'Held',
        schedule_delivery_time: later,
      });
      await ctx.database.db
        .updateTable('dispatch_queue')
        .set({ lease_owner: 'another-dispatcher', lease_until: Date.now() + 60_000 })
        .where('outgoing_id', '=', Number(held.message_id))
        .execute();
      const beforeHeld = await state();
      expect((await c.request('cancel_sm', { message_id: held.message_id })).command_status).toBe(E.ESME_RCANCELFAIL);
      expect(await state()).toEqual(beforeHeld);
      expect(log.lines.map((l) => (l.obj as { reason?: string }).reason)).toContain(
        `message ${held.message_id} is being handed to the carrier`,
      );
    });
  });

  describe('delivery receipts', () => {
    let dispatching: Dispatching;
    beforeAll(async () => {
      dispatching = await startSimulatorDispatching(ctx.app.services);
    });
    afterAll(async () => {
      await dispatching?.stop();
    });
    const receipts = () => createSmppReceiptsRepository(ctx.database);
    const statusOf = async (id: unknown) => (await row(id as string))?.status;

    it('sends a receipt for a final status on the SMS user’s receiver bind, and forgets it once answered', async () => {
      const tx = await bound('bind_transmitter');
      const rx = await bound('bind_receiver');
      const sent = await tx.request('submit_sm', {
        source_addr: 'MyShop',
        dest_addr_ton: 1,
        destination_addr: '33612345611',
        short_message: 'Receipt please',
        registered_delivery: 1,
      });
      const receipt = await waitFor(() => rx.delivered.find((p) => p.receipted_message_id === sent.message_id), 'the receipt');
      expect(receipt.esm_class).toBe(0x04);
      expect(receipt.message_state).toBe(2);
      expect([receipt.source_addr, receipt.destination_addr]).toEqual(['33612345611', 'MyShop']);
      expect((receipt.short_message as { message: string }).message).toMatch(
        new RegExp(
          `^id:${sent.message_id} sub:001 dlvrd:001 submit date:\\d{10} done date:\\d{10} stat:DELIVRD err:000 text:Receipt please$`,
        ),
      );
      expect(await statusOf(sent.message_id)).toBe('delivered');
      await waitFor(async () => (await receipts().pendingFor(userId)).length === 0, 'the answered receipt to go');
    });

    it('with registered_delivery 2, sends failures only', async () => {
      const c = await bound();
      const fine = await c.request('submit_sm', {
        source_addr: 'MyShop',
        destination_addr: '+33612345612',
        short_message: 'ok',
        registered_delivery: 2,
      });
      const bad = await c.request('submit_sm', {
        source_addr: 'MyShop',
        destination_addr: '+33612340000',
        short_message: 'ko',
        registered_delivery: 2,
      });
      const receipt = await waitFor(() => c.delivered.find((p) => p.receipted_message_id === bad.message_id), 'the failure receipt');
      expect(receipt.message_state).toBe(5);
      expect((receipt.short_message as { message: string }).message).toMatch(/stat:UNDELIV err:003 /);
      await waitFor(async () => (await statusOf(fine.message_id)) === 'delivered', 'the other message delivered');
      expect(c.delivered.map((p) => p.receipted_message_id)).not.toContain(fine.message_id);
      const none = await c.request('submit_sm', { source_addr: 'MyShop', destination_addr: '+33612345613', short_message: 'no receipt' });
      await waitFor(async () => (await statusOf(none.message_id)) === 'delivered', 'a message without receipt delivered');
      expect(c.delivered.map((p) => p.receipted_message_id)).not.toContain(none.message_id);
    });

    it('sends a receipt for each receiver of a submit_multi, with its own message’s id, the first being message_id', async () => {
      const c = await bound();
      const sent = await c.request('submit_multi', {
        source_addr: 'MyShop',
        dest_address: [
          { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '33612345645' },
          { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '33612340000' },
        ],
        short_message: 'Receipts for both',
        registered_delivery: 1,
      });
      expect(sent.command_status).toBe(E.ESME_ROK);
      const jobId = Number((await row(sent.message_id as string))?.job_id);
      const ids = (await ctx.database.db.selectFrom('outgoing').select('id').where('job_id', '=', jobId).orderBy('id').execute()).map((r) =>
        String(r.id),
      );
      expect(ids[0]).toBe(sent.message_id);
      const receipts = await waitFor(() => {
        const got = ids.map((id) => c.delivered.find((p) => p.receipted_message_id === id));
        return got.every((p) => p !== undefined) ? got : undefined;
      }, 'a receipt per receiver');
      expect(receipts.map((p) => [p!.source_addr, p!.message_state])).toEqual([
        ['33612345645', 2],
        ['33612340000', 5],
      ]);
    });

    it('drops receipts no program took within their time to live, and keeps younger ones', async () => {
      const now = Date.now();
      const params = JSON.stringify({
        id: '1',
        receiver: '+33600000000',
        sender: 'MyShop',
        status: 'delivered',
        submittedAt: 0,
        doneAt: 0,
        errorCode: null,
        text: '',
      });
      const row = (outgoingId: number, createdAt: number) => ({
        outgoing_id: outgoingId,
        account_id: account.id,
        user_id: 999_999,
        params,
        created_at: createdAt,
        next_attempt_at: createdAt,
        attempts: 0,
        lease_owner: null,
        lease_until: 0,
      });
      await ctx.database.db
        .insertInto('smpp_receipts')
        .values([row(900_001, now - 3_600_000), row(900_002, now - 60_000)])
        .execute();
      const { log: purgeLog, lines } = memoryLog();
      const purging = await startSmppServer({
        services: ctx.app.services,
        log: purgeLog,
        port: 0,
        host: '127.0.0.1',
        receiptTtlMs: 600_000,
      });
      try {
        await waitFor(() => lines.find((l) => l.msg.includes('dropped')), 'the purge');
        const left = await receipts().pendingFor(999_999);
        expect(left.map((r) => r.createdAt)).toEqual([now - 60_000]);
        expect(lines.find((l) => l.msg.includes('dropped'))?.obj).toEqual({ dropped: 1 });
      } finally {
        await purging.close();
        await ctx.database.db.deleteFrom('smpp_receipts').where('user_id', '=', 999_999).execute();
      }
    });

    it('keeps receipts while no receiver is bound, sends them at the next bind, and tries a refused one again', async () => {
      const tx = await bound('bind_transmitter', `${account.name}:other`);
      const sent = await tx.request('submit_sm', {
        source_addr: 'MyShop',
        destination_addr: '+33612345614',
        short_message: 'Kept',
        registered_delivery: 1,
      });
      await waitFor(async () => (await statusOf(sent.message_id)) === 'delivered', 'delivered');
      const otherId = Number((await row(sent.message_id as string))?.user_id);
      const kept = await waitFor(async () => (await receipts().pendingFor(otherId))[0], 'the receipt kept');
      expect(kept.receipt).toMatchObject({
        id: sent.message_id,
        status: 'delivered',
        receiver: '+33612345614',
        sender: 'MyShop',
        text: 'Kept',
      });

      const rx = await open();
      rx.refuseNextDeliver = E.ESME_RX_T_APPN;
      expect((await rx.request('bind_receiver', { system_id: `${account.name}:other`, password: PASSWORD })).command_status).toBe(
        E.ESME_ROK,
      );
      await waitFor(() => rx.delivered.length === 1, 'the receipt sent at bind');
      const retried = await waitFor(
        async () => (await receipts().pendingFor(otherId)).find((r) => r.attempts === 1),
        'the refused receipt kept',
      );
      expect(retried.receipt.id).toBe(sent.message_id);
    });
  });
});
