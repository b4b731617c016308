import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { LruSet } from '../../src/gossip/lru.js';
import type { GossipMessage, MemberRecord, MemberUpdate } from '../../src/gossip/messages.js';
import { MemberStatus } from '../../src/gossip/messages.js';
import { retransmitLimit, TransmitQueue } from '../../src/gossip/queue.js';
import { estimateSize } from '../../src/gossip/size.js';
import { suspicionTimeout } from '../../src/gossip/suspicion.js';
import { Awareness } from '../../src/gossip/awareness.js';

describe('LruSet', () => {
  it('evicts the least recently used key, not the oldest inserted', () => {
    const lru = new LruSet(3);
    lru.add('a');
    lru.add('b');
    lru.add('c');
    expect(lru.has('a')).toBe(true); // refreshes a
    lru.add('d'); // evicts b, the least recently used
    expect(lru.has('b')).toBe(false);
    expect(lru.has('a')).toBe(true);
    expect(lru.has('c')).toBe(true);
    expect(lru.has('d')).toBe(true);
    expect(lru.size).toBe(3);
  });
});

describe('TransmitQueue', () => {
  it('hands each item out at most `limit` times, least-sent first, and newer replaces older', () => {
    const q = new TransmitQueue<string>();
    q.enqueue('m1', 'old');
    q.enqueue('m1', 'new');
    q.enqueue('m2', 'x');
    expect(q.size).toBe(2);
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) seen.push(...q.take(1000, 3));
    expect(seen.filter((s) => s === 'new')).toHaveLength(3);
    expect(seen.filter((s) => s === 'x')).toHaveLength(3);
    expect(seen).not.toContain('old');
    expect(q.size).toBe(0);
  });

  it('respects the byte budget', () => {
    const q = new TransmitQueue<string>();
    for (let i = 0; i < 100; i++) q.enqueue(`k${i}`, 'y'.repeat(50));
    const got = q.take(500, 5);
    expect(got.length).toBeGreaterThan(0);
    expect(got.reduce((n, s) => n + estimateSize(s), 0)).toBeLessThanOrEqual(500);
  });

  it('scales the retransmit limit with log10 of the swarm size', () => {
    expect(retransmitLimit(4, 9)).toBe(4);
    expect(retransmitLimit(4, 25)).toBe(8);
    expect(retransmitLimit(4, 1000)).toBe(16);
  });
});

describe('Lifeguard timers', () => {
  it('suspicion timeout shrinks with confirmations from max to min', () => {
    const t = [0, 1, 2, 3, 9].map((c) => suspicionTimeout(c, 3, 1000, 6000));
    expect(t[0]).toBe(6000);
    expect(t[1]).toBeLessThan(t[0]!);
    expect(t[2]).toBeLessThan(t[1]!);
    expect(t[3]).toBe(1000);
    expect(t[4]).toBe(1000);
  });

  it('awareness scales timeouts and is clamped', () => {
    const a = new Awareness(8);
    expect(a.scale(500)).toBe(500);
    a.applyDelta(3);
    expect(a.scale(500)).toBe(2000);
    a.applyDelta(100);
    expect(a.health).toBe(7);
    a.applyDelta(-100);
    expect(a.health).toBe(0);
  });
});

describe('size estimate', () => {
  const rng = createRng(42);
  const str = (max: number): string =>
    Array.from({ length: rng.int(0, max) }, () =>
      String.fromCharCode(rng.int(0, 1) === 0 ? rng.int(32, 126) : rng.int(0x80, 0x7ff)),
    ).join('');
  const rec = (): MemberRecord => ({
    id: str(40),
    name: str(40),
    host: '10.0.0.1',
    port: rng.int(0, 65535),
    deviceClass: 'standard',
    incarnation: rng.int(0, 2 ** 32 - 1),
    status: MemberStatus.Suspect,
    meta: { api: str(30), battery: rng.next() * 100, powerW: rng.int(0, 300), tags: { a: str(10) } },
  });
  it('never underestimates the @msgpack/msgpack encoding', () => {
    for (let i = 0; i < 300; i++) {
      const updates: MemberUpdate[] = [
        { kind: 'alive', member: rec() },
        { kind: 'suspect', id: str(20), incarnation: rng.int(0, 1e6), from: str(20) },
        { kind: 'left', id: str(20), incarnation: rng.int(0, 300) },
      ];
      const msgs: GossipMessage[] = [
        { type: 'ping', from: str(30), seq: rng.int(0, 2 ** 32 - 1), target: str(30), updates },
        {
          type: 'gossip',
          from: str(30),
          updates,
          events: [
            {
              origin: str(20),
              seq: rng.int(1, 1e9),
              name: str(10),
              payload: new Uint8Array(rng.int(0, 300)),
            },
          ],
        },
        {
          type: 'pp-response',
          from: str(10),
          exchange: rng.int(0, 1e5),
          members: [rec(), rec()],
          events: [],
        },
      ];
      for (const m of msgs) expect(estimateSize(m)).toBeGreaterThanOrEqual(encode(m).byteLength);
    }
  });
});
