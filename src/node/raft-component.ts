/**
 * The Raft core inside the node daemon: durable log in <data_dir>/raft,
 * encrypted TCP to peers whose addresses come from the PeerDirectory, the KV
 * state machine, and the leader's automatic membership management.
 *
 * This file is the lifecycle and the wiring; each concept lives in its own
 * collaborator, which reaches the live core through a narrow host object
 * (the core, applier and storage are replaced when a merge moves state aside):
 * - the core, its WAL, the KV applier and the Ready loop
 *   (src/driver/raft-driver.ts): raft-core-runner.ts;
 * - KV requests and bounded waits: raft-kv-service.ts;
 * - cluster membership of this node (formation, bootstrap file, foreign
 *   traffic): raft-formation-runner.ts;
 * - the leader's membership policy and hand-over: raft-autopilot.ts;
 * - split-formation merge: raft-merge.ts;
 * - peer addresses, silent links, refused dials: raft-peer-links.ts;
 * - forwarding to the leader: raft-forward.ts.
 */
import { isForwardMessage, type RaftWireMessage } from '../net/forward-codec.js';
import { openRaftTransport } from '../net/runtime.js';
import { peerKey, type ReplyPath, type TcpTransport } from '../net/tcp.js';
import type { TransportStats } from '../net/wire.js';
import type { KvApplier } from '../raft/kv-applier.js';
import type { JsonValue, KvCommand, KvResult, KvStateMachine } from '../raft/kv.js';
import { commandOf, outcomeOf, type CoordOp, type CoordOutcome } from './coord-ops.js';
import { WatchHub } from './watch-hub.js';
import type { RaftMessage } from '../raft/messages.js';
import type { RaftNode } from '../raft/raft-node.js';
import type { PowerMode } from '../energy/power-mode.js';
import { nullLogger, type Logger } from './log.js';
import type { ComponentStatus, NodeComponent, SwarmNode } from './node.js';
import type { PeerDirectory } from './peers.js';
import { RaftAutopilot } from './raft-autopilot.js';
import { LEARNER_HEARTBEAT_ROUNDS, RaftCoreRunner } from './raft-core-runner.js';
import { NoQuorumError } from './raft-errors.js';
import { RaftForwarder, STOP_DRAIN_MAX_MS, STOP_DRAIN_QUIET_MS } from './raft-forward.js';
import { RaftFormationRunner } from './raft-formation-runner.js';
import { RaftKvService, type KvEntry } from './raft-kv-service.js';
import { RaftMerge, type MergeReport } from './raft-merge.js';
import type { WakeSharer } from './chores.js';
import { RaftMetrics } from './raft-metrics.js';
import { HANDOVER_TRACE, RaftPeerLinks } from './raft-peer-links.js';

// The public surface stays importable from here (API, CLI, index.ts and tests use this path).
export { NoQuorumError, NotLeaderError, QuotaExceededError } from './raft-errors.js';
export type { KvEntry } from './raft-kv-service.js';
export type { MergeReport } from './raft-merge.js';

export interface RaftComponentOptions {
  readonly peers: PeerDirectory;
  /** `--bootstrap`: form a cluster even when [raft] bootstrap_expect is 0 (then it means 1). */
  readonly bootstrap?: boolean;
  /** Seed of the core's Rng; default a cryptographically random one (election timeouts must differ). */
  readonly seed?: number;
  /** How long a write or linearizable read may wait for commit before no_quorum. */
  readonly requestTimeoutMs?: number;
  /** How long a leader stop waits for the transfer to complete. */
  readonly transferWaitMs?: number;
  /** A voter dead this long is replaced by a caught-up learner. */
  readonly deadVoterMs?: number;
  /** Formation: how long the view must stay the same before proposing founders (default 3 s). */
  readonly formationWindowMs?: number;
  /** Formation: time since start before proposing, so discovery ran (default 2 s). */
  readonly formationMinUptimeMs?: number;
  /**
   * Told when the leader's message woke this follower (the gossip component: its next probe then
   * rides the heartbeat instead of a wake-up of its own; src/node/chores.ts).
   */
  readonly wakeSharer?: WakeSharer;
  /** Called on every proposal, read and peer message: work that a sampler on gossip's wake-ups sees late (CompilerTiering.poke). */
  readonly onActivity?: () => void;
  /**
   * Our TCP link to a member of the configuration closed or a dial to it was refused (a killed
   * process's links do both at once): the gossip component probes it next (hintMember).
   */
  readonly onPeerLinkLost?: (id: string) => void;
}

