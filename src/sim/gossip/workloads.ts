/**
 * Seeded gossip workloads shared by the benchmarks and the long-mode tests.
 * Each returns plain numbers; timing of the host machine never enters them.
 */
import type { GossipMessage, MemberId, MemberUpdate } from '../../gossip/messages.js';
import type { GossipConfig } from '../../gossip/types.js';
import { MemberStatus } from '../../gossip/messages.js';
import { GossipSim, sharedView } from './driver.js';

export interface BroadcastWorkloadOptions {
  readonly seed: number;
  readonly nodes?: number;
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  readonly loss?: number;
  readonly opsPerS?: number;
  readonly durationMs?: number;
  /** Cut the swarm in two halves from `atMs` to `healMs` (relative to the workload start). */
  readonly partition?: { readonly atMs: number; readonly healMs: number };
  readonly config?: Partial<GossipConfig>;
  readonly sizeOf?: (msg: GossipMessage) => number;
}

export interface BroadcastWorkloadResult {
  ops: number;
  /** Every message any node sent during the workload (probes included), per operation. */
  msgsPerOp: number;
  /** Only event traffic (ev-push, ihave, graft, event anti-entropy is in pp-*), per operation. */
  eventMsgsPerOp: number;
  /** Per op: time until the last node delivered it. */
  medianMs: number;
  p99Ms: number;
  maxMs: number;
  /** Ops every node delivered by the end. */
  completeOps: number;
  /** After the partition healed: time until every node had every op, ms after the heal (null if never). */
  convergedAfterHealMs: number | null;
  bytesPerNodePerS: number;
  byType: Record<string, number>;
}

/** The Maelstrom / Gossip Glomers broadcast workload on the gossip core. */
export function broadcastWorkload(o: BroadcastWorkloadOptions): BroadcastWorkloadResult {
  const n = o.nodes ?? 25;
  const opsPerS = o.opsPerS ?? 100;
  const duration = o.durationMs ?? 20_000;
  const sim = new GossipSim({
    seed: o.seed,
    link: { latencyMs: o.latencyMs ?? 100, jitterMs: o.jitterMs ?? 0, loss: o.loss ?? 0, duplicate: 0 },
    ...(o.config === undefined ? {} : { config: o.config }),
    ...(o.sizeOf === undefined ? {} : { sizeOf: o.sizeOf }),
  });
  const ids = sim.bootstrap(n);
  const sentAt = new Map<string, number>();
  const count = new Map<string, number>();
  const doneAt = new Map<string, number>();
  sim.onEvent((_id, ev, now) => {
    if (ev.type !== 'user-event') return;
    const k = `${ev.event.origin}:${ev.event.seq}`;
    const c = (count.get(k) ?? 0) + 1;
    count.set(k, c);
    if (c === n) doneAt.set(k, now);
  });
  const warm = 3000;
  sim.run(warm);
  const m0 = sim.traffic.messages;
  const b0 = sim.traffic.bytes;
  const t0 = { ...sim.traffic.byType };
  const rng = { x: o.seed >>> 0 };
  const nextRand = (): number => {
    rng.x = (Math.imul(rng.x, 1664525) + 1013904223) >>> 0;
    return rng.x / 4294967296;
  };
  const ops = Math.round((opsPerS * duration) / 1000);
  let healAt = Infinity;
  for (let i = 0; i < ops; i++) {
    const at = warm + (i * 1000) / opsPerS + nextRand() * (1000 / opsPerS);
    if (o.partition !== undefined) {
      if (sim.now < warm + o.partition.atMs && at >= warm + o.partition.atMs) {
        sim.run(warm + o.partition.atMs);
        sim.net.partition([ids.slice(0, Math.floor(n / 2))]);
      }
      if (sim.now < warm + o.partition.healMs && at >= warm + o.partition.healMs) {
        sim.run(warm + o.partition.healMs);
        sim.net.heal();
        healAt = sim.now;
      }
    }
    sim.run(at);
    const origin: MemberId = ids[Math.floor(nextRand() * n)]!;
    sim.with(origin, (c, now) => {
      const e = c.broadcast('b', new Uint8Array([i & 255, (i >> 8) & 255, 0, 0, 0, 0, 0, 1]), now);
      sentAt.set(`${e.origin}:${e.seq}`, now);
    });
  }
  const end = warm + duration;
  sim.run(end);
  const msgs = sim.traffic.messages - m0;
  const bytes = sim.traffic.bytes - b0;
  const byType: Record<string, number> = {};
  for (const [k, v] of Object.entries(sim.traffic.byType)) byType[k] = v - (t0[k] ?? 0);
  // Let stragglers (partition repairs) finish; their latency still counts from the send.
  sim.run(end + 60_000);
  const lat: number[] = [];
  for (const [k, t] of sentAt) {
    const d = doneAt.get(k);
    if (d !== undefined) lat.push(d - t);
  }
  lat.sort((a, b) => a - b);
  const eventTypes = ['ev-push', 'ihave', 'graft', 'prune'];
  const eventMsgs = eventTypes.reduce((s, t) => s + (byType[t] ?? 0), 0);
  let converged: number | null = null;
  if (Number.isFinite(healAt) && lat.length === sentAt.size) {
    converged = Math.max(0, Math.max(...[...doneAt.values()]) - healAt);
  }
  return {
    ops,
    msgsPerOp: msgs / ops,
    eventMsgsPerOp: eventMsgs / ops,
    medianMs: lat[Math.floor(lat.length / 2)] ?? NaN,
    p99Ms: lat[Math.floor(lat.length * 0.99)] ?? NaN,
    maxMs: lat[lat.length - 1] ?? NaN,
    completeOps: lat.length,
    convergedAfterHealMs: converged,
    bytesPerNodePerS: bytes / n / (duration / 1000),
    byType,
  };
}

