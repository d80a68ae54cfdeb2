import type { OutgoingStatus } from '../../../shared/status.js';
import type { SubmitFields } from './smpp-submit-reader.js';
import { decodeText, type TextAlphabet } from './smpp-text.js';

/**
 * What Relais' SMPP server reads from a customer's submit_sm, data_sm or submit_multi and writes in the
 * receipts it owes: pure functions over the PDU's fields as `readSubmitPdu` reads them from its bytes
 * (no socket, no database).
 */

/** Which receipts the program asked for (registered_delivery bits 0–1). */
export type ReceiptWish = 'final' | 'failure';

/** One part of a concatenated message: parts with the same key make one message. */
export interface ConcatInfo {
  ref: number;
  total: number;
  seq: number;
}

/** What submit_sm and submit_multi share: one message, or one part of one, without its receivers. */
export interface DecodedMessage {
  text: string;
  concat: ConcatInfo | null;
  /** The sender as given; null when empty (the reply-capable number: `senderForResponse`). */
  sender: string | null;
  /** source_addr_ton: a TON 1 (international) numeric sender may be held by the account with its `+` (`senderCandidates`). */
  senderTon: number;
  coding: '7bit' | '8bit';
  class: 'flash' | 'phoneDisplay' | null;
  /** Epoch ms; null: as soon as possible. */
  deferredUntil: number | null;
  /** Epoch ms the message may wait until; null: the account's default validity. */
  validUntil: number | null;
  receipt: ReceiptWish | null;
}

/** A submit_sm read: one message (or part) to one receiver. */
export interface DecodedSubmit extends DecodedMessage {
  receiver: string;
}

/** One entry of a submit_multi's dest_address (SMPP 3.4 §5.2.25). */
export type MultiDestination =
  /** An SME address; `receiver` as submit_sm reads destination_addr (TON 1 gets its `+`). */
  | { kind: 'address'; ton: number; npi: number; address: string; receiver: string }
  /** A distribution list name: lists are kept by the SMSC, and Relais keeps none. */
  | { kind: 'list'; name: string };

/** A submit_multi read: one message (or part) to its destinations, in their order. */
export interface DecodedSubmitMulti extends DecodedMessage {
  destinations: MultiDestination[];
}

/** Destinations of one submit_multi at most (number_of_dests is one octet). */
export const MAX_MULTI_DESTINATIONS = 255;

/** The command_status values this server answers, by their SMPP names. */
export const SMPP_STATUSES = [
  'ESME_ROK',
  'ESME_RINVMSGLEN',
  'ESME_RINVCMDLEN',
  'ESME_RINVCMDID',
  'ESME_RINVBNDSTS',
  'ESME_RALYBND',
  'ESME_RSYSERR',
  'ESME_RINVSRCADR',
  'ESME_RINVDSTADR',
  'ESME_RINVMSGID',
  'ESME_RBINDFAIL',
  'ESME_RINVPASWD',
  'ESME_RCANCELFAIL',
  'ESME_RMSGQFUL',
  'ESME_RINVESMCLASS',
  'ESME_RSUBMITFAIL',
  'ESME_RINVREPFLAG',
  'ESME_RTHROTTLED',
  'ESME_RINVSCHED',
  'ESME_RINVEXPIRY',
  'ESME_RX_T_APPN',
  'ESME_RQUERYFAIL',
  'ESME_RINVTLVSTREAM',
  'ESME_RINVTLVLEN',
  'ESME_RMISSINGTLV',
  'ESME_RINVTLVVAL',
  'ESME_RINVDCS',
  'ESME_RINVNUMDESTS',
  'ESME_RINVDLNAME',
] as const;
export type SmppStatusName = (typeof SMPP_STATUSES)[number];

/** A refusal: the command_status name to answer and a sentence for people (logs, additional_status_info_text). */
export interface SubmitRefusal {
  status: SmppStatusName;
  reason: string;
}

