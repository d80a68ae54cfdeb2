import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { createTtlLruCache } from '../../ttl-cache.js';
import { type PasswordHasher, randomUrlSafe, sha256Hex } from '../auth/password.js';
import type { Principal } from '../auth/principal.js';
import { type AccountsService, type Actor, assertAllowed, RECENT_READ_TTL_MS } from './accounts.service.js';
import type { ApiToken, ApiTokensRepository } from './api-tokens.repository.js';
import type { SmsUsersRepository } from './sms-users.repository.js';

export type TokenPrincipal = Extract<Principal, { kind: 'token' }>;

/** The bearer string: `rls_<id>_<secret>`; the secret is 32 random bytes, URL-safe base64 (43 characters). */
const TOKEN = /^rls_([1-9]\d{0,14})_([A-Za-z0-9_-]{32,128})$/;

interface CacheEntry {
  tokenId: number;
  /** Filled in once verified: lets a user's deletion forget its tokens. */
  userId?: number | null;
  result: Promise<TokenPrincipal | null>;
  /** A good token's secret hash, and when its row was last read (see `stillValid`). */
  seen?: { at: number; secretHash: string };
  /** The row being read again, shared by concurrent requests. */
  rereading?: Promise<boolean>;
}

/**
 * API tokens: created (shown once), listed, revoked, and verified on every bearer request.
 *
 * Verification is on the hot path, and argon2id is deliberately slow (~50 ms). So verified results
 * (good and bad) are kept in a bounded in-memory LRU keyed by sha256 of the whole bearer string (the
 * token itself is never kept), for `cacheTtlMs` (5 minutes): argon2 runs once per token per TTL per
 * process, not per request, and concurrent first requests share one verification. Revoking a token or
 * deleting its SMS user forgets it at once in this process; another process (the CLI, several Relais
 * behind a load balancer) sees it when it reads the token's row again: a good token's row is read
 * again (one lookup by id, no argon2) when it was last read RECENT_READ_TTL_MS (2 s) ago or more.
 * `last_used_at` is written on each (re)verification, so at most once per TTL.
 */
export function createApiTokensService(deps: {
  tokens: ApiTokensRepository;
  users: SmsUsersRepository;
  accounts: AccountsService;
  hasher: PasswordHasher;
  clock: Clock;
  cacheSize?: number;
  cacheTtlMs?: number;
}) {
  const { tokens, users, accounts, hasher, clock } = deps;
  const cache = createTtlLruCache<CacheEntry>({ max: deps.cacheSize ?? 10_000, ttlMs: deps.cacheTtlMs ?? 5 * 60_000, clock });

  async function check(entry: CacheEntry, secret: string): Promise<TokenPrincipal | null> {
    const { tokenId } = entry;
    const found = await tokens.findForVerification(tokenId);
    if (!found || found.token.revokedAt !== null || !(await hasher.verify(found.secretHash, secret))) return null;
    entry.seen = { at: clock.now(), secretHash: found.secretHash };
    await tokens.markUsed(tokenId, clock.now());
    const { token } = found;
    return { kind: 'token', tokenId, accountId: token.accountId, userId: token.userId, userLogin: token.userLogin };
  }

  /**
   * Whether a token verified earlier still stands: its row, read again when last read RECENT_READ_TTL_MS
   * ago or more, is not revoked, nor gone (its SMS user deleted), nor holding another secret.
   */
  async function stillValid(entry: CacheEntry): Promise<boolean> {
    const seen = entry.seen;
    if (!seen) return false;
    if (clock.now() - seen.at < RECENT_READ_TTL_MS) return true;
    entry.rereading ??= tokens
      .findForVerification(entry.tokenId)
      .then((found) => {
        const valid = found !== undefined && found.token.revokedAt === null && found.secretHash === seen.secretHash;
        if (valid) entry.seen = { at: clock.now(), secretHash: seen.secretHash };
        return valid;
      })
      .finally(() => {
        entry.rereading = undefined;
      });
    return entry.rereading;
  }

  async function getToken(accountId: number, id: number): Promise<ApiToken> {
    const token = await tokens.find(accountId, id);
    if (!token) throw new AppError('TOKEN_NOT_FOUND', `No API token ${id} in this account`);
    return token;
  }

  return {
    async list(actor: Actor, accountName: string): Promise<ApiToken[]> {
      const account = await accounts.getAccount(actor, accountName);
      assertAllowed(actor, 'tokens:read');
      return tokens.list(account.id);
    },

    /** Creates a token for the account (or one SMS user of it); `bearer` is shown once and never stored. */
    async create(
      actor: Actor,
      accountName: string,
      input: { name?: string; userLogin?: string },
    ): Promise<{ token: ApiToken; bearer: string }> {
      const account = await accounts.getAccount(actor, accountName);
      assertAllowed(actor, 'tokens:write');
      const name = (input.name ?? '').trim();
      if (name.length > 100) throw new AppError('VALIDATION_FAILED', 'A token name must be at most 100 characters');
      let userId: number | null = null;
      if (input.userLogin !== undefined) {
        const user = await users.findByLogin(account.id, input.userLogin);
        if (!user) throw new AppError('USER_NOT_FOUND', `No SMS user ${input.userLogin} in ${account.name}`);
        userId = user.id;
      }
      const secret = randomUrlSafe(32);
      const id = await tokens.insert({
        accountId: account.id,
        userId,
        name,
        secretHash: await hasher.hash(secret),
        createdAt: clock.now(),
      });
      return { token: await getToken(account.id, id), bearer: `rls_${id}_${secret}` };
    },

    /** Revokes the token (again: no-op); it stops working at once in this process. */
    async revoke(actor: Actor, accountName: string, id: number): Promise<void> {
      const account = await accounts.getAccount(actor, accountName);
      assertAllowed(actor, 'tokens:write');
      await getToken(account.id, id);
      await tokens.revoke(id, clock.now());
      cache.deleteWhere((entry) => entry.tokenId === id);
    },

    /** The principal of a bearer token, or undefined when it is malformed, unknown, wrong or revoked. */
    async verify(bearer: string): Promise<TokenPrincipal | undefined> {
      const match = TOKEN.exec(bearer);
      if (!match) return undefined;
      const key = sha256Hex(bearer);
      let entry = cache.get(key);
      if (!entry) {
        const tokenId = Number(match[1]);
        const created: CacheEntry = { tokenId, result: Promise.resolve(null) };
        created.result = check(created, match[2]);
        created.result.then(
          (principal) => {
            created.userId = principal?.userId ?? null;
          },
          () => cache.delete(key),
        );
        cache.set(key, created);
        entry = created;
      }
      const principal = await entry.result;
      if (!principal) return undefined;
      if (!(await stillValid(entry))) {
        if (cache.get(key) === entry) cache.delete(key);
        return undefined;
      }
      return principal;
    },

    /** Forgets cached verifications of the tokens of an SMS user that is being deleted. */
    forgetUser(userId: number): void {
      cache.deleteWhere((entry) => entry.userId === userId || entry.userId === undefined);
    },
  };
}

export type ApiTokensService = ReturnType<typeof createApiTokensService>;
