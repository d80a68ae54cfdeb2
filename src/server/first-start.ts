import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { SYSTEM_ACTOR } from './modules/accounts/accounts.service.js';
import { generatePassword } from './modules/auth/password.js';
import { runDemo } from './modules/demo/demo.service.js';
import type { Services } from './services.js';

/** What a newcomer needs to sign in to the demo made at first start. */
export interface DemoCredentials {
  email: string;
  password: string;
  account: string;
  smsUser: string;
  smsUserPassword: string;
  messages: number;
}

export const DEMO_EMAIL = 'demo@relais.local';
export const DEMO_ACCOUNT = 'sms-de00001-1';

/** Where the demo credentials are kept for an embedded database (next to it, readable by its owner only). */
function credentialsFile(config: Readonly<Config>): string | null {
  if (!config.databaseUrl.startsWith('sqlite:')) return null;
  const path = config.databaseUrl.slice('sqlite:'.length);
  return path && path !== ':memory:' ? join(dirname(path), 'demo-credentials.json') : null;
}

/**
 * On a first start with an empty database: a demo customer, SMS account, sender and SMS user, and a
 * few hundred history rows. Returns the credentials (also on later starts while the demo file exists),
 * or null when the database already had customers of its own.
 */
export async function ensureDemo(config: Readonly<Config>, database: Database, services: Services): Promise<DemoCredentials | null> {
  const file = credentialsFile(config);
  if (await services.customers.any()) {
    if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials;
    return null;
  }
  const password = generatePassword(14);
  await services.customers.create({ email: DEMO_EMAIL, password });
  await services.accounts.create({ name: DEMO_ACCOUNT, ownerEmail: DEMO_EMAIL, credits: 1000, timezone: config.defaultTimeZone });
  await services.senders.create(SYSTEM_ACTOR, DEMO_ACCOUNT, { sender: 'Relais', description: 'demo sender' });
  const user = await services.smsUsers.create(SYSTEM_ACTOR, DEMO_ACCOUNT, { login: 'demo' });
  const messages = 400;
  await runDemo({ database, accountName: DEMO_ACCOUNT, messages, spanDays: 60 });
  const credentials: DemoCredentials = {
    email: DEMO_EMAIL,
    password,
    account: DEMO_ACCOUNT,
    smsUser: 'demo',
    smsUserPassword: user.password ?? '',
    messages,
  };
  if (file) {
    writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return credentials;
}
