import { type Static, type TNull, type TSchema, type TUnion, Type } from '@sinclair/typebox';
import { getTimeFormatter } from '../../../shared/account-time.js';
import type { Account, CreditChange } from './accounts.repository.js';
import { CREDIT_CHANGES_DEFAULT_LIMIT, CREDIT_CHANGES_MAX_LIMIT, DAY_LIMIT_MAX, DAY_LIMIT_MIN } from './accounts.service.js';
import type { ApiToken } from './api-tokens.repository.js';
import type { Customer } from './customers.repository.js';
import type { Sender } from './senders.repository.js';
import type { SmsUser } from './sms-users.repository.js';

/** Request and response shapes of the accounts API (camelCase JSON, ISO 8601 UTC times). */

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
const DateTime = Type.String({ format: 'date-time' });
// OpenAPI's `nullable: true` (ajv and fast-json-stringify honour it), typed as T | null. Not
// Type.Union([T, Type.Null()]): with the app's coerceTypes, ajv would turn a null into "" (or 0 into
// null) while trying the union's branches in turn.
const Nullable = <T extends TSchema>(schema: T) => ({ ...schema, nullable: true }) as unknown as TUnion<[T, TNull]>;

export const AccountParams = Type.Object({ account: Type.String({ maxLength: 100, description: 'SMS account name, e.g. sms-ab12345-1' }) });
export const UserParams = Type.Object({ account: AccountParams.properties.account, login: Type.String({ maxLength: 100 }) });
export const SenderParams = Type.Object({ account: AccountParams.properties.account, sender: Type.String({ maxLength: 100 }) });
export const TokenParams = Type.Object({
  account: AccountParams.properties.account,
  id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
});

export const CustomerSchema = Type.Object({ id: Type.Integer(), email: Type.String() });

/** An account as GET /auth/me lists it: what the Manager's frame shows on every page (credits, the disabled notice). */
export const AccountSummarySchema = Type.Object({
  name: Type.String(),
  description: Type.String(),
  status: Type.String({ enum: ['enable', 'disable'], description: 'enable or disable (set by the operator): disable sends nothing' }),
  credits: Type.Number(),
  timezone: Type.String(),
});

export const AccountSchema = Type.Object({
  name: Type.String({ examples: ['sms-ab12345-1'] }),
  description: Type.String(),
  status: Type.String({ enum: ['enable', 'disable'], description: 'enable or disable (set by the operator)' }),
  credits: Type.Number({ description: 'credits left' }),
  timezone: Type.String({ description: 'IANA timezone: history dates and CSV are in it' }),
  defaultCountry: Type.String({ description: 'ISO 3166 alpha-2: national receiver numbers are read in it' }),
  storeText: Type.Boolean({ description: 'false: new messages are kept without their text' }),
  redactAfterDays: Nullable(Type.Integer({ description: 'texts of older messages are erased; null = never' })),
  retentionDays: Nullable(Type.Integer({ description: 'older messages are deleted (pending ones excepted); null = kept' })),
  callbackUrl: Nullable(
    Type.String({
      description: 'called on every status change of the messages sent with no SMS user, or whose user has no URL of its own',
    }),
  ),
  createdAt: DateTime,
});

const DayLimit = (description: string) =>
  Nullable(Type.Integer({ minimum: DAY_LIMIT_MIN, maximum: DAY_LIMIT_MAX, description, examples: [30] }));

/**
 * The settings whose JSON type is checked before the schema's type coercion: a coerced value would
 * silently change what happens to the history (`"storeText": null` read as false, `"retentionDays":
 * true` as 1 day); the day limits' bounds too, for one clear sentence. Answers the first problem, or null.
 */
export function strictSettingsProblem(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  if ('storeText' in b && typeof b.storeText !== 'boolean') return 'body parameter "storeText" must be true or false';
  for (const name of ['redactAfterDays', 'retentionDays']) {
    const value = b[name];
    const days = typeof value === 'number' && Number.isInteger(value) && value >= DAY_LIMIT_MIN && value <= DAY_LIMIT_MAX;
    if (name in b && value !== null && !days) {
      return `body parameter "${name}" must be a whole number of days from ${DAY_LIMIT_MIN} to ${DAY_LIMIT_MAX}, or null to turn it off`;
    }
  }
  return null;
}