export interface LeaderInfo {
  readonly self: string;
  readonly leader: string | null;
  readonly role: string;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

const MANAGE_EVERY_MS = 500;
/**
 * A follower that knows its leader manages nothing (membership is the leader's) and its election
 * deadline wakes it when the leader falls silent; this slower pass only redials a silent link it sent
 * forwarded requests over while heartbeats still arrive.
 */
const FOLLOWER_MANAGE_EVERY_MS = 4 * MANAGE_EVERY_MS;
/**
 * Heartbeat and check-quorum stretch of a leader whose voters are all on a
 * critical battery (each of them then stretches its own election timeout x4,
 * electionTimeoutMultiplier): x4 keeps the configured ratio of election
 * timeout to heartbeat (1,500 / 500 ms by default), so a follower still
 * hears three heartbeats per minimum timeout; it is also the emergency
 * stretch of the probe period and the energy sampler, so idle (quiet x2 on
 * top: 4 s) each heartbeat carries a probe (src/node/wake-share.ts).
 */
export const EMERGENCY_HEARTBEAT_SCALE = 4;
/** The same for voters all on a low battery (each stretches its election timeout x2). */
export const LOW_POWER_HEARTBEAT_SCALE = 2;
/**
 * Quiet cluster (nothing committed for a while): followers stretch their own
 * election timeout and leader lease this many times once quiet themselves;
 * the leader then heartbeats its voters QUIET_LEADER_HEARTBEAT_SCALE times
 * less often, or only this many times (capped at 2/3 of the base minimum
 * election timeout) for a while after a vote request showed a follower that
 * has not stretched (it restarted or joined). See docs/energy.md "Quiet cluster".
 */
export const QUIET_HEARTBEAT_SCALE = 2;
/**
 * A follower counts the cluster quiet once the commit index it knows has not
 * moved for this long, and stretches its election timeout x QUIET_HEARTBEAT_SCALE.
 */
export const QUIET_FOLLOWER_AFTER_MS = 5_000;
/**
 * Deep quiet: the leader's heartbeat stretch once followers have stretched
 * their election timeouts (and leases) x QUIET_HEARTBEAT_SCALE, capped at 2/3
 * of that stretched minimum timeout: 2 s heartbeats against 3-6 s timeouts
 * and a 3 s lease by default. Each heartbeat round costs 3 TCP segments per
 * voter (heartbeat, answer, the ACK of the answer): at 25 idle nodes (4
 * followers) that was 0.48 of the 0.60 TCP packets/s per node at 1 s.
 */
export const QUIET_LEADER_HEARTBEAT_SCALE = 4;
/**
 * A leader stretches its heartbeat once its commit index has not moved for
 * this long: later than any follower (which learns a commit within one
 * heartbeat, then checks at least every FOLLOWER_MANAGE_EVERY_MS), so the
 * followers that saw the last commit have stretched their timeouts first.
 */
export const QUIET_LEADER_AFTER_MS = 10_000;

export class RaftComponent implements NodeComponent {
  readonly name = 'raft';
  private readonly opts: RaftComponentOptions;
  private node: SwarmNode | null = null;
  private transport: TcpTransport<RaftWireMessage> | null = null;
  private raftAddr: string | null = null;
  private lastManage = 0;
  private stopping = false;
  private unsubscribe: (() => void) | null = null;
  /** When a message from the leader this node knows last arrived (Date.now() ms); 0 = never. */
  private leaderHeardAt = 0;

  /** Prometheus metrics (term, role, commit/apply index, proposals, fsync latency). */
  readonly metrics: RaftMetrics;
  /** Serves KV requests on any node: forwards to the leader over the Raft transport (raft-forward.ts). */
  readonly forward: RaftForwarder;
  /** This node's applied-event history and its waiters (watch, locks, elections). */
  readonly watch = new WatchHub();
  private readonly leaderListeners = new Set<() => void>();
  private readonly afterApplyListeners = new Set<() => void>();
  private readonly runner: RaftCoreRunner;
  /** The energy component's power mode (setPowerMode). */
  private powerMode: PowerMode = 'normal';
  /** The energy component's election timeout stretch (setElectionTimeoutScale). */
  private energyElectionScale = 1;
  /** A follower that saw no commit for QUIET_FOLLOWER_AFTER_MS: its election timeout is stretched too. */
  private quietFollower = false;
  /** The commit index this node last saw, and when it last moved (Date.now() ms). */
  private lastCommit = -1;
  private commitMovedAt = 0;
  /** When this node, leading, last received a vote request (Date.now() ms): see quietHeartbeatScale. */
  private voteRequestAt = -Infinity;
  private readonly kv: RaftKvService;
  private readonly links: RaftPeerLinks;
  private readonly formation: RaftFormationRunner;
  private readonly autopilot: RaftAutopilot;
  private readonly merge: RaftMerge;

