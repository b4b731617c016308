/**
 * The Raft core inside the node daemon: durable log in <data_dir>/raft,
 * encrypted TCP to peers whose addresses come from the PeerDirectory, the KV
 * state machine, and the leader's automatic membership management.
 *
 * The Ready loop is the shared driver (src/driver/raft-driver.ts), run here
 * over the file WAL, the TCP transport and Node's timers.
 */
import { randomInt } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  openSync,
  fsyncSync,
  closeSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { SwarmError } from '../common/errors.js';
import { fnv1a } from '../common/hash.js';
import { createRng } from '../common/rng.js';
import { walStorage } from '../driver/file-storage.js';
import type { SendOutcome } from '../driver/interfaces.js';
import { nodeClock } from '../driver/node-clock.js';
import { RaftDriver } from '../driver/raft-driver.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../net/framing.js';
import { isForwardMessage, type RaftWireMessage } from '../net/forward-codec.js';
import { openRaftTransport } from '../net/runtime.js';
import { peerKey, type TcpAddress, type TcpTransport } from '../net/tcp.js';
import type { TransportStats } from '../net/wire.js';
import { KvApplier } from '../raft/kv-applier.js';
import { encodeCommand, type JsonValue, type KvCommand, type KvRecord, type KvResult } from '../raft/kv.js';
import type { RaftMessage } from '../raft/messages.js';
import { RaftNode } from '../raft/raft-node.js';
import { FileRaftStorage } from '../raft/storage/file-storage.js';
import type { ConfState, RecoveredState } from '../raft/types.js';
import type { ComponentStatus, MergeStatus, NodeComponent, SwarmNode } from './node.js';
import {
  CLUSTER_TAG,
  FORMATION_TAG,
  Formation,
  MERGING_TAG,
  VOTERS_TAG,
  mergeVerdict,
  type FormationDecision,
} from './formation.js';
import type { PeerDirectory, PeerInfo } from './peers.js';
import { RaftForwarder } from './raft-forward.js';
import { planMembershipChange } from './raft-membership.js';
import { RaftMetrics } from './raft-metrics.js';

/** A request the cluster could not decide in time (no leader, no quorum, leadership lost). */
export class NoQuorumError extends SwarmError {
  constructor(message: string) {
    super('no_quorum', message, { exitCode: 1 });
  }
}

/** A write that would grow the store past `raft.quota_bytes` (deletes always pass: they free space). */
export class QuotaExceededError extends SwarmError {
  constructor(message: string) {
    super('quota_exceeded', message, { exitCode: 1 });
  }
}

/**
 * This node does not take the request: `leader` is who it believes leads
 * (null when unknown; itself while handing over), `successor` the node it is
 * handing leadership to, if any.
 */
export class NotLeaderError extends SwarmError {
  readonly leader: string | null;
  readonly successor: string | null;
  constructor(leader: string | null, successor: string | null = null) {
    super(
      'not_leader',
      successor !== null
        ? `handing leadership to ${successor}`
        : leader === null
          ? 'no leader known'
          : `leader is ${leader}`,
      { exitCode: 1 },
    );
    this.leader = leader;
    this.successor = successor;
  }
}

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
}

export interface KvEntry {
  readonly key: string;
  readonly value: JsonValue;
  readonly revision: number;
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

const BOOTSTRAP_FILE = 'raft-bootstrap.json';
/** A merge verdict must hold this long before a cluster yields (gossip tags settle). */
const MERGE_SETTLE_MS = 3000;
/** A follower without a leader yields on its own after this long (its leader cannot export). */
const MERGE_LEADERLESS_MS = 10_000;
/** How long a yielding leader waits to be added to the winner before giving up (keys stay in the backup). */
const MERGE_JOIN_WAIT_MS = 60_000;
const MAX_REPORTED_CONFLICTS = 100;

/** A merge in progress or done on this node (see docs/formation.md). */
type MergeState = MergeStatus;
export type MergeReport = MergeStatus;
/** While forming, the view is re-examined this often (agreement arrives through gossip tags). */
const FORMATION_POLL_MS = 200;
/** While waiting to be added to a running cluster (an idle learner-to-be should barely wake up). */
const JOIN_POLL_MS = 2000;
/** At most one log line per this interval for a repeated condition (waiting, foreign cluster). */
const SAY_EVERY_MS = 5000;
const MANAGE_EVERY_MS = 500;

function entryOf(key: string, rec: KvRecord): KvEntry {
  return { key, value: rec.value, revision: rec.modRevision };
}

/**
 * snapshot_interval_entries plus up to half of it more, fixed by node id: replicas apply the same
 * log, so with one interval they all snapshot at the same index and a commit then waits on two
 * busy nodes (the leader and the follower it needs); staggered, mostly on one.
 */
function snapshotEveryFor(id: string, every: number): number {
  return every + Math.floor(((fnv1a(id) % 1000) / 1000) * (every / 2));
}

function parsePeerAddr(s: string): TcpAddress | null {
  const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(s);
  if (!m) return null;
  return { host: m[1] === '0.0.0.0' ? '127.0.0.1' : m[1]!, port: Number(m[2]) };
}

export class RaftComponent implements NodeComponent {
  readonly name = 'raft';
  private readonly opts: RaftComponentOptions;
  private node: SwarmNode | null = null;
  private storage: FileRaftStorage | null = null;
  private transport: TcpTransport<RaftWireMessage> | null = null;
  /** The one Ready loop (src/driver); it holds the core. */
  private driver: RaftDriver | null = null;
  private applier = new KvApplier();
  private founders: string[] = [];
  private fresh = false;
  private electionScale = 1;
  private bootstrapTimer: NodeJS.Timeout | undefined;
  /** Cluster id this node belongs to; '' while fresh, or for a cluster formed before ids existed. */
  private clusterId = '';
  private formation: Formation | null = null;
  private startedAt = 0;
  /** Why there is no leader (formation, join, quorum), for status and the log; null with a leader. */
  private waitingFor: string | null = null;
  private lastSaid = { text: '', at: 0 };
  private merge: MergeState | null = null;
  private mergeSeen: { winner: string; since: number } | null = null;
  private mergeTimer: NodeJS.Timeout | undefined;
  /** Clusters this node yielded: never bound to again (their old members may still send). */
  private readonly yielded = new Set<string>();
  /** Non-null while writes are refused (a yielding leader after its export). */
  private frozen: string | null = null;
  private advertisedVoters = -1;
  private lastForeignLog = 0;
  private raftAddr: string | null = null;

