import { createHmac, timingSafeEqual } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { getTimeFormatter } from '../../../shared/account-time.js';
import type { Outgoing } from '../../../shared/outgoing.js';
import { deliveryReceiptOf, PTT_CODES, pttOf } from '../../../shared/ovh-codes.js';
import { OUTGOING_STATUSES, type OutgoingStatus } from '../../../shared/status.js';
import { AppError } from '../../errors.js';
import type { Account } from '../accounts/accounts.repository.js';
import { parseDateParam, parseHistoryFilter, type RawFilter } from '../history/history-query.js';
import type { OutgoingIdRow } from '../history/outgoing.repository.js';
import { normalizeReceiver } from '../sending/phone.js';
import type { SendInput, SendReport } from '../sending/sending.service.js';

/**
 * The OVH-compatible API's views of Relais objects (OVH-COMPAT.md §1): OVH's object shapes, OVH's list
 * filters as history filters, OVH's job body as a send request, and the signed ids of `/document`.
 * Pure: no database, no clock (the time is passed in).
 */

// ---------------------------------------------------------------------------------------------------
// Objects

/** OVH's `sms.Outgoing`: one message of the history. */
export interface OvhOutgoing {
  id: number;
  /** ISO 8601 with the account timezone's offset. */
  creationDatetime: string;
  /** `""` when a reply-capable short number was used (`senderForResponse`). */
  sender: string;
  receiver: string;
  /** `""` once redacted, or when the account stores no texts. */
  message: string;
  messageLength: number;
  numberOfSms: number;
  credits: number;
  deliveryReceipt: number;
  ptt: number;
  /** Minutes the sending was deferred by. */
  differedDelivery: number;
  tag: string;
  tariffCode: string;
  sentAt: string | null;
  deliveredAt: string | null;
  /** Relais has no batches (OVH's `/batches`) nor message UUIDs: always null. */
  batchID: null;
  messageID: null;
}

/** OVH's `sms.Job`: a message still waiting to be sent. */
export type OvhJob = Pick<
  OvhOutgoing,
  | 'id'
  | 'creationDatetime'
  | 'sender'
  | 'receiver'
  | 'message'
  | 'messageLength'
  | 'numberOfSms'
  | 'credits'
  | 'deliveryReceipt'
  | 'ptt'
  | 'differedDelivery'
>;

/** OVH's `sms.Account`, with what Relais has (no automatic recredit, templates nor reply handling). */
export interface OvhAccount {
  name: string;
  description: string;
  status: string;
  creditsLeft: number;
  /** Always 0: a Relais quota limits what an SMS user may spend of the account's credits, it holds none aside. */
  creditsHoldByQuota: number;
  userQuantityWithQuota: number;
  /** The account's callback URL (for messages without an SMS user's own), or null. */
  callBack: string | null;
  /** Relais handles no STOP replies: null. */
  stopCallBack: null;
}

/** Minutes between a message's creation and the time it was deferred to (0: sent at once). */
export function differedDeliveryOf(o: Pick<Outgoing, 'createdAt' | 'deferredUntil'>): number {
  return o.deferredUntil === null ? 0 : Math.max(0, Math.round((o.deferredUntil - o.createdAt) / 60_000));
}

/**
 * `<country>-<credits a part>`: the receiver's country (ISO 3166 alpha-2 from its number; `ZZ` when it
 * cannot be told, e.g. a masked number of a shared calling code) and what one SMS part cost, e.g. `FR-1`.
 * OVH's codes (`FR-2`) name its price grid; Relais' say what was charged.
 */
export function tariffCodeOf(o: Pick<Outgoing, 'receiver' | 'credits' | 'parts'>): string {
  const country = parsePhoneNumberFromString(o.receiver.replace(/X/g, '0'))?.country ?? 'ZZ';
  const perPart = o.parts > 0 ? o.credits / o.parts : o.credits;
  return `${country}-${Number(perPart.toFixed(6))}`;
}

