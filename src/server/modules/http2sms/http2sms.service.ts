import { zonedTimeToUtc } from '../../../shared/time-zone.js';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { excerpt } from '../../input-text.js';
import type { Account } from '../accounts/accounts.repository.js';
import { accountAccessFor } from '../accounts/accounts.service.js';
import type { SmsUser } from '../accounts/sms-users.repository.js';
import type { SmsUsersService } from '../accounts/sms-users.service.js';
import type { AccountAccess } from '../auth/principal.js';
import { parseReceiverList } from '../sending/phone.js';
import {
  MAX_DEFERRAL_MINUTES,
  MAX_MESSAGE_LENGTH,
  MAX_RECEIVERS,
  type SendInput,
  type SendingService,
} from '../sending/sending.service.js';
import type { Http2smsParams } from './http2sms-params.js';
import { HTTP2SMS_STATUS, type Http2smsOutcome } from './http2sms-response.js';

/** OVH's limit on an http2sms tag. */
export const HTTP2SMS_MAX_TAG_LENGTH = 20;
/** How far ahead `deferred` may be (the sending service's limit, one year), refused here in http2sms' words. */
const MAX_DEFERRED_AHEAD_MS = MAX_DEFERRAL_MINUTES * 60_000;

const CLASSES = { '0': 'flash', '1': 'phoneDisplay', '2': 'sim', '3': 'toolkit' } as const;
const CODINGS = { '1': '7bit', '2': '8bit' } as const;

type Refusal = Extract<Http2smsOutcome, { ok: false }>;

/** A request whose parameters are all present and well-formed; `deferred` still in wall-clock parts. */
export interface CheckedRequest {
  account: string;
  login: string;
  password: string;
  input: Omit<SendInput, 'deferredUntil'>;
  deferred?: { year: number; month: number; day: number; hour: number; minute: number; second: number };
  /** `to` split into pieces: more than one is checked whole before sending (all or nothing). */
  receiverPieces: string[];
}

function refuse(status: number, message: string): Refusal {
  return { ok: false, status, message };
}

/** A value as it may be echoed in a message: quoted, at most 40 characters. */
function quote(value: string): string {
  return `"${excerpt(value)}"`;
}

function flag(name: string, raw: string | undefined): boolean | Refusal {
  // Read as the other parameters are: spaces around (a script's "noStop=1 ") are not part of the value.
  const value = raw?.trim();
  if (value === undefined || value === '' || value === '0') return false;
  if (value === '1') return true;
  return refuse(HTTP2SMS_STATUS.INVALID_PARAMETER, `Invalid ${name}: ${quote(value)}, expected 1 or 0`);
}

/** `hhmmddMMYYYY` (OVH's order: hour, minute, day, month, year), or a refusal. */
export function parseDeferred(value: string): CheckedRequest['deferred'] | undefined {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{4})$/.exec(value.trim());
  if (!m) return undefined;
  const [hour, minute, day, month, year] = m.slice(1).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (hour > 23 || minute > 59 || month < 1 || month > 12 || day < 1 || day > daysInMonth || year < 1970) return undefined;
  return { year, month, day, hour, minute, second: 0 };
}

