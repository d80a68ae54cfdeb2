import { expressionBuilder, type RawBuilder, sql } from 'kysely';
import { OUTGOING_STATUSES, type OutgoingStatus } from '../../../shared/status.js';
import type { Database } from '../../db/database.js';
import type { DB } from '../../db/schema.js';
import type { HistoryFilter } from './history-query.js';
import type { HistoryScope, OutgoingRepository } from './outgoing.repository.js';

const DAY_MS = 86_400_000;
/** A period is split for parallel statements only into pieces of at least this many days. */
const MIN_DAYS_PER_STATEMENT = 7;

/** How many messages of one status were created during one day of the period (index into its days). */
export interface DayCount {
  day: number;
  status: OutgoingStatus;
  count: number;
}

export interface CountByDayArgs {
  scope: HistoryScope;
  /** The filter; its `from`/`to` are not read: `starts` bound the period. */
  filter: HistoryFilter;
  /** Where each day begins, then where the period ends: day `i` is [starts[i], starts[i + 1]). */
  starts: readonly number[];
  /** Count from here (inside day 0) rather than from `starts[0]`. */
  from?: number;
  /** Count before here (inside the last day) rather than before the period's end. */
  until?: number;
}

/**
 * Messages per day and status, counted in SQL. Each day boundary is an instant computed by the caller
 * (days in the account's timezone may last 23 or 25 hours), so no dialect needs timezone data.
 */
export function createStatsRepository(
  database: Database,
  outgoing: Pick<OutgoingRepository, 'where'>,
  options: {
    /**
     * PostgreSQL: statements the days of a long period are split into, run at once on the pool (one
     * backend counts ~4 million index entries a second; two halves use two cores). Default 2; SQLite 1.
     */
    parallel?: number;
  } = {},
) {
  // Counting a long period reads up to millions of index entries: on SQLite, off the serving thread.
  const { reader } = database;
  const parallel = database.dialect === 'postgres' ? Math.max(1, options.parallel ?? 2) : 1;

  /**
   * Only the account (and statuses) filtered: one count per day and status, each an index range of
   * `outgoing_status_date` (account_id, status, created_at, id) read without touching the table.
   */
  async function byRanges(args: CountByDayArgs, bounds: number[]): Promise<DayCount[]> {
    const days = bounds.length - 1;
    const pieces = Math.min(parallel, Math.floor(days / MIN_DAYS_PER_STATEMENT)) || 1;
    const edges = Array.from({ length: pieces + 1 }, (_, i) => Math.round((i * days) / pieces));
    const parts = await Promise.all(edges.slice(0, -1).map((first, i) => rangeCounts(args, bounds, first, edges[i + 1])));
    return parts.flat();
  }

  /** `byRanges` for days `first` to `end` (excluded). */
  async function rangeCounts(args: CountByDayArgs, bounds: number[], first: number, end: number): Promise<DayCount[]> {
    const statuses = args.filter.statuses ?? OUTGOING_STATUSES;
    const days = sql.join(
      bounds.slice(first, end).map((start, i) => sql`(${sql.lit(first + i)}, ${int(start)}, ${int(bounds[first + i + 1])})`),
    );
    const wanted = sql.join(statuses.map((s) => sql`(${s})`));
    const { rows } = await sql<{ day: number; status: OutgoingStatus; n: number | string }>`
      with d(day, lo, hi) as (values ${days}), s(status) as (values ${wanted})
      select d.day, s.status,
        (select count(*) from outgoing o
          where o.account_id = ${args.scope.accountId} and o.status = s.status and o.created_at >= d.lo and o.created_at < d.hi) as n
      from d cross join s`.execute(reader);
    return rows.map((r) => ({ day: Number(r.day), status: r.status, count: Number(r.n) }));
  }

  /**
   * Any other filter: one pass over the matching rows, grouped by day bucket and status. On SQLite,
   * whose planner cannot size ranges, the period's index is named so that a broad filter (a receiver
   * prefix, a common sender) never walks its own index across the whole history; ids and an exact
   * receiver keep their index, and a text search is left to the planner.
   */
  async function byBuckets(args: CountByDayArgs, bounds: number[]): Promise<DayCount[]> {
    const { from: _from, to: _to, ...filter } = args.filter;
    const eb = expressionBuilder<DB, 'outgoing'>();
    const hint =
      database.dialect !== 'sqlite' || filter.ids || filter.q || (filter.receiver && 'exact' in filter.receiver)
        ? sql``
        : filter.user !== undefined || args.scope.userLogin !== null
          ? sql`indexed by outgoing_user_date`
          : sql`indexed by outgoing_date`;
    const { rows } = await sql<{ day: number; status: OutgoingStatus; n: number | string }>`
      select ${dayBucket(args.starts)} as day, outgoing.status as status, count(*) as n
      from outgoing ${hint}
      where ${outgoing.where(eb, args.scope, filter)} and outgoing.created_at >= ${int(bounds[0])} and outgoing.created_at < ${int(bounds[bounds.length - 1])}
      group by 1, 2`.execute(reader);
    return rows.map((r) => ({ day: Number(r.day), status: r.status, count: Number(r.n) }));
  }

  return {
    /** Counts of the messages matching `filter` in `scope`, per day of the period and status; pairs without messages may be missing. */
    async countByDay(args: CountByDayArgs): Promise<DayCount[]> {
      if (args.starts.length < 2) return [];
      const bounds = [...args.starts];
      if (args.from !== undefined) bounds[0] = Math.max(bounds[0], args.from);
      if (args.until !== undefined) bounds[bounds.length - 1] = Math.min(bounds[bounds.length - 1], args.until);
      if (bounds[0] >= bounds[bounds.length - 1]) return [];
      return onlyStatuses(args) ? byRanges(args, bounds) : byBuckets(args, bounds);
    },
  };
}

