/**
 * Idle probe traffic (issue #16, "frugal node"): a direct ping names no target
 * (the ack names who answered, and only the probed member's ack counts), and a
 * member that just pinged us is not probed by us in that period.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { MemberStatus, type GossipMessage } from '../../src/gossip/messages.js';
import { GossipNode } from '../../src/gossip/node.js';
import { PROBE_SKIP_HEARD_PERIODS } from '../../src/gossip/probe.js';
import { sharedView } from '../../src/sim/gossip/driver.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { hearUpdates } from '../helpers/gossip-news.js';

const encodeGossip = (m: GossipMessage): Uint8Array => gossipCodec.encode(m);

function node(ids: string[], seed = 7): GossipNode {
  const n = new GossipNode({
    self: { id: ids[0]!, name: ids[0]!, host: ids[0]!, port: 0 },
    rng: createRng(seed),
    view: sharedView(ids),
  });
  n.tick(0);
  n.drain();
  return n;
}

/** Run the node's timers up to `until`, handing each message sent to `onSend`. */
function run(
  n: GossipNode,
  until: number,
  onSend: (to: string | null, m: GossipMessage, t: number) => void,
): void {
  for (let i = 0; i < 100_000; i++) {
    const t = n.nextDeadline();
    if (t > until) break;
    n.tick(t);
    for (const o of n.drain()) onSend(o.to, o.msg, t);
  }
}

/** Tick until the node's first probe goes out: its seq, time and target. */
function firstProbe(n: GossipNode): { seq: number; at: number; to: string } {
  for (let i = 0; i < 1000; i++) {
    const t = n.nextDeadline();
    n.tick(t);
    for (const o of n.drain())
      if (o.msg.type === 'ping' && o.to !== null) return { seq: o.msg.seq, at: t, to: o.to };
  }
  throw new Error('no probe');
}

const HEX = (i: number): string => i.toString(16).padStart(16, '0');

describe('frugal probes', () => {
  it('a direct ping carries target "" and is 16 bytes smaller than one naming the target', () => {
    const ids = [HEX(1), HEX(2), HEX(3)];
    const n = node(ids);
    let ping: GossipMessage | undefined;
    run(n, 5000, (_to, m) => {
      if (m.type === 'ping' && ping === undefined) ping = m;
    });
    expect(ping).toMatchObject({ type: 'ping', from: HEX(1), target: '' });
    // docs/protocol.md 0x01: 01 01 | 94 | a0+16 id | seq | a0 (target "") | 90 (no updates)
    const bytes = encodeGossip(ping!);
    const seqBytes = (ping as { seq: number }).seq < 128 ? 1 : 3;
    expect(bytes.length).toBe(2 + 1 + 17 + seqBytes + 1 + 1);
    expect(bytes.length).toBe(encodeGossip({ ...ping!, target: HEX(2) } as GossipMessage).length - 16);
  });

  it('answers a ping with target "" with the compact ack (target "" = from), one naming it in full', () => {
    const n = node([HEX(2), HEX(1)]);
    n.receive({ host: 'x', port: 1 }, { type: 'ping', from: HEX(1), seq: 300, target: '', updates: [] }, 5);
    n.receive(
      { host: 'x', port: 1 },
      { type: 'ping', from: HEX(1), seq: 301, target: HEX(2), updates: [] },
      6,
    );
    const acks = n
      .drain()
      .map((o) => o.msg)
      .filter((m) => m.type === 'ack');
    expect(acks).toEqual([
      { type: 'ack', from: HEX(2), seq: 300, target: '', updates: [] },
      { type: 'ack', from: HEX(2), seq: 301, target: HEX(2), updates: [] },
    ]);
    // docs/protocol.md "Answer probes": 01 03 | 94 | b0+16 id | cd 01 2c | a0 | 90 = 25 bytes, 41 in full.
    expect(encodeGossip(acks[0]!).length).toBe(2 + 1 + 17 + 3 + 1 + 1);
    expect(encodeGossip(acks[1]!).length).toBe(encodeGossip(acks[0]!).length + 16);
  });

  it("takes a compact ack as its target's own direct answer", () => {
    const n = node(['a', 'b', 'c']);
    const { seq, at, to } = firstProbe(n);
    n.receive({ host: to, port: 0 }, { type: 'ack', from: to, seq, target: '', updates: [] }, at + 10);
    run(n, at + 999, () => undefined);
    expect(n.member(to)?.status).toBe(MemberStatus.Alive);
    // Counted as a timely direct answer (its round trip is sampled), not as an indirect one.
    expect(n.stats().rttMs).toBe(10);
  });

  it("still refuses an ack from a stranger now holding the probed member's address", () => {
    const n = node(['a', 'b']);
    const { seq, at, to } = firstProbe(n);
    expect(to).toBe('b');
    // "c" answers at b's address (b died, c took its address): it names itself, in either form.
    n.receive({ host: 'b', port: 0 }, { type: 'ack', from: 'c', seq, target: 'c', updates: [] }, at + 10);
    n.receive({ host: 'b', port: 0 }, { type: 'ack', from: 'c', seq, target: '', updates: [] }, at + 11);
    run(n, at + 999, () => undefined);
    expect(n.stats().rttMs).toBeNull();
    run(n, at + 1001, () => undefined);
    expect(n.member('b')?.status).toBe(MemberStatus.Suspect);
  });

  it('skips the probe of a member that pinged it within the last periods, and only that', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const withPings = node(ids, 3);
    const without = node(ids, 3);
    // b, c, d and e ping us every 500 ms for a minute (as they would with a 1 s period in a
    // 5-member swarm, and more): every probe we would send finds its target heard from.
    const count = (n: GossipNode, ping: boolean): number => {
      let pings = 0;
      for (let t = 0; t < 60_000; t += 500) {
        if (ping)
          for (const from of ids.slice(1))
            n.receive({ host: from, port: 0 }, { type: 'ping', from, seq: t, target: '', updates: [] }, t);
        // Our probes are answered 1 ms after they go out, so nothing is suspected either way.
        run(n, t + 499, (to, m, sentAt) => {
          if (m.type !== 'ping' || to === null) return;
          pings++;
          n.receive(
            { host: to, port: 0 },
            { type: 'ack', from: to, seq: m.seq, target: to, updates: [] },
            sentAt + 1,
          );
        });
      }
      return pings;
    };
    const sentWith = count(withPings, true);
    const sentWithout = count(without, false);
    expect(PROBE_SKIP_HEARD_PERIODS).toBeGreaterThanOrEqual(1);
    expect(sentWithout).toBeGreaterThan(50);
    expect(sentWith).toBe(0);
    expect(withPings.stats().probesSkipped).toBeGreaterThan(50);
    for (const id of ids.slice(1)) expect(withPings.member(id)?.status).toBe(MemberStatus.Alive);
  });

  it('still probes a suspect that pinged it (the buddy ping carries the suspicion)', () => {
    const n = node(['a', 'b', 'c']);
    n.receive({ host: 'b', port: 0 }, { type: 'ping', from: 'b', seq: 1, target: '', updates: [] }, 10);
    hearUpdates(n, 'c', [{ kind: 'suspect', id: 'b', incarnation: 0, from: 'c' }], 11);
    const pings: string[] = [];
    run(n, 20, (to, m) => {
      if (m.type === 'ping' && to !== null) pings.push(to);
    });
    expect(pings).toContain('b');
  });
});
