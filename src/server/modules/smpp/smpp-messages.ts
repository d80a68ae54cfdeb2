import type { OutgoingStatus } from '../../../shared/status.js';

/**
 * What Relais' SMPP server reads from a customer's submit_sm or submit_multi and writes in the receipts
 * it owes: pure functions over PDU fields as the `smpp` package decodes them (no socket, no database).
 */

/** The fields of a submit_sm this server reads (names as in SMPP 3.4 and the `smpp` package). */
export interface SubmitSmLike {
  source_addr_ton?: number;
  source_addr?: string;
  dest_addr_ton?: number;
  destination_addr?: string;
  esm_class?: number;
  registered_delivery?: number;
  data_coding?: number | null;
  /** Dates when given (the package decodes absolute and relative times), '' when not. */
  schedule_delivery_time?: unknown;
  validity_period?: unknown;
  /** `{ message, udh? }` as decoded by the package (a Buffer when it could not decode the alphabet). */
  short_message?: unknown;
  message_payload?: unknown;
  sar_msg_ref_num?: number;
  sar_total_segments?: number;
  sar_segment_seqnum?: number;
}

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

/** The fields of a submit_multi this server reads: submit_sm's, with `dest_address` for the receivers. */
export interface SubmitMultiLike extends Omit<SubmitSmLike, 'dest_addr_ton' | 'destination_addr'> {
  /** As the package decodes it: `{ dest_addr_ton, dest_addr_npi, destination_addr }` (dest_flag 1) or `{ dl_name }` (any other flag). */
  dest_address?: unknown;
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
  'ESME_RTHROTTLED',
  'ESME_RINVSCHED',
  'ESME_RINVEXPIRY',
  'ESME_RX_T_APPN',
  'ESME_RQUERYFAIL',
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
 * data_coding values accepted, with the alphabet the `smpp` package decodes them with (so the text it
 * gives is right) and the message class they carry: 0 SMSC default (GSM 03.38), 1 IA5 (read as GSM, as
 * the package does), 3 Latin-1, 8 UCS-2, and the GSM 03.38 class groups for flash (class 0) and
 * phone-display (class 1) messages. Binary data and SIM/toolkit classes are refused: Relais keeps text.
 */
const CODINGS: ReadonlyMap<number, { coding: '7bit' | '8bit'; class: DecodedSubmit['class'] }> = new Map([
  [0x00, { coding: '7bit', class: null }],
  [0x01, { coding: '7bit', class: null }],
  [0x03, { coding: '7bit', class: null }],
  [0x08, { coding: '8bit', class: null }],
  [0x10, { coding: '7bit', class: 'flash' }],
  [0x11, { coding: '7bit', class: 'phoneDisplay' }],
  [0x18, { coding: '8bit', class: 'flash' }],
  [0xf0, { coding: '7bit', class: 'flash' }],
  [0xf1, { coding: '7bit', class: 'phoneDisplay' }],
]);

const refuse = (status: SmppStatusName, reason: string): { ok: false; refusal: SubmitRefusal } => ({
  ok: false,
  refusal: { status, reason },
});

function concatFromUdh(udh: unknown): ConcatInfo | null | 'bad' {
  if (!Array.isArray(udh)) return null;
  for (const ie of udh) {
    if (!Buffer.isBuffer(ie) || ie.length < 2) return 'bad';
    if (ie[0] === IEI_CONCAT_8 && ie.length === 5) return { ref: ie[2], total: ie[3], seq: ie[4] };
    if (ie[0] === IEI_CONCAT_16 && ie.length === 6) return { ref: ie.readUInt16BE(2), total: ie[4], seq: ie[5] };
  }
  return null;
}

function timeOf(value: unknown): number | null | 'bad' {
  if (value === undefined || value === null || value === '') return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'bad' : value.getTime();
  return 'bad';
}

/** A receiver as given: TON 1 (international) digits get their `+`; others are read as the sending service reads any. */
function receiverOf(ton: number | undefined, address: string): string {
  return ton === 1 && /^\d+$/.test(address) ? `+${address}` : address;
}

/**
 * Reads a submit_sm as of `now`. The text comes from short_message, or message_payload when
 * short_message is empty (SMPP 3.4 §5.3.2.32); a concatenation UDH (8- or 16-bit reference) or the
 * sar_* TLVs make it one part of a longer message. Addresses: a TON 1 (international) receiver gets
 * its `+`; other receivers are read as the sending service reads any (national forms in the account's
 * country, `00…`).
 */
export function decodeSubmit(pdu: SubmitSmLike, now: number): DecodeResult {
  const decoded = decodeMessage(pdu, now);
  if (!decoded.ok) return decoded;
  const destination = (pdu.destination_addr ?? '').trim();
  if (destination === '') return refuse('ESME_RINVDSTADR', 'destination_addr is empty');
  return { ok: true, submit: { ...decoded.message, receiver: receiverOf(pdu.dest_addr_ton, destination) } };
}

/**
 * Reads a submit_multi as of `now`: its message as submit_sm's, and its 1 to 255 destinations in their
 * order, SME addresses (read as submit_sm's destination_addr) and distribution list names alike. An
 * invalid address is not refused here: submit_multi reports it among the unsuccessful destinations.
 */
export function decodeSubmitMulti(pdu: SubmitMultiLike, now: number): DecodeMultiResult {
  const entries = Array.isArray(pdu.dest_address) ? (pdu.dest_address as unknown[]) : [];
  if (entries.length === 0) return refuse('ESME_RINVNUMDESTS', 'number_of_dests is 0: no destination');
  if (entries.length > MAX_MULTI_DESTINATIONS)
    return refuse('ESME_RINVNUMDESTS', `${entries.length} destinations: at most ${MAX_MULTI_DESTINATIONS}`);
  const decoded = decodeMessage(pdu, now);
  if (!decoded.ok) return decoded;
  const destinations = entries.map((entry): MultiDestination => {
    const e = (entry ?? {}) as { dest_addr_ton?: unknown; dest_addr_npi?: unknown; destination_addr?: unknown; dl_name?: unknown };
    if (typeof e.dl_name === 'string') return { kind: 'list', name: e.dl_name };
    const ton = typeof e.dest_addr_ton === 'number' ? e.dest_addr_ton : 0;
    const npi = typeof e.dest_addr_npi === 'number' ? e.dest_addr_npi : 0;
    const address = typeof e.destination_addr === 'string' ? e.destination_addr : '';
    return { kind: 'address', ton, npi, address, receiver: receiverOf(ton, address.trim()) };
  });
  return { ok: true, submit: { ...decoded.message, destinations } };
}

/** The message of a submit_sm or submit_multi as of `now`: everything but its receivers. */
function decodeMessage(
  pdu: SubmitSmLike | SubmitMultiLike,
  now: number,
): { ok: true; message: DecodedMessage } | { ok: false; refusal: SubmitRefusal } {
  const esm = pdu.esm_class ?? 0;
  if ((esm & ESM_TYPE_MASK) !== 0) return refuse('ESME_RINVESMCLASS', `esm_class 0x${esm.toString(16)} is not a message to send`);
  const dataCoding = pdu.data_coding ?? 0;
  const coding = CODINGS.get(dataCoding);
  if (!coding)
    return refuse(
      'ESME_RINVDCS',
      `data_coding 0x${dataCoding.toString(16)} is not supported (text only: 0, 1, 3, 8, or GSM/UCS-2 with class 0 or 1)`,
    );

  const fromShort = pdu.short_message as { message?: unknown; udh?: unknown } | undefined;
  const fromPayload = pdu.message_payload as { message?: unknown; udh?: unknown } | undefined;
  const shortText = fromShort?.message;
  const hasShort = (typeof shortText === 'string' || Buffer.isBuffer(shortText)) && shortText.length > 0;
  const hasPayload = fromPayload !== undefined && fromPayload !== null;
  if (hasShort && hasPayload) return refuse('ESME_RINVMSGLEN', 'short_message and message_payload are both given: use one');
  const body = hasShort ? fromShort : fromPayload;
  const message = body?.message;
  if (typeof message !== 'string') {
    if (Buffer.isBuffer(message) && message.length > 0) return refuse('ESME_RINVDCS', 'the text could not be decoded with its data_coding');
    return refuse('ESME_RINVMSGLEN', 'the message is empty');
  }

  let concat: ConcatInfo | null = null;
  if (esm & ESM_UDHI) {
    const fromUdh = concatFromUdh(body?.udh);
    if (fromUdh === 'bad') return refuse('ESME_RINVESMCLASS', 'the user data header is malformed');
    concat = fromUdh;
  } else if (pdu.sar_msg_ref_num !== undefined || pdu.sar_total_segments !== undefined || pdu.sar_segment_seqnum !== undefined) {
    if (pdu.sar_msg_ref_num === undefined || pdu.sar_total_segments === undefined || pdu.sar_segment_seqnum === undefined)
      return refuse('ESME_RMISSINGTLV', 'sar_msg_ref_num, sar_total_segments and sar_segment_seqnum go together');
    concat = { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum };
  }
  if (concat && (concat.total < 1 || concat.seq < 1 || concat.seq > concat.total))
    return refuse('ESME_RINVTLVVAL', `part ${concat.seq} of ${concat.total} is not a part of a concatenated message`);
  if (concat && concat.total === 1) concat = null;
  if (message.length === 0 && !concat) return refuse('ESME_RINVMSGLEN', 'the message is empty');

  const source = (pdu.source_addr ?? '').trim();

  const scheduled = timeOf(pdu.schedule_delivery_time);
  if (scheduled === 'bad') return refuse('ESME_RINVSCHED', 'schedule_delivery_time is not a valid SMPP time');
  if (scheduled !== null && scheduled > now + MAX_SCHEDULE_AHEAD_MS)
    return refuse('ESME_RINVSCHED', 'schedule_delivery_time is more than a year ahead');
  const deferredUntil = scheduled !== null && scheduled > now ? scheduled : null;
  const validUntil = timeOf(pdu.validity_period);
  if (validUntil === 'bad') return refuse('ESME_RINVEXPIRY', 'validity_period is not a valid SMPP time');
  if (validUntil !== null && validUntil <= (deferredUntil ?? now))
    return refuse('ESME_RINVEXPIRY', 'validity_period ends before the message could be sent');

  const wish = (pdu.registered_delivery ?? 0) & 0x03;
  return {
    ok: true,
    message: {
      text: message,
      concat,
      sender: source === '' ? null : source,
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
