import { randomBytes, randomInt } from 'node:crypto';
import type { App } from '../src/server/app.js';
import type { Config } from '../src/server/config.js';
import type { Account } from '../src/server/modules/accounts/accounts.repository.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import type { Customer } from '../src/server/modules/accounts/customers.repository.js';
import type { Sender } from '../src/server/modules/accounts/senders.repository.js';
import type { SmsUser } from '../src/server/modules/accounts/sms-users.repository.js';
import { SESSION_COOKIE } from '../src/server/modules/auth/auth.plugin.js';
import type { Services } from '../src/server/services.js';

/**
 * Config overrides for route tests that create many customers, users or tokens: cheap argon2id
 * parameters. `describeEachDialectWithApp('…', body, { config: fastAuthConfig })`.
 */
export const fastAuthConfig: Partial<Config> = { argon2TestFast: true };

/** The password every factory uses unless told otherwise. */
export const TEST_PASSWORD = 'correct horse battery staple';

/** The app or its services: every factory takes either. */
export type FactoryTarget = App | Services;

function servicesOf(target: FactoryTarget): Services {
  return 'inject' in target ? target.services : target;
}

function unique(): string {
  return randomBytes(4).toString('hex');
}

function accountName(account: Account | string): string {
  return typeof account === 'string' ? account : account.name;
}

/** `{ authorization: 'Bearer <token>' }` for `app.inject({ headers })`. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** A customer (unique e-mail unless given); `password` is the plaintext to sign in with. */
export async function createCustomer(
  target: FactoryTarget,
  overrides: { email?: string; password?: string } = {},
): Promise<Customer & { password: string }> {
  const password = overrides.password ?? TEST_PASSWORD;
  const customer = await servicesOf(target).customers.create({ email: overrides.email ?? `customer-${unique()}@example.com`, password });
  return { ...customer, password };
}

/** An SMS account (unique name unless given), owned by `owner` or by a new customer. */
export async function createAccount(
  target: FactoryTarget,
  overrides: {
    name?: string;
    owner?: Customer | string;
    credits?: number;
    timezone?: string;
    description?: string;
    defaultCountry?: string;
  } = {},
): Promise<Account> {
  const owner = overrides.owner ?? (await createCustomer(target));
  const letters = String.fromCharCode(97 + randomInt(26), 97 + randomInt(26));
  return servicesOf(target).accounts.create({
    name: overrides.name ?? `sms-${letters}${String(randomInt(100_000)).padStart(5, '0')}-${randomInt(1, 1000)}`,
    ownerEmail: typeof owner === 'string' ? owner : owner.email,
    credits: overrides.credits ?? 1000,
    timezone: overrides.timezone,
    description: overrides.description,
    defaultCountry: overrides.defaultCountry,
  });
}

/** An SMS user of `account` (unique login unless given); `password` is the plaintext. */
export async function createSmsUser(
  target: FactoryTarget,
  account: Account | string,
  overrides: { login?: string; password?: string; ipRestrictions?: string[]; quota?: number | null; callbackUrl?: string | null } = {},
): Promise<SmsUser & { password: string }> {
  const password = overrides.password ?? TEST_PASSWORD;
  const { user } = await servicesOf(target).smsUsers.create(SYSTEM_ACTOR, accountName(account), {
    ...overrides,
    login: overrides.login ?? `user-${unique()}`,
    password,
  });
  return { ...user, password };
}

/** An enabled sender of `account` (a unique alphanumeric one unless given). */
export async function createSender(
  target: FactoryTarget,
  account: Account | string,
  overrides: { sender?: string; description?: string; status?: string } = {},
): Promise<Sender> {
  return servicesOf(target).senders.create(SYSTEM_ACTOR, accountName(account), {
    ...overrides,
    sender: overrides.sender ?? `S${unique()}`,
  });
}

/** An API token of `account` (scoped to the SMS user `user` when given): the plaintext bearer string. */
export async function createToken(
  target: FactoryTarget,
  account: Account | string,
  overrides: { user?: string; name?: string } = {},
): Promise<string> {
  const { bearer: token } = await servicesOf(target).apiTokens.create(SYSTEM_ACTOR, accountName(account), {
    name: overrides.name ?? 'test',
    userLogin: overrides.user,
  });
  return token;
}

export interface TestSession {
  /** `relais_session=<value>`, for a Cookie header. */
  cookie: string;
  csrfToken: string;
  /** Headers for reads: `{ cookie }`. */
  headers: { cookie: string };
  /** Headers for writes: `{ cookie, 'x-csrf-token' }`. */
  writeHeaders: { cookie: string; 'x-csrf-token': string };
}

/**
 * Signs in through the real route; throws unless it answers 200. Each call comes from its own
 * random client address, so tests do not trip the per-IP sign-in rate limit.
 */
export async function signIn(app: App, email: string, password: string = TEST_PASSWORD): Promise<TestSession> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/sign-in',
    payload: { email, password },
    remoteAddress: `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`,
  });
  if (res.statusCode !== 200) throw new Error(`sign-in of ${email} answered ${res.statusCode}: ${res.body}`);
  const value = res.cookies.find((c) => c.name === SESSION_COOKIE)?.value;
  if (!value) throw new Error('sign-in set no session cookie');
  const cookie = `${SESSION_COOKIE}=${value}`;
  const { csrfToken } = res.json() as { csrfToken: string };
  return { cookie, csrfToken, headers: { cookie }, writeHeaders: { cookie, 'x-csrf-token': csrfToken } };
}

export interface SeededAccount {
  customer: Customer & { password: string };
  password: string;
  account: Account;
  /** An account-wide API token (plaintext). */
  token: string;
  /** `{ authorization: 'Bearer <token>' }`. */
  auth: { authorization: string };
}

/** A customer owning one SMS account, and an account-wide token: the usual start of a route test. */
export async function seedCustomerWithAccount(
  target: FactoryTarget,
  overrides: { email?: string; password?: string; account?: Parameters<typeof createAccount>[1] } = {},
): Promise<SeededAccount> {
  const customer = await createCustomer(target, { email: overrides.email, password: overrides.password });
  const account = await createAccount(target, { ...overrides.account, owner: customer });
  const token = await createToken(target, account);
  return { customer, password: customer.password, account, token, auth: bearer(token) };
}

/** What `call` rejects with, or undefined when it resolves. */
export async function errorOf(call: () => Promise<unknown>): Promise<Error | undefined> {
  return call().then(
    () => undefined,
    (error: unknown) => error as Error,
  );
}
