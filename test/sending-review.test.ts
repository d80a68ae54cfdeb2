/**
 * Adversarial review of job acceptance (`POST /api/v1/accounts/{account}/jobs`, the one sending service
 * every channel uses): OVH's fields and their bounds, receivers normalised to E.164, GSM 03.38 / UCS-2
 * part counting (STOP mention included), per-country credits, account and SMS-user quotas under
 * concurrency (two Relais sharing one database), and the one transaction per acceptance (rows + debit +
 * queue together, or nothing).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/server/app.js';
import { openDatabase } from '../src/server/db/database.js';
import { accountAccessFor } from '../src/server/modules/accounts/accounts.service.js';
import { MAX_RECEIVERS } from '../src/server/modules/sending/sending.service.js';
import { analyzeSms, PART_LIMITS, STOP_CLAUSE, splitSms } from '../src/shared/sms-encoding.js';
import { type AppTestContext, describeEachDialectWithApp, testConfig } from './app.js';
import { bearer, createSender, createSmsUser, createToken, type SeededAccount, seedCustomerWithAccount, signIn } from './factories.js';
import { runRelais } from './relais-cli.js';

type Headers = Record<string, string>;

interface Row {
  id: number;
  job_id: number | null;
  user_id: number | null;
  user_login: string;
  channel: string;
  sender: string;
  receiver: string;
  message: string;
  encoding: string;
  parts: number;
  credits: number;
  tag: string;
  status: string;
  priority: number;
  created_at: number;
  deferred_until: number | null;
  valid_until: number | null;
}

/** Everything acceptance writes for one account: balance, rows, queue entries and jobs. */
async function ledgerOf(ctx: AppTestContext, accountId: number) {
  const db = ctx.database.db;
  const account = await db.selectFrom('accounts').select('credits').where('id', '=', accountId).executeTakeFirstOrThrow();
  const rows = (await db
    .selectFrom('outgoing')
    .select([
      'id',
      'job_id',
      'user_id',
      'user_login',
      'channel',
      'sender',
      'receiver',
      'message',
      'encoding',
      'parts',
      'credits',
      'tag',
      'status',
      'priority',
      'created_at',
      'deferred_until',
      'valid_until',
    ])
    .where('account_id', '=', accountId)
    .orderBy('id')
    .execute()) as unknown as Row[];
  for (const r of rows) {
    r.id = Number(r.id);
    r.job_id = r.job_id === null ? null : Number(r.job_id);
    r.user_id = r.user_id === null ? null : Number(r.user_id);
    r.credits = Number(r.credits);
    r.parts = Number(r.parts);
    r.priority = Number(r.priority);
    r.created_at = Number(r.created_at);
    r.deferred_until = r.deferred_until === null ? null : Number(r.deferred_until);
    r.valid_until = r.valid_until === null ? null : Number(r.valid_until);
  }
  const queue = await db
    .selectFrom('dispatch_queue')
    .select(['outgoing_id', 'due_at', 'priority'])
    .where('account_id', '=', accountId)
    .execute();
  const jobs = await db
    .selectFrom('jobs')
    .select(['id', 'user_id', 'receivers', 'credits', 'options', 'channel'])
    .where('account_id', '=', accountId)
    .orderBy('id')
    .execute();
  return {
    credits: Number(account.credits),
    rows,
    queue: queue.map((q) => ({ id: Number(q.outgoing_id), dueAt: Number(q.due_at), priority: Number(q.priority) })),
    jobs: jobs.map((j) => ({
      id: Number(j.id),
      userId: j.user_id === null ? null : Number(j.user_id),
      receivers: Number(j.receivers),
      credits: Number(j.credits),
      options: JSON.parse(j.options) as Record<string, unknown>,
      channel: j.channel,
    })),
  };
}

/** A summary that must not move when a job is refused. */
async function snapshot(ctx: AppTestContext, accountId: number) {
  const l = await ledgerOf(ctx, accountId);
  return { credits: l.credits, rows: l.rows.length, queued: l.queue.length, jobs: l.jobs.length };
}

const fr = (i: number) => `+3361${String(i).padStart(7, '0')}`;
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

