import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import {
  bearer,
  createSender,
  createSmsUser,
  createToken,
  type SeededAccount,
  seedCustomerWithAccount,
} from '../../../../test/factories.js';
import { type HttpListener, startHttpListener } from '../../../../test/http-listener.js';
import { systemClock } from '../../clock.js';
import { createCarrier } from '../carriers/carrier.js';
import { type CallbacksWorkerDeps, callbackRetryDelayMs, callbackUrl } from './callbacks.service.js';
import { fakeClock, memoryLog, startDispatcherWithCallbacks, waitFor } from './dispatch-testing.js';

describe('callback URL and back-off', () => {
  it('appends the parameters to the URL’s own query string', () => {
    expect(callbackUrl('https://example.com/cb?key=a b', { id: '1', date: '2024-06-13T15:03:57+02:00', descriptionDlr: 'sent' })).toBe(
      'https://example.com/cb?key=a%20b&id=1&date=2024-06-13T15%3A03%3A57%2B02%3A00&descriptionDlr=sent',
    );
  });

  it('doubles from 2 s up to 15 minutes', () => {
    expect([1, 2, 3, 10, 20].map(callbackRetryDelayMs)).toEqual([2000, 4000, 8000, 900_000, 900_000]);
  });
});

interface Call {
  path: string;
  params: Record<string, string>;
}

const clock = fakeClock();

