/**
 * The gossip core inside the daemon: a UDP transport, one timer armed at the
 * core's next deadline, the adaptive controller, and the membership published
 * to the rest of the node as a `PeerDirectory`.
 *
 * Why one timer at the core's deadline instead of a fixed poll: every wake-up
 * costs energy on a battery device, and the core knows exactly when it next has
 * work (probe period, probe timeouts, queued gossip, suspicion expiry). The
 * timer is re-armed whenever that deadline moves, later as well as earlier, so
 * an idle member wakes about once per probe period (measured: ~1.1/s).
 *
 * What a member advertises is read from the node's status (API and Raft
 * addresses, Raft role) at each wake-up, so the Raft component needs no call
 * into gossip; `setLocalMeta` adds what status does not carry (energy figures,
 * tags). Wildcard listeners are advertised under the gossip host. The first
 * incarnation is the start time in Unix seconds, so a restarted member
 * outranks its previous life without persisting a counter.
 */
import { randomBytes } from '../common/random.js';
import { SwarmError } from '../common/errors.js';
import { createRng } from '../common/rng.js';
import {
  AdaptiveGossipController,
  adaptiveConfigFromSections,
  type AdaptiveInputs,
  type AdaptiveParams,
  energyInputsFromMeta,
} from '../gossip/adaptive.js';
import {
  MemberStatus,
  type EventMark,
  type MemberMeta,
  type MemberRecord,
  type UserEvent,
} from '../gossip/messages.js';
import { GossipNode } from '../gossip/node.js';
import {
  DEFAULT_GOSSIP_CONFIG,
  type GossipConfig,
  type GossipEvent,
  type GossipStats,
  type GossipTrace,
  type PeerAddress,
} from '../gossip/types.js';
import { openGossipTransport, sendOutgoing } from '../net/runtime.js';
import type { RefusalCause } from '../net/refusals.js';
import type { UdpTransport } from '../net/udp.js';
import type { TransportStats } from '../net/wire.js';
import type { GossipMessage } from '../gossip/messages.js';
import { isWildcardHost, resolveAdvertiseHost } from './advertise.js';
import { ChoreSet, type Chore, type ChoreHost } from './chores.js';
import { loadGossipPeers, saveGossipPeers } from './gossip-peers-file.js';
import { ProbeWakeShare } from './wake-share.js';
import type { Logger } from './log.js';
import type { ComponentStatus, NodeComponent, SwarmNode } from './node.js';
import type { DeviceClass, PeerDirectory, PeerInfo, PeerStatus } from './peers.js';

/** How long a graceful leave keeps the socket open so the `left` update spreads. */
const LEAVE_LINGER_MS = 300;
/**
 * While alone with a join list, contact the seeds again this often: the core's
 * own retries give up after a few minutes, and a node started before its
 * seeds (or the last survivor of an outage) must still find the swarm later.
 */
const REJOIN_INTERVAL_MS = 60_000;
/** How late the runtime's own chores may run so that they share the core's wake-ups. */
const RUNTIME_SLACK_MS = 1500;
/**
 * Another component's wake-ups are shared at most this often: an idle follower's heartbeats come
 * 100 ms or more apart, so each still shares its wake-up, while under writes the leader's appends
 * come every millisecond or two, and a gossip tick, chores and a peers-file check per append was 4%
 * of a follower's CPU.
 */
const SHARE_WAKE_EVERY_MS = 20;
/** Longest member name the gossip codec carries, bytes. */
const MAX_NAME_BYTES = 64;
/** Floor between two wake-ups, so a deadline already past cannot spin the event loop. */
const MIN_WAKE_MS = 1;
/** Least time between two writes of the remembered peers (flash wear); the first waits for the join to settle. */
const PEERS_SAVE_INTERVAL_MS = 30_000;
const PEERS_FIRST_SAVE_MS = 5000;

