import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { createLoginAttempts } from './login-attempts.js';
import { createAccountsRepository } from './modules/accounts/accounts.repository.js';
import { createAccountsService } from './modules/accounts/accounts.service.js';
import { createApiTokensRepository } from './modules/accounts/api-tokens.repository.js';
import { createApiTokensService } from './modules/accounts/api-tokens.service.js';
import { createCustomersRepository } from './modules/accounts/customers.repository.js';
import { createCustomersService } from './modules/accounts/customers.service.js';
import { createSendersRepository } from './modules/accounts/senders.repository.js';
import { createSendersService } from './modules/accounts/senders.service.js';
import { createSmsUsersRepository } from './modules/accounts/sms-users.repository.js';
import { checkCallbackUrl, createSmsUsersService } from './modules/accounts/sms-users.service.js';
import { createAuthService } from './modules/auth/auth.service.js';
import { createPasswordHasher } from './modules/auth/password.js';
import type { ResolveAccountAccess } from './modules/auth/principal.js';
import { createSessionsRepository } from './modules/auth/sessions.repository.js';
import { createSignInFailuresRepository } from './modules/auth/sign-in-failures.repository.js';
import { createCallbacksRepository } from './modules/dispatch/callbacks.repository.js';
import { createDispatchRepository } from './modules/dispatch/dispatch.repository.js';
import { createDeletionsRepository } from './modules/history/deletions.repository.js';
import { createHistoryService } from './modules/history/history.service.js';
import { createOutgoingRepository } from './modules/history/outgoing.repository.js';
import { createPrivacyRepository } from './modules/history/privacy.repository.js';
import { createPrivacyKeeper } from './modules/history/privacy-keeper.js';
import { createStatsRepository } from './modules/history/stats.repository.js';
import { createStatsService } from './modules/history/stats.service.js';
import { createOvhDocumentsService } from './modules/ovh-api/ovh-documents.service.js';
import { createOvhKeysRepository } from './modules/ovh-api/ovh-keys.repository.js';
import { createOvhKeysService } from './modules/ovh-api/ovh-keys.service.js';
import { createSendingRepository } from './modules/sending/sending.repository.js';
import { createSendingService } from './modules/sending/sending.service.js';

export interface ServiceDeps {
  config: Readonly<Config>;
  database: Database;
  clock: Clock;
}

/** The composition root: every repository and service, built once from plain factories. */
export function composeServices(deps: ServiceDeps) {
  const { db } = deps.database;
  const { clock } = deps;
  const hasher = createPasswordHasher({ fast: deps.config.argon2TestFast });
  const customerRows = createCustomersRepository(db);
  const accounts = createAccountsService({
    accounts: createAccountsRepository(db),
    customers: customerRows,
    clock,
    defaultTimeZone: deps.config.defaultTimeZone,
    // Its settings changed: the next job reads `storeText` again.
    onChanged: (accountId) => sending.forgetAccount(accountId),
    checkCallbackUrl: (url) => checkCallbackUrl(url, deps.config.callbackPrivate),
  });
  const userRows = createSmsUsersRepository(db);
  const apiTokens = createApiTokensService({ tokens: createApiTokensRepository(db), users: userRows, accounts, hasher, clock });
  const smsUsers = createSmsUsersService({
    users: userRows,
    accounts,
    hasher,
    clock,
    onDeleted: apiTokens.forgetUser,
    allowPrivateCallbacks: deps.config.callbackPrivate,
  });
  const senders = createSendersService({
    senders: createSendersRepository(db),
    accounts,
    clock,
    onChanged: (accountId) => sending.forgetAccount(accountId),
  });
  const customers = createCustomersService({ customers: customerRows, hasher, clock });
  /** The OVH-compatible API's applications and consumer keys, and the check of its signed requests. */
  const ovhKeys = createOvhKeysService({
    keys: createOvhKeysRepository(db),
    customers: customerRows,
    hasher,
    clock,
    serverSecret: deps.config.secretKey,
  });
  const auth = createAuthService({ customers: customerRows, sessions: createSessionsRepository(db), accounts, apiTokens, hasher, clock });
  /** The account a request works on, as its principal may see it (ACCOUNT_NOT_FOUND otherwise). */
  const resolveAccountAccess: ResolveAccountAccess = accounts.resolveAccess;

  const outgoing = createOutgoingRepository(deps.database);
  const deletions = createDeletionsRepository(deps.database);
  const history = createHistoryService({ outgoing, deletions, clock: deps.clock });
  /** The accounts' retention and redaction limits, applied (started by main.ts with the dispatcher). */
  const privacyKeeper = createPrivacyKeeper({ privacy: createPrivacyRepository(deps.database), history, deletions, clock });
  const stats = createStatsService({ stats: createStatsRepository(deps.database, outgoing), clock });
  const acceptedListeners = new Set<() => void>();
  const sending = createSendingService({
    repository: createSendingRepository(deps.database),
    clock,
    creditRates: deps.config.creditRates,
    stopClause: deps.config.stopClause,
    onAccepted: () => {
      for (const listener of acceptedListeners) listener();
    },
  });
  /** The OVH API's history documents (signed ids, CSV made when read). */
  const ovhDocuments = createOvhDocumentsService({ history, ovhKeys, resolveAccountAccess, clock, serverSecret: deps.config.secretKey });
  return {
    sending,
    /** The dispatch queue and callback outbox (the dispatcher and callbacks worker are started by main.ts). */
    dispatch: createDispatchRepository(deps.database),
    callbacks: createCallbacksRepository(deps.database),
    /** Calls `listener` after each commit that accepted messages (a dispatcher's `wake`); returns the unsubscribe. */
    onAccepted(listener: () => void): () => void {
      acceptedListeners.add(listener);
      return () => acceptedListeners.delete(listener);
    },
    customers,
    accounts,
    smsUsers,
    senders,
    apiTokens,
    ovhKeys,
    ovhDocuments,
    auth,
    /** The Manager's failed sign-ins, counted in the database for every process sharing it (auth.routes.ts limits them). */
    signInFailures: createSignInFailuresRepository(db),
    /**
     * Failed API authentications by client (`apiAuthFailuresPerMinute`): wrong bearer tokens and wrong OVH
     * keys or signatures are one budget.
     */
    apiAuthAttempts: createLoginAttempts({ clock, limit: deps.config.apiAuthFailuresPerMinute }),
    resolveAccountAccess,
    history,
    privacyKeeper,
    stats,
    config: deps.config,
    clock: deps.clock,
    database: deps.database,
    /** Stops background work (delete jobs…); the database is closed by its owner. */
    close: async () => {
      await history.close();
    },
  };
}

export type Services = ReturnType<typeof composeServices>;
