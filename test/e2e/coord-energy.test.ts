/**
 * Energy: a node whose battery falls to critical enters the emergency power
 * mode and resigns the elections campaigned through its API
 * (coordination.resign_on_emergency). One real daemon reading a copy of the
 * Pi Zero fixture (SWARM_SYSFS_ROOT) whose battery the test drains. Needs `npm run build`.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CoordCluster, api } from '../helpers/coord-cluster.js';
import { until } from '../helpers/kv-history.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/sysroot/pi-zero-2w-hat', import.meta.url));
const sysroot = mkdtempSync(join(tmpdir(), 'swarm-cenergy-sys-'));
let c: CoordCluster | undefined;

afterAll(() => {
  c?.cleanup();
  rmSync(sysroot, { recursive: true, force: true });
});

describe('emergency power mode', () => {
  it('resigns the local campaigns when the battery becomes critical', async () => {
    cpSync(FIXTURE, sysroot, { recursive: true });
    c = await CoordCluster.start(1, {
      tag: 'cenergy',
      env: { SWARM_SYSFS_ROOT: sysroot },
      more: ['[energy]', 'collection_interval_ms = 200'],
    });
    const base = c.ds[0]!.info.api_url;
    const lease = (await api<{ id: number }>(base, 'POST', '/v1/lease', { ttl_s: 60 })).body.id;
    const led = await api<{ leader: { value: string } }>(base, 'POST', '/v1/election/duty/campaign', {
      lease,
      value: 'pi-zero',
    });
    expect(led.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await api<{ leader: unknown }>(base, 'GET', '/v1/election/duty')).body.leader).not.toBeNull();
    writeFileSync(join(sysroot, 'sys/class/power_supply/bq27441-0/capacity'), '4\n');
    await until(
      'the candidacy resigned',
      async () =>
        (await api<{ leader: unknown }>(base, 'GET', '/v1/election/duty')).body.leader === null || null,
      20_000,
    );
    // The lease itself stays: only the candidacy goes (another device takes the job).
    expect((await api(base, 'GET', `/v1/lease/${lease}`)).status).toBe(200);
  }, 90_000);
});
