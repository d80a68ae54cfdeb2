import { describe, expect, it } from 'vitest';
import { charsetOfContentType, percentDecodeToBytes, readHttp2smsParams } from './http2sms-params.js';

const read = (query: string, extra: { body?: string; contentType?: string } = {}) =>
  readHttp2smsParams({
    query,
    body: extra.body === undefined ? undefined : Buffer.from(extra.body, 'latin1'),
    contentType: extra.contentType,
  });

describe('http2sms parameters', () => {
  it('reads every OVH parameter, names case-insensitively, unknown ones ignored', () => {
    const r = read(
      'account=sms-ab12345-1&LOGIN=bob&password=p%26ss&from=Shop&to=0033612345678&message=Hi&deferred=183019072030&class=0&SMSencoding=2&nostop=1&tag=t&contentType=text%2Fjson&senderForResponse=1&other=x',
    );
    expect(r).toEqual({
      ok: true,
      params: {
        account: 'sms-ab12345-1',
        login: 'bob',
        password: 'p&ss',
        from: 'Shop',
        to: '0033612345678',
        message: 'Hi',
        deferred: '183019072030',
        class: '0',
        smsCoding: '2',
        noStop: '1',
        tag: 't',
        contentType: 'text/json',
        senderForResponse: '1',
      },
    });
  });

  it('decodes UTF-8 by default, + as a space, %0d kept for the service to turn into a line break', () => {
    expect(read('message=caf%C3%A9+cr%C3%A8me%0dligne+2').params.message).toBe('café crème\rligne 2');
    expect(read('message=%F0%9F%8E%89').params.message).toBe('🎉');
  });

  it('decodes Latin-1 when the query or the Content-Type says so (as Windows-1252)', () => {
    expect(read('message=caf%E9&charset=ISO-8859-1').params.message).toBe('café');
    expect(read('charset=latin1&message=%80+caf%E9').params.message).toBe('€ café');
    expect(read('', { body: 'message=caf%E9', contentType: 'application/x-www-form-urlencoded; charset=ISO-8859-1' }).params.message).toBe(
      'café',
    );
    // Raw (unescaped) Latin-1 bytes in a form body.
    expect(
      read('', { body: 'message=caf\xe9', contentType: 'application/x-www-form-urlencoded;charset="iso-8859-1"' }).params.message,
    ).toBe('café');
    // The query's charset parameter wins over the header.
    expect(
      read('charset=utf-8', { body: 'message=caf%C3%A9', contentType: 'application/x-www-form-urlencoded; charset=ISO-8859-1' }).params
        .message,
    ).toBe('café');
  });

  it('reads bytes that are not UTF-8 as Windows-1252 when no charset was given', () => {
    expect(read('message=caf%E9').params.message).toBe('café');
    // …but an explicit UTF-8 keeps the replacement character.
    expect(read('message=caf%E9&charset=UTF-8').params.message).toBe('caf\uFFFD');
  });

  it('refuses an unknown charset', () => {
    const r = read('message=hi&charset=klingon');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^Invalid charset: "klingon"/);
  });

  it('keeps a literal + that starts a number in `to`, joins repeated `to`, last wins for the rest', () => {
    expect(read('to=+33612345678,+33612345679').params.to).toBe('+33612345678,+33612345679');
    expect(read('to=06+12+34+56+78').params.to).toBe('06 12 34 56 78');
    expect(read('to=%2B33612345678&to=0612345679&message=a&message=b').params).toEqual({ to: '+33612345678,0612345679', message: 'b' });
  });

  it('ignores names that only look like object properties', () => {
    expect(read('constructor=1&__proto__=2&toString=3&message=m').params).toEqual({ message: 'm' });
  });

  it('merges query then body (body wins), and tolerates stray % and empty pieces', () => {
    expect(read('login=a&message=q', { body: 'message=b&&tag' }).params).toEqual({ login: 'a', message: 'b', tag: '' });
    expect(read('message=100%+sure%').params.message).toBe('100% sure%');
    expect(read('message=%zz%4').params.message).toBe('%zz%4');
  });

  it('decodes percent escapes to bytes', () => {
    expect([...percentDecodeToBytes('a%41+%e9%')]).toEqual([0x61, 0x41, 0x20, 0xe9, 0x25]);
    expect(Buffer.from(percentDecodeToBytes('€')).toString('utf8')).toBe('€');
    expect(charsetOfContentType('application/x-www-form-urlencoded; Charset=ISO-8859-1')).toBe('iso-8859-1');
    expect(charsetOfContentType('application/x-www-form-urlencoded')).toBeUndefined();
  });
});
