/**
 * Adversarial review of the delivery callbacks (OVH-COMPAT §5): the SSRF guard in every spelling, hostile
 * receivers (silent, trickling, huge, resetting, redirecting), ordering and duplicates per message, URLs
 * changed or users deleted while calls are pending, fairness between accounts, parameter encoding, and the
 * durable outbox across worker restarts and crashed lease holders.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/server/clock.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { checkCallbackUrl } from '../src/server/modules/accounts/sms-users.service.js';
import { createCarrier } from '../src/server/modules/carriers/carrier.js';
import { type CallbacksWorkerDeps, createCallbackClient, createCallbacksWorker } from '../src/server/modules/dispatch/callbacks.service.js';
import {
  fakeClock,
  manualCarrier,
  memoryLog,
  silentLog,
  startDispatcherWithCallbacks,
  waitFor,
} from '../src/server/modules/dispatch/dispatch-testing.js';
import { createDispatcher } from '../src/server/modules/dispatch/dispatcher.service.js';
import { startDispatching } from '../src/server/modules/dispatch/dispatching.js';
import { type AppTestContext, describeEachDialectWithApp } from './app.js';
import { bearer, createSender, createSmsUser, createToken, type SeededAccount, seedCustomerWithAccount } from './factories.js';
import { type HttpListener, startHttpListener } from './http-listener.js';

interface Received {
  path: string;
  /** The raw query string, as it arrived. */
  query: string;
  params: Record<string, string>;
  at: number;
}

/** A receiver recording every request; `behave` answers it (default 200). */
async function receiver(behave?: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void) {
  const received: Received[] = [];
  const listener = await startHttpListener((req, res) => {
    const raw = req.url ?? '/';
    const url = new URL(raw, 'http://x');
    received.push({
      path: url.pathname,
      query: raw.includes('?') ? raw.slice(raw.indexOf('?') + 1) : '',
      params: Object.fromEntries(url.searchParams),
      at: Date.now(),
    });
    if (behave) behave(req, res, received.length);
    else res.writeHead(200).end('ok');
  });
  return { ...listener, received };
}

