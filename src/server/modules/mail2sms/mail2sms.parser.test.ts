import { describe, expect, it } from 'vitest';
import {
  contactFileReceivers,
  extractText,
  htmlToText,
  isContactFile,
  type Mail2SmsParseResult,
  parseDeferred,
  parseMail2Sms,
  parseSubject,
} from './mail2sms.parser.js';

function fieldsOf(subject: string) {
  const result = parseSubject(subject);
  if (!result.ok) throw new Error(`refused: ${result.message}`);
  return result.fields;
}

function refusalOf(result: Mail2SmsParseResult | ReturnType<typeof parseSubject>) {
  if (result.ok) throw new Error('expected a refusal');
  return { reason: result.reason, message: result.message };
}

describe('mail2sms subject, positional form', () => {
  it('reads Account:Login:Password:From:To with : or ; and optional fields', () => {
    expect(fieldsOf('sms-ab12345-1:mailer:secret99:MyShop:+33612345678')).toEqual({
      account: 'sms-ab12345-1',
      login: 'mailer',
      password: 'secret99',
      sender: 'MyShop',
      senderForResponse: false,
      to: ['+33612345678'],
      deferred: null,
      class: null,
      coding: null,
      noStopClause: false,
      tag: null,
    });
    expect(fieldsOf(' sms-ab12345-1 ; mailer;secret99:MyShop;+33612345678,0033612345679 , 0612345670:183019072030:0:2:1 ')).toMatchObject({
      account: 'sms-ab12345-1',
      to: ['+33612345678', '0033612345679', '0612345670'],
      deferred: { year: 2030, month: 7, day: 19, hour: 18, minute: 30, second: 0 },
      class: 'flash',
      coding: '8bit',
      noStopClause: true,
    });
  });

  it('keeps defaults for empty optional fields and ignores trailing separators', () => {
    expect(fieldsOf('a:l:p:S:+33612345678:::1:')).toMatchObject({ deferred: null, class: null, coding: '7bit', noStopClause: false });
    expect(fieldsOf('a:l:p:S:+33612345678;;;;')).toMatchObject({ to: ['+33612345678'] });
  });

  it('takes From=senderForResponse=1, and allows To to be left out (a contact file may give it)', () => {
    expect(fieldsOf('a:l:p:senderForResponse=1:+33612345678')).toMatchObject({ sender: null, senderForResponse: true });
    expect(fieldsOf('a:l:p:S')).toMatchObject({ to: [] });
  });
});

describe('mail2sms subject, named form', () => {
  it('reads Key=value fields in any order, keys in any case', () => {
    expect(
      fieldsOf('to=+33612345678;PASSWORD=secret99;From=MyShop;account=sms-ab12345-1;Login=mailer;NoStop=1;class=2;SMSCoding=1'),
    ).toEqual({
      account: 'sms-ab12345-1',
      login: 'mailer',
      password: 'secret99',
      sender: 'MyShop',
      senderForResponse: false,
      to: ['+33612345678'],
      deferred: null,
      class: 'sim',
      coding: '7bit',
      noStopClause: true,
      tag: null,
    });
  });

  it('accepts : as a separator, a password holding ; or : or =, repeated To, Tag and senderForResponse', () => {
    expect(
      fieldsOf('Account=a: Login=l ; Password=p;a:s=s ;From=senderForResponse=1;To=+33612345678;To=+33612345679;Tag=promo;'),
    ).toMatchObject({
      password: 'p;a:s=s',
      sender: null,
      senderForResponse: true,
      to: ['+33612345678', '+33612345679'],
      tag: 'promo',
    });
    expect(fieldsOf('Account=a;Login=l;Password=p;senderForResponse=1;To=+33612345678')).toMatchObject({
      senderForResponse: true,
      sender: null,
    });
    expect(fieldsOf('Account=a;Login=l;Password=p;From=S;Deferred=090501012031')).toMatchObject({
      deferred: { year: 2031, month: 1, day: 1, hour: 9, minute: 5, second: 0 },
    });
  });
});

