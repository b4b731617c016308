/**
 * What the scheduler and the supervisors keep in the replicated KV, and the
 * key layout (docs/tasks.md). The leader writes specs' allocations and
 * explanations; each node writes only the status of its own allocations, so
 * the two never overwrite each other's keys.
 *
 *   tasks/spec/<task>            TaskRecord   (API: run, stop)
 *   tasks/alloc/<task>/<n>       Allocation   (leader's scheduler)
 *   tasks/state/<task>/<n>       AllocStatus  (supervisor of the allocation's node; the leader writes `lost`)
 *   tasks/explain/<task>         Explanation  (leader's scheduler, on each placement decision)
 */
import type { TaskSpec } from './spec.js';

export const TASKS_PREFIX = 'tasks/';
export const SPEC_PREFIX = 'tasks/spec/';
export const ALLOC_PREFIX = 'tasks/alloc/';
export const STATE_PREFIX = 'tasks/state/';
export const EXPLAIN_PREFIX = 'tasks/explain/';

export const specKey = (task: string): string => `${SPEC_PREFIX}${task}`;
export const allocKey = (task: string, n: number): string => `${ALLOC_PREFIX}${task}/${n}`;
export const stateKey = (task: string, n: number): string => `${STATE_PREFIX}${task}/${n}`;
export const explainKey = (task: string): string => `${EXPLAIN_PREFIX}${task}`;
/** The id an allocation is known by (SWARM_ALLOC, logs, status): `<task>.<n>`. */
export const allocId = (task: string, n: number): string => `${task}.${n}`;

export interface TaskRecord {
  readonly spec: TaskSpec;
  /** `stop` once `swarm task stop` ran: every allocation is stopped, none placed. */
  readonly desired: 'run' | 'stop';
  readonly submitted_ms: number;
}

export interface Allocation {
  readonly task: string;
  /** Sequence number within the task (key suffix); allocId(task, n) names it. */
  readonly n: number;
  readonly node: string;
  readonly node_name: string;
  readonly desired: 'run' | 'stop';
  /** Why it was placed, or why it was stopped. */
  readonly reason: string;
  /** The allocation this one takes over from (a drain: start here, then stop there). */
  readonly replaces?: number;
  readonly created_ms: number;
}

export const ALLOC_STATES = ['pending', 'running', 'exited', 'failed', 'lost', 'stopped'] as const;
export type AllocState = (typeof ALLOC_STATES)[number];
/** States after which the supervisor does nothing more for the allocation. */
export const TERMINAL_STATES: readonly AllocState[] = ['exited', 'failed', 'lost', 'stopped'];

export interface AllocStatus {
  readonly state: AllocState;
  readonly node: string;
  readonly pid: number | null;
  readonly exit_code: number | null;
  readonly signal: string | null;
  readonly restarts: number;
  readonly message: string;
  readonly at_ms: number;
}

export interface NodeExplanation {
  readonly id: string;
  readonly name: string;
  /** Chosen for a replica in this decision. */
  readonly chosen: boolean;
  readonly feasible: boolean;
  /** Why not feasible (every failed check), or how it ranked. */
  readonly reasons: readonly string[];
  /** 1-based rank among feasible nodes; null when not feasible. */
  readonly rank: number | null;
}

export interface Explanation {
  readonly at_ms: number;
  /** Replicas wanted in this decision and how many found a node. */
  readonly wanted: number;
  readonly placed: number;
  readonly nodes: readonly NodeExplanation[];
}

/** Split `tasks/alloc/<task>/<n>` (or state) into its parts; null for anything else. */
export function parseAllocKey(key: string, prefix: string): { task: string; n: number } | null {
  if (!key.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  const slash = rest.lastIndexOf('/');
  if (slash <= 0) return null;
  const n = Number(rest.slice(slash + 1));
  if (!Number.isInteger(n) || n < 0) return null;
  return { task: rest.slice(0, slash), n };
}
