/**
 * Leases survive a restart from a snapshot (the version 2 image): one real
 * daemon snapshotting every 20 entries is SIGKILLed and restarted; its lease
 * still holds its key, a revoke deletes it, and its watch history starts at
 * the snapshot (an older start answers 410 with the oldest revision). Needs `npm run build`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CoordCluster, api } from '../helpers/coord-cluster.js';
import { until } from '../helpers/kv-history.js';

let c: CoordCluster | undefined;
afterAll(() => c?.cleanup());

describe('leases across a restart from a snapshot', () => {
  it('keeps the lease and its keys; the watch history restarts at the snapshot', async () => {
    c = await CoordCluster.start(1, { tag: 'csnap', raft: ['snapshot_interval_entries = 20'] });
    const d = c.ds[0]!;
    const base = (): string => d.info.api_url;
    const lease = (await api<{ id: number }>(base(), 'POST', '/v1/lease', { ttl_s: 120 })).body.id;
    expect((await api(base(), 'PUT', '/v1/kv/snap/leased', { value: 'v', lease })).status).toBe(200);
    for (let i = 0; i < 60; i++)
      expect((await api(base(), 'PUT', `/v1/kv/snap/${i}`, { value: i })).status).toBe(200);
    c.kill(d);
    await until('the daemon gone', async () => {
      try {
        await fetch(`${base()}/v1/health`, { signal: AbortSignal.timeout(500) });
        return null;
      } catch {
        return true;
      }
    });
    await c.restart(d);
    await c.leader(30_000);
    const info = await api<{ keys: string[] }>(base(), 'GET', `/v1/lease/${lease}`);
    expect(info.status).toBe(200);
    expect(info.body.keys).toEqual(['snap/leased']);
    const gone = await api<{ oldest_revision: number }>(
      base(),
      'GET',
      '/v1/watch?prefix=&from_revision=1&wait=1s',
    );
    expect(gone.status).toBe(410);
    expect(gone.body.oldest_revision).toBeGreaterThan(1);
    const revoked = await api<{ deleted: number }>(base(), 'DELETE', `/v1/lease/${lease}`);
    expect(revoked.body.deleted).toBe(1);
    expect((await api(base(), 'GET', '/v1/kv/snap/leased')).status).toBe(404);
  }, 120_000);
});
