import type { SubmitRefusal } from './smpp-messages.js';

/**
 * A customer's submit_sm, data_sm or submit_multi read from its bytes (SMPP 3.4 §4.4.1, §4.5.1, §4.7.1),
 * strictly: every mandatory field present, `sm_length` octets of short_message exactly, then TLVs that
 * end exactly where command_length says. The `smpp` package reads these PDUs leniently (sm_length
 * ignored, the rest of the PDU taken as TLVs whatever it holds, the text and times decoded as it sees
 * fit): the server reads them here instead, and decodes the text and times itself (`decodeSubmit`).
 */

/** One entry of submit_multi's dest_address: an SME address (dest_flag 1) or a distribution list name (any other). */
export type MultiEntry = { dest_addr_ton: number; dest_addr_npi: number; destination_addr: string } | { dl_name: string };

/** The fields of a submit this server reads, as their octets say (C-Octet strings read as Latin-1). */
export interface SubmitFields {
  source_addr_ton: number;
  source_addr_npi: number;
  source_addr: string;
  /** submit_sm and data_sm. */
  dest_addr_ton?: number;
  dest_addr_npi?: number;
  destination_addr?: string;
  /** submit_multi: its destinations, in their order. */
  dest_address?: MultiEntry[];
  esm_class: number;
  registered_delivery: number;
  /** 0 for data_sm (which has none). */
  replace_if_present_flag: number;
  data_coding: number;
  /** As written ('' when not given, and for data_sm). */
  schedule_delivery_time: string;
  validity_period: string;
  /** Its sm_length octets (none for data_sm). */
  short_message: Buffer;
  /** The message_payload TLV's octets, when given. */
  message_payload?: Buffer;
  sar_msg_ref_num?: number;
  sar_total_segments?: number;
  sar_segment_seqnum?: number;
}

export type ReadSubmitResult = { ok: true; fields: SubmitFields } | { ok: false; refusal: SubmitRefusal };

const COMMANDS: Readonly<Record<number, 'submit_sm' | 'data_sm' | 'submit_multi'>> = {
  4: 'submit_sm',
  259: 'data_sm',
  33: 'submit_multi',
};

/** TLVs read here (SMPP 3.4 §5.3.2): message_payload (any length), the sar_* ones (the length given). */
const TLV_MESSAGE_PAYLOAD = 0x0424;
const TLV_SAR_MSG_REF_NUM = 0x020c;
const TLV_SAR_TOTAL_SEGMENTS = 0x020e;
const TLV_SAR_SEGMENT_SEQNUM = 0x020f;

/** Thrown while reading: a field runs past the PDU's end. */
class Truncated extends Error {}

/** A cursor over the body of one PDU (its header skipped), refusing to read past `end`. */
class Cursor {
  offset = 16;
  constructor(
    readonly bytes: Buffer,
    readonly end: number,
  ) {}

  int8(): number {
    if (this.offset + 1 > this.end) throw new Truncated();
    return this.bytes[this.offset++];
  }

  cstring(): string {
    const nul = this.bytes.indexOf(0, this.offset);
    if (nul === -1 || nul >= this.end) throw new Truncated();
    // An empty one (most times, service_type) costs no string made.
    const value = nul === this.offset ? '' : this.bytes.toString('latin1', this.offset, nul);
    this.offset = nul + 1;
    return value;
  }

