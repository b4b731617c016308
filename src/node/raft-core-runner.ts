/**
 * The core and what runs it on this node: the file WAL in <data>/raft, the KV
 * applier, and the shared Ready loop (src/driver/raft-driver.ts) over Node's
 * timers. A merge replaces all of them (close, then reopen empty), so the
 * collaborators read the core and the applier from here on every use.
 */
import { countOp, opCountsOn } from '../common/op-counts.js';
import { randomInt } from '../common/random.js';
import { join } from 'node:path';
import { fnv1a } from '../common/hash.js';
import { createRng } from '../common/rng.js';
import { walStorage } from '../driver/file-storage.js';
import type { SendOutcome } from '../driver/interfaces.js';
import { nodeClock } from '../driver/node-clock.js';
import { RaftDriver } from '../driver/raft-driver.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../net/framing.js';
import { KvApplier, type KvApplyListener } from '../raft/kv-applier.js';
import type { PowerMode } from '../energy/power-mode.js';
import type { RaftMessage } from '../raft/messages.js';
import { RaftNode } from '../raft/raft-node.js';
import { FileRaftStorage, type InlineSync } from '../raft/storage/file-storage.js';
import type { ConfState, RecoveredState } from '../raft/types.js';
import type { SwarmNode } from './node.js';
import type { RaftMetrics } from './raft-metrics.js';

/** What the Ready loop calls back into: the transport and the collaborators that react to progress. */
export interface CoreRunnerHost {
  readonly metrics: RaftMetrics;
  /** Seed of the core's Rng; undefined for a cryptographically random one. */
  readonly seed: number | undefined;
  send(m: RaftMessage): SendOutcome;
  onTick(now: number): void;
  /** When onTick next has periodic work of its own (absolute ms; see DriverHooks.nextWork). */
  nextWork(core: RaftNode): number;
  onLeaderChange(): void;
  /** Entries were applied (forwarded reads wait on this; the voter count may have changed). */
  onAdvanced(): void;
  /** Hears every applied KV mutation (the watch history, src/kv/history.ts). */
  readonly applyListener?: KvApplyListener;
}

/**
 * snapshot_interval_entries plus up to half of it more, fixed by node id: replicas apply the same
 * log, so with one interval they all snapshot at the same index and a commit then waits on two
 * busy nodes (the leader and the follower it needs); staggered, mostly on one.
 */
function snapshotEveryFor(id: string, every: number): number {
  return every + Math.floor(((fnv1a(id) % 1000) / 1000) * (every / 2));
}

/**
 * Heartbeat rounds between two heartbeats to a learner, by power mode: learners vote in nothing, and
 * a commit reaches them at the next round anyway (sendHeartbeats), so only a stalled resend to them
 * waits for it (10 s at the default 500 ms). Emergency stretches it further on the leader; a
 * follower's and a voter's timers are never stretched by a power mode.
 */
export const LEARNER_HEARTBEAT_ROUNDS: Readonly<Record<PowerMode, number>> = {
  normal: 20,
  low_power: 20,
  emergency: 40,
};

/**
 * How long the leader holds a commit-only message to followers: under load the next write's appends
 * carry the commit instead. Measured on the raft-kv bench at one client: the leader's socket writes
 * were its largest cost after the fsync, 4 Raft frames per write (2 appends, 2 commit heartbeats).
 */
export const COMMIT_NOTIFY_DELAY_MS = 2;

/**
 * Where the node's WAL fsyncs run (InlineSync): on the event-loop thread for a flush of any size
 * while the disk is fast (the storage's default sends flushes of more than 2 entries to the thread
 * pool). It applies to followers only: a leader is in 'lone' mode (see setInlineSync below). A
 * follower's flush is the appends of one leader round, and a pool fsync costs it two thread
 * hand-offs (a futex wake of a pool thread, then the loop's wake-up with the result) per round,
 * CPU that the leader and the clients need on a busy machine; the follower has little to do during
 * its fsync (the leader's next round leaves after the leader's own fsync). Measured on raft-kv at
 * 16 clients to the leader: 57 -> 50 us CPU per write on each follower (docs/raft-runtime.md,
 * "CPU per write at 16 and 64 clients").
 */
