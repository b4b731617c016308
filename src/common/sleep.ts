/**
 * Wait `ms`, or less when `signal` aborts (at once if it already has). Resolves
 * true when the time passed, false when the signal ended the wait: a loop
 * that paces itself (a client's retry, a stream's interval) stops on it
 * without a rejection to catch. The timer is always cleared, so an aborted
 * wait holds nothing.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve(false);
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve(signal?.aborted !== true);
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
