import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { AccountSummarySchema, accountSummaryView, CustomerSchema, customerView } from '../accounts/accounts.schemas.js';
import { normalizeEmail } from '../accounts/customers.service.js';
import { clearSessionCookie, principalOf, setSessionCookie } from './auth.plugin.js';

/** Sign-in attempts allowed per minute, per client IP and per e-mail address (each counted apart). */
export const SIGN_IN_ATTEMPTS_PER_MINUTE = 10;

const SignInBody = Type.Object(
  { email: Type.String({ minLength: 1, maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);

const SignedInSchema = Type.Object({
  customer: CustomerSchema,
  csrfToken: Type.String({ description: 'send it in X-CSRF-Token with every cookie-authenticated write' }),
});

const MeSchema = Type.Object({
  customer: CustomerSchema,
  csrfToken: Type.String(),
  accounts: Type.Array(AccountSummarySchema),
  httpsPort: Type.Union([Type.Integer(), Type.Null()], {
    description: 'the port of this Relais’ HTTPS service (OVH’s npm clients use only HTTPS); null when it does not run',
  }),
});

/** The Manager's sign-in, sign-out and "who am I" under /api/v1/auth. */
export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { auth, config } = app.services;
  const tags = ['auth'];

  const limiters = [
    app.createRateLimit({ max: SIGN_IN_ATTEMPTS_PER_MINUTE, timeWindow: 60_000, keyGenerator: (request) => `sign-in:ip:${request.ip}` }),
    app.createRateLimit({
      max: SIGN_IN_ATTEMPTS_PER_MINUTE,
      timeWindow: 60_000,
      keyGenerator: (request) => `sign-in:email:${normalizeEmail((request.body as { email: string }).email)}`,
    }),
  ];
  // Runs after body validation, so the e-mail is there. Not `config.rateLimit`: a route gets one key only.
  const limitSignIn = async (request: FastifyRequest, reply: FastifyReply) => {
    for (const limit of limiters) {
      const result = await limit(request);
      if (!result.isAllowed && result.isExceeded) {
        reply.header('retry-after', result.ttlInSeconds);
        throw new AppError('RATE_LIMITED', `Too many sign-in attempts; try again in ${result.ttlInSeconds} s`);
      }
    }
  };

  app.post(
    '/api/v1/auth/sign-in',
    {
      config: { csrf: false },
      preHandler: limitSignIn,
      schema: {
        tags,
        summary: 'Signs a customer in: sets the relais_session cookie (HttpOnly, SameSite=Lax) and answers the CSRF token',
        security: [],
        body: SignInBody,
        response: { 200: SignedInSchema },
      },
    },
    async (request, reply) => {
      const signedIn = await auth.signIn(request.body.email, request.body.password);
      setSessionCookie(reply, signedIn.cookie, config.secureCookies);
      return { customer: customerView(signedIn.customer), csrfToken: signedIn.csrfToken };
    },
  );

  app.post(
    '/api/v1/auth/sign-out',
    { schema: { tags, summary: 'Ends the session (and clears the cookie); answers 204 even without one', response: { 204: Type.Null() } } },
    async (request, reply) => {
      if (request.principal) await auth.signOut(request.principal);
      clearSessionCookie(reply, config.secureCookies);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      onRequest: app.requireAuth,
      schema: {
        tags,
        summary: 'The signed-in customer, the CSRF token of the session and their SMS accounts',
        response: { 200: MeSchema },
      },
    },
    async (request) => {
      const me = await auth.me(principalOf(request));
      return {
        customer: customerView(me.customer),
        csrfToken: me.csrfToken,
        accounts: me.accounts.map(accountSummaryView),
        httpsPort: config.services.includes('https') ? config.httpsPort : null,
      };
    },
  );
};
