/**
 * The gossip addresses of the members last known alive, kept in the data dir
 * so a restarted node rejoins through them (Serf's snapshot, reduced to what a
 * rejoin needs). Without it a node that has no join list of its own (the
 * first node, which the others name as their seed) restarts alone: the others
 * hold it dead and stop contacting it, so nobody would ever find it again.
 *
 * Bounded (MAX_PEERS addresses) and written rarely (the runtime writes only
 * when the set changed, at most once per interval), since IoT flash wears.
 * A missing or unreadable file reads as "no peers": it is a hint, never state
 * that must be right.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.js';

export const GOSSIP_PEERS_FILE = 'gossip-peers.json';
/** Most addresses kept: a rejoin needs one that answers, not the whole swarm. */
export const MAX_PEERS = 32;

const ADDRESS = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/;

export function peersFilePath(dataDir: string): string {
  return join(dataDir, GOSSIP_PEERS_FILE);
}

/** Addresses from the file; [] when it is missing or not what this module writes. */
export function loadGossipPeers(dataDir: string): string[] {
  let text: string;
  try {
    text = readFileSync(peersFilePath(dataDir), 'utf8');
  } catch {
    return [];
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || !Array.isArray((v as { peers?: unknown }).peers)) return [];
    const out: string[] = [];
    for (const p of (v as { peers: unknown[] }).peers) {
      if (typeof p === 'string' && ADDRESS.test(p) && !out.includes(p)) out.push(p);
      if (out.length >= MAX_PEERS) break;
    }
    return out;
  } catch {
    return [];
  }
}

export function saveGossipPeers(dataDir: string, peers: readonly string[]): void {
  const list = [...new Set(peers)].slice(0, MAX_PEERS);
  writeFileAtomic(peersFilePath(dataDir), `${JSON.stringify({ peers: list })}\n`, 0o600, false);
}
