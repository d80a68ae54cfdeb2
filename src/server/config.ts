import { isIP } from 'node:net';
import { isValidTimeZoneName } from '../shared/time-zone.js';
import { withPasswordHidden } from './hidden-password.js';
import { parseSimulatorSpec } from './modules/carriers/simulator.carrier.js';
import { parseSmppUrl } from './modules/carriers/smpp.carrier.js';

/** Which parts of Relais one process runs (`RELAIS_SERVICES`). */
export const SERVICES = ['http', 'https', 'smtp', 'smpp', 'dispatcher'] as const;
/** What a process runs when RELAIS_SERVICES is not set: every service. */
export const DEFAULT_SERVICES: readonly (typeof SERVICES)[number][] = SERVICES;
export type Service = (typeof SERVICES)[number];

export interface Config {
  /** `sqlite:PATH` (embedded, the default) or `postgres://…`. */
  databaseUrl: string;
  /** Manager, native API, http2sms and OVH-compatible API. */
  httpPort: number;
  /** The same over TLS. */
  httpsPort: number;
  /** mail2sms. */
  smtpPort: number;
  /** Largest mail mail2sms accepts, in bytes (`RELAIS_SMTP_MAX_SIZE`, 10 MiB); bigger ones get 552. */
  smtpMaxSize: number;
  /**
   * PEM certificate and key files (`RELAIS_TLS_CERT`, `RELAIS_TLS_KEY`), both or neither: HTTPS and
   * mail2sms's STARTTLS use them. Without them HTTPS uses a self-signed certificate and mail2sms offers no STARTTLS.
   */
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  /** SMPP server for customers' programs. */
  smppPort: number;
  /**
   * SMPP over TLS for customers' programs (`RELAIS_SMPP_TLS_PORT`, off unless set; 3550 is the usual
   * port), with the HTTPS certificate (RELAIS_TLS_CERT/KEY, or the self-signed one). Runs with `smpp`.
   */
  smppTlsPort: number | null;
  /** Address every listener binds to. */
  host: string;
  /** `simulator[?tps=…&receipt_delay=…]` or `smpp://system_id:password@host:port?window=…&tps=…`. */
  carrier: string;
  services: readonly Service[];
  /** Rows in the Manager's "Télécharger l'historique" (the seed's 2000). */
  csvDownloadLimit: number;
  /** Default timezone of new SMS accounts. */
  defaultTimeZone: string;
  /** Log level for pino. */
  logLevel: string;
  /** Public base URL printed at start (defaults to http://localhost:PORT). */
  publicUrl: string | null;
  /**
   * The server secret (`RELAIS_SECRET_KEY`, at least 32 characters) from which the OVH-compatible API's
   * application secrets are derived. Unset: `relais serve` and the CLI use the file `relais-secret.key`
   * in the data directory (made at the first start, readable by its owner only). Every Relais sharing one
   * PostgreSQL database must use the same; changing it invalidates every OVH application secret.
   */
  secretKey: string | null;
  /** Set `Secure` on session cookies (default: only when served over HTTPS). */
  secureCookies: boolean;
  /**
   * Credits per SMS part by receiver prefix (`RELAIS_CREDIT_RATES="+33=1,+32=1.5,+1=2,default=1"`):
   * the longest matching prefix wins; `default` (1 unless set) for the rest.
   */
  creditRates: Readonly<Record<string, number>>;
  /** The commercial STOP mention appended to messages unless `noStopClause` (`RELAIS_STOP_CLAUSE`). */
  stopClause: string;
  /**
   * http2sms rate limits, generous by default: requests a second from one client address
   * (`RELAIS_HTTP2SMS_RATE_PER_IP`, 200) and for one SMS user (`RELAIS_HTTP2SMS_RATE_PER_USER`, 100);
   * 0 turns a limit off. Failed logins from one address a minute (`RELAIS_HTTP2SMS_AUTH_FAILURES_PER_MINUTE`,
   * 30) slow down password guessing. `windowMs` (1000, no variable) is the window of the first two; tests lengthen it.
   */
  http2smsRateLimit: Readonly<{ perIp: number; perUser: number; authFailuresPerMinute: number; windowMs: number }>;
  /**
   * Failed API authentications from one client (an IPv4 address or an IPv6 /64) before its requests are
   * refused unchecked (429) until a minute passes without one (`RELAIS_API_AUTH_FAILURES_PER_MINUTE`,
   * 100; 0: no limit): wrong or revoked bearer tokens, and OVH requests with a wrong application key,
   * consumer key or signature. Each costs an argon2 check or a lookup; nobody guesses a token's secret.
   */
  apiAuthFailuresPerMinute: number;
  /**
   * The reverse proxies or load balancers in front of the HTTP(S) ports (`RELAIS_TRUST_PROXY`: addresses
   * and CIDR ranges, comma-separated, or `loopback`, `linklocal`, `uniquelocal`; none by default). A
   * request from one of them is taken as from the client its `X-Forwarded-For` names (rate limits, SMS
   * users' IP restrictions, OVH keys' allowed IPs), with its `X-Forwarded-Proto` and `X-Forwarded-Host`.
   * From any other address these headers are ignored: a client cannot pretend to be elsewhere.
   */
  trustProxy: readonly string[];
  /**
   * Tests only (`RELAIS_ARGON2_TEST_FAST=1`): hash passwords and token secrets with cheap argon2id
   * parameters. Never set it in production; the default is OWASP's argon2id recommendation.
   */
  argon2TestFast: boolean;
  /**
   * `RELAIS_CALLBACK_PRIVATE=allow` lets callback URLs reach loopback and private addresses (a callback
   * receiver on the same network). Default `deny`: a customer's callback URL cannot make Relais call
   * the internal network (SSRF).
   */
  callbackPrivate: boolean;
  /**
   * How long a dispatcher's claim on a message lasts without renewal (`RELAIS_DISPATCH_LEASE_MS`, 30 s,
   * 1 s to 10 min): claims are renewed while the carrier works on them, so this is how soon the messages
   * of a dispatcher that died (kill -9, power loss) go to another one or to its restart.
   */
  dispatchLeaseMs: number;
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0, max = 65535): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** pino's levels (`silent` logs nothing). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Every variable `loadConfig` reads (the unknown-variable warning compares against these). */
export const KNOWN_VARIABLES = [
  'RELAIS_DATABASE_URL',
  'RELAIS_HTTP_PORT',
  'RELAIS_HTTPS_PORT',
  'RELAIS_SMTP_PORT',
  'RELAIS_SMTP_MAX_SIZE',
  'RELAIS_TLS_CERT',
  'RELAIS_TLS_KEY',
  'RELAIS_SMPP_PORT',
  'RELAIS_SMPP_TLS_PORT',
  'RELAIS_HOST',
  'RELAIS_CARRIER',
  'RELAIS_SERVICES',
  'RELAIS_CSV_DOWNLOAD_LIMIT',
  'RELAIS_DEFAULT_TIMEZONE',
  'RELAIS_LOG_LEVEL',
  'RELAIS_PUBLIC_URL',
  'RELAIS_SECRET_KEY',
  'RELAIS_SECURE_COOKIES',
  'RELAIS_CREDIT_RATES',
  'RELAIS_STOP_CLAUSE',
  'RELAIS_HTTP2SMS_RATE_PER_IP',
  'RELAIS_HTTP2SMS_RATE_PER_USER',
  'RELAIS_HTTP2SMS_AUTH_FAILURES_PER_MINUTE',
  'RELAIS_TRUST_PROXY',
  'RELAIS_API_AUTH_FAILURES_PER_MINUTE',
  'RELAIS_ARGON2_TEST_FAST',
  'RELAIS_CALLBACK_PRIVATE',
  'RELAIS_DISPATCH_LEASE_MS',
] as const;

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * One warning line for each RELAIS_* variable of `env` that Relais does not read (a typo such as
 * RELAIS_HTTP_PROT), naming the closest known one. RELAIS_TEST_* (the test suite's own) are left alone.
 */
export function unknownVariableWarnings(env: NodeJS.ProcessEnv = process.env): string[] {
  const known: readonly string[] = KNOWN_VARIABLES;
  return Object.keys(env)
    .filter((name) => name.startsWith('RELAIS_') && !/^RELAIS_TEST_/.test(name) && !known.includes(name))
    .map((name) => {
      const closest = [...known].sort((a, b) => editDistance(name, a) - editDistance(name, b))[0];
      const hint = editDistance(name, closest) <= 3 ? ` (did you mean ${closest}?)` : '';
      return `warning: ${name} is not a Relais variable and is ignored${hint}`;
    });
}

function carrierOf(carrier: string): string {
  try {
    if (/^simulator(\?.*)?$/.test(carrier)) parseSimulatorSpec(carrier);
    else parseSmppUrl(carrier);
  } catch (error) {
    throw new ConfigError(`RELAIS_CARRIER: ${(error as Error).message}`);
  }
  return carrier;
}

function publicUrlOf(value: string | undefined): string | null {
  if (!value) return null;
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {}
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new ConfigError(`RELAIS_PUBLIC_URL must be an http:// or https:// URL (https://sms.example.com), got "${value}"`);
  }
  return value;
}

