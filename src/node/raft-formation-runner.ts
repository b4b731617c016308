/**
 * Applies the formation policy (formation.ts) to the running node: which
 * cluster this node belongs to, the durable raft-bootstrap.json that records
 * it, founding or adopting a cluster, being bound by a leader that added it,
 * refusing other clusters' traffic, and saying why there is no leader yet.
 * See docs/formation.md.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { SwarmError } from '../common/errors.js';
import type { RaftNode } from '../raft/raft-node.js';
import type { ConfState } from '../raft/types.js';
import { CLUSTER_TAG, FORMATION_TAG, Formation, VOTERS_TAG, type FormationDecision } from './formation.js';
import type { SwarmNode } from './node.js';
import type { PeerDirectory } from './peers.js';
import type { RaftMetrics } from './raft-metrics.js';

/** In the data directory, beside raft/: which cluster this node belongs to (see readBootstrap). */
export const BOOTSTRAP_FILE = 'raft-bootstrap.json';
/** While forming, the view is re-examined this often (agreement arrives through gossip tags). */
const FORMATION_POLL_MS = 200;
/** While waiting to be added to a running cluster (an idle learner-to-be should barely wake up). */
const JOIN_POLL_MS = 2000;
/** At most one log line per this interval for a repeated condition (waiting, foreign cluster). */
const SAY_EVERY_MS = 5000;

/** What the formation runner needs from the component that runs the core. */
export interface FormationHost {
  /** The started node (only called after start). */
  node(): Pick<SwarmNode, 'id' | 'dataDir' | 'config' | 'log'>;
  readonly peers: PeerDirectory;
  readonly metrics: RaftMetrics;
  /** `--bootstrap`: form a cluster even when [raft] bootstrap_expect is 0 (then it means 1). */
  readonly bootstrap: boolean;
  readonly formationWindowMs: number | undefined;
  readonly formationMinUptimeMs: number | undefined;
  core(): RaftNode | null;
  /** A Ready loop is running: the core must not be replaced under it. */
  processing(): boolean;
  stopping(): boolean;
  /** Replace the core by a fresh one whose initial configuration is `voters` (founding). */
  startCore(voters: readonly string[]): void;
  kick(): void;
  updateTimer(): void;
}

export class RaftFormationRunner {
  private readonly host: FormationHost;
  /** No log and no cluster: this node may still found, adopt or be bound to one. */
  private _fresh = false;
  /** Cluster id this node belongs to; '' while fresh, or for a cluster formed before ids existed. */
  private _clusterId = '';
  private formation: Formation | null = null;
  private startedAt = 0;
  private bootstrapTimer: NodeJS.Timeout | undefined;
  /** Why there is no leader (formation, join, quorum), for status and the log; null with a leader. */
  private waitingFor: string | null = null;
  private lastSaid = { text: '', at: 0 };
  /** Clusters this node yielded: never bound to again (their old members may still send). */
  private readonly yielded = new Set<string>();
  private advertisedVoters = -1;
  private lastForeignLog = 0;

  constructor(host: FormationHost) {
    this.host = host;
  }

  get fresh(): boolean {
    return this._fresh;
  }

  get clusterId(): string {
    return this._clusterId;
  }

