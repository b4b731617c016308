import { describe, expect, it } from 'vitest';
import { DEFAULT_LEADER_PERSIST, leaderPersistMode } from '../../src/node/raft-core-runner.js';

describe('SWARM_RAFT_LEADER_PERSIST', () => {
  it('takes each known arm as it is', () => {
    for (const arm of ['off', 'lone', 'pool'] as const) expect(leaderPersistMode(arm)).toBe(arm);
  });
  it('falls back to the default when unset, empty or unknown', () => {
    for (const v of [undefined, '', 'Pool', 'async', 'on'])
      expect(leaderPersistMode(v)).toBe(DEFAULT_LEADER_PERSIST);
  });
});
