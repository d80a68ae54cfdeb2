import type { ErrorCode } from '../shared/error-codes.js';

/** A failure the caller can understand: a code from the catalogue, a message for people, optional details. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

/** The one map from error code to HTTP status, used only by the HTTP error handler. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  INVALID_CURSOR: 400,
  INVALID_SORT: 400,
  INVALID_FILTER: 400,
  TOO_MANY_IDS: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  CSRF_FAILED: 403,
  FORBIDDEN: 403,
  IP_NOT_ALLOWED: 403,
  OVH_INVALID_KEY: 403,
  OVH_INVALID_CREDENTIAL: 403,
  OVH_INVALID_SIGNATURE: 403,
  OVH_QUERY_TIME_OUT_OF_BOUNDS: 400,
  OVH_NOT_GRANTED_CALL: 403,
  OVH_APPLICATION_NOT_FOUND: 404,
  OVH_CREDENTIAL_NOT_FOUND: 404,
  ACCOUNT_NOT_FOUND: 404,
  ACCOUNT_EXISTS: 409,
  CUSTOMER_NOT_FOUND: 404,
  CUSTOMER_EXISTS: 409,
  USER_NOT_FOUND: 404,
  USER_EXISTS: 409,
  SENDER_NOT_FOUND: 404,
  SENDER_EXISTS: 409,
  TOKEN_NOT_FOUND: 404,
  MESSAGE_NOT_FOUND: 404,
  DELETE_JOB_NOT_FOUND: 404,
  PERIOD_TOO_LONG: 400,
  INVALID_RECEIVER: 400,
  INVALID_SENDER: 400,
  INSUFFICIENT_CREDITS: 402,
  ACCOUNT_DISABLED: 403,
  CARRIER_UNAVAILABLE: 503,
  INTERNAL: 500,
};

const CHECKED_BY_SERVICE = Symbol('checkedByService');

/**
 * `schema` whose `keywords` a service checks itself, answering its own error code with its own sentence
 * (INVALID_SORT, INVALID_FILTER, TOO_MANY_IDS, INVALID_SENDER…) rather than the validator's 400
 * VALIDATION_FAILED: the API document shows them, the request validator leaves them out (see
 * `withoutServiceChecks`), so a client reads the rule and gets the answer the service always gave.
 */
export function checkedByService<T extends object>(schema: T, keywords: readonly string[]): T {
  return { ...schema, [CHECKED_BY_SERVICE]: keywords };
}

/** `schema` as the request validator compiles it: the keywords `checkedByService` marked left out (a copy where any is). */
export function withoutServiceChecks<T>(schema: T): T {
  if (Array.isArray(schema)) {
    const items = schema.map((item) => withoutServiceChecks(item));
    return (items.some((item, i) => item !== schema[i]) ? items : schema) as T;
  }
  if (schema === null || typeof schema !== 'object') return schema;
  const object = schema as Record<string | symbol, unknown>;
  const dropped = (object[CHECKED_BY_SERVICE] as readonly string[] | undefined) ?? [];
  let copy: Record<string | symbol, unknown> | undefined = dropped.length > 0 ? { ...object } : undefined;
  for (const keyword of dropped) delete copy![keyword];
  for (const [key, value] of Object.entries(object)) {
    if (dropped.includes(key)) continue;
    const stripped = withoutServiceChecks(value);
    if (stripped === value) continue;
    copy ??= { ...object };
    copy[key] = stripped;
  }
  return (copy ?? schema) as T;
}