/** True when nothing but the account and statuses narrows the count (what `outgoing_status_date` holds). */
function onlyStatuses(args: CountByDayArgs): boolean {
  if (args.scope.userLogin !== null) return false;
  const { from: _from, to: _to, statuses: _statuses, ...rest } = args.filter;
  return Object.values(rest).every((v) => v === undefined);
}

/** A safe integer as an SQL literal (bigint on PostgreSQL). */
function int(n: number): RawBuilder<number> {
  if (!Number.isSafeInteger(n)) throw new Error(`not a safe integer: ${n}`);
  return sql<number>`${sql.lit(n)}`;
}

/**
 * The day index of `created_at` in the period: runs of 24-hour days by one division, each day of
 * another length (a DST change) by its own branch. `created_at` is never before `starts[0]`.
 */
function dayBucket(starts: readonly number[]): RawBuilder<number> {
  const created = sql.ref('outgoing.created_at');
  const pieces: { until: number; value: RawBuilder<number> }[] = [];
  let i = 0;
  const days = starts.length - 1;
  while (i < days) {
    if (starts[i + 1] - starts[i] !== DAY_MS) {
      pieces.push({ until: starts[i + 1], value: int(i) });
      i += 1;
      continue;
    }
    let end = i;
    while (end < days && starts[end + 1] - starts[end] === DAY_MS) end += 1;
    // For t in [starts[i], starts[end]): (t - starts[i] + i·DAY) / DAY is the day index, never negative.
    pieces.push({ until: starts[end], value: sql<number>`((${created} - (${int(starts[i] - i * DAY_MS)})) / ${int(DAY_MS)})` });
    i = end;
  }
  if (pieces.length === 1) return pieces[0].value;
  const branches = pieces.slice(0, -1).map((p) => sql`when ${created} < ${int(p.until)} then ${p.value}`);
  return sql<number>`(case ${sql.join(branches, sql` `)} else ${pieces[pieces.length - 1].value} end)`;
}

export type StatsRepository = ReturnType<typeof createStatsRepository>;
