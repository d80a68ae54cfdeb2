import { AppError } from '../../errors.js';
import type { Sender, SenderStatus, SenderType } from '../accounts/senders.repository.js';
import type { SmsUser } from '../accounts/sms-users.repository.js';
import type { UpdateSmsUserInput } from '../accounts/sms-users.service.js';

/**
 * OVH's `sms.User` and `sms.Sender` (OVH-COMPAT.md §1) made from Relais' SMS users and senders, and
 * OVH's PUT bodies turned into Relais' updates. Where OVH's object holds what Relais does not keep,
 * the view answers the honest empty value, and a PUT may send that value back (a script that reads an
 * object, changes one field and writes it all back works) but not ask for what Relais cannot do.
 */

/** OVH's quota states: `active` (the user may spend at most `quotaLeft` credits) or `inactive` (no quota). */
export const OVH_QUOTA_STATUSES = ['active', 'inactive'] as const;
export type OvhQuotaStatus = (typeof OVH_QUOTA_STATUSES)[number];

/** OVH's media for quota alerts. Relais sends none: `alertThreshold` is always 0 (no alert). */
export const OVH_ALERT_SUPPORTS = ['both', 'mail', 'sms'] as const;

/** What the view answers for quota alerts: none (Relais sends no credit or quota alerts). */
const NO_ALERT = { alertEmail: '', alertNumber: '', alertThreshold: 0, support: 'mail' } as const;

/** OVH's limit on a user's IP restrictions (for http2sms); the native API allows more (sms-users.service.ts). */
export const OVH_MAX_IP_RESTRICTIONS = 5;

/** OVH's `sms.User`. */
export interface OvhSmsUser {
  login: string;
  /** Always "": Relais keeps only a hash of the password, which it never answers. */
  password: string;
  /** The delivery callback URL; "" when none. */
  callBack: string;
  /** Always "": Relais receives no STOP replies. */
  stopCallBack: string;
  ipRestrictions: string[];
  quotaInformations: { quotaLeft: number; quotaStatus: OvhQuotaStatus };
  /** Always "no alert": Relais sends no quota alerts. */
  alertThresholdInformations: { alertEmail: string; alertNumber: string; alertThreshold: number; support: string };
}

/** OVH's `sms.Sender`. */
export interface OvhSender {
  sender: string;
  description: string;
  status: SenderStatus;
  type: SenderType;
  /** The moderator's message: always null, the operator validates senders without one. */
  comment: string | null;
  /** Always `custom`: every sender is one the customer declared. */
  referer: 'custom';
  /** Always null: senders are not validated through a document. */
  validationMedia: string | null;
}

export function ovhSmsUserView(user: SmsUser): OvhSmsUser {
  return {
    login: user.login,
    password: '',
    callBack: user.callbackUrl ?? '',
    stopCallBack: '',
    ipRestrictions: user.ipRestrictions,
    quotaInformations: user.quota === null ? { quotaLeft: 0, quotaStatus: 'inactive' } : { quotaLeft: user.quota, quotaStatus: 'active' },
    alertThresholdInformations: { ...NO_ALERT },
  };
}

export function ovhSenderView(sender: Sender): OvhSender {
  return {
    sender: sender.sender,
    description: sender.description,
    status: sender.status,
    type: sender.type,
    comment: null,
    referer: 'custom',
    validationMedia: null,
  };
}

/** The body of `PUT /sms/{serviceName}/users/{login}` (OVH's `sms.User`, every field optional). */
export interface OvhSmsUserPut {
  login?: string;
  password?: string;
  callBack?: string | null;
  stopCallBack?: string | null;
  ipRestrictions?: string[] | null;
  /** `quotaStatus` is one of OVH_QUOTA_STATUSES (the schema checks it). */
  quotaInformations?: { quotaLeft?: number; quotaStatus?: string };
  alertThresholdInformations?: {
    alertEmail?: string | null;
    alertNumber?: string | null;
    alertThreshold?: number | null;
    support?: string | null;
  };
}

const invalid = (field: string, why: string) => new AppError('VALIDATION_FAILED', `Invalid parameter ${field}: ${why}`);

/**
 * Relais' quota after an OVH `quotaInformations`: null (no quota) when the status is or stays
 * `inactive`, else `quotaLeft`, or the current quota when only the status is given (0 when there was none).
 * A `quotaLeft` given alone while the quota is inactive is not kept: Relais keeps no amount without a quota.
 */
function quotaFromOvh(quota: NonNullable<OvhSmsUserPut['quotaInformations']>, current: number | null): number | null {
  const status = quota.quotaStatus ?? (current === null ? 'inactive' : 'active');
  if (status === 'inactive') return null;
  return quota.quotaLeft ?? current ?? 0;
}

/**
 * Refuses quota alert settings other than what the view answers (no alert): Relais sends no credit or
 * quota alerts, so it would keep none of them. null (and "" for the texts) are taken as the view's value.
 */
