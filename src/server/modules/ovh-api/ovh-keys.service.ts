import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { checkOneLine, excerpt } from '../../input-text.js';
import { createTtlLruCache } from '../../ttl-cache.js';
import type { Actor } from '../accounts/accounts.service.js';
import { RECENT_READ_TTL_MS } from '../accounts/accounts.service.js';
import type { CustomersRepository } from '../accounts/customers.repository.js';
import { normalizeEmail } from '../accounts/customers.service.js';
import { checkIpRestrictions, isIpAllowed } from '../accounts/sms-users.service.js';
import { type PasswordHasher, randomUrlSafe, sha256Hex } from '../auth/password.js';
import type { Principal } from '../auth/principal.js';
import { createVerifiedSecrets, type SecretCheck } from '../auth/verified-secrets.js';
import type { OvhApplication, OvhCredential, OvhKeysRepository } from './ovh-keys.repository.js';
import {
  type AccessRule,
  APPLICATION_KEY_LENGTH,
  accessRulesProblem,
  CONSUMER_KEY_LENGTH,
  CONSUMER_KEY_LOOKUP_LENGTH,
  deriveApplicationSecret,
  isApplicationKey,
  isConsumerKey,
  randomKey,
  ruleAllows,
  secretCheck,
  signatureMatches,
} from './ovh-signature.js';

export type OvhPrincipal = Extract<Principal, { kind: 'ovh' }>;

/** How long a consumer key may wait for its validation in the Manager. */
export const PENDING_TTL_MS = 24 * 3600_000;
/** How far `X-Ovh-Timestamp` may be from the server's clock (clients correct theirs with /auth/time). */
export const TIMESTAMP_SKEW_S = 300;
/** The validity choices of the validation page (seconds; null: until revoked), as OVH's. */
export const VALIDITY_CHOICES = [3600, 86_400, 30 * 86_400, null] as const;
export type Validity = (typeof VALIDITY_CHOICES)[number];

const NAME_MAX = 100;
const DESCRIPTION_MAX = 500;
const REDIRECTION_MAX = 2000;

/** What a signed request of the OVH-compatible API brings to be checked. */
export interface SignedRequest {
  appKey: string | undefined;
  consumerKey: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  method: string;
  /** The full URLs the client may have signed (signedUrlCandidates). */
  urls: string[];
  /** The raw body, or '' when none. */
  body: string;
  ip: string;
  /** The called path under /1.0, decoded, without its query string: what access rules match. */
  path: string;
  /** false for `/auth/*` calls, which a consumer key may always make about itself. */
  checkRules: boolean;
}

/** A consumer key as the validation page shows it, with its application. */
export interface CredentialRequest {
  application: { name: string; description: string };
  rules: AccessRule[];
  allowedIps: string[] | null;
  redirection: string | null;
  status: OvhCredential['status'] | 'expired';
  createdAt: number;
}

/** A verified consumer key: its credential as last read, and its hash (a row read again must still hold it). */
interface VerifiedKey {
  credential: OvhCredential;
  keyHash: string;
}

function checkText(name: string, value: string, max: number): string {
  const trimmed = value.trim();
  if (trimmed.length > max) throw new AppError('VALIDATION_FAILED', `${name} must be at most ${max} characters`);
  return checkOneLine(name, trimmed);
}

function checkRules(rules: unknown): AccessRule[] {
  const problem = accessRulesProblem(rules);
  if (problem) throw new AppError('VALIDATION_FAILED', problem);
  return (rules as AccessRule[]).map((r) => ({ method: r.method, path: r.path }));
}