export const AccountPatchBody = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 200 })),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, examples: ['Europe/Paris'] })),
    defaultCountry: Type.Optional(Type.String({ minLength: 2, maxLength: 2, examples: ['FR'] })),
    storeText: Type.Optional(Type.Boolean({ description: 'false: new messages are kept without their text (applies at once)' })),
    redactAfterDays: Type.Optional(DayLimit('erase the texts of messages older than this many days; null = never')),
    retentionDays: Type.Optional(DayLimit('delete the messages older than this many days (pending ones excepted); null = keep them')),
    callbackUrl: Type.Optional(
      Nullable(
        Type.String({ maxLength: 2048, description: "the account's callback URL (for messages with no SMS user's URL); null = none" }),
      ),
    ),
  },
  { additionalProperties: false },
);

export const SmsUserSchema = Type.Object({
  login: Type.String(),
  ipRestrictions: Type.Array(Type.String(), { description: 'addresses and CIDR ranges allowed; empty = any' }),
  quota: Nullable(Type.Number({ description: 'credits this user may still spend; null = no quota' })),
  callbackUrl: Nullable(Type.String({ description: 'called on every status change of its SMS' })),
  createdAt: DateTime,
});

export const CreatedSmsUserSchema = Type.Composite([
  SmsUserSchema,
  Type.Object({ password: Type.Optional(Type.String({ description: 'present only when generated: shown once, never again' })) }),
]);

const Password = Type.String({ minLength: 8, maxLength: 256 });
const IpRestrictions = Type.Array(Type.String({ maxLength: 64 }), {
  maxItems: 32,
  examples: [['192.0.2.10', '198.51.100.0/24', '2001:db8::/32']],
});
const Quota = Nullable(Type.Number({ minimum: 0 }));
const CallbackUrl = Nullable(Type.String({ maxLength: 2048, examples: ['https://example.com/sms-status'] }));

export const CreateSmsUserBody = Type.Object(
  {
    login: Type.String({ minLength: 1, maxLength: 100, description: '3 to 32 of A-Z a-z 0-9 . _ -, starting with a letter or digit' }),
    password: Type.Optional(Password),
    ipRestrictions: Type.Optional(IpRestrictions),
    quota: Type.Optional(Quota),
    callbackUrl: Type.Optional(CallbackUrl),
  },
  { additionalProperties: false },
);

/**
 * An SMS user body's fields whose JSON type is checked before the schema's type coercion: a quota of `""`
 * would be read as null — no quota, the whole account to spend — and `true` as 1; `generatePassword: "no"`
 * as true. Answers the first problem, or null.
 */
export function strictSmsUserProblem(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  if ('quota' in b && b.quota !== null && typeof b.quota !== 'number')
    return 'body parameter "quota" must be a number of credits, or null for no quota';
  if ('generatePassword' in b && typeof b.generatePassword !== 'boolean') return 'body parameter "generatePassword" must be true or false';
  return null;
}

export const UpdateSmsUserBody = Type.Object(
  {
    password: Type.Optional(Password),
    generatePassword: Type.Optional(
      Type.Boolean({ description: 'true: a new password is generated and answered once (instead of `password`)' }),
    ),
    ipRestrictions: Type.Optional(IpRestrictions),
    quota: Type.Optional(Quota),
    callbackUrl: Type.Optional(CallbackUrl),
  },
  { additionalProperties: false },
);

export const SenderSchema = Type.Object({
  sender: Type.String(),
  description: Type.String(),
  status: Type.Union([Type.Literal('enable'), Type.Literal('disable'), Type.Literal('refused'), Type.Literal('waitingValidation')]),
  type: Type.Union([Type.Literal('alpha'), Type.Literal('numeric'), Type.Literal('shortcode')]),
  createdAt: DateTime,
});

const EnableDisable = Type.Union([Type.Literal('enable'), Type.Literal('disable')]);

