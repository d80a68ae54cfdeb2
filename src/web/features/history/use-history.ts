import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, accountPath, api, isAbort } from '../../api.js';
import type { HistoryPage, PublicOutgoing } from '../../types.js';
import { filterQuery, type HistoryView, listQuery } from './history-view.js';

/** Rows of the first page: small, so the first rows paint at once (public/early.js asks for as many). */
export const FIRST_PAGE = 100;
/** Rows of each following page, fetched as the user scrolls. */
export const NEXT_PAGE = 500;
/** A view's exact count is asked for once it has stayed this long (none for views passed through). */
export const COUNT_DELAY_MS = 400;
/** An exact count is reused for another sort of the same filter this long. */
const COUNT_REUSE_MS = 30_000;
/** How often visible rows' statuses and the newest rows are asked for. */
export const POLL_MS = 4000;
const FINAL = new Set(['delivered', 'failed', 'expired', 'canceled']);

export interface HistoryData {
  /** The loaded rows, in the server's order (keyset pages appended as the user scrolls). */
  rows: PublicOutgoing[];
  /** Matches: exact when `totalIsExact`, else a lower bound until `/count` answers. */
  total: number;
  totalIsExact: boolean;
  hasMore: boolean;
  /** The first page of the current view is on its way (the previous rows stay shown meanwhile). */
  loading: boolean;
  loadingMore: boolean;
  error: ApiError | null;
  /** Changes whenever the rows start over (new sort or filter): the grid scrolls back to the top. */
  generation: number;
  /** Rows inserted above the loaded ones by the last poll, and a serial to notice it. */
  inserted: { count: number; serial: number };
  /** Which view the rows belong to (account and query), null before the first page. */
  loadedKey: string | null;
}

const INITIAL: HistoryData = {
  rows: [],
  total: 0,
  totalIsExact: true,
  hasMore: false,
  loading: true,
  loadingMore: false,
  error: null,
  generation: 0,
  inserted: { count: 0, serial: 0 },
  loadedKey: null,
};

export interface HistoryController extends HistoryData {
  /** The first page of the view on screen is there (not the previous view's rows while the new ones load). */
  settled: boolean;
  loadMore(): void;
  /** Forgets rows deleted from this Manager (the grid updates without reloading). */
  removeIds(ids: ReadonlySet<number>): void;
  /** Starts the current view over (after a deletion by filter). */
  reload(): void;
  /** The exact number of matches (asks `/count` when the total is a lower bound). */
  exactTotal(signal?: AbortSignal): Promise<number>;
}

const prefetched = new Map<string, Promise<HistoryPage>>();

function firstPageKey(account: string, query: Record<string, string>): string {
  return JSON.stringify([account, query]);
}

/**
 * Starts fetching the first page of a history view at once (main.tsx calls it before the app renders),
 * so the rows do not wait for the session check: the first paint needs one round trip less.
 */
export function prefetchFirstPage(account: string, view: HistoryView): void {
  const query = listQuery(view);
  const request = api.get<HistoryPage>(accountPath(account, '/outgoing'), { ...query, limit: FIRST_PAGE });
  request.catch(() => undefined);
  prefetched.set(firstPageKey(account, query), request);
}

function asError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, 'NETWORK', error instanceof Error ? error.message : String(error));
}

/**
 * The history of one account for one view: keyset pages fetched on demand, the exact count in the
 * background, and a poll that refreshes the statuses of the rows on screen (`?ids=`) and inserts new
 * messages at the top when the view is newest first, without touching the selection.
 */
