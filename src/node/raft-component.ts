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
import { nodeClock } from '../driver/node-clock.js';
import { walStorage } from '../driver/file-storage.js';
import type { SendOutcome } from '../driver/interfaces.js';
import { RaftDriver } from '../driver/raft-driver.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../net/framing.js';
import { openRaftTransport } from '../net/runtime.js';
import { peerKey, type TcpAddress, type TcpTransport } from '../net/tcp.js';
import type { TransportStats } from '../net/wire.js';
import { KvApplier } from '../raft/kv-applier.js';
import { encodeCommand, type JsonValue, type KvCommand, type KvRecord, type KvResult } from '../raft/kv.js';
import type { RaftMessage } from '../raft/messages.js';
import { RaftNode } from '../raft/raft-node.js';
import { FileRaftStorage } from '../raft/storage/file-storage.js';
import type { ConfState, RecoveredState } from '../raft/types.js';
import type { ComponentStatus, NodeComponent, SwarmNode } from './node.js';
import type { PeerDirectory, PeerInfo } from './peers.js';
import { bootstrapVoters, planMembershipChange } from './raft-membership.js';
import { RaftMetrics } from './raft-metrics.js';

/** A request the cluster could not decide in time (no leader, no quorum, leadership lost). */
export class NoQuorumError extends SwarmError {
  constructor(message: string) {
    super('no_quorum', message, { exitCode: 1 });
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
/** How long the founders computed from the membership view must stay the same before a node bootstraps. */
const BOOTSTRAP_SETTLE_MS = 1500;
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
  private transport: TcpTransport<RaftMessage> | null = null;
  /** The one Ready loop (src/driver); it holds the core. */
  private driver: RaftDriver | null = null;
  private readonly applier = new KvApplier();
  private founders: string[] = [];
  private fresh = false;
  private electionScale = 1;
  private bootstrapView: { key: string; since: number } | null = null;
  private bootstrapTimer: NodeJS.Timeout | undefined;
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

  constructor(opts: RaftComponentOptions) {
    this.opts = opts;
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
    this.fresh =
      recovered.snapshot === null && recovered.entries.length === 0 && recovered.hardState.term === 0;
    const bootFile = join(node.dataDir, BOOTSTRAP_FILE);
    const initial = existsSync(bootFile) ? this.readBootstrap(bootFile) : undefined;
    if (initial) this.fresh = false;
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
    await this.handOver();
    await this.driver?.stop();
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
      addresses: { raft: this.raftAddr },
    };
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
    const r = core.propose(encodeCommand(cmd), Date.now());
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

  private onMessage(m: RaftMessage): void {
    const core = this.core;
    if (core === null) return;
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
    if (now - this.lastManage >= MANAGE_EVERY_MS) {
      this.lastManage = now;
      this.manageMembership(now);
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
        onFailure: (err, stage) => {
          // The storage fails stop on an I/O error (see FileRaftStorage.io): stop rather than continue.
          this.node?.log.error(
            stage === 'ready'
              ? 'raft ready loop failed; stopping node'
              : 'raft snapshot failed; stopping node',
            { error: err },
          );
          this.node?.requestShutdown('raft storage failure');
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
    const r = t.send(hp, m);
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

  private readBootstrap(file: string): ConfState {
    const v = JSON.parse(readFileSync(file, 'utf8')) as { voters?: unknown };
    if (!Array.isArray(v.voters) || !v.voters.every((x) => typeof x === 'string')) {
      throw new SwarmError('raft_bootstrap_file', `${file} is malformed: expected {"voters": [ids]}`);
    }
    return { voters: v.voters as string[], learners: [] };
  }

  /** Durable before the core uses it: a restarted single-node cluster must still know it is a voter. */
  private writeBootstrap(conf: ConfState): void {
    const dir = this.node!.dataDir;
    mkdirSync(dir, { recursive: true });
    const file = join(dir, BOOTSTRAP_FILE);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ voters: conf.voters }));
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
    this.maybeBootstrap();
    this.manageMembership(Date.now());
    this.kick();
  }

  /**
   * Forms a new cluster by starting as its only voter and becoming leader;
   * the other founders are added as learners and promoted first. Only a node
   * with an empty log that has heard from no cluster may do this.
   */
  private maybeBootstrap(): void {
    const core = this.core;
    const node = this.node;
    if (!core || !node || !this.fresh) return;
    if (this.processing) {
      // The core must not be replaced under a running Ready loop; look again shortly.
      setTimeout(() => this.onPeersChanged(), 20);
      return;
    }
    const st = core.status();
    if (st.term > 0 || st.lastIndex > 0 || st.conf.voters.length > 0) {
      this.fresh = false;
      return;
    }
    const expect = node.config.raft.bootstrap_expect || (this.opts.bootstrap === true ? 1 : 0);
    const founders = bootstrapVoters({
      selfId: node.id,
      selfClass: node.config.node.device_class,
      peers: this.opts.peers.peers(),
      expect,
    });
    if (founders === null) {
      this.bootstrapView = null;
      return;
    }
    // Views converge over gossip: act only once the same founders have been
    // computed for a settle window, so a node that has seen only part of the
    // swarm does not found a cluster that a smaller id would found too.
    const key = founders.join(',');
    const now = Date.now();
    if (this.bootstrapView?.key !== key) this.bootstrapView = { key, since: now };
    const wait = this.bootstrapView.since + BOOTSTRAP_SETTLE_MS - now;
    if (wait > 0) {
      clearTimeout(this.bootstrapTimer);
      this.bootstrapTimer = setTimeout(() => this.onPeersChanged(), wait + 5);
      return;
    }
    const conf: ConfState = { voters: [node.id], learners: [] };
    this.writeBootstrap(conf);
    this.fresh = false;
    this.founders = founders.filter((id) => id !== node.id);
    this.core = this.newCore(
      { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
      conf,
    );
    node.log.info('raft bootstrap', { founders });
    this.updateTimer();
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
    const change = planMembershipChange({
      selfId: s.id,
      conf: s.conf,
      match,
      lastIndex: s.lastIndex,
      peers: peers.filter((p) => p.id !== s.id),
      maxVoters: node.config.raft.voters,
      founders: this.founders,
      deadLongEnough: dead,
    });
    if (change === null) return;
    const r = core.proposeConfChange(change, now);
    if (r.ok) node.log.info('raft membership change', { type: change.type, peer: change.node });
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