// -------------------------------------------------------------------------------------------------
describe('part counting (GSM 03.38 / UCS-2), no database', () => {
  const check = (text: string, expected: { encoding: 'gsm7' | 'ucs2'; parts: number }) => {
    const a = analyzeSms(text);
    expect({ encoding: a.encoding, parts: a.parts }, JSON.stringify(text).slice(0, 50)).toEqual(expected);
    const pieces = splitSms(text, a.encoding);
    expect(pieces.length).toBe(a.parts);
    expect(pieces.join('')).toBe(text);
    const limit = a.parts === 1 ? PART_LIMITS[a.encoding].single : PART_LIMITS[a.encoding].multi;
    for (const piece of pieces) {
      const cost = a.encoding === 'ucs2' ? piece.length : [...piece].reduce((n, c) => n + ('€[]{}|^~\\\f'.includes(c) ? 2 : 1), 0);
      expect(cost).toBeLessThanOrEqual(limit);
      // Never half of a surrogate pair at either end of a part.
      expect(/^[\uDC00-\uDFFF]/.test(piece) || /[\uD800-\uDBFF]$/.test(piece)).toBe(false);
    }
    return pieces;
  };

  it('160/161 GSM characters, 306/307, 70/71 and 134/135 UCS-2 units', () => {
    check('a'.repeat(160), { encoding: 'gsm7', parts: 1 });
    check('a'.repeat(161), { encoding: 'gsm7', parts: 2 });
    check('a'.repeat(306), { encoding: 'gsm7', parts: 2 });
    check('a'.repeat(307), { encoding: 'gsm7', parts: 3 });
    check('é'.repeat(160), { encoding: 'gsm7', parts: 1 }); // é is in the basic table
    check('ç'.repeat(70), { encoding: 'ucs2', parts: 1 }); // ç is not
    check('ç'.repeat(71), { encoding: 'ucs2', parts: 2 });
    check('ç'.repeat(134), { encoding: 'ucs2', parts: 2 });
    check('ç'.repeat(135), { encoding: 'ucs2', parts: 3 });
  });

  it('extension characters count double and are never split from their escape', () => {
    check('€'.repeat(80), { encoding: 'gsm7', parts: 1 });
    check(`${'€'.repeat(80)}a`, { encoding: 'gsm7', parts: 2 });
    // € as the 153rd character of the first part: it needs 2 septets, only 1 is left: it starts part 2.
    const pieces = check(`${'a'.repeat(152)}€${'b'.repeat(20)}`, { encoding: 'gsm7', parts: 2 });
    expect(pieces[0]).toBe('a'.repeat(152));
    expect(pieces[1].startsWith('€')).toBe(true);
    // 159 + € = 161 septets: two parts, although only 160 characters.
    check(`${'a'.repeat(159)}€`, { encoding: 'gsm7', parts: 2 });
  });

  it('emoji at a part boundary move whole to the next part; CRLF counts two', () => {
    const pieces = check(`${'x'.repeat(66)}😀${'y'.repeat(10)}`, { encoding: 'ucs2', parts: 2 });
    expect(pieces[0]).toBe('x'.repeat(66));
    check(`${'x'.repeat(68)}😀`, { encoding: 'ucs2', parts: 1 }); // 70 units exactly
    check(`${'x'.repeat(69)}😀`, { encoding: 'ucs2', parts: 2 });
    check(`${'a'.repeat(158)}\r\n`, { encoding: 'gsm7', parts: 1 });
    check(`${'a'.repeat(159)}\r\n`, { encoding: 'gsm7', parts: 2 });
  });

  it('the STOP mention costs its length plus the line break', () => {
    const clause = STOP_CLAUSE.length + 1;
    expect(analyzeSms('a'.repeat(160 - clause), { stopClause: STOP_CLAUSE }).parts).toBe(1);
    expect(analyzeSms('a'.repeat(161 - clause), { stopClause: STOP_CLAUSE }).parts).toBe(2);
    expect(analyzeSms('ç'.repeat(70 - clause), { stopClause: STOP_CLAUSE })).toMatchObject({ encoding: 'ucs2', parts: 1 });
    expect(analyzeSms('ç'.repeat(71 - clause), { stopClause: STOP_CLAUSE })).toMatchObject({ encoding: 'ucs2', parts: 2 });
  });
});

