import { type FormEvent, useId, useMemo, useRef, useState } from 'react';
import { analyzeSms, STOP_CLAUSE } from '../../../shared/sms-encoding.js';
import { type ApiError, accountPath, api } from '../../api.js';
import { AccountNotFound, ErrorText } from '../../components.js';
import { isAccountMissing } from '../../errors.js';
import { type Lang, useI18n } from '../../i18n.js';
import { useCurrentAccount } from '../../layout.js';
import { Link } from '../../router.js';
import { useAccountSummary, useSession } from '../../session.js';
import type { Sender, SendReport } from '../../types.js';
import { useResource } from '../../use-resource.js';
import { zonedLocal, zonedTime } from '../../zoned-time.js';
import { accountDate } from '../history/format.js';

/** The server's limit on `differedPeriod` (minutes): a year. */
const MAX_DEFERRAL_MINUTES = 525_600;

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

/** The browser's own timezone: only when the account's is unknown (it never is for an account of the session). */
function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

type DeferralProblem = 'missing' | 'past' | 'gap' | 'tooFar';
type Deferral = { minutes: number } | { problem: DeferralProblem };

/**
 * Minutes from `now` until the `datetime-local` value `local`, read as the wall-clock time of the
 * ACCOUNT's timezone (as http2sms and mail2sms read a deferred time), at least 1; or why it cannot be.
 */
export function deferralOf(local: string, timeZone: string, now: number): Deferral {
  if (!local) return { problem: 'missing' };
  const read = zonedTime(local, timeZone);
  if (read.kind === 'invalid') return { problem: 'missing' };
  if (read.kind === 'gap') return { problem: 'gap' };
  // Within the current minute is "now"; before it, past.
  if (read.at <= now - 60_000) return { problem: 'past' };
  const minutes = Math.max(1, Math.ceil((read.at - now) / 60_000));
  return minutes > MAX_DEFERRAL_MINUTES ? { problem: 'tooFar' } : { minutes };
}

function deferralProblem(problem: DeferralProblem, local: string, zone: string, lang: Lang, t: ReturnType<typeof useI18n>['t']): string {
  const params = { date: accountDate(local, lang), time: local.slice(11, 16), zone };
  switch (problem) {
    case 'missing':
      return t('send.timeMissing');
    case 'past':
      return t('send.timePast', params);
    case 'gap':
      return t('send.timeGap', params);
    case 'tooFar':
      return t('send.timeTooFar');
  }
}

