import { describe, expect, it } from 'vitest';
import { formatCredits, renderHttp2sms, responseFormatOf } from './http2sms-response.js';

const ok = { ok: true as const, creditLeft: 1987, ids: [10867690] };
const ko = { ok: false as const, status: 201, message: 'Missing login' };
const HTML = (body: string) =>
  '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
  '<html xmlns="http://www.w3.org/1999/xhtml">\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />\n' +
  `<title>HTTP2SMS</title>\n</head>\n<body>${body}</body>\n</html>\n`;

describe('http2sms answers', () => {
  it('text/plain', () => {
    expect(renderHttp2sms('text/plain', ok)).toBe('OK\n1987\n10867690');
    expect(renderHttp2sms('text/plain', { ...ok, ids: [1, 2, 3] })).toBe('OK\n1987\n1\n2\n3');
    expect(renderHttp2sms('text/plain', ko)).toBe('KO\nMissing login');
  });

  it('text/html', () => {
    expect(renderHttp2sms('text/html', ok)).toBe(HTML('OK<br>1987<br>10867690<br>'));
    expect(renderHttp2sms('text/html', { ...ok, ids: [1, 2] })).toBe(HTML('OK<br>1987<br>1<br>2<br>'));
    expect(renderHttp2sms('text/html', { ok: false, status: 202, message: 'Invalid to: "<b>&"' })).toBe(
      HTML('KO<br>Invalid to: &quot;&lt;b&gt;&amp;&quot;<br>'),
    );
  });

  it('text/xml and application/xml', () => {
    for (const format of ['text/xml', 'application/xml'] as const) {
      expect(renderHttp2sms(format, ok)).toBe(
        '<?xml version="1.0" encoding="UTF-8" ?><response><status>100</status><creditLeft>1987</creditLeft><smsIds><smsId>10867690</smsId></smsIds></response>',
      );
      expect(renderHttp2sms(format, ko)).toBe(
        '<?xml version="1.0" encoding="UTF-8" ?><response><status>201</status><message>Missing login</message></response>',
      );
    }
  });

  it('text/json and application/json: status a number, credits and ids strings, both spellings of the ids', () => {
    for (const format of ['text/json', 'application/json'] as const) {
      expect(renderHttp2sms(format, ok)).toBe('{"status":100,"creditLeft":"1987","smsIds":["10867690"],"SmsIds":["10867690"]}');
      expect(renderHttp2sms(format, ko)).toBe('{"status":201,"message":"Missing login"}');
    }
  });

  it('keeps a KO message on one line', () => {
    expect(renderHttp2sms('text/plain', { ok: false, status: 202, message: 'a\nb\r\tc' })).toBe('KO\na b  c');
  });

  it('formats credits like OVH', () => {
    expect([1987, 0, 85.95, 230.5, 97.30000000001, 12.999999999].map(formatCredits)).toEqual([
      '1987',
      '0',
      '85.95',
      '230.50',
      '97.30',
      '13',
    ]);
  });

  it('knows the formats, case-insensitively; absent or empty is text/plain', () => {
    expect(responseFormatOf(undefined)).toBe('text/plain');
    expect(responseFormatOf('')).toBe('text/plain');
    expect(responseFormatOf('Application/JSON; charset=utf-8')).toBe('application/json');
    expect(responseFormatOf('text/csv')).toBeUndefined();
  });
});