/** The message as OVH shows it: the text sent (STOP mention included), `""` when it is not kept. */
function textOf(o: Pick<Outgoing, 'message'>): { message: string; messageLength: number } {
  const message = o.message ?? '';
  return { message, messageLength: [...message].length };
}

/** `o` as OVH's `sms.Outgoing`, times in `timeZone` (the account's). */
export function toOvhOutgoing(o: Outgoing, timeZone: string): OvhOutgoing {
  const fmt = getTimeFormatter(timeZone);
  return {
    id: o.id,
    creationDatetime: fmt.iso(o.createdAt),
    sender: o.sender,
    receiver: o.receiver,
    ...textOf(o),
    numberOfSms: o.parts,
    credits: o.credits,
    deliveryReceipt: deliveryReceiptOf(o),
    ptt: pttOf(o),
    differedDelivery: differedDeliveryOf(o),
    tag: o.tag,
    tariffCode: tariffCodeOf(o),
    sentAt: o.sentAt === null ? null : fmt.iso(o.sentAt),
    deliveredAt: o.deliveredAt === null ? null : fmt.iso(o.deliveredAt),
    batchID: null,
    messageID: null,
  };
}

/** A pending `o` as OVH's `sms.Job`: the fields of its `sms.Outgoing` that a job has. */
export function toOvhJob(o: Outgoing, timeZone: string): OvhJob {
  const { id, creationDatetime, sender, receiver, message, messageLength, numberOfSms, credits, deliveryReceipt, ptt, differedDelivery } =
    toOvhOutgoing(o, timeZone);
  return { id, creationDatetime, sender, receiver, message, messageLength, numberOfSms, credits, deliveryReceipt, ptt, differedDelivery };
}

/** `account` as OVH's `sms.Account`; `users` are its SMS users (those with a quota are counted). */
export function toOvhAccount(account: Account, users: readonly { quota: number | null }[]): OvhAccount {
  return {
    name: account.name,
    description: account.description,
    status: account.status,
    creditsLeft: account.credits,
    creditsHoldByQuota: 0,
    userQuantityWithQuota: users.filter((u) => u.quota !== null).length,
    callBack: account.callbackUrl,
    stopCallBack: null,
  };
}

/** OVH's `sms.SmsSendingReport` (with the job's tag, as OVH answers it). */
export function toOvhSendingReport(report: SendReport) {
  return {
    ids: report.ids,
    validReceivers: report.validReceivers,
    invalidReceivers: report.invalidReceivers,
    totalCreditsRemoved: report.totalCreditsRemoved,
    tag: report.tag,
  };
}

// ---------------------------------------------------------------------------------------------------
// Bodies

/** Why each field of the account object cannot be changed through `PUT /sms/{serviceName}`. */
const ACCOUNT_READ_ONLY: Readonly<Record<Exclude<keyof OvhAccount, 'description' | 'callBack'>, string>> = {
  name: 'an SMS account keeps its name',
  status: 'an SMS account is enabled or disabled by the operator',
  creditsLeft: 'credits are given by the operator (relais account credit)',
  creditsHoldByQuota: 'Relais holds no credits aside for quotas',
  userQuantityWithQuota: 'it counts the SMS users with a quota (set on /sms/{serviceName}/users/{login})',
  stopCallBack: 'Relais handles no STOP replies',
};

/**
 * Read-only fields that change on their own (a message sent, a quota set): a script sending back the
 * object it read a moment ago has a stale value, so any value is ignored, as OVH ignores read-only ones.
 */
const ACCOUNT_COUNTERS: ReadonlySet<string> = new Set(['creditsLeft', 'creditsHoldByQuota', 'userQuantityWithQuota']);