  /** Ticks since start, reported so the idle cost is visible. */
  get ticks(): number {
    return this.runner.ticks;
  }

  /** The leader's heartbeat stretch in force (energy emergency, quiet cluster); 1 = the configured interval. */
  get heartbeatScale(): number {
    return this.runner.heartbeatScaleInForce;
  }

  /** This node's election timeout stretch in force (battery, quiet follower); 1 = as configured. */
  get electionTimeoutScale(): number {
    return this.energyElectionScale * (this.quietFollower ? QUIET_HEARTBEAT_SCALE : 1);
  }

  private get core(): RaftNode | null {
    return this.runner.core;
  }

  private get applier(): KvApplier {
    return this.runner.applier;
  }

  /** Before start there is no node to log to; collaborators then log nowhere, as before the split. */
  private get log(): Logger {
    return this.node?.log ?? nullLogger;
  }

  constructor(opts: RaftComponentOptions) {
    this.opts = opts;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the hosts' getters read the live component
    const self = this;
    const core = (): RaftNode | null => this.core;
    const stopping = (): boolean => this.stopping;
    const kick = (): void => this.kick();
    const clusterId = (): string => this.formation.clusterId;
    const started = (): SwarmNode => {
      if (this.node === null) throw new NoQuorumError('raft is not running');
      return this.node;
    };
    this.metrics = new RaftMetrics({
      snapshot: () => {
        const core = this.core;
        if (!core) return null;
        const st = core.status();
        return {
          term: st.term,
          role: st.role,
          commit: st.commit,
          applied: this.applier.appliedIndex,
          voters: st.conf.voters.length,
          learners: st.conf.learners.length,
        };
      },
      refused: () => this.transport?.stats().refused ?? null,
    });
    this.runner = new RaftCoreRunner({
      metrics: this.metrics,
      seed: opts.seed,
      send: (m) => this.links.send(m),
      onTick: (now) => this.onTick(now),
      nextWork: (core) => this.nextTimerWork(core),
      onLeaderChange: () => {
        this.kv.wakeLeaderWaiters();
        this.forward.onLeaderChanged();
        for (const l of [...this.leaderListeners]) l();
      },
      applyListener: this.watch,
      onAdvanced: () => {
        this.forward.onApplied(this.applier.appliedIndex);
        this.watch.wakeAll();
        for (const l of this.afterApplyListeners) l();
        this.formation.advertiseVoters();
      },
    });
    this.kv = new RaftKvService({
      core,
      applier: () => this.applier,
      frozen: () => this.merge.frozen,
      stopping,
      quotaBytes: () => this.node?.config.raft.quota_bytes ?? 0,
      get requestTimeoutMs() {
        return self.requestTimeoutMs;
      },
      metrics: this.metrics,
      kick,
    });
    this.links = new RaftPeerLinks({
      peers: opts.peers,
      core,
      transport: () => this.transport,
      clusterId,
      stopping,
      // Silence is measured against this node's own election timeout, stretched as it is (a battery
      // node's x1.5-x3; all voters critical: the leader's heartbeat x3 too), or a stretched heartbeat
      // would look like a silent link and be redialled every round.
      get electionTimeoutMs() {
        return self.electionTimeoutMs * self.runner.timeoutScaleInForce;
      },
      get learnerHeartbeatMs() {
        return self.runner.learnerHeartbeatMs;
      },
      get log() {
        return self.log;
      },
      kick,
    });
    this.formation = new RaftFormationRunner({
      node: started,
      peers: opts.peers,
      metrics: this.metrics,
      bootstrap: opts.bootstrap === true,
      formationWindowMs: opts.formationWindowMs,
      formationMinUptimeMs: opts.formationMinUptimeMs,
      core,
      processing: () => this.runner.processing,
      stopping,
      startCore: (voters) => this.runner.startFounded(voters),
      kick,
      updateTimer: () => this.updateTimer(),
    });
    this.autopilot = new RaftAutopilot({
      peers: opts.peers,
      core,
      stopping,
      clusterId,
      get maxVoters() {
        return started().config.raft.voters;
      },
      deadVoterMs: opts.deadVoterMs ?? 30_000,
      get transferWaitMs() {
        return opts.transferWaitMs ?? Math.min(2000, started().config.consensus.election_timeout_min_ms);
      },
      get log() {
        return self.log;
      },
      kick,
    });
    this.merge = new RaftMerge({
      node: started,
      peers: opts.peers,
      core,
      stopping,
      clusterId,
      listAll: async () => (await this.kv.list('', false)).items,
      closeRaft: (reason) => this.runner.close(reason),
      reopenFresh: (from) => this.reopenFresh(from),
    });
    this.forward = new RaftForwarder({
      get selfId() {
        return self.selfId;
      },
      get requestTimeoutMs() {
        return self.requestTimeoutMs;
      },
      get electionTimeoutMs() {
        return self.electionTimeoutMs;
      },
      currentTerm: () => this.core?.term ?? 0,
      leader: () => this.core?.leaderId ?? null,
      successor: () => (this.core?.isLeader === true ? this.core.leadTransferee : null),
      appliedIndex: () => this.applier.appliedIndex,
      followerOf: () => this.kv.followerOf(),
      sendForward: (to, msg) => {
        const hp = this.links.peerAddr(to);
        // A request leaves with the others read in this turn (one write for all, see TcpTransport.send).
        // A request is tagged with its id: one still queued unsent can be taken back (withdrawForward).
        const req = msg.type === 'fwd_req';
        return (
          hp !== null &&
          this.transport?.send(hp, msg, req ? 'turn' : 'task', req ? msg.id : undefined) === 'queued'
        );
      },
      withdrawForward: (to, ids) => {
        const hp = this.links.peerAddr(to);
        return hp === null || this.transport === null ? [] : this.transport.withdraw(hp, ids);
      },
      stopping: () => this.stopping,
      knownPeer: (id) => this.links.peerAddr(id) !== null,
      put: (key, value, prev) => this.put(key, value, prev),
      delete: (key) => this.delete(key),
      coord: (op) => this.coord(op),
      readIndex: async () => {
        await this.kv.readBarrier();
        return this.applier.appliedIndex;
      },
      awaitLeader: (ms) => this.awaitLeader(ms),
      awaitLeaderChange: (from, ms) => this.awaitLeaderChange(from, ms),
      awaitLeadership: (ms) => this.awaitLeadership(ms),
      trace: (msg, fields) => this.log.debug(msg, fields),
    });
  }

