import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialectWithApp, testConfig } from '../../../../test/app.js';
import {
  bearer,
  createSender,
  createSmsUser,
  createToken,
  type SeededAccount,
  seedCustomerWithAccount,
} from '../../../../test/factories.js';
import { type HttpListener, startHttpListener } from '../../../../test/http-listener.js';
import { memoryLog, waitFor } from './dispatch-testing.js';
import { type DispatchThread, type FromThread, forwardingLog, startDispatchThread } from './dispatch-thread.js';

describe("the dispatcher's thread's log", () => {
  /** Posts as postMessage does: a structured clone, which throws on what cannot cross threads. */
  const sink = () => {
    const lines: FromThread[] = [];
    return { lines, post: (message: FromThread) => lines.push(structuredClone(message)) };
  };

  it('forwards the lines at or above the level, as they are', () => {
    const { lines, post } = sink();
    const log = forwardingLog(post, 'info');
    log.debug({ id: 1 }, 'detail');
    log.info({ id: 2, carrier: 'simulator' }, 'started');
    log.error({ id: 3 }, 'failed');
    expect(lines).toEqual([
      { type: 'log', level: 'info', obj: { id: 2, carrier: 'simulator' }, msg: 'started' },
      { type: 'log', level: 'error', obj: { id: 3 }, msg: 'failed' },
    ]);
  });

  it('keeps a line whose fields cannot cross threads: a function by its name, an Error by its message and code', () => {
    const { lines, post } = sink();
    const log = forwardingLog(post, 'warn');
    const err = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    function onData() {}
    log.warn({ id: 7, onData, err, nested: { socket: { write: onData } } }, 'carrier: connection lost');
    expect(lines).toHaveLength(1);
    const [line] = lines as Extract<FromThread, { type: 'log' }>[];
    expect(line.msg).toBe('carrier: connection lost');
    expect(line.obj).toMatchObject({
      id: 7,
      onData: '[function onData]',
      err: { name: 'Error', message: 'connection reset', code: 'ECONNRESET' },
      nested: '[object Object]',
    });
  });
});

/** bin/relais.js, the thread's script as `relais serve` gives it (it runs the server's bundle). */
const ENTRY = new URL('../../../../bin/relais.js', import.meta.url);

