import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createAccount, createCustomer, createSender, createSmsUser } from '../../../../test/factories.js';
import { createOvhKeys, type OvhKeys } from '../../../../test/ovh.js';
import { loadTlsCredentials, startHttpsListener, type TlsCredentials } from '../../https.js';
import type { Account } from '../accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../accounts/accounts.service.js';

/** What the official npm clients (`ovh` 2.0.3, `@ovhcloud/node-ovh` 3.0.0) give: their promise API. */
interface OvhClient {
  requestPromised(method: string, path: string, params?: Record<string, unknown>): Promise<unknown>;
}
type OvhClientFactory = (options: { appKey: string; appSecret: string; consumerKey: string; host: string; port: number }) => OvhClient;

const require = createRequire(import.meta.url);
/** The official clients as their users load them (CommonJS, no types of their own). */
const CLIENTS: [string, OvhClientFactory][] = [
  ['ovh@2.0.3', require('ovh') as OvhClientFactory],
  ['@ovhcloud/node-ovh@3.0.0', require('@ovhcloud/node-ovh') as OvhClientFactory],
];

/** What a client's promise rejects with when the API refuses: the HTTP status and OVH's `message`. */
async function refusal(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
}

/** A plain HTTPS GET (no OVH header), trusting only `ca`: what a browser or curl does with a document's getUrl. */
function download(url: string, ca: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });
}

