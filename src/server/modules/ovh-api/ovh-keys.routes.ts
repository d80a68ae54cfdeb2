import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import { principalOf } from '../auth/auth.plugin.js';
import type { OvhApplication, OvhCredential } from './ovh-keys.repository.js';

const isoOrNull = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const Rule = Type.Object({
  method: Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('DELETE')]),
  path: Type.String({ maxLength: 512 }),
});
const Validity = Type.Union([Type.Literal(3600), Type.Literal(86_400), Type.Literal(2_592_000), Type.Null()], {
  description: 'seconds: an hour, a day, 30 days; null: until revoked',
});

const ApplicationSchema = Type.Object({
  id: Type.Integer(),
  appKey: Type.String({ description: 'the application key (X-Ovh-Application)' }),
  name: Type.String(),
  description: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  credentials: Type.Integer({ description: 'validated consumer keys' }),
});

const CredentialSchema = Type.Object({
  id: Type.Integer(),
  application: Type.Object({ id: Type.Integer(), name: Type.String(), appKey: Type.String() }),
  rules: Type.Array(Rule),
  allowedIps: Type.Union([Type.Array(Type.String()), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  validatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const RequestSchema = Type.Object({
  application: Type.Object({ name: Type.String(), description: Type.String() }),
  rules: Type.Array(Rule),
  allowedIps: Type.Union([Type.Array(Type.String()), Type.Null()]),
  redirection: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('pendingValidation'), Type.Literal('validated'), Type.Literal('refused'), Type.Literal('expired')]),
  createdAt: Type.String({ format: 'date-time' }),
});

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const TokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) });

function applicationView(a: OvhApplication & { credentials?: number }): Static<typeof ApplicationSchema> {
  return {
    id: a.id,
    appKey: a.appKey,
    name: a.name,
    description: a.description,
    createdAt: new Date(a.createdAt).toISOString(),
    credentials: a.credentials ?? 0,
  };
}

function credentialView(c: OvhCredential): Static<typeof CredentialSchema> {
  return {
    id: c.id,
    application: { id: c.applicationId, name: c.application.name, appKey: c.application.appKey },
    rules: c.rules,
    allowedIps: c.allowedIps,
    createdAt: new Date(c.createdAt).toISOString(),
    validatedAt: isoOrNull(c.validatedAt),
    expiresAt: isoOrNull(c.expiresAt),
    lastUsedAt: isoOrNull(c.lastUsedAt),
  };
}

/**
 * The customer's OVH API keys under /api/v1/ovh, for the Manager (a signed-in customer only: an API
 * token may not mint OVH keys): applications, consumer keys, and the answer to a consumer key request.
 */
export const ovhKeysRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ovhKeys } = app.services;
  const auth = { onRequest: app.requireAuth };
  const tags = ['ovh-keys'];
  // Every route here: the signed-in customer only (an API token is FORBIDDEN), writes with the CSRF token (app.ts).
  const security = [{ session: [] }];

  app.get(
    '/api/v1/ovh/applications',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'listOvhApplications',
        security,
        summary: "The customer's OVH API applications",
        response: { 200: Type.Array(ApplicationSchema) },
      },
    },
    async (request) => (await ovhKeys.listApplications(principalOf(request))).map(applicationView),
  );

  app.post(
    '/api/v1/ovh/applications',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'createOvhApplication',
        security,
        summary: 'Creates an OVH API application; its secret is shown once',
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100 }), description: Type.Optional(Type.String({ maxLength: 500 })) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Composite([ApplicationSchema, Type.Object({ appSecret: Type.String() })]) },
      },
    },
    async (request, reply) => {
      const { application, appSecret } = await ovhKeys.createApplication(principalOf(request), request.body);
      return reply.status(201).send({ ...applicationView(application), appSecret });
    },
  );

  app.delete(
    '/api/v1/ovh/applications/:id',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'deleteOvhApplication',
        security,
        summary: 'Deletes an application and every consumer key of it',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await ovhKeys.deleteApplication(principalOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/ovh/applications/:id/credentials',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'createOvhCredential',
        security,
        summary: 'Creates a consumer key of the application, validated at once, for the customer; the key is shown once',
        params: IdParams,
        body: Type.Object(
          {
            rules: Type.Array(Rule, { minItems: 1, maxItems: 100 }),
            validity: Validity,
            allowedIps: Type.Optional(Type.Union([Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ id: Type.Integer(), consumerKey: Type.String() }) },
      },
    },
    async (request, reply) => {
      const { consumerKey, credentialId } = await ovhKeys.createCredential(principalOf(request), {
        applicationId: request.params.id,
        ...request.body,
      });
      return reply.status(201).send({ id: credentialId, consumerKey });
    },
  );

  app.get(
    '/api/v1/ovh/credentials',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'listOvhCredentials',
        security,
        summary: 'The consumer keys the customer validated',
        response: { 200: Type.Array(CredentialSchema) },
      },
    },
    async (request) => (await ovhKeys.listCredentials(principalOf(request))).map(credentialView),
  );

  app.delete(
    '/api/v1/ovh/credentials/:id',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'revokeOvhCredential',
        security,
        summary: 'Revokes a consumer key',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await ovhKeys.revokeCredential(principalOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/ovh/credential-requests/:token',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'getOvhCredentialRequest',
        security,
        summary: 'A consumer key request, as its validation page shows it',
        params: TokenParams,
        response: { 200: RequestSchema },
      },
    },
    async (request) => {
      const view = await ovhKeys.getCredentialRequest(principalOf(request), request.params.token);
      return { ...view, createdAt: new Date(view.createdAt).toISOString() };
    },
  );

  app.post(
    '/api/v1/ovh/credential-requests/:token/validate',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'validateOvhCredentialRequest',
        security,
        summary: "Validates a consumer key request for the signed-in customer's accounts, for the chosen time",
        params: TokenParams,
        body: Type.Object({ validity: Validity }, { additionalProperties: false }),
        response: { 200: Type.Object({ status: Type.String(), redirection: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) =>
      ovhKeys.decideCredentialRequest(principalOf(request), request.params.token, { validate: true, validity: request.body.validity }),
  );

  app.post(
    '/api/v1/ovh/credential-requests/:token/refuse',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'refuseOvhCredentialRequest',
        security,
        summary: 'Refuses a consumer key request',
        params: TokenParams,
        response: { 200: Type.Object({ status: Type.String(), redirection: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => ovhKeys.decideCredentialRequest(principalOf(request), request.params.token, { validate: false }),
  );
};