export interface MembershipRunOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  readonly loss?: number;
  /** Fraction of members that must know, 0.9999 by default. */
  readonly quorum?: number;
  readonly config?: Partial<GossipConfig>;
  readonly sizeOf?: (msg: GossipMessage) => number;
  /** Simulated time after the join and the crash, ms. */
  readonly observeMs?: number;
}

export interface MembershipRunResult {
  /** Joiner contacts a seed -> known to `quorum` of live members. */
  joinKnownMs: number | null;
  /** Crash -> first member declares it dead. */
  failureDetectMs: number | null;
  /** First declaration -> known dead to `quorum` of live members (the dissemination part). */
  failureSpreadMs: number | null;
  /** Crash -> known dead to `quorum` of live members. */
  failureKnownMs: number | null;
  /** Idle steady state before the events, per member. */
  idleBytesPerNodePerS: number;
  idlePacketsPerNodePerS: number;
  /** Over the observation window (join, crash, suspicion traffic). */
  bytesPerNodePerS: number;
  falseDead: number;
}

/** Join one member and crash another in a bootstrapped swarm; measure how fast everyone knows. */
export function membershipRun(o: MembershipRunOptions): MembershipRunResult {
  const sim = new GossipSim({
    seed: o.seed,
    link: { latencyMs: o.latencyMs ?? 10, jitterMs: o.jitterMs ?? 10, loss: o.loss ?? 0, duplicate: 0 },
    ...(o.config === undefined ? {} : { config: o.config }),
    ...(o.sizeOf === undefined ? {} : { sizeOf: o.sizeOf }),
  });
  const ids = sim.bootstrap(o.nodes);
  const warm = 5000;
  sim.run(2000);
  const idle0 = { m: sim.traffic.messages, b: sim.traffic.bytes };
  sim.run(warm);
  const idleS = (warm - 2000) / 1000;
  const idleBytes = (sim.traffic.bytes - idle0.b) / o.nodes / idleS;
  const idlePkts = (sim.traffic.messages - idle0.m) / o.nodes / idleS;
  const victim = ids[Math.floor(o.nodes / 2)]!;
  const q = o.quorum ?? 0.9999;
  const needJoin = Math.ceil(q * (o.nodes - 1));
  const needDead = Math.ceil(q * o.nodes);
  let joins = 0;
  let deads = 0;
  let firstDead: number | null = null;
  let joinKnown: number | null = null;
  let deadKnown: number | null = null;
  let falseDead = 0;
  sim.onEvent((_id, ev, now) => {
    if (ev.type === 'member-joined' && ev.member.id === 'joiner') {
      if (++joins >= needJoin && joinKnown === null) joinKnown = now;
    } else if (ev.type === 'member-dead') {
      if (ev.member.id !== victim) falseDead++;
      else {
        firstDead ??= now;
        if (++deads >= needDead && deadKnown === null) deadKnown = now;
      }
    }
  });
  const b0 = sim.traffic.bytes;
  const start = sim.now;
  sim.addNode('joiner', { seeds: [ids[0]!] });
  sim.kill(victim);
  const observe = o.observeMs ?? 30_000;
  sim.run(start + observe);
  const sub = (a: number | null): number | null => (a === null ? null : Math.round(a - start));
  return {
    joinKnownMs: sub(joinKnown),
    failureDetectMs: sub(firstDead),
    failureSpreadMs: deadKnown === null || firstDead === null ? null : Math.round(deadKnown - firstDead),
    failureKnownMs: sub(deadKnown),
    idleBytesPerNodePerS: idleBytes,
    idlePacketsPerNodePerS: idlePkts,
    bytesPerNodePerS: (sim.traffic.bytes - b0) / o.nodes / (observe / 1000),
    falseDead,
  };
}

