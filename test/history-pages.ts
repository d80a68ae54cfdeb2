import type { Cursor } from '../src/server/modules/history/cursor.js';
import type { HistoryFilter, HistorySort } from '../src/server/modules/history/history-query.js';
import { type OutgoingRepository, sortValueOf } from '../src/server/modules/history/outgoing.repository.js';

type View = { scope: { accountId: number; userLogin: string | null }; filter: HistoryFilter; sort: HistorySort };

/** Every page of `view`, `limit` rows each, read forwards by cursor: the ids of each page. */
export async function readPages(repo: OutgoingRepository, view: View, limit: number): Promise<number[][]> {
  const pages: number[][] = [];
  let cursor: Cursor | null = null;
  for (;;) {
    const page = await repo.list({ ...view, cursor, limit });
    pages.push(page.rows.map((r) => r.id));
    if (!page.more) return pages;
    const last = page.rows[page.rows.length - 1];
    cursor = { way: 'after', value: sortValueOf(last, view.sort), id: last.id };
  }
}

/** The page read backwards from the row `id` of `view` (the page before it). */
export async function pageBefore(repo: OutgoingRepository, view: View, id: number, limit: number) {
  const row = (await repo.list({ ...view, cursor: null, limit: 1000 })).rows.find((r) => r.id === id)!;
  const page = await repo.list({ ...view, cursor: { way: 'before', value: sortValueOf(row, view.sort), id: row.id }, limit });
  return { ids: page.rows.map((r) => r.id), more: page.more };
}
