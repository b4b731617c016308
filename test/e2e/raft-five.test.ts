/**
 * Five real daemons (compiled binary, loopback, multicast off, join list) form
 * one Raft cluster of 5 voters with one leader; SIGKILL of the leader: the
 * other four elect a new one (the crash hint makes this fast) and writes
 * continue; the killed node restarts and catches up; no acknowledged write is
 * lost. The 3-node variant with linearizability checks is raft-cluster.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consensusToml, loopbackToml } from '../helpers/config-toml.js';
import { converged, getJson, kvRequest, until, type LeaderView } from '../helpers/kv-history.js';
import { DaemonRoot } from '../helpers/run-swarm.js';

const daemons = new DaemonRoot('swarm-raft5-e2e-');
let root: string;

beforeAll(() => {
  root = daemons.init();
  writeFileSync(
    join(root, 'config.toml'),
    loopbackToml(['bootstrap_expect = 5'], consensusToml(100, 600, 1200)),
  );
});

afterAll(() => daemons.cleanup());

interface Node {
  dir: string;
  api: string;
  pid: number;
  alive: boolean;
}

async function start(
  dir: string,
  join_: string | null,
  ports?: { raft: string; gossip: string },
): Promise<Node> {
  const info = await daemons.start({ dir, join: join_ ? [join_] : [], ports });
  return { dir, api: info.api_url, pid: info.pid, alive: true };
}

describe('raft cluster of 5 daemons', () => {
  it('one leader of 5 voters; SIGKILL of the leader: a new one, writes continue, the node catches up', async () => {
    const ns: Node[] = [await start(join(root, 'n0'), null)];
    const seed = (await getJson<{ addresses: { gossip: string } }>(`${ns[0]!.api}/v1/status`))!.addresses
      .gossip;
    for (let i = 1; i < 5; i++) ns.push(await start(join(root, `n${i}`), seed));

    const views = await until('5 nodes agreeing on one leader with 5 voters', async () => {
      const v = await converged(ns.map((n) => n.api));
      return v !== null && v[0]!.voters.length === 5 ? v : null;
    });
    expect(views.filter((v) => v.role === 'leader')).toHaveLength(1);
    const first = views.find((v) => v.role === 'leader')!;

    const acked = new Map<string, number>();
    let seq = 0;
    const write = async (via: Node): Promise<void> => {
      const key = `k${++seq}`;
      const r = await kvRequest(via.api, 'PUT', key, seq);
      if (r.status === 200) acked.set(key, seq);
    };
    for (let i = 0; i < 20; i++) await write(ns[i % 5]!);
    expect(acked.size).toBe(20);

    const victim = ns.find((n) => views[ns.indexOf(n)]!.self === first.self)!;
    const vst = (await getJson<{ addresses: { raft: string; gossip: string } }>(`${victim.api}/v1/status`))!;
    process.kill(victim.pid, 'SIGKILL');
    victim.alive = false;
    const live = (): Node[] => ns.filter((n) => n.alive);
    const second = await until('a new leader among the 4 survivors', async () => {
      for (const n of live()) {
        const v = await getJson<LeaderView>(`${n.api}/v1/leader`);
        if (v?.role === 'leader' && v.self !== first.self) return v;
      }
      return null;
    });
    expect(second.term).toBeGreaterThan(first.term);
    const before = acked.size;
    for (let i = 0; i < 20; i++) await write(live()[i % 4]!);
    expect(acked.size).toBe(before + 20);

    // Restart on the same ports (its id and log are in its data dir): it rejoins and catches up.
    const liveSeed = (await getJson<{ addresses: { gossip: string } }>(`${live()[0]!.api}/v1/status`))!
      .addresses.gossip;
    const back = await start(victim.dir, liveSeed, {
      raft: vst.addresses.raft.split(':').pop()!,
      gossip: vst.addresses.gossip.split(':').pop()!,
    });
    Object.assign(victim, back);
    const last = `k${seq}`;
    await until('the restarted node to apply the last write', async () => {
      const r = await kvRequest(victim.api, 'GET', `${last}?consistency=stale`);
      return r.status === 200 && r.value === seq;
    });
    for (const [key, value] of acked) {
      const r = await kvRequest(ns[value % 5]!.api, 'GET', key);
      expect(r.value, key).toBe(value);
    }
  }, 120_000);
});
