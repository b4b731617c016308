import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_PEERS,
  loadGossipPeers,
  peersFilePath,
  saveGossipPeers,
} from '../../src/node/gossip-peers-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'swarm-peers-'));
  dirs.push(d);
  return d;
}

describe('remembered gossip peers', () => {
  it('round-trips, bounded to MAX_PEERS distinct addresses', () => {
    const d = dir();
    expect(loadGossipPeers(d)).toEqual([]);
    const many = Array.from({ length: 50 }, (_, i) => `10.0.0.${i}:7946`);
    saveGossipPeers(d, [...many, many[0]!]);
    const back = loadGossipPeers(d);
    expect(back).toHaveLength(MAX_PEERS);
    expect(back[0]).toBe('10.0.0.0:7946');
    saveGossipPeers(d, ['[::1]:7946', '127.0.0.1:7000']);
    expect(loadGossipPeers(d)).toEqual(['[::1]:7946', '127.0.0.1:7000']);
  });

  it('reads a damaged or foreign file as no peers, and skips entries that are not addresses', () => {
    const d = dir();
    for (const text of ['', '{', 'null', '[]', '{"peers":"x"}', '\u0000\u0001']) {
      writeFileSync(peersFilePath(d), text);
      expect(loadGossipPeers(d)).toEqual([]);
    }
    writeFileSync(
      peersFilePath(d),
      JSON.stringify({ peers: ['ok.host:1', 42, 'no port', 'a:b', 'h:123456'] }),
    );
    expect(loadGossipPeers(d)).toEqual(['ok.host:1']);
  });
});
