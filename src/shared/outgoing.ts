import type { Channel, Encoding, OutgoingStatus } from './status.js';

/** One row of the history: one message to one receiver (domain shape, camelCase, epoch ms times). */
export interface Outgoing {
  id: number;
  accountId: number;
  /** SMS user id, null when sent from the Manager or when the user was deleted. */
  userId: number | null;
  /** Login of the SMS user that sent it, null when none (kept after the user is deleted). */
  userLogin: string | null;
  channel: Channel;
  sender: string;
  /** E.164, e.g. +33612345678. */
  receiver: string;
  /** Null once redacted or when the account never stores texts. */
  message: string | null;
  encoding: Encoding;
  parts: number;
  credits: number;
  tag: string;
  status: OutgoingStatus;
  createdAt: number;
  sentAt: number | null;
  deliveredAt: number | null;
  failedAt: number | null;
  expiredAt: number | null;
  canceledAt: number | null;
  carrierMessageId: string | null;
  /** Carrier error code (SMPP command_status / err: value, or the OVH ptt code for the simulator). */
  errorCode: string | null;
  errorText: string | null;
  deferredUntil: number | null;
  validUntil: number | null;
  jobId: number | null;
}
