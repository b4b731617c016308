import { describe, expect, it } from 'vitest';
import { afterExit, backoffDelay } from '../../src/tasks/restart.js';

const s = { backoff_ms: 100, backoff_max_ms: 1000, max_restarts: 3 };
describe('restart policy', () => {
  it.each([
    ['never', 0, 'exited'],
    ['never', 1, 'exited'],
    ['on-failure', 0, 'exited'],
    ['on-failure', 2, 'restart'],
    ['always', 0, 'restart'],
  ] as const)('%s, exit %i -> %s', (restart, code, action) => {
    expect(afterExit({ ...s, restart }, { code, signal: null }, 0).action).toBe(action);
  });
  it('fails after max_restarts', () => {
    const d = afterExit({ ...s, restart: 'always' }, { code: 1, signal: null }, 3);
    expect(d).toEqual({ action: 'failed', message: 'exit 1 after 3 restarts (max_restarts 3)' });
  });
  it('backs off exponentially up to the cap', () => {
    expect([0, 1, 2, 3, 4, 10].map((r) => backoffDelay(s, r))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});
