/**
 * Every message the gossip core emits in a busy simulated run (joins, crashes,
 * leaves, metadata, events, push-pull with split digests) must survive the
 * wire codec of src/net unchanged and fit a datagram once encoded.
 */
import { describe, expect, it } from 'vitest';
import type { GossipMessage } from '../../src/gossip/messages.js';
import { MAX_PACKET_BYTES } from '../../src/gossip/messages.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { GossipSim } from '../../src/sim/gossip/driver.js';

describe('gossip core <-> wire codec', () => {
  it('round-trips every emitted message within the packet limit', () => {
    const failures: string[] = [];
    const seenTypes = new Set<string>();
    let largest = 0;
    const sizeOf = (msg: GossipMessage): number => {
      seenTypes.add(msg.type);
      let bytes: Uint8Array;
      try {
        bytes = gossipCodec.encode(msg);
      } catch (err) {
        if (failures.length < 5)
          failures.push(`${msg.type}: ${err instanceof Error ? err.message : String(err)}`);
        return 0;
      }
      largest = Math.max(largest, bytes.byteLength);
      const back = gossipCodec.decode(bytes);
      if (!back.ok) {
        if (failures.length < 5) failures.push(`${msg.type}: decode ${back.reason}`);
      } else if (JSON.stringify(back.msg) !== JSON.stringify(msg)) {
        // Field order may differ; compare canonically.
        const canon = (m: unknown): string => JSON.stringify(m, (_k, v: unknown) => sortKeys(v));
        if (canon(back.msg) !== canon(msg) && failures.length < 5)
          failures.push(`${msg.type}: changed in transit`);
      }
      return bytes.byteLength;
    };
    const sim = new GossipSim({
      seed: 31,
      link: { latencyMs: 5, jitterMs: 5, loss: 0.05, duplicate: 0 },
      config: { antiEntropyIntervalMs: 1000 },
      sizeOf,
    });
    const ids = sim.bootstrap(50);
    sim.addNode('joiner', { seeds: ['n0'] });
    sim.run(1000);
    for (let i = 0; i < 30; i++) {
      sim.with(ids[i]!, (c, now) =>
        c.updateMeta(
          {
            api: `10.0.0.${i}:8080`,
            raft: 'follower',
            battery: 50.5,
            powerW: 3,
            rating: 'B',
            tags: { z: 'a' },
          },
          now,
        ),
      );
    }
    for (let i = 0; i < 150; i++) sim.broadcast(ids[i % 50]!, new Uint8Array(i % 64));
    sim.kill('n7');
    sim.leave('n9');
    sim.run(20_000);
    expect(failures).toEqual([]);
    expect(largest).toBeLessThanOrEqual(MAX_PACKET_BYTES);
    for (const t of [
      'ping',
      'ack',
      'ping-req',
      'gossip',
      'pp-digest',
      'pp-request',
      'pp-response',
      'ev-push',
      'ihave',
      'leave',
    ]) {
      expect(seenTypes).toContain(t);
    }
  });
});

function sortKeys(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return v;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}
