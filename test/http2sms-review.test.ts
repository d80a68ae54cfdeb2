/**
 * Adversarial review of http2sms (`/cgi-bin/sms/http2sms.cgi`) against OVH-COMPAT §3 and the README:
 * parameter edge cases, deferred times across DST, IP restrictions, quotas, caches that must not outlive
 * a change, and rate limits. Every refusal must leave the database as it was (`ledger`).
 */
import { randomInt } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { fakeClock } from '../src/server/modules/dispatch/dispatch-testing.js';
import { HTML_HEAD, HTML_TAIL } from '../src/server/modules/http2sms/http2sms-response.js';
import { type AppTestContext, describeEachDialectWithApp } from './app.js';
import { createAccount, createSender, createSmsUser, type SeededAccount, seedCustomerWithAccount, TEST_PASSWORD } from './factories.js';
import { ledger } from './ledger.js';

const PATH = '/cgi-bin/sms/http2sms.cgi';
const NO_LIMITS = { perIp: 1_000_000, perUser: 1_000_000, authFailuresPerMinute: 1_000_000, windowMs: 1000 };

type Params = Record<string, string | undefined>;

let lastIp = randomInt(0, 50_000);
/** A client address of its own for each request (per-address limits never meet across tests). */
const freshIp = () => {
  lastIp++;
  return `10.${120 + (lastIp >> 16)}.${(lastIp >> 8) & 255}.${lastIp & 255}`;
};

function query(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v);
  return q.toString();
}

/** The ids of a text/plain OK answer (throws on KO, saying why). */
function idsOf(body: string): number[] {
  const lines = body.split('\n');
  if (lines[0] !== 'OK') throw new Error(`expected OK, got ${JSON.stringify(body)}`);
  return lines.slice(2).map(Number);
}

function tools(ctx: AppTestContext) {
  const inject = (method: 'GET' | 'POST', url: string, init: { body?: string | Buffer; contentType?: string; ip?: string } = {}) =>
    ctx.app.inject({
      method,
      url,
      remoteAddress: init.ip ?? freshIp(),
      ...(init.body === undefined ? {} : { payload: init.body }),
      ...(init.contentType === undefined ? {} : { headers: { 'content-type': init.contentType } }),
    });
  return {
    get: (params: Params, ip?: string) => inject('GET', `${PATH}?${query(params)}`, { ip }),
    getRaw: (raw: string, ip?: string) => inject('GET', `${PATH}?${raw}`, { ip }),
    post: (body: string | Buffer, init: { rawQuery?: string; contentType?: string; ip?: string } = {}) =>
      inject('POST', `${PATH}${init.rawQuery ? `?${init.rawQuery}` : ''}`, {
        body,
        contentType: init.contentType ?? 'application/x-www-form-urlencoded',
        ip: init.ip,
      }),
    rows: (ids: number[]) =>
      ids.length === 0
        ? Promise.resolve([])
        : ctx.database.db
            .selectFrom('outgoing')
            .select([
              'id',
              'user_login',
              'channel',
              'sender',
              'receiver',
              'message',
              'tag',
              'encoding',
              'parts',
              'credits',
              'deferred_until',
            ])
            .where('id', 'in', ids)
            .orderBy('id')
            .execute(),
    credits: async (accountId: number) =>
      Number(
        (await ctx.database.db.selectFrom('accounts').select('credits').where('id', '=', accountId).executeTakeFirstOrThrow()).credits,
      ),
    quota: async (userId: number) => {
      const { quota } = await ctx.database.db.selectFrom('sms_users').select('quota').where('id', '=', userId).executeTakeFirstOrThrow();
      return quota === null ? null : Number(quota);
    },
    state: () => ledger(ctx.database),
  };
}

