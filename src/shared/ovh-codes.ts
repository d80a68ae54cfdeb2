import type { Outgoing } from './outgoing.js';
import type { OutgoingStatus } from './status.js';

/** OVH `deliveryReceipt` values (OVH-COMPAT.md §1 "Codes"). */
export const DELIVERY_RECEIPT = {
  pending: 0,
  delivered: 1,
  failed: 2,
  waiting: 4,
  buffered: 8,
  errorNotBilled: 16,
} as const;

/** OVH `ptt` values: carrier error codes on a message (OVH-COMPAT.md §1 "Codes"). */
export const PTT_CODES = [0, 1, 2, 3, 4, 5, 6, 7, 9, 53, 54, 100, 101, 103, 254, 255, 801, 802, 803, 804] as const;
export type PttCode = (typeof PTT_CODES)[number];

const PTT_NO_ERROR = 0;
const PTT_PENDING = 254;
const PTT_UNKNOWN = 255;
const PTT_EXPIRED = 801;
const PTT_DELETED = 802;

const FAILURE_PTT = new Set<number>(PTT_CODES.filter((c) => c !== PTT_NO_ERROR && c !== PTT_PENDING));

const RECEIPT_BY_STATUS: Record<OutgoingStatus, number> = {
  pending: DELIVERY_RECEIPT.pending,
  sent: DELIVERY_RECEIPT.buffered,
  delivered: DELIVERY_RECEIPT.delivered,
  failed: DELIVERY_RECEIPT.failed,
  expired: DELIVERY_RECEIPT.failed,
  canceled: DELIVERY_RECEIPT.errorNotBilled,
};

/** OVH `deliveryReceipt` of a message: 0 pending, 8 sent (buffered at the carrier), 1 delivered, 2 failed or expired, 16 canceled. */
export function deliveryReceiptOf(o: Pick<Outgoing, 'status'>): number {
  return RECEIPT_BY_STATUS[o.status];
}

/**
 * OVH `ptt` of each SMPP delivery receipt `stat:` word (short and long forms). The SMPP carrier records
 * a failed or expired receipt with its stat word as the error text and its raw `err:` value (a
 * network- or SMSC-specific code, not an OVH one) as the error code.
 */
export const SMPP_STAT_PTT: Readonly<Record<string, number>> = Object.freeze({
  DELIVRD: PTT_NO_ERROR,
  DELIVERED: PTT_NO_ERROR,
  ACCEPTD: PTT_NO_ERROR,
  ACCEPTED: PTT_NO_ERROR,
  ENROUTE: PTT_NO_ERROR,
  SCHEDULED: PTT_NO_ERROR,
  UNDELIV: 9,
  UNDELIVERABLE: 9,
  EXPIRED: PTT_EXPIRED,
  DELETED: PTT_DELETED,
  REJECTD: 803,
  REJECTED: 803,
  UNKNOWN: 804,
  SKIPPED: PTT_UNKNOWN,
});

/**
 * OVH `ptt` of a message: 0 sent or delivered, 254 pending, 801 expired, 802 canceled; when failed: by
 * the SMPP receipt's stat word when the error text is one (UNDELIV 9, REJECTD 803, DELETED 802,
 * UNKNOWN 804, see `SMPP_STAT_PTT`; its `err:` code is never read as a ptt), else the carrier's
 * `errorCode` if it is an OVH error ptt (the simulator's; not 0 nor 254), else 255 (unknown).
 */
export function pttOf(o: Pick<Outgoing, 'status' | 'errorCode' | 'errorText'>): number {
  switch (o.status) {
    case 'sent':
    case 'delivered':
      return PTT_NO_ERROR;
    case 'pending':
      return PTT_PENDING;
    case 'expired':
      return PTT_EXPIRED;
    case 'canceled':
      return PTT_DELETED;
    case 'failed': {
      const stat = o.errorText !== null && Object.hasOwn(SMPP_STAT_PTT, o.errorText) ? SMPP_STAT_PTT[o.errorText] : undefined;
      if (stat !== undefined) return FAILURE_PTT.has(stat) ? stat : PTT_UNKNOWN;
      const code = o.errorCode !== null && /^\d{1,3}$/.test(o.errorCode) ? Number(o.errorCode) : Number.NaN;
      return FAILURE_PTT.has(code) ? code : PTT_UNKNOWN;
    }
  }
}

/** Short English text of the delivery state (OVH `descriptionDlr`): the status word, or the carrier's error text when failed. */
export function descriptionDlrOf(o: Pick<Outgoing, 'status' | 'errorText'>): string {
  if (o.status === 'failed' && o.errorText) return o.errorText;
  return o.status;
}

/** The carrier's raw error code (detailed CSV `operatorCode`), "" when none. */
export function operatorCodeOf(o: Pick<Outgoing, 'errorCode'>): string {
  return o.errorCode ?? '';
}
