/**
 * "Every node serves" on separate hosts: three real daemons in network
 * namespaces the test creates (NetnsLab, tag fw, no control link), each with
 * its API left at the default bind 127.0.0.1, so no node can reach another's
 * API. Peers come from join lists (multicast off) and every listener binds
 * 0.0.0.0, so the addresses members advertise come from the automatic
 * network.advertise_address. `swarm kv put/get/list/del` run through the CLI
 * inside each namespace (`ip netns exec`): followers forward writes to the
 * leader over the Raft channel and serve linearizable reads via ReadIndex.
 * Before this, a follower relayed to the leader's advertised API, its own
 * 127.0.0.1, and answered "not the leader".
 * Skipped, with the reason in the title, where `ip netns add` is not permitted.
 * Needs `npm run build`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { MembersResponse } from '../../src/api/members-types.js';
import { until, type LeaderView } from '../helpers/kv-history.js';
import { NetnsLab, netnsSkipReason, netnsTitle, nsGetJson } from '../helpers/netns.js';
import { NETNS_PORTS, NetnsSwarm } from '../helpers/netns-swarm.js';
import type { RunResult } from '../helpers/run-swarm.js';

const skipReason = netnsSkipReason('forward-netns');
const lab = new NetnsLab({ tag: 'fw', nodes: 3, control: false });
const { gossip: GOSSIP_PORT, raft: RAFT_PORT, api: API_PORT } = NETNS_PORTS;

const sw = new NetnsSwarm(lab, 'swarm-fw-netns-');
afterAll(() => sw.cleanup());

function writeConfig(i: number): void {
  // Every other node in the join list, a different one first on each host.
  const peers = [1, 2].map((k) => `"${lab.addr[(i + k) % 3]!}:${GOSSIP_PORT}"`);
  const network = [
    '[network]',
    `gossip_port = ${GOSSIP_PORT}`,
    'multicast_enabled = false',
    `join = [${peers.join(', ')}]`,
  ];
  sw.writeConfig(i, { name: `fw${i}`, network });
}

const swarm = (i: number, args: readonly string[]): Promise<RunResult> => sw.swarm(i, args);

/** GET a path of node i's own API from inside its namespace (the only place it is reachable). */
function nsGet<T>(i: number, path: string): Promise<T | null> {
  return nsGetJson<T>(lab.ns[i]!, `http://127.0.0.1:${API_PORT}${path}`, 10_000);
}

/** Each poll spawns a Node inside a namespace: every 200 ms, not kv-history's 50. */
const poll = <T>(what: string, f: () => Promise<T | null>, ms = 30_000): Promise<T> =>
  until(what, f, ms, 200);

async function kvGet(i: number, key: string): Promise<unknown> {
  const r = await swarm(i, ['kv', 'get', key, '--json']);
  expect(r.code, `kv get ${key} on host ${i}: ${r.stderr}`).toBe(0);
  return (JSON.parse(r.stdout) as { value: unknown }).value;
}

async function kvPut(
  i: number,
  key: string,
  value: string,
  extra: readonly string[] = [],
): Promise<RunResult> {
  return swarm(i, ['kv', 'put', key, value, '--json', ...extra]);
}

const title =
  'API on 127.0.0.1 everywhere: kv put/get/list/del through the CLI on every host, follower reads see writes acknowledged elsewhere';

