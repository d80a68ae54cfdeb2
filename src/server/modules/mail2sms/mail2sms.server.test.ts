import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createAccount, createSender, createSmsUser } from '../../../../test/factories.js';
import { ledger } from '../../../../test/ledger.js';
import { type MailOptions, mailVia as sendVia } from '../../../../test/smtp-client.js';
import { zonedTimeToUtc } from '../../../shared/time-zone.js';
import type { Account } from '../accounts/accounts.repository.js';
import type { SendingService } from '../sending/sending.service.js';
import { type Mail2SmsServer, startMail2Sms } from './mail2sms.server.js';

const PASSWORD = 'mail-pass-2024';
/** A password only a non-ASCII subject can carry (RFC 2047 encoded-words). */
const ACCENTED_PASSWORD = 'mot-de-passé-ü';
const MAX_SIZE = 200_000;
const silentLog = { debug() {}, info() {}, warn() {}, error() {} };
const CONFIG = { smtpMaxSize: MAX_SIZE, tlsCertFile: null, tlsKeyFile: null };

/** `hhmmddMMYYYY` of `ms` in `timeZone`, and the instant it names (seconds dropped). */
function deferredOf(ms: number, timeZone: string): { value: string; at: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    })
      .formatToParts(ms)
      .map((p) => [p.type, p.value]),
  );
  const n = (k: string) => Number(parts[k]);
  return {
    value: `${parts.hour}${parts.minute}${parts.day}${parts.month}${parts.year}`,
    at: zonedTimeToUtc({ year: n('year'), month: n('month'), day: n('day'), hour: n('hour'), minute: n('minute'), second: 0 }, timeZone),
  };
}

