import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from '../../../../test/app.js';
import { createSender, createSmsUser, type SeededAccount, seedCustomerWithAccount, TEST_PASSWORD } from '../../../../test/factories.js';

const PATH = '/cgi-bin/sms/http2sms.cgi';
const FORMATS = ['text/plain', 'text/html', 'text/xml', 'application/xml', 'text/json', 'application/json'];

/** Mostly the right value, sometimes absent, empty, a near miss or anything at all. */
function param(right: fc.Arbitrary<string>, ...nearMisses: string[]): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { arbitrary: right, weight: 24 },
    { arbitrary: fc.constant(undefined), weight: 1 },
    { arbitrary: fc.constant(''), weight: 1 },
    { arbitrary: fc.constantFrom(...(nearMisses.length ? nearMisses : [' '])), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 1 },
  );
}

/** Optional: mostly absent or right, sometimes anything. */
function optional(right: fc.Arbitrary<string>, wrong: fc.Arbitrary<string>): fc.Arbitrary<string | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: right, weight: 4 }, { arbitrary: wrong, weight: 1 });
}

/** Did the body say OK or KO, in the format its Content-Type names? The ids when OK. */
function outcomeOf(contentType: string, body: string): { ok: boolean; ids: number[] } {
  const f = contentType.split(';')[0];
  expect(FORMATS).toContain(f);
  if (f === 'text/json' || f === 'application/json') {
    const v = JSON.parse(body) as { status: number; smsIds?: string[] };
    expect(typeof v.status).toBe('number');
    return { ok: v.status === 100, ids: (v.smsIds ?? []).map(Number) };
  }
  if (f === 'text/xml' || f === 'application/xml') {
    expect(body.startsWith('<?xml version="1.0" encoding="UTF-8" ?><response><status>')).toBe(true);
    return { ok: body.includes('<status>100</status>'), ids: [...body.matchAll(/<smsId>(\d+)<\/smsId>/g)].map((m) => Number(m[1])) };
  }
  if (f === 'text/html') {
    const inner = /<body>([\s\S]*)<\/body>/.exec(body)?.[1] ?? '';
    const parts = inner.split('<br>');
    expect(['OK', 'KO']).toContain(parts[0]);
    return { ok: parts[0] === 'OK', ids: parts[0] === 'OK' ? parts.slice(2, -1).map(Number) : [] };
  }
  const lines = body.split('\n');
  expect(['OK', 'KO']).toContain(lines[0]);
  return { ok: lines[0] === 'OK', ids: lines[0] === 'OK' ? lines.slice(2).map(Number) : [] };
}

