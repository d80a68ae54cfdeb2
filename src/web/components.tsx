import { type ReactNode, type RefObject, useEffect, useId, useRef, useState } from 'react';
import { describeError, type ErrorHints } from './errors.js';
import { useI18n } from './i18n.js';
import { Link } from './router.js';
import { copyText } from './use-resource.js';

/**
 * A secret shown once (generated password, API token), with a copy button. It is the one thing the
 * customer must not miss: shown, it is brought into view and its Copy button takes the focus.
 */
export function OnceSecret({ label, value }: { label: string; value: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!value) return;
    setCopied(false);
    // Centred: the list above may still grow by the row just created without pushing it out of view.
    box.current?.scrollIntoView?.({ block: 'center' });
    box.current?.querySelector('button')?.focus({ preventScroll: true });
  }, [value]);
  return (
    <div className="secret" role="status" ref={box}>
      <span>{label}</span>
      <code data-secret>{value}</code>
      <button type="button" onClick={() => void copyText(value).then(setCopied)}>
        {copied ? t('common.copied') : t('common.copy')}
      </button>
    </div>
  );
}

/**
 * An error as an alert, in the Manager's language (see `describeError`; `hints` are the page's own
 * sentences for some codes); `id` lets a field point at it (`aria-describedby`). Shown, it is brought
 * into view (a form's error under a long list).
 */
export function ErrorText({ error, id, hints }: { error: unknown; id?: string; hints?: ErrorHints }) {
  const { t } = useI18n();
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (error) ref.current?.scrollIntoView?.({ block: 'nearest' });
  }, [error]);
  if (!error) return null;
  const { text, detail } = describeError(error, t, hints);
  return (
    <p className="error" role="alert" id={id} ref={ref}>
      {text}
      {detail && (
        <>
          {' '}
          <span className="error-detail" lang="en">
            ({detail})
          </span>
        </>
      )}
    </p>
  );
}

/** A page of an account that is not this customer's (or no more): says so, nothing else of it. */
export function AccountNotFound({ title }: { title: string }) {
  const { t } = useI18n();
  return (
    <section className="page">
      <h1>{title}</h1>
      <p className="error" role="alert" data-error="account">
        {t('common.accountNotFound')}
      </p>
      <p>
        <Link to="/accounts">{t('nav.accounts')}</Link>
      </p>
    </section>
  );
}

/** A time from the accounts API (ISO UTC) shown in the account's timezone (`zone`; the browser's when unknown). */
export function When({ iso, zone }: { iso: string | null; zone?: string }) {
  const { lang } = useI18n();
  if (!iso) return <span className="muted">—</span>;
  const options: Intl.DateTimeFormatOptions = { dateStyle: 'short', timeStyle: 'short' };
  let text: string;
  try {
    text = new Date(iso).toLocaleString(lang === 'fr' ? 'fr-FR' : 'en-GB', zone ? { ...options, timeZone: zone } : options);
  } catch {
    text = new Date(iso).toLocaleString(lang === 'fr' ? 'fr-FR' : 'en-GB', options);
  }
  return (
    <time dateTime={iso} title={zone}>
      {text}
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
      if (opener?.isConnected && opener !== document.body && !opener.matches(':disabled')) opener.focus({ preventScroll: true });
      // The opener could not take the focus back (gone, disabled, hidden): the main content does.
      if (document.activeElement !== opener || !opener) document.getElementById('main')?.focus({ preventScroll: true });
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
  const [error, setError] = useState<unknown>(null);
  useModal(ref);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
    } catch (e) {
      setError(e ?? new Error('failed'));
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
      <ErrorText error={error} />
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
