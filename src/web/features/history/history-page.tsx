import type { ColumnVisibilityState } from '@tanstack/react-table';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { type ApiError, accountPath, api, apiUrl } from '../../api.js';
import { AccountNotFound, ConfirmDialog, ErrorText } from '../../components.js';
import { describeError, isAccountMissing } from '../../errors.js';
import { useI18n } from '../../i18n.js';
import { Link, navigate, useLocation } from '../../router.js';
import { useSession } from '../../session.js';
import type { DeleteJob, DeleteResult, RedactResult, Sender, SmsUser } from '../../types.js';
import { PHONE_QUERY, useMediaQuery } from '../../use-media.js';
import { DeleteDialog, type DeleteProgress } from './delete-dialog.js';
import { DetailDialog, DetailPanel } from './detail-panel.js';
import { Dropdown, HistoryFiltersBar, SortSelect } from './history-filters.js';
import { COLUMNS, HistoryTable } from './history-table.js';
import {
  type FilterKey,
  filterQuery,
  formatView,
  type HistoryView,
  hasFilters,
  listQuery,
  nextSort,
  parseView,
  type SortKey,
} from './history-view.js';
import { EMPTY_SELECTION, type Selection, selectAllMatching, selectedCount } from './selection.js';
import { StatsChart } from './stats-chart.js';
import { useHistory } from './use-history.js';

const COLUMNS_KEY = 'relais.columns';
/** Ids per deletion request (the API takes up to 10,000). */
const DELETE_CHUNK = 10_000;
/** The seed's "2000 derniers SMS" (the server's RELAIS_CSV_DOWNLOAD_LIMIT decides). */
const CSV_DOWNLOAD_ROWS = 2000;

function loadColumns(): ColumnVisibilityState {
  try {
    const saved = JSON.parse(window.localStorage.getItem(COLUMNS_KEY) ?? 'null');
    if (saved && typeof saved === 'object') return saved as ColumnVisibilityState;
  } catch {
    // defaults below
  }
  return {};
}