export type DecodeResult = { ok: true; submit: DecodedSubmit } | { ok: false; refusal: SubmitRefusal };
export type DecodeMultiResult = { ok: true; submit: DecodedSubmitMulti } | { ok: false; refusal: SubmitRefusal };

/** UDH information elements: concatenated message, 8-bit and 16-bit reference (3GPP TS 23.040 §9.2.3.24.1, .8). */
const IEI_CONCAT_8 = 0x00;
const IEI_CONCAT_16 = 0x08;
const ESM_UDHI = 0x40;
/** esm_class bits 2–5: the message type; only the default (0) is a message to send. */
const ESM_TYPE_MASK = 0x3c;
/** How far ahead a schedule may be (the native API's `differedPeriod` limit, one year). */
const MAX_SCHEDULE_AHEAD_MS = 525_600 * 60_000;

/**
 * data_coding values accepted, with the alphabet their octets are read in and the message class they
 * carry: 0 SMSC default (GSM 03.38), 1 IA5 (ASCII; see `decodeText` for GSM septets labelled 1), 3
 * Latin-1, 8 UCS-2, and the GSM 03.38 class groups for flash (class 0) and phone-display (class 1)
 * messages. Binary data, other alphabets and SIM/toolkit classes are refused: Relais keeps text.
 */
const CODINGS: ReadonlyMap<number, { alphabet: TextAlphabet; coding: '7bit' | '8bit'; class: DecodedSubmit['class'] }> = new Map([
  [0x00, { alphabet: 'gsm', coding: '7bit', class: null }],
  [0x01, { alphabet: 'ia5', coding: '7bit', class: null }],
  [0x03, { alphabet: 'latin1', coding: '7bit', class: null }],
  [0x08, { alphabet: 'ucs2', coding: '8bit', class: null }],
  [0x10, { alphabet: 'gsm', coding: '7bit', class: 'flash' }],
  [0x11, { alphabet: 'gsm', coding: '7bit', class: 'phoneDisplay' }],
  [0x18, { alphabet: 'ucs2', coding: '8bit', class: 'flash' }],
  [0xf0, { alphabet: 'gsm', coding: '7bit', class: 'flash' }],
  [0xf1, { alphabet: 'gsm', coding: '7bit', class: 'phoneDisplay' }],
]);

const refuse = (status: SmppStatusName, reason: string): { ok: false; refusal: SubmitRefusal } => ({
  ok: false,
  refusal: { status, reason },
});

/** The information elements of a user data header (its length octet excluded), or 'bad' when one runs past its end. */
function udhElements(udh: Buffer): Buffer[] | 'bad' {
  const elements: Buffer[] = [];
  let at = 0;
  while (at < udh.length) {
    if (at + 2 > udh.length || at + 2 + udh[at + 1] > udh.length) return 'bad';
    elements.push(udh.subarray(at, at + 2 + udh[at + 1]));
    at += 2 + udh[at + 1];
  }
  return elements;
}

function concatFromUdh(elements: Buffer[]): ConcatInfo | null {
  for (const ie of elements) {
    if (ie[0] === IEI_CONCAT_8 && ie.length === 5) return { ref: ie[2], total: ie[3], seq: ie[4] };
    if (ie[0] === IEI_CONCAT_16 && ie.length === 6) return { ref: ie.readUInt16BE(2), total: ie[4], seq: ie[5] };
  }
  return null;
}

const QUARTER_HOUR_MS = 15 * 60_000;

/**
 * An SMPP time (SMPP 3.4 §7.1.1) as of `now`: '' none (null); absolute `YYMMDDhhmmsstnn±` (tenths of a
 * second, then the offset from UTC in quarter-hours, at most 48) on a date that exists; relative
 * `YYMMDDhhmmss000R` (years, months, days… from now). Anything else is 'bad'.
 */
