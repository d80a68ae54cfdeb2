import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTlsCredentials } from '../src/server/https.js';

/**
 * A certificate for localhost, 127.0.0.1 and ::1, made as Relais makes its self-signed one, in a
 * directory of its own: its key and certificate (PEM), the certificate's file, and `remove()`.
 */
export async function selfSignedCertificate(): Promise<{ key: string; cert: string; certFile: string; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'relais-tls-'));
  const made = await loadTlsCredentials({ databaseUrl: `sqlite:${join(dir, 'r.db')}`, tlsCertFile: null, tlsKeyFile: null });
  return { key: made.key, cert: made.cert, certFile: made.certFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
