import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { clientOf } from '../../ip-address.js';
import { createLoginAttempts } from '../../login-attempts.js';
import { type CheckedRequest, createHttp2smsService, type Http2smsService } from './http2sms.service.js';
import { type ReadParamsResult, readHttp2smsParams } from './http2sms-params.js';
import {
  contentTypeOf,
  HTTP2SMS_STATUS,
  type Http2smsOutcome,
  type ResponseFormat,
  renderHttp2sms,
  responseFormatOf,
} from './http2sms-response.js';

const INTERNAL_MESSAGE = 'Internal error; nothing was sent, try again';

/**
 * The largest request body read, urlencoded or multipart: 100,000 receivers and a 5,000-character text fit
 * in 2 MB (the app's 16 MB would be decoded whole, ~1.5 s of the event loop, before the per-IP limit).
 */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * A `multipart/form-data` form (PHP's cURL given an array, `curl -F`) as the urlencoded body the route
 * reads: each field's bytes as sent, percent-encoded (a `+` in it is a `+`), read by `readHttp2smsParams`
 * with the request's charset as a urlencoded form is. Files are ignored.
 */
function multipartAsForm(headers: IncomingHttpHeaders, payload: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const refuse = (statusCode: number, message: string) => reject(Object.assign(new Error(message), { statusCode }));
    let parser: busboy.Busboy;
    try {
      // latin1: each byte one character, so the field's bytes come back as they were sent.
      parser = busboy({ headers, defCharset: 'latin1', limits: { fields: 200, fieldSize: MAX_BODY_BYTES, files: 0, parts: 200 } });
    } catch (error) {
      refuse(400, `Malformed multipart form: ${(error as Error).message}`);
      return;
    }
    const pairs: string[] = [];
    let received = 0;
    let tooBig = false;
    // Counted as it arrives (file parts included, which are read and dropped): past the limit, no more is read.
    payload.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_BODY_BYTES && !tooBig) {
        tooBig = true;
        payload.unpipe(parser);
        payload.resume();
        refuse(413, `Request body too large: at most ${MAX_BODY_BYTES} bytes`);
      }
    });
    parser.on('field', (name, value) => {
      pairs.push(
        `${encodeURIComponent(name)}=${[...Buffer.from(value, 'latin1')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`,
      );
    });
    parser.on('file', (_name, file) => file.resume());
    parser.on('error', (error) => refuse(400, `Malformed multipart form: ${(error as Error).message}`));
    parser.on('close', () => {
      if (!tooBig) resolve(Buffer.from(pairs.join('&'), 'latin1'));
    });
    payload.pipe(parser);
  });
}

type Authorized = Awaited<ReturnType<Http2smsService['authorize']>>;
type Refusal = Extract<Http2smsOutcome, { ok: false }>;

/** OVH's http2sms path. */
export const HTTP2SMS_PATH = '/cgi-bin/sms/http2sms.cgi';

function rawQueryOf(request: FastifyRequest): string {
  const url = request.raw.url ?? '';
  const q = url.indexOf('?');
  return q === -1 ? '' : url.slice(q + 1);
}

/** The format a request asked for from its query string alone (for answers given before the body is read). */
function formatFromQuery(request: FastifyRequest): ResponseFormat {
  const { params } = readHttp2smsParams({ query: rawQueryOf(request) });
  return responseFormatOf(params.contentType) ?? 'text/plain';
}

/**
 * `GET|POST /cgi-bin/sms/http2sms.cgi` (OVH-COMPAT §3): parameters in the query string or a form body
 * (`application/x-www-form-urlencoded`, read here as raw bytes so that a charset can be honoured).
 *
 * HTTP status: 200 for every answer of the protocol, success or KO (OVH's clients read the body),
 * except 429 when rate limited (with Retry-After; the body still says KO in the format asked for),
 * 413/415/400 for a body too large, of another type or unreadable, and 500 for an unexpected failure.
 * Never cached; no HEAD route (a HEAD must not send an SMS).
 *
 * Rate limits (config `http2smsRateLimit`): per client address before anything else, per SMS user once
 * authenticated (so nobody can exhaust another user's budget with a wrong password), and failed logins
 * per client a minute (`loginAttempts`); a client is an IPv4 address or an IPv6 /64. A refused request
 * records and debits nothing.
 */
