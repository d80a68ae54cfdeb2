import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_SERVICES, loadConfig, unknownVariableWarnings } from './config.js';

describe('configuration from the environment', () => {
  it('has working defaults: embedded SQLite, the simulator, every service built, loopback', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: 'sqlite:./data/relais.db',
      httpPort: 8080,
      httpsPort: 8443,
      smtpPort: 2525,
      host: '127.0.0.1',
      carrier: 'simulator',
      services: ['http', 'https', 'smtp', 'smpp', 'dispatcher'],
      csvDownloadLimit: 2000,
      defaultTimeZone: 'Europe/Paris',
      tlsCertFile: null,
      tlsKeyFile: null,
      creditRates: { default: 1 },
      callbackPrivate: false,
      dispatchLeaseMs: 30_000,
    });
    expect(DEFAULT_SERVICES).toEqual(['http', 'https', 'smtp', 'smpp', 'dispatcher']);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every setting it is given', () => {
    const config = loadConfig({
      RELAIS_DATABASE_URL: 'postgres://u@db/relais',
      RELAIS_HTTP_PORT: '80',
      RELAIS_SERVICES: ' http , dispatcher ',
      RELAIS_CARRIER: 'smpp://id:pw@smsc:2775?window=64',
      RELAIS_TLS_CERT: '/etc/relais/cert.pem',
      RELAIS_TLS_KEY: '/etc/relais/key.pem',
      RELAIS_CREDIT_RATES: '+33=1, +1=2.5, default=3',
      RELAIS_DEFAULT_TIMEZONE: 'America/New_York',
      RELAIS_CALLBACK_PRIVATE: 'allow',
      RELAIS_DISPATCH_LEASE_MS: '5000',
      RELAIS_TRUST_PROXY: ' 10.0.0.1, 192.168.0.0/16 ,loopback,2001:db8::/32, 10.0.0.0/8 ',
      RELAIS_API_AUTH_FAILURES_PER_MINUTE: '0',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgres://u@db/relais',
      httpPort: 80,
      services: ['http', 'dispatcher'],
      carrier: 'smpp://id:pw@smsc:2775?window=64',
      tlsCertFile: '/etc/relais/cert.pem',
      creditRates: { default: 3, '+33': 1, '+1': 2.5 },
      defaultTimeZone: 'America/New_York',
      callbackPrivate: true,
      dispatchLeaseMs: 5000,
      trustProxy: ['10.0.0.1', '192.168.0.0/16', 'loopback', '2001:db8::/32', '10.0.0.0/8'],
      apiAuthFailuresPerMinute: 0,
    });
    expect(loadConfig({}).trustProxy).toEqual([]);
    expect(loadConfig({ RELAIS_SERVICES: 'smpp,http' }).services).toEqual(['smpp', 'http']);
  });

  it.each([
    [{ RELAIS_DATABASE_URL: 'mysql://x' }, 'RELAIS_DATABASE_URL must start with sqlite: or postgres://, got "mysql://x"'],
    [{ RELAIS_DATABASE_URL: 'sqlite:' }, 'RELAIS_DATABASE_URL sqlite: needs a file (sqlite:./data/relais.db), or sqlite::memory:'],
    [{ RELAIS_SERVICES: 'http,ftp' }, 'RELAIS_SERVICES: unknown service "ftp" (known: http, https, smtp, smpp, dispatcher)'],
    [{ RELAIS_CARRIER: 'twilio' }, 'RELAIS_CARRIER must be "simulator"'],
    [{ RELAIS_DEFAULT_TIMEZONE: 'Mars/Olympus' }, 'RELAIS_DEFAULT_TIMEZONE: unknown zone "Mars/Olympus"'],
    [{ RELAIS_TLS_CERT: '/x.pem' }, 'RELAIS_TLS_CERT and RELAIS_TLS_KEY go together: set both or neither'],
    [{ RELAIS_HTTP_PORT: '80a' }, 'RELAIS_HTTP_PORT must be a whole number, got "80a"'],
    [{ RELAIS_HTTPS_PORT: '70000' }, 'RELAIS_HTTPS_PORT must be between 1 and 65535, got 70000'],
    [{ RELAIS_HTTP_PORT: '0' }, 'RELAIS_HTTP_PORT must be between 1 and 65535, got 0'],
    [{ RELAIS_HTTPS_PORT: '8080' }, 'RELAIS_HTTP_PORT and RELAIS_HTTPS_PORT are both 8080'],
    [{ RELAIS_SERVICES: ' , ' }, 'RELAIS_SERVICES names no service'],
    [{ RELAIS_LOG_LEVEL: 'loud' }, 'RELAIS_LOG_LEVEL must be one of'],
    [{ RELAIS_PUBLIC_URL: 'not a url' }, 'RELAIS_PUBLIC_URL must be an http:// or https:// URL'],
    [{ RELAIS_PUBLIC_URL: 'ftp://example.com' }, 'RELAIS_PUBLIC_URL must be an http:// or https:// URL'],
    [{ RELAIS_SECURE_COOKIES: 'yes' }, 'RELAIS_SECURE_COOKIES must be 1, true, 0 or false, got "yes"'],
    [{ RELAIS_HOST: 'http://example.com' }, 'RELAIS_HOST must be an IP address'],
    [{ RELAIS_CARRIER: 'smpp://' }, 'RELAIS_CARRIER: invalid SMPP carrier URL'],
    [
      { RELAIS_CARRIER: 'smpp://u:p@127.0.0.1?windw=10' },
      'RELAIS_CARRIER: invalid SMPP carrier URL "smpp://u:***@127.0.0.1?windw=10": unknown option "windw"',
    ],
    [{ RELAIS_CARRIER: 'simulator?tsp=10' }, 'RELAIS_CARRIER: simulator: unknown option "tsp"'],
    [{ RELAIS_CREDIT_RATES: '+33:1' }, 'RELAIS_CREDIT_RATES: "+33:1" should look like +33=1 or default=1'],
    [{ RELAIS_CALLBACK_PRIVATE: 'yes' }, 'RELAIS_CALLBACK_PRIVATE must be "deny" (the default) or "allow", got "yes"'],
    [{ RELAIS_DISPATCH_LEASE_MS: '500' }, 'RELAIS_DISPATCH_LEASE_MS must be between 1000 and 600000, got 500'],
    [{ RELAIS_TRUST_PROXY: 'true' }, 'RELAIS_TRUST_PROXY: "true" is not an IP address, a CIDR range'],
    [{ RELAIS_TRUST_PROXY: '10.0.0.0/33' }, 'RELAIS_TRUST_PROXY: "10.0.0.0/33" is not an IP address'],
    [{ RELAIS_TRUST_PROXY: '0.0.0.0/0' }, 'never trust every address'],
    [{ RELAIS_TRUST_PROXY: '0.0.0.0/1,128.0.0.0/1' }, '"0.0.0.0/1" is too wide'],
    [{ RELAIS_TRUST_PROXY: '::/1' }, '"::/1" is too wide'],
    [{ RELAIS_TRUST_PROXY: '::ffff:0:0/96' }, '"::ffff:0:0/96" is too wide'],
    [{ RELAIS_TRUST_PROXY: '0.0.0.0/0/1' }, 'RELAIS_TRUST_PROXY: "0.0.0.0/0/1" is not an IP address'],
  ])('refuses %o with a clear message', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('two services may share a port only when one of them is not run', () => {
    expect(loadConfig({ RELAIS_HTTPS_PORT: '8080', RELAIS_SERVICES: 'http,dispatcher' }).httpsPort).toBe(8080);
  });

  it('warns of a RELAIS_* variable it does not read, naming the closest known one (RELAIS_TEST_* aside)', () => {
    expect(unknownVariableWarnings({ RELAIS_HTTP_PROT: '9090', RELAIS_HTTP_PORT: '80', RELAIS_TEST_X: '1', PATH: '/bin' })).toEqual([
      'warning: RELAIS_HTTP_PROT is not a Relais variable and is ignored (did you mean RELAIS_HTTP_PORT?)',
    ]);
  });
});
