import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createAccount, createCustomer, createSender } from '../../../../test/factories.js';
import { createOvhKeys, type OvhKeys } from '../../../../test/ovh.js';
import { selfSignedCertificate } from '../../../../test/tls.js';
import { startHttpsListener } from '../../https.js';
import type { Account } from '../accounts/accounts.repository.js';

const SCRIPT = join(import.meta.dirname, '../../../../test/php/ovhcloud-notifier-send.php');

/**
 * Symfony's OvhCloud notifier (Debian's php-symfony-ovh-cloud-notifier, run by php-cli as a PHP
 * application would run it) sending one SMS to Relais: what the script printed, and its exit code.
 */
function sendWithSymfony(env: Record<string, string>): Promise<{ code: number; out: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    execFile('php', [SCRIPT], { env: { PATH: process.env.PATH ?? '', ...env } }, (error, stdout, stderr) => {
      const code = error ? Number((error as NodeJS.ErrnoException & { code?: unknown }).code) : 0;
      try {
        resolve({ code, out: JSON.parse(stdout) });
      } catch {
        reject(new Error(`php printed no JSON (exit ${code}): ${stdout}${stderr}`));
      }
    });
  });
}

describeEachDialectWithApp('Symfony’s OvhCloud notifier (PHP) against Relais over HTTPS', (ctx) => {
  let tls: Awaited<ReturnType<typeof selfSignedCertificate>>;
  let listener: Awaited<ReturnType<typeof startHttpsListener>>;
  let account: Account;
  let keys: OvhKeys;
  /** The script's environment: the DSN from these keys (`sender` when given), the message, Relais' certificate. */
  const env = (options: { keys?: Partial<OvhKeys>; sender?: string; to?: string; text?: string } = {}) => {
    const k = { ...keys, ...options.keys };
    const query = new URLSearchParams({
      consumer_key: k.consumerKey,
      service_name: account.name,
      ...(options.sender ? { sender: options.sender } : {}),
    });
    return {
      OVH_DSN: `ovhcloud://${k.appKey}:${k.appSecret}@127.0.0.1:${listener.port}?${query}`,
      RELAIS_CA_FILE: tls.certFile,
      SMS_TO: options.to ?? '+33612345678',
      SMS_TEXT: options.text ?? 'Bonjour depuis Symfony, été ☀',
    };
  };
  const row = (id: string | number) =>
    ctx.database.db
      .selectFrom('outgoing')
      .innerJoin('jobs', 'jobs.id', 'outgoing.job_id')
      .select(['outgoing.sender', 'outgoing.receiver', 'outgoing.message', 'outgoing.channel', 'outgoing.encoding', 'jobs.options'])
      .where('outgoing.id', '=', Number(id))
      .executeTakeFirst();
  const credits = async () =>
    Number((await ctx.database.db.selectFrom('accounts').select('credits').where('id', '=', account.id).executeTakeFirstOrThrow()).credits);

  beforeAll(async () => {
    tls = await selfSignedCertificate();
    listener = await startHttpsListener(ctx.app, tls, { port: 0, host: '127.0.0.1' });
    const owner = await createCustomer(ctx.app);
    account = await createAccount(ctx.app, { owner, credits: 20 });
    await createSender(ctx.app, account, { sender: 'MyShop' });
    keys = await createOvhKeys(ctx.app, owner);
  });
  afterAll(async () => {
    await listener?.close();
    tls?.remove();
  });

  it('sends as a PHP application does (signed URL with the port, class flash, 8-bit coding): the SMS is in the history', async () => {
    const before = await credits();
    const { code, out } = await sendWithSymfony(env({ sender: 'MyShop' }));
    expect(code).toBe(0);
    expect(out.id).toMatch(/^\d+$/);
    expect(out.transport).toBe(`ovhcloud://127.0.0.1:${listener.port}?service_name=${account.name}&sender=MyShop`);
    expect(await row(out.id)).toMatchObject({
      sender: 'MyShop',
      receiver: '+33612345678',
      message: 'Bonjour depuis Symfony, été ☀\nSTOP au 36180',
      channel: 'ovh-api',
      encoding: 'ucs2',
    });
    expect(JSON.parse(String((await row(out.id))?.options))).toMatchObject({ class: 0, coding: '8bit' });
    expect(await credits()).toBe(before - 1);
  });

  it('sends without a sender as senderForResponse', async () => {
    const { code, out } = await sendWithSymfony(env({ text: 'Sans expéditeur' }));
    expect(code).toBe(0);
    expect(JSON.parse(String((await row(out.id))?.options))).toMatchObject({ senderForResponse: true });
  });

  it('gives the PHP application Relais’ refusals in OVH’s words, writing nothing', async () => {
    const before = await credits();
    const wrongKey = await sendWithSymfony(env({ keys: { consumerKey: 'A'.repeat(32) }, sender: 'MyShop' }));
    expect(wrongKey).toMatchObject({ code: 1, out: { message: 'Unable to send the SMS: This credential does not exist.' } });
    const unknownSender = await sendWithSymfony(env({ sender: 'Nobody' }));
    expect(unknownSender.code).toBe(1);
    expect(unknownSender.out.message).toBe(`Unable to send the SMS: "Nobody" is not an enabled sender of ${account.name}.`);
    const badNumber = await sendWithSymfony(env({ sender: 'MyShop', to: '12' }));
    expect(badNumber.code).toBe(1);
    expect(badNumber.out.message).toBe('Unable to send the SMS: no valid receiver (refused: 12).');
    expect(await credits()).toBe(before);
  });
});
