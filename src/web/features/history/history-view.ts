/**
 * The history's view (sort and filters) lives in the URL's query string, so any view can be
 * bookmarked, shared and reloaded: `/accounts/{account}/history?sort=-receiver&user=apiuser&status=failed`.
 * The names and values are the API's (`GET /outgoing`), passed through unchanged.
 */

export const SORT_KEYS = ['date', 'sender', 'receiver', 'message', 'status', 'user', 'channel'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDirection = 'asc' | 'desc';

export interface HistorySort {
  key: SortKey;
  direction: SortDirection;
}

/** Newest first: the default view, with no hidden filter. */
export const DEFAULT_SORT: HistorySort = { key: 'date', direction: 'desc' };

export const FILTER_KEYS = ['user', 'status', 'channel', 'sender', 'receiver', 'tag', 'from', 'to', 'q'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type HistoryFilters = Partial<Record<FilterKey, string>>;

export interface HistoryView {
  sort: HistorySort;
  filters: HistoryFilters;
}

function isSortKey(value: string): value is SortKey {
  return (SORT_KEYS as readonly string[]).includes(value);
}

/** Reads `sort` as the API does: `date` is newest first, `+date` oldest first, `-x` descending, `x` ascending. */
export function parseSort(raw: string | null): HistorySort {
  if (!raw) return DEFAULT_SORT;
  const key = raw.replace(/^[-+ ]/, '');
  if (!isSortKey(key)) return DEFAULT_SORT;
  if (key === 'date') return { key, direction: raw.startsWith('+') || raw.startsWith(' ') ? 'asc' : 'desc' };
  return { key, direction: raw.startsWith('-') ? 'desc' : 'asc' };
}

/** The `sort` parameter for `sort` (undefined for the default order). */
export function formatSort(sort: HistorySort): string | undefined {
  if (sort.key === 'date') return sort.direction === 'desc' ? undefined : '+date';
  return sort.direction === 'desc' ? `-${sort.key}` : sort.key;
}

export function parseView(search: string): HistoryView {
  const params = new URLSearchParams(search);
  const filters: HistoryFilters = {};
  for (const key of FILTER_KEYS) {
    const value = params.get(key);
    if (value !== null && value !== '') filters[key] = value;
  }
  return { sort: parseSort(params.get('sort')), filters };
}

/** `?sort=…&user=…` in a stable order (empty when the view is the default one). */
export function formatView(view: HistoryView): string {
  const params = new URLSearchParams();
  const sort = formatSort(view.sort);
  if (sort) params.set('sort', sort);
  for (const key of FILTER_KEYS) {
    const value = view.filters[key];
    if (value) params.set(key, value);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The filter parameters of the API for this view. */
export function filterQuery(view: HistoryView): Record<string, string> {
  const query: Record<string, string> = {};
  for (const key of FILTER_KEYS) {
    const value = view.filters[key];
    if (value) query[key] = value;
  }
  return query;
}

/** Filters and sort, as the list API takes them. */
export function listQuery(view: HistoryView): Record<string, string> {
  const query = filterQuery(view);
  const sort = formatSort(view.sort);
  if (sort) query.sort = sort;
  return query;
}

/** The sort after a click on the header of `key`: the same column reverses; another starts in its natural order. */
export function nextSort(current: HistorySort, key: SortKey): HistorySort {
  if (current.key === key) return { key, direction: current.direction === 'asc' ? 'desc' : 'asc' };
  return { key, direction: key === 'date' ? 'desc' : 'asc' };
}

export function hasFilters(view: HistoryView): boolean {
  return FILTER_KEYS.some((key) => Boolean(view.filters[key]));
}
