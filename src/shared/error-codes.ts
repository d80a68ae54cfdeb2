/** Every error code Relais answers with, grouped by area. The HTTP status of each is in server/errors.ts. */
export const ERROR_CODES = [
  // request
  'VALIDATION_FAILED', // a parameter or body field is missing or malformed
  'INVALID_CURSOR', // the pagination cursor is not one we issued, or belongs to another query
  'INVALID_SORT', // unknown sort column
  'INVALID_FILTER', // a filter value is malformed (date, status, channel…)
  'TOO_MANY_IDS', // an id list is longer than allowed
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE', // a request body of a type the route does not read (the native API reads JSON)
  'RATE_LIMITED',
  'NOT_FOUND', // no such route
  // auth
  'UNAUTHENTICATED', // no valid session or token
  'INVALID_CREDENTIALS', // wrong e-mail/login or password
  'CSRF_FAILED', // a cookie-authenticated write without the right X-CSRF-Token header
  'FORBIDDEN', // authenticated but not allowed to do this
  'IP_NOT_ALLOWED', // an SMS user's token (or login) used from an address outside the user's IP restrictions
  // auth of the OVH-compatible API (OVH-COMPAT.md §2; answered there as OVH's errorCode without the prefix)
  'OVH_INVALID_KEY', // unknown application key
  'OVH_INVALID_CREDENTIAL', // unknown, refused, expired or not yet validated consumer key
  'OVH_INVALID_SIGNATURE', // X-Ovh-Signature does not match the request
  'OVH_QUERY_TIME_OUT_OF_BOUNDS', // X-Ovh-Timestamp too far from the server's clock
  'OVH_NOT_GRANTED_CALL', // the consumer key's access rules do not allow this call
  'OVH_APPLICATION_NOT_FOUND',
  'OVH_CREDENTIAL_NOT_FOUND',
  // accounts
  'ACCOUNT_NOT_FOUND',
  'ACCOUNT_EXISTS',
  'CUSTOMER_NOT_FOUND',
  'CUSTOMER_EXISTS',
  'USER_NOT_FOUND',
  'USER_EXISTS',
  'SENDER_NOT_FOUND',
  'SENDER_EXISTS',
  'TOKEN_NOT_FOUND',
  // history
  'MESSAGE_NOT_FOUND',
  'DELETE_JOB_NOT_FOUND',
  'PERIOD_TOO_LONG', // statistics asked for more days than one answer may hold
  // sending
  'INVALID_RECEIVER',
  'INVALID_SENDER',
  'INSUFFICIENT_CREDITS',
  'ACCOUNT_DISABLED', // the operator disabled the SMS account: it sends nothing
  'CARRIER_UNAVAILABLE',
  // anything unexpected
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The JSON body of every error answer of the native API. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}
