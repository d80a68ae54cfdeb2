import { useRef } from 'react';
import { useModal } from '../../components.js';
import { useI18n } from '../../i18n.js';
import type { PublicOutgoing } from '../../types.js';
import { accountDateTime } from './format.js';
import { StatusBadge } from './history-table.js';

/** Everything about one message: full text, parts, credits, user, channel, carrier id, status timeline, error. */
export function DetailPanel({ message, onClose }: { message: PublicOutgoing; onClose(): void }) {
  const { t, n, lang } = useI18n();
  const when = (iso: string | null) => (iso ? accountDateTime(iso, lang) : null);
  const timeline = [
    { label: t('detail.created'), at: message.createdAt },
    { label: t('detail.deferred'), at: message.deferredUntil },
    { label: t('status.sent'), at: message.sentAt },
    { label: t('status.delivered'), at: message.deliveredAt },
    { label: t('status.failed'), at: message.failedAt },
    { label: t('status.expired'), at: message.expiredAt },
    { label: t('status.canceled'), at: message.canceledAt },
  ].filter((step): step is { label: string; at: string } => step.at !== null);
  const field = (label: string, value: string | number | null) => (
    <>
      <dt>{label}</dt>
      <dd>{value === null || value === '' ? <span className="muted">—</span> : value}</dd>
    </>
  );
  return (
    <aside
      className="detail"
      aria-label={t('detail.title')}
      data-detail-id={message.id}
      onKeyDown={(event) => {
        if (event.key !== 'Escape' || event.defaultPrevented) return;
        event.preventDefault();
        event.stopPropagation();
        onClose();
      }}
    >
      <header className="detail-head">
        <h2>{t('detail.title')}</h2>
        <button type="button" className="icon" onClick={onClose} aria-label={t('common.close')}>
          ×
        </button>
      </header>
      <p className="detail-status">
        <StatusBadge status={message.status} /> <span className="muted">#{message.id}</span>
      </p>
      <div className="detail-message">
        {message.message === null ? (
          <span className="muted">{t('detail.redacted')}</span>
        ) : (
          <p className="message-text">{message.message}</p>
        )}
      </div>
      {message.status === 'failed' && (message.errorText || message.errorCode) && (
        <p className="error" role="note">
          <strong>{t('detail.error')} :</strong> {message.errorText ?? ''} {message.errorCode ? `(${message.errorCode})` : ''}
        </p>
      )}
      <dl className="facts">
        {field(t('detail.sender'), message.sender)}
        {field(t('detail.receiver'), message.receiver)}
        {field(t('detail.parts'), message.parts)}
        {field(t('detail.encoding'), message.encoding === 'gsm7' ? 'GSM 7-bit' : 'Unicode (UCS-2)')}
        {field(t('detail.credits'), n(message.credits))}
        {field(t('detail.tag'), message.tag)}
        {field(t('detail.user'), message.user ?? t('detail.noUser'))}
        {field(t('detail.channel'), t(`channel.${message.channel}`))}
        {field(t('detail.carrierId'), message.carrierMessageId)}
        {message.validUntil && field(t('detail.validUntil'), when(message.validUntil))}
      </dl>
      <h3>{t('detail.timeline')}</h3>
      <ol className="timeline">
        {timeline.map((step) => (
          <li key={step.label}>
            <span>{step.label}</span> <time dateTime={step.at}>{when(step.at)}</time>
          </li>
        ))}
      </ol>
    </aside>
  );
}

/** On a phone: the same details over the whole screen, as a modal (Escape or × closes, focus comes back). */
export function DetailDialog({ message, onClose }: { message: PublicOutgoing; onClose(): void }) {
  const { t } = useI18n();
  const ref = useRef<HTMLDialogElement>(null);
  useModal(ref);
  return (
    <dialog
      ref={ref}
      className="dialog detail-dialog"
      aria-label={t('detail.title')}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <DetailPanel message={message} onClose={onClose} />
    </dialog>
  );
}
