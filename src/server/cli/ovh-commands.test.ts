import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../../test/app.js';
import { createTestDatabase, type TestDatabase } from '../../../test/database.js';
import { ovhCall } from '../../../test/ovh.js';
import { runRelais } from '../../../test/relais-cli.js';
import { buildApp } from '../app.js';
import { openDatabase } from '../db/database.js';
import { SECRET_FILE, withServerSecret } from '../server-secret.js';

const dir = mkdtempSync(join(tmpdir(), 'relais-ovh-cli-'));
const databaseUrl = `sqlite:${join(dir, 'relais.db')}`;
const relais = (...args: string[]) => runRelais({ RELAIS_DATABASE_URL: databaseUrl, RELAIS_ARGON2_TEST_FAST: '1' }, ...args);

describe('relais ovh-key (real process, SQLite)', () => {
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes keys that a server on the same data directory accepts, and lists them without secrets', async () => {
    expect((await relais('customer', 'create', '--email', 'dev@example.com', '--password', 'dev-password-1')).code).toBe(0);
    expect((await relais('account', 'create', '--name', 'sms-ab12345-1', '--owner', 'dev@example.com')).code).toBe(0);
    const made = await relais('ovh-key', 'create', '--owner', 'dev@example.com', '--name', 'Rappels', '--rule', 'GET /me', '--json');
    expect(made.code).toBe(0);
    const keys = JSON.parse(made.stdout) as { appKey: string; appSecret: string; consumerKey: string; rules: unknown; validity: string };
    expect(keys).toMatchObject({ rules: [{ method: 'GET', path: '/me' }], validity: 'unlimited' });
    // The server secret was made beside the database, readable by its owner only.
    expect(statSync(join(dir, SECRET_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, SECRET_FILE), 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);

    const config = withServerSecret(testConfig({ databaseUrl, secretKey: null }));
    const database = openDatabase(databaseUrl);
    const app = await buildApp({ config, database });
    try {
      const me = await ovhCall(app, keys, 'GET', '/me');
      expect(me.statusCode).toBe(200);
      expect(me.json()).toMatchObject({ email: 'dev@example.com' });
      expect((await ovhCall(app, keys, 'GET', '/sms')).json()).toMatchObject({ errorCode: 'NOT_GRANTED_CALL' });
    } finally {
      await app.close();
      await database.close();
    }

    const human = await relais('ovh-key', 'create', '--owner', 'dev@example.com', '--validity', '1d', '--ip', '10.0.0.0/8');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/application key {5}[A-Za-z0-9]{16}\n/);
    expect(human.stdout).toMatch(/application secret {2}[A-Za-z0-9]{32}\n/);
    expect(human.stdout).toMatch(/consumer key {8}[A-Za-z0-9]{32}\n/);
    expect(human.stdout).toContain('rules               GET /sms, GET /sms/*, POST /sms/*, PUT /sms/*, DELETE /sms/*');
    expect(human.stdout).toContain('validity            1d, from 10.0.0.0/8');

    const listed = await relais('ovh-key', 'list', '--owner', 'dev@example.com');
    expect(listed.stdout).toMatch(
      /^1 "Rappels" application key [A-Za-z0-9]{16}, 1 consumer key\(s\), created .+\n2 "script" application key/,
    );
    expect(listed.stdout).not.toContain(keys.appSecret);
  });

  it('refuses a bad rule, validity or owner with a clear message', async () => {
    const rule = await relais('ovh-key', 'create', '--owner', 'dev@example.com', '--rule', 'PATCH /sms');
    expect(rule.code).not.toBe(0);
    expect(rule.stderr).toMatch(/--rule must look like "GET \/sms\/\*"/);
    const validity = await relais('ovh-key', 'create', '--owner', 'dev@example.com', '--validity', 'forever');
    expect(validity.stderr).toMatch(/--validity must be one of 1h, 1d, 30d, unlimited/);
    const owner = await relais('ovh-key', 'create', '--owner', 'nobody@example.com');
    expect(owner.stderr).toMatch(/No customer with e-mail nobody@example.com/);
    // An address or rule refused after the option parsing leaves no application behind.
    const before = (await relais('ovh-key', 'list')).stdout;
    const ip = await relais('ovh-key', 'create', '--owner', 'dev@example.com', '--ip', '300.1.2.3');
    expect([ip.code, ip.stderr.trim().split('\n')]).toEqual([1, [expect.stringMatching(/^error: Invalid IP restriction "300\.1\.2\.3"/)]]);
    const wide = await relais('ovh-key', 'create', '--owner', 'dev@example.com', '--rule', `GET /${'*/'.repeat(12)}x`);
    expect(wide.code).toBe(1);
    expect((await relais('ovh-key', 'list')).stdout).toBe(before);
  });
});

describe('relais ovh-key with PostgreSQL, run elsewhere than the server (real process)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'relais-ovh-cli-pg-'));
  let database: TestDatabase;
  const bin = fileURLToPath(new URL('../../../bin/relais.js', import.meta.url));
  const relaisIn = (env: Record<string, string>, ...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [bin, ...args],
        { cwd, env: { ...process.env, NODE_NO_WARNINGS: '1', RELAIS_DATABASE_URL: database.url, RELAIS_ARGON2_TEST_FAST: '1', ...env } },
        (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await database.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('makes no server secret of its own in the working directory, and refuses a secret the existing keys were not made with', async () => {
    const serverSecret = 'a'.repeat(64);
    expect((await relaisIn({}, 'customer', 'create', '--email', 'pg@example.com', '--password', 'dev-password-1')).code).toBe(0);
    // No RELAIS_SECRET_KEY and no data/relais-secret.key here: refused, nothing made.
    const none = await relaisIn({}, 'ovh-key', 'create', '--owner', 'pg@example.com');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/relais-secret\.key does not exist: run this command in the directory `relais serve` runs in/);
    expect(existsSync(join(cwd, 'data', SECRET_FILE))).toBe(false);
    // With the server's secret: made.
    expect((await relaisIn({ RELAIS_SECRET_KEY: serverSecret }, 'ovh-key', 'create', '--owner', 'pg@example.com')).code).toBe(0);
    // With another secret: refused, since the keys it printed would be refused by the servers.
    const other = await relaisIn({ RELAIS_SECRET_KEY: 'b'.repeat(64) }, 'ovh-key', 'create', '--owner', 'pg@example.com');
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/This server secret is not the one of the running Relais/);
    expect((await relaisIn({}, 'ovh-key', 'list', '--owner', 'pg@example.com')).stdout.trim().split('\n')).toHaveLength(1);
  });
});
