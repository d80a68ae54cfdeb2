import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, HTTP_STATUS } from '../../errors.js';
import { ovhAuthRoutes } from './ovh-auth.routes.js';
import type { OvhPrincipal } from './ovh-keys.service.js';
import { signedUrlCandidates } from './ovh-signature.js';
import { ovhSmsRoutes } from './ovh-sms.routes.js';
import { ovhSmsAccountsRoutes } from './ovh-sms-accounts.routes.js';

/** Where the OVH-compatible API lives (OVH-COMPAT.md §1–2): `/1.0/sms/…`, `/1.0/auth/…`, `/1.0/me`. */
export const OVH_API_PREFIX = '/1.0';

/** Whether `path` (without its query) is under the OVH-compatible API: `/1.0` itself or `/1.0/…`. */
export function isOvhApiPath(path: string): boolean {
  return path === OVH_API_PREFIX || path.startsWith(`${OVH_API_PREFIX}/`);
}

// A query id unique to this process (its random prefix) and request (a counter), as OVH's identify calls.
const queryPrefix = randomBytes(4).toString('hex');
let queries = 0;

/**
 * The next `X-OVH-QueryID`: every answer under /1.0 carries one, including those given before any route
 * ran (a malformed address, a request Node's parser refused: see app.ts).
 */
export function nextOvhQueryId(): string {
  queries += 1;
  return `EU.relais.${Math.floor(Date.now() / 1000)}.${queryPrefix}${queries.toString(36)}`;
}

/** Refusals of a signed request that a guess of its keys would get (counted by the failed-authentication limit). */
const GUESSES = new Set<string>(['OVH_INVALID_KEY', 'OVH_INVALID_CREDENTIAL', 'OVH_INVALID_SIGNATURE']);

/** OVH's error classes by HTTP status, as its API names them. */
const ERROR_CLASS: Record<number, string> = {
  400: 'Client::BadRequest',
  403: 'Client::Forbidden',
  404: 'Client::NotFound',
  408: 'Client::RequestTimeout',
  409: 'Client::Conflict',
  429: 'Client::TooManyRequests',
  431: 'Client::RequestHeaderFieldsTooLarge',
  500: 'Server::InternalServerError',
  503: 'Server::ServiceUnavailable',
};

/** OVH answers with fewer statuses than the native API: payment and sign-in problems are 403 there. */
function ovhStatus(status: number): number {
  return status === 401 || status === 402 ? 403 : status === 413 ? 400 : status;
}

/** OVH's error body: `{ class, message, errorCode, httpCode }` (official clients read `message`). */
export function ovhErrorBody(status: number, message: string, errorCode: string) {
  return {
    class: ERROR_CLASS[status] ?? 'Client::BadRequest',
    message,
    errorCode,
    httpCode: `${status} ${STATUS_CODES[status] ?? ''}`.trim(),
  };
}

/** The object of the path that each "not found" error names, as OVH's messages do. */
const NOT_FOUND_FIELD: Partial<Record<AppError['code'], string>> = {
  USER_NOT_FOUND: 'login',
  SENDER_NOT_FOUND: 'sender',
  MESSAGE_NOT_FOUND: 'id',
};

/** An error's message in OVH's words: "This service does not exist", "The requested object (id = 12) does not exist". */
function inOvhWords(error: AppError, params: unknown): string {
  if (error.code === 'ACCOUNT_NOT_FOUND') return 'This service does not exist';
  const field = NOT_FOUND_FIELD[error.code];
  const value = field ? (params as Record<string, unknown> | undefined)?.[field] : undefined;
  return value === undefined ? error.message : `The requested object (${field} = ${String(value)}) does not exist`;
}

/**
 * The called path under /1.0 as the router matched it (what access rules match): the route's pattern with
 * its decoded parameters, so that nothing the router ignores (a `#fragment` after the path, say) reaches a
 * rule's `*`. Null when a parameter hides a slash.
 */
