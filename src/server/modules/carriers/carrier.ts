import type { Clock } from '../../clock.js';
import { createSimulatorCarrier, parseSimulatorSpec } from './simulator.carrier.js';
import { createSmppCarrier, parseSmppUrl } from './smpp.carrier.js';

/** One outgoing SMS as the dispatcher hands it to a carrier. */
export interface CarrierMessage {
  /** Our outgoing id (history row id). */
  id: number;
  /** Alphanumeric (≤ 11 chars) or a number (`+33…` or a short code). */
  sender: string;
  /** E.164, e.g. `+33612345678`. */
  receiver: string;
  text: string;
  /** As computed by `analyzeSms` when the message was accepted; the parts are `splitSms(text, encoding)`. */
  encoding: 'gsm7' | 'ucs2';
  /** GSM message class (0 flash, 1 phone, 2 SIM, 3 terminal equipment), null for none. */
  messageClass: 0 | 1 | 2 | 3 | null;
  /** End of the validity period, epoch ms; null for the carrier's default. */
  validUntil: number | null;
  requestReceipt: boolean;
}

/**
 * What a carrier answered for a whole message.
 * - `ok`: every part accepted; `carrierMessageIds` has one id per part, in order. With receipts
 *   requested, receipts arrive per part (one per id).
 * - `retry: true`: temporary (throttled, queue full, disconnected, timeout): submit again later.
 *   After a disconnect or a timeout the carrier may have accepted it anyway (at-least-once).
 * - `retry: false`: permanent, the message is failed with `code` (SMPP command_status name such as
 *   `ESME_RINVDSTADR`, or the OVH ptt for the simulator) and a readable `reason`.
 */
export type SubmitResult =
  | { ok: true; carrierMessageIds: string[] }
  | { ok: false; retry: true; reason: string; code?: string }
  | { ok: false; retry: false; code: string; reason: string };

/**
 * A delivery receipt for one part (`carrierMessageId` is one of a `SubmitResult`'s ids). It may
 * arrive before the `submit` that produced the id has resolved, or name an id we never saw: the
 * receiver of receipts must park unmatched ones and match them again later.
 */
export interface Receipt {
  carrierMessageId: string;
  /** `sent` is an intermediate state (SMPP ENROUTE/ACCEPTED): the carrier holds the message. */
  status: 'delivered' | 'failed' | 'expired' | 'sent';
  /** When Relais received the receipt (epoch ms; the SMSC's own dates have no zone and minute precision). */
  at: number;
  /** SMPP `err:` value (e.g. `"001"`), or the OVH ptt for the simulator; null when none. */
  errorCode: string | null;
  /**
   * SMPP `stat:` word (e.g. `UNDELIV`), or a readable text for the simulator; null when none. The OVH
   * `ptt` of an SMPP failure comes from this word (`SMPP_STAT_PTT`), never from its `err:` code.
   */
  errorText: string | null;
  /** The receipt's text as received, for the record. */
  raw?: string;
}

/** Where Relais hands messages on. The dispatcher uses only this. */
export interface Carrier {
  /** `simulator` or `smpp`. */
  readonly name: string;
  /** Connects (SMPP binds) and starts delivering receipts to onReceipt (awaited; errors logged, never crash). */
  start(onReceipt: (r: Receipt) => Promise<void>): Promise<void>;
  /** Resolves once the carrier answered for every part (or with retry:true on timeout/disconnect). Never throws. */
  submit(message: CarrierMessage): Promise<SubmitResult>;
  /** Whether submit would be attempted now (bound and window not full), for the dispatcher's pacing. */
  readonly ready: boolean;
  /**
   * Submit PDUs (parts) it keeps unanswered, at most (SMPP `window`); none for an unbounded carrier.
   * The dispatcher also keeps at most this many parts handed over and not yet recorded, so a crash
   * sends at most this many again.
   */
  readonly window?: number;
  /** Stops: waits briefly for submits in flight, answers the rest retry:true, unbinds. */
  close(): Promise<void>;
}

/** The logger a carrier writes to; a pino logger fits. */
export interface CarrierLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CarrierDeps {
  clock: Clock;
  log: CarrierLog;
}

/**
 * The carrier named by `RELAIS_CARRIER`: `simulator` (optionally `simulator?tps=…&receipt_delay=…`,
 * see `parseSimulatorSpec`) or `smpp://system_id:password@host:port?…` (see `parseSmppUrl`).
 * Throws an Error saying what is wrong when the spec is invalid.
 */
export function createCarrier(spec: string, deps: CarrierDeps): Carrier {
  const trimmed = spec.trim();
  if (trimmed === 'simulator' || trimmed.startsWith('simulator?')) {
    return createSimulatorCarrier(parseSimulatorSpec(trimmed), deps);
  }
  if (/^smpps?:\/\//i.test(trimmed)) return createSmppCarrier(parseSmppUrl(trimmed), deps);
  throw new Error(`carrier must be "simulator" or smpp://system_id:password@host:port?…, got "${spec}"`);
}
