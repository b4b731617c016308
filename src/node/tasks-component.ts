/**
 * Tasks in the daemon: the scheduler (only while this node leads Raft) and
 * the supervisor (on every node), both reading the tasks/ keys of the local
 * state machine through a TaskStore and reacting to applied changes, gossip
 * membership changes and the node's power mode, never on a polling loop: an
 * idle node with no task has no timer of its own.
 *
 * - scheduler: src/tasks/scheduler.ts reconcile() over the members as gossip
 *   sees them; its writes go through the KV like any client's;
 * - supervisor: task-supervisor.ts; its state reports are queued (latest per
 *   allocation) and written in order, retried while there is no quorum;
 * - fence: with tasks running, a timer checks contact with the leader every
 *   [tasks] lease_ms; past it, every task here is stopped (see scheduler.ts
 *   for why the leader waits lease_ms + kill_timeout_s before re-placing).
 */
import { arch } from 'node:os';
import type { Registry } from 'prom-client';
import { SwarmError } from '../common/errors.js';
import type { PowerMode } from '../energy/power-mode.js';
import type { MemberRecord } from '../gossip/messages.js';
import type { JsonValue } from '../raft/kv.js';
import {
  ARCH_TAG,
  BUDGET_TAG,
  DRAIN_TAG,
  LABELS_TAG,
  encodeLabelsTag,
  memberLabels,
} from '../tasks/labels.js';
import {
  ALLOC_PREFIX,
  SPEC_PREFIX,
  STATE_PREFIX,
  TERMINAL_STATES,
  allocId,
  allocKey,
  explainKey,
  parseAllocKey,
  specKey,
  stateKey,
  type AllocStatus,
  type Allocation,
  type Explanation,
  type TaskRecord,
} from '../tasks/model.js';
import { reconcile, type NodeFacts, type TaskView } from '../tasks/scheduler.js';
import type { TaskSpec } from '../tasks/spec.js';
import { localApiUrl } from './api-url.js';
import { LazyRegistry, type PromClient } from './lazy-metrics.js';
import type { NodeComponent, SwarmNode } from './node.js';
import type { PeerStatus } from './peers.js';
import { collectTaskLog, type TaskLogChunk, type TaskLogReader } from './raft-forward.js';
import { allocDir, readLogBytes } from './task-log.js';
import { RaftTaskStore, type TaskStoreRaft } from './task-store.js';
import { TaskSupervisor, type LocalAllocation } from './task-supervisor.js';
import { isoUtc } from '../common/utc-time.js';

export interface TasksMembers {
  view(): {
    readonly selfId: string;
    readonly members: readonly { readonly record: MemberRecord; readonly status: PeerStatus }[];
  };
  onChange(listener: () => void): () => void;
  advertise?(tags: Readonly<Record<string, string | null>>): void;
}

/** Log reads between nodes over the Raft channel (raft-forward.ts, op task_logs). */
export interface TaskLogsChannel {
  serveTaskLogs(reader: TaskLogReader | null): void;
  /** `waitMs` > 0: the node waits for bytes past `offset` before answering empty (`waited` in the answer). */
  taskLogs(
    to: string,
    alloc: string,
    offset: number | null,
    max: number,
    waitMs?: number,
  ): Promise<TaskLogChunk>;
}

export interface TasksRaft extends TaskStoreRaft {
  /** Without the log methods, logs of tasks on other nodes cannot be read from here (503), nor this node's from others. */
  readonly forward: TaskStoreRaft['forward'] & Partial<TaskLogsChannel>;
  leaderContactAgeMs(now?: number): number;
  /** Nodes that must hear the leader every heartbeat round (a learner's rounds are sparse otherwise). */
  setContactLearners?(ids: ReadonlySet<string>): void;
  info(): { readonly role: string; readonly leader: string | null; readonly term: number };
}

export interface TasksComponentOptions {
  readonly raft: TasksRaft;
  readonly members: TasksMembers;
  readonly powerMode?: { onPowerMode(listener: (mode: PowerMode) => void): () => void };
  /** How long a draining node waits for its tasks to move before it stops them (default 15 s). */
  readonly drainWaitMs?: number;
}

