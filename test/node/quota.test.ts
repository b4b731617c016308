/**
 * Issue #14 item 4: the store quota (`raft.quota_bytes`). A single in-process
 * node: writes that would grow the store past the quota get 507 quota_exceeded,
 * deletes still pass and free room, and nothing acknowledged is lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import { kvRoutes } from '../../src/api/routes/kv.js';
import { configSchema } from '../../src/config/schema.js';
import { SwarmNode } from '../../src/node/node.js';
import { StaticPeerDirectory } from '../../src/node/peers.js';
import { RaftComponent } from '../../src/node/raft-component.js';

const root = mkdtempSync(join(tmpdir(), 'raft-quota-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function put(api: string, key: string, value: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${api}/v1/kv/${key}`, {
    method: 'PUT',
    body: JSON.stringify({ value }),
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: await res.json() };
}

describe('store quota', () => {
  it('refuses a write past raft.quota_bytes with 507 quota_exceeded; deletes free room', async () => {
    const raft = new RaftComponent({ peers: new StaticPeerDirectory(), requestTimeoutMs: 3000 });
    const node = new SwarmNode(
      configSchema.parse({
        node: { data_dir: join(root, 'n') },
        network: { bind_address: '127.0.0.1', multicast_enabled: false, gossip_port: 0 },
        api: { port: 0 },
        raft: { port: 0, bootstrap_expect: 1, quota_bytes: 200_000 },
        consensus: { heartbeat_interval_ms: 50, election_timeout_min_ms: 300, election_timeout_max_ms: 600 },
      }),
    );
    node.register(raft);
    node.register(new ApiServer({ routes: [kvRoutes(raft)] }));
    await node.start();
    try {
      const api = `http://${node.status().addresses.api ?? ''}`;
      const value = 'q'.repeat(60_000);
      const end = Date.now() + 20_000;
      while (raft.info().leader === null && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      const ok: number[] = [];
      let refused: { status: number; body: unknown } | null = null;
      for (let i = 0; i < 10; i++) {
        const r = await put(api, `k${i}`, value);
        if (r.status === 200) ok.push(i);
        else {
          refused = r;
          break;
        }
      }
      expect(ok).toEqual([0, 1, 2]);
      expect(refused?.status).toBe(507);
      expect(refused?.body).toMatchObject({ error: { code: 'quota_exceeded' } });
      // Overwriting a key with a small value, or deleting one, is how a full store is freed.
      const del = await fetch(`${api}/v1/kv/k0`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
      expect(del.status).toBe(200);
      expect((await put(api, 'k9', value)).status).toBe(200);
      for (const k of ['k1', 'k2', 'k9']) {
        const g = await fetch(`${api}/v1/kv/${k}`);
        expect(((await g.json()) as { value: string }).value).toBe(value);
      }
    } finally {
      await node.stop();
    }
  }, 60_000);
});
