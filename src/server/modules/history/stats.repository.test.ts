import { beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../../../test/database.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import { CHANNELS } from '../../../shared/status.js';
import type { HistoryFilter } from './history-query.js';
import { createOutgoingRepository } from './outgoing.repository.js';
import { createStatsRepository, type DayCount, type StatsRepository } from './stats.repository.js';
import { dayStarts } from './stats-calendar.js';

const ACCOUNT = 31;
const OTHER = 32;
const PARIS = 'Europe/Paris';
const day = (text: string) => Date.parse(`${text}T00:00:00Z`) / 86_400_000;
/** 2024-10-26 to 2024-10-28 in Paris: the middle day lasts 25 hours (clocks go back at 03:00). */
const STARTS = dayStarts(day('2024-10-26'), day('2024-10-28'), PARIS);

/** Counts as `day:status=count`, sorted, zero pairs left out: easy to read in a failure. */
function readable(counts: DayCount[]): string[] {
  return counts
    .filter((c) => c.count > 0)
    .map((c) => `${c.day}:${c.status}=${c.count}`)
    .sort();
}

describeEachDialect('stats repository', (ctx) => {
  let stats: StatsRepository;
  const scope = { accountId: ACCOUNT, userLogin: null };

  beforeAll(async () => {
    stats = createStatsRepository(ctx.database, createOutgoingRepository(ctx.database));
    const at = (iso: string) => Date.parse(iso);
    await insertOutgoing(ctx.database, [
      // Before the period, and its very first instant.
      buildOutgoing({ account_id: ACCOUNT, created_at: at('2024-10-25T23:59:59.999+02:00'), status: 'delivered' }),
      buildOutgoing({ account_id: ACCOUNT, created_at: at('2024-10-26T00:00:00+02:00'), status: 'delivered', user_login: 'api' }),
      buildOutgoing({ account_id: ACCOUNT, created_at: at('2024-10-26T23:59:59.999+02:00'), status: 'failed', channel: 'smpp' }),
      // 2024-10-27: 02:30 happens twice (+02:00, then +01:00); 23:30 is still the 27th.
      buildOutgoing({ account_id: ACCOUNT, created_at: at('2024-10-27T00:00:00+02:00'), status: 'sent', user_login: 'api' }),
      buildOutgoing({ account_id: ACCOUNT, created_at: at('2024-10-27T02:30:00+02:00'), status: 'delivered', user_login: 'api' }),
      buildOutgoing({ account_id: ACCOUNT, created_at: at('2024-10-27T02:30:00+01:00'), status: 'delivered', channel: 'smpp' }),
      buildOutgoing({ account_id: ACCOUNT, created_at: at('2024-10-27T23:30:00+01:00'), status: 'pending', receiver: '+32470000001' }),
      // 2024-10-28, and the first instant after the period.
      buildOutgoing({ account_id: ACCOUNT, created_at: at('2024-10-28T00:00:00+01:00'), status: 'expired', message: 'Votre rendez-vous' }),
      buildOutgoing({ account_id: ACCOUNT, created_at: at('2024-10-28T23:59:59.999+01:00'), status: 'canceled', tag: 'promo' }),
      buildOutgoing({ account_id: ACCOUNT, created_at: at('2024-10-29T00:00:00+01:00'), status: 'delivered' }),
      buildOutgoing({ account_id: OTHER, created_at: at('2024-10-27T12:00:00+01:00'), status: 'delivered' }),
    ]);
  });

  const count = (filter: HistoryFilter = {}, extra: { from?: number; until?: number; userLogin?: string } = {}) =>
    stats
      .countByDay({ scope: { ...scope, userLogin: extra.userLogin ?? null }, filter, starts: STARTS, from: extra.from, until: extra.until })
      .then(readable);

  const all = ['0:delivered=1', '0:failed=1', '1:delivered=2', '1:pending=1', '1:sent=1', '2:canceled=1', '2:expired=1'];

  it('counts each day of the account timezone by status, a 25-hour day whole, boundaries exact', async () => {
    expect(await count()).toEqual(all);
  });

  it('counts the same through one pass grouped by day bucket as through index ranges per day', async () => {
    // Naming every channel changes no result but takes the grouped path.
    expect(await count({ channels: [...CHANNELS] })).toEqual(all);
    expect(await count({ statuses: ['delivered', 'pending'] })).toEqual(['0:delivered=1', '1:delivered=2', '1:pending=1']);
    expect(await count({ statuses: ['delivered', 'pending'], channels: [...CHANNELS] })).toEqual([
      '0:delivered=1',
      '1:delivered=2',
      '1:pending=1',
    ]);
  });

  it('applies the history filters and the SMS-user scope', async () => {
    expect(await count({ user: 'api' })).toEqual(['0:delivered=1', '1:delivered=1', '1:sent=1']);
    expect(await count({}, { userLogin: 'api' })).toEqual(['0:delivered=1', '1:delivered=1', '1:sent=1']);
    expect(await count({ user: 'nobody' }, { userLogin: 'api' })).toEqual([]);
    expect(await count({ channels: ['smpp'] })).toEqual(['0:failed=1', '1:delivered=1']);
    expect(await count({ receiver: { prefix: '+32' } })).toEqual(['1:pending=1']);
    expect(await count({ receiver: { exact: '+32470000001' } })).toEqual(['1:pending=1']);
    expect(await count({ tag: 'promo' })).toEqual(['2:canceled=1']);
    expect(await count({ q: 'RENDEZ-VOUS' })).toEqual(['2:expired=1']);
  });

  it('gives the same counts when a long period is split into parallel statements (PostgreSQL)', async () => {
    const october = dayStarts(day('2024-10-01'), day('2024-10-31'), PARIS);
    const split = createStatsRepository(ctx.database, createOutgoingRepository(ctx.database), { parallel: 3 });
    const whole = createStatsRepository(ctx.database, createOutgoingRepository(ctx.database), { parallel: 1 });
    const args = { scope, filter: {}, starts: october };
    const expected = readable(await whole.countByDay(args));
    expect(expected).toEqual([
      '24:delivered=1',
      '25:delivered=1',
      '25:failed=1',
      '26:delivered=2',
      '26:pending=1',
      '26:sent=1',
      '27:canceled=1',
      '27:expired=1',
      '28:delivered=1',
    ]);
    expect(readable(await split.countByDay(args))).toEqual(expected);
  });

  it('counts only from `from` and before `until` inside the first and last days', async () => {
    const from = Date.parse('2024-10-26T12:00:00+02:00');
    const until = Date.parse('2024-10-28T00:00:00.001+01:00');
    const expected = ['0:failed=1', '1:delivered=2', '1:pending=1', '1:sent=1', '2:expired=1'];
    expect(await count({}, { from, until })).toEqual(expected);
    expect(await count({ channels: [...CHANNELS] }, { from, until })).toEqual(expected);
    expect(await count({}, { from: until, until: from })).toEqual([]);
  });
});
