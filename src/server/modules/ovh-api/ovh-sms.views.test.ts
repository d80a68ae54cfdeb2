import { describe, expect, it } from 'vitest';
import type { Outgoing } from '../../../shared/outgoing.js';
import type { OutgoingStatus } from '../../../shared/status.js';
import { AppError } from '../../errors.js';
import type { Account } from '../accounts/accounts.repository.js';
import { parseHistoryFilter } from '../history/history-query.js';
import type { OutgoingIdRow } from '../history/outgoing.repository.js';
import {
  accountPatchOf,
  checkParams,
  DOCUMENT_TTL_MS,
  type DocumentClaims,
  differedDeliveryOf,
  documentFilterOf,
  documentIdOf,
  documentIsEmpty,
  documentKeyMatches,
  documentKeyOf,
  documentNameOf,
  documentRangeOf,
  OUTGOING_FILTERS,
  ovhOutgoingFilter,
  readDocumentId,
  sendInputOf,
  tariffCodeOf,
  toOvhAccount,
  toOvhDocument,
  toOvhJob,
  toOvhOutgoing,
  toOvhSendingReport,
  USER_OUTGOING_FILTERS,
} from './ovh-sms.views.js';

const PARIS = 'Europe/Paris';
/** 2024-06-13T13:03:57Z: 15:03:57 in Paris (summer time). */
const T = Date.UTC(2024, 5, 13, 13, 3, 57);

