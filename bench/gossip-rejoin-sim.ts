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
import { restartOnce } from '../src/sim/gossip/workloads.js';

const [seedsArg, lossArg, deltaArg, bumpsArg] = process.argv.slice(2);
const SEEDS = Number(seedsArg ?? 100);
const LOSS = Number(lossArg ?? 0.01);
const DELTA = Number(deltaArg ?? 5);
const BUMPS = (bumpsArg ?? '5,30,400').split(',').filter(Boolean).map(Number);
/** restartOnce's swarm size. */
const NODES = 25;

function trial(seed: number): number {
  return restartOnce(seed, LOSS, DELTA, BUMPS);
}

const res: number[] = [];
for (let seed = 1; seed <= SEEDS; seed++) res.push(trial(seed));
res.sort((a, b) => a - b);
const q = (p: number): number => res[Math.min(res.length - 1, Math.floor(p * res.length))]!;
console.log(
  `nodes=${NODES} seeds=${SEEDS} loss=${LOSS} delta=${DELTA} bumps=[${BUMPS.join(' ')}]: ` +
    `restart -> alive everywhere median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${res[res.length - 1]} ms`,
);
