/**
 * The Python clients' own unit tests (clients/python/tests/test_*.py: AES-256 and AES-256-GCM
 * against FIPS-197 and NIST SP 800-38D vectors, the MessagePack subset against every vector of
 * docs/protocol.md, the import set of swarm_lite.py under a hook that hides every other module),
 * run with Debian's python3 so that `npm test` runs them.
 */
import { describe, expect, it } from 'vitest';
import { runPython } from './helpers.js';

describe('clients/python unit tests (python3 -m unittest)', () => {
  it('pass', async () => {
    const r = await runPython(['-m', 'unittest', 'discover', '-s', 'tests', '-p', 'test_*.py', '-v'], {
      timeoutMs: 120_000,
    });
    if (r.code !== 0) console.log(r.stderr);
    expect(r.stderr).toMatch(/\nOK\n?$/);
    expect(r.code).toBe(0);
  });
});