describeEachDialectWithApp('the dispatcher on a thread of its own', (ctx) => {
  let seeded: SeededAccount;
  let listener: HttpListener;
  const calls: { status?: string; id?: string }[] = [];
  const running: DispatchThread[] = [];

  beforeAll(async () => {
    seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 10_000 } });
    await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
    listener = await startHttpListener((req, res) => {
      const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
      calls.push({ status: params.get('status') ?? undefined, id: params.get('id') ?? undefined });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });

  afterAll(async () => {
    await listener.close();
  });

  afterEach(async () => {
    ctx.app.services.sending.acceptThrough(null);
    for (const thread of running.splice(0)) await thread.stop();
  });

  const start = async (
    carrier: string,
    log = memoryLog().log,
    restart?: Parameters<typeof startDispatchThread>[0]['restart'],
    stopTimeoutMs = 500,
  ) => {
    const thread = await startDispatchThread({
      entry: ENTRY,
      config: testConfig({ databaseUrl: ctx.database.url, carrier, logLevel: 'info' }),
      log,
      onAccepted: ctx.app.services.onAccepted,
      stopTimeoutMs,
      restart,
    });
    running.push(thread);
    // As relais serve does: accepted jobs are written on the thread's connection.
    ctx.app.services.sending.acceptThrough((jobs) => thread.acceptBatch(jobs));
    return thread;
  };

  const post = (auth: Record<string, string>, receivers: string[], account = seeded.account.name) =>
    ctx.app.inject({
      method: 'POST',
      url: `/api/v1/accounts/${account}/jobs`,
      headers: auth,
      payload: { sender: 'MyShop', noStopClause: true, message: 'Hello from the serving thread', receivers },
    });
  const send = async (auth: Record<string, string>, receivers: string[]): Promise<number[]> => {
    const res = await post(auth, receivers);
    expect(res.statusCode, res.body).toBe(200);
    return res.json().ids as number[];
  };
  const creditsOf = async (name: string) =>
    Number((await ctx.database.db.selectFrom('accounts').select('credits').where('name', '=', name).executeTakeFirstOrThrow()).credits);

  const statusOf = async (id: number): Promise<string | undefined> => {
    const res = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/accounts/${seeded.account.name}/outgoing/${id}`,
      headers: seeded.auth,
    });
    return res.statusCode === 200 ? (res.json() as { status: string }).status : undefined;
  };

  it('sends what the serving thread accepts, records the receipts and calls the SMS user back; its log reaches the process log', async () => {
    const { log, lines } = memoryLog();
    await start('simulator?receipt_delay=20', log);
    expect(lines.some((l) => l.level === 'warn' && l.msg.startsWith('carrier: built-in SIMULATOR'))).toBe(true);
    expect(lines.some((l) => l.msg === 'dispatcher: started')).toBe(true);

    await createSmsUser(ctx.app, seeded.account, { login: 'threaded', callbackUrl: `${listener.base}/cb` });
    const auth = bearer(await createToken(ctx.app, seeded.account, { user: 'threaded' }));
    const ids = await send(auth, ['+33601020304', '+33601020305', '+33601020306']);
    // A number of the simulator's documented failing pattern: failed with its error, by the thread too.
    const [failing] = await send(auth, ['+33600000001']);
    for (const id of ids) await waitFor(async () => (await statusOf(id)) === 'delivered', `message ${id} delivered`);
    await waitFor(async () => (await statusOf(failing)) === 'failed', `message ${failing} failed`);
    await waitFor(() => ids.every((id) => calls.some((c) => c.id === String(id) && c.status === 'delivered')), 'the delivered callbacks');
    expect(ids.every((id) => calls.some((c) => c.id === String(id) && c.status === 'sent'))).toBe(true);
  });

  it('writes the accepted jobs on its connection: rows, debit and queue together, a refusal as the API error, many concurrent jobs', async () => {
    const thread = await start('simulator');
    const poor = await seedCustomerWithAccount(ctx.app, { account: { credits: 2 } });
    await createSender(ctx.app, poor.account, { sender: 'MyShop' });
    const refused = await post(poor.auth, ['+33601020310', '+33601020311', '+33601020312'], poor.account.name);
    expect(refused.statusCode).toBe(402);
    expect(refused.json().error.code).toBe('INSUFFICIENT_CREDITS');
    expect(await creditsOf(poor.account.name)).toBe(2);

    const before = await creditsOf(seeded.account.name);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => send(seeded.auth, [`+336010204${String(i).padStart(2, '0')}`])));
    const ids = answers.flat();
    expect(new Set(ids).size).toBe(40);
    expect(await creditsOf(seeded.account.name)).toBe(before - 40);
    expect(thread.jobsWritten).toBe(41);
    for (const id of ids) await waitFor(async () => ['sent', 'delivered'].includes((await statusOf(id)) ?? ''), `message ${id} sent`);
  });

  it('stops gracefully: nothing it claimed stays leased, and a message accepted after the stop waits for the next dispatcher', async () => {
    const thread = await start('simulator');
    const [first] = await send(seeded.auth, ['+33601020307']);
    await waitFor(async () => ['sent', 'delivered'].includes((await statusOf(first)) ?? ''), 'the first message sent');
    await thread.stop();
    running.splice(running.indexOf(thread), 1);
    const leased = await ctx.database.db
      .selectFrom('dispatch_queue')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('lease_owner', 'is not', null)
      .executeTakeFirstOrThrow();
    expect(Number(leased.n)).toBe(0);

    const [later] = await send(seeded.auth, ['+33601020308']);
    expect(await statusOf(later)).toBe('pending');
    await start('simulator');
    await waitFor(async () => ['sent', 'delivered'].includes((await statusOf(later)) ?? ''), 'the later message sent by a new thread');
  });

  it('ends as soon as it stopped with nothing in flight, however long its grace period for submits in flight', async () => {
    // The grace period is 10 minutes, past this test's timeout: a timer of the stop left pending kept the
    // thread alive until its end (every `relais serve` took 5 s to stop).
    const thread = await start('simulator', undefined, undefined, 600_000);
    const [id] = await send(seeded.auth, ['+33601020309']);
    await waitFor(async () => ['sent', 'delivered'].includes((await statusOf(id)) ?? ''), 'the message sent');
    await thread.stop();
    running.splice(running.indexOf(thread), 1);
  });

  it('refuses to start with an invalid carrier, saying why', async () => {
    await expect(start('smpp://nohost')).rejects.toThrow(/smpp/i);
    await expect(start('simulator?speed=3')).rejects.toThrow('simulator: unknown option "speed" (tps, receipt_delay, seed)');
  });

  it('starts the thread again after it ended unexpectedly, and goes on sending', async () => {
    const { log, lines } = memoryLog();
    const thread = await start('simulator', log);
    const before = thread.threadId;
    await thread.kill();
    await waitFor(
      () => lines.some((l) => l.level === 'error' && l.msg.startsWith('the dispatching thread ended unexpectedly')),
      'the end logged',
    );
    // Meanwhile the serving thread writes the jobs itself; the new thread sends them.
    const [meanwhile] = thread.threadId === null ? await send(seeded.auth, ['+33601020313']) : [];
    await waitFor(() => thread.threadId !== null && thread.threadId !== before, 'a new thread', 20_000);
    const [id] = await send(seeded.auth, ['+33601020309']);
    for (const sentId of [id, meanwhile].filter((x) => x !== undefined))
      await waitFor(async () => ['sent', 'delivered'].includes((await statusOf(sentId)) ?? ''), `message ${sentId} sent by the new thread`);
  });

  it('waits longer after each end in a row, and the shortest delay again after a thread that had run a while', async () => {
    const { log, lines } = memoryLog();
    let clock = 0;
    const thread = await start('simulator', log, { delaysMs: [50, 100, 200], now: () => clock });
    const delays = () =>
      lines
        .filter((l) => l.msg.startsWith('the dispatching thread ended unexpectedly'))
        .map((l) => (l.obj as { restartInMs?: number }).restartInMs);
    const crash = async (count: number) => {
      const before = thread.threadId;
      await thread.kill();
      await waitFor(() => delays().length === count, `end ${count} logged`);
      await waitFor(() => thread.threadId !== null && thread.threadId !== before, `thread ${count + 1}`, 20_000);
    };
    await crash(1);
    await crash(2); // it had not run at all: a longer delay
    clock += 10 * 200 + 1; // it ran ten times the longest delay
    await crash(3);
    expect(delays()).toEqual([50, 100, 50]);
  });
});
