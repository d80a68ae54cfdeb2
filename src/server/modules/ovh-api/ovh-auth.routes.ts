import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../errors.js';
import { clientOf } from '../../ip-address.js';
import { ovhPrincipalOf } from './ovh-api.plugin.js';

/**
 * Consumer key requests allowed per minute from one client (each costs an argon2id hash and a row): one
 * IPv4 address, or one IPv6 /64 (a host usually has a whole /64 to pick addresses from).
 */
export const CREDENTIAL_REQUESTS_PER_MINUTE = 20;

/** Where a customer approves a consumer key: a Manager page. */
export const VALIDATION_PAGE = '/ovh/validate';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00'));

/** `/1.0/auth/…` and `/1.0/me` (OVH-COMPAT.md §2). */
export const ovhAuthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { ovhKeys, clock, config } = app.services;

  app.get('/auth/time', { config: { ovhSigned: false }, schema: { hide: true } }, async (_request, reply) => {
    reply.type('application/json; charset=utf-8');
    return String(Math.floor(clock.now() / 1000));
  });

  const limitRequests = app.createRateLimit({
    max: CREDENTIAL_REQUESTS_PER_MINUTE,
    timeWindow: 60_000,
    keyGenerator: (request) => `ovh-credential:${clientOf(request.ip)}`,
  });

  app.post(
    '/auth/credential',
    {
      config: { ovhSigned: false },
      schema: {
        hide: true,
        body: Type.Object({
          accessRules: Type.Array(Type.Object({ method: Type.String(), path: Type.String() }), { maxItems: 100 }),
          redirection: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          allowedIPs: Type.Optional(Type.Union([Type.Array(Type.String(), { maxItems: 100 }), Type.Null()])),
        }),
      },
    },
    async (request, reply) => {
      const limit = await limitRequests(request);
      if (!limit.isAllowed && limit.isExceeded) {
        reply.header('retry-after', limit.ttlInSeconds);
        throw new AppError('RATE_LIMITED', `Too many consumer key requests; try again in ${limit.ttlInSeconds} s`);
      }
      const appKey = request.headers['x-ovh-application'];
      const made = await ovhKeys.requestCredential(typeof appKey === 'string' ? appKey : undefined, request.body);
      const base = config.publicUrl?.replace(/\/+$/, '') ?? `${request.protocol}://${request.headers.host ?? 'localhost'}`;
      return {
        validationUrl: `${base}${VALIDATION_PAGE}?credentialToken=${encodeURIComponent(made.validationToken)}`,
        consumerKey: made.consumerKey,
        state: 'pendingValidation',
      };
    },
  );

  app.get('/auth/currentCredential', { schema: { hide: true } }, async (request) => {
    const credential = await ovhKeys.current(ovhPrincipalOf(request));
    return {
      credentialId: credential.id,
      applicationId: credential.applicationId,
      rules: credential.rules,
      allowedIPs: credential.allowedIps,
      status: credential.status,
      creation: iso(credential.createdAt),
      expiration: iso(credential.expiresAt),
      lastUse: iso(credential.lastUsedAt),
      ovhSupport: false,
    };
  });

  app.post('/auth/logout', { schema: { hide: true } }, async (request) => {
    await ovhKeys.logout(ovhPrincipalOf(request));
    return null;
  });

  app.get('/me', { schema: { hide: true } }, async (request) => {
    const customer = await ovhKeys.me(ovhPrincipalOf(request));
    return { nichandle: `relais-${customer.id}`, email: customer.email, customerCode: String(customer.id), state: 'complete' };
  });
};
