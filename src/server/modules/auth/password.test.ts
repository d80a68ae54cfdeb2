import { describe, expect, it } from 'vitest';
import { createPasswordHasher, generatePassword, randomUrlSafe, safeEqual, sha256Hex } from './password.js';

describe('password hasher', () => {
  it('hashes with argon2id at OWASP parameters by default, and verifies', async () => {
    const hasher = createPasswordHasher();
    const hash = await hasher.hash('s3cret-pass');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await hasher.verify(hash, 's3cret-pass')).toBe(true);
    expect(await hasher.verify(hash, 's3cret-pasS')).toBe(false);
  });

  it('fast mode (tests) still makes argon2id hashes, which either mode verifies', async () => {
    const fast = createPasswordHasher({ fast: true });
    const hash = await fast.hash('pw-123456');
    expect(hash).toMatch(/^\$argon2id\$/);
    expect(await createPasswordHasher().verify(hash, 'pw-123456')).toBe(true);
  });

  it('treats a malformed hash as a mismatch and verifies a dummy without throwing', async () => {
    const hasher = createPasswordHasher({ fast: true });
    expect(await hasher.verify('not-a-hash', 'x')).toBe(false);
    await expect(hasher.verifyDummy('anything')).resolves.toBeUndefined();
  });
});

describe('random values', () => {
  it('generates letter-and-digit passwords without look-alikes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      expect(p).toMatch(/^[A-HJ-NP-Za-km-z2-9]{16}$/);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
  });

  it('makes URL-safe strings, hex sha256 and constant-time comparisons', () => {
    expect(randomUrlSafe(32)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});