  // ------------------------------------------------------------------ lifecycle

  async start(node: SwarmNode): Promise<void> {
    this.node = node;
    const cfg = node.config;
    const co = cfg.coordination;
    this.watch.configure(
      { maxEvents: co.watch_history_events, maxBytes: co.watch_history_bytes },
      co.max_watchers,
    );
    const recovered = await this.runner.open(node);
    // Not quiet before we have looked: the quiet clocks start now.
    this.commitMovedAt = Date.now();
    // A node that lost acknowledged entries is never fresh, even if nothing survived: it must not found a cluster.
    const fresh =
      recovered.snapshot === null &&
      recovered.entries.length === 0 &&
      recovered.hardState.term === 0 &&
      recovered.recoveringUntil === undefined;
    const initial = this.formation.load(fresh);
    this.runner.run(recovered, initial);
    if (!fresh) this.links.armRestartHint();
    try {
      this.transport = await openRaftTransport({
        bindAddress: cfg.network.bind_address,
        port: cfg.raft.port,
        security: cfg.security,
        onMessage: (m, _remote, via) => this.onMessage(m, via),
        onPeerState: (peer, state) => {
          if (state === 'connected') return;
          if (state === 'refused') this.links.onPeerRefused(peer);
          const conf = this.core?.confState;
          for (const id of conf ? [...conf.voters, ...conf.learners] : []) {
            const hp = this.links.peerAddr(id);
            if (hp === null || peerKey(hp) !== peer) continue;
            // Its process is gone: forwarded requests it was executing are re-sent or fail now (raft-forward.ts).
            if (state === 'refused') this.forward.onPeerGone(id);
            // Our own stop closes every link: no news about the peers then.
            if (!this.stopping) this.opts.onPeerLinkLost?.(id);
          }
        },
        onError: (err) => node.log.debug('raft transport', { error: err }),
        // By host only: inbound Raft connections come from ephemeral ports.
        onRefused: (remote, reason) => node.refused(remote.host, 'raft', reason),
      });
    } catch (err) {
      // The node only stops components that started: release the log here.
      await this.runner.close('raft transport failed to open');
      throw err;
    }
    this.raftAddr = peerKey(this.transport.address());
    node.log.info('raft listening', { address: this.raftAddr, tick_ms: this.runner.tickMs });
    this.unsubscribe = this.opts.peers.onChange(() => this.onPeersChanged());
    this.formation.announce();
    this.onPeersChanged();
    this.updateTimer();
  }

