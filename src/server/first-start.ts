import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { SYSTEM_ACTOR } from './modules/accounts/accounts.service.js';
import { generatePassword } from './modules/auth/password.js';
import { runDemo } from './modules/demo/demo.service.js';
import { createFirstStartRepository, type FirstStartRepository } from './modules/demo/first-start.repository.js';
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
export const DEMO_SENDER = 'Relais';
export const DEMO_SMS_USER = 'demo';
export const DEMO_MESSAGES = 400;

/** The credentials file's content: the credentials, and whether the demo they open was finished. */
interface SavedDemo {
  credentials: DemoCredentials;
  /** False from the first step (the file is written before anything else) until the last. */
  finished: boolean;
}

/** Where the demo credentials are kept for an embedded database (next to it, readable by its owner only). */
export function demoCredentialsFile(config: Readonly<Config>): string | null {
  if (!config.databaseUrl.startsWith('sqlite:')) return null;
  const path = config.databaseUrl.slice('sqlite:'.length);
  return path && path !== ':memory:' ? join(dirname(path), 'demo-credentials.json') : null;
}

/** The credentials file as written by this version (with `finished`) or an older one (written last: finished); null when absent or unreadable. */
function readSavedDemo(file: string): SavedDemo | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null; // absent, or cut by an older version's in-place write: as if absent
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { finished, ...rest } = parsed as Record<string, unknown>;
  const c = rest as Partial<DemoCredentials>;
  if (
    c.email !== DEMO_EMAIL ||
    typeof c.password !== 'string' ||
    typeof c.account !== 'string' ||
    typeof c.smsUser !== 'string' ||
    typeof c.smsUserPassword !== 'string' ||
    typeof c.messages !== 'number'
  )
    return null;
  return { credentials: c as DemoCredentials, finished: finished !== false };
}

/**
 * Replaces the credentials file in one rename, owner-only from its first byte, durably (file and
 * directory synced) before the caller writes to the database: a crash or power cut never leaves a demo
 * customer whose password is nowhere.
 */
