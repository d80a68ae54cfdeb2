import smpp from 'smpp';
import { describe, expect, it } from 'vitest';
import { bindCredentials } from './smpp.service.js';
import {
  decodeSubmit,
  decodeSubmitMulti,
  MAX_MULTI_DESTINATIONS,
  owesReceipt,
  receiptDeliverSm,
  SMPP_STATUSES,
  type SmppReceipt,
  senderCandidates,
  smppTimeOf,
} from './smpp-messages.js';
import { readSubmitPdu, type SubmitFields } from './smpp-submit-reader.js';

const NOW = Date.UTC(2026, 11, 7, 10, 0, 0);

/** The fields of a PDU's bytes, as the server reads them. */
function read(bytes: Buffer): SubmitFields {
  const result = readSubmitPdu(bytes);
  if (!result.ok) throw new Error(`unreadable: ${result.refusal.reason}`);
  return result.fields;
}

/** A submit_sm as a program sends it (written by the `smpp` package), read as the server reads it. */
function received(fields: Record<string, unknown>): SubmitFields {
  return read(
    new smpp.PDU('submit_sm', {
      source_addr: 'MyShop',
      destination_addr: '33612345678',
      dest_addr_ton: 1,
      ...fields,
    }).toBuffer(),
  );
}

function refusalOf(pdu: SubmitFields): string {
  const result = decodeSubmit(pdu, NOW);
  if (result.ok) throw new Error('accepted');
  return result.refusal.status;
}

