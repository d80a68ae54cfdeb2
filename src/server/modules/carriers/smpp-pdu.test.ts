import smpp from 'smpp';
import { describe, expect, it } from 'vitest';
import { encodeGsm7Unpacked } from '../../../shared/sms-encoding.js';
import type { CarrierMessage } from './carrier.js';
import {
  dataCodingOf,
  describeStatus,
  encodeSubmitSm,
  formatRelativeValidity,
  isTemporaryStatus,
  parseReceipt,
  sourceAddress,
  statusName,
  submitFields,
} from './smpp-pdu.js';

const message = (m: Partial<CarrierMessage> = {}): CarrierMessage => ({
  id: 1,
  sender: 'Relais',
  receiver: '+33612345678',
  text: 'Hello',
  encoding: 'gsm7',
  messageClass: null,
  validUntil: null,
  requestReceipt: true,
  ...m,
});
const opts = { serviceType: '', destTon: 1, destNpi: 1, now: 1_700_000_000_000, ref: 42 };

/** Encodes then decodes a PDU with the `smpp` package, as it would cross a socket. */
function viaWire(command: string, fields: Record<string, unknown>): smpp.PDU {
  return new smpp.PDU(new smpp.PDU(command, fields).toBuffer());
}

describe('command_status', () => {
  it('names statuses, vendor-specific ones in hex', () => {
    expect(statusName(0x0b)).toBe('ESME_RINVDSTADR');
    expect(statusName(0x58)).toBe('ESME_RTHROTTLED');
    expect(statusName(0x400)).toBe('SMPP_0x00000400');
    expect(describeStatus(0x0b)).toBe('ESME_RINVDSTADR (0x0000000B, invalid destination address)');
  });

  it('treats throttling, queue full, system error and temporary app error as temporary, the rest as permanent', () => {
    for (const name of ['ESME_RTHROTTLED', 'ESME_RMSGQFUL', 'ESME_RSYSERR', 'ESME_RX_T_APPN', 'ESME_RINVBNDSTS']) {
      expect(isTemporaryStatus(smpp.errors[name]), name).toBe(true);
    }
    for (const name of ['ESME_RINVDSTADR', 'ESME_RINVSRCADR', 'ESME_RSUBMITFAIL', 'ESME_RX_P_APPN', 'ESME_RINVDCS', 'ESME_RUNKNOWNERR']) {
      expect(isTemporaryStatus(smpp.errors[name]), name).toBe(false);
    }
    expect(isTemporaryStatus(0x400)).toBe(false);
  });
});

describe('sourceAddress', () => {
  it('alphanumeric → TON 5 NPI 0; international → TON 1 NPI 1 without +; short code → TON 0 NPI 1', () => {
    expect(sourceAddress('Relais')).toEqual({ addr: 'Relais', ton: 5, npi: 0 });
    expect(sourceAddress('+33612345678')).toEqual({ addr: '33612345678', ton: 1, npi: 1 });
    expect(sourceAddress('33612345678')).toEqual({ addr: '33612345678', ton: 1, npi: 1 });
    expect(sourceAddress('36180')).toEqual({ addr: '36180', ton: 0, npi: 1 });
    expect(sourceAddress('36180', { ton: 3, npi: 0 })).toEqual({ addr: '36180', ton: 3, npi: 0 });
  });
});

describe('formatRelativeValidity', () => {
  it('formats YYMMDDhhmmss000R, rounded up to the second, capped at 30 days', () => {
    expect(formatRelativeValidity(2 * 86_400_000)).toBe('000002000000000R');
    expect(formatRelativeValidity(90_500)).toBe('000000000131000R');
    expect(formatRelativeValidity(3_723_000)).toBe('000000010203000R');
    expect(formatRelativeValidity(400 * 86_400_000)).toBe('000030000000000R');
    expect(formatRelativeValidity(1)).toBe('000000000001000R');
  });
});

