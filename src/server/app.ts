import type { Socket } from 'node:net';
import { AjvCompiler } from '@fastify/ajv-compiler';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
  type RouteOptions,
} from 'fastify';
import { ERROR_CODES, type ErrorBody, type ErrorCode } from '../shared/error-codes.js';
import { isAbandoned } from './client-gone.js';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { AppError, HTTP_STATUS, withoutServiceChecks } from './errors.js';
import { isUnstorable, UNSTORABLE_MESSAGE } from './input-text.js';
import { isManagerPage, registerManager, sendManagerPage } from './manager-static.js';
import { accountsRoutes } from './modules/accounts/accounts.routes.js';
import { authPlugin } from './modules/auth/auth.plugin.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import { historyRoutes } from './modules/history/history.routes.js';
import { statsRoutes } from './modules/history/stats.routes.js';
import { HTTP2SMS_PATH, http2smsRoutes } from './modules/http2sms/http2sms.routes.js';
import {
  contentTypeOf,
  HTTP2SMS_STATUS,
  type ResponseFormat,
  renderHttp2sms,
  responseFormatOf,
} from './modules/http2sms/http2sms-response.js';
import { isOvhApiPath, nextOvhQueryId, OVH_API_PREFIX, ovhApiPlugin, ovhErrorBody } from './modules/ovh-api/ovh-api.plugin.js';
import { ovhKeysRoutes } from './modules/ovh-api/ovh-keys.routes.js';
import { jobsRoutes } from './modules/sending/jobs.routes.js';
import { composeServices } from './services.js';

export interface AppDeps {
  config: Readonly<Config>;
  database: Database;
  clock?: Clock;
  /** A pino logger; none (silence) in tests. */
  logger?: FastifyBaseLogger;
}

export type App = FastifyInstance;

function errorBody(code: ErrorBody['error']['code'], message: string): ErrorBody {
  return { error: { code, message } };
}

/** Whether a validated request holds a number that is not finite (Ajv coerces "1e999" to Infinity, past its bounds). */
function containsNonFinite(value: unknown, depth = 0): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (depth > 8 || value === null || typeof value !== 'object') return false;
  for (const v of Array.isArray(value) ? value : Object.values(value)) if (containsNonFinite(v, depth + 1)) return true;
  return false;
}

function containsUnstorable(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return isUnstorable(value);
  if (depth > 8 || value === null || typeof value !== 'object') return false;
  for (const v of Array.isArray(value) ? value : Object.values(value)) if (containsUnstorable(v, depth + 1)) return true;
  return false;
}

/** A clear sentence from the first schema error: which parameter, and what is wrong with it. */
function validationMessage(error: FastifyError): string {
  const where = error.validationContext ?? 'request';
  const first = error.validation?.[0];
  if (first?.keyword === 'additionalProperties') {
    return `${where} has an unknown parameter "${String((first.params as { additionalProperty?: string }).additionalProperty)}"`;
  }
  const field = first?.instancePath ? first.instancePath.slice(1).replaceAll('/', '.') : '';
  if (first && field) return `${where} parameter "${field}" ${first.message}`;
  return `${where} ${first?.message ?? error.message}`;
}

const ajvPool = AjvCompiler();

/**
 * The validators: query strings, paths and headers are text, so their schemas' types are reached by
 * coercion (`limit=50`, `status=sent` as a one-item array); so are the OVH API's and http2sms's bodies,
 * which existing clients send as they always have. A JSON body of the native API (`/api/v1`) is taken
 * as typed: coercion would silently change its meaning (`"quota": ""` read as no quota, `"storeText":
 * null` as false, `[5]` as 5) where a client deserves a 400 naming the field.
 */
type ValidatorBuilder = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator'];
const nativeBodiesUncoerced: ValidatorBuilder = (externalSchemas, options) => {
  const serverOptions = options as { customOptions: Record<string, unknown> };
  const coercing = ajvPool(externalSchemas, serverOptions);
  const typed = ajvPool(externalSchemas, { ...serverOptions, customOptions: { ...serverOptions.customOptions, coerceTypes: false } });
  // The rules a service checks itself (`checkedByService`) are documented, not compiled: the service answers them.
  return (route) => {
    const compiled = { ...route, schema: withoutServiceChecks(route.schema) };
    return route.httpPart === 'body' && route.url?.startsWith('/api/v1/') ? typed(compiled) : coercing(compiled);
  };
};