function checkNoAlert(alert: OvhSmsUserPut['alertThresholdInformations']): void {
  if (!alert) return;
  const field = (name: string) => `alertThresholdInformations.${name}`;
  const why = 'Relais sends no quota alerts (nor credit alerts), so it keeps no alert settings';
  if (alert.alertThreshold) throw invalid(field('alertThreshold'), `${why}; only 0 (no alert) is accepted`);
  if (alert.alertEmail) throw invalid(field('alertEmail'), `${why}; only "" (no alert email) is accepted`);
  if (alert.alertNumber) throw invalid(field('alertNumber'), `${why}; only "" (no alert number) is accepted`);
  if (alert.support != null && alert.support !== NO_ALERT.support) {
    const known = (OVH_ALERT_SUPPORTS as readonly string[]).includes(alert.support);
    throw invalid(
      field('support'),
      known ? `${why}; only "${NO_ALERT.support}" (what GET answers) is accepted` : `expected one of ${OVH_ALERT_SUPPORTS.join(', ')}`,
    );
  }
}

/**
 * Checks OVH's limit of five IP restrictions a user. A longer list is taken only when it is the user's
 * current one (set in the Manager or the native API, which allow more), so that a script may send back
 * the object it read.
 */
function checkOvhIpRestrictions(list: string[], current: readonly string[]): string[] {
  const unchanged = list.length === current.length && list.every((ip, i) => ip === current[i]);
  if (list.length > OVH_MAX_IP_RESTRICTIONS && !unchanged) {
    throw invalid(
      'ipRestrictions',
      `at most ${OVH_MAX_IP_RESTRICTIONS} IP restrictions a user (got ${list.length}); use a CIDR range (192.0.2.0/24) to cover several addresses`,
    );
  }
  return list;
}

/**
 * The update that an OVH PUT of `current` asks for. An empty password keeps the password (the view
 * answers ""), an empty or null callBack removes the callback. Throws VALIDATION_FAILED naming the
 * field when it asks for what Relais does not do: another login, a STOP callback, a quota alert, more
 * than OVH's five IP restrictions.
 */
export function smsUserUpdateFromOvh(body: OvhSmsUserPut, current: SmsUser): UpdateSmsUserInput {
  if (body.login !== undefined && body.login !== current.login) throw invalid('login', 'the login of a user cannot be changed');
  if (body.stopCallBack) throw invalid('stopCallBack', 'Relais receives no STOP replies, so it calls no STOP callback; leave it empty');
  checkNoAlert(body.alertThresholdInformations);
  const update: UpdateSmsUserInput = {};
  if (body.password) update.password = body.password;
  if (body.callBack !== undefined) update.callbackUrl = body.callBack || null;
  if (body.ipRestrictions !== undefined) update.ipRestrictions = checkOvhIpRestrictions(body.ipRestrictions ?? [], current.ipRestrictions);
  if (body.quotaInformations !== undefined) update.quota = quotaFromOvh(body.quotaInformations, current.quota);
  return update;
}

/** The body of `PUT /sms/{serviceName}/senders/{sender}` (OVH's `sms.Sender`, every field optional). */
export interface OvhSenderPut {
  sender?: string;
  description?: string;
  /** `enable` or `disable` (the schema checks it). */
  status?: string;
  type?: string | null;
  comment?: string | null;
  referer?: string | null;
  validationMedia?: string | null;
}

/** Why each read-only field of the sender object cannot be changed through its PUT. */
const SENDER_READ_ONLY = {
  sender: 'a sender cannot be renamed; add the new one instead',
  type: 'the type follows from the sender (alpha, numeric or shortcode)',
  comment: 'it is a moderator’s message, and Relais has no moderator',
  referer: 'every sender is one the customer declared (custom)',
  validationMedia: 'senders are not validated through a document',
} as const;

/**
 * The update an OVH PUT of the sender `current` asks for: its description and status. The read-only
 * fields are accepted with the value the view answers (null and "" alike), so that a script may send
 * back the object it read; another value is refused, naming the field.
 */
export function senderUpdateFromOvh(body: OvhSenderPut, current: Sender): { description?: string; status?: string } {
  const view = ovhSenderView(current);
  for (const field of Object.keys(SENDER_READ_ONLY) as (keyof typeof SENDER_READ_ONLY)[]) {
    const value = body[field];
    if (value === undefined || (value ?? '') === (view[field] ?? '')) continue;
    throw invalid(field, SENDER_READ_ONLY[field]);
  }
  return { description: body.description, status: body.status };
}

/**
 * OVH's answer to parameters it does not describe, naming them (`a`, `quotaInformations.b`), or null.
 * `allowed` lists the fields, with the fields of nested objects under their parent's name.
 */
export function undescribedParameters(
  body: unknown,
  allowed: Readonly<Record<string, readonly string[] | true>>,
  call: string,
): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(body)) {
    const nested = Object.hasOwn(allowed, name) ? allowed[name] : undefined;
    if (nested === undefined) unknown.push(name);
    else if (nested !== true && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const inner of Object.keys(value)) if (!nested.includes(inner)) unknown.push(`${name}.${inner}`);
    }
  }
  return unknown.length === 0 ? null : `Received not described parameters: (${unknown.join(', ')}) while calling ${call}`;
}
