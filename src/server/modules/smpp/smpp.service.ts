import { randomBytes } from 'node:crypto';
import type { Outgoing } from '../../../shared/outgoing.js';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { type AccountsService, accountAccessFor, SYSTEM_ACTOR } from '../accounts/accounts.service.js';
import type { SendersService } from '../accounts/senders.service.js';
import type { SmsUsersService } from '../accounts/sms-users.service.js';
import type { AccountAccess } from '../auth/principal.js';
import type { HistoryService } from '../history/history.service.js';
import { roundCredits } from '../sending/credits.js';
import { normalizeReceiver } from '../sending/phone.js';
import { rateFor, type SendInput, type SendingService } from '../sending/sending.service.js';
import {
  type DecodedMessage,
  type DecodedSubmit,
  type DecodedSubmitMulti,
  type SmppStatusName,
  type SubmitRefusal,
  senderCandidates,
} from './smpp-messages.js';

/** Validity periods the sending service takes, in minutes (as the native API's `validityPeriod`). */
const MAX_VALIDITY_MINUTES = 525_600;

/** A bind's answer; `stamp` tells whether the session may go on later (`sessionsStillAllowed`). */
export type BindOutcome =
  | { ok: true; access: AccountAccess; userId: number; login: string; stamp: string }
  | { ok: false; refusal: SubmitRefusal };

/** What query_sm answers (SMPP 3.4 §4.8.2). */
export interface QueryAnswer {
  /** message_state (§5.3.2.35). */
  state: number;
  /** When it reached its final state, or null. */
  finalAt: number | null;
  /** The network error code when it failed with a numeric one (0–255), else 0. */
  errorCode: number;
}

/** SMPP 3.4 §5.2.28 message_state values (query_sm_resp, and the receipts' message_state TLV). */
export const MESSAGE_STATE = {
  ENROUTE: 1,
  DELIVERED: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIVERABLE: 5,
  ACCEPTED: 6,
  UNKNOWN: 7,
  REJECTED: 8,
} as const;

/**
 * message_state of each status: pending (queued or deferred) and sent (the carrier has it, no final
 * receipt yet) are ENROUTE — SMPP 3.4 has no SCHEDULED (5.0's 0) —, canceled is DELETED, failed
 * UNDELIVERABLE.
 */
const STATE_OF: Readonly<Record<Outgoing['status'], number>> = {
  pending: MESSAGE_STATE.ENROUTE,
  sent: MESSAGE_STATE.ENROUTE,
  delivered: MESSAGE_STATE.DELIVERED,
  expired: MESSAGE_STATE.EXPIRED,
  canceled: MESSAGE_STATE.DELETED,
  failed: MESSAGE_STATE.UNDELIVERABLE,
};

/** A receiver that is one number or none (`submit`): digits, with or without a leading `+`. */
const ONE_NUMBER = /^\+?\d{1,20}$/;

const RECENT = { recent: true } as const;

const refusal = (status: SmppStatusName, reason: string): SubmitRefusal => ({ status, reason });

/** A submit_multi destination not sent to (submit_multi_resp's unsuccess_sme), as the program gave it. */
export interface UnsuccessfulDestination {
  ton: number;
  npi: number;
  /** destination_addr, or the distribution list's name. */
  address: string;
  status: SmppStatusName;
  reason: string;
}

/**
 * A submit_multi's outcome. Accepted: `id` is the message id of its first destination sent to (each
 * destination has its own message, and id, in the history), `unsuccessful` the destinations left out.
 * Refused: nothing was written; `unsuccessful` lists every destination when none could be sent to.
 */
export type MultiOutcome =
  | { ok: true; id: string; unsuccessful: UnsuccessfulDestination[] }
  | { ok: false; refusal: SubmitRefusal; unsuccessful: UnsuccessfulDestination[] };

/**
 * The ids query_sm and cancel_sm take are the history's (digits): a part of a concatenated message
 * answered on arrival gets one of these instead (`partId`), which names no message.
 */
const PART_ID_PREFIX = 'part-';

/** An id for a part answered before its message is whole: opaque, never a message id, 5 + 16 + … octets (≤ 64). */
export function partId(seq: number, total: number): string {
  return `${PART_ID_PREFIX}${randomBytes(12).toString('base64url')}-${seq}of${total}`;
}

/**
 * The sending service's job for a program's message to `receivers` (E.164) from `sender` (null: none), as
 * of `now`. Set field by field, not spread: this runs for every submit.
 */
