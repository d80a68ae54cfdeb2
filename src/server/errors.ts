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
