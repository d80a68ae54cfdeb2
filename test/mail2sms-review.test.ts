/**
 * Adversarial review of mail2sms (OVH-COMPAT §4) over real SMTP on loopback: envelopes with many
 * recipients, pipelining, commands out of order, STARTTLS command injection, AUTH, hostile subjects
 * and bodies (encodings, charsets, HTML, MIME bombs, contact files), aborted and idle sessions, login
 * limits and IP restrictions.
 *
 * Each test is an attack asserting the SAFE outcome: a clear 5xx (or 4xx when temporary) that says
 * why, nothing written or debited for a refused mail (`ledger`), one job for an accepted one, and a
 * server that keeps answering.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../src/server/modules/accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { silentLog } from '../src/server/modules/dispatch/dispatch-testing.js';
import { type Mail2SmsServer, type Mail2SmsServerOptions, startMail2Sms } from '../src/server/modules/mail2sms/mail2sms.server.js';
import { describeEachDialectWithApp } from './app.js';
import { createAccount, createSender, createSmsUser } from './factories.js';
import { ledger } from './ledger.js';
import { type MailOptions, mailVia, type Sent } from './smtp-client.js';
import { selfSignedCertificate } from './tls.js';

const PASSWORD = 'mail-review-2024';
/** Passwords only the named form can carry (`:` and `;`), and one with `=` (fine in both forms). */
const COLON_PASSWORD = 'p:a;ss=w0rd';
const EQUALS_PASSWORD = 'pa=ss==word';
const MAX_SIZE = 2 * 1024 * 1024;
const AUTH_FAILURES_PER_MINUTE = 5;
const CONFIG = {
  smtpMaxSize: MAX_SIZE,
  tlsCertFile: null,
  tlsKeyFile: null,
  http2smsRateLimit: { perIp: 0, perUser: 0, authFailuresPerMinute: AUTH_FAILURES_PER_MINUTE, windowMs: 1000 },
};

