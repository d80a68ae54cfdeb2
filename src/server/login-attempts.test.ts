import { sql } from 'kysely';
import { describe, expect, it, vi } from 'vitest';
import { describeEachDialect } from '../../test/database.js';
import { createLoginAttempts, createSharedLoginAttempts, LOGIN_FAILURE_WINDOW_MS } from './login-attempts.js';
import { createSignInFailuresRepository } from './modules/auth/sign-in-failures.repository.js';

function setUp(limit: number) {
  let now = 1_000_000;
  const clock = { now: () => now };
  return { attempts: createLoginAttempts({ clock, limit }), advance: (ms: number) => (now += ms) };
}

const wrong = async () => ({ ok: false as const });
const right = async () => ({ ok: true as const });

/** A check that ends when told to, and how many checks started. */
function gatedChecks(ok: boolean) {
  const gates: (() => void)[] = [];
  let started = 0;
  const check = () =>
    new Promise<{ ok: boolean }>((resolve) => {
      started++;
      gates.push(() => resolve({ ok }));
    });
  return {
    check,
    started: () => started,
    openAll: () => {
      for (const open of gates.splice(0)) open();
    },
  };
}

/** Lets every promise chain settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('createLoginAttempts', () => {
  it('refuses a client unchecked once its failures reach the limit, until a minute passes without one', async () => {
    const { attempts, advance } = setUp(3);
    let checks = 0;
    const counted = async () => {
      checks++;
      return { ok: false };
    };
    for (let i = 0; i < 3; i++) expect((await attempts.attempt('192.0.2.1', counted)).kind).toBe('checked');
    advance(20_000);
    expect(await attempts.attempt('192.0.2.1', counted)).toEqual({ kind: 'limited', retryAfterSeconds: 40 });
    expect(checks).toBe(3);
    // Another client is not refused.
    expect((await attempts.attempt('192.0.2.2', right)).kind).toBe('checked');
    advance(39_999);
    expect((await attempts.attempt('192.0.2.1', right)).kind).toBe('limited');
    advance(1);
    expect(await attempts.attempt('192.0.2.1', right)).toEqual({ kind: 'checked', outcome: { ok: true } });
  });

  it('counts the addresses of one IPv6 /64 as one client, and other /64s apart', async () => {
    const { attempts } = setUp(2);
    await attempts.attempt('2001:db8:0:1::1', wrong);
    await attempts.attempt('2001:db8:0:1::2', wrong);
    expect((await attempts.attempt('2001:db8:0:1:ffff::3', right)).kind).toBe('limited');
    expect((await attempts.attempt('2001:db8:0:2::1', right)).kind).toBe('checked');
  });

  it('counts neither successes nor checks that throw; a limit of 0 checks everything', async () => {
    const { attempts } = setUp(2);
    for (let i = 0; i < 5; i++) await attempts.attempt('192.0.2.1', right);
    await expect(attempts.attempt('192.0.2.1', () => Promise.reject(new Error('database down')))).rejects.toThrow('database down');
    await attempts.attempt('192.0.2.1', wrong);
    expect((await attempts.attempt('192.0.2.1', right)).kind).toBe('checked');
    const unlimited = setUp(0).attempts;
    for (let i = 0; i < 5; i++) await unlimited.attempt('192.0.2.3', wrong);
    expect((await unlimited.attempt('192.0.2.3', right)).kind).toBe('checked');
  });

  it('checks no more passwords at once than the limit allows: guesses sent together wait, then are refused', async () => {
    const { attempts } = setUp(3);
    const gated = gatedChecks(false);
    const results = Array.from({ length: 10 }, () => attempts.attempt('192.0.2.1', gated.check));
    await settle();
    expect(gated.started()).toBe(3);
    gated.openAll();
    const outcomes = await Promise.all(results);
    expect(gated.started()).toBe(3);
    expect(outcomes.filter((o) => o.kind === 'checked')).toHaveLength(3);
    expect(outcomes.filter((o) => o.kind === 'limited')).toHaveLength(7);
  });

  it('lets logins of a client without failures through, however many at once: the ones beyond the limit only wait', async () => {
    const { attempts } = setUp(3);
    const gated = gatedChecks(true);
    const results = Array.from({ length: 7 }, () => attempts.attempt('192.0.2.1', gated.check));
    for (const expected of [3, 6, 7]) {
      await settle();
      expect(gated.started()).toBe(expected);
      gated.openAll();
    }
    const outcomes = await Promise.all(results);
    expect(outcomes.every((o) => o.kind === 'checked' && o.outcome.ok)).toBe(true);
  });

  it('ends an attempt abandoned while it waited without checking it', async () => {
    const { attempts } = setUp(1);
    const gated = gatedChecks(true);
    const first = attempts.attempt('192.0.2.1', gated.check);
    let closed = false;
    const second = attempts.attempt('192.0.2.1', gated.check, () => closed);
    await settle();
    closed = true;
    gated.openAll();
    expect(await second).toEqual({ kind: 'abandoned' });
    expect((await first).kind).toBe('checked');
    expect(gated.started()).toBe(1);
  });
});

describeEachDialect('createSharedLoginAttempts', (ctx) => {
  let now = 1_000_000;
  const clock = { now: () => now };
  /** An instance as one process would make it (each has its own memory), on the database of the block. */
  const instance = (limit: number, scope = 'client') =>
    createSharedLoginAttempts({ clock, repository: createSignInFailuresRepository(ctx.database.db), limit, scope, pollMs: 10 });
  let clients = 0;
  /** A client of its own for each test (TEST-NET-2), so that no test shares another's counts. */
  const newClient = () => `198.51.100.${++clients}`;
  const rows = async () =>
    Number((await sql<{ n: number }>`select count(*) as n from sign_in_failures`.execute(ctx.database.db)).rows[0].n);

  it('refuses a client on every instance once its failures on any reach the limit, with the same wait, until a minute passes without one', async () => {
    const [a, b] = [instance(3), instance(3)];
    const ip = newClient();
    let checks = 0;
    const counted = async () => {
      checks++;
      return { ok: false };
    };
    expect((await a.attempt(ip, counted)).kind).toBe('checked');
    expect((await b.attempt(ip, counted)).kind).toBe('checked');
    expect((await a.attempt(ip, counted)).kind).toBe('checked');
    now += 20_000;
    expect(await b.attempt(ip, counted)).toEqual({ kind: 'limited', retryAfterSeconds: 40 });
    expect(await a.attempt(ip, counted)).toEqual({ kind: 'limited', retryAfterSeconds: 40 });
    // An instance that never saw this client (a process started since) reads it from the database.
    expect(await instance(3).attempt(ip, right)).toEqual({ kind: 'limited', retryAfterSeconds: 40 });
    expect(checks).toBe(3);
    expect((await b.attempt(newClient(), right)).kind).toBe('checked');
    now += 39_999;
    expect((await b.attempt(ip, right)).kind).toBe('limited');
    now += 1;
    expect(await b.attempt(ip, right)).toEqual({ kind: 'checked', outcome: { ok: true } });
    expect(await a.attempt(ip, right)).toEqual({ kind: 'checked', outcome: { ok: true } });
  });

  it('counts the addresses of one IPv6 /64 as one client on every instance; scopes never meet', async () => {
    const [a, b] = [instance(2), instance(2)];
    await a.attempt('2001:db8:0:7::1', wrong);
    await b.attempt('2001:db8:0:7::2', wrong);
    expect((await a.attempt('2001:db8:0:7:ffff::3', right)).kind).toBe('limited');
    expect((await b.attempt('2001:db8:0:8::1', right)).kind).toBe('checked');
    expect((await instance(2, 'email').attempt('2001:db8:0:7::1', right)).kind).toBe('checked');
  });

  it('counts neither successes nor checks that throw, and keeps no row for a client without failures; a limit of 0 checks everything', async () => {
    const [a, b] = [instance(2), instance(2)];
    const ip = newClient();
    const before = await rows();
    for (let i = 0; i < 5; i++) expect((await (i % 2 ? a : b).attempt(ip, right)).kind).toBe('checked');
    await expect(a.attempt(ip, () => Promise.reject(new Error('database down')))).rejects.toThrow('database down');
    expect(await rows()).toBe(before);
    await b.attempt(ip, wrong);
    expect((await a.attempt(ip, right)).kind).toBe('checked');
    expect(await rows()).toBe(before + 1);
    const unlimited = instance(0);
    for (let i = 0; i < 5; i++) await unlimited.attempt(ip, wrong);
    expect((await unlimited.attempt(ip, right)).kind).toBe('checked');
  });

  it('checks no more passwords at once than the limit across instances: guesses sent together to both wait, then are refused', async () => {
    const [a, b] = [instance(3), instance(3)];
    const ip = newClient();
    const gated = gatedChecks(false);
    const results = Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).attempt(ip, gated.check));
    await vi.waitFor(() => expect(gated.started()).toBe(3));
    gated.openAll();
    const outcomes = await Promise.all(results);
    expect(gated.started()).toBe(3);
    expect(outcomes.filter((o) => o.kind === 'checked')).toHaveLength(3);
    expect(outcomes.filter((o) => o.kind === 'limited')).toHaveLength(7);
  });

  it('lets logins of a client without failures through on every instance, however many at once: the ones beyond the limit only wait', async () => {
    const [a, b] = [instance(3), instance(3)];
    const ip = newClient();
    const gated = gatedChecks(true);
    const results = Array.from({ length: 7 }, (_, i) => (i % 2 ? a : b).attempt(ip, gated.check));
    for (const expected of [3, 6, 7]) {
      await vi.waitFor(() => expect(gated.started()).toBe(expected));
      gated.openAll();
    }
    const outcomes = await Promise.all(results);
    expect(outcomes.every((o) => o.kind === 'checked' && o.outcome.ok)).toBe(true);
  });

  it('forgets the checks of an instance that never ends them (its process died) a minute after the last one began', async () => {
    const [dying, a] = [instance(1), instance(1)];
    const ip = newClient();
    const stuck = gatedChecks(false);
    const lost = dying.attempt(ip, stuck.check);
    await vi.waitFor(() => expect(stuck.started()).toBe(1));
    let closed = false;
    const waiting = a.attempt(ip, right, () => closed);
    now += LOGIN_FAILURE_WINDOW_MS - 1;
    closed = true;
    expect(await waiting).toEqual({ kind: 'abandoned' });
    const later = a.attempt(ip, right);
    now += 1;
    expect(await later).toEqual({ kind: 'checked', outcome: { ok: true } });
    stuck.openAll();
    expect((await lost).kind).toBe('checked');
  });

  it('deletes the rows of keys nothing counted for a minute', async () => {
    const a = instance(5);
    for (let i = 0; i < 3; i++) await a.attempt(newClient(), wrong);
    expect(await rows()).toBeGreaterThanOrEqual(3);
    now += LOGIN_FAILURE_WINDOW_MS;
    const ip = newClient();
    await a.attempt(ip, wrong);
    expect(await rows()).toBe(1);
    expect((await instance(1).attempt(ip, right)).kind).toBe('limited');
  });
});
