import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/server/db/database.js';
import { DEMO_ACCOUNT, DEMO_EMAIL, DEMO_MESSAGES } from '../src/server/first-start.js';
import { freePort, killAllRelaisProcesses, type RelaisProcess, startRelaisProcess, waitUntil } from './relais-process.js';

// `npm install && npm start`, killed with SIGKILL during the first start's demo: the next start
// finishes the demo and prints credentials that sign in, to an account with its whole history.
// The kill comes the moment the demo customer is in the database (before, the next start is a first
// start again); where it lands after that (account, sender, SMS user, history, or even past the end)
// depends on the machine, and the test holds wherever it lands: src/server/first-start.test.ts cuts
// the first start after each of its steps.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('kill -9 during the first start’s demo [sqlite]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relais-first-start-crash-'));
  const databaseFile = join(dir, 'relais.db');
  const databaseUrl = `sqlite:${databaseFile}`;
  const credentialsFile = join(dir, 'demo-credentials.json');
  let first: ChildProcess | undefined;

  afterAll(async () => {
    if (first && first.exitCode === null && first.signalCode === null) first.kill('SIGKILL');
    await killAllRelaisProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the next start finishes the demo and prints credentials that sign in to its whole history', { timeout: 240_000 }, async () => {
    // The first start, on a database that does not exist yet (the server creates and migrates it).
    let out = '';
    first = spawn(process.execPath, ['bin/relais.js', 'serve'], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_NO_WARNINGS: '1',
        RELAIS_DATABASE_URL: databaseUrl,
        RELAIS_HTTP_PORT: String(await freePort()),
        RELAIS_HOST: '127.0.0.1',
        RELAIS_SERVICES: 'http',
        RELAIS_LOG_LEVEL: 'warn',
        RELAIS_ARGON2_TEST_FAST: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = first;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => {
      gone = true;
    });

    // SIGKILL the moment the demo customer is committed (the state the bug left: a customer whose
    // password was only in the process), read by a connection of this process every 1 ms.
    let reader: SqliteDatabase.Database | undefined;
    const customerWritten = () => {
      try {
        reader ??= new SqliteDatabase(databaseFile, { readonly: true, fileMustExist: true });
        return (reader.prepare('select count(*) as n from customers').get() as { n: number }).n > 0;
      } catch {
        return false; // not created or not migrated yet
      }
    };
    try {
      await waitUntil(
        () => {
          if (gone) throw new Error(`the first start ended before its demo customer was written:\n${out}`);
          if (!customerWritten()) return false;
          child.kill('SIGKILL');
          return true;
        },
        'the demo customer',
        180_000,
        1,
      );
    } finally {
      reader?.close();
    }
    await exited;
    expect(child.signalCode, `the first start ended before its kill:\n${out}`).toBe('SIGKILL');
    expect(out).not.toContain('Relais is running');

    // Where the kill landed (for the failure messages: any point is fine).
    const written = JSON.parse(readFileSync(credentialsFile, 'utf8')) as { password: string; finished: boolean };
    const database = openDatabase(databaseUrl);
    let landed: string;
    try {
      const count = async (table: 'customers' | 'accounts' | 'senders' | 'sms_users' | 'outgoing') =>
        Number(
          (
            await database.db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      landed = `killed with the credentials file ${written.finished ? 'finished' : 'unfinished'}, ${await count('customers')} customer(s), ${await count('accounts')} account(s), ${await count('senders')} sender(s), ${await count('sms_users')} SMS user(s), ${await count('outgoing')} history rows`;
    } finally {
      await database.close();
    }

    // The next start finishes the demo and prints the credentials of the file.
    const second: RelaisProcess = await startRelaisProcess({ databaseUrl, carrier: 'simulator' });
    const signInLine = /^ {2}Sign in {3}(\S+) \/ (\S+)$/m.exec(second.output());
    expect(signInLine, `${landed}\n${second.output()}`).not.toBeNull();
    const [, email, password] = signInLine!;
    expect({ email, password }, landed).toEqual({ email: DEMO_EMAIL, password: written.password });
    expect(second.output()).toContain(`  Account   ${DEMO_ACCOUNT} (${DEMO_MESSAGES} sample messages in its history)`);

    const signIn = await fetch(`${second.baseUrl}/api/v1/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(signIn.status, landed).toBe(200);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0];
    const history = await fetch(`${second.baseUrl}/api/v1/accounts/${DEMO_ACCOUNT}/outgoing/count`, { headers: { cookie } });
    expect(history.status, landed).toBe(200);
    expect(((await history.json()) as { total: number }).total, landed).toBe(DEMO_MESSAGES);

    // The file now says the demo is finished, still readable by its owner only.
    expect(JSON.parse(readFileSync(credentialsFile, 'utf8'))).toMatchObject({ email: DEMO_EMAIL, password, finished: true });
    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
    await second.stop();
  });
});