describeEachDialectWithApp(
  'http2sms review',
  (ctx) => {
    const t = tools(ctx);
    let seeded: SeededAccount;
    let userId: number;
    const LOGIN = 'reviewer';
    const base = (extra: Params = {}): Params => ({
      account: seeded.account.name,
      login: LOGIN,
      password: TEST_PASSWORD,
      from: 'MyShop',
      to: '+33612345678',
      message: 'Hello',
      noStop: '1',
      ...extra,
    });
    /** The base parameters as a raw query string, without the named ones (to append raw values). */
    const rawBase = (...without: string[]) => query(base(Object.fromEntries(without.map((name) => [name, undefined]))));
    /** Sends and reads the rows back: answer, ids and rows (in id order). */
    const sendOk = async (rawQuery: string) => {
      const res = await t.getRaw(rawQuery);
      const ids = idsOf(res.body);
      return { res, ids, rows: await t.rows(ids) };
    };

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 1_000_000 } });
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
      await createSender(ctx.app, seeded.account, { sender: 'Waiting', status: 'waitingValidation' });
      await createSender(ctx.app, seeded.account, { sender: 'Refused', status: 'refused' });
      userId = (await createSmsUser(ctx.app, seeded.account, { login: LOGIN })).id;
    });

    describe('to', () => {
      it('reads literal +, 00, national numbers, spaces, empty pieces and trailing commas: one id per receiver, in order', async () => {
        const before = await t.credits(seeded.account.id);
        const { res, ids, rows } = await sendOk(`${rawBase('to')}&to=,+33612340101,,0033612340102,%20+33612340103%20,06+12+34+01+04,`);
        expect(ids).toHaveLength(4);
        expect(rows.map((r) => r.receiver)).toEqual(['+33612340101', '+33612340102', '+33612340103', '+33612340104']);
        expect(rows.map((r) => r.id)).toEqual(ids);
        expect(res.body.split('\n')[1]).toBe(String(before - 4));
        expect(await t.credits(seeded.account.id)).toBe(before - 4);
      });

      it('joins repeated `to` parameters, also across the query string and a POST body', async () => {
        const { rows } = await sendOk(`${rawBase('to')}&to=%2B33612340111&TO=%2B33612340112`);
        expect(rows.map((r) => r.receiver)).toEqual(['+33612340111', '+33612340112']);
        const posted = await t.post('to=%2B33612340114', { rawQuery: `${rawBase('to')}&to=%2B33612340113` });
        expect((await t.rows(idsOf(posted.body))).map((r) => r.receiver)).toEqual(['+33612340113', '+33612340114']);
      });

      it('answers as many ids as it records rows and debits credits (duplicates included)', async () => {
        const before = await t.state();
        const res = await t.get(base({ to: '+33612340121,0033612340121,0612340121,+33612340122' }));
        const ids = idsOf(res.body);
        const after = await t.state();
        expect(new Set(ids).size).toBe(ids.length);
        expect(after.outgoing - before.outgoing).toBe(ids.length);
        expect(before.credits[seeded.account.id] - after.credits[seeded.account.id]).toBe(ids.length);
        expect(res.body.split('\n')[1]).toBe(String(after.credits[seeded.account.id]));
      });

      it('reads a literal + after every separator it accepts (`;` and line breaks, as after a comma)', async () => {
        // `to` is split on commas, semicolons and line breaks; a literal `+` starting a number is kept
        // after a comma, so it must be after the other separators too. (UK numbers in a French account:
        // read as "447911123457" they are not valid national numbers.)
        for (const sep of [',', ';', '%0A', '%0D%0A', '%3B']) {
          const res = await t.getRaw(`${rawBase('to')}&to=+447911123456${sep}+447911123457&contentType=text/json`);
          expect([sep, res.json().status, res.json().message]).toEqual([sep, 100, undefined]);
          expect((await t.rows(res.json().smsIds.map(Number))).map((r) => r.receiver)).toEqual(['+447911123456', '+447911123457']);
        }
      });

      it('reads a literal + that starts a numeric sender in `from`, as it does in `to`', async () => {
        await createSender(ctx.app, seeded.account, { sender: '+33700000001' });
        const res = await t.getRaw(`${rawBase('from')}&from=+33700000001&contentType=text/json`);
        expect(res.json()).toMatchObject({ status: 100 });
        expect((await t.rows(res.json().smsIds.map(Number)))[0].sender).toBe('+33700000001');
      });

      it('accepts exactly 100,000 receivers: one id each, in order', async () => {
        const account = await createAccount(ctx.app, { owner: seeded.customer, credits: 100_000 });
        await createSender(ctx.app, account, { sender: 'MyShop' });
        const u = await createSmsUser(ctx.app, account, { login: 'bulk' });
        const receivers = Array.from({ length: 100_000 }, (_, i) => `+3361${String(i).padStart(7, '0')}`);
        const res = await t.post(query(base({ account: account.name, login: u.login, to: receivers.join(',') })));
        const lines = res.body.split('\n');
        expect(lines.slice(0, 2)).toEqual(['OK', '0']);
        expect(lines).toHaveLength(100_002);
        const first = await t.rows([Number(lines[2]), Number(lines[100_001])]);
        expect(first.map((r) => r.receiver)).toEqual([receivers[0], receivers[99_999]]);
      });

      it('refuses more than 100,000 receivers with 202, recording and debiting nothing', async () => {
        const to = Array.from({ length: 100_001 }, (_, i) => `+3361${String(i).padStart(7, '0')}`).join(',');
        const before = await t.state();
        const res = await t.post(query(base({ to, contentType: 'text/json' })));
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({ status: 202, message: expect.stringMatching(/100000 receivers/) });
        expect(await t.state()).toEqual(before);
      });

      it('refuses the whole request when one receiver among several is invalid (no partial job)', async () => {
        const before = await t.state();
        for (const to of ['+33612340141,+33612340142,123', '+33612340141 abc', '+33612340141,,+44']) {
          const res = await t.get(base({ to, contentType: 'text/json' }));
          expect([to, res.json().status]).toEqual([to, 202]);
          expect(res.json().message).toMatch(/^Invalid to: "/);
        }
        expect(await t.state()).toEqual(before);
      });
    });

    describe('message', () => {
      it('reads + as a space and %2B as a plus in a GET query', async () => {
        const { rows } = await sendOk(`${rawBase('message')}&message=1+%2B+1+%3D+2`);
        expect(rows[0].message).toBe('1 + 1 = 2');
      });

      it('counts parts at the 160/153 and 70/67 limits (credits debited per part)', async () => {
        const cases: [string, Params, number][] = [
          ['160 GSM', { message: 'a'.repeat(160) }, 1],
          ['161 GSM', { message: 'a'.repeat(161) }, 2],
          ['306 GSM', { message: 'a'.repeat(306) }, 2],
          ['307 GSM', { message: 'a'.repeat(307) }, 3],
          ['70 UCS-2', { message: 'Ж'.repeat(70) }, 1],
          ['71 UCS-2', { message: 'Ж'.repeat(71) }, 2],
          ['134 UCS-2', { message: 'Ж'.repeat(134) }, 2],
          ['135 UCS-2', { message: 'Ж'.repeat(135) }, 3],
          ['71 ASCII forced to Unicode', { message: 'a'.repeat(71), smsCoding: '2' }, 2],
          ['150 + STOP mention', { message: 'a'.repeat(150), noStop: '0' }, 2],
        ];
        for (const [label, extra, parts] of cases) {
          const before = await t.credits(seeded.account.id);
          const res = await t.get(base(extra));
          const [row] = await t.rows(idsOf(res.body));
          expect([label, row.parts, Number(row.credits), before - (await t.credits(seeded.account.id))]).toEqual([
            label,
            parts,
            parts,
            parts,
          ]);
        }
      });

      it('accepts exactly 5,000 characters and refuses 5,001, also when CRLF would count twice', async () => {
        const at = await t.get(base({ message: 'b'.repeat(5000) }));
        expect((await t.rows(idsOf(at.body)))[0].message).toHaveLength(5000);
        // 2,500 CRLF line breaks are 2,500 characters once read as line breaks.
        const crlf = await t.get(base({ message: `${'c\r\n'.repeat(1666)}cc` }));
        expect(crlf.body.split('\n')[0]).toBe('OK');
        const before = await t.state();
        const past = await t.get(base({ message: 'b'.repeat(5001), contentType: 'text/json' }));
        expect(past.json()).toEqual({ status: 202, message: 'Invalid message: is too long (at most 5000 characters)' });
        expect(await t.state()).toEqual(before);
      });

      it('reads a form body as ISO-8859-1 when its `charset` parameter says so, UTF-8 otherwise', async () => {
        const inBody = await t.post(`${rawBase('message')}&charset=iso-8859-1&message=%E0+bient%F4t+%80`);
        expect((await t.rows(idsOf(inBody.body)))[0].message).toBe('à bientôt €');
        const utf8 = await t.post(`${rawBase('message')}&message=%C3%A0+bient%C3%B4t+%E2%82%AC`);
        expect((await t.rows(idsOf(utf8.body)))[0].message).toBe('à bientôt €');
        const header = await t.post(`${rawBase('message')}&message=%E0+bient%F4t`, {
          contentType: 'application/x-www-form-urlencoded; charset=windows-1252',
        });
        expect((await t.rows(idsOf(header.body)))[0].message).toBe('à bientôt');
      });

      it('reads raw (unescaped) UTF-8 bytes of a form body', async () => {
        const body = Buffer.concat([Buffer.from(`${rawBase('message')}&message=`), Buffer.from('Crème brûlée ✓', 'utf8')]);
        const res = await t.post(body);
        expect((await t.rows(idsOf(res.body)))[0].message).toBe('Crème brûlée ✓');
      });

      it('keeps an invalid percent escape as written', async () => {
        const { rows } = await sendOk(`${rawBase('message')}&message=100%25+s%FBr+%GG+%4`);
        expect(rows[0].message).toBe('100% sûr %GG %4');
      });
    });

    describe('answers', () => {
      it('gives each KO the Content-Type of its format, and the same 401 body for every wrong credential', async () => {
        for (const format of ['text/plain', 'text/html', 'text/xml', 'application/xml', 'text/json', 'application/json']) {
          const bodies = new Set<string>();
          for (const extra of [{ password: 'wrong' }, { login: 'nobody' }, { account: 'sms-zz99999-9' }, { password: '' }]) {
            const res = await t.get(base({ ...extra, contentType: format }));
            expect([format, res.statusCode, res.headers['content-type']]).toEqual([format, 200, `${format}; charset=utf-8`]);
            if (extra.password !== '') bodies.add(res.body);
          }
          expect([format, bodies.size]).toEqual([format, 1]);
        }
      });
    });

    describe('tag, class, smsCoding, senderForResponse', () => {
      it('accepts a tag of exactly 20 characters (after trimming), refuses 21', async () => {
        const twenty = 't'.repeat(20);
        const { rows } = await sendOk(`${rawBase()}&tag=+${twenty}+`);
        expect(rows[0].tag).toBe(twenty);
        const res = await t.get(base({ tag: 'é'.repeat(21), contentType: 'text/json' }));
        expect(res.json()).toEqual({ status: 202, message: 'Invalid tag: is too long (at most 20 characters)' });
      });

      it('counts a tag in characters, not UTF-16 code units (12 emoji are 12 characters)', async () => {
        const tag = '🎉'.repeat(12);
        const res = await t.get(base({ tag, contentType: 'text/json' }));
        expect(res.json().status).toBe(100);
        expect((await t.rows(res.json().smsIds.map(Number)))[0].tag).toBe(tag);
      });

      it('refuses a sender waiting for validation or refused with 241', async () => {
        const before = await t.state();
        for (const from of ['Waiting', 'Refused', 'myshop']) {
          const res = await t.get(base({ from, contentType: 'text/xml' }));
          expect(res.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8" \?><response><status>241<\/status><message>Sender not found: /);
        }
        expect(await t.state()).toEqual(before);
      });

      it('with senderForResponse=1, ignores `from`, even an unknown one', async () => {
        const { rows } = await sendOk(`${rawBase('from')}&from=Nobody&senderForResponse=1`);
        expect(rows[0].sender).toBe('');
      });

      it('reads parameter names in any case and takes the last of a repeated one', async () => {
        const raw =
          `ACCOUNT=${seeded.account.name}&Login=${LOGIN}&PASSWORD=${encodeURIComponent(TEST_PASSWORD)}&From=MyShop` +
          '&To=%2B33612340151&MESSAGE=first&Message=second&NoStop=1&Tag=x&TAG=last-tag&ContentType=TEXT/XML';
        const res = await t.getRaw(raw);
        expect(res.headers['content-type']).toBe('text/xml; charset=utf-8');
        const id = Number(/<smsId>(\d+)<\/smsId>/.exec(res.body)?.[1]);
        expect(await t.rows([id])).toMatchObject([{ message: 'second', tag: 'last-tag', receiver: '+33612340151' }]);
      });
    });

    describe('deferred', () => {
      it('refuses malformed deferred values with 202, recording nothing', async () => {
        const before = await t.state();
        const nextYear = new Date().getUTCFullYear() + 1;
        for (const deferred of [
          `1830190${nextYear}`, // 11 digits
          `18301907${nextYear}0`, // 13
          `18:30 19/07/${nextYear}`,
          `1830${'1907'}${nextYear}`.replace('1', 'x'),
          `12002902${nextYear % 4 === 0 ? nextYear + 1 : nextYear}`, // 29 February of a common year
          `24001907${nextYear}`,
          `12603107${nextYear}`,
          `-1301907${nextYear}`,
        ]) {
          const res = await t.get(base({ deferred, contentType: 'text/json' }));
          expect([deferred, res.json().status]).toEqual([deferred, 202]);
          expect(res.json().message).toMatch(/^Invalid deferred: /);
        }
        expect(await t.state()).toEqual(before);
      });
    });

    describe('IP restrictions', () => {
      it('allows an IPv6 range and an IPv4 client in IPv4-mapped form; refuses others with 401, recording nothing', async () => {
        const v6 = await createSmsUser(ctx.app, seeded.account, { login: 'v6user', ipRestrictions: ['2001:db8:1::/48', '127.0.0.0/8'] });
        const before = await t.state();
        for (const ip of ['2001:db8:2::1', '2001:db9::1', '192.0.2.1', '::ffff:192.0.2.1', '::1']) {
          const res = await t.get(base({ login: v6.login, contentType: 'text/json' }), ip);
          expect([ip, res.statusCode, res.json()]).toEqual([ip, 200, { status: 401, message: `IP not allowed for this user (${ip})` }]);
        }
        expect(await t.state()).toEqual(before);
        for (const ip of ['2001:db8:1::1', '2001:db8:1:ffff::9', '::ffff:127.0.0.1', '127.0.0.1']) {
          expect([ip, (await t.get(base({ login: v6.login }), ip)).body.split('\n')[0]]).toEqual([ip, 'OK']);
        }
      });

      it('matches a restriction written in IPv4-mapped form (as a dual-stack server logs it) against the IPv4 client', async () => {
        const mapped = await createSmsUser(ctx.app, seeded.account, { login: 'mappeduser', ipRestrictions: ['::ffff:192.0.2.77'] });
        expect((await t.get(base({ login: mapped.login }), '::ffff:192.0.2.77')).body.split('\n')[0]).toBe('OK');
        expect((await t.get(base({ login: mapped.login }), '192.0.2.77')).body.split('\n')[0]).toBe('OK');
      });
    });

    describe('changes apply at once (no stale cache)', () => {
      it('refuses the old password as soon as it is changed, and a deleted user at once', async () => {
        const u = await createSmsUser(ctx.app, seeded.account, { login: 'changing' });
        expect((await t.get(base({ login: u.login }))).body.split('\n')[0]).toBe('OK');
        await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, seeded.account.name, u.login, { password: 'a brand new password 2027' });
        const before = await t.state();
        expect((await t.get(base({ login: u.login }))).body).toBe('KO\nWrong account, login or password');
        expect(await t.state()).toEqual(before);
        expect((await t.get(base({ login: u.login, password: 'a brand new password 2027' }))).body.split('\n')[0]).toBe('OK');
        await ctx.app.services.smsUsers.delete(SYSTEM_ACTOR, seeded.account.name, u.login);
        const afterDelete = await t.state();
        expect((await t.get(base({ login: u.login, password: 'a brand new password 2027' }))).body).toBe(
          'KO\nWrong account, login or password',
        );
        expect(await t.state()).toEqual(afterDelete);
      });

      it('applies a new IP restriction, a new quota and a disabled sender at once', async () => {
        const u = await createSmsUser(ctx.app, seeded.account, { login: 'fencedlater' });
        await createSender(ctx.app, seeded.account, { sender: 'Brief' });
        expect((await t.get(base({ login: u.login, from: 'Brief' }), '198.51.100.9')).body.split('\n')[0]).toBe('OK');
        await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, seeded.account.name, u.login, { ipRestrictions: ['192.0.2.0/24'] });
        expect((await t.get(base({ login: u.login, from: 'Brief' }), '198.51.100.9')).body).toBe(
          'KO\nIP not allowed for this user (198.51.100.9)',
        );
        await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, seeded.account.name, u.login, { ipRestrictions: [], quota: 0 });
        expect((await t.get(base({ login: u.login, from: 'Brief', contentType: 'text/json' }))).json().status).toBe(402);
        await ctx.app.services.smsUsers.update(SYSTEM_ACTOR, seeded.account.name, u.login, { quota: null });
        await ctx.app.services.senders.update(SYSTEM_ACTOR, seeded.account.name, 'Brief', { status: 'disable' });
        const before = await t.state();
        expect((await t.get(base({ login: u.login, from: 'Brief', contentType: 'text/json' }))).json().status).toBe(241);
        expect(await t.state()).toEqual(before);
      });

      it('reads `deferred` in the timezone the account has now', async () => {
        const account = await createAccount(ctx.app, { owner: seeded.customer, timezone: 'Europe/Paris', credits: 10 });
        await createSender(ctx.app, account, { sender: 'MyShop' });
        const u = await createSmsUser(ctx.app, account, { login: 'tzuser' });
        const thisYear = new Date().getUTCFullYear();
        const year = Date.UTC(thisYear, 0, 15) > Date.now() + 86_400_000 ? thisYear : thisYear + 1; // the next 15 January
        const params = base({ account: account.name, login: u.login, deferred: `12001501${year}` });
        const paris = await t.get(params);
        expect(Number((await t.rows(idsOf(paris.body)))[0].deferred_until)).toBe(Date.UTC(year, 0, 15, 11, 0));
        await ctx.app.services.accounts.update(SYSTEM_ACTOR, account.name, { timezone: 'Asia/Tokyo' });
        const tokyo = await t.get(params);
        expect(Number((await t.rows(idsOf(tokyo.body)))[0].deferred_until)).toBe(Date.UTC(year, 0, 15, 3, 0));
      });
    });

    describe('credits and quotas', () => {
      it('spends a quota exactly to zero, parts included; then refuses with 402, recording nothing', async () => {
        const q = await createSmsUser(ctx.app, seeded.account, { login: 'quota3', quota: 3 });
        const two = await t.get(base({ login: q.login, message: 'q'.repeat(161) }));
        expect(two.body.split('\n')[0]).toBe('OK');
        expect(await t.quota(q.id)).toBe(1);
        const before = await t.state();
        const over = await t.get(base({ login: q.login, message: 'q'.repeat(161), contentType: 'text/xml' }));
        expect(over.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8" \?><response><status>402<\/status><message>[^<]*quota/);
        expect(await t.state()).toEqual(before);
        expect((await t.get(base({ login: q.login }))).body.split('\n')[0]).toBe('OK');
        expect(await t.quota(q.id)).toBe(0);
        expect((await t.get(base({ login: q.login, contentType: 'text/json' }))).json().status).toBe(402);
      });

      it('refuses an account without credits with 402 and writes nothing; creditLeft 0 after the last one', async () => {
        const account = await createAccount(ctx.app, { owner: seeded.customer, credits: 1 });
        await createSender(ctx.app, account, { sender: 'MyShop' });
        const u = await createSmsUser(ctx.app, account, { login: 'poor' });
        const last = await t.get(base({ account: account.name, login: u.login, contentType: 'text/json' }));
        expect(last.json()).toMatchObject({ status: 100, creditLeft: '0' });
        const before = await t.state();
        const none = await t.get(base({ account: account.name, login: u.login, contentType: 'text/html' }));
        expect(none.body).toMatch(new RegExp(`^${escapeRegExp(HTML_HEAD)}KO<br>Not enough credits[^<]*<br>${escapeRegExp(HTML_TAIL)}$`));
        expect(await t.state()).toEqual(before);
      });

      it('records the messages with channel http2sms and the SMS user login, debiting only its own account', async () => {
        const other = await createAccount(ctx.app, { credits: 50 });
        const before = await t.state();
        const { rows } = await sendOk(`${rawBase('to')}&to=%2B33612340161,%2B33612340162`);
        const after = await t.state();
        expect(rows.map((r) => [r.channel, r.user_login])).toEqual([
          ['http2sms', LOGIN],
          ['http2sms', LOGIN],
        ]);
        expect(after.credits[other.id]).toBe(before.credits[other.id]);
        expect(after.quotas[userId]).toBeNull();
      });
    });

    describe('transport', () => {
      it('accepts a POST form sent as multipart/form-data (PHP cURL with an array, curl -F)', async () => {
        const boundary = '----relais-review';
        const fields = base({ to: '+33612340171', message: 'multipart' });
        const parts = Object.entries(fields).map(
          ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
        );
        const body = `${parts.join('')}--${boundary}--\r\n`;
        const res = await t.post(body, { contentType: `multipart/form-data; boundary=${boundary}` });
        expect([res.statusCode, res.body.split('\n')[0]]).toEqual([200, 'OK']);
      });

      it('refuses a body over 4 MB (urlencoded or multipart) in the protocol, recording nothing', async () => {
        const before = await t.state();
        const huge = `${query(base({ to: '+33612340173' }))}&message=${'x'.repeat(5 * 1024 * 1024)}`;
        const urlencoded = await t.post(huge);
        expect([urlencoded.statusCode, urlencoded.body.split('\n')[0]]).toEqual([413, 'KO']);
        const boundary = 'big';
        const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="message"\r\n\r\n${'x'.repeat(5 * 1024 * 1024)}\r\n--${boundary}--\r\n`;
        const res = await t.post(multipart, { contentType: `multipart/form-data; boundary=${boundary}` });
        expect([res.statusCode, res.body.split('\n')[0]]).toEqual([413, 'KO']);
        expect(await t.state()).toEqual(before);
      });

      it('ignores an Authorization header meant for something else (http2sms authenticates by its login)', async () => {
        const res = await ctx.app.inject({
          method: 'GET',
          url: `${PATH}?${query(base({ to: '+33612340174', message: 'with a stray header' }))}`,
          headers: { authorization: 'Bearer not-a-relais-token' },
          remoteAddress: freshIp(),
        });
        expect([res.statusCode, res.body.split('\n')[0]]).toEqual([200, 'OK']);
      });

      it('answers a malformed multipart form with a KO in the protocol, recording nothing', async () => {
        const before = await t.state();
        for (const contentType of ['multipart/form-data', 'multipart/form-data; boundary=abc']) {
          const res = await t.post('--abc\r\nContent-Disposition: form-data; name="to"\r\n\r\n+33612340172', { contentType });
          expect([contentType, res.statusCode, res.body.split('\n')]).toEqual([
            contentType,
            400,
            ['KO', expect.stringMatching(/^Malformed multipart form/)],
          ]);
        }
        expect(await t.state()).toEqual(before);
      });

      it('answers a POST without a Content-Type in the protocol (KO, never 5xx) and records nothing', async () => {
        const before = await t.state();
        const res = await ctx.app.inject({ method: 'POST', url: PATH, payload: query(base()), remoteAddress: freshIp() });
        expect(res.statusCode).toBeLessThan(500);
        expect(res.body.split('\n')[0]).toMatch(/^(OK|KO)$/);
        if (res.body.startsWith('KO')) expect(await t.state()).toEqual(before);
      });

      it('sends a GET with its query string, whatever body it carries', async () => {
        const res = await ctx.app.inject({
          method: 'GET',
          url: `${PATH}?${query(base({ message: 'from the query' }))}`,
          payload: 'message=from+the+body',
          headers: { 'content-type': 'text/plain' },
          remoteAddress: freshIp(),
        });
        expect(res.statusCode).toBe(200);
        expect((await t.rows(idsOf(res.body)))[0].message).toBe('from the query');
      });
    });
  },
  { config: { http2smsRateLimit: NO_LIMITS } },
);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** 1 March 2027, 12:00 UTC (13:00 in Paris): before both of 2027's DST changes, less than a year before them. */
const MARCH_1_2027 = Date.UTC(2027, 2, 1, 12, 0);

describeEachDialectWithApp(
  'http2sms review: deferred and DST',
  (ctx) => {
    const t = tools(ctx);
    let seeded: SeededAccount;
    let ny: Awaited<ReturnType<typeof createAccount>>;
    const base = (extra: Params = {}): Params => ({
      account: seeded.account.name,
      login: 'dst',
      password: TEST_PASSWORD,
      from: 'MyShop',
      to: '+33612345678',
      message: 'Later',
      noStop: '1',
      ...extra,
    });
    const deferredUntil = async (extra: Params) => {
      const res = await t.get(base(extra));
      const [row] = await t.rows(idsOf(res.body));
      return row.deferred_until === null ? null : Number(row.deferred_until);
    };

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 1000, timezone: 'Europe/Paris' } });
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
      await createSmsUser(ctx.app, seeded.account, { login: 'dst' });
      ny = await createAccount(ctx.app, { owner: seeded.customer, timezone: 'America/New_York', credits: 1000 });
      await createSender(ctx.app, ny, { sender: 'MyShop' });
      await createSmsUser(ctx.app, ny, { login: 'dst' });
    });

    it('sends at once a time in the past or this very minute, defers one a minute ahead', async () => {
      expect(await deferredUntil({ deferred: '125928022027' })).toBeNull();
      expect(await deferredUntil({ deferred: '130001032027' })).toBeNull(); // now, to the minute
      expect(await deferredUntil({ deferred: '130101032027' })).toBe(MARCH_1_2027 + 60_000);
    });

    it('accepts up to a year ahead (29 February of a leap year included), refuses a minute more', async () => {
      expect(await deferredUntil({ deferred: '130029022028' })).toBe(Date.UTC(2028, 1, 29, 12, 0));
      const before = await t.state();
      const res = await t.get(base({ deferred: '130129022028', contentType: 'text/json' }));
      expect(res.json()).toEqual({ status: 202, message: 'Invalid deferred: more than a year ahead' });
      expect(await t.state()).toEqual(before);
    });

    it('moves a time in the spring-forward gap (02:30 in Paris on 28 March 2027) to after it, as RFC 5545 reads it', async () => {
      // 02:30 does not exist: read with the offset before the gap (+01:00) it is 01:30 UTC, 03:30 CEST.
      expect(await deferredUntil({ deferred: '023028032027' })).toBe(Date.UTC(2027, 2, 28, 1, 30));
      expect(await deferredUntil({ deferred: '015928032027' })).toBe(Date.UTC(2027, 2, 28, 0, 59));
      expect(await deferredUntil({ deferred: '030028032027' })).toBe(Date.UTC(2027, 2, 28, 1, 0));
      // New York, 14 March 2027: 02:30 is 03:30 EDT, 07:30 UTC.
      expect(await deferredUntil({ account: ny.name, deferred: '023014032027' })).toBe(Date.UTC(2027, 2, 14, 7, 30));
    });

    it('reads the ambiguous autumn hour as its first occurrence, in Paris as in New York', async () => {
      // 31 October 2027, Paris: 02:30 is 00:30 UTC (CEST) and again 01:30 UTC (CET). The first one,
      // as time-zone.ts documents ("in a DST overlap the earlier instant is chosen") and RFC 5545 says.
      expect(await deferredUntil({ deferred: '023031102027' })).toBe(Date.UTC(2027, 9, 31, 0, 30));
      // 7 November 2027, New York: 01:30 is 05:30 UTC (EDT) and again 06:30 UTC (EST).
      expect(await deferredUntil({ account: ny.name, deferred: '013007112027' })).toBe(Date.UTC(2027, 10, 7, 5, 30));
    });
  },
  { config: { http2smsRateLimit: NO_LIMITS }, clock: fakeClock(MARCH_1_2027) },
);

describeEachDialectWithApp(
  'http2sms review: rate limits',
  (ctx) => {
    const t = tools(ctx);
    let seeded: SeededAccount;
    const base = (extra: Params = {}): Params => ({
      account: seeded.account.name,
      login: 'limited',
      password: TEST_PASSWORD,
      from: 'MyShop',
      to: '+33612345678',
      message: 'Hi',
      noStop: '1',
      ...extra,
    });

    beforeAll(async () => {
      seeded = await seedCustomerWithAccount(ctx.app, { account: { credits: 1000 } });
      await createSender(ctx.app, seeded.account, { sender: 'MyShop' });
      await createSmsUser(ctx.app, seeded.account, { login: 'limited' });
      await createSmsUser(ctx.app, seeded.account, { login: 'other' });
      await createSmsUser(ctx.app, seeded.account, { login: 'victim' });
      await createSmsUser(ctx.app, seeded.account, { login: 'fenced', ipRestrictions: ['192.0.2.0/24'] });
    });

    it('counts addresses of one IPv6 /64 as one client, and an IPv4-mapped address as its IPv4 one', async () => {
      const answers = [];
      for (const ip of ['2001:db8:7:7::1', '2001:db8:7:7::2', '2001:db8:7:7:ffff::3', '2001:db8:7:7::4', '2001:db8:7:7::5']) {
        answers.push((await t.get(base({ login: undefined }), ip)).statusCode);
      }
      expect(answers).toEqual([200, 200, 200, 200, 429]);
      expect((await t.get(base({ login: undefined }), '2001:db8:7:8::1')).statusCode).toBe(200);
      const v4 = [];
      for (const ip of ['198.51.100.77', '::ffff:198.51.100.77', '198.51.100.77', '::ffff:c633:644d', '198.51.100.77']) {
        v4.push((await t.get(base({ login: undefined }), ip)).statusCode);
      }
      expect(v4).toEqual([200, 200, 200, 200, 429]);
    });

    it('answers a rate-limited request in the format asked for, with Retry-After, recording nothing', async () => {
      const ip = '198.51.100.88';
      for (let i = 0; i < 4; i++) await t.get(base({ login: undefined }), ip);
      const before = await t.state();
      const xml = await t.get(base({ contentType: 'application/xml' }), ip);
      expect(xml.statusCode).toBe(429);
      expect(Number(xml.headers['retry-after'])).toBeGreaterThan(0);
      expect(xml.headers['content-type']).toBe('application/xml; charset=utf-8');
      expect(xml.body).toMatch(
        /^<\?xml version="1.0" encoding="UTF-8" \?><response><status>429<\/status><message>Too many requests from this IP address \(at most 4 in 60 s\); try again in \d+ s<\/message><\/response>$/,
      );
      const html = await t.get(base({ contentType: 'text/html' }), ip);
      expect(html.body).toMatch(
        new RegExp(`^${escapeRegExp(HTML_HEAD)}KO<br>Too many requests from this IP address[^<]*<br>${escapeRegExp(HTML_TAIL)}$`),
      );
      expect(await t.state()).toEqual(before);
    });

    it('limits one SMS user whatever the address, in its format, without touching another user', async () => {
      const ips = ['198.51.100.101', '198.51.100.102', '198.51.100.103', '198.51.100.104'];
      const answers = [];
      for (const ip of ips) answers.push(await t.get(base({ contentType: 'text/json' }), ip));
      expect(answers.map((r) => r.json().status)).toEqual([100, 100, 100, 429]);
      expect(answers[3].statusCode).toBe(429);
      expect(answers[3].json().message).toMatch(/^Too many requests for this SMS user \(at most 3 in 60 s\); try again in \d+ s$/);
      expect((await t.get(base({ login: 'other', contentType: 'text/json' }), '198.51.100.105')).json().status).toBe(100);
    });

    it("spends no SMS user's budget on requests refused before it is authenticated (wrong password, wrong address)", async () => {
      for (let i = 0; i < 5; i++) {
        expect(
          (await t.get(base({ login: 'victim', password: `guess-${i}`, contentType: 'text/json' }), `198.51.100.${120 + i}`)).json().status,
        ).toBe(401);
        expect((await t.get(base({ login: 'fenced', contentType: 'text/json' }), `198.51.100.${130 + i}`)).json().status).toBe(401);
      }
      for (const login of ['victim', 'fenced']) {
        const statuses = [];
        for (let i = 0; i < 3; i++)
          statuses.push(
            (await t.get(base({ login, contentType: 'text/json' }), `192.0.2.${login === 'victim' ? 10 + i : 20 + i}`)).json().status,
          );
        expect([login, statuses]).toEqual([login, [100, 100, 100]]);
      }
    });
  },
  { config: { http2smsRateLimit: { perIp: 4, perUser: 3, authFailuresPerMinute: 100, windowMs: 60_000 } } },
);
