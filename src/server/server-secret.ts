import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, ConfigError } from './config.js';
import { ensureDirectory } from './directories.js';
import { dataDirectory } from './https.js';

/** The server secret's file in the data directory, used when RELAIS_SECRET_KEY is not set. */
export const SECRET_FILE = 'relais-secret.key';

/**
 * `config` with its `secretKey`: RELAIS_SECRET_KEY, else the file `relais-secret.key` in the data directory,
 * made (64 hex characters, mode 0600) when missing unless `create` is false. `relais serve` and the CLI both
 * read it, so that an OVH application made from the command line works on the server.
 */
export function withServerSecret(config: Readonly<Config>, options: { create?: boolean } = {}): Readonly<Config> {
  if (config.secretKey) return config;
  const dir = dataDirectory(config);
  const file = join(dir, SECRET_FILE);
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    if (options.create === false) {
      throw new ConfigError(
        `${file} does not exist: run this command in the directory \`relais serve\` runs in (its data/ holds the server secret), or set RELAIS_SECRET_KEY to the server's`,
      );
    }
    secret = randomBytes(32).toString('hex');
    try {
      ensureDirectory(dir);
      writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    } catch (writeError) {
      if ((writeError as NodeJS.ErrnoException).code === 'EEXIST') return withServerSecret(config, options);
      throw new ConfigError(`${file} cannot be written (${(writeError as NodeJS.ErrnoException).code}): set RELAIS_SECRET_KEY instead`);
    }
  }
  if (secret.length < 32)
    throw new ConfigError(`${file} holds no usable secret (at least 32 characters); remove it or set RELAIS_SECRET_KEY`);
  return Object.freeze({ ...config, secretKey: secret });
}
