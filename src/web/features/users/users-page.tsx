import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { accountPath, api } from '../../api.js';
import { AccountNotFound, ErrorText, OnceSecret, When } from '../../components.js';
import { isAccountMissing } from '../../errors.js';
import { useI18n } from '../../i18n.js';
import { CardForm, ListTable, useListActions } from '../../list-page.js';
import { useAccountSummary } from '../../session.js';
import type { SmsUser } from '../../types.js';
import { useResource } from '../../use-resource.js';

function lines(text: string): string[] {
  return text
    .split(/[\n,]+/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The settings an SMS user's forms edit, as typed (IPs one a line, empty quota = none). */
interface SettingsInput {
  ips: string;
  quota: string;
  callback: string;
}

const noSettings: SettingsInput = { ips: '', quota: '', callback: '' };

function settingsOf(user: SmsUser): SettingsInput {
  return { ips: user.ipRestrictions.join('\n'), quota: user.quota === null ? '' : String(user.quota), callback: user.callbackUrl ?? '' };
}

function settingsBody(input: SettingsInput) {
  return {
    ipRestrictions: lines(input.ips),
    quota: input.quota === '' ? null : Number(input.quota),
    callbackUrl: input.callback === '' ? null : input.callback,
  };
}

/** Quota, IP restrictions and callback URL: the fields of the creation and the edit forms. */
function SettingsFields({ value, onChange, first }: { value: SettingsInput; onChange(v: SettingsInput): void; first?: ReactNode }) {
  const { t } = useI18n();
  const id = useId();
  return (
    <>
      <div className="form-row">
        {first}
        <div className="form-field">
          <label htmlFor={`${id}-quota`}>{t('users.quota')}</label>
          <input
            id={`${id}-quota`}
            name="quota"
            type="number"
            min={0}
            step="any"
            value={value.quota}
            onChange={(e) => onChange({ ...value, quota: e.target.value })}
            aria-describedby={`${id}-quota-hint`}
          />
          <span className="hint" id={`${id}-quota-hint`}>
            {t('users.quotaHint')}
          </span>
        </div>
      </div>
      <div className="form-field">
        <label htmlFor={`${id}-ips`}>{t('users.ips')}</label>
        <textarea
          id={`${id}-ips`}
          name="ips"
          rows={2}
          value={value.ips}
          onChange={(e) => onChange({ ...value, ips: e.target.value })}
          aria-describedby={`${id}-ips-hint`}
        />
        <span className="hint" id={`${id}-ips-hint`}>
          {t('users.ipsHint')}
        </span>
      </div>
      <label>
        {t('users.callback')}
        <input
          name="callbackUrl"
          type="url"
          placeholder="https://example.com/sms-status"
          value={value.callback}
          onChange={(e) => onChange({ ...value, callback: e.target.value })}
        />
      </label>
    </>
  );
}

/** SMS users: create one (its generated password shown once), see them, change their settings or password, delete them. */
export function UsersPage({ account }: { account: string }) {
  const { t, n } = useI18n();
  const path = accountPath(account, '/users');
  const users = useResource<SmsUser[]>(path);
  const zone = useAccountSummary(account)?.timezone;
  const { error, submit } = useListActions(users);
  const [login, setLogin] = useState('');
  /** The login of the last creation asked for (its refusal names it). */
  const [asked, setAsked] = useState('');
  const [settings, setSettings] = useState<SettingsInput>(noSettings);
  /** A password shown once: of the user just created, or changed (its label is said in the language shown). */
  const [secret, setSecret] = useState<{ label: 'users.created' | 'users.passwordChanged'; login: string; password: string } | null>(null);
  const [editing, setEditing] = useState<{ login: string; settings: SettingsInput; newPassword: boolean } | null>(null);
  const edits = useListActions(users);
  const createErrorId = useId();
  // A refusal of the login asked for (taken, or malformed) is tied to its field.
  const refusal = error as { code?: string; message?: string } | null;
  const loginRefused = refusal?.code === 'USER_EXISTS' || (refusal?.code === 'VALIDATION_FAILED' && /login/i.test(refusal.message ?? ''));
  // An edit form opened from a row far down the list: brought into view, its first field focused.
  const editForm = useRef<HTMLDivElement>(null);
  const editingLogin = editing?.login;
  useEffect(() => {
    if (!editingLogin) return;
    editForm.current?.scrollIntoView?.({ block: 'nearest' });
    editForm.current?.querySelector('input')?.focus();
  }, [editingLogin]);

  const create = submit(async () => {
    setSecret(null);
    setAsked(login);
    const user = await api.post<SmsUser & { password?: string }>(path, { login, ...settingsBody(settings) });
    setSecret({ label: 'users.created', login: user.login, password: user.password ?? '' });
    setLogin('');
    setSettings(noSettings);
  });

  const save = edits.submit(async () => {
    if (!editing) return;
    setSecret(null);
    const changed = await api.patch<SmsUser & { password?: string }>(`${path}/${encodeURIComponent(editing.login)}`, {
      ...settingsBody(editing.settings),
      ...(editing.newPassword ? { generatePassword: true } : {}),
    });
    if (changed.password) setSecret({ label: 'users.passwordChanged', login: editing.login, password: changed.password });
    setEditing(null);
  });

  if (isAccountMissing(users.error)) return <AccountNotFound title={t('users.title')} />;

  return (
    <section className="page">
      <h1>{t('users.title')}</h1>
      <p className="muted">{t('users.intro')}</p>
      <ErrorText error={users.error} />
      <ListTable
        columns={[t('users.login'), t('users.ips'), t('users.quota'), t('users.callback'), t('tokens.created')]}
        actionsLabel={t('common.actions')}
        empty={t('users.none')}
        list={users}
        row={(u, askRemove) => (
          <tr key={u.login} data-login={u.login}>
            <td data-label={t('users.login')}>
              <strong>{u.login}</strong>
            </td>
            <td data-label={t('users.ips')}>
              {u.ipRestrictions.length ? u.ipRestrictions.join(', ') : <span className="muted">{t('users.anyIp')}</span>}
            </td>
            <td data-label={t('users.quota')}>{u.quota === null ? <span className="muted">{t('users.noQuota')}</span> : n(u.quota)}</td>
            <td className="mono" data-label={t('users.callback')}>
              {u.callbackUrl ?? <span className="muted">—</span>}
            </td>
            <td data-label={t('tokens.created')}>
              <When iso={u.createdAt} zone={zone} />
            </td>
            <td className="actions-cell">
              <button
                type="button"
                aria-label={`${t('users.edit')} ${u.login}`}
                onClick={() => setEditing({ login: u.login, settings: settingsOf(u), newPassword: false })}
              >
                {t('users.edit')}
              </button>{' '}
              <button type="button" className="danger" aria-label={`${t('common.delete')} ${u.login}`} onClick={askRemove}>
                {t('common.delete')}
              </button>
            </td>
          </tr>
        )}
        confirm={(u) => ({
          title: t('users.deleteTitle'),
          message: t('users.confirmDelete', { login: u.login }),
          confirmLabel: t('common.delete'),
        })}
        remove={(u) => api.delete(`${path}/${encodeURIComponent(u.login)}`)}
      />
      {editing && (
        <div ref={editForm}>
          <CardForm
            key={editing.login}
            title={t('users.editTitle', { login: editing.login })}
            submitLabel={t('common.save')}
            onSubmit={save}
            onCancel={() => setEditing(null)}
            cancelLabel={t('common.cancel')}
          >
            <SettingsFields value={editing.settings} onChange={(v) => setEditing({ ...editing, settings: v })} />
            <label className="check">
              <input
                type="checkbox"
                name="newPassword"
                checked={editing.newPassword}
                onChange={(e) => setEditing({ ...editing, newPassword: e.target.checked })}
              />{' '}
              {t('users.newPassword')}
            </label>
            <ErrorText error={edits.error} />
          </CardForm>
        </div>
      )}
      {/* Shown once, next to the forms (not above a long list): brought into view, its Copy button focused. */}
      {secret && <OnceSecret label={t(secret.label, { login: secret.login })} value={secret.password} />}
      <CardForm title={t('users.create')} submitLabel={t('common.create')} onSubmit={create}>
        <SettingsFields
          value={settings}
          onChange={setSettings}
          first={
            <label>
              {t('users.login')}
              <input
                name="login"
                required
                minLength={3}
                value={login}
                onChange={(e) => setLogin(e.target.value)}
                aria-invalid={loginRefused ? true : undefined}
                aria-describedby={loginRefused ? createErrorId : undefined}
              />
            </label>
          }
        />
        <ErrorText error={error} id={createErrorId} hints={{ USER_EXISTS: t('users.exists', { login: asked }) }} />
      </CardForm>
    </section>
  );
}
