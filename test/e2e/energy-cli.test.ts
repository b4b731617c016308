/**
 * `swarm swarm energy` and `swarm swarm metrics` against real daemons (the
 * compiled binary; `npm run build` first). Each daemon reads a fixture sysfs
 * tree through SWARM_SYSFS_ROOT, so the figures are the model's for that
 * device. Loopback only, multicast off, port 0 everywhere, temp dirs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { energyResponseSchema, swarmEnergyResponseSchema } from '../../src/api/energy-types.js';
import { SwarmClient } from '../../src/client/client.js';
import { isolatedEnv, runSwarm } from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';

const SYSROOT = fileURLToPath(new URL('../fixtures/sysroot/', import.meta.url));

interface Started {
  pid: number;
  id: string;
  dataDir: string;
  device: string;
  client: SwarmClient;
  gossip: string;
}

let root: string;
const pids = new Set<number>();

function env(device: string, deviceClass: string): NodeJS.ProcessEnv {
  return isolatedEnv(root, {
    SWARM_SYSFS_ROOT: join(SYSROOT, device),
    SWARM_NODE__DEVICE_CLASS: deviceClass,
  });
}

function cli(n: Started, deviceClass: string, args: readonly string[]): ReturnType<typeof runSwarm> {
  return runSwarm(['--config', join(root, 'config.toml'), ...args, '--data-dir', n.dataDir], {
    env: env(n.device, deviceClass),
  });
}

async function start(
  name: string,
  device: string,
  deviceClass: string,
  joinList: string[],
): Promise<Started> {
  const dataDir = join(root, name);
  const args = ['--config', join(root, 'config.toml'), 'node', 'start', '--json', '--name', name];
  args.push('--data-dir', dataDir, '--no-multicast');
  if (joinList.length > 0) args.push('--join', joinList.join(','));
  const r = await runSwarm(args, { env: env(device, deviceClass) });
  const pidMatch = /"pid":(\d+)/.exec(r.stdout);
  if (pidMatch) pids.add(Number(pidMatch[1]));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const info = JSON.parse(r.stdout) as { pid: number; id: string; api_url: string };
  const client = new SwarmClient({ baseUrl: info.api_url, timeoutMs: 3000 });
  const st = await client.status();
  return { pid: info.pid, id: info.id, dataDir, device, client, gossip: st.addresses.gossip! };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-energy-e2e-'));
  writeFileSync(
    join(root, 'config.toml'),
    '[network]\ngossip_port = 0\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nport = 0\n\n[raft]\nport = 0\n\n[energy]\ncollection_interval_ms = 200\n',
  );
});

afterAll(() => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('swarm swarm energy / metrics against running daemons', () => {
  it('reports this node from its sensors and the swarm from gossip; metrics lists the energy gauges', async () => {
    const bat = await start('bat', 'pi-zero-2w-hat', 'minimal', []);
    const mains = await start('mains', 'rpi4', 'full', [bat.gossip]);

    // Wait (bounded) until the mains node sees both members' summaries.
    const end = Date.now() + 15_000;
    let reporting = 0;
    for (let i = 0; i < 150 && Date.now() < end && reporting < 2; i++) {
      reporting = (await mains.client.energySwarm()).totals.members_reporting;
      if (reporting < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(reporting).toBe(2);

    const r = await cli(mains, 'full', ['swarm', 'energy', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { node: unknown; swarm: unknown };
    const node = energyResponseSchema.parse(out.node);
    expect(node.device_class).toBe('full');
    expect(node.power).toMatchObject({ watts: 2.7, source: 'model_no_cpu', measured: false });
    expect(node.temperature_c).toBe(48.312);
    expect(node.battery).toBeNull();
    expect(node.energy.samples).toBeGreaterThanOrEqual(1);
    const swarm = swarmEnergyResponseSchema.parse(out.swarm);
    expect(swarm.self).toBe(mains.id);
    expect(swarm.totals).toMatchObject({ members: 2, members_reporting: 2, on_battery: 1 });
    expect(swarm.totals.power_w).toBeCloseTo(2.7 + 1.201, 9);
    const b = swarm.members.find((m) => m.id === bat.id);
    expect(b?.energy).toMatchObject({ power_w: 1.201, battery_percent: 64 });

    const text = await cli(bat, 'minimal', ['swarm', 'energy']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^power: +1\.201 W, measured \(battery discharge\)$/m);
    expect(text.stdout).toMatch(/^battery: +64% discharging$/m);
    expect(text.stdout).toMatch(/^cpu temperature: +41\.9 °C$/m);
    expect(text.stdout).toMatch(/^swarm: 3\.901 W from 2\/2 members reporting, 1 on battery/m);

    const m = await cli(mains, 'full', ['swarm', 'metrics', '--json']);
    expect(m.code).toBe(0);
    const fams = (
      JSON.parse(m.stdout) as {
        metrics: {
          name: string;
          type: string;
          samples: { labels: Record<string, string>; value: number }[];
        }[];
      }
    ).metrics;
    const power = fams.find((f) => f.name === 'swarm_energy_power_watts');
    expect(power?.type).toBe('gauge');
    expect(power?.samples).toEqual([
      { name: 'swarm_energy_power_watts', labels: { source: 'model_no_cpu' }, value: 2.7 },
    ]);
    expect(fams.find((f) => f.name === 'swarm_energy_consumed_joules_total')?.type).toBe('counter');
    // Raft's and gossip's metrics are in the same listing.
    expect(fams.some((f) => f.name === 'swarm_raft_term')).toBe(true);
    const human = await cli(mains, 'full', ['swarm', 'metrics']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^swarm_energy_cpu_temperature_celsius +- +gauge +48\.312$/m);

    for (const n of [mains, bat]) {
      const s = await runSwarm(
        ['--config', join(root, 'config.toml'), 'node', 'stop', '--data-dir', n.dataDir],
        {
          env: env(n.device, 'standard'),
        },
      );
      expect(s.code).toBe(0);
      pids.delete(n.pid);
    }
  }, 60_000);
});
