/**
 * The restart of bench/gossip-rejoin-live.ts in the simulator, over the
 * production gossip core (by hand, seconds, no network):
 *
 *   npx tsx bench/gossip-rejoin-sim.ts [seeds=100] [loss=0.01] [delta=5] [bumps=5,30,400]
 *
 * 25 members at the daemons' gossip settings (`[gossip] interval_ms = 1000`,
 * `ttl = 3`), 1-2 ms links. Member n1 bumps its record 10 times, is killed,
 * and restarts once every other view holds it dead, joining through n0 alone,
 * with a start incarnation `delta` from its old life's (negative: below, as on
 * a device without a clock or after a crash loop); the restarted member
 * re-publishes its record at `bumps` ms after its start (a daemon's API
 * address, Raft address and role; "" for none). Prints the virtual time from
 * the restart until every other view holds it alive above its old life:
 * median, p90 and max over the seeds.
 */
import { MemberStatus } from '../src/gossip/messages.js';
import { GossipSim } from '../src/sim/gossip/driver.js';

const [seedsArg, lossArg, deltaArg, bumpsArg] = process.argv.slice(2);
const SEEDS = Number(seedsArg ?? 100);
const LOSS = Number(lossArg ?? 0.01);
const DELTA = Number(deltaArg ?? 5);
const BUMPS = (bumpsArg ?? '5,30,400').split(',').filter(Boolean).map(Number);
const NODES = 25;

function trial(seed: number): number {
  const sim = new GossipSim({
    seed,
    link: { latencyMs: 1, jitterMs: 1, loss: LOSS, duplicate: 0 },
    config: { gossipIntervalMs: 1000, retransmitMult: 3 },
  });
  const ids = sim.bootstrap(NODES);
  sim.run(5000);
  sim.with('n1', (c, now) => {
    for (let i = 0; i < 10; i++) c.updateMeta({ api: `127.0.0.1:${i}` }, now);
  });
  sim.run(15_000);
  const old = sim.node('n0').member('n1')!.incarnation;
  sim.kill('n1');
  const others = ids.filter((i) => i !== 'n1');
  const tk = sim.now;
  for (let t = tk; t < tk + 60_000; t += 50) {
    sim.run(t);
    if (others.every((v) => sim.node(v).member('n1')?.status === MemberStatus.Dead)) break;
  }
  sim.run(sim.now + 500);
  const t0 = sim.now;
  sim.addNode('n1', { seeds: ['n0'], incarnation: old + DELTA });
  const pending = [...BUMPS];
  for (let t = t0 + 5; t <= t0 + 30_000; t += 5) {
    sim.run(t);
    while (pending.length > 0 && t - t0 >= pending[0]!) {
      const b = pending.shift()!;
      sim.with('n1', (c, now) => c.updateMeta({ api: `127.0.0.1:${1000 + b}` }, now));
    }
    const done = others.every((v) => {
      const m = sim.node(v).member('n1');
      return m !== undefined && m.status === MemberStatus.Alive && m.incarnation > old;
    });
    if (done) return t - t0;
  }
  return Infinity;
}

const res: number[] = [];
for (let seed = 1; seed <= SEEDS; seed++) res.push(trial(seed));
res.sort((a, b) => a - b);
const q = (p: number): number => res[Math.min(res.length - 1, Math.floor(p * res.length))]!;
console.log(
  `nodes=${NODES} seeds=${SEEDS} loss=${LOSS} delta=${DELTA} bumps=[${BUMPS.join(' ')}]: ` +
    `restart -> alive everywhere median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${res[res.length - 1]} ms`,
);
