import pino from 'pino';
import { buildApp } from './app.js';
import { systemClock } from './clock.js';
import type { Config } from './config.js';
import { type Database, openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { startStatisticsKeeper } from './db/sqlite-statistics.js';
import { startTextIndexer } from './db/sqlite-text-index.js';
import { type DemoCredentials, ensureDemo } from './first-start.js';
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
  const url = config.publicUrl ?? `http://localhost:${config.httpPort}`;
  const lines = [
    '',
    `  Relais is running — carrier: ${config.carrier === 'simulator' ? 'built-in SIMULATOR (no real SMS leaves this machine)' : config.carrier.replace(/:[^:@/]*@/, ':***@')}`,
    `  Manager   ${url}/`,
    `  API docs  ${url}/api/docs`,
    `  OVH API   ${url}/1.0  (OVH's /sms API and signed requests; keys: Manager → API OVH, or npx relais ovh-key create)`,
  ];
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

/** The process: opens the database, migrates, starts the enabled services, closes gracefully on SIGINT/SIGTERM. */
export async function startRelais(configured: Readonly<Config>): Promise<void> {
  const config = withServerSecret(configured);
  const logger = pino({ level: config.logLevel, ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty' } } : {}) });
  const database = openDatabase(config.databaseUrl, {
    backgroundCheckpoints: { onError: (message) => logger.warn({ message }, 'a background WAL checkpoint failed') },
    nonBlockingLockWaits: true,
  });
  await migrateToLatest(database);
  const app = await buildApp({ config, database, logger });
  const demo = await ensureDemo(config, database, app.services);
  // SQLite (both do nothing on PostgreSQL): the text search index is written in batches, a few times a
  // second (sqlite-text-index.ts), started after the first start's demo data, whose load holds its own
  // transaction across awaits; the planner's statistics follow the history's size (sqlite-statistics.ts).
  const textIndexer = startTextIndexer(database, { onError: (message) => logger.warn({ message }, 'indexing message texts failed') });
  const statistics = startStatisticsKeeper(database, {
    onError: (message) => logger.warn({ message }, 'analysing the history failed'),
    onAnalyzed: (rows) => logger.info({ rows }, 'analysed the history for the query planner'),
  });
  if (config.services.includes('http')) {
    await app.listen({ port: config.httpPort, host: config.host });
  } else {
    await app.ready();
  }
  const tls = config.services.includes('https') ? await loadTlsCredentials(config) : null;
  const https = tls ? await startHttpsListener(app, tls, { port: config.httpsPort, host: config.host }) : null;
  const resumed = await app.services.history.resumeDeleteJobs();
  if (resumed) logger.info({ resumed }, 'resumed deletions left running');
  const dispatching = config.services.includes('dispatcher') ? await startDispatcher(config, database, app.services, logger) : null;
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
  const mail2sms = config.services.includes('smtp')
    ? await startMail2Sms({ services: app.services, config, log: logger, port: config.smtpPort, host: config.host })
    : null;
  const smppTls = config.services.includes('smpp') && config.smppTlsPort !== null ? (tls ?? (await loadTlsCredentials(config))) : null;
  const smppServer = config.services.includes('smpp')
    ? await startSmppServer({
        services: app.services,
        log: logger,
        port: config.smppPort,
        host: config.host,
        ...(smppTls && config.smppTlsPort !== null ? { tls: { port: config.smppTlsPort, key: smppTls.key, cert: smppTls.cert } } : {}),
      })
    : null;
  process.stdout.write(banner(config, demo, tls, smppTls));

  let closing = false;
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'closing');
    await mail2sms?.close();
    await smppServer?.close();
    await https?.close();
    await privacyKeeper?.close();
    await app.close();
    await dispatching?.stop();
    await textIndexer.close();
    await statistics.close();
    await database.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void close('SIGINT'));
  process.once('SIGTERM', () => void close('SIGTERM'));
}
