/**
 * The test helpers' process runner: the e2e tests compare what daemons and
 * CLIs print byte for byte, so a character split across two pipe reads must
 * come out whole (decoding each read alone made U+FFFD of both halves).
 */
import { describe, expect, it } from 'vitest';
import { runProcess } from './run-swarm.js';

describe('runProcess', () => {
  it('keeps multi-byte characters whole across pipe reads', async () => {
    // 3-byte and 2-byte characters, far more than one pipe read (64 KiB), so reads split some.
    const want = 'é✓'.repeat(100_000);
    const r = await runProcess(
      process.execPath,
      ['-e', `process.stdout.write(${JSON.stringify('é✓')}.repeat(100000))`],
      {
        timeoutMs: 20_000,
      },
    );
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(want.length);
    expect(r.stdout === want).toBe(true);
  });
});
