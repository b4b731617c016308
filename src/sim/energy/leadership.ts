/**
 * Energy-aware leadership over the real cores: gossip (GossipSim, which
 * carries each member's energy summary in its metadata exactly as the daemon
 * publishes it), Raft (RaftNode voters on an in-memory link) and, per node,
 * the energy monitor, the republish policy, the power mode and the
 * leadership advisor, wired as src/node/energy-component.ts wires them.
 *
 * The scenario is node-swarm-idle's emergency part: every member runs on
 * mains, then at `switchAt` all batteries drop at once to `batteryPercent`
 * (a power cut on a shared supply). Each node notices on its own next energy
 * sample and republishes; the others learn of it only when gossip brings the
 * record, so for a while a leader sees peers on mains that are not. A run is
 * a pure function of its seed.
 */
import { createRng, type Rng } from '../../common/rng.js';
import { defaultConfig } from '../../config/index.js';
import { EnergyMonitor, type EnergyReadings } from '../../energy/monitor.js';
import { energyConfigFromSections } from '../../energy/config.js';
import {
  LEADERSHIP_DEFAULTS,
  LeadershipAdvisor,
  type LeadershipConfig,
  type VoterEnergy,
  electionTimeoutMultiplier,
} from '../../energy/leadership.js';
import { POWER_MODE_STRETCH, type PowerMode, nextPowerMode } from '../../energy/power-mode.js';
import { shouldRepublish } from '../../energy/republish.js';
import { type EnergyMeta, fromEnergyMeta, toEnergyMeta } from '../../energy/summary.js';
import {
  AdaptiveGossipController,
  type AdaptiveInputs,
  adaptiveConfigFromSections,
  energyInputsFromMeta,
} from '../../gossip/adaptive.js';
import { MemberStatus } from '../../gossip/messages.js';
import type { GossipConfig } from '../../gossip/types.js';
import type { RaftMessage } from '../../raft/messages.js';
import { RaftNode } from '../../raft/raft-node.js';
import { GossipSim } from '../gossip/driver.js';
import type { LinkModel } from '../network.js';

export interface EnergyLeadershipSimOptions {
  readonly seed: number;
  /** Gossip members; the first `voters` of them are the Raft voters. */
  readonly members?: number;
  readonly voters?: number;
  /** When every battery drops (ms). */
  readonly switchAt?: number;
  readonly batteryPercent?: number;
  /** End of the run (ms). */
  readonly until?: number;
  /** Energy sampling interval in normal mode (the daemon's collection_interval_ms). */
  readonly sampleIntervalMs?: number;
  readonly advisor?: Partial<LeadershipConfig>;
  readonly gossipLink?: LinkModel;
  /** Whose supply fails: every member's (a shared supply), or only the leader's at the switch. */
  readonly who?: 'all' | 'leader';
}

export interface LeaderChange {
  readonly t: number;
  readonly from: string | null;
  readonly to: string;
}

export interface EnergyLeadershipSimResult {
  /** Leader changes seen (polled every 10 ms), after the first leader. */
  readonly changes: readonly LeaderChange[];
  /** Energy-aware transfers started: when, by whom, to whom, why. */
  readonly transfers: readonly { t: number; from: string; to: string; reason: string }[];
  /** The leader when the batteries dropped. */
  readonly leaderAtSwitch: string | null;
  /** Per voter: when every other voter's critical record had reached it (ms after the switch). */
  readonly votersCaughtUpMs: readonly number[];
  /** Raft messages by type sent from each transfer's start until the new leader's first heartbeat round. */
  readonly transferMessages: Readonly<Record<string, number>>;
  /** Per transfer: ms from its start until the new leader leads (no leader accepts writes meanwhile). */
  readonly pausesMs: readonly number[];
}

const THRESHOLDS = { lowPowerThresholdPercent: 30, criticalThresholdPercent: 10 };
const DEFAULTS = defaultConfig();
/**
 * The daemon's gossip core settings (gossip-component.ts coreConfigFromSections, default config):
 * a 1 s round, fanout 3, ttl 3; in emergency the adaptive controller makes that 4 s, fanout 1.
 */
const DAEMON_GOSSIP: Partial<GossipConfig> = {
  gossipIntervalMs: DEFAULTS.gossip.interval_ms,
  fanout: DEFAULTS.gossip.fanout,
  retransmitMult: DEFAULTS.gossip.ttl,
  antiEntropyIntervalMs: DEFAULTS.gossip.anti_entropy_interval_ms,
  messageCacheSize: DEFAULTS.gossip.message_cache_size,
  announceIntervalMs: 0,
};

