/**
 * Reading http2sms parameters from the raw query string and form body (OVH-COMPAT §3).
 *
 * We parse the raw bytes ourselves instead of using Fastify's parsers, which decode `%XX` as UTF-8:
 * - text is UTF-8 unless the request names another charset: a `charset` parameter (query or form,
 *   e.g. `charset=ISO-8859-1`), else the `charset` of the Content-Type header. Any WHATWG encoding
 *   label works; ISO-8859-1/latin1 is read as Windows-1252, as browsers do (0x80–0x9F are printable
 *   characters such as € there, control characters in strict ISO-8859-1);
 * - without a charset, a value whose bytes are not valid UTF-8 is read as Windows-1252 (old scripts
 *   that send Latin-1 without saying so) rather than turned into U+FFFD;
 * - parameter names are matched case-insensitively (`smsCoding`, `smscoding`; `SMSencoding`, the
 *   spelling of OVH's English guide, is an alias); unknown names are ignored;
 * - a repeated parameter: the last one wins, except `to`, whose values are joined with commas;
 *   body parameters come after query parameters;
 * - in `to`, a literal `+` that starts a number (`to=+33612345678`, sent unencoded by many scripts)
 *   stays a `+`; other literal `+` are spaces, as in any form.
 */

/** The parameters as sent (decoded text); undefined when absent. */
export interface Http2smsParams {
  account?: string;
  login?: string;
  password?: string;
  from?: string;
  to?: string;
  message?: string;
  deferred?: string;
  class?: string;
  smsCoding?: string;
  noStop?: string;
  tag?: string;
  contentType?: string;
  senderForResponse?: string;
  charset?: string;
}

export type Http2smsParamName = keyof Http2smsParams;

const NAMES: ReadonlyMap<string, Http2smsParamName> = new Map(
  Object.entries({
    account: 'account',
    login: 'login',
    password: 'password',
    from: 'from',
    to: 'to',
    message: 'message',
    deferred: 'deferred',
    class: 'class',
    smscoding: 'smsCoding',
    smsencoding: 'smsCoding',
    nostop: 'noStop',
    tag: 'tag',
    contenttype: 'contentType',
    senderforresponse: 'senderForResponse',
    charset: 'charset',
  } satisfies Record<string, Http2smsParamName>),
);

export interface ReadParamsInput {
  /** The raw query string (after `?`, still percent-encoded), or ''. */
  query: string;
  /** The raw `application/x-www-form-urlencoded` body, if any. */
  body?: Uint8Array;
  /** The request's Content-Type header, for its `charset`. */
  contentType?: string;
}

export type ReadParamsResult = { ok: true; params: Http2smsParams } | { ok: false; params: Http2smsParams; error: string };

const SIMPLE = /^[\x20-\x24\x26-\x2a\x2c-\x7e]*$/; // printable ASCII without % and +
const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/** Bytes to text. */
type Decoder = (bytes: Uint8Array) => string;

// Windows-1252's 0x80–0x9F (WHATWG; the five holes stay C1 controls). Done by hand: some Node versions
// decode the `windows-1252` label as strict ISO-8859-1.
const CP1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const windows1252: Decoder = (bytes) => {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    out += b >= 0x80 && b < 0xa0 ? CP1252_HIGH[b - 0x80] : String.fromCharCode(b);
  }
  return out;
};
/** Every label of the Windows-1252 family in the WHATWG Encoding standard (ISO-8859-1 is one). */
const CP1252_LABELS = new Set([
  'ansi_x3.4-1968',
  'ascii',
  'cp1252',
  'cp819',
  'csisolatin1',
  'ibm819',
  'iso-8859-1',
  'iso-ir-100',
  'iso8859-1',
  'iso88591',
  'iso_8859-1',
  'iso_8859-1:1987',
  'l1',
  'latin1',
  'us-ascii',
  'windows-1252',
  'x-cp1252',
]);
const HEX: Record<string, number> = {};
for (let i = 0; i < 16; i++) {
  HEX[i.toString(16)] = i;
  HEX[i.toString(16).toUpperCase()] = i;
}

