import { describe, expect, it } from 'vitest';
import { DAEMON_V8_FLAGS, daemonNodeFlags } from '../../src/cli/daemon.js';

describe('daemonNodeFlags (V8 flags of a spawned node daemon)', () => {
  it('passes the daemon flags unless NODE_OPTIONS already sets the same option, in either spelling', () => {
    expect(DAEMON_V8_FLAGS).toContain('--max-semi-space-size=4');
    expect(daemonNodeFlags({})).toEqual([...DAEMON_V8_FLAGS]);
    expect(daemonNodeFlags({ NODE_OPTIONS: '--enable-source-maps' })).toEqual([...DAEMON_V8_FLAGS]);
    expect(daemonNodeFlags({ NODE_OPTIONS: '--max-semi-space-size=8' })).not.toContain(
      '--max-semi-space-size=4',
    );
    expect(daemonNodeFlags({ NODE_OPTIONS: '--max_semi_space_size=8' })).not.toContain(
      '--max-semi-space-size=4',
    );
  });
});