function calledPath(request: FastifyRequest): string | null {
  const params = (request.params ?? {}) as Record<string, unknown>;
  let malformed = false;
  const path = (request.routeOptions.url ?? '').slice(OVH_API_PREFIX.length).replace(/:(\w+)/g, (_, name: string) => {
    const value = String(params[name] ?? '');
    // A slash hidden in one parameter would let a rule's `*` match what the route reads otherwise.
    if (value.includes('/')) malformed = true;
    return value;
  });
  return malformed ? null : path;
}

/** Whether a parsed JSON value nests deeper than `max` (checked without recursion). */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** OVH's objects nest two levels at most; a body nested deeper than this is refused before anything reads it. */
const MAX_BODY_DEPTH = 16;

/** The principal of a signed OVH request (set by this plugin's hook on every route but /auth/time and /auth/credential). */
export function ovhPrincipalOf(request: FastifyRequest): OvhPrincipal {
  const principal = request.principal;
  if (principal?.kind !== 'ovh') throw new AppError('OVH_INVALID_CREDENTIAL', 'This call requires a consumer key (X-Ovh-Consumer)');
  return principal;
}

/**
 * The OVH-compatible API under /1.0, in its own Fastify context: OVH's error shape, an `X-OVH-QueryID`
 * on every answer, JSON bodies kept raw for the signature, and every route signed unless it says
 * `config: { ovhSigned: false }` (`/auth/time`, `/auth/credential`). The native API's session and bearer
 * authentication do not apply here (auth.plugin.ts skips /1.0).
 */
