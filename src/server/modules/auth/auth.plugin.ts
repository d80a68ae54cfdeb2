import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../errors.js';
import { isIpAllowed } from '../accounts/sms-users.service.js';
import { SESSION_TTL_MS } from './auth.service.js';
import { safeEqual } from './password.js';
import type { Principal } from './principal.js';

/**
 * The Manager's session cookie: HttpOnly, SameSite=Lax, Path=/; Secure when the request came over TLS (the
 * HTTPS port) or `config.secureCookies` says so (TLS ended by a proxy in front), and then named with the
 * `__Host-` prefix (SECURE_SESSION_COOKIE): browsers keep such a cookie to this host, over HTTPS, so a
 * sibling subdomain or a plain-HTTP page cannot plant one; over HTTPS only that name is read.
 */
export const SESSION_COOKIE = 'relais_session';
export const SECURE_SESSION_COOKIE = '__Host-relais_session';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const isSecure = (request: FastifyRequest, configured: boolean) => configured || request.protocol === 'https';
const cookieName = (request: FastifyRequest, configured: boolean) =>
  isSecure(request, configured) ? SECURE_SESSION_COOKIE : SESSION_COOKIE;

/** The session cookie this request sent, under the name its scheme uses. */
export function sessionCookieOf(request: FastifyRequest, secureConfigured: boolean): string | undefined {
  return request.cookies[cookieName(request, secureConfigured)];
}

/** Sets (or refreshes) the session cookie for the session's full lifetime from now. */
export function setSessionCookie(reply: FastifyReply, value: string, secureConfigured: boolean): void {
  reply.setCookie(cookieName(reply.request, secureConfigured), value, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: isSecure(reply.request, secureConfigured),
    maxAge: SESSION_TTL_MS / 1000,
  });
}

export function clearSessionCookie(reply: FastifyReply, secureConfigured: boolean): void {
  const secure = isSecure(reply.request, secureConfigured);
  reply.clearCookie(cookieName(reply.request, secureConfigured), { path: '/', httpOnly: true, sameSite: 'lax', secure });
}

/** The request's principal, or UNAUTHENTICATED: for handlers that did not use `app.requireAuth`. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('UNAUTHENTICATED', 'Sign in, or send Authorization: Bearer <token>');
  return request.principal;
}

/**
 * Authentication for every route (registered first, outside encapsulation):
 * - `request.principal` is set from `Authorization: Bearer <token>` (an invalid or revoked token
 *   answers 401 UNAUTHENTICATED at once; after `apiAuthFailuresPerMinute` of them from one client,
 *   429 RATE_LIMITED unchecked until a minute passes without one) or from the `relais_session` cookie (an unknown or expired
 *   cookie is cleared and the request stays anonymous);
 * - a cookie-authenticated request other than GET/HEAD/OPTIONS must send the session's CSRF token in
 *   `X-CSRF-Token`, else 403 CSRF_FAILED; a route that takes no session (sign-in, or a channel with its
 *   own credentials) opts out with `config: { csrf: false }`. Bearer requests need no CSRF token;
 * - `app.requireAuth` is a hook answering 401 UNAUTHENTICATED when there is no principal.
 */
export const authPlugin = fp(
  async (app) => {
    const { auth, config, apiAuthAttempts } = app.services;
    app.decorateRequest('principal', null);
    app.decorate('requireAuth', async (request: FastifyRequest) => {
      principalOf(request);
    });

    app.addHook('onRequest', async (request, reply) => {
      // The OVH-compatible API authenticates its own way (signed requests: ovh-api.plugin.ts), and http2sms
      // by its login and password: a header a script sends there for something else is not an API token.
      if (request.url.startsWith('/1.0/') || request.url.startsWith('/cgi-bin/')) return;
      const authorization = request.headers.authorization;
      if (authorization !== undefined && /^bearer\s/i.test(authorization)) {
        const attempt = await apiAuthAttempts.attempt(request.ip, async () => {
          const principal = await auth.bearerPrincipal(authorization.slice(7).trim());
          return principal ? { ok: true as const, principal } : { ok: false as const };
        });
        if (attempt.kind !== 'checked') {
          const retryAfter = attempt.retryAfterSeconds;
          reply.header('retry-after', retryAfter);
          throw new AppError('RATE_LIMITED', `Too many invalid API tokens from this address; try again in ${retryAfter} s`);
        }
        if (!attempt.outcome.ok) throw new AppError('UNAUTHENTICATED', 'The API token is invalid or revoked');
        const { principal } = attempt.outcome;
        // An SMS user's token acts as that user: its IP restrictions hold here as on every channel.
        if (principal.kind === 'token' && principal.ipRestrictions.length > 0 && !isIpAllowed(principal.ipRestrictions, request.ip)) {
          throw new AppError('IP_NOT_ALLOWED', `This token's SMS user may not be used from ${request.ip} (its IP restrictions)`);
        }
        request.principal = principal;
        return;
      }
      const cookie = sessionCookieOf(request, config.secureCookies);
      if (!cookie) return;
      const session = await auth.sessionPrincipal(cookie);
      if (!session) {
        clearSessionCookie(reply, config.secureCookies);
        return;
      }
      request.principal = session.principal;
      if (session.renewedUntil !== undefined) setSessionCookie(reply, cookie, config.secureCookies);
      if (SAFE_METHODS.has(request.method) || request.routeOptions.config?.csrf === false) return;
      const sent = request.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !safeEqual(sent, session.principal.csrfToken)) {
        throw new AppError('CSRF_FAILED', 'Missing or wrong X-CSRF-Token header (GET /api/v1/auth/me gives it)');
      }
    });
  },
  { name: 'relais-auth', dependencies: ['@fastify/cookie'] },
);

declare module 'fastify' {
  interface FastifyRequest {
    /** Who makes the request (set by the auth plugin), or null when anonymous. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    /**
     * Route hook: 401 UNAUTHENTICATED without a principal. Prefer `{ onRequest: app.requireAuth }`: it
     * runs before body validation, so an anonymous request is 401 rather than 400 (preHandler works too).
     */
    requireAuth: (request: FastifyRequest) => Promise<void>;
  }
  interface FastifyContextConfig {
    /** false: cookie-authenticated writes to this route need no X-CSRF-Token (the route ignores the session). */
    csrf?: boolean;
  }
}
