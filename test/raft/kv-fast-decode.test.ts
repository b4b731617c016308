/**
 * A restart is on the path to the first read: the snapshot image (with
 * leases, version 2) and the replayed commands are read without
 * @msgpack/msgpack's general decoder, which this file counts.
 */
import * as msgpack from '@msgpack/msgpack';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { KvStateMachine, decodeCommand, encodeCommand, type KvCommand } from '../../src/raft/kv.js';
import { readMsgpackValue } from '../../src/raft/kv-snapshot-reader.js';
import { EntryType, type Entry } from '../../src/raft/types.js';

vi.mock('@msgpack/msgpack', async (importOriginal) => {
  const orig = await importOriginal<typeof import('@msgpack/msgpack')>();
  return { ...orig, decode: vi.fn(orig.decode) };
});

const decodeCalls = (): number => vi.mocked(msgpack.decode).mock.calls.length;

const entry = (index: number, cmd: KvCommand): Entry => ({
  index,
  term: 1,
  type: EntryType.Normal,
  data: encodeCommand(cmd),
});

beforeEach(() => {
  vi.mocked(msgpack.decode).mockClear();
});

describe('replayed commands', () => {
  it('decode without the general decoder, to what it returns', () => {
    const cmds: KvCommand[] = [
      { op: 'put', key: 'a', value: 'x'.repeat(64), requestId: 'r1' },
      { op: 'put', key: 'b', value: { n: [1, -2, 3.5, null, true] }, lease: 7 },
      { op: 'delete', key: 'a' },
      { op: 'cas', key: 'b', expected: 1, value: 2, createIfMissing: true },
      { op: 'cas_rev', key: 'c', expectedRevision: 4, value: 'v' },
      { op: 'lease_grant', ttlMs: 5000, now: 1_700_000_000_000 },
      { op: 'lease_keepalive', id: 9, now: 1_700_000_000_001 },
    ];
    const fast = cmds.map((c) => decodeCommand(encodeCommand(c)));
    expect(decodeCalls()).toBe(0);
    expect(fast).toEqual(cmds.map((c) => decodeCommand(msgpack.encode(msgpack.decode(encodeCommand(c))))));
    for (const c of cmds)
      expect(readMsgpackValue(encodeCommand(c))).toEqual(msgpack.decode(encodeCommand(c)));
  });

  it('fall back to the general decoder outside the subset, with its verdict', () => {
    expect(readMsgpackValue(msgpack.encode({ op: 'put', key: 'k', value: new Uint8Array([1]) }))).toBe(
      undefined,
    );
    expect(readMsgpackValue(Uint8Array.of(0xa1, 0x61, 0xc0))).toBe(undefined); // trailing byte
    expect(readMsgpackValue(Uint8Array.of(0xa5, 0x61))).toBe(undefined); // truncated
    expect(decodeCommand(Uint8Array.of(0xa5, 0x61))).toHaveProperty('error');
    expect(decodeCalls()).toBe(1);
    expect(decodeCommand(Uint8Array.of(0x93, 1, 2, 3))).toEqual({ error: 'command is not a map' });
  });

  it('apply 1,000 puts to the same state without the general decoder', () => {
    const kv = new KvStateMachine();
    for (let i = 1; i <= 1000; i++) kv.apply(entry(i, { op: 'put', key: `k${i % 10}`, value: i }));
    expect(decodeCalls()).toBe(0);
    expect(kv.get('k3')?.value).toBe(993);
    expect(kv.revision).toBe(1000);
  });
});

describe('a version 2 snapshot image (leases)', () => {
  it('restores without the general decoder, leases and key bindings included', () => {
    const kv = new KvStateMachine();
    let i = 0;
    kv.apply(entry(++i, { op: 'lease_grant', ttlMs: 10_000, now: 5 }));
    const lease = i;
    for (let k = 0; k < 50; k++) kv.apply(entry(++i, { op: 'put', key: `k${k}`, value: { k }, lease }));
    for (let k = 50; k < 100; k++) kv.apply(entry(++i, { op: 'put', key: `k${k}`, value: 'v' }));
    const image = kv.snapshot();
    vi.mocked(msgpack.decode).mockClear();
    const copy = new KvStateMachine();
    copy.restore(image);
    expect(decodeCalls()).toBe(0);
    expect(copy.snapshot()).toEqual(image);
    expect(copy.leaseCount).toBe(1);
    expect(copy.appliedIndex).toBe(kv.appliedIndex);
    // The bindings came back: revoking the lease deletes its 50 keys and only those.
    const r = copy.apply(entry(++i, { op: 'lease_revoke', id: lease }));
    expect(r.ok && 'deleted' in r ? r.deleted.length : -1).toBe(50);
    expect(copy.size).toBe(50);
  });

  it('still rejects a bad lease row', () => {
    const image = msgpack.encode({ v: 2, appliedIndex: 1, revision: 1, kvs: [], leases: [[1, 2]] });
    expect(() => new KvStateMachine().restore(image)).toThrow(/lease row/);
  });
});