  private tickMs = 100;
  private lastManage = 0;
  private stopping = false;
  private unsubscribe: (() => void) | null = null;
  private readonly deadSince = new Map<string, number>();
  /** When each peer we send to was last heard from (first send counts as heard). */
  private readonly heardAt = new Map<string, number>();
  /** When each peer was last sent to: only a peer that owes us an answer can be stalled. */
  private readonly sentAt = new Map<string, number>();
  private readonly resetAt = new Map<string, number>();
  /** Each peer's Raft address as parsed, keyed by its advertised string (parsed once, not per message). */
  private readonly addrs = new Map<string, { readonly raw: string; readonly addr: TcpAddress | null }>();
  /** Applied entries between snapshots on this node (see snapshotEveryFor). */
  private snapshotEvery = 0;
  private readSeq = 0;

  private readonly leaderWaiters = new Set<() => void>();

  /** Ticks since start, reported so the idle cost is visible. */
  get ticks(): number {
    return this.driver?.ticks ?? 0;
  }

  private get core(): RaftNode | null {
    return this.driver?.core ?? null;
  }

  private set core(core: RaftNode | null) {
    if (this.driver) this.driver.core = core;
  }

  /** A Ready loop is running: the core must not be replaced under it. */
  private get processing(): boolean {
    return this.driver?.busy ?? false;
  }

  /** Prometheus metrics (term, role, commit/apply index, proposals, fsync latency). */
  readonly metrics: RaftMetrics;
  /** Serves KV requests on any node: forwards to the leader over the Raft transport (raft-forward.ts). */
  readonly forward: RaftForwarder;

