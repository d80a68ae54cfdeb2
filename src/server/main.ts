import { lookup } from 'node:dns/promises';
import { createServer, isIP } from 'node:net';
import pino from 'pino';
import { buildApp } from './app.js';
import { systemClock } from './clock.js';
import { type Config, ConfigError, enabledListeners, unusableDatabase } from './config.js';
import { type Database, openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { startStatisticsKeeper } from './db/sqlite-statistics.js';
import { startTextIndexer } from './db/sqlite-text-index.js';
import { type DemoCredentials, ensureDemo } from './first-start.js';
import { withPasswordHidden } from './hidden-password.js';
import { loadTlsCredentials, startHttpsListener, type TlsCredentials } from './https.js';
import { startDispatchThread } from './modules/dispatch/dispatch-thread.js';
import { startDispatching } from './modules/dispatch/dispatching.js';
import { startPrivacyKeeper } from './modules/history/privacy-keeper.js';
import { startMail2Sms } from './modules/mail2sms/mail2sms.server.js';
import { startSmppServer } from './modules/smpp/smpp.server.js';
import { withServerSecret } from './server-secret.js';
import type { Services } from './services.js';

/** What the demo SMS user's login serves in this process: the channels it runs. */
function smsUserChannels(config: Readonly<Config>, systemId: string): string {
  const channels = ['the API'];
  if (config.services.includes('http') || config.services.includes('https')) channels.push('http2sms');
  if (config.services.includes('smtp')) channels.push('mail2sms');
  if (config.services.includes('smpp')) channels.push(`SMPP (system_id ${systemId})`);
  return `for ${channels.slice(0, -1).join(', ')}${channels.length > 1 ? ' and ' : ''}${channels[channels.length - 1]}`;
}

/** Which certificate a TLS listener serves, as the banner says it. */
const certificateLine = (tls: TlsCredentials) =>
  tls.source === 'self-signed' ? `self-signed certificate ${tls.certFile}, SHA-256 ${tls.fingerprint}` : `certificate ${tls.certFile}`;

function banner(
  config: Readonly<Config>,
  demo: DemoCredentials | null,
  tls: TlsCredentials | null,
  smppTls: TlsCredentials | null,
): string {
  const web = config.services.includes('http') || config.services.includes('https');
  const url =
    config.publicUrl ??
    (config.services.includes('http') ? `http://localhost:${config.httpPort}` : `https://localhost:${config.httpsPort}`);
  // The carrier is used by the dispatcher: a process without one sends nothing itself.
  const carrier = config.services.includes('dispatcher')
    ? `carrier: ${config.carrier.startsWith('simulator') ? 'built-in SIMULATOR (no real SMS leaves this machine)' : withPasswordHidden(config.carrier)}`
    : 'no dispatcher in this process (RELAIS_SERVICES): accepted messages wait for a Relais running one on this database';
  const lines = ['', `  Relais is running — ${carrier}`];
  // The web pages only where this process serves them (a dispatcher alone serves none).
  if (web) {
    lines.push(
      `  Manager   ${url}/`,
      `  API docs  ${url}/api/docs`,
      `  OVH API   ${url}/1.0  (OVH's /sms API and signed requests; keys: Manager → API OVH, or npx relais ovh-key create)`,
    );
  }
  if (tls) {
    lines.push(`  HTTPS     https://localhost:${config.httpsPort}/  (${certificateLine(tls)})`);
  }
  if (config.services.includes('smtp')) {
    const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    // STARTTLS only with a configured certificate: a client that upgrades by default (nodemailer) and checks
    // the certificate would fail on a self-signed one where plain SMTP works.
    const starttls = config.tlsCertFile
      ? 'STARTTLS with the configured certificate'
      : 'no STARTTLS: set RELAIS_TLS_CERT and RELAIS_TLS_KEY';
    lines.push(`  Mail2SMS  ${host}:${config.smtpPort}  (mail to email2sms@…; ${starttls})`);
  }
  if (config.services.includes('smpp')) {
    const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    lines.push(`  SMPP      ${host}:${config.smppPort}  (bind with system_id ACCOUNT:LOGIN of an SMS user)`);
    if (smppTls) lines.push(`  SMPP/TLS  ${host}:${config.smppTlsPort}  (the same over TLS; ${certificateLine(smppTls)})`);
  }
  if (demo) {
    lines.push(
      `  Sign in   ${demo.email} / ${demo.password}`,
      `  Account   ${demo.account} (${demo.messages} sample messages in its history)`,
      `  SMS user  ${demo.smsUser} / ${demo.smsUserPassword}  (${smsUserChannels(config, `${demo.account}:${demo.smsUser}`)})`,
    );
  } else {
    lines.push('  Sign in   with your customer e-mail and password (create one: npx relais customer create --email … --password …)');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The dispatcher, its carrier and the callbacks on a thread of their own (dispatch-thread.ts), beside the
 * serving thread, which also writes the accepted jobs there; in this thread only with a SQLite database
 * in memory, which another connection cannot open.
 */
async function startDispatcher(
  config: Readonly<Config>,
  database: Database,
  services: Services,
  logger: pino.Logger,
): Promise<{ stop(): Promise<void> }> {
  if (database.dialect === 'sqlite' && !database.sqliteFile) {
    return startDispatching({ carrierSpec: config.carrier, services, clock: systemClock, log: logger });
  }
  const thread = await startDispatchThread({
    // bin/relais.js loads the thread's bundle, built beside this one, or its source (dist/server/ is as
    // deep under the root as src/server/, so this path holds for both).
    entry: new URL('../../bin/relais.js', import.meta.url),
    config,
    log: logger.child({ thread: 'dispatcher' }),
    onAccepted: services.onAccepted,
  });
  // Accepted jobs are written on the thread's connection too: this thread then only serves requests.
  services.sending.acceptThrough((jobs) => thread.acceptBatch(jobs));
  return {
    async stop() {
      services.sending.acceptThrough(null);
      await thread.stop();
    },
  };
}

/** A failure to listen as one line naming the variable to change; other errors unchanged. */
function listenError(error: unknown, variable: string, port: number, host: string): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'EADDRINUSE') return new ConfigError(`${variable} ${port} on ${host} is already in use`);
  if (code === 'EADDRNOTAVAIL') return new ConfigError(`RELAIS_HOST ${host} is not an address of this machine (${variable} ${port})`);
  if (code === 'EACCES') return new ConfigError(`${variable} ${port} on ${host}: permission denied (ports below 1024 need privileges)`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ConfigError(`RELAIS_HOST ${host} cannot be resolved`);
  return error;
}

/** Listens with `start`, a failure to listen named after `variable`. */
async function listening<T>(variable: string, port: number, host: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    throw listenError(error, variable, port, host);
  }
}

/**
 * Before anything opens: RELAIS_HOST resolves, and every port of the enabled services can be listened on
 * (each tried, then closed at once), so that a busy port is one line and not a half-made start.
 */
async function checkListeners(config: Readonly<Config>): Promise<void> {
  const listeners = enabledListeners(config);
  if (listeners.length === 0) return;
  if (isIP(config.host) === 0) {
    try {
      await lookup(config.host);
    } catch {
      throw new ConfigError(`RELAIS_HOST ${config.host} cannot be resolved`);
    }
  }
  for (const [variable, port] of listeners) {
    const probe = createServer();
    await listening(
      variable,
      port,
      config.host,
      () =>
        new Promise<void>((resolve, reject) => {
          probe.once('error', reject);
          probe.listen({ port, host: config.host, exclusive: true }, () => probe.close(() => resolve()));
        }),
    );
  }
}

/** Thrown at a step of the start when SIGINT/SIGTERM came during it: the start unwinds, exit 0. */
class StopRequested extends Error {}

/**
 * The process: opens the database, migrates, starts the enabled services, closes gracefully on
 * SIGINT/SIGTERM. A start that fails closes what it had started (in reverse order) and throws: the
 * caller reports the one line and exits non-zero. A signal during the start lets the step under way
 * finish (the first start's demo is never left half made), then unwinds and exits 0.
 */
export async function startRelais(configured: Readonly<Config>): Promise<void> {
  const config = withServerSecret(configured);
  const logger = pino({ level: config.logLevel, ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty' } } : {}) });
  /** What has started, in order: closed in reverse on a failed start or a stop. */
  const closers: Array<{ name: string; close: () => Promise<unknown> | unknown }> = [];
  let stopSignal: string | null = null;
  let started = false;
  let closing = false;

  /** Closes every part, each failure logged and the rest closed anyway; true when all closed. */
  const closeAll = async (): Promise<boolean> => {
    let clean = true;
    for (const closer of closers.splice(0).reverse()) {
      try {
        await closer.close();
      } catch (error) {
        clean = false;
        logger.error({ err: error, part: closer.name }, 'closing failed');
      }
    }
    return clean;
  };
  const close = async (signal: string) => {
    if (closing) {
      logger.warn({ signal }, 'already stopping');
      return;
    }
    closing = true;
    logger.info({ signal }, 'closing');
    const clean = await closeAll();
    process.exit(clean ? 0 : 1);
  };
  // From the start (before the banner): a signal during the start is remembered, acted on between steps.
  const onSignal = (signal: string) => {
    if (started) void close(signal);
    else if (stopSignal === null) stopSignal = signal;
    else logger.warn({ signal }, 'already stopping');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const step = () => {
    if (stopSignal !== null) throw new StopRequested(stopSignal);
  };

  let demo: DemoCredentials | null = null;
  try {
    await checkListeners(config);
    // Read before anything listens: a bad certificate or key is one line, nothing started.
    const needsTls = config.services.includes('https') || (config.services.includes('smpp') && config.smppTlsPort !== null);
    const tlsCredentials = needsTls ? await loadTlsCredentials(config) : null;
    const mailTls = config.services.includes('smtp') && config.tlsCertFile ? (tlsCredentials ?? (await loadTlsCredentials(config))) : null;
    step();

    let database: Database;
    try {
      database = openDatabase(config.databaseUrl, {
        backgroundCheckpoints: { onError: (message) => logger.warn({ message }, 'a background WAL checkpoint failed') },
        nonBlockingLockWaits: true,
      });
    } catch (error) {
      throw unusableDatabase(config.databaseUrl, error);
    }
    closers.push({ name: 'database', close: () => database.close() });
    try {
      await migrateToLatest(database);
    } catch (error) {
      throw unusableDatabase(config.databaseUrl, error);
    }
    step();
    const app = await buildApp({ config, database, logger });
    const appCloser = { name: 'http', close: () => app.close() };
    closers.push(appCloser);
    demo = await ensureDemo(config, database, app.services);
    step();
    // SQLite (both do nothing on PostgreSQL): the text search index is written in batches, a few times a
    // second (sqlite-text-index.ts), started after the first start's demo data, whose load holds its own
    // transaction across awaits; the planner's statistics follow the history's size (sqlite-statistics.ts).
    const textIndexer = startTextIndexer(database, { onError: (message) => logger.warn({ message }, 'indexing message texts failed') });
    closers.push({ name: 'text indexer', close: () => textIndexer.close() });
    const statistics = startStatisticsKeeper(database, {
      onError: (message) => logger.warn({ message }, 'analysing the history failed'),
      onAnalyzed: (rows) => logger.info({ rows }, 'analysed the history for the query planner'),
    });
    closers.push({ name: 'statistics', close: () => statistics.close() });
    // Deletions by filter run as background jobs started by the HTTP APIs and by the privacy keeper (with
    // the dispatcher): processes running either resume those left running at start (a stopped process's),
    // then every third of their lease (RELAIS_DISPATCH_LEASE_MS) take over those of a process that died.
    // Stopped with the services (app.close()).
    if (config.services.some((s) => s === 'http' || s === 'https' || s === 'dispatcher')) {
      const resumed = await app.services.history.takeOverDeleteJobs({
        leaseMs: config.dispatchLeaseMs,
        onTakenOver: (jobs) => logger.info({ resumed: jobs }, 'resumed deletions left running'),
        onError: (error) =>
          logger.warn({ message: error instanceof Error ? error.message : String(error) }, 'taking over deletions left running failed'),
      });
      if (resumed) logger.info({ resumed }, 'resumed deletions left running');
    }
    // The dispatcher is closed after the listeners (it takes the jobs they accepted): pushed before them.
    const dispatching = config.services.includes('dispatcher') ? await startDispatcher(config, database, app.services, logger) : null;
    if (dispatching) closers.push({ name: 'dispatcher', close: () => dispatching.stop() });
    step();
    if (config.services.includes('http')) {
      await listening('RELAIS_HTTP_PORT', config.httpPort, config.host, () => app.listen({ port: config.httpPort, host: config.host }));
    } else {
      await app.ready();
    }
    // Once listening, app.close() (closing the HTTP port) goes before the dispatcher's stop: moved last.
    closers.splice(closers.indexOf(appCloser), 1);
    closers.push(appCloser);
    const tls = config.services.includes('https') ? tlsCredentials : null;
    const https = tls
      ? await listening('RELAIS_HTTPS_PORT', config.httpsPort, config.host, () =>
          startHttpsListener(app, tls, { port: config.httpsPort, host: config.host }),
        )
      : null;
    if (https) closers.push({ name: 'https', close: () => https.close() });
    // With the dispatcher, the background work: every hour, the accounts' retention and redaction limits.
    const privacyKeeper = config.services.includes('dispatcher')
      ? startPrivacyKeeper(app.services.privacyKeeper, {
          onError: (message) => logger.warn({ message }, 'applying the retention and redaction limits failed'),
          onRun: (run) => {
            for (const account of run?.accounts ?? []) {
              if (account.error)
                logger.warn({ accountId: account.accountId, message: account.error }, 'applying the retention and redaction limits failed');
              else if (account.deleted || account.redacted) logger.info(account, 'applied the retention and redaction limits');
            }
            if (run?.jobTextsError) logger.warn({ message: run.jobTextsError }, 'forgetting the texts of sent jobs failed');
            else if (run?.jobTextsForgotten) logger.info({ forgotten: run.jobTextsForgotten }, 'forgot the texts of sent jobs');
          },
        })
      : null;
    if (privacyKeeper) closers.push({ name: 'privacy keeper', close: () => privacyKeeper.close() });
    const mail2sms = config.services.includes('smtp')
      ? await listening('RELAIS_SMTP_PORT', config.smtpPort, config.host, () =>
          startMail2Sms({
            services: app.services,
            config,
            log: logger,
            port: config.smtpPort,
            host: config.host,
            tls: mailTls ? { key: mailTls.key, cert: mailTls.cert } : null,
          }),
        )
      : null;
    if (mail2sms) closers.push({ name: 'mail2sms', close: () => mail2sms.close() });
    const smppTls = config.services.includes('smpp') && config.smppTlsPort !== null ? tlsCredentials : null;
    const smppServer = config.services.includes('smpp')
      ? await listening(smppTls ? 'RELAIS_SMPP_PORT or RELAIS_SMPP_TLS_PORT' : 'RELAIS_SMPP_PORT', config.smppPort, config.host, () =>
          startSmppServer({
            services: app.services,
            log: logger,
            port: config.smppPort,
            host: config.host,
            ...(smppTls && config.smppTlsPort !== null ? { tls: { port: config.smppTlsPort, key: smppTls.key, cert: smppTls.cert } } : {}),
          }),
        )
      : null;
    if (smppServer) closers.push({ name: 'smpp', close: () => smppServer.close() });
    step();
    started = true;
    process.stdout.write(banner(config, demo, tls, smppTls));
  } catch (error) {
    closing = true;
    const clean = await closeAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (error instanceof StopRequested) {
      logger.info({ signal: error.message }, 'stopped during the start');
      // The demo made by this first start: how to sign in is not lost with the banner never printed.
      if (demo) process.stdout.write(`\n  Relais stopped during its start.\n  Sign in   ${demo.email} / ${demo.password}\n`);
      process.exit(clean ? 0 : 1);
    }
    throw error;
  }
}
