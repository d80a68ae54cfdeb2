/**
 * Row selection of the history, as the seed describes it: a click selects one row, Ctrl (Cmd on
 * macOS) + click adds or removes a row, Shift + click selects the continuous range from the last
 * clicked row. Rows are known by id, so new rows arriving above or status updates never move it.
 * `all` means every row matching the filter, loaded or not (then deletion goes by filter).
 */
export interface Selection {
  readonly ids: ReadonlySet<number>;
  readonly all: boolean;
  /** The row a Shift range starts from (the last plainly or Ctrl-clicked row). */
  readonly anchor: number | null;
  /** The keyboard's current row. */
  readonly focus: number | null;
}

export const EMPTY_SELECTION: Selection = { ids: new Set(), all: false, anchor: null, focus: null };

export interface Modifiers {
  /** Ctrl, or Cmd on macOS. */
  toggle: boolean;
  shift: boolean;
}

function range(order: readonly number[], from: number | null, to: number): number[] {
  const end = order.indexOf(to);
  if (end < 0) return [];
  const startAt = from === null ? -1 : order.indexOf(from);
  const start = startAt < 0 ? end : startAt;
  return order.slice(Math.min(start, end), Math.max(start, end) + 1);
}

/** The ids selected, made concrete: every loaded row when `all`. */
function concrete(selection: Selection, order: readonly number[]): Set<number> {
  return selection.all ? new Set(order) : new Set(selection.ids);
}

/** A mouse click on row `id`; `order` is the ids of the loaded rows as shown. */
export function clickRow(selection: Selection, id: number, order: readonly number[], mods: Modifiers): Selection {
  if (mods.shift) {
    const anchor = selection.anchor ?? id;
    const span = range(order, anchor, id);
    const ids = mods.toggle ? concrete(selection, order) : new Set<number>();
    for (const x of span) ids.add(x);
    return { ids, all: false, anchor, focus: id };
  }
  if (mods.toggle) {
    const ids = concrete(selection, order);
    if (ids.has(id)) ids.delete(id);
    else ids.add(id);
    return { ids, all: false, anchor: id, focus: id };
  }
  return { ids: new Set([id]), all: false, anchor: id, focus: id };
}

/**
 * Arrow keys: `step` rows down (negative: up). `extend` (Shift) selects the range from the anchor to
 * the new row; `move` (Ctrl/Cmd) moves the focus only; otherwise the new row alone is selected.
 */
export function moveFocus(selection: Selection, step: number, order: readonly number[], how: 'select' | 'extend' | 'move'): Selection {
  if (order.length === 0) return selection;
  const at = selection.focus === null ? -1 : order.indexOf(selection.focus);
  const next = at < 0 ? (step > 0 ? 0 : order.length - 1) : Math.min(order.length - 1, Math.max(0, at + step));
  const id = order[next];
  if (how === 'move') return { ...selection, focus: id };
  if (how === 'extend') {
    const anchor = selection.anchor ?? selection.focus ?? id;
    return { ids: new Set(range(order, anchor, id)), all: false, anchor, focus: id };
  }
  return { ids: new Set([id]), all: false, anchor: id, focus: id };
}

/** Space: adds or removes the focused row. */
export function toggleFocused(selection: Selection, order: readonly number[]): Selection {
  if (selection.focus === null) return selection;
  return clickRow(selection, selection.focus, order, { toggle: true, shift: false });
}

/** Ctrl+A: every loaded row. */
export function selectLoaded(selection: Selection, order: readonly number[]): Selection {
  return { ids: new Set(order), all: false, anchor: order[0] ?? null, focus: selection.focus ?? order[0] ?? null };
}

/** "Select all N matching the filter", loaded or not. */
export function selectAllMatching(selection: Selection): Selection {
  return { ...selection, ids: new Set(), all: true };
}

export function isSelected(selection: Selection, id: number): boolean {
  return selection.all || selection.ids.has(id);
}

/** How many rows the selection holds, `total` being the number matching the filter. */
export function selectedCount(selection: Selection, total: number): number {
  return selection.all ? total : selection.ids.size;
}

/** The selection without the rows that are gone. */
export function withoutIds(selection: Selection, gone: ReadonlySet<number>): Selection {
  const ids = new Set([...selection.ids].filter((id) => !gone.has(id)));
  const keep = (id: number | null) => (id !== null && gone.has(id) ? null : id);
  return { ids, all: selection.all, anchor: keep(selection.anchor), focus: keep(selection.focus) };
}