export const NODE_INLINE_SYNC: InlineSync = {
  maxEntries: Number.POSITIVE_INFINITY,
  maxMs: 2,
  // A leader round under load is tens of KB; a catch-up flush is MiBs, which the pool takes.
  maxBytes: 256 * 1024,
};

/**
 * How the leader's own WAL fsync relates to its commits (docs/raft-runtime.md, "Commit on the
 * followers' quorum"): 'off' keeps the one-Ready-at-a-time order (a lone write's fsync inline, the
 * commit after it); 'lone' lets the leader apply and answer on its followers' acknowledgements while
 * its fsync runs on the thread pool (flushes of several entries; a lone write still fsyncs inline
 * while the disk is fast); 'pool' does the same and never fsyncs the leader inline.
 */
export type LeaderPersistMode = 'off' | 'lone' | 'pool';

export const DEFAULT_LEADER_PERSIST: LeaderPersistMode = 'off';

/** The A/B switch of the measurement (SWARM_RAFT_LEADER_PERSIST), else the default. */
export function leaderPersistMode(env: string | undefined): LeaderPersistMode {
  return isLeaderPersistMode(env) ? env : DEFAULT_LEADER_PERSIST;
}

function isLeaderPersistMode(v: string | undefined): v is LeaderPersistMode {
  return v === 'off' || v === 'lone' || v === 'pool';
}

export class RaftCoreRunner {
  private readonly host: CoreRunnerHost;
  private node: SwarmNode | null = null;
  private storage: FileRaftStorage | null = null;
  /** The one Ready loop (src/driver); it holds the core. */
  private driver: RaftDriver | null = null;
  private _applier: KvApplier;
  private electionScale = 1;
  private leaseScale = 1;
  private contactLearners: ReadonlySet<string> = new Set();
  private heartbeatScale = 1;
  private learnerRounds = LEARNER_HEARTBEAT_ROUNDS.normal;
  private _tickMs = 100;
  /** Applied entries between snapshots on this node (see snapshotEveryFor). */
  private snapshotEvery = 0;

  constructor(host: CoreRunnerHost) {
    this.host = host;
    this._applier = new KvApplier(host.applyListener ?? null);
  }

  get core(): RaftNode | null {
    return this.driver?.core ?? null;
  }

  private set core(core: RaftNode | null) {
    if (this.driver) this.driver.core = core;
  }

  get applier(): KvApplier {
    return this._applier;
  }

  /** A Ready loop is running: the core must not be replaced under it. */
  get processing(): boolean {
    return this.driver?.busy ?? false;
  }

  /** Ticks since start, reported so the idle cost is visible. */
  get ticks(): number {
    return this.driver?.ticks ?? 0;
  }

  get tickMs(): number {
    return this._tickMs;
  }

  /** Reads <data>/raft; corruption throws a StorageError naming the file and offset (the node must not start). */
  async open(node: SwarmNode): Promise<RecoveredState> {
    this.node = node;
    const storage = this.newStorage();
    const recovered = await storage.load();
    this.storage = storage;
    this.snapshotEvery = snapshotEveryFor(node.id, node.config.raft.snapshot_interval_entries);
    const c = node.config.consensus;
    // Fine enough that an election timeout fires within a tenth of its minimum; never above the heartbeat.
    this._tickMs = Math.max(
      10,
      Math.min(c.heartbeat_interval_ms, Math.floor(c.election_timeout_min_ms / 10)),
    );
    return recovered;
  }

  /** The driver and the core over the opened log, `initialConf` for a founder (from raft-bootstrap.json). */
  run(recovered: RecoveredState, initialConf?: ConfState): void {
    this.driver = this.newDriver(this.storage!);
    this.core = this.newCore(recovered, initialConf);
    if (recovered.snapshot) {
      this._applier.restore(recovered.snapshot);
    }
  }

