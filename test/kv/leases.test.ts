/**
 * The lease part of the replicated state machine, and the leader's expiry
 * rule: deterministic (time only from the commands), revisions of lease
 * deletes, the expire-vs-keep-alive race, snapshots with and without leases.
 */
import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import type { KvEvent } from '../../src/kv/types.js';
import { KvStateMachine, encodeCommand, type KvCommand, type KvResult } from '../../src/raft/kv.js';
import { EntryType } from '../../src/raft/types.js';
import { leaseDeadline } from '../../src/node/lease-keeper.js';

function machine(): { kv: KvStateMachine; run: (c: KvCommand) => KvResult; events: KvEvent[] } {
  const kv = new KvStateMachine();
  const events: KvEvent[] = [];
  kv.setEventSink((e) => events.push(e));
  let idx = 0;
  const run = (cmd: KvCommand): KvResult =>
    kv.apply({ index: ++idx, term: 1, type: EntryType.Normal, data: encodeCommand(cmd) });
  return { kv, run, events };
}

function leaseId(r: KvResult): number {
  if (!r.ok || !('lease' in r) || r.lease === null) throw new Error(`no lease in ${JSON.stringify(r)}`);
  return r.lease.id;
}

describe('leases in the KV state machine', () => {
  it('grants with the entry index as id, binds keys, revokes them in key order at their own revisions', () => {
    const { kv, run, events } = machine();
    run({ op: 'put', key: 'plain', value: 1 });
    const id = leaseId(run({ op: 'lease_grant', ttlMs: 5000, now: 1000 }));
    expect(id).toBe(2);
    expect(kv.revision).toBe(1); // lease ops take no revision
    run({ op: 'put', key: 'b', value: 'x', lease: id });
    run({ op: 'put', key: 'a', value: 'y', lease: id });
    expect(kv.leaseOf('a')).toBe(id);
    expect([...kv.lease(id)!.keys].sort()).toEqual(['a', 'b']);
    const r = run({ op: 'lease_revoke', id });
    expect(r).toMatchObject({ ok: true, op: 'lease_revoke', lease: null, deleted: ['a', 'b'] });
    expect(kv.get('a')).toBeNull();
    expect(kv.get('plain')).not.toBeNull();
    expect(kv.lease(id)).toBeNull();
    expect(events.map((e) => [e.type, e.key, e.revision])).toEqual([
      ['put', 'plain', 1],
      ['put', 'b', 2],
      ['put', 'a', 3],
      ['delete', 'a', 4],
      ['delete', 'b', 5],
    ]);
  });

  it('refuses a put to an unknown lease without a revision; a plain put unbinds a key', () => {
    const { kv, run } = machine();
    expect(run({ op: 'put', key: 'k', value: 1, lease: 77 })).toMatchObject({
      ok: false,
      error: 'lease_not_found',
    });
    expect(kv.revision).toBe(0);
    const id = leaseId(run({ op: 'lease_grant', ttlMs: 1000, now: 0 }));
    run({ op: 'put', key: 'k', value: 1, lease: id });
    run({ op: 'put', key: 'k', value: 2 });
    expect(kv.leaseOf('k')).toBe(0);
    expect(run({ op: 'lease_revoke', id })).toMatchObject({ deleted: [] });
    expect(kv.get('k')?.value).toBe(2);
  });

  it('create-only put (cas_rev 0) with a lease: the lock and election primitive', () => {
    const { kv, run } = machine();
    const id = leaseId(run({ op: 'lease_grant', ttlMs: 1000, now: 0 }));
    expect(run({ op: 'cas_rev', key: 'l/1', expectedRevision: 0, value: 'a', lease: id })).toMatchObject({
      ok: true,
    });
    expect(run({ op: 'cas_rev', key: 'l/1', expectedRevision: 0, value: 'b', lease: id })).toMatchObject({
      ok: false,
      error: 'mismatch',
    });
    expect(kv.get('l/1')?.value).toBe('a');
  });

  it('an expiry decided before a keep-alive that was applied first does nothing (the race)', () => {
    const { kv, run } = machine();
    const id = leaseId(run({ op: 'lease_grant', ttlMs: 1000, now: 100 }));
    run({ op: 'put', key: 'k', value: 1, lease: id });
    run({ op: 'lease_keepalive', id, now: 900 });
    expect(run({ op: 'lease_expire', id, refreshedAt: 100 })).toMatchObject({ ok: true, deleted: [] });
    expect(kv.get('k')).not.toBeNull();
    expect(run({ op: 'lease_expire', id, refreshedAt: 900 })).toMatchObject({ ok: true, deleted: ['k'] });
    expect(kv.get('k')).toBeNull();
    expect(run({ op: 'lease_keepalive', id, now: 1000 })).toMatchObject({
      ok: false,
      error: 'lease_not_found',
    });
  });

  it('keep-alive never moves refreshedAt backwards (a leader with a slower clock)', () => {
    const { kv, run } = machine();
    const id = leaseId(run({ op: 'lease_grant', ttlMs: 1000, now: 5000 }));
    run({ op: 'lease_keepalive', id, now: 4000 });
    expect(kv.lease(id)?.refreshedAt).toBe(5000);
  });

  it('rejects malformed lease commands identically on every replica (bad_command, no state change)', () => {
    const { kv } = machine();
    const bad = [
      { op: 'lease_grant', ttlMs: 10, now: 0 },
      { op: 'lease_grant', ttlMs: 5000 },
      { op: 'lease_keepalive', id: -1, now: 0 },
      { op: 'put', key: 'k', value: 1, lease: 'x' },
    ];
    bad.forEach((b, i) => {
      const r = kv.apply({ index: i + 1, term: 1, type: EntryType.Normal, data: encode(b) });
      expect(r).toMatchObject({ ok: false, error: 'bad_command' });
    });
    expect(kv.leaseCount).toBe(0);
    expect(kv.revision).toBe(0);
  });

  it('two replicas applying the same log agree, including after a snapshot with leases (version 2)', () => {
    const a = machine();
    const cmds: KvCommand[] = [
      { op: 'lease_grant', ttlMs: 3000, now: 10 },
      { op: 'put', key: 'x', value: 'v', lease: 1 },
      { op: 'put', key: 'y', value: { deep: [1] } },
      { op: 'lease_keepalive', id: 1, now: 50 },
    ];
    for (const c of cmds) a.run(c);
    const img = a.kv.snapshot();
    const b = new KvStateMachine();
    b.restore(img);
    expect(b.lease(1)).toEqual(a.kv.lease(1));
    expect(b.leaseOf('x')).toBe(1);
    expect(b.snapshot()).toEqual(img);
    // Ending the lease on the restored replica deletes the same keys.
    const r = b.apply({
      index: 5,
      term: 1,
      type: EntryType.Normal,
      data: encodeCommand({ op: 'lease_revoke', id: 1 }),
    });
    expect(r).toMatchObject({ deleted: ['x'] });
  });

  it('without leases the image is version 1, byte for byte what a node before leases wrote and reads', () => {
    const { kv, run } = machine();
    run({ op: 'put', key: 'k', value: 'v' });
    const img = kv.snapshot();
    const old = encode({ v: 1, appliedIndex: 1, revision: 1, kvs: [['k', 'v', 1, 1, 1]] });
    expect(Buffer.from(img).equals(Buffer.from(old))).toBe(true);
    const b = new KvStateMachine();
    b.restore(old);
    expect(b.get('k')?.value).toBe('v');
    expect(b.leaseCount).toBe(0);
  });

  it('refuses an image of an unknown version', () => {
    const b = new KvStateMachine();
    expect(() => b.restore(encode({ v: 3, appliedIndex: 1, revision: 1, kvs: [] }))).toThrow(/unknown shape/);
  });
});

describe('leader expiry rule', () => {
  const lease = { id: 1, ttlMs: 5000, refreshedAt: 10_000, keys: new Set<string>() };
  it('a steady leader expires ttl after the last keep-alive it stamped', () => {
    expect(leaseDeadline(lease, 0, 3000)).toBe(15_000);
  });
  it('a new leader gives every lease ttl plus one election timeout from its promotion', () => {
    expect(leaseDeadline(lease, 20_000, 3000)).toBe(28_000);
    // Even if the old leader's clock was far ahead, the lease never ends before its refresh + ttl.
    expect(leaseDeadline({ ...lease, refreshedAt: 40_000 }, 20_000, 3000)).toBe(45_000);
  });
});