describe('submitFields', () => {
  it('one GSM part: unpacked septets, data_coding 0, no UDH, receipt requested, relative validity', () => {
    const [f, ...rest] = submitFields(message({ text: 'Prix: 5€ {ok}', validUntil: opts.now + 3_600_000 }), opts);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      source_addr: 'Relais',
      source_addr_ton: 5,
      source_addr_npi: 0,
      destination_addr: '33612345678',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      esm_class: 0,
      data_coding: 0,
      registered_delivery: 1,
      validity_period: '000000010000000R',
    });
    expect(f.short_message).toEqual(Buffer.from(encodeGsm7Unpacked('Prix: 5€ {ok}')));
  });

  it('200 GSM characters: two parts with 05 00 03 ref 02 seq, esm_class 0x40', () => {
    const text = 'a'.repeat(150) + 'b'.repeat(50);
    const parts = submitFields(message({ text, requestReceipt: false }), opts);
    expect(parts).toHaveLength(2);
    parts.forEach((p, i) => {
      expect(p.esm_class).toBe(0x40);
      expect(p.data_coding).toBe(0);
      expect(p.registered_delivery).toBe(0);
      expect([...(p.short_message as Buffer).subarray(0, 6)]).toEqual([5, 0, 3, 42, 2, i + 1]);
    });
    expect((parts[0].short_message as Buffer).length).toBe(6 + 153);
    expect((parts[1].short_message as Buffer).length).toBe(6 + 47);
  });

  it('UCS-2: UTF-16BE, data_coding 8; message class sets the GSM class bits', () => {
    const [f] = submitFields(message({ text: 'Salut 👋', encoding: 'ucs2' }), opts);
    expect(f.data_coding).toBe(8);
    expect((f.short_message as Buffer).toString('hex')).toBe('00530061006c007500740020d83ddc4b');
    expect(dataCodingOf('gsm7', 0)).toBe(0x10);
    expect(dataCodingOf('ucs2', 1)).toBe(0x19);
    expect(dataCodingOf('gsm7', null)).toBe(0);
  });

  it('refuses a gsm7 message that is not GSM, and an expired validity', () => {
    expect(() => submitFields(message({ text: 'ça' }), opts)).toThrow(RangeError);
    expect(() => submitFields(message({ validUntil: opts.now }), opts)).toThrow(/validity/);
  });

  it('survives the smpp package encoding unchanged', () => {
    const [f] = submitFields(message({ text: 'x'.repeat(170) }), opts);
    const pdu = viaWire('submit_sm', f);
    const sm = pdu.short_message as { udh: Buffer[]; message: string };
    expect([...sm.udh[0]]).toEqual([0, 3, 42, 2, 1]);
    expect(sm.message).toBe('x'.repeat(153));
  });
});

describe('encodeSubmitSm', () => {
  it('writes byte for byte what the smpp package writes, for every kind of message', () => {
    const cases: CarrierMessage[] = [
      message(),
      message({ sender: '+33700000001', receiver: '+447700900123', validUntil: opts.now + 3_600_000 }),
      message({ sender: '36180', text: 'x'.repeat(170), messageClass: 0 }),
      message({ text: 'Été 🌞 à Paris', encoding: 'ucs2', messageClass: 2 }),
      message({ text: '€[]{}|^~\\ — ok?'.replace('—', '-'), requestReceipt: false }),
      message({ text: 'y'.repeat(400), encoding: 'ucs2' }),
    ];
    for (const m of cases) {
      for (const fields of submitFields(m, { ...opts, serviceType: 'CMT', sourceTon: 5 })) {
        const expected = new smpp.PDU('submit_sm', { ...fields, sequence_number: 0 }).toBuffer();
        expect(encodeSubmitSm(fields).toString('hex'), m.text).toBe(expected.toString('hex'));
        const decoded = new smpp.PDU(encodeSubmitSm(fields));
        expect(decoded.command).toBe('submit_sm');
        expect(decoded.destination_addr).toBe(m.receiver.slice(1));
      }
    }
  });

  it('refuses a message longer than sm_length can say', () => {
    expect(() => encodeSubmitSm({ short_message: Buffer.alloc(256) })).toThrow(RangeError);
    expect(() => encodeSubmitSm({ esm_class: 256 })).toThrow(RangeError);
  });
});

