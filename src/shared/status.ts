/** Status of one outgoing SMS (PRODUCT.md "Status of an outgoing SMS"). */
export const OUTGOING_STATUSES = ['pending', 'sent', 'delivered', 'failed', 'expired', 'canceled'] as const;
export type OutgoingStatus = (typeof OUTGOING_STATUSES)[number];

/** Statuses after which a message never changes again. */
export const FINAL_STATUSES: readonly OutgoingStatus[] = ['delivered', 'failed', 'expired', 'canceled'];

/** How a message entered Relais. */
export const CHANNELS = ['manager', 'api', 'ovh-api', 'http2sms', 'mail2sms', 'smpp'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Text encoding of an SMS on the air. */
export const ENCODINGS = ['gsm7', 'ucs2'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export function isOutgoingStatus(value: string): value is OutgoingStatus {
  return (OUTGOING_STATUSES as readonly string[]).includes(value);
}

export function isChannel(value: string): value is Channel {
  return (CHANNELS as readonly string[]).includes(value);
}