function sendInput(submit: DecodedMessage, sender: string | null, receivers: string[], now: number): SendInput {
  const sendAt = Math.max(submit.deferredUntil ?? now, now);
  // A program's text is sent as it wrote it: no STOP mention added (SMPP has no parameter for it).
  const input: SendInput = { message: submit.text, receivers, noStopClause: true, coding: submit.coding };
  if (sender === null) input.senderForResponse = true;
  else input.sender = sender;
  if (submit.class) input.class = submit.class;
  if (submit.deferredUntil !== null) input.deferredUntil = submit.deferredUntil;
  if (submit.validUntil !== null)
    input.validityPeriod = Math.min(MAX_VALIDITY_MINUTES, Math.max(1, Math.ceil((submit.validUntil - sendAt) / 60_000)));
  if (submit.receipt) input.receipt = submit.receipt;
  return input;
}

/**
 * The SMPP status of the sending service's refusal (an AppError), `invalidReceiver` the reason given for
 * INVALID_RECEIVER (else its message); anything else is unexpected and thrown again.
 */
function refusalOf(error: unknown, invalidReceiver?: string): SubmitRefusal {
  if (!(error instanceof AppError)) throw error;
  switch (error.code) {
    case 'INVALID_SENDER':
      return refusal('ESME_RINVSRCADR', error.message);
    case 'INVALID_RECEIVER':
      return refusal('ESME_RINVDSTADR', invalidReceiver ?? error.message);
    case 'VALIDATION_FAILED':
      return refusal(/message/.test(error.message) ? 'ESME_RINVMSGLEN' : 'ESME_RSUBMITFAIL', error.message);
    default:
      // INSUFFICIENT_CREDITS (the account's credits or the SMS user's quota) among them.
      return refusal('ESME_RSUBMITFAIL', error.message);
  }
}

/**
 * The account and login a bind names: `system_id` "account:login" (Relais' form: SMS user logins are
 * unique only in their account), or `system_type` the account and `system_id` the login (for programs
 * that keep system_id short, as SMPP 3.4's 16 octets ask).
 */
export function bindCredentials(systemId: string, systemType: string): { account: string; login: string } {
  const colon = systemId.indexOf(':');
  if (colon !== -1) return { account: systemId.slice(0, colon), login: systemId.slice(colon + 1) };
  return { account: systemType, login: systemId };
}

/**
 * SMPP for customers' programs over the one sending path: binds as an SMS user (credentials, IP
 * restrictions), submits through `sending.accept(access, 'smpp', …)`, answers query_sm from the history
 * and cancels a pending message on cancel_sm. Refusals name the SMPP status to answer; unexpected
 * failures (database down…) are thrown, and the server answers them as temporary.
 */
