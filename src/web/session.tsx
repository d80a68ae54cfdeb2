import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api, setCsrfToken, setUnauthenticatedHandler } from './api.js';
import type { AccountSummary, Me } from './types.js';

/** Who is signed in (from GET /auth/me), and the sign-in / sign-out actions. */
export interface Session {
  /** undefined while the first /auth/me is on its way; null when signed out. */
  me: Me | null | undefined;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  /**
   * Reads /auth/me again (the accounts' credits and status). When several reads overlap, the last one
   * started decides; an answer equal to the one held keeps `me` as it is (nothing renders again).
   */
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

/** True when two answers of /auth/me say the same (plain JSON: compared as text). */
function sameMe(a: Me | null | undefined, b: Me): boolean {
  return a != null && JSON.stringify(a) === JSON.stringify(b);
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  /** The number of the last read started: an older read's answer (or refusal) is no news. */
  const reads = useRef(0);

  const refresh = useCallback(async () => {
    const read = ++reads.current;
    const early = earlyMe;
    earlyMe = null;
    try {
      const answer = await (early ?? api.get<Me>('/auth/me'));
      if (read !== reads.current) return;
      setCsrfToken(answer.csrfToken);
      setMe((held) => (sameMe(held, answer) ? held : answer));
    } catch (error) {
      if (read !== reads.current) return;
      if (error instanceof ApiError && error.status === 401) {
        setCsrfToken(null);
        setMe(null);
      } else throw error;
    }
  }, []);

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      // A read of /auth/me on its way answers for a session that is gone.
      reads.current++;
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
        reads.current++;
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

/** The signed-in customer's account `name` as /auth/me lists it (its timezone, credits, status), if it is one of theirs. */
export function useAccountSummary(name: string): AccountSummary | undefined {
  const { me } = useSession();
  return me?.accounts.find((a) => a.name === name);
}
