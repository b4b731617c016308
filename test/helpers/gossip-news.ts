/**
 * What the gossip unit tests hand a GossipNode directly: a plain gossip
 * message from one member (its host is its id, as sharedView in
 * src/sim/gossip/driver.ts names members) carrying membership updates and no
 * user events.
 */
import type { MemberUpdate } from '../../src/gossip/messages.js';
import type { GossipNode } from '../../src/gossip/node.js';

/** `n` receives, at `now`, `updates` gossiped by `from`. */
export function hearUpdates(n: GossipNode, from: string, updates: MemberUpdate[], now: number): void {
  n.receive({ host: from, port: 0 }, { type: 'gossip', from, updates, events: [] }, now);
}