function outgoing(overrides: Partial<Outgoing> = {}): Outgoing {
  return {
    id: 42,
    accountId: 1,
    userId: null,
    userLogin: null,
    channel: 'ovh-api',
    sender: 'MyShop',
    receiver: '+33612345678',
    message: 'Été à Paris',
    encoding: 'ucs2',
    parts: 1,
    credits: 1,
    tag: 'spring',
    status: 'delivered',
    createdAt: T,
    sentAt: T + 2_000,
    deliveredAt: T + 9_000,
    failedAt: null,
    expiredAt: null,
    canceledAt: null,
    carrierMessageId: 'sim-1',
    errorCode: null,
    errorText: null,
    deferredUntil: null,
    validUntil: T + 2880 * 60_000,
    jobId: 7,
    ...overrides,
  };
}

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('OVH objects', () => {
  it('shows a delivered message as OVH’s sms.Outgoing, field by field, times in the account’s timezone', () => {
    expect(toOvhOutgoing(outgoing(), PARIS)).toEqual({
      id: 42,
      creationDatetime: '2024-06-13T15:03:57+02:00',
      sender: 'MyShop',
      receiver: '+33612345678',
      message: 'Été à Paris',
      messageLength: 11,
      numberOfSms: 1,
      credits: 1,
      deliveryReceipt: 1,
      ptt: 0,
      differedDelivery: 0,
      tag: 'spring',
      tariffCode: 'FR-1',
      sentAt: '2024-06-13T15:03:59+02:00',
      deliveredAt: '2024-06-13T15:04:06+02:00',
      batchID: null,
      messageID: null,
    });
    // Winter time, another zone.
    const january = toOvhOutgoing(
      outgoing({ createdAt: Date.UTC(2024, 0, 2, 3, 4, 5), sentAt: null, deliveredAt: null }),
      'America/New_York',
    );
    expect(january).toMatchObject({ creationDatetime: '2024-01-01T22:04:05-05:00', sentAt: null, deliveredAt: null });
  });

  it('derives the codes, the deferral and the tariff of each kind of message', () => {
    const pending = toOvhOutgoing(
      outgoing({ status: 'pending', sentAt: null, deliveredAt: null, deferredUntil: T + 90 * 60_000, credits: 3, parts: 2 }),
      PARIS,
    );
    expect(pending).toMatchObject({ deliveryReceipt: 0, ptt: 254, differedDelivery: 90, numberOfSms: 2, credits: 3, tariffCode: 'FR-1.5' });
    const failed = toOvhOutgoing(
      outgoing({ status: 'failed', deliveredAt: null, errorCode: '3', errorText: 'destination unreachable' }),
      PARIS,
    );
    expect(failed).toMatchObject({ deliveryReceipt: 2, ptt: 3 });
    expect(toOvhOutgoing(outgoing({ status: 'sent', deliveredAt: null }), PARIS)).toMatchObject({ deliveryReceipt: 8, ptt: 0 });
    expect(toOvhOutgoing(outgoing({ status: 'expired' }), PARIS)).toMatchObject({ deliveryReceipt: 2, ptt: 801 });
    // A reply-capable short number shows as the empty sender; a redacted message has no text.
    const redacted = toOvhOutgoing(outgoing({ sender: '', message: null, receiver: '+336XXXXXX78', parts: 2, credits: 2 }), PARIS);
    expect(redacted).toMatchObject({
      sender: '',
      message: '',
      messageLength: 0,
      numberOfSms: 2,
      receiver: '+336XXXXXX78',
      tariffCode: 'FR-1',
    });
  });

  it('counts characters, not UTF-16 units, and keeps the STOP mention that was sent', () => {
    expect(toOvhOutgoing(outgoing({ message: 'Promo 🎉\nSTOP au 36180' }), PARIS).messageLength).toBe(21);
  });

  it('tells the deferral in minutes, 0 when sent at once', () => {
    expect(differedDeliveryOf({ createdAt: T, deferredUntil: null })).toBe(0);
    expect(differedDeliveryOf({ createdAt: T, deferredUntil: T + 15 * 60_000 })).toBe(15);
    expect(differedDeliveryOf({ createdAt: T, deferredUntil: T + 15 * 60_000 + 20_000 })).toBe(15);
    expect(differedDeliveryOf({ createdAt: T, deferredUntil: T - 60_000 })).toBe(0);
  });

  it('names the tariff by the receiver’s country and the credits of a part', () => {
    expect(tariffCodeOf({ receiver: '+32470123456', credits: 2, parts: 1 })).toBe('BE-2');
    expect(tariffCodeOf({ receiver: '+447400123456', credits: 1.5, parts: 3 })).toBe('GB-0.5');
    expect(tariffCodeOf({ receiver: '+1XXXXXXXX23', credits: 1, parts: 1 })).toBe('ZZ-1');
  });

  it('shows a pending message as OVH’s sms.Job (its fields only)', () => {
    const job = toOvhJob(outgoing({ status: 'pending', sentAt: null, deliveredAt: null, deferredUntil: T + 5 * 60_000 }), PARIS);
    expect(job).toEqual({
      id: 42,
      creationDatetime: '2024-06-13T15:03:57+02:00',
      sender: 'MyShop',
      receiver: '+33612345678',
      message: 'Été à Paris',
      messageLength: 11,
      numberOfSms: 1,
      credits: 1,
      deliveryReceipt: 0,
      ptt: 254,
      differedDelivery: 5,
    });
  });

  it('shows an account as OVH’s sms.Account with what Relais has', () => {
    const account: Account = {
      id: 1,
      name: 'sms-ab12345-1',
      ownerId: 3,
      description: 'Shop',
      status: 'enable',
      credits: 12.5,
      timezone: PARIS,
      defaultCountry: 'FR',
      storeText: true,
      redactAfterDays: null,
      retentionDays: null,
      callbackUrl: null,
      createdAt: T,
    };
    expect(toOvhAccount(account, [{ quota: null }, { quota: 10 }, { quota: 0 }])).toEqual({
      name: 'sms-ab12345-1',
      description: 'Shop',
      status: 'enable',
      creditsLeft: 12.5,
      creditsHoldByQuota: 0,
      userQuantityWithQuota: 2,
      callBack: null,
      stopCallBack: null,
    });
  });

  it('answers OVH’s sending report fields only', () => {
    const report = toOvhSendingReport({
      ids: [1, 2],
      validReceivers: ['+33612345678', '+33612345679'],
      invalidReceivers: ['nope'],
      totalCreditsRemoved: 2,
      tag: 't',
      jobId: 9,
      creditsLeft: 98,
      parts: 1,
      encoding: 'gsm7',
    });
    expect(report).toEqual({
      ids: [1, 2],
      validReceivers: ['+33612345678', '+33612345679'],
      invalidReceivers: ['nope'],
      totalCreditsRemoved: 2,
      tag: 't',
    });
  });
});

