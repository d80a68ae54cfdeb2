import { describe, expect, it } from 'vitest';
import { createLoginAttempts } from './login-attempts.js';

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
