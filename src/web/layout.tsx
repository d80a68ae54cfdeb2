import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { accountPath } from './api.js';
import { LANGS, useI18n } from './i18n.js';
import { Link, navigate, useLocation } from './router.js';
import { rememberAccount, useSession } from './session.js';
import type { AccountSummary } from './types.js';

/** The SMS account of the page being shown, as /auth/me lists it (its status, mostly). */
export interface CurrentAccount {
  /** null off an account's pages, or when the account is none of this customer's (the page says why). */
  account: AccountSummary | null;
  /** Reads /auth/me again (e.g. after a send refused with ACCOUNT_DISABLED). */
  reload(): void;
}

const CurrentAccountContext = createContext<CurrentAccount>({ account: null, reload: () => undefined });

/** The account of the page (see `CurrentAccount`), as the frame last read it. */
export function useCurrentAccount(): CurrentAccount {
  return useContext(CurrentAccountContext);
}

/**
 * Keeps the session's /auth/me (the accounts' status and credits) as fresh as the page shown: read
 * again each time the frame shows another page (another path; a history filter, which only changes
 * the query string, is not another page), never when it first shows one (the session was just read:
 * at start-up, sign-in or the redirect of "/"). One request per page change, and the answer renders
 * nothing again when nothing changed (see `Session.refresh`): an account disabled or enabled again by
 * the operator shows as such on the next page, without a reload and without reading the account itself.
 * Between pages, what the customer does reads it too: a send refused with ACCOUNT_DISABLED (`reload`),
 * a send or a deletion (the credits).
 */
function useAccountOfPage(account: string | null, pathname: string): CurrentAccount {
  const { me, refresh } = useSession();
  const shown = useRef(pathname);
  useEffect(() => {
    if (shown.current === pathname) return;
    shown.current = pathname;
    // A failed read keeps what was read before (a 401 signs out, see api.ts).
    refresh().catch(() => undefined);
  }, [pathname, refresh]);
  const reload = useCallback(() => void refresh().catch(() => undefined), [refresh]);
  // Off the account's own pages (the OVH keys page keeps the account's frame), no account: no notice.
  const onAccountPage = account !== null && pathname.startsWith(accountPath(account, '/'));
  const summary = (onAccountPage && me?.accounts.find((a) => a.name === account)) || null;
  return useMemo(() => ({ account: summary, reload }), [summary, reload]);
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
  const details = useAccountOfPage(account, pathname);

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
