import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { KvStateMachine, encodeCommand, type JsonValue } from '../../src/raft/kv.js';
import { readSnapshotImage } from '../../src/raft/kv-snapshot-reader.js';
import { EntryType, type Entry } from '../../src/raft/types.js';

type Row = [string, JsonValue, number, number, number];

function rowsOf(data: Uint8Array): { head: ReturnType<typeof readSnapshotImage>; rows: Row[] } {
  const rows: Row[] = [];
  const head = readSnapshotImage(data, (...r) => rows.push(r));
  return { head, rows };
}

const put = (index: number, key: string, value: JsonValue): Entry => ({
  index,
  term: 1,
  type: EntryType.Normal,
  data: encodeCommand({ op: 'put', key, value }),
});

describe('readSnapshotImage', () => {
  it('reads what decode() reads, for every JSON value type and msgpack integer width', () => {
    const values: JsonValue[] = [
      null,
      true,
      false,
      0,
      127,
      128,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 53 - 1,
      -1,
      -32,
      -33,
      -128,
      -129,
      -32768,
      -32769,
      -(2 ** 31),
      -(2 ** 31) - 1,
      -(2 ** 53) + 1,
      1.5,
      -0.25,
      1e300,
      '',
      'x'.repeat(31),
      'x'.repeat(32),
      'é'.repeat(200),
      'y'.repeat(70_000),
      '\u{1F600} emoji',
      [],
      [1, 'a', null, [true, { b: 2 }]],
      {},
      { a: 1, nested: { list: [1, 2, 3], s: 'z' } },
      Array.from({ length: 20 }, (_, i) => i),
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
    ];
    const kvs: Row[] = values.map((v, i) => [`key-${i}`, v, i + 1, 2 ** 32 + i, i % 3]);
    const image = encode({ v: 1, appliedIndex: 2 ** 40, revision: 77, kvs });
    const { head, rows } = rowsOf(image);
    const expected = decode(image) as { kvs: Row[]; appliedIndex: number; revision: number };
    expect(head).toEqual({ v: 1, appliedIndex: expected.appliedIndex, revision: 77, rows: kvs.length });
    expect(rows).toEqual(expected.kvs);
  });

  it('reads the image KvStateMachine writes, across array header sizes', () => {
    for (const n of [0, 15, 16, 70_000]) {
      const kv = new KvStateMachine();
      for (let i = 1; i <= n; i++) kv.apply(put(i, `k${i}`, i % 2 === 0 ? 'v'.repeat(64) : { n: i }));
      const image = kv.snapshot();
      const { head, rows } = rowsOf(image);
      expect(head?.rows).toBe(n);
      expect(rows).toEqual((decode(image) as { kvs: Row[] }).kvs);
    }
  });

  it('returns null outside its subset, so the general decoder decides', () => {
    const bad: Uint8Array[] = [
      encode([1, 2]), // not a map
      encode({ v: 1, appliedIndex: 1, revision: 1, kvs: [['k', new Uint8Array([1]), 1, 1, 1]] }), // bin value
      encode({ v: 1, appliedIndex: 1, revision: 1, kvs: [['k', 'v', 1, 1]] }), // a row of 4
      encode({ v: 1, appliedIndex: 1, revision: 1, kvs: 'no' }),
      encode({ v: 1, appliedIndex: 1, revision: 1, kvs: [['k', 'v', 'x', 1, 1]] }), // a revision that is a string
      encode({ v: 1, appliedIndex: 1, revision: 1, kvs: [] }).subarray(0, 10), // truncated
      Buffer.concat([encode({ v: 1, appliedIndex: 1, revision: 1, kvs: [] }), Uint8Array.of(0xc0)]), // trailing
      Buffer.concat([Uint8Array.of(0x81, 0xa9), Buffer.from('__proto__'), Uint8Array.of(0x01)]),
    ];
    for (const b of bad) expect(rowsOf(b).head).toBeNull();
  });
});

describe('KvStateMachine.restore', () => {
  it('restores through the reader the same state as through decode()', () => {
    const kv = new KvStateMachine();
    for (let i = 1; i <= 500; i++) kv.apply(put(i, `k${i % 300}`, i % 3 === 0 ? [i, { x: 'y' }] : `v${i}`));
    const copy = new KvStateMachine();
    copy.restore(kv.snapshot());
    expect(copy.snapshot()).toEqual(kv.snapshot());
    expect(copy.appliedIndex).toBe(500);
    expect(copy.revision).toBe(kv.revision);
    expect(copy.size).toBe(300);
    expect(copy.get('k7')).toEqual(kv.get('k7'));
  });

  it('still restores an image outside the subset (bin value) through decode(), and rejects a bad one untouched', () => {
    const image = encode({
      v: 1,
      appliedIndex: 3,
      revision: 3,
      kvs: [['k', new Uint8Array([1, 2]), 1, 3, 1]],
    });
    const kv = new KvStateMachine();
    kv.restore(image);
    expect(kv.appliedIndex).toBe(3);
    expect(kv.get('k')?.value).toEqual(new Uint8Array([1, 2]));
    expect(() => kv.restore(encode({ v: 2 }))).toThrow();
    expect(kv.appliedIndex).toBe(3);
  });
});
