import { type FormEvent, useEffect, useId, useState } from 'react';
import { type ApiError, accountPath, api } from '../../api.js';
import { AccountNotFound, ErrorText } from '../../components.js';
import { isAccountMissing } from '../../errors.js';
import { useI18n } from '../../i18n.js';
import { CardForm } from '../../list-page.js';
import type { Account, CreditChange } from '../../types.js';
import { useResource } from '../../use-resource.js';
import { accountDateTime } from '../history/format.js';

interface PrivacyForm {
  storeText: boolean;
  /** As typed: '' = never. */
  redactAfterDays: string;
  retentionDays: string;
}

const formOf = (account: Account): PrivacyForm => ({
  storeText: account.storeText,
  redactAfterDays: account.redactAfterDays === null ? '' : String(account.redactAfterDays),
  retentionDays: account.retentionDays === null ? '' : String(account.retentionDays),
});

/** A day limit as the API takes it: a number, or null for an empty field (never). */
const days = (typed: string): number | null => (typed.trim() === '' ? null : Number(typed));

/** The account's settings: whether texts are stored, and after how many days they are erased and messages deleted. */
export function SettingsPage({ account }: { account: string }) {
  const { t } = useI18n();
  const path = accountPath(account, '');
  const current = useResource<Account>(path);
  const [form, setForm] = useState<PrivacyForm | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (current.data) setForm(formOf(current.data));
  }, [current.data]);

  const change = (patch: Partial<PrivacyForm>) => {
    setSaved(false);
    setForm((f) => (f ? { ...f, ...patch } : f));
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!form) return;
    setError(null);
    setSaved(false);
    try {
      const answer = await api.patch<Account>(path, {
        storeText: form.storeText,
        redactAfterDays: days(form.redactAfterDays),
        retentionDays: days(form.retentionDays),
      });
      setForm(formOf(answer));
      setSaved(true);
    } catch (e) {
      setError(e as ApiError);
    }
  };

  const dayInput = (name: 'redactAfterDays' | 'retentionDays') => (
    <label>
      {t(`settings.${name}`)}
      <input
        type="number"
        name={name}
        min={1}
        max={3650}
        step={1}
        inputMode="numeric"
        value={form?.[name] ?? ''}
        onChange={(e) => change({ [name]: e.target.value })}
      />
    </label>
  );

  if (isAccountMissing(current.error)) return <AccountNotFound title={t('settings.title')} />;

  return (
    <section className="page narrow">
      <h1>{t('settings.title')}</h1>
      <ErrorText error={current.error} />
      {current.data && <AccountStatus status={current.data.status} />}
      {form && (
        <CardForm title={t('settings.privacy')} submitLabel={t('common.save')} onSubmit={(e) => void save(e)}>
          <label className="check">
            <input type="checkbox" name="storeText" checked={form.storeText} onChange={(e) => change({ storeText: e.target.checked })} />{' '}
            {t('settings.storeText')}
          </label>
          <span className="hint">{t('settings.storeTextHint')}</span>
          <div className="form-row inputs-aligned">
            {dayInput('redactAfterDays')}
            {dayInput('retentionDays')}
          </div>
          <span className="hint">{t('settings.daysHint')}</span>
          <ErrorText error={error} />
          {saved && (
            <p className="notice" role="status">
              {t('settings.saved')}
            </p>
          )}
        </CardForm>
      )}
      {current.data && <CallbackForm path={path} initial={current.data.callbackUrl} />}
      <CreditHistory account={account} />
    </section>
  );
}

/** Whether the account sends (the operator enables and disables it: `relais account update --status`). */
function AccountStatus({ status }: { status: Account['status'] }) {
  const { t } = useI18n();
  const enabled = status !== 'disable';
  return (
    <section className="card" aria-labelledby="account-status-title" data-account-status={status}>
      <h2 id="account-status-title">{t('settings.statusTitle')}</h2>
      <p className="help">
        <span className={`badge ${enabled ? 'status-delivered' : 'status-failed'}`}>
          {enabled ? t('settings.statusEnable') : t('settings.statusDisable')}
        </span>{' '}
        {enabled ? t('settings.statusEnableHint') : t('settings.statusDisableHint')}
      </p>
    </section>
  );
}

/**
 * The account's callback URL, its own form: called on every status change of the SMS sent with no SMS
 * user, or by a user with no URL of its own. Empty = none (null). The server checks it as it checks the
 * SMS users' URLs, and its refusal shows under the field.
 */
function CallbackForm({ path, initial }: { path: string; initial: string | null }) {
  const { t } = useI18n();
  const id = useId();
  const [value, setValue] = useState(initial ?? '');
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<'set' | 'cleared' | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    const url = value.trim();
    setError(null);
    setSaved(null);
    setBusy(true);
    try {
      const answer = await api.patch<Account>(path, { callbackUrl: url === '' ? null : url });
      setValue(answer.callbackUrl ?? '');
      setSaved(answer.callbackUrl === null ? 'cleared' : 'set');
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <CardForm title={t('settings.callbackTitle')} submitLabel={t('settings.callbackSave')} onSubmit={(e) => void save(e)}>
      <label>
        {t('settings.callbackUrl')}
        <input
          type="text"
          inputMode="url"
          name="callbackUrl"
          autoComplete="off"
          spellCheck={false}
          maxLength={2048}
          placeholder="https://example.com/sms-status"
          value={value}
          aria-invalid={error ? true : undefined}
          aria-describedby={`${id}-hint${error ? ` ${id}-error` : ''}`}
          onChange={(e) => {
            setValue(e.target.value);
            setSaved(null);
          }}
        />
        <span className="hint" id={`${id}-hint`}>
          {t('settings.callbackHint')}
        </span>
      </label>
      <ErrorText error={error} id={`${id}-error`} />
      {saved && (
        <p className="notice" role="status">
          {saved === 'set' ? t('settings.callbackSaved') : t('settings.callbackCleared')}
        </p>
      )}
    </CardForm>
  );
}

/** The account's credit changes (given or taken back by the operator), newest first. */
function CreditHistory({ account }: { account: string }) {
  const { t, n, lang } = useI18n();
  const changes = useResource<{ data: CreditChange[] }>(accountPath(account, '/credit-changes?limit=20'));
  return (
    <section className="card" aria-labelledby="credit-history-title">
      <h2 id="credit-history-title">{t('settings.creditsTitle')}</h2>
      <div className="table-wrap">
        <table className="list" data-list="credit-changes">
          <thead>
            <tr>
              <th scope="col">{t('settings.creditsDate')}</th>
              <th scope="col">{t('settings.creditsChange')}</th>
              <th scope="col">{t('settings.creditsBalance')}</th>
              <th scope="col">{t('settings.creditsReason')}</th>
            </tr>
          </thead>
          <tbody>
            {changes.data?.data.length === 0 && (
              <tr>
                <td colSpan={4} className="muted">
                  {t('settings.creditsNone')}
                </td>
              </tr>
            )}
            {changes.data?.data.map((c) => (
              <tr key={c.id}>
                <td>{accountDateTime(c.createdAt, lang)}</td>
                <td>{c.delta > 0 ? `+${n(c.delta)}` : n(c.delta)}</td>
                <td>{n(c.balanceAfter)}</td>
                <td>{c.reason ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
