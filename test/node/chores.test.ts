/**
 * Chores (src/node/chores.ts): periodic work that rides the gossip
 * component's wake-ups, with a deadline so that it never starves on a
 * silent node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/index.js';
import { ChoreSet, type Chore } from '../../src/node/chores.js';
import { GossipComponent } from '../../src/node/gossip-component.js';
import { SwarmNode } from '../../src/node/node.js';

let root: string;
const running: SwarmNode[] = [];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-chores-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop()));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function chore(dueAt: number, slack: number, runs: number[]): Chore & { at: number } {
  const c = {
    name: 'test',
    at: dueAt,
    due: () => c.at,
    slackMs: () => slack,
    run: (now: number) => {
      runs.push(now);
      c.at = Infinity;
    },
  };
  return c;
}

describe('ChoreSet', () => {
  it('runs what is due, and names the latest wake-up that keeps every chore within its slack', () => {
    const set = new ChoreSet();
    const runs: number[] = [];
    const a = chore(100, 50, runs);
    const b = chore(120, 10, runs);
    set.add(a);
    const removeB = set.add(b);
    expect(set.deadline()).toBe(130);
    set.runDue(99, () => undefined);
    expect(runs).toEqual([]);
    set.runDue(110, () => undefined);
    expect(runs).toEqual([110]);
    expect(set.deadline()).toBe(130);
    removeB();
    expect(set.deadline()).toBe(Infinity);
  });

  it('a chore that throws does not stop the others', () => {
    const set = new ChoreSet();
    const runs: number[] = [];
    const errors: string[] = [];
    set.add({
      name: 'bad',
      due: () => 0,
      slackMs: () => 0,
      run: () => {
        throw new Error('boom');
      },
    });
    set.add(chore(0, 0, runs));
    set.runDue(5, (c) => errors.push(c.name));
    expect(errors).toEqual(['bad']);
    expect(runs).toEqual([5]);
  });
  it('a chore may add and remove chores while it runs: nothing skipped, nothing run twice, none run after removal', () => {
    const set = new ChoreSet();
    const order: string[] = [];
    const removers = new Map<string, () => void>();
    const mk = (name: string, body: () => void = () => undefined): Chore => ({
      name,
      due: () => 0,
      slackMs: () => 0,
      run: () => {
        order.push(name);
        body();
      },
    });
    const late = mk('late');
    // `a` removes itself (shifting nothing), `b` removes `c` before its turn and adds `late`.
    removers.set('a', set.add(mk('a', () => removers.get('a')!())));
    removers.set(
      'b',
      set.add(
        mk('b', () => {
          removers.get('c')!();
          removers.set('late', set.add(late));
        }),
      ),
    );
    removers.set('c', set.add(mk('c')));
    removers.set('d', set.add(mk('d')));
    set.runDue(1, () => undefined);
    // `c` was removed before its turn; `late` joined during the run and waits for the next wake-up.
    expect(order).toEqual(['a', 'b', 'd']);
    expect(set.size).toBe(3);
    order.length = 0;
    set.runDue(2, () => undefined);
    expect(order).toEqual(['b', 'd', 'late']);
    removers.get('late')!();
    removers.get('late')!();
    expect(set.size).toBe(2);
  });

  it('a chore added twice runs once per wake-up', () => {
    const set = new ChoreSet();
    const runs: number[] = [];
    const c = chore(0, 0, runs);
    set.add(c);
    set.add(c);
    set.runDue(3, () => undefined);
    expect(runs).toEqual([3]);
  });
});

describe('GossipComponent as a chore host', () => {
  it('a lone node (no packets, no probes) still wakes for a chore within its slack', async () => {
    const c = defaultConfig();
    c.node.name = 'lone';
    c.node.data_dir = mkdtempSync(join(root, 'lone-'));
    c.network.bind_address = '127.0.0.1';
    c.network.gossip_port = 0;
    c.network.multicast_enabled = false;
    const node = new SwarmNode(c);
    const gossip = new GossipComponent();
    node.register(gossip);
    await node.start();
    running.push(node);
    const runs: number[] = [];
    const due = performance.now() + 200;
    gossip.addChore(chore(due, 100, runs));
    const end = Date.now() + 10_000;
    while (runs.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(runs).toHaveLength(1);
    expect(runs[0]!).toBeGreaterThanOrEqual(due);
  });
});
