/**
 * A loop's pause that another party can cut short: `idle(ms)` waits up to `ms`, `signal()` ends the
 * current wait (or makes the next one return at once, so a wake-up is never lost).
 */
export function createWaker() {
  let wakeUp: (() => void) | null = null;
  let woken = false;
  return {
    signal(): void {
      woken = true;
      wakeUp?.();
    },
    idle(ms: number): Promise<void> {
      if (woken) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          wakeUp = null;
          woken = false;
          resolve();
        }
        wakeUp = done;
      });
    },
  };
}