describe('mail2sms subject refusals', () => {
  // [subject, reason, what the message says ('' when only the reason matters)]
  it.each<[string, string, string]>([
    // positional form: malformed, missing fields, invalid optional fields (the message names them)
    ['', 'MALFORMED_SUBJECT', 'empty'],
    ['hello world', 'MALFORMED_SUBJECT', ''],
    ['a:b:c', 'MALFORMED_SUBJECT', '3 fields'],
    ['a:b:c:d:e:f:g:h:i:j', 'MALFORMED_SUBJECT', 'named form'],
    ['a::p:S:+33612345678', 'MISSING_FIELD', 'Missing Login'],
    ['a:l:p::+33612345678', 'MISSING_FIELD', 'Missing From'],
    ['a:l:p:S:+33612345678:2512', 'INVALID_FIELD', 'Invalid Deferred'],
    ['a:l:p:S:+33612345678:183032132030', 'INVALID_FIELD', 'Invalid Deferred'],
    ['a:l:p:S:+33612345678:243019072030', 'INVALID_FIELD', 'Invalid Deferred'],
    ['a:l:p:S:+33612345678::4', 'INVALID_FIELD', 'Invalid Class'],
    ['a:l:p:S:+33612345678:::3', 'INVALID_FIELD', 'Invalid smsCoding'],
    ['a:l:p:S:+33612345678::::yes', 'INVALID_FIELD', 'Invalid NoStop'],
    // named form: unknown keys, repeated fields, missing ones, too long a tag
    ['Account=a;Login=l;Password=p;From=S;To=+33612345678;Colour=red', 'MALFORMED_SUBJECT', 'Colour=red'],
    ['Account=a;Login=l;Password=p;From=S;Too=+33612345678', 'MALFORMED_SUBJECT', 'Too=+33612345678'],
    ['Account=a;Login=l;Login=m;Password=p;From=S', 'MALFORMED_SUBJECT', 'Login is given twice'],
    ['Account=a;Login=l;From=S;To=+33612345678', 'MISSING_FIELD', 'Missing Password'],
    ['Account=a;Login=l;Password=p;From=S;Tag=abcdefghijklmnopqrstu', 'INVALID_FIELD', ''],
  ])('refuses %j: %s', (subject, reason, message) => {
    expect(refusalOf(parseSubject(subject))).toMatchObject({ reason, message: expect.stringContaining(message) });
  });
});

describe('mail2sms deferred time', () => {
  it('reads hhmmddMMYYYY and refuses impossible dates', () => {
    expect(parseDeferred('000029022028')).toEqual({ year: 2028, month: 2, day: 29, hour: 0, minute: 0, second: 0 });
    expect(parseDeferred('000029022027')).toBeUndefined();
    expect(parseDeferred('236001012030')).toBeUndefined();
    expect(parseDeferred('12')).toBeUndefined();
  });
});

describe('mail2sms body', () => {
  it('cuts at the first blank line, a --end line or a signature, after skipping leading blank lines', () => {
    expect(extractText('Hello\r\nworld\r\n\r\nQuoted reply\r\n')).toBe('Hello\nworld');
    expect(extractText('\n \nHello\n   \nignored')).toBe('Hello');
    expect(extractText('Line one\n--end\nignored')).toBe('Line one');
    expect(extractText('Line one\n  --END  \nignored')).toBe('Line one');
    expect(extractText('Line one\n-- \nJohn, ACME')).toBe('Line one');
    expect(extractText('Line one   \nline two\u00a0\n\u00a0\nignored')).toBe('Line one\nline two');
    expect(extractText('a --end inside a line stays')).toBe('a --end inside a line stays');
  });

  it('reduces HTML to text as it looks', () => {
    expect(
      htmlToText(
        '<html><head><title>t</title><style>p{}</style></head><body><p>Hello <b>Jane</b>,</p><p>see  you\n at 5&nbsp;pm &amp; bye</p></body></html>',
      ),
    ).toBe('Hello Jane,\nsee you at 5\u00a0pm & bye');
    // Gmail: a blank line is <div><br></div>; Outlook: <p>&nbsp;</p>.
    expect(extractText(htmlToText('<div dir="ltr">Hi<div>there</div><div><br></div><div>-- sig</div></div>'))).toBe('Hi\nthere');
    expect(extractText(htmlToText('<p class=MsoNormal>Promo&nbsp;!</p><p class=MsoNormal>&nbsp;</p><p>Sig</p>'))).toBe('Promo\u00a0!');
    expect(htmlToText('A<br>B<br/>C<!-- x --><script>alert(1)</script>')).toBe('A\nB\nC');
    // A stray "<" and the letters after a removed tag leave no tag-like residue (found by the fuzzer);
    // a "<" that starts no tag stays.
    expect(htmlToText('<</b>P')).toBe('');
    expect(htmlToText('x <</b>P y')).toBe('x');
    expect(htmlToText('1 < 2 <b>et</b> 3 > 2')).toBe('1 < 2 et 3 > 2');
    expect(htmlToText('caf&eacute; &#233;t&#xE9; &euro; &unknown; a < b')).toBe('café été € &unknown; a < b');
  });
});