export const STATUS_NAMES: Readonly<Record<MemberStatus, PeerStatus>> = {
  [MemberStatus.Alive]: 'alive',
  [MemberStatus.Suspect]: 'suspect',
  [MemberStatus.Dead]: 'dead',
  [MemberStatus.Left]: 'left',
};

/** Local metadata other components may set; merged into what this node advertises. */
export type LocalMeta = Omit<MemberMeta, 'tags'> & { readonly tags?: Readonly<Record<string, string>> };

/** One member as the runtime sees it: the core's record plus when this node saw it change. */
export interface MemberSnapshot {
  readonly record: MemberRecord;
  readonly status: PeerStatus;
  /** Wall-clock ms of the last change this node observed (join, update, suspicion...). */
  readonly lastChangeMs: number;
  readonly self: boolean;
}

export interface GossipView {
  readonly selfId: string;
  readonly encrypted: boolean;
  readonly multicast: boolean;
  readonly adaptiveEnabled: boolean;
  readonly adaptive: AdaptiveParams;
  /** Wall-clock ms of the adaptive mode's last change, null before any. */
  readonly adaptiveChangedAtMs: number | null;
  readonly transport: TransportStats;
  readonly core: GossipStats;
  readonly wakeups: number;
  readonly members: readonly MemberSnapshot[];
  /** Packets refused for authentication by cause, gossip and Raft together (the node's tracker). */
  readonly refused: Readonly<Record<RefusalCause, number>>;
}

export interface GossipComponentOptions {
  /** Seed of the core's Rng; default: from crypto, so nodes started together do not probe in lockstep. */
  seed?: number;
  /** Extra core configuration (tests shorten the probe period). */
  core?: Partial<GossipConfig>;
  /** How often a lone node with a join list contacts it again; default 60 s. */
  rejoinIntervalMs?: number;
}

/** `[gossip]` keys of the seed config mapped onto the core's knobs (docs/gossip.md). */
export function coreConfigFromSections(config: SwarmNode['config']): Partial<GossipConfig> {
  return {
    gossipIntervalMs: config.gossip.interval_ms,
    fanout: config.gossip.fanout,
    retransmitMult: config.gossip.ttl,
    antiEntropyIntervalMs: config.gossip.anti_entropy_interval_ms,
    messageCacheSize: config.gossip.message_cache_size,
    // Announce only when discovery is on; the core backs off to 30 s by itself.
    announceIntervalMs: config.network.multicast_enabled ? 1000 : 0,
  };
}

/** "host:port" with IPv6 brackets; wildcard hosts replaced by the advertised host. */
function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function advertiseAddr(addr: string | null | undefined, host: string): string | null {
  if (!addr) return null;
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(addr);
  if (!m) return addr;
  const h = m[1]!.replace(/^\[|\]$/g, '');
  return isWildcardHost(h) ? hostPort(host, Number(m[2])) : addr;
}

export function parseHostPort(s: string): PeerAddress {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s.trim());
  if (!m) throw new SwarmError('bad_address', `not a "host:port" address: ${s}`, { exitCode: 2 });
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function deviceClassOf(s: string): DeviceClass {
  return s === 'full' || s === 'minimal' ? s : 'standard';
}

/** The member's Raft address, the `raft_addr` tag its meta carries (null: none advertised). */
function raftAddrOf(r: MemberRecord): string | null {
  return r.meta.tags?.raft_addr ?? null;
}

export function toPeerInfo(r: MemberRecord): PeerInfo {
  return {
    id: r.id,
    name: r.name,
    deviceClass: deviceClassOf(r.deviceClass),
    status: STATUS_NAMES[r.status],
    apiAddr: r.meta.api ?? null,
    raftAddr: raftAddrOf(r),
    raftRole: r.meta.raft ?? null,
    ...(r.meta.tags ? { tags: r.meta.tags } : {}),
    ...(r.meta.powerState !== undefined ? { powerState: r.meta.powerState } : {}),
  };
}

