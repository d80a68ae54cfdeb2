import { describe, expect, it } from 'vitest';
import { createVerifiedSecrets, type SecretCheck } from './verified-secrets.js';

/** A store of secrets with counted checks (argon2) and reads (row lookups), and a clock moved by hand. */
function setUp(max = 3) {
  let now = 0;
  const clock = { now: () => now };
  const rows = new Map<string, string>([
    ['good-1', 'v1'],
    ['good-2', 'v2'],
    ['good-3', 'v3'],
  ]);
  const counts = { checks: 0, argon2: 0, rereads: 0 };
  const secrets = createVerifiedSecrets<string>({ clock, rereadAfterMs: 2_000, max, ttlMs: 60_000 });
  const check = (secret: string) => async (): Promise<SecretCheck<string>> => {
    counts.checks++;
    const value = rows.get(secret);
    if (value === undefined && secret.startsWith('unknown')) return { kind: 'unknown' };
    counts.argon2++;
    return value === undefined ? { kind: 'wrong' } : { kind: 'verified', value };
  };
  const reread = async (value: string) => {
    counts.rereads++;
    return [...rows.values()].includes(value) ? value : null;
  };
  const get = (secret: string) => secrets.get(secret, check(secret), reread);
  return { secrets, get, rows, counts, advance: (ms: number) => (now += ms) };
}

describe('createVerifiedSecrets', () => {
  it('checks a good secret once, then answers it from memory, reading its row again after the delay', async () => {
    const { get, counts, advance, rows } = setUp();
    expect(await get('good-1')).toBe('v1');
    expect(await get('good-1')).toBe('v1');
    expect(counts).toEqual({ checks: 1, argon2: 1, rereads: 0 });
    advance(2_000);
    expect(await Promise.all([get('good-1'), get('good-1')])).toEqual(['v1', 'v1']);
    expect(counts.rereads).toBe(1);
    // Revoked elsewhere: the next re-read says so, and the secret is checked afresh after that.
    rows.delete('good-1');
    advance(2_000);
    expect(await get('good-1')).toBeNull();
    expect(await get('good-1')).toBeNull();
    expect(counts.argon2).toBe(2);
  });

  it('shares one check among concurrent first requests', async () => {
    const { get, counts } = setUp();
    expect(await Promise.all([get('good-2'), get('good-2'), get('good-2')])).toEqual(['v2', 'v2', 'v2']);
    expect(counts.checks).toBe(1);
  });

  it('never lets unknown or wrong secrets push a good one out; a wrong one is refused again without argon2', async () => {
    const { get, counts } = setUp(2);
    await get('good-1');
    await get('good-2');
    for (let i = 0; i < 20; i++) {
      expect(await get(`unknown-${i}`)).toBeNull();
      expect(await get(`wrong-${i}`)).toBeNull();
    }
    expect(await get('wrong-19')).toBeNull();
    expect(counts.argon2).toBe(22);
    expect([await get('good-1'), await get('good-2')]).toEqual(['v1', 'v2']);
    expect(counts.argon2).toBe(22);
  });

  it('looks an unknown secret up every time: made meanwhile, it works at once', async () => {
    const { get, rows, counts } = setUp();
    expect(await get('unknown-new')).toBeNull();
    expect(await get('unknown-new')).toBeNull();
    expect(counts.checks).toBe(2);
    rows.set('unknown-new', 'fresh');
    expect(await get('unknown-new')).toBe('fresh');
  });

  it('forgets at once what forgetWhere names, including a check in progress when it was called', async () => {
    const { secrets, get, counts } = setUp();
    await get('good-1');
    await get('good-2');
    secrets.forgetWhere((value) => value === 'v1');
    await get('good-1');
    await get('good-2');
    expect(counts.argon2).toBe(3);
    let open!: () => void;
    const slow = secrets.get(
      'good-3',
      () =>
        new Promise<SecretCheck<string>>((resolve) => {
          open = () => resolve({ kind: 'verified', value: 'v3' });
        }),
      async (v) => v,
    );
    await new Promise((resolve) => setImmediate(resolve));
    secrets.forgetWhere((value) => value === 'v3');
    // A request after the forget does not join the check begun before it: it checks on its own.
    const later = secrets.get(
      'good-3',
      async () => ({ kind: 'unknown' }),
      async (v) => v,
    );
    expect(await later).toBeNull();
    open();
    expect(await slow).toBe('v3');
    await get('good-3');
    expect(counts.argon2).toBe(4);
  });

  it('throws what the check throws and remembers nothing of it', async () => {
    const { secrets, get, counts } = setUp();
    await expect(
      secrets.get(
        'good-1',
        () => Promise.reject(new Error('database down')),
        async (v) => v,
      ),
    ).rejects.toThrow('database down');
    expect(await get('good-1')).toBe('v1');
    expect(counts.checks).toBe(1);
  });
});