function secureCookiesOf(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new ConfigError(`RELAIS_SECURE_COOKIES must be 1, true, 0 or false, got "${value}"`);
}

function hostOf(value: string | undefined): string {
  const host = value || '127.0.0.1';
  // An address, or a name (resolved at start: main.ts); not a URL nor a host:port.
  if (isIP(host) === 0 && !/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i.test(host)) {
    throw new ConfigError(`RELAIS_HOST must be an IP address (127.0.0.1, 0.0.0.0, ::) or a host name, got "${host}"`);
  }
  return host;
}

/** The configured database cannot be opened or migrated: one line naming it, its password hidden. */
export function unusableDatabase(databaseUrl: string, error: unknown): ConfigError {
  return new ConfigError(
    `the database ${withPasswordHidden(databaseUrl)} cannot be used: ${error instanceof Error ? error.message : String(error)}`,
  );
}

/** The listeners the enabled services open: the variable of each, and its port. */
export function enabledListeners(
  config: Pick<Config, 'services' | 'httpPort' | 'httpsPort' | 'smtpPort' | 'smppPort' | 'smppTlsPort'>,
): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  if (config.services.includes('http')) out.push(['RELAIS_HTTP_PORT', config.httpPort]);
  if (config.services.includes('https')) out.push(['RELAIS_HTTPS_PORT', config.httpsPort]);
  if (config.services.includes('smtp')) out.push(['RELAIS_SMTP_PORT', config.smtpPort]);
  if (config.services.includes('smpp')) {
    out.push(['RELAIS_SMPP_PORT', config.smppPort]);
    if (config.smppTlsPort !== null) out.push(['RELAIS_SMPP_TLS_PORT', config.smppTlsPort]);
  }
  return out;
}