export function smppTimeOf(value: string, now: number): number | null | 'bad' {
  if (value === '') return null;
  const absolute = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d)(\d\d)([+-])$/.exec(value);
  if (absolute) {
    const [year, month, day, hour, minute, second, tenth, quarters] = absolute.slice(1, 9).map(Number);
    if (quarters > 48) return 'bad';
    const local = new Date(Date.UTC(2000 + year, month - 1, day, hour, minute, second, tenth * 100));
    const readBack = [
      local.getUTCFullYear() - 2000,
      local.getUTCMonth() + 1,
      local.getUTCDate(),
      local.getUTCHours(),
      local.getUTCMinutes(),
    ];
    if (readBack.join() !== [year, month, day, hour, minute].join() || second > 59) return 'bad';
    return local.getTime() - (absolute[9] === '+' ? 1 : -1) * quarters * QUARTER_HOUR_MS;
  }
  const relative = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)000R$/.exec(value);
  if (relative) {
    const [years, months, days, hours, minutes, seconds] = relative.slice(1, 7).map(Number);
    const at = new Date(now);
    at.setUTCFullYear(at.getUTCFullYear() + years, at.getUTCMonth() + months, at.getUTCDate() + days);
    at.setUTCHours(at.getUTCHours() + hours, at.getUTCMinutes() + minutes, at.getUTCSeconds() + seconds);
    return at.getTime();
  }
  return 'bad';
}

/** A receiver as given: TON 1 (international) digits get their `+`; others are read as the sending service reads any. */
function receiverOf(ton: number | undefined, address: string): string {
  return ton === 1 && DIGITS.test(address) ? `+${address}` : address;
}

const DIGITS = /^\d+$/;

/**
 * The senders a message's source_addr may name, in the order tried: a TON 1 (international) number
 * given without its `+` (as SMPP writes them) is the account's `+digits` sender, or else the digits as
 * given; any other sender is itself. Empty for none (the reply-capable number).
 */
export function senderCandidates(message: Pick<DecodedMessage, 'sender' | 'senderTon'>): string[] {
  if (message.sender === null) return [];
  if (message.senderTon === 1 && /^\d+$/.test(message.sender)) return [`+${message.sender}`, message.sender];
  return [message.sender];
}

/**
 * Reads a submit_sm or data_sm as of `now`. The text comes from short_message, or message_payload when
 * short_message is empty (SMPP 3.4 §5.3.2.32); a concatenation UDH (8- or 16-bit reference) or the
 * sar_* TLVs make it one part of a longer message. Addresses: a TON 1 (international) receiver gets
 * its `+`; other receivers are read as the sending service reads any (national forms in the account's
 * country, `00…`).
 */
export function decodeSubmit(fields: SubmitFields, now: number): DecodeResult {
  const decoded = decodeMessage(fields, now);
  if (!decoded.ok) return decoded;
  const destination = (fields.destination_addr ?? '').trim();
  if (destination === '') return refuse('ESME_RINVDSTADR', 'destination_addr is empty');
  // Added to the message read, not spread into a new object (this runs for every submit).
  return { ok: true, submit: Object.assign(decoded.message, { receiver: receiverOf(fields.dest_addr_ton, destination) }) };
}

/**
 * Reads a submit_multi as of `now`: its message as submit_sm's, and its 1 to 255 destinations in their
 * order, SME addresses (read as submit_sm's destination_addr) and distribution list names alike. An
 * invalid address is not refused here: submit_multi reports it among the unsuccessful destinations.
 */
export function decodeSubmitMulti(fields: SubmitFields, now: number): DecodeMultiResult {
  const entries = fields.dest_address ?? [];
  if (entries.length === 0) return refuse('ESME_RINVNUMDESTS', 'number_of_dests is 0: no destination');
  if (entries.length > MAX_MULTI_DESTINATIONS)
    return refuse('ESME_RINVNUMDESTS', `${entries.length} destinations: at most ${MAX_MULTI_DESTINATIONS}`);
  const decoded = decodeMessage(fields, now);
  if (!decoded.ok) return decoded;
  const destinations = entries.map((e): MultiDestination => {
    if ('dl_name' in e) return { kind: 'list', name: e.dl_name };
    const { dest_addr_ton: ton, dest_addr_npi: npi, destination_addr: address } = e;
    return { kind: 'address', ton, npi, address, receiver: receiverOf(ton, address.trim()) };
  });
  return { ok: true, submit: Object.assign(decoded.message, { destinations }) };
}

