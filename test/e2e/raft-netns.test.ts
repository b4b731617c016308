/**
 * Raft between real daemons in three network namespaces the test creates
 * (NetnsLab: a bridge in a hub namespace, one veth per node, multicast routed
 * onto it), found by multicast discovery alone, bootstrap_expect = 3. Under a
 * recorded client load: the leader's bridge port goes down (a partition);
 * the majority elects a new leader that takes writes, the old leader steps
 * down (check-quorum) and answers 503 no_quorum; after the heal the swarm
 * converges with every acknowledged write on every node. Then the leader is
 * SIGKILLed and restarted under load. The whole history is checked for
 * linearizability per key. The test process reaches each API through a
 * control link of its own, so a partitioned node stays observable.
 * Skipped, with the reason in the title, where `ip netns add` is not permitted.
 * Needs `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { MembersResponse } from '../../src/api/members-types.js';
import { checkLinearizable, describeLinearizability } from '../../src/sim/linearizability.js';
import { converged, getJson, KvRecorder, startLoad, until, type LeaderView } from '../helpers/kv-history.js';
import { NetnsLab, netnsSkipReason, netnsTitle } from '../helpers/netns.js';
import { NETNS_PORTS, NetnsSwarm } from '../helpers/netns-swarm.js';
import { alive } from '../node/proc.js';

const skipReason = netnsSkipReason('raft-netns');
const lab = new NetnsLab({ tag: 'r', nodes: 3, control: true });
const { gossip: GOSSIP_PORT, api: API_PORT } = NETNS_PORTS;
let api: string[] = [];

const sw = new NetnsSwarm(lab, 'swarm-raft-netns-');
const cleanup = (): void => sw.cleanup();
afterAll(cleanup);

function writeConfig(i: number): void {
  sw.writeConfig(i, {
    name: `ns${i}`,
    network: lab.networkToml(i, GOSSIP_PORT),
    // All addresses, so the test reaches each API through its control link (nodes never call each other's API).
    api: ['bind_address = "0.0.0.0"'],
  });
}

async function start(i: number): Promise<string> {
  return (await sw.start(i)).id;
}

/** The node that leads `voters` voters, by index, among `among`. */
async function leaderAmong(
  among: readonly number[],
  voters = 3,
): Promise<{ i: number; v: LeaderView } | null> {
  for (const i of among) {
    const v = await getJson<LeaderView>(`${api[i]}/v1/leader`);
    if (v && v.role === 'leader' && v.voters.length === voters) return { i, v };
  }
  return null;
}

interface Item {
  key: string;
  value: unknown;
  revision: number;
}

/** Once converged: every node holds the same store, including every acknowledged write (local reads). */
async function expectSameStoreWithAcked(rec: KvRecorder): Promise<void> {
  const stores = await Promise.all(
    api.map((a) => getJson<{ items: Item[] }>(`${a}/v1/kv?prefix=&consistency=stale`)),
  );
  for (const [i, s] of stores.entries()) {
    expect(s, `store of node ${i}`).not.toBeNull();
    expect(s!.items, `store of node ${i} against node 0`).toEqual(stores[0]!.items);
    const have = new Map(s!.items.map((x) => [x.key, x.value]));
    const missing = [...rec.acked].filter(([k, v]) => have.get(k) !== v);
    expect(missing, `acknowledged writes missing or changed on node ${i}`).toEqual([]);
  }
}

/** Namespaces, configs and 3 daemons; resolves once one of them leads 3 voters. */
async function startSwarm(): Promise<{ ids: string[]; first: { i: number; v: LeaderView } }> {
  sw.setup();
  api = lab.control.map((a) => `http://${a}:${API_PORT}`);
  for (let i = 0; i < 3; i++) writeConfig(i);
  const ids = await Promise.all([0, 1, 2].map((i) => start(i)));
  const first = await until('a leader with 3 voters', () => leaderAmong([0, 1, 2]), 40_000);
  return { ids, first };
}

