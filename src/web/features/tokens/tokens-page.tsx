import { useState } from 'react';
import { accountPath, api } from '../../api.js';
import { AccountNotFound, ErrorText, OnceSecret, When } from '../../components.js';
import { isAccountMissing } from '../../errors.js';
import { useI18n } from '../../i18n.js';
import { CardForm, ListTable, useListActions } from '../../list-page.js';
import { useAccountSummary } from '../../session.js';
import type { ApiToken, SmsUser } from '../../types.js';
import { useResource } from '../../use-resource.js';

/** API tokens of the account (or of one SMS user): create (shown once), revoke. */
export function TokensPage({ account }: { account: string }) {
  const { t } = useI18n();
  const path = accountPath(account, '/tokens');
  const tokens = useResource<ApiToken[]>(path);
  const users = useResource<SmsUser[]>(accountPath(account, '/users'));
  const zone = useAccountSummary(account)?.timezone;
  const { error, submit } = useListActions(tokens);
  const [name, setName] = useState('');
  const [user, setUser] = useState('');
  const [shown, setShown] = useState<string | null>(null);

  const create = submit(async () => {
    const answer = await api.post<ApiToken & { token: string }>(path, { name, ...(user ? { user } : {}) });
    setShown(answer.token);
    setName('');
  });

  if (isAccountMissing(tokens.error)) return <AccountNotFound title={t('tokens.title')} />;

  return (
    <section className="page">
      <h1>{t('tokens.title')}</h1>
      <p className="muted">{t('tokens.intro')}</p>
      <ErrorText error={tokens.error} />
      <ListTable
        columns={[t('tokens.name'), t('tokens.user'), t('tokens.created'), t('tokens.lastUsed'), t('senders.status')]}
        actionsLabel={t('tokens.revoke')}
        empty={t('tokens.none')}
        list={tokens}
        row={(token, askRemove) => (
          <tr key={token.id}>
            <td data-label={t('tokens.name')}>{token.name || <span className="muted">#{token.id}</span>}</td>
            <td data-label={t('tokens.user')}>{token.user ?? <span className="muted">{t('tokens.wholeAccount')}</span>}</td>
            <td data-label={t('tokens.created')}>
              <When iso={token.createdAt} zone={zone} />
            </td>
            <td data-label={t('tokens.lastUsed')}>
              <When iso={token.lastUsedAt} zone={zone} />
            </td>
            <td data-label={t('senders.status')}>{token.revokedAt ? t('tokens.revoked') : t('tokens.active')}</td>
            <td className="actions-cell">
              {!token.revokedAt && (
                <button
                  type="button"
                  className="danger"
                  aria-label={`${t('tokens.revoke')} ${token.name || `#${token.id}`}`}
                  onClick={askRemove}
                >
                  {t('tokens.revoke')}
                </button>
              )}
            </td>
          </tr>
        )}
        confirm={(token) => ({
          title: t('tokens.revokeTitle'),
          message: t('tokens.confirmRevoke', { name: token.name || `#${token.id}` }),
          confirmLabel: t('tokens.revoke'),
        })}
        remove={(token) => api.delete(`${path}/${token.id}`)}
      />
      {/* Shown once, next to the form (not above a long list): brought into view, its Copy button focused. */}
      {shown && <OnceSecret label={t('tokens.shown')} value={shown} />}
      <CardForm title={t('tokens.create')} submitLabel={t('tokens.create')} onSubmit={create}>
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
        <ErrorText error={error} />
      </CardForm>
    </section>
  );
}
