import type { AddressInfo } from 'node:net';
import { MailParser, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Config } from '../../config.js';
import { readPem } from '../../https.js';
import { clientOf } from '../../ip-address.js';
import type { Services } from '../../services.js';
import { isContactFile, parseMail2Sms } from './mail2sms.parser.js';
import { createMail2SmsService, type Mail2SmsRefusalReason } from './mail2sms.service.js';

/** The only local part mail2sms accepts (`email2sms@<any domain>`, OVH-COMPAT §4). */
export const MAIL2SMS_LOCAL_PART = 'email2sms';

/**
 * The SMTP reply of each refusal: a permanent 5xx, so that the sending server bounces the mail with
 * the reason; too many failed logins is a 4xx (it passes). Enhanced status codes (RFC 3463) are
 * written by us, in the text, as the library's generic ones would say "bad mailbox" (5.1.1) for
 * every 550.
 */
const REFUSAL_REPLY: Readonly<Record<Mail2SmsRefusalReason, { code: number; status: string }>> = {
  MALFORMED_SUBJECT: { code: 550, status: '5.6.0' },
  MISSING_FIELD: { code: 550, status: '5.6.0' },
  INVALID_FIELD: { code: 550, status: '5.6.0' },
  NO_RECEIVER: { code: 550, status: '5.6.0' },
  TOO_MANY_RECEIVERS: { code: 550, status: '5.6.0' },
  EMPTY_TEXT: { code: 550, status: '5.6.0' },
  TEXT_TOO_LONG: { code: 550, status: '5.6.0' },
  INVALID_RECEIVER: { code: 550, status: '5.6.0' },
  BAD_CREDENTIALS: { code: 550, status: '5.7.8' },
  IP_NOT_ALLOWED: { code: 550, status: '5.7.1' },
  TOO_MANY_FAILED_LOGINS: { code: 450, status: '4.7.0' },
  UNKNOWN_SENDER: { code: 550, status: '5.7.1' },
  INSUFFICIENT_CREDITS: { code: 550, status: '5.7.1' },
  ACCOUNT_DISABLED: { code: 550, status: '5.7.1' },
};
/** Failed logins from one address in a minute without `config.http2smsRateLimit` (its default). */
const DEFAULT_AUTH_FAILURES_PER_MINUTE = 30;
/** A temporary failure (database unreachable, unexpected error): the sending server retries later. */
const TEMPORARY = { code: 451, status: '4.3.0', message: 'Temporary failure, please retry later' } as const;

export interface Mail2SmsLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface Mail2SmsServerOptions {
  services: Pick<Services, 'smsUsers' | 'sending' | 'clock'>;
  /** `http2smsRateLimit.authFailuresPerMinute` also limits mail2sms's failed logins per client address. */
  config: Pick<Config, 'smtpMaxSize' | 'tlsCertFile' | 'tlsKeyFile'> & Partial<Pick<Config, 'http2smsRateLimit'>>;
  log: Mail2SmsLog;
  /** 0 picks a free port (tests). */
  port: number;
  host: string;
  /** STARTTLS key and certificate (PEM); default: read from `config.tlsKeyFile`/`tlsCertFile` when set, else no STARTTLS. */
  tls?: { key: string | Buffer; cert: string | Buffer } | null;
  /** Sessions at once (default 1000); more are refused with 421 until one ends. */
  maxClients?: number;
  /** Sessions at once from one address (default a quarter of maxClients): idle ones cannot keep others out. */
  maxClientsPerAddress?: number;
  /** Idle time before a session is dropped (default 60 s). */
  socketTimeoutMs?: number;
  /**
   * The longest a session may last (default 10 minutes, RFC 5321's DATA timeout): a client that trickles a
   * byte now and then is never idle, and would otherwise keep its session — and its share of them — for
   * ever. A session past it gets 421 and is closed, while a mail's DATA is still arriving too; a mail
   * already read is answered first.
   */
  sessionDeadlineMs?: number;
  /** On close, how long sessions may finish before they are cut (default 10 s). */
  closeTimeoutMs?: number;
}

export interface Mail2SmsServer {
  /** The port it listens on. */
  port: number;
  /** Stops accepting sessions, lets open ones finish (at most `closeTimeoutMs`), then resolves. */
  close(): Promise<void>;
}

/** A reply we chose (refusal or temporary failure): smtp-server sends `responseCode` and the message. */
class SmtpReply extends Error {
  constructor(
    readonly responseCode: number,
    status: string,
    message: string,
  ) {
    super(`${status} ${message}`);
  }
}