/** What a deletion or a redaction did, shown under the list. */
type Notice = { kind: 'deleted'; n: number } | { kind: 'redacted'; n: number; pending: number };

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** "Historique des envois": the history of one SMS account, its view in the URL. */
export function HistoryPage({ account }: { account: string }) {
  const { t, n } = useI18n();
  const session = useSession();
  const location = useLocation();
  const view = useMemo(() => parseView(location.search), [location.search]);
  const viewKey = formatView(view);
  const visibleIds = useRef<() => readonly number[]>(() => []);
  const history = useHistory(account, view, () => visibleIds.current());
  const compact = useMediaQuery(PHONE_QUERY);

  // The selection belongs to one view: another sort or filter starts with none.
  const [selected, setSelected] = useState<{ key: string; selection: Selection }>({ key: viewKey, selection: EMPTY_SELECTION });
  const selection = selected.key === viewKey ? selected.selection : EMPTY_SELECTION;
  const setSelection = useCallback((next: Selection) => setSelected({ key: viewKey, selection: next }), [viewKey]);

  const [users, setUsers] = useState<SmsUser[]>([]);
  /** Logins found in the history with no SMS user any more (deleted): still a filter of their messages. */
  const [formerUsers, setFormerUsers] = useState<string[]>([]);
  const [senders, setSenders] = useState<Sender[]>([]);
  const firstRowsShown = history.generation > 0;
  useEffect(() => {
    if (!firstRowsShown) return;
    // Both lists together, so that the filter's choices appear at once. An older server has no
    // …/outgoing/users (404): the current users only.
    void Promise.all([
      api.get<SmsUser[]>(accountPath(account, '/users')).catch(() => [] as SmsUser[]),
      api
        .get<{ data: string[] } | string[]>(accountPath(account, '/outgoing/users'))
        .then((answer) => (Array.isArray(answer) ? answer : (answer?.data ?? [])))
        .catch(() => [] as string[]),
    ]).then(([current, seen]) => {
      const known = new Set(current.map((u) => u.login));
      setUsers(current);
      setFormerUsers(seen.filter((login) => typeof login === 'string' && login !== '' && !known.has(login)));
    });
    api.get<Sender[]>(accountPath(account, '/senders')).then(setSenders, () => setSenders([]));
  }, [account, firstRowsShown]);

  const [columns, setColumns] = useState<ColumnVisibilityState>(loadColumns);
  const toggleColumn = (id: string) => {
    const next = { ...columns, [id]: columns[id] === false };
    setColumns(next);
    try {
      window.localStorage.setItem(COLUMNS_KEY, JSON.stringify(next));
    } catch {
      // not remembered
    }
  };

  const [detailOpen, setDetailOpen] = useState(() => window.matchMedia?.('(min-width: 1100px)').matches ?? true);
  // Shrunk to a phone: the details become a modal, opened only on demand.
  useEffect(() => {
    if (compact) setDetailOpen(false);
  }, [compact]);
  const detailRow =
    detailOpen && selection.focus !== null && !selection.all && selection.ids.size === 1 && selection.ids.has(selection.focus)
      ? history.rows.find((r) => r.id === selection.focus)
      : undefined;

  const go = (next: HistoryView, replace = false) => navigate(`${location.pathname}${formatView(next)}`, { replace });
  const onSort = (key: SortKey) => go({ ...view, sort: nextSort(view.sort, key) });
  const openDetail = (id: number) => {
    setDetailOpen(true);
    if (selection.focus !== id || selection.all || !selection.ids.has(id) || selection.ids.size !== 1) {
      setSelection({ ids: new Set([id]), all: false, anchor: id, focus: id });
    }
  };

  // Screen readers hear the number of results once a new sort or filter has loaded (not on every poll).
  const announced = history.totalIsExact ? t('history.announce', { n: history.total }) : t('history.announceAtLeast', { n: history.total });
  const [announcement, setAnnouncement] = useState('');
  // biome-ignore lint/correctness/useExhaustiveDependencies: announced for a new generation of rows, or when the exact count arrives
  useEffect(() => {
    if (history.generation > 0) setAnnouncement(announced);
  }, [history.generation, history.totalIsExact]);
  const onFilter = useCallback((key: FilterKey, value: string) => {
    const current = parseView(window.location.search);
    const filters = { ...current.filters, [key]: value || undefined };
    const typed = key === 'q' || key === 'receiver' || key === 'tag' || key === 'from' || key === 'to';
    navigate(`${window.location.pathname}${formatView({ ...current, filters })}`, { replace: typed });
  }, []);

  // Deletion
  const [deleting, setDeleting] = useState<{
    count: number | null;
    byFilter: boolean;
    progress: DeleteProgress | null;
    /** Why it failed, as thrown (said in the language shown, whenever it changes). */
    error: unknown;
  } | null>(null);
  /** What the last deletion or redaction did (its sentence is made at display time, in the language shown). */
  const [notice, setNotice] = useState<Notice | null>(null);
  const count = selectedCount(selection, history.total);
  const openDelete = async () => {
    if (count === 0 && !selection.all) return;
    setNotice(null);
    if (!selection.all) {
      setDeleting({ count: selection.ids.size, byFilter: false, progress: null, error: null });
      return;
    }
    setDeleting({ count: history.totalIsExact ? history.total : null, byFilter: true, progress: null, error: null });
    if (!history.totalIsExact) {
      const exact = await history.exactTotal().catch(() => null);
      setDeleting((d) => (d ? { ...d, count: exact } : d));
    }
  };
  const confirmDelete = async () => {
    if (!deleting) return;
    const path = accountPath(account, '/outgoing/delete');
    try {
      let deleted = 0;
      if (deleting.byFilter) {
        setDeleting((d) => d && { ...d, progress: { done: 0, total: d.count } });
        const result = await api.post<DeleteResult>(path, { filter: filterQuery(view) });
        deleted = result.deleted ?? 0;
        let job: DeleteJob | undefined = result.job;
        while (job && job.status === 'running') {
          const current: DeleteJob = job;
          setDeleting((d) => d && { ...d, progress: { done: current.deleted, total: current.total } });
          await wait(500);
          job = await api.get<DeleteJob>(accountPath(account, `/outgoing/delete-jobs/${current.id}`));
        }
        if (job?.status === 'failed') throw new Error(job.error ?? 'failed');
        if (job) deleted = job.deleted;
        history.reload();
      } else {
        const ids = [...selection.ids];
        setDeleting((d) => d && { ...d, progress: { done: 0, total: ids.length } });
        for (let i = 0; i < ids.length; i += DELETE_CHUNK) {
          const chunk = ids.slice(i, i + DELETE_CHUNK);
          const result = await api.post<DeleteResult>(path, { ids: chunk });
          deleted += result.deleted ?? 0;
          const gone = new Set(chunk);
          history.removeIds(gone);
          setDeleting((d) => d && { ...d, progress: { done: Math.min(ids.length, i + chunk.length), total: ids.length } });
        }
      }
      setSelection(EMPTY_SELECTION);
      setDeleting(null);
      setNotice({ kind: 'deleted', n: deleted });
      // Deleting a pending message gives its credits back: the header's figure comes with the session.
      void session.refresh().catch(() => undefined);
    } catch (error) {
      setDeleting((d) => d && { ...d, error: error ?? new Error('failed') });
    }
  };

  // Redaction (texts erased, receivers masked) of the selected messages, confirmed first; how many are selected.
  const [redacting, setRedacting] = useState<number | null>(null);
  const redactSelection = async () => {
    const ids = [...selection.ids];
    let redacted = 0;
    let pending = 0;
    for (let i = 0; i < ids.length; i += DELETE_CHUNK) {
      const result = await api.post<RedactResult>(accountPath(account, '/outgoing/redact'), { ids: ids.slice(i, i + DELETE_CHUNK) });
      redacted += result.redacted;
      pending += result.pending.length;
    }
    setSelection(EMPTY_SELECTION);
    setRedacting(null);
    setNotice({ kind: 'redacted', n: redacted, pending });
    history.reload();
  };

  const error: ApiError | null = history.error;
  if (isAccountMissing(error) && history.rows.length === 0) return <AccountNotFound title={t('history.title')} />;

  const filtered = hasFilters(view);
  const totalText = history.totalIsExact ? t('history.count', { n: history.total }) : t('history.countAtLeast', { n: history.total });
  const csvHref = apiUrl(accountPath(account, '/outgoing.csv'), filterQuery(view));
  const exportHref = (format: 'seed' | 'detailed') =>
    apiUrl(accountPath(account, '/outgoing.csv'), { ...listQuery(view), all: true, format });
  const moreMatching = history.hasMore || history.total > history.rows.length;
  const allLoadedSelected = moreMatching && !selection.all && selection.ids.size > 0 && selection.ids.size >= history.rows.length;

  return (
    <section className="history-page">
      <div className="page-head">
        <h1>{t('history.title')}</h1>
        <span className="total" data-total={history.totalIsExact ? history.total : undefined}>
          {history.loading && history.rows.length === 0 ? t('common.loading') : totalText}
        </span>
        <span className="spacer" />
        <div className="actions">
          <button type="button" className="danger" disabled={count === 0} onClick={() => void openDelete()} data-action="delete">
            {t('actions.delete')}
            {count > 0 && ` (${n(count)})`}
          </button>
          <a className="button" href={csvHref} download title={t('actions.downloadHint', { n: CSV_DOWNLOAD_ROWS })} data-action="download">
            {t('actions.download')}
          </a>
          <Dropdown label={t('actions.exportAll')} className="align-end">
            <p className="muted">{t('actions.exportFormat')}</p>
            <a className="menu-item" href={exportHref('seed')} download data-action="export-seed">
              {t('actions.formatSeed')}
            </a>
            <a className="menu-item" href={exportHref('detailed')} download data-action="export-detailed">
              {t('actions.formatDetailed')}
            </a>
          </Dropdown>
          {!compact && (
            <Dropdown label={t('columns.title')} className="align-end">
              {COLUMNS.filter((c) => c.hideable).map((c) => (
                <label key={c.id} className="check">
                  <input type="checkbox" name={`column-${c.id}`} checked={columns[c.id] !== false} onChange={() => toggleColumn(c.id)} />
                  {t(`col.${c.id}`)}
                </label>
              ))}
            </Dropdown>
          )}
        </div>
      </div>

      <StatsChart account={account} query={filterQuery(view)} ready={history.settled} />

      <HistoryFiltersBar
        filters={view.filters}
        compact={compact}
        toolbar={<SortSelect sort={view.sort} onChange={(sort) => go({ ...view, sort })} />}
        users={users}
        formerUsers={formerUsers}
        senders={senders}
        onChange={onFilter}
        onClear={() => go({ ...view, filters: {} })}
      />

      {(selection.all || selection.ids.size > 0) && (
        <div className="selection-bar" role="status">
          {selection.all ? (
            <span data-selection="all">{t('selection.allMatching', { n: history.total })}</span>
          ) : (
            <>
              <span>
                {allLoadedSelected ? t('selection.allLoaded', { n: selection.ids.size }) : t('selection.count', { n: selection.ids.size })}
              </span>
              {moreMatching && (
                <button
                  type="button"
                  className="link"
                  onClick={() => setSelection(selectAllMatching(selection))}
                  data-action="select-all-matching"
                >
                  {t('selection.selectAllMatching', { n: history.total })}
                </button>
              )}
            </>
          )}
          {(compact || !detailRow) && !selection.all && selection.ids.size === 1 && (
            <button type="button" className="link" onClick={() => openDetail([...selection.ids][0])} data-action="open-detail">
              {t('selection.showDetail')}
            </button>
          )}
          {!selection.all && (
            <button
              type="button"
              className="link"
              title={t('actions.redactHint')}
              onClick={() => {
                setNotice(null);
                setRedacting(selection.ids.size);
              }}
              data-action="redact"
            >
              {t('actions.redact')}
            </button>
          )}
          <button type="button" className="link" onClick={() => setSelection(EMPTY_SELECTION)}>
            {t('selection.clear')}
          </button>
        </div>
      )}

      {error && history.rows.length > 0 && (
        <p className="error" role="alert">
          {describeError(error, t).text}{' '}
          <button type="button" className="link" onClick={history.reload}>
            {t('common.retry')}
          </button>
        </p>
      )}
      {error && history.rows.length === 0 && <ErrorText error={error} />}

      <div className={`history-body${detailRow ? ' with-detail' : ''}`}>
        <HistoryTable
          rows={history.rows}
          total={history.total}
          totalIsExact={history.totalIsExact}
          compact={compact}
          loading={history.loading}
          hasMore={history.hasMore}
          loadingMore={history.loadingMore}
          generation={history.generation}
          inserted={history.inserted}
          sort={view.sort}
          columnVisibility={columns}
          selection={selection}
          onSelectionChange={setSelection}
          onSort={onSort}
          onLoadMore={history.loadMore}
          onOpenDetail={openDetail}
          onDeleteKey={() => void openDelete()}
          visibleIdsRef={visibleIds}
          emptyText={filtered ? t('history.empty') : t('history.emptyAll')}
        />
        {detailRow && !compact && (
          <DetailPanel
            message={detailRow}
            onClose={() => {
              setDetailOpen(false);
              // The panel's button goes away with it: the focus goes back to the grid it describes.
              document.querySelector<HTMLElement>('[role="grid"]')?.focus({ preventScroll: true });
            }}
          />
        )}
      </div>
      {detailRow && compact && <DetailDialog message={detailRow} onClose={() => setDetailOpen(false)} />}
      <p className="help muted">{t(compact ? 'selection.helpTouch' : 'selection.help')}</p>
      <p className="visually-hidden" role="status" data-announce>
        <span key={history.generation}>{announcement}</span>
      </p>
      <p className="notice" role="status" aria-live="polite">
        {notice?.kind === 'deleted' && t('delete.done', { n: notice.n })}
        {notice?.kind === 'redacted' &&
          (notice.pending > 0
            ? `${t('redact.done', { n: notice.n })} ${t('redact.pendingLeft', { n: notice.pending })}`
            : t('redact.done', { n: notice.n }))}
      </p>
      {!filtered && history.rows.length === 0 && !history.loading && !error && (
        <p>
          <Link to={accountPath(account, '/send')}>{t('history.sendFirst')}</Link>
        </p>
      )}
      {deleting && (
        <DeleteDialog
          count={deleting.count}
          byFilter={deleting.byFilter}
          progress={deleting.progress}
          error={deleting.error}
          onCancel={() => setDeleting(null)}
          onConfirm={() => void confirmDelete()}
        />
      )}
      {redacting !== null && (
        <ConfirmDialog
          title={t('redact.title')}
          message={
            <>
              {t('redact.confirmIds', { n: redacting })} <span className="muted">{t('redact.note')}</span>
            </>
          }
          confirmLabel={t('redact.confirm')}
          onCancel={() => setRedacting(null)}
          onConfirm={redactSelection}
        />
      )}
    </section>
  );
}