describe('every node serves (forwarding over the Raft channel, 3 namespaces)', () => {
  it.skipIf(skipReason !== null)(
    netnsTitle(title, skipReason),
    async () => {
      try {
        sw.setup();
        for (let i = 0; i < 3; i++) writeConfig(i);
        const ids = await Promise.all([0, 1, 2].map(async (i) => (await sw.start(i)).id));
        const leader = await poll(
          'a leader with 3 voters',
          async () => {
            for (const i of [0, 1, 2]) {
              const v = await nsGet<LeaderView>(i, '/v1/leader');
              if (v && v.role === 'leader' && v.voters.length === 3) return { i, v };
            }
            return null;
          },
          40_000,
        );
        const followers = [0, 1, 2].filter((i) => i !== leader.i);

        // Advertised addresses: the host's cluster address for gossip and Raft (automatic, from the
        // interface toward the join peer); the API's 127.0.0.1 for information only.
        const members = await poll('all 3 members with addresses', async () => {
          const m = await nsGet<MembersResponse>(followers[0]!, '/v1/members');
          return m && m.members.filter((x) => x.addresses.raft !== null).length === 3 ? m : null;
        });
        for (const [i, id] of ids.entries()) {
          const m = members.members.find((x) => x.id === id);
          expect(m?.addresses.gossip, `gossip address of host ${i}`).toBe(`${lab.addr[i]}:${GOSSIP_PORT}`);
          expect(m?.addresses.raft, `raft address of host ${i}`).toBe(`${lab.addr[i]}:${RAFT_PORT}`);
          expect(m?.addresses.api, `api address of host ${i}`).toBe(`127.0.0.1:${API_PORT}`);
        }

        // A write on every host, through its own CLI and its own 127.0.0.1 API.
        for (const i of [0, 1, 2]) {
          const r = await kvPut(i, `fw/k${i}`, `v${i}`);
          expect(r.code, `kv put on host ${i} (${i === leader.i ? 'leader' : 'follower'}): ${r.stderr}`).toBe(
            0,
          );
          expect(JSON.parse(r.stdout)).toMatchObject({ key: `fw/k${i}`, value: `v${i}` });
        }
        // Every host reads every value (linearizable reads).
        for (const i of [0, 1, 2])
          for (const j of [0, 1, 2]) expect(await kvGet(i, `fw/k${j}`)).toBe(`v${j}`);

        // A follower's read right after a write acknowledged on another host sees it.
        for (let round = 0; round < 4; round++) {
          const reader = followers[round % 2]!;
          const writer = round < 2 ? leader.i : followers[(round + 1) % 2]!;
          const w = await kvPut(writer, 'fw/seq', String(round));
          expect(w.code, w.stderr).toBe(0);
          expect(await kvGet(reader, 'fw/seq')).toBe(round);
        }

        // List, compare-and-set and delete through a follower.
        const f = followers[0]!;
        const list = await swarm(f, ['kv', 'list', 'fw/k', '--json']);
        expect(list.code, list.stderr).toBe(0);
        expect((JSON.parse(list.stdout) as { items: { key: string }[] }).items.map((x) => x.key)).toEqual([
          'fw/k0',
          'fw/k1',
          'fw/k2',
        ]);
        const cur = JSON.parse((await swarm(f, ['kv', 'get', 'fw/k0', '--json'])).stdout) as {
          revision: number;
        };
        const bad = await kvPut(f, 'fw/k0', 'x', ['--prev-revision', String(cur.revision + 100)]);
        expect(bad.code).not.toBe(0);
        expect(bad.stderr).toMatch(/revision/);
        const good = await kvPut(f, 'fw/k0', 'y', ['--prev-revision', String(cur.revision)]);
        expect(good.code, good.stderr).toBe(0);
        expect(await kvGet(followers[1]!, 'fw/k0')).toBe('y');
        const del = await swarm(f, ['kv', 'del', 'fw/k1', '--json']);
        expect(del.code, del.stderr).toBe(0);
        expect(JSON.parse(del.stdout)).toMatchObject({ key: 'fw/k1', deleted: true });
        const gone = await swarm(followers[1]!, ['kv', 'get', 'fw/k1', '--json']);
        expect(gone.code).not.toBe(0);
        expect(gone.stderr).toMatch(/not_found|no key/);

        for (let i = 0; i < 3; i++) {
          const r = await swarm(i, ['node', 'stop']);
          expect(r.code, r.stderr).toBe(0);
        }
      } finally {
        sw.cleanup();
      }
    },
    150_000,
  );
});
