import { accountPath } from '../../api.js';
import { useI18n } from '../../i18n.js';
import { Link } from '../../router.js';
import { rememberAccount, useSession } from '../../session.js';

/** The SMS accounts of the signed-in customer; the choice is remembered for the next visit. */
export function AccountsPage() {
  const { t } = useI18n();
  const { me } = useSession();
  const accounts = me?.accounts ?? [];
  return (
    <section className="page narrow">
      <h1>{t('accounts.title')}</h1>
      {accounts.length === 0 ? (
        <p>{t('accounts.none')}</p>
      ) : (
        <ul className="account-list">
          {accounts.map((a) => (
            <li key={a.name}>
              <Link to={accountPath(a.name, '/history')} onClick={() => rememberAccount(a.name)} className="account-card">
                <strong>{a.name}</strong>
                {a.description && <span>{a.description}</span>}
                <span className="muted">
                  {t('account.credits', { n: a.credits })} · {a.timezone}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