describe('OVH bodies', () => {
  const current = {
    name: 'sms-ab12345-1',
    description: 'Shop',
    status: 'enable',
    creditsLeft: 10,
    creditsHoldByQuota: 0,
    userQuantityWithQuota: 1,
    callBack: null,
    stopCallBack: null,
  };

  it('changes the description, and accepts the other fields sent back unchanged', () => {
    expect(accountPatchOf({ description: 'New' }, current)).toEqual({ description: 'New' });
    expect(accountPatchOf({ ...current, description: 'New' }, current)).toEqual({ description: 'New' });
    expect(accountPatchOf({ callBack: '', stopCallBack: null }, current)).toEqual({});
  });

  it('ignores the counters sent back with another value: they change on their own between a read and a write', () => {
    const stale = { ...current, creditsLeft: 11, creditsHoldByQuota: 2, userQuantityWithQuota: 0 };
    expect(accountPatchOf({ ...stale, description: 'New' }, current)).toEqual({ description: 'New' });
    expect(accountPatchOf({ creditsLeft: 1e6 }, current)).toEqual({});
  });

  it('refuses another read-only field with another value, an unknown field and a body that is no object, saying why', () => {
    expect(refusal(() => accountPatchOf({ name: 'sms-ab12345-2' }, current))).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'name cannot be changed: an SMS account keeps its name',
    });
    expect(accountPatchOf({ callBack: 'https://example.com/dlr' }, current)).toEqual({ callbackUrl: 'https://example.com/dlr' });
    expect(refusal(() => accountPatchOf({ callBack: 3 }, current)).message).toBe(
      'Invalid parameter callBack: must be a URL, or empty for none',
    );
    expect(refusal(() => accountPatchOf({ status: 'disable' }, current)).message).toMatch(/^status cannot be changed/);
    expect(refusal(() => accountPatchOf({ templates: {} }, current)).message).toBe(
      'Unknown field "templates": a Relais SMS account has no such setting (only description and callBack can be changed)',
    );
    expect(refusal(() => accountPatchOf({ description: 3 }, current)).message).toBe('Invalid parameter description: must be a string');
    expect(refusal(() => accountPatchOf([], current)).message).toMatch(/^The body must be a JSON object/);
    expect(refusal(() => accountPatchOf(undefined, current)).code).toBe('VALIDATION_FAILED');
  });

  it('makes a send request of OVH’s job body, charset accepted and dropped', () => {
    expect(
      sendInputOf({ message: 'Hi', receivers: ['+33612345678'], sender: 'MyShop', charset: 'UTF-8', priority: 'low', differedPeriod: 5 }),
    ).toEqual({ message: 'Hi', receivers: ['+33612345678'], sender: 'MyShop', priority: 'low', differedPeriod: 5 });
  });

  it('refuses what a job body must not hold, saying what to do', () => {
    expect(refusal(() => sendInputOf({ message: 'Hi' })).message).toBe('receivers is missing: list the numbers to send to');
    expect(refusal(() => sendInputOf({ message: 'Hi', receiversDocumentUrl: 'https://x' } as never)).message).toBe(
      'receiversDocumentUrl is not supported: Relais does not fetch receivers from a document: list the numbers in receivers',
    );
    expect(refusal(() => sendInputOf({ message: 'Hi', receivers: [], from: 'x' } as never)).message).toMatch(
      /^Unknown field "from" \(a job takes message, receivers, sender, /,
    );
  });
});