// -------------------------------------------------------------------------------------------------
describe('callback URL checks and the HTTP client (no database)', () => {
  let target: HttpListener & { received: Received[] };
  let port: number;
  beforeAll(async () => {
    target = await receiver();
    port = Number(new URL(target.base).port);
  });
  afterAll(async () => {
    await target.close();
  });

  it('refuses more spellings of loopback, private and metadata addresses when URLs are set', () => {
    for (const url of [
      'http://0x7f000001/cb',
      'http://017700000001/cb',
      'http://127.0.0.1./cb',
      'http://0/cb',
      'http://169.254.169.254./latest/meta-data/',
      'http://0xa9fea9fe/latest/meta-data/',
      'http://2852039166/latest/meta-data/',
      'http://[::ffff:169.254.169.254]/latest/meta-data/',
      'http://[64:ff9b::169.254.169.254]/latest/meta-data/',
      'http://evil.example@127.0.0.1/cb',
      'http://127.0.0.1:80#@evil.example/cb',
      'http://[fe80::1%25eth0]/cb',
      'http://[ff02::1]/cb',
      'http://198.18.0.1/cb',
      'http://100.127.255.254/cb',
      'http://224.0.0.1/cb',
      'http://255.255.255.255/cb',
      'http://FOO.LocalHost/cb',
      'http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/cb',
      'http://127。0。0。1/cb',
      'http://１２７.０.０.１/cb',
      ' http://127.0.0.1/cb',
      'http://127.0.0.1\t/cb',
    ]) {
      expect(() => checkCallbackUrl(url, false), url).toThrow(/private address|Invalid callback URL/);
    }
    // Credentials before a public host are not a way to a private one.
    expect(checkCallbackUrl('http://127.0.0.1@hooks.example.com/cb', false)).toBe('http://127.0.0.1@hooks.example.com/cb');
    for (const url of ['data:text/plain,x', 'ws://example.com/', 'http:/\\127.0.0.1', `https://example.com/?q=${'a'.repeat(2100)}`]) {
      expect(() => checkCallbackUrl(url, false), url).toThrow(/Invalid callback URL|private address/);
    }
  });

  it('never connects to loopback through names in /etc/hosts, trailing dots, numeric spellings or credentials', async () => {
    const client = createCallbackClient(4);
    try {
      for (const host of [
        'vm',
        'runsc',
        'localhost.',
        'LOCALHOST',
        '127.0.0.1.',
        '0x7f000001',
        '2130706433',
        '[::ffff:7f00:1]',
        'user:pw@127.0.0.1',
        'x.localhost',
      ]) {
        const url = `http://${host}:${port}/cb`;
        await expect(client.get(url, 2000), url).rejects.toThrow();
      }
      expect(target.received).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('redirects (301, 302, 303, 307, 308) are answers, never followed', async () => {
    const codes = [301, 302, 303, 307, 308];
    const redirector = await receiver((_req, res, n) => {
      res.writeHead(codes[(n - 1) % codes.length], { location: `${target.base}/internal` }).end();
    });
    const client = createCallbackClient(2, { allowPrivate: true });
    try {
      const answers: number[] = [];
      for (let i = 0; i < codes.length; i++) answers.push(await client.get(`${redirector.base}/cb`, 2000));
      expect(answers).toEqual(codes);
      expect(target.received).toEqual([]);
    } finally {
      client.close();
      await redirector.close();
    }
  });

  it('discards a huge answer without holding it in memory', async () => {
    const chunk = Buffer.alloc(1 << 20, 0x61);
    const total = 128;
    let written = 0;
    let closed: Promise<void> = Promise.resolve();
    const huge = await receiver((_req, res) => {
      closed = new Promise((resolve) => res.once('close', () => resolve()));
      res.writeHead(200, { 'content-length': String(total * chunk.length) });
      const pump = () => {
        while (written < total) {
          written++;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const client = createCallbackClient(2, { allowPrivate: true });
    try {
      global.gc?.();
      const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers);
      }, 5);
      try {
        expect(await client.get(`${huge.base}/cb`, 20_000)).toBe(200);
        await closed;
      } finally {
        clearInterval(sampler);
      }
      // The server's own write buffers count too; 128 MB kept would be far above this.
      expect(peak - before).toBeLessThan(64 << 20);
    } finally {
      client.close();
      await huge.close();
    }
  });

  it('gives up on a receiver trickling its status line, and closes one trickling its body after a 2xx', async () => {
    const sockets: Socket[] = [];
    const timers: NodeJS.Timeout[] = [];
    const trickler = http.createServer();
    // Raw bytes: a status line one byte every 50 ms, or a 200 whose body never ends.
    trickler.on('connection', (socket) => sockets.push(socket));
    trickler.on('request', (req, res) => {
      const socket = res.socket as Socket;
      if (req.url?.startsWith('/line')) {
        const line = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
        let i = 0;
        const t = setInterval(() => {
          if (socket.destroyed || i >= line.length) return clearInterval(t);
          socket.write(line[i++]);
        }, 50);
        timers.push(t);
        return;
      }
      res.writeHead(200, { 'content-length': '1000000' });
      const t = setInterval(() => {
        if (!res.destroyed) res.write('x');
      }, 20);
      timers.push(t);
    });
    await new Promise<void>((resolve) => trickler.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(trickler.address() as AddressInfo).port}`;
    const client = createCallbackClient(2, { allowPrivate: true });
    try {
      await expect(client.get(`${base}/line`, 300)).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect(await client.get(`${base}/body`, 300)).toBe(200);
      // The never-ending body does not keep a socket forever: the client closes it.
      await waitFor(() => sockets.length === 2 && sockets.every((s) => s.destroyed || s.closed), 'both sockets closed by the client', 5000);
    } finally {
      client.close();
      for (const t of timers) clearInterval(t);
      trickler.closeAllConnections();
      await new Promise((resolve) => trickler.close(resolve));
    }
  });

  it('a reset connection is an error, not a crash, and a fresh request follows', async () => {
    let n = 0;
    const resetting = await receiver((req, res) => {
      n++;
      if (n === 1) return void req.socket.destroy();
      res.writeHead(204).end();
    });
    const client = createCallbackClient(2, { allowPrivate: true });
    try {
      await expect(client.get(`${resetting.base}/cb`, 2000)).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|EPIPE|HPE/) });
      expect(await client.get(`${resetting.base}/cb`, 2000)).toBe(204);
    } finally {
      client.close();
      await resetting.close();
    }
  });
});

describe('callback log lines', () => {
  it('never write the password of a callback URL with credentials', async () => {
    const { log, lines } = memoryLog();
    const secret = 's3cr3t-Pa55';
    let handed = false;
    const worker = createCallbacksWorker({
      repository: {
        claimDue: async () => {
          if (handed) return [];
          handed = true;
          return [
            {
              id: 1,
              outgoingId: 7,
              url: `http://hook:${secret}@127.0.0.1:9/cb`,
              params: { id: '7', status: 'sent' },
              createdAt: 0,
              attempts: 0,
            },
            {
              id: 2,
              outgoingId: 8,
              url: `http://hook:${secret}@127.0.0.1:9/cb`,
              params: { id: '8', status: 'sent' },
              createdAt: 0,
              attempts: 5,
            },
          ];
        },
        completeAll: async () => {},
        retryLater: async () => {},
        drop: async () => {},
        release: async () => {},
      },
      clock: { now: () => 24 * 3_600_000 + 1 },
      owner: 'log-test',
      log,
      pollMs: 10,
      get: async (url) => (url.includes('id=7') ? Promise.reject(Object.assign(new Error('refused'), { code: 'PRIVATE_ADDRESS' })) : 500),
    });
    worker.start();
    try {
      await waitFor(
        () => lines.filter((l) => l.msg.startsWith('callback: dropped') || l.msg.startsWith('callback: given up')).length === 2,
        'both logged',
      );
    } finally {
      await worker.stop(100);
    }
    expect(JSON.stringify(lines)).not.toContain(secret);
  });
});

