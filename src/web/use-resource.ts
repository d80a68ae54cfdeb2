import { useCallback, useEffect, useState } from 'react';
import { type ApiError, api, isAbort } from './api.js';

/** A GET of the API kept in state: `data` (undefined while loading), `error`, and `reload()`. */
export function useResource<T>(path: string): { data: T | undefined; error: ApiError | null; reload(): void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [serial, setSerial] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: serial asks for a reload
  useEffect(() => {
    const abort = new AbortController();
    api.get<T>(path, undefined, abort.signal).then(
      (answer) => {
        setData(answer);
        setError(null);
      },
      (e) => {
        if (!isAbort(e)) setError(e as ApiError);
      },
    );
    return () => abort.abort();
  }, [path, serial]);
  const reload = useCallback(() => setSerial((n) => n + 1), []);
  return { data, error, reload };
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
