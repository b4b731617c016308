/**
 * The Raft core's real traffic over the real TCP transport (encrypted, on
 * loopback): three nodes elect a leader and commit a few hundred entries
 * everywhere. Persistence is skipped (nothing here restarts), so this checks
 * the wire, not durability: every message the core emits must fit the codec
 * and arrive intact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import type { RaftWireMessage } from '../../src/net/forward-codec.js';
import { isForwardMessage } from '../../src/net/forward-codec.js';
import { RaftNode } from '../../src/raft/raft-node.js';
import { openRaftTransport } from '../../src/net/runtime.js';
import type { TcpAddress, TcpTransport } from '../../src/net/tcp.js';

interface Peer {
  id: string;
  core: RaftNode;
  t: TcpTransport<RaftWireMessage>;
  applied: string[];
}

const key = Buffer.alloc(32, 12).toString('base64');
const peers: Peer[] = [];
const errors: string[] = [];
const addresses = new Map<string, TcpAddress>();

afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.t.close()));
  errors.length = 0;
  addresses.clear();
});

async function startAll(ids: readonly string[]): Promise<void> {
  for (const [i, id] of ids.entries()) {
    const core = new RaftNode(
      {
        id,
        electionTimeoutMinMs: 600,
        electionTimeoutMaxMs: 1200,
        heartbeatIntervalMs: 50,
        rng: createRng(40 + i),
      },
      { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
      { voters: [...ids], learners: [] },
    );
    const t = await openRaftTransport({
      bindAddress: '127.0.0.1',
      port: 0,
      security: { swarm_key: key },
      onMessage: (m) => {
        if (!isForwardMessage(m)) core.step(m, Date.now());
      },
      onError: (e) => errors.push(`${id}: ${e.message}`),
    });
    addresses.set(id, t.address());
    peers.push({ id, core, t, applied: [] });
  }
}

/** The runtime loop, minus the disk: tick, then send and apply each Ready. */
function pump(): void {
  const now = Date.now();
  for (const p of peers) {
    p.core.tick(now);
    while (p.core.hasReady()) {
      const rd = p.core.ready();
      for (const m of rd.messages) {
        const to = addresses.get(m.to);
        const r = to ? p.t.send(to, { ...m, cluster: '' }) : 'no-address';
        if (r !== 'queued') errors.push(`${p.id}: send ${m.type} -> ${r}`);
      }
      for (const e of rd.committed) if (e.data.length > 0) p.applied.push(Buffer.from(e.data).toString());
      p.core.advance(rd);
    }
  }
}

async function until(pred: () => boolean, what: string, maxMs = 15_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    pump();
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('Raft core over encrypted TCP', () => {
  it('elects one leader and replicates entries to every node, with no drop', async () => {
    await startAll(['r1', 'r2', 'r3']);
    const leader = (): Peer | undefined => peers.find((p) => p.core.status().role === 'leader');
    await until(() => leader() !== undefined, 'a leader');
    const want: string[] = [];
    for (let i = 0; i < 300; i++) {
      // Generous election timeouts make a leader change unlikely even on a loaded machine; wait if one happens.
      await until(() => leader() !== undefined, 'a leader');
      const l = leader() as Peer;
      const v = `v${i}`;
      if (l.core.propose(Buffer.from(v), Date.now()).ok) want.push(v);
      if (i % 20 === 0) pump();
    }
    await until(() => peers.every((p) => p.applied.length === want.length), 'entries applied everywhere');
    for (const p of peers) expect(p.applied, p.id).toEqual(want);
    expect(errors).toEqual([]);
    for (const p of peers) {
      const s = p.t.stats();
      expect(s.packetsIn, p.id).toBeGreaterThan(0);
      expect(
        [s.droppedMalformed, s.droppedUnauthenticated, s.droppedOversize, s.droppedBackpressure],
        p.id,
      ).toEqual([0, 0, 0, 0]);
    }
  });
});
