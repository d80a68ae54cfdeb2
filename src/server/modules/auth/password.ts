import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import argon2 from 'argon2';

/** Hashes and checks secrets (customer and SMS user passwords, API token secrets) with argon2id. */
export interface PasswordHasher {
  hash(secret: string): Promise<string>;
  /** False for a wrong secret or a malformed hash; never throws. */
  verify(hash: string, secret: string): Promise<boolean>;
  /** Runs one verification against a fixed hash, to make "unknown user" cost as much as "wrong password". */
  verifyDummy(secret: string): Promise<void>;
}

// OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane (~50 ms here).
const OWASP = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
// Tests only (config.argon2TestFast): the cheapest parameters argon2 accepts (<1 ms).
const TEST_FAST = { type: argon2.argon2id, memoryCost: 1_024, timeCost: 1, parallelism: 1 } as const;

/** An argon2id hasher; `fast` only for tests. A hash keeps its parameters, so either verifies the other's hashes. */
export function createPasswordHasher(options: { fast?: boolean } = {}): PasswordHasher {
  const params = options.fast ? TEST_FAST : OWASP;
  let dummy: Promise<string> | undefined;
  const verify = async (hash: string, secret: string) => {
    try {
      return await argon2.verify(hash, secret);
    } catch {
      return false;
    }
  };
  return {
    hash: (secret) => argon2.hash(secret, params),
    verify,
    async verifyDummy(secret) {
      dummy ??= argon2.hash(randomBytes(16).toString('hex'), params);
      await verify(await dummy, secret);
    },
  };
}

const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/**
 * A random password for an SMS user: letters and digits only (no look-alikes), so it survives
 * http2sms query strings, mail2sms subjects (`:`/`;` separated) and SMPP without escaping. 16 characters ≈ 93 bits.
 */
export function generatePassword(length = 16): string {
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}

/**
 * The password to set: `given`, or a generated one, then also returned as `generated` (to be shown once,
 * never stored in clear): SMS users and customers, from the API, the Manager and the CLI.
 */
export function givenOrGenerated(given: string | undefined): { password: string; generated?: string } {
  if (given !== undefined) return { password: given };
  const generated = generatePassword();
  return { password: generated, generated };
}

/** `bytes` random bytes as URL-safe base64 (no padding). */
export function randomUrlSafe(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** sha256 of `value`, hex: how session cookies and cached tokens are looked up without storing them. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Constant-time string equality (for CSRF tokens). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
