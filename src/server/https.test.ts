import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../test/app.js';
import { createSender, createSmsUser, seedCustomerWithAccount, TEST_PASSWORD } from '../../test/factories.js';
import { freePort, startRelaisProcess } from '../../test/relais-process.js';
import { SmppClient } from '../../test/smpp-client.js';
import { ConfigError } from './config.js';
import { loadTlsCredentials, startHttpsListener, type TlsCredentials } from './https.js';

const dirs: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'relais-tls-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const noFiles = { tlsCertFile: null, tlsKeyFile: null };

interface RequestInit {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
}

/** A request over TLS to 127.0.0.1:`port` that trusts only the certificate `ca`, for the name localhost. */
function requestTls(port: number, ca: string, path: string, init: RequestInit = {}) {
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, ca, servername: 'localhost' },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('the HTTPS service credentials', () => {
  it('makes a self-signed certificate for localhost beside the database, its key private, and keeps it', async () => {
    const dir = scratch();
    const config = { ...noFiles, databaseUrl: `sqlite:${join(dir, 'relais.db')}` };
    const made = await loadTlsCredentials(config);
    expect(made).toMatchObject({ source: 'self-signed', certFile: join(dir, 'tls-self-signed.crt') });
    const x509 = new X509Certificate(made.cert);
    expect(x509.subjectAltName).toContain('DNS:localhost');
    expect(x509.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x509.checkPrivateKey((await import('node:crypto')).createPrivateKey(made.key))).toBe(true);
    expect(statSync(join(dir, 'tls-self-signed.key')).mode & 0o777).toBe(0o600);
    // The next start uses the same certificate (clients that trusted it keep trusting it).
    const again = await loadTlsCredentials(config);
    expect(again.fingerprint).toBe(made.fingerprint);
    // Within 30 days of its end, a new one is made.
    const nearEnd = Date.parse(x509.validTo) - 10 * 86_400_000;
    const renewed = await loadTlsCredentials(config, nearEnd);
    expect(renewed.fingerprint).not.toBe(made.fingerprint);
    expect(Date.parse(new X509Certificate(renewed.cert).validTo)).toBeGreaterThan(Date.parse(x509.validTo));
  });

  it('says what to do when the certificate cannot be written', async () => {
    const dir = scratch();
    const file = join(dir, 'not-a-directory');
    writeFileSync(file, '');
    // The data directory would be inside a file: it cannot be made.
    const config = { ...noFiles, databaseUrl: `sqlite:${join(file, 'relais.db')}` };
    await expect(loadTlsCredentials(config)).rejects.toThrow(ConfigError);
    const refused = loadTlsCredentials(config);
    await expect(refused).rejects.toThrow(`The HTTPS service's self-signed certificate cannot be written in ${file} (E`);
    await expect(refused).rejects.toThrow('): set RELAIS_TLS_CERT and RELAIS_TLS_KEY, or leave https out of RELAIS_SERVICES');
  });

  it('reads the configured files, and says clearly what is wrong with them', async () => {
    const dir = scratch();
    const made = await loadTlsCredentials({ ...noFiles, databaseUrl: `sqlite:${join(dir, 'x.db')}` });
    const certFile = join(dir, 'given.crt');
    const keyFile = join(dir, 'given.key');
    writeFileSync(certFile, made.cert);
    writeFileSync(keyFile, made.key);
    const given = await loadTlsCredentials({ tlsCertFile: certFile, tlsKeyFile: keyFile, databaseUrl: 'sqlite::memory:' });
    expect(given).toMatchObject({ source: 'files', certFile, fingerprint: made.fingerprint });

    const missing = loadTlsCredentials({ tlsCertFile: join(dir, 'nope.crt'), tlsKeyFile: keyFile, databaseUrl: 'sqlite::memory:' });
    await expect(missing).rejects.toThrow(ConfigError);
    await expect(missing).rejects.toThrow(`RELAIS_TLS_CERT ${join(dir, 'nope.crt')} cannot be read: ENOENT`);
    const notPem = loadTlsCredentials({ tlsCertFile: keyFile, tlsKeyFile: keyFile, databaseUrl: 'sqlite::memory:' });
    await expect(notPem).rejects.toThrow(`${keyFile}: not a PEM certificate`);
  });
});

