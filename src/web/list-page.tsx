import { type FormEvent, type ReactNode, useLayoutEffect, useRef, useState } from 'react';
import type { ApiError } from './api.js';
import { ConfirmDialog } from './components.js';

/** A list read from the API, as `useResource` keeps it. */
export interface ListResource<T> {
  data: T[] | undefined;
  reload(): void;
}

/**
 * The actions of a list page (add, enable…): `act(work)` clears the last error, runs `work` and then
 * reloads `list`; a failure is kept in `error`. `submit(work)` is a form's `onSubmit` doing the same.
 */
export function useListActions(list: { reload(): void }) {
  const [error, setError] = useState<ApiError | null>(null);
  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      list.reload();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  const submit = (work: () => Promise<unknown>) => (event: FormEvent) => {
    event.preventDefault();
    void act(work);
  };
  return { error, act, submit };
}

export interface ListTableProps<T> {
  /** Column headings; an actions column, its heading `actionsLabel` for screen readers only, follows them. */
  columns: string[];
  actionsLabel: string;
  /** The one row shown when the list is empty. */
  empty: string;
  list: ListResource<T>;
  /** One `<tr>` (with its key); `askRemove()` opens the confirmation for that item. */
  row(item: T, askRemove: () => void): ReactNode;
  /** The confirmation's texts for `item`. */
  confirm(item: T): { title: string; message: string; confirmLabel: string };
  /** Removes `item` on the server once confirmed (a rejection is shown in the dialog); the list reloads after. */
  remove(item: T): Promise<unknown>;
}

/** The table of a list page (senders, SMS users, API tokens) and the confirmation before removing a row. */
export function ListTable<T>({ columns, actionsLabel, empty, list, row, confirm, remove }: ListTableProps<T>) {
  const [removing, setRemoving] = useState<T | null>(null);
  // The row just removed took its button (which had the focus back from the dialog) with it once the
  // list is read again: the focus goes to the main content rather than falling to the document.
  const afterRemove = useRef(false);
  useLayoutEffect(() => {
    if (!afterRemove.current || !list.data) return;
    afterRemove.current = false;
    const focused = document.activeElement;
    if (!focused || focused === document.body || !focused.isConnected) document.getElementById('main')?.focus({ preventScroll: true });
  }, [list.data]);
  return (
    <>
      <div className="table-wrap">
        <table className="list">
          <thead>
            <tr>
              {columns.map((column) => (
                <th key={column} scope="col">
                  {column}
                </th>
              ))}
              <th scope="col">
                <span className="visually-hidden">{actionsLabel}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data?.length === 0 && (
              <tr>
                <td colSpan={columns.length + 1} className="muted">
                  {empty}
                </td>
              </tr>
            )}
            {list.data?.map((item) => row(item, () => setRemoving(item)))}
          </tbody>
        </table>
      </div>
      {removing !== null && (
        <ConfirmDialog
          {...confirm(removing)}
          onCancel={() => setRemoving(null)}
          onConfirm={async () => {
            await remove(removing);
            afterRemove.current = true;
            setRemoving(null);
            list.reload();
          }}
        />
      )}
    </>
  );
}

/** The creation form of a list page, as a card: a heading, the fields, then the submit button. */
export function CardForm({
  title,
  submitLabel,
  onSubmit,
  onCancel,
  cancelLabel,
  children,
}: {
  title: string;
  submitLabel: string;
  onSubmit(event: FormEvent): void;
  /** A cancel button beside the submit one (an edit form). */
  onCancel?(): void;
  cancelLabel?: string;
  children: ReactNode;
}) {
  return (
    <form className="form card" onSubmit={onSubmit} aria-label={title}>
      <h2>{title}</h2>
      {children}
      <div className="form-actions">
        <button type="submit" className="primary">
          {submitLabel}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            {cancelLabel}
          </button>
        )}
      </div>
    </form>
  );
}
