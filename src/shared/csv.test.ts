import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTimeFormatter } from './account-time.js';
import { createCsvFormatter, csvCell, jsonLine, toPublicOutgoing } from './csv.js';
import type { Outgoing } from './outgoing.js';
import { CHANNELS, ENCODINGS, OUTGOING_STATUSES } from './status.js';

function buildOutgoing(overrides: Partial<Outgoing> = {}): Outgoing {
  return {
    id: 42,
    accountId: 1,
    userId: 7,
    userLogin: 'shop',
    channel: 'http2sms',
    sender: 'OVH',
    receiver: '+33612345678',
    message: 'Hello',
    encoding: 'gsm7',
    parts: 1,
    credits: 1,
    tag: 'promo',
    status: 'delivered',
    createdAt: Date.parse('2014-11-29T11:25:43Z'),
    sentAt: Date.parse('2014-11-29T11:25:44Z'),
    deliveredAt: Date.parse('2014-11-29T11:25:50Z'),
    failedAt: null,
    expiredAt: null,
    canceledAt: null,
    carrierMessageId: 'abc-1',
    errorCode: null,
    errorText: null,
    deferredUntil: null,
    validUntil: Date.parse('2014-12-01T11:25:43Z'),
    jobId: 3,
    ...overrides,
  };
}

/** RFC 4180 with `;` separators: returns the records, each a list of field values. */
function parseCsv(csv: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  while (i < csv.length) {
    let value = '';
    if (csv[i] === '"') {
      i += 1;
      for (;;) {
        if (i >= csv.length) throw new Error('unterminated quoted value');
        if (csv[i] === '"') {
          if (csv[i + 1] === '"') {
            value += '"';
            i += 2;
          } else {
            i += 1;
            break;
          }
        } else {
          value += csv[i];
          i += 1;
        }
      }
    } else {
      while (i < csv.length && csv[i] !== ';' && csv[i] !== '\n') {
        if (csv[i] === '"') throw new Error(`bare quote at ${i}`);
        value += csv[i];
        i += 1;
      }
    }
    record.push(value);
    if (csv[i] === ';') i += 1;
    else if (csv[i] === '\n') {
      records.push(record);
      record = [];
      i += 1;
    } else if (i < csv.length) throw new Error(`unexpected ${JSON.stringify(csv[i])} at ${i}`);
  }
  if (record.length > 0) records.push(record);
  return records;
}

const parseCell = (cell: string): string | undefined => {
  const records = parseCsv(cell);
  return records.length === 1 && records[0].length === 1 ? records[0][0] : undefined;
};

const PLAIN_NUMBER = /^[+-]?\d[\dxX ]*$/;
const FORMULA_START = ['=', '+', '-', '@', '\t', '\r'];

/** Any text (lone surrogates included), biased towards the characters that matter to CSV and spreadsheets. */
const text = (maxLength = 40) =>
  fc.string({
    maxLength,
    unit: fc.oneof(
      fc.constantFrom('"', ';', '\n', '\r', ...FORMULA_START, "'", ' ', 'x', '0', '7', 'é', '👍🏽'),
      fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
    ),
  });

describe('csvCell', () => {
  it('quotes, doubles quotes and keeps newlines', () => {
    expect(csvCell('OVH')).toBe('"OVH"');
    expect(csvCell('')).toBe('""');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('Mon\nmessage')).toBe('"Mon\nmessage"');
    expect(csvCell('a;b\r\nc')).toBe('"a;b\r\nc"');
  });

  it('neutralises spreadsheet formulas', () => {
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe('"\'=HYPERLINK(""http://x"",""y"")"');
    expect(csvCell("+1+cmd|' /C calc'!A0")).toBe("\"'+1+cmd|' /C calc'!A0\"");
    expect(csvCell('@SUM(1)')).toBe('"\'@SUM(1)"');
    expect(csvCell('-2+3')).toBe('"\'-2+3"');
    expect(csvCell('\t=1')).toBe('"\'\t=1"');
    expect(csvCell('\r=1')).toBe('"\'\r=1"');
  });

  it('keeps plain numbers and phone numbers as they are', () => {
    expect(csvCell('+33612345678')).toBe('"+33612345678"');
    expect(csvCell('+33 6 12 34 56 78')).toBe('"+33 6 12 34 56 78"');
    expect(csvCell('+336xxxxxxxx')).toBe('"+336xxxxxxxx"');
    expect(csvCell('-12')).toBe('"-12"');
    expect(csvCell('0612345678')).toBe('"0612345678"');
    expect(csvCell('1+1')).toBe('"1+1"');
  });

  it('leaves UTF-8 accents and emoji untouched', () => {
    expect(csvCell('Réunion à 14h, ça marche 👍🏽 ✔️')).toBe('"Réunion à 14h, ça marche 👍🏽 ✔️"');
  });

  it('parses back to the value, or to the neutralised value, and never to a live formula', () => {
    const value = fc.oneof(
      text(),
      fc.tuple(fc.constantFrom(...FORMULA_START), text()).map(([a, b]) => a + b),
      fc.stringMatching(/^[+-]?\d[\d ]{0,14}$/),
    );
    fc.assert(
      fc.property(value, (v) => {
        const parsed = parseCell(csvCell(v));
        const neutralised = FORMULA_START.includes(v[0]) && !PLAIN_NUMBER.test(v);
        const live = parsed !== undefined && FORMULA_START.includes(parsed[0]) && !PLAIN_NUMBER.test(parsed);
        return parsed === (neutralised ? `'${v}` : v) && !live;
      }),
      { numRuns: 3000 },
    );
  });
});

