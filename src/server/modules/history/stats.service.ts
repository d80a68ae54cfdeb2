import type { DailyCounts, StatsResponse } from '../../../shared/stats.js';
import { OUTGOING_STATUSES } from '../../../shared/status.js';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import type { AccountAccess } from '../auth/principal.js';
import { parseHistoryFilter, type RawFilter } from './history-query.js';
import type { StatsRepository } from './stats.repository.js';
import { dayOf, dayStarts, dayText } from './stats-calendar.js';

/** Days in the period when the query gives neither `from` nor `to`: the last 30 up to today. */
export const DEFAULT_STATS_DAYS = 30;
/** Longest period one answer may cover: a year and a bit, to compare with the same month last year. */
export const MAX_STATS_DAYS = 400;

export interface StatsServiceDeps {
  stats: StatsRepository;
  clock: Clock;
}

/** Statistics of the history: messages per day (in the account's timezone) and status. */
export function createStatsService(deps: StatsServiceDeps) {
  const { stats, clock } = deps;

  return {
    /**
     * Messages per day and status matching the history filters `query`, within the caller's scope.
     * The period runs from the day of `from` to the day of `to`; without `to` it ends today (or on the day
     * of a later `from`), without `from` it starts 29 days before its last day.
     */
    async daily(access: AccountAccess, query: RawFilter): Promise<StatsResponse> {
      const timeZone = access.account.timezone;
      const filter = parseHistoryFilter(query, timeZone);
      const today = dayOf(clock.now(), timeZone);
      const first = filter.from !== undefined ? dayOf(filter.from, timeZone) : undefined;
      const last = filter.to !== undefined ? dayOf(filter.to, timeZone) : Math.max(today, first ?? today);
      const start = first ?? last - (DEFAULT_STATS_DAYS - 1);
      const length = last - start + 1;
      if (length > MAX_STATS_DAYS) {
        throw new AppError(
          'PERIOD_TOO_LONG',
          `the period ${dayText(start)} to ${dayText(last)} spans ${length} days; statistics cover at most ${MAX_STATS_DAYS} days at once`,
        );
      }
      const starts = dayStarts(start, last, timeZone);
      const { from: _from, to: _to, ...rest } = filter;
      const counts = await stats.countByDay({
        scope: { accountId: access.account.id, userLogin: access.userLogin },
        filter: rest,
        starts,
        from: filter.from,
        until: filter.to === undefined ? undefined : filter.to + 1,
      });
      const days: DailyCounts[] = Array.from({ length }, (_, i) => {
        const row = { day: dayText(start + i) } as DailyCounts;
        for (const status of OUTGOING_STATUSES) row[status] = 0;
        return row;
      });
      for (const c of counts) if (days[c.day] && OUTGOING_STATUSES.includes(c.status)) days[c.day][c.status] += c.count;
      return { timeZone, from: dayText(start), to: dayText(last), days };
    },
  };
}

export type StatsService = ReturnType<typeof createStatsService>;