/** Whether a value sent back equals the account's (OVH's account object holds only primitives). */
function sameValue(a: unknown, b: unknown): boolean {
  const blank = (v: unknown) => v === null || v === undefined || v === '';
  if (blank(a) && blank(b)) return true;
  return a === b;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The change a `PUT /sms/{serviceName}` body asks for: its description and its callback URL (`callBack`,
 * empty or null for none). The other fields of the account
 * object are accepted only with the value they have (a script may send back the whole object it read),
 * its counters (`ACCOUNT_COUNTERS`) with any value; another value, or a field the object does not have,
 * is refused with the reason, and nothing changes.
 */
export function accountPatchOf(body: unknown, current: OvhAccount): { description?: string; callbackUrl?: string | null } {
  if (!isPlainObject(body))
    throw new AppError('VALIDATION_FAILED', 'The body must be a JSON object with the fields to change (description, callBack)');
  const patch: { description?: string; callbackUrl?: string | null } = {};
  for (const [field, value] of Object.entries(body)) {
    if (field === 'description') {
      if (typeof value !== 'string') throw new AppError('VALIDATION_FAILED', 'Invalid parameter description: must be a string');
      patch.description = value;
    } else if (field === 'callBack') {
      if (value !== null && typeof value !== 'string')
        throw new AppError('VALIDATION_FAILED', 'Invalid parameter callBack: must be a URL, or empty for none');
      // Sent back unchanged, it is no change (a URL the server would refuse now stays as it is).
      if (!sameValue(value, current.callBack)) patch.callbackUrl = value === null || value === '' ? null : value;
    } else if (Object.hasOwn(ACCOUNT_READ_ONLY, field)) {
      if (!ACCOUNT_COUNTERS.has(field) && !sameValue(value, current[field as keyof OvhAccount])) {
        throw new AppError(
          'VALIDATION_FAILED',
          `${field} cannot be changed: ${ACCOUNT_READ_ONLY[field as keyof typeof ACCOUNT_READ_ONLY]}`,
        );
      }
    } else {
      throw new AppError(
        'VALIDATION_FAILED',
        `Unknown field "${field}": a Relais SMS account has no such setting (only description and callBack can be changed)`,
      );
    }
  }
  return patch;
}

/** The fields of OVH's `POST …/jobs` body, as its schema types them (`charset` is UTF-8 and nothing else). */
export interface OvhJobBody {
  message: string;
  receivers?: string[];
  sender?: string;
  senderForResponse?: boolean;
  noStopClause?: boolean;
  tag?: string;
  differedPeriod?: number;
  validityPeriod?: number;
  priority?: 'high' | 'medium' | 'low' | 'veryLow';
  coding?: '7bit' | '8bit';
  charset?: 'UTF-8';
  class?: 'flash' | 'phoneDisplay' | 'sim' | 'toolkit';
}

const JOB_FIELDS: ReadonlySet<string> = new Set([
  'message',
  'receivers',
  'sender',
  'senderForResponse',
  'noStopClause',
  'tag',
  'differedPeriod',
  'validityPeriod',
  'priority',
  'coding',
  'charset',
  'class',
]);

/** Fields of OVH's job body that Relais does not do, and what to do instead. */
const UNSUPPORTED_JOB_FIELDS: Readonly<Record<string, string>> = {
  receiversDocumentUrl: 'Relais does not fetch receivers from a document: list the numbers in receivers',
  receiversSlotId: 'Relais keeps no receivers lists: list the numbers in receivers',
};

/**
 * The send request of an OVH job body (OVH's defaults: sent now, valid 2880 minutes, priority high,
 * 7-bit unless the text needs Unicode, the STOP mention appended). Unknown fields are refused.
 */
export function sendInputOf(body: OvhJobBody): SendInput {
  for (const field of Object.keys(body)) {
    if (Object.hasOwn(UNSUPPORTED_JOB_FIELDS, field))
      throw new AppError('VALIDATION_FAILED', `${field} is not supported: ${UNSUPPORTED_JOB_FIELDS[field]}`);
    if (!JOB_FIELDS.has(field)) {
      throw new AppError('VALIDATION_FAILED', `Unknown field "${field}" (a job takes ${[...JOB_FIELDS].join(', ')})`);
    }
  }
  if (body.receivers === undefined) throw new AppError('INVALID_RECEIVER', 'receivers is missing: list the numbers to send to');
  const { charset: _charset, ...input } = body;
  return { ...input, receivers: body.receivers };
}

// ---------------------------------------------------------------------------------------------------
// List filters

/** The filters of `GET /sms/{serviceName}/outgoing` (literal dotted names). */
export const OUTGOING_FILTERS = [
  'creationDatetime.from',
  'creationDatetime.to',
  'sender',
  'receiver',
  'tag',
  'ptt',
  'deliveryReceipt',
  'differedDelivery',
  'batchID',
  'messageID',
] as const;

/** The filters of `GET /sms/{serviceName}/users/{login}/outgoing`. */
export const USER_OUTGOING_FILTERS = ['deliveryReceipt', 'differedDelivery', 'ptt', 'receiver', 'sender', 'tag'] as const;

/** An OVH list filter as the history reads it. */
export interface OvhListFilter {
  /** The history filter (history-query.ts' parameters). */
  raw: RawFilter;
  /** A test of each row for what no history filter says (a failed message's ptt, differedDelivery); null: none. */
  keep: ((row: OutgoingIdRow) => boolean) | null;
  /** True when nothing can match (a batchID or messageID: Relais has neither): nothing to read. */
  none: boolean;
}

/** OVH's jobs (`GET …/jobs`): the messages still pending, newest first. */
export const PENDING_JOBS: OvhListFilter = { raw: { status: 'pending' }, keep: null, none: false };

const ANY_ROW = { errorCode: null, errorText: null } as const;

/** The statuses whose messages have each `deliveryReceipt` (derived from `deliveryReceiptOf`: exact). */
function statusesWithReceipt(receipt: number): OutgoingStatus[] {
  return OUTGOING_STATUSES.filter((status) => deliveryReceiptOf({ status }) === receipt);
}

/** The ptt codes a failed message may have (those `pttOf` gives back when the carrier reported them). */
const FAILED_PTTS: ReadonlySet<number> = new Set(
  PTT_CODES.filter((code) => pttOf({ status: 'failed', errorCode: String(code), errorText: null }) === code),
);

/** The statuses whose messages may have `ptt`; a failed one must still be checked row by row. */
function statusesWithPtt(ptt: number): OutgoingStatus[] {
  return OUTGOING_STATUSES.filter((status) => (status === 'failed' ? FAILED_PTTS.has(ptt) : pttOf({ status, ...ANY_ROW }) === ptt));
}

/** One value of a query parameter (a repeated one is refused); undefined when absent or empty. */
function single(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    if (value.length !== 1) throw new AppError('INVALID_FILTER', `${name} must be given once`);
    return single(name, value[0]);
  }
  if (typeof value !== 'string') throw new AppError('INVALID_FILTER', `${name} must be a string`);
  return value === '' ? undefined : value;
}

