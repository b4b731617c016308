/**
 * A `minimal` device among real daemons (compiled binary; `npm run build`
 * first): two `standard` voters and one `minimal` node on loopback, multicast
 * off, static join lists, port 0 everywhere, temp dirs. The minimal node is
 * listed with its class and a learner role, receives the replicated state,
 * and never leads, not even as the only survivor of a SIGKILL of both voters,
 * where writes through it answer 503 no_quorum instead of hanging.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembersResponse } from '../../src/api/members-types.js';
import { consensusToml, loopbackToml } from '../helpers/config-toml.js';
import { getJson, kvRequest, until, type LeaderView } from '../helpers/kv-history.js';
import { runSwarm } from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';

interface Started {
  pid: number;
  id: string;
  api: string;
}

let root: string;
const pids = new Set<number>();

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-minimal-e2e-'));
  writeFileSync(
    join(root, 'config.toml'),
    loopbackToml(['bootstrap_expect = 2'], consensusToml(100, 1000, 2000)),
  );
});

afterAll(() => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

async function start(name: string, deviceClass: string, joinList: string[]): Promise<Started> {
  const args = ['--config', join(root, 'config.toml'), 'node', 'start', '--json', '--name', name];
  args.push('--data-dir', join(root, name));
  if (joinList.length > 0) args.push('--join', joinList.join(','));
  const r = await runSwarm(args, {
    env: {
      HOME: root,
      XDG_CONFIG_HOME: join(root, 'xdg'),
      SWARM_CONFIG: '',
      SWARM_NODE__DEVICE_CLASS: deviceClass,
    },
  });
  const pidMatch = /"pid":(\d+)/.exec(r.stdout);
  if (pidMatch) pids.add(Number(pidMatch[1]));
  if (r.code !== 0) throw new Error(`node start ${name} failed (${r.code}): ${r.stderr}`);
  const info = JSON.parse(r.stdout) as { pid: number; id: string; api_url: string };
  return { pid: info.pid, id: info.id, api: info.api_url };
}

describe('a minimal node among real daemons', () => {
  it('is listed as a minimal learner, receives state, and never leads, even as the only survivor', async () => {
    const a = await start('voter-a', 'standard', []);
    const st = await getJson<{ addresses: { gossip: string } }>(`${a.api}/v1/status`);
    const seed = st!.addresses.gossip;
    const [b, small] = await Promise.all([
      start('voter-b', 'standard', [seed]),
      start('small', 'minimal', [seed]),
    ]);

    /** The minimal node's own copy of a key (a stale read, answered without any leader). */
    const localValue = async (key: string): Promise<unknown> =>
      (await getJson<{ value: unknown }>(`${small.api}/v1/kv/${key}?consistency=stale`))?.value;

    // Watch the minimal node's role for the whole test: it must never be leader, nor a voter.
    const roles = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      for (let n = 0; watching && n < 1200; n++) {
        const v = await getJson<LeaderView>(`${small.api}/v1/leader`, 1000);
        if (v) {
          roles.add(v.role);
          if (v.voters.includes(small.id)) roles.add('voter');
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    try {
      const leader = await until(
        'a leader of 2 voters with the minimal node as learner',
        async () => {
          for (const n of [a, b]) {
            const v = await getJson<LeaderView>(`${n.api}/v1/leader`);
            if (v?.role === 'leader' && v.voters.length === 2 && v.learners.includes(small.id)) return n;
          }
          return null;
        },
        30_000,
      );

      // Listed by every member with its class and the learner role it advertises.
      for (const n of [a, b, small]) {
        const listed = await until(`the minimal node listed as learner by ${n.id}`, async () => {
          const m = await getJson<MembersResponse>(`${n.api}/v1/members`);
          const x = m?.members.find((y) => y.id === small.id);
          return x?.raft_role === 'learner' ? x : null;
        });
        expect(listed.device_class).toBe('minimal');
        expect(listed.status).toBe('alive');
      }
      const own = await getJson<{ device_class: string; role: string }>(`${small.api}/v1/status`);
      expect(own).toMatchObject({ device_class: 'minimal', role: 'learner' });

      // Receives state: a write on the leader shows up in the minimal node's local store.
      expect((await kvRequest(leader.api, 'PUT', 'from-leader', 41)).status).toBe(200);
      await until(
        'the write replicated to the minimal node',
        async () => (await localValue('from-leader')) === 41,
      );
      // It takes requests too, by relaying them to the leader.
      expect((await kvRequest(small.api, 'PUT', 'via-small', 42)).status).toBe(200);
      const lin = await kvRequest(small.api, 'GET', 'via-small');
      expect(lin).toMatchObject({ status: 200, value: 42 });
      // A learner is not part of the commit quorum: wait until it has applied the write before the kill.
      await until(
        'the relayed write applied on the minimal node',
        async () => (await localValue('via-small')) === 42,
      );

      // --- the only survivor
      for (const n of [a, b]) process.kill(n.pid, 'SIGKILL');
      await until('both voters gone', async () => !alive(a.pid) && !alive(b.pid), 10_000);
      const end = Date.now() + 5000;
      for (let n = 0; n < 100 && Date.now() < end; n++) {
        const v = await getJson<LeaderView>(`${small.api}/v1/leader`, 1000);
        expect(v?.role).toBe('learner');
        expect(v?.voters).not.toContain(small.id);
        await new Promise((r) => setTimeout(r, 50));
      }
      // Refused, and answered (8 s client guard against a hang; the node bounds its wait itself).
      const w = await kvRequest(small.api, 'PUT', 'alone', 1);
      expect(w).toMatchObject({ status: 503, code: 'no_quorum' });
      const r = await kvRequest(small.api, 'GET', 'via-small');
      expect(r).toMatchObject({ status: 503, code: 'no_quorum' });
      // Its local copy of the state stays readable.
      expect(await localValue('via-small')).toBe(42);
    } finally {
      watching = false;
      await watcher;
    }
    expect([...roles]).not.toContain('leader');
    expect([...roles]).not.toContain('voter');
    expect(roles.has('learner')).toBe(true);
  }, 90_000);
});
