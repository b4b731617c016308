/**
 * The leader's scheduler as one pure function: from the tasks, their
 * allocations and statuses (as the KV holds them) and the members (as gossip
 * sees them), the writes that bring the swarm toward what was asked. The node
 * component runs it on the leader after any change and performs the writes;
 * running it again on the result writes nothing (idempotent), so a leader
 * change in the middle of a pass is harmless: the next leader finishes it.
 *
 * Rules (docs/tasks.md):
 * - an allocation on a node declared dead becomes `lost` (and is replaced)
 *   only `lease_ms + kill_timeout_s` after this leader saw the node dead: a
 *   node cut off from the leader stops its tasks itself after `lease_ms`, so a
 *   `count = 1` task never runs twice at once; a node that left gracefully
 *   has stopped its tasks, so its allocations are replaced at once;
 * - a `prefer-mains` or `mains-only` allocation on a node whose battery is
 *   low or critical (`mains-only`: on battery at all), or on a draining node,
 *   is moved: a replacement starts elsewhere first, the original is stopped
 *   once the replacement runs;
 * - exited and failed replicas keep their slot (no re-placement loop).
 */
import {
  TERMINAL_STATES,
  type AllocStatus,
  type Allocation,
  type Explanation,
  type TaskRecord,
} from './model.js';
import { energyTier, place, type PlacementNode, type PlacementThresholds } from './placement.js';
import type { TaskSpec } from './spec.js';

export interface AllocView {
  readonly alloc: Allocation;
  readonly status: AllocStatus | null;
}

export interface TaskView {
  readonly record: TaskRecord;
  readonly allocs: readonly AllocView[];
  readonly explanation: Explanation | null;
}

export type NodeFacts = Omit<PlacementNode, 'tasks' | 'declaredW'>;

export interface ReconcileInput {
  readonly now: number;
  /** Sorted by name. */
  readonly tasks: readonly TaskView[];
  readonly nodes: readonly NodeFacts[];
  /** When this leader first saw each dead node dead (its own clock). */
  readonly deadSince: ReadonlyMap<string, number>;
  /** How long a node without contact to the leader keeps running its tasks. */
  readonly leaseMs: number;
  readonly thresholds: PlacementThresholds;
}

export type SchedulerAction =
  | { readonly kind: 'alloc'; readonly alloc: Allocation }
  | { readonly kind: 'status'; readonly task: string; readonly n: number; readonly status: AllocStatus }
  | { readonly kind: 'explain'; readonly task: string; readonly explanation: Explanation };

export interface ReconcileOutput {
  readonly actions: readonly SchedulerAction[];
  /** When to run again even if nothing changes (a grace period ends); null: only on change. */
  readonly nextDeadline: number | null;
}

function terminal(s: AllocStatus | null): boolean {
  return s !== null && TERMINAL_STATES.includes(s.state);
}

/** The allocation must leave its node for energy or drain reasons (the node is still up). */
export function mustMove(spec: TaskSpec, node: NodeFacts, t: PlacementThresholds): string | null {
  if (node.draining) return 'node draining before it leaves';
  if (spec.energy === 'any') return null;
  const tier = energyTier({ ...node, tasks: 0, declaredW: 0 }, t);
  const pct = node.battery === null ? '' : ` (${Math.round(node.battery)}%)`;
  if (spec.energy === 'mains-only' && tier > 0) return `on battery${pct}; task is mains-only`;
  if (tier >= 2) return `battery ${tier === 3 ? 'critical' : 'low'}${pct}; task prefers mains`;
  return null;
}

function sameExplanation(a: Explanation | null, b: Explanation): boolean {
  if (a === null) return false;
  return JSON.stringify({ ...a, at_ms: 0 }) === JSON.stringify({ ...b, at_ms: 0 });
}