describe('mail2sms contact file', () => {
  it('recognises contact .txt attachments and reads one number a line', () => {
    expect(isContactFile('contact.txt')).toBe(true);
    expect(isContactFile('Contacts-juin.TXT')).toBe(true);
    expect(isContactFile('contact.csv')).toBe(false);
    expect(isContactFile('notes.txt')).toBe(false);
    expect(isContactFile(undefined)).toBe(false);
    expect(contactFileReceivers(Buffer.from('\ufeff+33612345678\r\n\r\n 0612345679 \n0033612345670,+33612345671\n'))).toEqual([
      '+33612345678',
      '0612345679',
      '0033612345670',
      '+33612345671',
    ]);
    expect(contactFileReceivers(Buffer.from([0x2b, 0x33, 0x33, 0xe9, 0x0a]))).toEqual(['+33é']);
    // UTF-16 with its byte order mark (Windows Notepad's "Unicode"), little- and big-endian.
    const utf16le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('+33612345678\r\n0612345679\r\n', 'utf16le')]);
    expect(contactFileReceivers(utf16le)).toEqual(['+33612345678', '0612345679']);
    const utf16be = Buffer.from(utf16le.subarray(2)).swap16();
    expect(contactFileReceivers(Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be]))).toEqual(['+33612345678', '0612345679']);
  });
});

describe('parseMail2Sms', () => {
  const subject = 'a:l:p:S:+33612345678';

  it('builds a request from subject, text and contact file (de-duplicated receivers)', () => {
    const result = parseMail2Sms({
      subject,
      text: 'Hello\n\nsig',
      attachments: [
        { filename: 'contact.txt', content: Buffer.from('+33612345679\n+33612345678\n') },
        { filename: 'invoice.pdf', content: Buffer.from('%PDF') },
      ],
    });
    expect(result).toMatchObject({ ok: true, request: { message: 'Hello', receivers: ['+33612345678', '+33612345679'] } });
  });

  it('uses the HTML only when there is no text', () => {
    expect(parseMail2Sms({ subject, text: '', html: '<p>From <i>HTML</i></p>' })).toMatchObject({
      ok: true,
      request: { message: 'From HTML' },
    });
    expect(parseMail2Sms({ subject, text: 'Plain', html: '<p>HTML</p>' })).toMatchObject({ ok: true, request: { message: 'Plain' } });
  });

  it('refuses a mail without receivers, without text or with too long a text', () => {
    expect(refusalOf(parseMail2Sms({ subject: 'a:l:p:S', text: 'Hi' }))).toMatchObject({ reason: 'NO_RECEIVER' });
    expect(refusalOf(parseMail2Sms({ subject, text: ' \r\n\r\n' }))).toMatchObject({ reason: 'EMPTY_TEXT' });
    expect(refusalOf(parseMail2Sms({ subject, text: '--end\nafter the end' }))).toMatchObject({ reason: 'EMPTY_TEXT' });
    expect(refusalOf(parseMail2Sms({ subject, html: false }))).toMatchObject({ reason: 'EMPTY_TEXT' });
    expect(refusalOf(parseMail2Sms({ subject, text: 'x'.repeat(5001) }))).toMatchObject({ reason: 'TEXT_TOO_LONG' });
    expect(refusalOf(parseMail2Sms({ text: 'Hi' }))).toMatchObject({ reason: 'MALFORMED_SUBJECT' });
  });
});
