import { BlockList, isIP } from 'node:net';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { excerpt } from '../../input-text.js';
import { createTtlLruCache } from '../../ttl-cache.js';
import { givenOrGenerated, type PasswordHasher, sha256Hex } from '../auth/password.js';
import { privateHostOf } from '../dispatch/callback-address.js';
import type { Account } from './accounts.repository.js';
import { type AccountsService, type Actor, assertAllowed, MAX_CREDITS, RECENT_READ_TTL_MS, SYSTEM_ACTOR } from './accounts.service.js';
import { checkPassword } from './customers.service.js';
import type { SmsUser, SmsUserPatch, SmsUsersRepository } from './sms-users.repository.js';

const LOGIN = /^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$/;
const MAX_IP_RESTRICTIONS = 32;

function checkLogin(login: string): void {
  if (!LOGIN.test(login)) {
    throw new AppError(
      'VALIDATION_FAILED',
      `Invalid login "${excerpt(login)}": 3 to 32 letters, digits, dots, dashes or underscores, starting with a letter or digit`,
    );
  }
}

/** One IP restriction: an IPv4/IPv6 address or a CIDR range (`192.0.2.0/24`, `2001:db8::/32`); false otherwise. */
export function isIpRestriction(value: string): boolean {
  const [address, prefix, extra] = value.split('/');
  if (extra !== undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Validated, trimmed and de-duplicated IP restrictions; throws VALIDATION_FAILED naming the bad entry. */
export function checkIpRestrictions(values: readonly string[]): string[] {
  const clean = [...new Set(values.map((v) => v.trim()))];
  if (clean.length > MAX_IP_RESTRICTIONS) throw new AppError('VALIDATION_FAILED', `At most ${MAX_IP_RESTRICTIONS} IP restrictions`);
  for (const value of clean) {
    if (!isIpRestriction(value))
      throw new AppError('VALIDATION_FAILED', `Invalid IP restriction "${excerpt(value)}": expected an IPv4/IPv6 address or a CIDR range`);
  }
  return clean;
}

/** True when `ip` may use a user with these restrictions (none = any address). IPv4-mapped IPv6 counts as IPv4. */
export function isIpAllowed(restrictions: readonly string[], ip: string): boolean {
  if (restrictions.length === 0) return true;
  const address = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(address);
  if (family === 0) return false;
  const list = new BlockList();
  for (const r of restrictions) {
    const [net, prefix] = r.split('/');
    const type = isIP(net) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(net, type);
    else list.addSubnet(net, Number(prefix), type);
  }
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** A delivery callback URL: http or https, at most 2048 characters. */
export function checkCallbackUrl(value: string, allowPrivate: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AppError('VALIDATION_FAILED', `Invalid callback URL "${excerpt(value)}"`);
  }
  if (value.length > 2048 || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new AppError('VALIDATION_FAILED', `Invalid callback URL "${excerpt(value)}": expected an http:// or https:// URL`);
  }
  const privateHost = allowPrivate ? undefined : privateHostOf(url);
  if (privateHost !== undefined) {
    throw new AppError(
      'VALIDATION_FAILED',
      `Invalid callback URL "${excerpt(value)}": ${excerpt(privateHost)} is a private address (this server is set to call only public ones)`,
    );
  }
  return value;
}

/** A quota: credits, as many as an account may be given at once at most (MAX_CREDITS). */
function checkQuota(quota: number): number {
  if (!Number.isFinite(quota) || quota < 0 || quota > MAX_CREDITS)
    throw new AppError('VALIDATION_FAILED', `The quota must be a number from 0 to ${MAX_CREDITS} (or null for none), got ${quota}`);
  return quota;
}

export interface CreateSmsUserInput {
  login: string;
  /** Omitted: one is generated and returned once. */
  password?: string;
  ipRestrictions?: string[];
  quota?: number | null;
  callbackUrl?: string | null;
}

export interface UpdateSmsUserInput {
  password?: string;
  /** A new password generated (and returned once) instead of `password`. */
  generatePassword?: boolean;
  ipRestrictions?: string[];
  quota?: number | null;
  callbackUrl?: string | null;
}

/** Tells one password hash from another without carrying it: what a session keeps of the password it opened with. */
const stampOf = (passwordHash: string) => sha256Hex(passwordHash).slice(0, 32);

/**
 * SMS users of an account. A user-scoped token sees only its own user (others are "not found").
 * `authenticate` serves the channels (http2sms, mail2sms, SMPP) and caches successful checks like
 * API tokens do (sha256 key, 5 minutes, forgotten on password change or deletion).
 */
export function createSmsUsersService(deps: {
  users: SmsUsersRepository;
  accounts: AccountsService;
  hasher: PasswordHasher;
  clock: Clock;
  /** Called after a user is deleted (its API tokens went with it). */
  onDeleted?: (userId: number) => void;
  /** Whether callback URLs may name loopback or private addresses (config `callbackPrivate`). */
  allowPrivateCallbacks?: boolean;
}) {
  const { users, accounts, hasher, clock } = deps;
  const allowPrivateCallbacks = deps.allowPrivateCallbacks ?? false;
  /**
   * Passwords verified (argon2 once per TTL, not per request), by sha256 of account, login and
   * password, with the hash they were verified against: a hash changed since (a new password set by
   * another process: the CLI, another server) no longer lets them in, once `recent` has read it again.
   */
  const verified = createTtlLruCache<{ userId: number; passwordHash: string }>({ max: 10_000, ttlMs: 5 * 60_000, clock });
  /** Users recently read by `authenticate`, with their password hash, by id (see RECENT_READ_TTL_MS). */
  const recent = createTtlLruCache<{ user: SmsUser; passwordHash: string }>({ max: 10_000, ttlMs: RECENT_READ_TTL_MS, clock });
  /** Users recently read by `getRecent`, by account id and login (see RECENT_READ_TTL_MS). */
  const recentByLogin = createTtlLruCache<SmsUser>({ max: 10_000, ttlMs: RECENT_READ_TTL_MS, clock });
  const forget = (userId: number) => {
    recent.delete(String(userId));
    recentByLogin.deleteWhere((user) => user.id === userId);
  };

  function notFound(login: string, account: Account): AppError {
    return new AppError('USER_NOT_FOUND', `No SMS user ${excerpt(login)} in ${account.name}`);
  }

  async function getUser(actor: Actor, accountName: string, login: string, permission: 'users:read' | 'users:write') {
    const account = await accounts.getAccount(actor, accountName);
    assertAllowed(actor, permission);
    if (actor.kind === 'token' && actor.userLogin !== null && actor.userLogin !== login) throw notFound(login, account);
    const user = await users.findByLogin(account.id, login);
    if (!user) throw notFound(login, account);
    return { account, user };
  }

  /**
   * The user named by account and login if `password` is theirs. With an `ip` outside the user's
   * allowed addresses, IP_NOT_ALLOWED without checking the password: a right guess costs what a wrong
   * one does (no argon2 verification either way).
   */
  async function check(
    accountName: string,
    login: string,
    password: string,
    ip: string | undefined,
  ): Promise<{ ok: true; account: Account; user: SmsUser; stamp: string } | { ok: false; reason: 'BAD_CREDENTIALS' | 'IP_NOT_ALLOWED' }> {
    const allowed = (user: SmsUser) => ip === undefined || isIpAllowed(user.ipRestrictions, ip);
    // No account, login or password holds NUL (PostgreSQL could not even look it up): a wrong credential.
    if (`${accountName}${login}${password}`.includes('\u0000')) {
      await hasher.verifyDummy(password);
      return { ok: false, reason: 'BAD_CREDENTIALS' };
    }
    const key = sha256Hex(`${accountName}\u0000${login}\u0000${password}`);
    const account = await accounts.getAccount(SYSTEM_ACTOR, accountName, { recent: true }).catch(() => undefined);
    const cached = verified.get(key);
    if (account && cached) {
      let current = recent.get(String(cached.userId));
      if (!current) {
        current = await users.findCredentialsById(cached.userId);
        if (current) recent.set(String(cached.userId), current);
      }
      if (current && current.user.accountId === account.id && current.passwordHash === cached.passwordHash) {
        // From a refused address: on to the path a wrong password takes, at the same cost.
        if (allowed(current.user)) return { ok: true, account, user: current.user, stamp: stampOf(current.passwordHash) };
      } else verified.delete(key);
    }
    const found = account && (await users.findCredentials(account.id, login));
    if (!found) {
      await hasher.verifyDummy(password);
      return { ok: false, reason: 'BAD_CREDENTIALS' };
    }
    if (!allowed(found.user)) return { ok: false, reason: 'IP_NOT_ALLOWED' };
    if (!(await hasher.verify(found.passwordHash, password))) return { ok: false, reason: 'BAD_CREDENTIALS' };
    verified.set(key, { userId: found.user.id, passwordHash: found.passwordHash });
    return { ok: true, account: account!, user: found.user, stamp: stampOf(found.passwordHash) };
  }

  return {
    async list(actor: Actor, accountName: string): Promise<SmsUser[]> {
      const account = await accounts.getAccount(actor, accountName);
      assertAllowed(actor, 'users:read');
      const all = await users.list(account.id);
      return actor.kind === 'token' && actor.userId !== null ? all.filter((u) => u.id === actor.userId) : all;
    },

    async get(actor: Actor, accountName: string, login: string): Promise<SmsUser> {
      return (await getUser(actor, accountName, login, 'users:read')).user;
    },

    /**
     * `get` on a hot path (the OVH API's calls about one SMS user): the account and the user as read
     * within RECENT_READ_TTL_MS (changes made here apply at once, another process's within that delay).
     */
    async getRecent(actor: Actor, accountName: string, login: string): Promise<{ account: Account; user: SmsUser }> {
      const account = await accounts.getAccount(actor, accountName, { recent: true });
      assertAllowed(actor, 'users:read');
      if (actor.kind === 'token' && actor.userLogin !== null && actor.userLogin !== login) throw notFound(login, account);
      const key = `${account.id}\u0000${login}`;
      let user = recentByLogin.get(key);
      if (!user) {
        user = await users.findByLogin(account.id, login);
        if (!user) throw notFound(login, account);
        recentByLogin.set(key, user);
      }
      return { account, user };
    },

    /** Creates a user; `password` is set only when it was generated (shown once). */
    async create(actor: Actor, accountName: string, input: CreateSmsUserInput): Promise<{ user: SmsUser; password?: string }> {
      const account = await accounts.getAccount(actor, accountName);
      assertAllowed(actor, 'users:write');
      checkLogin(input.login);
      const { password, generated } = givenOrGenerated(input.password);
      checkPassword(password);
      const user = await users.insert({
        accountId: account.id,
        login: input.login,
        passwordHash: await hasher.hash(password),
        ipRestrictions: checkIpRestrictions(input.ipRestrictions ?? []),
        quota: input.quota == null ? null : checkQuota(input.quota),
        callbackUrl: input.callbackUrl == null ? null : checkCallbackUrl(input.callbackUrl, allowPrivateCallbacks),
        createdAt: clock.now(),
      });
      return generated === undefined ? { user } : { user, password: generated };
    },

    /**
     * Changes the password (given, or generated and returned once), IP restrictions, quota or callback URL
     * (`null` clears the last two).
     */
    async update(
      actor: Actor,
      accountName: string,
      login: string,
      input: UpdateSmsUserInput,
    ): Promise<{ user: SmsUser; password?: string }> {
      const { account, user } = await getUser(actor, accountName, login, 'users:write');
      if (input.generatePassword && input.password !== undefined)
        throw new AppError('VALIDATION_FAILED', 'Give a password or ask for a generated one, not both');
      const { password, generated } = input.generatePassword
        ? givenOrGenerated(undefined)
        : { password: input.password, generated: undefined };
      const patch: SmsUserPatch = {};
      if (password !== undefined) {
        checkPassword(password);
        patch.passwordHash = await hasher.hash(password);
      }
      if (input.ipRestrictions !== undefined) patch.ipRestrictions = checkIpRestrictions(input.ipRestrictions);
      if (input.quota !== undefined) patch.quota = input.quota === null ? null : checkQuota(input.quota);
      if (input.callbackUrl !== undefined)
        patch.callbackUrl = input.callbackUrl === null ? null : checkCallbackUrl(input.callbackUrl, allowPrivateCallbacks);
      const updated = await users.update(user.id, patch);
      forget(user.id);
      if (patch.passwordHash) verified.deleteWhere((v) => v.userId === user.id);
      if (!updated) throw notFound(login, account);
      return generated === undefined ? { user: updated } : { user: updated, password: generated };
    },

    /** Deletes the user and its tokens; its history stays (outgoing rows keep the login). */
    async delete(actor: Actor, accountName: string, login: string): Promise<void> {
      const { user } = await getUser(actor, accountName, login, 'users:write');
      await users.delete(user.id);
      forget(user.id);
      verified.deleteWhere((v) => v.userId === user.id);
      deps.onDeleted?.(user.id);
    },

    /**
     * Checks an SMS user's login and password (the channels). Throws INVALID_CREDENTIALS, the same for
     * an unknown account, an unknown login or a wrong password. IP restrictions are the caller's
     * to check (`isIpAllowed(user.ipRestrictions, ip)`), as the channels answer them differently.
     */
    async authenticate(accountName: string, login: string, password: string): Promise<{ account: Account; user: SmsUser }> {
      const found = await check(accountName, login, password, undefined);
      if (!found.ok) throw new AppError('INVALID_CREDENTIALS', 'Wrong account, login or password');
      return { account: found.account, user: found.user };
    },

    /**
     * `authenticate` for a program connecting from `ip` (the channels: http2sms, mail2sms, SMPP), with its
     * IP restrictions. Wrong credentials are one refusal, whichever of account, login or password was
     * wrong. A client outside the user's allowed addresses is refused for its address whether or not the
     * password was right, so that it cannot guess passwords from there. Unexpected errors are thrown.
     */
    async authenticateFrom(
      accountName: string,
      login: string,
      password: string,
      ip: string,
    ): Promise<{ ok: true; account: Account; user: SmsUser; stamp: string } | { ok: false; reason: 'BAD_CREDENTIALS' | 'IP_NOT_ALLOWED' }> {
      return check(accountName, login, password, ip);
    },

    /**
     * Whether sessions opened by `authenticateFrom` (SMPP binds) may go on, each named by its user, the
     * `stamp` its authentication answered and its client's address: not once the user is deleted, its
     * password changed or its address no longer allowed. Read from the database, not from a cache: an
     * operator's change made by another process ends the sessions of this one at the next check.
     */
    async sessionsStillAllowed(sessions: readonly { userId: number; stamp: string; ip: string }[]): Promise<boolean[]> {
      if (sessions.length === 0) return [];
      const current = new Map<number, { user: SmsUser; passwordHash: string }>();
      for (const found of await users.findCredentialsByIds([...new Set(sessions.map((s) => s.userId))])) current.set(found.user.id, found);
      return sessions.map((s) => {
        const found = current.get(s.userId);
        return found !== undefined && stampOf(found.passwordHash) === s.stamp && isIpAllowed(found.user.ipRestrictions, s.ip);
      });
    },
  };
}

export type SmsUsersService = ReturnType<typeof createSmsUsersService>;
