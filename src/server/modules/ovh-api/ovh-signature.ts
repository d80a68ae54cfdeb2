import { createHash, createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * The pure parts of OVH's request authentication (OVH-COMPAT.md §2): key formats, the application
 * secret's derivation, the signature and its accepted URL forms, and access rules.
 */

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random key of `length` letters and digits (OVH's keys look so: AK 16, AS and CK 32 characters). */
export function randomKey(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
  return out;
}

export const APPLICATION_KEY_LENGTH = 16;
export const CONSUMER_KEY_LENGTH = 32;
/** The consumer key's first characters, stored in clear to find its row (the other 22 ≈ 131 bits are only hashed). */
export const CONSUMER_KEY_LOOKUP_LENGTH = 10;

const APPLICATION_KEY = /^[A-Za-z0-9]{16}$/;
const CONSUMER_KEY = /^[A-Za-z0-9]{32}$/;

export const isApplicationKey = (value: string): boolean => APPLICATION_KEY.test(value);
export const isConsumerKey = (value: string): boolean => CONSUMER_KEY.test(value);

/**
 * The application secret of `appKey`: 32 letters and digits from HMAC-SHA256(server secret, appKey). The
 * signature scheme needs the server to know each secret, and a hash could not be checked against a
 * signature; deriving it means the database holds no application secret at all (a dump reveals none),
 * only the server secret (RELAIS_SECRET_KEY or its file) can recompute them.
 */
export function deriveApplicationSecret(serverSecret: string, appKey: string): string {
  const mac = createHmac('sha256', serverSecret).update(`relais-ovh-application-secret:${appKey}`).digest();
  let out = '';
  for (let i = 0; i < 32; i++) out += KEY_ALPHABET[mac[i] % KEY_ALPHABET.length];
  return out;
}

/**
 * A check of the server secret an application was made with (stored with it; it reveals nothing of the
 * secret): a process whose server secret differs says so instead of refusing every signature in silence.
 */
export function secretCheck(serverSecret: string, appKey: string): string {
  return createHmac('sha256', serverSecret).update(`relais-ovh-secret-check:${appKey}`).digest('base64url').slice(0, 16);
}

/** `"$1$" + sha1(AS+CK+METHOD+URL+BODY+TIMESTAMP)`, `+`-joined, as every official client signs. */
export function ovhSignature(input: {
  appSecret: string;
  consumerKey: string;
  method: string;
  url: string;
  body: string;
  timestamp: string;
}): string {
  const { appSecret, consumerKey, method, url, body, timestamp } = input;
  return `$1$${createHash('sha1').update(`${appSecret}+${consumerKey}+${method}+${url}+${body}+${timestamp}`).digest('hex')}`;
}

/**
 * The full URLs a client may have signed for one request: as sent (`scheme://Host-header/raw-uri`, what
 * python-ovh, php-ovh and go-ovh sign) and `https://<host without port>/raw-uri` (the npm clients always
 * sign https and never the port, whatever they were pointed at).
 */
export function signedUrlCandidates(request: { protocol: string; host: string; rawUrl: string }): string[] {
  const { protocol, host, rawUrl } = request;
  const bareHost = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return [...new Set([`${protocol}://${host}${rawUrl}`, `https://${bareHost}${rawUrl}`, `https://${host}${rawUrl}`])];
}

/** Whether `signature` is the signature of the request under one of `urls` (each compared in constant time). */
export function signatureMatches(
  signature: string,
  input: Omit<Parameters<typeof ovhSignature>[0], 'url'>,
  urls: readonly string[],
): boolean {
  const given = Buffer.from(signature);
  return urls.some((url) => {
    const expected = Buffer.from(ovhSignature({ ...input, url }));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}

export const RULE_METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const;
export type RuleMethod = (typeof RULE_METHODS)[number];

/** One access rule of a consumer key: a method and a path under /1.0, where `*` stands for anything (slashes too). */
export interface AccessRule {
  method: RuleMethod;
  path: string;
}

/** At most this many rules a consumer key, of at most this many characters and stars a path. */
export const MAX_RULES = 100;
export const MAX_RULE_PATH = 512;
export const MAX_RULE_STARS = 8;

/**
 * Whether `text` matches `pattern`, where `*` stands for any run of characters: a greedy two-pointer walk,
 * linear in practice and never exponential (a regular expression of `.*` runs could be made to backtrack
 * for seconds by a rule full of stars).
 */
export function globMatches(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Whether one of `rules` allows `method` on `path` (under /1.0, as the router matched it, without its query string). */
export function ruleAllows(rules: readonly AccessRule[], method: string, path: string): boolean {
  return rules.some((rule) => rule.method === method && globMatches(rule.path, path));
}

/** The problem with `rules` as a client sent them, or null when they are good. */
export function accessRulesProblem(rules: unknown): string | null {
  if (!Array.isArray(rules) || rules.length === 0) return 'accessRules must be a non-empty array of { method, path }';
  if (rules.length > MAX_RULES) return `accessRules may hold at most ${MAX_RULES} rules`;
  for (const [i, rule] of rules.entries()) {
    const r = rule as Partial<AccessRule> | null;
    if (r === null || typeof r !== 'object') return `accessRules[${i}] must be an object { method, path }`;
    if (!RULE_METHODS.includes(r.method as RuleMethod)) return `accessRules[${i}].method must be one of ${RULE_METHODS.join(', ')}`;
    if (typeof r.path !== 'string' || !r.path.startsWith('/') || r.path.length > MAX_RULE_PATH || /[\s?#]/.test(r.path)) {
      return `accessRules[${i}].path must start with / and hold no space, ? or # (at most ${MAX_RULE_PATH} characters), e.g. /sms/*`;
    }
    if (r.path.split('*').length - 1 > MAX_RULE_STARS) return `accessRules[${i}].path may hold at most ${MAX_RULE_STARS} *`;
  }
  return null;
}
