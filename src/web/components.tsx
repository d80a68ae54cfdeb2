import { type ReactNode, type RefObject, useEffect, useId, useRef, useState } from 'react';
import { useI18n } from './i18n.js';
import { copyText } from './use-resource.js';

/** A secret shown once (generated password, API token), with a copy button. */
export function OnceSecret({ label, value }: { label: string; value: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <div className="secret" role="status">
      <span>{label}</span>
      <code data-secret>{value}</code>
      <button type="button" onClick={() => void copyText(value).then(setCopied)}>
        {copied ? t('common.copied') : t('common.copy')}
      </button>
    </div>
  );
}

/** An error as an alert; `id` lets a field point at it (`aria-describedby`). */
export function ErrorText({ error, id }: { error: { message: string } | null; id?: string }) {
  const { t } = useI18n();
  if (!error) return null;
  return (
    <p className="error" role="alert" id={id}>
      {t('common.error', { message: error.message })}
    </p>
  );
}

/** A time from the accounts API (ISO UTC) shown in the browser's locale. */
export function When({ iso }: { iso: string | null }) {
  const { lang } = useI18n();
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso}>
      {new Date(iso).toLocaleString(lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' })}
    </time>
  );
}

/**
 * Opens `ref`'s `<dialog>` as a modal while the component is mounted: the rest of the page is inert,
 * focus stays inside, and on close it returns to the element that had it (or to the main content
 * when that element is gone, e.g. the row just deleted).
 */
export function useModal(ref: RefObject<HTMLDialogElement | null>): void {
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      dialog?.close();
      const target = opener?.isConnected && opener !== document.body ? opener : document.getElementById('main');
      target?.focus({ preventScroll: true });
    };
  }, [ref]);
}

export interface ConfirmDialogProps {
  title: string;
  message: ReactNode;
  confirmLabel: string;
  /** Does the work; a rejection is shown in the dialog, which stays open. */
  onConfirm(): Promise<unknown>;
  /** Closes without doing anything (Cancel, Escape). */
  onCancel(): void;
}

/** The Manager's confirmation (instead of `window.confirm`): a modal dialog, Cancel focused first, Escape cancels. */
export function ConfirmDialog({ title, message, confirmLabel, onConfirm, onCancel }: ConfirmDialogProps) {
  const { t } = useI18n();
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useModal(ref);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  };
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-text`}
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) onCancel();
      }}
    >
      <h2 id={`${id}-title`}>{title}</h2>
      <p id={`${id}-text`}>{message}</p>
      {error && (
        <p className="error" role="alert">
          {t('common.error', { message: error })}
        </p>
      )}
      <div className="dialog-actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          {t('common.cancel')}
        </button>
        <button type="button" className="danger" onClick={() => void confirm()} disabled={busy} data-action="confirm">
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