function wholeNumber(name: string, value: string, meaning: string): number {
  if (!/^\d{1,9}$/.test(value.trim()))
    throw new AppError('INVALID_FILTER', `${name} must be a whole number (${meaning}), got "${value.slice(0, 40)}"`);
  return Number(value.trim());
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An ISO 8601 date or datetime of a query string. A `+` left unencoded in a URL arrives as a space
 * (`…T10:00:00 02:00`): it is read as the `+` it was.
 */
function datetimeParam(name: string, value: string, timeZone: string, end: boolean): { text: string; ms: number } {
  const text = value.trim().replace(/^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?) (\d{2}:?\d{2})$/, '$1+$2');
  try {
    return { text, ms: parseDateParam(name, text, timeZone, end) };
  } catch {
    throw new AppError(
      'INVALID_FILTER',
      `${name} must be an ISO 8601 date or datetime such as 2024-05-01 or 2024-05-01T10:30:00+02:00, got "${value.slice(0, 40)}"`,
    );
  }
}

/**
 * A sender or receiver of a query string: ` 33612345678` is `+33612345678` whose `+` was left unencoded
 * (no sender or number starts with a space).
 */
function plusOf(value: string | undefined): string | undefined {
  return value !== undefined && /^ [1-9]\d{0,14}$/.test(value) ? `+${value.slice(1)}` : value;
}