export function useHistory(account: string, view: HistoryView, visibleIds: () => readonly number[]): HistoryController {
  const [data, setData] = useState<HistoryData>(INITIAL);
  const state = useRef(data);
  state.current = data;
  const cursor = useRef<string | null>(null);
  const known = useRef(new Set<number>());
  const [reloads, setReloads] = useState(0);
  const moreAbort = useRef<AbortController | null>(null);
  const idsUnsupported = useRef(false);
  /** The last exact count, for the filter it counted (account and filters, not the sort). */
  const counted = useRef<{ key: string; total: number; at: number } | null>(null);

  const base = accountPath(account, '/outgoing');
  const query = listQuery(view);
  const key = firstPageKey(account, query);
  const queryRef = useRef(query);
  queryRef.current = query;
  const viewRef = useRef(view);
  viewRef.current = view;

  // First page of each view; the exact count follows when the page's total is only a lower bound.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the key stands for the account and query
  useEffect(() => {
    const abort = new AbortController();
    moreAbort.current?.abort();
    setData((d) => ({ ...d, loading: true, error: null }));
    const early = reloads === 0 ? prefetched.get(key) : undefined;
    prefetched.delete(key);
    (early ?? api.get<HistoryPage>(base, { ...queryRef.current, limit: FIRST_PAGE }, abort.signal))
      .then((page) => {
        if (abort.signal.aborted) return;
        cursor.current = page.nextCursor;
        known.current = new Set(page.data.map((r) => r.id));
        setData((d) => ({
          ...d,
          rows: page.data,
          total: page.total,
          totalIsExact: page.totalIsExact,
          hasMore: page.nextCursor !== null,
          loading: false,
          loadingMore: false,
          error: null,
          generation: d.generation + 1,
          loadedKey: key,
        }));
        if (!page.totalIsExact) {
          // Counting millions of rows costs the server a second: another sort of the same filter reuses
          // the last count, and a view left at once (the user clicking through) asks for none.
          const filter = filterQuery(viewRef.current);
          const filterKey = JSON.stringify([account, filter]);
          const last = counted.current;
          if (last && last.key === filterKey && Date.now() - last.at < COUNT_REUSE_MS) {
            setData((d) => ({ ...d, total: Math.max(last.total, d.rows.length), totalIsExact: true }));
          } else {
            const timer = setTimeout(() => {
              api
                .get<{ total: number }>(`${base}/count`, filter, abort.signal)
                .then(({ total }) => {
                  counted.current = { key: filterKey, total, at: Date.now() };
                  setData((d) => ({ ...d, total: Math.max(total, d.rows.length), totalIsExact: true }));
                })
                .catch(() => undefined);
            }, COUNT_DELAY_MS);
            abort.signal.addEventListener('abort', () => clearTimeout(timer));
          }
        }
      })
      .catch((error) => {
        if (isAbort(error) || abort.signal.aborted) return;
        setData((d) => ({ ...d, loading: false, error: asError(error) }));
      });
    return () => abort.abort();
  }, [key, reloads]);

  const loadMore = useCallback(() => {
    const d = state.current;
    if (d.loading || d.loadingMore || !cursor.current || d.error) return;
    const abort = new AbortController();
    moreAbort.current = abort;
    const generation = d.generation;
    setData((x) => ({ ...x, loadingMore: true }));
    api
      .get<HistoryPage>(base, { ...queryRef.current, limit: NEXT_PAGE, cursor: cursor.current }, abort.signal)
      .then((page) => {
        if (state.current.generation !== generation) return;
        cursor.current = page.nextCursor;
        const fresh = page.data.filter((r) => !known.current.has(r.id));
        for (const r of fresh) known.current.add(r.id);
        setData((x) => {
          const rows = x.rows.concat(fresh);
          return {
            ...x,
            rows,
            hasMore: page.nextCursor !== null,
            loadingMore: false,
            total: x.totalIsExact ? x.total : Math.max(x.total, rows.length),
            totalIsExact: x.totalIsExact || page.nextCursor === null,
          };
        });
      })
      .catch((error) => {
        if (isAbort(error)) return;
        setData((x) => ({ ...x, loadingMore: false, error: asError(error) }));
      });
  }, [base]);

  const removeIds = useCallback((ids: ReadonlySet<number>) => {
    counted.current = null;
    for (const id of ids) known.current.delete(id);
    setData((d) => {
      const rows = d.rows.filter((r) => !ids.has(r.id));
      const removed = d.rows.length - rows.length;
      return { ...d, rows, total: Math.max(rows.length, d.total - removed) };
    });
  }, []);

  const reload = useCallback(() => {
    counted.current = null;
    setReloads((n) => n + 1);
  }, []);

  const exactTotal = useCallback(
    async (signal?: AbortSignal) => {
      const d = state.current;
      if (d.totalIsExact) return d.total;
      const { total } = await api.get<{ total: number }>(`${base}/count`, filterQuery(viewRef.current), signal);
      setData((x) => ({ ...x, total, totalIsExact: true }));
      return total;
    },
    [base],
  );

  // Live updates: statuses of the rows on screen, and new messages on top of a newest-first view.
  const visibleRef = useRef(visibleIds);
  visibleRef.current = visibleIds;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const abort = new AbortController();

    const refreshStatuses = async () => {
      if (idsUnsupported.current) return;
      const byId = new Map(state.current.rows.map((r) => [r.id, r]));
      const ids = visibleRef.current().filter((id) => {
        const row = byId.get(id);
        return row !== undefined && !FINAL.has(row.status);
      });
      if (ids.length === 0) return;
      try {
        const page = await api.get<HistoryPage>(base, { ids: ids.slice(0, 1000).join(','), limit: 1000 }, abort.signal);
        const updated = new Map(page.data.map((r) => [r.id, r]));
        setData((d) => {
          let changed = false;
          const rows = d.rows.map((r) => {
            const u = updated.get(r.id);
            if (!u || (u.status === r.status && u.sentAt === r.sentAt && u.deliveredAt === r.deliveredAt)) return r;
            changed = true;
            return u;
          });
          return changed ? { ...d, rows } : d;
        });
      } catch (error) {
        // Without the `ids` filter (an older server) statuses refresh on the next view change only.
        if (error instanceof ApiError && error.status === 400) idsUnsupported.current = true;
      }
    };

    const insertNewest = async () => {
      const v = viewRef.current;
      const d = state.current;
      if (v.sort.key !== 'date' || v.sort.direction !== 'desc' || d.loading || d.error) return;
      const newest = d.rows[0];
      const found: PublicOutgoing[] = [];
      let next: string | undefined;
      for (let page = 0; page < 5; page++) {
        const answer = await api.get<HistoryPage>(base, { ...queryRef.current, limit: 200, cursor: next }, abort.signal);
        let reachedKnown = false;
        for (const r of answer.data) {
          if (known.current.has(r.id) || (newest && Date.parse(r.createdAt) < Date.parse(newest.createdAt))) {
            reachedKnown = true;
            break;
          }
          found.push(r);
        }
        if (reachedKnown || !answer.nextCursor) break;
        next = answer.nextCursor;
      }
      if (found.length === 0 || state.current.generation !== d.generation) return;
      if (d.rows.length === 0) {
        setReloads((n) => n + 1);
        return;
      }
      for (const r of found) known.current.add(r.id);
      counted.current = null;
      setData((x) => ({
        ...x,
        rows: found.concat(x.rows),
        total: x.total + found.length,
        inserted: { count: found.length, serial: x.inserted.serial + 1 },
      }));
    };

    const tick = async () => {
      if (!document.hidden) {
        try {
          await refreshStatuses();
          await insertNewest();
        } catch {
          // a failed poll is retried at the next tick
        }
      }
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    };
    timer = setTimeout(tick, POLL_MS);
    return () => {
      stopped = true;
      abort.abort();
      clearTimeout(timer);
    };
  }, [base]);

  return { ...data, settled: data.loadedKey === key && !data.loading, loadMore, removeIds, reload, exactTotal };
}
