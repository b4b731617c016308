/** Placement as table tests: feasibility reasons, energy ranking, load, spread, determinism. */
import { describe, expect, it } from 'vitest';
import { place, type PlacementNode } from '../../src/tasks/placement.js';
import { parseTaskSpec, type TaskSpec } from '../../src/tasks/spec.js';

const T = { lowThresholdPercent: 30, criticalThresholdPercent: 10 };

function node(name: string, over: Partial<PlacementNode> = {}): PlacementNode {
  return {
    id: `id-${name}`,
    name,
    status: 'alive',
    deviceClass: 'standard',
    labels: ['class=standard', 'arch=x64', 'power=mains'],
    battery: null,
    powerState: 'idle',
    powerW: 2,
    budgetW: null,
    draining: false,
    tasks: 0,
    declaredW: 0,
    ...over,
  };
}
const bat = (pct: number, state = 'active'): Partial<PlacementNode> => ({ battery: pct, powerState: state });
const spec = (over: Record<string, unknown> = {}): TaskSpec =>
  parseTaskSpec({ name: 't', command: ['x'], ...over });

interface Row {
  name: string;
  spec: TaskSpec;
  nodes: PlacementNode[];
  want: number;
  holding?: string[];
  chosen: string[];
  /** node name -> a reason it must list (infeasible) */
  why?: Record<string, RegExp>;
}

const rows: Row[] = [
  {
    name: 'minimal never runs tasks',
    spec: spec(),
    nodes: [node('a', { deviceClass: 'minimal' }), node('b')],
    want: 2,
    chosen: ['b'],
    why: { a: /minimal devices never run tasks/ },
  },
  {
    name: 'required labels',
    spec: spec({ constraints: { labels: ['camera'] } }),
    nodes: [node('a'), node('b', { labels: ['camera'] }), node('c', { labels: ['camera'] })],
    want: 2,
    chosen: ['b', 'c'],
    why: { a: /missing label camera/ },
  },
  {
    name: 'device class constraint',
    spec: spec({ constraints: { device_classes: ['full'] } }),
    nodes: [node('a'), node('b', { deviceClass: 'full' })],
    want: 1,
    chosen: ['b'],
    why: { a: /device class standard not in full/ },
  },
  {
    name: 'dead and suspect nodes are not feasible',
    spec: spec(),
    nodes: [node('a', { status: 'dead' }), node('b', { status: 'suspect' }), node('c')],
    want: 3,
    chosen: ['c'],
    why: { a: /not alive \(dead\)/, b: /not alive \(suspect\)/ },
  },
  {
    name: 'mains before battery, whatever the load',
    spec: spec(),
    nodes: [node('a', { ...bat(90), tasks: 0 }), node('b', { tasks: 5 })],
    want: 1,
    chosen: ['b'],
  },
  {
    name: 'battery above the low threshold before a low one (energy any)',
    spec: spec(),
    nodes: [node('a', bat(20, 'low_power')), node('b', bat(60))],
    want: 2,
    chosen: ['b', 'a'],
  },
  {
    name: 'critical battery runs nothing',
    spec: spec(),
    nodes: [node('a', bat(5, 'critical'))],
    want: 1,
    chosen: [],
    why: { a: /battery critical \(5%\)/ },
  },
  {
    name: 'prefer-mains: low battery excluded, good battery allowed',
    spec: spec({ energy: 'prefer-mains' }),
    nodes: [node('a', bat(20, 'low_power')), node('b', bat(80))],
    want: 2,
    chosen: ['b'],
    why: { a: /battery low \(20%\); task prefers mains/ },
  },
  {
    name: 'mains-only excludes every battery node',
    spec: spec({ energy: 'mains-only' }),
    nodes: [node('a', bat(99)), node('b')],
    want: 2,
    chosen: ['b'],
    why: { a: /on battery \(99%\); task is mains-only/ },
  },
  {
    name: 'power budget headroom',
    spec: spec({ power_w: 3 }),
    nodes: [node('a', { budgetW: 5, powerW: 2.5 }), node('b', { budgetW: 10, powerW: 2 })],
    want: 2,
    chosen: ['b'],
    why: { a: /power: needs 3 W, headroom 2.5 W of 5 W/ },
  },
  {
    name: 'more headroom ranks first among mains nodes',
    spec: spec({ power_w: 1 }),
    nodes: [node('a', { budgetW: 5 }), node('b', { budgetW: 20 })],
    want: 1,
    chosen: ['b'],
  },
  {
    name: 'then by load, then by name',
    spec: spec(),
    nodes: [node('c', { tasks: 1 }), node('b', { tasks: 0 }), node('a', { tasks: 1 })],
    want: 3,
    chosen: ['b', 'a', 'c'],
  },
  {
    name: 'replicas spread: nodes holding one are skipped',
    spec: spec({ count: 2 }),
    nodes: [node('a'), node('b')],
    want: 2,
    holding: ['id-a'],
    chosen: ['b'],
    why: { a: /already runs a replica/ },
  },
  {
    name: 'draining node takes nothing',
    spec: spec(),
    nodes: [node('a', { draining: true }), node('b', { tasks: 3 })],
    want: 1,
    chosen: ['b'],
    why: { a: /draining/ },
  },
];

describe('place', () => {
  for (const r of rows) {
    it(r.name, () => {
      const out = place(r.spec, r.nodes, r.want, T, new Set(r.holding ?? []));
      expect(out.chosen).toEqual(r.chosen.map((n) => `id-${n}`));
      for (const [n, re] of Object.entries(r.why ?? {})) {
        const e = out.nodes.find((x) => x.name === n);
        expect(e?.feasible).toBe(false);
        expect(e?.reasons.join('; ')).toMatch(re);
      }
      // Every node is explained, chosen ones marked.
      expect(out.nodes.map((x) => x.name).sort()).toEqual(r.nodes.map((x) => x.name).sort());
      expect(out.nodes.filter((x) => x.chosen).map((x) => x.id)).toEqual(out.chosen);
    });
  }

  it('is deterministic: input order does not change the choice or the explanation', () => {
    const ns = [
      node('a', bat(50)),
      node('b', { tasks: 2 }),
      node('c'),
      node('d', { deviceClass: 'minimal' }),
    ];
    const s = spec({ count: 2 });
    const one = place(s, ns, 2, T);
    const two = place(s, [...ns].reverse(), 2, T);
    expect(two).toEqual(one);
    expect(one.chosen).toEqual(['id-c', 'id-b']);
  });
});
