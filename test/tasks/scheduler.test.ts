/** The leader's reconcile step: placement, loss after grace, drains (start elsewhere, then stop), stop, idempotence. */
import { describe, expect, it } from 'vitest';
import type { AllocStatus, Allocation, TaskRecord } from '../../src/tasks/model.js';
import {
  reconcile,
  type AllocView,
  type NodeFacts,
  type ReconcileInput,
  type SchedulerAction,
  type TaskView,
} from '../../src/tasks/scheduler.js';
import { parseTaskSpec } from '../../src/tasks/spec.js';

const T = { lowThresholdPercent: 30, criticalThresholdPercent: 10 };
const node = (name: string, over: Partial<NodeFacts> = {}): NodeFacts => ({
  id: name,
  name,
  status: 'alive',
  deviceClass: 'standard',
  labels: [],
  battery: null,
  powerState: 'idle',
  powerW: 1,
  budgetW: null,
  draining: false,
  ...over,
});
const record = (over: Record<string, unknown> = {}, desired: 'run' | 'stop' = 'run'): TaskRecord => ({
  spec: parseTaskSpec({ name: 'job', command: ['x'], kill_timeout_s: 1, ...over }),
  desired,
  submitted_ms: 0,
});
const alloc = (n: number, nodeId: string, over: Partial<Allocation> = {}): Allocation => ({
  task: 'job',
  n,
  node: nodeId,
  node_name: nodeId,
  desired: 'run',
  reason: 'placed',
  created_ms: 0,
  ...over,
});
const status = (state: AllocStatus['state'], nodeId: string): AllocStatus => ({
  state,
  node: nodeId,
  pid: 1,
  exit_code: null,
  signal: null,
  restarts: 0,
  message: '',
  at_ms: 0,
});
const view = (r: TaskRecord, allocs: AllocView[]): TaskView => ({ record: r, allocs, explanation: null });
const input = (
  tasks: TaskView[],
  nodes: NodeFacts[],
  over: Partial<ReconcileInput> = {},
): ReconcileInput => ({
  now: 10_000,
  tasks,
  nodes,
  deadSince: new Map(),
  leaseMs: 2000,
  thresholds: T,
  ...over,
});
const allocs = (a: readonly SchedulerAction[]): Allocation[] =>
  a.flatMap((x) => (x.kind === 'alloc' ? [x.alloc] : []));

/** Apply actions to the views, as the KV would after the writes. */
function applied(tv: TaskView, actions: readonly SchedulerAction[]): TaskView {
  const byN = new Map(tv.allocs.map((a) => [a.alloc.n, a]));
  let explanation = tv.explanation;
  for (const x of actions) {
    if (x.kind === 'alloc')
      byN.set(x.alloc.n, { alloc: x.alloc, status: byN.get(x.alloc.n)?.status ?? null });
    if (x.kind === 'status') {
      const a = byN.get(x.n);
      if (a) byN.set(x.n, { ...a, status: x.status });
    }
    if (x.kind === 'explain') explanation = x.explanation;
  }
  return { ...tv, allocs: [...byN.values()], explanation };
}