describeEachDialectWithApp('http2sms, the API and the Manager over HTTPS', (ctx) => {
  let tls: TlsCredentials;
  let listener: Awaited<ReturnType<typeof startHttpsListener>>;

  beforeAll(async () => {
    tls = await loadTlsCredentials({ ...noFiles, databaseUrl: `sqlite:${join(scratch(), 'relais.db')}` });
    listener = await startHttpsListener(ctx.app, tls, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await listener?.close();
  });

  const fetchTls = (path: string, init: RequestInit = {}) => requestTls(listener.port, tls.cert, path, init);

  it('accepts http2sms GET and POST, recorded as sent through http2sms', async () => {
    const s = await seedCustomerWithAccount(ctx.app, { account: { credits: 10 } });
    await createSender(ctx.app, s.account, { sender: 'MyShop' });
    await createSmsUser(ctx.app, s.account, { login: 'shop' });
    const params = new URLSearchParams({
      account: s.account.name,
      login: 'shop',
      password: TEST_PASSWORD,
      from: 'MyShop',
      to: '0612345678',
      message: 'Over TLS',
      noStop: '1',
      contentType: 'application/json',
    });
    const viaGet = await fetchTls(`/cgi-bin/sms/http2sms.cgi?${params}`);
    expect(viaGet.status).toBe(200);
    expect(JSON.parse(viaGet.body)).toMatchObject({ status: 100, creditLeft: '9', SmsIds: [expect.any(String)] });
    const viaPost = await fetchTls('/cgi-bin/sms/http2sms.cgi', {
      method: 'POST',
      body: params.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(JSON.parse(viaPost.body)).toMatchObject({ status: 100, creditLeft: '8' });

    const history = await fetchTls(`/api/v1/accounts/${s.account.name}/outgoing`, { headers: s.auth });
    const rows = JSON.parse(history.body).data as { channel: string; user: string; message: string; receiver: string }[];
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatchObject({ channel: 'http2sms', user: 'shop', message: 'Over TLS', receiver: '+33612345678' });
  });

  it('signs in with a Secure session cookie (the HTTP port sets it without Secure unless configured)', async () => {
    const email = `tls-${Date.now()}-${Math.random()}@example.com`;
    await seedCustomerWithAccount(ctx.app, { email, password: TEST_PASSWORD });
    const body = JSON.stringify({ email, password: TEST_PASSWORD });
    const overTls = await fetchTls('/api/v1/auth/sign-in', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(overTls.status).toBe(200);
    const cookie = String(overTls.headers['set-cookie']);
    // The __Host- prefix: a browser keeps it to this host over HTTPS; no subdomain can plant one.
    expect(cookie).toMatch(/^__Host-relais_session=/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/; Domain=/i);
    const value = /^__Host-relais_session=([^;]+)/.exec(cookie)![1];
    const me = await fetchTls('/api/v1/auth/me', { headers: { cookie: `__Host-relais_session=${value}` } });
    expect(me.status).toBe(200);
    // Over HTTPS the plain name is not read: a cookie planted under it by a plain-HTTP page signs nobody in.
    const planted = await fetchTls('/api/v1/auth/me', { headers: { cookie: `relais_session=${value}` } });
    expect(planted.status).toBe(401);
    expect(cookie).toMatch(/; Secure/i);
    expect(cookie).toMatch(/; HttpOnly/i);
    const plain = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email, password: TEST_PASSWORD } });
    expect(String(plain.headers['set-cookie'])).not.toMatch(/; Secure/i);
  });

  it('serves the Manager and refuses a wrong password as on the HTTP port', async () => {
    const page = await fetchTls('/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Relais</title>');
    const refused = await fetchTls('/cgi-bin/sms/http2sms.cgi?account=sms-zz99999-9&login=x&password=y&from=A&to=0612345678&message=m');
    expect(refused.body).toBe('KO\nWrong account, login or password');
  });
});

describe('relais serve with the https service (a real process, SQLite file)', () => {
  it('listens on RELAIS_HTTPS_PORT with the certificate it made, prints its fingerprint, and stops', async () => {
    const dir = scratch();
    const httpsPort = await freePort();
    const server = await startRelaisProcess({
      databaseUrl: `sqlite:${join(dir, 'relais.db')}`,
      carrier: 'simulator',
      env: { RELAIS_SERVICES: 'http,https', RELAIS_HTTPS_PORT: String(httpsPort) },
    });
    try {
      const certFile = join(dir, 'tls-self-signed.crt');
      const cert = readFileSync(certFile, 'utf8');
      const fingerprint = new X509Certificate(cert).fingerprint256;
      expect(server.output()).toContain(
        `HTTPS     https://localhost:${httpsPort}/  (self-signed certificate ${certFile}, SHA-256 ${fingerprint})`,
      );
      // The first start's demo SMS user, for the channels this process serves only.
      expect(server.output()).toMatch(/ {2}SMS user {2}demo \/ \S+ {2}\(for the API and http2sms\)\n/);
      const page = await requestTls(httpsPort, cert, '/');
      expect([page.status, page.body.includes('<title>Relais</title>')]).toEqual([200, true]);
    } finally {
      await server.stop();
    }
    // Stopped gracefully: the port is free again.
    await expect(requestTls(httpsPort, readFileSync(join(dir, 'tls-self-signed.crt'), 'utf8'), '/')).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  }, 120_000);
});

describe('relais serve with mail2sms and no configured certificate (a real process, SQLite file)', () => {
  it('says so in its banner and offers no STARTTLS, so a mail client that upgrades when it can (nodemailer) sends in plain SMTP', async () => {
    const dir = scratch();
    const smtpPort = await freePort();
    const server = await startRelaisProcess({
      databaseUrl: `sqlite:${join(dir, 'relais.db')}`,
      carrier: 'simulator',
      env: { RELAIS_SERVICES: 'http,smtp', RELAIS_SMTP_PORT: String(smtpPort) },
    });
    try {
      expect(server.output()).toContain(
        `Mail2SMS  127.0.0.1:${smtpPort}  (mail to email2sms@…; no STARTTLS: set RELAIS_TLS_CERT and RELAIS_TLS_KEY)`,
      );
      // The first start's demo account and SMS user, as the banner prints them.
      const account = /Account {3}(\S+)/.exec(server.output())?.[1];
      const [login, password] = /SMS user {2}(\S+) \/ (\S+)/.exec(server.output())?.slice(1) ?? [];
      // nodemailer's defaults: STARTTLS when offered, the certificate checked.
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false });
      try {
        const info = await transport.sendMail({
          from: 'app@example.com',
          to: 'email2sms@relais.test',
          subject: `${account}:${login}:${password}:Relais:+33612345678`,
          text: 'Sent in plain SMTP',
        });
        expect(info.response).toMatch(/^250 /);
      } finally {
        transport.close();
      }
    } finally {
      await server.stop();
    }
  }, 120_000);
});

