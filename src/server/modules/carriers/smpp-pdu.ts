import { encodeGsm7Unpacked, encodeUcs2, splitSms } from '../../../shared/sms-encoding.js';
import type { CarrierMessage, Receipt } from './carrier.js';
import smpp from './smpp-package.js';

// Pure SMPP 3.4 helpers of the SMPP carrier: submit_sm fields of a message, command_status names and
// classes, delivery receipts. No sockets here.

const STATUS_NAMES = new Map<number, string>(Object.entries(smpp.errors).map(([name, code]) => [code, name]));

/** The command_status name (`ESME_RINVDSTADR`), or `SMPP_0x00000400` for vendor-specific codes. */
export function statusName(status: number): string {
  return STATUS_NAMES.get(status) ?? `SMPP_0x${status.toString(16).toUpperCase().padStart(8, '0')}`;
}

const STATUS_TEXTS: Record<string, string> = {
  ESME_RINVMSGLEN: 'invalid message length',
  ESME_RINVCMDLEN: 'invalid command length',
  ESME_RINVCMDID: 'invalid command',
  ESME_RINVBNDSTS: 'not bound for this command',
  ESME_RSYSERR: 'SMSC system error',
  ESME_RINVSRCADR: 'invalid source address',
  ESME_RINVDSTADR: 'invalid destination address',
  ESME_RMSGQFUL: 'SMSC message queue full',
  ESME_RINVSERTYP: 'invalid service type',
  ESME_RINVESMCLASS: 'invalid esm_class',
  ESME_RSUBMITFAIL: 'submit failed',
  ESME_RINVSRCTON: 'invalid source TON',
  ESME_RINVSRCNPI: 'invalid source NPI',
  ESME_RINVDSTTON: 'invalid destination TON',
  ESME_RINVDSTNPI: 'invalid destination NPI',
  ESME_RINVREGDLVFLG: 'invalid registered_delivery',
  ESME_RTHROTTLED: 'throttled: too many messages',
  ESME_RINVSCHED: 'invalid scheduled delivery time',
  ESME_RINVEXPIRY: 'invalid validity period',
  ESME_RX_T_APPN: 'temporary error at the receiving application',
  ESME_RX_P_APPN: 'permanent error at the receiving application',
  ESME_RX_R_APPN: 'rejected by the receiving application',
  ESME_RINVTLVVAL: 'invalid optional parameter value',
  ESME_RDELIVERYFAILURE: 'delivery failure',
  ESME_RUNKNOWNERR: 'unknown error',
  ESME_RPROHIBITED: 'prohibited',
  ESME_RINVDCS: 'invalid data coding',
};

/** `ESME_RINVDSTADR (0x0000000B, invalid destination address)`. */
export function describeStatus(status: number): string {
  const name = statusName(status);
  const hex = `0x${status.toString(16).toUpperCase().padStart(8, '0')}`;
  const text = STATUS_TEXTS[name];
  return text ? `${name} (${hex}, ${text})` : `${name} (${hex})`;
}

/**
 * command_status values after which a submit is retried later (`retry: true`) instead of failing
 * the message:
 * - ESME_RTHROTTLED, ESME_RMSGQFUL: the SMSC asks us to slow down; the carrier also pauses sending.
 * - ESME_RSYSERR: an SMSC-side fault, usually transient (a message refused so for good ends `expired`
 *   when its validity period is over).
 * - ESME_RX_T_APPN: "temporary application error" by definition.
 * - ESME_RINVBNDSTS: the SMSC does not see us bound; the carrier rebinds.
 * Every other status, vendor-specific ones included, fails the message.
 */
export const TEMPORARY_STATUSES: ReadonlySet<string> = new Set([
  'ESME_RTHROTTLED',
  'ESME_RMSGQFUL',
  'ESME_RSYSERR',
  'ESME_RX_T_APPN',
  'ESME_RINVBNDSTS',
]);

/** Statuses that mean "too fast": the carrier pauses all sending for a while. */
export const THROTTLING_STATUSES: ReadonlySet<string> = new Set(['ESME_RTHROTTLED', 'ESME_RMSGQFUL']);

export function isTemporaryStatus(status: number): boolean {
  return TEMPORARY_STATUSES.has(statusName(status));
}

/** TON/NPI and digits of an address. */
export interface SmppAddress {
  addr: string;
  ton: number;
  npi: number;
}

