import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import type { Account } from '../accounts/accounts.repository.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { ApiTokensService } from '../accounts/api-tokens.service.js';
import type { Customer, CustomersRepository } from '../accounts/customers.repository.js';
import { normalizeEmail } from '../accounts/customers.service.js';
import { type PasswordHasher, randomUrlSafe, sha256Hex } from './password.js';
import type { Principal } from './principal.js';
import type { SessionsRepository } from './sessions.repository.js';

/**
 * Sessions are sliding: they end 30 days after their last use. To avoid a write per request, the
 * expiry is pushed back (and the cookie re-sent) at most once a day.
 */
export const SESSION_TTL_MS = 30 * 24 * 3600_000;
const SESSION_RENEW_AFTER_MS = 24 * 3600_000;

export type CustomerPrincipal = Extract<Principal, { kind: 'customer' }>;

export interface SignedIn {
  customer: Customer;
  /** The value of the session cookie (only its sha256 is stored). */
  cookie: string;
  csrfToken: string;
  expiresAt: number;
}

/** Signing in and out of the Manager, and turning a cookie or a bearer token into a principal. */
export function createAuthService(deps: {
  customers: CustomersRepository;
  sessions: SessionsRepository;
  accounts: AccountsService;
  apiTokens: ApiTokensService;
  hasher: PasswordHasher;
  clock: Clock;
}) {
  const { customers, sessions, accounts, apiTokens, hasher, clock } = deps;
  const invalid = () => new AppError('INVALID_CREDENTIALS', 'Wrong e-mail or password');

  return {
    /** Checks the e-mail and password and opens a session; INVALID_CREDENTIALS either way, in similar time. */
    async signIn(email: string, password: string): Promise<SignedIn> {
      const found = await customers.findCredentialsByEmail(normalizeEmail(email));
      if (!found) {
        await hasher.verifyDummy(password);
        throw invalid();
      }
      if (!(await hasher.verify(found.passwordHash, password))) throw invalid();
      const now = clock.now();
      await sessions.deleteExpired(now);
      const cookie = randomUrlSafe(32);
      const csrfToken = randomUrlSafe(32);
      const expiresAt = now + SESSION_TTL_MS;
      await sessions.insert({ id: sha256Hex(cookie), customerId: found.customer.id, csrfToken, createdAt: now, expiresAt });
      return { customer: found.customer, cookie, csrfToken, expiresAt };
    },

    async signOut(principal: Principal): Promise<void> {
      if (principal.kind === 'customer') await sessions.delete(principal.sessionId);
    },

    /**
     * The principal of a session cookie, or undefined when unknown or expired. `renewedUntil` is set
     * when the session was just extended (the cookie should be sent again with the new lifetime).
     */
    async sessionPrincipal(cookie: string): Promise<{ principal: CustomerPrincipal; renewedUntil?: number } | undefined> {
      if (cookie.length > 200) return undefined;
      const session = await sessions.find(sha256Hex(cookie));
      if (!session) return undefined;
      const now = clock.now();
      if (session.expiresAt <= now) {
        await sessions.delete(session.id);
        return undefined;
      }
      const principal: CustomerPrincipal = {
        kind: 'customer',
        customerId: session.customerId,
        email: session.email,
        csrfToken: session.csrfToken,
        sessionId: session.id,
      };
      if (session.expiresAt - now > SESSION_TTL_MS - SESSION_RENEW_AFTER_MS) return { principal };
      const renewedUntil = now + SESSION_TTL_MS;
      await sessions.extend(session.id, renewedUntil);
      return { principal, renewedUntil };
    },

    /** The principal of a bearer token, or undefined (see the token cache in api-tokens.service.ts). */
    bearerPrincipal(token: string): Promise<Principal | undefined> {
      return apiTokens.verify(token);
    },

    /** The signed-in customer, the CSRF token of the session and the customer's accounts (Manager start-up). */
    async me(principal: Principal): Promise<{ customer: Customer; csrfToken: string; accounts: Account[] }> {
      if (principal.kind !== 'customer')
        throw new AppError('FORBIDDEN', 'Only a signed-in customer has a profile; tokens may use GET /api/v1/accounts');
      const customer = await customers.findById(principal.customerId);
      if (!customer) throw new AppError('UNAUTHENTICATED', 'This session has ended');
      return { customer, csrfToken: principal.csrfToken, accounts: await accounts.list(principal) };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