/** `creationDatetime.from` and `.to` (inclusive, read in `timeZone` when they have no offset). */
function dateRange(
  query: Record<string, unknown>,
  timeZone: string,
): { from?: { text: string; ms: number }; to?: { text: string; ms: number } } {
  const fromText = single('creationDatetime.from', query['creationDatetime.from']);
  const toText = single('creationDatetime.to', query['creationDatetime.to']);
  const from = fromText === undefined ? undefined : datetimeParam('creationDatetime.from', fromText, timeZone, false);
  const to = toText === undefined ? undefined : datetimeParam('creationDatetime.to', toText, timeZone, true);
  if (from && to && from.ms > to.ms) throw new AppError('INVALID_FILTER', 'creationDatetime.from must not be after creationDatetime.to');
  return { from, to };
}

/** Refuses a query parameter that `allowed` does not name (a misspelt filter must not list everything). */
export function checkParams(query: Record<string, unknown>, allowed: readonly string[]): void {
  for (const name of Object.keys(query)) {
    if (!allowed.includes(name)) {
      throw new AppError(
        'VALIDATION_FAILED',
        allowed.length
          ? `Unknown parameter "${name}" (this call takes ${allowed.join(', ')})`
          : `Unknown parameter "${name}" (this call takes none)`,
      );
    }
  }
}

/**
 * OVH's outgoing filters (`allowed` of them) as a history filter: equality, but `creationDatetime.from`
 * / `.to` (a range). `deliveryReceipt` is a set of statuses (exact); so is `ptt`, except for failed
 * messages, whose ptt comes from the carrier's error and is tested row by row (`keep`), as is
 * `differedDelivery`. A receiver may be written as OVH accepts it (`0033…`, national with the account's
 * `defaultCountry`). A bad value is INVALID_FILTER, an unknown parameter VALIDATION_FAILED.
 */
export function ovhOutgoingFilter(
  query: Record<string, unknown>,
  options: { allowed: readonly string[]; timeZone: string; defaultCountry: string },
): OvhListFilter {
  checkParams(query, options.allowed);
  const raw: RawFilter = {};
  const keeps: ((row: OutgoingIdRow) => boolean)[] = [];
  let none = false;

  const { from, to } = dateRange(query, options.timeZone);
  if (from) raw.from = from.text;
  if (to) raw.to = to.text;

  const sender = plusOf(single('sender', query.sender));
  if (sender !== undefined) raw.sender = sender;
  const tag = single('tag', query.tag);
  if (tag !== undefined) raw.tag = tag;

  const receiver = plusOf(single('receiver', query.receiver));
  if (receiver !== undefined) {
    const normalised = normalizeReceiver(receiver, options.defaultCountry);
    if (normalised.ok) raw.receiver = normalised.e164;
    else if (/^\+\d{1,15}$/.test(receiver.trim())) raw.receiver = receiver.trim();
    else throw new AppError('INVALID_FILTER', `receiver must be a phone number such as +33612345678, got "${receiver.slice(0, 40)}"`);
  }

  let statuses: OutgoingStatus[] | undefined;
  const narrow = (to: OutgoingStatus[]) => {
    statuses = statuses === undefined ? to : statuses.filter((s) => to.includes(s));
  };
  const receipt = single('deliveryReceipt', query.deliveryReceipt);
  if (receipt !== undefined) {
    narrow(
      statusesWithReceipt(
        wholeNumber('deliveryReceipt', receipt, '0 pending, 1 delivered, 2 failed, 4 waiting, 8 buffered, 16 error not billed'),
      ),
    );
  }
  const pttText = single('ptt', query.ptt);
  let ptt: number | undefined;
  if (pttText !== undefined) {
    ptt = wholeNumber('ptt', pttText, 'a carrier code such as 0 no error or 254 pending');
    narrow(statusesWithPtt(ptt));
  }
  if (statuses !== undefined) {
    if (statuses.length === 0) none = true;
    else if (statuses.length < OUTGOING_STATUSES.length) raw.status = statuses.join(',');
    if (ptt !== undefined && statuses.includes('failed')) {
      const wanted = ptt;
      keeps.push((row) => row.status !== 'failed' || pttOf(row) === wanted);
    }
  }

  const differed = single('differedDelivery', query.differedDelivery);
  if (differed !== undefined) {
    const minutes = wholeNumber('differedDelivery', differed, 'minutes');
    keeps.push((row) => differedDeliveryOf(row) === minutes);
  }

  for (const name of ['batchID', 'messageID'] as const) {
    const value = single(name, query[name]);
    if (value === undefined) continue;
    if (!UUID.test(value.trim())) throw new AppError('INVALID_FILTER', `${name} must be a UUID, got "${value.slice(0, 40)}"`);
    none = true; // Relais has no batches nor message UUIDs: no message has one.
  }

  const keep = keeps.length === 0 ? null : keeps.length === 1 ? keeps[0] : (row: OutgoingIdRow) => keeps.every((k) => k(row));
  return { raw, keep, none };
}