describeEachDialectWithApp(
  'http2sms fuzz',
  (ctx) => {
    let seeded: SeededAccount;
    const state = async () => {
      const { db } = ctx.database;
      const id = seeded.account.id;
      const count = async (table: 'outgoing' | 'dispatch_queue' | 'jobs') =>
        Number(
          (
            await db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll().as('n'))
              .where('account_id', '=', id)
              .executeTakeFirstOrThrow()
          ).n,
        );
      const { credits } = await db.selectFrom('accounts').select('credits').where('id', '=', id).executeTakeFirstOrThrow();
      return { rows: await count('outgoing'), queued: await count('dispatch_queue'), jobs: await count('jobs'), credits: Number(credits) };
    };
    /** Sends, then checks: never a 5xx, OK/KO in the format asked for, and a KO changed nothing while an OK wrote exactly its rows. */
    const sendAndCheck = async (request: { url: string; body?: string; contentType?: string }) => {
      const before = await state();
      const res = await ctx.app.inject({
        method: request.body === undefined ? 'GET' : 'POST',
        url: request.url,
        ...(request.body === undefined
          ? {}
          : { payload: request.body, headers: { 'content-type': request.contentType ?? 'application/x-www-form-urlencoded' } }),
        remoteAddress: '192.0.2.1',
      });
      expect(res.statusCode).toBeLessThan(500);
      const after = await state();
      const { ok, ids } = outcomeOf(String(res.headers['content-type']), res.body);
      if (res.statusCode !== 200) expect(ok).toBe(false);
      if (ok) {
        expect(ids.length).toBeGreaterThan(0);
        expect(after.rows - before.rows).toBe(ids.length);
        expect(after.queued - before.queued).toBe(ids.length);
        expect(after.jobs - before.jobs).toBe(1);
        expect(after.credits).toBeLessThan(before.credits);
      } else {
        expect(after).toEqual(before);
      }
      return ok;
    };

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 1_000_000 } });
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
      await createSmsUser(ctx.app, seeded.account, { login: 'fuzzer' });
    });

    it('never fails and never leaves a partial job, whatever the parameters (GET and POST)', async () => {
      let accepted = 0;
      const params = fc.record({
        account: param(fc.constant('ACCOUNT'), 'sms-zz00000-1'),
        login: param(fc.constant('fuzzer'), 'Fuzzer'),
        password: param(fc.constant(TEST_PASSWORD), 'wrong'),
        from: param(fc.constant('MyShop'), 'myshop', 'Other'),
        to: param(
          fc.constantFrom('+33612345678', '0033612345679', '0612345670', '+33612345671,0033612345672', '06 12 34 56 73'),
          '+33',
          'abc,+33612345678',
          ',,,',
        ),
        message: param(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }), ' ', '\r\n', 'x'.repeat(5001)),
        deferred: optional(fc.constantFrom('120001012020', '183019072099', '000000000000', '235931122025'), fc.string({ maxLength: 14 })),
        class: optional(fc.constantFrom('0', '1', '2', '3'), fc.oneof(fc.constantFrom('4', '-1'), fc.string({ maxLength: 3 }))),
        smsCoding: optional(fc.constantFrom('1', '2'), fc.oneof(fc.constant('0'), fc.string({ maxLength: 3 }))),
        noStop: optional(fc.constantFrom('1', '0'), fc.string({ maxLength: 3 })),
        tag: optional(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 25 })),
        contentType: optional(fc.constantFrom(...FORMATS, 'TEXT/JSON'), fc.string({ maxLength: 12 })),
        senderForResponse: optional(fc.constantFrom('1', '0'), fc.string({ maxLength: 3 })),
        charset: fc.option(fc.constantFrom('ISO-8859-1', 'utf-8', 'latin1', 'nope'), { nil: undefined }),
      });
      await fc.assert(
        fc.asyncProperty(params, fc.boolean(), async (p, usePost) => {
          const q = new URLSearchParams();
          for (const [k, v] of Object.entries(p)) if (v !== undefined) q.append(k, v === 'ACCOUNT' ? seeded.account.name : v);
          const request = usePost ? { url: PATH, body: q.toString() } : { url: `${PATH}?${q}` };
          if (await sendAndCheck(request)) accepted++;
        }),
        { numRuns: 150 },
      );
      // The generator reaches the sending path, not only the early refusals.
      expect(accepted).toBeGreaterThan(5);
    });

    it('never fails on raw garbage: stray %, bad escapes, raw bytes, odd names', async () => {
      const piece = fc.constantFrom(
        '%',
        '%E9',
        '%C3',
        '%C3%A9',
        '%ZZ',
        '%0d',
        '+',
        '&',
        '=',
        '==',
        ',',
        'a',
        'é',
        '\u00ff',
        'message',
        'to',
        'login',
        'contentType',
        '%00',
        ';',
      );
      const head = `account=ACCOUNT&login=fuzzer&password=${encodeURIComponent(TEST_PASSWORD)}&from=MyShop&to=%2B33612345678&message=`;
      await fc.assert(
        fc.asyncProperty(fc.array(piece, { maxLength: 30 }), fc.boolean(), fc.boolean(), async (pieces, withHead, usePost) => {
          const raw = (withHead ? head.replace('ACCOUNT', seeded.account.name) : '') + pieces.join('');
          const request = usePost
            ? { url: PATH, body: raw, contentType: 'application/x-www-form-urlencoded; charset=ISO-8859-1' }
            : { url: `${PATH}?${encodeURI(raw).replaceAll('%25', '%')}` };
          await sendAndCheck(request);
        }),
        { numRuns: 100 },
      );
    });
  },
  { config: { http2smsRateLimit: { perIp: 1_000_000, perUser: 1_000_000, authFailuresPerMinute: 1_000_000, windowMs: 1000 } } },
);