interface SimEnergyNode {
  readonly id: string;
  readonly monitor: EnergyMonitor;
  readonly advisor: LeadershipAdvisor;
  mode: PowerMode;
  readonly adaptive: AdaptiveGossipController;
  probeScale: number;
  nextSampleAt: number;
  published: EnergyMeta | null;
  publishedAt: number | null;
  electionScale: number;
}

export function runEnergyLeadershipSim(o: EnergyLeadershipSimOptions): EnergyLeadershipSimResult {
  const members = o.members ?? 25;
  const voterCount = o.voters ?? 5;
  const switchAt = o.switchAt ?? 90_000;
  const pct = o.batteryPercent ?? 5;
  const until = o.until ?? switchAt + 90_000;
  const interval = o.sampleIntervalMs ?? 1000;
  const rng: Rng = createRng(o.seed);
  const gossip = new GossipSim({
    seed: o.seed,
    config: DAEMON_GOSSIP,
    ...(o.gossipLink ? { link: o.gossipLink } : {}),
  });
  const ids = gossip.bootstrap(members);
  const voters = ids.slice(0, voterCount);

  const energy = new Map<string, SimEnergyNode>(
    ids.map((id) => [
      id,
      {
        id,
        monitor: new EnergyMonitor(energyConfigFromSections({ node: { device_class: 'standard' } })),
        advisor: new LeadershipAdvisor({ ...LEADERSHIP_DEFAULTS, ...THRESHOLDS, ...o.advisor }),
        mode: 'normal' as PowerMode,
        adaptive: new AdaptiveGossipController(adaptiveConfigFromSections(DEFAULTS)),
        probeScale: 1,
        // Samples are not aligned across nodes: each daemon started its timer at its own moment.
        nextSampleAt: Math.floor(rng.next() * interval),
        published: null,
        publishedAt: null,
        electionScale: 1,
      },
    ]),
  );
  const who = o.who ?? 'all';
  let leaderAtSwitch: string | null = null;
  const readings = (id: string, now: number): EnergyReadings =>
    now < switchAt || (who === 'leader' && id !== leaderAtSwitch)
      ? { cpuUtilisation: 0.05, battery: { percent: 100, status: 'full' }, mainsOnline: true }
      : { cpuUtilisation: 0.05, battery: { percent: pct, status: 'discharging' }, mainsOnline: false };

  const raft = new Map(
    voters.map((id) => [
      id,
      new RaftNode(
        {
          id,
          electionTimeoutMinMs: 1500,
          electionTimeoutMaxMs: 3000,
          heartbeatIntervalMs: 500,
          rng: rng.fork(),
        },
        { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
        { voters, learners: [] },
      ),
    ]),
  );
  const inflight: { at: number; msg: RaftMessage }[] = [];
  const transferMessages: Record<string, number> = {};
  const pausesMs: number[] = [];
  /** The transfer under way: its start and the leader it left. */
  let pending = null as { t: number; from: string } | null;
  const flush = (now: number): void => {
    for (const n of raft.values()) {
      while (n.hasReady()) {
        const rd = n.ready();
        for (const m of rd.messages) {
          inflight.push({ at: now + 1 + Math.floor(rng.next() * 5), msg: m });
          if (pending !== null) transferMessages[m.type] = (transferMessages[m.type] ?? 0) + 1;
        }
        n.advance(rd);
      }
    }
  };

  // Who saw each voter's critical record, and when.
  const seenCritical = new Map<string, Map<string, number>>(voters.map((v) => [v, new Map()]));
  const changes: LeaderChange[] = [];
  const transfers: { t: number; from: string; to: string; reason: string }[] = [];
  let leader: string | null = null;

  /** gossip-component.ts adapt(): the adaptive controller's parameters applied to the core. */
  const adapt = (e: SimEnergyNode, energySample: boolean): void => {
    const ctl = e.adaptive;
    gossip.with(e.id, (core, now) => {
      if (!energySample && !ctl.due(now)) return;
      const st = core.stats();
      // AdaptiveInputs' names are GossipStats' own: the stats and the energy make the inputs.
      const inputs: AdaptiveInputs = { ...st, ...energyInputsFromMeta(e.published) };
      const p = energySample ? ctl.energySample(now, inputs) : ctl.evaluate(now, inputs);
      if (p.intervalMs !== st.intervalMs || p.fanout !== st.fanout || p.intervalMultiplier !== e.probeScale) {
        e.probeScale = p.intervalMultiplier;
        core.setParams({ intervalMs: p.intervalMs, fanout: p.fanout, probeScale: p.intervalMultiplier });
      }
    });
  };

  const sample = (e: SimEnergyNode, now: number): void => {
    e.monitor.sample(now, readings(e.id, now));
    const s = e.monitor.summary();
    e.mode = nextPowerMode(e.mode, s, { ...THRESHOLDS, marginPercent: 5 });
    e.nextSampleAt = now + interval * POWER_MODE_STRETCH[e.mode];
    if (s === null) return;
    const next = toEnergyMeta(s);
    if (shouldRepublish(e.published, e.publishedAt, next, now)) {
      gossip.with(e.id, (core, t) => core.updateMeta({ ...next }, t));
      e.published = next;
      e.publishedAt = now;
      // The adaptive controller applies an energy emergency at once (gossip-component setLocalMeta).
      adapt(e, true);
    } else adapt(e, false);
    const r = raft.get(e.id);
    if (r === undefined) return;
    // energy-component.ts actOnLeadership, on the simulated cores.
    const scale = electionTimeoutMultiplier(s, e.advisor.config);
    if (scale !== e.electionScale) {
      e.electionScale = scale;
      r.setElectionTimeoutScale(scale);
    }
    e.advisor.observe(now, s);
    const st = r.status();
    if (st.role !== 'leader') return;
    const view = new Map(
      gossip
        .node(e.id)
        .members()
        .map((m) => [m.id, m]),
    );
    const vs: VoterEnergy[] = [];
    for (const id of st.conf.voters) {
      const m = view.get(id);
      if (id === e.id || m === undefined || m.status !== MemberStatus.Alive) continue;
      vs.push({ id, summary: fromEnergyMeta(m.meta) });
    }
    const advice = e.advisor.check(now, s, vs, st.term);
    if (advice === null) return;
    if (r.transferLeadership(advice.target, now).ok) {
      pending = { t: now, from: e.id };
      transfers.push({ t: now, from: e.id, to: advice.target, reason: advice.reason });
      flush(now);
    }
  };

  for (let now = 0; now <= until; now += 5) {
    gossip.run(now);
    const due = inflight.filter((x) => x.at <= now);
    if (due.length > 0) {
      for (const x of due) raft.get(x.msg.to)?.step(x.msg, now);
      inflight.splice(0, inflight.length, ...inflight.filter((x) => x.at > now));
    }
    if (now % 10 === 0) for (const n of raft.values()) n.tick(now);
    flush(now);
    for (const e of energy.values()) if (now >= e.nextSampleAt) sample(e, now);
    if (now % 10 === 0) {
      const l = voters.find((id) => raft.get(id)!.status().role === 'leader') ?? null;
      // Counted until one heartbeat interval after the new leader took office (its first round).
      if (pending !== null && l !== null && l !== pending.from) {
        if (pausesMs.length < transfers.length) pausesMs.push(now - pending.t);
        if (now - pending.t - (pausesMs[pausesMs.length - 1] ?? 0) >= 500) pending = null;
      }
      if (l !== null && l !== leader) {
        changes.push({ t: now, from: leader, to: l });
        leader = l;
      }
      if (now < switchAt) leaderAtSwitch = leader;
    }
    if (now >= switchAt && now % 100 === 0) {
      for (const v of voters) {
        const view = gossip.node(v).members();
        for (const m of view) {
          if (!voters.includes(m.id) || m.id === v) continue;
          if (m.meta.powerState === 'critical' && !seenCritical.get(v)!.has(m.id))
            seenCritical.get(v)!.set(m.id, now - switchAt);
        }
      }
    }
  }
  const votersCaughtUpMs = voters.map((v) => {
    const m = seenCritical.get(v)!;
    return m.size === voters.length - 1 ? Math.max(...m.values()) : Infinity;
  });
  return {
    changes: changes.filter((c) => c.from !== null),
    transfers,
    leaderAtSwitch,
    votersCaughtUpMs,
    transferMessages,
    pausesMs,
  };
}
