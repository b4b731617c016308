/**
 * Placement as pure functions, after Nomad's scheduler: feasibility checks
 * first (every reason a node fails is kept for `swarm task status`), then a
 * ranking of the feasible nodes by energy and load. Deterministic: the same
 * inputs give the same choice and the same explanation, ties broken by name
 * and id, so a new leader re-running placement agrees with the old one.
 */
import type { NodeExplanation } from './model.js';
import type { TaskSpec } from './spec.js';

export interface PlacementNode {
  readonly id: string;
  readonly name: string;
  readonly status: 'alive' | 'suspect' | 'dead' | 'left';
  readonly deviceClass: string;
  /** Built-in and configured labels (labels.ts memberLabels). */
  readonly labels: readonly string[];
  /** Battery percent while on battery; null on mains. */
  readonly battery: number | null;
  /** Gossiped power state ("active", "idle", "low_power", "critical"), null when unknown. */
  readonly powerState: string | null;
  /** Current draw, watts; null when not reported. */
  readonly powerW: number | null;
  /** `[energy] power_budget_watts` of the node; null when it has none. */
  readonly budgetW: number | null;
  /** The node is leaving gracefully: nothing new goes there, its tasks move away. */
  readonly draining: boolean;
  /** Live allocations of any task on this node (its load). */
  readonly tasks: number;
  /** Sum of the declared power_w of those allocations. */
  readonly declaredW: number;
}

export interface PlacementThresholds {
  readonly lowThresholdPercent: number;
  readonly criticalThresholdPercent: number;
}

/** Energy standing of a node: 0 mains, 1 battery above the low threshold, 2 low, 3 critical. */
export function energyTier(n: PlacementNode, t: PlacementThresholds): 0 | 1 | 2 | 3 {
  if (n.battery === null) return 0;
  if (n.powerState === 'critical' || n.battery <= t.criticalThresholdPercent) return 3;
  if (n.powerState === 'low_power' || n.battery <= t.lowThresholdPercent) return 2;
  return 1;
}

/** Watts left under the node's budget (Infinity without a budget). */
export function headroomW(n: PlacementNode): number {
  if (n.budgetW === null) return Number.POSITIVE_INFINITY;
  return n.budgetW - (n.powerW ?? 0) - n.declaredW;
}

const fmtW = (w: number): string => `${Math.round(w * 10) / 10} W`;

/**
 * Why `node` may not run a replica of `spec` (empty: it may). `holding` are
 * the nodes that already run a replica (replicas spread, one per node).
 */
export function infeasibility(
  spec: TaskSpec,
  node: PlacementNode,
  t: PlacementThresholds,
  holding: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  if (node.status !== 'alive') out.push(`not alive (${node.status})`);
  if (node.draining) out.push('draining before it leaves');
  if (node.deviceClass === 'minimal') out.push('minimal devices never run tasks');
  else if (
    spec.constraints.device_classes.length > 0 &&
    !spec.constraints.device_classes.includes(node.deviceClass)
  )
    out.push(`device class ${node.deviceClass} not in ${spec.constraints.device_classes.join(', ')}`);
  const missing = spec.constraints.labels.filter((l) => !node.labels.includes(l));
  if (missing.length > 0) out.push(`missing label${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  const tier = energyTier(node, t);
  const pct = node.battery === null ? '' : ` (${Math.round(node.battery)}%)`;
  if (tier === 3) out.push(`battery critical${pct}`);
  else if (spec.energy === 'mains-only' && tier > 0) out.push(`on battery${pct}; task is mains-only`);
  else if (spec.energy === 'prefer-mains' && tier === 2) out.push(`battery low${pct}; task prefers mains`);
  const room = headroomW(node);
  if (spec.power_w > 0 && spec.power_w > room)
    out.push(
      `power: needs ${fmtW(spec.power_w)}, headroom ${fmtW(Math.max(0, room))} of ${fmtW(node.budgetW ?? 0)}`,
    );
  if (holding.has(node.id)) out.push('already runs a replica (replicas spread)');
  return out;
}

/** Ranking order: energy tier, then power headroom (more first), then load, then name and id. */
export function compareNodes(a: PlacementNode, b: PlacementNode, t: PlacementThresholds): number {
  const ta = energyTier(a, t);
  const tb = energyTier(b, t);
  if (ta !== tb) return ta - tb;
  const ha = headroomW(a);
  const hb = headroomW(b);
  if (ha !== hb) return hb > ha ? 1 : -1;
  if (a.tasks !== b.tasks) return a.tasks - b.tasks;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const TIER_TEXT = ['mains', 'battery', 'battery low', 'battery critical'] as const;

export interface PlacementResult {
  /** Node ids chosen, best first (at most `want`, one per node). */
  readonly chosen: readonly string[];
  /** Every node, feasible ones first in rank order, then the others by name. */
  readonly nodes: readonly NodeExplanation[];
}

/** Choose up to `want` nodes for replicas of `spec`, none of them in `holding`. */
export function place(
  spec: TaskSpec,
  nodes: readonly PlacementNode[],
  want: number,
  t: PlacementThresholds,
  holding: ReadonlySet<string> = new Set(),
): PlacementResult {
  const feasible: PlacementNode[] = [];
  const rejected: { n: PlacementNode; reasons: string[] }[] = [];
  for (const n of nodes) {
    const reasons = infeasibility(spec, n, t, holding);
    if (reasons.length === 0) feasible.push(n);
    else rejected.push({ n, reasons });
  }
  feasible.sort((a, b) => compareNodes(a, b, t));
  const chosen = feasible.slice(0, Math.max(0, want)).map((n) => n.id);
  const out: NodeExplanation[] = feasible.map((n, i) => {
    const room = headroomW(n);
    const reasons = [
      TIER_TEXT[energyTier(n, t)] + (n.battery === null ? '' : ` ${Math.round(n.battery)}%`),
      ...(Number.isFinite(room) ? [`headroom ${fmtW(room)}`] : []),
      `${n.tasks} task${n.tasks === 1 ? '' : 's'}`,
    ];
    return { id: n.id, name: n.name, chosen: i < chosen.length, feasible: true, reasons, rank: i + 1 };
  });
  rejected.sort((a, b) => (a.n.name < b.n.name ? -1 : a.n.name > b.n.name ? 1 : a.n.id < b.n.id ? -1 : 1));
  for (const r of rejected)
    out.push({ id: r.n.id, name: r.n.name, chosen: false, feasible: false, reasons: r.reasons, rank: null });
  return { chosen, nodes: out };
}
