import { randomInt } from 'node:crypto';
import { beforeAll, expect, it } from 'vitest';
import { type AppTestContext, describeEachDialectWithApp } from '../../../../test/app.js';
import {
  bearer,
  createAccount,
  createSender,
  createSmsUser,
  createToken,
  type SeededAccount,
  seedCustomerWithAccount,
  TEST_PASSWORD,
} from '../../../../test/factories.js';
import type { Account } from '../accounts/accounts.repository.js';
import { HTML_HEAD, HTML_TAIL } from './http2sms-response.js';

const PATH = '/cgi-bin/sms/http2sms.cgi';
const NO_LIMITS = { perIp: 1_000_000, perUser: 1_000_000, authFailuresPerMinute: 1_000_000, windowMs: 1000 };

type Params = Record<string, string | undefined>;

/** A random documentation address (TEST-NET-3), so that per-address limits never meet across tests. */
const randomIp = () => `203.0.113.${randomInt(1, 255)}`;

function query(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v);
  return q.toString();
}

interface Row {
  id: number;
  sender: string;
  receiver: string;
  message: string;
  user: string | null;
  channel: string;
  tag: string;
  encoding: string;
  status: string;
  deferredUntil: string | null;
}

/** Helpers over one account: send through http2sms, read the history and the credits back. */
function harness(ctx: AppTestContext, seeded: () => { account: Account; auth: { authorization: string } }) {
  const api = (url: string) =>
    ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${seeded().account.name}${url}`, headers: seeded().auth });
  return {
    get: (params: Params, remoteAddress = randomIp()) => ctx.app.inject({ method: 'GET', url: `${PATH}?${query(params)}`, remoteAddress }),
    getRaw: (rawQuery: string, remoteAddress = randomIp()) => ctx.app.inject({ method: 'GET', url: `${PATH}?${rawQuery}`, remoteAddress }),
    post: (body: string, contentType = 'application/x-www-form-urlencoded', remoteAddress = randomIp(), rawQuery = '') =>
      ctx.app.inject({
        method: 'POST',
        url: `${PATH}${rawQuery ? `?${rawQuery}` : ''}`,
        headers: { 'content-type': contentType },
        payload: body,
        remoteAddress,
      }),
    credits: async () => (await api('')).json().credits as number,
    rows: async (qs = '') => (await api(`/outgoing?limit=1000${qs}`)).json() as { data: Row[]; total: number },
    row: async (id: number) => (await api(`/outgoing/${id}`)).json() as Row,
    /** Rows, credits and queue entries of the account: what a refusal must leave unchanged. */
    state: async () => ({
      credits: (await api('')).json().credits as number,
      rows: ((await api('/outgoing?limit=1')).json() as { total: number }).total,
      queued: Number(
        (
          await ctx.database.db
            .selectFrom('dispatch_queue')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('account_id', '=', seeded().account.id)
            .executeTakeFirstOrThrow()
        ).n,
      ),
    }),
  };
}

describeEachDialectWithApp(
  'http2sms',
  (ctx) => {
    let seeded: SeededAccount;
    let login: string;
    const h = harness(ctx, () => seeded);
    const base = (extra: Params = {}): Params => ({
      account: seeded.account.name,
      login,
      password: TEST_PASSWORD,
      from: 'MyShop',
      to: '+33612345678',
      message: 'Hello',
      ...extra,
    });
    /** `extra` with an `undefined` value removes that parameter. */
    const json = async (extra: Params = {}) => {
      const res = await h.get(base({ contentType: 'application/json', ...extra }));
      return { http: res.statusCode, ...(res.json() as { status: number; message?: string; creditLeft?: string; smsIds?: string[] }) };
    };

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 1000 } });
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
      await createSender(ctx.app, seeded.account, { sender: 'Off', status: 'disable' });
      login = (await createSmsUser(ctx.app, seeded.account, { login: 'h2suser' })).login;
    });

    it('accepts a GET: text/plain by default, byte for byte, recorded as http2sms by the SMS user and debited', async () => {
      const before = await h.credits();
      const res = await h.get(base());
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      const [, , id] = res.body.split('\n');
      expect(res.body).toBe(`OK\n${before - 1}\n${id}`);
      expect(await h.credits()).toBe(before - 1);
      const row = await h.row(Number(id));
      expect(row).toMatchObject({
        channel: 'http2sms',
        user: 'h2suser',
        sender: 'MyShop',
        receiver: '+33612345678',
        message: 'Hello\nSTOP au 36180',
        status: 'pending',
        deferredUntil: null,
      });
      const filtered = await h.rows('&user=h2suser&channel=http2sms');
      expect(filtered.data.map((r) => r.id)).toContain(Number(id));
      expect((await h.rows('&channel=api')).data.map((r) => r.id)).not.toContain(Number(id));
      expect((await h.rows('&user=someone-else')).data.map((r) => r.id)).not.toContain(Number(id));
    });

    it('sends to several receivers (0033… and +33…): one id a line, one row each', async () => {
      const before = await h.credits();
      const res = await h.get(base({ to: '0033612340001,+33612340002', noStop: '1' }));
      const lines = res.body.split('\n');
      expect(lines.slice(0, 2)).toEqual(['OK', String(before - 2)]);
      expect(lines).toHaveLength(4);
      const rows = await Promise.all(lines.slice(2).map((id) => h.row(Number(id))));
      expect(rows.map((r) => r.receiver)).toEqual(['+33612340001', '+33612340002']);
    });

    it('answers OK in every format byte for byte', async () => {
      const expected = (format: string, credits: string, id: string) => {
        switch (format) {
          case 'text/html':
            return `${HTML_HEAD}OK<br>${credits}<br>${id}<br>${HTML_TAIL}`;
          case 'text/xml':
          case 'application/xml':
            return `<?xml version="1.0" encoding="UTF-8" ?><response><status>100</status><creditLeft>${credits}</creditLeft><smsIds><smsId>${id}</smsId></smsIds></response>`;
          default:
            return `{"status":100,"creditLeft":"${credits}","smsIds":["${id}"],"SmsIds":["${id}"]}`;
        }
      };
      for (const format of ['text/html', 'text/xml', 'application/xml', 'text/json', 'application/json']) {
        const res = await h.get(base({ contentType: format }));
        const credits = String(await h.credits());
        const id = String((await h.rows()).data[0].id);
        expect([format, res.statusCode, res.headers['content-type'], res.body]).toEqual([
          format,
          200,
          `${format}; charset=utf-8`,
          expected(format, credits, id),
        ]);
      }
      expect(HTML_HEAD).toContain('<title>HTTP2SMS</title>');
    });

    it('answers KO in every format byte for byte', async () => {
      const params = base({ login: undefined });
      const bodies: Record<string, string> = {
        '': 'KO\nMissing login',
        'text/plain': 'KO\nMissing login',
        'text/html': `${HTML_HEAD}KO<br>Missing login<br>${HTML_TAIL}`,
        'text/xml': '<?xml version="1.0" encoding="UTF-8" ?><response><status>201</status><message>Missing login</message></response>',
        'application/xml':
          '<?xml version="1.0" encoding="UTF-8" ?><response><status>201</status><message>Missing login</message></response>',
        'text/json': '{"status":201,"message":"Missing login"}',
        'application/json': '{"status":201,"message":"Missing login"}',
      };
      for (const [format, body] of Object.entries(bodies)) {
        const res = await h.get({ ...params, contentType: format || undefined });
        expect([format, res.statusCode, res.body]).toEqual([format, 200, body]);
      }
      const unknown = await h.get(base({ contentType: 'text/csv' }));
      expect([unknown.statusCode, unknown.headers['content-type'], unknown.body]).toEqual([
        200,
        'text/plain; charset=utf-8',
        'KO\nInvalid contentType: expected text/plain, text/html, text/xml, application/xml, text/json or application/json',
      ]);
    });

    it('answers every refusal with its OVH status, recording and debiting nothing', async () => {
      const before = await h.state();
      const cases: [Params, number, string | RegExp][] = [
        [{ account: undefined }, 201, 'Missing account'],
        [{ login: '' }, 201, 'Missing login'],
        [{ password: undefined }, 201, 'Missing password'],
        [{ from: undefined }, 201, 'Missing from'],
        [{ to: undefined }, 201, 'Missing to'],
        [{ to: ' , ' }, 201, 'Missing to'],
        [{ message: undefined }, 201, 'Missing message'],
        [{ message: '' }, 202, 'Invalid message: is empty'],
        [{ message: ' \r\n ' }, 202, 'Invalid message: is empty'],
        [{ message: 'x'.repeat(5001) }, 202, 'Invalid message: is too long (at most 5000 characters)'],
        [{ to: 'abc' }, 202, 'Invalid to: "abc" is not a valid phone number'],
        [{ to: '+3361234' }, 202, 'Invalid to: "+3361234" is not a valid phone number'],
        [{ to: '+33612345678,nope' }, 202, 'Invalid to: "nope" is not a valid phone number'],
        [{ tag: 'x'.repeat(21) }, 202, 'Invalid tag: is too long (at most 20 characters)'],
        [{ deferred: '1830190720' }, 202, /^Invalid deferred: "1830190720", expected hhmmddMMYYYY/],
        [{ deferred: '256019072030' }, 202, /^Invalid deferred/],
        [{ deferred: '120031022030' }, 202, /^Invalid deferred/],
        [{ deferred: '120001019999' }, 202, 'Invalid deferred: more than a year ahead'],
        [{ class: '4' }, 202, /^Invalid class: "4", expected 0 \(flash\)/],
        [{ smsCoding: '3' }, 202, /^Invalid smsCoding: "3"/],
        [{ class: 'toString' }, 202, /^Invalid class: "toString"/],
        [{ noStop: 'yes' }, 202, 'Invalid noStop: "yes", expected 1 or 0'],
        [{ senderForResponse: '2' }, 202, 'Invalid senderForResponse: "2", expected 1 or 0'],
        [{ charset: 'klingon' }, 202, /^Invalid charset: "klingon"/],
        [{ message: 'nul\u0000byte' }, 202, 'Invalid message: contains a NUL character (%00)'],
        [{ from: 'My\u0000Shop' }, 202, 'Invalid from: contains a NUL character (%00)'],
        [{ from: 'Unknown' }, 241, `Sender not found: "Unknown" is not an enabled sender of ${seeded.account.name}`],
        [{ from: 'Off' }, 241, /^Sender not found: "Off"/],
        [{ password: 'wrong password' }, 401, 'Wrong account, login or password'],
        [{ login: 'nobody' }, 401, 'Wrong account, login or password'],
        [{ account: 'sms-zz99999-9' }, 401, 'Wrong account, login or password'],
        [
          { to: Array.from({ length: 1001 }, (_, i) => `+336129${String(i).padStart(5, '0')}`).join(',') },
          402,
          'Not enough credits: this job needs 1001',
        ],
      ];
      for (const [extra, status, message] of cases) {
        const res = await json(extra);
        const label = JSON.stringify(extra).slice(0, 50);
        expect([label, res.http, res.status]).toEqual([label, 200, status]);
        if (typeof message === 'string') expect(res.message).toBe(message);
        else expect(res.message).toMatch(message);
      }
      expect(await h.state()).toEqual(before);
    });

    it('answers wrong credentials with one generic text/plain message', async () => {
      const bodies = await Promise.all(
        [{ password: 'nope' }, { login: 'ghost' }, { account: 'sms-qq00000-1' }].map(async (extra) => (await h.get(base(extra))).body),
      );
      expect(new Set(bodies)).toEqual(new Set(['KO\nWrong account, login or password']));
    });

    it('refuses a job over the SMS user quota with 402', async () => {
      const quoted = await createSmsUser(ctx.app, seeded.account, { login: 'quoted', quota: 1 });
      const before = await h.state();
      const res = await json({ login: quoted.login, to: '+33612340011,+33612340012' });
      expect([res.status, res.message]).toEqual([402, "The SMS user's quota is too small for 2 credits"]);
      expect(await h.state()).toEqual(before);
      expect((await json({ login: quoted.login, to: '+33612340011' })).status).toBe(100);
    });

    it('accepts a POST form, the query string and the body together', async () => {
      const body = query({ login, password: TEST_PASSWORD, from: 'MyShop', to: '+33612340003', message: 'posted', noStop: '1' });
      const res = await h.post(
        body,
        'application/x-www-form-urlencoded',
        randomIp(),
        `account=${seeded.account.name}&contentType=text/json`,
      );
      expect(res.statusCode).toBe(200);
      const { status, smsIds } = res.json();
      expect(status).toBe(100);
      expect(await h.row(Number(smsIds[0]))).toMatchObject({
        message: 'posted',
        receiver: '+33612340003',
        channel: 'http2sms',
        user: 'h2suser',
      });
    });

    it('answers KO to a POST of another content type or a body too large', async () => {
      const res = await h.post('{"message":"hi"}', 'application/json');
      expect([res.statusCode, res.body]).toEqual([
        415,
        'KO\nUnsupported Content-Type: send the parameters in the query string or as application/x-www-form-urlencoded',
      ]);
      const head = await ctx.app.inject({ method: 'HEAD', url: `${PATH}?${query(base())}` });
      expect(head.statusCode).toBe(404);
    });

    it('turns %0d (and CRLF, CR) into line breaks', async () => {
      const q = query(base({ message: undefined, noStop: '1' }));
      for (const [raw, text] of [
        ['Line1%0dLine2', 'Line1\nLine2'],
        ['a%0d%0ab%0ac%0dd', 'a\nb\nc\nd'],
      ]) {
        const res = await h.getRaw(`${q}&message=${raw}`);
        expect(res.body.startsWith('OK\n')).toBe(true);
        expect((await h.row(Number(res.body.split('\n')[2]))).message).toBe(text);
      }
    });

    it('reads ISO-8859-1 when the query or the Content-Type says so, UTF-8 otherwise', async () => {
      const q = query(base({ message: undefined, noStop: '1' }));
      const id = (body: string) => Number(body.split('\n')[2]);
      const latinQuery = await h.getRaw(`${q}&message=caf%E9&charset=ISO-8859-1`);
      expect((await h.row(id(latinQuery.body))).message).toBe('café');
      const utf8 = await h.getRaw(`${q}&message=caf%C3%A9+%E2%82%AC`);
      expect((await h.row(id(utf8.body))).message).toBe('café €');
      const latinPost = await h.post(`${q}&message=caf%E9+cr%E8me`, 'application/x-www-form-urlencoded; charset=ISO-8859-1');
      expect((await h.row(id(latinPost.body))).message).toBe('café crème');
    });

    it('schedules `deferred` in the account timezone; a past time sends at once', async () => {
      // The next 19 July: less than a year ahead.
      const thisYear = new Date().getUTCFullYear();
      const year = Date.UTC(thisYear, 6, 19, 12) > Date.now() + 86_400_000 ? thisYear : thisYear + 1;
      const ny = await createAccount(ctx.app, { owner: seeded.customer, timezone: 'America/New_York', credits: 10 });
      await createSender(ctx.app, ny, { sender: 'MyShop' });
      const nyUser = await createSmsUser(ctx.app, ny, { login: 'nyuser' });
      const nyToken = bearer(await createToken(ctx.app, ny));
      const nyRow = async (id: string) =>
        (await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${ny.name}/outgoing/${id}`, headers: nyToken })).json() as Row;

      const inNewYork = await h.get(base({ account: ny.name, login: nyUser.login, deferred: `18301907${year}` }));
      expect(Date.parse((await nyRow(inNewYork.body.split('\n')[2])).deferredUntil!)).toBe(Date.UTC(year, 6, 19, 22, 30)); // EDT, UTC-4
      const inParis = await h.get(base({ deferred: `18301907${year}` }));
      const parisRow = await h.row(Number(inParis.body.split('\n')[2]));
      expect(Date.parse(parisRow.deferredUntil!)).toBe(Date.UTC(year, 6, 19, 16, 30)); // CEST, UTC+2
      expect(parisRow.status).toBe('pending');
      const past = await h.get(base({ deferred: '120001012020' }));
      expect((await h.row(Number(past.body.split('\n')[2]))).deferredUntil).toBeNull();
    });

    it('applies noStop, smsCoding, class, tag and senderForResponse', async () => {
      const send = async (extra: Params) => {
        const res = await h.get(base(extra));
        expect(res.body).toMatch(/^OK\n/);
        return Number(res.body.split('\n')[2]);
      };
      expect((await h.row(await send({ noStop: '1' }))).message).toBe('Hello');
      expect((await h.row(await send({ noStop: '0' }))).message).toBe('Hello\nSTOP au 36180');
      expect((await h.row(await send({ smsCoding: '2', noStop: '1' }))).encoding).toBe('ucs2');
      expect((await h.row(await send({ smsCoding: '1', noStop: '1' }))).encoding).toBe('gsm7');
      expect(await h.row(await send({ tag: 'summer-campaign', noStop: '1' }))).toMatchObject({ tag: 'summer-campaign' });
      expect(await h.row(await send({ senderForResponse: '1', from: undefined }))).toMatchObject({ sender: '' });
      expect(await h.row(await send({ senderForResponse: '1', from: '' }))).toMatchObject({ sender: '' });
      // A flag is read as the other parameters are: spaces or a line break around it are not its value.
      expect((await h.row(await send({ noStop: ' 1\n' }))).message).toBe('Hello');
      expect(await h.row(await send({ senderForResponse: '1 ', from: undefined }))).toMatchObject({ sender: '' });
      const flash = await send({ class: '0' });
      const job = await ctx.database.db
        .selectFrom('outgoing')
        .innerJoin('jobs', 'jobs.id', 'outgoing.job_id')
        .select(['jobs.options', 'jobs.channel'])
        .where('outgoing.id', '=', flash)
        .executeTakeFirstOrThrow();
      expect(job.channel).toBe('http2sms');
      expect(JSON.parse(job.options)).toMatchObject({ class: 0, noStopClause: false, senderForResponse: false });
      const coded = await send({ class: '2', smsCoding: '2' });
      const codedJob = await ctx.database.db
        .selectFrom('outgoing')
        .innerJoin('jobs', 'jobs.id', 'outgoing.job_id')
        .select('jobs.options')
        .where('outgoing.id', '=', coded)
        .executeTakeFirstOrThrow();
      expect(JSON.parse(codedJob.options)).toMatchObject({ class: 2, coding: '8bit' });
    });

    it('enforces IP restrictions: 401 outside them whatever the password, OK inside (IPv4 and mapped IPv6)', async () => {
      const restricted = await createSmsUser(ctx.app, seeded.account, {
        login: 'restricted',
        ipRestrictions: ['192.0.2.0/24', '2001:db8::/32'],
      });
      const before = await h.state();
      for (const password of [TEST_PASSWORD, 'wrong password']) {
        const res = await h.get(base({ login: restricted.login, password }), '198.51.100.7');
        expect(res.body).toBe('KO\nIP not allowed for this user (198.51.100.7)');
      }
      expect(await h.state()).toEqual(before);
      expect((await h.get(base({ login: restricted.login }), '192.0.2.10')).body).toMatch(/^OK\n/);
      expect((await h.get(base({ login: restricted.login }), '::ffff:192.0.2.11')).body).toMatch(/^OK\n/);
      expect((await h.get(base({ login: restricted.login }), '2001:db8::1')).body).toMatch(/^OK\n/);
      // Inside the range, a wrong password is the generic answer.
      expect((await h.get(base({ login: restricted.login, password: 'nope' }), '192.0.2.10')).body).toBe(
        'KO\nWrong account, login or password',
      );
    });

    it('formats fractional credits with two decimals', async () => {
      const s = await seedCustomerWithAccount(ctx.app, { account: { credits: 10.5 } });
      await createSender(ctx.app, s.account, { sender: 'MyShop' });
      const u = await createSmsUser(ctx.app, s.account, { login: 'fraction' });
      const res = await h.get(base({ account: s.account.name, login: u.login }));
      expect(res.body.split('\n')[1]).toBe('9.50');
    });
  },
  { config: { http2smsRateLimit: NO_LIMITS } },
);

