import { sql } from 'kysely';
import type { Database } from './database.js';
import { SQLITE_PRAGMAS } from './sqlite-pragmas.js';
import { sqliteWorkerSource, startSqliteThread } from './sqlite-worker-source.js';

/**
 * SQLite's planner statistics for the history, kept in step with its size. The first start's demo
 * analyses a history of a few hundred rows, and SQLite never does it again by itself: with those
 * statistics, on 10,000,000 rows, a page sorted by sender and filtered by status took 1.6–2.3 s
 * (2.5 ms once analysed), and with none at all a rare word's search 0.5–1.2 s.
 *
 * The server looks every `intervalMs` at how many rows the history spans (ids, a lookup at each end)
 * against the rows it had when last analysed; from `minRows` on, when that doubled (or halved), a
 * sampled ANALYZE of `outgoing` runs on a thread of its own (the same bound as the demo's: ~1.7 s at
 * 10,000,000 rows, during which other writers wait for it, as for a delete job's batch: a few times in
 * a history's life), then the serving connection reads the statistics again (another connection's
 * ANALYZE is not seen until then). The other threads' connections keep theirs until the next start.
 *
 * Plain JavaScript in the thread (no TypeScript loader exists in a worker thread).
 */
/**
 * Index entries a sampled ANALYZE reads at most (PRAGMA analysis_limit): a second or two at 10,000,000
 * rows instead of a full pass over every index. The demo's loads analyse with it too.
 */
export const SAMPLED_ANALYSIS_LIMIT = 2_000;

const WORKER_SOURCE = sqliteWorkerSource(`
serve(() => {
  db.pragma('analysis_limit = ${SAMPLED_ANALYSIS_LIMIT}');
  db.exec('analyze outgoing');
  return {};
});
`);

/** Rows the history must span before its statistics are kept (fewer: any plan is fast). */
export const STATISTICS_MIN_ROWS = 10_000;
/** How often the server compares the history's size with its statistics'. */
export const STATISTICS_INTERVAL_MS = 10 * 60_000;

export interface StatisticsKeeper {
  /** Compares now and analyses if needed; true when it analysed. Its failure is thrown, not reported. */
  check(): Promise<boolean>;
  close(): Promise<void>;
}

/** Rows when last analysed (0: never), and rows the history spans now (by its ids). */
function sizes(database: Database): { analyzed: number; spanned: number } {
  const sqlite = database.sqlite!;
  const hasStats = sqlite.prepare("select 1 from sqlite_master where name = 'sqlite_stat1'").get() !== undefined;
  const stat = hasStats
    ? (sqlite.prepare("select stat from sqlite_stat1 where tbl = 'outgoing' and idx = 'outgoing_date'").pluck().get() as string | undefined)
    : undefined;
  const analyzed = stat ? Number.parseInt(stat, 10) || 0 : 0;
  const spanned = Number(sqlite.prepare('select coalesce(max(id) - min(id) + 1, 0) from outgoing').pluck().get());
  return { analyzed, spanned };
}

/**
 * Starts keeping the statistics of the SQLite file `database` (nothing to do in memory or on
 * PostgreSQL, whose autovacuum analyses by itself): a first look at once, then every `intervalMs`.
 */
export function startStatisticsKeeper(
  database: Database,
  options: { intervalMs?: number; minRows?: number; onError?: (message: string) => void; onAnalyzed?: (rows: number) => void } = {},
): StatisticsKeeper {
  const minRows = options.minRows ?? STATISTICS_MIN_ROWS;
  const file = database.sqliteFile;
  let thread: ReturnType<typeof startSqliteThread> | undefined;
  let running: Promise<boolean> | undefined;
  let closed = false;
  // The serving connection reads the statistics again: through Kysely, as this takes the write lock
  // (it waits for another connection's on a timer, and never runs inside a transaction of the serving
  // connection's). Until it succeeds, every look tries again.
  let reloadPending = false;
  const reload = async () => {
    reloadPending = true;
    await sql`analyze sqlite_schema`.execute(database.db);
    reloadPending = false;
  };

  async function analyseIfNeeded(): Promise<boolean> {
    if (!file || closed) return false;
    if (reloadPending) await reload();
    const { analyzed, spanned } = sizes(database);
    if (spanned < minRows || (analyzed > 0 && spanned < analyzed * 2 && spanned > analyzed / 2)) return false;
    thread ??= startSqliteThread(WORKER_SOURCE, { file, pragmas: SQLITE_PRAGMAS }, 'SQLite statistics');
    await thread.call({});
    await reload();
    options.onAnalyzed?.(spanned);
    return true;
  }
  const check = (): Promise<boolean> => {
    running ??= analyseIfNeeded().finally(() => {
      running = undefined;
    });
    return running;
  };
  const tick = () => void check().catch((error: unknown) => options.onError?.(error instanceof Error ? error.message : String(error)));
  const timer = file ? setInterval(tick, options.intervalMs ?? STATISTICS_INTERVAL_MS) : undefined;
  timer?.unref();
  if (file) setImmediate(tick);
  return {
    check,
    async close() {
      closed = true;
      clearInterval(timer);
      await running?.catch(() => {});
      await thread?.close();
    },
  };
}