/**
 * Source address of a sender: alphanumeric → TON 5 (alphanumeric) NPI 0; `+` and digits, or 9+
 * digits → TON 1 (international) NPI 1 (ISDN), without the `+`; up to 8 digits (a short code) →
 * TON 0 (unknown) NPI 1, left to the SMSC. `override` (URL options source_ton/source_npi) wins.
 */
export function sourceAddress(sender: string, override: { ton?: number; npi?: number } = {}): SmppAddress {
  let auto: SmppAddress;
  if (/^\+?\d+$/.test(sender)) {
    const digits = sender.replace(/^\+/, '');
    auto = sender.startsWith('+') || digits.length > 8 ? { addr: digits, ton: 1, npi: 1 } : { addr: digits, ton: 0, npi: 1 };
  } else {
    auto = { addr: sender, ton: 5, npi: 0 };
  }
  return { addr: auto.addr, ton: override.ton ?? auto.ton, npi: override.npi ?? auto.npi };
}

const MAX_RELATIVE_VALIDITY_S = 30 * 86_400;

/**
 * SMPP relative validity period `YYMMDDhhmmss000R` for `ms` from now (rounded up to the second,
 * capped at 30 days). Relative rather than absolute so a skewed SMSC clock does not shorten it.
 */
export function formatRelativeValidity(ms: number): string {
  let s = Math.min(MAX_RELATIVE_VALIDITY_S, Math.max(1, Math.ceil(ms / 1000)));
  const days = Math.floor(s / 86_400);
  s -= days * 86_400;
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  s -= minutes * 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return `0000${two(days)}${two(hours)}${two(minutes)}${two(s)}000R`;
}

/** SMPP data_coding of a message: 0 (SMSC default alphabet, GSM) or 8 (UCS-2); with a message class, the GSM 03.38 general group with class bits (0x10|class, 0x18|class). */
export function dataCodingOf(encoding: CarrierMessage['encoding'], messageClass: CarrierMessage['messageClass']): number {
  const base = encoding === 'ucs2' ? 0x08 : 0x00;
  return messageClass === null ? base : 0x10 | base | messageClass;
}

export interface SubmitFieldsOptions {
  serviceType: string;
  sourceTon?: number;
  sourceNpi?: number;
  destTon: number;
  destNpi: number;
  /** Now (epoch ms), for the relative validity period. */
  now: number;
  /** Concatenation reference (0–255) used when the message has several parts. */
  ref: number;
}

/** Fields of a submit_sm, as the `smpp` package takes them. */
export type SubmitFields = Record<string, string | number | Buffer>;

/**
 * The submit_sm fields of each part of a message. Several parts carry an 8-bit-reference
 * concatenation UDH (05 00 03 ref total seq) with esm_class 0x40. Text in GSM as unpacked septets
 * (data_coding 0) or UTF-16BE (data_coding 8). Throws a RangeError when a `gsm7` text is not GSM,
 * or when `validUntil` has already passed.
 */
export function submitFields(message: CarrierMessage, o: SubmitFieldsOptions): SubmitFields[] {
  const parts = splitSms(message.text, message.encoding);
  const source = sourceAddress(message.sender, { ton: o.sourceTon, npi: o.sourceNpi });
  let validity = '';
  if (message.validUntil !== null) {
    if (message.validUntil <= o.now) throw new RangeError('validity period over before submission');
    validity = formatRelativeValidity(message.validUntil - o.now);
  }
  const total = parts.length;
  return parts.map((text, i) => {
    const body = Buffer.from(message.encoding === 'ucs2' ? encodeUcs2(text) : encodeGsm7Unpacked(text));
    const udh = total > 1 ? Buffer.from([0x05, 0x00, 0x03, o.ref & 0xff, total, i + 1]) : null;
    return {
      service_type: o.serviceType,
      source_addr_ton: source.ton,
      source_addr_npi: source.npi,
      source_addr: source.addr,
      dest_addr_ton: o.destTon,
      dest_addr_npi: o.destNpi,
      destination_addr: message.receiver.replace(/^\+/, ''),
      esm_class: udh ? 0x40 : 0x00,
      protocol_id: 0,
      priority_flag: 0,
      schedule_delivery_time: '',
      validity_period: validity,
      registered_delivery: message.requestReceipt ? 1 : 0,
      replace_if_present_flag: 0,
      data_coding: dataCodingOf(message.encoding, message.messageClass),
      sm_default_msg_id: 0,
      short_message: udh ? Buffer.concat([udh, body]) : body,
    };
  });
}

