/**
 * `swarm maelstrom lin-kv` under a Maelstrom-like harness: real processes,
 * messages routed between their stdin/stdout, concurrent clients, a partition
 * nemesis, and the recorded history checked for linearizability per key.
 * Needs `npm run build` (the test spawns the compiled binary).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MaelstromHarness } from './harness.js';
import { runSwarm } from '../helpers/run-swarm.js';
import {
  checkLinearizable,
  describeLinearizability,
  type KvHistoryOp,
} from '../../src/sim/linearizability.js';
import { createRng } from '../../src/common/rng.js';
import { isDefinite, type MaelstromBody } from '../../src/maelstrom/protocol.js';

let harness: MaelstromHarness | null = null;
afterEach(async () => {
  await harness?.stop();
  harness = null;
});

async function waitForLeader(h: MaelstromHarness, deadlineMs: number): Promise<void> {
  const end = performance.now() + deadlineMs;
  while (performance.now() < end) {
    for (const n of h.nodeIds) {
      const r = await h.rpc('c99', n, { type: 'write', key: 'probe', value: 1 }, 1000);
      if (r.body?.type === 'write_ok') return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no leader within ${deadlineMs} ms\n${h.stderr}`);
}

describe('maelstrom lin-kv', () => {
  it('is listed under swarm maelstrom and rejects bad options', async () => {
    const help = await runSwarm(['maelstrom', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('lin-kv');
    const bad = await runSwarm(['maelstrom', 'lin-kv', '--tick-ms', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--tick-ms must be a positive number');
  });

  it('answers the protocol on a single node', async () => {
    harness = new MaelstromHarness({ nodes: 1, args: ['maelstrom', 'lin-kv'] });
    const h = harness;
    await h.start();
    await waitForLeader(h, 5000);
    const call = async (body: MaelstromBody) => (await h.rpc('c1', 'n1', body, 2000)).body;
    expect(await call({ type: 'read', key: 7 })).toMatchObject({ type: 'error', code: 20 });
    expect(await call({ type: 'cas', key: 7, from: 1, to: 2 })).toMatchObject({ type: 'error', code: 20 });
    expect(await call({ type: 'write', key: 7, value: 1 })).toMatchObject({ type: 'write_ok' });
    expect(await call({ type: 'cas', key: 7, from: 3, to: 4 })).toMatchObject({ type: 'error', code: 22 });
    expect(await call({ type: 'cas', key: 7, from: 1, to: 2 })).toMatchObject({ type: 'cas_ok' });
    expect(await call({ type: 'read', key: 7 })).toMatchObject({ type: 'read_ok', value: 2 });
    // Keys are JSON values: the string "7" is another key.
    expect(await call({ type: 'read', key: '7' })).toMatchObject({ type: 'error', code: 20 });
    expect(await call({ type: 'cas', key: 8, from: 0, to: 1, create_if_not_exists: true })).toMatchObject({
      type: 'cas_ok',
    });
    expect(await call({ type: 'txn', txn: [] })).toMatchObject({ type: 'error', code: 10 });
  });

  it('stays linearizable with 3 nodes, 5 clients and a partition nemesis', async () => {
    harness = new MaelstromHarness({ nodes: 3, args: ['maelstrom', 'lin-kv'], seed: 42, maxDelayMs: 3 });
    await harness.start();
    await waitForLeader(harness, 8000);
    const r = await workload(harness, { durationMs: 3500, nemesis: true, seed: 7 });
    expect(harness.stats.dropped).toBeGreaterThan(0);
    expect(r.okCount).toBeGreaterThan(20);
    expect(r.okAfterHeal).toBeGreaterThan(0);
    const res = checkLinearizable(r.history);
    expect(res.verdict, describeLinearizability(res)).toBe('ok');
  });

  it('the harness catches a node that serves stale local reads', async () => {
    harness = new MaelstromHarness({
      nodes: 3,
      args: ['maelstrom', 'lin-kv', '--unsafe-local-reads'],
      seed: 3,
      maxDelayMs: 3,
    });
    await harness.start();
    await waitForLeader(harness, 8000);
    const r = await workload(harness, { durationMs: 2500, nemesis: false, seed: 11 });
    expect(r.okCount).toBeGreaterThan(20);
    expect(checkLinearizable(r.history).verdict).toBe('violation');
  });
});

interface WorkloadResult {
  history: KvHistoryOp[];
  okCount: number;
  okAfterHeal: number;
}

/** Five clients doing reads, writes and cas on two keys against random nodes; optionally partitions twice. */
async function workload(
  h: MaelstromHarness,
  o: { durationMs: number; nemesis: boolean; seed: number },
): Promise<WorkloadResult> {
  const rng = createRng(o.seed);
  const history: KvHistoryOp[] = [];
  const t0 = performance.now();
  let okCount = 0;
  let okAfterHeal = 0;
  let healedAt = o.nemesis ? Number.POSITIVE_INFINITY : 0;

  const nemesis = async (): Promise<void> => {
    for (let round = 0; round < 2; round++) {
      await new Promise((r) => setTimeout(r, 700));
      const cut = h.nodeIds[rng.int(0, h.nodeIds.length - 1)]!;
      h.partition([[cut], h.nodeIds.filter((x) => x !== cut)]);
      await new Promise((r) => setTimeout(r, 800));
      h.heal();
    }
    healedAt = performance.now();
  };

  const client = async (c: number): Promise<void> => {
    const id = `c${c + 1}`;
    while (performance.now() - t0 < o.durationMs) {
      const key = `k${rng.int(0, 1)}`;
      const node = h.nodeIds[rng.int(0, h.nodeIds.length - 1)]!;
      const kind = rng.int(0, 2);
      const value = rng.int(0, 4);
      const from = rng.int(0, 4);
      const body: MaelstromBody =
        kind === 0
          ? { type: 'read', key }
          : kind === 1
            ? { type: 'write', key, value }
            : { type: 'cas', key, from, to: value };
      const call = performance.now();
      const r = (await h.rpc(id, node, body, 1500)).body;
      const ret = performance.now();
      const code = r?.type === 'error' ? (r.code as number) : null;
      // Unknown outcome: no answer, or an indefinite error (timeout, crash).
      const known = r !== null && (code === null || isDefinite(code));
      if (r !== null && code === null) {
        okCount++;
        if (call > healedAt) okAfterHeal++;
      }
      if (kind === 0) {
        if (r?.type === 'read_ok')
          history.push({ client: id, key, call, ret, op: { kind: 'read', value: r.value as number } });
        else if (code === 20) history.push({ client: id, key, call, ret, op: { kind: 'read', value: null } });
      } else if (code === 11) {
        // Definite: the operation did not happen.
        await new Promise((res) => setTimeout(res, 20));
      } else if (kind === 1) {
        history.push({ client: id, key, call, ret: known ? ret : null, op: { kind: 'write', value } });
      } else {
        const ok = r?.type === 'cas_ok';
        history.push({
          client: id,
          key,
          call,
          ret: known ? ret : null,
          op: { kind: 'cas', from, to: value, ok },
        });
      }
    }
  };
  await Promise.all([...(o.nemesis ? [nemesis()] : []), ...Array.from({ length: 5 }, (_, c) => client(c))]);
  // Progress after the last heal shows the cluster is live again.
  for (let i = 0; i < 20 && okAfterHeal === 0; i++) {
    const call = performance.now();
    const r = await h.rpc(
      'c9',
      h.nodeIds[i % h.nodeIds.length]!,
      { type: 'write', key: 'k0', value: 9 },
      1000,
    );
    if (r.body?.type === 'write_ok') {
      okAfterHeal++;
      history.push({
        client: 'c9',
        key: 'k0',
        call,
        ret: performance.now(),
        op: { kind: 'write', value: 9 },
      });
    } else if (r.body === null || r.body.type !== 'error' || !isDefinite(r.body.code as number)) {
      history.push({ client: 'c9', key: 'k0', call, ret: null, op: { kind: 'write', value: 9 } });
    }
  }
  return { history, okCount, okAfterHeal };
}