describe('decodeSubmit', () => {
  it('reads a GSM message: sender, international receiver with its +, no class, no schedule, no receipt', () => {
    const result = decodeSubmit(received({ short_message: 'Hello @ 5€ {ok}', data_coding: 0 }), NOW);
    expect(result).toEqual({
      ok: true,
      submit: {
        text: 'Hello @ 5€ {ok}',
        concat: null,
        sender: 'MyShop',
        senderTon: 0,
        receiver: '+33612345678',
        coding: '7bit',
        class: null,
        deferredUntil: null,
        validUntil: null,
        receipt: null,
      },
    });
  });

  it('reads UCS-2 (surrogate pairs kept), Latin-1, and the text of message_payload', () => {
    expect(decodeSubmit(received({ short_message: 'Привет 🎉', data_coding: 8 }), NOW)).toMatchObject({
      ok: true,
      submit: { text: 'Привет 🎉', coding: '8bit' },
    });
    expect(decodeSubmit(received({ short_message: 'Crème brûlée', data_coding: 3 }), NOW)).toMatchObject({
      ok: true,
      submit: { text: 'Crème brûlée', coding: '7bit' },
    });
    const long = 'x'.repeat(400);
    expect(decodeSubmit(received({ short_message: '', message_payload: long }), NOW)).toMatchObject({ ok: true, submit: { text: long } });
  });

  it('reads the message class of the GSM 03.38 coding groups', () => {
    expect(decodeSubmit(received({ short_message: 'Flash', data_coding: 0x10 }), NOW)).toMatchObject({
      submit: { class: 'flash', coding: '7bit' },
    });
    expect(decodeSubmit(received({ short_message: 'Flash', data_coding: 0xf0 }), NOW)).toMatchObject({ submit: { class: 'flash' } });
    expect(decodeSubmit(received({ short_message: 'Display', data_coding: 0x11 }), NOW)).toMatchObject({
      submit: { class: 'phoneDisplay' },
    });
    expect(decodeSubmit(received({ short_message: 'Éclair', data_coding: 0x18 }), NOW)).toMatchObject({
      submit: { class: 'flash', coding: '8bit' },
    });
  });

  it('reads concatenation from a UDH (8- and 16-bit references) and from the sar_* TLVs; one part alone is a whole message', () => {
    const udh8 = Buffer.from([0x05, 0x00, 0x03, 0x2a, 0x03, 0x02]);
    expect(decodeSubmit(received({ esm_class: 0x40, short_message: { udh: udh8, message: 'middle ' } }), NOW)).toMatchObject({
      ok: true,
      submit: { text: 'middle ', concat: { ref: 0x2a, total: 3, seq: 2 } },
    });
    const udh16 = Buffer.from([0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01]);
    expect(decodeSubmit(received({ esm_class: 0x40, short_message: { udh: udh16, message: 'first ' } }), NOW)).toMatchObject({
      submit: { concat: { ref: 0x1234, total: 2, seq: 1 } },
    });
    expect(
      decodeSubmit(received({ short_message: 'sar', sar_msg_ref_num: 7, sar_total_segments: 2, sar_segment_seqnum: 2 }), NOW),
    ).toMatchObject({ submit: { concat: { ref: 7, total: 2, seq: 2 } } });
    const alone = Buffer.from([0x05, 0x00, 0x03, 0x01, 0x01, 0x01]);
    expect(decodeSubmit(received({ esm_class: 0x40, short_message: { udh: alone, message: 'one' } }), NOW)).toMatchObject({
      submit: { concat: null, text: 'one' },
    });
  });

  it('reads schedule and validity times, absolute or relative, and the receipt wish', () => {
    const at = new Date(NOW + 3_600_000);
    const until = new Date(NOW + 7_200_000);
    expect(
      decodeSubmit(received({ short_message: 'Later', schedule_delivery_time: at, validity_period: until, registered_delivery: 1 }), NOW),
    ).toMatchObject({ submit: { deferredUntil: at.getTime(), validUntil: until.getTime(), receipt: 'final' } });
    expect(decodeSubmit(received({ short_message: 'Failures', registered_delivery: 0x12 }), NOW)).toMatchObject({
      submit: { receipt: 'failure' },
    });
    // A schedule already past is "now".
    expect(decodeSubmit(received({ short_message: 'Now', schedule_delivery_time: new Date(NOW - 60_000) }), NOW)).toMatchObject({
      submit: { deferredUntil: null },
    });
  });

  it('an empty source is the reply-capable number; a national receiver is left to the sending service', () => {
    expect(
      decodeSubmit(received({ source_addr: '', destination_addr: '0612345678', dest_addr_ton: 0, short_message: 'x' }), NOW),
    ).toMatchObject({
      submit: { sender: null, receiver: '0612345678' },
    });
  });

  it('refuses with the status that says why', () => {
    expect(refusalOf(received({ short_message: '' }))).toBe('ESME_RINVMSGLEN');
    expect(refusalOf(received({ short_message: Buffer.from([1, 2, 3]), data_coding: 4 }))).toBe('ESME_RINVDCS');
    expect(refusalOf(received({ short_message: 'x', data_coding: 0x12 }))).toBe('ESME_RINVDCS');
    expect(refusalOf(received({ short_message: 'x', esm_class: 0x08 }))).toBe('ESME_RINVESMCLASS');
    expect(refusalOf(received({ short_message: 'x', message_payload: 'y' }))).toBe('ESME_RINVMSGLEN');
    expect(refusalOf(received({ short_message: 'x', destination_addr: '' }))).toBe('ESME_RINVDSTADR');
    expect(refusalOf(received({ short_message: 'x', sar_msg_ref_num: 1 }))).toBe('ESME_RMISSINGTLV');
    expect(refusalOf(received({ short_message: 'x', sar_msg_ref_num: 1, sar_total_segments: 2, sar_segment_seqnum: 3 }))).toBe(
      'ESME_RINVTLVVAL',
    );
    expect(refusalOf(received({ short_message: 'x', schedule_delivery_time: new Date(NOW + 400 * 86_400_000) }))).toBe('ESME_RINVSCHED');
    expect(refusalOf(received({ short_message: 'x', validity_period: new Date(NOW - 1000) }))).toBe('ESME_RINVEXPIRY');
    expect(refusalOf({ ...received({ short_message: 'x' }), schedule_delivery_time: 'garbage' })).toBe('ESME_RINVSCHED');
    expect(refusalOf(received({ short_message: 'x', replace_if_present_flag: 1 }))).toBe('ESME_RINVREPFLAG');
  });
});