function metaEqual(a: MemberMeta, b: MemberMeta): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class GossipComponent implements NodeComponent, PeerDirectory, ChoreHost {
  readonly name = 'gossip';
  private readonly opts: GossipComponentOptions;
  private node: SwarmNode | null = null;
  private log: Logger | null = null;
  private core: GossipNode | null = null;
  private transport: UdpTransport<GossipMessage> | null = null;
  private adaptive: AdaptiveGossipController | null = null;
  private adaptiveChangedAtMs: number | null = null;
  /** Probe-period stretch last handed to the core (the controller's interval multiplier). */
  private probeScale = 1;
  /** When the probe may move to share a Raft follower's heartbeat wake-ups (wake-share.ts). */
  private readonly wakeShare = new ProbeWakeShare();
  /** When shareWake last ran a tick (this.now(), monotonic). */
  private sharedWakeAt = Number.NEGATIVE_INFINITY;
  /** An arm() is queued behind the next poll (armSoon). */
  private armPending = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private wakeups = 0;
  private stopped = false;
  private seeds: readonly PeerAddress[] = [];
  private nextRejoinAt = Infinity;
  private advertised = '127.0.0.1';
  private gossipAddr: string | null = null;
  /** Set by other components (energy figures, extra tags); overrides what is read from node status. */
  private extraMeta: LocalMeta = {};
  private readonly lastChange = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  /** Swarm events delivered by the core (src/node/swarm-events.ts subscribes). */
  private readonly eventListeners = new Set<(event: UserEvent) => void>();
  /** Other components' periodic work, run on this component's wake-ups (chores.ts). */
  private readonly chores = new ChoreSet();
  /** Remembered peers (gossip-peers-file.ts): membership changed since the last write, and when to write next. */
  private peersDirty = false;
  private nextPeersSaveAt = Infinity;
  private savedPeers = '';

  constructor(opts: GossipComponentOptions = {}) {
    this.opts = opts;
  }

  // ------------------------------------------------------------ NodeComponent

  async start(node: SwarmNode): Promise<void> {
    this.node = node;
    this.log = node.log.child('gossip');
    const cfg = node.config;
    const seeds = cfg.network.join.map(parseHostPort);
    this.transport = await openGossipTransport({
      network: cfg.network,
      security: cfg.security,
      onMessage: (msg, from) => this.onPacket(msg, { host: from.address, port: from.port }),
      onError: (err) => this.log?.warn('gossip transport', { error: err.message }),
      onRefused: (from, reason) => node.refused(hostPort(from.address, from.port), 'gossip', reason),
    });
    this.advertised = await resolveAdvertiseHost({
      advertise: cfg.network.advertise_address,
      bind: cfg.network.bind_address,
      join: seeds,
    });
    try {
      this.startCore(node, seeds);
    } catch (err) {
      // The node only stops components that started: close the socket here or it holds the process.
      await this.transport.close();
      this.transport = null;
      throw err;
    }
  }

  private startCore(node: SwarmNode, configSeeds: readonly PeerAddress[]): void {
    let seeds = configSeeds;
    const cfg = node.config;
    const t = this.transport!;
    const bound = t.address();
    this.gossipAddr = hostPort(this.advertised, bound.port);
    // The wire format caps names (docs/protocol.md); a longer one would make every packet unsendable.
    if (Buffer.byteLength(node.name) > MAX_NAME_BYTES) {
      throw new SwarmError(
        'gossip_config',
        `node.name "${node.name}" is longer than ${MAX_NAME_BYTES} bytes, the most gossip can carry`,
        { exitCode: 2 },
      );
    }
    const seed = this.opts.seed ?? randomBytes(4).readUInt32LE(0);
    this.core = new GossipNode({
      self: {
        id: node.id,
        name: node.name,
        host: this.advertised,
        port: bound.port,
        deviceClass: cfg.node.device_class,
        meta: this.composeMeta(),
        // Wall-clock seconds: a restarted node starts above its previous life without persisting anything.
        incarnation: Math.floor(Date.now() / 1000),
      },
      config: { ...coreConfigFromSections(cfg), ...this.opts.core },
      rng: createRng(seed),
    });
    // Failure-detection milestones as debug lines (bench/gossip-rejoin-live.ts --trace times the
    // phases from them); nothing is traced at the default level.
    if (cfg.logging.level === 'debug') this.core.setTrace((t) => this.logTrace(t));
    this.adaptive = new AdaptiveGossipController(adaptiveConfigFromSections(cfg));
    // Members alive before a restart are seeds too: a node with no join list of its own
    // (the one the others name) is otherwise never found again once they hold it dead.
    const remembered = loadGossipPeers(node.dataDir).filter((a) => a !== this.gossipAddr);
    this.savedPeers = JSON.stringify([...remembered].sort());
    const known = new Set(seeds.map((p) => hostPort(p.host, p.port)));
    const extra: PeerAddress[] = [];
    for (const a of remembered) {
      if (known.has(a)) continue;
      try {
        extra.push(parseHostPort(a));
      } catch {
        // loadGossipPeers checked the shape; nothing else can fail here
      }
    }
    seeds = [...seeds, ...extra];
    this.seeds = seeds;
    const now = this.now();
    this.nextRejoinAt = seeds.length > 0 ? now + this.rejoinMs() : Infinity;
    this.lastChange.set(node.id, Date.now());
    // join() with no seeds still starts the core's timers (a first node waits to be joined).
    this.core.join(seeds, now);
    this.nextPeersSaveAt = now + PEERS_FIRST_SAVE_MS;
    this.log?.info('gossip started', {
      gossip: this.gossipAddr,
      seeds: cfg.network.join,
      remembered_peers: extra.length,
      multicast: cfg.network.multicast_enabled,
      encrypted: t.encrypted(),
    });
    this.flush();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const core = this.core;
    const t = this.transport;
    if (core && t) {
      core.leave(this.now());
      this.flushOutput();
      // Keep answering and gossiping briefly so the `left` update spreads before the socket closes.
      await new Promise<void>((resolve) => setTimeout(resolve, LEAVE_LINGER_MS));
      this.clearTimer();
      this.flushOutput();
    }
    this.clearTimer();
    await t?.close();
    this.transport = null;
  }

  status(): ComponentStatus {
    return {
      addresses: { gossip: this.gossipAddr },
      ...(this.transport ? { gossipEncrypted: this.transport.encrypted() } : {}),
    };
  }

  // ------------------------------------------------------------ PeerDirectory

  peers(): readonly PeerInfo[] {
    const core = this.core;
    if (!core) return [];
    return core
      .members()
      .filter((r) => r.id !== core.id)
      .map(toPeerInfo);
  }

  get(id: string): PeerInfo | undefined {
    const core = this.core;
    if (!core || id === core.id) return undefined;
    const r = core.member(id);
    return r ? toPeerInfo(r) : undefined;
  }

  raftAddr(id: string): string | null {
    const core = this.core;
    if (!core || id === core.id) return null;
    const r = core.member(id);
    return r ? raftAddrOf(r) : null;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ------------------------------------------------------------ for other components and the API

  /**
   * Merge metadata into what this node advertises (energy figures, tags such as
   * raft_addr). Disseminated at once; a no-op when nothing changed.
   */
  setLocalMeta(partial: LocalMeta): void {
    const tags = partial.tags ? { ...this.extraMeta.tags, ...partial.tags } : this.extraMeta.tags;
    this.extraMeta = { ...this.extraMeta, ...partial, ...(tags ? { tags } : {}) };
    // Energy figures are the adaptive controller's input event: a critical battery applies now.
    if ('powerState' in partial || 'battery' in partial) this.adapt(this.now(), true);
    this.refreshMeta();
  }

  /** PeerDirectory.advertise: set (or, with null, withdraw) tags this node advertises. */
  advertise(tags: Readonly<Record<string, string | null>>): void {
    const next: Record<string, string> = { ...this.extraMeta.tags };
    for (const [k, v] of Object.entries(tags)) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    this.extraMeta = { ...this.extraMeta, tags: next };
    this.refreshMeta();
  }

  /** Originate a swarm event (docs/protocol.md section 7); it is delivered here too, through onUserEvent. */
  broadcastEvent(name: string, payload: Uint8Array): UserEvent {
    const core = this.core;
    if (!core || this.stopped || this.transport === null)
      throw new SwarmError('gossip_not_running', 'gossip is not running');
    const event = core.broadcast(name, payload, this.now());
    this.flush();
    return event;
  }

  onUserEvent(listener: (event: UserEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  primeEventMarks(marks: readonly EventMark[]): void {
    this.core?.primeEventMarks(marks);
  }

  eventMarks(): EventMark[] {
    return this.core?.eventMarks() ?? [];
  }

  /**
   * ChoreHost: run `chore` on this component's wake-ups (probes, acks, probes
   * answered: about three a second when idle), waking for it only when none
   * comes within its slack, taken as at least the probe period in force (the
   * probe wakes the node that often). The clock is performance.now().
   */
  addChore(chore: Chore): () => void {
    const remove = this.chores.add(chore);
    this.arm();
    return () => {
      remove();
      this.arm();
    };
  }

  /**
   * Another component woke the process anyway (a Raft follower heard its leader): run the timers
   * and chores due at or near now, so they share this wake-up instead of arming their own (see
   * wake-share.ts). Cheap when nothing is near: every core timer checks its own deadline. At most
   * once per SHARE_WAKE_EVERY_MS.
   */
  shareWake(): void {
    const core = this.core;
    if (!core || this.transport === null || this.stopped) return;
    const now = this.now();
    if (now - this.sharedWakeAt < SHARE_WAKE_EVERY_MS) return;
    this.sharedWakeAt = now;
    const period = this.probePeriodMs();
    const slack = this.wakeShare.slack(now, period, true);
    core.setWakeSlack(slack.probeEarlyMs, slack.probeLateMs, slack.pushPullLateMs);
    const sent = core.stats().probesSent;
    core.tick(now);
    this.wakeShare.sharedTickDone(now, period, core.stats().probesSent !== sent);
    this.flushOutput();
    this.runChores(now);
    this.flushOutput();
    this.savePeers(now);
    this.armSoon();
  }

  /**
   * Another component has a hint that member `id` may be gone (the Raft leader's TCP link to it
   * closed, or a redial was refused: a killed process's peers see that at once). The core probes it
   * next (GossipNode.hint, rate-limited per member there); its state still moves only by the probe.
   */
  hintMember(id: string): void {
    const core = this.core;
    if (!core || this.transport === null || this.stopped) return;
    const now = this.now();
    if (!core.hint(id, now)) return;
    if (now >= core.nextDeadline()) core.tick(now);
    this.flushOutput();
    this.armSoon();
  }

  /** The probe period in force (configured x the energy modes' stretch), ms. */
  private probePeriodMs(): number {
    return (this.opts.core?.probeIntervalMs ?? DEFAULT_GOSSIP_CONFIG.probeIntervalMs) * this.probeScale;
  }

  /** Re-read API address, Raft address and Raft role from the node status and advertise changes. */
  refreshMeta(): void {
    const core = this.core;
    if (!core || this.stopped || core.isLeaving) return;
    const meta = this.composeMeta();
    if (metaEqual(meta, core.selfRecord.meta)) return;
    const hadRaftAddr = core.selfRecord.meta.tags?.raft_addr !== undefined;
    const now = this.now();
    try {
      core.updateMeta(meta, now);
    } catch (err) {
      this.log?.warn('metadata not advertised', { error: (err as Error).message });
      return;
    }
    // The join went out before the Raft port listened, without raft_addr, and a seed that took it
    // (the leader, after a restart) cannot answer our forwarded requests until the new record
    // reaches it by gossip, a round or two later: contact the seeds again now, once per start.
    if (!hadRaftAddr && meta.tags?.raft_addr !== undefined && this.seeds.length > 0)
      core.join(this.seeds, now);
    this.lastChange.set(core.id, Date.now());
    this.flush();
  }

  view(): GossipView {
    const core = this.core;
    const adaptive = this.adaptive;
    if (!core || !adaptive || !this.transport)
      throw new SwarmError('gossip_not_running', 'gossip is not running');
    const members = core.members().map((r): MemberSnapshot => ({
      record: r,
      status: STATUS_NAMES[r.status],
      lastChangeMs: this.lastChange.get(r.id) ?? Date.now(),
      self: r.id === core.id,
    }));
    return {
      selfId: core.id,
      encrypted: this.transport.encrypted(),
      multicast: this.node?.config.network.multicast_enabled ?? false,
      adaptiveEnabled: adaptive.config.enabled,
      adaptive: adaptive.current(),
      adaptiveChangedAtMs: this.adaptiveChangedAtMs,
      transport: this.transport.stats(),
      core: core.stats(),
      wakeups: this.wakeups,
      members,
      refused: this.node?.refusals.totals() ?? { different_key: 0, peer_has_no_key: 0, peer_has_key: 0 },
    };
  }

  // ------------------------------------------------------------ internals

  private rejoinMs(): number {
    return this.opts.rejoinIntervalMs ?? REJOIN_INTERVAL_MS;
  }

  /** Monotonic ms: the core's timers must not jump with wall-clock adjustments. */
  private now(): number {
    return performance.now();
  }

  private composeMeta(): MemberMeta {
    const node = this.node;
    if (!node) return {};
    const st = node.status();
    const api = advertiseAddr(st.addresses.api, this.advertised);
    const raftAddr = advertiseAddr(st.addresses.raft, this.advertised);
    const role = st.role === 'standalone' ? undefined : st.role;
    const tags: Record<string, string> = { ...this.extraMeta.tags };
    if (raftAddr && tags.raft_addr === undefined) tags.raft_addr = raftAddr;
    const { tags: _ignored, ...extra } = this.extraMeta;
    const meta: MemberMeta = {
      ...(api ? { api } : {}),
      ...(role ? { raft: role } : {}),
      ...extra,
      ...(Object.keys(tags).length > 0 ? { tags } : {}),
    };
    return meta;
  }

  private logTrace(t: GossipTrace): void {
    const log = this.log;
    if (!log) return;
    switch (t.kind) {
      case 'probe':
        log.debug('trace probe', { member: t.target, urgent: t.urgent, hinted: t.hinted });
        return;
      case 'probe-indirect':
      case 'probe-failed':
        log.debug(`trace ${t.kind}`, { member: t.target, late_ms: Math.round(t.lateMs) });
        return;
      case 'suspect-confirmed':
        log.debug('trace suspect confirmed', {
          member: t.target,
          by: t.from,
          confirmations: t.confirmations,
          expires_in_ms: Math.round(t.deadline - this.now()),
        });
        return;
      case 'suspicion-expired':
        log.debug('trace suspicion expired', {
          member: t.target,
          confirmations: t.confirmations,
          suspected_ms: Math.round(this.now() - t.startedAt),
          late_ms: Math.round(t.lateMs),
        });
        return;
    }
  }

  private onPacket(msg: GossipMessage, from: PeerAddress): void {
    const core = this.core;
    if (!core || this.transport === null) return;
    const now = this.now();
    core.receive(from, msg, now);
    this.runChores(now);
    this.flush();
  }

  private runChores(now: number): void {
    this.chores.runDue(now, (c, err) =>
      this.log?.warn('chore failed', { chore: c.name, error: (err as Error).message }),
    );
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const core = this.core;
    if (!core || this.transport === null) return;
    this.wakeups++;
    const now = this.now();
    if (now >= core.nextDeadline()) core.tick(now);
    if (now >= this.nextRejoinAt) {
      this.nextRejoinAt = now + this.rejoinMs();
      if (core.stats().swarmSize <= 1) {
        this.log?.info('alone: contacting the join list again', { seeds: this.seeds.length });
        core.join(this.seeds, now);
      }
    }
    // The probe leaves before the chores run: its ack then comes back while they do (see armSoon).
    this.flushOutput();
    this.runChores(now);
    // Cheap (a status merge); catches the API address once it listens and every Raft role change.
    this.refreshMeta();
    this.adapt(now);
    this.flushOutput();
    this.savePeers(now);
    this.armSoon();
  }

  /**
   * Arm the timer after the event loop has polled once more, not now. Right after a probe went
   * out, the earliest deadline is its ack timeout; a timer armed for it and cleared by the ack a
   * millisecond later still wakes the process then (Node moves its one libuv timer earlier on
   * setTimeout, never later on clearTimeout), so every probe cost a wake-up for nothing. An ack
   * that arrives while this wake-up's work runs is read by that poll, before the timer is armed.
   */
  private armSoon(): void {
    if (this.armPending) return;
    this.armPending = true;
    setImmediate(() =>
      setImmediate(() => {
        this.armPending = false;
        if (!this.stopped) this.arm();
      }),
    );
  }

  private adapt(now: number, energySample = false): void {
    const core = this.core;
    const ctl = this.adaptive;
    if (!core || !ctl || !ctl.config.enabled || (!energySample && !ctl.due(now))) return;
    const s = core.stats();
    // AdaptiveInputs' names are GossipStats' own: the stats and the energy make the inputs.
    const inputs: AdaptiveInputs = { ...s, ...this.energyInputs() };
    const p = energySample ? ctl.energySample(now, inputs) : ctl.evaluate(now, inputs);
    if (p.intervalMs !== s.intervalMs || p.fanout !== s.fanout || p.intervalMultiplier !== this.probeScale) {
      this.probeScale = p.intervalMultiplier;
      core.setParams({ intervalMs: p.intervalMs, fanout: p.fanout, probeScale: p.intervalMultiplier });
    }
    if (p.changed) {
      this.adaptiveChangedAtMs = Date.now();
      this.log?.info('adaptive gossip mode', {
        mode: p.mode,
        interval_ms: p.intervalMs,
        fanout: p.fanout,
        reason: p.reason,
      });
    }
  }

  /**
   * Energy inputs from what the energy side advertised through setLocalMeta
   * (same vocabulary as toEnergyMeta): a battery figure means on battery, a
   * power figure without one means mains.
   */
  private energyInputs(): Pick<AdaptiveInputs, 'batteryPercent' | 'onBattery' | 'powerState'> {
    return energyInputsFromMeta(this.extraMeta);
  }

  /** Send output, publish events, and re-arm the timer. */
  private flush(): void {
    this.flushOutput();
    this.savePeers(this.now());
    this.arm();
  }

  /** Remember the live members' addresses for the next start; only when they changed, at most every 30 s. */
  private savePeers(now: number): void {
    const core = this.core;
    const node = this.node;
    if (!this.peersDirty || now < this.nextPeersSaveAt || !core || !node) return;
    this.peersDirty = false;
    const live = core
      .members()
      .filter(
        (r) => r.id !== core.id && (r.status === MemberStatus.Alive || r.status === MemberStatus.Suspect),
      )
      .map((r) => hostPort(r.host, r.port))
      .sort();
    const text = JSON.stringify(live);
    // Alone: keep the old list, those members may come back.
    if (live.length === 0 || text === this.savedPeers) return;
    this.nextPeersSaveAt = now + PEERS_SAVE_INTERVAL_MS;
    try {
      saveGossipPeers(node.dataDir, live);
      this.savedPeers = text;
    } catch (err) {
      this.log?.warn('cannot remember gossip peers', { error: (err as Error).message });
    }
  }

  private flushOutput(): void {
    const core = this.core;
    const t = this.transport;
    if (!core || !t) return;
    for (const o of core.drain()) {
      const r = sendOutgoing(t, o);
      if (r === 'invalid' || r === 'oversize')
        this.log?.warn('gossip message not sent', { result: r, type: o.msg.type });
    }
    const events = core.drainEvents();
    if (events.length > 0) this.publish(events);
  }

  private publish(events: readonly GossipEvent[]): void {
    let membership = false;
    for (const e of events) {
      if (e.type === 'user-event') {
        for (const l of this.eventListeners) l(e.event);
        continue;
      }
      membership = true;
      this.lastChange.set(e.member.id, Date.now());
      const fields = {
        member: e.member.id,
        member_name: e.member.name,
        incarnation: e.member.incarnation,
        ...(e.type === 'member-suspect' || e.type === 'member-dead' ? { by: e.from } : {}),
      };
      if (e.type === 'member-joined' || e.type === 'member-dead' || e.type === 'member-left') {
        this.log?.info(e.type.replace('-', ' '), fields);
      } else {
        this.log?.debug(e.type.replace('-', ' '), fields);
      }
    }
    if (!membership) return;
    this.peersDirty = true;
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.log?.error('peer directory listener failed', { error: (err as Error).message });
      }
    }
  }

  /**
   * The core's deadline; the runtime's own chores (adaptive evaluation, rejoin)
   * are not exact and ride on the core's wake-ups, which come at least every
   * probe period, getting a timer of their own only when the core is quiet
   * for longer than RUNTIME_SLACK_MS past their due time.
   */
  private nextWake(now: number, softFloor: number): number {
    const core = this.core;
    if (!core) return Infinity;
    const t = core.nextDeadline();
    let chores = this.peersDirty ? Math.min(this.nextRejoinAt, this.nextPeersSaveAt) : this.nextRejoinAt;
    const ctl = this.adaptive;
    if (ctl?.config.enabled) {
      const last = ctl.state().lastEvaluatedAt;
      chores = Math.min(chores, last === null ? now : last + ctl.config.adaptationIntervalMs);
    }
    // A probe period of slack at least: the probe timer wakes us that often, so they always ride it.
    // Other components' chores too: a slack shorter than the period in force (the energy modes
    // stretch it x4) put their deadline between two probes, a wake-up of its own every period.
    const period = this.probePeriodMs();
    const soft = Math.min(chores + Math.max(RUNTIME_SLACK_MS, period), this.chores.deadline(period));
    // Sharing a follower's heartbeats, soft work rides them; a timer for it only far behind them.
    return Math.min(t, Math.max(soft, softFloor));
  }

  private arm(): void {
    if (this.transport === null) return;
    const now = this.now();
    // Probes wait for shared wake-ups only while they come; push-pull may always ride a probe.
    const slack = this.wakeShare.slack(now, this.probePeriodMs(), false);
    this.core?.setWakeSlack(slack.probeEarlyMs, slack.probeLateMs, slack.pushPullLateMs);
    const at = Math.max(this.nextWake(now, slack.softFloor), now + MIN_WAKE_MS);
    // Re-arming later saves no wake-up (the libuv timer keeps the earlier expiry, see armSoon), but
    // the callback then runs once, at the deadline that matters.
    if (at === this.timerAt) return;
    this.clearTimer();
    if (at === Infinity) return;
    this.timerAt = at;
    this.timer = setTimeout(() => this.onTimer(), Math.ceil(at - now));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }
}