  constructor(opts: RaftComponentOptions) {
    this.opts = opts;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- getters below read the live component
    const self = this;
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
      currentTerm: () => this.core?.status().term ?? 0,
      leader: () => this.core?.leaderId ?? null,
      appliedIndex: () => this.applier.appliedIndex,
      sendForward: (to, msg) => {
        const hp = this.peerAddr(to);
        return hp !== null && this.transport?.send(hp, msg) === 'queued';
      },
      knownPeer: (id) => this.peerAddr(id) !== null,
      put: (key, value, prev) => this.put(key, value, prev),
      delete: (key) => this.delete(key),
      readIndex: async () => {
        await this.readBarrier();
        return this.applier.appliedIndex;
      },
      awaitLeader: (ms) => this.awaitLeader(ms),
      awaitLeaderChange: (from, ms) => this.awaitLeaderChange(from, ms),
      awaitLeadership: (ms) => this.awaitLeadership(ms),
    });
  }

  // ------------------------------------------------------------------ lifecycle

  async start(node: SwarmNode): Promise<void> {
    this.node = node;
    const cfg = node.config;
    const dir = join(node.dataDir, 'raft');
    const storage = new FileRaftStorage(dir, {
      onWarning: (w) => node.log.warn('raft storage repaired', { ...w }),
    });
    // Corruption throws a StorageError naming the file and offset: the node must not start.
    const recovered = await storage.load();
    this.storage = storage;
    this.snapshotEvery = snapshotEveryFor(node.id, cfg.raft.snapshot_interval_entries);
    // A node that lost acknowledged entries is never fresh, even if nothing survived: it must not found a cluster.
    this.fresh =
      recovered.snapshot === null &&
      recovered.entries.length === 0 &&
      recovered.hardState.term === 0 &&
      recovered.recoveringUntil === undefined;
    const bootFile = join(node.dataDir, BOOTSTRAP_FILE);
    const boot = existsSync(bootFile) ? this.readBootstrap(bootFile) : undefined;
    let initial: ConfState | undefined;
    if (boot) {
      this.fresh = false;
      this.clusterId = boot.cluster;
      if (boot.voters.length > 0) initial = { voters: boot.voters, learners: [] };
    }
    this.startedAt = Date.now();
    if (this.fresh) {
      this.formation = new Formation({
        ...(this.opts.formationWindowMs !== undefined ? { windowMs: this.opts.formationWindowMs } : {}),
        ...(this.opts.formationMinUptimeMs !== undefined
          ? { minUptimeMs: this.opts.formationMinUptimeMs }
          : {}),
      });
    }
    const c = cfg.consensus;
    // Fine enough that an election timeout fires within a tenth of its minimum; never above the heartbeat.
    this.tickMs = Math.max(10, Math.min(c.heartbeat_interval_ms, Math.floor(c.election_timeout_min_ms / 10)));
    this.driver = this.newDriver(storage);
    this.core = this.newCore(recovered, initial);
    if (recovered.snapshot) {
      this.applier.restore(recovered.snapshot);
    }

    try {
      this.transport = await openRaftTransport({
        bindAddress: cfg.network.bind_address,
        port: cfg.raft.port,
        security: cfg.security,
        onMessage: (m) => this.onMessage(m),
        onPeerState: (peer, state) => {
          if (state === 'refused') this.onPeerRefused(peer);
        },
        onError: (err) => node.log.debug('raft transport', { error: err }),
        // By host only: inbound Raft connections come from ephemeral ports.
        onRefused: (remote, reason) => node.refused(remote.host, 'raft', reason),
      });
    } catch (err) {
      // The node only stops components that started: release the log here.
      this.core = null;
      this.driver = null;
      this.storage = null;
      await storage.close();
      throw err;
    }
    const a = this.transport.address();
    this.raftAddr = a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
    node.log.info('raft listening', { address: this.raftAddr, tick_ms: this.tickMs });
    this.unsubscribe = this.opts.peers.onChange(() => this.onPeersChanged());
    if (this.clusterId !== '') {
      this.opts.peers.advertise?.({ [CLUSTER_TAG]: this.clusterId, [FORMATION_TAG]: null });
      this.advertiseVoters();
    }
    this.onPeersChanged();
    this.updateTimer();
  }

  /** A leader hands over while the API still runs, so clients in flight are relayed to the successor. */
  async beforeStop(): Promise<void> {
    if (this.core === null) return;
    clearTimeout(this.bootstrapTimer);
    await this.handOver();
  }

  async stop(): Promise<void> {
    if (this.core === null) return;
    this.stopping = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    clearTimeout(this.bootstrapTimer);
    clearTimeout(this.mergeTimer);
    await this.handOver();
    await this.driver?.stop();
    this.forward.close();
    await this.transport?.close();
    this.transport = null;
    this.applier.abandonAll('node stopping');
    await this.storage?.close();
    this.storage = null;
    this.core = null;
    this.driver = null;
  }

  status(): ComponentStatus {
    const core = this.core;
    if (!core) return {};
    const s = core.status();
    return {
      role: s.role,
      term: s.term,
      leader: s.leader,
      commitIndex: s.commit,
      appliedIndex: this.applier.appliedIndex,
      voters: s.conf.voters,
      learners: s.conf.learners,
      cluster: this.clusterId === '' ? null : this.clusterId,
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
    const m = this.merge;
    if (m !== null && m.state !== 'done' && m.state !== 'failed')
      return `merging cluster ${m.from} into ${m.to}: ${m.state}`;
    if (this.fresh) return this.waitingFor ?? 'formation: starting';
    const s = core.status();
    if (s.leader !== null) return null;
    if (!s.conf.voters.includes(s.id)) {
      return s.conf.learners.includes(s.id)
        ? 'learner: no leader heard from yet'
        : 'waiting to be added by the leader';
    }
    if (s.conf.voters.length === 1) return 'electing itself (single voter)';
    const others = s.conf.voters.filter((v) => v !== s.id);
    const reachable = others.filter((v) => {
      const st = this.opts.peers.get(v)?.status;
      return st === 'alive' || st === 'suspect';
    }).length;
    const need = Math.floor(s.conf.voters.length / 2) + 1;
    return reachable + 1 >= need
      ? `electing a leader: ${reachable + 1} of ${s.conf.voters.length} voters reachable`
      : `no quorum: ${reachable + 1} of ${s.conf.voters.length} voters reachable, ${need} needed`;
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

  // ------------------------------------------------------------------ KV operations (leader side)

  /** Put (or compare-and-set by revision); resolves once committed and applied. */
  async put(key: string, value: JsonValue, prevRevision?: number): Promise<KvResult> {
    const cmd: KvCommand =
      prevRevision === undefined
        ? { op: 'put', key, value }
        : { op: 'cas_rev', key, expectedRevision: prevRevision, value };
    return this.propose(cmd);
  }

  async delete(key: string): Promise<KvResult> {
    return this.propose({ op: 'delete', key });
  }

  /** Linearizable (ReadIndex) unless `stale`; throws NotLeaderError on a follower for linearizable reads. */
  async get(key: string, stale = false): Promise<KvEntry | null> {
    if (!stale) await this.readBarrier();
    const rec = this.applier.kv.get(key);
    return rec === null ? null : entryOf(key, rec);
  }

  async list(prefix: string, stale = false): Promise<{ items: KvEntry[]; revision: number }> {
    if (!stale) await this.readBarrier();
    const items: KvEntry[] = [];
    for (const k of this.applier.kv.keys()) {
      if (!k.startsWith(prefix)) continue;
      const rec = this.applier.kv.get(k);
      if (rec) items.push(entryOf(k, rec));
    }
    return { items, revision: this.applier.kv.revision };
  }

  /**
   * Wait (bounded) until some leader is known; returns it or null. Callers
   * use it to decide between serving, forwarding and answering no_quorum.
   */
  async awaitLeader(timeoutMs: number): Promise<string | null> {
    this.requireCore();
    return this.awaitLeaderChange(null, timeoutMs);
  }

  /** Resolve once the known leader differs from `from` (or after `timeoutMs`); returns the leader then. */
  async awaitLeaderChange(from: string | null, timeoutMs: number): Promise<string | null> {
    const cur = this.core?.leaderId ?? null;
    if (cur !== from) return cur;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.leaderWaiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      this.leaderWaiters.add(done);
    });
    return this.core?.leaderId ?? null;
  }

  /** Resolve once this node leads, or after `timeoutMs`; returns whether it leads. */
  async awaitLeadership(timeoutMs: number): Promise<boolean> {
    const self = this.requireCore().id;
    const end = Date.now() + timeoutMs;
    for (;;) {
      const cur = this.core?.leaderId ?? null;
      if (cur === self) return true;
      const rest = end - Date.now();
      if (rest <= 0) return false;
      await this.awaitLeaderChange(cur, rest);
    }
  }

  /** The configured minimum election timeout: how long a successor may take to win. */
  get electionTimeoutMs(): number {
    return this.node?.config.consensus.election_timeout_min_ms ?? 1000;
  }

  get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs ?? 3000;
  }

  private async propose(cmd: KvCommand): Promise<KvResult> {
    const core = this.requireCore();
    if (this.stopping) throw new NoQuorumError('node stopping');
    if (this.frozen !== null) throw new NoQuorumError(this.frozen);
    const data = encodeCommand(cmd);
    const quota = this.node?.config.raft.quota_bytes ?? 0;
    // Checked by the leader before proposing (etcd's quota): replicas never disagree on applying.
    if (
      quota > 0 &&
      cmd.op !== 'delete' &&
      core.isLeader &&
      this.applier.kv.bytes + data.byteLength > quota
    ) {
      throw new QuotaExceededError(
        `store holds ${this.applier.kv.bytes} bytes; this write of ${data.byteLength} would exceed raft.quota_bytes = ${quota}`,
      );
    }
    const r = core.propose(data, Date.now());
    if (!r.ok) {
      this.metrics.proposals.inc({ result: 'rejected' });
      if (r.reason === 'not_leader') throw new NotLeaderError(r.leader);
      // During a hand-over the caller takes the request to the successor: the write gap stays short.
      if (r.reason === 'transferring') throw new NotLeaderError(r.leader, core.status().leadTransferee);
      throw new NoQuorumError(`proposal refused: ${r.reason}`);
    }
    const t0 = performance.now();
    const p = new Promise<KvResult>((resolve, reject) =>
      this.applier.awaitApply(r.index, {
        term: r.term,
        applied: (result) => {
          this.metrics.proposals.inc({ result: 'applied' });
          this.metrics.commitSeconds.observe((performance.now() - t0) / 1000);
          resolve(result);
        },
        superseded: (index, term) => {
          this.metrics.proposals.inc({ result: 'failed' });
          reject(
            new NoQuorumError(
              `leadership changed: entry ${index} was replaced in term ${term} (not applied)`,
            ),
          );
        },
        abandoned: (reason) => reject(new NoQuorumError(reason)),
      }),
    );
    this.kick();
    return this.bounded(p, () => {
      this.applier.cancelApply(r.index);
      this.metrics.proposals.inc({ result: 'failed' });
      return new NoQuorumError(
        `entry ${r.index} not committed within ${this.requestTimeoutMs} ms (outcome unknown)`,
      );
    });
  }

  private async readBarrier(): Promise<void> {
    const core = this.requireCore();
    const id = `r${++this.readSeq}`;
    const r = core.readIndex(id, Date.now());
    if (!r.ok) throw new NotLeaderError(r.leader, core.status().leadTransferee);
    const p = new Promise<void>((resolve) => this.applier.awaitRead(id, { ready: () => resolve() }));
    this.kick();
    await this.bounded(p, () => {
      this.applier.cancelRead(id);
      return new NoQuorumError(`read not confirmed by a quorum within ${this.requestTimeoutMs} ms`);
    });
  }

  private bounded<T>(p: Promise<T>, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(onTimeout()), this.requestTimeoutMs);
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  // ------------------------------------------------------------------ core driving

  private newCore(recovered: RecoveredState, initialConf?: ConfState): RaftNode {
    const node = this.node!;
    const c = node.config.consensus;
    const core = new RaftNode(
      {
        id: node.id,
        electionTimeoutMinMs: c.election_timeout_min_ms,
        electionTimeoutMaxMs: c.election_timeout_max_ms,
        heartbeatIntervalMs: c.heartbeat_interval_ms,
        // Nodes need different election timeouts; a crypto seed keeps restarted nodes from repeating one.
        rng: createRng(this.opts.seed ?? randomInt(0, 2 ** 32)),
      },
      recovered,
      initialConf,
    );
    core.setElectionTimeoutScale(this.electionScale);
    return core;
  }

  /** Raft's TCP traffic counters (frames in/out count as packets); null before start. */
  transportStats(): TransportStats | null {
    return this.transport?.stats() ?? null;
  }

  /** Energy-aware elections: a battery node stretches its own election timeout (see RaftNode). */
  setElectionTimeoutScale(scale: number): void {
    this.electionScale = scale;
    this.core?.setElectionTimeoutScale(scale);
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

  private onMessage(wire: RaftWireMessage): void {
    const core = this.core;
    if (core === null) return;
    // Forwarded client requests carry no cluster id: they are answered by whoever leads (raft-forward.ts).
    if (isForwardMessage(wire)) {
      this.forward.onMessage(wire);
      return;
    }
    if (!this.acceptCluster(wire.cluster, wire.from)) return;
    // The core ignores the extra `cluster` field: no copy per message.
    const m: RaftMessage = wire;
    if (this.core !== core) {
      this.onMessage(wire);
      return;
    }
    this.heardAt.set(m.from, Date.now());
    // Its message came over its own connection: ours to it, if waiting out a redial back-off, dials now.
    const hp = this.peerAddr(m.from);
    if (hp) this.transport?.peerAlive(hp);
    this.driver?.receive(m);
  }

  /**
   * A dial to `addr` was refused: if that is the leader's Raft port, its
   * process is gone (a SIGKILL, a crash), so stand for election now rather
   * than after a whole election timeout. See RaftNode.peerUnreachable.
   */
  private onPeerRefused(addr: string): void {
    const core = this.core;
    if (core === null || this.stopping) return;
    const leader = core.leaderId;
    if (leader === null) return;
    const hp = this.peerAddr(leader);
    if (hp === null || peerKey(hp) !== addr) return;
    if (core.peerUnreachable(leader, Date.now())) {
      this.node?.log.info('raft leader unreachable: its port refuses connections', { leader });
      this.kick();
    }
  }

  /** Runs after every tick of the core (see RaftDriver). */
  private onTick(now: number): void {
    const core = this.core;
    if (core === null) return;
    if (now - this.lastManage >= MANAGE_EVERY_MS) {
      this.lastManage = now;
      this.manageMembership(now);
      // A voter without a leader says why in the log (rate-limited), as a forming node does.
      if (!this.fresh && core.leaderId === null) {
        const why = this.waiting();
        if (why !== null) this.say(why);
      }
      this.resetSilentLinks(now);
    }
  }

  /**
   * A peer we keep sending to but have not heard from for an election
   * timeout may sit behind a stalled connection (see TcpTransport.reset):
   * redial it, at most once per election timeout. On a real partition the new
   * dial fails and back-off takes over (at most 2 s between tries), so a heal
   * is noticed within seconds instead of at the kernel's next retransmission.
   * Costs one connection attempt per silent peer per election timeout.
   */
  private resetSilentLinks(now: number): void {
    const t = this.transport;
    if (t === null) return;
    const quiet = this.node!.config.consensus.election_timeout_min_ms;
    for (const [id, heard] of this.heardAt) {
      const conf = this.core!.confState;
      if (!conf.voters.includes(id) && !conf.learners.includes(id)) {
        this.heardAt.delete(id);
        this.sentAt.delete(id);
        continue;
      }
      // Sent to since we last heard, and silent for an election timeout: a link that merely went idle
      // (two followers after an election) is left alone, so an idle swarm opens no connections.
      if ((this.sentAt.get(id) ?? 0) <= heard || now - heard < quiet) continue;
      if (now - (this.resetAt.get(id) ?? 0) < quiet) continue;
      const hp = this.peerAddr(id);
      if (hp === null) continue;
      this.resetAt.set(id, now);
      if (t.reset(hp))
        this.node?.log.debug('raft link silent: redialling', { peer: id, silent_ms: now - heard });
    }
  }

  /** Tick only while this node is a voter: learners and not-yet-members have no timers to run. */
  private updateTimer(): void {
    this.driver?.updateTimer();
  }

  private kick(): void {
    this.driver?.kick();
  }

  /** The shared Ready loop over this node's WAL, TCP transport and Node's timers. */
  private newDriver(storage: FileRaftStorage): RaftDriver {
    return new RaftDriver({
      core: null,
      storage: walStorage(storage),
      transport: {
        maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
        send: (m) => this.sendTo(m),
      },
      clock: nodeClock,
      applier: this.applier,
      tickMs: this.tickMs,
      snapshotEvery: this.snapshotEvery,
      hooks: {
        onTick: (now) => this.onTick(now),
        onLeaderChange: () => this.wakeLeaderWaiters(),
        onSoftState: (ss, term) =>
          this.node?.log.info('raft role', { role: ss.role, leader: ss.leader, term }),
        onFsync: (seconds) => this.metrics.fsyncSeconds.observe(seconds),
        onPersisted: (rd) => {
          if (rd.snapshot)
            this.node?.log.info('raft snapshot installed', {
              index: rd.snapshot.meta.index,
              bytes: rd.snapshot.data.byteLength,
            });
          if (rd.recovered) this.node?.log.info('raft caught up after a loss of acknowledged entries');
        },
        onAdvanced: () => {
          this.forward.onApplied(this.applier.appliedIndex);
          this.advertiseVoters();
        },
        onFailure: (err, stage) => {
          // The storage fails stop on an I/O error (see FileRaftStorage.io): stop rather than continue.
          this.node?.log.error(
            stage === 'ready'
              ? 'raft ready loop failed; stopping node'
              : 'raft snapshot failed; stopping node',
            { error: err },
          );
          this.node?.requestShutdown('raft storage failure', err);
        },
      },
    });
  }

  private sendTo(m: RaftMessage): SendOutcome {
    const t = this.transport;
    if (t === null) return 'closed';
    const hp = this.peerAddr(m.to);
    if (hp === null) return 'unknown-peer';
    const now = Date.now();
    const r = t.send(hp, { ...m, cluster: this.clusterId });
    this.sentAt.set(m.to, now);
    if (!this.heardAt.has(m.to)) this.heardAt.set(m.to, now);
    return r;
  }

  /** A peer's Raft address from the directory, or null when it advertises none (or a malformed one). */
  private peerAddr(id: string): TcpAddress | null {
    const raw = this.opts.peers.get(id)?.raftAddr;
    if (!raw) return null;
    const known = this.addrs.get(id);
    if (known?.raw === raw) return known.addr;
    const addr = parsePeerAddr(raw);
    this.addrs.set(id, { raw, addr });
    return addr;
  }

  private wakeLeaderWaiters(): void {
    for (const w of [...this.leaderWaiters]) w();
  }

  // ------------------------------------------------------------------ membership

  /**
   * raft-bootstrap.json: `{"voters": [ids]}` (before cluster ids) or
   * `{"version": 2, "cluster": id, "voters": [ids], "founders": [ids]}`; a node
   * that joined an existing cluster has `"voters": []` and only its cluster id.
   */
  private readBootstrap(file: string): { voters: string[]; cluster: string } {
    const v = JSON.parse(readFileSync(file, 'utf8')) as { voters?: unknown; cluster?: unknown };
    const okIds = Array.isArray(v.voters) && v.voters.every((x) => typeof x === 'string');
    if (!okIds || (v.cluster !== undefined && typeof v.cluster !== 'string')) {
      throw new SwarmError(
        'raft_bootstrap_file',
        `${file} is malformed: expected {"voters": [ids], "cluster": "<id>"}`,
      );
    }
    return { voters: v.voters as string[], cluster: (v.cluster as string | undefined) ?? '' };
  }

  /**
   * Durable before the core uses it: a restarted founder must still know it is
   * a voter, and every node must keep refusing other clusters' traffic.
   */
  private writeBootstrap(cluster: string, voters: readonly string[]): void {
    const dir = this.node!.dataDir;
    mkdirSync(dir, { recursive: true });
    const file = join(dir, BOOTSTRAP_FILE);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 2, cluster, voters, founders: voters }));
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  private onPeersChanged(): void {
    if (this.core === null || this.stopping) return;
    this.checkMerge(Date.now());
    this.maybeBootstrap();
    this.manageMembership(Date.now());
    this.kick();
  }

  /**
   * Whether a message stamped with `cluster` may reach the core. Another
   * cluster's traffic is dropped (counted, logged at most every few seconds):
   * its terms and log would corrupt ours. A fresh node binds to the first
   * cluster that talks to it: a founder's (it adopts the founders' conf, which
   * it proposed itself) or a leader's that added it as a learner.
   */
  private acceptCluster(cluster: string, from: string): boolean {
    if (cluster === this.clusterId || cluster === '') return true;
    if (this.clusterId === '' && !this.fresh) return true; // a cluster from before ids: no check possible
    if (this.fresh && this.formation !== null && !this.yielded.has(cluster)) {
      if (this.processing) return false; // the core is replaced only between Ready loops; Raft resends
      const founders = this.formation.foundersOf(cluster);
      if (founders?.includes(this.node!.id)) this.startCluster('adopt', cluster, founders);
      else this.bindCluster(cluster, from);
      return true;
    }
    this.metrics.foreignDropped++;
    const now = Date.now();
    if (now - this.lastForeignLog >= SAY_EVERY_MS) {
      this.lastForeignLog = now;
      this.node?.log.warn('raft message from another cluster dropped', {
        from,
        their_cluster: cluster,
        our_cluster: this.clusterId,
        dropped_total: this.metrics.foreignDropped,
      });
    }
    return false;
  }

  /** Founders all start from the same initial configuration (etcd's initial-cluster). */
  private startCluster(kind: 'found' | 'adopt', cluster: string, founders: readonly string[]): void {
    const node = this.node!;
    this.writeBootstrap(cluster, founders);
    this.fresh = false;
    this.formation = null;
    this.clusterId = cluster;
    this.waitingFor = null;
    clearTimeout(this.bootstrapTimer);
    this.core = this.newCore(
      { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
      { voters: [...founders], learners: [] },
    );
    this.opts.peers.advertise?.({ [CLUSTER_TAG]: cluster, [FORMATION_TAG]: null });
    this.advertiseVoters();
    node.log.info(kind === 'found' ? 'raft cluster founded' : 'raft cluster adopted', {
      cluster,
      voters: founders,
    });
    this.updateTimer();
  }

  /** A leader added this fresh node: it now belongs to that cluster, as a learner to be. */
  private bindCluster(cluster: string, from: string): void {
    this.writeBootstrap(cluster, []);
    this.fresh = false;
    this.formation = null;
    this.clusterId = cluster;
    this.waitingFor = null;
    clearTimeout(this.bootstrapTimer);
    this.opts.peers.advertise?.({ [CLUSTER_TAG]: cluster, [FORMATION_TAG]: null });
    this.node?.log.info('raft cluster joined', { cluster, by: from });
  }

  /**
   * Zero-config formation (src/node/formation.ts): wait for a stable view,
   * advertise the founder proposal, found once every founder proposes the
   * same set. Only a node with an empty log that belongs to no cluster does this.
   */
  private maybeBootstrap(): void {
    const core = this.core;
    const node = this.node;
    const formation = this.formation;
    if (!core || !node || !this.fresh || formation === null || this.stopping) return;
    const st = core.status();
    if (st.term > 0 || st.lastIndex > 0 || st.conf.voters.length > 0) {
      this.fresh = false;
      this.formation = null;
      return;
    }
    const now = Date.now();
    const expect = node.config.raft.bootstrap_expect || (this.opts.bootstrap === true ? 1 : 0);
    const d: FormationDecision = formation.decide({
      now,
      selfId: node.id,
      selfClass: node.config.node.device_class,
      startedAt: this.startedAt,
      peers: this.opts.peers.peers(),
      expect,
      maxVoters: node.config.raft.voters,
    });
    if (d.kind === 'found' || d.kind === 'adopt') {
      if (this.processing) {
        // The core must not be replaced under a running Ready loop; look again shortly.
        this.scheduleFormation(20);
        return;
      }
      this.startCluster(d.kind, d.cluster, d.founders);
      return;
    }
    this.opts.peers.advertise?.({ [FORMATION_TAG]: d.kind === 'wait' ? d.proposal : null });
    this.say(d.reason);
    // Waiting to be added costs no polling to speak of: the leader's first message binds this node.
    this.scheduleFormation(d.kind === 'join' ? JOIN_POLL_MS : FORMATION_POLL_MS);
  }

  private scheduleFormation(ms: number): void {
    clearTimeout(this.bootstrapTimer);
    this.bootstrapTimer = setTimeout(() => {
      if (this.core !== null && !this.stopping) {
        this.maybeBootstrap();
        this.kick();
      }
    }, ms);
    this.bootstrapTimer.unref();
  }

  /** Record why there is no leader and log it when it changes, at most every few seconds. */
  private say(reason: string): void {
    this.waitingFor = reason;
    const now = Date.now();
    const kind = reason.replace(/[\d.]+/g, '#');
    if (kind === this.lastSaid.text && now - this.lastSaid.at < SAY_EVERY_MS) return;
    if (now - this.lastSaid.at < 1000) return;
    this.lastSaid = { text: kind, at: now };
    this.node?.log.info('raft waiting', { for: reason });
  }

  private manageMembership(now: number): void {
    const core = this.core;
    const node = this.node;
    if (!core || !node || this.stopping) return;
    const s = core.status();
    if (s.role !== 'leader' || s.progress === null) return;
    const peers = this.opts.peers.peers();
    for (const p of peers) {
      if (p.status === 'dead') {
        if (!this.deadSince.has(p.id)) this.deadSince.set(p.id, now);
      } else this.deadSince.delete(p.id);
    }
    const deadMs = this.opts.deadVoterMs ?? 30_000;
    const dead = new Set([...this.deadSince].filter(([, t]) => now - t >= deadMs).map(([id]) => id));
    const match = new Map(Object.entries(s.progress).map(([id, pr]) => [id, pr.match]));
    this.founders = this.founders.filter((id) => !s.conf.voters.includes(id));
    // A peer that belongs to another cluster is not ours to add: its Raft traffic is refused both ways.
    const ours = (p: PeerInfo): boolean => {
      const c = p.tags?.[CLUSTER_TAG];
      return c === undefined || c === '' || c === this.clusterId || this.clusterId === '';
    };
    const change = planMembershipChange({
      selfId: s.id,
      conf: s.conf,
      match,
      lastIndex: s.lastIndex,
      peers: peers.filter((p) => p.id !== s.id && ours(p)),
      maxVoters: node.config.raft.voters,
      founders: this.founders,
      deadLongEnough: dead,
    });
    if (change === null) return;
    const r = core.proposeConfChange(change, now);
    if (r.ok) node.log.info('raft membership change', { type: change.type, peer: change.node });
  }

  // ------------------------------------------------------------------ split formation: merge

  /** The merge this node takes part in, if any: shown in /v1/status (`merge`) and the log. */
  mergeReport(): MergeReport | null {
    return this.merge === null ? null : { ...this.merge, conflicts: [...this.merge.conflicts] };
  }

  private advertiseVoters(): void {
    const core = this.core;
    if (core === null || this.clusterId === '') return;
    const n = core.confState.voters.length;
    if (n === this.advertisedVoters) return;
    this.advertisedVoters = n;
    this.opts.peers.advertise?.({ [VOTERS_TAG]: String(n) });
  }

  /**
   * Two clusters that see each other: the one mergeVerdict says yields does,
   * once the verdict has held for a settle period. Its leader exports its keys
   * (linearizable read, writes refused from then on), tells its followers
   * (tag `merging`), and every node moves its Raft state aside and joins the
   * winner as a fresh node; the leader then re-proposes the exported keys.
   */
  private checkMerge(now: number): void {
    const core = this.core;
    if (core === null || this.stopping || this.clusterId === '') return;
    if (this.merge !== null && this.merge.state !== 'done' && this.merge.state !== 'failed') return;
    const s = core.status();
    const peers = this.opts.peers.peers();
    const v = mergeVerdict({
      cluster: this.clusterId,
      voters: s.conf.voters.length,
      hasLeader: s.leader !== null,
      peers,
    });
    if (v === null) {
      this.mergeSeen = null;
      return;
    }
    if (this.mergeSeen?.winner !== v.winner) this.mergeSeen = { winner: v.winner, since: now };
    // Look again without waiting for a gossip change: a learner has no tick to do it.
    clearTimeout(this.mergeTimer);
    this.mergeTimer = setTimeout(() => this.checkMerge(Date.now()), 500);
    this.mergeTimer.unref();
    if (now - this.mergeSeen.since < MERGE_SETTLE_MS) return;
    const leader = s.leader === null ? undefined : this.opts.peers.get(s.leader);
    const leaderMerging = leader?.tags?.[MERGING_TAG] === v.winner;
    const leaderless = s.leader === null && now - this.mergeSeen.since >= MERGE_LEADERLESS_MS;
    if (s.role === 'leader') void this.runMerge(v.winner, true);
    else if (leaderMerging || leaderless) void this.runMerge(v.winner, false);
  }

  private async runMerge(winner: string, exporter: boolean): Promise<void> {
    const node = this.node!;
    const from = this.clusterId;
    this.merge = {
      from,
      to: winner,
      state: exporter ? 'exporting' : 'rejoining',
      exported: 0,
      put: 0,
      conflicts: [],
      conflictCount: 0,
      backup: null,
      error: null,
    };
    const m = this.merge;
    node.log.warn('raft split formation: this cluster yields', { ours: from, winner, exporter });
    node.emit('merge', this.mergeReport());
    try {
      let items: KvEntry[] = [];
      if (exporter) {
        this.frozen = `merging cluster ${from} into ${winner}`;
        items = (await this.list('', false)).items;
        m.exported = items.length;
        this.opts.peers.advertise?.({ [MERGING_TAG]: winner });
        // Followers move aside when they see the tag; give gossip a moment so they do not elect a successor.
        await new Promise((r) => setTimeout(r, MERGE_SETTLE_MS / 2));
      }
      m.backup = await this.moveAside(from, items);
      m.state = 'rejoining';
      this.opts.peers.advertise?.({ [MERGING_TAG]: null });
      if (!exporter) {
        m.state = 'done';
        return;
      }
      await this.untilJoined(winner);
      m.state = 'reproposing';
      await this.repropose(items, m);
      m.state = 'done';
      node.log.info('raft merge done', {
        ours: from,
        winner,
        exported: m.exported,
        put: m.put,
        conflicts: m.conflictCount,
        backup: m.backup,
      });
    } catch (err) {
      m.state = 'failed';
      m.error = err instanceof Error ? err.message : String(err);
      node.log.error('raft merge failed; the yielded state is kept in the backup', {
        error: err,
        backup: m.backup,
      });
    } finally {
      this.frozen = null;
      node.emit('merge', this.mergeReport());
    }
  }

  /**
   * Moves <data>/raft and raft-bootstrap.json into <data>/raft.merged-<id>-<ms>
   * (never deleted), with the exported keys beside them, and restarts the core
   * fresh on the same transport: the node then waits to be added by the winner.
   */
  private async moveAside(from: string, items: readonly KvEntry[]): Promise<string> {
    const node = this.node!;
    this.core = null; // nothing steps, ticks or proposes while the state moves
    await this.driver?.stop();
    this.applier.abandonAll(`cluster ${from} merged into another`);
    await this.storage?.close();
    const dir = join(node.dataDir, 'raft');
    const backup = join(node.dataDir, `raft.merged-${from}-${Date.now()}`);
    mkdirSync(backup, { recursive: true });
    renameSync(dir, join(backup, 'raft'));
    const boot = join(node.dataDir, BOOTSTRAP_FILE);
    if (existsSync(boot)) renameSync(boot, join(backup, BOOTSTRAP_FILE));
    writeFileSync(join(backup, 'exported-keys.json'), JSON.stringify({ cluster: from, items }));
    const dfd = openSync(node.dataDir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    const storage = new FileRaftStorage(dir, {
      onWarning: (w) => node.log.warn('raft storage repaired', { ...w }),
    });
    const recovered = await storage.load();
    this.storage = storage;
    this.applier = new KvApplier();
    this.frozen = null; // the new core belongs to no cluster yet; writes go to the winner once joined
    this.yielded.add(from);
    this.clusterId = '';
    this.advertisedVoters = -1;
    this.fresh = true;
    this.startedAt = Date.now();
    this.formation = new Formation({
      ...(this.opts.formationWindowMs !== undefined ? { windowMs: this.opts.formationWindowMs } : {}),
      ...(this.opts.formationMinUptimeMs !== undefined
        ? { minUptimeMs: this.opts.formationMinUptimeMs }
        : {}),
    });
    // A fresh driver over the new log and applier (the old one stopped above).
    this.driver = this.newDriver(storage);
    this.core = this.newCore(recovered);
    this.opts.peers.advertise?.({ [CLUSTER_TAG]: null, [VOTERS_TAG]: null, [FORMATION_TAG]: null });
    node.log.info('raft state moved aside for the merge', { backup });
    this.updateTimer();
    this.onPeersChanged();
    return backup;
  }

  private async untilJoined(winner: string): Promise<void> {
    const end = Date.now() + MERGE_JOIN_WAIT_MS;
    while (Date.now() < end && !this.stopping) {
      if (this.clusterId === winner && this.core?.leaderId != null) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new NoQuorumError(`not added to cluster ${winner} within ${MERGE_JOIN_WAIT_MS} ms`);
  }

  /**
   * The conflict rule: the winner's value wins where the winner has the key
   * (reported), else the key is put. Each key is a create-only write through
   * this node's own API (which relays to the winner's leader like any client's).
   */
  private async repropose(items: readonly KvEntry[], m: MergeState): Promise<void> {
    const node = this.node!;
    const api = node.status().addresses.api;
    if (!api) throw new NoQuorumError('no local API to re-propose the yielded keys through');
    const base = `http://${api.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:')}`;
    const token = node.config.security.api_token;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== '') headers.authorization = `Bearer ${token}`;
    for (const it of items) {
      const url = `${base}/v1/kv/${encodeURIComponent(it.key)}`;
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(url, {
          method: 'PUT',
          headers,
          body: JSON.stringify({ value: it.value, prev_revision: 0 }),
          signal: AbortSignal.timeout(10_000),
        }).catch((e: unknown) => e as Error);
        if (!(res instanceof Error) && res.status === 200) {
          m.put++;
          break;
        }
        if (!(res instanceof Error) && res.status === 409) {
          const cur = await fetch(url, { signal: AbortSignal.timeout(10_000) })
            .then((r) => r.json() as Promise<{ value?: JsonValue }>)
            .catch(() => ({ value: undefined }));
          m.conflictCount++;
          const c = { key: it.key, yielded: it.value, kept: cur.value ?? null };
          if (m.conflicts.length < MAX_REPORTED_CONFLICTS) m.conflicts.push(c);
          node.log.warn('raft merge conflict: the winner keeps its value', { ...c });
          break;
        }
        if (attempt >= 20) throw new NoQuorumError(`could not re-propose key ${it.key}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  private handingOver: Promise<void> | null = null;

  private handOver(): Promise<void> {
    this.handingOver ??= this.handOverLeadership().catch((err: unknown) => {
      this.node?.log.warn('raft leadership hand-over failed', { error: err });
    });
    return this.handingOver;
  }

  /** Leader stop: hand leadership to the most caught-up live voter and wait (bounded) for it to take over. */
  private async handOverLeadership(): Promise<void> {
    const core = this.core;
    if (!core) return;
    const s = core.status();
    if (s.role !== 'leader' || s.progress === null) return;
    let best: string | null = null;
    let bestMatch = -1;
    for (const v of s.conf.voters) {
      if (v === s.id) continue;
      const info: PeerInfo | undefined = this.opts.peers.get(v);
      if (info && (info.status === 'dead' || info.status === 'left')) continue;
      const m = s.progress[v]?.match ?? 0;
      if (m > bestMatch) {
        best = v;
        bestMatch = m;
      }
    }
    if (best === null) return;
    const r = core.transferLeadership(best, Date.now());
    if (!r.ok) return;
    this.kick();
    const deadline =
      Date.now() +
      (this.opts.transferWaitMs ?? Math.min(2000, this.node!.config.consensus.election_timeout_min_ms));
    while (Date.now() < deadline && this.core?.isLeader === true) {
      await new Promise((res) => setTimeout(res, 5));
      this.core?.tick(Date.now());
      this.kick();
    }
    this.node?.log.info('raft leadership handed over', {
      to: best,
      done: this.core?.isLeader !== true,
    });
  }
}
