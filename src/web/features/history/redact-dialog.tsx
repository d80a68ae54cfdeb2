import { useRef } from 'react';
import { useModal } from '../../components.js';
import { useI18n } from '../../i18n.js';

export interface RedactDialogProps {
  count: number;
  busy: boolean;
  error: string | null;
  onCancel(): void;
  onConfirm(): void;
}

/** "Effacer le contenu": asks for confirmation before erasing the texts and masking the receivers of the selection. */
export function RedactDialog({ count, busy, error, onCancel, onConfirm }: RedactDialogProps) {
  const { t } = useI18n();
  const ref = useRef<HTMLDialogElement>(null);
  useModal(ref);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="redact-title"
      aria-describedby="redact-question"
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) onCancel();
      }}
    >
      <h2 id="redact-title">{t('redact.title')}</h2>
      <p id="redact-question">{t('redact.confirmIds', { n: count })}</p>
      <p className="muted">{t('redact.note')}</p>
      {error && (
        <p className="error" role="alert">
          {t('redact.failed', { message: error })}
        </p>
      )}
      <div className="dialog-actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          {error ? t('common.close') : t('common.cancel')}
        </button>
        {!error && (
          <button type="button" className="danger" onClick={onConfirm} disabled={busy} data-action="confirm-redact">
            {t('redact.confirm')}
          </button>
        )}
      </div>
    </dialog>
  );
}