describe('OVH list filters', () => {
  const options: { allowed: readonly string[]; timeZone: string; defaultCountry: string } = {
    allowed: OUTGOING_FILTERS,
    timeZone: PARIS,
    defaultCountry: 'FR',
  };
  const filter = (query: Record<string, unknown>, o = options) => ovhOutgoingFilter(query, o);
  const row = (status: OutgoingStatus, more: Partial<OutgoingIdRow> = {}): OutgoingIdRow => ({
    id: 1,
    createdAt: T,
    status,
    errorCode: null,
    errorText: null,
    deferredUntil: null,
    ...more,
  });

  it('maps equality filters and the date range to the history’s filter', () => {
    expect(
      filter({
        'creationDatetime.from': '2024-06-01T00:00:00+02:00',
        'creationDatetime.to': '2024-06-30',
        sender: 'MyShop',
        tag: 'spring',
        receiver: '0033612345678',
      }),
    ).toEqual({
      raw: { from: '2024-06-01T00:00:00+02:00', to: '2024-06-30', sender: 'MyShop', tag: 'spring', receiver: '+33612345678' },
      keep: null,
      none: false,
    });
    expect(filter({}).raw).toEqual({});
    // National numbers in the account's country; an unencoded + (a space) read back as +.
    expect(filter({ receiver: '06 12 34 56 78' }).raw.receiver).toBe('+33612345678');
    expect(filter({ 'creationDatetime.from': '2024-06-01T10:00:00 02:00' }).raw.from).toBe('2024-06-01T10:00:00+02:00');
    expect(filter({ sender: ' 33699999999' }).raw.sender).toBe('+33699999999');
    expect(filter({ receiver: ' 4915112345678' }).raw.receiver).toBe('+4915112345678');
    expect(filter({ sender: ' MyShop' }).raw.sender).toBe(' MyShop');
  });

  it('refuses bad values and unknown or repeated parameters with clear messages', () => {
    expect(refusal(() => filter({ 'creationDatetime.from': 'yesterday' }))).toMatchObject({
      code: 'INVALID_FILTER',
      message:
        'creationDatetime.from must be an ISO 8601 date or datetime such as 2024-05-01 or 2024-05-01T10:30:00+02:00, got "yesterday"',
    });
    expect(refusal(() => filter({ 'creationDatetime.to': '2024-02-30' })).message).toMatch(/^creationDatetime.to must be an ISO 8601/);
    expect(refusal(() => filter({ 'creationDatetime.from': '2024-06-02', 'creationDatetime.to': '2024-06-01' })).message).toBe(
      'creationDatetime.from must not be after creationDatetime.to',
    );
    expect(refusal(() => filter({ receiver: 'bob' })).message).toBe('receiver must be a phone number such as +33612345678, got "bob"');
    expect(refusal(() => filter({ ptt: 'x' })).message).toBe(
      'ptt must be a whole number (a carrier code such as 0 no error or 254 pending), got "x"',
    );
    expect(refusal(() => filter({ deliveryReceipt: '-1' })).message).toMatch(
      /^deliveryReceipt must be a whole number \(0 pending, 1 delivered/,
    );
    expect(refusal(() => filter({ differedDelivery: '1.5' })).message).toBe('differedDelivery must be a whole number (minutes), got "1.5"');
    expect(refusal(() => filter({ batchID: '12' })).message).toBe('batchID must be a UUID, got "12"');
    expect(refusal(() => filter({ tag: ['a', 'b'] })).message).toBe('tag must be given once');
    expect(refusal(() => filter({ 'creationDatetime.form': '2024-01-01' }))).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: `Unknown parameter "creationDatetime.form" (this call takes ${OUTGOING_FILTERS.join(', ')})`,
    });
  });

  it('takes only the user list’s filters on a user’s history', () => {
    const user = { ...options, allowed: USER_OUTGOING_FILTERS };
    expect(filter({ ptt: '0', tag: 't' }, user).raw).toEqual({ status: 'sent,delivered', tag: 't' });
    expect(refusal(() => filter({ 'creationDatetime.from': '2024-01-01' }, user)).message).toBe(
      'Unknown parameter "creationDatetime.from" (this call takes deliveryReceipt, differedDelivery, ptt, receiver, sender, tag)',
    );
    expect(refusal(() => checkParams({ x: '1' }, [])).message).toBe('Unknown parameter "x" (this call takes none)');
  });

  it('maps deliveryReceipt to the statuses that have it, exactly', () => {
    expect(filter({ deliveryReceipt: '0' }).raw.status).toBe('pending');
    expect(filter({ deliveryReceipt: '1' }).raw.status).toBe('delivered');
    expect(filter({ deliveryReceipt: '2' }).raw.status).toBe('failed,expired');
    expect(filter({ deliveryReceipt: '8' }).raw.status).toBe('sent');
    expect(filter({ deliveryReceipt: '16' }).raw.status).toBe('canceled');
    // Codes no message of Relais has: nothing to read.
    expect(filter({ deliveryReceipt: '4' })).toMatchObject({ none: true });
    expect(filter({ deliveryReceipt: '3' })).toMatchObject({ none: true });
  });

  it('maps ptt to statuses, testing failed messages row by row', () => {
    expect(filter({ ptt: '0' })).toEqual({ raw: { status: 'sent,delivered' }, keep: null, none: false });
    expect(filter({ ptt: '254' })).toEqual({ raw: { status: 'pending' }, keep: null, none: false });
    const expired = filter({ ptt: '801' });
    expect(expired.raw.status).toBe('failed,expired');
    expect(expired.keep?.(row('expired'))).toBe(true);
    expect(expired.keep?.(row('failed', { errorText: 'EXPIRED', errorCode: '012' }))).toBe(true);
    expect(expired.keep?.(row('failed', { errorCode: '3' }))).toBe(false);
    const unreachable = filter({ ptt: '3' });
    expect(unreachable.raw.status).toBe('failed');
    expect(unreachable.keep?.(row('failed', { errorCode: '3' }))).toBe(true);
    expect(unreachable.keep?.(row('failed', { errorCode: '9' }))).toBe(false);
    expect(filter({ ptt: '802' }).raw.status).toBe('failed,canceled');
    expect(filter({ ptt: '255' }).raw.status).toBe('failed');
    expect(filter({ ptt: '77' })).toMatchObject({ none: true });
  });

  it('combines deliveryReceipt and ptt as both must hold', () => {
    expect(filter({ deliveryReceipt: '2', ptt: '801' }).raw.status).toBe('failed,expired');
    expect(filter({ deliveryReceipt: '1', ptt: '0' })).toEqual({ raw: { status: 'delivered' }, keep: null, none: false });
    expect(filter({ deliveryReceipt: '1', ptt: '254' })).toMatchObject({ none: true });
    const failedOnly = filter({ deliveryReceipt: '2', ptt: '53' });
    expect(failedOnly.raw.status).toBe('failed');
    expect(failedOnly.keep?.(row('failed', { errorCode: '53' }))).toBe(true);
  });

  it('tests differedDelivery row by row, with the other tests', () => {
    const f = filter({ differedDelivery: '30', ptt: '3' });
    expect(f.raw).toEqual({ status: 'failed' });
    expect(f.keep?.(row('failed', { errorCode: '3', deferredUntil: T + 30 * 60_000 }))).toBe(true);
    expect(f.keep?.(row('failed', { errorCode: '3' }))).toBe(false);
    expect(f.keep?.(row('failed', { errorCode: '4', deferredUntil: T + 30 * 60_000 }))).toBe(false);
    expect(filter({ differedDelivery: '0' }).keep?.(row('delivered'))).toBe(true);
  });

  it('matches nothing for a batchID or a messageID: Relais has neither', () => {
    expect(filter({ batchID: '0e9f2f3c-5f39-4bd7-a43c-6a2f1a1f2b4c' })).toMatchObject({ none: true });
    expect(filter({ messageID: '0E9F2F3C-5F39-4BD7-A43C-6A2F1A1F2B4C' })).toMatchObject({ none: true });
  });
});