describeEachDialectWithApp(
  'http2sms rate limits',
  (ctx) => {
    let seeded: SeededAccount;
    const h = harness(ctx, () => seeded);
    const params = (login: string, extra: Params = {}): Params => ({
      account: seeded.account.name,
      login,
      password: TEST_PASSWORD,
      from: 'MyShop',
      to: '+33612345678',
      message: 'Hi',
      contentType: 'text/json',
      ...extra,
    });

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 1000 } });
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
      await createSmsUser(ctx.app, seeded.account, { login: 'busy' });
      await createSmsUser(ctx.app, seeded.account, { login: 'calm' });
    });

    it('limits one address: HTTP 429 with Retry-After and a KO body, nothing recorded', async () => {
      const before = await h.state();
      const ip = '198.51.100.20';
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await h.get(params('calm', { login: undefined }), ip)); // refused early: 201, but counted
      expect(answers.slice(0, 5).map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
      const limited = answers[5];
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.json()).toEqual({
        status: 429,
        message: expect.stringMatching(/^Too many requests from this IP address \(at most 5 in 60 s\); try again in \d+ s$/),
      });
      const plain = await h.get({ ...params('calm'), contentType: undefined }, ip);
      expect([plain.statusCode, plain.body.split('\n')[0]]).toEqual([429, 'KO']);
      expect(await h.state()).toEqual(before);
    });

    it('limits one SMS user across addresses, only once authenticated; other users go on', async () => {
      const sent = [];
      for (let i = 0; i < 4; i++) sent.push(await h.get(params('busy'), `198.51.100.${30 + i}`));
      expect(sent.slice(0, 3).map((r) => r.json().status)).toEqual([100, 100, 100]);
      expect(sent[3].statusCode).toBe(429);
      expect(sent[3].json().message).toMatch(/^Too many requests for this SMS user \(at most 3 in 60 s\)/);
      // Another user is not affected.
      expect((await h.get(params('calm'), '198.51.100.40')).json().status).toBe(100);
      const before = await h.state();
      expect((await h.get(params('busy'), '198.51.100.41')).statusCode).toBe(429);
      expect(await h.state()).toEqual(before);
    });

    it('slows down password guessing from one address', async () => {
      const ip = '198.51.100.50';
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await h.get(params('calm', { password: `guess-${i}` }), ip)).json().status);
      expect(statuses).toEqual([401, 401, 429, 429]);
      // Even the right password waits from that address; another address is fine.
      expect((await h.get(params('calm'), ip)).json().status).toBe(429);
    });
  },
  { config: { http2smsRateLimit: { perIp: 5, perUser: 3, authFailuresPerMinute: 2, windowMs: 60_000 } } },
);