describeEachDialectWithApp(
  'delivery callbacks',
  (ctx) => {
    let seeded: SeededAccount;
    let listener: HttpListener;
    let server: HttpListener['server'];
    let base: string;
    const calls: Call[] = [];
    /** Calls to /hang, never answered. */
    const hung: Call[] = [];
    let flakyFailures = 0;
    /** Calls unanswered, per message id; a call arriving while one of its message is unanswered breaks the order. */
    const open = new Map<string, number>();
    const overlaps: string[] = [];
    const stops: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 10_000 } });
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
      listener = await startHttpListener((req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const call = { path: url.pathname, params: Object.fromEntries(url.searchParams) };
        if (url.pathname === '/hang') return void hung.push(call); // never answers
        calls.push(call);
        const id = call.params.id ?? '';
        if (open.get(id)) overlaps.push(id);
        open.set(id, (open.get(id) ?? 0) + 1);
        const answer = (status: number) => {
          open.set(id, (open.get(id) ?? 1) - 1);
          res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
        };
        if (url.pathname === '/down') return answer(503);
        if (url.pathname === '/flaky' && flakyFailures < 2) {
          flakyFailures++;
          return answer(500);
        }
        // Slow to acknowledge `sent`: were the order per message not kept, `delivered` would overtake it.
        if (call.params.status === 'sent') setTimeout(() => answer(200), 30);
        else answer(200);
      });
      ({ server, base } = listener);
    });

    afterAll(async () => {
      await listener.close();
    });

    afterEach(async () => {
      for (const stop of stops.splice(0)) await stop();
    });

    /** A user whose callback URL is `path` on the listener, and a way to send as that user. */
    async function userWithCallback(path: string) {
      const login = `cb-${Math.random().toString(36).slice(2, 8)}`;
      await createSmsUser(ctx.app, seeded.account, { login, callbackUrl: `${base}${path}` });
      const auth = bearer(await createToken(ctx.app, seeded.account, { user: login }));
      return async (receivers: string[], tag?: string): Promise<number[]> => {
        const res = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/accounts/${seeded.account.name}/jobs`,
          headers: auth,
          payload: { sender: 'MyShop', noStopClause: true, message: 'Hello', receivers, tag },
        });
        expect(res.statusCode, res.body).toBe(200);
        return res.json().ids as number[];
      };
    }

    /** The simulator, a dispatcher and a callbacks worker, all on the test's clock for due dates and back-off. */
    async function start(workerOptions: Partial<CallbacksWorkerDeps> = {}) {
      const { log, lines } = memoryLog();
      const carrier = createCarrier('simulator?receipt_delay=0&tps=1000000', { clock: systemClock, log });
      const { worker, dispatcher, stop } = await startDispatcherWithCallbacks({
        services: ctx.app.services,
        carrier,
        clock,
        log,
        worker: workerOptions,
      });
      stops.push(stop);
      return { worker, dispatcher, lines };
    }

    const callsFor = (id: number) => calls.filter((c) => c.params.id === String(id));
    const outbox = (id: number) => ctx.app.services.callbacks.findByOutgoing(id);

    it('calls the SMS user’s URL with OVH’s parameters on each status change, in order per message', async () => {
      const send = await userWithCallback('/ok?key=abc');
      await start();
      const [a, b, failed] = await send(['+33612345701', '+33612345702', '+33612340000'], 'campaign-7');
      await waitFor(() => [a, b, failed].every((id) => callsFor(id).length === 2), 'two calls per message');
      for (const id of [a, b]) {
        expect(callsFor(id).map((c) => c.params)).toEqual([
          {
            key: 'abc',
            id: String(id),
            ptt: '0',
            date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/),
            description: '8',
            descriptionDlr: 'sent',
            status: 'sent',
            tag: 'campaign-7',
          },
          {
            key: 'abc',
            id: String(id),
            ptt: '0',
            date: expect.any(String),
            description: '1',
            descriptionDlr: 'delivered',
            status: 'delivered',
            tag: 'campaign-7',
          },
        ]);
      }
      expect(callsFor(failed).map((c) => [c.params.status, c.params.ptt, c.params.description, c.params.descriptionDlr])).toEqual([
        ['sent', '0', '8', 'sent'],
        ['failed', '3', '2', 'destination unreachable'],
      ]);
      expect(callsFor(a)[0].path).toBe('/ok');
      await waitFor(async () => (await outbox(a)).length === 0, 'the outbox emptied');
      expect(overlaps).toEqual([]);
    });

    it('retries a failing URL with back-off, keeping the order: the third attempt succeeds', async () => {
      const send = await userWithCallback('/flaky');
      const { worker } = await start();
      const [id] = await send(['+33612345711']);
      const first = await waitFor(async () => (await outbox(id)).find((r) => r.attempts === 1), 'the first attempt failed');
      expect(first).toMatchObject({ last_error: 'HTTP 500', next_attempt_at: clock.now() + 2000 });
      expect(JSON.parse(first.params).status).toBe('sent');
      clock.advance(2000);
      worker.wake();
      const second = await waitFor(async () => (await outbox(id)).find((r) => r.attempts === 2), 'the second attempt failed');
      expect(second.next_attempt_at).toBe(clock.now() + 4000);
      // `delivered` waits behind `sent`.
      expect(callsFor(id).map((c) => c.params.status)).toEqual(['sent', 'sent']);
      clock.advance(4000);
      worker.wake();
      await waitFor(() => callsFor(id).length === 4, 'sent, then delivered');
      expect(callsFor(id).map((c) => c.params.status)).toEqual(['sent', 'sent', 'sent', 'delivered']);
      await waitFor(async () => (await outbox(id)).length === 0, 'the outbox emptied');
    });

    it('gives up 24 hours after the status change, with a log line', async () => {
      const send = await userWithCallback('/down');
      const { worker, lines } = await start();
      const [id] = await send(['+33612345721']);
      await waitFor(async () => (await outbox(id)).length === 2 && (await outbox(id))[0].attempts === 1, 'a failed attempt');
      clock.advance(24 * 3_600_000);
      worker.wake();
      await waitFor(async () => (await outbox(id)).length === 0, 'both calls given up');
      expect(lines.filter((l) => l.msg.startsWith('callback: given up')).map((l) => (l.obj as { id: number }).id)).toEqual([id, id]);
      expect(callsFor(id).map((c) => c.params.status)).toEqual(['sent', 'sent', 'delivered']);
    });

    it('calls concurrently over kept-alive connections and deletes the delivered rows in batches, with the next claim', async () => {
      const send = await userWithCallback('/ok');
      let connections = 0;
      const onConnection = () => connections++;
      server.on('connection', onConnection);
      const deleted: number[] = [];
      const repository = ctx.app.services.callbacks;
      try {
        await start({
          repository: {
            claimDue: (owner, now, limit, leaseMs, completed = [], excludeUrls = []) => {
              if (completed.length > 0) deleted.push(completed.length);
              return repository.claimDue(owner, now, limit, leaseMs, completed, excludeUrls);
            },
            retryLater: (...a) => repository.retryLater(...a),
            drop: (...a) => repository.drop(...a),
            release: (...a) => repository.release(...a),
            completeAll: (ids) => {
              deleted.push(ids.length);
              return repository.completeAll(ids);
            },
          },
        });
        const receivers = Array.from({ length: 100 }, (_, i) => `+336123458${String(i).padStart(2, '0')}`);
        const ids = await send(receivers);
        await waitFor(() => ids.every((id) => callsFor(id).length === 2), 'sent and delivered called for each');
        await waitFor(async () => (await outbox(ids[99])).length === 0, 'the outbox emptied');
        for (const id of ids) expect(callsFor(id).map((c) => c.params.status)).toEqual(['sent', 'delivered']);
        expect(deleted.reduce((a, b) => a + b, 0)).toBe(200);
        expect(Math.max(...deleted)).toBeGreaterThan(1);
        expect(connections).toBeLessThan(100);
        expect(overlaps).toEqual([]);
      } finally {
        server.off('connection', onConnection);
      }
    });

    it('never calls a loopback URL unless private addresses are allowed: the callbacks are dropped', async () => {
      const send = await userWithCallback('/ok?private=1');
      const { lines } = await start({ allowPrivate: false });
      const [id] = await send(['+33612345741']);
      await waitFor(
        () => lines.filter((l) => l.msg.startsWith('callback: dropped') && (l.obj as { id: number }).id === id).length === 2,
        'sent and delivered dropped',
      );
      expect(callsFor(id)).toEqual([]);
      expect(await outbox(id)).toEqual([]);
    });

    it('counts no answer within the timeout as a failure', async () => {
      const send = await userWithCallback('/hang');
      await start({ timeoutMs: 200 });
      const [id] = await send(['+33612345731']);
      const row = await waitFor(async () => (await outbox(id)).find((r) => r.attempts === 1), 'a timed-out attempt');
      expect(row.last_error).toBe('no answer within 200 ms');
    });

    it('a URL none of whose calls end gives its rows in hand back and is left out: another URL is called meanwhile', async () => {
      const silent = await userWithCallback('/hang');
      const fine = await userWithCallback('/ok');
      const hungBefore = hung.length;
      // Two calls to a URL at once (4 / 2); no answer for 60 s, so no timeout: only the stall (50 ms) acts.
      const { lines } = await start({ timeoutMs: 60_000, concurrency: 4, stallMs: 50, suspendMs: 600_000 });
      const silentIds = await silent(Array.from({ length: 6 }, (_, i) => `+336123460${String(i).padStart(2, '0')}`));
      await waitFor(() => lines.some((l) => l.msg === 'callback: URL slow to answer, its rows in hand given back'), 'stalled');
      const [fineId] = await fine(['+33612346099']);
      await waitFor(() => callsFor(fineId).length === 2, 'the other URL called, sent and delivered');
      expect(hung.length - hungBefore).toBe(2);
      const firstRows = await Promise.all(silentIds.map(async (id) => (await outbox(id))[0]));
      expect(firstRows.map((r) => r.attempts)).toEqual([0, 0, 0, 0, 0, 0]);
      // The silent URL's rows leave with this test (the next ones count their own calls to /hang).
      for (const id of silentIds) for (const r of await outbox(id)) await ctx.app.services.callbacks.drop(r.id);
    });

    it('calls a silent URL half its concurrency at once, then suspends it: the rows in hand go back unattempted', async () => {
      const send = await userWithCallback('/hang');
      const hungBefore = hung.length;
      const { worker, lines } = await start({ timeoutMs: 200, concurrency: 4, suspendMs: 600_000 });
      const ids = await send(Array.from({ length: 20 }, (_, i) => `+336123459${String(i).padStart(2, '0')}`));
      const firstRows = async () => Promise.all(ids.map(async (id) => (await outbox(id))[0]));
      // Two calls at once (4 / 2), both unanswered: the URL is suspended; the rows in hand are given back
      // for the end of the suspension, and the URL's other rows are no longer claimed by this worker.
      await waitFor(async () => (await firstRows()).filter((r) => r?.attempts === 1).length === 2, 'two attempts');
      await waitFor(() => lines.filter((l) => l.msg === 'callback: URL left a call unanswered, suspended').length === 2, 'suspended');
      const rows = await firstRows();
      expect(rows.filter((r) => r.attempts === 0)).toHaveLength(18);
      expect(rows.filter((r) => r.attempts === 0 && r.next_attempt_at === clock.now() + 600_000).length).toBeGreaterThan(0);
      expect(hung.length - hungBefore).toBe(2);
      // Once the suspension is over, the URL is called again (two at a time, suspended again).
      clock.advance(600_001);
      worker.wake();
      await waitFor(() => hung.length - hungBefore > 2, 'the URL called again');
    });
  },
  { clock },
);
