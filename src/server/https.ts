import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { generate } from 'selfsigned';
import { type Config, ConfigError } from './config.js';
import { ensureDirectory } from './directories.js';

/** The HTTPS service's key and certificate (PEM), and where they come from. */
export interface TlsCredentials {
  key: string;
  cert: string;
  /** `files`: RELAIS_TLS_CERT/RELAIS_TLS_KEY; `self-signed`: made by Relais, kept in `certFile`. */
  source: 'files' | 'self-signed';
  certFile: string;
  /** SHA-256 fingerprint of the certificate, to check it from a client. */
  fingerprint: string;
}

/** A self-signed certificate is made again this long before it expires. */
const RENEW_BEFORE_MS = 30 * 86_400_000;
/** How long a self-signed certificate is valid (825 days: the longest that clients such as Apple's accept). */
const SELF_SIGNED_DAYS = 825;

/** Where Relais keeps files of its own: beside an embedded database's file, else `./data`. */
export function dataDirectory(config: Pick<Config, 'databaseUrl'>): string {
  const path = config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl.slice('sqlite:'.length) : '';
  return path && path !== ':memory:' ? dirname(resolve(path)) : resolve('data');
}

function certificateOf(pem: string, file: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new ConfigError(`RELAIS_TLS_CERT ${file}: not a PEM certificate`);
  }
}

function privateKeyOf(pem: string, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new ConfigError(`RELAIS_TLS_KEY ${file}: not a PEM private key (or an encrypted one)`);
  }
}

/** Reads a PEM file named by `what` (a variable); a failure is a ConfigError naming the variable. */
export function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${what} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/**
 * The HTTPS service's credentials: the configured files (RELAIS_TLS_CERT, RELAIS_TLS_KEY), or a
 * self-signed certificate for localhost, 127.0.0.1, ::1 and this host's name, made at the first start
 * in the data directory (`tls-self-signed.crt`, and its key readable by its owner only) and made
 * again when it is within 30 days of its end.
 */
export async function loadTlsCredentials(
  config: Pick<Config, 'tlsCertFile' | 'tlsKeyFile' | 'databaseUrl'>,
  now = Date.now(),
): Promise<TlsCredentials> {
  if (config.tlsCertFile && config.tlsKeyFile) {
    const cert = readPem(config.tlsCertFile, 'RELAIS_TLS_CERT');
    const key = readPem(config.tlsKeyFile, 'RELAIS_TLS_KEY');
    const x509 = certificateOf(cert, config.tlsCertFile);
    if (!x509.checkPrivateKey(privateKeyOf(key, config.tlsKeyFile))) {
      throw new ConfigError(`RELAIS_TLS_KEY ${config.tlsKeyFile} is not the key of the certificate RELAIS_TLS_CERT ${config.tlsCertFile}`);
    }
    return { key, cert, source: 'files', certFile: config.tlsCertFile, fingerprint: x509.fingerprint256 };
  }
  const dir = dataDirectory(config);
  const certFile = join(dir, 'tls-self-signed.crt');
  const keyFile = join(dir, 'tls-self-signed.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readFileSync(certFile, 'utf8');
    const key = readFileSync(keyFile, 'utf8');
    try {
      const x509 = new X509Certificate(cert);
      if (Date.parse(x509.validTo) - now > RENEW_BEFORE_MS) {
        return { key, cert, source: 'self-signed', certFile, fingerprint: x509.fingerprint256 };
      }
    } catch {
      // Unreadable: made again below.
    }
  }
  const host = hostname();
  const made = await generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 86_400_000),
    notAfterDate: new Date(now + SELF_SIGNED_DAYS * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          ...(host && host !== 'localhost' ? [{ type: 2 as const, value: host }] : []),
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  try {
    ensureDirectory(dir);
    // Written aside then renamed: another process starting at the same time never reads half a file.
    const aside = `.${process.pid}.tmp`;
    writeFileSync(keyFile + aside, made.private, { mode: 0o600 });
    chmodSync(keyFile + aside, 0o600);
    writeFileSync(certFile + aside, made.cert);
    renameSync(keyFile + aside, keyFile);
    renameSync(certFile + aside, certFile);
  } catch (error) {
    throw new ConfigError(
      `The HTTPS service's self-signed certificate cannot be written in ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): set RELAIS_TLS_CERT and RELAIS_TLS_KEY, or leave https out of RELAIS_SERVICES`,
    );
  }
  return {
    key: made.private,
    cert: made.cert,
    source: 'self-signed',
    certFile,
    fingerprint: new X509Certificate(made.cert).fingerprint256,
  };
}

/**
 * The HTTPS service: the same application as the HTTP port (API, Manager, http2sms), through Node's
 * TLS server handing each request to Fastify's router. Resolves once listening.
 */
export async function startHttpsListener(
  app: FastifyInstance,
  tls: Pick<TlsCredentials, 'key' | 'cert'>,
  options: { port: number; host: string },
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => app.routing(req, res));
  // As Fastify's own server: idle keep-alive connections closed after 72 s.
  server.keepAliveTimeout = 72_000;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeIdleConnections();
      }),
  };
}
