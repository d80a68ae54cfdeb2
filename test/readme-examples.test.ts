import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SECRET_KEY } from './app.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from './database.js';
import { runRelais, runRelaisWithInput } from './relais-cli.js';
import { freePort, type RelaisProcess, startRelaisProcess } from './relais-process.js';
import { closeClients, SmppClient } from './smpp-client.js';
import { mailVia } from './smtp-client.js';

// The README followed literally, as a newcomer would: its command-line examples run as real `relais`
// processes, then its curl/http examples (history API, sending, http2sms, mail2sms, SMPP binds, OVH's
// signed requests) as real requests against a started `relais serve`, on both dialects. Each expectation
// is what the README says the example gives.

const ACCOUNT = 'sms-ab12345-1';
const OWNER = 'you@example.com';
const OWNER_PASSWORD = 'a long password';

/** ESME_RINVPASWD: the README's answer to a wrong account, login or password at bind. */
const ESME_RINVPASWD = 0x0e;

for (const dialect of DIALECTS) {
  describe(`README examples, followed literally [${dialect}]`, () => {
    let database: TestDatabase;
    let env: Record<string, string>;
    let relais: RelaisProcess;
    let smtpPort: number;
    let smppPort: number;
    /** What the command-line walkthrough printed once: the SMS user's password, the token, the OVH keys. */
    const made = { userPassword: '', token: '', appKey: '', appSecret: '', consumerKey: '' };
    const smppClients: SmppClient[] = [];

    const cli = (...args: string[]) => runRelais(env, ...args);
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${relais.baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${made.token}`, ...init.headers } });

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      // The CLI and the server share the server secret, as the README's RELAIS_SECRET_KEY row asks.
      env = { RELAIS_DATABASE_URL: database.url, RELAIS_SECRET_KEY: TEST_SECRET_KEY, RELAIS_ARGON2_TEST_FAST: '1' };
    });
    afterAll(async () => {
      await closeClients(smppClients);
      await relais?.stop();
      await database?.close();
    });

    describe('Command line', () => {
      it('runs the examples in order, each with a one-line result and exit code 0', async () => {
        const steps: string[][] = [
          ['migrate'],
          ['customer', 'create', '--email', OWNER, '--password', OWNER_PASSWORD],
          ['account', 'create', '--name', ACCOUNT, '--owner', OWNER, '--credits', '1000', '--timezone', 'Europe/Paris'],
          ['account', 'credit', '--name', ACCOUNT, '--add', '5000', '--reason', 'December pack'],
          ['account', 'update', '--name', ACCOUNT, '--store-text', 'yes', '--retention-days', '365'],
          ['sender', 'add', '--account', ACCOUNT, '--sender', 'MyShop'],
        ];
        for (const args of steps) {
          const r = await cli(...args);
          expect([r.code, r.stderr], args.join(' ')).toEqual([0, '']);
          expect(r.stdout.trim().split('\n'), args.join(' ')).toHaveLength(1);
        }
        const history = await cli('account', 'credit-history', '--name', ACCOUNT, '--json');
        expect(
          JSON.parse(history.stdout).map((c: { delta: number; balanceAfter: number; reason: string }) => [
            c.delta,
            c.balanceAfter,
            c.reason,
          ]),
        ).toEqual([
          [5000, 6000, 'December pack'],
          [1000, 1000, 'initial credits'],
        ]);
      });

      it('refuses a --remove larger than the balance with one error line, exit 1, and changes nothing', async () => {
        const r = await cli('account', 'credit', '--name', ACCOUNT, '--remove', '999999');
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^error: .*\(INSUFFICIENT_CREDITS\)\n$/);
        const list = await cli('account', 'list', '--json');
        expect(JSON.parse(list.stdout).find((a: { name: string }) => a.name === ACCOUNT).credits).toBe(6000);
      });

      it('user create prints a generated password once; token create --json prints {"token":"rls_…","id":N}', async () => {
        const user = await cli('user', 'create', '--account', ACCOUNT, '--login', 'apiuser', '--json');
        expect(user.code).toBe(0);
        made.userPassword = JSON.parse(user.stdout).password;
        expect(made.userPassword).toMatch(/^\S{12,}$/);
        const token = await cli('token', 'create', '--account', ACCOUNT, '--json');
        expect(token.code).toBe(0);
        const body = JSON.parse(token.stdout);
        expect(Object.keys(body).sort()).toEqual(['id', 'token']);
        expect(body.token).toMatch(/^rls_/);
        made.token = body.token;
      });

      it('ovh-key create --owner prints the application key, its secret and the consumer key', async () => {
        const r = await cli('ovh-key', 'create', '--owner', OWNER, '--json');
        expect(r.code).toBe(0);
        const keys = JSON.parse(r.stdout);
        Object.assign(made, { appKey: keys.appKey, appSecret: keys.appSecret, consumerKey: keys.consumerKey });
        expect([made.appKey, made.appSecret, made.consumerKey].every((k) => typeof k === 'string' && k.length > 0)).toBe(true);
      });

      it('send takes --message-file - from standard input and reports the job', async () => {
        const r = await runRelaisWithInput(
          env,
          'Hello',
          'send',
          '--account',
          ACCOUNT,
          '--sender',
          'MyShop',
          '--to',
          '+33612345678',
          '--message-file',
          '-',
          '--json',
        );
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ validReceivers: ['+33612345678'], invalidReceivers: [], totalCreditsRemoved: 1 });
      });

      it('an unknown option is one line and a hint, exit code 2', async () => {
        const r = await cli('send', '--account', ACCOUNT, '--bogus');
        expect(r.code).toBe(2);
        expect(r.stderr).toBe("error: unknown option '--bogus'\n(add --help for usage)\n");
      });
    });

    describe('relais serve and the API examples', () => {
      beforeAll(async () => {
        smtpPort = await freePort();
        smppPort = await freePort();
        relais = await startRelaisProcess({
          databaseUrl: database.url,
          carrier: 'simulator',
          env: {
            RELAIS_SERVICES: 'http,smtp,smpp,dispatcher',
            RELAIS_SMTP_PORT: String(smtpPort),
            RELAIS_SMPP_PORT: String(smppPort),
            RELAIS_SECRET_KEY: TEST_SECRET_KEY,
          },
        });
      });

      it('GET …/outgoing answers { data, nextCursor, prevCursor, total, totalIsExact }, with no-store', async () => {
        const res = await api(`/api/v1/accounts/${ACCOUNT}/outgoing`);
        expect(res.status).toBe(200);
        expect(res.headers.get('cache-control')).toBe('no-store');
        const body = await res.json();
        expect(Object.keys(body).sort()).toEqual(['data', 'nextCursor', 'prevCursor', 'total', 'totalIsExact']);
        expect(body.data.map((m: { receiver: string }) => m.receiver)).toEqual(['+33612345678']);
        expect(await (await api(`/api/v1/accounts/${ACCOUNT}/outgoing/count`)).json()).toEqual({ total: 1 });
        expect((await api(`/api/v1/accounts/${ACCOUNT}/outgoing/users`)).status).toBe(200);
      });

      it('sign-in answers the csrfToken that cookie-authenticated writes send as X-CSRF-Token; the cookie is HttpOnly, SameSite=Lax, 30 days', async () => {
        const signIn = await fetch(`${relais.baseUrl}/api/v1/auth/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: OWNER, password: OWNER_PASSWORD }),
        });
        expect(signIn.status).toBe(200);
        const setCookie = signIn.headers.get('set-cookie') ?? '';
        expect(setCookie).toMatch(/^relais_session=[^;]+; Max-Age=2592000; Path=\/; HttpOnly; SameSite=Lax$/);
        const { csrfToken } = await signIn.json();
        const cookie = setCookie.split(';')[0];
        const patch = (headers: Record<string, string>) =>
          fetch(`${relais.baseUrl}/api/v1/accounts/${ACCOUNT}`, {
            method: 'PATCH',
            headers: { cookie, 'content-type': 'application/json', ...headers },
            body: JSON.stringify({ description: 'Shop' }),
          });
        const refused = await patch({});
        expect([refused.status, (await refused.json()).error.code]).toEqual([403, 'CSRF_FAILED']);
        const done = await patch({ 'x-csrf-token': csrfToken });
        expect([done.status, (await done.json()).description]).toEqual([200, 'Shop']);
      });

      it('POST …/jobs takes OVH job fields and answers { ids, validReceivers, invalidReceivers, totalCreditsRemoved, tag }', async () => {
        const res = await api(`/api/v1/accounts/${ACCOUNT}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            message: 'Bonjour',
            receivers: ['0033612345670', 'garbage'],
            sender: 'MyShop',
            priority: 'low',
            tag: 'readme',
          }),
        });
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({
          validReceivers: ['+33612345670'],
          invalidReceivers: ['garbage'],
          totalCreditsRemoved: 1,
          tag: 'readme',
        });
      });

      it('a value of another type is 400 VALIDATION_FAILED naming the field', async () => {
        const res = await api(`/api/v1/accounts/${ACCOUNT}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ message: 'x', receivers: '+33612345678', sender: 'MyShop' }),
        });
        const body = await res.json();
        expect([res.status, body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
        expect(body.error.message).toContain('receivers');
      });

      it('JSON that does not parse is 400 VALIDATION_FAILED', async () => {
        const res = await api(`/api/v1/accounts/${ACCOUNT}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{bad',
        });
        expect([res.status, (await res.json()).error.code]).toEqual([400, 'VALIDATION_FAILED']);
      });

      for (const contentType of ['application/x-www-form-urlencoded', 'application/xml', 'text/plain']) {
        it(`a body sent as ${contentType}, not JSON, is 415 UNSUPPORTED_MEDIA_TYPE`, async () => {
          const res = await api(`/api/v1/accounts/${ACCOUNT}/jobs`, {
            method: 'POST',
            headers: { 'content-type': contentType },
            body: 'message=hi',
          });
          expect([res.status, (await res.json()).error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
        });
      }

      it('GET …/stats answers { timeZone, from, to, days } with every day of the period and the six statuses', async () => {
        const res = await api(`/api/v1/accounts/${ACCOUNT}/stats?from=2024-10-26&to=2024-10-27`);
        expect(await res.json()).toEqual({
          timeZone: 'Europe/Paris',
          from: '2024-10-26',
          to: '2024-10-27',
          days: ['2024-10-26', '2024-10-27'].map((day) => ({ day, pending: 0, sent: 0, delivered: 0, failed: 0, expired: 0, canceled: 0 })),
        });
      });

      it('outgoing.csv starts with the seed header, unquoted', async () => {
        const res = await api(`/api/v1/accounts/${ACCOUNT}/outgoing.csv`);
        expect((await res.text()).split('\n')[0]).toBe('date;sender;receiver;message;status');
      });

      it('http2sms: GET /cgi-bin/sms/http2sms.cgi?account=…&login=…&password=…&from=…&to=…&message=… answers OK', async () => {
        const q = new URLSearchParams({
          account: ACCOUNT,
          login: 'apiuser',
          password: made.userPassword,
          from: 'MyShop',
          to: '+33612345678',
          message: 'Hi',
        });
        const res = await fetch(`${relais.baseUrl}/cgi-bin/sms/http2sms.cgi?${q}`);
        expect((await res.text()).split('\n')[0]).toBe('OK');
      });

      it('mail2sms: a mail to email2sms@… with the subject Account:Login:Password:From:To is accepted', async () => {
        const sent = await mailVia(smtpPort, {
          subject: `${ACCOUNT}:apiuser:${made.userPassword}:MyShop:+33612345678`,
          text: 'Hello by mail',
        });
        expect(sent).toMatchObject({ ok: true });
      });

      it('SMPP: binds with system_id ACCOUNT:LOGIN or system_type ACCOUNT; a wrong password is ESME_RINVPASWD', async () => {
        const binds: Array<[Record<string, string>, number]> = [
          [{ system_id: `${ACCOUNT}:apiuser`, password: made.userPassword }, 0],
          [{ system_type: ACCOUNT, system_id: 'apiuser', password: made.userPassword }, 0],
          [{ system_id: `${ACCOUNT}:apiuser`, password: 'wrong' }, ESME_RINVPASWD],
        ];
        for (const [fields, status] of binds) {
          const client = await SmppClient.open(smppPort);
          smppClients.push(client);
          expect((await client.request('bind_transmitter', fields)).command_status, JSON.stringify(fields)).toBe(status);
        }
      });

      it("OVH: a request signed as the README says ($1$ + SHA-1 of AS+CK+METHOD+URL+BODY+TIMESTAMP) is served; a bad signature is OVH's 403", async () => {
        const time = await fetch(`${relais.baseUrl}/1.0/auth/time`);
        expect(time.headers.get('x-ovh-queryid')).toBeTruthy();
        const timestamp = String(await time.json());
        const url = `${relais.baseUrl}/1.0/sms`;
        const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
        const signature = `$1$${sha1([made.appSecret, made.consumerKey, 'GET', url, '', timestamp].join('+'))}`;
        const headers = (sig: string) => ({
          'x-ovh-application': made.appKey,
          'x-ovh-consumer': made.consumerKey,
          'x-ovh-timestamp': timestamp,
          'x-ovh-signature': sig,
        });
        const ok = await fetch(url, { headers: headers(signature) });
        expect([ok.status, await ok.json()]).toEqual([200, [ACCOUNT]]);
        const bad = await fetch(url, { headers: headers('$1$deadbeef') });
        expect([bad.status, await bad.json()]).toEqual([
          403,
          { class: 'Client::Forbidden', message: 'Invalid signature', errorCode: 'INVALID_SIGNATURE', httpCode: '403 Forbidden' },
        ]);
      });
    });
  });
}