function smtpError(code: number, status: string, message: string): SmtpReply {
  return new SmtpReply(code, status, message);
}

async function readMessage(stream: SMTPServerDataStream, maxSize: number): Promise<{ bytes: Buffer; tooBig: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= maxSize) chunks.push(chunk);
  }
  return { bytes: Buffer.concat(chunks), tooBig: stream.sizeExceeded || size > maxSize };
}

function loadTls(config: Mail2SmsServerOptions['config']): { key: string; cert: string } | null {
  if (!config.tlsCertFile || !config.tlsKeyFile) return null;
  return { key: readPem(config.tlsKeyFile, 'RELAIS_TLS_KEY'), cert: readPem(config.tlsCertFile, 'RELAIS_TLS_CERT') };
}

/**
 * A contact file is an attachment however it is attached: mailparser merges a text part sent `inline`
 * (as Apple Mail attaches files) into the body, which would send the customer's list of numbers as the
 * SMS text. Parts named like a contact file (`isContactFile`) are made attachments as mailparser reads
 * them (its node decision, `createNode`; the mail2sms review's test fails if a mailparser update renames it).
 */
const parserPrototype = MailParser.prototype as unknown as {
  createNode?: (node: { filename?: unknown }) => { disposition?: string; isAttachment?: boolean };
};
const createNode = parserPrototype.createNode;
if (typeof createNode === 'function') {
  parserPrototype.createNode = function (this: unknown, node) {
    const made = createNode.call(this, node);
    if (made.isAttachment === false && typeof node.filename === 'string' && isContactFile(node.filename)) {
      made.disposition = 'attachment';
      made.isAttachment = true;
    }
    return made;
  };
}

/**
 * mail2sms: an SMTP server that turns each mail to `email2sms@…` into one SMS job (OVH-COMPAT §4).
 *
 * Which phase refuses what:
 * - RCPT TO: any recipient but `email2sms@…` → 550 5.1.1 (the subject is not known yet).
 * - DATA, after the whole mail is read, parsed and sent: too big → 552 5.3.4; unreadable MIME,
 *   malformed subject, missing or invalid field, no receiver, bad number, empty or too long text →
 *   550 5.6.0; wrong account, login or password (one message for the three) → 550 5.7.8; client
 *   address not allowed for the SMS user, unknown sender, not enough credits → 550 5.7.1; too many
 *   failed logins from the client's address → 450 4.7.0 (the login is not checked); anything
 *   unexpected (database down…) → 451 4.3.0, so the sending server retries.
 * - 250 only once `sending.accept` has committed the job: the mail is in the history.
 * No AUTH (credentials are in the subject); STARTTLS only with a configured certificate.
 */