const SUBMIT_SM = 0x00000004;
/** submit_sm's mandatory fields in wire order (SMPP 3.4 §4.4.1): C-octet strings, 1-octet integers, and the message. */
const SUBMIT_SM_FIELDS: readonly [string, 'cstring' | 'int8' | 'message'][] = [
  ['service_type', 'cstring'],
  ['source_addr_ton', 'int8'],
  ['source_addr_npi', 'int8'],
  ['source_addr', 'cstring'],
  ['dest_addr_ton', 'int8'],
  ['dest_addr_npi', 'int8'],
  ['destination_addr', 'cstring'],
  ['esm_class', 'int8'],
  ['protocol_id', 'int8'],
  ['priority_flag', 'int8'],
  ['schedule_delivery_time', 'cstring'],
  ['validity_period', 'cstring'],
  ['registered_delivery', 'int8'],
  ['replace_if_present_flag', 'int8'],
  ['data_coding', 'int8'],
  ['sm_default_msg_id', 'int8'],
  ['short_message', 'message'],
];

/**
 * The bytes of a submit_sm with these fields (as `submitFields` makes them) and sequence number 0 (the
 * sender writes its own at offset 12): what the `smpp` package would write, without its generic
 * per-field encoding (the dispatcher's hottest path). Throws a RangeError for a field that does not fit.
 */
export function encodeSubmitSm(fields: SubmitFields): Buffer {
  const bytesOf = (value: string | number | Buffer | undefined): Buffer =>
    Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : '', 'ascii');
  let length = 16;
  const values = SUBMIT_SM_FIELDS.map(([name, type]) => {
    const value = fields[name];
    if (type === 'int8') {
      const n = typeof value === 'number' ? value : 0;
      if (!Number.isInteger(n) || n < 0 || n > 0xff) throw new RangeError(`submit_sm ${name} must be 0 to 255, got ${n}`);
      length += 1;
      return n;
    }
    const bytes = bytesOf(value);
    if (type === 'message' && bytes.length > 0xff) throw new RangeError(`submit_sm short_message is ${bytes.length} bytes, at most 255`);
    length += bytes.length + 1;
    return bytes;
  });
  const out = Buffer.allocUnsafe(length);
  out.writeUInt32BE(length, 0);
  out.writeUInt32BE(SUBMIT_SM, 4);
  out.writeUInt32BE(0, 8);
  out.writeUInt32BE(0, 12);
  let at = 16;
  SUBMIT_SM_FIELDS.forEach(([, type], i) => {
    const value = values[i];
    if (typeof value === 'number') {
      out[at++] = value;
    } else if (type === 'cstring') {
      at += value.copy(out, at);
      out[at++] = 0;
    } else {
      out[at++] = value.length;
      at += value.copy(out, at);
    }
  });
  return out;
}

const STAT_STATUS: Record<string, Receipt['status']> = {
  DELIVRD: 'delivered',
  DELIVERED: 'delivered',
  UNDELIV: 'failed',
  UNDELIVERABLE: 'failed',
  REJECTD: 'failed',
  REJECTED: 'failed',
  DELETED: 'failed',
  UNKNOWN: 'failed',
  SKIPPED: 'failed',
  EXPIRED: 'expired',
  ENROUTE: 'sent',
  ACCEPTD: 'sent',
  ACCEPTED: 'sent',
  SCHEDULED: 'sent',
};

/** SMPP message_state TLV values (5.3.2.35) as the stat words of receipt texts. */
const MESSAGE_STATE_WORDS: Record<number, string> = {
  0: 'SCHEDULED',
  1: 'ENROUTE',
  2: 'DELIVRD',
  3: 'EXPIRED',
  4: 'DELETED',
  5: 'UNDELIV',
  6: 'ACCEPTD',
  7: 'UNKNOWN',
  8: 'REJECTD',
  9: 'SKIPPED',
};

/** The fields of a deliver_sm / data_sm that receipts use (as the `smpp` package decodes them). */
export interface DeliverSmLike {
  esm_class?: number;
  data_coding?: number | null;
  short_message?: unknown;
  message_payload?: unknown;
  receipted_message_id?: string;
  message_state?: number;
  network_error_code?: Buffer;
}

