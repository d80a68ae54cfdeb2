import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createAccount, createCustomer, createSender, signIn } from '../../../../test/factories.js';
import { createOvhKeys } from '../../../../test/ovh.js';
import { selfSignedCertificate } from '../../../../test/tls.js';
import { startHttpsListener } from '../../https.js';
import type { Account } from '../accounts/accounts.repository.js';
import type { Customer } from '../accounts/customers.repository.js';

const SOURCE = join(import.meta.dirname, '../../../../test/go/ovh-client.go');
/** Debian's golang-github-ovh-go-ovh-dev puts the client's source (and its one dependency) there. */
const GOPATH = '/usr/share/gocode';

function run(file: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/**
 * OVH's official Go client (github.com/ovh/go-ovh 1.1, Debian's package, built by Debian's Go in GOPATH
 * mode, offline) in a Go program (test/go/ovh-client.go) run against Relais over HTTPS, trusting Relais'
 * self-signed certificate through SSL_CERT_FILE as any Go program does. It signs the endpoint with its
 * port, sends JSON as Go's encoder writes it (`<`, `>` and `&` escaped), and reads OVH's error bodies.
 */
describeEachDialectWithApp('OVH’s official Go client against Relais over HTTPS', (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'relais-go-ovh-'));
  const binary = join(dir, 'ovh-client');
  let tls: Awaited<ReturnType<typeof selfSignedCertificate>>;
  let listener: Awaited<ReturnType<typeof startHttpsListener>>;
  let owner: Customer;
  let account: Account;

  const goClient = async (env: Record<string, string>) => {
    const { code, stdout, stderr } = await run(binary, [], {
      OVH_ENDPOINT: `https://127.0.0.1:${listener.port}/1.0`,
      SSL_CERT_FILE: tls.certFile,
      ...env,
    });
    let out: Record<string, unknown>;
    try {
      out = JSON.parse(stdout);
    } catch {
      throw new Error(`the Go program printed no JSON (exit ${code}): ${stdout}${stderr}`);
    }
    return { code, out };
  };

  beforeAll(async () => {
    const built = await run('go', ['build', '-o', binary, SOURCE], {
      GO111MODULE: 'off',
      GOPATH,
      GOFLAGS: '',
      GOCACHE: join(dir, 'go-cache'),
    });
    if (built.code !== 0) throw new Error(`go build failed: ${built.stderr}`);
    tls = await selfSignedCertificate();
    listener = await startHttpsListener(ctx.app, tls, { port: 0, host: '127.0.0.1' });
    owner = await createCustomer(ctx.app);
    account = await createAccount(ctx.app, { owner, credits: 30, timezone: 'Europe/Paris' });
    await createSender(ctx.app, account, { sender: 'GoShop' });
  }, 120_000);
  afterAll(async () => {
    await listener?.close();
    tls?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks for a consumer key, which works once the customer validated it in the Manager, within its rules', async () => {
    const keys = await createOvhKeys(ctx.app, owner);
    const asked = await goClient({ RELAIS_STEP: 'credential', OVH_APPLICATION_KEY: keys.appKey, OVH_APPLICATION_SECRET: keys.appSecret });
    expect(asked.code).toBe(0);
    const credential = asked.out.credential as { consumerKey: string; state: string; validationUrl: string };
    expect(credential.state).toBe('pendingValidation');
    expect(credential.consumerKey).toMatch(/^[A-Za-z0-9]{32}$/);
    const validationUrl = new URL(credential.validationUrl);
    expect(validationUrl.pathname).toBe('/ovh/validate');
    const token = validationUrl.searchParams.get('credentialToken');
    const session = await signIn(ctx.app, owner.email);
    const requested = await ctx.app.inject({ url: `/api/v1/ovh/credential-requests/${token}`, headers: session.headers });
    expect(requested.json()).toMatchObject({
      rules: [
        { method: 'GET', path: '/sms' },
        { method: 'POST', path: '/sms' },
        { method: 'PUT', path: '/sms' },
        { method: 'DELETE', path: '/sms' },
        { method: 'GET', path: '/sms/*' },
        { method: 'POST', path: '/sms/*' },
        { method: 'PUT', path: '/sms/*' },
        { method: 'DELETE', path: '/sms/*' },
      ],
      redirection: 'https://app.example.com/done',
      status: 'pendingValidation',
    });
    const validated = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/ovh/credential-requests/${token}/validate`,
      headers: session.writeHeaders,
      payload: { validity: 3600 },
    });
    expect(validated.statusCode).toBe(200);

    const text = 'Prêt à <partir> & à payer 10 € ? 🚀';
    const used = await goClient({
      OVH_APPLICATION_KEY: keys.appKey,
      OVH_APPLICATION_SECRET: keys.appSecret,
      OVH_CONSUMER_KEY: credential.consumerKey,
      SMS_SERVICE: account.name,
      SMS_SENDER: 'GoShop',
      SMS_TEXT: text,
    });
    expect(used.code).toBe(0);
    const out = used.out as {
      services: string[];
      account: Record<string, unknown>;
      job: { ids: number[]; validReceivers: string[]; invalidReceivers: string[]; totalCreditsRemoved: number; tag: string };
      outgoing: number[];
      message: Record<string, unknown>;
      outgoingAfterDelete: number[];
      unknownSender: { code: number; message: string };
      outsideRules: { code: number; message: string };
      otherService: { code: number; message: string };
    };
    expect(out.services).toEqual([account.name]);
    expect(out.account).toMatchObject({ name: account.name, creditsLeft: 30, status: 'enable' });
    expect(out.job).toMatchObject({
      validReceivers: ['+33612345678', '+33612345679'],
      invalidReceivers: ['pas un numéro'],
      totalCreditsRemoved: 2,
      tag: 'go & <tag>',
    });
    expect(out.job.ids).toHaveLength(2);
    // The tag given in the query string (`go+%26+%3Ctag%3E`, signed as written) finds the job's messages.
    expect([...out.outgoing].sort((a, b) => a - b)).toEqual([...out.job.ids].sort((a, b) => a - b));
    expect(out.message).toMatchObject({
      id: out.job.ids[0],
      receiver: '+33612345678',
      sender: 'GoShop',
      message: text,
      tag: 'go & <tag>',
    });
    expect(out.outgoingAfterDelete).toEqual([out.job.ids[1]]);
    expect(out.unknownSender).toEqual({ code: 400, message: `"Nobody" is not an enabled sender of ${account.name}` });
    expect(out.outsideRules.code).toBe(403);
    expect(out.outsideRules.message).toMatch(/not been granted/i);
    expect(out.otherService.code).toBe(404);

    const rows = await ctx.database.db
      .selectFrom('outgoing')
      .select(['id', 'message', 'channel', 'status'])
      .where('account_id', '=', account.id)
      .orderBy('id')
      .execute();
    expect(rows.map((r) => r.message)).toEqual([text]);
    expect(rows[0]).toMatchObject({ id: out.job.ids[1], channel: 'ovh-api', status: 'pending' });
    const credits = await ctx.database.db.selectFrom('accounts').select('credits').where('id', '=', account.id).executeTakeFirstOrThrow();
    // Two sent, one deleted while pending (its credit given back).
    expect(Number(credits.credits)).toBe(29);
  });

  it('gets OVH’s refusal of a key that does not exist, as the Go client reports it', async () => {
    const keys = await createOvhKeys(ctx.app, owner);
    const used = await goClient({
      OVH_APPLICATION_KEY: keys.appKey,
      OVH_APPLICATION_SECRET: keys.appSecret,
      OVH_CONSUMER_KEY: 'A'.repeat(32),
      SMS_SERVICE: account.name,
    });
    expect(used.code).toBe(1);
    expect(used.out).toEqual({ failedAt: 'services', error: 'Error 403: "This credential does not exist"' });
  });
});