// -------------------------------------------------------------------------------------------------
/** Sends as an SMS user with `callbackUrl`; returns its login and a `send(receivers, tag)`. */
async function userSending(ctx: AppTestContext, seeded: SeededAccount, sender: string, callbackUrl: string | null) {
  const login = `cb-${Math.random().toString(36).slice(2, 8)}`;
  await createSmsUser(ctx.app, seeded.account, { login, callbackUrl });
  const auth = bearer(await createToken(ctx.app, seeded.account, { user: login }));
  const send = async (receivers: string[], tag?: string): Promise<number[]> => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${seeded.account.name}/jobs`,
      headers: auth,
      payload: { sender, noStopClause: true, message: 'Hello', receivers, tag },
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().ids as number[];
  };
  return { login, send };
}

async function seedSending(ctx: AppTestContext) {
  const seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 10_000 } });
  await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
  return seeded;
}

const receiversFrom = (start: number, count: number) =>
  Array.from({ length: count }, (_, i) => `+336${String(start + i).padStart(8, '0')}`);

// -------------------------------------------------------------------------------------------------
describeEachDialectWithApp(
  'callbacks with the SSRF guard on (RELAIS_CALLBACK_PRIVATE=deny)',
  (ctx) => {
    let target: HttpListener & { received: Received[] };
    let port: number;
    beforeAll(async () => {
      target = await receiver();
      port = Number(new URL(target.base).port);
    });
    afterAll(async () => {
      await target.close();
    });

    it('a name resolving to loopback passes the URL check but is never called: the outbox is emptied', async () => {
      const seeded = await seedSending(ctx);
      // `vm` is 127.0.0.1 in /etc/hosts: only the connect-time check can catch it.
      const { send } = await userSending(ctx, seeded, 'MyShop', `http://vm:${port}/cb`);
      // A URL stored while private addresses were allowed, then the operator switched to deny.
      const other = await userSending(ctx, seeded, 'MyShop', null);
      await ctx.database.db
        .updateTable('sms_users')
        .set({ callback_url: `http://2130706433:${port}/cb` })
        .where('login', '=', other.login)
        .execute();
      expect(ctx.app.services.config.callbackPrivate).toBe(false);
      const dispatching = await startDispatching({
        carrierSpec: 'simulator?receipt_delay=0&tps=1000000',
        services: ctx.app.services,
        clock: { now: () => Date.now() },
        log: silentLog,
      });
      try {
        const ids = [...(await send(receiversFrom(12345001, 3))), ...(await other.send(receiversFrom(12345011, 3)))];
        await waitFor(async () => {
          const rows = await ctx.database.db.selectFrom('outgoing').select('status').where('id', 'in', ids).execute();
          return rows.every((r) => r.status === 'delivered');
        }, 'all delivered');
        await waitFor(
          async () => (await ctx.database.db.selectFrom('callback_outbox').select('id').execute()).length === 0,
          'the outbox emptied',
        );
        expect(target.received).toEqual([]);
      } finally {
        await dispatching.stop();
      }
    });
  },
  { config: { callbackPrivate: false } },
);

