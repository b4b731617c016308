import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { parseValues, resolveSettings } from '../../src/agents/settings.js';
import { runSwarm } from '../helpers/run-swarm.js';

describe('agent settings', () => {
  it('reads the demo environment, flags win', () => {
    const env = {
      AGENT_ID: 'agent1',
      PORT: '5001',
      PEERS: 'http://localhost:5002/, http://localhost:5003',
      AGENT_DATA_DIR: '/tmp/x',
    };
    const s = resolveSettings({}, env);
    expect(s).toMatchObject({
      id: 'agent1',
      port: 5001,
      peers: ['http://localhost:5002', 'http://localhost:5003'],
      dataDir: '/tmp/x',
      minValue: 1,
      maxValue: 3,
      host: '127.0.0.1',
    });
    const f = resolveSettings({ id: 'a9', port: '0', values: '2..7', peers: '' }, env);
    expect(f).toMatchObject({ id: 'a9', port: 0, peers: [], minValue: 2, maxValue: 7 });
  });

  it('names the setting that is wrong', () => {
    expect(() => resolveSettings({}, {})).toThrow(ConfigError);
    expect(() => resolveSettings({}, { AGENT_ID: 'a', PORT: 'x' })).toThrow(/PORT/);
    expect(() => resolveSettings({}, { AGENT_ID: 'a', PORT: '70000' })).toThrow(/port/);
    expect(() => resolveSettings({}, { AGENT_ID: 'a', PEERS: 'ftp://h:1' })).toThrow(/peers/);
    expect(() => resolveSettings({}, { AGENT_ID: 'a b' })).toThrow(/id/);
    expect(() => parseValues('3..1')).toThrow(/empty/);
    expect(() => parseValues('1-3')).toThrow(/1\.\.3/);
  });

  it('`swarm agent` without an id exits 2 with a message', async () => {
    const r = await runSwarm(['agent'], { env: { AGENT_ID: '', PORT: '0' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('agent id is required');
  });
});

describe('swarm agent trigger', () => {
  it('exits 1 and says why when the first agent cannot be reached', async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const r = await runSwarm(['agent', 'trigger', '--agents', 'http://127.0.0.1:1', '--timeout', '2000']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('trigger failed');
    expect(r.stdout).toContain('http://127.0.0.1:1: unreachable');
    expect(r.stdout).toContain('no consensus');
  });
});

describe('swarm agent demo', () => {
  it('starts five agents, triggers a run and all agree (majority 3 of 5)', async () => {
    const r = await runSwarm(['agent', 'demo', '--count', '5', '--base-port', '0', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { agreed: boolean; answers: { reached: boolean; value: number }[] };
    expect(out.agreed).toBe(true);
    expect(out.answers).toHaveLength(5);
    expect(new Set(out.answers.map((a) => a.value)).size).toBe(1);
  });
});
