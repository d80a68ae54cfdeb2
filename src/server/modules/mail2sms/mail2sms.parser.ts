/**
 * Reading a mail2sms mail (OVH-COMPAT §4) once mailparser has decoded it: the subject's fields, the
 * text and the receivers. Pure: no I/O, never throws; every input gives a request or a refusal.
 *
 * Subject, positional: `Account:Login:Password:From:To[,To2…][:Deferred:Class:smsCoding:NoStop]`,
 * fields separated by `:` or `;` (empty optional fields keep their default); or named, in any order
 * and with case-insensitive keys: `Account=…;Login=…;Password=…;From=…;To=…;Deferred=…;Class=…;
 * smsCoding=…;NoStop=…;Tag=…`. `From` may be `senderForResponse=1`. `To` may be left out when an
 * attached `contact….txt` file lists the receivers, one a line (both are used when both are given).
 *
 * Text: the text/plain part, else the HTML reduced to text; blank lines at the start are skipped and
 * everything from the first blank line (two consecutive newlines), a `--end` line or a `-- `
 * signature line on is ignored.
 */

import { excerpt } from '../../input-text.js';
import { MAX_MESSAGE_LENGTH, MAX_RECEIVERS } from '../sending/sending.service.js';

/** A wall-clock time in the account's timezone (`Deferred`, `hhmmddMMYYYY`). */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** A well-formed mail2sms request; credentials, sender and numbers are still to be checked. */
export interface Mail2SmsRequest {
  account: string;
  login: string;
  password: string;
  /** null when `senderForResponse`. */
  sender: string | null;
  senderForResponse: boolean;
  /** As written (subject `To` first, then the contact file), de-duplicated; numbers are checked later. */
  receivers: string[];
  message: string;
  deferred: WallTime | null;
  class: 'flash' | 'phoneDisplay' | 'sim' | 'toolkit' | null;
  coding: '7bit' | '8bit' | null;
  noStopClause: boolean;
  tag: string | null;
}

/** Why a mail is refused before any credential is looked at. */
export type Mail2SmsParseRefusalReason =
  | 'MALFORMED_SUBJECT'
  | 'MISSING_FIELD'
  | 'INVALID_FIELD'
  | 'NO_RECEIVER'
  | 'TOO_MANY_RECEIVERS'
  | 'EMPTY_TEXT'
  | 'TEXT_TOO_LONG';

export interface Mail2SmsParseRefusal {
  ok: false;
  reason: Mail2SmsParseRefusalReason;
  /** For people: says what was wrong and how it should look. */
  message: string;
}

export type Mail2SmsParseResult = { ok: true; request: Mail2SmsRequest } | Mail2SmsParseRefusal;

/** What the parser needs from a decoded mail (mailparser's `ParsedMail` fits). */
export interface Mail2SmsMail {
  subject?: string;
  text?: string;
  html?: string | false;
  attachments?: readonly { filename?: string; contentType?: string; content: Uint8Array }[];
}

/** OVH's limit on a tag (as http2sms). */
export const MAIL2SMS_MAX_TAG_LENGTH = 20;

const POSITIONAL_HELP =
  'expected Account:Login:Password:From:To[:Deferred:Class:smsCoding:NoStop] or Account=…;Login=…;Password=…;From=…;To=…';
const CLASSES = { '0': 'flash', '1': 'phoneDisplay', '2': 'sim', '3': 'toolkit' } as const;
const CODINGS = { '1': '7bit', '2': '8bit' } as const;

type Field = 'account' | 'login' | 'password' | 'from' | 'to' | 'deferred' | 'class' | 'smsCoding' | 'noStop' | 'tag' | 'senderForResponse';
/** Named-form keys, lower-cased, and the field each names. */
const KEYS: Readonly<Record<string, Field>> = {
  account: 'account',
  login: 'login',
  password: 'password',
  from: 'from',
  to: 'to',
  deferred: 'deferred',
  class: 'class',
  smscoding: 'smsCoding',
  smsencoding: 'smsCoding',
  nostop: 'noStop',
  tag: 'tag',
  senderforresponse: 'senderForResponse',
};
const LABELS: Readonly<Record<Field, string>> = {
  account: 'Account',
  login: 'Login',
  password: 'Password',
  from: 'From',
  to: 'To',
  deferred: 'Deferred',
  class: 'Class',
  smsCoding: 'smsCoding',
  noStop: 'NoStop',
  tag: 'Tag',
  senderForResponse: 'senderForResponse',
};
const POSITIONS: readonly Field[] = ['account', 'login', 'password', 'from', 'to', 'deferred', 'class', 'smsCoding', 'noStop'];
/** A separator that starts a named field: `;Login=`, `: to =`… (only known keys, so a password may hold `;` or `:`). */
const NAMED_SEPARATOR = new RegExp(`[;:](?=\\s*(?:${Object.keys(KEYS).join('|')})\\s*=)`, 'i');
const SENDER_FOR_RESPONSE = /^senderforresponse\s*=\s*1$/i;