/** A raw RFC 5322 message (CRLF), headers as given. */
function rawMail(headers: Record<string, string>, body: string): string {
  const lines = Object.entries({ From: 'app@example.com', To: 'email2sms@relais.test', ...headers }).map(([k, v]) => `${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}\r\n`;
}

interface Reply {
  code: number;
  text: string;
}

/** An SMTP client on a raw socket: writes whatever it is given, reads replies (multi-line ones whole). */
class RawSmtp {
  private buffer = '';
  private wake: (() => void) | undefined;
  private ended = false;
  private constructor(private socket: Socket) {
    this.listen(socket);
  }

  static async open(port: number, localAddress = '127.0.0.1'): Promise<RawSmtp> {
    const socket = netConnect({ port, host: '127.0.0.1', localAddress, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawSmtp(socket);
  }

  private listen(socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  get closed() {
    return this.ended;
  }

  /** The next whole reply, or code 0 once the connection closed without one. */
  async reply(): Promise<Reply> {
    for (;;) {
      const lines = this.buffer.split('\r\n');
      const last = lines.findIndex((l) => /^\d{3}( |$)/.test(l));
      if (last !== -1) {
        this.buffer = lines.slice(last + 1).join('\r\n');
        return { code: Number(lines[last].slice(0, 3)), text: lines.slice(0, last + 1).join('\n') };
      }
      if (this.ended) return { code: 0, text: 'closed' };
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  write(data: string | Buffer) {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  async cmd(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** The TLS handshake on this socket (after a 220 to STARTTLS); what was read before is dropped. */
  async upgrade(): Promise<void> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    this.buffer = '';
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure as unknown as Socket;
    this.listen(this.socket);
  }

  /** Ends the connection and waits until it is closed. */
  async close(): Promise<void> {
    if (!this.ended) {
      const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
      this.socket.destroy();
      await closed;
    }
  }
}

/** A DATA body with dot-stuffing and the final dot. */
const dataOf = (raw: string) => `${raw.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.\r\n`;

describeEachDialectWithApp('mail2sms under attack', (ctx) => {
  let smtp: Mail2SmsServer;
  let account: Account;
  let poor: Account;
  const clients: RawSmtp[] = [];
  const extraServers: Mail2SmsServer[] = [];
  /** Another server on the same services with these options, closed after the test. */
  const extraServer = async (options: Partial<Mail2SmsServerOptions>) => {
    const server = await startMail2Sms({
      services: ctx.app.services,
      config: CONFIG,
      log: silentLog,
      port: 0,
      host: '127.0.0.1',
      ...options,
    });
    extraServers.push(server);
    return server;
  };
  /** NOOP every `everyMs` until the server answers something else (its closing 421). */
  const noopUntilClosed = async (c: RawSmtp, everyMs: number): Promise<Reply> => {
    let last: Reply = { code: 250, text: '' };
    while (last.code === 250) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      last = await c.cmd('NOOP');
    }
    return last;
  };
  const state = () => ledger(ctx.database);
  const subject = (rest: string, login = 'mailer', password = PASSWORD, name = account.name) => `${name}:${login}:${password}:${rest}`;
  const send = (mail: MailOptions, localAddress = '127.0.0.1') => mailVia(smtp.port, mail, { localAddress });
  const open = async (port = smtp.port, localAddress = '127.0.0.1') => {
    const c = await RawSmtp.open(port, localAddress);
    clients.push(c);
    return c;
  };
  const rows = (jobId: number) =>
    ctx.database.db
      .selectFrom('outgoing')
      .select(['receiver', 'sender', 'message', 'user_login'])
      .where('job_id', '=', jobId)
      .orderBy('id')
      .execute();
  /** Sends `mail`, expects the refusal `code` with each of `reasons`, and nothing written or debited. */
  async function expectRefused(mail: MailOptions, code: number, ...reasons: (string | RegExp)[]) {
    const before = await state();
    const sent = await send(mail);
    expect(sent.ok, sent.response).toBe(false);
    if (!sent.ok) {
      expect(sent.code, sent.response).toBe(code);
      for (const reason of reasons) expect(sent.response).toMatch(reason);
    }
    expect(await state()).toEqual(before);
    return sent;
  }
  async function expectAccepted(mail: MailOptions, localAddress?: string) {
    const sent = await send(mail, localAddress);
    if (!sent.ok) throw new Error(`refused: ${sent.code} ${sent.response}`);
    expect(sent.response).toMatch(/^250 2\.0\.0 Accepted: \d+ SMS/);
    return rows(sent.jobId);
  }

  beforeAll(async () => {
    account = await createAccount(ctx.app, { credits: 100_000, timezone: 'Europe/Paris' });
    await createSender(ctx.app, account, { sender: 'MyShop' });
    await createSmsUser(ctx.app, account, { login: 'mailer', password: PASSWORD });
    await createSmsUser(ctx.app, account, { login: 'colon', password: COLON_PASSWORD });
    await createSmsUser(ctx.app, account, { login: 'equals', password: EQUALS_PASSWORD });
    await createSmsUser(ctx.app, account, { login: 'fenced', password: PASSWORD, ipRestrictions: ['127.0.0.2/32'] });
    poor = await createAccount(ctx.app, { credits: 3 });
    await createSender(ctx.app, poor, { sender: 'MyShop' });
    await createSmsUser(ctx.app, poor, { login: 'mailer', password: PASSWORD });
    smtp = await startMail2Sms({ services: ctx.app.services, config: CONFIG, log: silentLog, port: 0, host: '127.0.0.1' });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const s of extraServers.splice(0)) await s.close();
  });
  afterAll(async () => {
    await smtp?.close();
  });

  // --- The envelope ------------------------------------------------------------------------------

  it('sends a mail with mixed recipients once: others refused at RCPT (5.1.1), one job for all the email2sms ones', async () => {
    const c = await open();
    expect((await c.reply()).code).toBe(220);
    expect((await c.cmd('EHLO attacker.test')).code).toBe(250);
    expect((await c.cmd('MAIL FROM:<app@example.com>')).code).toBe(250);
    const rcpts = ['email2sms@a.test', 'victim@relais.test', 'EMAIL2SMS@b.test', 'email2sms+x@relais.test', 'email2sms@relais.test'];
    const answers = [];
    for (const r of rcpts) answers.push((await c.cmd(`RCPT TO:<${r}>`)).code);
    expect(answers).toEqual([250, 550, 250, 550, 250]);
    const before = await state();
    expect((await c.cmd('DATA')).code).toBe(354);
    c.write(dataOf(rawMail({ Subject: subject('MyShop:+33612340001,+33612340002::::1') }, 'Once only')));
    const done = await c.reply();
    expect(done.code, done.text).toBe(250);
    const after = await state();
    expect([after.jobs - before.jobs, after.outgoing - before.outgoing]).toEqual([1, 2]);
    expect(after.credits[account.id]).toBe(before.credits[account.id] - 2);
  });

  it('caps the recipients of one transaction (bounded memory), and still sends the mail once', async () => {
    const c = await open();
    await c.reply();
    await c.cmd('EHLO many.test');
    expect((await c.cmd('MAIL FROM:<app@example.com>')).code).toBe(250);
    const count = 5_000;
    c.write(Array.from({ length: count }, (_, i) => `RCPT TO:<email2sms@host-${i}.example>\r\n`).join(''));
    const codes = new Map<number, number>();
    for (let i = 0; i < count; i++) {
      const { code } = await c.reply();
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(codes.get(250)).toBeGreaterThan(0);
    // RFC 5321 §4.5.3.1.10: past the server's limit, 452 "too many recipients".
    expect(
      [...codes.keys()].filter((code) => code !== 250),
      JSON.stringify([...codes]),
    ).toEqual([452]);
    const before = await state();
    expect((await c.cmd('DATA')).code).toBe(354);
    c.write(dataOf(rawMail({ Subject: subject('MyShop:+33612340003::::1') }, 'Many rcpt')));
    expect((await c.reply()).code).toBe(250);
    const after = await state();
    expect([after.jobs - before.jobs, after.outgoing - before.outgoing]).toEqual([1, 1]);
  });

  it('keeps pipelined transactions apart: two mails in one write are two jobs, each with its own text', async () => {
    const c = await open();
    await c.reply();
    const ehlo = await c.cmd('EHLO pipe.test');
    expect(ehlo.text).toMatch(/PIPELINING/);
    const before = await state();
    const transaction = (n: number) =>
      `MAIL FROM:<app@example.com>\r\nRCPT TO:<email2sms@relais.test>\r\nDATA\r\n${dataOf(
        rawMail({ Subject: subject(`MyShop:+3361234001${n}::::1`), 'Message-ID': `<pipe-${n}@example.com>` }, `Pipelined ${n}`),
      )}`;
    c.write(`${transaction(1)}RSET\r\n${transaction(2)}QUIT\r\n`);
    const replies: Reply[] = [];
    for (let i = 0; i < 10; i++) replies.push(await c.reply());
    expect(replies.map((r) => r.code)).toEqual([250, 250, 354, 250, 250, 250, 250, 354, 250, 221]);
    const jobs = [3, 8].map((i) => Number(/job (\d+)/.exec(replies[i].text)?.[1]));
    expect(await rows(jobs[0])).toMatchObject([{ receiver: '+33612340011', message: 'Pipelined 1' }]);
    expect(await rows(jobs[1])).toMatchObject([{ receiver: '+33612340012', message: 'Pipelined 2' }]);
    const after = await state();
    expect([after.jobs - before.jobs, after.outgoing - before.outgoing]).toEqual([2, 2]);
  });

  it('ends DATA only at CRLF.CRLF: a bare-LF or bare-CR dot line smuggles no second mail', async () => {
    const c = await open();
    await c.reply();
    await c.cmd('EHLO smuggle.test');
    await c.cmd('MAIL FROM:<app@example.com>');
    await c.cmd('RCPT TO:<email2sms@relais.test>');
    const before = await state();
    expect((await c.cmd('DATA')).code).toBe(354);
    const smuggled = (n: number, dot: string) =>
      `${dot}MAIL FROM:<evil@example.com>\r\nRCPT TO:<email2sms@relais.test>\r\nDATA\r\nSubject: ${subject(`MyShop:+3361234009${n}::::1`)}\r\n\r\nSmuggled\r\n`;
    c.write(
      `Subject: ${subject('MyShop:+33612340090::::1')}\r\n\r\nCarrier text${smuggled(1, '\n.\n')}${smuggled(2, '\r\n.\n')}${smuggled(3, '\n.\r\n')}${smuggled(4, '\r.\r')}\r\n.\r\n`,
    );
    const done = await c.reply();
    expect(done.code, done.text).toBe(250);
    expect((await c.cmd('NOOP')).code).toBe(250);
    const after = await state();
    expect([after.jobs - before.jobs, after.outgoing - before.outgoing]).toEqual([1, 1]);
    const receivers = await ctx.database.db.selectFrom('outgoing').select('receiver').where('receiver', 'like', '+3361234009%').execute();
    expect(receivers.map((r) => r.receiver)).toEqual(['+33612340090']);
  });

  it('reads a mail written one byte per TCP segment (dot-stuffed lines and the final dot split anywhere)', async () => {
    const c = await open();
    await c.reply();
    await c.cmd('EHLO drip.test');
    await c.cmd('MAIL FROM:<app@example.com>');
    await c.cmd('RCPT TO:<email2sms@relais.test>');
    expect((await c.cmd('DATA')).code).toBe(354);
    const bytes = Buffer.from(dataOf(rawMail({ Subject: subject('MyShop:+33612340095::::1') }, '.5 EUR off\n..dots\nend')));
    for (const byte of bytes) {
      c.write(Buffer.from([byte]));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const done = await c.reply();
    expect(done.code, done.text).toBe(250);
    const jobId = Number(/job (\d+)/.exec(done.text)?.[1]);
    expect(await rows(jobId)).toMatchObject([{ receiver: '+33612340095', message: '.5 EUR off\n..dots\nend' }]);
  });

  it('refuses a transaction out of order (MAIL before EHLO, DATA without RCPT, a second MAIL), recording nothing', async () => {
    const before = await state();
    const c = await open();
    await c.reply();
    const early = await c.cmd('MAIL FROM:<app@example.com>');
    expect(early.code).toBeGreaterThanOrEqual(500);
    expect((await c.cmd('EHLO order.test')).code).toBe(250);
    expect((await c.cmd('DATA')).code).toBe(503);
    expect((await c.cmd('RCPT TO:<email2sms@relais.test>')).code).toBe(503);
    expect((await c.cmd('MAIL FROM:<app@example.com>')).code).toBe(250);
    expect((await c.cmd('MAIL FROM:<other@example.com>')).code).toBe(503);
    expect(await state()).toEqual(before);
  });

  it('offers no AUTH and no STARTTLS without a certificate, and refuses both if tried', async () => {
    const c = await open();
    await c.reply();
    const ehlo = await c.cmd('EHLO auth.test');
    expect(ehlo.text).not.toMatch(/AUTH|STARTTLS/);
    const tried = [
      await c.cmd(`AUTH PLAIN ${Buffer.from(`\u0000${account.name}:mailer\u0000${PASSWORD}`).toString('base64')}`),
      await c.cmd('AUTH LOGIN'),
      await c.cmd('STARTTLS'),
    ];
    for (const reply of tried) expect([500, 502], reply.text).toContain(reply.code);
    expect((await c.cmd('NOOP')).code).toBe(250);
  });

  it('drops commands pipelined after STARTTLS in plaintext (no command injection into the TLS session)', async () => {
    const made = await selfSignedCertificate();
    try {
      const secured = await extraServer({ tls: { key: made.key, cert: made.cert } });
      const before = await state();
      const c = await open(secured.port);
      await c.reply();
      expect((await c.cmd('EHLO inject.test')).text).toMatch(/STARTTLS/);
      const injected = rawMail({ Subject: subject('MyShop:+33612340020::::1') }, 'Injected');
      c.write(`STARTTLS\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<email2sms@relais.test>\r\nDATA\r\n${dataOf(injected)}`);
      expect((await c.reply()).code).toBe(220);
      await c.upgrade();
      // The session starts again: no greeting name, no envelope from before the handshake.
      expect((await c.cmd('EHLO inject.test')).code).toBe(250);
      expect((await c.cmd('RCPT TO:<email2sms@relais.test>')).code).toBe(503);
      expect((await c.cmd('DATA')).code).toBe(503);
      expect(await state()).toEqual(before);
      // And a proper transaction over TLS is accepted.
      expect((await c.cmd('MAIL FROM:<app@example.com>')).code).toBe(250);
      expect((await c.cmd('RCPT TO:<email2sms@relais.test>')).code).toBe(250);
      expect((await c.cmd('DATA')).code).toBe(354);
      c.write(dataOf(rawMail({ Subject: subject('MyShop:+33612340021::::1') }, 'Over TLS')));
      expect((await c.reply()).code).toBe(250);
    } finally {
      made.remove();
    }
  });

  // --- Aborted, idle and many sessions -----------------------------------------------------------

  it('records nothing for a DATA phase aborted mid-way (before the final dot), and keeps serving', async () => {
    const before = await state();
    for (const cut of ['half', 'all-but-dot']) {
      const c = await open();
      await c.reply();
      await c.cmd('EHLO abort.test');
      await c.cmd('MAIL FROM:<app@example.com>');
      await c.cmd('RCPT TO:<email2sms@relais.test>');
      expect((await c.cmd('DATA')).code).toBe(354);
      const whole = rawMail({ Subject: subject('MyShop:+33612340030::::1') }, 'Never finished');
      c.write(cut === 'half' ? whole.slice(0, whole.length / 2) : whole);
      await c.close();
    }
    // The next mail is handled (and the aborted ones never show up).
    const accepted = await expectAccepted({ subject: subject('MyShop:+33612340031::::1'), text: 'After the aborts' });
    expect(accepted).toMatchObject([{ receiver: '+33612340031' }]);
    const after = await state();
    expect([after.jobs - before.jobs, after.outgoing - before.outgoing]).toEqual([1, 1]);
  });

  it('times idle sessions out (421), even one stuck in the middle of DATA, recording nothing', async () => {
    const quick = await extraServer({ socketTimeoutMs: 300 });
    const before = await state();
    const idle = await open(quick.port);
    expect((await idle.reply()).code).toBe(220);
    const inData = await open(quick.port);
    await inData.reply();
    await inData.cmd('EHLO slow.test');
    await inData.cmd('MAIL FROM:<app@example.com>');
    await inData.cmd('RCPT TO:<email2sms@relais.test>');
    await inData.cmd('DATA');
    inData.write(`Subject: ${subject('MyShop:+33612340040::::1')}\r\n\r\nStuck`);
    expect((await idle.reply()).code).toBe(421);
    expect((await inData.reply()).code).toBe(421);
    expect((await idle.reply()).code).toBe(0);
    expect((await inData.reply()).code).toBe(0);
    expect(await state()).toEqual(before);
  });

  it('closes a session past its deadline (421) however busy it keeps, even one trickling DATA, recording nothing', async () => {
    const bounded = await extraServer({ socketTimeoutMs: 60_000, sessionDeadlineMs: 400 });
    const before = await state();
    const chatty = await open(bounded.port);
    expect((await chatty.reply()).code).toBe(220);
    await chatty.cmd('EHLO chatty.test');
    const trickling = await open(bounded.port);
    await trickling.reply();
    await trickling.cmd('EHLO trickle.test');
    await trickling.cmd('MAIL FROM:<app@example.com>');
    await trickling.cmd('RCPT TO:<email2sms@relais.test>');
    expect((await trickling.cmd('DATA')).code).toBe(354);
    trickling.write(`Subject: ${subject('MyShop:+33612340041::::1')}\r\n\r\n`);
    // Never idle: a NOOP, a byte of text, again and again, until the server hangs up.
    const last = await noopUntilClosed(chatty, 20);
    expect(last.code).toBe(421);
    expect(last.text).toMatch(/Session too long/);
    let closing: Reply | undefined;
    const closingReply = trickling.reply().then((r) => {
      closing = r;
    });
    while (closing === undefined) {
      trickling.write('x');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await closingReply;
    expect(closing.code).toBe(421);
    expect((await chatty.reply()).code).toBe(0);
    expect((await trickling.reply()).code).toBe(0);
    expect(await state()).toEqual(before);
  });

  it('answers a mail read in full before its session’s deadline closes it', async () => {
    const bounded = await extraServer({ sessionDeadlineMs: 2_000 });
    const c = await open(bounded.port);
    await c.reply();
    await c.cmd('EHLO ontime.test');
    await c.cmd('MAIL FROM:<app@example.com>');
    await c.cmd('RCPT TO:<email2sms@relais.test>');
    expect((await c.cmd('DATA')).code).toBe(354);
    const answer = await c.cmd(dataOf(rawMail({ Subject: subject('MyShop:+33612340042::::1') }, 'In time')).replace(/\r\n$/, ''));
    expect(answer.code).toBe(250);
    expect((await noopUntilClosed(c, 50)).code).toBe(421);
  });

  it('limits sessions (421 past maxClients) and frees the places of closed ones', async () => {
    const small = await extraServer({ maxClients: 4, maxClientsPerAddress: 4 });
    const held: RawSmtp[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await open(small.port, `127.0.0.${10 + i}`);
      expect((await c.reply()).code).toBe(220);
      held.push(c);
    }
    const fifth = await open(small.port, '127.0.0.20');
    expect((await fifth.reply()).code).toBe(421);
    for (const c of held) await c.close();
    // Sessions refused or closed give their place back: 20 more come and go, then one still gets in.
    for (let i = 0; i < 20; i++) {
      const c = await open(small.port, '127.0.0.21');
      await c.reply();
      await c.close();
    }
    let greeting: Reply = { code: 0, text: '' };
    for (let attempt = 0; attempt < 50 && greeting.code !== 220; attempt++) {
      const c = await open(small.port, '127.0.0.22');
      greeting = await c.reply();
      await c.close();
    }
    expect(greeting.code).toBe(220);
  });

  // --- Subjects ----------------------------------------------------------------------------------

  it('reads a subject folded over lines and split into RFC 2047 encoded words of several charsets', async () => {
    const [head, tail] = [`${account.name}:mailer:mail-`, 'review-2024:MyShop:+33612340050::::1'];
    const folded = [`=?UTF-8?B?${Buffer.from(head).toString('base64')}?=`, `\r\n =?ISO-8859-15?Q?${tail.replace(/:/g, '=3A')}?=`].join('');
    const rowsOf = await expectAccepted({ raw: rawMail({ Subject: folded }, 'Folded subject') });
    expect(rowsOf).toMatchObject([{ receiver: '+33612340050', message: 'Folded subject' }]);
    const windows = await expectAccepted({
      raw: rawMail({ Subject: `${account.name}:mailer:${PASSWORD}:MyShop:+33612340051::::1` }, 'x').replace(
        'Subject:',
        'X-Ignore: =?windows-1252?Q?=80?=\r\nSubject:',
      ),
    });
    expect(windows).toHaveLength(1);
  });

  it('refuses broken or odd-charset encoded words with a 5xx, never a 451 or a crash', async () => {
    const before = await state();
    const broken = [
      '=?UTF-8?B?!!!not base64!!!?=',
      '=?x-no-such-charset?Q?abc?=',
      '=?UTF-7?Q?+AGEAYgBj-?=',
      `=?UTF-8?Q?${'=FF'.repeat(500)}?=`,
      `=?UTF-8?B?${Buffer.from(subject('MyShop:+33612340052')).toString('base64').slice(0, -3)}?=`,
      `${'=?UTF-8?Q?a?= '.repeat(3000)}`,
    ];
    const outcomes = [];
    for (const s of broken) {
      const sent = await send({ raw: rawMail({ Subject: s }, 'x') });
      outcomes.push(sent.ok ? 250 : sent.code);
    }
    expect(outcomes).toEqual(broken.map(() => 550));
    expect(await state()).toEqual(before);
  });

  it('accepts passwords holding ":" ";" "=" in the named form, and "=" in the positional one', async () => {
    const named = await expectAccepted({
      subject: `Account=${account.name};Login=colon;Password=${COLON_PASSWORD};From=MyShop;To=+33612340060;NoStop=1`,
      text: 'Colon password',
    });
    expect(named).toMatchObject([{ receiver: '+33612340060', user_login: 'colon' }]);
    const positional = await expectAccepted({ subject: subject('MyShop:+33612340061::::1', 'equals', EQUALS_PASSWORD), text: 'Eq' });
    expect(positional).toMatchObject([{ user_login: 'equals' }]);
    const namedEq = await expectAccepted({
      subject: `Password=${EQUALS_PASSWORD};Account=${account.name};Login=equals;From=MyShop;To=+33612340062;NoStop=1`,
      text: 'Eq named',
    });
    expect(namedEq).toMatchObject([{ user_login: 'equals' }]);
    // In the positional form, ":" in a password cannot be told from a separator: refused, saying so.
    await expectRefused({ subject: subject('MyShop:+33612340063', 'colon', COLON_PASSWORD), text: 'x' }, 550, /5\.[67]\.\d/);
  });

  it('refuses every mail of an account the operator disabled (550 5.7.1, saying so), and sends again once enabled', async () => {
    await ctx.app.services.accounts.update(SYSTEM_ACTOR, account.name, { status: 'disable' });
    try {
      await expectRefused({ subject: subject('MyShop:+33612340064'), text: 'Disabled' }, 550, /5\.7\.1/, /disabled by the operator/);
    } finally {
      await ctx.app.services.accounts.update(SYSTEM_ACTOR, account.name, { status: 'enable' });
    }
    expect(await expectAccepted({ subject: subject('MyShop:+33612340065'), text: 'Enabled again' })).toHaveLength(1);
  });

  // --- MIME bombs and bodies ---------------------------------------------------------------------

  it('answers deeply nested multiparts and thousands of parts with a 5xx or a 250, never a 451', async () => {
    const before = await state();
    const head = `Subject: ${subject('MyShop:+33612340070::::1')}\r\nMIME-Version: 1.0\r\n`;
    let nested = 'Content-Type: text/plain\r\n\r\nDeep text\r\n';
    for (let depth = 0; depth < 3000; depth++) {
      nested = `Content-Type: multipart/mixed; boundary="b${depth}"\r\n\r\n--b${depth}\r\n${nested}\r\n--b${depth}--\r\n`;
    }
    const deep = await send({ envelope: { from: 'a@example.com', to: ['email2sms@relais.test'] }, raw: head + nested });
    const parts = Array.from({ length: 10_000 }, (_, i) => `--p\r\nContent-Type: text/plain\r\n\r\n${i === 0 ? 'Many parts' : ''}\r\n`);
    const wide = await send({
      envelope: { from: 'a@example.com', to: ['email2sms@relais.test'] },
      raw: `${head}Content-Type: multipart/mixed; boundary="p"\r\n\r\n${parts.join('')}--p--\r\n`,
    });
    const codes = [deep, wide].map((s) => (s.ok ? 250 : s.code));
    for (const [i, s] of [deep, wide].entries()) expect([250, 550], `${i}: ${s.response}`).toContain(codes[i]);
    const after = await state();
    const accepted = codes.filter((c) => c === 250).length;
    expect(after.jobs - before.jobs).toBe(accepted);
    expect(after.outgoing - before.outgoing).toBe(accepted);
  });

  it('accepts a mail with a big base64 attachment just under the size limit, refuses it just over (552)', async () => {
    // base64 grows by 4/3 plus line breaks: 1.4 MB of attachment is about 1.9 MB on the wire.
    const under = await expectAccepted({
      subject: subject('MyShop:+33612340080::::1'),
      text: 'With attachment',
      attachments: [{ filename: 'big.bin', content: Buffer.alloc(1_400_000, 7) }],
    });
    expect(under).toMatchObject([{ message: 'With attachment' }]);
    await expectRefused(
      {
        subject: subject('MyShop:+33612340081::::1'),
        text: 'Too big',
        attachments: [{ filename: 'big.bin', content: Buffer.alloc(1_600_000, 7) }],
      },
      552,
      /5\.3\.4|exceeds/,
    );
  });

  it('reduces HTML with script, style, comments and entities to its visible text', async () => {
    const html = [
      '<html><head><title>Secret title</title><style>p { color: red }</style><script>alert("head")</script></head>',
      '<body><!-- hidden comment --><SCRIPT type="text/javascript">document.write("x")</SCRIPT >',
      '<p>Caf&eacute; &amp; cr&egrave;me &lt;b&gt; &#8364;5 &#x1F600;</p><style>.x{}</style><div>Second line</div>',
      '<div><br></div><p>after the blank line</p></body></html>',
    ].join('');
    const rowsOf = await expectAccepted({ subject: subject('MyShop:+33612340090::::1'), html });
    expect(rowsOf[0].message).toBe('Café & crème <b> €5 😀\nSecond line');
  });

  it('decodes bodies in ISO-8859-1 and windows-1252, and never answers 451 for UTF-7 or an unknown charset', async () => {
    const body = (charset: string, bytes: Buffer, subjectRest: string) => ({
      envelope: { from: 'a@example.com', to: ['email2sms@relais.test'] },
      raw: Buffer.concat([
        Buffer.from(
          `Subject: ${subject(subjectRest)}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=${charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`,
        ),
        bytes,
        Buffer.from('\r\n'),
      ]),
    });
    const latin = await expectAccepted(body('ISO-8859-1', Buffer.from('Caf\xe9 cr\xe8me', 'latin1'), 'MyShop:+33612340100::::1'));
    expect(latin[0].message).toBe('Café crème');
    const windows = await expectAccepted(
      body('windows-1252', Buffer.from([0x80, 0x20, 0x92, 0x6f, 0x6b, 0x92]), 'MyShop:+33612340101::::1'),
    );
    expect(windows[0].message).toBe('€ ’ok’');
    // UTF-7 (refused by mailparser, as it hides markup) and unknown charsets: read somehow or refused, never a 451.
    for (const charset of ['UTF-7', 'x-klingon', '"utf-8\u0000"']) {
      const sent = await send(body(charset, Buffer.from('Hi +AOk-t+AOk-'), 'MyShop:+33612340102::::1'));
      expect(sent.ok || sent.code === 550, sent.response).toBe(true);
    }
  });

  it('refuses a mail whose only text is hidden HTML or follows the cut (550 Empty text), recording nothing', async () => {
    const hidden = '<html><head><title>t</title></head><body><!-- c --><script>x()</script><style>p{}</style><p>&nbsp;</p></body></html>';
    await expectRefused({ subject: subject('MyShop:+33612340110'), html: hidden }, 550, '5.6.0', 'Empty text');
    await expectRefused({ subject: subject('MyShop:+33612340110'), text: '  --END  \nsecret' }, 550, 'Empty text');
    await expectRefused({ subject: subject('MyShop:+33612340110'), text: '\u00a0\n\u200b \n-- \nsignature only' }, 550, 'Empty text');
  });

  // --- Contact files -----------------------------------------------------------------------------

  it('reads a contact file with a BOM, CRLF and blank lines; refuses one with an invalid line whole', async () => {
    const bom = await expectAccepted({
      subject: `Account=${account.name};Login=mailer;Password=${PASSWORD};From=MyShop;NoStop=1`,
      text: 'BOM file',
      attachments: [{ filename: 'contacts.txt', content: Buffer.from('\ufeff+33612340120\r\n\r\n0612340121\r\n  \r\n') }],
    });
    expect(bom.map((r) => r.receiver)).toEqual(['+33612340120', '+33612340121']);
    await expectRefused(
      {
        subject: `Account=${account.name};Login=mailer;Password=${PASSWORD};From=MyShop;NoStop=1`,
        text: 'Bad line',
        attachments: [{ filename: 'contact.txt', content: '+33612340122\n<script>\n0612340123\n' }],
      },
      550,
      /5\.6\.0 Invalid receiver: "<script>"/,
    );
  });

  it('reads a contact file attached inline (as Apple Mail attaches files) as receivers, never as SMS text', async () => {
    // Content-Disposition: inline; filename=contact.txt — mailparser merges such a text/plain part into the body.
    const sent = await send({
      subject: `Account=${account.name};Login=mailer;Password=${PASSWORD};From=MyShop;To=+33612340127;NoStop=1`,
      text: 'Inline file',
      attachments: [
        { filename: 'contact.txt', content: '+33612340125\n+33612340126\n', contentType: 'text/plain', contentDisposition: 'inline' },
      ],
    });
    expect(sent.ok, sent.response).toBe(true);
    if (sent.ok) {
      const got = await rows(sent.jobId);
      expect(got.map((r) => [r.receiver, r.message])).toEqual([
        ['+33612340127', 'Inline file'],
        ['+33612340125', 'Inline file'],
        ['+33612340126', 'Inline file'],
      ]);
    }
  });

  it('accepts a contact file of exactly 100,000 numbers as one job, each debited once', { timeout: 120_000 }, async () => {
    const big = await createAccount(ctx.app, { credits: 100_000 });
    await createSender(ctx.app, big, { sender: 'MyShop' });
    await createSmsUser(ctx.app, big, { login: 'bulk', password: PASSWORD });
    const numbers = Array.from({ length: 100_000 }, (_, i) => `+3367${String(i).padStart(7, '0')}`);
    const before = await state();
    const sent = await send({
      subject: `Account=${big.name};Login=bulk;Password=${PASSWORD};From=MyShop;NoStop=1`,
      text: 'Bulk',
      attachments: [{ filename: 'contacts.txt', content: numbers.join('\r\n') }],
    });
    expect(sent.ok, sent.response).toBe(true);
    const after = await state();
    expect([after.jobs - before.jobs, after.outgoing - before.outgoing]).toEqual([1, 100_000]);
    expect(after.credits[big.id]).toBe(0);
  });

  it('reads a UTF-16 contact file (as Windows Notepad saves "Unicode")', async () => {
    const content = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('+33612340130\r\n+33612340131\r\n', 'utf16le')]);
    const sent = await send({
      subject: `Account=${account.name};Login=mailer;Password=${PASSWORD};From=MyShop;NoStop=1`,
      text: 'UTF-16 file',
      attachments: [{ filename: 'contact.txt', content }],
    });
    expect(sent.ok, sent.ok ? '' : sent.response).toBe(true);
    if (sent.ok) expect((await rows(sent.jobId)).map((r) => r.receiver)).toEqual(['+33612340130', '+33612340131']);
  });

  it('refuses a contact file over the receivers limit with a 5xx (too many receivers), not a 451', async () => {
    const before = await state();
    // 100,001 distinct numbers (1.3 MB): over MAX_RECEIVERS (100,000); the same number twice counts once.
    const numbers = Array.from({ length: 100_001 }, (_, i) => `+3361${String(i).padStart(7, '0')}`);
    const sent = await send({
      subject: `Account=${account.name};Login=mailer;Password=${PASSWORD};From=MyShop;NoStop=1`,
      text: 'Too many',
      attachments: [{ filename: 'contacts.txt', content: numbers.join('\n') }],
    });
    expect(sent.ok ? 250 : sent.code, sent.response).toBe(550);
    expect(sent.response).toMatch(/Too many receivers/);
    expect(await state()).toEqual(before);
  });

  // --- Duplicates, credits, logins, addresses ----------------------------------------------------

  it('sends the same Message-ID twice as two jobs (duplicates are the sender’s choice)', async () => {
    const before = await state();
    const mail = { subject: subject('MyShop:+33612340140::::1'), text: 'Twice', messageId: '<same-id@example.com>' };
    const first = await expectAccepted(mail);
    const second = await expectAccepted(mail);
    expect([first.length, second.length]).toEqual([1, 1]);
    const after = await state();
    expect([after.jobs - before.jobs, after.outgoing - before.outgoing]).toEqual([2, 2]);
  });

  it('never overdraws: parallel mails against 3 credits, exactly 3 accepted and debited, the rest 5.7.1', async () => {
    const before = await state();
    const sent = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        send({ subject: subject(`MyShop:+336123402${String(i).padStart(2, '0')}::::1`, 'mailer', PASSWORD, poor.name), text: `Race ${i}` }),
      ),
    );
    const accepted = sent.filter((s) => s.ok);
    const refused = sent.filter((s): s is Extract<Sent, { ok: false }> => !s.ok);
    expect(accepted).toHaveLength(3);
    for (const r of refused) expect([r.code, r.response]).toEqual([550, expect.stringMatching(/5\.7\.1 Not enough credits/)]);
    const after = await state();
    expect(after.credits[poor.id]).toBe(0);
    expect([after.jobs - before.jobs, after.outgoing - before.outgoing]).toEqual([3, 3]);
  });

  it('limits failed logins per address (then 450 4.7.0, even for the right password), parallel guesses included', async () => {
    const ip = '127.0.0.30';
    const guesses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send({ subject: subject('MyShop:+33612340150', 'mailer', `guess-${i}`), text: 'x' }, ip)),
    );
    const codes = guesses.map((g) => (g.ok ? 250 : g.code));
    expect(codes.filter((c) => c === 550)).toHaveLength(AUTH_FAILURES_PER_MINUTE);
    expect(codes.filter((c) => c === 450)).toHaveLength(20 - AUTH_FAILURES_PER_MINUTE);
    const before = await state();
    const right = await send({ subject: subject('MyShop:+33612340150::::1'), text: 'found it' }, ip);
    expect(right.ok ? 250 : right.code, right.response).toBe(450);
    expect(right.response).toMatch(/4\.7\.0 Too many failed logins/);
    expect(await state()).toEqual(before);
    // Another address is not held back.
    expect(await send({ subject: subject('MyShop:+33612340151::::1'), text: 'other ip' }, '127.0.0.31')).toMatchObject({ ok: true });
  });

  it('refuses an IP-restricted SMS user mailing from elsewhere (right or wrong password), accepts it from its address', async () => {
    const before = await state();
    for (const password of [PASSWORD, 'wrong']) {
      const s = await send({ subject: subject('MyShop:+33612340160::::1', 'fenced', password), text: 'x' }, '127.0.0.40');
      expect([s.ok ? 250 : s.code, s.response]).toEqual([550, expect.stringMatching(/5\.7\.1 IP address 127\.0\.0\.40 is not allowed/)]);
    }
    expect(await state()).toEqual(before);
    expect(await expectAccepted({ subject: subject('MyShop:+33612340161::::1', 'fenced'), text: 'from home' }, '127.0.0.2')).toHaveLength(
      1,
    );
  });
});

/**
 * The parsing of a refused mail runs before any service is used, on the event loop every channel of
 * the process shares (HTTP, SMPP, dispatching). A mail within the size limit must be answered
 * promptly: these mails are each refused in milliseconds by a linear parser, and take tens of
 * seconds (growing with the square of their size, up to hours at the 10 MiB default) through a
 * regular expression that backtracks.
 */
describe('mail2sms parsing cost', () => {
  let smtp: Mail2SmsServer;
  const services = {} as Parameters<typeof startMail2Sms>[0]['services'];

  beforeAll(async () => {
    smtp = await startMail2Sms({ services, config: CONFIG, log: silentLog, port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await smtp?.close();
  });

  it('answers a body line of spaces between two letters promptly (Text too long)', { timeout: 4_000 }, async () => {
    const sent = await mailVia(smtp.port, { subject: 'acc:login:pw:MyShop:+33612345678', text: `a${' '.repeat(100_000)}b` });
    expect([sent.ok ? 250 : sent.code, sent.response]).toEqual([550, expect.stringMatching(/Text too long/)]);
  });

  it('answers an HTML body of unclosed tags promptly', { timeout: 4_000 }, async () => {
    const sent = await mailVia(smtp.port, { subject: 'acc:login:pw:MyShop:+33612345678', html: '<a'.repeat(100_000) });
    expect([sent.ok ? 250 : sent.code, sent.response]).toEqual([550, expect.stringMatching(/Empty text/)]);
  });

  it('answers a named subject followed by a long run of separators promptly', { timeout: 4_000 }, async () => {
    const sent = await mailVia(smtp.port, { subject: `Account=acc;Login=x${'; '.repeat(35_000)}x`, text: 'x' });
    expect([sent.ok ? 250 : sent.code, sent.response]).toEqual([550, expect.stringMatching(/5\.6\.0 /)]);
  });
});