/** The message of a submit_sm, data_sm or submit_multi as of `now`: everything but its receivers. */
function decodeMessage(fields: SubmitFields, now: number): { ok: true; message: DecodedMessage } | { ok: false; refusal: SubmitRefusal } {
  const esm = fields.esm_class;
  if ((esm & ESM_TYPE_MASK) !== 0) return refuse('ESME_RINVESMCLASS', `esm_class 0x${esm.toString(16)} is not a message to send`);
  const dataCoding = fields.data_coding;
  const coding = CODINGS.get(dataCoding);
  if (!coding)
    return refuse(
      'ESME_RINVDCS',
      `data_coding 0x${dataCoding.toString(16)} is not supported (text only: 0, 1, 3, 8, or GSM/UCS-2 with class 0 or 1)`,
    );
  // Relais keeps no message to replace: a program asking for it is told so, rather than sending both.
  if (fields.replace_if_present_flag !== 0)
    return refuse(
      'ESME_RINVREPFLAG',
      `replace_if_present_flag ${fields.replace_if_present_flag}: Relais replaces no message (cancel_sm it, then submit the new one)`,
    );

  const hasShort = fields.short_message.length > 0;
  if (hasShort && fields.message_payload !== undefined)
    return refuse('ESME_RINVMSGLEN', 'short_message and message_payload are both given: use one');
  let body = hasShort ? fields.short_message : (fields.message_payload ?? Buffer.alloc(0));

  let concat: ConcatInfo | null = null;
  if (esm & ESM_UDHI && body.length > 0) {
    const headerEnd = 1 + body[0];
    const elements = headerEnd <= body.length ? udhElements(body.subarray(1, headerEnd)) : 'bad';
    if (elements === 'bad') return refuse('ESME_RINVESMCLASS', 'the user data header is malformed');
    concat = concatFromUdh(elements);
    body = body.subarray(headerEnd);
  } else if (fields.sar_msg_ref_num !== undefined || fields.sar_total_segments !== undefined || fields.sar_segment_seqnum !== undefined) {
    if (fields.sar_msg_ref_num === undefined || fields.sar_total_segments === undefined || fields.sar_segment_seqnum === undefined)
      return refuse('ESME_RMISSINGTLV', 'sar_msg_ref_num, sar_total_segments and sar_segment_seqnum go together');
    concat = { ref: fields.sar_msg_ref_num, total: fields.sar_total_segments, seq: fields.sar_segment_seqnum };
  }
  if (concat && (concat.total < 1 || concat.seq < 1 || concat.seq > concat.total))
    return refuse('ESME_RINVTLVVAL', `part ${concat.seq} of ${concat.total} is not a part of a concatenated message`);
  if (concat && concat.total === 1) concat = null;
  if (body.length === 0 && !concat) return refuse('ESME_RINVMSGLEN', 'the message is empty');
  const text = decodeText(body, coding.alphabet);
  if (!text.ok) return refuse(text.status, text.reason);

  const source = fields.source_addr.trim();

  const scheduled = smppTimeOf(fields.schedule_delivery_time, now);
  if (scheduled === 'bad') return refuse('ESME_RINVSCHED', 'schedule_delivery_time is not a valid SMPP time');
  if (scheduled !== null && scheduled > now + MAX_SCHEDULE_AHEAD_MS)
    return refuse('ESME_RINVSCHED', 'schedule_delivery_time is more than a year ahead');
  const deferredUntil = scheduled !== null && scheduled > now ? scheduled : null;
  const validUntil = smppTimeOf(fields.validity_period, now);
  if (validUntil === 'bad') return refuse('ESME_RINVEXPIRY', 'validity_period is not a valid SMPP time');
  if (validUntil !== null && validUntil <= (deferredUntil ?? now))
    return refuse('ESME_RINVEXPIRY', 'validity_period ends before the message could be sent');

  const wish = fields.registered_delivery & 0x03;
  return {
    ok: true,
    message: {
      text: text.text,
      concat,
      sender: source === '' ? null : source,
      senderTon: fields.source_addr_ton,
      coding: coding.coding,
      class: coding.class,
      deferredUntil,
      validUntil,
      receipt: wish === 1 ? 'final' : wish === 2 ? 'failure' : null,
    },
  };
}

