/**
 * What the gossip unit tests hand a GossipNode directly: a plain gossip
 * message from one member (its host is its id, as sharedView in
 * src/sim/gossip/driver.ts names members) carrying membership updates and no
 * user events; and its own timers run with nothing arriving.
 */
import type { MemberUpdate } from '../../src/gossip/messages.js';
import type { GossipNode } from '../../src/gossip/node.js';

/** `n` receives, at `now`, `updates` gossiped by `from`. */
export function hearUpdates(n: GossipNode, from: string, updates: MemberUpdate[], now: number): void {
  n.receive({ host: from, port: 0 }, { type: 'gossip', from, updates, events: [] }, now);
}

/** Run the node's own timers up to `until` (no messages arrive), returning what it sent. */
export function runTimers(n: GossipNode, until: number): ReturnType<GossipNode['drain']> {
  const out: ReturnType<GossipNode['drain']> = [];
  for (let i = 0; i < 10_000; i++) {
    const t = n.nextDeadline();
    if (t > until) break;
    n.tick(t);
    out.push(...n.drain());
  }
  return out;
}