describeEachDialectWithApp('OVH’s official npm clients against Relais over HTTPS', (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'relais-ovh-client-'));
  let tls: TlsCredentials;
  let listener: Awaited<ReturnType<typeof startHttpsListener>>;
  let previousCa: unknown;

  beforeAll(async () => {
    tls = await loadTlsCredentials({ tlsCertFile: null, tlsKeyFile: null, databaseUrl: `sqlite:${join(dir, 'relais.db')}` });
    listener = await startHttpsListener(ctx.app, tls, { port: 0, host: '127.0.0.1' });
    // The clients make their requests with Node's global agent: it trusts Relais' self-signed certificate.
    previousCa = https.globalAgent.options.ca;
    https.globalAgent.options.ca = tls.cert;
  });
  afterAll(async () => {
    https.globalAgent.options.ca = previousCa as string | undefined;
    https.globalAgent.destroy();
    await listener?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, factory] of CLIENTS) {
    it(`${name}: lists accounts, sends with accents, lists, reads and deletes the history, downloads a document, gets refusals`, async () => {
      const owner = await createCustomer(ctx.app);
      const account: Account = await createAccount(ctx.app, { owner, credits: 50, timezone: 'Europe/Paris' });
      await createSender(ctx.app, account, { sender: 'MyShop' });
      await createSmsUser(ctx.app, account, { login: 'shop' });
      const keys: OvhKeys = await createOvhKeys(ctx.app, owner);
      const client = factory({ ...keys, host: '127.0.0.1', port: listener.port });
      const started = new Date(Date.now() - 1_000).toISOString().replace(/\.\d{3}Z$/, '+00:00');

      expect(await client.requestPromised('GET', '/sms')).toEqual([account.name]);
      expect(await client.requestPromised('GET', `/sms/${account.name}`)).toMatchObject({
        name: account.name,
        creditsLeft: 50,
        status: 'enable',
      });

      // The client escapes every non-ASCII character as \uXXXX in the body it signs: the signature still matches.
      const text = 'Bientôt l’été : -20 % sur tout, même les crêpes 🥞 !';
      const report = (await client.requestPromised('POST', `/sms/${account.name}/jobs`, {
        message: text,
        receivers: ['+33612345678', '0033612345679', '06 12 34 56 70', 'n° inconnu'],
        sender: 'MyShop',
        noStopClause: true,
        tag: 'crêpes',
        charset: 'UTF-8',
      })) as { ids: number[]; validReceivers: string[]; invalidReceivers: string[]; totalCreditsRemoved: number; tag: string };
      expect(report).toMatchObject({
        validReceivers: ['+33612345678', '+33612345679', '+33612345670'],
        invalidReceivers: ['n° inconnu'],
        tag: 'crêpes',
      });
      expect(report.ids).toHaveLength(3);
      // One Unicode part (at most 70 characters) to each of the three.
      expect(report.totalCreditsRemoved).toBe(3);

      const userJob = (await client.requestPromised('POST', `/sms/${account.name}/users/shop/jobs`, {
        message: 'Envoyé par l’utilisateur shop',
        receivers: ['+33612345671'],
        sender: 'MyShop',
      })) as { ids: number[] };

      const listed = (await client.requestPromised('GET', `/sms/${account.name}/outgoing`, {
        'creationDatetime.from': started,
      })) as number[];
      expect([...listed].sort((a, b) => a - b)).toEqual([...report.ids, ...userJob.ids].sort((a, b) => a - b));
      expect(await client.requestPromised('GET', `/sms/${account.name}/outgoing`, { tag: 'crêpes', deliveryReceipt: 0 })).toHaveLength(3);
      expect(await client.requestPromised('GET', `/sms/${account.name}/users/shop/outgoing`)).toEqual(userJob.ids);
      expect(await client.requestPromised('GET', `/sms/${account.name}/jobs`)).toHaveLength(4);

      const [first, second] = report.ids;
      const message = (await client.requestPromised('GET', `/sms/${account.name}/outgoing/${first}`)) as Record<string, unknown>;
      expect(message).toMatchObject({
        id: first,
        receiver: '+33612345678',
        sender: 'MyShop',
        message: text,
        messageLength: [...text].length,
        tag: 'crêpes',
        deliveryReceipt: 0,
        ptt: 254,
        batchID: null,
      });
      expect(message.creationDatetime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0[12]:00$/);
      expect(await client.requestPromised('GET', `/sms/${account.name}/jobs/${second}`)).toMatchObject({ id: second, message: text });

      // Delete one from the history (pending: its credit comes back), stop another as a job.
      expect(await client.requestPromised('DELETE', `/sms/${account.name}/outgoing/${first}`)).toBeNull();
      expect(await client.requestPromised('DELETE', `/sms/${account.name}/jobs/${second}`)).toBeNull();
      expect((await ctx.app.services.accounts.get(SYSTEM_ACTOR, account.name)).credits).toBe(50 - 4 + 2);
      const left = (await client.requestPromised('GET', `/sms/${account.name}/outgoing`)) as number[];
      expect(left).not.toContain(first);
      expect(left).not.toContain(second);

      // A document of the history, downloaded from its getUrl with no OVH header at all.
      const documentId = (await client.requestPromised('GET', `/sms/${account.name}/document`, {
        wayType: 'outgoing',
        tag: 'crêpes',
      })) as string;
      const doc = (await client.requestPromised('GET', `/me/document/${documentId}`)) as { getUrl: string; size: number; name: string };
      expect(doc.getUrl).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${listener.port}/1\\.0/me/document/download\\?id=`));
      const csv = await download(doc.getUrl, tls.cert);
      expect([csv.status, csv.type]).toEqual([200, 'text/csv; charset=utf-8']);
      expect(csv.body.startsWith('id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt')).toBe(true);
      expect(csv.body).toContain(`"${report.ids[2]}";`);
      expect(csv.body).toContain(`"crêpes";"${text}"`);
      expect(doc.size).toBe(Buffer.byteLength(csv.body));

      // Refusals come back as the client's errors: the HTTP status and OVH's message.
      expect(await refusal(client.requestPromised('GET', `/sms/${account.name}/outgoing/${first}`))).toEqual({
        error: 404,
        message: `The requested object (id = ${first}) does not exist`,
      });
      expect(
        await refusal(
          client.requestPromised('POST', `/sms/${account.name}/jobs`, { message: 'Hi', receivers: ['+33612345678'], sender: 'Nobody' }),
        ),
      ).toEqual({ error: 400, message: `"Nobody" is not an enabled sender of ${account.name}` });
      expect(await refusal(client.requestPromised('GET', `/sms/${account.name}/outgoing`, { ptt: 'none' }))).toEqual({
        error: 400,
        message: 'ptt must be a whole number (a carrier code such as 0 no error or 254 pending), got "none"',
      });
      expect(await refusal(client.requestPromised('GET', '/sms/sms-zz99999-9'))).toEqual({
        error: 404,
        message: 'This service does not exist',
      });

      // A key allowed only to read cannot send.
      const reader = await createOvhKeys(ctx.app, owner, { rules: [{ method: 'GET', path: '/sms/*' }] });
      const readOnly = factory({ ...reader, host: '127.0.0.1', port: listener.port });
      expect(await readOnly.requestPromised('GET', `/sms/${account.name}/outgoing`, { tag: 'crêpes' })).toHaveLength(1);
      expect(
        await refusal(
          readOnly.requestPromised('POST', `/sms/${account.name}/jobs`, { message: 'Hi', receivers: ['+33612345678'], sender: 'MyShop' }),
        ),
      ).toMatchObject({ error: 403 });
      expect((await ctx.app.services.accounts.get(SYSTEM_ACTOR, account.name)).credits).toBe(48);
    });
  }
});
