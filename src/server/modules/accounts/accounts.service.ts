import { isSupportedCountry } from 'libphonenumber-js/max';
import { isValidTimeZoneName } from '../../../shared/time-zone.js';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { checkOneLine, excerpt } from '../../input-text.js';
import { createTtlLruCache } from '../../ttl-cache.js';
import type { AccountAccess, Principal } from '../auth/principal.js';
import type { Account, AccountPatch, AccountsRepository, CreditChange } from './accounts.repository.js';
import type { CustomersRepository } from './customers.repository.js';

/**
 * How old a row read on a hot path (sending, channels, history reads) may be: account, SMS user and
 * senders lookups are kept this long, so that each request does not read them again. Changes made
 * through this process apply at once; another process (scale-out on PostgreSQL) sees them within this
 * delay. Balances and quotas are never taken from here: the sending transaction reads them.
 */
export const RECENT_READ_TTL_MS = 2_000;

/**
 * Who asks a service for something: a request's principal, or the operator on the command line
 * (`SYSTEM_ACTOR`, used by the CLI and the test factories), who may do everything.
 */
export type Actor = Principal | { kind: 'system' };

export const SYSTEM_ACTOR: Actor = Object.freeze({ kind: 'system' });

/** How audit trails name an actor: "customer:<email>", "token:<id>", "ovh:<consumer key id>", or "operator" (the command line). */
export function auditActor(actor: Actor): string {
  if (actor.kind === 'customer') return `customer:${actor.email}`;
  if (actor.kind === 'token') return `token:${actor.tokenId}`;
  if (actor.kind === 'ovh') return `ovh:${actor.credentialId}`;
  return 'operator';
}

/** The longest reason a credit change may carry (`relais account credit --reason`), in characters. */
export const CREDIT_REASON_MAX_LENGTH = 200;

/**
 * The most credits an account is created with, or given or taken back at once, and the largest quota of
 * an SMS user: far beyond any real need, and exact in a double.
 */
export const MAX_CREDITS = 1e12;

/** How many credit changes one read answers: by default, and at most. */
export const CREDIT_CHANGES_DEFAULT_LIMIT = 50;
export const CREDIT_CHANGES_MAX_LIMIT = 1000;

/** What an actor may do inside an SMS account. */
export type Permission =
  | 'account:read'
  | 'account:write'
  | 'users:read'
  | 'users:write'
  | 'senders:read'
  | 'senders:write'
  | 'tokens:read'
  | 'tokens:write';

/**
 * The access rule, in one place:
 * - the owner (a signed-in customer) and the operator (CLI) may do everything in the account;
 * - an account token may read the account and manage its SMS users and senders, but not change the
 *   account's settings nor list, create or revoke tokens (a leaked token cannot mint others);
 * - a user-scoped token may read the account and its senders, and read only its own SMS user.
 */
const TOKEN_PERMISSIONS: ReadonlySet<Permission> = new Set(['account:read', 'users:read', 'users:write', 'senders:read', 'senders:write']);
const USER_TOKEN_PERMISSIONS: ReadonlySet<Permission> = new Set(['account:read', 'users:read', 'senders:read']);

/** Throws FORBIDDEN unless `actor` may do `permission` (the account itself was already resolved). */
export function assertAllowed(actor: Actor, permission: Permission): void {
  if (actor.kind !== 'token') return;
  const allowed = actor.userId === null ? TOKEN_PERMISSIONS : USER_TOKEN_PERMISSIONS;
  if (!allowed.has(permission)) {
    throw new AppError(
      'FORBIDDEN',
      actor.userId === null ? 'An API token may not do this; sign in to the Manager' : 'A token of an SMS user may not do this',
    );
  }
}

const ACCOUNT_NAME = /^sms-[a-z]{2}\d{5}-\d+$/;

