/** The long-mode runner: exit codes, the failure report and its replay command. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sim(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/sim/cli.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('npm run sim', () => {
  it('sweeps seeds and exits 0 when all pass', () => {
    const r = sim(['--seeds', '3', '--start-seed', '500']);
    expect(r.out).toContain('3 seeds (500..502): 0 failed');
    expect(r.out).toMatch(/runs\/s/);
    expect(r.code).toBe(0);
  });

  it('reports a failing seed with its invariant and the one command that replays it', () => {
    const r = sim(['--seed', '1', '--nodes', '3', '--mutant', 'driver-send-before-sync']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL seed 1: (vote|ack)-durability/);
    expect(r.out).toContain('config: 3 voters');
    expect(r.out).toContain('trace tail:');
    expect(r.out).toContain(
      'replay: npm run sim -- --seed 1 --nodes 3 --mutant driver-send-before-sync --trace',
    );
  });

  it('--scenario lease-forward: passes, and names the replay of a failure (pre-#17 wiring)', () => {
    const ok = sim(['--scenario', 'lease-forward', '--seeds', '3']);
    expect(ok.out).toContain('lease-forward: 3 seeds (1..3): 0 failed');
    expect(ok.code).toBe(0);
    const bad = sim(['--scenario', 'lease-forward', '--seed', '16', '--no-reroute']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/FAIL seed 16: n\d applied the expiry of lease/);
    expect(bad.out).toContain(
      'replay: npm run sim -- --scenario lease-forward --seed 16 --trace --no-reroute',
    );
  });

  it('--scenario graceful-stop --no-withdraw: a write queued unsent fails 503, and the replay says so', () => {
    const bad = sim(['--scenario', 'graceful-stop', '--seed', '1', '--no-withdraw']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/FAIL seed 1: write .* went away with the put in flight/);
    expect(bad.out).toMatch(/1 failed; .* 2 failed \(503\)/);
    expect(bad.out).toContain(
      'replay: npm run sim -- --scenario graceful-stop --seed 1 --trace --no-withdraw',
    );
    const ok = sim(['--scenario', 'graceful-stop', '--seed', '1']);
    expect(ok.out).toMatch(/0 failed; .* 0 failed \(503\)/);
    expect(ok.code).toBe(0);
  });

  it('rejects bad usage with exit 2', () => {
    const r = sim(['--seed', '1', '--seeds', '2']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('usage: npm run sim');
  });
});
