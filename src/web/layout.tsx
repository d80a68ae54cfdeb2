import type { ReactNode } from 'react';
import { accountPath } from './api.js';
import { LANGS, useI18n } from './i18n.js';
import { Link, navigate, useLocation } from './router.js';
import { rememberAccount, useSession } from './session.js';

/** FR | EN: switches the Manager's language (remembered). */
export function LangSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <fieldset className="lang-switch">
      <legend className="visually-hidden">{t('lang.switch')}</legend>
      {LANGS.map((l) => (
        <button
          key={l}
          type="button"
          lang={l}
          aria-pressed={lang === l}
          className={lang === l ? 'active' : ''}
          onClick={() => setLang(l)}
          data-lang={l}
        >
          {l.toUpperCase()}
        </button>
      ))}
    </fieldset>
  );
}

const PAGES = [
  { path: '/history', label: 'nav.history' },
  { path: '/send', label: 'nav.send' },
  { path: '/users', label: 'nav.users' },
  { path: '/senders', label: 'nav.senders' },
  { path: '/tokens', label: 'nav.tokens' },
] as const;

/** The frame of every signed-in page: the account, the navigation, the language and sign-out. */
export function Layout({ account, children }: { account: string | null; children: ReactNode }) {
  const { t } = useI18n();
  const { me, signOut } = useSession();
  const { pathname } = useLocation();
  const accounts = me?.accounts ?? [];
  const current = accounts.find((a) => a.name === account);

  const switchAccount = (name: string) => {
    rememberAccount(name);
    const page = PAGES.find((p) => pathname.endsWith(p.path))?.path ?? '/history';
    navigate(accountPath(name, page));
  };

  return (
    <div className="app">
      <a className="skip" href="#main">
        {t('app.skip')}
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>{' '}
          {t('app.name')}
        </Link>
        {account && accounts.length > 0 && (
          <label className="account-select">
            <span className="visually-hidden">{t('nav.account')}</span>
            <select value={account} onChange={(e) => switchAccount(e.target.value)}>
              {!current && <option value={account}>{account}</option>}
              {accounts.map((a) => (
                <option key={a.name} value={a.name}>
                  {a.name}
                </option>
              ))}
            </select>
          </label>
        )}
        {current && <span className="credits muted">{t('account.credits', { n: current.credits })}</span>}
        <span className="spacer" />
        <LangSwitch />
        <span className="who muted" title={me?.customer.email}>
          {me?.customer.email}
        </span>
        <button type="button" className="link" onClick={() => void signOut().then(() => navigate('/'))}>
          {t('nav.signOut')}
        </button>
      </header>
      {account && (
        <nav className="tabs" aria-label={t('nav.menu')}>
          {PAGES.map((p) => {
            const to = accountPath(account, p.path);
            const active = pathname === to;
            return (
              <Link key={p.path} to={to} aria-current={active ? 'page' : undefined} className={active ? 'active' : ''}>
                {t(p.label)}
              </Link>
            );
          })}
        </nav>
      )}
      <main id="main" className="main">
        {children}
      </main>
    </div>
  );
}
