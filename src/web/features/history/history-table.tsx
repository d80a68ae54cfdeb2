import { type ColumnVisibilityState, columnVisibilityFeature, createColumnHelper, tableFeatures, useTable } from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import {
  type KeyboardEvent,
  type MouseEvent,
  type MutableRefObject,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
} from 'react';
import { type I18n, useI18n } from '../../i18n.js';
import type { PublicOutgoing } from '../../types.js';
import { accountDate, accountTime, oneLine } from './format.js';
import type { HistorySort, SortKey } from './history-view.js';
import { clickRow, isSelected, moveFocus, type Selection, selectLoaded, toggleFocused } from './selection.js';

/** Height of one row in pixels (fixed, so the virtual list needs no measuring). */
export const ROW_HEIGHT = 36;
/** Height of one row shown as a card on a phone (three short lines; see `.grid.compact` in styles.css). */
export const CARD_HEIGHT = 76;
/** Fetch the next page when fewer rows than this remain below the window. */
const PREFETCH_ROWS = 150;

const features = tableFeatures({ columnVisibilityFeature });
const helper = createColumnHelper<typeof features, PublicOutgoing>();

/** The grid's columns: id, the API sort key, the CSS width, whether the user may hide it. */
export const COLUMNS: readonly { id: ColumnId; sort: SortKey; width: string; hideable: boolean }[] = [
  { id: 'date', sort: 'date', width: '7.6rem', hideable: false },
  { id: 'time', sort: 'date', width: '6rem', hideable: true },
  { id: 'sender', sort: 'sender', width: 'minmax(6rem, 9rem)', hideable: true },
  { id: 'receiver', sort: 'receiver', width: 'minmax(8.5rem, 10rem)', hideable: false },
  { id: 'message', sort: 'message', width: 'minmax(12rem, 1fr)', hideable: false },
  { id: 'status', sort: 'status', width: 'minmax(6.5rem, 7.5rem)', hideable: false },
  { id: 'user', sort: 'user', width: 'minmax(6rem, 8rem)', hideable: true },
  { id: 'channel', sort: 'channel', width: 'minmax(6rem, 7rem)', hideable: true },
];
export type ColumnId = 'date' | 'time' | 'sender' | 'receiver' | 'message' | 'status' | 'user' | 'channel';

const NO_HIDDEN_COLUMNS: ColumnVisibilityState = {};

export function StatusBadge({ status }: { status: PublicOutgoing['status'] }) {
  const { t } = useI18n();
  return <span className={`badge status-${status}`}>{t(`status.${status}`)}</span>;
}

function buildColumns(i18n: I18n) {
  const { t, lang } = i18n;
  return helper.columns([
    helper.accessor('createdAt', { id: 'date', header: () => t('col.date'), cell: (c) => accountDate(c.getValue(), lang) }),
    helper.accessor('createdAt', { id: 'time', header: () => t('col.time'), cell: (c) => accountTime(c.getValue()) }),
    helper.accessor('sender', { id: 'sender', header: () => t('col.sender') }),
    helper.accessor('receiver', { id: 'receiver', header: () => t('col.receiver') }),
    helper.accessor('message', {
      id: 'message',
      header: () => t('col.message'),
      cell: (c) => {
        const text = c.getValue();
        return text === null ? <span className="muted">{t('detail.redacted')}</span> : oneLine(text);
      },
    }),
    helper.accessor('status', { id: 'status', header: () => t('col.status'), cell: (c) => <StatusBadge status={c.getValue()} /> }),
    helper.accessor('user', { id: 'user', header: () => t('col.user'), cell: (c) => c.getValue() ?? <span className="muted">—</span> }),
    helper.accessor('channel', { id: 'channel', header: () => t('col.channel'), cell: (c) => t(`channel.${c.getValue()}`) }),
  ]);
}

export interface HistoryTableProps {
  rows: PublicOutgoing[];
  total: number;
  /** False while `total` is only a lower bound: the grid then says its row count is unknown. */
  totalIsExact: boolean;
  /** Phone layout: each row is a card (same row elements), and a tap adds or removes it from the selection. */
  compact: boolean;
  loading: boolean;
  hasMore: boolean;
  loadingMore: boolean;
  generation: number;
  inserted: { count: number; serial: number };
  sort: HistorySort;
  columnVisibility: ColumnVisibilityState;
  selection: Selection;
  onSelectionChange(next: Selection): void;
  onSort(key: SortKey): void;
  onLoadMore(): void;
  onOpenDetail(id: number): void;
  onDeleteKey(): void;
  /** Filled with a function answering the ids of the rows on screen (for status polling). */
  visibleIdsRef: MutableRefObject<() => readonly number[]>;
  emptyText: string;
}