describe('seed CSV format', () => {
  const seed = createCsvFormatter('seed', 'Europe/Paris');

  it('writes the exact bytes of the seed sample', () => {
    const o = buildOutgoing({ receiver: '+336xxxxxxxx', message: 'Mon\nmessage', status: 'sent' });
    const bytes = Buffer.from(seed.header + seed.row(o), 'utf8');
    expect(bytes.toString('utf8')).toBe(
      'date;sender;receiver;message;status\n"20141129122543";"OVH";"+336xxxxxxxx";"Mon\nmessage";"sent"\n',
    );
    expect(seed.contentType).toBe('text/csv; charset=utf-8');
  });

  it('writes an empty message when the text was not stored', () => {
    expect(seed.row(buildOutgoing({ message: null, status: 'failed' }))).toBe('"20141129122543";"OVH";"+33612345678";"";"failed"\n');
  });

  it('dates rows in the account timezone, across DST', () => {
    const ny = createCsvFormatter('seed', 'America/New_York');
    expect(ny.row(buildOutgoing({ createdAt: Date.parse('2024-11-03T06:00:00Z') }))).toMatch(/^"20241103010000";/);
    expect(seed.row(buildOutgoing({ createdAt: Date.parse('2024-03-31T01:00:00Z') }))).toMatch(/^"20240331030000";/);
  });

  it('keeps quotes, accents, emoji and neutralises formulas in messages', () => {
    const row = seed.row(buildOutgoing({ message: '=cmd|"x"\n— Zoé 🎉' }));
    expect(row).toBe('"20141129122543";"OVH";"+33612345678";"\'=cmd|""x""\n— Zoé 🎉";"delivered"\n');
    expect(parseCsv(row)).toEqual([['20141129122543', 'OVH', '+33612345678', '\'=cmd|"x"\n— Zoé 🎉', 'delivered']]);
  });
});

describe('detailed CSV format', () => {
  const detailed = createCsvFormatter('detailed', 'Europe/Paris');

  it('has the OVH document header and every value quoted', () => {
    expect(detailed.header).toBe(
      'id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt;user;channel;status\n',
    );
    expect(detailed.row(buildOutgoing())).toBe(
      '"42";"2014-11-29 12:25:43";"OVH";"+33612345678";"0";"";"delivered";"promo";"Hello";"2014-11-29 12:25:44";"2014-11-29 12:25:50";"shop";"http2sms";"delivered"\n',
    );
  });

  it('writes a failed message from the Manager with empty nulls', () => {
    const o = buildOutgoing({
      status: 'failed',
      userLogin: null,
      channel: 'manager',
      message: null,
      deliveredAt: null,
      failedAt: Date.parse('2014-11-29T11:26:00Z'),
      errorCode: '53',
      errorText: 'Blacklisted; "STOP"',
    });
    const records = parseCsv(detailed.header + detailed.row(o));
    expect(records[1]).toEqual([
      '42',
      '2014-11-29 12:25:43',
      'OVH',
      '+33612345678',
      '53',
      '53',
      'Blacklisted; "STOP"',
      'promo',
      '',
      '2014-11-29 12:25:44',
      '',
      '',
      'manager',
      'failed',
    ]);
  });

  it('round-trips any texts through a CSV parser', () => {
    fc.assert(
      fc.property(text(), text(), text(), fc.option(text()), (sender, tag, login, message) => {
        const o = buildOutgoing({ sender, tag, userLogin: login, message });
        const [header, record] = parseCsv(detailed.header + detailed.row(o));
        const same = (cell: string, value: string) => cell === value || cell === `'${value}`;
        return (
          record.length === header.length &&
          same(record[2], sender) &&
          same(record[7], tag) &&
          same(record[8], message ?? '') &&
          same(record[11], login)
        );
      }),
      { numRuns: 500 },
    );
  });

  it('rejects an unknown timezone', () => {
    expect(() => createCsvFormatter('detailed', 'Nowhere/Land')).toThrow(/Unknown timezone/);
  });
});