export async function startMail2Sms(options: Mail2SmsServerOptions): Promise<Mail2SmsServer> {
  const { services, config, log } = options;
  const mail2sms = createMail2SmsService({
    smsUsers: services.smsUsers,
    sending: services.sending,
    clock: services.clock,
    authFailuresPerMinute: config.http2smsRateLimit?.authFailuresPerMinute ?? DEFAULT_AUTH_FAILURES_PER_MINUTE,
  });
  const tls = options.tls === undefined ? loadTls(config) : options.tls;
  const maxSize = config.smtpMaxSize;

  /** Sessions whose mail is read in full and being decided: the session deadline waits for their reply. */
  const deciding = new Set<string>();

  async function handle(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const { bytes, tooBig } = await readMessage(stream, maxSize);
    deciding.add(session.id);
    if (tooBig) throw smtpError(552, '5.3.4', `Message too big: at most ${maxSize} bytes`);
    let mail: Awaited<ReturnType<typeof simpleParser>>;
    try {
      mail = await simpleParser(bytes, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true });
    } catch (error) {
      log.info({ err: error, ip: session.remoteAddress }, 'mail2sms: unreadable mail refused');
      throw smtpError(550, '5.6.0', 'Unreadable message: its MIME structure could not be parsed');
    }
    const parsed = parseMail2Sms(mail);
    const outcome = parsed.ok ? await mail2sms.send(parsed.request, session.remoteAddress) : parsed;
    if (!outcome.ok) {
      log.info({ reason: outcome.reason, ip: session.remoteAddress, sessionId: session.id }, 'mail2sms: mail refused');
      const reply = REFUSAL_REPLY[outcome.reason];
      throw smtpError(reply.code, reply.status, outcome.message);
    }
    const { report } = outcome;
    const request = parsed.ok ? parsed.request : undefined;
    log.info(
      { account: request?.account, login: request?.login, jobId: report.jobId, messages: report.ids.length, ip: session.remoteAddress },
      'mail2sms: mail accepted',
    );
    const credits = report.totalCreditsRemoved === 1 ? '1 credit' : `${report.totalCreditsRemoved} credits`;
    return `2.0.0 Accepted: ${report.ids.length} SMS (job ${report.jobId}, ${credits}, ${report.creditsLeft} left)`;
  }

  const maxPerAddress = options.maxClientsPerAddress ?? Math.max(1, Math.floor((options.maxClients ?? 1000) / 4));
  /** Sessions open by client address, and the ids of those counted (a refused one is not). */
  const sessionsFrom = new Map<string, number>();
  const counted = new Set<string>();
  const sessionDeadlineMs = options.sessionDeadlineMs ?? 10 * 60_000;
  /** Each open session's deadline timer. */
  const deadlines = new Map<string, NodeJS.Timeout>();

  /** Closes a session past its deadline with 421 (smtp-server's connection, found by its session id). */
  function expire(sessionId: string): void {
    deadlines.delete(sessionId);
    if (deciding.has(sessionId)) {
      deadlines.set(sessionId, setTimeout(() => expire(sessionId), 100).unref());
      return;
    }
    const connections = (server as unknown as { connections: Set<{ id: string; send(code: number, text: string): void }> }).connections;
    for (const connection of connections) {
      if (connection.id !== sessionId) continue;
      log.info({ sessionId, deadlineMs: sessionDeadlineMs }, 'mail2sms: session past its deadline, closed');
      connection.send(421, `4.4.2 Session too long (${Math.round(sessionDeadlineMs / 1000)} s at most); reconnect to send more`);
      return;
    }
  }
  const server = new SMTPServer({
    banner: 'Relais mail2sms',
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    secure: false,
    authOptional: true,
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    hideENHANCEDSTATUSCODES: true,
    disableReverseLookup: true,
    size: maxSize,
    maxClients: options.maxClients ?? 1000,
    socketTimeout: options.socketTimeoutMs ?? 60_000,
    closeTimeout: options.closeTimeoutMs ?? 10_000,
    logger: false,
    // One mail makes one job whatever its recipients: more than RFC 5321's minimum of 100 is refused (452).
    maxRecipients: 100,
    onConnect(session, callback) {
      // An IPv6 /64 is one client, as for the login limits.
      const client = clientOf(session.remoteAddress);
      const count = sessionsFrom.get(client) ?? 0;
      if (count >= maxPerAddress) return callback(smtpError(421, '4.7.0', 'Too many connections from your address; try again later'));
      sessionsFrom.set(client, count + 1);
      counted.add(session.id);
      deadlines.set(session.id, setTimeout(() => expire(session.id), sessionDeadlineMs).unref());
      callback();
    },
    onClose(session) {
      clearTimeout(deadlines.get(session.id));
      deadlines.delete(session.id);
      deciding.delete(session.id);
      if (!counted.delete(session.id)) return;
      const client = clientOf(session.remoteAddress);
      const left = (sessionsFrom.get(client) ?? 1) - 1;
      if (left > 0) sessionsFrom.set(client, left);
      else sessionsFrom.delete(client);
    },
    onRcptTo(address, _session, callback) {
      const at = address.address.lastIndexOf('@');
      const local = at === -1 ? address.address : address.address.slice(0, at);
      if (local.toLowerCase() === MAIL2SMS_LOCAL_PART) return callback();
      callback(
        smtpError(550, '5.1.1', `<${address.address.slice(0, 100)}>: no such mailbox here, mail2sms accepts only ${MAIL2SMS_LOCAL_PART}@…`),
      );
    },
    onData(stream, session, callback) {
      handle(stream, session).then(
        (reply) => {
          deciding.delete(session.id);
          callback(null, reply);
        },
        (error: unknown) => {
          deciding.delete(session.id);
          if (error instanceof SmtpReply) return callback(error);
          log.error({ err: error, ip: session.remoteAddress, sessionId: session.id }, 'mail2sms: temporary failure');
          stream.resume();
          callback(smtpError(TEMPORARY.code, TEMPORARY.status, TEMPORARY.message));
        },
      );
    },
  });
  // A failure to listen is the caller's to report (one line naming the port): logged only once listening.
  let listening = false;
  server.on('error', (error) => {
    if (listening) log.warn({ err: error }, 'mail2sms: SMTP session error');
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.server.off('error', onError);
      listening = true;
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  log.info({ port, host: options.host, starttls: tls !== null }, 'mail2sms listening');

  let closed: Promise<void> | undefined;
  return {
    port,
    close() {
      closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return closed;
    },
  };
}