describe('reconcile', () => {
  it('places count replicas on distinct nodes, then writes nothing more', () => {
    const tv = view(record({ count: 2 }), []);
    const nodes = [node('a'), node('b'), node('c', { deviceClass: 'minimal' })];
    const out = reconcile(input([tv], nodes));
    expect(allocs(out.actions).map((a) => [a.n, a.node])).toEqual([
      [0, 'a'],
      [1, 'b'],
    ]);
    expect(out.actions.some((x) => x.kind === 'explain')).toBe(true);
    const again = reconcile(input([applied(tv, out.actions)], nodes));
    expect(again.actions).toEqual([]);
  });

  it('a dead node keeps its replica until lease + kill timeout, then it is lost and re-placed', () => {
    const tv = view(record(), [{ alloc: alloc(0, 'a'), status: status('running', 'a') }]);
    const nodes = [node('a', { status: 'dead' }), node('b')];
    const early = reconcile(input([tv], nodes, { now: 10_000, deadSince: new Map([['a', 9_000]]) }));
    expect(early.actions).toEqual([]);
    expect(early.nextDeadline).toBe(9_000 + 2000 + 1000);
    const late = reconcile(input([tv], nodes, { now: 12_000, deadSince: new Map([['a', 9_000]]) }));
    expect(late.actions).toContainEqual(
      expect.objectContaining({ kind: 'status', n: 0, status: expect.objectContaining({ state: 'lost' }) }),
    );
    expect(allocs(late.actions)).toEqual([
      expect.objectContaining({ n: 0, node: 'a', desired: 'stop' }),
      expect.objectContaining({ n: 1, node: 'b', desired: 'run' }),
    ]);
  });

  it('a node that left gracefully: replaced at once', () => {
    const tv = view(record(), [{ alloc: alloc(0, 'a'), status: status('stopped', 'a') }]);
    // stopped is terminal, but desired run: keeps its slot (a finished replica)...
    expect(reconcile(input([tv], [node('a', { status: 'left' }), node('b')])).actions).toEqual([]);
    const running = view(record(), [{ alloc: alloc(0, 'a'), status: status('running', 'a') }]);
    const out = reconcile(input([running], [node('a', { status: 'left' }), node('b')]));
    expect(allocs(out.actions).map((a) => [a.n, a.node, a.desired])).toEqual([
      [0, 'a', 'stop'],
      [1, 'b', 'run'],
    ]);
  });

  it('critical battery drains a prefer-mains replica: start elsewhere, stop here once it runs', () => {
    const nodes = [node('a', { battery: 8, powerState: 'critical' }), node('b')];
    let tv = view(record({ energy: 'prefer-mains' }), [
      { alloc: alloc(0, 'a'), status: status('running', 'a') },
    ]);
    const first = reconcile(input([tv], nodes));
    expect(allocs(first.actions)).toEqual([
      expect.objectContaining({ n: 1, node: 'b', replaces: 0, desired: 'run' }),
    ]);
    tv = applied(tv, first.actions);
    // The replacement has not started yet: nothing else happens (the original keeps running).
    expect(reconcile(input([tv], nodes)).actions).toEqual([]);
    tv = {
      ...tv,
      allocs: tv.allocs.map((a) => (a.alloc.n === 1 ? { ...a, status: status('running', 'b') } : a)),
    };
    const second = reconcile(input([tv], nodes));
    expect(allocs(second.actions)).toEqual([
      expect.objectContaining({
        n: 0,
        desired: 'stop',
        reason: expect.stringMatching(/drained.*moved to b/),
      }),
    ]);
    tv = applied(tv, second.actions);
    expect(reconcile(input([tv], nodes)).actions).toEqual([]);
  });

  it('an energy-any replica stays on a critical battery node', () => {
    const tv = view(record(), [{ alloc: alloc(0, 'a'), status: status('running', 'a') }]);
    expect(
      reconcile(input([tv], [node('a', { battery: 8, powerState: 'critical' }), node('b')])).actions,
    ).toEqual([]);
  });

  it('no feasible node: explains why once, places nothing', () => {
    const tv = view(record({ constraints: { labels: ['gpu'] } }), []);
    const out = reconcile(input([tv], [node('a')]));
    expect(allocs(out.actions)).toEqual([]);
    const ex = out.actions.find((x) => x.kind === 'explain');
    expect(ex && ex.kind === 'explain' && ex.explanation.nodes[0]?.reasons).toEqual(['missing label gpu']);
    expect(reconcile(input([applied(tv, out.actions)], [node('a')], { now: 20_000 })).actions).toEqual([]);
  });

  it("task stop marks every allocation stop; dead nodes' allocations lost", () => {
    const tv = view(record({ count: 2 }, 'stop'), [
      { alloc: alloc(0, 'a'), status: status('running', 'a') },
      { alloc: alloc(1, 'b'), status: status('running', 'b') },
    ]);
    const out = reconcile(input([tv], [node('a'), node('b', { status: 'dead' })]));
    expect(allocs(out.actions).map((a) => [a.n, a.desired])).toEqual([
      [0, 'stop'],
      [1, 'stop'],
    ]);
    expect(out.actions.filter((x) => x.kind === 'status').map((x) => x.kind === 'status' && x.n)).toEqual([
      1,
    ]);
  });

  it('exited and failed replicas keep their slot', () => {
    const tv = view(record({ count: 2 }), [
      { alloc: alloc(0, 'a'), status: status('exited', 'a') },
      { alloc: alloc(1, 'b'), status: status('failed', 'b') },
    ]);
    expect(reconcile(input([tv], [node('a'), node('b'), node('c')])).actions).toEqual([]);
  });

  it('load spreads different tasks over nodes', () => {
    const busy = view({ ...record(), spec: parseTaskSpec({ name: 'other', command: ['x'] }) }, [
      { alloc: { ...alloc(0, 'a'), task: 'other' }, status: status('running', 'a') },
    ]);
    const tv = view(record(), []);
    const out = reconcile(input([busy, tv], [node('a'), node('b')]));
    expect(allocs(out.actions).map((a) => a.node)).toEqual(['b']);
  });
});
