/** `swarm demo` starts real daemons and must leave nothing behind. */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runSwarm, watchSwarm } from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';

describe('swarm demo', () => {
  it('--nodes 3 --duration 2 --json starts a swarm with one leader, commits writes, then stops them all', async () => {
    const r = await runSwarm(['demo', '--nodes', '3', '--duration', '2', '--json'], {
      env: { SWARM_CONFIG: '', SWARM_GOSSIP__FANOUT: 'ignored-by-demo' },
      timeoutMs: 60_000,
    });
    expect(r.stderr).toMatch(/^Starting 3 nodes in .*\nSwarm running for 2 s.*\nStopped 3 node\(s\)\.\n$/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      nodes: {
        name: string;
        id: string;
        api_url: string;
        pid: number;
        role: string;
        leader: string | null;
      }[];
      writes: { key: string; value?: unknown; revision?: number; error?: string }[];
      data_root: string;
    };
    expect(out.nodes.map((n) => n.name)).toEqual(['node-1', 'node-2', 'node-3']);
    expect(new Set(out.nodes.map((n) => n.id)).size).toBe(3);
    // One leader, named by every node; the writes went through the log and read back.
    expect(out.nodes.filter((n) => n.role === 'leader')).toHaveLength(1);
    expect(new Set(out.nodes.map((n) => n.leader)).size).toBe(1);
    expect(out.writes.map((w) => w.error)).toEqual([undefined, undefined, undefined]);
    expect(out.writes.map((w) => w.revision)).toEqual([1, 2, 3]);
    expect(out.writes[2]?.value).toBe(3);
    for (const n of out.nodes) expect(n.api_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(out.data_root)).toBe(false);
    // The daemons have exited and their APIs are gone.
    for (const n of out.nodes) {
      expect(alive(n.pid)).toBe(false);
      await expect(fetch(`${n.api_url}/v1/health`)).rejects.toThrow();
    }
  });

  it('prints a table and exits 0 without --json', async () => {
    const r = await runSwarm(['demo', '--nodes', '1', '--duration', '0.5'], { env: { SWARM_CONFIG: '' } });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[1]).toMatch(/^NAME +ID +API +ROLE +LEADER$/);
    expect(lines[2]).toMatch(/^node-1 +[0-9a-f]{16} +http:\/\/127\.0\.0\.1:\d+ +\w+ +\S+$/);
  });

  it('SIGINT stops every node before --duration ends and exits 0', async () => {
    const w = watchSwarm(['demo', '--nodes', '2', '--duration', '600', '--json'], { SWARM_CONFIG: '' });
    const end = Date.now() + 30_000;
    while (!w.err().includes('Swarm running') && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50));
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    expect(w.err()).toContain('Stopped 2 node(s).');
    const out = JSON.parse(w.out()) as { nodes: { pid: number }[]; data_root: string };
    for (const n of out.nodes) expect(alive(n.pid)).toBe(false);
    expect(existsSync(out.data_root)).toBe(false);
  });

  it('rejects a bad --nodes with exit 2', async () => {
    const r = await runSwarm(['demo', '--nodes', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('swarm: --nodes "0": must be a number between 1 and 25\n');
  });
});