// -------------------------------------------------------------------------------------------------
describeEachDialectWithApp('accepting jobs: what is recorded and answered', (ctx) => {
  let s: SeededAccount;
  const post = (payload: unknown, headers: Headers = s.auth, account = s.account.name) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1/accounts/${account}/jobs`, headers, payload: payload as object });

  beforeAll(async () => {
    s = await seedCustomerWithAccount(ctx.app, { account: { credits: 10_000 } });
    await createSender(ctx.app, s.account, { sender: 'MyShop' });
  });

  it('records for every row the encoding, parts, credits and pending status the encoding module gives; the answer matches the debit', async () => {
    const texts = [
      'a'.repeat(160),
      'a'.repeat(161),
      'ç'.repeat(70),
      'ç'.repeat(71),
      `${'a'.repeat(152)}€${'b'.repeat(20)}`,
      `${'x'.repeat(66)}😀${'y'.repeat(10)}`,
      'line one\r\nline two\nline three',
      `${'a'.repeat(146)}`,
      `${'a'.repeat(147)}`,
      'Prix : 10 € {promo} [ok] ~ | ^ \\',
    ];
    let n = 0;
    for (const [k, text] of texts.entries()) {
      for (const noStopClause of [true, false]) {
        const before = await ledgerOf(ctx, s.account.id);
        const receivers = [fr(1000 + n++), fr(1000 + n++)];
        const res = await post({ message: text, receivers, sender: 'MyShop', noStopClause, tag: `enc-${k}-${noStopClause}` });
        expect(res.statusCode, res.body).toBe(200);
        const report = res.json();
        const finalText = noStopClause ? text : `${text}\n${STOP_CLAUSE}`;
        const a = analyzeSms(finalText);
        expect(report).toMatchObject({
          validReceivers: receivers,
          invalidReceivers: [],
          parts: a.parts,
          encoding: a.encoding,
          totalCreditsRemoved: 2 * a.parts,
          tag: `enc-${k}-${noStopClause}`,
        });
        const after = await ledgerOf(ctx, s.account.id);
        expect(before.credits - after.credits).toBe(report.totalCreditsRemoved);
        expect(report.creditsLeft).toBe(after.credits);
        const rows = after.rows.filter((r) => report.ids.includes(r.id));
        expect(rows.map((r) => r.receiver)).toEqual(receivers);
        for (const r of rows) {
          expect({ ...r, id: 0, job_id: 0, created_at: 0, valid_until: 0 }).toEqual({
            id: 0,
            job_id: 0,
            created_at: 0,
            valid_until: 0,
            user_id: null,
            user_login: '',
            channel: 'api',
            sender: 'MyShop',
            receiver: r.receiver,
            message: finalText,
            encoding: a.encoding,
            parts: a.parts,
            credits: a.parts,
            tag: `enc-${k}-${noStopClause}`,
            status: 'pending',
            priority: 0,
            deferred_until: null,
          });
          expect(r.job_id).toBe(report.jobId);
        }
        expect(after.queue.filter((q) => report.ids.includes(q.id))).toHaveLength(2);
        const job = after.jobs.find((j) => j.id === report.jobId);
        expect(job).toMatchObject({ receivers: 2, credits: report.totalCreditsRemoved, userId: null });
      }
    }
  });

  it('coding 8bit forces UCS-2 even for a GSM text, and is counted (and charged) as such', async () => {
    const text = 'a'.repeat(100);
    const res = await post({ message: text, receivers: [fr(2001)], sender: 'MyShop', noStopClause: true, coding: '8bit' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ encoding: 'ucs2', parts: 2, totalCreditsRemoved: 2 });
    const row = (await ledgerOf(ctx, s.account.id)).rows.find((r) => r.id === res.json().ids[0]);
    expect(row).toMatchObject({ encoding: 'ucs2', parts: 2, credits: 2 });
  });

  it('stores the options it was given: priority, class, coding, deferral and validity', async () => {
    const t0 = Date.now();
    const res = await post({
      message: 'later',
      receivers: [fr(2101)],
      sender: 'MyShop',
      noStopClause: true,
      differedPeriod: 30,
      validityPeriod: 60,
      priority: 'veryLow',
      class: 'flash',
      coding: '7bit',
      senderForResponse: false,
    });
    const t1 = Date.now();
    expect(res.statusCode, res.body).toBe(200);
    const l = await ledgerOf(ctx, s.account.id);
    const row = l.rows.find((r) => r.id === res.json().ids[0])!;
    expect(row.priority).toBe(3);
    expect(row.deferred_until).toBeGreaterThanOrEqual(t0 + 30 * 60_000);
    expect(row.deferred_until).toBeLessThanOrEqual(t1 + 30 * 60_000);
    expect(row.valid_until! - row.deferred_until!).toBe(60 * 60_000);
    expect(l.queue.find((q) => q.id === row.id)).toMatchObject({ dueAt: row.deferred_until, priority: 3 });
    expect(l.jobs.find((j) => j.id === res.json().jobId)?.options).toMatchObject({ class: 0, coding: '7bit', noStopClause: true });
  });

  it('one number in several spellings is one receiver, one message and one charge', async () => {
    const res = await post({
      message: 'dup',
      receivers: ['+33612345678', '0033612345678', '06 12 34 56 78', '06.12.34.56.78', '+33 6 12 34 56 78', '0612345678'],
      sender: 'MyShop',
      noStopClause: true,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ validReceivers: ['+33612345678'], invalidReceivers: [], totalCreditsRemoved: 1 });
    expect(res.json().ids).toHaveLength(1);
  });

  it('normalises 00 and + prefixes, national numbers and other countries; reports the rest as invalid', async () => {
    const res = await post({
      message: 'mix',
      receivers: [
        '0033612340001',
        '+32470123456',
        '+1 202 555 0123',
        '06 12 34 00 02',
        'abc',
        '36180',
        '+3361234567890123',
        '+999123456',
        '+0033612340003',
      ],
      sender: 'MyShop',
      noStopClause: true,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      validReceivers: ['+33612340001', '+32470123456', '+12025550123', '+33612340002'],
      invalidReceivers: ['abc', '36180', '+3361234567890123', '+999123456', '+0033612340003'],
      totalCreditsRemoved: 4,
    });
  });

  it('refuses bad fields whole, writing and debiting nothing', async () => {
    const ok = { message: 'hi', receivers: [fr(3001)], sender: 'MyShop' };
    const cases: [string, unknown][] = [
      ['differedPeriod -1', { ...ok, differedPeriod: -1 }],
      ['differedPeriod 1.5', { ...ok, differedPeriod: 1.5 }],
      ['differedPeriod > a year', { ...ok, differedPeriod: 525_601 }],
      ['differedPeriod text', { ...ok, differedPeriod: 'soon' }],
      ['differedPeriod 1e999', { ...ok, differedPeriod: '1e999' }],
      ['validityPeriod 0', { ...ok, validityPeriod: 0 }],
      ['validityPeriod -5', { ...ok, validityPeriod: -5 }],
      ['validityPeriod 2.5', { ...ok, validityPeriod: 2.5 }],
      ['validityPeriod > a year', { ...ok, validityPeriod: 525_601 }],
      ['priority', { ...ok, priority: 'urgent' }],
      ['class', { ...ok, class: 'popup' }],
      ['coding', { ...ok, coding: '16bit' }],
      ['charset', { ...ok, charset: 'ISO-8859-1' }],
      ['tag too long', { ...ok, tag: 't'.repeat(65) }],
      ['tag with a tab', { ...ok, tag: 'a\tb' }],
      ['tag with DEL', { ...ok, tag: 'a\u007fb' }],
      ['unknown field', { ...ok, sendAt: 'tomorrow' }],
      ['message too long', { ...ok, message: 'a'.repeat(5001) }],
      ['empty message', { ...ok, message: '' }],
      ['no receivers', { ...ok, receivers: [] }],
      ['only empty receivers', { ...ok, receivers: ['', '  '] }],
      ['receiver too long', { ...ok, receivers: ['1'.repeat(65)] }],
      ['sender too long', { ...ok, sender: 'S'.repeat(33) }],
      ['senderForResponse not a boolean', { ...ok, senderForResponse: 'maybe' }],
      ['receivers an object', { ...ok, receivers: { a: '+33612345678' } }],
    ];
    const before = await snapshot(ctx, s.account.id);
    for (const [what, payload] of cases) {
      const res = await post(payload);
      expect([what, res.statusCode, res.json().error?.code]).toEqual([
        what,
        400,
        expect.stringMatching(/^(VALIDATION_FAILED|INVALID_RECEIVER|INVALID_SENDER)$/),
      ]);
    }
    expect(await snapshot(ctx, s.account.id)).toEqual(before);
  });

  it('a lone surrogate in the text is refused, or kept exactly as counted and charged', async () => {
    // 68 + 2 = 70 UTF-16 units: one UCS-2 part as counted.
    const text = `${'ç'.repeat(34)}\uD83D${'ç'.repeat(34)}\uDE00`;
    const res = await post({ message: text, receivers: [fr(3101)], sender: 'MyShop', noStopClause: true });
    if (res.statusCode === 400) {
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
      return;
    }
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ parts: 1, encoding: 'ucs2' });
    const row = (await ledgerOf(ctx, s.account.id)).rows.find((r) => r.id === res.json().ids[0])!;
    // What the dispatcher will send (the stored text) is what was counted and charged.
    expect({ message: row.message, parts: splitSms(row.message, 'ucs2').length }).toEqual({ message: text, parts: row.parts });
  });

  it('a long text that does not compress (5,000 characters, the allowed maximum) is accepted', async () => {
    const mine = await snapshot(ctx, s.account.id);
    const long = randomBytes(3750).toString('base64'); // 5,000 GSM characters
    expect(long).toHaveLength(5000);
    const big = await post({ message: long, receivers: [fr(3151)], sender: 'MyShop', noStopClause: true });
    expect([big.statusCode, big.json().error?.code]).toEqual([200, undefined]);
    const parts = analyzeSms(long).parts;
    expect(big.json()).toMatchObject({ parts, totalCreditsRemoved: parts });
    expect(await snapshot(ctx, s.account.id)).toMatchObject({ credits: mine.credits - parts, rows: mine.rows + 1 });
  });

  it("another customer's long text does not make the jobs committed with it fail (group commit)", async () => {
    const other = await seedCustomerWithAccount(ctx.app, { account: { credits: 100 } });
    await createSender(ctx.app, other.account, { sender: 'MyShop' });
    const theirs = await snapshot(ctx, other.account.id);
    const long = randomBytes(3750).toString('base64');
    // Jobs of other customers accepted at the same moment share one transaction: they must not fail with
    // this one. (Through the service, so that they are surely in one batch.)
    const sending = ctx.app.services.sending;
    const mineAccess = accountAccessFor(s.account, null, 'test');
    const theirAccess = accountAccessFor(other.account, null, 'test');
    const job = (message: string, receiver: string) => ({ message, receivers: [receiver], sender: 'MyShop', noStopClause: true });
    // Senders read once, so that the jobs below reach the batch in one turn of the event loop.
    await sending.accept(theirAccess, 'api', job('warm', fr(3160)));
    const outcomes = await Promise.allSettled([
      sending.accept(mineAccess, 'api', job(long, fr(3152))),
      ...[1, 2, 3].map((i) => sending.accept(theirAccess, 'api', job(`small ${i}`, fr(3160 + i)))),
    ]);
    expect(outcomes.slice(1).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(await snapshot(ctx, other.account.id)).toMatchObject({ credits: theirs.credits - 4, rows: theirs.rows + 4 });
  });

  it('an account that keeps no texts: the row has no text, but parts and credits are those of the text sent', async () => {
    const p = await seedCustomerWithAccount(ctx.app, { account: { credits: 100 } });
    await createSender(ctx.app, p.account, { sender: 'MyShop' });
    const session = await signIn(ctx.app, p.customer.email, p.password);
    const patched = await ctx.app.inject({
      method: 'PATCH',
      url: `/api/v1/accounts/${p.account.name}`,
      headers: session.writeHeaders,
      payload: { storeText: false },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    const text = 'secret '.repeat(30);
    const res = await post({ message: text, receivers: [fr(3171)], sender: 'MyShop' }, p.auth, p.account.name);
    expect(res.statusCode, res.body).toBe(200);
    const a = analyzeSms(`${text}\n${STOP_CLAUSE}`);
    const l = await ledgerOf(ctx, p.account.id);
    expect(l.rows[0]).toMatchObject({ message: '', parts: a.parts, credits: a.parts, encoding: a.encoding, status: 'pending' });
    expect(l.jobs[0].options.text).toBe(`${text}\n${STOP_CLAUSE}`);
  });

  it("a deleted SMS user's token sends nothing", async () => {
    const user = await createSmsUser(ctx.app, s.account);
    const scoped = bearer(await createToken(ctx.app, s.account, { user: user.login }));
    expect((await post({ message: 'hi', receivers: [fr(3181)], sender: 'MyShop', noStopClause: true }, scoped)).statusCode).toBe(200);
    const deleted = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/v1/accounts/${s.account.name}/users/${user.login}`,
      headers: s.auth,
    });
    expect(deleted.statusCode, deleted.body).toBe(204);
    const before = await snapshot(ctx, s.account.id);
    const res = await post({ message: 'hi', receivers: [fr(3182)], sender: 'MyShop', noStopClause: true }, scoped);
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(await snapshot(ctx, s.account.id)).toEqual(before);
  });

  it('refuses a tag that holds a Unicode line or paragraph separator (a tag is one line)', async () => {
    const before = await snapshot(ctx, s.account.id);
    for (const tag of ['a\u2028b', 'a\u2029b']) {
      const res = await post({ message: 'hi', receivers: [fr(3201)], sender: 'MyShop', tag });
      expect([JSON.stringify(tag), res.statusCode, res.json().error?.code]).toEqual([JSON.stringify(tag), 400, 'VALIDATION_FAILED']);
    }
    expect(await snapshot(ctx, s.account.id)).toEqual(before);
  });

  it('senders: another account’s, a disabled one (at once) and a missing one are refused; senderForResponse needs none', async () => {
    const other = await seedCustomerWithAccount(ctx.app);
    await createSender(ctx.app, other.account, { sender: 'TheirShop' });
    await createSender(ctx.app, s.account, { sender: 'Soon' });
    // Sending once with it puts the account's senders in the service's cache.
    expect((await post({ message: 'hi', receivers: [fr(3301)], sender: 'Soon', noStopClause: true })).statusCode).toBe(200);
    const disabled = await ctx.app.inject({
      method: 'PATCH',
      url: `/api/v1/accounts/${s.account.name}/senders/Soon`,
      headers: s.auth,
      payload: { status: 'disable' },
    });
    expect(disabled.statusCode, disabled.body).toBe(200);
    const before = await snapshot(ctx, s.account.id);
    for (const sender of ['TheirShop', 'Soon', '', undefined]) {
      const res = await post({ message: 'hi', receivers: [fr(3302)], sender, noStopClause: true });
      expect([sender, res.statusCode, res.json().error?.code]).toEqual([sender, 400, 'INVALID_SENDER']);
    }
    expect(await snapshot(ctx, s.account.id)).toEqual(before);
    const reply = await post({ message: 'hi', receivers: [fr(3303)], senderForResponse: true, noStopClause: true });
    expect(reply.statusCode, reply.body).toBe(200);
    expect((await ledgerOf(ctx, s.account.id)).rows.find((r) => r.id === reply.json().ids[0])?.sender).toBe('');
  });

  it("another customer's token or session cannot send from this account: 404, nothing recorded anywhere", async () => {
    const other = await seedCustomerWithAccount(ctx.app, { account: { credits: 50 } });
    await createSender(ctx.app, other.account, { sender: 'MyShop' });
    const session = await signIn(ctx.app, other.customer.email, other.password);
    const mine = await snapshot(ctx, s.account.id);
    const theirs = await snapshot(ctx, other.account.id);
    const payload = { message: 'hi', receivers: [fr(3401)], sender: 'MyShop' };
    for (const headers of [other.auth, session.writeHeaders]) {
      const res = await post(payload, headers);
      expect([res.statusCode, res.json().error?.code]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    }
    // Nor with the account's name spelled differently.
    for (const name of [s.account.name.toUpperCase(), ` ${s.account.name}`, `${s.account.name}%00`]) {
      const res = await post(payload, other.auth, encodeURIComponent(name));
      expect(res.statusCode, name).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, name).toBeLessThan(500);
    }
    expect(await snapshot(ctx, s.account.id)).toEqual(mine);
    expect(await snapshot(ctx, other.account.id)).toEqual(theirs);
  });

  it("an SMS user's token records that user and spends its quota; the job that does not fit is refused whole", async () => {
    const user = await createSmsUser(ctx.app, s.account, { quota: 5 });
    const scoped = bearer(await createToken(ctx.app, s.account, { user: user.login }));
    const res = await post({ message: 'x'.repeat(200), receivers: [fr(3501), fr(3502)], sender: 'MyShop', noStopClause: true }, scoped);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ totalCreditsRemoved: 4, parts: 2 });
    const l = await ledgerOf(ctx, s.account.id);
    for (const id of res.json().ids) expect(l.rows.find((r) => r.id === id)).toMatchObject({ user_id: user.id, user_login: user.login });
    expect(l.jobs.find((j) => j.id === res.json().jobId)?.userId).toBe(user.id);
    const quota = async () =>
      Number((await ctx.database.db.selectFrom('sms_users').select('quota').where('id', '=', user.id).executeTakeFirstOrThrow()).quota);
    expect(await quota()).toBe(1);
    const before = await snapshot(ctx, s.account.id);
    const refused = await post({ message: 'hi', receivers: [fr(3503), fr(3504)], sender: 'MyShop', noStopClause: true }, scoped);
    expect([refused.statusCode, refused.json().error?.code]).toEqual([402, 'INSUFFICIENT_CREDITS']);
    expect(await snapshot(ctx, s.account.id)).toEqual(before);
    expect(await quota()).toBe(1);
  });
});

