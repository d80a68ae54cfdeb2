import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { checkOneLine, excerpt } from '../../input-text.js';
import { type PasswordHasher, randomUrlSafe } from '../auth/password.js';
import type { Principal } from '../auth/principal.js';
import { createVerifiedSecrets, type SecretCheck } from '../auth/verified-secrets.js';
import { type AccountsService, type Actor, assertAllowed, RECENT_READ_TTL_MS } from './accounts.service.js';
import type { ApiToken, ApiTokensRepository } from './api-tokens.repository.js';
import type { SmsUsersRepository } from './sms-users.repository.js';

export type TokenPrincipal = Extract<Principal, { kind: 'token' }>;

/** The bearer string: `rls_<id>_<secret>`; the secret is 32 random bytes, URL-safe base64 (43 characters). */
const TOKEN = /^rls_([1-9]\d{0,14})_([A-Za-z0-9_-]{32,128})$/;

/** A verified token: its principal, and its secret's hash (a row read again must still hold it). */
interface VerifiedToken {
  principal: TokenPrincipal;
  secretHash: string;
}

/**
 * API tokens: created (shown once), listed, revoked, and verified on every bearer request.
 *
 * Verification is on the hot path, and argon2id is deliberately slow (~50 ms): verified tokens are
 * remembered (`createVerifiedSecrets`: 5 minutes, keyed by SHA-256 of the bearer, wrong ones apart so
 * that random bearers never push good ones out) and a good token's row is read again (no argon2) when
 * last read RECENT_READ_TTL_MS (2 s) ago or more. Revoking a token or deleting its SMS user forgets it
 * at once in this process; another process (the CLI, several Relais behind a load balancer) sees it at
 * that re-read. `last_used_at` is written on each verification, so at most once per 5 minutes.
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
  const verified = createVerifiedSecrets<VerifiedToken>({
    clock,
    rereadAfterMs: RECENT_READ_TTL_MS,
    max: deps.cacheSize,
    ttlMs: deps.cacheTtlMs,
  });

  async function check(tokenId: number, secret: string): Promise<SecretCheck<VerifiedToken>> {
    const found = await tokens.findForVerification(tokenId);
    if (!found) return { kind: 'unknown' };
    // A revoked token never comes back: refused as a wrong secret is.
    if (found.token.revokedAt !== null || !(await hasher.verify(found.secretHash, secret))) return { kind: 'wrong' };
    await tokens.markUsed(tokenId, clock.now());
    const { token } = found;
    const principal: TokenPrincipal = {
      kind: 'token',
      tokenId,
      accountId: token.accountId,
      userId: token.userId,
      userLogin: token.userLogin,
      ipRestrictions: found.ipRestrictions,
    };
    return { kind: 'verified', value: { principal, secretHash: found.secretHash } };
  }

  /**
   * A token verified earlier, as its row now says: not revoked, nor gone (its SMS user deleted), nor holding
   * another secret; with its user's IP restrictions read again.
   */
  async function reread(known: VerifiedToken): Promise<VerifiedToken | null> {
    const found = await tokens.findForVerification(known.principal.tokenId);
    if (found === undefined || found.token.revokedAt !== null || found.secretHash !== known.secretHash) return null;
    // Its user's IP restrictions as they are now (changed by the Manager, the CLI or another process).
    return { ...known, principal: { ...known.principal, ipRestrictions: found.ipRestrictions } };
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
      checkOneLine('A token name', name);
      let userId: number | null = null;
      if (input.userLogin !== undefined) {
        const user = await users.findByLogin(account.id, input.userLogin);
        if (!user) throw new AppError('USER_NOT_FOUND', `No SMS user ${excerpt(input.userLogin)} in ${account.name}`);
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
      verified.forgetWhere((known) => known.principal.tokenId === id);
    },

    /** The principal of a bearer token, or undefined when it is malformed, unknown, wrong or revoked. */
    async verify(bearer: string): Promise<TokenPrincipal | undefined> {
      const match = TOKEN.exec(bearer);
      if (!match) return undefined;
      const known = await verified.get(bearer, () => check(Number(match[1]), match[2]), reread);
      return known?.principal;
    },

    /** Forgets cached verifications of the tokens of an SMS user that is being deleted. */
    forgetUser(userId: number): void {
      verified.forgetWhere((known) => known.principal.userId === userId);
    },
  };
}

export type ApiTokensService = ReturnType<typeof createApiTokensService>;
