import { lazy, type ReactElement, StrictMode, Suspense, useEffect, useRef } from 'react';
import { createRoot } from 'react-dom/client';
import { accountPath } from './api.js';
import { AccountsPage } from './features/accounts/accounts-page.js';
import { SignInPage } from './features/auth/sign-in-page.js';
import { HistoryPage } from './features/history/history-page.js';
import { parseView } from './features/history/history-view.js';
import { prefetchFirstPage } from './features/history/use-history.js';
import { I18nProvider, type MessageKey, useI18n } from './i18n.js';
import { Layout } from './layout.js';
import { matchPath, navigate, useLocation } from './router.js';
import { prefetchMe, rememberAccount, rememberedAccount, SessionProvider, useSession } from './session.js';
import './styles.css';

// The history is the Manager's heart and ships in the first bundle; the other pages load on demand.
const SendPage = lazy(() => import('./features/send/send-page.js').then((m) => ({ default: m.SendPage })));
const UsersPage = lazy(() => import('./features/users/users-page.js').then((m) => ({ default: m.UsersPage })));
const SendersPage = lazy(() => import('./features/senders/senders-page.js').then((m) => ({ default: m.SendersPage })));
const TokensPage = lazy(() => import('./features/tokens/tokens-page.js').then((m) => ({ default: m.TokensPage })));
const SettingsPage = lazy(() => import('./features/accounts/settings-page.js').then((m) => ({ default: m.SettingsPage })));
const OvhKeysPage = lazy(() => import('./features/ovh/ovh-keys-page.js').then((m) => ({ default: m.OvhKeysPage })));
const OvhValidatePage = lazy(() => import('./features/ovh/ovh-validate-page.js').then((m) => ({ default: m.OvhValidatePage })));

function Loading() {
  const { t } = useI18n();
  return (
    <p className="page muted" aria-busy="true">
      {t('common.loading')}
    </p>
  );
}

/** The SMS account to offer among `names`: the remembered one, or the only one (null: let the customer choose). */
function defaultAccount(names: string[]): string | null {
  const remembered = rememberedAccount();
  return remembered && names.includes(remembered) ? remembered : names.length === 1 ? names[0] : null;
}

/** `/`: straight to the remembered account (or the only one), else the account chooser. */
function Home() {
  const { me } = useSession();
  useEffect(() => {
    if (!me) return;
    const target = defaultAccount(me.accounts.map((a) => a.name));
    navigate(target ? accountPath(target, '/history') : '/accounts', { replace: true });
  }, [me]);
  return <Loading />;
}

/** The page `page` of `account` (shown in the frame by `App`). */
function AccountPage({ account, page }: { account: string; page: string }) {
  const { t } = useI18n();
  const { me } = useSession();
  const known = me?.accounts.some((a) => a.name === account) ?? false;
  useEffect(() => {
    if (known) rememberAccount(account);
  }, [account, known]);
  // Each page is keyed by its account: switching accounts starts it afresh (no token shown once, no
  // sending report, no sender chosen, no row of the other account left on screen).
  switch (page) {
    case 'history':
      return <HistoryPage key={account} account={account} />;
    case 'send':
      return <SendPage key={account} account={account} />;
    case 'users':
      return <UsersPage key={account} account={account} />;
    case 'senders':
      return <SendersPage key={account} account={account} />;
    case 'tokens':
      return <TokensPage key={account} account={account} />;
    case 'settings':
      return <SettingsPage key={account} account={account} />;
    default:
      return <p className="page">{t('common.notFound')}</p>;
  }
}

const ACCOUNT_PAGE_TITLES: Record<string, MessageKey> = {
  history: 'history.title',
  send: 'send.title',
  users: 'users.title',
  senders: 'senders.title',
  tokens: 'tokens.title',
  settings: 'settings.title',
};

/** The heading of the page at `pathname` (null: none of its own, the product's name alone). */
function pageTitleKey(pathname: string, signedIn: boolean): MessageKey | null {
  if (!signedIn) return 'signIn.title';
  if (matchPath('/ovh/keys', pathname)) return 'ovh.title';
  if (matchPath('/ovh/validate', pathname)) return 'ovhValidate.title';
  if (matchPath('/accounts', pathname)) return 'accounts.title';
  const params = matchPath('/accounts/:account/:page', pathname);
  return params ? (ACCOUNT_PAGE_TITLES[params.page] ?? null) : null;
}

/**
 * Names the page in the document title ("<page> — Relais", said first by a screen reader and shown in
 * the tab), and on a new page (a new path, not a new query string nor the first render) moves the
 * focus to its main content, as a page load would.
 */
function usePageChange(pathname: string, signedIn: boolean | undefined): void {
  const { t } = useI18n();
  const key = signedIn === undefined ? null : pageTitleKey(pathname, signedIn);
  const title = key ? `${t(key)} — ${t('app.name')}` : t('app.name');
  useEffect(() => {
    document.title = title;
  }, [title]);
  const previous = useRef(pathname);
  useEffect(() => {
    if (previous.current === pathname) return;
    const from = previous.current;
    previous.current = pathname;
    // `/` only redirects to the first page: still the page's first load.
    if (from === '/') return;
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [pathname]);
}

function App() {
  const { t } = useI18n();
  const { me } = useSession();
  const { pathname } = useLocation();
  usePageChange(pathname, me === undefined ? undefined : me !== null);
  if (me === undefined) return <Loading />;
  // Signed out, the sign-in shows at the asked address, and the asked page once signed in (a validation link too).
  if (me === null) return <SignInPage notice={matchPath('/ovh/validate', pathname) ? t('ovhValidate.signInNotice') : undefined} />;
  if (pathname === '/') return <Home />;
  // Every signed-in page is in the one frame, kept from page to page (it reads /auth/me again when the page changes).
  let account: string | null = null;
  let content: ReactElement;
  const params = matchPath('/accounts/:account/:page', pathname);
  if (matchPath('/ovh/keys', pathname)) {
    // Customer-wide, in the frame of the account the customer came from (its pages one click away).
    account = defaultAccount(me.accounts.map((a) => a.name));
    content = <OvhKeysPage />;
  } else if (matchPath('/ovh/validate', pathname)) {
    content = <OvhValidatePage />;
  } else if (matchPath('/accounts', pathname)) {
    content = <AccountsPage />;
  } else if (params) {
    account = params.account;
    content = <AccountPage account={params.account} page={params.page} />;
  } else {
    content = <p className="page">{t('common.notFound')}</p>;
  }
  return (
    <Layout account={account}>
      <Suspense fallback={<Loading />}>{content}</Suspense>
    </Layout>
  );
}

// The session check and a history page's first rows start now, side by side, before React renders.
prefetchMe();
const opening = matchPath('/accounts/:account/history', window.location.pathname);
if (opening) prefetchFirstPage(opening.account, parseView(window.location.search));

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <I18nProvider>
      <SessionProvider>
        <App />
      </SessionProvider>
    </I18nProvider>
  </StrictMode>,
);