/** One allocation as the API shows it. */
export interface AllocationView {
  readonly id: string;
  readonly node: string;
  readonly node_name: string;
  readonly desired: 'run' | 'stop';
  readonly reason: string;
  readonly replaces: string | null;
  readonly state: AllocStatus['state'];
  readonly pid: number | null;
  readonly exit_code: number | null;
  readonly signal: string | null;
  readonly restarts: number;
  readonly message: string;
  readonly since: string | null;
}

export interface TaskStatusView {
  readonly name: string;
  readonly desired: 'run' | 'stop';
  readonly spec: TaskSpec;
  readonly submitted: string;
  readonly running: number;
  readonly allocations: readonly AllocationView[];
  readonly explanation: Explanation | null;
}

export class TaskNotFoundError extends SwarmError {
  constructor(name: string) {
    super('not_found', `no task ${name}`, { fields: { name } });
  }
}
/** `[tasks] enabled = false`: this node neither schedules, supervises nor answers for tasks. */
export class TasksDisabledError extends SwarmError {
  constructor() {
    super('tasks_disabled', 'tasks are not running on this node ([tasks] enabled = false)');
  }
}
/** This node has no channel to the node that holds an allocation's log (no Raft log reads wired). */
export class LogNodeUnreachableError extends SwarmError {
  constructor(node: string, alloc: string) {
    super('node_unreachable', `this node cannot reach node ${node} for the logs of ${alloc}`, {
      fields: { node, alloc },
    });
  }
}
export class TaskExistsError extends SwarmError {
  constructor(name: string) {
    super('task_exists', `task ${name} is running; stop it first (swarm task stop ${name})`, {
      fields: { name },
    });
  }
}

/** An allocation id (`<task name>.<n>`, see spec.ts NAME): one path component under <data_dir>/tasks. */
const ALLOC_ID = /^[a-z0-9][a-z0-9_.-]{0,62}\.\d{1,15}$/;

/** How long a draining node waits for the leader to place a replacement before it gives up moving. */
const DRAIN_PLACE_MS = 3000;

function asRecord<T>(v: JsonValue | undefined): T | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as unknown as T) : null;
}

export class TasksComponent implements NodeComponent {
  readonly name = 'tasks';
  readonly registry: LazyRegistry;
  private node: SwarmNode | null = null;
  private store: RaftTaskStore;
  private supervisor: TaskSupervisor | null = null;
  private unsubs: (() => void)[] = [];
  private scheduled = false;
  private passRunning = false;
  private passAgain = false;
  private deadline: NodeJS.Timeout | null = null;
  private fenceTimer: NodeJS.Timeout | null = null;
  private fenced = false;
  /** The contact set last given to Raft (updateContactNodes), sorted ids joined. */
  private contactKey = '';
  private draining = false;
  private stopped = false;
  private readonly deadSince = new Map<string, number>();
  /** The term in which this leader last passed a read barrier (see schedulePass). */
  private barrierTerm = -1;
  private readonly pending = new Map<string, { task: string; n: number; status: AllocStatus }>();
  private flushing = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly restarts = new Map<string, number>();
  /** Readers waiting for an allocation's log to grow (logs --follow), woken by the supervisor's writes. */
  private readonly logWaiters = new Map<string, Set<() => void>>();
  /** Scheduler passes that wrote something, for /metrics and the bench. */
  schedulerWrites = 0;

  constructor(private readonly opts: TasksComponentOptions) {
    this.store = new RaftTaskStore(opts.raft);
    this.registry = LazyRegistry.once((prom, registry) => this.defineMetrics(prom, registry));
  }

  // ------------------------------------------------------------ lifecycle

