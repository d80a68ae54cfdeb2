import { getTimeFormatter, type TimeFormatter } from './account-time.js';
import type { Outgoing } from './outgoing.js';
import { deliveryReceiptOf, descriptionDlrOf, operatorCodeOf, pttOf } from './ovh-codes.js';
import type { Channel, Encoding, OutgoingStatus } from './status.js';

/** History export formats: `seed` is the Manager's "Télécharger l'historique" (PRODUCT.md), `detailed` has every field. */
export type CsvFormat = 'seed' | 'detailed';

/** Builds the lines of one CSV export; every line, header included, ends with `\n`. */
export interface CsvFormatter<T = Outgoing> {
  readonly header: string;
  row(o: T): string;
  readonly contentType: 'text/csv; charset=utf-8';
}

/** What a line of the seed format prints. */
export type SeedCsvFields = Pick<Outgoing, 'createdAt' | 'sender' | 'receiver' | 'message' | 'status'>;

/** The public JSON shape of one outgoing SMS (native API and JSON-lines export); times are ISO 8601 with the account's offset. */
export interface PublicOutgoing {
  id: number;
  createdAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
  expiredAt: string | null;
  canceledAt: string | null;
  sender: string;
  receiver: string;
  message: string | null;
  status: OutgoingStatus;
  user: string | null;
  channel: Channel;
  tag: string;
  parts: number;
  credits: number;
  encoding: Encoding;
  carrierMessageId: string | null;
  errorCode: string | null;
  errorText: string | null;
  deferredUntil: string | null;
  validUntil: string | null;
  ptt: number;
  deliveryReceipt: number;
}

/** `=` `+` `-` `@` TAB CR, by char code (exported for the SQL copy of `inner`, seed-csv-sql.ts). */
export const FORMULA_START_CODES: readonly number[] = [0x3d, 0x2b, 0x2d, 0x40, 0x09, 0x0d];
const FORMULA_START = new Set(FORMULA_START_CODES);
/** A plain number or phone number, left as it is even when it starts like a formula. */
const PLAIN_NUMBER = /^[+-]?\d[\dxX ]*$/;

/**
 * One quoted CSV value: `"` doubled, newlines kept. A value a spreadsheet would run as a formula (first
 * character `=` `+` `-` `@` TAB or CR) gets a leading `'`, unless it is a plain number or phone number
 * (`+33612345678`, `-12`, masked `+336xxxxxxxx`).
 */
export function csvCell(value: string): string {
  return `"${inner(value)}"`;
}

/** The text of a cell between its quotes; the value itself (no copy) in the common case. */
function inner(value: string): string {
  if (value === '') return value;
  let v = value;
  if (FORMULA_START.has(v.charCodeAt(0)) && !PLAIN_NUMBER.test(v)) v = `'${v}`;
  return v.includes('"') ? v.replaceAll('"', '""') : v;
}

/** The seed format's lines (PRODUCT.md), dates in `timeZone`. */
export function createSeedCsvFormatter(timeZone: string): CsvFormatter<SeedCsvFields> {
  const t = getTimeFormatter(timeZone);
  return {
    header: 'date;sender;receiver;message;status\n',
    contentType: 'text/csv; charset=utf-8',
    row: (o) => `"${t.compact(o.createdAt)}";"${inner(o.sender)}";"${inner(o.receiver)}";"${inner(o.message ?? '')}";"${o.status}"\n`,
  };
}

/** The CSV lines of an export in `format`, dates in `timeZone` (an IANA name; throws an Error when unknown). */
export function createCsvFormatter(format: CsvFormat, timeZone: string): CsvFormatter {
  const t = getTimeFormatter(timeZone);
  const contentType = 'text/csv; charset=utf-8';
  if (format === 'seed') return createSeedCsvFormatter(timeZone);
  return {
    header: 'id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt;user;channel;status\n',
    contentType,
    row(o) {
      const operatorCode = operatorCodeOf(o);
      const dlr = descriptionDlrOf(o);
      return `"${o.id}";"${t.sql(o.createdAt)}";"${inner(o.sender)}";"${inner(o.receiver)}";"${pttOf(o)}";"${operatorCode === '' ? '' : inner(operatorCode)}";"${dlr === o.status ? dlr : inner(dlr)}";"${inner(o.tag)}";"${o.message === null ? '' : inner(o.message)}";"${o.sentAt === null ? '' : t.sql(o.sentAt)}";"${o.deliveredAt === null ? '' : t.sql(o.deliveredAt)}";"${o.userLogin === null ? '' : inner(o.userLogin)}";"${o.channel}";"${o.status}"\n`;
    },
  };
}