export function createSmppService(deps: {
  smsUsers: SmsUsersService;
  sending: SendingService;
  history: HistoryService;
  clock: Clock;
  /** The account as it is now (a session keeps its login, not its account: the operator may disable it meanwhile). */
  accounts: Pick<AccountsService, 'getAccount'>;
  senders: Pick<SendersService, 'get'>;
  /** Credits per part by receiver prefix (config `creditRates`), for the checks of a part answered on arrival. */
  creditRates: Readonly<Record<string, number>>;
  /**
   * When `actor` deleted (or canceled) the message `messageId` of the account, as the deletion audit
   * records it; null when it records no such deletion (`deletedMessageAt`).
   */
  deletedAt: (accountId: number, actor: string, messageId: number) => Promise<number | null>;
}) {
  const { smsUsers, sending, history, clock, accounts, senders } = deps;

  /**
   * The access last made for each bound access, with the account it was made of: the account read
   * recently is the same object for RECENT_READ_TTL_MS, and so is its access (`currentAccess`, at every
   * submit).
   */
  const lastAccess = new WeakMap<AccountAccess, { account: object; access: AccountAccess }>();

  /**
   * Sends `submit` to `receivers` as `access`, from each of the senders its source_addr may name in turn
   * (`senderCandidates`): the sending service refuses a sender that is not the account's before it
   * writes anything, so the next one is tried.
   */
  async function accept(access: AccountAccess, submit: DecodedMessage, receivers: string[]) {
    const candidates = senderCandidates(submit);
    let refused: unknown;
    for (const sender of candidates.length > 0 ? candidates : [null]) {
      try {
        return await sending.accept(access, 'smpp', sendInput(submit, sender, receivers, clock.now()));
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== 'INVALID_SENDER') throw error;
        refused = error;
      }
    }
    throw refused;
  }

  async function message(access: AccountAccess, messageId: string, failure: SmppStatusName): Promise<Outgoing | SubmitRefusal> {
    if (messageId.startsWith(PART_ID_PREFIX))
      return refusal(
        'ESME_RINVMSGID',
        `"${messageId.slice(0, 64)}" answered a part of a concatenated message: the message's id is the one its last part was answered with`,
      );
    if (!/^\d{1,15}$/.test(messageId)) return refusal(failure, `message_id "${messageId.slice(0, 20)}" is not one of this server's ids`);
    try {
      return await history.get(access, Number(messageId));
    } catch (error) {
      if (error instanceof AppError && error.code === 'MESSAGE_NOT_FOUND')
        return refusal(failure, `no message ${messageId} of this SMS user`);
      throw error;
    }
  }

  /**
   * The checks a part answered on arrival can make for its whole message (`checkPart`,
   * `checkMultiPart`): the account enabled, the sender, and the credits and quota for `total` parts to
   * each of `receivers` (E.164; the sending service checks them all again when the message is whole).
   */
  async function checkWhole(
    access: AccountAccess,
    part: DecodedMessage,
    receivers: readonly string[],
    total: number,
  ): Promise<{ ok: true } | { ok: false; refusal: SubmitRefusal }> {
    const { account } = access;
    const candidates = senderCandidates(part);
    if (candidates.length > 0) {
      let found = false;
      for (const candidate of candidates) {
        try {
          if ((await senders.get(SYSTEM_ACTOR, account.name, candidate)).status === 'enable') found = true;
        } catch (error) {
          if (!(error instanceof AppError) || error.code !== 'SENDER_NOT_FOUND') throw error;
        }
        if (found) break;
      }
      if (!found)
        return {
          ok: false,
          refusal: refusal('ESME_RINVSRCADR', `"${part.sender?.slice(0, 30)}" is not an enabled sender of ${account.name}`),
        };
    }
    // As the sending service debits them: each receiver's parts rounded, then added up.
    const needed = roundCredits(receivers.reduce((sum, receiver) => sum + roundCredits(rateFor(receiver, deps.creditRates) * total), 0));
    const toWhom = receivers.length === 1 ? '' : ` to ${receivers.length} receivers`;
    if (account.credits < needed)
      return {
        ok: false,
        refusal: refusal('ESME_RSUBMITFAIL', `${account.name} has ${account.credits} credits: the ${total} parts${toWhom} need ${needed}`),
      };
    if (access.userLogin !== null) {
      let quota: number | null;
      try {
        quota = (await smsUsers.getRecent(SYSTEM_ACTOR, account.name, access.userLogin)).user.quota;
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        return { ok: false, refusal: refusal('ESME_RSUBMITFAIL', error.message) };
      }
      if (quota !== null && quota < needed)
        return {
          ok: false,
          refusal: refusal('ESME_RSUBMITFAIL', `the SMS user's quota (${quota}) does not cover the ${total} parts${toWhom} (${needed})`),
        };
    }
    return { ok: true };
  }

  /**
   * A submit_multi's destinations for `access`: the receivers to send to (E.164, each once, in their
   * order), and those left out — not one valid phone number (ESME_RINVDSTADR), distribution lists
   * (ESME_RINVDLNAME: Relais keeps none).
   */
  function destinationsOf(
    access: AccountAccess,
    submit: DecodedSubmitMulti,
  ): { receivers: string[]; unsuccessful: UnsuccessfulDestination[] } {
    const unsuccessful: UnsuccessfulDestination[] = [];
    const receivers = new Set<string>();
    for (const d of submit.destinations) {
      if (d.kind === 'list') {
        unsuccessful.push({
          ton: 0,
          npi: 0,
          address: d.name,
          status: 'ESME_RINVDLNAME',
          reason: `"${d.name.slice(0, 30)}" is a distribution list: Relais keeps none, give the numbers`,
        });
        continue;
      }
      const receiver = normalizeReceiver(d.receiver, access.account.defaultCountry);
      if (receiver.ok) receivers.add(receiver.e164);
      else
        unsuccessful.push({
          ton: d.ton,
          npi: d.npi,
          address: d.address,
          status: 'ESME_RINVDSTADR',
          reason: `"${d.receiver.slice(0, 30)}" is not one valid phone number (${receiver.reason})`,
        });
    }
    return { receivers: [...receivers], unsuccessful };
  }

  /** A submit_multi none of whose destinations can be sent to: refused with the first one's status. */
  function noDestination(unsuccessful: UnsuccessfulDestination[]): SubmitRefusal {
    const reasons = unsuccessful.slice(0, 5).map((u) => u.reason);
    if (unsuccessful.length > 5) reasons.push(`${unsuccessful.length - 5} more`);
    return refusal(unsuccessful[0].status, `no destination could be sent to: ${reasons.join('; ')}`);
  }

  return {
    async bind(systemId: string, systemType: string, password: string, ip: string): Promise<BindOutcome> {
      const { account, login } = bindCredentials(systemId, systemType);
      const found = await smsUsers.authenticateFrom(account, login, password, ip);
      if (found.ok) {
        const access = accountAccessFor(found.account, found.user, `user:${found.user.login}`);
        return { ok: true, access, userId: found.user.id, login: found.user.login, stamp: found.stamp };
      }
      if (found.reason === 'IP_NOT_ALLOWED')
        return {
          ok: false,
          refusal: refusal('ESME_RBINDFAIL', `IP address ${ip} is not allowed for this SMS user`),
        };
      return { ok: false, refusal: refusal('ESME_RINVPASWD', 'wrong account, login or password') };
    },

    /**
     * `bound`'s access with its account as it is now (read within RECENT_READ_TTL_MS; a change made by
     * this process applies at once): an account disabled after the bind sends nothing, one enabled
     * again sends.
     */
    async currentAccess(bound: AccountAccess): Promise<{ ok: true; access: AccountAccess } | { ok: false; refusal: SubmitRefusal }> {
      try {
        const account = await accounts.getAccount(SYSTEM_ACTOR, bound.account.name, RECENT);
        const last = lastAccess.get(bound);
        if (last?.account === account) return { ok: true, access: last.access };
        const user = bound.userId === null ? null : { id: bound.userId, login: bound.userLogin ?? '' };
        const access = accountAccessFor(account, user, bound.actor);
        lastAccess.set(bound, { account, access });
        return { ok: true, access };
      } catch (error) {
        if (error instanceof AppError && error.code === 'ACCOUNT_NOT_FOUND')
          return { ok: false, refusal: refusal('ESME_RSUBMITFAIL', `the SMS account ${bound.account.name} no longer exists`) };
        throw error;
      }
    },

    /**
     * What can be checked of one part of a concatenated message before the others come, so that it can
     * be answered on arrival: the account enabled, the receiver, the sender, and the credits and quota
     * for the whole message as its `total` parts announce it (the sending service checks them all again
     * when the message is whole).
     */
    async checkPart(
      access: AccountAccess,
      part: DecodedSubmit,
      total: number,
    ): Promise<{ ok: true } | { ok: false; refusal: SubmitRefusal }> {
      const { account } = access;
      if (account.status !== 'enable')
        return { ok: false, refusal: refusal('ESME_RSUBMITFAIL', `the SMS account ${account.name} is disabled by the operator`) };
      const receiver = normalizeReceiver(part.receiver, account.defaultCountry);
      if (!receiver.ok)
        return {
          ok: false,
          refusal: refusal('ESME_RINVDSTADR', `"${part.receiver.slice(0, 30)}" is not one valid phone number (${receiver.reason})`),
        };
      return checkWhole(access, part, [receiver.e164], total);
    },

    /**
     * `checkPart` for a part of a submit_multi: its destinations read as the whole message's will be (none
     * to send to: refused with the first one's status), the sender, and the credits and quota for `total`
     * parts to every receiver. `unsuccessful`: the destinations the message will leave out.
     */
    async checkMultiPart(
      access: AccountAccess,
      part: DecodedSubmitMulti,
      total: number,
    ): Promise<{ ok: true; unsuccessful: UnsuccessfulDestination[] } | { ok: false; refusal: SubmitRefusal }> {
      const { account } = access;
      if (account.status !== 'enable')
        return { ok: false, refusal: refusal('ESME_RSUBMITFAIL', `the SMS account ${account.name} is disabled by the operator`) };
      const { receivers, unsuccessful } = destinationsOf(access, part);
      if (receivers.length === 0) return { ok: false, refusal: noDestination(unsuccessful) };
      const checked = await checkWhole(access, part, receivers, total);
      return checked.ok ? { ok: true, unsuccessful } : checked;
    },

    /** Whether bound sessions may go on: not once their SMS user is deleted, or its password or allowed addresses changed. */
    sessionsStillAllowed(sessions: readonly { userId: number; stamp: string; ip: string }[]): Promise<boolean[]> {
      return smsUsers.sessionsStillAllowed(sessions);
    },

    /** Sends one whole message (a part, or the parts put together) as `access`; all or nothing. */
    async submit(access: AccountAccess, submit: DecodedSubmit): Promise<{ ok: true; id: string } | { ok: false; refusal: SubmitRefusal }> {
      // One submit_sm, one receiver: a list ("a,b", "a;b", "a b") is refused, not split by the sending service.
      // Digits alone (an optional "+" before them, as most programs write receivers) are one number or
      // none: the sending service reads them, once (INVALID_RECEIVER when they are none).
      let receiver = submit.receiver;
      if (!ONE_NUMBER.test(receiver)) {
        const normalized = normalizeReceiver(receiver, access.account.defaultCountry);
        if (!normalized.ok)
          return {
            ok: false,
            refusal: refusal('ESME_RINVDSTADR', `"${receiver.slice(0, 30)}" is not one valid phone number (${normalized.reason})`),
          };
        receiver = normalized.e164;
      }
      try {
        const report = await accept(access, submit, [receiver]);
        return { ok: true, id: String(report.ids[0]) };
      } catch (error) {
        return { ok: false, refusal: refusalOf(error, `"${submit.receiver.slice(0, 30)}" is not a valid phone number`) };
      }
    },

    /**
     * submit_multi: one job of one message per valid destination, all or nothing (credits, quota, sender)
     * as submit_sm. Destinations that are not one valid phone number, and distribution lists (Relais keeps
     * none), are left out and reported; a number given twice is sent once. None left: refused, with the
     * first destination's status.
     */
    async submitMulti(access: AccountAccess, submit: DecodedSubmitMulti): Promise<MultiOutcome> {
      const { receivers, unsuccessful } = destinationsOf(access, submit);
      if (receivers.length === 0) return { ok: false, refusal: noDestination(unsuccessful), unsuccessful };
      try {
        const report = await accept(access, submit, receivers);
        return { ok: true, id: String(report.ids[0]), unsuccessful };
      } catch (error) {
        return { ok: false, refusal: refusalOf(error), unsuccessful };
      }
    },

    /** query_sm: the state of one of the SMS user's messages. */
    async query(
      access: AccountAccess,
      messageId: string,
    ): Promise<{ ok: true; answer: QueryAnswer } | { ok: false; refusal: SubmitRefusal }> {
      const found = await message(access, messageId, 'ESME_RQUERYFAIL');
      if (!('id' in found)) {
        // Canceled by this SMS user's cancel_sm (or deleted by it otherwise, by id): the history keeps no
        // row, the deletion audit the id. SMPP 3.4 §5.2.28: DELETED, final since then.
        const deletedAt =
          found.status === 'ESME_RQUERYFAIL' && /^\d{1,15}$/.test(messageId)
            ? await deps.deletedAt(access.account.id, access.actor, Number(messageId))
            : null;
        if (deletedAt === null) return { ok: false, refusal: found };
        return { ok: true, answer: { state: MESSAGE_STATE.DELETED, finalAt: deletedAt, errorCode: 0 } };
      }
      const finalAt = found.deliveredAt ?? found.failedAt ?? found.expiredAt ?? found.canceledAt ?? null;
      const code = Number(found.errorCode);
      return {
        ok: true,
        answer: {
          state: STATE_OF[found.status],
          finalAt,
          errorCode: found.status === 'failed' && Number.isInteger(code) && code >= 0 && code <= 255 ? code : 0,
        },
      };
    },

    /**
     * cancel_sm: a message still pending and not being handed to the carrier is canceled (not sent,
     * credits given back, audited); any other is refused, and nothing changes.
     */
    async cancel(access: AccountAccess, messageId: string): Promise<{ ok: true } | { ok: false; refusal: SubmitRefusal }> {
      const found = await message(access, messageId, 'ESME_RCANCELFAIL');
      if (!('id' in found)) return { ok: false, refusal: found };
      const outcome = await history.cancelPending(access, found.id);
      if (outcome === 'canceled') return { ok: true };
      const why = {
        'not-found': `no message ${messageId} of this SMS user`,
        'not-pending': `message ${messageId} is no longer pending`,
        held: `message ${messageId} is being handed to the carrier`,
      }[outcome];
      return { ok: false, refusal: refusal('ESME_RCANCELFAIL', why) };
    },
  };
}

export type SmppService = ReturnType<typeof createSmppService>;
