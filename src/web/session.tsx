import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { ApiError, api, setCsrfToken, setUnauthenticatedHandler } from './api.js';
import type { AccountSummary, Me } from './types.js';

/** Who is signed in (from GET /auth/me), and the sign-in / sign-out actions. */
export interface Session {
  /** undefined while the first /auth/me is on its way; null when signed out. */
  me: Me | null | undefined;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  refresh(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

let earlyMe: Promise<Me> | null = null;

/** Starts the session check at once (main.tsx), before React renders. */
export function prefetchMe(): void {
  earlyMe = api.get<Me>('/auth/me');
  earlyMe.catch(() => undefined);
}
const ACCOUNT_KEY = 'relais.account';

/** The SMS account chosen last time (remembered in this browser). */
export function rememberedAccount(): string | null {
  try {
    return window.localStorage.getItem(ACCOUNT_KEY);
  } catch {
    return null;
  }
}

export function rememberAccount(account: string): void {
  try {
    window.localStorage.setItem(ACCOUNT_KEY, account);
  } catch {
    // not remembered
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  const refresh = useCallback(async () => {
    const early = earlyMe;
    earlyMe = null;
    try {
      const answer = await (early ?? api.get<Me>('/auth/me'));
      setCsrfToken(answer.csrfToken);
      setMe(answer);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        setCsrfToken(null);
        setMe(null);
      } else throw error;
    }
  }, []);

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      setCsrfToken(null);
      setMe(null);
    });
    refresh().catch(() => setMe(null));
    return () => setUnauthenticatedHandler(null);
  }, [refresh]);

  const value = useMemo<Session>(
    () => ({
      me,
      refresh,
      async signIn(email, password) {
        const answer = await api.post<{ csrfToken: string }>('/auth/sign-in', { email, password });
        setCsrfToken(answer.csrfToken);
        await refresh();
      },
      async signOut() {
        await api.post('/auth/sign-out').catch(() => undefined);
        setCsrfToken(null);
        setMe(null);
      },
    }),
    [me, refresh],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}

/** The signed-in customer's account `name` as /auth/me lists it (its timezone, credits), if it is one of theirs. */
export function useAccountSummary(name: string): AccountSummary | undefined {
  const { me } = useSession();
  return me?.accounts.find((a) => a.name === name);
}
