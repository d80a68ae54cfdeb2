import { describe, expect, it } from 'vitest';
import type { Outgoing } from './outgoing.js';
import { deliveryReceiptOf, descriptionDlrOf, operatorCodeOf, PTT_CODES, pttOf } from './ovh-codes.js';
import { OUTGOING_STATUSES, type OutgoingStatus } from './status.js';

type Codes = Pick<Outgoing, 'status' | 'errorCode' | 'errorText'>;
const msg = (status: OutgoingStatus, errorCode: string | null = null, errorText: string | null = null): Codes => ({
  status,
  errorCode,
  errorText,
});

describe('deliveryReceiptOf', () => {
  it.each([
    ['pending', 0],
    ['sent', 8],
    ['delivered', 1],
    ['failed', 2],
    ['expired', 2],
    ['canceled', 16],
  ] as const)('%s → %i', (status, code) => {
    expect(deliveryReceiptOf(msg(status))).toBe(code);
  });
});

describe('pttOf', () => {
  it.each([
    ['pending', 254],
    ['sent', 0],
    ['delivered', 0],
    ['expired', 801],
    ['canceled', 802],
  ] as const)('%s → %i', (status, code) => {
    expect(pttOf(msg(status))).toBe(code);
  });

  it('gives the carrier code of a failed message when it is an OVH error ptt', () => {
    expect(pttOf(msg('failed', '53'))).toBe(53);
    expect(pttOf(msg('failed', '3'))).toBe(3);
    expect(pttOf(msg('failed', '803'))).toBe(803);
  });

  it('gives 255 (unknown) for a failed message without an OVH error ptt', () => {
    for (const code of [null, '', '0', '254', '8', '0x0000000B', 'ESME_RINVDSTADR', '1e2', '-1', '53.0', '1000']) {
      expect(pttOf(msg('failed', code))).toBe(255);
    }
  });

  it('reads a failed SMPP receipt by its stat word, never its err: code (kept as the operator code)', () => {
    expect(pttOf(msg('failed', '001', 'UNDELIV'))).toBe(9);
    expect(pttOf(msg('failed', '053', 'UNDELIVERABLE'))).toBe(9);
    expect(pttOf(msg('failed', '003', 'REJECTD'))).toBe(803);
    expect(pttOf(msg('failed', '000', 'DELETED'))).toBe(802);
    expect(pttOf(msg('failed', '001', 'UNKNOWN'))).toBe(804);
    expect(pttOf(msg('failed', '001', 'SKIPPED'))).toBe(255);
    expect(pttOf(msg('expired', '012', 'EXPIRED'))).toBe(801);
    expect(operatorCodeOf(msg('failed', '001', 'UNDELIV'))).toBe('001');
    // The simulator's readable texts are no stat words: its OVH code counts.
    expect(pttOf(msg('failed', '9', 'undeliverable'))).toBe(9);
    expect(pttOf(msg('failed', '3', 'toString'))).toBe(3);
  });

  it('only ever answers codes from the OVH list', () => {
    for (const status of OUTGOING_STATUSES) {
      for (const code of [null, '1', '53', '999', 'x']) {
        expect(PTT_CODES).toContain(pttOf(msg(status, code)));
      }
    }
  });
});

describe('descriptionDlrOf', () => {
  it('is the status word, or the carrier error text when failed', () => {
    expect(descriptionDlrOf(msg('delivered'))).toBe('delivered');
    expect(descriptionDlrOf(msg('pending'))).toBe('pending');
    expect(descriptionDlrOf(msg('expired'))).toBe('expired');
    expect(descriptionDlrOf(msg('canceled'))).toBe('canceled');
    expect(descriptionDlrOf(msg('failed', '3', 'Destination unreachable'))).toBe('Destination unreachable');
    expect(descriptionDlrOf(msg('failed', '3', null))).toBe('failed');
    expect(descriptionDlrOf(msg('failed', '3', ''))).toBe('failed');
  });
});

describe('operatorCodeOf', () => {
  it('is the raw carrier code or ""', () => {
    expect(operatorCodeOf(msg('failed', '0x0000000B'))).toBe('0x0000000B');
    expect(operatorCodeOf(msg('delivered'))).toBe('');
  });
});