/** An IANA timezone in its canonical spelling (`europe/paris` → `Europe/Paris`); throws VALIDATION_FAILED. */
export function canonicalTimeZone(name: string): string {
  if (!isValidTimeZoneName(name))
    throw new AppError('VALIDATION_FAILED', `Unknown timezone "${excerpt(name)}": expected an IANA name such as Europe/Paris or UTC`);
  const resolved = new Intl.DateTimeFormat('en', { timeZone: name }).resolvedOptions().timeZone;
  if (!/^[A-Za-z]/.test(resolved))
    throw new AppError('VALIDATION_FAILED', `Unknown timezone "${excerpt(name)}": expected an IANA name such as Europe/Paris or UTC`);
  return resolved;
}

function checkCountry(code: string): string {
  const upper = code.toUpperCase();
  if (!/^[A-Z]{2}$/.test(upper) || !isSupportedCountry(upper)) {
    throw new AppError('VALIDATION_FAILED', `Unknown country "${excerpt(code)}": expected an ISO 3166 alpha-2 code such as FR`);
  }
  return upper;
}

function checkDescription(description: string): string {
  if (description.length > 200) throw new AppError('VALIDATION_FAILED', 'The description must be at most 200 characters');
  return checkOneLine('The description', description);
}

/** A credit change's reason: one line of at most CREDIT_REASON_MAX_LENGTH characters; null when none. */
function checkReason(reason: string | undefined): string | null {
  const trimmed = reason?.trim() ?? '';
  if (trimmed === '') return null;
  const length = [...trimmed].length;
  if (length > CREDIT_REASON_MAX_LENGTH)
    throw new AppError('VALIDATION_FAILED', `The reason must be at most ${CREDIT_REASON_MAX_LENGTH} characters, got ${length}`);
  return checkOneLine('The reason', trimmed);
}

/** The bounds of `redactAfterDays` and `retentionDays`, in days (ten years at most). */
export const DAY_LIMIT_MIN = 1;
export const DAY_LIMIT_MAX = 3650;

/** A day limit (redaction, retention): a whole number of days in bounds, or null (off); throws VALIDATION_FAILED. */
function checkDayLimit(name: string, days: number | null): number | null {
  if (days === null) return null;
  if (!Number.isInteger(days) || days < DAY_LIMIT_MIN || days > DAY_LIMIT_MAX) {
    throw new AppError(
      'VALIDATION_FAILED',
      `${name} must be a whole number of days from ${DAY_LIMIT_MIN} to ${DAY_LIMIT_MAX}, or null to turn it off; got ${days}`,
    );
  }
  return days;
}

function notFound(name: string): AppError {
  return new AppError('ACCOUNT_NOT_FOUND', `No SMS account named ${excerpt(name)}`);
}

export interface CreateAccountInput {
  name: string;
  ownerEmail: string;
  credits?: number;
  timezone?: string;
  description?: string;
  defaultCountry?: string;
}

/** The view of `account` that services get: the whole account, or only `user`'s messages when given. */
export function accountAccessFor(account: Account, user: { id: number; login: string } | null, actor: string): AccountAccess {
  return {
    account: {
      id: account.id,
      name: account.name,
      timezone: account.timezone,
      ownerId: account.ownerId,
      credits: account.credits,
      status: account.status,
      defaultCountry: account.defaultCountry,
    },
    userLogin: user?.login ?? null,
    userId: user?.id ?? null,
    actor,
  };
}