describe('JSON lines', () => {
  it('writes every public field, times in the account timezone, nulls kept', () => {
    const o = buildOutgoing({ message: 'Zoé 👍', errorCode: null });
    const line = jsonLine(o, 'Europe/Paris');
    expect(line.endsWith('}\n')).toBe(true);
    expect(line.split('\n')).toHaveLength(2);
    expect(line).toContain('Zoé 👍');
    expect(JSON.parse(line)).toEqual({
      id: 42,
      createdAt: '2014-11-29T12:25:43+01:00',
      sentAt: '2014-11-29T12:25:44+01:00',
      deliveredAt: '2014-11-29T12:25:50+01:00',
      failedAt: null,
      expiredAt: null,
      canceledAt: null,
      sender: 'OVH',
      receiver: '+33612345678',
      message: 'Zoé 👍',
      status: 'delivered',
      user: 'shop',
      channel: 'http2sms',
      tag: 'promo',
      parts: 1,
      credits: 1,
      encoding: 'gsm7',
      carrierMessageId: 'abc-1',
      errorCode: null,
      errorText: null,
      deferredUntil: null,
      validUntil: '2014-12-01T12:25:43+01:00',
      ptt: 0,
      deliveryReceipt: 1,
    });
  });

  it('escapes U+2028 and U+2029, which readers splitting on every Unicode line break would cut a record at', () => {
    const line = jsonLine(buildOutgoing({ message: 'a\u2028b\u2029c' }), 'UTC');
    expect(line).toContain('a\\u2028b\\u2029c');
    expect(line.slice(0, -1).split(/\r\n|[\n\r\u2028\u2029\u0085]/)).toHaveLength(1);
    expect(JSON.parse(line).message).toBe('a\u2028b\u2029c');
  });

  it('keeps newlines inside the one line and accepts a formatter', () => {
    const fmt = createTimeFormatter('UTC');
    const o = buildOutgoing({ message: 'a\nb', status: 'pending', sentAt: null, deliveredAt: null });
    const line = jsonLine(o, fmt);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(JSON.parse(line)).toMatchObject({ message: 'a\nb', createdAt: '2014-11-29T11:25:43+00:00', ptt: 254, deliveryReceipt: 0 });
    expect(toPublicOutgoing(o, fmt)).toEqual(JSON.parse(line));
  });

  it('is exactly JSON.stringify of the public object, for any row', () => {
    const time = fc.option(fc.integer({ min: 0, max: Date.parse('2100-01-01T00:00:00Z') }));
    const row = fc.record({
      id: fc.nat(),
      userLogin: fc.option(text()),
      channel: fc.constantFrom(...CHANNELS),
      sender: text(),
      receiver: text(),
      message: fc.option(text()),
      encoding: fc.constantFrom(...ENCODINGS),
      parts: fc.integer({ min: 1, max: 10 }),
      credits: fc.double({ min: 0, max: 100, noNaN: true }),
      tag: text(),
      status: fc.constantFrom(...OUTGOING_STATUSES),
      createdAt: fc.integer({ min: 0, max: Date.parse('2100-01-01T00:00:00Z') }),
      sentAt: time,
      deliveredAt: time,
      failedAt: time,
      expiredAt: time,
      canceledAt: time,
      carrierMessageId: fc.option(text()),
      errorCode: fc.option(fc.oneof(text(), fc.constantFrom('53', '3', '0'))),
      errorText: fc.option(text()),
      deferredUntil: time,
      validUntil: time,
    });
    const fmt = createTimeFormatter('America/New_York');
    fc.assert(
      fc.property(row, (fields) => {
        const o = buildOutgoing(fields);
        const stringified = JSON.stringify(toPublicOutgoing(o, fmt))
          .replace(/\u2028/g, '\\u2028')
          .replace(/\u2029/g, '\\u2029');
        return jsonLine(o, fmt) === `${stringified}\n`;
      }),
      { numRuns: 1000 },
    );
  });
});