  /** A leader hands over while the API still runs, so clients in flight are relayed to the successor. */
  async beforeStop(): Promise<void> {
    if (this.core === null) return;
    this.formation.stop();
    await this.autopilot.handOver();
  }

  async stop(): Promise<void> {
    if (this.core === null) return;
    this.stopping = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.formation.stop();
    this.merge.stop();
    await this.autopilot.handOver();
    await this.runner.stopLoop();
    this.forward.stopServing();
    await this.forward.drain(STOP_DRAIN_QUIET_MS, STOP_DRAIN_MAX_MS);
    this.forward.close();
    await this.transport?.close();
    this.transport = null;
    await this.runner.snapshotAtStop();
    await this.runner.close('node stopping');
  }

  status(): ComponentStatus {
    const core = this.core;
    if (!core) return {};
    const s = core.status();
    const clusterId = this.formation.clusterId;
    return {
      role: s.role,
      term: s.term,
      leader: s.leader,
      commitIndex: s.commit,
      appliedIndex: this.applier.appliedIndex,
      voters: s.conf.voters,
      learners: s.conf.learners,
      cluster: clusterId === '' ? null : clusterId,
      waiting: this.waiting(),
      merge: this.mergeReport(),
      addresses: { raft: this.raftAddr },
    };
  }

  /**
   * What this node waits for while it has no leader: the formation step it is
   * in, being added by a leader, or a quorum of voters. Null once it has a leader.
   */
  waiting(): string | null {
    const core = this.core;
    if (core === null) return null;
    return this.merge.waitingReason() ?? this.formation.waiting(core);
  }

  /** This node's Raft id (its node id). */
  get selfId(): string {
    return this.requireCore().id;
  }

  /** Role, term, leader, commit index and membership, for /v1/leader and status views. */
  info(): LeaderInfo {
    const s = this.requireCore().status();
    return {
      self: s.id,
      leader: s.leader,
      role: s.role,
      term: s.term,
      commit: s.commit,
      applied: this.applier.appliedIndex,
      voters: [...s.conf.voters],
      learners: [...s.conf.learners],
    };
  }

  get peers(): PeerDirectory {
    return this.opts.peers;
  }

  /** The merge this node takes part in, if any: shown in /v1/status (`merge`) and the log. */
  mergeReport(): MergeReport | null {
    return this.merge.report();
  }

  /** The applied state machine of this node (local, possibly stale reads). */
  localKv(): KvApplier['kv'] | null {
    return this.core === null ? null : this.applier.kv;
  }

  /**
   * How long ago this node last heard from its leader: 0 on the leader itself (check-quorum steps
   * a cut-off leader down within an election timeout), Infinity when it never heard one. Task
   * supervisors stop their tasks when this passes [tasks] lease_ms.
   */
  leaderContactAgeMs(now = Date.now()): number {
    const core = this.core;
    if (core === null) return Number.POSITIVE_INFINITY;
    if (core.isLeader) return 0;
    return this.leaderHeardAt === 0 ? Number.POSITIVE_INFINITY : Math.max(0, now - this.leaderHeardAt);
  }

  // ------------------------------------------------------------------ KV operations (raft-kv-service.ts)

  /** Put (or compare-and-set by revision); resolves once committed and applied. */
  put(key: string, value: JsonValue, prevRevision?: number): Promise<KvResult> {
    return this.kv.put(key, value, prevRevision);
  }

  delete(key: string): Promise<KvResult> {
    return this.kv.delete(key);
  }

  /** Linearizable (ReadIndex) unless `stale`; throws NotLeaderError on a follower for linearizable reads. */
  get(key: string, stale = false): Promise<KvEntry | null> {
    return this.kv.get(key, stale);
  }

  list(prefix: string, stale = false): Promise<{ items: KvEntry[]; revision: number }> {
    return this.kv.list(prefix, stale);
  }

  /** Leader only: propose any command (the coordination component's lease expiries). */
  command(cmd: KvCommand): Promise<KvResult> {
    return this.kv.command(cmd);
  }

  /** Leader only: a coordination command, lease times stamped with this leader's clock. */
  async coord(op: CoordOp): Promise<CoordOutcome> {
    return outcomeOf(await this.kv.command(commandOf(op, Date.now())));
  }

  /** The applied state (read-only use: local, possibly stale reads; the lease table). */
  get state(): KvStateMachine {
    return this.applier.kv;
  }

  get isLeader(): boolean {
    return this.core?.isLeader ?? false;
  }

  /** Called whenever the known leader changes (this node's role included); returns an unsubscribe. */
  onLeaderChanged(fn: () => void): () => void {
    this.leaderListeners.add(fn);
    return () => this.leaderListeners.delete(fn);
  }

