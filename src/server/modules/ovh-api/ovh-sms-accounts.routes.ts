import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type TNull, type TSchema, type TUnion, Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { ovhPrincipalOf } from './ovh-api.plugin.js';
import {
  OVH_QUOTA_STATUSES,
  ovhSenderView,
  ovhSmsUserView,
  senderUpdateFromOvh,
  smsUserUpdateFromOvh,
  undescribedParameters,
} from './ovh-sms-accounts.views.js';

// OpenAPI's `nullable` (as accounts.schemas.ts): with the app's coerceTypes, a union with Type.Null()
// would turn a null into "".
const Nullable = <T extends TSchema>(schema: T) => ({ ...schema, nullable: true }) as unknown as TUnion<[T, TNull]>;

const ServiceParams = Type.Object({ serviceName: Type.String({ maxLength: 100 }) });
const UserParams = Type.Object({ serviceName: ServiceParams.properties.serviceName, login: Type.String({ maxLength: 100 }) });
const SenderParams = Type.Object({ serviceName: ServiceParams.properties.serviceName, sender: Type.String({ maxLength: 100 }) });

const CreateUserBody = Type.Object(
  { login: Type.String({ maxLength: 100 }), password: Type.String({ maxLength: 256 }) },
  { additionalProperties: false },
);

const UpdateUserBody = Type.Object(
  {
    login: Type.Optional(Type.String({ maxLength: 100 })),
    password: Type.Optional(Type.String({ maxLength: 256 })),
    callBack: Type.Optional(Nullable(Type.String({ maxLength: 2048 }))),
    stopCallBack: Type.Optional(Nullable(Type.String({ maxLength: 2048 }))),
    ipRestrictions: Type.Optional(Nullable(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 }))),
    quotaInformations: Type.Optional(
      Type.Object(
        {
          quotaLeft: Type.Optional(Type.Number({ minimum: 0 })),
          quotaStatus: Type.Optional(Type.String({ enum: [...OVH_QUOTA_STATUSES] })),
        },
        { additionalProperties: false },
      ),
    ),
    alertThresholdInformations: Type.Optional(
      Type.Object(
        {
          alertEmail: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
          alertNumber: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
          alertThreshold: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
          support: Type.Optional(Nullable(Type.String({ maxLength: 16 }))),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const SenderStatus = Type.String({ enum: ['enable', 'disable'] });

const CreateSenderBody = Type.Object(
  {
    sender: Type.String({ maxLength: 32 }),
    description: Type.Optional(Type.String({ maxLength: 200 })),
    reason: Type.Optional(Type.String({ maxLength: 2000 })),
    status: Type.Optional(SenderStatus),
  },
  { additionalProperties: false },
);

const UpdateSenderBody = Type.Object(
  {
    sender: Type.Optional(Type.String({ maxLength: 100 })),
    description: Type.Optional(Type.String({ maxLength: 200 })),
    status: Type.Optional(SenderStatus),
    type: Type.Optional(Nullable(Type.String({ maxLength: 32 }))),
    comment: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))),
    referer: Type.Optional(Nullable(Type.String({ maxLength: 32 }))),
    validationMedia: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))),
  },
  { additionalProperties: false },
);

/** A body's schema: an object of fields. */
type BodySchema = TSchema & { properties: Record<string, TSchema> };

/** The fields each body may hold, for OVH's "Received not described parameters" (schemas' nested fields included). */
function describedFields(schema: BodySchema): Record<string, readonly string[] | true> {
  return Object.fromEntries(
    Object.entries(schema.properties).map(([name, property]) => [
      name,
      property.type === 'object' && property.properties ? Object.keys(property.properties) : true,
    ]),
  );
}

/** The first value outside its schema's `enum` (top-level or one object down), as a sentence naming the field; or null. */
function enumProblem(body: unknown, schema: BodySchema, prefix = ''): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  for (const [name, value] of Object.entries(body)) {
    const property: TSchema | undefined = schema.properties[name];
    if (property?.properties && prefix === '') {
      const inner = enumProblem(value, property as BodySchema, `${name}.`);
      if (inner) return inner;
    }
    const allowed = property?.enum as string[] | undefined;
    if (allowed && value != null && !allowed.includes(value as string)) {
      const shown = typeof value === 'object' ? 'an object' : JSON.stringify(value);
      return `Invalid parameter ${prefix}${name}: ${shown} is not one of ${allowed.join(', ')}`;
    }
  }
  return null;
}

/**
 * Before the schema: an absent body is an empty object (so that a missing field is named), a field OVH
 * does not describe is refused by name instead of the schema's anonymous "additional properties", and
 * a word outside its list is refused with the list.
 */
