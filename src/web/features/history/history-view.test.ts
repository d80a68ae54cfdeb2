import { describe, expect, it } from 'vitest';
import { formatView, listQuery, nextSort, parseView } from './history-view.js';

describe('history view in the URL', () => {
  it('reads and writes sort and filters, the default view being an empty query', () => {
    expect(formatView(parseView(''))).toBe('');
    const view = parseView('?sort=-receiver&user=apiuser&status=failed&ignored=1');
    expect(view).toEqual({ sort: { key: 'receiver', direction: 'desc' }, filters: { user: 'apiuser', status: 'failed' } });
    expect(formatView(view)).toBe('?sort=-receiver&user=apiuser&status=failed');
    expect(listQuery(view)).toEqual({ sort: '-receiver', user: 'apiuser', status: 'failed' });
  });

  it('speaks the API: date is newest first, +date oldest first', () => {
    expect(parseView('?sort=date').sort).toEqual({ key: 'date', direction: 'desc' });
    expect(parseView('?sort=%2Bdate').sort).toEqual({ key: 'date', direction: 'asc' });
    expect(formatView({ sort: { key: 'date', direction: 'asc' }, filters: {} })).toBe('?sort=%2Bdate');
    expect(parseView('?sort=nonsense').sort).toEqual({ key: 'date', direction: 'desc' });
  });

  it('a header click sorts by its column, a second click reverses', () => {
    const byDate = parseView('').sort;
    expect(nextSort(byDate, 'date')).toEqual({ key: 'date', direction: 'asc' });
    const bySender = nextSort(byDate, 'sender');
    expect(bySender).toEqual({ key: 'sender', direction: 'asc' });
    expect(nextSort(bySender, 'sender')).toEqual({ key: 'sender', direction: 'desc' });
  });
});
