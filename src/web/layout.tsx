import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { accountPath, api, isAbort } from './api.js';
import { LANGS, useI18n } from './i18n.js';
import { Link, navigate, useLocation } from './router.js';
import { rememberAccount, useSession } from './session.js';
import type { Account } from './types.js';

/** The SMS account of the page being shown, as GET /accounts/{account} answers it (its status, mostly). */
export interface CurrentAccount {
  /** null while loading, off an account's pages, or when it cannot be read (the page says why). */
  account: Account | null;
  /** Reads it again (e.g. after a send refused with ACCOUNT_DISABLED). */
  reload(): void;
}

const CurrentAccountContext = createContext<CurrentAccount>({ account: null, reload: () => undefined });

/** The account of the page (see `CurrentAccount`), read by the frame once per page shown. */
export function useCurrentAccount(): CurrentAccount {
  return useContext(CurrentAccountContext);
}

/**
 * Reads `account` (not in /auth/me, which has no status) each time a page of it is shown, so that an
 * account disabled or enabled again by the operator shows as such on the next page.
 */
function useAccountDetails(account: string | null, pathname: string): CurrentAccount {
  const [details, setDetails] = useState<Account | null>(null);
  const [serial, setSerial] = useState(0);
  const onAccountPage = account !== null && pathname.startsWith(accountPath(account, '/'));
  // biome-ignore lint/correctness/useExhaustiveDependencies: read again on each page and when serial asks for it
  useEffect(() => {
    if (!onAccountPage || account === null) {
      setDetails(null);
      return;
    }
    const abort = new AbortController();
    api.get<Account>(accountPath(account, ''), undefined, abort.signal).then(setDetails, (e) => {
      if (!isAbort(e)) setDetails(null);
    });
    return () => abort.abort();
  }, [account, onAccountPage, pathname, serial]);
  const reload = useCallback(() => setSerial((n) => n + 1), []);
  // Another account's answer (just switched) is not this one's.
  const shown = onAccountPage && details?.name === account ? details : null;
  return useMemo(() => ({ account: shown, reload }), [shown, reload]);
}

/** The operator disabled the account: nothing is sent (shown above every page of the account). */
export function DisabledAccountNotice() {
  const { t } = useI18n();
  return (
    <p className="warning" role="alert" data-notice="account-disabled" style={{ marginBottom: '1rem' }}>
      <span aria-hidden="true">⚠</span> {t('account.disabled')}
    </p>
  );
}

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
  { path: '/settings', label: 'nav.settings' },
] as const;

/** The frame of every signed-in page: the account, the navigation, the language and sign-out. */
export function Layout({ account, children }: { account: string | null; children: ReactNode }) {
  const { t } = useI18n();
  const { me, signOut } = useSession();
  const { pathname } = useLocation();
  const accounts = me?.accounts ?? [];
  const current = accounts.find((a) => a.name === account);
  const details = useAccountDetails(account, pathname);

  const switchAccount = (name: string) => {
    rememberAccount(name);
    const page = PAGES.find((p) => pathname.endsWith(p.path))?.path ?? '/history';
    navigate(accountPath(name, page));
  };

  // On a phone the navigation, the language and sign-out sit behind a "Menu" button; it closes on navigation.
  const [menuOpen, setMenuOpen] = useState(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: closes when the page changes
  useEffect(() => setMenuOpen(false), [pathname]);
  useEffect(() => {
    if (!menuOpen) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      setMenuOpen(false);
      document.getElementById('menu-toggle')?.focus();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [menuOpen]);

  const ovhActive = pathname === '/ovh/keys';
  const tools = (
    <>
      <Link
        to="/ovh/keys"
        className={`topbar-link${ovhActive ? ' active' : ''}`}
        aria-current={ovhActive ? 'page' : undefined}
        title={t('nav.ovhTitle')}
        data-nav="ovh"
      >
        {t('nav.ovh')}
      </Link>
      <LangSwitch />
      <span className="who muted" title={me?.customer.email}>
        {me?.customer.email}
      </span>
      <button
        type="button"
        className="link"
        // On a consumer key's validation link, stay there: the page asks to sign in again (as another customer, say).
        onClick={() =>
          void signOut().then(() =>
            navigate(window.location.pathname === '/ovh/validate' ? window.location.pathname + window.location.search : '/'),
          )
        }
      >
        {t('nav.signOut')}
      </button>
    </>
  );

  return (
    <div className={`app${menuOpen ? ' menu-open' : ''}`}>
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
        {current && <span className="credits muted wide-only">{t('account.credits', { n: current.credits })}</span>}
        <span className="spacer" />
        <div className="topbar-tools wide-only">{tools}</div>
        <button
          type="button"
          id="menu-toggle"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="site-menu"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          <span aria-hidden="true">{menuOpen ? '✕' : '☰'}</span> {t('nav.openMenu')}
        </button>
      </header>
      <div id="site-menu" className="site-menu">
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
        <div className="menu-tools">
          {current && <span className="credits muted">{t('account.credits', { n: current.credits })}</span>}
          {tools}
        </div>
      </div>
      <main id="main" className="main" tabIndex={-1} data-account-status={details.account?.status}>
        {details.account?.status === 'disable' && <DisabledAccountNotice />}
        <CurrentAccountContext.Provider value={details}>{children}</CurrentAccountContext.Provider>
      </main>
    </div>
  );
}
