/**
 * Multicast discovery between real daemons in three network namespaces, with
 * no join list: each node announces on the discovery group until someone
 * answers, then the swarm forms by gossip. The test creates a hub namespace
 * holding a bridge, one namespace per node with a veth into the bridge, routes
 * 224.0.0.0/4 to that veth, and removes everything afterwards. Nothing is sent
 * outside these namespaces: every veth end is created inside one of them.
 * Skipped, with the reason in the title, where `ip netns add` is not permitted.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { MembersResponse } from '../../src/api/members-types.js';
import { NetnsLab, netnsSkipReason, netnsTitle } from '../helpers/netns.js';
import { NetnsSwarm } from '../helpers/netns-swarm.js';

const skipReason = netnsSkipReason('gossip-netns');
const lab = new NetnsLab({ tag: 'g', nodes: 3, control: false });
const sw = new NetnsSwarm(lab, 'swarm-gossip-netns-');
afterAll(() => sw.cleanup());

async function members(i: number): Promise<MembersResponse> {
  const r = await sw.swarm(i, ['swarm', 'status', '--json']);
  if (r.code !== 0) throw new Error(`swarm status in ${lab.ns[i]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as MembersResponse;
}

const title = 'three daemons in three namespaces discover each other by multicast alone';

describe('multicast discovery of real daemons between network namespaces', () => {
  it.skipIf(skipReason !== null)(
    netnsTitle(title, skipReason),
    async () => {
      try {
        sw.setup();
        for (let i = 0; i < 3; i++) {
          writeFileSync(
            sw.config(i),
            [
              ...lab.networkToml(i, 0),
              '[node]',
              `name = "ns${i}"`,
              `data_dir = "${sw.dataDir(i)}"`,
              '[api]',
              'port = 0',
              '[raft]',
              'port = 0',
              '',
            ].join('\n'),
          );
        }
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const info = await sw.start(i);
          expect(info.stderr).toBe('');
          ids.push(info.id);
        }
        // Announces back off from 1 s (doubling); three nodes find each other within a few rounds.
        for (let i = 0; i < 3; i++) {
          const end = Date.now() + 25_000;
          let m = await members(i);
          for (let k = 0; k < 100 && Date.now() < end; k++) {
            if (m.members.filter((x) => x.status === 'alive').length === 3) break;
            await new Promise((r) => setTimeout(r, 500));
            m = await members(i);
          }
          expect(m.multicast).toBe(true);
          expect(m.members.map((x) => x.id).sort()).toEqual([...ids].sort());
          expect(m.members.every((x) => x.status === 'alive')).toBe(true);
          // Each member is known under its own namespace's address, not a loopback one.
          for (const x of m.members) expect(x.addresses.gossip.startsWith(`${lab.subnet}.`)).toBe(true);
        }
        for (let i = 0; i < 3; i++) {
          const r = await sw.swarm(i, ['node', 'stop']);
          expect(r.code).toBe(0);
        }
        sw.pids.fill(null);
      } finally {
        sw.cleanup();
      }
    },
    90_000,
  );
});
