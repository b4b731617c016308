import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import {
  KvStateMachine,
  decodeCommand,
  encodeCommand,
  encodeSnapshotParts,
  jsonEqual,
  type JsonValue,
  type KvCommand,
  type KvResult,
} from '../../src/raft/kv.js';
import { EntryType, type Entry } from '../../src/raft/types.js';

let idx = 0;
function entry(cmd: KvCommand | Uint8Array, type: EntryType = EntryType.Normal): Entry {
  idx += 1;
  return { index: idx, term: 1, type, data: cmd instanceof Uint8Array ? cmd : encodeCommand(cmd) };
}

function run(kv: KvStateMachine, cmd: KvCommand): KvResult {
  return kv.apply(entry(cmd));
}

describe('KvStateMachine', () => {
  it('put/get/delete with per-key and global revisions', () => {
    idx = 0;
    const kv = new KvStateMachine();
    const p1 = run(kv, { op: 'put', key: 'k', value: 'v1' });
    expect(p1).toMatchObject({ ok: true, op: 'put', revision: 1, prev: null });
    const p2 = run(kv, { op: 'put', key: 'k', value: 'v2' });
    expect(p2).toMatchObject({
      ok: true,
      revision: 2,
      record: { value: 'v2', createRevision: 1, modRevision: 2, version: 2 },
    });
    run(kv, { op: 'put', key: 'other', value: [1, { a: null }] });
    expect(run(kv, { op: 'get', key: 'k' })).toMatchObject({
      ok: true,
      record: { value: 'v2' },
      revision: 3,
    });
    expect(run(kv, { op: 'delete', key: 'k' })).toMatchObject({
      ok: true,
      record: null,
      prev: { value: 'v2' },
      revision: 4,
    });
    expect(kv.get('k')).toBeNull();
    // Deleting a missing key is not a mutation.
    expect(run(kv, { op: 'delete', key: 'k' })).toMatchObject({ ok: true, revision: 4 });
    // Re-creating starts a new key lifetime.
    expect(run(kv, { op: 'put', key: 'k', value: 0 })).toMatchObject({
      record: { createRevision: 5, modRevision: 5, version: 1 },
    });
    expect(kv.appliedIndex).toBe(idx);
  });

  it('cas by value: succeeds on deep equality, fails with mismatch or not_found', () => {
    idx = 0;
    const kv = new KvStateMachine();
    expect(run(kv, { op: 'cas', key: 'k', expected: 1, value: 2 })).toMatchObject({
      ok: false,
      error: 'not_found',
    });
    expect(run(kv, { op: 'cas', key: 'k', expected: 1, value: 2, createIfMissing: true })).toMatchObject({
      ok: true,
    });
    expect(run(kv, { op: 'cas', key: 'k', expected: 1, value: 3 })).toMatchObject({
      ok: false,
      error: 'mismatch',
      current: { value: 2 },
    });
    run(kv, { op: 'put', key: 'o', value: { a: 1, b: [1, 2] } });
    expect(run(kv, { op: 'cas', key: 'o', expected: { b: [1, 2], a: 1 }, value: 'done' })).toMatchObject({
      ok: true,
    });
    expect(kv.get('o')?.value).toBe('done');
  });

  it('cas by revision: succeeds only at the expected modRevision (0 = absent)', () => {
    idx = 0;
    const kv = new KvStateMachine();
    expect(run(kv, { op: 'cas_rev', key: 'k', expectedRevision: 0, value: 'new' })).toMatchObject({
      ok: true,
    });
    const rev = kv.get('k')!.modRevision;
    expect(run(kv, { op: 'cas_rev', key: 'k', expectedRevision: 0, value: 'x' })).toMatchObject({
      error: 'mismatch',
    });
    expect(run(kv, { op: 'cas_rev', key: 'k', expectedRevision: rev + 1, value: 'x' })).toMatchObject({
      error: 'mismatch',
    });
    expect(run(kv, { op: 'cas_rev', key: 'k', expectedRevision: rev, value: 'x' })).toMatchObject({
      ok: true,
    });
    expect(run(kv, { op: 'cas_rev', key: 'missing', expectedRevision: 3, value: 'x' })).toMatchObject({
      error: 'not_found',
    });
  });

  it('no-op and conf change entries advance the applied index without changing state', () => {
    idx = 0;
    const kv = new KvStateMachine();
    expect(kv.apply(entry(new Uint8Array(0)))).toMatchObject({ ok: true, op: 'noop' });
    expect(kv.apply(entry(new Uint8Array([1, 2]), EntryType.ConfChange))).toMatchObject({ op: 'noop' });
    expect(kv.appliedIndex).toBe(2);
    expect(kv.revision).toBe(0);
  });

  it('malformed commands yield a deterministic error result, not an exception', () => {
    idx = 0;
    const kv = new KvStateMachine();
    expect(kv.apply(entry(new Uint8Array([0xc1])))).toMatchObject({ ok: false, error: 'bad_command' });
    expect(kv.apply(entry(encode({ op: 'put', key: 1, value: 2 })))).toMatchObject({ error: 'bad_command' });
    expect(kv.apply(entry(encode({ op: 'zap', key: 'k' })))).toMatchObject({ error: 'bad_command' });
    expect(kv.revision).toBe(0);
  });

  it('rejects applying an entry twice or out of order', () => {
    const kv = new KvStateMachine();
    kv.apply({ index: 5, term: 1, type: EntryType.Normal, data: new Uint8Array(0) });
    expect(() => kv.apply({ index: 5, term: 1, type: EntryType.Normal, data: new Uint8Array(0) })).toThrow();
  });

  it('echoes requestId and round-trips commands', () => {
    const cmd: KvCommand = {
      op: 'cas',
      key: 'k',
      expected: null,
      value: { z: true },
      createIfMissing: true,
      requestId: 'r9',
    };
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    const kv = new KvStateMachine();
    expect(kv.apply({ index: 1, term: 1, type: 0, data: encodeCommand(cmd) })).toMatchObject({
      requestId: 'r9',
    });
  });

  it('replicas applying the same log agree byte for byte', () => {
    const log: Entry[] = [];
    let seed = 17;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 1; i <= 300; i++) {
      const key = `k${rnd(8)}`;
      const ops: KvCommand[] = [
        { op: 'put', key, value: rnd(5) },
        { op: 'delete', key },
        { op: 'cas', key, expected: rnd(5), value: rnd(5) },
        { op: 'cas_rev', key, expectedRevision: rnd(20), value: 'r' },
        { op: 'get', key },
      ];
      log.push({ index: i, term: 1, type: 0, data: encodeCommand(ops[rnd(ops.length)]!) });
    }
    const a = new KvStateMachine();
    const b = new KvStateMachine();
    const ra = log.map((e) => a.apply(e));
    // b restores a mid-way snapshot of a third replica, then applies the rest.
    const c = new KvStateMachine();
    for (const e of log.slice(0, 150)) c.apply(e);
    b.restore(c.snapshot());
    const rb = log.slice(150).map((e) => b.apply(e));
    expect(rb).toEqual(ra.slice(150));
    expect(b.snapshot()).toEqual(a.snapshot());
  });

  it('jsonEqual compares structurally', () => {
    expect(jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });

  it('rejects malformed snapshot images', () => {
    expect(() => new KvStateMachine().restore(encode({ v: 2 }))).toThrow();
  });

  it('a snapshot encoded in parts is byte for byte the one-piece msgpack image, across array header sizes', () => {
    for (const n of [0, 1, 15, 16, 999, 70_000]) {
      idx = 0;
      const kv = new KvStateMachine();
      const odd: JsonValue[] = [
        null,
        true,
        false,
        -1,
        -200,
        1.5,
        2 ** 40,
        127,
        128,
        255,
        256,
        65_535,
        65_536,
        2 ** 32 - 1,
        'é🙂',
        'x'.repeat(31),
        'x'.repeat(32),
        'y'.repeat(255),
        'y'.repeat(256),
        [1, 'a', { b: null }],
      ];
      for (let i = 0; i < n; i++) {
        const value: JsonValue =
          i === 4
            ? 'z'.repeat(70_000)
            : i % 3 === 0
              ? { n: i, s: 'x' }
              : i % 3 === 1
                ? odd[i % odd.length]!
                : `v${i}`;
        run(kv, { op: 'put', key: i % 7 === 0 ? `ключ-${i}-${'k'.repeat(i % 40)}` : `k${i}`, value });
      }
      const view = kv.capture();
      const whole = encode({
        v: 1,
        appliedIndex: view.appliedIndex,
        revision: view.revision,
        kvs: view.keys.map((k, i) => {
          const r = view.records[i]!;
          return [k, r.value, r.createRevision, r.modRevision, r.version];
        }),
      });
      for (const per of [1, 7, 1000]) {
        if (n === 70_000 && per !== 1000) continue;
        expect(Buffer.concat([...encodeSnapshotParts(view, per)]).equals(Buffer.from(whole))).toBe(true);
      }
      const copy = new KvStateMachine();
      copy.restore(kv.snapshot());
      expect(copy.snapshot()).toEqual(kv.snapshot());
      expect(copy.keys()).toHaveLength(n);
    }
  });

  it('a captured view does not change while applying goes on', () => {
    idx = 0;
    const kv = new KvStateMachine();
    run(kv, { op: 'put', key: 'a', value: 1 });
    const view = kv.capture();
    const before = Buffer.concat([...encodeSnapshotParts(view)]);
    run(kv, { op: 'put', key: 'a', value: 2 });
    run(kv, { op: 'put', key: 'b', value: 3 });
    expect(Buffer.concat([...encodeSnapshotParts(view)]).equals(before)).toBe(true);
    const restored = new KvStateMachine();
    restored.restore(before);
    expect(restored.keys()).toEqual(['a']);
    expect(restored.get('a')?.value).toBe(1);
  });
});