describeEachDialectWithApp('mail2sms over SMTP', (ctx) => {
  let smtp: Mail2SmsServer;
  let account: Account;
  let poor: Account;
  let userId: number;
  const send = (mail: MailOptions, transportOptions?: object) => sendVia(smtp.port, mail, transportOptions);
  const subject = (rest: string, login = 'mailer', password = PASSWORD, name = account.name) => `${name}:${login}:${password}:${rest}`;

  const rows = (jobId: number) =>
    ctx.database.db
      .selectFrom('outgoing')
      .select(['receiver', 'sender', 'message', 'channel', 'user_login', 'user_id', 'deferred_until', 'status', 'encoding'])
      .where('job_id', '=', jobId)
      .orderBy('id')
      .execute();
  const state = () => ledger(ctx.database);
  /** Sends `mail`, expects the SMTP reply `code` with `reason` in its text, and nothing written or debited. */
  async function expectRefused(mail: MailOptions, code: number, ...reasons: (string | RegExp)[]) {
    const before = await state();
    const sent = await send(mail);
    expect(sent.ok, sent.response).toBe(false);
    if (sent.ok) return;
    expect(sent.code, sent.response).toBe(code);
    for (const reason of reasons) expect(sent.response).toMatch(reason);
    expect(await state()).toEqual(before);
  }
  async function expectAccepted(mail: MailOptions, transportOptions?: object) {
    const sent = await send(mail, transportOptions);
    if (!sent.ok) throw new Error(`refused: ${sent.code} ${sent.response}`);
    expect(sent.response).toMatch(/^250 2\.0\.0 Accepted: \d+ SMS/);
    return rows(sent.jobId);
  }

  beforeAll(async () => {
    account = await createAccount(ctx.app, { credits: 1000, timezone: 'Europe/Paris' });
    await createSender(ctx.app, account, { sender: 'MyShop' });
    await createSender(ctx.app, account, { sender: 'Off', status: 'disable' });
    userId = (await createSmsUser(ctx.app, account, { login: 'mailer', password: PASSWORD })).id;
    await createSmsUser(ctx.app, account, { login: 'latin', password: ACCENTED_PASSWORD });
    await createSmsUser(ctx.app, account, { login: 'fenced', password: PASSWORD, ipRestrictions: ['192.0.2.0/24'] });
    await createSmsUser(ctx.app, account, { login: 'capped', password: PASSWORD, quota: 0 });
    poor = await createAccount(ctx.app, { credits: 0 });
    await createSender(ctx.app, poor, { sender: 'MyShop' });
    await createSmsUser(ctx.app, poor, { login: 'mailer', password: PASSWORD });
    smtp = await startMail2Sms({ services: ctx.app.services, config: CONFIG, log: silentLog, port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await smtp?.close();
  });

  it('accepts a plain text mail: one pending mail2sms message of the SMS user, 250 only once stored', async () => {
    const before = await state();
    const [row] = await expectAccepted({ subject: subject('MyShop:+33612345678'), text: 'Hello from mail2sms\n' });
    expect(row).toMatchObject({
      receiver: '+33612345678',
      sender: 'MyShop',
      message: 'Hello from mail2sms\nSTOP au 36180',
      channel: 'mail2sms',
      user_login: 'mailer',
      status: 'pending',
      deferred_until: null,
    });
    expect(Number(row.user_id)).toBe(userId);
    const after = await state();
    expect([after.outgoing - before.outgoing, after.queued - before.queued, after.jobs - before.jobs]).toEqual([1, 1, 1]);
    expect(after.credits[account.id]).toBe(before.credits[account.id] - 1);
  });

  it('reads the positional form with ; and its optional fields (class, smsCoding, NoStop)', async () => {
    const rowsOf = await expectAccepted({ subject: `${account.name};mailer;${PASSWORD};MyShop;0612345601;;1;2;1`, text: 'Unicode forced' });
    expect(rowsOf).toMatchObject([{ receiver: '+33612345601', message: 'Unicode forced', encoding: 'ucs2' }]);
  });

  it('reads the named form in any order, keys in any case, and From=senderForResponse=1', async () => {
    const named = await expectAccepted({
      subject: `noStop=1;TO=+33612345602;password=${PASSWORD};From=MyShop;LOGIN=mailer;Account=${account.name}`,
      text: 'Named form',
    });
    expect(named).toMatchObject([{ receiver: '+33612345602', sender: 'MyShop', message: 'Named form' }]);
    const reply = await expectAccepted({ subject: subject('senderForResponse=1:+33612345603::::1'), text: 'Reply to me' });
    expect(reply).toMatchObject([{ receiver: '+33612345603', sender: '', message: 'Reply to me' }]);
  });

  it('sends to several receivers, from the subject and from an attached contact file', async () => {
    const many = await expectAccepted({ subject: subject('MyShop:+33612345604,0612345605 , 0033612345606::::1'), text: 'To three' });
    expect(many.map((r) => r.receiver)).toEqual(['+33612345604', '+33612345605', '+33612345606']);
    const contacts = await expectAccepted({
      subject: subject('MyShop:+33612345607::::1'),
      text: 'With contacts',
      attachments: [
        { filename: 'contact.txt', content: '+33612345608\r\n0612345609\r\n\r\n+33612345607\r\n', contentType: 'text/plain' },
        { filename: 'logo.png', content: Buffer.from([0x89, 0x50, 0x4e, 0x47]), contentType: 'image/png' },
      ],
    });
    expect(contacts.map((r) => r.receiver)).toEqual(['+33612345607', '+33612345608', '+33612345609']);
    const only = await expectAccepted({
      subject: `Account=${account.name};Login=mailer;Password=${PASSWORD};From=MyShop;NoStop=1`,
      text: 'Contacts only',
      attachments: [{ filename: 'Contacts.txt', content: '0612345610\n0612345611\n' }],
    });
    expect(only.map((r) => r.receiver)).toEqual(['+33612345610', '+33612345611']);
  });

  it('reduces an HTML-only mail to its text, cut at the first blank line', async () => {
    const html = await expectAccepted({
      subject: subject('MyShop:+33612345612::::1'),
      html: '<html><head><style>p{color:red}</style></head><body><p>Soldes&nbsp;: <b>-50%</b></p><p>ce week-end</p><p>&nbsp;</p><p>Jane, ACME</p></body></html>',
    });
    expect(html).toMatchObject([{ message: 'Soldes\u00a0: -50%\nce week-end' }]);
  });

  it('decodes quoted-printable and base64 bodies and UTF-8 subjects (RFC 2047)', async () => {
    const qp = await expectAccepted({
      subject: subject('MyShop:+33612345613::::1', 'latin', ACCENTED_PASSWORD),
      text: `Crème brûlée à 5 € — ${'long line '.repeat(12)}`,
      encoding: 'quoted-printable',
    });
    expect(qp[0].message).toBe(`Crème brûlée à 5 € — ${'long line '.repeat(12)}`.trimEnd());
    const b64 = await expectAccepted({
      subject: subject('MyShop:+33612345614::::1', 'latin', ACCENTED_PASSWORD),
      text: 'Ünïcödé 🎉 en base64',
      encoding: 'base64',
      textEncoding: 'B',
    });
    expect(b64).toMatchObject([{ message: 'Ünïcödé 🎉 en base64', encoding: 'ucs2' }]);
  });

  it('decodes an ISO-8859-1 subject and body', async () => {
    const raw = [
      'From: app@example.com',
      'To: email2sms@relais.test',
      `Subject: =?ISO-8859-1?Q?${account.name}:latin:mot-de-pass=E9-=FC:MyShop:+33612345615::::1?=`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=ISO-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Caf=E9 cr=E8me =E0 2 euros',
      '',
      'Signature',
      '',
    ].join('\r\n');
    const latin = await expectAccepted({ envelope: { from: 'app@example.com', to: ['email2sms@relais.test'] }, raw });
    expect(latin).toMatchObject([{ message: 'Café crème à 2 euros', receiver: '+33612345615' }]);
  });

  it('ignores everything after a blank line, a --end line or a signature', async () => {
    const blank = await expectAccepted({
      subject: subject('MyShop:+33612345616::::1'),
      text: 'Line one\nLine two\n\n> On Monday, Jane wrote:\n> quoted',
    });
    expect(blank[0].message).toBe('Line one\nLine two');
    const end = await expectAccepted({ subject: subject('MyShop:+33612345617::::1'), text: 'Only this\n--end\nnot this' });
    expect(end[0].message).toBe('Only this');
    const sig = await expectAccepted({ subject: subject('MyShop:+33612345618::::1'), text: 'Text\n-- \nJane Doe\nACME' });
    expect(sig[0].message).toBe('Text');
  });

  it('stores the deferred time, read in the account timezone', async () => {
    const { value, at } = deferredOf(Date.now() + 3 * 86_400_000, 'Europe/Paris');
    const deferred = await expectAccepted({ subject: subject(`MyShop:+33612345619:${value}::1:1`), text: 'Later' });
    expect(deferred).toMatchObject([{ status: 'pending' }]);
    expect(Number(deferred[0].deferred_until)).toBe(at);
  });

  it('refuses bad credentials with one message, whichever was wrong (550 5.7.8)', async () => {
    const text = 'Hi';
    await expectRefused(
      { subject: subject('MyShop:+33612345678', 'mailer', 'wrong-password'), text },
      550,
      '5.7.8',
      'Wrong account, login or password',
    );
    await expectRefused({ subject: subject('MyShop:+33612345678', 'nobody'), text }, 550, '5.7.8', 'Wrong account, login or password');
    await expectRefused(
      { subject: subject('MyShop:+33612345678', 'mailer', PASSWORD, 'sms-zz99999-9'), text },
      550,
      '5.7.8',
      'Wrong account, login or password',
    );
  });

  it('refuses an unknown or disabled sender, and a client outside the user’s addresses (550 5.7.1)', async () => {
    await expectRefused({ subject: subject('Nobody:+33612345678'), text: 'Hi' }, 550, '5.7.1', /Unknown sender: "Nobody"/);
    await expectRefused({ subject: subject('Off:+33612345678'), text: 'Hi' }, 550, '5.7.1', /Unknown sender: "Off"/);
    await expectRefused(
      { subject: subject('MyShop:+33612345678', 'fenced'), text: 'Hi' },
      550,
      '5.7.1',
      'IP address 127.0.0.1 is not allowed',
    );
    await expectRefused({ subject: subject('MyShop:+33612345678', 'fenced', 'wrong-password'), text: 'Hi' }, 550, '5.7.1', 'not allowed');
  });

  it('refuses a mail that would overdraw the account or the user’s quota (550 5.7.1)', async () => {
    await expectRefused(
      { subject: subject('MyShop:+33612345678', 'mailer', PASSWORD, poor.name), text: 'Hi' },
      550,
      '5.7.1',
      'Not enough credits',
    );
    await expectRefused({ subject: subject('MyShop:+33612345678', 'capped'), text: 'Hi' }, 550, '5.7.1', 'quota is too small');
  });

  it('refuses invalid receivers whole, even one among good ones (550 5.6.0)', async () => {
    await expectRefused({ subject: subject('MyShop:12'), text: 'Hi' }, 550, '5.6.0', /Invalid receiver: "12"/);
    await expectRefused({ subject: subject('MyShop:+33612345678,+3361234'), text: 'Hi' }, 550, /Invalid receiver: "\+3361234"/);
    await expectRefused(
      {
        subject: subject('MyShop:+33612345678'),
        text: 'Hi',
        attachments: [{ filename: 'contact.txt', content: '0612345678\nnot-a-number\n' }],
      },
      550,
      /Invalid receiver: "not-a-number"/,
    );
    await expectRefused({ subject: subject('MyShop'), text: 'Hi' }, 550, '5.6.0', 'No receiver');
  });

  it('refuses malformed subjects and bad fields, saying why (550 5.6.0)', async () => {
    await expectRefused({ subject: 'Hello there', text: 'Hi' }, 550, '5.6.0', 'Malformed subject');
    await expectRefused({ text: 'Hi' }, 550, '5.6.0', 'Malformed subject');
    await expectRefused(
      { subject: `Account=${account.name};Login=mailer;From=MyShop;To=+33612345678`, text: 'Hi' },
      550,
      '5.6.0',
      'Missing Password',
    );
    await expectRefused({ subject: subject('MyShop:+33612345678:2512'), text: 'Hi' }, 550, '5.6.0', 'Invalid Deferred');
    await expectRefused({ subject: subject('MyShop:+33612345678::7'), text: 'Hi' }, 550, '5.6.0', 'Invalid Class');
    const { value } = deferredOf(Date.now() + 400 * 86_400_000, 'Europe/Paris');
    await expectRefused({ subject: subject(`MyShop:+33612345678:${value}`), text: 'Hi' }, 550, '5.6.0', 'more than a year ahead');
  });

  it('refuses an empty or too long text (550 5.6.0)', async () => {
    await expectRefused({ subject: subject('MyShop:+33612345678'), text: '\n \n' }, 550, '5.6.0', 'Empty text');
    await expectRefused({ subject: subject('MyShop:+33612345678'), text: '--end\nsecret' }, 550, 'Empty text');
    await expectRefused({ subject: subject('MyShop:+33612345678'), html: '<p>&nbsp;</p>' }, 550, 'Empty text');
    await expectRefused({ subject: subject('MyShop:+33612345678'), text: 'x'.repeat(6000) }, 550, '5.6.0', 'Text too long');
  });

  it('refuses other recipients at RCPT and too big mails with 552', async () => {
    await expectRefused({ to: 'someone@relais.test', subject: subject('MyShop:+33612345678'), text: 'Hi' }, 550, '5.1.1', 'email2sms@');
    await expectRefused(
      { subject: subject('MyShop:+33612345678'), text: 'Hi', attachments: [{ filename: 'big.bin', content: Buffer.alloc(MAX_SIZE + 1) }] },
      552,
      /too big|exceeds/i,
    );
  });

  it('answers 451 (retry later) when something unexpected fails, and writes nothing', async () => {
    const failing = {
      ...ctx.app.services,
      sending: {
        accept: async () => {
          throw new Error('connection terminated unexpectedly');
        },
      } as unknown as SendingService,
    };
    const broken = await startMail2Sms({ services: failing, config: CONFIG, log: silentLog, port: 0, host: '127.0.0.1' });
    try {
      const before = await state();
      const sent = await sendVia(broken.port, { subject: subject('MyShop:+33612345678'), text: 'Hi' });
      expect(sent).toMatchObject({ ok: false, code: 451 });
      expect(sent.response).toMatch(/4\.3\.0 .*retry/);
      expect(await state()).toEqual(before);
    } finally {
      await broken.close();
    }
  });

  it('keeps one address to its share of the sessions: its idle sessions do not keep others out', async () => {
    const small = await startMail2Sms({
      services: ctx.app.services,
      config: CONFIG,
      log: silentLog,
      port: 0,
      host: '127.0.0.1',
      maxClients: 8,
    });
    /** The server's first line to a new connection from `localAddress`, the socket kept open. */
    const greet = (localAddress: string) =>
      new Promise<{ line: string; socket: Socket }>((resolve, reject) => {
        const socket = connect({ port: small.port, host: '127.0.0.1', localAddress });
        socket.setEncoding('utf8').once('data', (d: string) => resolve({ line: d.split('\r\n')[0], socket }));
        socket.once('error', reject);
      });
    const open: Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const { line, socket } = await greet('127.0.0.6');
        open.push(socket);
        expect(line).toMatch(/^220 /);
      }
      const third = await greet('127.0.0.6');
      open.push(third.socket);
      expect(third.line).toMatch(/^421 4\.7\.0 Too many connections from your address/);
      const other = await greet('127.0.0.7');
      open.push(other.socket);
      expect(other.line).toMatch(/^220 /);
    } finally {
      for (const socket of open) socket.destroy();
      await small.close();
    }
  });

  it('offers STARTTLS only when a certificate is configured', async () => {
    const plain = await send({ subject: subject('MyShop:+33612345620::::1'), text: 'Hi' }, { ignoreTLS: false, requireTLS: true });
    expect(plain.ok).toBe(false);
    const dir = mkdtempSync(join(tmpdir(), 'relais-tls-'));
    try {
      const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
        ],
        {
          stdio: 'ignore',
        },
      );
      const secured = await startMail2Sms({
        services: ctx.app.services,
        config: { ...CONFIG, tlsCertFile: cert, tlsKeyFile: key },
        log: silentLog,
        port: 0,
        host: '127.0.0.1',
      });
      try {
        const sent = await sendVia(
          secured.port,
          { subject: subject('MyShop:+33612345620::::1'), text: 'Over TLS' },
          { ignoreTLS: false, requireTLS: true, tls: { rejectUnauthorized: false } },
        );
        expect(sent.ok, sent.response).toBe(true);
      } finally {
        await secured.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mail2sms server', () => {
  it('closes promptly when idle and refuses a taken port', async () => {
    const services = {} as Parameters<typeof startMail2Sms>[0]['services'];
    const first = await startMail2Sms({ services, config: CONFIG, log: silentLog, port: 0, host: '127.0.0.1' });
    await expect(startMail2Sms({ services, config: CONFIG, log: silentLog, port: first.port, host: '127.0.0.1' })).rejects.toThrow(
      /EADDRINUSE/,
    );
    const started = Date.now();
    await first.close();
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
