import { type FormEvent, useEffect, useState } from 'react';
import { type ApiError, accountPath, api } from '../../api.js';
import { ErrorText } from '../../components.js';
import { useI18n } from '../../i18n.js';
import { CardForm } from '../../list-page.js';
import type { Account } from '../../types.js';
import { useResource } from '../../use-resource.js';

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

  return (
    <section className="page narrow">
      <h1>{t('settings.title')}</h1>
      <ErrorText error={current.error} />
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
    </section>
  );
}