  /** Founding or adopting: an empty core whose initial configuration is `voters` (etcd's initial-cluster). */
  startFounded(voters: readonly string[]): void {
    this.core = this.newCore(
      { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
      { voters: [...voters], learners: [] },
    );
  }

  /** Stop the Ready loop (waits for a running one), keeping the core for the last messages of a stop. */
  async stopLoop(): Promise<void> {
    await this.driver?.stop();
  }

  /**
   * A graceful stop, once the loop has stopped: snapshot the applied state if a quarter of a
   * snapshot interval or more was applied since the last one, so the next start replays few
   * entries (RaftDriver.snapshotAtStop). Logged with what it covered and what it cost.
   */
  async snapshotAtStop(): Promise<void> {
    const driver = this.driver;
    const node = this.node;
    if (driver === null || node === null || this.snapshotEvery <= 0) return;
    const t0 = performance.now();
    const entries = await driver.snapshotAtStop(Math.ceil(this.snapshotEvery / 4));
    if (entries > 0)
      node.log.info('raft snapshot at stop', {
        entries,
        index: this._applier.snapshotIndex,
        ms: Math.round(performance.now() - t0),
      });
  }

  /** Nothing steps, ticks or proposes once this starts: the core goes first, then the loop and the log. */
  async close(reason: string): Promise<void> {
    this.core = null;
    await this.driver?.stop();
    this.applier.abandonAll(reason);
    await this.storage?.close();
    this.storage = null;
    this.driver = null;
  }

  /** After a merge moved <data>/raft aside: an empty log there, a new applier, a fresh driver and core. */
  async reopenEmpty(): Promise<void> {
    const storage = this.newStorage();
    const recovered = await storage.load();
    this.storage = storage;
    this._applier = new KvApplier(this.host.applyListener ?? null);
    this.driver = this.newDriver(storage);
    this.core = this.newCore(recovered);
  }

  /** Energy-aware elections: a battery node stretches its own election timeout (see RaftNode). */
  setElectionTimeoutScale(scale: number): void {
    this.electionScale = scale;
    this.core?.setElectionTimeoutScale(scale);
  }

  /** Quiet followers: the leader lease's stretch (RaftNode.setLeaseScale). */
  setLeaseScale(scale: number): void {
    this.leaseScale = scale;
    this.core?.setLeaseScale(scale);
  }

  /**
   * Energy: heartbeat learners every `rounds` heartbeat rounds when leading (see
   * RaftNode.setLearnerHeartbeatRounds and LEARNER_HEARTBEAT_ROUNDS).
   */
  setLearnerHeartbeatRounds(rounds: number): void {
    this.learnerRounds = rounds;
    this.core?.setLearnerHeartbeatRounds(rounds);
  }

  /** Learners heartbeated every round (RaftNode.setContactLearners). */
  setContactLearners(ids: ReadonlySet<string>): void {
    this.contactLearners = new Set(ids);
    this.core?.setContactLearners(this.contactLearners);
  }

  /** The larger of this node's election timeout stretch and its heartbeat stretch as leader. */
  get timeoutScaleInForce(): number {
    return Math.max(this.electionScale, this.heartbeatScale);
  }

  /** The leader's heartbeat stretch last set (1 = the configured interval). */
  get heartbeatScaleInForce(): number {
    return this.heartbeatScale;
  }

  /** Energy and quiet clusters: the leader's heartbeat and check-quorum stretch (RaftNode.setHeartbeatScale). */
  setHeartbeatScale(scale: number): void {
    if (scale === this.heartbeatScale) return;
    this.heartbeatScale = scale;
    this.core?.setHeartbeatScale(scale);
    this.driver?.updateTimer();
  }

  /** How long a leader may leave a learner without a heartbeat, ms. */
  get learnerHeartbeatMs(): number {
    return (
      this.learnerRounds * this.heartbeatScale * (this.node?.config.consensus.heartbeat_interval_ms ?? 0)
    );
  }

  /** Tick only while this node is a voter: learners and not-yet-members have no timers to run. */
  updateTimer(): void {
    this.driver?.updateTimer();
  }

  kick(): void {
    this.driver?.kick();
  }

  receive(m: RaftMessage): void {
    if (opCountsOn) countOp(`recv.${m.type}`);
    this.driver?.receive(m);
  }

  private newStorage(): FileRaftStorage {
    const node = this.node!;
    return new FileRaftStorage(join(node.dataDir, 'raft'), {
      onWarning: (w) => node.log.warn('raft storage repaired', { ...w }),
      inlineSync: NODE_INLINE_SYNC,
      // Off until its recovery bounds are settled (docs/storage.md "Preallocated segments", "Known
      // limits"); SWARM_WAL_PREALLOCATE=1 turns it on, for measurement.
      preallocate: process.env['SWARM_WAL_PREALLOCATE'] === '1',
    });
  }

  private newCore(recovered: RecoveredState, initialConf?: ConfState): RaftNode {
    const node = this.node!;
    const c = node.config.consensus;
    const core = new RaftNode(
      {
        id: node.id,
        electionTimeoutMinMs: c.election_timeout_min_ms,
        electionTimeoutMaxMs: c.election_timeout_max_ms,
        heartbeatIntervalMs: c.heartbeat_interval_ms,
        // A lone client's next write carries the commit to followers (RaftNodeOptions.commitNotifyDelayMs).
        commitNotifyDelayMs: COMMIT_NOTIFY_DELAY_MS,
        // Nodes need different election timeouts; a crypto seed keeps restarted nodes from repeating one.
        rng: createRng(this.host.seed ?? randomInt(0, 2 ** 32)),
      },
      recovered,
      initialConf,
    );
    core.setElectionTimeoutScale(this.electionScale);
    core.setLeaseScale(this.leaseScale);
    core.setContactLearners(this.contactLearners);
    core.setHeartbeatScale(this.heartbeatScale);
    core.setLearnerHeartbeatRounds(this.learnerRounds);
    return core;
  }

  /** The shared Ready loop over this node's WAL, TCP transport and Node's timers. */
  private newDriver(storage: FileRaftStorage): RaftDriver {
    const host = this.host;
    const node = this.node!;
    const persistEnv = process.env['SWARM_RAFT_LEADER_PERSIST'];
    const persistMode = leaderPersistMode(persistEnv);
    // An A/B run with a misspelt arm would measure the default twice and say nothing: say it.
    if (persistEnv !== undefined && persistEnv !== '' && !isLeaderPersistMode(persistEnv)) {
      node.log.warn('unknown SWARM_RAFT_LEADER_PERSIST, using the default', {
        value: persistEnv,
        known: 'off|lone|pool',
        using: persistMode,
      });
    }
    return new RaftDriver({
      asyncLeaderPersist: persistMode !== 'off',
      core: null,
      storage: walStorage(storage),
      transport: {
        maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
        send: (m) => host.send(m),
      },
      clock: nodeClock,
      applier: this._applier,
      tickMs: this._tickMs,
      snapshotEvery: this.snapshotEvery,
      hooks: {
        onTick: (now) => host.onTick(now),
        nextWork: (core) => host.nextWork(core),
        onLeaderChange: () => host.onLeaderChange(),
        onSoftState: (ss, term) => {
          node.log.info('raft role', { role: ss.role, leader: ss.leader, term });
          // A leader's fsync overlaps its followers' round trip and its loop has requests to parse
          // meanwhile: the pool. A follower's fsync is the commit's critical path: inline (NODE_INLINE_SYNC).
          storage.setInlineSync(ss.role !== 'leader' || (persistMode === 'pool' ? false : 'lone'));
        },
        onFsync: (seconds) => host.metrics.fsyncSeconds.observe(seconds),
        onPersisted: (rd) => {
          if (rd.snapshot)
            node.log.info('raft snapshot installed', {
              index: rd.snapshot.meta.index,
              bytes: rd.snapshot.data.byteLength,
            });
          if (rd.recovered) node.log.info('raft caught up after a loss of acknowledged entries');
        },
        onAdvanced: () => host.onAdvanced(),
        onFailure: (err, stage) => {
          // The storage fails stop on an I/O error (see FileRaftStorage.io): stop rather than continue.
          node.log.error(
            stage === 'ready'
              ? 'raft ready loop failed; stopping node'
              : 'raft snapshot failed; stopping node',
            { error: err },
          );
          node.requestShutdown('raft storage failure', err);
        },
      },
    });
  }
}