  async start(node: SwarmNode): Promise<void> {
    this.node = node;
    if (!node.config.tasks.enabled) return;
    const log = node.log.child('tasks');
    this.supervisor = new TaskSupervisor({
      selfId: node.id,
      dataDir: node.dataDir,
      logMaxBytes: node.config.tasks.log_max_bytes,
      apiUrl: () => this.selfApiUrl(),
      report: (task, n, status) => this.report(task, n, status),
      log,
      onRestart: (task) => this.restarts.set(task, (this.restarts.get(task) ?? 0) + 1),
      onLogWrite: (alloc) => this.logWritten(alloc),
    });
    const budget = node.config.energy.power_budget_watts;
    this.opts.members.advertise?.({
      [LABELS_TAG]: encodeLabelsTag(node.config.node.labels),
      [ARCH_TAG]: arch(),
      [BUDGET_TAG]: budget === undefined ? null : String(budget),
      [DRAIN_TAG]: null,
    });
    this.store.open();
    const fwd = this.opts.raft.forward;
    if (fwd.serveTaskLogs) {
      fwd.serveTaskLogs((alloc, offset, max, waitMs) => this.readLocalLogWaiting(alloc, offset, max, waitMs));
      this.unsubs.push(() => fwd.serveTaskLogs?.(null));
    }
    this.unsubs.push(this.store.subscribe(() => this.changed()));
    this.unsubs.push(this.opts.members.onChange(() => this.changed()));
    if (this.opts.powerMode) this.unsubs.push(this.opts.powerMode.onPowerMode(() => this.changed()));
    this.changed();
  }

