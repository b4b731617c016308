/**
 * Issue #14 item 4, core side: a snapshot of any size streams in checksummed
 * chunks, is assembled by the follower in order (lost and duplicated chunks
 * resumed, a damaged image refetched) and installed only once verified.
 */
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/common/crc32.js';
import type { InstallSnapshotMsg, RaftMessage } from '../../src/raft/messages.js';
import type { RaftNode } from '../../src/raft/raft-node.js';
import { ackAppend, drain, makeLeader, mkNode, ofType } from './manual.js';

const CHUNK = 1000;

function image(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/** A leader 'a' of ['a','b'] holding a snapshot at index 3 of `size` bytes; b is behind it. */
function leaderWithSnapshot(size: number): { a: RaftNode; first: InstallSnapshotMsg } {
  const a = mkNode('a', ['a', 'b'], { preVote: false, snapshotChunkBytes: CHUNK });
  makeLeader(a);
  drain(a);
  const term = a.status().term;
  a.propose(new Uint8Array([1]), 1001);
  a.propose(new Uint8Array([2]), 1001);
  drain(a);
  a.step(ackAppend('b', 'a', term, 3), 1002);
  drain(a);
  const snap = a.createSnapshot(3, image(size));
  a.compact(snap);
  // b lost everything (a new disk): its rejection sends the leader below the snapshot.
  a.step(
    {
      type: 'append_entries_response',
      from: 'b',
      to: 'a',
      term,
      success: false,
      matchIndex: 0,
      rejectedIndex: 3,
      conflictTerm: 0,
      conflictIndex: 1,
      lastLogIndex: 0,
    },
    1003,
  );
  const first = ofType(drain(a).msgs, 'install_snapshot')[0]!;
  return { a, first };
}

function follower(): RaftNode {
  return mkNode('b', ['a', 'b'], { preVote: false });
}

/** Deliver `m` to `n`; return n's answers. */
function deliver(n: RaftNode, m: RaftMessage, now = 1010): RaftMessage[] {
  n.step(m, now);
  return drain(n).msgs;
}

describe('snapshot streaming in chunks (item 4)', () => {
  it('chunks carry at most snapshotChunkBytes each, with the image CRC and size', () => {
    const { first } = leaderWithSnapshot(3500);
    expect(first.offset).toBe(0);
    expect(first.data.byteLength).toBe(CHUNK);
    expect(first.totalBytes).toBe(3500);
    expect(first.crc).toBe(crc32(image(3500)));
  });

  it('the follower assembles the stream and installs the verified image', () => {
    const { a, first } = leaderWithSnapshot(3500);
    const b = follower();
    let msg: RaftMessage | undefined = first;
    let installed = false;
    for (let i = 0; i < 20 && msg; i++) {
      b.step(msg, 1010 + i);
      const { msgs, readies } = drain(b);
      for (const rd of readies)
        if (rd.snapshot) {
          installed = true;
          expect(Buffer.compare(rd.snapshot.data, image(3500))).toBe(0);
        }
      const resp = ofType(msgs, 'install_snapshot_response')[0]!;
      a.step(resp, 1010 + i);
      msg = ofType(drain(a).msgs, 'install_snapshot')[0];
    }
    expect(installed).toBe(true);
    expect(b.status().snapshotIndex).toBe(3);
    expect(a.status().progress?.b?.match).toBe(3);
  });

  it('a lost chunk is asked for again; a duplicate does not corrupt the image', () => {
    const { first } = leaderWithSnapshot(3000);
    const b = follower();
    const chunk = (offset: number): InstallSnapshotMsg => ({
      ...first,
      offset,
      data: image(3000).subarray(offset, offset + CHUNK),
    });
    let r = ofType(deliver(b, chunk(0)), 'install_snapshot_response')[0]!;
    expect(r).toMatchObject({ matchIndex: 0, snapshotIndex: 3, nextOffset: 1000 });
    // Chunk 1000 is lost; 2000 arrives: the follower names what it misses.
    r = ofType(deliver(b, chunk(2000)), 'install_snapshot_response')[0]!;
    expect(r).toMatchObject({ matchIndex: 0, nextOffset: 1000 });
    // A duplicate of chunk 0.
    r = ofType(deliver(b, chunk(0)), 'install_snapshot_response')[0]!;
    expect(r).toMatchObject({ matchIndex: 0, nextOffset: 1000 });
    r = ofType(deliver(b, chunk(1000)), 'install_snapshot_response')[0]!;
    expect(r.nextOffset).toBe(2000);
    const out = drain(b);
    expect(out.readies.some((rd) => rd.snapshot)).toBe(false);
    b.step(chunk(2000), 1020);
    const { msgs, readies } = drain(b);
    expect(ofType(msgs, 'install_snapshot_response')[0]!.matchIndex).toBe(3);
    const snap = readies.find((rd) => rd.snapshot)?.snapshot;
    expect(snap && Buffer.compare(snap.data, image(3000))).toBe(0);
  });

  it('a damaged image is never installed and is fetched again from the start', () => {
    const { first } = leaderWithSnapshot(2000);
    const b = follower();
    deliver(b, first);
    const bad = image(2000).slice(1000);
    bad[5] = bad[5]! ^ 0x10;
    const msgs = deliver(b, { ...first, offset: 1000, data: bad });
    const r = ofType(msgs, 'install_snapshot_response')[0]!;
    expect(r).toMatchObject({ matchIndex: 0, nextOffset: 0 });
    expect(b.status().snapshotIndex).toBe(0);
    // A stream that does not start at 0 is not picked up mid-way.
    const r2 = ofType(
      deliver(b, { ...first, offset: 1000, data: image(2000).subarray(1000) }),
      'install_snapshot_response',
    )[0]!;
    expect(r2).toMatchObject({ matchIndex: 0, nextOffset: 0 });
  });

  it('the leader resends the chunk at the acknowledged offset when an answer is lost', () => {
    const { a, first } = leaderWithSnapshot(3000);
    const term = a.status().term;
    a.step(
      {
        type: 'install_snapshot_response',
        from: 'b',
        to: 'a',
        term,
        matchIndex: 0,
        snapshotIndex: 3,
        nextOffset: 1000,
      },
      1010,
    );
    const second = ofType(drain(a).msgs, 'install_snapshot')[0]!;
    expect(second.offset).toBe(1000);
    expect(first.offset).toBe(0);
    // That chunk's answer is lost: after an election timeout a heartbeat answer triggers a resend of it.
    a.step({ type: 'heartbeat_response', from: 'b', to: 'a', term, readCtx: 0 }, 1010 + 400);
    const again = ofType(drain(a).msgs, 'install_snapshot');
    expect(again.map((m) => m.offset)).toEqual([1000]);
  });
});