/**
 * The text of a deliver_sm as sent. The `smpp` package decodes data_coding 0/1 with the GSM table;
 * receipts are ASCII in practice, so GSM-decoded text is encoded back to its bytes and read as Latin-1.
 */
export function deliverSmText(pdu: DeliverSmLike): string {
  // The package always sets short_message (empty when the text is in the message_payload TLV).
  return fieldText(pdu.short_message, pdu.data_coding) || fieldText(pdu.message_payload, pdu.data_coding);
}

function fieldText(field: unknown, dataCoding: number | null | undefined): string {
  const message = field && typeof field === 'object' && 'message' in field ? (field as { message: unknown }).message : field;
  if (Buffer.isBuffer(message)) return message.toString('latin1');
  if (typeof message !== 'string') return '';
  const alphabet = (dataCoding ?? 0) & 0x0f;
  if (alphabet === 0 || alphabet === 1) return smpp.gsmCoder.encode(message, 0).toString('latin1');
  return message;
}

/** A message id as an SMSC gave it (submit_sm_resp, receipted_message_id): no control characters, trimmed. */
export function carrierIdOf(value: unknown): string {
  return typeof value === 'string' ? value.replace(CONTROL_CHARACTERS, '').trim() : '';
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/g;

/** Whether a deliver_sm is a receipt (esm_class message type: SMSC delivery receipt, or intermediate notification). */
export function isReceipt(pdu: DeliverSmLike): boolean {
  return ((pdu.esm_class ?? 0) & 0x24) !== 0;
}

/** The fields of a receipt's text that `parseReceipt` reads (compiled once). */
const RECEIPT_FIELDS = {
  id: /(?:^|\s)id:(\S*)/i,
  stat: /(?:^|\s)stat:(\S*)/i,
  err: /(?:^|\s)err:(\S*)/i,
} as const;

export type ParsedReceipt = { ok: true; receipt: Receipt } | { ok: false; reason: string };

/**
 * A receipt from a deliver_sm whose esm_class says it is one. The id and state come from the
 * `receipted_message_id` / `message_state` TLVs when present, else from the text
 * (`id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:000 text:…`).
 * DELIVRD → delivered; UNDELIV, REJECTD, DELETED, UNKNOWN, SKIPPED → failed (errorCode = `err:`,
 * errorText = the stat word); EXPIRED → expired; ENROUTE, ACCEPTD, SCHEDULED → sent.
 */
export function parseReceipt(pdu: DeliverSmLike, at: number): ParsedReceipt {
  // Control characters (a NUL cannot be stored by PostgreSQL) separate fields like spaces.
  const raw = deliverSmText(pdu).replace(CONTROL_CHARACTERS, ' ');
  const field = (name: keyof typeof RECEIPT_FIELDS) => RECEIPT_FIELDS[name].exec(raw)?.[1] ?? null;
  const tlvId = carrierIdOf(pdu.receipted_message_id);
  // The package reads message_id (and the TLV) as ASCII, dropping each byte's top bit: the text's id too.
  const textId = field('id')?.replace(/[\x80-\xff]/g, (c) => String.fromCharCode(c.charCodeAt(0) & 0x7f)) ?? null;
  const carrierMessageId = tlvId || textId;
  if (!carrierMessageId) return { ok: false, reason: 'no receipted_message_id nor id: in the receipt' };
  const tlvState = typeof pdu.message_state === 'number' ? MESSAGE_STATE_WORDS[pdu.message_state] : undefined;
  const stat = (tlvState ?? field('stat') ?? '').toUpperCase();
  const status = STAT_STATUS[stat];
  if (!status) return { ok: false, reason: `unknown receipt state "${stat}"` };
  let err = field('err');
  if (err === null && Buffer.isBuffer(pdu.network_error_code) && pdu.network_error_code.length >= 3) {
    err = String(pdu.network_error_code.readUInt16BE(1));
  }
  const hasError = err !== null && !/^0+$/.test(err);
  const errorCode = status === 'failed' ? err : status === 'expired' && hasError ? err : null;
  const errorText = status === 'failed' || status === 'expired' ? stat : null;
  return { ok: true, receipt: { carrierMessageId, status, at, errorCode, errorText, raw } };
}