export const http2smsRoutes: FastifyPluginAsync = async (app) => {
  const { smsUsers, sending, clock, config } = app.services;
  const service = createHttp2smsService({ smsUsers, sending, clock });
  const limits = config.http2smsRateLimit;

  // Only form bodies, as raw bytes (the charset decides how to read them); encapsulated in this plugin.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.addContentTypeParser('multipart/form-data', (request: FastifyRequest, payload: FastifyRequest['raw']) =>
    multipartAsForm(request.headers, payload),
  );

  const userOf = new WeakMap<FastifyRequest, number>();
  const perIp =
    limits.perIp > 0
      ? app.createRateLimit({ max: limits.perIp, timeWindow: limits.windowMs, keyGenerator: (r) => `http2sms:ip:${clientOf(r.ip)}` })
      : undefined;
  const perUser =
    limits.perUser > 0
      ? app.createRateLimit({
          max: limits.perUser,
          timeWindow: limits.windowMs,
          keyGenerator: (r) => `http2sms:user:${userOf.get(r)}`,
        })
      : undefined;
  const loginAttempts = createLoginAttempts({ clock, limit: limits.authFailuresPerMinute });

  /** A refusal when `limiter` is over its limit for `request` (counting this request). */
  async function overLimit(
    limiter: typeof perIp,
    request: FastifyRequest,
    reply: FastifyReply,
    message: (retryAfter: number) => string,
  ): Promise<Http2smsOutcome | undefined> {
    if (!limiter) return undefined;
    const result = await limiter(request);
    if (result.isAllowed || !result.isExceeded) return undefined;
    return rateLimited(reply, Math.max(1, result.ttlInSeconds), message);
  }

  function rateLimited(reply: FastifyReply, retryAfter: number, message: (retryAfter: number) => string): Refusal {
    reply.header('retry-after', retryAfter);
    return { ok: false, status: HTTP2SMS_STATUS.RATE_LIMITED, message: message(retryAfter) };
  }

  /**
   * Authorizes the request as one login attempt from its address (`loginAttempts`): refused (429)
   * unchecked once the failed logins of its client reach the limit; a refused login (wrong
   * credentials or an address not allowed) counts as a failure.
   */
  async function login(request: FastifyRequest, reply: FastifyReply, checked: CheckedRequest): Promise<Authorized> {
    const attempt = await loginAttempts.attempt(request.ip, () => service.authorize(checked, request.ip));
    if (attempt.kind === 'checked') return attempt.outcome;
    const retryAfter = attempt.retryAfterSeconds;
    return rateLimited(reply, retryAfter, (s) => `Too many failed logins from this IP address; try again in ${s} s`);
  }

  /** HTTP 200, except 429 when rate limited and 500 on an unexpected failure (and the transport errors below). */
  function answer(reply: FastifyReply, format: ResponseFormat, outcome: Http2smsOutcome, httpStatus?: number) {
    const status =
      httpStatus ??
      (outcome.ok ? 200 : outcome.status === HTTP2SMS_STATUS.RATE_LIMITED ? 429 : outcome.status === HTTP2SMS_STATUS.INTERNAL ? 500 : 200);
    return reply
      .status(status)
      .header('content-type', contentTypeOf(format))
      .header('cache-control', 'no-store')
      .send(renderHttp2sms(format, outcome));
  }

  // Errors before the handler (unreadable or too large body, unsupported type, a bad bearer token): KO too.
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const format = formatFromQuery(request);
    const ko = (status: number, message: string) => answer(reply, format, { ok: false, status, message }, status);
    if (error instanceof AppError) return ko(error.code === 'UNAUTHENTICATED' ? 401 : 400, error.message);
    if (error.statusCode === 413) return ko(413, 'Request too large');
    if (error.statusCode === 415) {
      return ko(415, 'Unsupported Content-Type: send the parameters in the query string or as application/x-www-form-urlencoded');
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return ko(error.statusCode, error.message);
    request.log.error({ err: error }, 'http2sms failed');
    return ko(HTTP2SMS_STATUS.INTERNAL, INTERNAL_MESSAGE);
  });

  /** What the request comes to; every refusal is decided before anything is written. */
  async function outcomeOf(
    request: FastifyRequest,
    reply: FastifyReply,
    read: ReadParamsResult,
    format: ResponseFormat | undefined,
  ): Promise<Http2smsOutcome> {
    const perSecond = (n: number) => `at most ${n} in ${limits.windowMs / 1000} s`;
    const ipLimited = await overLimit(
      perIp,
      request,
      reply,
      (s) => `Too many requests from this IP address (${perSecond(limits.perIp)}); try again in ${s} s`,
    );
    if (ipLimited) return ipLimited;
    if (!format) {
      const known = 'text/plain, text/html, text/xml, application/xml, text/json or application/json';
      return { ok: false, status: HTTP2SMS_STATUS.INVALID_PARAMETER, message: `Invalid contentType: expected ${known}` };
    }
    if (!read.ok) return { ok: false, status: HTTP2SMS_STATUS.INVALID_PARAMETER, message: read.error };
    const checked = service.check(read.params);
    if (!checked.ok) return checked;

    const authorized = await login(request, reply, checked.request);
    if (!authorized.ok) return authorized;
    userOf.set(request, authorized.access.userId!);
    const userLimited = await overLimit(
      perUser,
      request,
      reply,
      (s) => `Too many requests for this SMS user (${perSecond(limits.perUser)}); try again in ${s} s`,
    );
    if (userLimited) return userLimited;

    return service.send(authorized.access, checked.request);
  }

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const body = request.body instanceof Buffer ? request.body : undefined;
    const read = readHttp2smsParams({ query: rawQueryOf(request), body, contentType: request.headers['content-type'] });
    const format = responseFormatOf(read.params.contentType);
    let outcome: Http2smsOutcome;
    try {
      outcome = await outcomeOf(request, reply, read, format);
    } catch (error) {
      request.log.error({ err: error }, 'http2sms failed');
      outcome = { ok: false, status: HTTP2SMS_STATUS.INTERNAL, message: INTERNAL_MESSAGE };
    }
    return answer(reply, format ?? 'text/plain', outcome);
  }

  const options = { exposeHeadRoute: false, bodyLimit: MAX_BODY_BYTES, config: { csrf: false }, schema: { hide: true } };
  app.get(HTTP2SMS_PATH, options, handle);
  app.post(HTTP2SMS_PATH, options, handle);
};
