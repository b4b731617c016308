import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DAEMON_ENV, DAEMON_V8_FLAGS, daemonEnv, daemonNodeFlags } from '../../src/cli/daemon.js';
import { LEAN_FLAGS } from '../../src/node/compiler-tiering.js';

describe('daemonNodeFlags (V8 flags of a spawned node daemon)', () => {
  it('passes the daemon flags unless NODE_OPTIONS already sets the same option, in either spelling', () => {
    expect(DAEMON_V8_FLAGS).toContain('--max-semi-space-size=4');
    expect(daemonNodeFlags({})).toEqual([...DAEMON_V8_FLAGS, ...LEAN_FLAGS]);
    expect(daemonNodeFlags({ NODE_OPTIONS: '--enable-source-maps' })).toEqual([
      ...DAEMON_V8_FLAGS,
      ...LEAN_FLAGS,
    ]);
    expect(daemonNodeFlags({ NODE_OPTIONS: '--max-semi-space-size=8' })).not.toContain(
      '--max-semi-space-size=4',
    );
    expect(daemonNodeFlags({ NODE_OPTIONS: '--max_semi_space_size=8' })).not.toContain(
      '--max-semi-space-size=4',
    );
  });
});

describe('daemon flags by device class', () => {
  it('a minimal device runs in lite mode, standard and full keep the optimizing compiler', () => {
    expect(daemonNodeFlags({}, 'minimal')).toEqual([...DAEMON_V8_FLAGS, '--lite-mode']);
    expect(daemonNodeFlags({}, 'standard')).toEqual([...DAEMON_V8_FLAGS, ...LEAN_FLAGS]);
    expect(daemonNodeFlags({}, 'full')).toEqual([...DAEMON_V8_FLAGS, ...LEAN_FLAGS]);
    // The user's NODE_OPTIONS still win.
    expect(daemonNodeFlags({ NODE_OPTIONS: '--lite_mode' }, 'minimal')).toEqual([...DAEMON_V8_FLAGS]);
  });
});

describe('V8 compilers of a daemon', () => {
  it('start off (the node turns them on when busy) unless the user or the device class chose them', () => {
    expect(LEAN_FLAGS.slice(0, 2)).toEqual(['--no-opt', '--no-sparkplug']);
    for (const chosen of ['--no-opt', '--jitless', '--opt', '--max-lazy', '--no_opt'])
      expect(daemonNodeFlags({ NODE_OPTIONS: chosen }), chosen).toEqual([...DAEMON_V8_FLAGS]);
  });
});

describe('lean heap settings of a daemon', () => {
  it('go on the command line with the compilers off, but for one NODE_OPTIONS names', () => {
    expect(daemonNodeFlags({})).toContain('--bytecode-old-age=0');
    expect(daemonNodeFlags({})).toContain('--interrupt-budget-factor-for-feedback-allocation=64');
    const user = daemonNodeFlags({ NODE_OPTIONS: '--bytecode_old_age=3' });
    expect(user).not.toContain('--bytecode-old-age=0');
    expect(user).toContain('--no-opt');
    expect(user).toContain('--interrupt-budget-factor-for-feedback-allocation=64');
  });
});

describe('environment of a daemon', () => {
  it("adds one malloc arena unless the user's environment sets it, and keeps everything else", () => {
    expect(DAEMON_ENV).toEqual({ MALLOC_ARENA_MAX: '1' });
    expect(daemonEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', MALLOC_ARENA_MAX: '1' });
    expect(daemonEnv({ MALLOC_ARENA_MAX: '4' })).toEqual({ MALLOC_ARENA_MAX: '4' });
    expect(daemonEnv({ MALLOC_ARENA_MAX: '' })).toEqual({ MALLOC_ARENA_MAX: '' });
  });

  it('every flag of every device class is one this Node accepts on its command line (else it would not start)', () => {
    for (const cls of ['full', 'standard', 'minimal']) {
      const flags = daemonNodeFlags({}, cls);
      const r = spawnSync(process.execPath, [...flags, '-e', '0'], { encoding: 'utf8', timeout: 30_000 });
      // (lite mode's "disabling flag --expose_wasm" notice is V8's own, not a refusal)
      expect({ cls, status: r.status, refused: /bad option|unknown|invalid/i.test(r.stderr) }).toEqual({
        cls,
        status: 0,
        refused: false,
      });
    }
  });
});