/** The body of every error answer of the native API, a component of its document (`ErrorBody` in error-codes.ts). */
const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.Unsafe<ErrorCode>(
        Type.String({ enum: [...ERROR_CODES], description: 'what went wrong, for programs (its HTTP status is always the same)' }),
      ),
      message: Type.String({ description: 'what went wrong, for people' }),
    }),
  },
  { $id: 'ErrorBody', description: 'An error: its code (from the catalogue) and a message' },
);

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: Type.Ref('ErrorBody') } },
});

/** The error answers every native API operation may give (the catalogue's codes: see ErrorBody). */
const ERROR_RESPONSES = {
  '4xx': errorResponse(
    'Refused: 400 invalid request, 401 not authenticated, 402 not enough credits, 403 not allowed, 404 not found, 409 already exists, 413 body too large, 415 not JSON, 429 too many requests',
  ),
  '5xx': errorResponse('Failed on the server side (500), or the carrier is unavailable (503)'),
};

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Documents what every native API route has in common: its error answers, and who may call it: by
 * default a bearer token or the Manager session; a route may say otherwise (`security`). A write by
 * the session also needs the X-CSRF-Token header (auth.plugin.ts), so the session goes with `csrf` there.
 */
function documentNativeRoute(route: RouteOptions): void {
  if (!route.url.startsWith('/api/v1/')) return;
  const schema = route.schema ?? {};
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const write = methods.some((method) => !SAFE_METHODS.has(method));
  let security = schema.security as Record<string, string[]>[] | undefined;
  if (write) {
    security = (security ?? [{ bearer: [] }, { session: [] }]).map((requirement) =>
      'session' in requirement && !('csrf' in requirement) ? { ...requirement, csrf: [] } : requirement,
    );
  }
  route.schema = {
    ...schema,
    ...(security ? { security } : {}),
    response: { ...ERROR_RESPONSES, ...(schema.response as object | undefined) },
  };
}

/** The target of a request line (`GET /1.0/sms?x HTTP/1.1` → `/1.0/sms?x`). */
function requestTargetOf(requestLine: string): string {
  return /^[A-Z]+ (\S*)/.exec(requestLine)?.[1] ?? '';
}

