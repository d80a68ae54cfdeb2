/**
 * The Manager's only door to the server: JSON over /api/v1 with the session cookie, and the CSRF token
 * (from sign-in or /auth/me) on every write.
 */

/** An error answered by the API: `{ error: { code, message } }`, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

let csrfToken: string | null = null;
let onUnauthenticated: (() => void) | null = null;

/** Remembers the session's CSRF token (sent as X-CSRF-Token on writes). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when an API answer says the session is gone (401), so the app can show the sign-in. */
export function setUnauthenticatedHandler(handler: (() => void) | null): void {
  onUnauthenticated = handler;
}

/** `?a=1&b=x` from the defined, non-empty values (empty string when none). */
export function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The full URL of an API path, for links the browser follows itself (downloads). */
export function apiUrl(path: string, query?: Query): string {
  return `/api/v1${path}${queryString(query)}`;
}

/** `/accounts/{account}` with the name escaped. */
export function accountPath(account: string, rest = ''): string {
  return `/accounts/${encodeURIComponent(account)}${rest}`;
}

interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
}

/** A request public/early.js started for `url` before the app loaded (taken once), if any. */
function takeEarly(url: string): Promise<Response> | undefined {
  const early = (window as { __relaisEarly?: Record<string, Promise<Response>> }).__relaisEarly;
  const response = early?.[url];
  if (response) delete early[url];
  return response;
}

async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const url = apiUrl(path, options.query);
  const early = method === 'GET' ? takeEarly(url) : undefined;
  let response: Response;
  try {
    response = await (early ??
      fetch(url, {
        method,
        headers,
        credentials: 'same-origin',
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
      }));
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'NETWORK', error instanceof Error ? error.message : String(error));
  }
  if (response.status === 204) return undefined as T;
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const body = (data ?? {}) as { error?: { code?: string; message?: string } };
    if (response.status === 401 && !path.startsWith('/auth/sign-in')) onUnauthenticated?.();
    throw new ApiError(response.status, body.error?.code ?? `HTTP_${response.status}`, body.error?.message ?? response.statusText);
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>('GET', path, { query, signal }),
  post: <T>(path: string, body?: unknown, signal?: AbortSignal) => request<T>('POST', path, { body: body ?? {}, signal }),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, { body }),
  delete: <T = void>(path: string) => request<T>('DELETE', path),
};

/** True for the AbortError of a fetch we canceled ourselves. */
export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}
