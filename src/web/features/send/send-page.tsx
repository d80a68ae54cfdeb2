import { type FormEvent, useMemo, useState } from 'react';
import { analyzeSms, STOP_CLAUSE } from '../../../shared/sms-encoding.js';
import { type ApiError, accountPath, api } from '../../api.js';
import { ErrorText } from '../../components.js';
import { useI18n } from '../../i18n.js';
import { useCurrentAccount } from '../../layout.js';
import { Link } from '../../router.js';
import { useSession } from '../../session.js';
import type { Sender, SendReport } from '../../types.js';
import { useResource } from '../../use-resource.js';

function splitReceivers(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\n,;]+/)
        .map((r) => r.trim())
        .filter(Boolean),
    ),
  ];
}

/** Minutes from now until a `datetime-local` value (browser's clock), at least 1; undefined when empty. */
function minutesUntil(local: string): number | undefined {
  if (!local) return undefined;
  const at = new Date(local).getTime();
  if (Number.isNaN(at)) return undefined;
  return Math.max(1, Math.ceil((at - Date.now()) / 60_000));
}

/** "Send an SMS": the same sending service as the API (POST /jobs), with a live count of characters and parts. */
export function SendPage({ account }: { account: string }) {
  const { t, n } = useI18n();
  const session = useSession();
  const current = useCurrentAccount();
  // The server refuses anyway (403 ACCOUNT_DISABLED); the button says so before.
  const disabled = current.account?.status === 'disable';
  const senders = useResource<Sender[]>(accountPath(account, '/senders'));
  const enabled = (senders.data ?? []).filter((s) => s.status === 'enable');
  const [sender, setSender] = useState('');
  const [receivers, setReceivers] = useState('');
  const [message, setMessage] = useState('');
  const [stop, setStop] = useState(true);
  const [deferred, setDeferred] = useState(false);
  const [at, setAt] = useState('');
  const [tag, setTag] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [report, setReport] = useState<SendReport | null>(null);

  const analysis = useMemo(() => analyzeSms(message, { stopClause: stop ? STOP_CLAUSE : null }), [message, stop]);
  const receiverList = splitReceivers(receivers);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setReport(null);
    try {
      const answer = await api.post<SendReport>(accountPath(account, '/jobs'), {
        message,
        receivers: receiverList,
        ...(sender ? { sender } : {}),
        noStopClause: !stop,
        ...(tag ? { tag } : {}),
        ...(deferred && minutesUntil(at) ? { differedPeriod: minutesUntil(at) } : {}),
      });
      setReport(answer);
      setMessage('');
      // The header's credits come with the session: read them again now that some were spent.
      void session.refresh().catch(() => undefined);
    } catch (e) {
      setError(e as ApiError);
      // Disabled meanwhile by the operator: the frame's notice and this button follow.
      if ((e as ApiError).code === 'ACCOUNT_DISABLED') current.reload();
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page narrow">
      <h1>{t('send.title')}</h1>
      <form className="form card" onSubmit={submit}>
        <label>
          {t('send.sender')}
          <select name="sender" value={sender} onChange={(e) => setSender(e.target.value)}>
            <option value="">{t('send.senderDefault')}</option>
            {enabled.map((s) => (
              <option key={s.sender} value={s.sender}>
                {s.sender}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('send.receivers')}
          <textarea name="receivers" rows={3} required value={receivers} onChange={(e) => setReceivers(e.target.value)} />
          <span className="hint">
            {t('send.receiversHint')} — {t('send.receiversCount', { n: receiverList.length })}
          </span>
        </label>
        <label>
          {t('send.message')}
          <textarea name="message" rows={5} value={message} onChange={(e) => setMessage(e.target.value)} />
          <span className="counter" aria-live="polite" data-counter>
            <strong>
              {t('send.counter', {
                chars: n(analysis.length),
                parts: n(analysis.parts),
                encoding: analysis.encoding === 'gsm7' ? 'GSM 7-bit' : 'Unicode',
              })}
            </strong>{' '}
            · {t('send.remaining', { n: analysis.remainingInPart })}
          </span>
          {analysis.encoding === 'ucs2' && <span className="hint">{t('send.ucs2Note')}</span>}
        </label>
        <label className="check">
          <input type="checkbox" name="stop" checked={stop} onChange={(e) => setStop(e.target.checked)} />
          {t('send.stop')} <span className="muted">« {STOP_CLAUSE} »</span>
        </label>
        <div className="form-row">
          <label className="check">
            <input type="checkbox" name="deferred" checked={deferred} onChange={(e) => setDeferred(e.target.checked)} />
            {t('send.deferred')}
          </label>
          {deferred && (
            <label>
              {t('send.deferredAt')}
              <input type="datetime-local" name="at" value={at} onChange={(e) => setAt(e.target.value)} required />
            </label>
          )}
        </div>
        <label>
          {t('send.tag')}
          <input type="text" name="tag" maxLength={64} value={tag} onChange={(e) => setTag(e.target.value)} />
        </label>
        <ErrorText error={error} />
        {report && (
          <div className="notice" role="status">
            <p>
              {t('send.done', { n: report.ids.length, credits: report.totalCreditsRemoved, left: report.creditsLeft })}{' '}
              <Link to={accountPath(account, '/history')}>{t('send.seeHistory')}</Link>
            </p>
            {report.invalidReceivers.length > 0 && (
              <p className="error">{t('send.invalid', { list: report.invalidReceivers.join(', ') })}</p>
            )}
          </div>
        )}
        <div>
          <button
            type="submit"
            className="primary"
            disabled={busy || disabled || receiverList.length === 0}
            aria-describedby={disabled ? 'send-disabled' : undefined}
          >
            {busy ? t('send.busy') : t('send.submit')}
          </button>
          {disabled && (
            <>
              {' '}
              <span className="hint" id="send-disabled">
                {t('send.disabledHint')}
              </span>
            </>
          )}
        </div>
      </form>
    </section>
  );
}