/** The bytes of a raw form value: `%XX` escapes decoded (a stray `%` kept), `+` as space. */
export function percentDecodeToBytes(raw: string, plusIsSpace = true): Uint8Array {
  const out = new Uint8Array(raw.length * 3);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 && i + 2 < raw.length && HEX[raw[i + 1]] !== undefined && HEX[raw[i + 2]] !== undefined) {
      out[n++] = HEX[raw[i + 1]] * 16 + HEX[raw[i + 2]];
      i += 2;
    } else if (c === 0x2b && plusIsSpace) {
      out[n++] = 0x20;
    } else if (c < 0x100) {
      // Raw bytes ≥ 0x80 arrive as latin1 characters (one per byte).
      out[n++] = c;
    } else {
      const bytes = Buffer.from(raw.slice(i, i + (c >= 0xd800 && c < 0xdc00 ? 2 : 1)), 'utf8');
      out.set(bytes, n);
      n += bytes.length;
      if (c >= 0xd800 && c < 0xdc00) i++;
    }
  }
  return out.subarray(0, n);
}

/** Decodes a raw value with `decoder`, or, when none was asked for, as UTF-8 falling back to Windows-1252. */
function decodeValue(raw: string, decoder: Decoder | undefined, plusIsSpace = true): string {
  if (SIMPLE.test(raw)) return raw;
  const bytes = percentDecodeToBytes(raw, plusIsSpace);
  if (decoder) return decoder(bytes);
  try {
    return utf8Fatal.decode(bytes);
  } catch {
    return windows1252(bytes);
  }
}

/**
 * `to`: a literal `+` at the start of a number (value start, or after any separator of receivers: comma,
 * semicolon, line break, written or percent-encoded) means `+`, not a space.
 */
function protectLeadingPlus(raw: string): string {
  return raw.replace(/(^|[,;\r\n]|%2[cC]|%3[bB]|%0[aAdD])((?:\s|%20)*)\+(?=\d|%3[0-9])/g, '$1$2%2B');
}

/** `from`: a literal `+` starting a numeric sender (`+33700000001`) means `+`, as it does in `to`. */
function protectSenderPlus(raw: string): string {
  return /^\+(?:\d|%3[0-9])+$/.test(raw) ? `%2B${raw.slice(1)}` : raw;
}

/** The `charset` parameter of a Content-Type header value, lower-cased. */
export function charsetOfContentType(value: string | undefined): string | undefined {
  const m = value && /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(value);
  return m ? m[1].toLowerCase() : undefined;
}

function rawPairs(raw: string, into: [Http2smsParamName, string][]): void {
  if (raw === '') return;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    const name = NAMES.get(decodeValue(rawName, windows1252).trim().toLowerCase());
    if (name) into.push([name, eq === -1 ? '' : part.slice(eq + 1)]);
  }
}

function decoderFor(label: string): Decoder | undefined {
  const name = label.trim().toLowerCase();
  if (CP1252_LABELS.has(name)) return windows1252;
  try {
    const decoder = new TextDecoder(name);
    return (bytes) => decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The http2sms parameters of a request, decoded as its charset says (see the module comment). */
export function readHttp2smsParams(input: ReadParamsInput): ReadParamsResult {
  const pairs: [Http2smsParamName, string][] = [];
  rawPairs(input.query, pairs);
  if (input.body && input.body.length > 0)
    rawPairs(Buffer.from(input.body.buffer, input.body.byteOffset, input.body.length).toString('latin1'), pairs);

  let charset: string | undefined;
  for (const [name, raw] of pairs) if (name === 'charset') charset = decodeValue(raw, windows1252);
  charset = charset?.trim() || charsetOfContentType(input.contentType);
  let decoder: Decoder | undefined;
  let error: string | undefined;
  if (charset) {
    decoder = decoderFor(charset);
    if (!decoder) error = `Invalid charset: "${charset.slice(0, 40)}" is not a known character encoding (UTF-8 or ISO-8859-1, for example)`;
  }

  const params: Http2smsParams = {};
  for (const [name, raw] of pairs) {
    if (name === 'to') {
      const value = decodeValue(protectLeadingPlus(raw), decoder);
      params.to = params.to === undefined ? value : `${params.to},${value}`;
    } else if (name === 'from') {
      params.from = decodeValue(protectSenderPlus(raw), decoder);
    } else {
      params[name] = decodeValue(raw, name === 'charset' ? windows1252 : decoder);
    }
  }
  return error ? { ok: false, params, error } : { ok: true, params };
}