// -------------------------------------------------------------------------------------------------
describeEachDialectWithApp('accepting jobs: the 100,000 receivers of one job', (ctx) => {
  let s: SeededAccount;
  const post = (payload: unknown) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1/accounts/${s.account.name}/jobs`, headers: s.auth, payload: payload as object });

  beforeAll(async () => {
    s = await seedCustomerWithAccount(ctx.app, { account: { credits: 250_000 } });
    await createSender(ctx.app, s.account, { sender: 'MyShop' });
  });

  it(`accepts ${MAX_RECEIVERS} receivers in one piece, and refuses one more with nothing written`, async () => {
    const receivers = Array.from({ length: MAX_RECEIVERS }, (_, i) => fr(i));
    const res = await post({ message: 'bulk', receivers, sender: 'MyShop', noStopClause: true, tag: 'bulk' });
    expect(res.statusCode).toBe(200);
    const report = res.json();
    expect(report.ids).toHaveLength(MAX_RECEIVERS);
    expect(new Set(report.ids).size).toBe(MAX_RECEIVERS);
    expect([report.totalCreditsRemoved, report.creditsLeft, report.validReceivers.length]).toEqual([MAX_RECEIVERS, 150_000, MAX_RECEIVERS]);
    const after = await snapshot(ctx, s.account.id);
    expect(after).toEqual({ credits: 150_000, rows: MAX_RECEIVERS, queued: MAX_RECEIVERS, jobs: 1 });

    const more = await post({ message: 'bulk', receivers: [...receivers, fr(MAX_RECEIVERS)], sender: 'MyShop', noStopClause: true });
    expect([more.statusCode, more.json().error?.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect(await snapshot(ctx, s.account.id)).toEqual(after);
  });

  it(`refuses more than ${MAX_RECEIVERS} receivers also when some array items hold several numbers (comma-separated)`, async () => {
    const before = await snapshot(ctx, s.account.id);
    // 99,999 items, the last one holding three numbers: 100,002 distinct receivers.
    const receivers = Array.from({ length: MAX_RECEIVERS - 1 }, (_, i) => fr(200_000 + i));
    receivers.push(`${fr(400_000)},${fr(400_001)},${fr(400_002)}`);
    const res = await post({ message: 'bulk', receivers, sender: 'MyShop', noStopClause: true });
    const written = (await snapshot(ctx, s.account.id)).rows - before.rows;
    expect([res.statusCode, res.json().error?.code, written]).toEqual([400, 'VALIDATION_FAILED', 0]);
  });
});

// -------------------------------------------------------------------------------------------------
describeEachDialectWithApp(
  'accepting jobs: per-country credits',
  (ctx) => {
    let s: SeededAccount;
    const post = (payload: unknown, seeded = s) =>
      ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${seeded.account.name}/jobs`,
        headers: seeded.auth,
        payload: payload as object,
      });

    beforeAll(async () => {
      s = await seedCustomerWithAccount(ctx.app, { account: { credits: 1000 } });
      await createSender(ctx.app, s.account, { sender: 'MyShop' });
    });

    it('charges parts × the rate of each receiver’s prefix, and the answer, rows and debit agree', async () => {
      const before = await ledgerOf(ctx, s.account.id);
      const res = await post({
        message: 'a'.repeat(200),
        receivers: ['+33612345678', '+32470123456', '+41791234567'],
        sender: 'MyShop',
        noStopClause: true,
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ parts: 2, totalCreditsRemoved: 2 * 1 + 2 * 1.5 + 2 * 1.25 });
      const after = await ledgerOf(ctx, s.account.id);
      expect(before.credits - after.credits).toBe(res.json().totalCreditsRemoved);
      expect(after.rows.map((r) => [r.receiver, r.credits])).toEqual([
        ['+33612345678', 2],
        ['+32470123456', 3],
        ['+41791234567', 2.5],
      ]);
    });

    it('a balance that exactly covers the job (10 × 1.3 credits with 13 left) is enough, and nothing is left over', async () => {
      const exact = await seedCustomerWithAccount(ctx.app, { account: { credits: 13 } });
      await createSender(ctx.app, exact.account, { sender: 'MyShop' });
      const receivers = Array.from({ length: 10 }, (_, i) => `+4479111234${String(i).padStart(2, '0')}`);
      const res = await post({ message: 'hello', receivers, sender: 'MyShop', noStopClause: true, tag: 'x' }, exact);
      expect([res.statusCode, res.json().error?.code]).toEqual([200, undefined]);
      expect(res.json()).toMatchObject({ totalCreditsRemoved: 13, creditsLeft: 0 });
      const l = await ledgerOf(ctx, exact.account.id);
      expect(l.credits).toBe(0);
    });

    it('an SMS user whose quota exactly covers the job (10 × 1.3 with 13) may send it', async () => {
      const quotaUser = await createSmsUser(ctx.app, s.account, { quota: 13 });
      const scoped = bearer(await createToken(ctx.app, s.account, { user: quotaUser.login }));
      const receivers = Array.from({ length: 10 }, (_, i) => `+4479111235${String(i).padStart(2, '0')}`);
      const res = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${s.account.name}/jobs`,
        headers: scoped,
        payload: { message: 'hello', receivers, sender: 'MyShop', noStopClause: true },
      });
      expect([res.statusCode, res.json().error?.code]).toEqual([200, undefined]);
      expect(res.json().totalCreditsRemoved).toBe(13);
    });

    it('relais send with RELAIS_CREDIT_RATES="+44=1.3": 10 receivers with 13 credits left are accepted', async () => {
      const cli = await seedCustomerWithAccount(ctx.app, { account: { credits: 13 } });
      await createSender(ctx.app, cli.account, { sender: 'MyShop' });
      const receivers = Array.from({ length: 10 }, (_, i) => `+4479111236${String(i).padStart(2, '0')}`);
      const res = await runRelais(
        { RELAIS_DATABASE_URL: ctx.database.url, RELAIS_ARGON2_TEST_FAST: '1', RELAIS_CREDIT_RATES: '+44=1.3' },
        'send',
        '--account',
        cli.account.name,
        '--sender',
        'MyShop',
        '--to',
        receivers.join(','),
        '--message',
        'hello',
        '--no-stop',
        '--json',
      );
      expect([res.code, res.stdout.includes('INSUFFICIENT_CREDITS')], res.stdout + res.stderr).toEqual([0, false]);
      expect(JSON.parse(res.stdout)).toMatchObject({ totalCreditsRemoved: 13, creditsLeft: 0 });
    });
  },
  { config: { creditRates: Object.freeze({ default: 1, '+32': 1.5, '+41': 1.25, '+44': 1.3 }) } },
);

// -------------------------------------------------------------------------------------------------
describeEachDialectWithApp('accepting jobs: two Relais racing for the last credits and the last quota', (ctx) => {
  let other: App;
  let otherDb: ReturnType<typeof openDatabase>;
  beforeAll(async () => {
    otherDb =
      ctx.dialect === 'sqlite'
        ? openDatabase(ctx.database.url, { nonBlockingLockWaits: true })
        : openDatabase(ctx.database.url, { poolSize: 4 });
    other = await buildApp({ config: testConfig(), database: otherDb });
    await other.ready();
  });
  afterAll(async () => {
    await other?.close();
    await otherDb?.close();
  });

  it('no overdraft of the account nor of the quota; debits equal the rows; each row queued; each job all or nothing', async () => {
    const ACCOUNT_CREDITS = 40;
    const QUOTA = 15;
    const s = await seedCustomerWithAccount(ctx.app, { account: { credits: ACCOUNT_CREDITS } });
    await createSender(ctx.app, s.account, { sender: 'MyShop' });
    const user = await createSmsUser(ctx.app, s.account, { quota: QUOTA });
    const scoped = bearer(await createToken(ctx.app, s.account, { user: user.login }));
    let next = 0;
    const requests = Array.from({ length: 48 }, (_, i) => {
      const size = 1 + (i % 3); // jobs of 1, 2 and 3 receivers
      const receivers = Array.from({ length: size }, () => fr(5000 + next++));
      const app = i % 2 === 0 ? ctx.app : other;
      const headers = i % 4 < 2 ? scoped : s.auth;
      return app
        .inject({
          method: 'POST',
          url: `/api/v1/accounts/${s.account.name}/jobs`,
          headers,
          payload: { message: `race ${i}`, receivers, sender: 'MyShop', noStopClause: true },
        })
        .then((res) => ({ res, size, byUser: headers === scoped }));
    });
    const results = await Promise.all(requests);
    for (const { res } of results) expect([200, 402]).toContain(res.statusCode);
    const accepted = results.filter((r) => r.res.statusCode === 200);
    const l = await ledgerOf(ctx, s.account.id);
    const quotaLeft = Number(
      (await ctx.database.db.selectFrom('sms_users').select('quota').where('id', '=', user.id).executeTakeFirstOrThrow()).quota,
    );
    const rowCredits = sum(l.rows.map((r) => r.credits));
    const userRowCredits = sum(l.rows.filter((r) => r.user_id === user.id).map((r) => r.credits));
    expect({
      creditsNotNegative: l.credits >= 0,
      quotaNotNegative: quotaLeft >= 0,
      accountBalanced: l.credits + rowCredits,
      quotaBalanced: quotaLeft + userRowCredits,
      rows: l.rows.length,
      queued: new Set(l.queue.map((q) => q.id)).size,
      jobs: l.jobs.length,
    }).toEqual({
      creditsNotNegative: true,
      quotaNotNegative: true,
      accountBalanced: ACCOUNT_CREDITS,
      quotaBalanced: QUOTA,
      rows: sum(accepted.map((r) => r.size)),
      queued: sum(accepted.map((r) => r.size)),
      jobs: accepted.length,
    });
    // Every answered id is a row of the account, every row was answered once, and each job has all its rows.
    const answered = accepted.flatMap((r) => r.res.json().ids as number[]);
    expect(answered.sort((a, b) => a - b)).toEqual(l.rows.map((r) => r.id));
    for (const job of l.jobs) expect(l.rows.filter((r) => r.job_id === job.id)).toHaveLength(job.receivers);
    // Contention really happened: some jobs were refused, and the credits were all but used up.
    expect(results.length - accepted.length).toBeGreaterThan(0);
    expect(l.credits).toBeLessThan(3);
    // The user's jobs that were refused for the quota still leave it unable to take a whole further job.
    expect(quotaLeft).toBeLessThan(3);
  });
});