/** The path of a request line's target (`GET /1.0/sms?x HTTP/1.1` → `/1.0/sms`), an absolute URL's too. */
function targetPathOf(requestLine: string): string {
  return requestTargetOf(requestLine)
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '')
    .split(/[?#]/, 1)[0];
}

/** The answer format of an http2sms request line (its `contentType`, text/plain by default), or undefined for another path. */
function http2smsFormatOf(requestLine: string): ResponseFormat | undefined {
  if (targetPathOf(requestLine) !== HTTP2SMS_PATH) return undefined;
  const asked = /[?&]contentType=([^&#]*)/.exec(requestTargetOf(requestLine))?.[1];
  let value: string | undefined;
  try {
    value = asked === undefined ? undefined : decodeURIComponent(asked.replace(/\+/g, ' '));
  } catch {
    value = undefined;
  }
  return responseFormatOf(value) ?? 'text/plain';
}

/**
 * An error Fastify's router meets before any route or hook runs: a malformed percent-escape in the path
 * (`%E0%A4%A`, a `%` left unencoded), a parameter past its length, a failed constraint. Under /1.0 the
 * answer is OVH's error with its X-OVH-QueryID (official clients read `message`), elsewhere the native one.
 */
function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
  const message =
    error.code === 'FST_ERR_BAD_URL'
      ? 'The address holds a malformed percent-escape (a % not followed by two hexadecimal digits, or bytes that are not UTF-8): encode every parameter, a % itself as %25'
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? 'A part of the address is too long'
        : status < 500
          ? error.message
          : 'Something went wrong on our side; it has been logged';
  if (status >= 500) request.log.error({ err: error }, 'router error');
  reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
  if (isOvhApiPath((request.raw.url ?? '').split(/[?#]/, 1)[0] ?? '')) {
    const ovhStatus = status === 414 ? 400 : status;
    return reply
      .status(ovhStatus)
      .header('X-OVH-QueryID', nextOvhQueryId())
      .send(ovhErrorBody(ovhStatus, message, status < 500 ? 'INVALID_PARAMETER' : 'INTERNAL'));
  }
  return reply.status(status).send(errorBody(status < 500 ? 'VALIDATION_FAILED' : 'INTERNAL', message));
}

/**
 * A request Node's HTTP parser refused before any route saw it. The usual case is a script writing its
 * text into the address without URL-encoding it (`message=café` in ISO-8859-1 or UTF-8 bytes): http2sms
 * answers it a KO in its own text format, the OVH API (/1.0) its error with an X-OVH-QueryID, the native
 * API its JSON error, each saying what to do.
 */
function answerUnreadableRequest(
  this: { log: FastifyBaseLogger },
  error: Error & { code?: string; rawPacket?: unknown },
  socket: Socket,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, label] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? ['408', 'Request Timeout']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? ['431', 'Request Header Fields Too Large']
        : ['400', 'Bad Request'];
  const reason =
    error.code === 'HPE_INVALID_URL'
      ? 'The address holds characters that are not URL-encoded: encode every parameter value (é is %C3%A9 in UTF-8)'
      : status === '400'
        ? 'The request is not valid HTTP'
        : label;
  const packet = Buffer.isBuffer(error.rawPacket) ? error.rawPacket.subarray(0, 8192).toString('latin1') : '';
  const requestLine = packet.split('\r\n', 1)[0] ?? '';
  const format = http2smsFormatOf(requestLine);
  const ovh = !format && isOvhApiPath(targetPathOf(requestLine));
  const body = format
    ? renderHttp2sms(format, { ok: false, status: HTTP2SMS_STATUS.INVALID_PARAMETER, message: reason })
    : JSON.stringify(ovh ? ovhErrorBody(Number(status), reason, 'VALIDATION_FAILED') : errorBody('VALIDATION_FAILED', reason));
  const type = format ? contentTypeOf(format) : 'application/json; charset=utf-8';
  const queryId = ovh ? `X-OVH-QueryID: ${nextOvhQueryId()}\r\n` : '';
  this.log.debug({ err: error }, 'unreadable request');
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${label}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ${type}\r\n${queryId}Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** The Fastify app with every route; `app.inject` tests it without a socket. */
export async function buildApp(deps: AppDeps): Promise<App> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: 16 * 1024 * 1024,
    // OVH's document ids (signed, carrying their filters) are longer than the default 100 characters.
    routerOptions: { maxParamLength: 1000 },
    clientErrorHandler: answerUnreadableRequest,
    frameworkErrors: answerFrameworkError,
    // One log line per request would cost more than the request itself at our rates.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
    schemaController: { compilersFactory: { buildValidator: nativeBodiesUncoerced } },
    // Only the configured proxies' X-Forwarded-* headers are read (none by default).
    ...(deps.config.trustProxy.length > 0 ? { trustProxy: [...deps.config.trustProxy] } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();

  const services = composeServices({ config: deps.config, database: deps.database, clock: deps.clock ?? systemClock });
  app.decorate('services', services);
  app.addHook('onClose', async () => {
    await services.close();
  });

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      return reply.status(HTTP_STATUS[error.code]).send(errorBody(error.code, error.message));
    }
    if (error.validation) {
      return reply.status(400).send(errorBody('VALIDATION_FAILED', validationMessage(error)));
    }
    if (error.statusCode === 429) return reply.status(429).send(errorBody('RATE_LIMITED', 'Too many requests, try again later'));
    if (error.statusCode === 413) return reply.status(413).send(errorBody('PAYLOAD_TOO_LARGE', 'The request body is too large'));
    if (error.statusCode === 415) {
      const type = (request.headers['content-type'] ?? '').split(';', 1)[0].trim() || 'none';
      return reply
        .status(415)
        .send(errorBody('UNSUPPORTED_MEDIA_TYPE', `Send the body as JSON (Content-Type: application/json); got Content-Type ${type}`));
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.status(error.statusCode).send(errorBody('VALIDATION_FAILED', error.message));
    }
    if (isAbandoned(error, reply)) {
      request.log.info('the client went away before the answer; its reads were given up');
      return reply.status(503).send(errorBody('INTERNAL', 'The client went away'));
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply.status(500).send(errorBody('INTERNAL', 'Something went wrong on our side; it has been logged'));
  });
  app.setNotFoundHandler((request, reply) => {
    // The Manager is a single-page app: its pages (/, /accounts/…) all answer index.html.
    if (isManagerPage(request)) return sendManagerPage(reply);
    reply.status(404).send(errorBody('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`));
  });

  // Before every route (and the document's own hook): each native API route gets its error answers and security.
  app.addSchema(ErrorBodySchema);
  app.addHook('onRoute', documentNativeRoute);

  // The native API reads JSON only: a text/plain body (curl's --data-binary with a text header) is 415 with
  // a sentence saying so, not a 400 about the body's type. http2sms and the OVH API parse their own bodies.
  app.removeContentTypeParser('text/plain');
  await app.register(cookie);
  await app.register(rateLimit, { global: false });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Relais API',
        version: '1',
        description: 'The native REST API of Relais. Errors answer { "error": { "code", "message" } }.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API token from `relais token create` or the Manager' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'relais_session',
            description: 'The Manager session (named __Host-relais_session over HTTPS); writes also need the X-CSRF-Token header',
          },
          csrf: {
            type: 'apiKey',
            in: 'header',
            name: 'X-CSRF-Token',
            description:
              'The CSRF token of the session (answered by sign-in and GET /api/v1/auth/me), sent with every write by the session',
          },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
      tags: [
        { name: 'auth', description: 'The Manager session: sign in and out, who is signed in' },
        { name: 'accounts', description: 'SMS accounts: their settings and credit changes' },
        {
          name: 'users',
          description: 'SMS users of an account: the logins of the OVH-compatible channels, with IP restrictions and quotas',
        },
        { name: 'senders', description: 'The senders an account may send from' },
        { name: 'tokens', description: 'API tokens of an account or of one SMS user (managed in the Manager session)' },
        { name: 'sending', description: 'Sending SMS' },
        { name: 'history', description: 'The history of sent SMS: pages, counts, statistics, downloads, deletion and redaction' },
        {
          name: 'ovh-keys',
          description: "The customer's keys of the OVH-compatible API: applications and consumer keys (Manager session)",
        },
      ],
    },
    // Shared schemas are components named by their $id (ErrorBody, Outgoing…), not def-0, def-1…
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  // Its own CSP (the page's inline scripts by hash), framed by nobody, without upgrade-insecure-requests (plain HTTP on a LAN).
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: true,
    transformStaticCSP: (header) =>
      header
        .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
        .replace(/\s*upgrade-insecure-requests;?/, '')
        .trim(),
  });

  // NUL characters and lone surrogates are refused everywhere (see `isUnstorable`).
  // (OVH's http2sms answers in its own format and refuses them itself.)
  app.addHook('preValidation', async (request) => {
    if (request.url.startsWith('/cgi-bin/')) return;
    if (containsUnstorable(request.query) || containsUnstorable(request.body) || containsUnstorable(request.params)) {
      throw new AppError('VALIDATION_FAILED', `the request ${UNSTORABLE_MESSAGE}`);
    }
  });

  app.addHook('preHandler', async (request) => {
    if (containsNonFinite(request.query) || containsNonFinite(request.params) || containsNonFinite(request.body)) {
      throw new AppError('VALIDATION_FAILED', 'a number in the request is not finite (such as 1e999): give a whole number in range');
    }
  });

  // The APIs answer private data (message texts, numbers, tokens, the CSRF token): no browser or proxy
  // cache keeps it; a route may say otherwise. Their JSON is never sniffed as anything else.
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/api/v1/') || isOvhApiPath(request.url.split('?', 1)[0])) {
      reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
    }
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));

  // Module routes: each plugin registers its own paths (/api/v1/…, OVH paths) and gets the services it needs.
  // (auth first: it decorates requests with their principal)
  await app.register(authPlugin);
  await app.register(authRoutes);
  await app.register(accountsRoutes);
  await app.register(historyRoutes);
  await app.register(statsRoutes);
  await app.register(jobsRoutes);
  await app.register(http2smsRoutes);
  await app.register(ovhKeysRoutes);
  await app.register(ovhApiPlugin, { prefix: OVH_API_PREFIX });
  await registerManager(app);

  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: ReturnType<typeof composeServices>;
  }
}