/**
 * The history grid: a real ARIA grid (rows with `data-id` and `aria-selected`), sorted on the server
 * by a click on a header, virtualised (only the rows on screen are in the DOM), and selected with the
 * mouse (click, Ctrl/Cmd+click, Shift+click) or the keyboard (arrows, Shift+arrows, Space, Ctrl+A).
 * On a phone (`compact`) the same rows are laid out as cards and a tap toggles a row.
 */
export function HistoryTable(props: HistoryTableProps) {
  const i18n = useI18n();
  const { t } = i18n;
  const { rows, selection, onSelectionChange, sort, compact } = props;
  const rowHeight = compact ? CARD_HEIGHT : ROW_HEIGHT;
  const scrollRef = useRef<HTMLDivElement>(null);
  const headRef = useRef<HTMLDivElement>(null);
  const columns = useMemo(() => buildColumns(i18n), [i18n]);
  const order = useMemo(() => rows.map((r) => r.id), [rows]);
  const orderRef = useRef(order);
  orderRef.current = order;

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 12,
    // The rows sit below the sticky header, inside the same scroller: a row is in view only once
    // its bottom clears the header's height too.
    scrollPaddingEnd: headRef.current?.offsetHeight ?? 0,
    getItemKey: (index) => rows[index]?.id ?? index,
  });
  const items = virtualizer.getVirtualItems();
  // A new row height (rotating a phone, resizing the window): the positions are computed again.
  const measuredHeight = useRef(rowHeight);
  useLayoutEffect(() => {
    if (measuredHeight.current === rowHeight) return;
    measuredHeight.current = rowHeight;
    virtualizer.measure();
  }, [virtualizer, rowHeight]);

  // The table models only the rows on screen: sorting and filtering happen on the server, so the
  // window is all it needs, and a page appended to 100,000 loaded rows costs nothing more.
  const windowStart = items.length ? items[0].index : 0;
  const windowEnd = items.length ? items[items.length - 1].index + 1 : 0;
  const windowRows = useMemo(() => rows.slice(windowStart, windowEnd), [rows, windowStart, windowEnd]);
  const table = useTable({
    features,
    columns,
    data: windowRows,
    getRowId: (row) => String(row.id),
    // A card shows every field; the hidden columns apply to the wide grid only.
    state: { columnVisibility: compact ? NO_HIDDEN_COLUMNS : props.columnVisibility },
  });
  const visibleColumns = table.getVisibleLeafColumns();
  const template = visibleColumns.map((c) => COLUMNS.find((x) => x.id === c.id)?.width ?? '1fr').join(' ');
  const modelRows = table.getRowModel().rows;

  props.visibleIdsRef.current = () => {
    const ids: number[] = [];
    for (const item of virtualizer.getVirtualItems()) {
      const row = orderRef.current[item.index];
      if (row !== undefined) ids.push(row);
    }
    return ids;
  };

  // Keyset pages as the user scrolls: ask for the next one before the window reaches the end.
  const lastIndex = items.length ? items[items.length - 1].index : 0;
  const { hasMore, loadingMore, onLoadMore } = props;
  useEffect(() => {
    if (hasMore && !loadingMore && lastIndex >= rows.length - PREFETCH_ROWS) onLoadMore();
  }, [hasMore, loadingMore, lastIndex, rows.length, onLoadMore]);

  // A new sort or filter starts at the top.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the rows start over
  useLayoutEffect(() => {
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
  }, [props.generation]);

  // New messages inserted above: keep the rows the user is looking at where they are.
  const insertedSerial = props.inserted.serial;
  const insertedCount = props.inserted.count;
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs for each insertion, not for a new layout
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (el && insertedSerial > 0 && el.scrollTop > 0) el.scrollTop += insertedCount * rowHeight;
  }, [insertedSerial, insertedCount]);

  const scrollToId = useCallback(
    (id: number | null) => {
      if (id === null) return;
      const index = orderRef.current.indexOf(id);
      if (index < 0) return;
      virtualizer.scrollToIndex(index, { align: 'auto' });
      // The browser's scroll event comes later: tell the virtualizer now, so that the focused row is
      // drawn with this key press (aria-activedescendant never names a row not in the page).
      scrollRef.current?.dispatchEvent(new Event('scroll'));
    },
    [virtualizer],
  );

  const onRowMouseDown = (event: MouseEvent) => {
    // Shift+click selects rows, not text.
    if (event.shiftKey) event.preventDefault();
  };
  const onRowClick = (event: MouseEvent, id: number) => {
    const toggle = compact || event.ctrlKey || event.metaKey;
    onSelectionChange(clickRow(selection, id, order, { toggle, shift: event.shiftKey }));
    scrollRef.current?.focus({ preventScroll: true });
  };

  const onKeyDown = (event: KeyboardEvent) => {
    // Keys pressed on a header's sort button belong to that button (Enter or Space sorts).
    if (event.target !== event.currentTarget) return;
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 400) / rowHeight) - 2);
    const how = event.shiftKey ? 'extend' : event.ctrlKey || event.metaKey ? 'move' : 'select';
    let next: Selection | null = null;
    switch (event.key) {
      case 'ArrowDown':
        next = moveFocus(selection, 1, order, how);
        break;
      case 'ArrowUp':
        next = moveFocus(selection, -1, order, how);
        break;
      case 'PageDown':
        next = moveFocus(selection, page, order, how);
        break;
      case 'PageUp':
        next = moveFocus(selection, -page, order, how);
        break;
      case 'Home':
        next = moveFocus(selection, -order.length, order, how);
        break;
      case 'End':
        next = moveFocus(selection, order.length, order, how);
        break;
      case ' ':
        next = toggleFocused(selection, order);
        break;
      case 'a':
      case 'A':
        if (event.ctrlKey || event.metaKey) next = selectLoaded(selection, order);
        break;
      case 'Enter':
        if (selection.focus !== null) props.onOpenDetail(selection.focus);
        break;
      case 'Delete':
        props.onDeleteKey();
        break;
      case 'Escape':
        next = { ids: new Set(), all: false, anchor: selection.anchor, focus: selection.focus };
        break;
      default:
        return;
    }
    event.preventDefault();
    if (next) {
      onSelectionChange(next);
      scrollToId(next.focus);
    }
  };

  const activeId = selection.focus !== null && order.includes(selection.focus) ? `row-${selection.focus}` : undefined;

  return (
    <div className="grid-frame">
      <div
        ref={scrollRef}
        className={`grid${compact ? ' compact' : ''}${props.loading ? ' is-loading' : ''}`}
        role="grid"
        aria-label={t('history.grid')}
        aria-rowcount={props.totalIsExact ? props.total + 1 : -1}
        aria-colcount={visibleColumns.length}
        aria-multiselectable="true"
        aria-busy={props.loading}
        aria-activedescendant={activeId}
        data-generation={props.generation}
        data-loaded={rows.length}
        tabIndex={0}
        onKeyDown={onKeyDown}
        style={{ ['--grid-columns' as string]: template, ['--row' as string]: `${rowHeight}px` }}
      >
        <div ref={headRef} role="rowgroup" className="grid-head">
          <div role="row" aria-rowindex={1} className="grid-row">
            {table.getHeaderGroups()[0].headers.map((header) => {
              const column = COLUMNS.find((c) => c.id === header.column.id)!;
              const active = sort.key === column.sort && (column.id !== 'time' || sort.key !== 'date');
              const direction = active ? sort.direction : null;
              return (
                <div
                  key={header.id}
                  role="columnheader"
                  data-column={column.id}
                  aria-sort={direction === 'asc' ? 'ascending' : direction === 'desc' ? 'descending' : undefined}
                  className="grid-cell"
                >
                  {/* On a phone the headers are hidden (the sort is a menu above the cards): out of the tab order. */}
                  <button
                    type="button"
                    className="sort-button"
                    tabIndex={compact ? -1 : undefined}
                    onClick={() => props.onSort(column.sort)}
                  >
                    <table.FlexRender header={header} />
                    <span className="sort-arrow" aria-hidden="true">
                      {direction === 'asc' ? '▲' : direction === 'desc' ? '▼' : ''}
                    </span>
                    {direction && <span className="visually-hidden">, {t(direction === 'asc' ? 'sort.asc' : 'sort.desc')}</span>}
                  </button>
                </div>
              );
            })}
          </div>
        </div>
        <div role="rowgroup" className="grid-body" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const row = modelRows[item.index - windowStart];
            if (!row) return null;
            const id = row.original.id;
            const selected = isSelected(selection, id);
            return (
              <div
                key={id}
                id={`row-${id}`}
                role="row"
                data-id={id}
                aria-rowindex={item.index + 2}
                aria-selected={selected}
                className={`grid-row${selected ? ' selected' : ''}${selection.focus === id ? ' focused' : ''}`}
                style={{ transform: `translateY(${item.start}px)` }}
                onMouseDown={onRowMouseDown}
                onClick={(event) => onRowClick(event, id)}
                onDoubleClick={() => props.onOpenDetail(id)}
              >
                {row.getVisibleCells().map((cell) => (
                  <div key={cell.column.id} role="gridcell" className={`grid-cell cell-${cell.column.id}`}>
                    <table.FlexRender cell={cell} />
                  </div>
                ))}
              </div>
            );
          })}
        </div>
      </div>
      {/* Outside the grid (whose children are rows only), drawn over it. */}
      {rows.length === 0 && !props.loading && <div className="grid-empty">{props.emptyText}</div>}
      {props.loadingMore && <div className="grid-more">{t('history.loadingMore')}</div>}
    </div>
  );
}
