/**
 * How fast full members that missed a graceful leave learn it (the simulator's gossip-leave
 * workload: an observer leaves 3 full members and 2 swarm_lite-like observers, every link lossy).
 * Not part of `bench/run.ts`. Per seed where a full member missed the leave, the time from the
 * leave until every full member holds it `left`, sampled every 250 ms, capped at 40 s.
 *
 *   npx tsx bench/gossip-leave-repair.ts [seeds=2000] [loss=0.2]
 */
import { MemberStatus } from '../src/gossip/messages.js';
import { GossipSim, sharedView } from '../src/sim/gossip/driver.js';
import { swarmLiteOutgoing } from '../src/sim/gossip/workloads.js';

const seeds = Number(process.argv[2] ?? 2000);
const loss = Number(process.argv[3] ?? 0.2);
const full = ['py0', 'py1', 'py2'];
const ids = [...full, 'esp0', 'esp1', 'leaver'];
const view = sharedView(ids, (id) => (id.startsWith('py') ? 'standard' : 'minimal'));
const times: number[] = [];
let missed = 0;
for (let seed = 1; seed <= seeds; seed++) {
  const sim = new GossipSim({
    seed,
    link: { latencyMs: 1, jitterMs: 2, loss, duplicate: 0 },
    config: { gossipIntervalMs: 1000, retransmitMult: 3 },
    outgoing: swarmLiteOutgoing((id) => id.startsWith('esp')),
  });
  for (const id of ids) sim.addNode(id, { view, deviceClass: id.startsWith('py') ? 'standard' : 'minimal' });
  sim.run(5000);
  // As leaveRun: the full members' adaptive controller in aggressive mode.
  for (const id of full) sim.with(id, (c) => c.setParams({ intervalMs: 500, fanout: 5 }));
  sim.run(15_000);
  sim.leave('leaver');
  sim.kill('leaver');
  sim.run(15_010);
  const left = (id: string): boolean => sim.node(id).member('leaver')?.status === MemberStatus.Left;
  missed += full.filter((id) => !left(id)).length;
  if (full.every(left)) continue;
  let t = 15_010;
  while (!full.every(left) && t < 55_000) sim.run((t += 250));
  times.push(t - 15_000);
}
times.sort((a, b) => a - b);
const q = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0;
const mean = times.length === 0 ? 0 : Math.round(times.reduce((a, b) => a + b, 0) / times.length);
process.stdout.write(
  `loss ${loss}, ${seeds} seeds: full members without the leave 10 ms after it: ${missed} of ${3 * seeds}; ` +
    `seeds with one: ${times.length}; ms until all hold it left: mean ${mean} p50 ${q(0.5)} p90 ${q(0.9)} ` +
    `max ${times[times.length - 1] ?? 0}; over 15 s: ${times.filter((x) => x > 15_000).length}; ` +
    `not within 40 s: ${times.filter((x) => x >= 40_000).length}\n`,
);