export interface FalsePositiveResult {
  hours: number;
  falseDead: number;
  falseDeadPerHour: number;
  suspicions: number;
  refutations: number;
}

/** A healthy swarm on a lossy network: every `member-dead` is a false positive. */
export function falsePositiveRun(o: {
  seed: number;
  nodes: number;
  loss: number;
  hours: number;
  config?: Partial<GossipConfig>;
}): FalsePositiveResult {
  const sim = new GossipSim({
    seed: o.seed,
    link: { latencyMs: 10, jitterMs: 10, loss: o.loss, duplicate: 0 },
    ...(o.config === undefined ? {} : { config: o.config }),
  });
  const ids = sim.bootstrap(o.nodes);
  let dead = 0;
  let suspicions = 0;
  sim.onEvent((_id, ev) => {
    if (ev.type === 'member-dead') dead++;
    if (ev.type === 'member-suspect') suspicions++;
  });
  sim.run(o.hours * 3_600_000);
  const refutations = ids.reduce((s, id) => s + sim.node(id).stats().refutations, 0);
  return { hours: o.hours, falseDead: dead, falseDeadPerHour: dead / o.hours, suspicions, refutations };
}

/**
 * The Python original's scheme: every `intervalMs`, the full member table as
 * JSON to `fanout` peers. Its size comes from a realistic member record.
 */
export function pythonOriginalCost(
  nodes: number,
  fanout = 3,
  intervalMs = 1000,
): {
  messageBytes: number;
  bytesPerNodePerS: number;
  datagramsPerNodePerS: number;
  ipFragmentsPerNodePerS: number;
} {
  const record = {
    node_id: 'node-3f9a2c1e',
    name: 'raspberrypi-kitchen',
    address: '192.168.1.23',
    port: 5555,
    device_class: 'standard',
    status: 'alive',
    last_seen: 1732233600.123456,
    incarnation: 3,
    metadata: {
      api_port: 8080,
      raft_role: 'follower',
      power_watts: 3.42,
      battery_percent: 87.5,
      power_state: 'normal',
      energy_rating: 'A',
    },
  };
  const members: Record<string, unknown> = {};
  for (let i = 0; i < nodes; i++) members[`node-3f9a2c${(i + 16).toString(16)}`] = record;
  const msg = JSON.stringify({
    type: 'gossip',
    sender: 'node-3f9a2c1e',
    timestamp: 1732233600.5,
    ttl: 3,
    members,
  });
  const bytes = Buffer.byteLength(msg);
  const perS = (1000 / intervalMs) * fanout;
  return {
    messageBytes: bytes,
    bytesPerNodePerS: bytes * perS,
    datagramsPerNodePerS: perS,
    ipFragmentsPerNodePerS: perS * Math.ceil(bytes / 1472),
  };
}

/**
 * memberlist's LAN defaults, estimated: a probe (ping + ack, ~60 bytes each)
 * per second, plus a full-state push-pull (both directions, ~70 bytes per
 * member) every 30 s scaled by ceil(log2(N/32)) + 1 past 32 members.
 */
export function memberlistLanCost(nodes: number): number {
  const scale = nodes <= 32 ? 1 : Math.ceil(Math.log2(nodes) - Math.log2(32)) + 1;
  return 2 * 60 + (2 * 70 * nodes) / (30 * scale);
}

export interface LeaveRunOptions {
  readonly seed: number;
  /** Full members (they relay updates), besides the observers. */
  readonly fullNodes?: number;
  /** Observers (`minimal`) that stay, besides the one that leaves. */
  readonly observers?: number;
  /** Message loss on every link: the "lossy probes" that put the adaptive controller in aggressive mode. */
  readonly loss?: number;
  /** How long after the leave every member must hold it `left`, ms. */
  readonly withinMs?: number;
  readonly config?: Partial<GossipConfig>;
  /** The staying observers pass no update on, as swarm_lite's do (default true). */
  readonly sinkObservers?: boolean;
}

