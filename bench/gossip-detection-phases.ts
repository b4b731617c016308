/**
 * Where the time from a crash to "dead everywhere" goes, in the simulator
 * (by hand, seconds, no network), phase by phase as
 * `gossip-rejoin-live.ts --trace` times them on real daemons:
 *
 *   npx tsx bench/gossip-detection-phases.ts [seeds=40] [loss=0.01] [--daemon-config] [--kills=1]
 *
 * 25 members, 1-2 ms links; one member crashes 20 s after bootstrap. From
 * the core's failure-detection milestones (GossipNode.setTrace) and events,
 * exact in simulated time: the victim's first probe, first failed probe,
 * first suspicion, the first declarer's suspicion start and confirmations,
 * its declaration, and the last survivor's `dead`. `--daemon-config` uses the
 * seed config's `[gossip] interval_ms = 1000`, `ttl = 3` (what the daemon
 * runs before the adaptive controller moves the interval). `--kills=K` kills
 * K members one after another, each 3.5 s after the previous one was dead
 * everywhere (as the real-daemon bench does: there the victim restarts and
 * the swarm settles 3 s), and reports the first kills and the later ones
 * apart: what one failure leaves behind (probers' health scores) slows the
 * detection of the next.
 */
import type { GossipConfig } from '../src/gossip/types.js';
import { GossipSim } from '../src/sim/gossip/driver.js';

const args = process.argv.slice(2);
const [seedsArg, lossArg] = args.filter((a) => !a.startsWith('--'));
const SEEDS = Number(seedsArg ?? 40);
const LOSS = Number(lossArg ?? 0.01);
const config: Partial<GossipConfig> = args.includes('--daemon-config')
  ? { gossipIntervalMs: 1000, retransmitMult: 3 }
  : {};
const KILLS = Number(args.find((a) => a.startsWith('--kills='))?.slice('--kills='.length) ?? 1);
const NODES = 25;
/** Between one victim dead everywhere and the next kill (the real bench: restart, then 3 s). */
const GAP_MS = 3500;

interface Phases {
  firstProbe: number;
  firstFail: number;
  firstSuspect: number;
  declarerSuspect: number;
  secondConfirm: number;
  firstDead: number;
  lastDead: number;
}

function trial(seed: number): Phases[] {
  const sim = new GossipSim({ seed, link: { latencyMs: 1, jitterMs: 1, loss: LOSS, duplicate: 0 }, config });
  const ids = sim.bootstrap(NODES);
  sim.run(20_000);
  let victim = '';
  let t0 = 0;
  let probes: number[] = [];
  let fails: number[] = [];
  let suspectAt = new Map<string, number>();
  let confirms = new Map<string, number[]>();
  let deadAt = new Map<string, { at: number; self: boolean }>();
  for (const id of ids) {
    sim.with(id, (c) =>
      c.setTrace((t) => {
        if (t.target !== victim) return;
        if (t.kind === 'probe') probes.push(sim.now - t0);
        else if (t.kind === 'probe-failed') fails.push(sim.now - t0);
        else if (t.kind === 'suspect-confirmed')
          confirms.set(id, [...(confirms.get(id) ?? []), sim.now - t0]);
      }),
    );
  }
  sim.onEvent((id, ev, now) => {
    if (ev.type === 'member-suspect' && ev.member.id === victim && !suspectAt.has(id))
      suspectAt.set(id, now - t0);
    if (ev.type === 'member-dead' && ev.member.id === victim && !deadAt.has(id))
      deadAt.set(id, { at: now - t0, self: ev.from === id });
  });
  const out: Phases[] = [];
  for (let k = 0; k < KILLS; k++) {
    victim = `n${3 + k}`;
    probes = [];
    fails = [];
    suspectAt = new Map();
    confirms = new Map();
    deadAt = new Map();
    t0 = sim.now;
    sim.kill(victim);
    const survivors = NODES - 1 - k;
    for (let t = t0 + 50; t <= t0 + 60_000 && deadAt.size < survivors; t += 50) sim.run(t);
    const declarers = [...deadAt].filter(([, d]) => d.self).sort((a, b) => a[1].at - b[1].at);
    const first = declarers[0];
    const min = (xs: number[]): number => (xs.length === 0 ? NaN : Math.min(...xs));
    out.push({
      firstProbe: min(probes),
      firstFail: min(fails),
      firstSuspect: min([...suspectAt.values()]),
      declarerSuspect: first ? (suspectAt.get(first[0]) ?? NaN) : NaN,
      secondConfirm: first ? (confirms.get(first[0])?.[1] ?? NaN) : NaN,
      firstDead: first ? first[1].at : NaN,
      lastDead: deadAt.size === survivors ? Math.max(...[...deadAt.values()].map((d) => d.at)) : Infinity,
    });
    sim.run(sim.now + GAP_MS);
  }
  return out;
}

const all: Phases[][] = [];
for (let seed = 1; seed <= SEEDS; seed++) all.push(trial(seed));
const report = (label: string, runs: Phases[]): void => {
  const stat = (f: (p: Phases) => number): string => {
    const s = runs
      .map(f)
      .filter((x) => !Number.isNaN(x))
      .sort((a, b) => a - b);
    const q = (p: number): string => (s[Math.min(s.length - 1, Math.floor(s.length * p))]! / 1000).toFixed(2);
    return `median ${q(0.5)} s, p10 ${q(0.1)}, p90 ${q(0.9)}, min ${q(0)}, max ${q(1)} (n=${s.length})`;
  };
  console.log(`${label}:`);
  console.log(`first probe of the victim:        ${stat((p) => p.firstProbe)}`);
  console.log(`first failed probe:               ${stat((p) => p.firstFail)}`);
  console.log(`first suspect:                    ${stat((p) => p.firstSuspect)}`);
  console.log(`first declarer's suspicion start: ${stat((p) => p.declarerSuspect)}`);
  console.log(`first declarer's 2nd confirmation:${stat((p) => p.secondConfirm)}`);
  console.log(`first declarer's suspicion length:${stat((p) => p.firstDead - p.declarerSuspect)}`);
  console.log(`first declared dead:              ${stat((p) => p.firstDead)}`);
  console.log(`spread (last - first declared):   ${stat((p) => p.lastDead - p.firstDead)}`);
  console.log(`dead everywhere:                  ${stat((p) => p.lastDead)}`);
};
console.log(
  `nodes=${NODES} seeds=${SEEDS} loss=${LOSS} kills=${KILLS}${args.includes('--daemon-config') ? ' daemon-config' : ''}`,
);
report(
  'first kill',
  all.map((r) => r[0]!),
);
if (KILLS > 1)
  report(
    'later kills',
    all.flatMap((r) => r.slice(1)),
  );