/** Two enabled services on one port cannot both listen: refused before anything starts. */
function checkDistinctPorts(config: Parameters<typeof enabledListeners>[0]): void {
  const seen = new Map<number, string>();
  for (const [variable, port] of enabledListeners(config)) {
    const other = seen.get(port);
    if (other) throw new ConfigError(`${other} and ${variable} are both ${port}: give each service a port of its own`);
    seen.set(port, variable);
  }
}

function parseCreditRates(raw: string | undefined): Readonly<Record<string, number>> {
  const rates: Record<string, number> = { default: 1 };
  for (const item of (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(default|\+\d{1,6})=(\d+(?:\.\d+)?)$/.exec(item);
    if (!m) throw new ConfigError(`RELAIS_CREDIT_RATES: "${item}" should look like +33=1 or default=1`);
    rates[m[1]] = Number(m[2]);
  }
  return Object.freeze(rates);
}

function secretKey(value: string | undefined): string | null {
  if (!value) return null;
  if (value.length < 32) throw new ConfigError('RELAIS_SECRET_KEY must be at least 32 characters (e.g. openssl rand -hex 32)');
  return value;
}

/** The only reader of process.env: validated and frozen. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const databaseUrl = env.RELAIS_DATABASE_URL || 'sqlite:./data/relais.db';
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(`RELAIS_DATABASE_URL must start with sqlite: or postgres://, got "${databaseUrl}"`);
  }
  if (databaseUrl.trim() === 'sqlite:') {
    // Not an in-memory database by accident: everything written would be lost at exit.
    throw new ConfigError(
      'RELAIS_DATABASE_URL sqlite: needs a file (sqlite:./data/relais.db), or sqlite::memory: for a database lost at exit',
    );
  }
  const services = (env.RELAIS_SERVICES?.trim() ? env.RELAIS_SERVICES : DEFAULT_SERVICES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (services.length === 0) throw new ConfigError(`RELAIS_SERVICES names no service (known: ${SERVICES.join(', ')})`);
  for (const s of services) {
    if (!(SERVICES as readonly string[]).includes(s)) {
      throw new ConfigError(`RELAIS_SERVICES: unknown service "${s}" (known: ${SERVICES.join(', ')})`);
    }
  }
  const carrier = env.RELAIS_CARRIER || 'simulator';
  if (!/^simulator(\?.*)?$/.test(carrier) && !carrier.startsWith('smpp://') && !carrier.startsWith('smpps://')) {
    throw new ConfigError(
      `RELAIS_CARRIER must be "simulator" (options: simulator?tps=…&receipt_delay=…), smpp://… or smpps://… (TLS), got "${withPasswordHidden(carrier)}"`,
    );
  }
  carrierOf(carrier);
  const logLevel = env.RELAIS_LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`RELAIS_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const defaultTimeZone = env.RELAIS_DEFAULT_TIMEZONE || 'Europe/Paris';
  if (!isValidTimeZoneName(defaultTimeZone)) throw new ConfigError(`RELAIS_DEFAULT_TIMEZONE: unknown zone "${defaultTimeZone}"`);
  const tlsCertFile = env.RELAIS_TLS_CERT || null;
  const tlsKeyFile = env.RELAIS_TLS_KEY || null;
  if ((tlsCertFile === null) !== (tlsKeyFile === null)) {
    throw new ConfigError('RELAIS_TLS_CERT and RELAIS_TLS_KEY go together: set both or neither');
  }
  const config: Config = {
    databaseUrl,
    httpPort: int(env, 'RELAIS_HTTP_PORT', 8080, 1),
    httpsPort: int(env, 'RELAIS_HTTPS_PORT', 8443, 1),
    smtpPort: int(env, 'RELAIS_SMTP_PORT', 2525, 1),
    smtpMaxSize: int(env, 'RELAIS_SMTP_MAX_SIZE', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    tlsCertFile,
    tlsKeyFile,
    smppPort: int(env, 'RELAIS_SMPP_PORT', 2775, 1),
    smppTlsPort: env.RELAIS_SMPP_TLS_PORT ? int(env, 'RELAIS_SMPP_TLS_PORT', 3550, 1) : null,
    host: hostOf(env.RELAIS_HOST),
    carrier,
    services: Object.freeze(services as Service[]),
    csvDownloadLimit: int(env, 'RELAIS_CSV_DOWNLOAD_LIMIT', 2000, 1, 1_000_000),
    defaultTimeZone,
    logLevel,
    publicUrl: publicUrlOf(env.RELAIS_PUBLIC_URL),
    secretKey: secretKey(env.RELAIS_SECRET_KEY),
    secureCookies: secureCookiesOf(env.RELAIS_SECURE_COOKIES),
    creditRates: parseCreditRates(env.RELAIS_CREDIT_RATES),
    stopClause: env.RELAIS_STOP_CLAUSE ?? 'STOP au 36180',
    http2smsRateLimit: Object.freeze({
      perIp: int(env, 'RELAIS_HTTP2SMS_RATE_PER_IP', 200, 0, 10_000_000),
      perUser: int(env, 'RELAIS_HTTP2SMS_RATE_PER_USER', 100, 0, 10_000_000),
      authFailuresPerMinute: int(env, 'RELAIS_HTTP2SMS_AUTH_FAILURES_PER_MINUTE', 30, 0, 10_000_000),
      windowMs: 1000,
    }),
    trustProxy: trustProxyOf(env.RELAIS_TRUST_PROXY),
    apiAuthFailuresPerMinute: int(env, 'RELAIS_API_AUTH_FAILURES_PER_MINUTE', 100, 0, 10_000_000),
    argon2TestFast: env.RELAIS_ARGON2_TEST_FAST === '1',
    callbackPrivate: callbackPrivateOf(env.RELAIS_CALLBACK_PRIVATE),
    dispatchLeaseMs: int(env, 'RELAIS_DISPATCH_LEASE_MS', 30_000, 1_000, 600_000),
  };
  checkDistinctPorts(config);
  return Object.freeze(config);
}

function trustProxyOf(value: string | undefined): readonly string[] {
  const items = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(item)) continue;
    const [address, prefix, extra] = item.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    if (family === 0 || extra !== undefined || (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits))) {
      throw new ConfigError(`RELAIS_TRUST_PROXY: "${item}" is not an IP address, a CIDR range, loopback, linklocal or uniquelocal`);
    }
    // Proxies sit in a network of their own: a range wider than an IPv4 /8 or an IPv6 /16 (IPv4-mapped
    // ranges count as IPv4) would let most of the Internet say where it is.
    const mapped = family === 6 && /^::ffff:/i.test(address);
    const widest = family === 4 ? 8 : mapped ? 104 : 16;
    if (prefix !== undefined && Number(prefix) < widest) {
      throw new ConfigError(
        `RELAIS_TRUST_PROXY: "${item}" is too wide (at most an IPv4 /8 or an IPv6 /16; uniquelocal names fc00::/7): never trust every address, a client could then say it is anywhere`,
      );
    }
  }
  return Object.freeze(items);
}

function callbackPrivateOf(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'deny') return false;
  if (value === 'allow') return true;
  throw new ConfigError(`RELAIS_CALLBACK_PRIVATE must be "deny" (the default) or "allow", got "${value}"`);
}