function refuse(reason: Mail2SmsParseRefusalReason, message: string): Mail2SmsParseRefusal {
  return { ok: false, reason, message };
}

/** A value as it may be echoed in a reply: quoted, at most 40 characters, printable. */
export function quote(value: string): string {
  return `"${excerpt(value.replace(/\p{Cc}/gu, ' '))}"`;
}

/** `hhmmddMMYYYY` (OVH's order: hour, minute, day, month, year) as a wall-clock time, or undefined. */
export function parseDeferred(value: string): WallTime | undefined {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{4})$/.exec(value.trim());
  if (!m) return undefined;
  const [hour, minute, day, month, year] = m.slice(1).map(Number);
  if (hour > 23 || minute > 59 || month < 1 || month > 12 || year < 1970) return undefined;
  if (day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return undefined;
  return { year, month, day, hour, minute, second: 0 };
}

/** The subject's fields, as written (trimmed); a field left empty is absent. */
export type SubjectFields = Partial<Record<Field, string>>;

/**
 * `text` without the separators and spaces ending it. (A loop: a regular expression anchored at the end,
 * `/[;:\s]+$/`, tries every run of separators and is quadratic on a subject full of them.)
 */
function trimSeparatorsEnd(text: string): string {
  let end = text.length;
  while (end > 0 && /[;:\s]/.test(text[end - 1])) end--;
  return text.slice(0, end);
}

/** Splits a subject into its fields (positional or named form), or refuses it as malformed. */
export function splitSubject(subject: string): { ok: true; fields: SubjectFields } | Mail2SmsParseRefusal {
  const text = subject.replace(/[\r\n\t]+/g, ' ').trim();
  const named = text.split(/[:;]/, 1)[0].includes('=');
  if (text === '') return refuse('MALFORMED_SUBJECT', `Malformed subject: it is empty; ${POSITIONAL_HELP}`);
  const fields: SubjectFields = {};
  if (named) {
    // A separator ending the subject ends the last field; inside, only a password may end with one.
    for (const piece of trimSeparatorsEnd(text).split(NAMED_SEPARATOR)) {
      if (piece.trim() === '') continue;
      const eq = piece.indexOf('=');
      const key = eq === -1 ? undefined : KEYS[piece.slice(0, eq).trim().toLowerCase()];
      if (!key) {
        return refuse('MALFORMED_SUBJECT', `Malformed subject: ${quote(piece.trim())} is not a known Key=value field; ${POSITIONAL_HELP}`);
      }
      const raw = piece.slice(eq + 1).trim();
      const value = key === 'password' ? raw : trimSeparatorsEnd(raw);
      // Only a password may hold a separator: elsewhere, what follows one is a field we do not know.
      const stray = key === 'password' ? -1 : value.search(/[;:]/);
      if (stray !== -1) {
        return refuse(
          'MALFORMED_SUBJECT',
          `Malformed subject: ${quote(value.slice(stray + 1).trim())} is not a known Key=value field; ${POSITIONAL_HELP}`,
        );
      }
      if (key === 'to' && fields.to !== undefined) {
        fields.to = `${fields.to},${value}`;
      } else if (fields[key] !== undefined) {
        return refuse('MALFORMED_SUBJECT', `Malformed subject: ${LABELS[key]} is given twice`);
      } else if (value !== '') {
        fields[key] = value;
      }
    }
    return { ok: true, fields };
  }
  const parts = text.split(/[:;]/).map((p) => p.trim());
  while (parts.length > 5 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length < 4 || parts.length > POSITIONS.length) {
    return refuse(
      'MALFORMED_SUBJECT',
      `Malformed subject: ${parts.length} fields separated by ":" or ";" (${POSITIONAL_HELP}; use the named form if the password holds ":" or ";")`,
    );
  }
  parts.forEach((value, i) => {
    if (value !== '') fields[POSITIONS[i]] = value;
  });
  return { ok: true, fields };
}

function flag(field: Field, value: string | undefined): boolean | Mail2SmsParseRefusal {
  if (value === undefined || value === '0') return false;
  if (value === '1') return true;
  return refuse('INVALID_FIELD', `Invalid ${LABELS[field]}: ${quote(value)}, expected 1 or 0`);
}