// -------------------------------------------------------------------------------------------------
const clock = fakeClock();

describeEachDialectWithApp(
  'callbacks under attack',
  (ctx) => {
    let seeded: SeededAccount;
    const stops: (() => Promise<void>)[] = [];
    const listeners: HttpListener[] = [];

    beforeAll(async () => {
      seeded = await seedSending(ctx);
    });

    afterEach(async () => {
      for (const stop of stops.splice(0).reverse()) await stop();
      for (const l of listeners.splice(0)) await l.close();
      await ctx.database.db.deleteFrom('callback_outbox').execute();
    });

    async function listen(behave?: Parameters<typeof receiver>[0]) {
      const r = await receiver(behave);
      listeners.push(r);
      return r;
    }

    /** The simulator, a dispatcher and a callbacks worker on the test's clock. */
    async function start(
      workerOptions: Partial<CallbacksWorkerDeps> = {},
      carrier = createCarrier('simulator?receipt_delay=0&tps=1000000', { clock: systemClock, log: silentLog }),
    ) {
      const { log, lines } = memoryLog();
      const { worker, dispatcher, stop } = await startDispatcherWithCallbacks({
        services: ctx.app.services,
        carrier,
        clock,
        log,
        worker: workerOptions,
        workerStopMs: 500,
      });
      stops.push(stop);
      return { worker, dispatcher, lines };
    }

    const outbox = (id: number) => ctx.app.services.callbacks.findByOutgoing(id);
    const statusOf = async (id: number) =>
      (await ctx.database.db.selectFrom('outgoing').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

    it('passes tags with &, =, +, #, % and unicode intact, one parameter each', async () => {
      const r = await listen();
      const { send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/cb`);
      await start();
      const tag = 'a&b=c+d #e%20f é✓😀';
      const [id] = await send(['+33612345001'], tag);
      await waitFor(() => r.received.length === 2, 'sent and delivered');
      for (const call of r.received) {
        expect(call.params).toMatchObject({ id: String(id), tag });
        expect(Object.keys(call.params).sort()).toEqual(['date', 'description', 'descriptionDlr', 'id', 'ptt', 'status', 'tag']);
      }
    });

    it('keeps the customer’s own query string as written (only appends the parameters)', async () => {
      const r = await listen();
      // Already valid URL syntax, e.g. a signed URL: nothing to re-encode.
      const { send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/cb?sig=a/b:c~d,e&flag`);
      await start();
      await send(['+33612345002']);
      await waitFor(() => r.received.length === 2, 'sent and delivered');
      expect(r.received[0].query).toMatch(/^sig=a\/b:c~d,e&flag&id=/);
    });

    it('a redirect is retried as a failure, its target never called', async () => {
      const internal = await listen();
      const r = await listen((_req, res) => res.writeHead(307, { location: `${internal.base}/admin` }).end());
      const { send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/cb`);
      await start();
      const [id] = await send(['+33612345003']);
      const row = await waitFor(async () => (await outbox(id)).find((x) => x.attempts === 1), 'a failed attempt');
      expect(row.last_error).toBe('HTTP 307');
      expect(internal.received).toEqual([]);
    });

    it('receivers that reset the connection then answer: delivered once each, in order, outbox emptied', async () => {
      let n = 0;
      const r = await listen((req, res) => {
        n++;
        if (n <= 2) return void req.socket.destroy();
        res.writeHead(200).end();
      });
      const { send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/cb`);
      const { worker } = await start();
      const [id] = await send(['+33612345004']);
      await waitFor(() => r.received.length >= 1, 'a first attempt');
      await waitFor(async () => {
        clock.advance(5000);
        worker.wake();
        return (await outbox(id)).length === 0;
      }, 'the outbox emptied');
      expect(r.received.map((c) => c.params.status)).toEqual(['sent', 'sent', 'sent', 'delivered']);
    });

    it('500 forever: backs off (capped at 15 min and at the 24-hour deadline), then drops both rows in order', async () => {
      const r = await listen((_req, res) => res.writeHead(500).end());
      const { send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/cb`);
      const { worker, lines } = await start();
      const [id] = await send(['+33612345005']);
      const created = (
        await waitFor(async () => {
          const rows = await outbox(id);
          return rows.length === 2 && rows[0].attempts === 1 ? rows[0] : undefined;
        }, 'first failure, both rows queued')
      ).created_at;
      const delays: number[] = [];
      let last = clock.now();
      for (let i = 0; i < 200 && (await outbox(id)).length === 2; i++) {
        const [row] = await outbox(id);
        delays.push(row.next_attempt_at - last);
        expect(row.next_attempt_at).toBeLessThanOrEqual(created + 24 * 3_600_000);
        clock.t = row.next_attempt_at;
        last = clock.t;
        const attempts = row.attempts;
        worker.wake();
        await waitFor(async () => {
          const rows = await outbox(id);
          return rows.length < 2 || rows[0].attempts > attempts;
        }, 'the next attempt');
      }
      expect(Math.max(...delays)).toBeLessThanOrEqual(15 * 60_000);
      expect(delays.slice(0, 3)).toEqual([2000, 4000, 8000]);
      // `delivered` only after `sent` was given up; then it too is given up (its own 24 hours are over).
      await waitFor(async () => {
        clock.advance(60_000);
        worker.wake();
        return (await outbox(id)).length === 0;
      }, 'both dropped');
      const statuses = r.received.map((c) => c.params.status);
      expect(statuses.indexOf('delivered')).toBeGreaterThan(statuses.lastIndexOf('sent'));
      expect(lines.filter((l) => l.msg.startsWith('callback: given up') && (l.obj as { id: number }).id === id).length).toBe(2);
    });

    it('duplicated and intermediate carrier receipts make no duplicate callback', async () => {
      const r = await listen();
      const { send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/cb`);
      const manual = manualCarrier();
      await start({}, manual.carrier);
      const [id] = await send(['+33612345006']);
      await waitFor(() => manual.pending.length === 1, 'a submit');
      manual.acceptAll('dup');
      await waitFor(async () => (await statusOf(id)) === 'sent', 'sent');
      const receipt = { carrierMessageId: `dup-${id}`, at: clock.now(), errorCode: null, errorText: null };
      await manual.receipt({ ...receipt, status: 'sent' });
      await manual.receipt({ ...receipt, status: 'delivered' });
      await manual.receipt({ ...receipt, status: 'delivered' });
      await manual.receipt({ ...receipt, status: 'failed', errorCode: '1', errorText: 'UNDELIV' });
      await waitFor(async () => r.received.length >= 2 && (await outbox(id)).length === 0, 'callbacks done');
      expect(r.received.map((c) => c.params.status)).toEqual(['sent', 'delivered']);
    });

    it('each account’s callbacks go to its own URL only', async () => {
      const other = await seedSending(ctx);
      const ra = await listen();
      const rb = await listen();
      const a = await userSending(ctx, seeded, 'MyShop', `${ra.base}/a`);
      const b = await userSending(ctx, other, 'MyShop', `${rb.base}/b`);
      await start();
      const [idsA, idsB] = await Promise.all([a.send(receiversFrom(12346000, 10)), b.send(receiversFrom(12347000, 10))]);
      await waitFor(() => ra.received.length === 20 && rb.received.length === 20, 'every callback');
      expect(new Set(ra.received.map((c) => Number(c.params.id)))).toEqual(new Set(idsA));
      expect(new Set(rb.received.map((c) => Number(c.params.id)))).toEqual(new Set(idsB));
    });

    it('a callback URL cleared while calls are pending is not called again', async () => {
      const r = await listen((_req, res) => res.writeHead(503).end());
      const { login, send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/old`);
      const { worker } = await start();
      const [id] = await send(['+33612345007']);
      await waitFor(async () => (await outbox(id))[0]?.attempts === 1, 'a failed attempt');
      await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, seeded.account.name, login, { callbackUrl: null });
      const before = r.received.length;
      clock.advance(60_000);
      worker.wake();
      await waitFor(async () => {
        const rows = await outbox(id);
        return rows.length === 0 || rows[0].attempts >= 2;
      }, 'the pending row handled');
      expect(r.received.length - before).toBe(0);
    });

    it('a deleted SMS user’s URL is not called again for its pending callbacks', async () => {
      const r = await listen((_req, res) => res.writeHead(503).end());
      const { login, send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/gone`);
      const { worker } = await start();
      const [id] = await send(['+33612345008']);
      await waitFor(async () => (await outbox(id))[0]?.attempts === 1, 'a failed attempt');
      await ctx.app.services.smsUsers.delete(SYSTEM_ACTOR, seeded.account.name, login);
      const before = r.received.length;
      clock.advance(60_000);
      worker.wake();
      await waitFor(async () => {
        const rows = await outbox(id);
        return rows.length === 0 || rows[0].attempts >= 2;
      }, 'the pending row handled');
      expect(r.received.length - before).toBe(0);
    });

    it('the outbox survives a worker stop while the receiver is down; a new worker empties it in order', async () => {
      let up = false;
      const r = await listen((_req, res) => res.writeHead(up ? 200 : 502).end());
      const { send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/cb`);
      await start();
      const ids = await send(receiversFrom(12348000, 5));
      await waitFor(
        async () => (await Promise.all(ids.map(outbox))).every((rows) => rows.length === 2 && rows[0].attempts >= 1),
        'each failed once',
      );
      for (const stop of stops.splice(0)) await stop();
      up = true;
      clock.advance(60_000);
      const started = r.received.length;
      await start({ owner: 'cb-second' });
      await waitFor(async () => (await Promise.all(ids.map(outbox))).every((rows) => rows.length === 0), 'the outbox emptied');
      const after = r.received.slice(started);
      for (const id of ids)
        expect(after.filter((c) => c.params.id === String(id)).map((c) => c.params.status)).toEqual(['sent', 'delivered']);
    });

    it('rows leased by a crashed process are called by another once the lease runs out', async () => {
      const r = await listen();
      const { send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/cb`);
      // The dispatcher only (no worker): the rows wait in the outbox.
      const carrier = createCarrier('simulator?receipt_delay=0&tps=1000000', { clock: systemClock, log: silentLog });
      const dispatcher = createDispatcher({
        repository: ctx.app.services.dispatch,
        carrier,
        clock,
        owner: 'd-crash',
        log: silentLog,
        pollMs: 20,
      });
      const unsubscribe = ctx.app.services.onAccepted(() => dispatcher.wake());
      await dispatcher.start();
      const [id] = await send(['+33612345009']);
      await waitFor(async () => (await outbox(id)).length === 2, 'sent and delivered queued');
      unsubscribe();
      await dispatcher.stop();
      await carrier.close();
      // A process claims the first row, then dies.
      expect((await ctx.app.services.callbacks.claimDue('crashed', clock.now(), 10, 60_000)).map((c) => c.outgoingId)).toContain(id);
      const { worker } = await start({ owner: 'survivor' });
      clock.advance(60_001);
      worker.wake();
      await waitFor(async () => (await outbox(id)).length === 0, 'the outbox emptied');
      expect(r.received.filter((c) => c.params.id === String(id)).map((c) => c.params.status)).toEqual(['sent', 'delivered']);
    });

    it('two workers on one outbox: every callback exactly once, never two of a message at once', async () => {
      const open = new Map<string, number>();
      const overlaps: string[] = [];
      const r = await listen((req, res) => {
        const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id') ?? '';
        if (open.get(id)) overlaps.push(id);
        open.set(id, 1);
        setTimeout(() => {
          open.set(id, 0);
          res.writeHead(200).end();
        }, 5);
      });
      const { send } = await userSending(ctx, seeded, 'MyShop', `${r.base}/cb`);
      await start({ owner: 'w1', concurrency: 8 });
      const extra = createCallbacksWorker({
        repository: ctx.app.services.callbacks,
        clock,
        owner: 'w2',
        log: silentLog,
        pollMs: 10,
        concurrency: 8,
        allowPrivate: true,
      });
      extra.start();
      stops.push(() => extra.stop(500));
      const ids = await send(receiversFrom(12349000, 40));
      await waitFor(() => r.received.length >= 80, 'every callback');
      await waitFor(
        async () => (await ctx.database.db.selectFrom('callback_outbox').select('id').execute()).length === 0,
        'the outbox emptied',
      );
      expect(r.received.length).toBe(80);
      for (const id of ids)
        expect(r.received.filter((c) => c.params.id === String(id)).map((c) => c.params.status)).toEqual(['sent', 'delivered']);
      expect(overlaps).toEqual([]);
    });

    it('one account’s silent receiver blocks neither the dispatcher nor another account’s callbacks (real wiring)', async () => {
      const victim = await seedSending(ctx);
      const hung: http.ServerResponse[] = [];
      let closedHung = 0;
      const blackHole = await listen((_req, res) => {
        hung.push(res);
        res.once('close', () => closedHung++);
      });
      const fine = await listen();
      const attacker = await userSending(ctx, seeded, 'MyShop', `${blackHole.base}/hang`);
      const other = await userSending(ctx, victim, 'MyShop', `${fine.base}/cb`);
      // The production worker: its own defaults (128 calls at once, 10 s timeout), on the app's clock (the
      // earlier tests moved it on: messages accepted now are due by it).
      const dispatching = await startDispatching({
        carrierSpec: 'simulator?receipt_delay=0&tps=1000000',
        services: ctx.app.services,
        clock,
        log: silentLog,
        stopTimeoutMs: 500,
      });
      stops.push(() => dispatching.stop());
      stops.push(async () => blackHole.server.closeAllConnections());
      await attacker.send(receiversFrom(12350000, 80));
      // At most half of the worker's 128 calls go to one URL at once: 64 calls hang, the rest wait in hand.
      await waitFor(() => hung.length >= 64, 'the silent receiver holding its share of the call slots');
      const [victimId] = await other.send(['+33612351000']);
      await waitFor(async () => (await statusOf(victimId)) !== 'pending', 'the victim’s message dispatched');
      const closedWhenDispatched = closedHung;
      await waitFor(() => fine.received.length > 0, 'the victim’s first callback', 25_000);
      // Both happened while the attacker's calls were still hanging (none had timed out yet).
      expect(closedWhenDispatched).toBe(0);
      expect(closedHung).toBe(0);
    });
  },
  { clock },
);
