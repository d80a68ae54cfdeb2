import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { createSharedLoginAttempts } from '../../login-attempts.js';
import { AccountSummarySchema, accountSummaryView, CustomerSchema, customerView } from '../accounts/accounts.schemas.js';
import { normalizeEmail } from '../accounts/customers.service.js';
import { clearSessionCookie, principalOf, setSessionCookie } from './auth.plugin.js';
import type { SignedIn } from './auth.service.js';

/**
 * Failed sign-ins before more are refused unchecked, until a minute passes without one: from one client
 * (an IPv4 address or an IPv6 /64), whatever the e-mail; and for one e-mail address from anywhere, a
 * higher number, so that one client cannot lock a customer out, and many cannot guess more than that.
 * Counted in the database (sign_in_failures), so they hold across every process sharing it.
 */
export const SIGN_IN_FAILURES_PER_CLIENT = 10;
export const SIGN_IN_FAILURES_PER_EMAIL = 100;

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
  stopClause: Type.String({
    description: 'the STOP mention appended (after a line break) to messages sent without noStopClause (RELAIS_STOP_CLAUSE)',
  }),
});

/** The Manager's sign-in, sign-out and "who am I" under /api/v1/auth. */
export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { auth, config, clock, signInFailures } = app.services;
  const tags = ['auth'];

  // Counted in the database: every process sharing it refuses a client or an e-mail the others counted.
  const clientFailures = createSharedLoginAttempts({
    clock,
    repository: signInFailures,
    limit: SIGN_IN_FAILURES_PER_CLIENT,
    scope: 'client',
  });
  const emailFailures = createSharedLoginAttempts({
    clock,
    repository: signInFailures,
    limit: SIGN_IN_FAILURES_PER_EMAIL,
    scope: 'email',
    keyOf: (email) => email,
  });
  const refuse = (reply: FastifyReply, retryAfter: number, what: string): never => {
    reply.header('retry-after', retryAfter);
    throw new AppError('RATE_LIMITED', `Too many failed sign-ins ${what}; try again in ${retryAfter} s`);
  };

  /** Signs in, counted as one attempt of the client and one of the e-mail; a wrong e-mail or password is a failure of both. */
  async function signInLimited(request: FastifyRequest, reply: FastifyReply, email: string, password: string): Promise<SignedIn> {
    // A sign-in refused for its e-mail checked nothing: no failure of this client (`ok`, with its wait).
    type Outcome = { ok: true; signedIn: SignedIn } | { ok: true; emailRetryAfter: number } | { ok: false; error: AppError };
    const signIn = async (): Promise<Outcome> => {
      try {
        return { ok: true, signedIn: await auth.signIn(email, password) };
      } catch (error) {
        if (error instanceof AppError && error.code === 'INVALID_CREDENTIALS') return { ok: false, error };
        throw error;
      }
    };
    const byClient = await clientFailures.attempt(request.ip, async (): Promise<Outcome> => {
      const byEmail = await emailFailures.attempt(email, signIn);
      if (byEmail.kind === 'checked') return byEmail.outcome;
      return { ok: true, emailRetryAfter: byEmail.retryAfterSeconds };
    });
    if (byClient.kind !== 'checked') return refuse(reply, byClient.retryAfterSeconds, 'from this address');
    const outcome = byClient.outcome;
    if (!outcome.ok) throw outcome.error;
    if ('emailRetryAfter' in outcome) return refuse(reply, outcome.emailRetryAfter, 'for this e-mail address');
    return outcome.signedIn;
  }

  app.post(
    '/api/v1/auth/sign-in',
    {
      config: { csrf: false },
      schema: {
        tags,
        operationId: 'signIn',
        summary: 'Signs a customer in: sets the relais_session cookie (HttpOnly, SameSite=Lax) and answers the CSRF token',
        security: [],
        body: SignInBody,
        response: { 200: SignedInSchema },
      },
    },
    async (request, reply) => {
      const signedIn = await signInLimited(request, reply, normalizeEmail(request.body.email), request.body.password);
      setSessionCookie(reply, signedIn.cookie, config.secureCookies);
      return { customer: customerView(signedIn.customer), csrfToken: signedIn.csrfToken };
    },
  );

  app.post(
    '/api/v1/auth/sign-out',
    {
      schema: {
        tags,
        operationId: 'signOut',
        summary: 'Ends the session (and clears the cookie); answers 204 even without one',
        // The session (with its CSRF token), or nothing at all.
        security: [{ session: [] }, {}],
        response: { 204: Type.Null() },
      },
    },
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
        operationId: 'getMe',
        // Only a signed-in customer has a profile: an API token is FORBIDDEN here.
        security: [{ session: [] }],
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
        stopClause: config.stopClause,
      };
    },
  );
};
