/**
 * http2sms answers, byte for byte in OVH's four formats (OVH-COMPAT §3), chosen by `contentType`:
 *
 * - `text/plain` (the default): `OK\n<creditLeft>\n<id>` (one id a line, no final line break) or `KO\n<message>`;
 * - `text/html`: the XHTML page of `HTML_HEAD` + `OK<br>1987<br>10867690<br>` (or `KO<br>message<br>`) + `HTML_TAIL`;
 * - `text/xml`, `application/xml`: `<?xml version="1.0" encoding="UTF-8" ?><response><status>100</status>
 *   <creditLeft>1987</creditLeft><smsIds><smsId>10867690</smsId></smsIds></response>` (no spaces or line
 *   breaks between elements) or `…<response><status>201</status><message>…</message></response>`;
 * - `text/json`, `application/json`: `{"status":100,"creditLeft":"1987","smsIds":["10867690"],"SmsIds":["10867690"]}`
 *   (`status` a number, credits and ids strings, both spellings of the ids) or `{"status":201,"message":"…"}`.
 *
 * The Content-Type of the answer is the format asked for, with `; charset=utf-8`.
 */

/** OVH's http2sms status codes, plus what Relais adds (402, 429, and the transport errors). */
export const HTTP2SMS_STATUS = {
  /** Processed: the messages are accepted (durably queued). */
  OK: 100,
  /** A required parameter is missing ("Missing login"). */
  MISSING_PARAMETER: 201,
  /** A parameter is malformed (bad number, tag too long, bad deferred time, message empty or too long…). */
  INVALID_PARAMETER: 202,
  /** `from` is not an enabled sender of the account. */
  SENDER_NOT_FOUND: 241,
  /** Wrong account, login or password (one answer for the three), or the client's address is not allowed for the user. */
  NOT_AUTHORISED: 401,
  /** Relais: not enough credits on the account, or the SMS user's quota is too small. Nothing was sent or debited. */
  NOT_ENOUGH_CREDITS: 402,
  /** Relais: too many requests from this address or for this user (the HTTP status is 429 too). */
  RATE_LIMITED: 429,
  /** Relais: something unexpected failed on our side (the HTTP status is 500 too); nothing was accepted. */
  INTERNAL: 500,
} as const;

/** What an http2sms request came to. */
export type Http2smsOutcome = { ok: true; creditLeft: number; ids: readonly number[] } | { ok: false; status: number; message: string };

export const RESPONSE_FORMATS = ['text/plain', 'text/html', 'text/xml', 'application/xml', 'text/json', 'application/json'] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

/** The format a `contentType` value asks for (case-insensitive, parameters ignored); undefined when unknown. Absent or empty: text/plain. */
export function responseFormatOf(value: string | undefined): ResponseFormat | undefined {
  if (value === undefined) return 'text/plain';
  const type = value.split(';')[0].trim().toLowerCase();
  if (type === '') return 'text/plain';
  return (RESPONSE_FORMATS as readonly string[]).includes(type) ? (type as ResponseFormat) : undefined;
}

/** Remaining credits as OVH writes them: `1987`, or two decimals when fractional (`85.95`, `230.50`). */
export function formatCredits(credits: number): string {
  const cents = Math.round(credits * 100);
  return cents % 100 === 0 ? String(cents / 100) : (cents / 100).toFixed(2);
}

export const HTML_HEAD =
  '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
  '<html xmlns="http://www.w3.org/1999/xhtml">\n' +
  '<head>\n' +
  '<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />\n' +
  '<title>HTTP2SMS</title>\n' +
  '</head>\n' +
  '<body>';
export const HTML_TAIL = '</body>\n</html>\n';
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" ?>';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** One line of text: line breaks and other control characters become spaces (a KO message is one line in every format). */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
}

/** The body of the answer to `outcome` in `format`. */
export function renderHttp2sms(format: ResponseFormat, outcome: Http2smsOutcome): string {
  if (outcome.ok) {
    const credits = formatCredits(outcome.creditLeft);
    const ids = outcome.ids.map(String);
    switch (format) {
      case 'text/plain':
        return ['OK', credits, ...ids].join('\n');
      case 'text/html':
        return `${HTML_HEAD}OK<br>${credits}<br>${ids.map((id) => `${id}<br>`).join('')}${HTML_TAIL}`;
      case 'text/xml':
      case 'application/xml':
        return `${XML_DECLARATION}<response><status>${HTTP2SMS_STATUS.OK}</status><creditLeft>${credits}</creditLeft><smsIds>${ids.map((id) => `<smsId>${id}</smsId>`).join('')}</smsIds></response>`;
      case 'text/json':
      case 'application/json':
        return JSON.stringify({ status: HTTP2SMS_STATUS.OK, creditLeft: credits, smsIds: ids, SmsIds: ids });
    }
  }
  const message = oneLine(outcome.message);
  switch (format) {
    case 'text/plain':
      return `KO\n${message}`;
    case 'text/html':
      return `${HTML_HEAD}KO<br>${escapeMarkup(message)}<br>${HTML_TAIL}`;
    case 'text/xml':
    case 'application/xml':
      return `${XML_DECLARATION}<response><status>${outcome.status}</status><message>${escapeMarkup(message)}</message></response>`;
    case 'text/json':
    case 'application/json':
      return JSON.stringify({ status: outcome.status, message });
  }
}

/** The Content-Type header of an answer in `format`. */
export function contentTypeOf(format: ResponseFormat): string {
  return `${format}; charset=utf-8`;
}