function writeSavedDemo(file: string, saved: SavedDemo): void {
  const temporary = `${file}.tmp`;
  rmSync(temporary, { force: true });
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600); // exactly: whatever the umask
    writeSync(fd, `${JSON.stringify({ ...saved.credentials, finished: saved.finished }, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  let dir: number | undefined;
  try {
    dir = openSync(dirname(file), 'r');
    fsyncSync(dir);
  } catch {
    // A platform that cannot sync a directory (Windows): the rename is as durable as it makes it.
  } finally {
    if (dir !== undefined) closeSync(dir);
  }
}

function freshCredentials(): DemoCredentials {
  return {
    email: DEMO_EMAIL,
    password: generatePassword(14),
    account: DEMO_ACCOUNT,
    smsUser: DEMO_SMS_USER,
    smsUserPassword: generatePassword(),
    messages: DEMO_MESSAGES,
  };
}

/** Who the customers are: none, the demo customer alone (its id), or others (real customers of the database's own). */
async function customersPresent(
  repository: FirstStartRepository,
): Promise<{ kind: 'none' } | { kind: 'demo'; id: number } | { kind: 'others' }> {
  const rows = await repository.firstCustomers();
  if (rows.length === 0) return { kind: 'none' };
  if (rows.length === 1 && rows[0].email === DEMO_EMAIL) return { kind: 'demo', id: rows[0].id };
  return { kind: 'others' };
}

/**
 * Whether the database holds only a demo its first start did not finish, known from the database alone
 * (PostgreSQL keeps no credentials file): the demo customer is the only customer, owns no account but the
 * demo one, and that account is missing or has no history yet. The history rows are the demo's last
 * write to the database, in one transaction (400 rows: one commit on SQLite, one COPY on PostgreSQL), so
 * every cut start answers true; a finished demo whose whole history was deleted since would too (only
 * where no credentials file says it was finished).
 */
async function unfinishedInDatabase(repository: FirstStartRepository, customerId: number): Promise<boolean> {
  const owned = await repository.ownedAccounts(customerId);
  if (owned.some((a) => a.name !== DEMO_ACCOUNT)) return false;
  const accountId = owned.length > 0 ? owned[0].id : undefined;
  return accountId === undefined || (await repository.historyCount(accountId)) === 0;
}

export interface DemoStep {
  name: string;
  run(): Promise<void>;
}

/**
 * The first start's demo, step by step. Each step does only what is missing and sets the passwords of
 * what exists to `credentials`', so a start cut between any two steps (or in one) is finished by running
 * them all again. The credentials file (embedded database only) is written first, unfinished, and last,
 * finished.
 */
export function demoSteps(
  config: Readonly<Config>,
  database: Database,
  services: Services,
  credentials: DemoCredentials,
  file: string | null = demoCredentialsFile(config),
): DemoStep[] {
  const repository = createFirstStartRepository(database);
  const accountId = async () => {
    const id = await repository.findAccountId(DEMO_ACCOUNT);
    if (id === undefined) throw new Error(`the demo account ${DEMO_ACCOUNT} is missing`);
    return id;
  };
  return [
    {
      name: 'credentials file, unfinished',
      async run() {
        if (file) writeSavedDemo(file, { credentials, finished: false });
      },
    },
    {
      name: 'customer',
      async run() {
        if ((await repository.findCustomerId(credentials.email)) !== undefined)
          await services.customers.setPassword(credentials.email, credentials.password);
        else await services.customers.create({ email: credentials.email, password: credentials.password });
      },
    },
    {
      name: 'account',
      async run() {
        if ((await repository.findAccountId(DEMO_ACCOUNT)) !== undefined) return;
        await services.accounts.create({
          name: credentials.account,
          ownerEmail: credentials.email,
          credits: 1000,
          timezone: config.defaultTimeZone,
        });
      },
    },
    {
      name: 'sender',
      async run() {
        if (!(await repository.senderExists(await accountId(), DEMO_SENDER)))
          await services.senders.create(SYSTEM_ACTOR, credentials.account, { sender: DEMO_SENDER, description: 'demo sender' });
      },
    },
    {
      name: 'SMS user',
      async run() {
        if (await repository.smsUserExists(await accountId(), credentials.smsUser))
          await services.smsUsers.update(SYSTEM_ACTOR, credentials.account, credentials.smsUser, { password: credentials.smsUserPassword });
        else
          await services.smsUsers.create(SYSTEM_ACTOR, credentials.account, {
            login: credentials.smsUser,
            password: credentials.smsUserPassword,
          });
      },
    },
    {
      name: 'history',
      async run() {
        const missing = credentials.messages - (await repository.historyCount(await accountId()));
        if (missing > 0) await runDemo({ database, accountName: credentials.account, messages: missing, spanDays: 60 });
      },
    },
    {
      name: 'credentials file, finished',
      async run() {
        if (file) writeSavedDemo(file, { credentials, finished: true });
      },
    },
  ];
}

async function makeDemo(
  config: Readonly<Config>,
  database: Database,
  services: Services,
  credentials: DemoCredentials,
  file: string | null,
): Promise<DemoCredentials> {
  for (const step of demoSteps(config, database, services, credentials, file)) await step.run();
  return credentials;
}

/**
 * On a first start with an empty database: a demo customer, SMS account, sender and SMS user, and a
 * few hundred history rows. Returns the credentials (also on later starts while the demo file exists),
 * or null when the database already had customers of its own.
 *
 * A first start cut at any point (kill -9, power cut) is finished by the next start, which returns
 * working credentials: with an embedded database, those of the credentials file (written before
 * anything else, marked unfinished until the end); with none (PostgreSQL), or with a half-made demo
 * left without a file by an older version, fresh ones, set on the demo customer and SMS user, when the
 * database holds only that unfinished demo. A database with a customer of its own is never touched.
 */
export async function ensureDemo(config: Readonly<Config>, database: Database, services: Services): Promise<DemoCredentials | null> {
  // Several processes starting at once on one empty PostgreSQL database: one makes the demo while the
  // others wait, then find it made.
  const repository = createFirstStartRepository(database);
  return repository.withFirstStartLock(() => ensureDemoNow(config, database, services, repository));
}

async function ensureDemoNow(
  config: Readonly<Config>,
  database: Database,
  services: Services,
  repository: FirstStartRepository,
): Promise<DemoCredentials | null> {
  const file = demoCredentialsFile(config);
  const customers = await customersPresent(repository);
  // An empty database (a file there is another database's, or this one's cut before its first customer).
  if (customers.kind === 'none') return makeDemo(config, database, services, freshCredentials(), file);
  const saved = file ? readSavedDemo(file) : null;
  if (saved?.finished) return saved.credentials;
  if (customers.kind === 'others') return null;
  if (saved) return makeDemo(config, database, services, saved.credentials, file);
  if (await unfinishedInDatabase(repository, customers.id)) return makeDemo(config, database, services, freshCredentials(), file);
  return null;
}