/** Down the leader's bridge port; resolves once the majority has a new leader and the old one stepped down. */
async function partitionLeader(first: {
  i: number;
  v: LeaderView;
}): Promise<{ next: { i: number; v: LeaderView }; down: LeaderView }> {
  const old = first.i;
  const majority = [0, 1, 2].filter((i) => i !== old);
  lab.partition(old);
  const next = await until(
    'a new leader on the majority side',
    async () => {
      const x = await leaderAmong(majority);
      return x && x.v.term > first.v.term ? x : null;
    },
    20_000,
  );
  const down = await until(
    'the old leader to step down (check-quorum)',
    async () => {
      const v = await getJson<LeaderView>(`${api[old]}/v1/leader`);
      return v && v.role !== 'leader' ? v : null;
    },
    20_000,
  );
  return { next, down };
}

/** Four clients over every node (partitioned or not), bounded in count and time. */
function load(rec: KvRecorder, name: string, seed: number): { stop(): Promise<void> } {
  return startLoad(rec, {
    name,
    clients: 4,
    seed,
    contended: 4,
    targets: () => api,
    maxOpsPerClient: 5000,
    maxMs: 60_000,
  });
}

const title =
  'partition of the leader: majority elects, old leader steps down, heal converges; then a leader SIGKILL; linearizable';

