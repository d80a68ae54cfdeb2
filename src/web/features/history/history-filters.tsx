import { type KeyboardEvent, type ReactNode, useEffect, useRef, useState } from 'react';
import { CHANNELS, OUTGOING_STATUSES } from '../../../shared/status.js';
import { useI18n } from '../../i18n.js';
import type { Sender, SmsUser } from '../../types.js';
import {
  FILTER_KEYS,
  type FilterKey,
  formatSort,
  type HistoryFilters,
  type HistorySort,
  hasFilters,
  parseSort,
  SORT_KEYS,
} from './history-view.js';

/** The API's value for "sent with no SMS user" (from the Manager). */
export const NO_USER = '-';

/** A `<details>` menu that closes on a click outside or Escape; `labelledBy` names its button (e.g. "Statut, Tous"). */
export function Dropdown({
  label,
  children,
  className = '',
  labelledBy,
  id,
}: {
  label: ReactNode;
  children: ReactNode;
  className?: string;
  labelledBy?: string;
  id?: string;
}) {
  const ref = useRef<HTMLDetailsElement>(null);
  useEffect(() => {
    const close = (event: Event) => {
      const el = ref.current;
      if (el?.open && !el.contains(event.target as Node)) el.open = false;
    };
    const onKey = (event: globalThis.KeyboardEvent) => {
      if (event.key === 'Escape' && ref.current?.open) {
        ref.current.open = false;
        ref.current.querySelector('summary')?.focus();
      }
    };
    document.addEventListener('mousedown', close);
    // Tabbing out of the menu closes it too (it would stay drawn over the page).
    document.addEventListener('focusin', close);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('focusin', close);
      document.removeEventListener('keydown', onKey);
    };
  }, []);
  // Up and down arrows move through the menu's items (from its button too), as in a menu; never
  // from a field where the arrows have a use of their own (text, list).
  const onKeyDown = (event: KeyboardEvent<HTMLDetailsElement>) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const el = ref.current;
    const target = event.target as HTMLElement;
    if (!el?.open || target.matches('select, textarea, input:not([type="checkbox"]):not([type="radio"])')) return;
    const items = Array.from(
      el.querySelectorAll<HTMLElement>('.dropdown-panel :is(button, a[href], input, select, textarea):not(:disabled)'),
    ).filter((item) => item.offsetParent !== null);
    if (items.length === 0) return;
    event.preventDefault();
    const at = items.indexOf(target);
    const next =
      at < 0
        ? event.key === 'ArrowDown'
          ? 0
          : items.length - 1
        : (at + (event.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
    items[next].focus();
  };
  return (
    <details ref={ref} className={`dropdown ${className}`} onKeyDown={onKeyDown}>
      <summary id={id} aria-labelledby={labelledBy}>
        {label}
      </summary>
      <div className="dropdown-panel">{children}</div>
    </details>
  );
}

/** A text filter applied after a short pause in typing, or at once on Enter or leaving the field. */
function TextFilter(props: {
  label: string;
  value: string;
  onChange(value: string): void;
  placeholder?: string;
  type?: string;
  name: string;
}) {
  const [text, setText] = useState(props.value);
  const committed = useRef(props.value);
  useEffect(() => {
    setText(props.value);
    committed.current = props.value;
  }, [props.value]);
  const { onChange } = props;
  useEffect(() => {
    if (text === committed.current) return;
    const timer = setTimeout(() => {
      committed.current = text;
      onChange(text);
    }, 400);
    return () => clearTimeout(timer);
  }, [text, onChange]);
  const commit = () => {
    if (text !== committed.current) {
      committed.current = text;
      onChange(text);
    }
  };
  return (
    <label className="field">
      <span>{props.label}</span>
      <input
        type={props.type ?? 'text'}
        name={props.name}
        value={text}
        placeholder={props.placeholder}
        onChange={(e) => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
        }}
      />
    </label>
  );
}

function MultiFilter<T extends string>(props: {
  label: string;
  name: string;
  options: readonly T[];
  value: string;
  render(option: T): string;
  onChange(value: string): void;
}) {
  const { t } = useI18n();
  const chosen = new Set(props.value ? props.value.split(',') : []);
  const toggle = (option: T) => {
    const next = new Set(chosen);
    if (next.has(option)) next.delete(option);
    else next.add(option);
    props.onChange(props.options.filter((o) => next.has(o)).join(','));
  };
  const summary =
    chosen.size === 0
      ? t('filters.any')
      : chosen.size === 1
        ? props.render([...chosen][0] as T)
        : t('filters.nSelected', { n: chosen.size });
  return (
    <div className="field">
      <span id={`${props.name}-label`}>{props.label}</span>
      <Dropdown
        id={`${props.name}-summary`}
        labelledBy={`${props.name}-label ${props.name}-summary`}
        label={<span data-filter={props.name}>{summary}</span>}
      >
        <fieldset aria-labelledby={`${props.name}-label`}>
          {props.options.map((option) => (
            <label key={option} className="check">
              <input type="checkbox" name={props.name} value={option} checked={chosen.has(option)} onChange={() => toggle(option)} />
              {props.render(option)}
            </label>
          ))}
        </fieldset>
      </Dropdown>
    </div>
  );
}