// ---------------------------------------------------------------------------------------------------
// Documents (`GET /sms/{serviceName}/document`, `GET /me/document/{id}`)

/** How long a document (its id and its download URL) can be used. */
export const DOCUMENT_TTL_MS = 3_600_000;

/** The parameters of `GET /sms/{serviceName}/document`. */
export const DOCUMENT_PARAMS = ['wayType', 'creationDatetime.from', 'creationDatetime.to', 'tag'] as const;

/**
 * What a document is: the account's outgoing history between two instants (ms, inclusive), maybe of one
 * tag, as the consumer key that asked for it may read it. Its id carries this, signed.
 */
export interface DocumentClaims {
  account: string;
  customerId: number;
  credentialId: number;
  applicationId: number;
  from: number | null;
  to: number;
  tag: string | null;
  createdAt: number;
}

/**
 * The history a `/document` query asks for, as of `now`: its end is at most the end of the second of
 * `now` (the history's filters count in seconds), so that the document does not grow with the messages
 * accepted after it was asked for; one starting after that is empty (`documentIsEmpty`). What the
 * download's history filter would refuse is refused here, so that no id is given that cannot be opened.
 */
export function documentRangeOf(
  query: Record<string, unknown>,
  timeZone: string,
  now: number,
): Pick<DocumentClaims, 'from' | 'to' | 'tag'> {
  checkParams(query, DOCUMENT_PARAMS);
  const wayType = single('wayType', query.wayType);
  if (wayType === undefined) throw new AppError('VALIDATION_FAILED', 'Invalid parameter wayType: it is required (outgoing)');
  if (wayType === 'incoming') throw new AppError('VALIDATION_FAILED', 'Relais keeps no received SMS: wayType must be outgoing');
  if (wayType !== 'outgoing')
    throw new AppError('VALIDATION_FAILED', `Invalid parameter wayType: must be outgoing or incoming, got "${wayType.slice(0, 40)}"`);
  const { from, to } = dateRange(query, timeZone);
  // A second's last ms (as an inclusive end to the second is), so that it reads back as itself.
  const asOf = Math.floor(now / 1000) * 1000 + 999;
  const end = to === undefined ? asOf : Math.min(to.ms, asOf);
  const range = { from: from?.ms ?? null, to: end, tag: single('tag', query.tag) ?? null };
  try {
    parseHistoryFilter(documentFilterOf(range) ?? { tag: range.tag }, timeZone);
  } catch (error) {
    if (error instanceof AppError) throw new AppError(error.code, historyWordsToOvh(error.message));
    throw error;
  }
  return range;
}

/** A history filter's message with OVH's names of a document's parameters (`from` is `creationDatetime.from`). */
function historyWordsToOvh(message: string): string {
  return message.replace(/^(from|to)\b/, 'creationDatetime.$1').replace(/\bafter to$/, 'after creationDatetime.to');
}

