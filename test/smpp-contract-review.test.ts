import smpp from 'smpp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clientOf } from '../src/server/ip-address.js';
import type { Account } from '../src/server/modules/accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { memoryLog, silentLog, startSimulatorDispatching, waitFor } from '../src/server/modules/dispatch/dispatch-testing.js';
import type { Dispatching } from '../src/server/modules/dispatch/dispatching.js';
import { type SmppServer, startSmppServer } from '../src/server/modules/smpp/smpp.server.js';
import { describeEachDialectWithApp } from './app.js';
import { createAccount, createSender, createSmsUser } from './factories.js';
import { ledger } from './ledger.js';
import { SmppClient as Client, closeClients } from './smpp-client.js';

// Review of the SMPP server against the SMPP 3.4 contract, as an ESME written by someone else would hold
// it to: an account the operator disables, connections per client, what submit_sm's fields mean (data
// coding, lengths, concatenation, times, TON/NPI, replace_if_present_flag), receipts, query_sm, cancel_sm,
// and the session's life (unbind, commands no SMSC takes from an ESME).

const PASSWORD = 'smpp-contract-2024';
const E = smpp.errors;

/** A C-Octet String. */
const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(1)]);

/** A PDU as bytes: header and body. */
function rawPdu(commandId: number, sequence: number, body: Buffer): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(16 + body.length, 0);
  head.writeUInt32BE(commandId, 4);
  head.writeUInt32BE(sequence, 12);
  return Buffer.concat([head, body]);
}

interface RawSubmit {
  sourceTon?: number;
  sourceNpi?: number;
  source?: string;
  destTon?: number;
  destination: string;
  schedule?: string;
  validity?: string;
  dataCoding?: number;
  message: Buffer;
  /** sm_length as written (default: the message's length). */
  smLength?: number;
}

/** A submit_sm written byte by byte: times and sm_length exactly as given (the package's client would fix them). */
function rawSubmitSm(sequence: number, f: RawSubmit): Buffer {
  return rawPdu(
    0x00000004,
    sequence,
    Buffer.concat([
      cstr(''), // service_type
      Buffer.from([f.sourceTon ?? 5, f.sourceNpi ?? 0]),
      cstr(f.source ?? 'MyShop'),
      Buffer.from([f.destTon ?? 1, 1]),
      cstr(f.destination),
      Buffer.from([0, 0, 0]), // esm_class, protocol_id, priority_flag
      cstr(f.schedule ?? ''),
      cstr(f.validity ?? ''),
      // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id, sm_length
      Buffer.from([0, 0, f.dataCoding ?? 0, 0, f.smLength ?? f.message.length]),
      f.message,
    ]),
  );
}

let nextSequence = 0x7e000000;

/** Writes `bytes` (holding a request of `sequence`) and resolves with what answers it, or 'closed'. */
function exchange(c: Client, bytes: Buffer, sequence: number): Promise<{ command: string; status: number } | 'closed'> {
  return new Promise((resolve) => {
    const socket = c.session.socket;
    const done = (value: { command: string; status: number } | 'closed') => {
      c.session.off('pdu', onPdu);
      socket.off('close', onClose);
      resolve(value);
    };
    const onPdu = (pdu: smpp.PDU) => {
      if (pdu.sequence_number === sequence) done({ command: pdu.command, status: pdu.command_status });
    };
    const onClose = () => done('closed');
    c.session.on('pdu', onPdu);
    socket.once('close', onClose);
    socket.write(bytes);
  });
}

/** `YYMMDDhhmmss` of `ms` in UTC. */
function ymdhms(ms: number): string {
  const d = new Date(ms).toISOString();
  return `${d.slice(2, 4)}${d.slice(5, 7)}${d.slice(8, 10)}${d.slice(11, 13)}${d.slice(14, 16)}${d.slice(17, 19)}`;
}

/** UTF-16BE octets of `text` (UCS-2 as SMPP carries it, surrogate pairs included). */
const utf16be = (text: string) => Buffer.from(text, 'utf16le').swap16();