export interface HistoryFiltersProps {
  filters: HistoryFilters;
  /** Phone layout: the filters fold behind a "Filtres" button (with the number in use). */
  compact: boolean;
  /** Shown next to the "Filtres" button on a phone (the sort menu). */
  toolbar?: ReactNode;
  users: SmsUser[];
  /** Logins of the history with no SMS user any more (deleted): offered too, marked as such. */
  formerUsers?: readonly string[];
  senders: Sender[];
  onChange(key: FilterKey, value: string): void;
  onClear(): void;
}

/** "Filtre utilisateurs" first (the seed's), then status and search; the rest behind "More filters". */
export function HistoryFiltersBar({ filters, compact, toolbar, users, formerUsers = [], senders, onChange, onClear }: HistoryFiltersProps) {
  const { t } = useI18n();
  const [shown, setShown] = useState(false);
  const inUse = FILTER_KEYS.filter((key) => filters[key]).length;
  const advanced = Boolean(filters.channel || filters.sender || filters.receiver || filters.from || filters.to || filters.tag);
  const [open, setOpen] = useState(advanced);
  const user = filters.user ?? '';
  const userChoices = [
    ...users.map((u) => ({ login: u.login, former: false })),
    ...formerUsers.map((login) => ({ login, former: true })),
  ].sort((a, b) => (a.login < b.login ? -1 : a.login > b.login ? 1 : 0));
  const knownUser = user === '' || user === NO_USER || userChoices.some((u) => u.login === user);
  const sender = filters.sender ?? '';
  const toggle = compact && (
    <div className="filters-toolbar">
      <button type="button" aria-expanded={shown} aria-controls="history-filters" onClick={() => setShown(!shown)} data-action="filters">
        {t('filters.toggle')}
        {inUse > 0 && ` (${inUse})`} <span aria-hidden="true">{shown ? '▴' : '▾'}</span>
      </button>
      {toolbar}
    </div>
  );
  if (compact && !shown) return toggle;
  return (
    <>
      {toggle}
      <search className="filters" id="history-filters" aria-label={t('filters.title')}>
        <div className="filters-row">
          <label className="field">
            <span>{t('filters.user')}</span>
            <select name="user" value={user} onChange={(e) => onChange('user', e.target.value)}>
              <option value="">{t('filters.allUsers')}</option>
              {userChoices.map((u) => (
                <option key={u.login} value={u.login}>
                  {u.former ? t('filters.formerUser', { login: u.login }) : u.login}
                </option>
              ))}
              {!knownUser && <option value={user}>{user}</option>}
              <option value={NO_USER}>{t('filters.manager')}</option>
            </select>
          </label>
          <MultiFilter
            label={t('filters.status')}
            name="status"
            options={OUTGOING_STATUSES}
            value={filters.status ?? ''}
            render={(s) => t(`status.${s}`)}
            onChange={(v) => onChange('status', v)}
          />
          <div className="grow">
            <TextFilter label={t('filters.search')} name="q" type="search" value={filters.q ?? ''} onChange={(v) => onChange('q', v)} />
          </div>
          <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>
            {t('filters.more')} {open ? '▴' : '▾'}
          </button>
          {hasFilters({ sort: { key: 'date', direction: 'desc' }, filters }) && (
            <button type="button" className="link" onClick={onClear}>
              {t('filters.clear')}
            </button>
          )}
        </div>
        {open && (
          <div className="filters-row">
            <MultiFilter
              label={t('filters.channel')}
              name="channel"
              options={CHANNELS}
              value={filters.channel ?? ''}
              render={(c) => t(`channel.${c}`)}
              onChange={(v) => onChange('channel', v)}
            />
            <label className="field">
              <span>{t('filters.sender')}</span>
              <select name="sender" value={sender} onChange={(e) => onChange('sender', e.target.value)}>
                <option value="">{t('filters.allSenders')}</option>
                {senders.map((s) => (
                  <option key={s.sender} value={s.sender}>
                    {s.sender}
                  </option>
                ))}
                {sender && !senders.some((s) => s.sender === sender) && <option value={sender}>{sender}</option>}
              </select>
            </label>
            <TextFilter
              label={t('filters.receiver')}
              name="receiver"
              placeholder={t('filters.receiverHint')}
              value={filters.receiver ?? ''}
              onChange={(v) => onChange('receiver', v)}
            />
            <TextFilter
              label={t('filters.from')}
              name="from"
              type="date"
              value={filters.from ?? ''}
              onChange={(v) => onChange('from', v)}
            />
            <TextFilter label={t('filters.to')} name="to" type="date" value={filters.to ?? ''} onChange={(v) => onChange('to', v)} />
            <TextFilter label={t('filters.tag')} name="tag" value={filters.tag ?? ''} onChange={(v) => onChange('tag', v)} />
          </div>
        )}
      </search>
    </>
  );
}

/** The sort as a menu, for the phone layout where the column headers are hidden. */
export function SortSelect({ sort, onChange }: { sort: HistorySort; onChange(sort: HistorySort): void }) {
  const { t } = useI18n();
  const options = SORT_KEYS.flatMap((key) =>
    (['desc', 'asc'] as const).map((direction) => ({ sort: { key, direction }, value: formatSort({ key, direction }) ?? 'date' })),
  );
  return (
    <label className="sort-select">
      <span>{t('history.sortBy')}</span>
      <select name="sort" value={formatSort(sort) ?? 'date'} onChange={(e) => onChange(parseSort(e.target.value))}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {t(`col.${o.sort.key}`)} — {t(o.sort.direction === 'asc' ? 'sort.asc' : 'sort.desc')}
          </option>
        ))}
      </select>
    </label>
  );
}