function bodyCheck(schema: BodySchema, call: string) {
  const fields = describedFields(schema);
  return async (request: FastifyRequest) => {
    if (request.body === undefined || request.body === null) request.body = {};
    const problem = undescribedParameters(request.body, fields, call) ?? enumProblem(request.body, schema);
    if (problem) throw new AppError('VALIDATION_FAILED', problem);
  };
}

/**
 * `/1.0/sms/{serviceName}/users[/{login}]` and `/1.0/sms/{serviceName}/senders[/{sender}]` (OVH-COMPAT.md §1):
 * the SMS users and senders of an account of the consumer key's customer, through the same services
 * as the native API (a customer's account only; another's is "This service does not exist").
 * Writes answer `null` with HTTP 200, as OVH does.
 */
export const ovhSmsAccountsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { smsUsers, senders } = app.services;
  const hide = { hide: true };

  // SMS users

  app.get('/sms/:serviceName/users', { schema: { ...hide, params: ServiceParams } }, async (request) => {
    const users = await smsUsers.list(ovhPrincipalOf(request), request.params.serviceName);
    return users.map((u) => u.login);
  });

  app.post(
    '/sms/:serviceName/users',
    {
      schema: { ...hide, params: ServiceParams, body: CreateUserBody },
      preValidation: bodyCheck(CreateUserBody, 'POST:/sms/{serviceName}/users'),
    },
    async (request) => {
      const { login, password } = request.body;
      await smsUsers.create(ovhPrincipalOf(request), request.params.serviceName, { login, password });
      return null;
    },
  );

  app.get('/sms/:serviceName/users/:login', { schema: { ...hide, params: UserParams } }, async (request) => {
    const { serviceName, login } = request.params;
    return ovhSmsUserView(await smsUsers.get(ovhPrincipalOf(request), serviceName, login));
  });

  app.put(
    '/sms/:serviceName/users/:login',
    {
      schema: { ...hide, params: UserParams, body: UpdateUserBody },
      preValidation: bodyCheck(UpdateUserBody, 'PUT:/sms/{serviceName}/users/{login}'),
    },
    async (request) => {
      const { serviceName, login } = request.params;
      const actor = ovhPrincipalOf(request);
      const current = await smsUsers.get(actor, serviceName, login);
      await smsUsers.update(actor, serviceName, login, smsUserUpdateFromOvh(request.body, current));
      return null;
    },
  );

  app.delete('/sms/:serviceName/users/:login', { schema: { ...hide, params: UserParams } }, async (request) => {
    const { serviceName, login } = request.params;
    await smsUsers.delete(ovhPrincipalOf(request), serviceName, login);
    return null;
  });

  // Senders

  app.get('/sms/:serviceName/senders', { schema: { ...hide, params: ServiceParams } }, async (request) => {
    const list = await senders.list(ovhPrincipalOf(request), request.params.serviceName);
    return list.map((s) => s.sender);
  });

  app.post(
    '/sms/:serviceName/senders',
    {
      schema: { ...hide, params: ServiceParams, body: CreateSenderBody },
      preValidation: bodyCheck(CreateSenderBody, 'POST:/sms/{serviceName}/senders'),
    },
    async (request) => {
      // `reason` is for OVH's moderators; here the operator is the validator and new senders are enabled.
      const { sender, description, status } = request.body;
      await senders.create(ovhPrincipalOf(request), request.params.serviceName, { sender, description, status });
      return null;
    },
  );

  app.get('/sms/:serviceName/senders/:sender', { schema: { ...hide, params: SenderParams } }, async (request) => {
    const { serviceName, sender } = request.params;
    return ovhSenderView(await senders.get(ovhPrincipalOf(request), serviceName, sender));
  });

  app.put(
    '/sms/:serviceName/senders/:sender',
    {
      schema: { ...hide, params: SenderParams, body: UpdateSenderBody },
      preValidation: bodyCheck(UpdateSenderBody, 'PUT:/sms/{serviceName}/senders/{sender}'),
    },
    async (request) => {
      const { serviceName, sender } = request.params;
      const actor = ovhPrincipalOf(request);
      const current = await senders.get(actor, serviceName, sender);
      await senders.update(actor, serviceName, sender, senderUpdateFromOvh(request.body, current));
      return null;
    },
  );

  app.delete('/sms/:serviceName/senders/:sender', { schema: { ...hide, params: SenderParams } }, async (request) => {
    const { serviceName, sender } = request.params;
    await senders.delete(ovhPrincipalOf(request), serviceName, sender);
    return null;
  });
};