  /**
   * What this node waits for while it has no leader: the formation step it is
   * in, being added by a leader, or a quorum of voters. Null once it has a leader.
   */
  waiting(core: RaftNode): string | null {
    if (this._fresh) return this.waitingFor ?? 'formation: starting';
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
      const st = this.host.peers.get(v)?.status;
      return st === 'alive' || st === 'suspect';
    }).length;
    const need = Math.floor(s.conf.voters.length / 2) + 1;
    return reachable + 1 >= need
      ? `electing a leader: ${reachable + 1} of ${s.conf.voters.length} voters reachable`
      : `no quorum: ${reachable + 1} of ${s.conf.voters.length} voters reachable, ${need} needed`;
  }

  /**
   * At start, with `emptyLog` when the recovered log holds nothing: reads
   * raft-bootstrap.json and returns the initial configuration it records, if any.
   */
  load(emptyLog: boolean): ConfState | undefined {
    this._fresh = emptyLog;
    const bootFile = join(this.host.node().dataDir, BOOTSTRAP_FILE);
    const boot = existsSync(bootFile) ? readBootstrap(bootFile) : undefined;
    let initial: ConfState | undefined;
    if (boot) {
      this._fresh = false;
      this._clusterId = boot.cluster;
      if (boot.voters.length > 0) initial = { voters: boot.voters, learners: [] };
    }
    this.startedAt = Date.now();
    if (this._fresh) this.formation = this.newFormation();
    return initial;
  }

  /** Once the transport listens: tell the others which cluster this node belongs to. */
  announce(): void {
    if (this._clusterId === '') return;
    this.host.peers.advertise?.({ [CLUSTER_TAG]: this._clusterId, [FORMATION_TAG]: null });
    this.advertiseVoters();
  }

  stop(): void {
    clearTimeout(this.bootstrapTimer);
  }

  /**
   * The node yielded cluster `from` in a merge and restarts with an empty log:
   * it is fresh again, waiting to be added by the winner, and never binds to `from` again.
   */
  restartFresh(from: string): void {
    this.yielded.add(from);
    this._clusterId = '';
    this.advertisedVoters = -1;
    this._fresh = true;
    this.startedAt = Date.now();
    this.formation = this.newFormation();
    this.host.peers.advertise?.({ [CLUSTER_TAG]: null, [VOTERS_TAG]: null, [FORMATION_TAG]: null });
  }

  /** The voter count, advertised so another cluster's nodes can tell which of two clusters yields. */
  advertiseVoters(): void {
    const core = this.host.core();
    if (core === null || this._clusterId === '') return;
    const n = core.confState.voters.length;
    if (n === this.advertisedVoters) return;
    this.advertisedVoters = n;
    this.host.peers.advertise?.({ [VOTERS_TAG]: String(n) });
  }

  /**
   * Whether a message stamped with `cluster` may reach the core. Another
   * cluster's traffic is dropped (counted, logged at most every few seconds):
   * its terms and log would corrupt ours. A fresh node binds to the first
   * cluster that talks to it: a founder's (it adopts the founders' conf, which
   * it proposed itself) or a leader's that added it as a learner.
   */
  acceptCluster(cluster: string, from: string): boolean {
    if (cluster === this._clusterId || cluster === '') return true;
    if (this._clusterId === '' && !this._fresh) return true; // a cluster from before ids: no check possible
    if (this._fresh && this.formation !== null && !this.yielded.has(cluster)) {
      if (this.host.processing()) return false; // the core is replaced only between Ready loops; Raft resends
      const founders = this.formation.foundersOf(cluster);
      if (founders?.includes(this.host.node().id)) this.startCluster('adopt', cluster, founders);
      else this.bindCluster(cluster, from);
      return true;
    }
    const { metrics } = this.host;
    metrics.foreignDropped++;
    const now = Date.now();
    if (now - this.lastForeignLog >= SAY_EVERY_MS) {
      this.lastForeignLog = now;
      this.host.node().log.warn('raft message from another cluster dropped', {
        from,
        their_cluster: cluster,
        our_cluster: this._clusterId,
        dropped_total: metrics.foreignDropped,
      });
    }
    return false;
  }

  /**
   * Zero-config formation (src/node/formation.ts): wait for a stable view,
   * advertise the founder proposal, found once every founder proposes the
   * same set. Only a node with an empty log that belongs to no cluster does this.
   */
  maybeBootstrap(): void {
    const core = this.host.core();
    const formation = this.formation;
    if (!core || !this._fresh || formation === null || this.host.stopping()) return;
    const node = this.host.node();
    const st = core.status();
    if (st.term > 0 || st.lastIndex > 0 || st.conf.voters.length > 0) {
      this._fresh = false;
      this.formation = null;
      return;
    }
    const now = Date.now();
    const expect = node.config.raft.bootstrap_expect || (this.host.bootstrap ? 1 : 0);
    const d: FormationDecision = formation.decide({
      now,
      selfId: node.id,
      selfClass: node.config.node.device_class,
      startedAt: this.startedAt,
      peers: this.host.peers.peers(),
      expect,
      maxVoters: node.config.raft.voters,
    });
    if (d.kind === 'found' || d.kind === 'adopt') {
      if (this.host.processing()) {
        // The core must not be replaced under a running Ready loop; look again shortly.
        this.scheduleFormation(20);
        return;
      }
      this.startCluster(d.kind, d.cluster, d.founders);
      return;
    }
    this.host.peers.advertise?.({ [FORMATION_TAG]: d.kind === 'wait' ? d.proposal : null });
    this.say(d.reason);
    // Waiting to be added costs no polling to speak of: the leader's first message binds this node.
    this.scheduleFormation(d.kind === 'join' ? JOIN_POLL_MS : FORMATION_POLL_MS);
  }

  /** Record why there is no leader and log it when it changes, at most every few seconds. */
  say(reason: string): void {
    this.waitingFor = reason;
    const now = Date.now();
    const kind = reason.replace(/[\d.]+/g, '#');
    if (kind === this.lastSaid.text && now - this.lastSaid.at < SAY_EVERY_MS) return;
    if (now - this.lastSaid.at < 1000) return;
    this.lastSaid = { text: kind, at: now };
    this.host.node().log.info('raft waiting', { for: reason });
  }

  /** Founders all start from the same initial configuration (etcd's initial-cluster). */
  private startCluster(kind: 'found' | 'adopt', cluster: string, founders: readonly string[]): void {
    const node = this.host.node();
    this.writeBootstrap(cluster, founders);
    this._fresh = false;
    this.formation = null;
    this._clusterId = cluster;
    this.waitingFor = null;
    clearTimeout(this.bootstrapTimer);
    this.host.startCore(founders);
    this.host.peers.advertise?.({ [CLUSTER_TAG]: cluster, [FORMATION_TAG]: null });
    this.advertiseVoters();
    node.log.info(kind === 'found' ? 'raft cluster founded' : 'raft cluster adopted', {
      cluster,
      voters: founders,
    });
    this.host.updateTimer();
  }

  /** A leader added this fresh node: it now belongs to that cluster, as a learner to be. */
  private bindCluster(cluster: string, from: string): void {
    this.writeBootstrap(cluster, []);
    this._fresh = false;
    this.formation = null;
    this._clusterId = cluster;
    this.waitingFor = null;
    clearTimeout(this.bootstrapTimer);
    this.host.peers.advertise?.({ [CLUSTER_TAG]: cluster, [FORMATION_TAG]: null });
    this.host.node().log.info('raft cluster joined', { cluster, by: from });
  }

  private scheduleFormation(ms: number): void {
    clearTimeout(this.bootstrapTimer);
    this.bootstrapTimer = setTimeout(() => {
      if (this.host.core() !== null && !this.host.stopping()) {
        this.maybeBootstrap();
        this.host.kick();
      }
    }, ms);
    this.bootstrapTimer.unref();
  }

  private newFormation(): Formation {
    return new Formation({
      ...(this.host.formationWindowMs !== undefined ? { windowMs: this.host.formationWindowMs } : {}),
      ...(this.host.formationMinUptimeMs !== undefined
        ? { minUptimeMs: this.host.formationMinUptimeMs }
        : {}),
    });
  }

  /**
   * Durable before the core uses it: a restarted founder must still know it is
   * a voter, and every node must keep refusing other clusters' traffic.
   */
  private writeBootstrap(cluster: string, voters: readonly string[]): void {
    const dir = this.host.node().dataDir;
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
}

/**
 * raft-bootstrap.json: `{"voters": [ids]}` (before cluster ids) or
 * `{"version": 2, "cluster": id, "voters": [ids], "founders": [ids]}`; a node
 * that joined an existing cluster has `"voters": []` and only its cluster id.
 */
function readBootstrap(file: string): { voters: string[]; cluster: string } {
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