export const ovhApiPlugin: FastifyPluginAsyncTypebox = async (app) => {
  // Requests with a wrong application key, consumer key or signature count with wrong bearer tokens.
  const { ovhKeys, apiAuthAttempts } = app.services;

  // The API's schema documents (`/1.0/sms.json`…), as OVH serves them: the official npm client given
  // `apis: ['sms']` loads them first and reads each operation's method, status and authentication.
  const operations = new Map<string, Map<string, { httpMethod: string; noAuthentication: boolean }[]>>();
  app.addHook('onRoute', (route) => {
    const path = route.url.slice(OVH_API_PREFIX.length).replace(/:(\w+)/g, '{$1}');
    const top = /^\/([A-Za-z]+)(?:\/|$)/.exec(path)?.[1];
    if (!top || path.includes('*') || path.endsWith('.json')) return;
    const byPath = operations.get(top) ?? new Map();
    operations.set(top, byPath);
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      const list = byPath.get(path) ?? [];
      list.push({ httpMethod: method, noAuthentication: route.config?.ovhSigned === false });
      byPath.set(path, list);
    }
  });
  app.get('/:api.json', { config: { ovhSigned: false }, schema: { hide: true } }, async (request, reply) => {
    const api = (request.params as { api: string }).api;
    const byPath = operations.get(api);
    if (!byPath) return notFound(request, reply);
    return {
      apiVersion: '1.0',
      resourcePath: `/${api}`,
      basePath: `${request.protocol}://${request.headers.host ?? 'localhost'}${OVH_API_PREFIX}`,
      apis: [...byPath].map(([path, ops]) => ({
        path,
        description: '',
        operations: ops.map((op) => ({ ...op, apiStatus: { value: 'PRODUCTION', description: 'Stable production version' } })),
      })),
      models: {},
    };
  });

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const raw = body as string;
    request.ovhRawBody = raw;
    if (raw.trim() === '') return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return done(new AppError('VALIDATION_FAILED', 'The body is not valid JSON'), undefined);
    }
    if (nestedDeeperThan(parsed, MAX_BODY_DEPTH)) {
      return done(new AppError('VALIDATION_FAILED', `The body nests deeper than ${MAX_BODY_DEPTH} levels`), undefined);
    }
    done(null, parsed);
  });
  // Any other body: kept raw (so that no body escapes the signature), and refused unless empty.
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const raw = body as string;
    request.ovhRawBody = raw;
    if (raw.trim() === '') return done(null, undefined);
    done(new AppError('VALIDATION_FAILED', 'The body must be JSON (Content-Type: application/json)'), undefined);
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-OVH-QueryID', nextOvhQueryId());
    request.principal = null;
  });

  // After the body is parsed (the signature covers it), before its validation (an unsigned call is 403, not 400).
  app.addHook('preValidation', async (request, reply) => {
    if (request.routeOptions.config?.ovhSigned === false) return;
    const rawUrl = request.raw.url ?? request.url;
    const path = calledPath(request);
    if (path === null) throw new AppError('VALIDATION_FAILED', 'The path is malformed');
    const header = (name: string) => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const attempt = await apiAuthAttempts.attempt(request.ip, async () => {
      try {
        const principal = await ovhKeys.authenticate({
          appKey: header('x-ovh-application'),
          consumerKey: header('x-ovh-consumer'),
          timestamp: header('x-ovh-timestamp'),
          signature: header('x-ovh-signature'),
          method: request.method,
          urls: signedUrlCandidates({ protocol: request.protocol, host: request.headers.host ?? '', rawUrl }),
          body: request.ovhRawBody ?? '',
          ip: request.ip,
          path,
          checkRules: !path.startsWith('/auth/'),
        });
        return { ok: true as const, principal };
      } catch (error) {
        // A wrong key or signature counts; a call not granted or a clock out of step does not.
        if (error instanceof AppError && GUESSES.has(error.code)) return { ok: false as const, error };
        throw error;
      }
    });
    if (attempt.kind !== 'checked') {
      const retryAfter = attempt.retryAfterSeconds;
      reply.header('retry-after', retryAfter);
      throw new AppError('RATE_LIMITED', `Too many requests with a wrong key or signature from this address; try again in ${retryAfter} s`);
    }
    if (!attempt.outcome.ok) throw attempt.outcome.error;
    request.principal = attempt.outcome.principal;
  });

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      const status = ovhStatus(HTTP_STATUS[error.code]);
      if (status >= 500) request.log.error({ err: error }, 'OVH API error');
      return reply.status(status).send(ovhErrorBody(status, inOvhWords(error, request.params), error.code.replace(/^OVH_/, '')));
    }
    if (error.validation) {
      const first = error.validation[0];
      const field = first?.instancePath
        ? first.instancePath.slice(1).replaceAll('/', '.')
        : (first?.params as { missingProperty?: string })?.missingProperty;
      const message = `Invalid parameter${field ? ` ${field}` : ''}: ${first?.message ?? error.message}`;
      return reply.status(400).send(ovhErrorBody(400, message, 'INVALID_PARAMETER'));
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      const status = ovhStatus(error.statusCode);
      return reply.status(status).send(ovhErrorBody(status, error.message, 'BAD_REQUEST'));
    }
    request.log.error({ err: error }, 'unexpected error in the OVH API');
    return reply.status(500).send(ovhErrorBody(500, 'Internal server error', 'INTERNAL'));
  });

  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    reply.status(404).send(ovhErrorBody(404, `Got an invalid (or empty) URL: ${request.method} ${request.url.split('?')[0]}`, 'NOT_FOUND'));
  app.setNotFoundHandler(notFound);
  // The Manager's files are served from a catch-all GET route: these, more specific, keep /1.0 in OVH's shape,
  // `/1.0` and `/1.0/` themselves included (the base path is no resource).
  app.all('/', { config: { ovhSigned: false }, schema: { hide: true } }, notFound);
  app.all('/*', { config: { ovhSigned: false }, schema: { hide: true } }, notFound);

  await app.register(ovhAuthRoutes);
  await app.register(ovhSmsRoutes);
  await app.register(ovhSmsAccountsRoutes);
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The raw JSON body of an OVH API request (its signature covers it). */
    ovhRawBody?: string;
  }
  interface FastifyContextConfig {
    /** false: an OVH API route that takes no signature (`/auth/time`, `/auth/credential`). */
    ovhSigned?: boolean;
  }
}