export interface LeaveRunResult {
  /** Per remaining member, the leaver's status it holds `withinMs` after the leave ("forgotten" if none). */
  readonly views: Record<MemberId, string>;
  /** Members that ever reported the leaver dead (an operator would have been paged for a planned leave). */
  readonly everDead: MemberId[];
  /** Members holding it `left` at the end. */
  readonly left: number;
  /**
   * Members that held it suspect or dead when it left (a false suspicion under loss that it had
   * not refuted yet): the leave reaches them like anyone, but they may call it dead before.
   */
  readonly suspectedBefore: MemberId[];
}

const STATUS_NAMES = ['alive', 'suspect', 'dead', 'left'] as const;

/**
 * An observer-like member (`minimal`, it sends its leave once and closes its socket at once, as
 * clients/python/swarm_lite.py does) leaves a small swarm whose probes are lossy, with the full
 * members' adaptive controller in aggressive mode (interval x0.5, fanout x1.5) as the daemons'
 * would be at that loss. Daemon defaults: gossip round 1 s, retransmit mult 3 (`[gossip] ttl`).
 */
export function leaveRun(o: LeaveRunOptions): LeaveRunResult {
  const full = o.fullNodes ?? 3;
  const obs = o.observers ?? 2;
  const sim = new GossipSim({
    seed: o.seed,
    link: { latencyMs: 1, jitterMs: 2, loss: o.loss ?? 0.2, duplicate: 0 },
    config: { gossipIntervalMs: 1000, retransmitMult: 3, ...o.config },
    ...(o.sinkObservers === false ? {} : { outgoing: swarmLiteOutgoing((id) => id.startsWith('esp')) }),
  });
  const ids = [
    ...Array.from({ length: full }, (_, i) => `py${i}`),
    ...Array.from({ length: obs }, (_, i) => `esp${i}`),
    'leaver',
  ];
  const view = sharedView(ids, (id) => (id.startsWith('py') ? 'standard' : 'minimal'));
  for (const id of ids) sim.addNode(id, { view, deviceClass: id.startsWith('py') ? 'standard' : 'minimal' });
  const everDead = new Set<MemberId>();
  let leftAt = Infinity;
  sim.onEvent((id, ev, now) => {
    // A lossy network may declare it dead before it leaves (it then refutes): not the leave's fault.
    if (ev.type === 'member-dead' && ev.member.id === 'leaver' && now >= leftAt) everDead.add(id);
  });
  sim.run(5000);
  // The daemons' adaptive controller at 20 % probe loss: aggressive (base interval 1 s, fanout 3).
  for (const id of ids)
    if (id.startsWith('py')) sim.with(id, (c) => c.setParams({ intervalMs: 500, fanout: 5 }));
  sim.run(15_000);
  leftAt = sim.now;
  const suspectedBefore = ids.filter((id) => {
    const st = id === 'leaver' ? undefined : sim.node(id).member('leaver')?.status;
    return st === MemberStatus.Suspect || st === MemberStatus.Dead;
  });
  sim.leave('leaver');
  sim.kill('leaver');
  sim.run(15_000 + (o.withinMs ?? 15_000));
  const views: Record<MemberId, string> = {};
  let left = 0;
  for (const id of ids) {
    if (id === 'leaver') continue;
    const st = sim.node(id).member('leaver')?.status;
    views[id] = st === undefined ? 'forgotten' : STATUS_NAMES[st];
    if (st === MemberStatus.Left) left++;
  }
  return { views, everDead: [...everDead], left, suspectedBefore };
}

/** What one seed of `leaveRun` says about the promise of a graceful leave. */
export interface LeaveVerdict {
  /**
   * The promise broken: a full member that held the leaver live when it left does not hold it
   * `left` 40 s later (a suspicion timeout with slack).
   */
  readonly broken: string[];
  /**
   * Wrong for a while, then right (or wrong before the leave already): a member held it suspect or
   * dead 15 s after the leave or declared it dead, because every leave, relay and answer to it was
   * lost, or it had suspected the leaver before it left (a false suspicion under loss).
   */
  readonly transient: string[];
}

/**
 * Checks one seed of `leaveRun`. A swarm_lite observer never suspects anyone (it does not probe):
 * only the full members' views are judged unless the observers are whole gossip cores.
 */
