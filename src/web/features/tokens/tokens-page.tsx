import { type FormEvent, useState } from 'react';
import { type ApiError, accountPath, api } from '../../api.js';
import { ConfirmDialog, ErrorText, OnceSecret, When } from '../../components.js';
import { useI18n } from '../../i18n.js';
import type { ApiToken, SmsUser } from '../../types.js';
import { useResource } from '../../use-resource.js';

/** API tokens of the account (or of one SMS user): create (shown once), revoke. */
export function TokensPage({ account }: { account: string }) {
  const { t } = useI18n();
  const path = accountPath(account, '/tokens');
  const tokens = useResource<ApiToken[]>(path);
  const users = useResource<SmsUser[]>(accountPath(account, '/users'));
  const [name, setName] = useState('');
  const [user, setUser] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [shown, setShown] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const answer = await api.post<ApiToken & { token: string }>(path, { name, ...(user ? { user } : {}) });
      setShown(answer.token);
      setName('');
      tokens.reload();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  const revoke = async (token: ApiToken) => {
    await api.delete(`${path}/${token.id}`);
    setRevoking(null);
    tokens.reload();
  };

  return (
    <section className="page">
      <h1>{t('tokens.title')}</h1>
      <p className="muted">{t('tokens.intro')}</p>
      <ErrorText error={tokens.error ?? error} />
      {shown && <OnceSecret label={t('tokens.shown')} value={shown} />}
      <div className="table-wrap">
        <table className="list">
          <thead>
            <tr>
              <th scope="col">{t('tokens.name')}</th>
              <th scope="col">{t('tokens.user')}</th>
              <th scope="col">{t('tokens.created')}</th>
              <th scope="col">{t('tokens.lastUsed')}</th>
              <th scope="col">{t('senders.status')}</th>
              <th scope="col">
                <span className="visually-hidden">{t('tokens.revoke')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.data?.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  {t('tokens.none')}
                </td>
              </tr>
            )}
            {tokens.data?.map((token) => (
              <tr key={token.id}>
                <td data-label={t('tokens.name')}>{token.name || <span className="muted">#{token.id}</span>}</td>
                <td data-label={t('tokens.user')}>{token.user ?? <span className="muted">{t('tokens.wholeAccount')}</span>}</td>
                <td data-label={t('tokens.created')}>
                  <When iso={token.createdAt} />
                </td>
                <td data-label={t('tokens.lastUsed')}>
                  <When iso={token.lastUsedAt} />
                </td>
                <td data-label={t('senders.status')}>{token.revokedAt ? t('tokens.revoked') : t('tokens.active')}</td>
                <td className="actions-cell">
                  {!token.revokedAt && (
                    <button
                      type="button"
                      className="danger"
                      aria-label={`${t('tokens.revoke')} ${token.name || `#${token.id}`}`}
                      onClick={() => setRevoking(token)}
                    >
                      {t('tokens.revoke')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {revoking && (
        <ConfirmDialog
          title={t('tokens.revokeTitle')}
          message={t('tokens.confirmRevoke', { name: revoking.name || `#${revoking.id}` })}
          confirmLabel={t('tokens.revoke')}
          onCancel={() => setRevoking(null)}
          onConfirm={() => revoke(revoking)}
        />
      )}
      <form className="form card" onSubmit={create}>
        <h2>{t('tokens.create')}</h2>
        <div className="form-row">
          <label>
            {t('tokens.name')}
            <input name="name" maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            {t('tokens.user')}
            <select name="user" value={user} onChange={(e) => setUser(e.target.value)}>
              <option value="">{t('tokens.wholeAccount')}</option>
              {users.data?.map((u) => (
                <option key={u.login} value={u.login}>
                  {u.login}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div>
          <button type="submit" className="primary">
            {t('tokens.create')}
          </button>
        </div>
      </form>
    </section>
  );
}