/** "Send an SMS": the same sending service as the API (POST /jobs), with a live count of characters and parts. */
export function SendPage({ account }: { account: string }) {
  const { t, n, lang } = useI18n();
  const session = useSession();
  const current = useCurrentAccount();
  const summary = useAccountSummary(account);
  const zone = summary?.timezone ?? browserZone();
  // This server's own STOP mention (RELAIS_STOP_CLAUSE), counted and shown as it will be appended.
  const stopClause = session.me?.stopClause || STOP_CLAUSE;
  // The server refuses anyway (403 ACCOUNT_DISABLED); the button says so before.
  const disabled = current.account?.status === 'disable';
  const senders = useResource<Sender[]>(accountPath(account, '/senders'));
  const enabled = (senders.data ?? []).filter((s) => s.status === 'enable');
  const noSender = senders.data !== undefined && enabled.length === 0;
  const [picked, setPicked] = useState('');
  // A sender is required (the server has no "default sender"): the one picked, else the first enabled one.
  const sender = enabled.some((s) => s.sender === picked) ? picked : (enabled[0]?.sender ?? '');
  const [receivers, setReceivers] = useState('');
  const [message, setMessage] = useState('');
  const [stop, setStop] = useState(true);
  const [deferred, setDeferred] = useState(false);
  const [at, setAt] = useState('');
  const [tag, setTag] = useState('');
  const [busy, setBusy] = useState(false);
  const sending = useRef(false);
  const [error, setError] = useState<ApiError | null>(null);
  /** The deferred time refused before sending (said in the language shown, whenever it changes). */
  const [formError, setFormError] = useState<{ problem: DeferralProblem; local: string; zone: string } | null>(null);
  /** What the refused job was sent with (the error's sentence names them). */
  const [sent, setSent] = useState<{ sender: string; receivers: string[] }>({ sender: '', receivers: [] });
  const [report, setReport] = useState<SendReport | null>(null);
  const id = useId();
  const receiversRefused = error?.code === 'INVALID_RECEIVER';

  const analysis = useMemo(() => analyzeSms(message, { stopClause: stop ? stopClause : null }), [message, stop, stopClause]);
  const receiverList = splitReceivers(receivers);
  const blocked = disabled || receiverList.length === 0;

  if (isAccountMissing(senders.error)) return <AccountNotFound title={t('send.title')} />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    // The button is never disabled under the focus (aria-disabled): a submit while sending or blocked does nothing.
    if (sending.current || blocked) return;
    setError(null);
    setFormError(null);
    let differedPeriod: number | undefined;
    if (deferred) {
      const deferral = deferralOf(at, zone, Date.now());
      if ('problem' in deferral) {
        setFormError({ problem: deferral.problem, local: at, zone });
        return;
      }
      differedPeriod = deferral.minutes;
    }
    sending.current = true;
    setBusy(true);
    setReport(null);
    setSent({ sender, receivers: receiverList });
    try {
      const answer = await api.post<SendReport>(accountPath(account, '/jobs'), {
        message,
        receivers: receiverList,
        ...(sender ? { sender } : {}),
        noStopClause: !stop,
        ...(tag ? { tag } : {}),
        ...(differedPeriod !== undefined ? { differedPeriod } : {}),
      });
      setReport(answer);
      if (answer.invalidReceivers.length > 0) {
        // Sent to the valid ones: only the refused ones stay, to be corrected (sending again never repeats a sending).
        setReceivers(answer.invalidReceivers.join('\n'));
      } else {
        setMessage('');
      }
      // The header's credits come with the session: read them again now that some were spent.
      void session.refresh().catch(() => undefined);
    } catch (e) {
      setError(e as ApiError);
      // Disabled meanwhile by the operator: the frame's notice and this button follow.
      if ((e as ApiError).code === 'ACCOUNT_DISABLED') current.reload();
      // A sender disabled meanwhile: read them again.
      if ((e as ApiError).code === 'INVALID_SENDER') senders.reload();
    } finally {
      sending.current = false;
      setBusy(false);
    }
  };

  const describedBy = disabled ? 'send-disabled' : noSender ? `${id}-no-sender` : undefined;

  return (
    <section className="page narrow">
      <h1>{t('send.title')}</h1>
      <form className="form card" onSubmit={submit}>
        <div className="form-field">
          {noSender ? <span className="field-label">{t('send.sender')}</span> : <label htmlFor={`${id}-sender`}>{t('send.sender')}</label>}
          {noSender ? (
            <p className="warning" id={`${id}-no-sender`} data-notice="no-sender">
              {t('send.noSender')} <Link to={accountPath(account, '/senders')}>{t('send.noSenderLink')}</Link>
            </p>
          ) : (
            <select id={`${id}-sender`} name="sender" value={sender} onChange={(e) => setPicked(e.target.value)}>
              {enabled.map((s) => (
                <option key={s.sender} value={s.sender}>
                  {s.sender}
                </option>
              ))}
            </select>
          )}
        </div>
        <div className="form-field">
          <label htmlFor={`${id}-receivers`}>{t('send.receivers')}</label>
          <textarea
            id={`${id}-receivers`}
            name="receivers"
            rows={3}
            required
            value={receivers}
            onChange={(e) => setReceivers(e.target.value)}
            aria-describedby={`${id}-receivers-hint${receiversRefused ? ` ${id}-error` : ''}`}
            aria-invalid={receiversRefused ? true : undefined}
          />
          <span className="hint" id={`${id}-receivers-hint`}>
            {t('send.receiversHint')} — {t('send.receiversCount', { n: receiverList.length })}
          </span>
        </div>
        <div className="form-field">
          <label htmlFor={`${id}-message`}>{t('send.message')}</label>
          <textarea
            id={`${id}-message`}
            name="message"
            rows={5}
            value={message}
            onChange={(e) => setMessage(e.target.value)}
            aria-describedby={`${id}-counter${analysis.encoding === 'ucs2' ? ` ${id}-ucs2` : ''}`}
          />
          <span className="counter" aria-live="polite" data-counter id={`${id}-counter`}>
            <strong>
              {t('send.counter', {
                chars: n(analysis.length),
                parts: n(analysis.parts),
                encoding: analysis.encoding === 'gsm7' ? 'GSM 7-bit' : 'Unicode',
              })}
            </strong>{' '}
            · {t('send.remaining', { n: analysis.remainingInPart })}
          </span>
          {analysis.encoding === 'ucs2' && (
            <span className="hint" id={`${id}-ucs2`}>
              {t('send.ucs2Note')}
            </span>
          )}
        </div>
        <label className="check">
          <input type="checkbox" name="stop" checked={stop} onChange={(e) => setStop(e.target.checked)} />
          {t('send.stop')} <span className="muted">« {stopClause} »</span>
        </label>
        <div className="form-row">
          <label className="check">
            <input
              type="checkbox"
              name="deferred"
              checked={deferred}
              onChange={(e) => {
                setDeferred(e.target.checked);
                // Offered: the next full hour, on the account's clock.
                if (e.target.checked && !at) setAt(zonedLocal(Math.ceil((Date.now() + 60_000) / 3_600_000) * 3_600_000, zone));
              }}
            />
            {t('send.deferred')}
          </label>
          {deferred && (
            <div className="form-field">
              <label htmlFor={`${id}-at`}>{t('send.deferredAt')}</label>
              <input
                id={`${id}-at`}
                type="datetime-local"
                name="at"
                value={at}
                onChange={(e) => setAt(e.target.value)}
                required
                aria-describedby={`${id}-zone${formError ? ` ${id}-at-error` : ''}`}
                aria-invalid={formError ? true : undefined}
              />
              <span className="hint" id={`${id}-zone`} data-zone={zone}>
                {t('send.zone', { zone })}
              </span>
            </div>
          )}
        </div>
        <div className="form-field">
          <label htmlFor={`${id}-tag`}>{t('send.tag')}</label>
          <input id={`${id}-tag`} type="text" name="tag" maxLength={64} value={tag} onChange={(e) => setTag(e.target.value)} />
        </div>
        {formError && (
          <p className="error" role="alert" id={`${id}-at-error`}>
            {deferralProblem(formError.problem, formError.local, formError.zone, lang, t)}
          </p>
        )}
        <ErrorText
          error={error}
          id={`${id}-error`}
          hints={{
            INVALID_SENDER: sent.sender ? t('send.senderRefused', { sender: sent.sender }) : t('send.noSenderError'),
            INVALID_RECEIVER: sent.receivers.length ? t('send.noValidReceiver', { list: sent.receivers.join(', ') }) : undefined,
          }}
        />
        {report && (
          <div className="notice" role="status">
            <p>
              {t('send.done', { n: report.ids.length, credits: report.totalCreditsRemoved, left: report.creditsLeft })}{' '}
              <Link to={accountPath(account, '/history')}>{t('send.seeHistory')}</Link>
            </p>
            {report.invalidReceivers.length > 0 && (
              <p className="error">
                {t('send.invalid', { list: report.invalidReceivers.join(', ') })}. {t('send.invalidKept')}
              </p>
            )}
          </div>
        )}
        <div>
          <button
            type="submit"
            className="primary"
            // Never `disabled`: a disabled button loses the focus (sent with the keyboard, the focus would fall to the page).
            aria-disabled={blocked || busy ? true : undefined}
            aria-describedby={describedBy}
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