describe('OVH documents', () => {
  const SECRET = 'a-test-server-secret-of-32-characters!!';
  const claims: DocumentClaims = {
    account: 'sms-ab12345-1',
    customerId: 3,
    credentialId: 5,
    applicationId: 4,
    from: T - 86_400_000,
    to: T + 999,
    tag: 'été',
    createdAt: T + 60_000,
  };

  it('signs what a document holds into its id, and reads it back until it expires', () => {
    const id = documentIdOf(claims, SECRET);
    expect(id).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(readDocumentId(id, SECRET, claims.createdAt)).toEqual(claims);
    expect(readDocumentId(id, SECRET, claims.createdAt + DOCUMENT_TTL_MS - 1)).toEqual(claims);
    expect(readDocumentId(id, SECRET, claims.createdAt + DOCUMENT_TTL_MS)).toBeNull();
  });

  it('refuses an id changed by hand, made with another secret, or malformed', () => {
    const id = documentIdOf(claims, SECRET);
    const [payload, mac] = id.split('.');
    const other = Buffer.from(JSON.stringify([1, 'sms-zz99999-1', 3, 5, 4, null, T, null, T])).toString('base64url');
    expect(readDocumentId(`${other}.${mac}`, SECRET, T)).toBeNull();
    expect(readDocumentId(`${payload}.${mac.slice(0, -1)}A`, SECRET, T)).toBeNull();
    expect(readDocumentId(id, `${SECRET}x`, T)).toBeNull();
    for (const bad of ['', 'x', `${payload}.`, `${payload}/x.${mac}`]) expect(readDocumentId(bad, SECRET, T)).toBeNull();
  });

  it('opens its download with a second key only', () => {
    const id = documentIdOf(claims, SECRET);
    const key = documentKeyOf(id, SECRET);
    expect(key).not.toBe(id.split('.')[1]);
    expect(documentKeyMatches(id, key, SECRET)).toBe(true);
    expect(documentKeyMatches(id, id.split('.')[1], SECRET)).toBe(false);
    expect(documentKeyMatches(id, '', SECRET)).toBe(false);
  });

  it('reads the /document query: wayType outgoing, the range ending at most now', () => {
    const now = Date.UTC(2024, 5, 13, 10, 0, 0, 500);
    expect(documentRangeOf({ wayType: 'outgoing' }, PARIS, now)).toEqual({ from: null, to: now + 499, tag: null });
    expect(
      documentRangeOf(
        { wayType: 'outgoing', 'creationDatetime.from': '2024-06-01', 'creationDatetime.to': '2024-06-10', tag: 't' },
        PARIS,
        now,
      ),
    ).toEqual({ from: Date.UTC(2024, 4, 31, 22), to: Date.UTC(2024, 5, 10, 22) - 1, tag: 't' });
    // An end after now is now.
    expect(documentRangeOf({ wayType: 'outgoing', 'creationDatetime.to': '2030-01-01' }, PARIS, now).to).toBe(now + 499);
    expect(refusal(() => documentRangeOf({}, PARIS, now)).message).toBe('Invalid parameter wayType: it is required (outgoing)');
    expect(refusal(() => documentRangeOf({ wayType: 'incoming' }, PARIS, now)).message).toBe(
      'Relais keeps no received SMS: wayType must be outgoing',
    );
    expect(refusal(() => documentRangeOf({ wayType: 'outgoing', sender: 'x' }, PARIS, now)).message).toMatch(/^Unknown parameter "sender"/);
  });

  it('makes a range starting after now an empty document, and refuses at once what the download’s filter would', () => {
    const now = Date.UTC(2024, 5, 13, 10, 0, 0, 500);
    const later = documentRangeOf({ wayType: 'outgoing', 'creationDatetime.from': '2024-06-13T11:00:00Z' }, PARIS, now);
    expect(later).toEqual({ from: Date.UTC(2024, 5, 13, 11), to: now + 499, tag: null });
    expect(documentIsEmpty(later)).toBe(true);
    expect(documentFilterOf(later)).toBeNull();
    // Starting within the current second: not empty, and read back as asked.
    const thisSecond = documentRangeOf({ wayType: 'outgoing', 'creationDatetime.from': '2024-06-13T10:00:00Z' }, PARIS, now);
    expect(documentIsEmpty(thisSecond)).toBe(false);
    expect(refusal(() => documentRangeOf({ wayType: 'outgoing', tag: 't'.repeat(501) }, PARIS, now))).toMatchObject({
      code: 'INVALID_FILTER',
      message: 'tag is too long (at most 500 characters)',
    });
    expect(
      refusal(() => documentRangeOf({ wayType: 'outgoing', 'creationDatetime.from': '2030-01-01', tag: 't'.repeat(501) }, PARIS, now))
        .message,
    ).toBe('tag is too long (at most 500 characters)');
  });

  it('gives the history filter that reads back exactly the document’s range', () => {
    const filter = parseHistoryFilter(documentFilterOf(claims) ?? {}, PARIS);
    expect(filter).toEqual({ from: claims.from, to: claims.to, tag: 'été' });
    expect(parseHistoryFilter(documentFilterOf({ from: null, to: T - 1, tag: null }) ?? {}, 'UTC')).toEqual({ to: T - 1 });
  });

  it('shows a document as OVH’s document object', () => {
    const doc = toOvhDocument({ id: 'the-id', claims, getUrl: 'https://relais.example/x', size: 1234, timeZone: PARIS });
    expect(doc).toEqual({
      id: 'the-id',
      name: 'sms-ab12345-1-outgoing-20240613150457.csv',
      getUrl: 'https://relais.example/x',
      size: 1234,
      creationDate: '2024-06-13T15:04:57+02:00',
      expirationDate: '2024-06-13T16:04:57+02:00',
      expiration: '2024-06-13T16:04:57+02:00',
      tags: [],
    });
    expect(documentNameOf(claims, 'UTC')).toBe('sms-ab12345-1-outgoing-20240613130457.csv');
  });
});