  /** Called after each applied batch; returns an unsubscribe. */
  afterApply(fn: () => void): () => void {
    this.afterApplyListeners.add(fn);
    return () => this.afterApplyListeners.delete(fn);
  }

  /**
   * Wait (bounded) until some leader is known; returns it or null. Callers
   * use it to decide between serving, forwarding and answering no_quorum.
   */
  awaitLeader(timeoutMs: number): Promise<string | null> {
    return this.kv.awaitLeader(timeoutMs);
  }

  /** Resolve once the known leader differs from `from` (or after `timeoutMs`); returns the leader then. */
  awaitLeaderChange(from: string | null, timeoutMs: number): Promise<string | null> {
    return this.kv.awaitLeaderChange(from, timeoutMs);
  }

  /** Resolve once this node leads, or after `timeoutMs`; returns whether it leads. */
  awaitLeadership(timeoutMs: number): Promise<boolean> {
    return this.kv.awaitLeadership(timeoutMs);
  }

  /** The configured minimum election timeout: how long a successor may take to win. */
  get electionTimeoutMs(): number {
    return this.node?.config.consensus.election_timeout_min_ms ?? 1000;
  }

  get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs ?? 3000;
  }

  // ------------------------------------------------------------------ core driving

  /** Raft's TCP traffic counters (frames in/out count as packets); null before start. */
  transportStats(): TransportStats | null {
    return this.transport?.stats() ?? null;
  }

  /** Energy-aware elections: a battery node stretches its own election timeout (see RaftNode). */
  setElectionTimeoutScale(scale: number): void {
    this.energyElectionScale = scale;
    this.applyElectionScale();
  }

  /** The energy stretch, times the quiet stretch while this node is a quiet follower. */
  private applyElectionScale(): void {
    this.runner.setElectionTimeoutScale(
      this.energyElectionScale * (this.quietFollower ? QUIET_HEARTBEAT_SCALE : 1),
    );
    // The lease outlasts the leader's deep-quiet heartbeat gap (QUIET_LEADER_HEARTBEAT_SCALE) and
    // ends with this node's own stretched minimum timeout (the energy stretch is left out: a battery
    // voter that refused candidates for 3 x longer would slow every failover).
    this.runner.setLeaseScale(this.quietFollower ? QUIET_HEARTBEAT_SCALE : 1);
  }

  /**
   * Quiet bookkeeping (see QUIET_HEARTBEAT_SCALE): note a move of the commit
   * index. Activity ends the quiet at once on either side: a follower's
   * timeout and a leader's heartbeat go back to their base from here.
   */
  private noteCommit(core: RaftNode, now: number): void {
    const c = core.commitIndex;
    if (c === this.lastCommit) return;
    this.lastCommit = c;
    this.commitMovedAt = now;
    if (this.quietFollower) {
      this.quietFollower = false;
      this.applyElectionScale();
    }
    if (core.isLeader && this.runner.heartbeatScaleInForce > 1) this.updateHeartbeatScale(now);
  }

  /** A follower quiet for QUIET_FOLLOWER_AFTER_MS stretches its election timeout (a leader never is one). */
  private updateQuietFollower(core: RaftNode, now: number): void {
    const quiet = !core.isLeader && now - this.commitMovedAt >= QUIET_FOLLOWER_AFTER_MS;
    if (quiet === this.quietFollower) return;
    this.quietFollower = quiet;
    this.applyElectionScale();
  }

  /**
   * The leader's quiet heartbeat stretch: QUIET_LEADER_HEARTBEAT_SCALE, capped so that a
   * heartbeat still goes out every 2/3 of a quiet follower's minimum election timeout (and of
   * its lease, stretched as much). Within QUIET_LEADER_AFTER_MS of a vote request from a voter
   * (a follower that has not stretched: it restarted or joined, and its base timeout fired
   * between two heartbeats), QUIET_HEARTBEAT_SCALE capped at 2/3 of the base minimum timeout
   * instead, so that follower hears the leader in time until it has stretched too.
   */
  private quietHeartbeatScale(now: number): number {
    const c = this.node?.config.consensus;
    if (!c) return 1;
    const base = this.quietBaseScale();
    if (now - this.voteRequestAt < QUIET_LEADER_AFTER_MS) return base;
    const quietMin = c.election_timeout_min_ms * QUIET_HEARTBEAT_SCALE;
    return Math.max(
      base,
      Math.min(QUIET_LEADER_HEARTBEAT_SCALE, (quietMin * 2) / 3 / c.heartbeat_interval_ms),
    );
  }

