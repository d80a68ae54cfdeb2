import { describe, expect, it } from 'vitest';
import {
  clickRow,
  EMPTY_SELECTION,
  isSelected,
  moveFocus,
  selectAllMatching,
  selectedCount,
  selectLoaded,
  toggleFocused,
  withoutIds,
} from './selection.js';

const order = [10, 11, 12, 13, 14, 15, 16];
const plain = { toggle: false, shift: false };
const ctrl = { toggle: true, shift: false };
const shift = { toggle: false, shift: true };
const ids = (s: { ids: ReadonlySet<number> }) => [...s.ids].sort((a, b) => a - b);

describe('history selection (the seed: click, Ctrl+click, Shift+click)', () => {
  it('a click selects one row only', () => {
    let s = clickRow(EMPTY_SELECTION, 12, order, plain);
    s = clickRow(s, 14, order, plain);
    expect(ids(s)).toEqual([14]);
  });

  it('Ctrl+click adds a row, and removes it when clicked again', () => {
    let s = clickRow(EMPTY_SELECTION, 12, order, plain);
    s = clickRow(s, 15, order, ctrl);
    expect(ids(s)).toEqual([12, 15]);
    s = clickRow(s, 12, order, ctrl);
    expect(ids(s)).toEqual([15]);
  });

  it('Shift+click selects the continuous range from the last clicked row, either way', () => {
    let s = clickRow(EMPTY_SELECTION, 11, order, plain);
    s = clickRow(s, 14, order, shift);
    expect(ids(s)).toEqual([11, 12, 13, 14]);
    s = clickRow(s, 10, order, shift);
    expect(ids(s)).toEqual([10, 11]);
    s = clickRow(s, 15, order, ctrl);
    s = clickRow(s, 13, order, shift);
    expect(ids(s)).toEqual([13, 14, 15]);
  });

  it('Ctrl+Shift+click adds the range to the selection', () => {
    let s = clickRow(EMPTY_SELECTION, 10, order, plain);
    s = clickRow(s, 13, order, ctrl);
    s = clickRow(s, 15, order, { toggle: true, shift: true });
    expect(ids(s)).toEqual([10, 13, 14, 15]);
  });

  it('follows the keyboard: arrows, Shift+arrows, Space, Ctrl+A', () => {
    let s = moveFocus(EMPTY_SELECTION, 1, order, 'select');
    expect(ids(s)).toEqual([10]);
    s = moveFocus(s, 2, order, 'select');
    expect(ids(s)).toEqual([12]);
    s = moveFocus(s, 2, order, 'extend');
    expect(ids(s)).toEqual([12, 13, 14]);
    s = toggleFocused(s, order);
    expect(ids(s)).toEqual([12, 13]);
    s = moveFocus(s, 100, order, 'move');
    expect(s.focus).toBe(16);
    expect(ids(s)).toEqual([12, 13]);
    s = selectLoaded(s, order);
    expect(ids(s)).toEqual(order);
  });

  it('"all matching" counts the filter total and ends at the next click', () => {
    let s = selectAllMatching(selectLoaded(EMPTY_SELECTION, order));
    expect(isSelected(s, 999)).toBe(true);
    expect(selectedCount(s, 12_345)).toBe(12_345);
    s = clickRow(s, 12, order, ctrl);
    expect(s.all).toBe(false);
    expect(ids(s)).toEqual([10, 11, 13, 14, 15, 16]);
  });

  it('forgets deleted rows', () => {
    const s = withoutIds(clickRow(clickRow(EMPTY_SELECTION, 10, order, plain), 12, order, ctrl), new Set([12]));
    expect(ids(s)).toEqual([10]);
    expect(s.anchor).toBeNull();
  });
});