  octets(length: number): Buffer {
    if (this.offset + length > this.end) throw new Truncated();
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
}

const refuse = (status: SubmitRefusal['status'], reason: string): ReadSubmitResult => ({ ok: false, refusal: { status, reason } });

const NO_OCTETS = Buffer.alloc(0);

/** What the TLVs after short_message do not end as they should (`readSubmitPdu`). */
function brokenTlvs(first: boolean, command: string, smLength: number, why: string): ReadSubmitResult {
  return first && command !== 'data_sm'
    ? refuse('ESME_RINVMSGLEN', `sm_length ${smLength} does not match the octets that follow it (${why})`)
    : refuse('ESME_RINVTLVSTREAM', `the TLVs do not end where the PDU does (${why})`);
}

/**
 * Reads a submit_sm, data_sm or submit_multi from the bytes of the whole PDU (header included). A PDU
 * whose short_message runs past its end is ESME_RINVMSGLEN; one whose TLVs do not end exactly at its end
 * is ESME_RINVMSGLEN when the first TLV after short_message is already wrong (sm_length shorter than the
 * octets given: the rest of the text is no TLV), else ESME_RINVTLVSTREAM; a TLV read here with the wrong
 * length is ESME_RINVTLVLEN; a mandatory field missing is ESME_RINVCMDLEN.
 *
 * Each field is read once, into one object of one shape (those a command lacks undefined): this runs for
 * every submit, and objects built by spreading others cost V8 microseconds each.
 */
export function readSubmitPdu(bytes: Buffer): ReadSubmitResult {
  if (bytes.length < 16) return refuse('ESME_RINVCMDLEN', 'the PDU is shorter than its header');
  const end = bytes.readUInt32BE(0);
  if (end !== bytes.length) return refuse('ESME_RINVCMDLEN', `command_length ${end} is not the PDU's ${bytes.length} octets`);
  const command = COMMANDS[bytes.readUInt32BE(4)];
  if (!command) return refuse('ESME_RINVCMDID', 'not a submit_sm, data_sm or submit_multi');
  const at = new Cursor(bytes, end);
  let fields: SubmitFields;
  try {
    at.cstring(); // service_type
    const source_addr_ton = at.int8();
    const source_addr_npi = at.int8();
    const source_addr = at.cstring();
    let dest_addr_ton: number | undefined;
    let dest_addr_npi: number | undefined;
    let destination_addr: string | undefined;
    let dest_address: MultiEntry[] | undefined;
    if (command === 'submit_multi') {
      const count = at.int8();
      dest_address = [];
      for (let i = 0; i < count; i++) {
        // dest_flag 1: an SME address; any other is read as a distribution list name (the package does the same).
        if (at.int8() === 1) dest_address.push({ dest_addr_ton: at.int8(), dest_addr_npi: at.int8(), destination_addr: at.cstring() });
        else dest_address.push({ dl_name: at.cstring() });
      }
    } else {
      dest_addr_ton = at.int8();
      dest_addr_npi = at.int8();
      destination_addr = at.cstring();
    }
    const esm_class = at.int8();
    let registered_delivery: number;
    let replace_if_present_flag = 0;
    let data_coding: number;
    let schedule_delivery_time = '';
    let validity_period = '';
    let short_message: Buffer = NO_OCTETS;
    if (command === 'data_sm') {
      registered_delivery = at.int8();
      data_coding = at.int8();
    } else {
      at.int8(); // protocol_id
      at.int8(); // priority_flag
      schedule_delivery_time = at.cstring();
      validity_period = at.cstring();
      registered_delivery = at.int8();
      replace_if_present_flag = at.int8();
      data_coding = at.int8();
      at.int8(); // sm_default_msg_id
      const smLength = at.int8();
      if (at.offset + smLength > end)
        return refuse('ESME_RINVMSGLEN', `sm_length ${smLength}: only ${end - at.offset} octets follow it in the PDU`);
      short_message = at.octets(smLength);
    }
    fields = {
      source_addr_ton,
      source_addr_npi,
      source_addr,
      dest_addr_ton,
      dest_addr_npi,
      destination_addr,
      dest_address,
      esm_class,
      registered_delivery,
      replace_if_present_flag,
      data_coding,
      schedule_delivery_time,
      validity_period,
      short_message,
      message_payload: undefined,
      sar_msg_ref_num: undefined,
      sar_total_segments: undefined,
      sar_segment_seqnum: undefined,
    };
  } catch (error) {
    if (error instanceof Truncated) return refuse('ESME_RINVCMDLEN', `the ${command} ends before its mandatory fields do`);
    throw error;
  }

  const afterMessage = at.offset;
  while (at.offset < end) {
    const first = at.offset === afterMessage;
    if (end - at.offset < 4)
      return brokenTlvs(first, command, fields.short_message.length, `${end - at.offset} octets left, no TLV header`);
    const tag = bytes.readUInt16BE(at.offset);
    const length = bytes.readUInt16BE(at.offset + 2);
    if (at.offset + 4 + length > end)
      return brokenTlvs(
        first,
        command,
        fields.short_message.length,
        `TLV 0x${tag.toString(16).padStart(4, '0')} of ${length} octets runs past the end`,
      );
    at.offset += 4 + length;
    const value = at.offset - length;
    // A TLV this server does not read is ignored (SMPP 3.4 §3.2.4).
    switch (tag) {
      case TLV_MESSAGE_PAYLOAD:
        fields.message_payload = bytes.subarray(value, at.offset);
        break;
      case TLV_SAR_MSG_REF_NUM:
        if (length !== 2) return refuse('ESME_RINVTLVLEN', `sar_msg_ref_num is ${length} octets long: it takes 2`);
        fields.sar_msg_ref_num = bytes.readUInt16BE(value);
        break;
      case TLV_SAR_TOTAL_SEGMENTS:
        if (length !== 1) return refuse('ESME_RINVTLVLEN', `sar_total_segments is ${length} octets long: it takes 1`);
        fields.sar_total_segments = bytes[value];
        break;
      case TLV_SAR_SEGMENT_SEQNUM:
        if (length !== 1) return refuse('ESME_RINVTLVLEN', `sar_segment_seqnum is ${length} octets long: it takes 1`);
        fields.sar_segment_seqnum = bytes[value];
        break;
    }
  }
  return { ok: true, fields };
}