export function reconcile(input: ReconcileInput): ReconcileOutput {
  const { now, thresholds: t } = input;
  const actions: SchedulerAction[] = [];
  let nextDeadline: number | null = null;
  const byId = new Map(input.nodes.map((n) => [n.id, n]));
  // Load per node: live (desired run, not finished) allocations of every task.
  const load = new Map<string, { tasks: number; watts: number }>();
  const addLoad = (node: string, w: number): void => {
    const l = load.get(node) ?? { tasks: 0, watts: 0 };
    load.set(node, { tasks: l.tasks + 1, watts: l.watts + w });
  };
  for (const tv of input.tasks)
    for (const a of tv.allocs)
      if (a.alloc.desired === 'run' && !terminal(a.status)) addLoad(a.alloc.node, tv.record.spec.power_w);
  const placementNodes = (): PlacementNode[] =>
    input.nodes.map((n) => ({
      ...n,
      tasks: load.get(n.id)?.tasks ?? 0,
      declaredW: load.get(n.id)?.watts ?? 0,
    }));

  const lostStatus = (a: AllocView, why: string): SchedulerAction => ({
    kind: 'status',
    task: a.alloc.task,
    n: a.alloc.n,
    status: {
      state: 'lost',
      node: a.alloc.node,
      pid: null,
      exit_code: null,
      signal: null,
      restarts: a.status?.restarts ?? 0,
      message: why,
      at_ms: now,
    },
  });
  const stopAlloc = (a: AllocView, reason: string): SchedulerAction => ({
    kind: 'alloc',
    alloc: { ...a.alloc, desired: 'stop', reason },
  });

  for (const tv of input.tasks) {
    const spec = tv.record.spec;
    let nextN = tv.allocs.reduce((m, a) => Math.max(m, a.alloc.n + 1), 0);
    const gone = (a: AllocView): { why: string; graceEnd: number } | null => {
      const node = byId.get(a.alloc.node);
      if (node === undefined)
        return { why: `node ${a.alloc.node_name} is no longer a member`, graceEnd: now };
      if (node.status === 'left') return { why: `node ${node.name} left`, graceEnd: now };
      if (node.status !== 'dead') return null;
      const since = input.deadSince.get(node.id) ?? now;
      return { why: `node ${node.name} dead`, graceEnd: since + input.leaseMs + spec.kill_timeout_s * 1000 };
    };

    if (tv.record.desired === 'stop') {
      for (const a of tv.allocs) {
        if (a.alloc.desired === 'run') actions.push(stopAlloc(a, 'task stopped'));
        const g = terminal(a.status) ? null : gone(a);
        if (g !== null) actions.push(lostStatus(a, g.why));
      }
      continue;
    }

    // Allocations stopped earlier (drained) whose node then went away: nobody else will say they ended.
    for (const a of tv.allocs)
      if (a.alloc.desired === 'stop' && !terminal(a.status)) {
        const g = gone(a);
        if (g !== null) actions.push(lostStatus(a, g.why));
      }

    const live = tv.allocs.filter((a) => a.alloc.desired === 'run');
    const holding = new Set<string>();
    let occupied = 0;
    const moves: { from: AllocView; why: string }[] = [];
    const replacementOf = new Map<number, AllocView>();
    for (const a of live) if (a.alloc.replaces !== undefined) replacementOf.set(a.alloc.replaces, a);
    const pairedReplacements = new Set<number>();

    for (const a of live) {
      if (a.status?.state === 'lost') {
        actions.push(stopAlloc(a, a.status.message || 'lost'));
        continue;
      }
      if (terminal(a.status)) {
        occupied++;
        holding.add(a.alloc.node);
        continue;
      }
      const g = gone(a);
      if (g !== null) {
        if (now >= g.graceEnd) {
          actions.push(stopAlloc(a, 'lost'), lostStatus(a, g.why));
          const l = load.get(a.alloc.node);
          if (l) load.set(a.alloc.node, { tasks: l.tasks - 1, watts: l.watts - spec.power_w });
          continue;
        }
        // Still within the grace: the replica may be running there; it keeps its slot.
        nextDeadline = nextDeadline === null ? g.graceEnd : Math.min(nextDeadline, g.graceEnd);
        occupied++;
        holding.add(a.alloc.node);
        continue;
      }
      holding.add(a.alloc.node);
      const node = byId.get(a.alloc.node) as NodeFacts;
      const why = mustMove(spec, node, t);
      const repl = replacementOf.get(a.alloc.n);
      if (why !== null) {
        if (repl !== undefined && repl.status?.state === 'running') {
          actions.push(stopAlloc(a, `drained (${why}): moved to ${repl.alloc.node_name}`));
          continue;
        }
        occupied++;
        if (repl !== undefined) pairedReplacements.add(repl.alloc.n);
        else moves.push({ from: a, why });
        continue;
      }
      occupied++;
      // Conditions cleared before the replacement ran: the replacement still counts separately below.
    }
    // A replacement whose original is still running counts with it as one replica.
    occupied -= pairedReplacements.size;

    const missing = Math.max(0, spec.count - occupied);
    const want = missing + moves.length;
    if (want === 0) continue;
    const result = place(spec, placementNodes(), want, t, holding);
    // New replicas first, then replacements for moves: a missing replica matters more than a move.
    const chosen = [...result.chosen];
    const placed: Allocation[] = [];
    for (let i = 0; i < missing && chosen.length > 0; i++) {
      const nodeId = chosen.shift() as string;
      placed.push(newAlloc(tv, nextN++, nodeId, 'placed', byId, now));
    }
    for (const m of moves) {
      if (chosen.length === 0) break;
      const nodeId = chosen.shift() as string;
      placed.push({
        ...newAlloc(
          tv,
          nextN++,
          nodeId,
          `replaces ${m.from.alloc.task}.${m.from.alloc.n} (${m.why})`,
          byId,
          now,
        ),
        replaces: m.from.alloc.n,
      });
    }
    for (const a of placed) {
      actions.push({ kind: 'alloc', alloc: a });
      addLoad(a.node, spec.power_w);
    }
    const explanation: Explanation = { at_ms: now, wanted: want, placed: placed.length, nodes: result.nodes };
    if (!sameExplanation(tv.explanation, explanation))
      actions.push({ kind: 'explain', task: spec.name, explanation });
  }
  return { actions, nextDeadline };
}

function newAlloc(
  tv: TaskView,
  n: number,
  nodeId: string,
  reason: string,
  byId: ReadonlyMap<string, NodeFacts>,
  now: number,
): Allocation {
  return {
    task: tv.record.spec.name,
    n,
    node: nodeId,
    node_name: byId.get(nodeId)?.name ?? nodeId,
    desired: 'run',
    reason,
    created_ms: now,
  };
}
