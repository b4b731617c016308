/** The one pacing helper (src/common/sleep.ts) the client and the dashboard stream share. */
import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/common/sleep.js';

describe('sleep', () => {
  it('resolves true once the time passed', async () => {
    const t0 = performance.now();
    expect(await sleep(20)).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
  });

  it('an abort ends the wait early with false', async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    const p = sleep(60_000, ac.signal);
    setTimeout(() => ac.abort(), 10);
    expect(await p).toBe(false);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it('an already aborted signal answers false at once', async () => {
    const ac = new AbortController();
    ac.abort();
    const t0 = performance.now();
    expect(await sleep(60_000, ac.signal)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
});
