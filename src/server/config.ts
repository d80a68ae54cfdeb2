import { isIP } from 'node:net';
import { isValidTimeZoneName } from './time-zone.js';

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
  const services = (env.RELAIS_SERVICES || DEFAULT_SERVICES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of services) {
    if (!(SERVICES as readonly string[]).includes(s)) {
      throw new ConfigError(`RELAIS_SERVICES: unknown service "${s}" (known: ${SERVICES.join(', ')})`);
    }
  }
  const carrier = env.RELAIS_CARRIER || 'simulator';
  if (!/^simulator(\?.*)?$/.test(carrier) && !carrier.startsWith('smpp://') && !carrier.startsWith('smpps://')) {
    throw new ConfigError(
      `RELAIS_CARRIER must be "simulator" (options: simulator?tps=…&receipt_delay=…), smpp://… or smpps://… (TLS), got "${carrier}"`,
    );
  }
  const defaultTimeZone = env.RELAIS_DEFAULT_TIMEZONE || 'Europe/Paris';
  if (!isValidTimeZoneName(defaultTimeZone)) throw new ConfigError(`RELAIS_DEFAULT_TIMEZONE: unknown zone "${defaultTimeZone}"`);
  const tlsCertFile = env.RELAIS_TLS_CERT || null;
  const tlsKeyFile = env.RELAIS_TLS_KEY || null;
  if ((tlsCertFile === null) !== (tlsKeyFile === null)) {
    throw new ConfigError('RELAIS_TLS_CERT and RELAIS_TLS_KEY go together: set both or neither');
  }
  return Object.freeze({
    databaseUrl,
    httpPort: int(env, 'RELAIS_HTTP_PORT', 8080),
    httpsPort: int(env, 'RELAIS_HTTPS_PORT', 8443),
    smtpPort: int(env, 'RELAIS_SMTP_PORT', 2525),
    smtpMaxSize: int(env, 'RELAIS_SMTP_MAX_SIZE', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    tlsCertFile,
    tlsKeyFile,
    smppPort: int(env, 'RELAIS_SMPP_PORT', 2775),
    smppTlsPort: env.RELAIS_SMPP_TLS_PORT ? int(env, 'RELAIS_SMPP_TLS_PORT', 3550, 1) : null,
    host: env.RELAIS_HOST || '127.0.0.1',
    carrier,
    services: Object.freeze(services as Service[]),
    csvDownloadLimit: int(env, 'RELAIS_CSV_DOWNLOAD_LIMIT', 2000, 1, 1_000_000),
    defaultTimeZone,
    logLevel: env.RELAIS_LOG_LEVEL || 'info',
    publicUrl: env.RELAIS_PUBLIC_URL || null,
    secretKey: secretKey(env.RELAIS_SECRET_KEY),
    secureCookies: env.RELAIS_SECURE_COOKIES === '1' || env.RELAIS_SECURE_COOKIES === 'true',
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
  });
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