  /** QUIET_HEARTBEAT_SCALE, capped so a heartbeat still goes out every 2/3 of the base minimum timeout. */
  private quietBaseScale(): number {
    const c = this.node?.config.consensus;
    if (!c) return 1;
    return Math.max(
      1,
      Math.min(QUIET_HEARTBEAT_SCALE, (c.election_timeout_min_ms * 2) / 3 / c.heartbeat_interval_ms),
    );
  }

  /**
   * Energy-aware leadership: hand leadership to `target` (a voter) now. Returns
   * false when this node is not the leader or the core refuses (a transfer or
   * membership change in progress). Does not wait for the new leader.
   */
  transferLeadershipTo(target: string): boolean {
    const core = this.core;
    if (!core || this.stopping || !core.isLeader) return false;
    const r = core.transferLeadership(target, Date.now());
    if (r.ok) this.kick();
    return r.ok;
  }

  private requireCore(): RaftNode {
    if (this.core === null) throw new NoQuorumError('raft is not running');
    return this.core;
  }

  private onMessage(wire: RaftWireMessage, via: ReplyPath | null = null): void {
    const core = this.core;
    if (core === null) return;
    // Forwarded client requests carry no cluster id: they are answered by whoever leads (raft-forward.ts).
    if (isForwardMessage(wire)) {
      this.forward.onMessage(wire);
      return;
    }
    if (!this.formation.acceptCluster(wire.cluster, wire.from)) return;
    // The core ignores the extra `cluster` field: no copy per message.
    const m: RaftMessage = wire;
    // Accepting may have founded or adopted a cluster, replacing the core: the new one gets the message.
    if (this.core !== core) {
      this.onMessage(wire, via);
      return;
    }
    // One clock read per message: everything below runs synchronously within it.
    const now = Date.now();
    this.links.heard(m.from, via, now);
    // A vote request reaching the leader: some voter's timer fired between two heartbeats (it had
    // not stretched for the quiet): heartbeat within its base timeout again (quietHeartbeatScale).
    if (m.type === 'request_vote' && core.isLeader) {
      this.voteRequestAt = now;
      if (this.runner.heartbeatScaleInForce > 1) this.updateHeartbeatScale(now);
    }
    // A follower's housekeeping rides the heartbeat that woke us: its timer then never fires while
    // the leader is heard (an idle follower wakes for heartbeats alone).
    if (!core.isLeader && now >= this.nextWork(core)) this.onTick(now);
    this.opts.onActivity?.();
    if (HANDOVER_TRACE.has(m.type)) this.log.debug('raft recv', { type: m.type, from: m.from, term: m.term });
    this.runner.receive(m);
    if (this.core !== null) this.noteCommit(this.core, now);
    if (m.from === this.core?.leaderId) {
      this.leaderHeardAt = now;
      // The sharer takes at most one wake-up per SHARE_WAKE_EVERY_MS (gossip-component.ts).
      if (!this.core.isLeader) this.opts.wakeSharer?.shareWake();
    }
  }

  /** Runs after every tick of the core (see RaftDriver). */
  private onTick(now: number): void {
    const core = this.core;
    if (core === null) return;
    this.noteCommit(core, now);
    const every = core.isLeader || core.leaderId === null ? MANAGE_EVERY_MS : FOLLOWER_MANAGE_EVERY_MS;
    if (now - this.lastManage >= every) {
      this.lastManage = now;
      this.updateQuietFollower(core, now);
      // Leadership may have moved since the last look: only a leader stretches its heartbeat.
      this.updateHeartbeatScale(now);
      this.autopilot.manageMembership(now);
      // A voter without a leader says why in the log (rate-limited), as a forming node does.
      if (!this.formation.fresh && core.leaderId === null) {
        const why = this.waiting();
        if (why !== null) this.formation.say(why);
      }
      this.links.resetSilentLinks(now);
    }
  }

  /** When onTick next has work: every MANAGE_EVERY_MS on a leader or while no leader is known. */
  private nextWork(core: RaftNode): number {
    if (core.isLeader || core.leaderId === null) return this.lastManage + MANAGE_EVERY_MS;
    return this.lastManage + FOLLOWER_MANAGE_EVERY_MS;
  }

  /**
   * When the driver must wake for onTick's own work. A follower that knows its leader needs no
   * timer for it: the pass rides the leader's next message (onMessage) or, when the leader falls
   * silent, the election deadline's tick. A timer at nextWork fell between two heartbeats and woke
   * an idle follower every FOLLOWER_MANAGE_EVERY_MS for nothing (0.5 wake-ups/s of its ~5).
   */
  private nextTimerWork(core: RaftNode): number {
    if (!core.isLeader && core.leaderId !== null) return Infinity;
    return this.nextWork(core);
  }