/** SMS accounts: creation (operator), reading and settings (owner), and who may reach which account. */
export function createAccountsService(deps: {
  accounts: AccountsRepository;
  customers: CustomersRepository;
  clock: Clock;
  defaultTimeZone: string;
  /** Called after an account's settings changed (the sending service forgets its `storeText`). */
  onChanged?: (accountId: number) => void;
  /** Checks a callback URL as the SMS users' are checked (`checkCallbackUrl` with the config's `callbackPrivate`). */
  checkCallbackUrl?: (url: string) => string;
}) {
  const { accounts, customers, clock } = deps;
  const recent = createTtlLruCache<Account>({ max: 10_000, ttlMs: RECENT_READ_TTL_MS, clock });

  /** The account named `name` as `actor` may see it, or ACCOUNT_NOT_FOUND (never tells that it exists). */
  async function getAccount(actor: Actor, name: string, options: { recent?: boolean } = {}): Promise<Account> {
    let account = options.recent ? recent.get(name) : undefined;
    if (!account) {
      account = await accounts.findByName(name);
      if (account) recent.set(name, account);
    }
    if (!account) throw notFound(name);
    if ((actor.kind === 'customer' || actor.kind === 'ovh') && account.ownerId !== actor.customerId) throw notFound(name);
    if (actor.kind === 'token' && account.id !== actor.accountId) throw notFound(name);
    return account;
  }

  return {
    getAccount,

    /** The `ResolveAccountAccess` contract (auth/principal.ts) for request principals. */
    async resolveAccess(principal: Principal, accountName: string): Promise<AccountAccess> {
      const account = await getAccount(principal, accountName, { recent: true });
      if (principal.kind === 'token' && principal.userId !== null && !principal.userLogin) {
        // A user-scoped token whose user has no login (cannot happen: deleting a user deletes its tokens)
        // is refused rather than scoped to no user, which would mean the Manager's messages.
        throw new AppError('UNAUTHENTICATED', 'This token’s SMS user no longer exists');
      }
      const user = principal.kind === 'token' && principal.userId !== null ? { id: principal.userId, login: principal.userLogin! } : null;
      return accountAccessFor(account, user, auditActor(principal));
    },

    /** Creates an SMS account (operator only: the CLI). */
    async create(input: CreateAccountInput): Promise<Account> {
      if (!ACCOUNT_NAME.test(input.name)) {
        throw new AppError(
          'VALIDATION_FAILED',
          `Invalid account name "${excerpt(input.name)}": expected sms-<2 letters><5 digits>-<number>, e.g. sms-ab12345-1`,
        );
      }
      const credits = input.credits ?? 0;
      if (!Number.isFinite(credits) || credits < 0 || credits > MAX_CREDITS)
        throw new AppError('VALIDATION_FAILED', `The initial credits must be a number from 0 to ${MAX_CREDITS}, got ${credits}`);
      const owner = await customers.findByEmail(input.ownerEmail.trim().toLowerCase());
      if (!owner) throw new AppError('CUSTOMER_NOT_FOUND', `No customer with e-mail ${excerpt(input.ownerEmail)}`);
      return accounts.insert({
        name: input.name,
        ownerId: owner.id,
        description: checkDescription(input.description ?? ''),
        credits,
        timezone: canonicalTimeZone(input.timezone ?? deps.defaultTimeZone),
        defaultCountry: checkCountry(input.defaultCountry ?? 'FR'),
        createdAt: clock.now(),
      });
    },

    /** The accounts `actor` may reach: a customer's own (also through an OVH consumer key), a token's one, every one for the operator. */
    async list(actor: Actor): Promise<Account[]> {
      if (actor.kind === 'customer' || actor.kind === 'ovh') return accounts.listByOwner(actor.customerId);
      if (actor.kind === 'token') {
        const account = await accounts.findById(actor.accountId);
        return account ? [account] : [];
      }
      return accounts.listAll(); // the operator (command line)
    },

    /**
     * Gives an account credits (a negative `delta` takes them back): the operator's, from the command line,
     * never a customer's or a token's. Answers the balance before and after (concurrent debits included),
     * and the change as its audit trail records it, with the actor and the optional `reason`.
     */
    async addCredits(
      actor: Actor,
      name: string,
      delta: number,
      options: { reason?: string } = {},
    ): Promise<{ account: Account; before: number; after: number; change: CreditChange }> {
      if (actor.kind !== 'system') throw new AppError('FORBIDDEN', 'Credits are given by the operator (relais account credit)');
      if (!Number.isFinite(delta) || delta === 0 || Math.abs(delta) > MAX_CREDITS)
        throw new AppError(
          'VALIDATION_FAILED',
          `The credits to add or remove must be a number other than 0, at most ${MAX_CREDITS} at once, got ${delta}`,
        );
      const reason = checkReason(options.reason);
      const account = await getAccount(actor, name);
      const change = await accounts.addCredits(account.id, delta, { actor: auditActor(actor), reason, createdAt: clock.now() });
      recent.delete(name);
      if (change === undefined) {
        const now = await accounts.findById(account.id);
        if (!now) throw notFound(name);
        throw new AppError('INSUFFICIENT_CREDITS', `${name} has ${now.credits} credits: ${-delta} cannot be taken away`);
      }
      const after = change.balanceAfter;
      return { account: { ...account, credits: after }, before: after - change.delta, after, change };
    },

    /**
     * An account's credit changes, newest first: the operator's (relais account credit-history), and the
     * account's own to read (its owner in the Manager, its API tokens), as its balance is.
     */
    async listCreditChanges(actor: Actor, name: string, limit = CREDIT_CHANGES_DEFAULT_LIMIT): Promise<CreditChange[]> {
      return (await this.creditHistory(actor, name, limit)).changes;
    },

    /** `listCreditChanges` with the account they belong to (its timezone dates them for the API). */
    async creditHistory(
      actor: Actor,
      name: string,
      limit = CREDIT_CHANGES_DEFAULT_LIMIT,
    ): Promise<{ account: Account; changes: CreditChange[] }> {
      if (!Number.isInteger(limit) || limit < 1 || limit > CREDIT_CHANGES_MAX_LIMIT)
        throw new AppError('VALIDATION_FAILED', `The limit must be a whole number from 1 to ${CREDIT_CHANGES_MAX_LIMIT}, got ${limit}`);
      const account = await getAccount(actor, name);
      assertAllowed(actor, 'account:read');
      return { account, changes: await accounts.listCreditChanges(account.id, limit) };
    },

    async get(actor: Actor, name: string): Promise<Account> {
      const account = await getAccount(actor, name);
      assertAllowed(actor, 'account:read');
      return account;
    },

    /**
     * Changes the description, timezone, default country, and the privacy settings: whether texts are
     * stored (applies to the next message accepted by this process at once), and after how many days
     * texts are redacted and messages deleted (the history's privacy keeper applies them). Owner only.
     */
    async update(actor: Actor, name: string, patch: AccountPatch): Promise<Account> {
      const account = await getAccount(actor, name);
      assertAllowed(actor, 'account:write');
      const clean: AccountPatch = {};
      if (patch.description !== undefined) clean.description = checkDescription(patch.description);
      if (patch.timezone !== undefined) clean.timezone = canonicalTimeZone(patch.timezone);
      if (patch.defaultCountry !== undefined) clean.defaultCountry = checkCountry(patch.defaultCountry);
      if (patch.storeText !== undefined) {
        if (typeof patch.storeText !== 'boolean') throw new AppError('VALIDATION_FAILED', 'storeText must be true or false');
        clean.storeText = patch.storeText;
      }
      if (patch.redactAfterDays !== undefined) clean.redactAfterDays = checkDayLimit('redactAfterDays', patch.redactAfterDays);
      if (patch.retentionDays !== undefined) clean.retentionDays = checkDayLimit('retentionDays', patch.retentionDays);
      if (patch.callbackUrl !== undefined) {
        if (patch.callbackUrl !== null && typeof patch.callbackUrl !== 'string')
          throw new AppError('VALIDATION_FAILED', 'callbackUrl must be a URL, or null for none');
        clean.callbackUrl = patch.callbackUrl === null ? null : (deps.checkCallbackUrl ?? ((url: string) => url))(patch.callbackUrl);
      }
      if (patch.status !== undefined) {
        if (actor.kind !== 'system')
          throw new AppError('FORBIDDEN', 'Only the operator enables or disables an account (relais account update --status)');
        if (patch.status !== 'enable' && patch.status !== 'disable')
          throw new AppError('VALIDATION_FAILED', `The status must be enable or disable, got ${excerpt(String(patch.status))}`);
        clean.status = patch.status;
      }
      const updated = await accounts.update(account.id, clean);
      recent.delete(name);
      deps.onChanged?.(account.id);
      if (!updated) throw notFound(name);
      return updated;
    },
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