/** Whether a message reaching `status` owes a receipt to a program that asked for `wish`. */
export function owesReceipt(wish: ReceiptWish, status: OutgoingStatus): boolean {
  if (status === 'delivered') return wish === 'final';
  return status === 'failed' || status === 'expired';
}

/** What a receipt says (the smpp_receipts row's params), as of the status change that queued it. */
export interface SmppReceipt {
  /** The message id the submit_sm_resp answered. */
  id: string;
  /** The message's receiver (E.164) and sender, as the program submitted them. */
  receiver: string;
  sender: string;
  status: 'delivered' | 'failed' | 'expired';
  submittedAt: number;
  doneAt: number;
  /** The carrier's error code, if any. */
  errorCode: string | null;
  /** The first 20 characters of the text ('' when not stored). */
  text: string;
}

/** SMPP message_state (§5.3.2.35) and the receipt text's stat word of a final status. */
const STATES: Readonly<Record<SmppReceipt['status'], { state: number; stat: string }>> = {
  delivered: { state: 2, stat: 'DELIVRD' },
  expired: { state: 3, stat: 'EXPIRED' },
  failed: { state: 5, stat: 'UNDELIV' },
};

/** `YYMMDDhhmm` in UTC, as receipt texts give their dates. */
function receiptDate(ms: number): string {
  return new Date(ms).toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d).*$/, '$1$2$3$4$5');
}

/** A receipt's `err:` field: three characters, the carrier's numeric code when it has one. */
function errField(receipt: SmppReceipt): string {
  if (receipt.status === 'delivered') return '000';
  const code = receipt.errorCode ?? '';
  return /^\d{1,3}$/.test(code) ? code.padStart(3, '0') : '000';
}

/**
 * The deliver_sm of a receipt (SMPP 3.4 Appendix B text, plus the receipted_message_id and
 * message_state TLVs that programs read first): from the receiver to the sender, esm_class 0x04.
 */
export function receiptDeliverSm(receipt: SmppReceipt): Record<string, string | number> {
  const { state, stat } = STATES[receipt.status];
  const text =
    `id:${receipt.id} sub:001 dlvrd:${receipt.status === 'delivered' ? '001' : '000'} ` +
    `submit date:${receiptDate(receipt.submittedAt)} done date:${receiptDate(receipt.doneAt)} ` +
    `stat:${stat} err:${errField(receipt)} text:${receipt.text.slice(0, 20)}`;
  const international = receipt.receiver.startsWith('+');
  const numericSender = /^\+?\d+$/.test(receipt.sender);
  return {
    source_addr_ton: international ? 1 : 0,
    source_addr_npi: 1,
    source_addr: international ? receipt.receiver.slice(1) : receipt.receiver,
    dest_addr_ton: numericSender ? (receipt.sender.startsWith('+') ? 1 : 0) : 5,
    dest_addr_npi: numericSender ? 1 : 0,
    destination_addr: receipt.sender.replace(/^\+/, ''),
    esm_class: 0x04,
    data_coding: 0,
    short_message: text,
    receipted_message_id: receipt.id,
    message_state: state,
  };
}
