/**
 * The node runtime: owns the data dir (lock, id, runtime files) and a list of
 * components (API server now; gossip, Raft, energy later) started in order and
 * stopped in reverse. Components contribute to the status snapshot, so the
 * API never needs to know which protocols are plugged in.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { SwarmError } from '../common/errors.js';
import { isoUtc } from '../common/utc-time.js';
import type { SwarmConfig } from '../config/schema.js';
import { VERSION } from '../version.js';
import {
  acquireLock,
  clearRuntime,
  loadOrCreateNodeId,
  selfRef,
  writeRuntime,
  type LockHandle,
} from './datadir.js';
import { localApiUrl } from './api-url.js';
import { nullLogger, type Logger } from './log.js';
import {
  REFUSAL_HINTS,
  RefusalTracker,
  refusalCause,
  type RefusalCause,
  type RefusalChannel,
} from '../net/refusals.js';
import type { DropReason } from '../net/codec.js';

export interface NodeAddresses {
  /** "host:port" of each endpoint; null until the component that owns it is listening. */
  gossip: string | null;
  api: string | null;
  raft: string | null;
}

/** A split-formation merge this node takes part in (see docs/formation.md). */
export interface MergeStatus {
  /** The cluster that yields (this node's former cluster) and the one it joins. */
  readonly from: string;
  readonly to: string;
  state: 'exporting' | 'rejoining' | 'reproposing' | 'done' | 'failed';
  /** Keys read (linearizably) from the yielding cluster by its leader; 0 on its followers. */
  exported: number;
  /** Keys written into the winner (it did not have them). */
  put: number;
  /** Keys the winner already had: its value kept (first 100 listed). */
  conflictCount: number;
  conflicts: { key: string; yielded: unknown; kept: unknown }[];
  /** Where the yielded Raft state and the exported keys are kept (never deleted). */
  backup: string | null;
  error: string | null;
}

/** What a component may report; merged into the node's status (later components win). */
export interface ComponentStatus {
  role?: string;
  term?: number;
  leader?: string | null;
  addresses?: Partial<NodeAddresses>;
  gossipEncrypted?: boolean;
  commitIndex?: number;
  appliedIndex?: number;
  voters?: readonly string[];
  learners?: readonly string[];
  /** Raft cluster id, null before the node belongs to a cluster (or for a cluster formed before ids). */
  cluster?: string | null;
  /** Why the node has no leader yet (formation, being added, no quorum); null when it has one. */
  waiting?: string | null;
  merge?: MergeStatus | null;
}

export interface NodeComponent {
  readonly name: string;
  start(node: SwarmNode): Promise<void>;
  stop(): Promise<void>;
  /**
   * First phase of a graceful stop, run on every component (in reverse start
   * order) before any stop(): work that needs the others still up, such as a
   * Raft leader handing over while the API keeps relaying clients to the successor.
   */
  beforeStop?(): Promise<void>;
  status?(): ComponentStatus;
}

export interface NodeStatus {
  id: string;
  name: string;
  device_class: string;
  /** Raft role once Raft is plugged in; 'standalone' until then. */
  role: string;
  term: number;
  leader: string | null;
  /** Raft commit and apply index; 0 before Raft runs. */
  commit_index: number;
  applied_index: number;
  voters: string[];
  learners: string[];
  /** Raft cluster id; null when none (yet). */
  cluster: string | null;
  /** What the node waits for when it has no leader (see docs/formation.md); null otherwise. */
  waiting: string | null;
  /** A split-formation merge on this node, null when none. */
  merge: MergeStatus | null;
  addresses: NodeAddresses;
  uptime_s: number;
  version: string;
  pid: number;
  data_dir: string;
  security: {
    gossip_encrypted: boolean;
    note?: string;
    /** Peers whose packets failed authentication (most recent first); empty when none. */
    refused_peers: RefusedPeerStatus[];
  };
}

export interface RefusedPeerStatus {
  address: string;
  channel: RefusalChannel;
  cause: RefusalCause;
  hint: string;
  count: number;
  last_seen: string;
}