export function leaveCheck(seed: number, o: Omit<LeaveRunOptions, 'seed' | 'withinMs'> = {}): LeaveVerdict {
  const broken: string[] = [];
  const transient: string[] = [];
  const judged = (id: MemberId): boolean => o.sinkObservers === false || id.startsWith('py');
  const early = leaveRun({ ...o, seed, withinMs: 15_000 });
  for (const [id, st] of Object.entries(early.views))
    if (judged(id) && st !== 'left' && st !== 'alive')
      transient.push(`${id} holds it ${st} 15 s after the leave`);
  const late = leaveRun({ ...o, seed, withinMs: 40_000 });
  for (const [id, st] of Object.entries(late.views)) {
    if (!judged(id) || st === 'left') continue;
    if (late.suspectedBefore.includes(id))
      transient.push(`${id} suspected it before it left, holds it ${st} 40 s after`);
    else broken.push(`${id} holds it ${st} 40 s after the leave`);
  }
  for (const id of late.everDead) if (judged(id)) transient.push(`${id} declared it dead`);
  return { broken, transient };
}

/**
 * What a clients/python/swarm_lite.py observer sends, from what a `GossipNode` would: only news
 * about itself (its alive, its leave), its own record in push-pull answers, no anti-entropy of its
 * own. It still probes here (swarm_lite does not), which only adds ping-reqs the others answer.
 */
export function swarmLiteOutgoing(
  isObserver: (id: MemberId) => boolean,
): (from: MemberId, msg: GossipMessage) => GossipMessage | null {
  const own = (from: MemberId, us: readonly MemberUpdate[]): MemberUpdate[] =>
    us.filter((u) => (u.kind === 'alive' ? u.member.id : u.id) === from);
  return (from, msg) => {
    if (!isObserver(from)) return msg;
    switch (msg.type) {
      case 'gossip': {
        const updates = own(from, msg.updates);
        return updates.length === 0 ? null : { ...msg, updates, events: [] };
      }
      case 'ping':
      case 'ping-req':
      case 'ack':
        return { ...msg, updates: own(from, msg.updates) };
      case 'pp-digest':
        return msg.join ? msg : null;
      // Periodic anti-entropy only (swarm_lite.py sends no pp-sum).
      case 'pp-sum':
        return null;
      case 'pp-response':
        return { ...msg, members: msg.members.filter((r) => r.id === from) };
      default:
        return msg;
    }
  };
}

/**
 * One restart as bench/gossip-rejoin-live.ts does it on real daemons, in 25 members at the
 * daemons' gossip settings: the victim (whose old life bumped its record 10 times) is killed,
 * restarted once every other view holds it dead, with a start incarnation `delta` away from the
 * old life's, joining through n0 alone; the restarted daemon re-publishes its record at `bumps`
 * ms (API address, Raft address, role). Returns the virtual ms until every other view holds it
 * alive above the old life (Infinity past `limitMs`). bench/gossip-rejoin-sim.ts and
 * test/gossip/rejoin.test.ts.
 */
export function restartOnce(
  seed: number,
  loss: number,
  delta: number,
  bumps: readonly number[],
  limitMs = 30_000,
): number {
  const sim = new GossipSim({
    seed,
    link: { latencyMs: 1, jitterMs: 1, loss, duplicate: 0 },
    // The daemons' settings before the adaptive controller moves them: `interval_ms = 1000`, `ttl = 3`.
    config: { gossipIntervalMs: 1000, retransmitMult: 3 },
  });
  const ids = sim.bootstrap(25);
  sim.run(5000);
  sim.with('n1', (c, now) => {
    for (let i = 0; i < 10; i++) c.updateMeta({ api: `127.0.0.1:${i}` }, now);
  });
  sim.run(15_000);
  const old = sim.node('n0').member('n1')!.incarnation;
  sim.kill('n1');
  const others = ids.filter((i) => i !== 'n1');
  const t0 = sim.now;
  for (let t = t0; t < t0 + 60_000; t += 50) {
    sim.run(t);
    if (others.every((v) => sim.node(v).member('n1')?.status === MemberStatus.Dead)) break;
  }
  sim.run(sim.now + 500);
  const start = sim.now;
  sim.addNode('n1', { seeds: ['n0'], incarnation: old + delta });
  const pending = [...bumps];
  for (let t = start + 5; t <= start + limitMs; t += 5) {
    sim.run(t);
    while (pending.length > 0 && t - start >= pending[0]!) {
      const b = pending.shift()!;
      sim.with('n1', (c, now) => c.updateMeta({ api: `127.0.0.1:${1000 + b}` }, now));
    }
    const done = others.every((v) => {
      const m = sim.node(v).member('n1');
      return m !== undefined && m.status === MemberStatus.Alive && m.incarnation > old;
    });
    if (done) return t - start;
  }
  return Infinity;
}
