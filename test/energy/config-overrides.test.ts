import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { energyConfigFromSections } from '../../src/energy/index.js';

describe('[energy] profile overrides from the config file', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  function load(text: string, env: NodeJS.ProcessEnv = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'swarm-energy-cfg-'));
    dirs.push(dir);
    const path = join(dir, 'config.toml');
    writeFileSync(path, text);
    return loadConfig({ path, env }).config;
  }

  it('uses the device class profile when no override is set', () => {
    const cfg = energyConfigFromSections(load('[node]\ndevice_class = "full"\n'));
    expect(cfg.profile).toMatchObject({ tdpW: 7.5, idleW: 2.7, minW: 2.0, maxW: 7.5 });
  });

  it('lets the file and the environment replace each figure', () => {
    const c = load(
      '[node]\ndevice_class = "standard"\n[energy]\ntdp_watts = 2.5\nbattery_capacity_wh = 10.0\n',
      {
        SWARM_ENERGY__IDLE_WATTS: '0.6',
      },
    );
    const cfg = energyConfigFromSections(c);
    expect(cfg.profile.tdpW).toBe(2.5);
    expect(cfg.profile.idleW).toBe(0.6);
    expect(cfg.profile.batteryWh).toBe(10);
    expect(cfg.profile.minW).toBe(0.1);
  });

  it('rejects a non-positive override naming the key', () => {
    expect(() => load('[energy]\ntdp_watts = 0.0\n')).toThrow(/energy\.tdp_watts = 0: must be a number > 0/);
  });
});