describe('SMPP times and senders', () => {
  it('reads absolute times (tenths, offset in quarter-hours) and relative ones, and nothing else', () => {
    const at = Date.UTC(2026, 11, 8, 10, 0, 0);
    expect(smppTimeOf('', NOW)).toBeNull();
    expect(smppTimeOf('261208100000000+', NOW)).toBe(at);
    expect(smppTimeOf('261208100000504+', NOW)).toBe(at + 500 - 3_600_000);
    expect(smppTimeOf('261208100000048-', NOW)).toBe(at + 12 * 3_600_000);
    expect(smppTimeOf('000001023000000R', NOW)).toBe(NOW + 86_400_000 + 2.5 * 3_600_000);
    for (const bad of [
      '261208100000000',
      '261208100000000X',
      '261208100000049+',
      '26120810000000+',
      '261131100000000+',
      '261208240000000+',
      '261208100060000+',
      '261208',
      '1R',
      '000001000000100R',
    ])
      expect([bad, smppTimeOf(bad, NOW)]).toEqual([bad, 'bad']);
  });

  it('tries a TON 1 numeric sender with its + first, then as given; any other sender as given', () => {
    expect(senderCandidates({ sender: '33612300000', senderTon: 1 })).toEqual(['+33612300000', '33612300000']);
    expect(senderCandidates({ sender: '33612300000', senderTon: 0 })).toEqual(['33612300000']);
    expect(senderCandidates({ sender: 'MyShop', senderTon: 1 })).toEqual(['MyShop']);
    expect(senderCandidates({ sender: null, senderTon: 1 })).toEqual([]);
  });
});

describe('decodeSubmit: the octets of the text', () => {
  it('reads data_coding 1 as IA5 (ASCII), refuses octets no alphabet holds, and UCS-2 of an odd length', () => {
    expect(decodeSubmit(received({ data_coding: 1, short_message: Buffer.from('a@b $5_{x}', 'latin1') }), NOW)).toMatchObject({
      submit: { text: 'a@b $5_{x}' },
    });
    expect(refusalOf(received({ data_coding: 0, short_message: Buffer.from('Caf\u00e9', 'latin1') }))).toBe('ESME_RINVDCS');
    expect(refusalOf(received({ data_coding: 8, short_message: Buffer.from([0, 0x48, 0]) }))).toBe('ESME_RINVMSGLEN');
    // A UDH whose length runs past the message.
    expect(refusalOf(received({ esm_class: 0x40, data_coding: 0, short_message: Buffer.from([0x09, 0x00, 0x03, 1, 2, 1]) }))).toBe(
      'ESME_RINVESMCLASS',
    );
  });
});

describe('decodeSubmitMulti', () => {
  /** A submit_multi as a program sends it (written by the `smpp` package), read as the server reads it. */
  function multi(fields: Record<string, unknown>): SubmitFields {
    return read(new smpp.PDU('submit_multi', { source_addr: 'MyShop', short_message: 'Hello all', ...fields }).toBuffer());
  }

  it('reads the message as submit_sm’s and every destination in its order: addresses (TON 1 with its +) and list names', () => {
    const result = decodeSubmitMulti(
      multi({
        registered_delivery: 1,
        dest_address: [
          { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '33612345678' },
          { dl_name: 'customers' },
          { dest_addr_ton: 0, dest_addr_npi: 1, destination_addr: '0612345679' },
        ],
      }),
      NOW,
    );
    expect(result).toEqual({
      ok: true,
      submit: {
        text: 'Hello all',
        concat: null,
        sender: 'MyShop',
        senderTon: 0,
        coding: '7bit',
        class: null,
        deferredUntil: null,
        validUntil: null,
        receipt: 'final',
        destinations: [
          { kind: 'address', ton: 1, npi: 1, address: '33612345678', receiver: '+33612345678' },
          { kind: 'list', name: 'customers' },
          { kind: 'address', ton: 0, npi: 1, address: '0612345679', receiver: '0612345679' },
        ],
      },
    });
  });

  it('reads concatenated parts as submit_sm does', () => {
    const udh = Buffer.from([0x05, 0x00, 0x03, 0x2a, 0x02, 0x01]);
    expect(
      decodeSubmitMulti(
        multi({ esm_class: 0x40, short_message: { udh, message: 'first ' }, dest_address: [{ destination_addr: '0612345678' }] }),
        NOW,
      ),
    ).toMatchObject({ ok: true, submit: { text: 'first ', concat: { ref: 0x2a, total: 2, seq: 1 } } });
  });

  it('refuses no destination and more than 255 (ESME_RINVNUMDESTS) before reading the message, and a bad message as submit_sm', () => {
    const refusal = (pdu: SubmitFields) => {
      const result = decodeSubmitMulti(pdu, NOW);
      return result.ok ? 'accepted' : result.refusal.status;
    };
    expect(refusal(multi({ dest_address: [] }))).toBe('ESME_RINVNUMDESTS');
    // The package writes number_of_dests in one octet and cannot send 256: a decoder that could is still held to 255.
    const many = Array.from({ length: MAX_MULTI_DESTINATIONS + 1 }, (_, i) => ({
      dest_addr_ton: 0,
      dest_addr_npi: 1,
      destination_addr: `06123${String(i).padStart(5, '0')}`,
    }));
    const one = multi({ dest_address: [{ destination_addr: '0612345678' }] });
    expect(refusal({ ...one, dest_address: many })).toBe('ESME_RINVNUMDESTS');
    expect(refusal({ ...one, dest_address: many.slice(0, MAX_MULTI_DESTINATIONS) })).toBe('accepted');
    expect(refusal(multi({ short_message: '', dest_address: [{ destination_addr: '0612345678' }] }))).toBe('ESME_RINVMSGLEN');
    expect(refusal(multi({ data_coding: 4, short_message: Buffer.from([1]), dest_address: [{ destination_addr: '0612345678' }] }))).toBe(
      'ESME_RINVDCS',
    );
  });
});

