/**
 * The energy sample is the adaptive gossip controller's input event: a node
 * whose battery turns critical (or low) switches its gossip mode when the
 * energy component advertises the new figures, not at the next adaptive
 * evaluation (up to adaptation_interval_ms, 5 s, later).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type SwarmConfig } from '../../src/config/index.js';
import { GossipComponent } from '../../src/node/gossip-component.js';
import { SwarmNode } from '../../src/node/node.js';

let root: string;
const running: SwarmNode[] = [];

function config(name: string): SwarmConfig {
  const c = defaultConfig();
  c.node.name = name;
  c.node.data_dir = mkdtempSync(join(root, `${name}-`));
  c.network.bind_address = '127.0.0.1';
  c.network.gossip_port = 0;
  c.network.multicast_enabled = false;
  // The default 5 s: the first evaluation runs soon after start, the next one 5 s later.
  c.adaptive_gossip.adaptation_interval_ms = 5000;
  return c;
}

async function start(name: string): Promise<GossipComponent> {
  const node = new SwarmNode(config(name));
  const g = new GossipComponent();
  node.register(g);
  await node.start();
  running.push(node);
  // Past the first evaluation (it rides on the first runtime wake-up, within RUNTIME_SLACK_MS).
  await new Promise((r) => setTimeout(r, 2000));
  return g;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-energy-adaptive-'));
});
afterEach(async () => {
  for (const n of running.splice(0)) await n.stop();
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('energy sample -> adaptive mode, between evaluations', () => {
  it('critical: emergency as the figures are advertised, with the stretched interval applied to the core', async () => {
    const g = await start('crit');
    expect(g.view().adaptive.mode).not.toBe('emergency');
    g.setLocalMeta({ powerW: 0.8, battery: 5, powerState: 'critical' });
    // Synchronously: no evaluation is due for seconds.
    const v = g.view();
    expect(v.adaptive.mode).toBe('emergency');
    expect(v.adaptive.reason).toContain('at the energy sample');
    expect(v.core.intervalMs).toBe(v.adaptive.intervalMs);
  }, 20_000);

  it('low: conservative at once, and the cause that holds it is the battery', async () => {
    const g = await start('low');
    g.setLocalMeta({ powerW: 0.8, battery: 25, powerState: 'low_power' });
    const v = g.view();
    expect(v.adaptive.mode).toBe('conservative');
    expect(v.adaptive.cause).toBe('energy_low');
    expect(v.adaptive.why).toBe('battery 25% below low-power 30%');
  }, 20_000);
});