  /**
   * Energy (EnergyComponent.onPowerMode): a leader heartbeats learners less often in emergency
   * (LEARNER_HEARTBEAT_ROUNDS). Voters' timers are left alone: stretching them would slow failover
   * for the whole cluster; a battery node stretches its own election timeout (setElectionTimeoutScale).
   */
  setPowerMode(mode: PowerMode): void {
    this.powerMode = mode;
    this.runner.setLearnerHeartbeatRounds(LEARNER_HEARTBEAT_ROUNDS[mode]);
    this.updateHeartbeatScale();
  }

  /**
   * Energy: a leader whose other voters all advertise a critical battery
   * heartbeats them EMERGENCY_HEARTBEAT_SCALE times less often (and runs
   * check-quorum over as much longer); all on a low battery, LOW_POWER_HEARTBEAT_SCALE
   * times. Each of them has stretched its own election timeout as much already
   * (electionTimeoutMultiplier: x3 critical, x2 low, at the sample that saw the
   * battery), so the ratio of timeout to heartbeat stays the configured one;
   * one voter off that state (on mains, recharged, unknown) and the leader
   * heartbeats at the base period again, from its next round.
   *
   * Quiet on top multiplies (QUIET_HEARTBEAT_SCALE, capped at 2/3 of the
   * minimum election timeout): a follower that has not stretched for quiet
   * still has its energy stretch, so it hears a heartbeat every 2/3 of its own
   * minimum timeout. Idle and all critical, a follower then hears its leader
   * every 4 s by default instead of every 2 s; idle with no energy stretch,
   * the deep quiet (quietHeartbeatScale) applies instead: 2 s.
   */
  private updateHeartbeatScale(now = Date.now()): void {
    const core = this.core;
    if (core === null) return;
    let scale = 1;
    if (core.isLeader) {
      const others = core.confState.voters.filter((v) => v !== core.id);
      const states = others.map((v) => this.opts.peers.get(v)?.powerState);
      // Alone among the voters, nobody waits for our heartbeats but learners: our own mode decides.
      const mode = others.length === 0 ? this.powerMode : null;
      if (mode === 'emergency' || (others.length > 0 && states.every((st) => st === 'critical')))
        scale = EMERGENCY_HEARTBEAT_SCALE;
      else if (
        mode === 'low_power' ||
        (others.length > 0 && states.every((st) => st === 'critical' || st === 'low_power'))
      )
        scale = LOW_POWER_HEARTBEAT_SCALE;
      // Quiet on top. Without an energy stretch: the deep quiet (quietHeartbeatScale, 2 s by
      // default, inside a quiet follower's 3 s lease). With one: only the base quiet x2 on top of
      // it (4 s all critical), so each heartbeat carries an emergency probe (wake-share.ts). That
      // gap outlasts a quiet follower's lease (the energy stretch is left out of leases, see
      // applyElectionScale), but no voter campaigns inside it: every other voter is critical or
      // low, so its own minimum timeout is at least 2 x 1.5 s even unquiet, and one voter back on
      // mains ends the energy stretch at the next round.
      if (now - this.commitMovedAt >= QUIET_LEADER_AFTER_MS)
        scale = scale === 1 ? this.quietHeartbeatScale(now) : scale * this.quietBaseScale();
    }
    this.runner.setHeartbeatScale(scale);
  }

  /**
   * Learners to heartbeat every round (the tasks component: nodes running allocations, whose task
   * lease counts the time since the leader was last heard; see RaftNode.setContactLearners).
   */
  setContactLearners(ids: ReadonlySet<string>): void {
    this.runner.setContactLearners(ids);
  }

  /** Tick only while this node is a voter: learners and not-yet-members have no timers to run. */
  private updateTimer(): void {
    this.runner.updateTimer();
  }

  private kick(): void {
    this.opts.onActivity?.();
    this.runner.kick();
  }

  private onPeersChanged(): void {
    if (this.core === null || this.stopping) return;
    const now = Date.now();
    this.updateHeartbeatScale(now);
    this.links.redialAlivePeers();
    this.links.restartHint(now);
    this.merge.check(now);
    this.formation.maybeBootstrap();
    this.autopilot.manageMembership(now);
    this.kick();
  }

  /** After a merge moved the state aside: an empty core on the same transport, fresh for formation. */
  private async reopenFresh(from: string): Promise<void> {
    await this.runner.reopenEmpty();
    this.formation.restartFresh(from);
    this.updateTimer();
    this.onPeersChanged();
  }
}
