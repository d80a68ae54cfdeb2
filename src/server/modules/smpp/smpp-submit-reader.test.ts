import smpp from 'smpp';
import { describe, expect, it } from 'vitest';
import { readSubmitPdu } from './smpp-submit-reader.js';

/** A C-Octet String. */
const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(1)]);

/** A PDU of `commandId` with `body`, its command_length right unless given. */
function pdu(commandId: number, body: Buffer, commandLength?: number): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(commandLength ?? 16 + body.length, 0);
  head.writeUInt32BE(commandId, 4);
  head.writeUInt32BE(1, 12);
  return Buffer.concat([head, body]);
}

/** A TLV. */
function tlv(tag: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(tag, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value]);
}

/** A submit_sm's body up to sm_length (excluded): its times as given. */
function submitHead(times: { schedule?: string; validity?: string } = {}): Buffer {
  return Buffer.concat([
    cstr(''),
    Buffer.from([1, 1]),
    cstr('33612300000'),
    Buffer.from([1, 1]),
    cstr('33612345678'),
    Buffer.from([0x40, 0, 0]), // esm_class (UDHI), protocol_id, priority_flag
    cstr(times.schedule ?? ''),
    cstr(times.validity ?? ''),
    Buffer.from([1, 0, 8, 0]), // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
  ]);
}

const statusOf = (bytes: Buffer) => {
  const result = readSubmitPdu(bytes);
  return result.ok ? 'read' : result.refusal.status;
};

describe('readSubmitPdu', () => {
  it('reads a submit_sm as written: addresses, flags, times as strings, short_message’s octets, the TLVs it knows', () => {
    const message = Buffer.from([0x05, 0x00, 0x03, 0x07, 0x02, 0x01, 0x00, 0x48]);
    const bytes = pdu(
      0x04,
      Buffer.concat([
        submitHead({ schedule: '261207100000004+', validity: '000001000000000R' }),
        Buffer.from([message.length]),
        message,
        tlv(0x1403, Buffer.from('ignored')), // a TLV it does not read
        tlv(0x020c, Buffer.from([0x12, 0x34])),
      ]),
    );
    expect(readSubmitPdu(bytes)).toEqual({
      ok: true,
      fields: {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: '33612300000',
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: '33612345678',
        esm_class: 0x40,
        registered_delivery: 1,
        replace_if_present_flag: 0,
        data_coding: 8,
        schedule_delivery_time: '261207100000004+',
        validity_period: '000001000000000R',
        short_message: message,
        sar_msg_ref_num: 0x1234,
      },
    });
  });

  it('reads data_sm (its text in message_payload) and submit_multi (addresses and list names) as the smpp package writes them', () => {
    const data = readSubmitPdu(
      new smpp.PDU('data_sm', {
        source_addr: 'MyShop',
        destination_addr: '33612345678',
        data_coding: 3,
        message_payload: 'Crème',
      }).toBuffer(),
    );
    expect(data).toMatchObject({ ok: true, fields: { source_addr: 'MyShop', data_coding: 3, short_message: Buffer.alloc(0) } });
    expect(data.ok && data.fields.message_payload?.toString('latin1')).toBe('Crème');
    const multi = readSubmitPdu(
      new smpp.PDU('submit_multi', {
        source_addr: 'MyShop',
        dest_address: [{ dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '33612345678' }, { dl_name: 'friends' }],
        short_message: 'Hi',
      }).toBuffer(),
    );
    expect(multi).toMatchObject({
      ok: true,
      fields: { dest_address: [{ dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '33612345678' }, { dl_name: 'friends' }] },
    });
  });

  it('refuses an sm_length that does not match the octets that follow (ESME_RINVMSGLEN), and TLVs that do not end with the PDU', () => {
    const text = Buffer.from('Hello world');
    const withLength = (length: number, rest = text) => pdu(0x04, Buffer.concat([submitHead(), Buffer.from([length]), rest]));
    expect(statusOf(withLength(11))).toBe('read');
    expect(statusOf(withLength(40))).toBe('ESME_RINVMSGLEN');
    expect(statusOf(withLength(5))).toBe('ESME_RINVMSGLEN');
    // A good TLV, then one that runs past the end: the stream is broken after the message.
    const good = tlv(0x020e, Buffer.from([2]));
    expect(statusOf(withLength(11, Buffer.concat([text, good, Buffer.from([0x02, 0x0f, 0x00, 0x05, 0x01])])))).toBe('ESME_RINVTLVSTREAM');
    // A TLV it reads, of the wrong length.
    expect(statusOf(withLength(11, Buffer.concat([text, tlv(0x020e, Buffer.from([0, 2]))])))).toBe('ESME_RINVTLVLEN');
  });

  it('refuses a PDU that ends before its mandatory fields, or whose command_length is not its size', () => {
    expect(statusOf(pdu(0x04, Buffer.concat([cstr(''), Buffer.from([1, 1]), cstr('MyShop')])))).toBe('ESME_RINVCMDLEN');
    expect(statusOf(pdu(0x04, Buffer.concat([cstr(''), Buffer.from([1, 1]), Buffer.from('MyShop')])))).toBe('ESME_RINVCMDLEN');
    expect(statusOf(pdu(0x04, Buffer.concat([submitHead(), Buffer.from([0])]), 100))).toBe('ESME_RINVCMDLEN');
  });
});