export const CreateSenderBody = Type.Object(
  {
    sender: Type.String({
      minLength: 1,
      maxLength: 32,
      description: 'up to 11 of A-Z a-z 0-9 space . - with a letter, or a number of up to 15 digits',
    }),
    description: Type.Optional(Type.String({ maxLength: 200 })),
    status: Type.Optional(EnableDisable),
  },
  { additionalProperties: false },
);

export const UpdateSenderBody = Type.Object(
  { description: Type.Optional(Type.String({ maxLength: 200 })), status: Type.Optional(EnableDisable) },
  { additionalProperties: false },
);

export const TokenSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  user: Nullable(Type.String({ description: 'the SMS user this token is scoped to, or null for the whole account' })),
  createdAt: DateTime,
  lastUsedAt: Nullable(DateTime),
  revokedAt: Nullable(DateTime),
});

export const CreatedTokenSchema = Type.Composite([
  TokenSchema,
  Type.Object({ token: Type.String({ description: 'the bearer token, shown once: Authorization: Bearer <token>' }) }),
]);

export const CreateTokenBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 100 })),
    user: Type.Optional(Type.String({ maxLength: 100, description: 'scope the token to this SMS user (login)' })),
  },
  { additionalProperties: false },
);

export function customerView(customer: Customer): Static<typeof CustomerSchema> {
  return { id: customer.id, email: customer.email };
}

export function accountSummaryView(account: Account): Static<typeof AccountSummarySchema> {
  return {
    name: account.name,
    description: account.description,
    status: account.status,
    credits: account.credits,
    timezone: account.timezone,
  };
}

export function accountView(account: Account): Static<typeof AccountSchema> {
  return {
    name: account.name,
    description: account.description,
    status: account.status,
    credits: account.credits,
    timezone: account.timezone,
    defaultCountry: account.defaultCountry,
    storeText: account.storeText,
    redactAfterDays: account.redactAfterDays,
    retentionDays: account.retentionDays,
    callbackUrl: account.callbackUrl,
    createdAt: iso(account.createdAt),
  };
}

export function smsUserView(user: SmsUser): Static<typeof SmsUserSchema> {
  return {
    login: user.login,
    ipRestrictions: user.ipRestrictions,
    quota: user.quota,
    callbackUrl: user.callbackUrl,
    createdAt: iso(user.createdAt),
  };
}

export function senderView(sender: Sender): Static<typeof SenderSchema> {
  return {
    sender: sender.sender,
    description: sender.description,
    status: sender.status,
    type: sender.type,
    createdAt: iso(sender.createdAt),
  };
}

export function tokenView(token: ApiToken): Static<typeof TokenSchema> {
  return {
    id: token.id,
    name: token.name,
    user: token.userLogin,
    createdAt: iso(token.createdAt),
    lastUsedAt: isoOrNull(token.lastUsedAt),
    revokedAt: isoOrNull(token.revokedAt),
  };
}

export const CreditChangeSchema = Type.Object({
  id: Type.Integer(),
  createdAt: Type.String({ format: 'date-time', description: "in the account's timezone" }),
  delta: Type.Number({ description: 'credits added (negative: taken back)' }),
  balanceAfter: Type.Number({ description: 'the balance right after (debits made meanwhile included)' }),
  reason: Nullable(Type.String()),
  actor: Type.String({ description: 'who: "operator" for the command line' }),
});

export const CreditChangesQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: CREDIT_CHANGES_MAX_LIMIT, default: CREDIT_CHANGES_DEFAULT_LIMIT, description: 'newest first' }),
    ),
  },
  { additionalProperties: false },
);

/** A credit change for the API, its date in the account's timezone (as the history gives its dates). */
export function creditChangeView(c: CreditChange, timeZone: string): Static<typeof CreditChangeSchema> {
  return {
    id: c.id,
    createdAt: getTimeFormatter(timeZone).iso(c.createdAt),
    delta: c.delta,
    balanceAfter: c.balanceAfter,
    reason: c.reason,
    actor: c.actor,
  };
}