describe('relais serve with SMPP over TLS (a real process, SQLite file)', () => {
  it('says so in its banner with the certificate it made, and takes a bind and a submit_sm over TLS from the demo SMS user', async () => {
    const dir = scratch();
    const smppPort = await freePort();
    const smppTlsPort = await freePort();
    const server = await startRelaisProcess({
      databaseUrl: `sqlite:${join(dir, 'relais.db')}`,
      carrier: 'simulator',
      // No https: the SMPP/TLS listener loads (here: makes) the certificate itself.
      env: { RELAIS_SERVICES: 'http,smpp', RELAIS_SMPP_PORT: String(smppPort), RELAIS_SMPP_TLS_PORT: String(smppTlsPort) },
    });
    const certFile = join(dir, 'tls-self-signed.crt');
    try {
      const cert = readFileSync(certFile, 'utf8');
      const fingerprint = new X509Certificate(cert).fingerprint256;
      expect(server.output()).toContain(`  SMPP      127.0.0.1:${smppPort}  (bind with system_id ACCOUNT:LOGIN of an SMS user)\n`);
      expect(server.output()).toContain(
        `  SMPP/TLS  127.0.0.1:${smppTlsPort}  (the same over TLS; self-signed certificate ${certFile}, SHA-256 ${fingerprint})\n`,
      );
      expect(server.output()).not.toContain('  HTTPS ');
      // The first start's demo account and SMS user, as the banner prints them.
      const account = /Account {3}(\S+)/.exec(server.output())?.[1];
      const [login, password] = /SMS user {2}(\S+) \/ (\S+)/.exec(server.output())?.slice(1) ?? [];
      expect(server.output()).toContain(
        `  SMS user  ${login} / ${password}  (for the API, http2sms and SMPP (system_id ${account}:${login}))\n`,
      );
      // Over TLS, trusting only the certificate the server wrote.
      const client = await SmppClient.open(smppTlsPort, '127.0.0.1', '127.0.0.1', { ca: cert });
      try {
        const bind = await client.request('bind_transceiver', { system_id: `${account}:${login}`, password });
        expect(bind.command_status).toBe(0);
        const submit = await client.request('submit_sm', {
          source_addr: 'Relais',
          destination_addr: '+33612345678',
          short_message: 'Sent over SMPP/TLS',
        });
        expect(submit.command_status).toBe(0); // ESME_ROK
        expect(submit.message_id).toMatch(/^\d+$/);
        expect((await client.request('query_sm', { message_id: submit.message_id })).command_status).toBe(0);
      } finally {
        client.close();
        await client.closed();
      }
    } finally {
      await server.stop();
    }
    // Stopped gracefully: the TLS port is free again.
    await expect(SmppClient.open(smppTlsPort, '127.0.0.1', '127.0.0.1', { ca: readFileSync(certFile, 'utf8') })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  }, 120_000);
});
