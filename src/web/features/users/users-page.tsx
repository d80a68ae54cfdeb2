import { type FormEvent, useState } from 'react';
import { type ApiError, accountPath, api } from '../../api.js';
import { ConfirmDialog, ErrorText, OnceSecret, When } from '../../components.js';
import { useI18n } from '../../i18n.js';
import type { SmsUser } from '../../types.js';
import { useResource } from '../../use-resource.js';

function lines(text: string): string[] {
  return text
    .split(/[\n,]+/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/** SMS users: create one (its generated password shown once), see and delete them. */
export function UsersPage({ account }: { account: string }) {
  const { t, n } = useI18n();
  const path = accountPath(account, '/users');
  const users = useResource<SmsUser[]>(path);
  const [login, setLogin] = useState('');
  const [ips, setIps] = useState('');
  const [quota, setQuota] = useState('');
  const [callback, setCallback] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [created, setCreated] = useState<{ login: string; password: string } | null>(null);
  const [deleting, setDeleting] = useState<SmsUser | null>(null);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setCreated(null);
    try {
      const user = await api.post<SmsUser & { password?: string }>(path, {
        login,
        ipRestrictions: lines(ips),
        quota: quota === '' ? null : Number(quota),
        callbackUrl: callback === '' ? null : callback,
      });
      setCreated({ login: user.login, password: user.password ?? '' });
      setLogin('');
      setIps('');
      setQuota('');
      setCallback('');
      users.reload();
    } catch (e) {
      setError(e as ApiError);
    }
  };

  const remove = async (user: SmsUser) => {
    await api.delete(`${path}/${encodeURIComponent(user.login)}`);
    setDeleting(null);
    users.reload();
  };

  return (
    <section className="page">
      <h1>{t('users.title')}</h1>
      <p className="muted">{t('users.intro')}</p>
      <ErrorText error={users.error} />
      {created && <OnceSecret label={t('users.created', { login: created.login })} value={created.password} />}
      <div className="table-wrap">
        <table className="list">
          <thead>
            <tr>
              <th scope="col">{t('users.login')}</th>
              <th scope="col">{t('users.ips')}</th>
              <th scope="col">{t('users.quota')}</th>
              <th scope="col">{t('users.callback')}</th>
              <th scope="col">{t('tokens.created')}</th>
              <th scope="col">
                <span className="visually-hidden">{t('common.delete')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.data?.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  {t('users.none')}
                </td>
              </tr>
            )}
            {users.data?.map((u) => (
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
                  <When iso={u.createdAt} />
                </td>
                <td className="actions-cell">
                  <button type="button" className="danger" aria-label={`${t('common.delete')} ${u.login}`} onClick={() => setDeleting(u)}>
                    {t('common.delete')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {deleting && (
        <ConfirmDialog
          title={t('users.deleteTitle')}
          message={t('users.confirmDelete', { login: deleting.login })}
          confirmLabel={t('common.delete')}
          onCancel={() => setDeleting(null)}
          onConfirm={() => remove(deleting)}
        />
      )}
      <form className="form card" onSubmit={create}>
        <h2>{t('users.create')}</h2>
        <div className="form-row">
          <label>
            {t('users.login')}
            <input name="login" required minLength={3} maxLength={32} value={login} onChange={(e) => setLogin(e.target.value)} />
          </label>
          <label>
            {t('users.quota')}
            <input name="quota" type="number" min={0} step="any" value={quota} onChange={(e) => setQuota(e.target.value)} />
            <span className="hint">{t('users.quotaHint')}</span>
          </label>
        </div>
        <label>
          {t('users.ips')}
          <textarea name="ips" rows={2} value={ips} onChange={(e) => setIps(e.target.value)} />
          <span className="hint">{t('users.ipsHint')}</span>
        </label>
        <label>
          {t('users.callback')}
          <input
            name="callbackUrl"
            type="url"
            placeholder="https://example.com/sms-status"
            value={callback}
            onChange={(e) => setCallback(e.target.value)}
          />
        </label>
        <ErrorText error={error} />
        <div>
          <button type="submit" className="primary">
            {t('common.create')}
          </button>
        </div>
      </form>
    </section>
  );
}