/** Whether a document's range starts after its end, the moment it was asked for: it holds no message. */
export function documentIsEmpty(claims: Pick<DocumentClaims, 'from' | 'to'>): boolean {
  return claims.from !== null && claims.from > claims.to;
}

/**
 * The history filter of a document (its instants written so that `parseHistoryFilter` reads them back
 * exactly); null when it is empty (`documentIsEmpty`): there is nothing to read.
 */
export function documentFilterOf(claims: Pick<DocumentClaims, 'from' | 'to' | 'tag'>): RawFilter | null {
  if (documentIsEmpty(claims)) return null;
  const raw: RawFilter = { to: new Date(claims.to).toISOString() };
  if (claims.from !== null) raw.from = new Date(claims.from).toISOString();
  if (claims.tag !== null) raw.tag = claims.tag;
  return raw;
}

function mac(secret: string, purpose: string, text: string): string {
  return createHmac('sha256', secret).update(`relais-ovh-${purpose}:${text}`).digest().subarray(0, 16).toString('base64url');
}

function macMatches(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A document's id: its claims and their MAC (HMAC-SHA256 with the server secret), base64url. */
export function documentIdOf(claims: DocumentClaims, secret: string): string {
  const c = claims;
  const payload = Buffer.from(
    JSON.stringify([1, c.account, c.customerId, c.credentialId, c.applicationId, c.from, c.to, c.tag, c.createdAt]),
  ).toString('base64url');
  return `${payload}.${mac(secret, 'document', payload)}`;
}

/** The claims of a document id made here with `secret` and not expired at `now`; null otherwise. */
export function readDocumentId(id: string, secret: string, now: number): DocumentClaims | null {
  const m = /^([A-Za-z0-9_-]{1,4000})\.([A-Za-z0-9_-]{22})$/.exec(id);
  if (!m || !macMatches(mac(secret, 'document', m[1]), m[2])) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 9 || parsed[0] !== 1) return null;
  const [, account, customerId, credentialId, applicationId, from, to, tag, createdAt] = parsed as unknown[];
  const claims = { account, customerId, credentialId, applicationId, from, to, tag, createdAt } as DocumentClaims;
  if (typeof claims.account !== 'string' || typeof claims.createdAt !== 'number' || typeof claims.to !== 'number') return null;
  if (now >= claims.createdAt + DOCUMENT_TTL_MS) return null;
  return claims;
}

/** The key of a document's download URL: a second MAC, so that a document id seen in a log does not open it. */
export function documentKeyOf(id: string, secret: string): string {
  return mac(secret, 'document-download', id);
}

export function documentKeyMatches(id: string, key: string, secret: string): boolean {
  return macMatches(documentKeyOf(id, secret), key);
}

/** OVH's `nichandle.document.Document` of a document; `size` in bytes, `getUrl` its download URL. */
export function toOvhDocument(input: { id: string; claims: DocumentClaims; getUrl: string; size: number; timeZone: string }) {
  const fmt = getTimeFormatter(input.timeZone);
  const expires = fmt.iso(input.claims.createdAt + DOCUMENT_TTL_MS);
  return {
    id: input.id,
    name: documentNameOf(input.claims, input.timeZone),
    getUrl: input.getUrl,
    size: input.size,
    creationDate: fmt.iso(input.claims.createdAt),
    expirationDate: expires,
    /** `expirationDate` again, under the name some scripts read. */
    expiration: expires,
    tags: [] as { key: string; value: string }[],
  };
}

/** `sms-ab12345-1-outgoing-20240501103000.csv` (the time it was asked for, in the account's timezone). */
export function documentNameOf(claims: Pick<DocumentClaims, 'account' | 'createdAt'>, timeZone: string): string {
  return `${claims.account}-outgoing-${getTimeFormatter(timeZone).compact(claims.createdAt)}.csv`;
}
