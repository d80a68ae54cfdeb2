import { useRef } from 'react';
import { useModal } from '../../components.js';
import { describeError } from '../../errors.js';
import { useI18n } from '../../i18n.js';

export interface DeleteProgress {
  done: number;
  total: number | null;
}

export interface DeleteDialogProps {
  /** How many messages will go; null while the exact count is asked for. */
  count: number | null;
  byFilter: boolean;
  progress: DeleteProgress | null;
  /** Why the deletion failed (an ApiError, or anything thrown), said here in the language shown; null while it has not. */
  error: unknown;
  onCancel(): void;
  onConfirm(): void;
}

/** "Supprimer": asks for confirmation with the count, then shows the progress of a big deletion. */
export function DeleteDialog({ count, byFilter, progress, error, onCancel, onConfirm }: DeleteDialogProps) {
  const { t, n } = useI18n();
  const ref = useRef<HTMLDialogElement>(null);
  useModal(ref);
  const failed = error !== null && error !== undefined;
  const busy = progress !== null && !failed;
  const percent = progress?.total ? Math.min(100, Math.round((progress.done / progress.total) * 100)) : null;
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="delete-title"
      aria-describedby="delete-question"
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) onCancel();
      }}
    >
      <h2 id="delete-title">{t('delete.title')}</h2>
      {count === null ? (
        <p aria-busy="true">{t('common.loading')}</p>
      ) : (
        <p className="delete-question" id="delete-question">
          {t(byFilter ? 'delete.confirmFilter' : 'delete.confirmIds', { n: count })}
        </p>
      )}
      <p className="muted">{t('delete.pendingNote')}</p>
      {progress && (
        <div className="progress">
          <progress max={progress.total ?? undefined} value={progress.total ? progress.done : undefined} />
          <span aria-live="polite">
            {progress.total
              ? t('delete.progress', { done: n(progress.done), total: n(progress.total) })
              : t('delete.progressUnknown', { done: n(progress.done) })}
            {percent !== null && ` (${percent} %)`}
          </span>
        </div>
      )}
      {failed && (
        <p className="error" role="alert">
          {t('delete.failed', { message: describeError(error, t).text })}
        </p>
      )}
      <div className="dialog-actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          {failed ? t('common.close') : t('common.cancel')}
        </button>
        {!failed && (
          <button type="button" className="danger" onClick={onConfirm} disabled={busy || count === null} data-action="confirm-delete">
            {t('delete.confirm')}
          </button>
        )}
      </div>
    </dialog>
  );
}