/** The public JSON object of `o`, times formatted by `fmt` (the account's timezone). */
export function toPublicOutgoing(o: Outgoing, fmt: TimeFormatter): PublicOutgoing {
  return {
    id: o.id,
    createdAt: fmt.iso(o.createdAt),
    sentAt: isoOrNull(fmt, o.sentAt),
    deliveredAt: isoOrNull(fmt, o.deliveredAt),
    failedAt: isoOrNull(fmt, o.failedAt),
    expiredAt: isoOrNull(fmt, o.expiredAt),
    canceledAt: isoOrNull(fmt, o.canceledAt),
    sender: o.sender,
    receiver: o.receiver,
    message: o.message,
    status: o.status,
    user: o.userLogin,
    channel: o.channel,
    tag: o.tag,
    parts: o.parts,
    credits: o.credits,
    encoding: o.encoding,
    carrierMessageId: o.carrierMessageId,
    errorCode: o.errorCode,
    errorText: o.errorText,
    deferredUntil: isoOrNull(fmt, o.deferredUntil),
    validUntil: isoOrNull(fmt, o.validUntil),
    ptt: pttOf(o),
    deliveryReceipt: deliveryReceiptOf(o),
  };
}

/**
 * A JSON string, with U+2028 and U+2029 escaped too: JSON allows them raw, but readers that split on every
 * Unicode line break (Python's `splitlines`, JavaScript before ES2019) would cut a record there.
 */
function jsonText(value: string | null): string {
  const text = JSON.stringify(value);
  return /[\u2028\u2029]/.test(text) ? text.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029') : text;
}

/**
 * One JSON-lines export record (ends with `\n`): the text of `JSON.stringify(toPublicOutgoing(o))` (U+2028 and
 * U+2029 escaped), written directly (3× faster). `zone` is an IANA name or a formatter made for it.
 */
export function jsonLine(o: Outgoing, zone: string | TimeFormatter): string {
  const f = typeof zone === 'string' ? getTimeFormatter(zone) : zone;
  return `{"id":${o.id},"createdAt":"${f.iso(o.createdAt)}","sentAt":${jsonTime(f, o.sentAt)},"deliveredAt":${jsonTime(f, o.deliveredAt)},"failedAt":${jsonTime(f, o.failedAt)},"expiredAt":${jsonTime(f, o.expiredAt)},"canceledAt":${jsonTime(f, o.canceledAt)},"sender":${jsonText(o.sender)},"receiver":${jsonText(o.receiver)},"message":${jsonText(o.message)},"status":"${o.status}","user":${jsonText(o.userLogin)},"channel":"${o.channel}","tag":${jsonText(o.tag)},"parts":${o.parts},"credits":${o.credits},"encoding":"${o.encoding}","carrierMessageId":${jsonText(o.carrierMessageId)},"errorCode":${jsonText(o.errorCode)},"errorText":${jsonText(o.errorText)},"deferredUntil":${jsonTime(f, o.deferredUntil)},"validUntil":${jsonTime(f, o.validUntil)},"ptt":${pttOf(o)},"deliveryReceipt":${deliveryReceiptOf(o)}}\n`;
}

function isoOrNull(fmt: TimeFormatter, ms: number | null): string | null {
  return ms === null ? null : fmt.iso(ms);
}

function jsonTime(fmt: TimeFormatter, ms: number | null): string {
  return ms === null ? 'null' : `"${fmt.iso(ms)}"`;
}