  /** A graceful stop drains first: the leader starts this node's tasks elsewhere, then they stop here. */
  async beforeStop(): Promise<void> {
    if (this.supervisor === null || this.stopped) return;
    if (this.localAllocations().some((l) => l.alloc.desired === 'run' && this.isActive(l))) {
      this.draining = true;
      this.opts.members.advertise?.({ [DRAIN_TAG]: '1' });
      const t0 = Date.now();
      const end = t0 + (this.opts.drainWaitMs ?? 15_000);
      for (;;) {
        const staying = this.localAllocations().filter((l) => l.alloc.desired === 'run' && this.isActive(l));
        if (staying.length === 0 || Date.now() >= end) break;
        // Nowhere to go (no replacement placed after a few seconds): stop here rather than wait it out.
        if (Date.now() - t0 > DRAIN_PLACE_MS && !staying.some((l) => this.hasReplacement(l.alloc))) break;
        // The scheduler pass may run here (a leader draining itself).
        this.changed();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await this.supervisor.stopAll(true);
    await this.flushNow(2000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubs) u();
    this.unsubs = [];
    this.store.close();
    for (const t of [this.deadline, this.fenceTimer, this.retryTimer]) if (t) clearTimeout(t);
    for (const set of this.logWaiters.values()) for (const wake of set) wake();
    this.logWaiters.clear();
    await this.supervisor?.stopAll(false);
  }

  // ------------------------------------------------------------ reacting to change

  private changed(): void {
    if (this.scheduled || this.stopped || this.supervisor === null) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.stopped) return;
      this.syncSupervisor();
      this.updateContactNodes();
      void this.schedulePass();
    });
  }

  /**
   * Nodes with an allocation to run stop it once the leader has been silent for `lease_ms`; a
   * learner hears an idle leader only every LEARNER_HEARTBEAT_ROUNDS rounds (tens of seconds when
   * quiet), so the leader heartbeats those every round (every replica keeps the set; the leader's
   * counts).
   */
  private updateContactNodes(): void {
    const set = this.opts.raft.setContactLearners;
    if (set === undefined) return;
    const ids = new Set<string>();
    for (const e of this.store.list(ALLOC_PREFIX)) {
      const a = asRecord<Allocation>(e.value);
      if (a !== null && a.desired === 'run') ids.add(a.node);
    }
    const key = [...ids].sort().join(',');
    if (key === this.contactKey) return;
    this.contactKey = key;
    set.call(this.opts.raft, ids);
  }

  private hasReplacement(a: Allocation): boolean {
    return this.store
      .list(`${ALLOC_PREFIX}${a.task}/`)
      .some((e) => asRecord<Allocation>(e.value)?.replaces === a.n);
  }

  private isActive(l: LocalAllocation): boolean {
    return l.status === null || !TERMINAL_STATES.includes(l.status.state);
  }

  private localAllocations(): LocalAllocation[] {
    const self = this.node?.id;
    const specs = new Map<string, TaskSpec>();
    for (const e of this.store.list(SPEC_PREFIX)) {
      const r = asRecord<TaskRecord>(e.value);
      if (r) specs.set(e.key.slice(SPEC_PREFIX.length), r.spec);
    }
    const out: LocalAllocation[] = [];
    for (const e of this.store.list(ALLOC_PREFIX)) {
      const a = asRecord<Allocation>(e.value);
      if (a === null || a.node !== self) continue;
      const spec = specs.get(a.task);
      if (spec === undefined) continue;
      const status = asRecord<AllocStatus>(this.store.get(stateKey(a.task, a.n))?.value);
      out.push({ alloc: a, spec, status });
    }
    return out;
  }

  private syncSupervisor(): void {
    const sup = this.supervisor;
    if (sup === null) return;
    const local = this.localAllocations();
    const lease = this.node?.config.tasks.lease_ms ?? 10_000;
    const contact = this.opts.raft.leaderContactAgeMs() <= lease;
    if (!contact) {
      // Never start without contact: the leader may have re-placed these already.
      if (sup.active() > 0 && !this.fenced) this.fence();
      else if (local.some((l) => l.alloc.desired === 'run')) this.armFence(lease / 2);
      return;
    }
    this.fenced = false;
    sup.sync(local);
    if (sup.active() > 0) this.armFence(lease);
  }

  private armFence(ms: number): void {
    if (this.fenceTimer !== null || this.stopped) return;
    this.fenceTimer = setTimeout(() => {
      this.fenceTimer = null;
      this.syncSupervisor();
    }, ms);
  }

  private fence(): void {
    const lease = this.node?.config.tasks.lease_ms ?? 10_000;
    this.fenced = true;
    this.node?.log.warn('no contact with the raft leader for the task lease: stopping local tasks', {
      lease_ms: lease,
    });
    void this.supervisor?.stopAll(false).then(() => this.armFence(lease / 2));
  }

  // ------------------------------------------------------------ state reports

  private report(task: string, n: number, status: AllocStatus): void {
    this.pending.set(`${task}/${n}`, { task, n, status });
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (;;) {
        const next = this.pending.entries().next();
        if (next.done) return;
        const [k, r] = next.value;
        try {
          await this.store.put(stateKey(r.task, r.n), r.status as unknown as JsonValue);
          if (this.pending.get(k) === r) this.pending.delete(k);
        } catch (err) {
          this.node?.log.debug('task state not written yet', { key: k, error: err });
          if (!this.stopped && this.retryTimer === null)
            this.retryTimer = setTimeout(() => {
              this.retryTimer = null;
              void this.flush();
            }, 1000);
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async flushNow(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.pending.size > 0 && Date.now() < end) {
      await this.flush();
      if (this.pending.size > 0) await new Promise((r) => setTimeout(r, 100));
    }
  }

  // ------------------------------------------------------------ scheduler (leader only)

  private isLeader(): boolean {
    try {
      return this.opts.raft.info().role === 'leader';
    } catch {
      return false;
    }
  }

  private nodeFacts(): NodeFacts[] {
    let view: ReturnType<TasksMembers['view']>;
    try {
      view = this.opts.members.view();
    } catch {
      return [];
    }
    const now = Date.now();
    const out: NodeFacts[] = [];
    for (const m of view.members) {
      const r = m.record;
      if (m.status === 'dead') {
        if (!this.deadSince.has(r.id)) this.deadSince.set(r.id, now);
      } else this.deadSince.delete(r.id);
      const tags = r.meta.tags ?? {};
      const budget = tags[BUDGET_TAG] === undefined ? null : Number(tags[BUDGET_TAG]);
      const draining = tags[DRAIN_TAG] === '1' || (r.id === view.selfId && this.draining);
      out.push({
        id: r.id,
        name: r.name,
        status: m.status,
        deviceClass: r.deviceClass,
        labels: memberLabels({ deviceClass: r.deviceClass, tags, battery: r.meta.battery }),
        battery: typeof r.meta.battery === 'number' ? r.meta.battery : null,
        powerState: r.meta.powerState ?? null,
        powerW: typeof r.meta.powerW === 'number' ? r.meta.powerW : null,
        budgetW: budget !== null && Number.isFinite(budget) && budget > 0 ? budget : null,
        draining,
      });
    }
    return out;
  }

  /** All tasks, or only task `only` (a status or log read per request need not build every task's view). */
  private taskViews(only?: string): TaskView[] {
    const sub = only === undefined ? '' : `${only}/`;
    const allocs = new Map<string, Map<number, { alloc: Allocation; status: AllocStatus | null }>>();
    for (const e of this.store.list(ALLOC_PREFIX + sub)) {
      const a = asRecord<Allocation>(e.value);
      if (a === null) continue;
      const m = allocs.get(a.task) ?? new Map();
      m.set(a.n, { alloc: a, status: null });
      allocs.set(a.task, m);
    }
    for (const e of this.store.list(STATE_PREFIX + sub)) {
      const k = parseAllocKey(e.key, STATE_PREFIX);
      const s = asRecord<AllocStatus>(e.value);
      const v = k === null ? undefined : allocs.get(k.task)?.get(k.n);
      if (v && s) v.status = s;
    }
    const specs = only === undefined ? this.store.list(SPEC_PREFIX) : [this.store.get(specKey(only))];
    const out: TaskView[] = [];
    for (const e of specs) {
      if (e === null) continue;
      const record = asRecord<TaskRecord>(e.value);
      if (record === null || (only !== undefined && record.spec.name !== only)) continue;
      const name = e.key.slice(SPEC_PREFIX.length);
      out.push({
        record,
        allocs: [...(allocs.get(name)?.values() ?? [])].sort((a, b) => a.alloc.n - b.alloc.n),
        explanation: asRecord<Explanation>(this.store.get(explainKey(name))?.value),
      });
    }
    return out;
  }

  private async schedulePass(): Promise<void> {
    if (this.passRunning) {
      this.passAgain = true;
      return;
    }
    if (!this.isLeader() || this.node === null) return;
    // Nothing to schedule (a new spec wakes us through the applied hook): no read barrier, no traffic.
    if (this.store.list(SPEC_PREFIX).length === 0) return;
    this.passRunning = true;
    try {
      // A new leader may not have applied what its predecessor wrote (allocations among it) until it
      // committed in its own term: deciding on that state could place a count = 1 task twice.
      // Once per term is enough: later entries of this term are applied here before they are answered.
      const term = this.opts.raft.info().term;
      if (this.barrierTerm !== term) {
        await this.opts.raft.forward.linearize(this.opts.raft.requestTimeoutMs);
        this.barrierTerm = term;
      }
      for (let round = 0; round < 10; round++) {
        this.passAgain = false;
        const cfg = this.node.config;
        const out = reconcile({
          now: Date.now(),
          tasks: this.taskViews(),
          nodes: this.nodeFacts(),
          deadSince: this.deadSince,
          leaseMs: cfg.tasks.lease_ms,
          thresholds: {
            lowThresholdPercent: cfg.energy.low_power_threshold_percent,
            criticalThresholdPercent: cfg.energy.critical_threshold_percent,
          },
        });
        if (this.deadline) clearTimeout(this.deadline);
        this.deadline = null;
        if (out.nextDeadline !== null)
          this.deadline = setTimeout(() => this.changed(), Math.max(10, out.nextDeadline - Date.now()));
        if (out.actions.length === 0 && !this.passAgain) break;
        for (const a of out.actions) {
          if (a.kind === 'alloc') {
            this.node.log.child('tasks').info('task allocation', {
              alloc: allocId(a.alloc.task, a.alloc.n),
              node: a.alloc.node_name,
              desired: a.alloc.desired,
              reason: a.alloc.reason,
            });
            await this.store.put(allocKey(a.alloc.task, a.alloc.n), a.alloc as unknown as JsonValue);
          } else if (a.kind === 'status') {
            await this.store.put(stateKey(a.task, a.n), a.status as unknown as JsonValue);
          } else {
            await this.store.put(explainKey(a.task), a.explanation as unknown as JsonValue);
          }
        }
        if (out.actions.length > 0) this.schedulerWrites++;
        if (!this.isLeader()) break;
      }
    } catch (err) {
      this.node.log.warn('task scheduling pass failed; retrying on the next change', { error: err });
      if (!this.stopped && this.deadline === null) this.deadline = setTimeout(() => this.changed(), 1000);
    } finally {
      this.passRunning = false;
    }
  }

  // ------------------------------------------------------------ for the API

  private requireStarted(): SwarmNode {
    if (this.node === null || this.supervisor === null) throw new TasksDisabledError();
    return this.node;
  }

  /** Submit a task; a stopped task of the same name is replaced (its records removed first). */
  async run(spec: TaskSpec): Promise<TaskStatusView> {
    this.requireStarted();
    const existing = this.store.get(specKey(spec.name));
    const prev = asRecord<TaskRecord>(existing?.value);
    if (prev !== null && prev.desired === 'run') throw new TaskExistsError(spec.name);
    if (existing !== null) {
      for (const p of [`${ALLOC_PREFIX}${spec.name}/`, `${STATE_PREFIX}${spec.name}/`])
        for (const e of this.store.list(p)) await this.store.delete(e.key);
      await this.store.delete(explainKey(spec.name));
    }
    const record: TaskRecord = { spec, desired: 'run', submitted_ms: Date.now() };
    await this.store.put(specKey(spec.name), record as unknown as JsonValue, existing?.revision ?? 0);
    // Committed, but a follower may not have applied it yet: answer from what was written.
    return this.viewOf({ record, allocs: [], explanation: null });
  }

  async stopTask(name: string): Promise<TaskStatusView> {
    this.requireStarted();
    const e = this.store.get(specKey(name));
    const r = asRecord<TaskRecord>(e?.value);
    if (e === null || r === null) throw new TaskNotFoundError(name);
    const stopped: TaskRecord = { ...r, desired: 'stop' };
    if (r.desired !== 'stop')
      await this.store.put(specKey(name), stopped as unknown as JsonValue, e.revision);
    const tv = this.taskViews(name)[0];
    return this.viewOf({ record: stopped, allocs: tv?.allocs ?? [], explanation: tv?.explanation ?? null });
  }

  list(): TaskStatusView[] {
    this.requireStarted();
    return this.taskViews().map((tv) => this.viewOf(tv));
  }

  taskStatus(name: string): TaskStatusView {
    this.requireStarted();
    const tv = this.taskViews(name)[0];
    if (tv === undefined) throw new TaskNotFoundError(name);
    return this.viewOf(tv);
  }

  /** Whether an allocation runs here, and the name of the node it runs on. */
  locate(node: string): { self: boolean; name: string } {
    if (node === this.node?.id) return { self: true, name: this.node.name };
    try {
      const m = this.opts.members.view().members.find((x) => x.record.id === node);
      return { self: false, name: m?.record.name ?? node };
    } catch {
      return { self: false, name: node };
    }
  }

  /** A chunk of a local allocation's log; a string says why the id is refused. */
  readLocalLog(alloc: string, offset: number | null, max: number): TaskLogChunk | string {
    if (!ALLOC_ID.test(alloc)) return `not an allocation id: ${alloc.slice(0, 80)}`;
    return readLogBytes(allocDir(this.requireStarted().dataDir, alloc), offset, max);
  }

  private logWritten(alloc: string): void {
    const set = this.logWaiters.get(alloc);
    if (set === undefined) return;
    this.logWaiters.delete(alloc);
    for (const wake of set) wake();
  }

  /**
   * Resolves at the next write to `alloc`'s log, after `ms`, or when `signal` aborts; `cancel`
   * drops the wait early. Registered before the caller reads, so a write between the read and
   * the wait is not missed.
   */
  private logWrite(alloc: string, ms: number, signal?: AbortSignal): { done: Promise<void>; cancel(): void } {
    let wake!: () => void;
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake(), ms);
      const onAbort = (): void => wake();
      wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const set = this.logWaiters.get(alloc);
        if (set !== undefined) {
          set.delete(wake);
          if (set.size === 0) this.logWaiters.delete(alloc);
        }
        resolve();
      };
      if (signal?.aborted === true || this.stopped) return wake();
      signal?.addEventListener('abort', onAbort, { once: true });
      const set = this.logWaiters.get(alloc) ?? new Set<() => void>();
      set.add(wake);
      this.logWaiters.set(alloc, set);
    });
    return { done, cancel: () => wake() };
  }

  /**
   * readLocalLog, but with nothing past `offset` yet, wait up to `waitMs` for the
   * supervisor to append to the log (a follower's read; no timer while bytes come).
   */
  async readLocalLogWaiting(
    alloc: string,
    offset: number | null,
    max: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<TaskLogChunk | string> {
    if (waitMs <= 0 || offset === null) return this.readLocalLog(alloc, offset, max);
    const w = this.logWrite(alloc, waitMs, signal);
    try {
      const first = this.readLocalLog(alloc, offset, max);
      if (typeof first === 'string' || first.bytes.length > 0 || first.from !== offset) return first;
      await w.done;
      return this.readLocalLog(alloc, offset, max);
    } finally {
      w.cancel();
    }
  }

  /**
   * Up to `max` bytes of an allocation's log on node `node`, read over the
   * Raft channel in chunks of at most TASK_LOG_CHUNK_BYTES (never through
   * that node's API, which may listen on 127.0.0.1 only). `waitMs` > 0: the
   * first read waits there for bytes past `offset` (see TaskLogsChannel).
   */
  async remoteLog(
    node: string,
    alloc: string,
    offset: number | null,
    max: number,
    waitMs = 0,
  ): Promise<TaskLogChunk> {
    this.requireStarted();
    const fwd = this.opts.raft.forward;
    if (fwd.taskLogs === undefined) throw new LogNodeUnreachableError(node, alloc);
    if (waitMs <= 0 || offset === null)
      return collectTaskLog(fwd.taskLogs.bind(fwd, node, alloc), offset, max);
    const first = await fwd.taskLogs(node, alloc, offset, max, waitMs);
    if (first.bytes.length === 0 || first.bytes.length >= max || first.next_offset >= first.size)
      return first;
    const rest = await collectTaskLog(
      fwd.taskLogs.bind(fwd, node, alloc),
      first.next_offset,
      max - first.bytes.length,
    );
    if (rest.from !== first.next_offset) return first;
    return {
      ...rest,
      from: first.from,
      bytes: Buffer.concat([first.bytes, rest.bytes]),
      waited: first.waited,
    };
  }

  private viewOf(tv: TaskView): TaskStatusView {
    const allocations: AllocationView[] = tv.allocs.map(({ alloc, status }) => ({
      id: allocId(alloc.task, alloc.n),
      node: alloc.node,
      node_name: alloc.node_name,
      desired: alloc.desired,
      reason: alloc.reason,
      replaces: alloc.replaces === undefined ? null : allocId(alloc.task, alloc.replaces),
      state: status?.state ?? 'pending',
      pid: status?.pid ?? null,
      exit_code: status?.exit_code ?? null,
      signal: status?.signal ?? null,
      restarts: status?.restarts ?? 0,
      message: status?.message ?? '',
      since: status ? isoUtc(status.at_ms) : null,
    }));
    return {
      name: tv.record.spec.name,
      desired: tv.record.desired,
      spec: tv.record.spec,
      submitted: isoUtc(tv.record.submitted_ms),
      running: allocations.filter((a) => a.state === 'running').length,
      allocations,
      explanation: tv.explanation,
    };
  }

  private selfApiUrl(): string {
    const api = this.node?.status().addresses.api;
    if (!api) return '';
    return localApiUrl(api);
  }

  // ------------------------------------------------------------ metrics

  private defineMetrics(prom: PromClient, registry: Registry): void {
    const { Counter, Gauge } = prom;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- collect() callbacks read the live component
    const self = this;
    new Gauge({
      name: 'swarm_tasks_allocations',
      help: 'Allocations placed on this node by state (pending, running, exited, failed, lost, stopped).',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        this.reset();
        if (self.supervisor === null) return;
        const counts = new Map<string, number>();
        for (const l of self.localAllocations()) {
          const s = l.status?.state ?? 'pending';
          counts.set(s, (counts.get(s) ?? 0) + 1);
        }
        for (const s of ['pending', 'running', 'exited', 'failed', 'lost', 'stopped'])
          this.set({ state: s }, counts.get(s) ?? 0);
      },
    });
    new Counter({
      name: 'swarm_tasks_restarts_total',
      help: 'Task processes restarted by this node after they ended (restart policy), by task.',
      labelNames: ['task'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [task, n] of self.restarts) this.inc({ task }, n);
      },
    });
    new Gauge({
      name: 'swarm_tasks_fenced',
      help: '1 while this node stopped its tasks for lack of contact with the Raft leader.',
      registers: [registry],
      collect() {
        this.set(self.fenced ? 1 : 0);
      },
    });
  }
}