/** The subject's fields checked and typed; `to` may be empty (receivers may come from a contact file). */
export function parseSubject(
  subject: string,
): { ok: true; fields: Omit<Mail2SmsRequest, 'receivers' | 'message'> & { to: string[] } } | Mail2SmsParseRefusal {
  const split = splitSubject(subject);
  if (!split.ok) return split;
  const f = split.fields;
  let senderForResponse = flag('senderForResponse', f.senderForResponse);
  if (typeof senderForResponse !== 'boolean') return senderForResponse;
  if (f.from !== undefined && SENDER_FOR_RESPONSE.test(f.from)) senderForResponse = true;
  for (const field of ['account', 'login', 'password', 'from'] as const) {
    if (field === 'from' && senderForResponse) continue;
    if (f[field] === undefined) return refuse('MISSING_FIELD', `Missing ${LABELS[field]} in the subject; ${POSITIONAL_HELP}`);
  }
  const noStop = flag('noStop', f.noStop);
  if (typeof noStop !== 'boolean') return noStop;
  let deferred: WallTime | null = null;
  if (f.deferred !== undefined) {
    const parsed = parseDeferred(f.deferred);
    if (!parsed) {
      return refuse(
        'INVALID_FIELD',
        `Invalid Deferred: ${quote(f.deferred)}, expected hhmmddMMYYYY in the account's timezone (183019072025: 19/07/2025 at 18:30)`,
      );
    }
    deferred = parsed;
  }
  if (f.class !== undefined && !(f.class in CLASSES)) {
    return refuse('INVALID_FIELD', `Invalid Class: ${quote(f.class)}, expected 0 (flash), 1 (phone), 2 (SIM) or 3 (toolkit)`);
  }
  if (f.smsCoding !== undefined && !(f.smsCoding in CODINGS)) {
    return refuse('INVALID_FIELD', `Invalid smsCoding: ${quote(f.smsCoding)}, expected 1 (7-bit) or 2 (Unicode)`);
  }
  if (f.tag !== undefined && f.tag.length > MAIL2SMS_MAX_TAG_LENGTH) {
    return refuse('INVALID_FIELD', `Invalid Tag: is too long (at most ${MAIL2SMS_MAX_TAG_LENGTH} characters)`);
  }
  return {
    ok: true,
    fields: {
      account: f.account!,
      login: f.login!,
      password: f.password!,
      sender: senderForResponse ? null : f.from!,
      senderForResponse,
      to: splitReceivers(f.to ?? ''),
      deferred,
      class: f.class === undefined ? null : CLASSES[f.class as keyof typeof CLASSES],
      coding: f.smsCoding === undefined ? null : CODINGS[f.smsCoding as keyof typeof CODINGS],
      noStopClause: noStop,
      tag: f.tag ?? null,
    },
  };
}

function splitReceivers(value: string): string[] {
  return value
    .split(/[,\r\n]+/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  euro: '€',
  laquo: '«',
  raquo: '»',
  hellip: '…',
  rsquo: '’',
  lsquo: '‘',
  ldquo: '“',
  rdquo: '”',
  ndash: '–',
  mdash: '—',
  copy: '©',
  reg: '®',
  eacute: 'é',
  egrave: 'è',
  ecirc: 'ê',
  euml: 'ë',
  agrave: 'à',
  acirc: 'â',
  auml: 'ä',
  ccedil: 'ç',
  icirc: 'î',
  iuml: 'ï',
  ocirc: 'ô',
  ouml: 'ö',
  ugrave: 'ù',
  ucirc: 'û',
  uuml: 'ü',
  oelig: 'œ',
  aelig: 'æ',
  szlig: 'ß',
  Eacute: 'É',
  Egrave: 'È',
  Ecirc: 'Ê',
  Agrave: 'À',
  Acirc: 'Â',
  Ccedil: 'Ç',
  Ocirc: 'Ô',
  OElig: 'Œ',
  deg: '°',
};

function decodeEntities(text: string): string {
  return text.replace(/&(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});/g, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code < 0xe000) ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[name] ?? whole;
  });
}

const BLOCK_TAGS = new Set([
  'p',
  'div',
  'li',
  'ul',
  'ol',
  'tr',
  'table',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'pre',
  'section',
  'article',
  'header',
  'footer',
  'hr',
  'dd',
  'dt',
  'dl',
  'address',
  'center',
  'body',
  'form',
]);

/**
 * HTML reduced to text, minimally: no head, style, script or comments; `<br>` is a line break; a
 * block element (`p`, `div`, `li`, `tr`…) starts and ends a line; other whitespace collapses as a
 * browser shows it; entities decoded. So Gmail's `<div><br></div>` and Outlook's `<p>&nbsp;</p>`
 * are blank lines, as they look.
 */