describe('receipts', () => {
  const base: SmppReceipt = {
    id: '4711',
    receiver: '+33612345678',
    sender: 'MyShop',
    status: 'delivered',
    submittedAt: Date.UTC(2026, 11, 7, 9, 58, 30),
    doneAt: Date.UTC(2026, 11, 7, 10, 1, 5),
    errorCode: null,
    text: 'Votre code est 123456',
  };

  it('says the final status in the SMPP 3.4 Appendix B text and in the TLVs, from the receiver to the sender', () => {
    const bytes = new smpp.PDU('deliver_sm', receiptDeliverSm(base)).toBuffer();
    const pdu = new smpp.PDU(bytes);
    expect(pdu.esm_class).toBe(0x04);
    expect(pdu.receipted_message_id).toBe('4711');
    expect(pdu.message_state).toBe(2);
    expect([pdu.source_addr, pdu.source_addr_ton, pdu.destination_addr, pdu.dest_addr_ton]).toEqual(['33612345678', 1, 'MyShop', 5]);
    expect((pdu.short_message as { message: string }).message).toBe(
      'id:4711 sub:001 dlvrd:001 submit date:2612070958 done date:2612071001 stat:DELIVRD err:000 text:Votre code est 12345',
    );
  });

  it('gives failures and expiries their stat, state and numeric error code', () => {
    const failed = receiptDeliverSm({ ...base, status: 'failed', errorCode: '3' });
    expect(failed).toMatchObject({ message_state: 5 });
    expect(failed.short_message).toMatch(/dlvrd:000 .* stat:UNDELIV err:003 /);
    const expired = receiptDeliverSm({ ...base, status: 'expired', errorCode: 'validity' });
    expect(expired).toMatchObject({ message_state: 3 });
    expect(expired.short_message).toMatch(/stat:EXPIRED err:000 /);
  });

  it('are owed for every final status, or for failures only', () => {
    expect(['delivered', 'failed', 'expired'].map((s) => owesReceipt('final', s as 'delivered'))).toEqual([true, true, true]);
    expect(['delivered', 'failed', 'expired'].map((s) => owesReceipt('failure', s as 'delivered'))).toEqual([false, true, true]);
  });
});

describe('binds and statuses', () => {
  it('reads account and login from system_id "account:login", else from system_type and system_id', () => {
    expect(bindCredentials('sms-ab12345-1:shop', '')).toEqual({ account: 'sms-ab12345-1', login: 'shop' });
    expect(bindCredentials('shop', 'sms-ab12345-1')).toEqual({ account: 'sms-ab12345-1', login: 'shop' });
  });

  it('answers only statuses the smpp package knows', () => {
    for (const name of SMPP_STATUSES) expect(smpp.errors[name], name).toBeTypeOf('number');
  });
});
