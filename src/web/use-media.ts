import { useCallback, useSyncExternalStore } from 'react';

/** Below this width the Manager is laid out for a phone (history as cards, menu button); styles.css uses the same 700px. */
export const PHONE_QUERY = '(max-width: 700px)';

/** Whether the CSS media query matches now; re-renders when it starts or stops matching. */
export function useMediaQuery(query: string): boolean {
  const subscribe = useCallback(
    (onChange: () => void) => {
      const list = window.matchMedia(query);
      list.addEventListener('change', onChange);
      return () => list.removeEventListener('change', onChange);
    },
    [query],
  );
  return useSyncExternalStore(subscribe, () => window.matchMedia(query).matches);
}