function checkRedirection(redirection: string | undefined | null): string | null {
  if (redirection === undefined || redirection === null || redirection === '') return null;
  if (redirection.length > REDIRECTION_MAX)
    throw new AppError('VALIDATION_FAILED', `redirection must be at most ${REDIRECTION_MAX} characters`);
  let url: URL;
  try {
    url = new URL(redirection);
  } catch {
    throw new AppError('VALIDATION_FAILED', `redirection must be an absolute http(s) URL, got "${excerpt(redirection)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError('VALIDATION_FAILED', `redirection must be an absolute http(s) URL, got "${excerpt(redirection)}"`);
  }
  return url.href;
}

function checkValidity(validity: unknown): Validity {
  if (!(VALIDITY_CHOICES as readonly unknown[]).includes(validity)) {
    throw new AppError('VALIDATION_FAILED', 'validity must be 3600 (an hour), 86400 (a day), 2592000 (30 days) or null (until revoked)');
  }
  return validity as Validity;
}

/** The server secret the OVH API derives its secrets and MACs from, or a clear error when there is none. */
export function requireServerSecret(secret: string | null): string {
  if (!secret) {
    throw new AppError(
      'INTERNAL',
      'The OVH-compatible API needs a server secret: set RELAIS_SECRET_KEY (relais serve makes one in its data directory)',
    );
  }
  return secret;
}

const invalidCredential = (message = 'This credential does not exist') => new AppError('OVH_INVALID_CREDENTIAL', message);

/**
 * The OVH-compatible API's keys (OVH-COMPAT.md §2): applications (AK + AS, made by a customer in the
 * Manager or by the operator), consumer keys (asked for by an application with its access rules, then
 * validated by a customer in the Manager, or made validated at once by their owner), and the check of
 * every signed request.
 *
 * Secrets: the application secret is derived from the server secret (never stored, see
 * deriveApplicationSecret); the consumer key is stored as an argon2id hash, found by its first
 * characters. As for API tokens (`createVerifiedSecrets`), a verified consumer key is remembered so
 * that argon2 runs once per key per 5 minutes, and its row is read again when it was last read 2 s ago
 * or more: a key revoked or validated by another process is seen within 2 s; an unknown key is looked
 * up every time (a key made meanwhile works at once) and never pushes a good one out.
 */
export function createOvhKeysService(deps: {
  keys: OvhKeysRepository;
  customers: CustomersRepository;
  hasher: PasswordHasher;
  clock: Clock;
  /** RELAIS_SECRET_KEY or its file; null: no application can be made nor checked (a clear error says why). */
  serverSecret: string | null;
}) {
  const { keys, customers, hasher, clock } = deps;
  const verified = createVerifiedSecrets<VerifiedKey>({ clock, rereadAfterMs: RECENT_READ_TTL_MS });
  /** Applications by key as recently read, each with its secret (derived once per read, not per request). */
  const applications = createTtlLruCache<{ application: OvhApplication; appSecret: string } | null>({
    max: 10_000,
    ttlMs: RECENT_READ_TTL_MS,
    clock,
  });
  /** A change made here (validation, revocation) applies at once in this process. */
  const forget = (credentialId: number) => verified.forgetWhere((known) => known.credential.id === credentialId);

  const serverSecret = () => requireServerSecret(deps.serverSecret);

  /** The customer an actor manages OVH keys as: a signed-in customer, or the operator naming one. */
  async function customerOf(actor: Actor, ownerEmail?: string): Promise<number> {
    if (actor.kind === 'customer') return actor.customerId;
    if (actor.kind === 'system' && ownerEmail !== undefined) {
      const customer = await customers.findByEmail(normalizeEmail(ownerEmail));
      if (!customer) throw new AppError('CUSTOMER_NOT_FOUND', `No customer with e-mail ${ownerEmail}`);
      return customer.id;
    }
    throw new AppError('FORBIDDEN', 'OVH API keys are managed by their owner, signed in to the Manager');
  }

  async function applicationByKey(appKey: string): Promise<{ application: OvhApplication; appSecret: string } | undefined> {
    const cached = applications.get(appKey);
    if (cached !== undefined) return cached ?? undefined;
    const found = await keys.findApplicationByKey(appKey);
    const entry = found ? { application: found, appSecret: deriveApplicationSecret(serverSecret(), found.appKey) } : null;
    applications.set(appKey, entry);
    return entry ?? undefined;
  }

  async function newConsumerKey(): Promise<{ consumerKey: string; lookup: string; keyHash: string }> {
    const consumerKey = randomKey(CONSUMER_KEY_LENGTH);
    return { consumerKey, lookup: consumerKey.slice(0, CONSUMER_KEY_LOOKUP_LENGTH), keyHash: await hasher.hash(consumerKey) };
  }

  function usable(credential: OvhCredential, now: number): OvhCredential | null {
    if (credential.status !== 'validated' || credential.customerId === null) return null;
    if (credential.expiresAt !== null && credential.expiresAt <= now) return null;
    return credential;
  }

  /** The validated, unexpired credential of `consumerKey`, or why not (an AppError). */
  async function credentialOf(consumerKey: string): Promise<OvhCredential> {
    if (!isConsumerKey(consumerKey)) throw invalidCredential();
    const check = async (): Promise<SecretCheck<VerifiedKey>> => {
      const found = await keys.findForVerification(consumerKey.slice(0, CONSUMER_KEY_LOOKUP_LENGTH));
      if (!found) return { kind: 'unknown' };
      if (!(await hasher.verify(found.keyHash, consumerKey))) return { kind: 'wrong' };
      return { kind: 'verified', value: { credential: found.credential, keyHash: found.keyHash } };
    };
    const reread = async (known: VerifiedKey): Promise<VerifiedKey | null> => {
      const again = await keys.findByIdForVerification(known.credential.id);
      return again && again.keyHash === known.keyHash ? { credential: again.credential, keyHash: again.keyHash } : null;
    };
    const credential = (await verified.get(consumerKey, check, reread))?.credential;
    if (!credential) throw invalidCredential();
    if (credential.status === 'pendingValidation') throw invalidCredential('This credential is not valid: it waits for its validation');
    if (!usable(credential, clock.now())) throw invalidCredential('This credential is not valid');
    return credential;
  }

  function requestView(credential: OvhCredential): CredentialRequest {
    const expired = credential.status === 'pendingValidation' && credential.createdAt + PENDING_TTL_MS <= clock.now();
    return {
      application: { name: credential.application.name, description: credential.application.description },
      rules: credential.rules,
      allowedIps: credential.allowedIps,
      redirection: credential.redirection,
      status: expired ? 'expired' : credential.status,
      createdAt: credential.createdAt,
    };
  }

  async function pendingRequest(validationToken: string): Promise<OvhCredential> {
    const credential = validationToken.length <= 100 ? await keys.findByValidationHash(sha256Hex(validationToken)) : undefined;
    if (!credential)
      throw new AppError('OVH_CREDENTIAL_NOT_FOUND', 'No such request for a consumer key: the link is wrong or its key was revoked');
    return credential;
  }

  return {
    /**
     * Refuses a server secret that is not the one the latest application was made with: the command line
     * run elsewhere than `relais serve` (with PostgreSQL) would print keys the servers refuse.
     */
    async checkServerSecret(): Promise<void> {
      const latest = await keys.latestApplication();
      if (latest && secretCheck(serverSecret(), latest.appKey) !== latest.secretCheck) {
        throw new AppError(
          'VALIDATION_FAILED',
          'This server secret is not the one of the running Relais (its OVH applications were made with another): run this command in the directory `relais serve` runs in, or with its RELAIS_SECRET_KEY',
        );
      }
    },

    /** Creates an application: its key and secret (the secret shown once; it is never stored). */
    async createApplication(
      actor: Actor,
      input: { name: string; description?: string; ownerEmail?: string },
    ): Promise<{ application: OvhApplication; appSecret: string }> {
      const secret = serverSecret();
      const customerId = await customerOf(actor, input.ownerEmail);
      const name = checkText('name', input.name, NAME_MAX);
      if (name === '') throw new AppError('VALIDATION_FAILED', 'name must not be empty');
      const appKey = randomKey(APPLICATION_KEY_LENGTH);
      const application = await keys.insertApplication({
        customerId,
        appKey,
        secretCheck: secretCheck(secret, appKey),
        name,
        description: checkText('description', input.description ?? '', DESCRIPTION_MAX),
        createdAt: clock.now(),
      });
      return { application, appSecret: deriveApplicationSecret(secret, application.appKey) };
    },

    async listApplications(actor: Actor, ownerEmail?: string) {
      return keys.listApplications(await customerOf(actor, ownerEmail));
    },

    /** Deletes an application: every consumer key of it stops working (within 2 s on other processes). */
    async deleteApplication(actor: Actor, id: number): Promise<void> {
      const customerId = await customerOf(actor);
      const application = await keys.findApplication(customerId, id);
      if (!application || !(await keys.deleteApplication(customerId, id))) {
        throw new AppError('OVH_APPLICATION_NOT_FOUND', `No OVH application ${id}`);
      }
      applications.delete(application.appKey);
      verified.forgetWhere((known) => known.credential.applicationId === id);
    },

    /**
     * A consumer key made by the owner of an application, validated at once (OVH's "createToken" page):
     * for the owner's own scripts. Answers the key once.
     */
    /** Checks a consumer key's rules, allowed addresses and validity as `createCredential` does (before making its application, say). */
    checkCredentialInput(input: { rules: unknown; allowedIps?: string[] | null; validity: unknown }): void {
      checkRules(input.rules);
      checkValidity(input.validity);
      if (input.allowedIps?.length) checkIpRestrictions(input.allowedIps);
    },

    async createCredential(
      actor: Actor,
      input: { applicationId: number; rules: unknown; allowedIps?: string[] | null; validity: unknown; ownerEmail?: string },
    ): Promise<{ consumerKey: string; credentialId: number }> {
      const customerId = await customerOf(actor, input.ownerEmail);
      const application = await keys.findApplication(customerId, input.applicationId);
      if (!application) throw new AppError('OVH_APPLICATION_NOT_FOUND', `No OVH application ${input.applicationId}`);
      const rules = checkRules(input.rules);
      const validity = checkValidity(input.validity);
      const allowedIps = input.allowedIps?.length ? checkIpRestrictions(input.allowedIps) : null;
      const made = await newConsumerKey();
      const now = clock.now();
      const credentialId = await keys.insertCredential({
        applicationId: application.id,
        customerId,
        lookup: made.lookup,
        keyHash: made.keyHash,
        validationHash: sha256Hex(randomUrlSafe()),
        status: 'validated',
        rules,
        allowedIps,
        redirection: null,
        createdAt: now,
        validatedAt: now,
        expiresAt: validity === null ? null : now + validity * 1000,
      });
      return { consumerKey: made.consumerKey, credentialId };
    },

    /**
     * `POST /1.0/auth/credential`: an application asks for a consumer key with its access rules. Answers
     * the key (not usable until validated) and the token of its validation link.
     */
    async requestCredential(
      appKey: string | undefined,
      input: { accessRules: unknown; redirection?: string | null; allowedIPs?: unknown },
    ): Promise<{ consumerKey: string; validationToken: string }> {
      const application = appKey && isApplicationKey(appKey) ? (await applicationByKey(appKey))?.application : undefined;
      if (!application) throw new AppError('OVH_INVALID_KEY', 'Invalid application key');
      const rules = checkRules(input.accessRules);
      let allowedIps: string[] | null = null;
      if (input.allowedIPs !== undefined && input.allowedIPs !== null) {
        if (!Array.isArray(input.allowedIPs) || input.allowedIPs.some((ip) => typeof ip !== 'string')) {
          throw new AppError('VALIDATION_FAILED', 'allowedIPs must be an array of addresses or CIDR ranges');
        }
        allowedIps = input.allowedIPs.length ? checkIpRestrictions(input.allowedIPs as string[]) : null;
      }
      // Requests never answered are forgotten a day later (their links show "expired" until then).
      await keys.purgeUnvalidated(clock.now() - 2 * PENDING_TTL_MS);
      const made = await newConsumerKey();
      const validationToken = randomUrlSafe();
      await keys.insertCredential({
        applicationId: application.id,
        customerId: null,
        lookup: made.lookup,
        keyHash: made.keyHash,
        validationHash: sha256Hex(validationToken),
        status: 'pendingValidation',
        rules,
        allowedIps,
        redirection: checkRedirection(input.redirection),
        createdAt: clock.now(),
        validatedAt: null,
        expiresAt: null,
      });
      return { consumerKey: made.consumerKey, validationToken };
    },

    /** What the validation page shows (any signed-in customer may open a link sent to them). */
    async getCredentialRequest(actor: Actor, validationToken: string): Promise<CredentialRequest> {
      await customerOf(actor);
      return requestView(await pendingRequest(validationToken));
    },

    /** The customer's decision on a consumer key request; answers where to send the browser next. */
    async decideCredentialRequest(
      actor: Actor,
      validationToken: string,
      decision: { validate: true; validity: unknown } | { validate: false },
    ): Promise<{ redirection: string | null; status: 'validated' | 'refused' }> {
      const customerId = await customerOf(actor);
      const credential = await pendingRequest(validationToken);
      const view = requestView(credential);
      if (view.status !== 'pendingValidation') {
        throw new AppError('VALIDATION_FAILED', `This request was already answered or is too old (${view.status})`);
      }
      const now = clock.now();
      const done = decision.validate
        ? await (async () => {
            const validity = checkValidity(decision.validity);
            return keys.decide(credential.id, {
              status: 'validated',
              customerId,
              validatedAt: now,
              expiresAt: validity === null ? null : now + validity * 1000,
            });
          })()
        : await keys.decide(credential.id, { status: 'refused' });
      if (!done) throw new AppError('VALIDATION_FAILED', 'This request was already answered');
      forget(credential.id);
      return { redirection: credential.redirection, status: decision.validate ? 'validated' : 'refused' };
    },

    /** The consumer keys a customer validated (never the keys themselves). */
    async listCredentials(actor: Actor): Promise<OvhCredential[]> {
      return keys.listCredentials(await customerOf(actor));
    },

    /** Revokes a consumer key: it stops working at once here, within 2 s on other processes. */
    async revokeCredential(actor: Actor, id: number): Promise<void> {
      if (!(await keys.deleteCredential(await customerOf(actor), id))) {
        throw new AppError('OVH_CREDENTIAL_NOT_FOUND', `No consumer key ${id}`);
      }
      forget(id);
    },

    /**
     * Checks a signed request (OVH-COMPAT.md §2): application key, consumer key (validated, unexpired),
     * timestamp within TIMESTAMP_SKEW_S, signature over one of the accepted URLs, allowed IPs, access rules.
     * Answers the principal, or throws the OVH error the official API would.
     */
    async authenticate(request: SignedRequest): Promise<OvhPrincipal> {
      const secret = serverSecret();
      const known = request.appKey && isApplicationKey(request.appKey) ? await applicationByKey(request.appKey) : undefined;
      if (!known) throw new AppError('OVH_INVALID_KEY', 'Invalid application key');
      const { application, appSecret } = known;
      if (!request.consumerKey) throw invalidCredential('This call requires a consumer key (X-Ovh-Consumer)');
      const credential = await credentialOf(request.consumerKey);
      if (credential.applicationId !== application.id) throw invalidCredential();
      const timestamp = request.timestamp ?? '';
      if (!/^\d{1,12}$/.test(timestamp)) throw new AppError('OVH_INVALID_SIGNATURE', 'Missing or malformed X-Ovh-Timestamp');
      if (Math.abs(Number(timestamp) - Math.floor(clock.now() / 1000)) > TIMESTAMP_SKEW_S) {
        throw new AppError('OVH_QUERY_TIME_OUT_OF_BOUNDS', 'Query out of time: X-Ovh-Timestamp is too far from /auth/time');
      }
      const signed = {
        appSecret,
        consumerKey: request.consumerKey,
        method: request.method,
        body: request.body,
        timestamp,
      };
      if (!request.signature || !signatureMatches(request.signature, signed, request.urls)) {
        if (secretCheck(secret, application.appKey) !== application.secretCheck) {
          throw new AppError(
            'INTERNAL',
            'This Relais has another server secret than the one that made this application key: give every Relais sharing the database the same RELAIS_SECRET_KEY',
          );
        }
        throw new AppError('OVH_INVALID_SIGNATURE', 'Invalid signature');
      }
      if (credential.allowedIps && !isIpAllowed(credential.allowedIps, request.ip)) {
        throw new AppError('OVH_NOT_GRANTED_CALL', `This consumer key may not be used from ${request.ip}`);
      }
      if (request.checkRules && !ruleAllows(credential.rules, request.method, request.path)) {
        throw new AppError('OVH_NOT_GRANTED_CALL', 'This call has not been granted');
      }
      const now = clock.now();
      if (credential.lastUsedAt === null || now - credential.lastUsedAt >= 60_000) {
        credential.lastUsedAt = now;
        await keys.markUsed(credential.id, now);
      }
      return { kind: 'ovh', credentialId: credential.id, applicationId: application.id, customerId: credential.customerId ?? 0 };
    },

    /** Whether the consumer key of `principal` is still validated, unexpired and its customer's (read again, not cached). */
    async stillValid(principal: OvhPrincipal): Promise<boolean> {
      const found = await keys.findByIdForVerification(principal.credentialId);
      const credential = found && usable(found.credential, clock.now());
      return Boolean(credential) && credential?.customerId === principal.customerId;
    },

    /** The consumer key of a signed request (`GET /1.0/auth/currentCredential`). */
    async current(principal: OvhPrincipal): Promise<OvhCredential> {
      const found = await keys.findByIdForVerification(principal.credentialId);
      if (!found) throw invalidCredential();
      return found.credential;
    },

    /** The customer of a signed request (`GET /1.0/me`). */
    async me(principal: OvhPrincipal) {
      const customer = await customers.findById(principal.customerId);
      if (!customer) throw invalidCredential();
      return customer;
    },

    /** Ends a consumer key from its own signed request (`POST /1.0/auth/logout`). */
    async logout(principal: OvhPrincipal): Promise<void> {
      await keys.deleteCredential(principal.customerId, principal.credentialId);
      forget(principal.credentialId);
    },
  };
}

export type OvhKeysService = ReturnType<typeof createOvhKeysService>;
