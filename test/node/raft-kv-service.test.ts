/**
 * RaftKvService's proposals over a stub core and applier: a write resolves when
 * its entry is applied, fails when another leader's entry replaced it, and is
 * bounded by the request timeout (outcome unknown, no longer awaited).
 */
import { describe, expect, it } from 'vitest';
import { NoQuorumError, NotLeaderError } from '../../src/node/raft-errors.js';
import { RaftKvService, type KvServiceHost } from '../../src/node/raft-kv-service.js';
import type { KvApplier, PendingProposal } from '../../src/raft/kv-applier.js';
import type { KvResult } from '../../src/raft/kv.js';
import type { RaftNode } from '../../src/raft/raft-node.js';

function setup(
  requestTimeoutMs = 1000,
  leads = true,
  opts: { stopping?: boolean; transferee?: string } = {},
) {
  const waiting = new Map<number, PendingProposal>();
  const cancelled: number[] = [];
  const counts = new Map<string, number>();
  let index = 0;
  let kicks = 0;
  const core = {
    isLeader: leads,
    leaderId: leads ? 'a' : 'b',
    propose: () => ({ ok: true as const, index: ++index, term: 3 }),
    status: () => ({ leadTransferee: opts.transferee ?? null }),
  } as unknown as RaftNode;
  const applier = {
    kv: { bytes: 0 },
    awaitApply: (i: number, p: PendingProposal) => waiting.set(i, p),
    cancelApply: (i: number) => {
      cancelled.push(i);
      return waiting.delete(i);
    },
  } as unknown as KvApplier;
  const host: KvServiceHost = {
    core: () => core,
    applier: () => applier,
    frozen: () => null,
    stopping: () => opts.stopping === true,
    quotaBytes: () => 0,
    requestTimeoutMs,
    metrics: {
      proposals: { inc: (l: { result: string }) => counts.set(l.result, (counts.get(l.result) ?? 0) + 1) },
      commitSeconds: { observe: () => undefined },
    } as unknown as KvServiceHost['metrics'],
    kick: () => void kicks++,
  };
  return { svc: new RaftKvService(host), waiting, cancelled, counts, kicks: () => kicks };
}

const applied = (i: number): KvResult =>
  ({ ok: true, op: 'put', index: i, revision: i, record: null, prev: null }) as unknown as KvResult;

describe('RaftKvService proposals', () => {
  it('a stopping node refuses not_leader (nothing proposed), naming the leader or the successor', async () => {
    // A no_quorum here became a 503 with an unknown outcome, though nothing was proposed (issue #16).
    const follower = setup(1000, false, { stopping: true });
    const e1 = await follower.svc.put('k', 1).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(NotLeaderError);
    expect(e1).toMatchObject({ leader: 'b', successor: null });
    const handing = setup(1000, true, { stopping: true, transferee: 'c' });
    const e2 = await handing.svc.delete('k').catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(NotLeaderError);
    expect(e2).toMatchObject({ leader: 'a', successor: 'c' });
    expect(handing.waiting.size).toBe(0);
    expect(handing.counts.get('rejected')).toBe(1);
  });

  it('a put resolves with its entry applied, and its timeout never fires afterwards', async () => {
    const t = setup(50);
    const p = t.svc.put('k', 1);
    expect(t.kicks()).toBe(1);
    t.waiting.get(1)!.applied(applied(1));
    await expect(p).resolves.toMatchObject({ ok: true, index: 1 });
    await new Promise((r) => setTimeout(r, 80));
    expect(t.cancelled).toEqual([]);
    expect(t.counts.get('applied')).toBe(1);
    expect(t.counts.get('failed')).toBeUndefined();
  });

  it('an entry not applied within the request timeout: no_quorum, outcome unknown, no longer awaited', async () => {
    const t = setup(30);
    const err = await t.svc.put('k', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoQuorumError);
    expect((err as Error).message).toMatch(/entry 1 not committed within 30 ms \(outcome unknown\)/);
    expect(t.cancelled).toEqual([1]);
    expect(t.waiting.size).toBe(0);
    expect(t.counts.get('failed')).toBe(1);
  });

  it('an entry replaced by another leader fails as not applied', async () => {
    const t = setup(1000);
    const p = t.svc.delete('k');
    t.waiting.get(1)!.superseded(1, 4);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoQuorumError);
    expect((err as Error).message).toMatch(/replaced in term 4 \(not applied\)/);
    expect(t.counts.get('failed')).toBe(1);
  });

  it('abandoned (the node stops) fails with its reason', async () => {
    const t = setup(1000);
    const p = t.svc.put('k', 1);
    t.waiting.get(1)!.abandoned('node stopping');
    await expect(p).rejects.toThrow(/node stopping/);
  });

  it('a follower refuses before proposing', async () => {
    const t = setup(1000, false);
    await expect(t.svc.put('k', 1)).rejects.toBeInstanceOf(NotLeaderError);
    expect(t.waiting.size).toBe(0);
    expect(t.counts.get('rejected')).toBe(1);
  });
});