export type NodeState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Why a node stopped on its own: `reason` names the part that failed, `message` the error. */
export interface NodeFailure {
  readonly reason: string;
  readonly message: string;
}

export interface SwarmNodeOptions {
  logger?: Logger;
  /** Injected for tests; the runtime uses the wall clock. */
  clock?: () => number;
}

export function defaultNodeName(id: string): string {
  const host = hostname().split('.')[0] || 'node';
  return `${host}-${id.slice(0, 6)}`;
}

/**
 * Lifecycle: new -> starting -> running -> stopping -> stopped.
 * `shutdown` is emitted when someone (API, signal) asks the node to stop; the
 * process that owns the node decides what to do with it (normally `stop()`).
 */
export class SwarmNode extends EventEmitter<{
  shutdown: [reason: string];
  /** A stop's first phase is done (every beforeStop: a leader has handed over); the components stop next. */
  prepared: [];
  stopped: [];
  /** A split-formation merge started, or ended (done or failed): see MergeStatus. */
  merge: [report: MergeStatus | null];
}> {
  readonly config: SwarmConfig;
  readonly log: Logger;
  private readonly clock: () => number;
  private readonly components: NodeComponent[] = [];
  private started: NodeComponent[] = [];
  private lock: LockHandle | null = null;
  private _id = '';
  private _name = '';
  private startedAt = 0;
  private _state: NodeState = 'new';
  private shutdownRequested = false;
  private _failure: NodeFailure | null = null;
  /** Peers refused for authentication, fed by the gossip (UDP) and Raft (TCP) transports. */
  readonly refusals: RefusalTracker;

  constructor(config: SwarmConfig, opts: SwarmNodeOptions = {}) {
    super();
    this.config = config;
    this.log = opts.logger ?? nullLogger;
    this.clock = opts.clock ?? Date.now;
    const secLog = this.log.child('security');
    this.refusals = new RefusalTracker({
      warn: (w) =>
        secLog.warn(`refused ${w.channel} packets from ${w.address}: ${w.hint}`, {
          peer: w.address,
          channel: w.channel,
          cause: w.cause,
          packets: w.count,
        }),
    });
  }

  /** Transports call this for a packet that failed authentication. */
  refused(address: string, channel: RefusalChannel, reason: DropReason): void {
    const cause = refusalCause(reason);
    if (cause !== null) this.refusals.record(address, channel, cause, this.clock());
  }

  get id(): string {
    return this._id;
  }
  get name(): string {
    return this._name;
  }
  get state(): NodeState {
    return this._state;
  }
  get dataDir(): string {
    return this.config.node.data_dir;
  }

  /** Add a component before `start()`; components start in registration order. */
  register(component: NodeComponent): this {
    if (this._state !== 'new')
      throw new SwarmError('node_started', `cannot register ${component.name}: node already started`);
    this.components.push(component);
    return this;
  }

  component<T extends NodeComponent>(name: string): T | undefined {
    return this.components.find((c) => c.name === name) as T | undefined;
  }

  async start(): Promise<void> {
    if (this._state !== 'new') throw new SwarmError('node_started', 'node already started');
    this._state = 'starting';
    this.lock = acquireLock(this.dataDir);
    if (this.lock.reclaimedFrom !== null) {
      this.log.warn('reclaimed stale lock', { previous_pid: this.lock.reclaimedFrom });
    }
    try {
      clearRuntime(this.dataDir);
      this._id = loadOrCreateNodeId(this.dataDir);
      this._name = this.config.node.name || defaultNodeName(this._id);
      this.startedAt = this.clock();
      for (const c of this.components) {
        await c.start(this);
        this.started.push(c);
        this.log.debug('component started', { component_name: c.name });
      }
      const me = selfRef();
      writeRuntime(this.dataDir, {
        pid: me.pid,
        start: me.start,
        id: this._id,
        name: this._name,
        api_url: this.apiUrl() ?? '',
        started_at: isoUtc(this.startedAt),
      });
      this._state = 'running';
      this.log.info('node started', { id: this._id, name: this._name, api: this.apiUrl(), pid: me.pid });
    } catch (err) {
      await this.stopComponents();
      this.lock.release();
      this.lock = null;
      this._state = 'stopped';
      throw err;
    }
  }

  /** The fatal failure that stopped (or is stopping) this node, if any: its process must exit 1. */
  get failure(): NodeFailure | null {
    return this._failure;
  }

  /**
   * Ask the owner of this node to stop it (idempotent); used by the API and
   * signal handlers. With `error`, the stop is a fatal failure (a full disk, a
   * failed fsync): the process exits 1, so a supervisor (systemd's
   * Restart=on-failure) sees a failure, not a requested stop.
   */
  requestShutdown(reason: string, error?: unknown): void {
    if (error !== undefined && this._failure === null) {
      this._failure = { reason, message: error instanceof Error ? error.message : String(error) };
      this.log.error('fatal failure; stopping node', { reason, error });
    }
    if (this.shutdownRequested) return;
    this.shutdownRequested = true;
    this.log.info('shutdown requested', { reason });
    this.emit('shutdown', reason);
  }

  async stop(): Promise<void> {
    if (this._state === 'stopped' || this._state === 'stopping') return;
    this._state = 'stopping';
    this.log.info('node stopping');
    await this.stopComponents();
    clearRuntime(this.dataDir);
    this.lock?.release();
    this.lock = null;
    this._state = 'stopped';
    this.log.info('node stopped');
    this.emit('stopped');
  }

  private async stopComponents(): Promise<void> {
    for (const c of [...this.started].reverse()) {
      try {
        await c.beforeStop?.();
      } catch (err) {
        this.log.error('component failed to prepare its stop', { component_name: c.name, error: err });
      }
    }
    this.emit('prepared');
    for (const c of [...this.started].reverse()) {
      try {
        const t0 = performance.now();
        await c.stop();
        // Where a stop's time goes (docs/raft-runtime.md, "Graceful stop"; bench/raft-handover-timeline.ts).
        this.log.debug('component stopped', {
          component_name: c.name,
          ms: Math.round((performance.now() - t0) * 10) / 10,
        });
      } catch (err) {
        this.log.error('component failed to stop', { component_name: c.name, error: err });
      }
    }
    this.started = [];
  }

  /** A URL a local client can connect to: wildcard binds are reached over loopback. */
  private apiUrl(): string | null {
    const api = this.merged().addresses?.api;
    if (!api) return null;
    return localApiUrl(api);
  }

  private merged(): ComponentStatus {
    const out: ComponentStatus = { addresses: {} };
    for (const c of this.started) {
      const s = c.status?.();
      if (!s) continue;
      const { addresses, ...rest } = s;
      Object.assign(out, rest);
      Object.assign(out.addresses ?? {}, addresses);
    }
    return out;
  }

  status(): NodeStatus {
    const m = this.merged();
    const encrypted = m.gossipEncrypted ?? this.config.security.swarm_key !== '';
    return {
      id: this._id,
      name: this._name,
      device_class: this.config.node.device_class,
      role: m.role ?? 'standalone',
      term: m.term ?? 0,
      leader: m.leader ?? null,
      commit_index: m.commitIndex ?? 0,
      applied_index: m.appliedIndex ?? 0,
      voters: [...(m.voters ?? [])],
      learners: [...(m.learners ?? [])],
      cluster: m.cluster ?? null,
      waiting: m.waiting ?? null,
      merge: m.merge ?? null,
      addresses: { gossip: null, api: null, raft: null, ...m.addresses },
      uptime_s: this.startedAt === 0 ? 0 : Math.max(0, Math.round((this.clock() - this.startedAt) / 1000)),
      version: VERSION,
      pid: process.pid,
      data_dir: this.dataDir,
      security: {
        ...(encrypted ? { gossip_encrypted: true } : { gossip_encrypted: false, note: 'gossip unencrypted' }),
        refused_peers: this.refusals.list().map((p) => ({
          address: p.address,
          channel: p.channel,
          cause: p.cause,
          hint: REFUSAL_HINTS[p.cause],
          count: p.count,
          last_seen: isoUtc(p.lastSeenMs),
        })),
      },
    };
  }
}