function isPresent(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

/**
 * http2sms (OVH-COMPAT §3) over the one sending path: checks the parameters, authenticates the SMS
 * user, checks its IP restrictions and sends through `sending.accept(access, 'http2sms', …)`.
 * Every answer is an `Http2smsOutcome`; a refusal has written and debited nothing.
 */
export function createHttp2smsService(deps: { smsUsers: SmsUsersService; sending: SendingService; clock: Clock }) {
  const { smsUsers, sending, clock } = deps;

  const toAccess = (account: Account, user: SmsUser): AccountAccess => accountAccessFor(account, user, `user:${user.login}`);

  const ipRefused = (ip: string) => refuse(HTTP2SMS_STATUS.NOT_AUTHORISED, `IP not allowed for this user (${ip})`);

  return {
    /**
     * Missing (201) and malformed (202) parameters, in a fixed order, before any credential is
     * looked at: account, login, password, from (unless senderForResponse=1), to, message; then the
     * optional ones.
     */
    check(params: Http2smsParams): { ok: true; request: CheckedRequest } | Refusal {
      const senderForResponse = flag('senderForResponse', params.senderForResponse);
      for (const name of ['account', 'login', 'password', 'from', 'to', 'message'] as const) {
        if (name === 'from' && senderForResponse === true) continue;
        if (name === 'message' ? params.message === undefined : !isPresent(params[name])) {
          return refuse(HTTP2SMS_STATUS.MISSING_PARAMETER, `Missing ${name}`);
        }
      }
      if (typeof senderForResponse !== 'boolean') return senderForResponse;
      // No text may hold U+0000 (PostgreSQL refuses it; no SMS or login needs it).
      for (const [name, value] of Object.entries(params)) {
        if (typeof value === 'string' && value.includes('\u0000')) {
          return refuse(HTTP2SMS_STATUS.INVALID_PARAMETER, `Invalid ${name}: contains a NUL character (%00)`);
        }
      }
      const noStop = flag('noStop', params.noStop);
      if (typeof noStop !== 'boolean') return noStop;

      const message = params.message!.replace(/\r\n?/g, '\n');
      if (message.trim() === '') return refuse(HTTP2SMS_STATUS.INVALID_PARAMETER, 'Invalid message: is empty');
      if (message.length > MAX_MESSAGE_LENGTH) {
        return refuse(HTTP2SMS_STATUS.INVALID_PARAMETER, `Invalid message: is too long (at most ${MAX_MESSAGE_LENGTH} characters)`);
      }
      const receiverPieces = params
        .to!.split(/[,;\r\n]+/)
        .map((p) => p.trim())
        .filter((p) => p !== '');
      if (receiverPieces.length === 0) return refuse(HTTP2SMS_STATUS.MISSING_PARAMETER, 'Missing to');

      const tag = params.tag?.trim() || undefined;
      // Characters as a person counts them (an emoji is one), not UTF-16 units.
      if (tag !== undefined && [...tag].length > HTTP2SMS_MAX_TAG_LENGTH) {
        return refuse(HTTP2SMS_STATUS.INVALID_PARAMETER, `Invalid tag: is too long (at most ${HTTP2SMS_MAX_TAG_LENGTH} characters)`);
      }
      const klass = params.class?.trim() || undefined;
      if (klass !== undefined && !Object.hasOwn(CLASSES, klass)) {
        return refuse(
          HTTP2SMS_STATUS.INVALID_PARAMETER,
          `Invalid class: ${quote(klass)}, expected 0 (flash), 1 (phone), 2 (SIM) or 3 (toolkit)`,
        );
      }
      const coding = params.smsCoding?.trim() || undefined;
      if (coding !== undefined && !Object.hasOwn(CODINGS, coding)) {
        return refuse(HTTP2SMS_STATUS.INVALID_PARAMETER, `Invalid smsCoding: ${quote(coding)}, expected 1 (7-bit) or 2 (Unicode)`);
      }
      let deferred: CheckedRequest['deferred'];
      if (isPresent(params.deferred)) {
        deferred = parseDeferred(params.deferred);
        if (!deferred) {
          return refuse(
            HTTP2SMS_STATUS.INVALID_PARAMETER,
            `Invalid deferred: ${quote(params.deferred)}, expected hhmmddMMYYYY in the account's timezone (183019072025: 19/07/2025 at 18:30)`,
          );
        }
      }

      const input: Omit<SendInput, 'deferredUntil'> = {
        message,
        receivers: receiverPieces,
        noStopClause: noStop,
        senderForResponse,
        ...(senderForResponse ? {} : { sender: params.from!.trim() }),
        ...(tag === undefined ? {} : { tag }),
        ...(klass === undefined ? {} : { class: CLASSES[klass as keyof typeof CLASSES] }),
        ...(coding === undefined ? {} : { coding: CODINGS[coding as keyof typeof CODINGS] }),
      };
      return {
        ok: true,
        request: { account: params.account!.trim(), login: params.login!, password: params.password!, input, deferred, receiverPieces },
      };
    },

    /**
     * The SMS user's access, or 401. Wrong credentials get one answer ("Wrong account, login or
     * password") whichever was wrong. A client outside the user's allowed addresses gets the IP
     * answer whether or not the password was right, so it cannot be used to guess passwords.
     * `badCredentials` tells the caller to count a failed login.
     */
    async authorize(
      request: CheckedRequest,
      ip: string,
    ): Promise<{ ok: true; access: AccountAccess } | (Refusal & { badCredentials?: true })> {
      const found = await smsUsers.authenticateFrom(request.account, request.login, request.password, ip);
      if (found.ok) return { ok: true, access: toAccess(found.account, found.user) };
      if (found.reason === 'IP_NOT_ALLOWED') return ipRefused(ip);
      return { ...refuse(HTTP2SMS_STATUS.NOT_AUTHORISED, 'Wrong account, login or password'), badCredentials: true };
    },

    /** Sends the checked request as `access` through the http2sms channel; all or nothing. */
    async send(access: AccountAccess, request: CheckedRequest): Promise<Http2smsOutcome> {
      let deferredUntil: number | undefined;
      if (request.deferred) {
        const at = zonedTimeToUtc(request.deferred, access.account.timezone);
        const now = clock.now();
        if (at > now + MAX_DEFERRED_AHEAD_MS) return refuse(HTTP2SMS_STATUS.INVALID_PARAMETER, 'Invalid deferred: more than a year ahead');
        if (at > now) deferredUntil = at;
      }
      // One piece is checked by sending itself (an invalid one refuses the job); several are checked
      // here first so that one bad number refuses the whole request instead of being dropped.
      if (request.receiverPieces.length > 1 || /\s/.test(request.receiverPieces[0])) {
        const { invalid } = parseReceiverList(request.receiverPieces, access.account.defaultCountry, MAX_RECEIVERS);
        if (invalid.length > 0)
          return refuse(HTTP2SMS_STATUS.INVALID_PARAMETER, `Invalid to: ${quote(invalid[0])} is not a valid phone number`);
      }
      try {
        const report = await sending.accept(access, 'http2sms', {
          ...request.input,
          ...(deferredUntil === undefined ? {} : { deferredUntil }),
        });
        return { ok: true, creditLeft: report.creditsLeft, ids: report.ids };
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        switch (error.code) {
          case 'INVALID_SENDER':
            return refuse(
              HTTP2SMS_STATUS.SENDER_NOT_FOUND,
              `Sender not found: ${quote(request.input.sender ?? '')} is not an enabled sender of ${access.account.name}`,
            );
          case 'INVALID_RECEIVER':
            return refuse(HTTP2SMS_STATUS.INVALID_PARAMETER, `Invalid to: ${quote(request.receiverPieces[0])} is not a valid phone number`);
          case 'VALIDATION_FAILED':
            return refuse(HTTP2SMS_STATUS.INVALID_PARAMETER, `Invalid parameter: ${error.message}`);
          case 'INSUFFICIENT_CREDITS':
            return refuse(HTTP2SMS_STATUS.NOT_ENOUGH_CREDITS, error.message);
          case 'ACCOUNT_DISABLED':
            return refuse(HTTP2SMS_STATUS.NOT_AUTHORISED, error.message);
          default:
            throw error;
        }
      }
    },
  };
}

export type Http2smsService = ReturnType<typeof createHttp2smsService>;