export function htmlToText(html: string): string {
  const cleaned = html
    .replace(/<!--[\s\S]*?(?:-->|$)/g, '')
    .replace(/<(head|style|script|title)\b[^>]*(?:>[\s\S]*?(?:<\/\1\s*>|$)|$)/gi, '');
  const lines: string[] = [];
  let line = '';
  const tagLike = /<[!?/]?[A-Za-z][^>]*(?:>|$)/g;
  const addText = (raw: string) => {
    const text = raw.replace(tagLike, '').replace(/[ \t\r\n\f]+/g, ' ');
    line += line === '' || line.endsWith(' ') ? text.replace(/^ /, '') : text;
  };
  const endLine = () => {
    // A stray "<" before a removed tag and the letters after it (`<</b>P`) make a tag-like residue: dropped too.
    lines.push(decodeEntities(line.replace(tagLike, '').replace(/ $/, '')));
    line = '';
  };
  // A tag never closed runs to the end of the text, as a browser reads it (and each `<` is not tried
  // again to the end: `<a<a<a…` was quadratic).
  const tag = /<(\/?)([A-Za-z][A-Za-z0-9]*)\b[^>]*(?:>|$)/g;
  let last = 0;
  for (let m = tag.exec(cleaned); m !== null; m = tag.exec(cleaned)) {
    addText(cleaned.slice(last, m.index));
    last = m.index + m[0].length;
    const name = m[2].toLowerCase();
    if (name === 'br' || (BLOCK_TAGS.has(name) && line !== '')) endLine();
  }
  addText(cleaned.slice(last));
  if (line !== '') endLine();
  return lines.join('\n');
}

/**
 * The SMS text of a mail body: CRLF as LF, leading blank lines skipped, cut at the first blank line
 * (two consecutive newlines, a line of only spaces counts as empty), a `--end` line or a `-- `
 * signature line; trailing spaces of each line dropped.
 */
export function extractText(body: string): string {
  const lines = body.replace(/\r\n?/g, '\n').split('\n');
  const blank = (line: string) => /^[\s\u00a0\u200b\ufeff]*$/.test(line);
  let i = 0;
  while (i < lines.length && blank(lines[i])) i++;
  const kept: string[] = [];
  for (; i < lines.length; i++) {
    const line = lines[i];
    if (blank(line) || /^\s*--\s*end\s*$/i.test(line) || /^--\s?$/.test(line)) break;
    kept.push(line.trimEnd());
  }
  return kept.join('\n');
}

/** True for an attachment that lists receivers: a `.txt` file whose name holds "contact". */
export function isContactFile(filename: string | undefined): boolean {
  return filename !== undefined && /contact[^/\\]*\.txt$/i.test(filename.trim());
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** The receivers of a contact file: one a line (commas also split), blank lines skipped. */
export function contactFileReceivers(content: Uint8Array): string[] {
  let text: string;
  if (content[0] === 0xff && content[1] === 0xfe) {
    // UTF-16 with its byte order mark, as Windows Notepad saves "Unicode".
    text = new TextDecoder('utf-16le').decode(content);
  } else if (content[0] === 0xfe && content[1] === 0xff) {
    text = new TextDecoder('utf-16be').decode(content);
  } else {
    try {
      text = utf8.decode(content);
    } catch {
      text = latin1.decode(content);
    }
  }
  return splitReceivers(text.replace(/^\ufeff/, ''));
}

/** The whole mail: subject, text and receivers, or the first reason to refuse it. */
export function parseMail2Sms(mail: Mail2SmsMail): Mail2SmsParseResult {
  const subject = parseSubject(mail.subject ?? '');
  if (!subject.ok) return subject;
  const { to, ...fields } = subject.fields;

  // Distinct receivers, counted as they are read: a file far over the limit is refused without more.
  const receivers = new Set(to);
  for (const attachment of mail.attachments ?? []) {
    if (!isContactFile(attachment.filename)) continue;
    for (const receiver of contactFileReceivers(attachment.content)) {
      receivers.add(receiver);
      if (receivers.size > MAX_RECEIVERS) {
        return refuse('TOO_MANY_RECEIVERS', `Too many receivers: more than ${MAX_RECEIVERS} in one mail`);
      }
    }
  }
  if (receivers.size > MAX_RECEIVERS) {
    return refuse('TOO_MANY_RECEIVERS', `Too many receivers: more than ${MAX_RECEIVERS} in one mail`);
  }
  if (receivers.size === 0) {
    return refuse('NO_RECEIVER', 'No receiver: give To in the subject or attach a contact .txt file with one number a line');
  }

  const body = mail.text !== undefined && mail.text.trim() !== '' ? mail.text : typeof mail.html === 'string' ? htmlToText(mail.html) : '';
  const message = extractText(body);
  if (message.trim() === '') {
    return refuse('EMPTY_TEXT', 'Empty text: the body holds no text before the first blank line or --end line');
  }
  if (message.length > MAX_MESSAGE_LENGTH) {
    return refuse('TEXT_TOO_LONG', `Text too long: ${message.length} characters, at most ${MAX_MESSAGE_LENGTH}`);
  }
  return { ok: true, request: { ...fields, receivers: [...receivers], message } };
}
