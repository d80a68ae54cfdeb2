import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { App } from '../src/server/app.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import type { Customer } from '../src/server/modules/accounts/customers.repository.js';
import type { Validity } from '../src/server/modules/ovh-api/ovh-keys.service.js';
import { type AccessRule, ovhSignature } from '../src/server/modules/ovh-api/ovh-signature.js';
import type { Services } from '../src/server/services.js';

/** The three keys an OVH API client is configured with, and their rows. */
export interface OvhKeys {
  appKey: string;
  appSecret: string;
  consumerKey: string;
  applicationId: number;
  credentialId: number;
}

/** Every method on every path: what most scripts' keys are given. */
export const ALL_RULES: AccessRule[] = ['GET', 'POST', 'PUT', 'DELETE'].map((method) => ({ method, path: '/*' }) as AccessRule);

/** An application of `owner` and a consumer key validated for `owner` (as the Manager's "create a key" makes them). */
export async function createOvhKeys(
  target: App | Services,
  owner: Customer | string,
  options: { rules?: AccessRule[]; validity?: Validity; allowedIps?: string[] } = {},
): Promise<OvhKeys> {
  const services = 'inject' in target ? target.services : target;
  const ownerEmail = typeof owner === 'string' ? owner : owner.email;
  const { application, appSecret } = await services.ovhKeys.createApplication(SYSTEM_ACTOR, { name: 'test script', ownerEmail });
  const { consumerKey, credentialId } = await services.ovhKeys.createCredential(SYSTEM_ACTOR, {
    applicationId: application.id,
    ownerEmail,
    rules: options.rules ?? ALL_RULES,
    validity: options.validity ?? null,
    allowedIps: options.allowedIps,
  });
  return { appKey: application.appKey, appSecret, consumerKey, applicationId: application.id, credentialId };
}

/** The headers of a request signed as OVH's npm client signs it (`https://<host>/1.0/…`, no port). */
export function ovhHeaders(
  keys: Pick<OvhKeys, 'appKey' | 'appSecret' | 'consumerKey'>,
  request: { method: string; url: string; body?: string; host?: string; timestamp?: number },
): Record<string, string> {
  const timestamp = String(request.timestamp ?? Math.floor(Date.now() / 1000));
  const host = request.host ?? 'localhost';
  return {
    host,
    'content-type': 'application/json',
    'x-ovh-application': keys.appKey,
    'x-ovh-consumer': keys.consumerKey,
    'x-ovh-timestamp': timestamp,
    'x-ovh-signature': ovhSignature({
      appSecret: keys.appSecret,
      consumerKey: keys.consumerKey,
      method: request.method,
      url: `https://${host.replace(/:\d+$/, '')}${request.url}`,
      body: request.body ?? '',
      timestamp,
    }),
  };
}

/**
 * A signed call of the OVH-compatible API through `app.inject`: `path` under /1.0 (`/sms/…`), `query`
 * appended as the npm client does, `body` sent as JSON. Answers the response.
 */
export async function ovhCall(
  app: App,
  keys: Pick<OvhKeys, 'appKey' | 'appSecret' | 'consumerKey'>,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: {
    query?: Record<string, string | number | boolean>;
    body?: unknown;
    /** The body's text as sent (a malformed one, say), instead of `body` as JSON. */
    rawBody?: string;
    timestamp?: number;
    headers?: Record<string, string>;
    /** The client's address (default 127.0.0.1). */
    remoteAddress?: string;
  } = {},
): Promise<LightMyRequestResponse> {
  const query = options.query ? `?${new URLSearchParams(Object.entries(options.query).map(([k, v]) => [k, String(v)])).toString()}` : '';
  const url = `/1.0${path}${query}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const inject: InjectOptions = {
    method,
    url,
    headers: { ...ovhHeaders(keys, { method, url, body, timestamp: options.timestamp }), ...options.headers },
    ...(body === undefined ? {} : { payload: body }),
    ...(options.remoteAddress === undefined ? {} : { remoteAddress: options.remoteAddress }),
  };
  return app.inject(inject);
}

/**
 * What `ovhKeys.authenticate` gets for a signed `GET /1.0/me` made now (`seconds`: the server's clock, in
 * seconds) with these keys from `ip`: for tests of the keys service without HTTP.
 */
export function signedMeRequest(keys: Pick<OvhKeys, 'appKey' | 'appSecret' | 'consumerKey'>, seconds: number, ip = '127.0.0.1') {
  const timestamp = String(seconds);
  const url = 'https://localhost/1.0/me';
  const { appKey, appSecret, consumerKey } = keys;
  return {
    appKey,
    consumerKey,
    timestamp,
    signature: ovhSignature({ appSecret, consumerKey, method: 'GET', url, body: '', timestamp }),
    method: 'GET',
    urls: [url],
    body: '',
    ip,
    path: '/me',
    checkRules: true,
  };
}
