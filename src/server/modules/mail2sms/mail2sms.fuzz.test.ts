import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extractText, htmlToText, type Mail2SmsParseResult, parseMail2Sms, parseSubject } from './mail2sms.parser.js';

const REASONS = ['MALFORMED_SUBJECT', 'MISSING_FIELD', 'INVALID_FIELD', 'NO_RECEIVER', 'TOO_MANY_RECEIVERS', 'EMPTY_TEXT', 'TEXT_TOO_LONG'];

/** Pieces that make near-valid subjects: keys, separators, numbers, dates, junk. */
const subjectPiece = fc.oneof(
  fc.constantFrom(
    ':',
    ';',
    '=',
    ',',
    ' ',
    'Account=',
    'login=',
    'PASSWORD=',
    'From=',
    'To=',
    'Deferred=',
    'class=',
    'smsCoding=',
    'NoStop=',
  ),
  fc.constantFrom(
    'Tag=',
    'senderForResponse=1',
    'sms-ab12345-1',
    'mailer',
    'MyShop',
    '+33612345678',
    '0612345679',
    '183019072030',
    '0',
    '1',
    '2',
    '9',
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const subject = fc.oneof(
  fc.array(subjectPiece, { maxLength: 24 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

const line = fc.oneof(
  fc.constantFrom('', ' ', '--end', '-- ', '--', '\u00a0', '> quoted', 'Bonjour', 'été 🎉'),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const body = fc.oneof(
  fc.array(line, { maxLength: 12 }).chain((lines) => fc.constantFrom('\n', '\r\n', '\r').map((eol) => lines.join(eol))),
  fc.string({ unit: 'binary', maxLength: 300 }),
);
const htmlBody = fc.oneof(
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          '<p>',
          '</p>',
          '<div>',
          '</div>',
          '<br>',
          '<br/>',
          '&nbsp;',
          '&amp;',
          '&#233;',
          '&#x1F600;',
          '&#xD800;',
          '<!--',
          '-->',
          '<style>',
          '</style>',
        ),
        fc.constantFrom('<script>', '<b class="x">', '</b>', '<', '>', '&', 'Hello', ' ', '\n'),
        fc.string({ maxLength: 10 }),
      ),
      { maxLength: 40 },
    )
    .map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 300 }),
);

function checkResult(result: Mail2SmsParseResult | ReturnType<typeof parseSubject>): void {
  if (result.ok) return;
  expect(REASONS).toContain(result.reason);
  expect(result.message.length).toBeGreaterThan(5);
  expect(result.message.length).toBeLessThan(400);
  expect(result.message).not.toMatch(/[\r\n]/);
}

describe('mail2sms parser fuzz', () => {
  it('never throws on any subject: typed fields or a refusal with a reason', () => {
    fc.assert(
      fc.property(subject, (s) => {
        const result = parseSubject(s);
        checkResult(result);
        if (result.ok) {
          const f = result.fields;
          for (const value of [f.account, f.login, f.password]) expect(value.length).toBeGreaterThan(0);
          expect(f.senderForResponse ? f.sender === null : typeof f.sender === 'string' && f.sender.length > 0).toBe(true);
          expect(f.to.every((t) => t === t.trim() && t !== '' && !t.includes(','))).toBe(true);
          expect([null, 'flash', 'phoneDisplay', 'sim', 'toolkit']).toContain(f.class);
          expect([null, '7bit', '8bit']).toContain(f.coding);
          expect(typeof f.noStopClause).toBe('boolean');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on any body: the text has no blank line, no --end line and no trailing space', () => {
    fc.assert(
      fc.property(body, (b) => {
        const text = extractText(b);
        expect(text).not.toMatch(/\r/);
        for (const l of text.split('\n')) {
          if (text === '') break;
          expect(l.trim()).not.toBe('');
          expect(/^\s*--\s*end\s*$/i.test(l)).toBe(false);
        }
        expect(text).toBe(text.replace(/[\s\u00a0]+$/, ''));
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on any HTML', () => {
    fc.assert(
      fc.property(htmlBody, (h) => {
        const text = htmlToText(h);
        expect(typeof text).toBe('string');
        expect(text).not.toMatch(/<(p|div|br|script|style)\b/i);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on a whole mail: a request or a refusal', () => {
    fc.assert(
      fc.property(
        subject,
        fc.option(body, { nil: undefined }),
        fc.oneof(fc.constant(false as const), fc.constant(undefined), htmlBody),
        fc.array(
          fc.record({
            filename: fc.option(fc.constantFrom('contact.txt', 'Contacts.TXT', 'photo.jpg', 'contact.csv'), { nil: undefined }),
            content: fc.uint8Array({ maxLength: 60 }),
          }),
          { maxLength: 3 },
        ),
        (s, text, html, attachments) => {
          const result = parseMail2Sms({ subject: s, text, html, attachments });
          checkResult(result);
          if (result.ok) {
            expect(result.request.message.trim()).not.toBe('');
            expect(result.request.receivers.length).toBeGreaterThan(0);
            expect(new Set(result.request.receivers).size).toBe(result.request.receivers.length);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accepts every well-formed subject it is given, positional or named', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/);
    fc.assert(
      fc.property(
        word,
        word,
        fc.stringMatching(/^[A-Za-z0-9!#$%&*+=?@^_-]{8,20}$/),
        word,
        fc.boolean(),
        fc.constantFrom(':', ';'),
        (account, login, password, from, named, sep) => {
          const to = '+33612345678';
          const s = named
            ? `Password=${password};To=${to};Account=${account};From=${from};Login=${login}`
            : [account, login, password, from, to].join(sep);
          expect(parseSubject(s)).toMatchObject({ ok: true, fields: { account, login, password, sender: from, to: [to] } });
        },
      ),
      { numRuns: 500 },
    );
  });
});
