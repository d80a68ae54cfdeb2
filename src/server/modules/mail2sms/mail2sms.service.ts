import { zonedTimeToUtc } from '../../../shared/time-zone.js';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { createLoginAttempts } from '../../login-attempts.js';
import type { Account } from '../accounts/accounts.repository.js';
import { accountAccessFor } from '../accounts/accounts.service.js';
import type { SmsUser } from '../accounts/sms-users.repository.js';
import type { SmsUsersService } from '../accounts/sms-users.service.js';
import type { AccountAccess } from '../auth/principal.js';
import { parseReceiverList } from '../sending/phone.js';
import { MAX_DEFERRAL_MINUTES, MAX_RECEIVERS, type SendInput, type SendingService, type SendReport } from '../sending/sending.service.js';
import { type Mail2SmsParseRefusalReason, type Mail2SmsRequest, quote } from './mail2sms.parser.js';

/** How far ahead `Deferred` may be (the sending service's limit, one year), refused here in mail2sms' words. */
const MAX_DEFERRED_AHEAD_MS = MAX_DEFERRAL_MINUTES * 60_000;

/**
 * Every reason a mail is refused (the SMTP server answers each with a 5xx reply, except
 * TOO_MANY_FAILED_LOGINS: a 4xx, the sending server may retry later).
 */
export type Mail2SmsRefusalReason =
  | Mail2SmsParseRefusalReason
  | 'BAD_CREDENTIALS'
  | 'IP_NOT_ALLOWED'
  | 'TOO_MANY_FAILED_LOGINS'
  | 'UNKNOWN_SENDER'
  | 'INVALID_RECEIVER'
  | 'INSUFFICIENT_CREDITS'
  | 'ACCOUNT_DISABLED';

export interface Mail2SmsRefusal {
  ok: false;
  reason: Mail2SmsRefusalReason;
  /** For people: what was wrong (the SMTP reply's text). */
  message: string;
}

export type Mail2SmsOutcome = { ok: true; report: SendReport } | Mail2SmsRefusal;

/** The SMS user's view of its account, as the sending service wants it. */
const toAccess = (account: Account, user: SmsUser): AccountAccess => accountAccessFor(account, user, `user:${user.login}`);

/**
 * mail2sms (OVH-COMPAT §4) over the one sending path: authenticates the SMS user named by a parsed
 * mail, checks its IP restrictions against the SMTP client, checks every receiver (one bad number
 * refuses the whole mail) and sends through `sending.accept(access, 'mail2sms', …)`. A refusal has
 * written and debited nothing. Unexpected failures (database down…) are thrown: the caller answers
 * them as temporary.
 *
 * Failed logins (wrong credentials or an address not allowed) are limited per client (`loginAttempts`):
 * once they reach `authFailuresPerMinute`, a login is refused unchecked until a minute passes without
 * a failure (0 or absent: no limit).
 */
export function createMail2SmsService(deps: {
  smsUsers: SmsUsersService;
  sending: SendingService;
  clock: Clock;
  authFailuresPerMinute?: number;
}) {
  const { smsUsers, sending, clock } = deps;
  const loginAttempts = createLoginAttempts({ clock, limit: deps.authFailuresPerMinute ?? 0 });
  const refuse = (reason: Mail2SmsRefusalReason, message: string): Mail2SmsRefusal => ({ ok: false, reason, message });
  async function authorize(request: Mail2SmsRequest, ip: string): Promise<{ ok: true; access: AccountAccess } | Mail2SmsRefusal> {
    const attempt = await loginAttempts.attempt(ip, () => authenticate(request, ip));
    if (attempt.kind === 'checked') return attempt.outcome;
    const wait = attempt.retryAfterSeconds;
    return refuse('TOO_MANY_FAILED_LOGINS', `Too many failed logins from this IP address; try again in ${wait} s`);
  }

  async function authenticate(request: Mail2SmsRequest, ip: string): Promise<{ ok: true; access: AccountAccess } | Mail2SmsRefusal> {
    const found = await smsUsers.authenticateFrom(request.account, request.login, request.password, ip);
    if (found.ok) return { ok: true, access: toAccess(found.account, found.user) };
    if (found.reason === 'IP_NOT_ALLOWED') return refuse('IP_NOT_ALLOWED', `IP address ${ip} is not allowed for this SMS user`);
    return refuse('BAD_CREDENTIALS', 'Wrong account, login or password');
  }

  return {
    /** Sends a parsed mail from the SMTP client at `ip`; all or nothing. */
    async send(request: Mail2SmsRequest, ip: string): Promise<Mail2SmsOutcome> {
      const authorized = await authorize(request, ip);
      if (!authorized.ok) return authorized;
      const { access } = authorized;

      let deferredUntil: number | undefined;
      if (request.deferred) {
        const at = zonedTimeToUtc(request.deferred, access.account.timezone);
        const now = clock.now();
        if (at > now + MAX_DEFERRED_AHEAD_MS) return refuse('INVALID_FIELD', 'Invalid Deferred: more than a year ahead');
        if (at > now) deferredUntil = at;
      }
      // One receiver is checked by sending itself (an invalid one refuses the job); several are checked
      // here first, so that one bad number refuses the whole mail instead of being dropped.
      const invalid =
        request.receivers.length > 1 || /[\s,;]/.test(request.receivers[0])
          ? parseReceiverList(request.receivers, access.account.defaultCountry, MAX_RECEIVERS).invalid
          : [];
      if (invalid.length > 0) {
        const more = invalid.length > 1 ? ` (and ${invalid.length - 1} more)` : '';
        return refuse('INVALID_RECEIVER', `Invalid receiver: ${quote(invalid[0])} is not a valid phone number${more}`);
      }

      const input: SendInput = {
        message: request.message,
        receivers: request.receivers,
        noStopClause: request.noStopClause,
        senderForResponse: request.senderForResponse,
        ...(request.sender === null ? {} : { sender: request.sender }),
        ...(request.tag === null ? {} : { tag: request.tag }),
        ...(request.class === null ? {} : { class: request.class }),
        ...(request.coding === null ? {} : { coding: request.coding }),
        ...(deferredUntil === undefined ? {} : { deferredUntil }),
      };
      try {
        return { ok: true, report: await sending.accept(access, 'mail2sms', input) };
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        switch (error.code) {
          case 'INVALID_SENDER':
            return refuse(
              'UNKNOWN_SENDER',
              `Unknown sender: ${quote(request.sender ?? '')} is not an enabled sender of ${access.account.name}`,
            );
          case 'INVALID_RECEIVER':
            return refuse('INVALID_RECEIVER', `Invalid receiver: ${quote(request.receivers[0])} is not a valid phone number`);
          case 'INSUFFICIENT_CREDITS':
            return refuse('INSUFFICIENT_CREDITS', error.message);
          case 'ACCOUNT_DISABLED':
            return refuse('ACCOUNT_DISABLED', error.message);
          case 'VALIDATION_FAILED':
            return refuse('INVALID_FIELD', `Invalid mail: ${error.message}`);
          default:
            throw error;
        }
      }
    },
  };
}

export type Mail2SmsService = ReturnType<typeof createMail2SmsService>;
