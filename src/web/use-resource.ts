import { useCallback, useEffect, useState } from 'react';
import { type ApiError, api, isAbort } from './api.js';

/**
 * A GET of the API kept in state: `data` (undefined while loading), `error`, and `reload()`. What was
 * read is kept with its path: another path (another account) shows nothing until its own answer, never
 * the previous one's rows; a reload of the same path keeps the rows shown meanwhile.
 */
export function useResource<T>(path: string): { data: T | undefined; error: ApiError | null; reload(): void } {
  const [state, setState] = useState<{ path: string; data: T | undefined; error: ApiError | null }>({
    path,
    data: undefined,
    error: null,
  });
  const [serial, setSerial] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: serial asks for a reload
  useEffect(() => {
    const abort = new AbortController();
    api.get<T>(path, undefined, abort.signal).then(
      (answer) => setState({ path, data: answer, error: null }),
      (e) => {
        if (!isAbort(e)) setState((s) => ({ path, data: s.path === path ? s.data : undefined, error: e as ApiError }));
      },
    );
    return () => abort.abort();
  }, [path, serial]);
  const reload = useCallback(() => setSerial((n) => n + 1), []);
  const current = state.path === path;
  return { data: current ? state.data : undefined, error: current ? state.error : null, reload };
}

/** Copies text to the clipboard; answers whether it worked. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