describe('parseReceipt', () => {
  const at = 1_700_000_000_000;
  const text = (id: string, stat: string, err = '000') =>
    Buffer.from(`id:${id} sub:001 dlvrd:001 submit date:2311141200 done date:2311141201 stat:${stat} err:${err} text:Hello`, 'latin1');

  it('reads the text form, as the smpp package decodes it (data_coding 0 read as GSM)', () => {
    const pdu = viaWire('deliver_sm', { esm_class: 4, data_coding: 0, short_message: text('ab_12$@', 'DELIVRD') });
    expect(parseReceipt(pdu, at)).toEqual({
      ok: true,
      receipt: {
        carrierMessageId: 'ab_12$@',
        status: 'delivered',
        at,
        errorCode: null,
        errorText: null,
        raw: text('ab_12$@', 'DELIVRD').toString('latin1'),
      },
    });
  });

  it('UNDELIV → failed with err and stat word; EXPIRED → expired; ENROUTE/ACCEPTD → sent', () => {
    const undeliv = viaWire('deliver_sm', { esm_class: 4, data_coding: 0, short_message: text('7', 'UNDELIV', '012') });
    expect(parseReceipt(undeliv, at)).toMatchObject({ ok: true, receipt: { status: 'failed', errorCode: '012', errorText: 'UNDELIV' } });
    const rejected = viaWire('deliver_sm', { esm_class: 4, data_coding: 0, short_message: text('7', 'REJECTD', '000') });
    expect(parseReceipt(rejected, at)).toMatchObject({ ok: true, receipt: { status: 'failed', errorCode: '000', errorText: 'REJECTD' } });
    const expired = viaWire('deliver_sm', { esm_class: 4, data_coding: 0, short_message: text('7', 'EXPIRED') });
    expect(parseReceipt(expired, at)).toMatchObject({ ok: true, receipt: { status: 'expired', errorCode: null, errorText: 'EXPIRED' } });
    for (const stat of ['ENROUTE', 'ACCEPTD']) {
      const pdu = viaWire('deliver_sm', { esm_class: 4, data_coding: 0, short_message: text('7', stat) });
      expect(parseReceipt(pdu, at)).toMatchObject({ ok: true, receipt: { status: 'sent', errorCode: null, errorText: null } });
    }
  });

  it('prefers the receipted_message_id and message_state TLVs over the text', () => {
    const pdu = viaWire('deliver_sm', {
      esm_class: 4,
      data_coding: 0,
      short_message: text('decimal-99', 'DELIVRD'),
      receipted_message_id: '63',
      message_state: 5,
    });
    expect(parseReceipt(pdu, at)).toMatchObject({ ok: true, receipt: { carrierMessageId: '63', status: 'failed', errorText: 'UNDELIV' } });
  });

  it('TLVs only, with network_error_code when there is no err:', () => {
    const pdu = viaWire('deliver_sm', {
      esm_class: 4,
      data_coding: 0,
      short_message: Buffer.alloc(0),
      receipted_message_id: 'X1',
      message_state: 8,
      network_error_code: Buffer.from([3, 0, 21]),
    });
    expect(parseReceipt(pdu, at)).toMatchObject({
      ok: true,
      receipt: { carrierMessageId: 'X1', status: 'failed', errorCode: '21', errorText: 'REJECTD' },
    });
  });

  it('says why a receipt cannot be read', () => {
    expect(parseReceipt({ esm_class: 4, data_coding: 0, short_message: Buffer.from('stat:DELIVRD') }, at)).toEqual({
      ok: false,
      reason: 'no receipted_message_id nor id: in the receipt',
    });
    expect(parseReceipt({ esm_class: 4, data_coding: 0, short_message: Buffer.from('id:1 stat:WHATEVER') }, at)).toMatchObject({
      ok: false,
    });
  });
});