describeEachDialectWithApp('SMPP server: the SMPP 3.4 contract, as an ESME holds it', (ctx) => {
  let server: SmppServer;
  let account: Account;
  let off: Account;
  const clients: Client[] = [];
  const log = memoryLog();
  const open = async (port = server.port, from = '127.0.0.1', host = '127.0.0.1') => {
    const c = await Client.open(port, from, host);
    clients.push(c);
    return c;
  };
  const bound = async (systemId = `${account.name}:shop`, mode = 'bind_transceiver', port = server.port) => {
    const c = await open(port);
    expect((await c.request(mode, { system_id: systemId, password: PASSWORD })).command_status, `bind ${systemId}`).toBe(E.ESME_ROK);
    return c;
  };
  const state = () => ledger(ctx.database);
  const rowsTo = (receiver: string) =>
    ctx.database.db
      .selectFrom('outgoing')
      .select(['id', 'status', 'message', 'sender', 'encoding', 'deferred_until', 'valid_until', 'created_at', 'delivered_at', 'failed_at'])
      .where('receiver', '=', receiver)
      .orderBy('id')
      .execute();
  const row = async (id: unknown) =>
    (await ctx.database.db.selectFrom('outgoing').selectAll().where('id', '=', Number(id)).executeTakeFirst()) ?? null;
  const submit = (c: Client, fields: Record<string, unknown>) =>
    c.request('submit_sm', { source_addr: 'MyShop', dest_addr_ton: 1, dest_addr_npi: 1, ...fields });
  /**
   * Runs `body` against a server of its own, then closes it: its close waits for every submit it read to
   * be committed, so that what the database holds afterwards is all they wrote.
   */
  async function withOwnServer(body: (port: number) => Promise<void>) {
    const own = await startSmppServer({ services: ctx.app.services, log: silentLog, port: 0, host: '127.0.0.1' });
    try {
      await body(own.port);
    } finally {
      await closeClients(clients);
      await own.close();
    }
  }

  beforeAll(async () => {
    account = await createAccount(ctx.app, { credits: 5000 });
    await createSender(ctx.app, account, { sender: 'MyShop' });
    await createSender(ctx.app, account, { sender: '+33612300000' });
    await createSmsUser(ctx.app, account, { login: 'shop', password: PASSWORD });
    await createSmsUser(ctx.app, account, { login: 'receipts', password: PASSWORD });
    off = await createAccount(ctx.app, { credits: 100 });
    await createSender(ctx.app, off, { sender: 'MyShop' });
    await createSmsUser(ctx.app, off, { login: 'shop', password: PASSWORD });
    server = await startSmppServer({
      services: ctx.app.services,
      log: log.log,
      port: 0,
      host: '127.0.0.1',
      receiptPollMs: 20,
      partsTimeoutMs: 300,
    });
  });
  afterEach(async () => {
    await closeClients(clients);
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('an account the operator disabled', () => {
    afterEach(async () => {
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, off.name, { status: 'enable' });
    });

    it('refuses submit_sm, data_sm and submit_multi of a session bound before the account was disabled (ESME_RSUBMITFAIL), writing and debiting nothing', async () => {
      const c = await bound(`${off.name}:shop`);
      expect((await submit(c, { destination_addr: '33612345700', short_message: 'before' })).command_status).toBe(E.ESME_ROK);
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, off.name, { status: 'disable' });
      const before = await state();
      const answers = [
        await submit(c, { destination_addr: '33612345701', short_message: 'after' }),
        await c.request('data_sm', { source_addr: 'MyShop', dest_addr_ton: 1, destination_addr: '33612345701', message_payload: 'after' }),
        await c.request('submit_multi', {
          source_addr: 'MyShop',
          dest_address: [{ dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '33612345701' }],
          short_message: 'after',
        }),
      ];
      expect(answers.map((p) => p.command_status)).toEqual([E.ESME_RSUBMITFAIL, E.ESME_RSUBMITFAIL, E.ESME_RSUBMITFAIL]);
      expect(await state()).toEqual(before);
    });

    it('binds a disabled account but refuses its submit_sm (ESME_RSUBMITFAIL, nothing written); enabled again, the same session sends', async () => {
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, off.name, { status: 'disable' });
      const c = await bound(`${off.name}:shop`);
      const before = await state();
      expect((await submit(c, { destination_addr: '33612345702', short_message: 'disabled' })).command_status).toBe(E.ESME_RSUBMITFAIL);
      expect(await state()).toEqual(before);
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, off.name, { status: 'enable' });
      const again = await submit(c, { destination_addr: '33612345702', short_message: 'enabled again' });
      expect(again.command_status).toBe(E.ESME_ROK);
      expect((await rowsTo('+33612345702')).map((r) => r.message)).toEqual(['enabled again']);
    });
  });

  describe('connections per client', () => {
    it('counts an IPv6 client by its /64 and keeps it to its share of the connections', async () => {
      // Every address of one /64 is one client; another /64, or an IPv4-mapped address, is another.
      expect(clientOf('2001:db8:1:2::a')).toBe(clientOf('2001:db8:1:2:ffff:ffff:ffff:ffff'));
      expect(clientOf('2001:db8:1:2::a')).not.toBe(clientOf('2001:db8:1:3::a'));
      expect(clientOf('::ffff:127.0.0.9')).toBe('127.0.0.9');
      const own = await startSmppServer({ services: ctx.app.services, log: silentLog, port: 0, host: '::1', maxSessionsPerAddress: 2 });
      try {
        for (let i = 0; i < 2; i++) {
          const c = await open(own.port, '::1', '::1');
          expect((await c.request('enquire_link')).command_status).toBe(E.ESME_ROK);
        }
        const third = await open(own.port, '::1', '::1');
        await third.closed();
        expect(third.session.socket.destroyed).toBe(true);
      } finally {
        await closeClients(clients);
        await own.close();
      }
    });
  });

  describe('submit_sm: the text the ESME meant', () => {
    it('stores data_coding 1 (IA5, ASCII) as ASCII: @ $ _ { } are not read as GSM 03.38 codes', async () => {
      const c = await bound();
      const text = 'Mail: a@b.fr, $5_{x}';
      const resp = await submit(c, { destination_addr: '33612345710', data_coding: 1, short_message: Buffer.from(text, 'ascii') });
      expect(resp.command_status).toBe(E.ESME_ROK);
      expect((await row(resp.message_id))?.message).toBe(text);
    });

    it('reads data_coding 1 holding control octets as the GSM 03.38 septets the smpp package labels 1, and refuses what could be either (ESME_RINVDCS)', async () => {
      const c = await bound();
      // As the `smpp` package sends a text it can write in GSM (data_coding 1, é 0x05, à 0x7F, $ 0x02, € escaped).
      const gsm = await submit(c, { destination_addr: '33612345706', short_message: 'Livré à 5 $, 6 €' });
      expect(gsm.command_status).toBe(E.ESME_ROK);
      expect(await row(gsm.message_id)).toMatchObject({ message: 'Livré à 5 $, 6 €', encoding: 'gsm7' });
      const before = await state();
      const refused = async (octets: Buffer) =>
        (await submit(c, { destination_addr: '33612345707', data_coding: 1, short_message: octets })).command_status;
      expect([
        // An ASCII text with a tab: its $, @ and _ would be ¤, ¡ and § in GSM.
        await refused(Buffer.from('Total\t$5 a@b.fr', 'latin1')),
        // A terminal sequence: no GSM encoder writes an escape before "[".
        await refused(Buffer.from('\u001b[1mBold', 'latin1')),
        // An escape ending the text.
        await refused(Buffer.from([0x05, 0x1b])),
        // Octets above 0x7F: neither IA5 nor GSM.
        await refused(Buffer.from('Caf\u00e9', 'latin1')),
      ]).toEqual([E.ESME_RINVDCS, E.ESME_RINVDCS, E.ESME_RINVDCS, E.ESME_RINVDCS]);
      expect(await rowsTo('+33612345707')).toEqual([]);
      expect(await state()).toEqual(before);
    });

    it('refuses Latin-1 (data_coding 3) octets 0x80–0x9F, C1 controls there (Windows-1252’s € and ’), instead of storing them as controls', async () => {
      const c = await bound();
      const before = await state();
      const resp = await submit(c, {
        destination_addr: '33612345708',
        data_coding: 3,
        short_message: Buffer.from([0x4c, 0x92, 0x65, 0x74, 0xe9, 0x20, 0x35, 0x80]), // "L’eté 5€" in Windows-1252
      });
      expect(resp.command_status).toBe(E.ESME_RINVDCS);
      expect(await state()).toEqual(before);
      const latin1 = await submit(c, {
        destination_addr: '33612345708',
        data_coding: 3,
        short_message: Buffer.from('L\u00e9t\u00e9 \u00a75', 'latin1'),
      });
      expect(latin1.command_status).toBe(E.ESME_ROK);
      expect((await row(latin1.message_id))?.message).toBe('Lété §5');
    });

    it('reads data_coding 0 as unpacked GSM 03.38: é, the escaped €, and @ written 0x00', async () => {
      const c = await bound();
      const gsm = Buffer.from([0x05, 0x20, 0x1b, 0x65, 0x20, 0x00, 0x20, 0x6f, 0x6b]); // "é € @ ok"
      const resp = await submit(c, { destination_addr: '33612345711', data_coding: 0, short_message: gsm });
      expect(resp.command_status).toBe(E.ESME_ROK);
      expect(await row(resp.message_id)).toMatchObject({ message: 'é € @ ok', encoding: 'gsm7' });
    });

    it('does not store octets that are no GSM septet (≥ 0x80) under data_coding 0 as spaces', async () => {
      const c = await bound();
      const before = await state();
      const resp = await submit(c, { destination_addr: '33612345712', data_coding: 0, short_message: Buffer.from('Caf\u00e9', 'latin1') });
      const stored = resp.command_status === E.ESME_ROK ? ((await row(resp.message_id))?.message ?? null) : null;
      // Refused as not GSM, or read as the Latin-1 it is: never "Caf ".
      expect([
        [E.ESME_RINVDCS, null],
        [E.ESME_ROK, 'Café'],
      ]).toContainEqual([resp.command_status, stored]);
      if (stored === null) expect(await state()).toEqual(before);
    });

    it('puts together UCS-2 parts sent out of order whose emoji’s surrogate pair is split between them (16-bit reference)', async () => {
      const c = await bound();
      const octets = utf16be('Fête 🎉 fin');
      // "Fête " is 5 code units, then the emoji's high surrogate: the low one begins part 2.
      const part = (seq: number, body: Buffer) => ({
        destination_addr: '33612345713',
        esm_class: 0x40,
        data_coding: 8,
        short_message: { udh: Buffer.from([0x06, 0x08, 0x04, 0x12, 0x34, 2, seq]), message: body },
      });
      const [second, first] = await Promise.all([submit(c, part(2, octets.subarray(12))), submit(c, part(1, octets.subarray(0, 12)))]);
      expect([first.command_status, second.command_status, second.message_id]).toEqual([E.ESME_ROK, E.ESME_ROK, first.message_id]);
      expect(await row(first.message_id)).toMatchObject({ message: 'Fête 🎉 fin', encoding: 'ucs2' });
    });

    it('refuses UCS-2 with an odd number of octets instead of dropping the last one, writing nothing', async () => {
      const c = await bound();
      const before = await state();
      const resp = await submit(c, {
        destination_addr: '33612345714',
        data_coding: 8,
        short_message: Buffer.concat([utf16be('Hi'), Buffer.from([0x00])]),
      });
      expect(resp.command_status).not.toBe(E.ESME_ROK);
      expect(await state()).toEqual(before);
    });

    it('refuses data_coding values that are no text it keeps (8-bit data, JIS, Cyrillic, Hebrew, pictograms, KS C 5601, 8-bit classes, MWI groups) with ESME_RINVDCS', async () => {
      const c = await bound();
      const before = await state();
      const codings = [0x02, 0x05, 0x06, 0x07, 0x09, 0x0e, 0x14, 0xf4, 0xf5, 0xc0, 0xe0];
      const statuses: number[] = [];
      for (const dc of codings)
        statuses.push(
          (await submit(c, { destination_addr: '33612345715', data_coding: dc, short_message: Buffer.from('abc') })).command_status,
        );
      expect(statuses).toEqual(codings.map(() => E.ESME_RINVDCS));
      expect(await state()).toEqual(before);
    });

    it('refuses a submit_sm whose sm_length does not match the octets that follow, writing nothing', async () => {
      const before = await state();
      const tooLong = nextSequence++;
      const tooShort = nextSequence++;
      const outcomes: Awaited<ReturnType<typeof exchange>>[] = [];
      await withOwnServer(async (port) => {
        const c = await bound(`${account.name}:shop`, 'bind_transceiver', port);
        // sm_length 40, 11 octets follow.
        const long = rawSubmitSm(tooLong, { destination: '33612345716', message: Buffer.from('Hello world'), smLength: 40 });
        outcomes.push(await exchange(c, long, tooLong));
        // sm_length 5, 11 octets follow: " world" is no TLV.
        const short = rawSubmitSm(tooShort, { destination: '33612345716', message: Buffer.from('Hello world'), smLength: 5 });
        outcomes.push(await exchange(c, short, tooShort));
      });
      expect({ outcomes, stored: (await rowsTo('+33612345716')).map((r) => r.message) }).toMatchObject({ stored: [] });
      for (const outcome of outcomes) if (outcome !== 'closed') expect(outcome.status).not.toBe(E.ESME_ROK);
      expect(await state()).toEqual(before);
    });
  });

  describe('submit_sm: concatenated parts', () => {
    const part = (ref: number, seq: number, text: string) => ({
      destination_addr: '33612345720',
      esm_class: 0x40,
      short_message: { udh: Buffer.from([0x05, 0x00, 0x03, ref, 2, seq]), message: text },
    });

    it('answers each part of a program that waits for a part’s answer before sending the next (window 1), and sends the message', async () => {
      const c = await bound();
      const first = await submit(c, part(41, 1, 'Bonjour, '));
      const second = await submit(c, part(41, 2, 'voici la suite.'));
      expect([first.command_status, second.command_status]).toEqual([E.ESME_ROK, E.ESME_ROK]);
      expect((await rowsTo('+33612345720')).map((r) => r.message)).toEqual(['Bonjour, voici la suite.']);
    });

    it('drops the held parts of a session that ends before its message is whole: nothing written or debited, nothing joined to a later session’s part', async () => {
      const before = await state();
      const c = await bound();
      const held = submit(c, { ...part(42, 1, 'premier'), destination_addr: '33612345721' });
      held.catch(() => undefined);
      await c.request('enquire_link'); // the part was read
      c.close();
      await c.closed();
      const later = await bound();
      const rest = await submit(later, { ...part(42, 2, ' second'), destination_addr: '33612345721' });
      expect(rest.command_status).toBe(E.ESME_RSUBMITFAIL);
      expect(await state()).toEqual(before);
    });
  });

  describe('submit_sm: times', () => {
    const tomorrow10 = () => {
      const d = new Date();
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1, 10);
    };
    /** Day 31 of the next month that has fewer days: the package rolls it over into the month after. */
    const dayThatDoesNotExist = () => {
      const now = new Date();
      for (let k = 1; ; k++) {
        const first = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 1);
        const next = new Date(first);
        if (new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 0)).getUTCDate() < 31)
          return `${ymdhms(first).slice(0, 4)}31100000`;
      }
    };
    const send = async (c: Client, destination: string, times: { schedule?: string; validity?: string }) => {
      const sequence = nextSequence++;
      const outcome = await exchange(c, rawSubmitSm(sequence, { destination, message: Buffer.from('times'), ...times }), sequence);
      return outcome === 'closed' ? outcome : outcome.status;
    };

    it('reads absolute times with their offset in quarter-hours, relative times, and a past schedule as now', async () => {
      const c = await bound();
      const at = tomorrow10();
      const t0 = Date.now();
      expect(await send(c, '33612345730', { schedule: `${ymdhms(at)}004+` })).toBe(E.ESME_ROK); // 10:00 at UTC+1
      expect(await send(c, '33612345731', { schedule: `${ymdhms(at)}004-`, validity: `${ymdhms(at)}008-` })).toBe(E.ESME_ROK);
      expect(await send(c, '33612345732', { schedule: '000001000000000R', validity: '000002000000000R' })).toBe(E.ESME_ROK);
      expect(await send(c, '33612345733', { schedule: `${ymdhms(at - 2 * 86_400_000)}000+` })).toBe(E.ESME_ROK);
      const t1 = Date.now();
      const [utcPlus1] = await rowsTo('+33612345730');
      const [utcMinus1] = await rowsTo('+33612345731');
      const [relative] = await rowsTo('+33612345732');
      const [past] = await rowsTo('+33612345733');
      expect(Number(utcPlus1.deferred_until)).toBe(at - 3_600_000);
      expect([Number(utcMinus1.deferred_until), Number(utcMinus1.valid_until)]).toEqual([at + 3_600_000, at + 7_200_000]);
      const day = 86_400_000;
      expect(Number(relative.deferred_until)).toBeGreaterThanOrEqual(t0 + day - 3_600_000);
      expect(Number(relative.deferred_until)).toBeLessThanOrEqual(t1 + day + 3_600_000);
      expect(Number(relative.valid_until)).toBeGreaterThan(Number(relative.deferred_until));
      expect(past.deferred_until).toBeNull();
    });

    it('refuses schedule_delivery_time and validity_period that are not SMPP times (ESME_RINVSCHED, ESME_RINVEXPIRY), writing nothing', async () => {
      const c = await bound();
      const day = ymdhms(tomorrow10());
      const before = await state();
      const answers = {
        'no +, - or R': await send(c, '33612345734', { schedule: `${day}000X` }),
        'an offset of 99 quarter-hours': await send(c, '33612345734', { schedule: `${day}099+` }),
        '15 characters': await send(c, '33612345734', { schedule: `${day}00+` }),
        'a day 31 that does not exist': await send(c, '33612345734', { schedule: `${dayThatDoesNotExist()}0000+` }),
        'validity of 6 digits': await send(c, '33612345734', { validity: day.slice(0, 6) }),
        'validity on a day 31 that does not exist': await send(c, '33612345734', { validity: `${dayThatDoesNotExist()}0000+` }),
      };
      expect(answers).toEqual({
        'no +, - or R': E.ESME_RINVSCHED,
        'an offset of 99 quarter-hours': E.ESME_RINVSCHED,
        '15 characters': E.ESME_RINVSCHED,
        'a day 31 that does not exist': E.ESME_RINVSCHED,
        'validity of 6 digits': E.ESME_RINVEXPIRY,
        'validity on a day 31 that does not exist': E.ESME_RINVEXPIRY,
      });
      expect(await state()).toEqual(before);
    });
  });

  describe('submit_sm: addresses and flags', () => {
    it('takes an alphanumeric sender (TON 5, NPI 0) and the account’s numeric sender given international (TON 1, NPI 1, without +)', async () => {
      const c = await bound();
      const alpha = await submit(c, { source_addr_ton: 5, source_addr_npi: 0, destination_addr: '33612345740', short_message: 'alpha' });
      expect(alpha.command_status).toBe(E.ESME_ROK);
      const numeric = await submit(c, {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: '33612300000',
        destination_addr: '33612345741',
        short_message: 'numeric',
      });
      expect(numeric.command_status).toBe(E.ESME_ROK);
      expect((await row(numeric.message_id))?.sender).toBe('+33612300000');
    });

    it('reads destination_addr national (TON 2), international with or without + (TON 1) and 00 (TON 0); refuses a national number given as international', async () => {
      const c = await bound();
      const answers = [
        await submit(c, { dest_addr_ton: 2, destination_addr: '0612345742', short_message: 'national' }),
        await submit(c, { dest_addr_ton: 1, destination_addr: '+33612345743', short_message: 'plus' }),
        await submit(c, { dest_addr_ton: 0, destination_addr: '0033612345744', short_message: 'zero zero' }),
      ];
      expect(answers.map((p) => p.command_status)).toEqual([E.ESME_ROK, E.ESME_ROK, E.ESME_ROK]);
      expect(await Promise.all(answers.map(async (p) => (await row(p.message_id))?.receiver))).toEqual([
        '+33612345742',
        '+33612345743',
        '+33612345744',
      ]);
      const before = await state();
      expect((await submit(c, { dest_addr_ton: 1, destination_addr: '0612345745', short_message: 'x' })).command_status).toBe(
        E.ESME_RINVDSTADR,
      );
      expect(await state()).toEqual(before);
    });

    it('does not leave two messages to send when replace_if_present_flag asks to replace the pending one', async () => {
      const c = await bound();
      const later = new Date(Date.now() + 3_600_000);
      const fields = { destination_addr: '33612345746', schedule_delivery_time: later };
      expect((await submit(c, { ...fields, short_message: 'RDV lundi' })).command_status).toBe(E.ESME_ROK);
      const replacing = await submit(c, { ...fields, short_message: 'RDV mardi', replace_if_present_flag: 1 });
      const pending = (await rowsTo('+33612345746')).filter((r) => r.status === 'pending').map((r) => r.message);
      // Replaced (only the new text left), or refused (the first left alone): never both sent.
      expect([replacing.command_status === E.ESME_ROK ? ['RDV mardi'] : ['RDV lundi']]).toContainEqual(pending);
    });
  });

  describe('receipts, query_sm and cancel_sm', () => {
    let dispatching: Dispatching;
    beforeAll(async () => {
      dispatching = await startSimulatorDispatching(ctx.app.services);
    });
    afterAll(async () => {
      await dispatching?.stop();
    });
    const statusOf = async (id: unknown) => (await row(id))?.status;
    const yymmddhhmm = (ms: unknown) => ymdhms(Number(ms)).slice(0, 10);

    it('sends a receipt whose id is the submit_sm_resp message_id, with the message’s dates (YYMMDDhhmm, UTC), stat, err, esm_class 0x04 and TLVs', async () => {
      const c = await bound(`${account.name}:receipts`);
      const ok = await submit(c, { destination_addr: '33612345750', short_message: 'Livré', registered_delivery: 1 });
      const ko = await submit(c, { destination_addr: '33612340001', short_message: 'Perdu', registered_delivery: 1 });
      expect(String(ok.message_id)).toMatch(/^\d+$/);
      const receiptOf = (id: unknown) => waitFor(() => c.delivered.find((p) => p.receipted_message_id === id), `the receipt of ${id}`);
      const [good, bad] = [await receiptOf(ok.message_id), await receiptOf(ko.message_id)];
      const [okRow, koRow] = [await row(ok.message_id), await row(ko.message_id)];
      expect([good.esm_class, good.message_state, bad.esm_class, bad.message_state]).toEqual([0x04, 2, 0x04, 5]);
      expect((good.short_message as { message: string }).message).toBe(
        `id:${ok.message_id} sub:001 dlvrd:001 submit date:${yymmddhhmm(okRow?.created_at)} done date:${yymmddhhmm(okRow?.delivered_at)} stat:DELIVRD err:000 text:Livré`,
      );
      expect((bad.short_message as { message: string }).message).toBe(
        `id:${ko.message_id} sub:001 dlvrd:000 submit date:${yymmddhhmm(koRow?.created_at)} done date:${yymmddhhmm(koRow?.failed_at)} stat:UNDELIV err:009 text:Perdu`,
      );
    });

    it('answers query_sm with message_state and final_date of delivered, failed and pending messages', async () => {
      const c = await bound();
      const delivered = await submit(c, { destination_addr: '33612345751', short_message: 'q1' });
      const failed = await submit(c, { destination_addr: '33612340001', short_message: 'q2' });
      const pending = await submit(c, {
        destination_addr: '33612345752',
        short_message: 'q3',
        schedule_delivery_time: new Date(Date.now() + 3_600_000),
      });
      await waitFor(async () => (await statusOf(delivered.message_id)) === 'delivered', 'delivered');
      await waitFor(async () => (await statusOf(failed.message_id)) === 'failed', 'failed');
      const query = async (id: unknown) => {
        const q = await c.request('query_sm', { message_id: id, source_addr: 'MyShop' });
        const final = q.final_date instanceof Date ? q.final_date.getTime() : q.final_date;
        return [q.command_status, q.message_id, q.message_state, final, q.error_code];
      };
      const second = (ms: unknown) => Math.floor(Number(ms) / 1000) * 1000;
      expect(await query(delivered.message_id)).toEqual([
        E.ESME_ROK,
        delivered.message_id,
        2,
        second((await row(delivered.message_id))?.delivered_at),
        0,
      ]);
      expect(await query(failed.message_id)).toEqual([
        E.ESME_ROK,
        failed.message_id,
        5,
        second((await row(failed.message_id))?.failed_at),
        9,
      ]);
      expect(await query(pending.message_id)).toEqual([E.ESME_ROK, pending.message_id, 1, '', 0]);
    });

    it('answers query_sm of a message cancel_sm canceled with message_state DELETED (4) and the time it was canceled; another SMS user is refused', async () => {
      const c = await bound();
      const sent = await submit(c, {
        destination_addr: '33612345755',
        short_message: 'Annulé puis demandé',
        schedule_delivery_time: new Date(Date.now() + 3_600_000),
      });
      const before = Date.now();
      expect((await c.request('cancel_sm', { message_id: sent.message_id, source_addr: 'MyShop' })).command_status).toBe(E.ESME_ROK);
      const after = Date.now();
      const q = await c.request('query_sm', { message_id: sent.message_id, source_addr: 'MyShop' });
      expect([q.command_status, q.message_id, q.message_state, q.error_code]).toEqual([E.ESME_ROK, sent.message_id, 4, 0]);
      // final_date: when it was canceled, to the second (SMPP times carry tenths at most).
      expect(q.final_date).toBeInstanceOf(Date);
      const final = (q.final_date as Date).getTime();
      expect(final >= Math.floor(before / 1000) * 1000 && final <= after).toBe(true);
      // The same id asked by another SMS user of the account: not its message, so not its deletion either.
      const other = await bound(`${account.name}:receipts`);
      expect((await other.request('query_sm', { message_id: sent.message_id, source_addr: 'MyShop' })).command_status).toBe(
        E.ESME_RQUERYFAIL,
      );
      // An id no message ever had is still refused.
      expect((await c.request('query_sm', { message_id: '999999999999', source_addr: 'MyShop' })).command_status).toBe(E.ESME_RQUERYFAIL);
    });

    it('answers query_sm of messages sent (ENROUTE 1), expired (EXPIRED 3) and canceled but kept (DELETED 4), as SMPP 3.4 §5.2.28 numbers them', async () => {
      const c = await bound();
      const later = () => new Date(Date.now() + 3_600_000);
      const [sent, expired, canceled] = [
        await submit(c, { destination_addr: '33612345756', short_message: 'q-sent', schedule_delivery_time: later() }),
        await submit(c, { destination_addr: '33612345757', short_message: 'q-expired', schedule_delivery_time: later() }),
        await submit(c, { destination_addr: '33612345758', short_message: 'q-canceled', schedule_delivery_time: later() }),
      ];
      // The statuses as the dispatcher (sent, expired) or a kept cancellation would leave the rows.
      const at = Math.floor(Date.now() / 1000) * 1000 - 60_000;
      const set = (id: unknown, values: Record<string, unknown>) =>
        ctx.database.db.updateTable('outgoing').set(values).where('id', '=', Number(id)).execute();
      await set(sent.message_id, { status: 'sent', sent_at: at });
      await set(expired.message_id, { status: 'expired', sent_at: at, expired_at: at + 1000 });
      await set(canceled.message_id, { status: 'canceled', canceled_at: at + 2000 });
      const query = async (id: unknown) => {
        const q = await c.request('query_sm', { message_id: id, source_addr: 'MyShop' });
        return [q.command_status, q.message_state, q.final_date instanceof Date ? q.final_date.getTime() : q.final_date, q.error_code];
      };
      expect(await query(sent.message_id)).toEqual([E.ESME_ROK, 1, '', 0]);
      expect(await query(expired.message_id)).toEqual([E.ESME_ROK, 3, at + 1000, 0]);
      expect(await query(canceled.message_id)).toEqual([E.ESME_ROK, 4, at + 2000, 0]);
    });

    it('refuses query_sm on a receiver bind (ESME_RINVBNDSTS): SMPP 3.4 takes it from transmitters and transceivers only', async () => {
      const tx = await bound(`${account.name}:shop`, 'bind_transmitter');
      const sent = await submit(tx, { destination_addr: '33612345753', short_message: 'q4' });
      const rx = await bound(`${account.name}:shop`, 'bind_receiver');
      expect((await rx.request('query_sm', { message_id: sent.message_id })).command_status).toBe(E.ESME_RINVBNDSTS);
    });

    it('cancels a pending deferred message once when cancel_sm comes twice at once: one ESME_ROK, its credits given back once', async () => {
      const c = await bound();
      const sent = await submit(c, {
        destination_addr: '33612345754',
        short_message: 'Annule-moi',
        schedule_delivery_time: new Date(Date.now() + 3_600_000),
      });
      const before = await state();
      const answers = await Promise.all([
        c.request('cancel_sm', { message_id: sent.message_id, source_addr: 'MyShop' }),
        c.request('cancel_sm', { message_id: sent.message_id, source_addr: 'MyShop' }),
      ]);
      expect(answers.map((p) => p.command_status).sort()).toEqual([E.ESME_ROK, E.ESME_RCANCELFAIL].sort());
      const after = await state();
      expect([after.outgoing - before.outgoing, after.credits[account.id] - before.credits[account.id]]).toEqual([-1, 1]);
    });
  });

  describe('the session', () => {
    it('answers a submit_sm received just before unbind (the message it writes) before the session ends', async () => {
      const submitSequence = nextSequence++;
      // Both PDUs in one write: the server reads the unbind while the submit is being committed.
      const bytes = Buffer.concat([
        rawSubmitSm(submitSequence, { destination: '33612345760', message: Buffer.from('avant unbind') }),
        rawPdu(0x00000006, nextSequence++, Buffer.alloc(0)),
      ]);
      let answer: Awaited<ReturnType<typeof exchange>> = 'closed';
      await withOwnServer(async (port) => {
        answer = await exchange(await bound(`${account.name}:shop`, 'bind_transceiver', port), bytes, submitSequence);
      });
      const written = (await rowsTo('+33612345760')).length;
      // Answered ESME_ROK for the message written, or (no answer) nothing written: never written unanswered.
      expect({ answer, written }).toEqual(
        answer === 'closed' ? { answer, written: 0 } : { answer: { command: 'submit_sm_resp', status: E.ESME_ROK }, written: 1 },
      );
    });

    it('writes nothing for a submit_sm that follows unbind on the connection', async () => {
      const submitSequence = nextSequence++;
      const bytes = Buffer.concat([
        rawPdu(0x00000006, nextSequence++, Buffer.alloc(0)),
        rawSubmitSm(submitSequence, { destination: '33612345761', message: Buffer.from('after unbind') }),
      ]);
      let answer: Awaited<ReturnType<typeof exchange>> = 'closed';
      await withOwnServer(async (port) => {
        answer = await exchange(await bound(`${account.name}:shop`, 'bind_transceiver', port), bytes, submitSequence);
      });
      expect({ answer, written: (await rowsTo('+33612345761')).length }).toMatchObject({ written: 0 });
    });

    it('answers an outbind sent by a program with generic_nack (ESME_RINVCMDID): every request gets an answer', async () => {
      const c = await bound();
      const sequence = nextSequence++;
      const answers: [string, number][] = [];
      c.session.on('pdu', (pdu: smpp.PDU) => {
        if (pdu.sequence_number === sequence) answers.push([pdu.command, pdu.command_status]);
      });
      c.session.socket.write(rawPdu(0x0000000b, sequence, Buffer.concat([cstr('esme'), cstr('secret')])));
      // Answered in order: once enquire_link is, the outbind would have been.
      expect((await c.request('enquire_link')).command_status).toBe(E.ESME_ROK);
      expect(answers).toEqual([['generic_nack', E.ESME_RINVCMDID]]);
    });
  });
});
