import { useState } from 'react';
import { accountPath, api } from '../../api.js';
import { ErrorText, OnceSecret, When } from '../../components.js';
import { useI18n } from '../../i18n.js';
import { CardForm, ListTable, useListActions } from '../../list-page.js';
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
  const { error, submit } = useListActions(users);
  const [login, setLogin] = useState('');
  const [ips, setIps] = useState('');
  const [quota, setQuota] = useState('');
  const [callback, setCallback] = useState('');
  const [created, setCreated] = useState<{ login: string; password: string } | null>(null);

  const create = submit(async () => {
    setCreated(null);
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
  });

  return (
    <section className="page">
      <h1>{t('users.title')}</h1>
      <p className="muted">{t('users.intro')}</p>
      <ErrorText error={users.error} />
      {created && <OnceSecret label={t('users.created', { login: created.login })} value={created.password} />}
      <ListTable
        columns={[t('users.login'), t('users.ips'), t('users.quota'), t('users.callback'), t('tokens.created')]}
        actionsLabel={t('common.delete')}
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
              <When iso={u.createdAt} />
            </td>
            <td className="actions-cell">
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
      <CardForm title={t('users.create')} submitLabel={t('common.create')} onSubmit={create}>
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
      </CardForm>
    </section>
  );
}