describe('raft across network namespaces (multicast discovery only)', () => {
  it.skipIf(skipReason !== null)(
    netnsTitle(title, skipReason),
    async () => {
      try {
        const { ids, first } = await startSwarm();
        // No join list anywhere: the members can only have come from multicast discovery.
        const m = await getJson<MembersResponse>(`${api[first.i]}/v1/members`);
        expect(m?.multicast).toBe(true);
        expect(m?.members.map((x) => x.id).sort()).toEqual([...ids].sort());
        expect([...first.v.voters].sort()).toEqual([...ids].sort());

        const rec = new KvRecorder();
        const load1 = load(rec, 'p', 5000);
        try {
          await until('writes before the partition', async () => rec.ackedWritesSince(0) >= 20);

          // --- partition the leader away
          const old = first.i;
          const tPart = rec.now();
          const { next, down } = await partitionLeader(first);
          console.log(
            `raft-netns: new leader elected and old leader ${down.role} within ${Math.round(rec.now() - tPart)} ms of the partition`,
          );
          // Cut off, the old leader still sits in its old term: it cannot have heard of the new one.
          expect(down.term).toBeLessThan(next.v.term);
          const accepted = await rec.write('probe', api[next.i]!, 'u-probe-majority');
          expect(accepted.status).toBe(200);
          const tRefused = rec.now();
          const refused = await rec.write('probe', api[old]!, 'u-probe-minority');
          console.log(
            `raft-netns: write to the old leader answered ${refused.status} in ${Math.round(rec.now() - tRefused)} ms`,
          );
          expect(refused.status).toBe(503);
          expect(refused.code).toBe('no_quorum');
          // A linearizable read there must be refused too: it cannot confirm it is current.
          const staleRisk = await rec.read('probe', api[old]!, 'lin0');
          expect(staleRisk.status).toBe(503);
          expect(staleRisk.code).toBe('no_quorum');
          await until(
            'load writes acknowledged during the partition',
            async () => rec.ackedWritesSince(tPart) >= 20,
          );

          // --- heal
          lab.heal(old);
          const tHeal = rec.now();
          await until(
            'the old leader to follow the new term',
            async () => {
              const v = await getJson<LeaderView>(`${api[old]}/v1/leader`);
              return v && v.leader !== null && v.term >= next.v.term && v.role === 'follower';
            },
            30_000,
          );
          await until('writes after the heal', async () => rec.ackedWritesSince(tHeal) >= 20);
        } finally {
          await load1.stop();
        }
        const healed = await until('convergence after the heal', () => converged(api), 30_000);
        expect(healed[0]!.term).toBeGreaterThan(first.v.term);
        await expectSameStoreWithAcked(rec);
        const lin1 = checkLinearizable(rec.history);
        expect(lin1.verdict, describeLinearizability(lin1)).toBe('ok');

        // --- SIGKILL the leader under load, restart it
        const load2 = load(rec, 'k', 6000);
        try {
          const before = rec.now();
          await until('writes before the kill', async () => rec.ackedWritesSince(before) >= 20);
          const cur = await until('the current leader', () => leaderAmong([0, 1, 2]));
          const victim = cur.i;
          process.kill(sw.pids[victim]!, 'SIGKILL');
          const tKill = rec.now();
          const others = [0, 1, 2].filter((i) => i !== victim);
          const after = await until(
            'a new leader after the kill',
            async () => {
              const x = await leaderAmong(others);
              return x && x.v.term > cur.v.term ? x : null;
            },
            20_000,
          );
          console.log(`raft-netns: new leader ${Math.round(rec.now() - tKill)} ms after SIGKILL`);
          expect(after.i).not.toBe(victim);
          await until('writes after the kill', async () => rec.ackedWritesSince(tKill) >= 20);
          await until('the killed daemon to exit', async () => !alive(sw.pids[victim]!), 10_000);
          await start(victim);
          const tRestart = rec.now();
          await until('writes after the restart', async () => rec.ackedWritesSince(tRestart) >= 20);
        } finally {
          await load2.stop();
        }
        await until('convergence after the restart', () => converged(api), 30_000);
        await expectSameStoreWithAcked(rec);

        expect(rec.completedContended()).toBeGreaterThan(100);
        const lin = checkLinearizable(rec.history);
        expect(lin.verdict, describeLinearizability(lin)).toBe('ok');
        console.log(`raft-netns: ${describeLinearizability(lin)}, ${rec.acked.size} fresh keys acknowledged`);

        for (let i = 0; i < 3; i++) {
          const r = await sw.swarm(i, ['node', 'stop']);
          expect(r.code).toBe(0);
        }
      } finally {
        cleanup();
      }
    },
    150_000,
  );
  // A link whose peer vanished mid-send stays "open" while the kernel retransmits with exponential
  // back-off: after a 15 s partition the next retransmission is ~10 s after the heal (up to 2 min after
  // longer ones). RaftComponent redials a peer it has not heard from for an election timeout
  // (TcpTransport.reset), so the old leader hears the new one within a couple of seconds of the heal.
  const bugTitle =
    'after a 15 s partition heals, the old leader follows the new one within 6 s (stalled TCP links are redialled)';
  it.skipIf(skipReason !== null)(
    netnsTitle(bugTitle, skipReason),
    async () => {
      try {
        const { first } = await startSwarm();
        const old = first.i;
        const { next } = await partitionLeader(first);
        // Long enough for the retransmission back-off of the new leader's heartbeats to exceed any redial delay.
        await new Promise((r) => setTimeout(r, 15_000));
        lab.heal(old);
        const tHeal = Date.now();
        await new Promise((r) => setTimeout(r, 1000));
        // Evidence for the failure message: a stalled link shows unacknowledged bytes (Send-Q) and a retransmit timer.
        const sockets = execFileSync('ip', ['netns', 'exec', lab.ns[next.i]!, 'ss', '-tnoi']).toString();
        await until(
          'the old leader to follow the new leader',
          async () => {
            const v = await getJson<LeaderView>(`${api[old]}/v1/leader`);
            return v?.leader === next.v.self && v.role === 'follower';
          },
          90_000,
        );
        const rejoinMs = Date.now() - tHeal;
        console.log(`raft-netns: old leader rejoined ${rejoinMs} ms after the heal`);
        // Heartbeats every 100 ms, silent links redialled every election timeout (1 s): a few seconds at most.
        expect(rejoinMs, `the new leader's TCP sockets 1 s after the heal:\n${sockets}`).toBeLessThan(6_000);
      } finally {
        cleanup();
      }
    },
    180_000,
  );
});
