/**
 * GossipComponent in-process: two SwarmNodes over real loopback UDP (port 0),
 * the PeerDirectory contract the Raft component relies on (raft address and
 * role read from node status, API address, change notifications), explicit
 * metadata, graceful leave, and the /v1/members mapping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../src/api/app.js';
import { membersResponse, membersRoutes } from '../../src/api/members.js';
import { membersResponseSchema } from '../../src/api/members-types.js';
import { defaultConfig, type SwarmConfig } from '../../src/config/index.js';
import {
  coreConfigFromSections,
  GossipComponent,
  parseHostPort,
  toPeerInfo,
  type GossipView,
} from '../../src/node/gossip-component.js';
import { SwarmNode, type ComponentStatus, type NodeComponent } from '../../src/node/node.js';
import { MemberStatus } from '../../src/gossip/messages.js';
import { newStats } from '../../src/net/wire.js';
import { gossipMetricSamples, gossipMetricsRegistry } from '../../src/node/gossip-metrics.js';

let root: string;
const running: SwarmNode[] = [];

/** Stands in for the Raft component: it only reports an address and a role through node status. */
class FakeRaft implements NodeComponent {
  readonly name = 'raft';
  role = 'follower';
  constructor(private readonly addr: string) {}
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  status(): ComponentStatus {
    return { role: this.role, addresses: { raft: this.addr } };
  }
}

function config(name: string, join: string[] = [], key = ''): SwarmConfig {
  const c = defaultConfig();
  c.node.name = name;
  c.node.data_dir = mkdtempSync(join_(root, `${name}-`));
  c.network.bind_address = '127.0.0.1';
  c.network.gossip_port = 0;
  c.network.multicast_enabled = false;
  c.network.join = join;
  c.security.swarm_key = key;
  return c;
}
const join_ = join;

async function startNode(
  name: string,
  seeds: string[] = [],
  raftAddr = '0.0.0.0:7001',
): Promise<{ node: SwarmNode; gossip: GossipComponent; raft: FakeRaft }> {
  const node = new SwarmNode(config(name, seeds));
  const gossip = new GossipComponent({ core: { probeIntervalMs: 200, probeTimeoutMs: 100 } });
  const raft = new FakeRaft(raftAddr);
  node.register(gossip).register(raft);
  await node.start();
  running.push(node);
  return { node, gossip, raft };
}

async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (let i = 0; i < 10_000 && Date.now() < end; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!ok()) throw new Error(`not within ${ms} ms: ${what}`);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-gossip-comp-'));
});

afterEach(async () => {
  for (const n of running.splice(0)) await n.stop();
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('GossipComponent', () => {
  it('reports the real gossip port and the encryption state', async () => {
    const { node } = await startNode('solo');
    const st = node.status();
    expect(st.addresses.gossip).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(st.addresses.gossip).not.toBe('127.0.0.1:0');
    expect(st.security).toEqual({ gossip_encrypted: false, note: 'gossip unencrypted', refused_peers: [] });
  });

  it('a gossip port in use fails the start with a typed error and leaves nothing open', async () => {
    const a = await startNode('busy');
    const c = config('second');
    c.network.gossip_port = parseHostPort(a.node.status().addresses.gossip!).port;
    const b = new SwarmNode(c);
    b.register(new GossipComponent());
    await expect(b.start()).rejects.toThrow(/cannot bind UDP 127\.0\.0\.1:\d+/);
    expect(b.state).toBe('stopped');

    // A name gossip cannot carry fails the start too, and releases the socket it had bound.
    const long = config('x'.repeat(65));
    const d = new SwarmNode(long);
    d.register(new GossipComponent());
    await expect(d.start()).rejects.toThrow(/longer than 64 bytes/);
    expect(d.state).toBe('stopped');
  });

  it('is a PeerDirectory: peers carry the Raft address and role; changes are notified', async () => {
    const a = await startNode('a');
    let changes = 0;
    const off = a.gossip.onChange(() => changes++);
    const b = await startNode('b', [a.node.status().addresses.gossip!], '0.0.0.0:7002');
    await until(() => a.gossip.get(b.node.id)?.raftRole === 'follower', 5000, 'b known with its role');
    expect(changes).toBeGreaterThan(0);
    const pb = a.gossip.get(b.node.id)!;
    // A wildcard Raft listener is advertised under the gossip host, reachable by others.
    expect(pb).toMatchObject({ id: b.node.id, name: 'b', status: 'alive', raftAddr: '127.0.0.1:7002' });
    expect(pb.deviceClass).toBe('standard');
    expect(a.gossip.peers().map((p) => p.id)).toEqual([b.node.id]);
    expect(a.gossip.get(a.node.id)).toBeUndefined();

    // A Raft role change reaches the other side without anyone calling the gossip component.
    b.raft.role = 'leader';
    await until(() => a.gossip.get(b.node.id)?.raftRole === 'leader', 5000, 'role change disseminated');

    // Explicit metadata (energy figures, extra tags) is merged and disseminated.
    b.gossip.setLocalMeta({ powerW: 2.5, battery: 80, powerState: 'idle', tags: { zone: 'lab' } });
    await until(
      () => a.gossip.view().members.find((m) => m.record.id === b.node.id)?.record.meta.battery === 80,
      5000,
      'energy metadata disseminated',
    );
    const rec = a.gossip.view().members.find((m) => m.record.id === b.node.id)!.record;
    expect(rec.meta.tags).toEqual({ zone: 'lab', raft_addr: '127.0.0.1:7002' });

    // Graceful leave: the other side sees `left` without failure detection.
    const bid = b.node.id;
    await b.node.stop();
    running.splice(running.indexOf(b.node), 1);
    await until(() => a.gossip.get(bid)?.status === 'left', 3000, 'left seen');
    off();
  });

  it('a lone node contacts its join list again after the core gave up, and finds a late seed', async () => {
    // Learn a free port, then free it: the seed will come up there later.
    const probe = await startNode('probe');
    const seedAddr = probe.node.status().addresses.gossip!;
    await probe.node.stop();
    running.splice(running.indexOf(probe.node), 1);

    const lateCfg = config('late', [seedAddr]);
    const late = new SwarmNode(lateCfg);
    const lg = new GossipComponent({
      core: { probeIntervalMs: 200, probeTimeoutMs: 100, joinRetryMs: 50, joinMaxAttempts: 1 },
      rejoinIntervalMs: 300,
    });
    late.register(lg);
    await late.start();
    running.push(late);
    // Past the core's only attempt: without the runtime's rejoin this node would stay alone.
    await new Promise((r) => setTimeout(r, 400));
    expect(lg.peers()).toEqual([]);

    const seedCfg = config('seed');
    seedCfg.network.gossip_port = parseHostPort(seedAddr).port;
    const seed = new SwarmNode(seedCfg);
    seed.register(new GossipComponent({ core: { probeIntervalMs: 200, probeTimeoutMs: 100 } }));
    await seed.start();
    running.push(seed);
    await until(() => lg.get(seed.id)?.status === 'alive', 5000, 'late node found the seed');
  });

  it('exports Prometheus samples of the live view', async () => {
    const a = await startNode('p1');
    const b = await startNode('p2', [a.node.status().addresses.gossip!]);
    await until(() => a.gossip.get(b.node.id)?.status === 'alive', 5000, 'b alive');
    const samples = gossipMetricSamples(a.gossip.view());
    const one = (name: string, labels?: Record<string, string>): number | undefined =>
      samples.find((s) => s.name === name && (!labels || JSON.stringify(s.labels) === JSON.stringify(labels)))
        ?.value;
    expect(one('swarm_gossip_members', { status: 'alive' })).toBe(2);
    expect(one('swarm_gossip_members', { status: 'dead' })).toBe(0);
    expect(one('swarm_gossip_packets_in_total')).toBeGreaterThan(0);
    expect(one('swarm_gossip_encrypted')).toBe(0);
    expect(samples.filter((s) => s.name === 'swarm_gossip_adaptive_mode' && s.value === 1)).toHaveLength(1);
    for (const s of samples) expect(Number.isFinite(s.value)).toBe(true);

    const text = await gossipMetricsRegistry(a.gossip).metrics();
    expect(text).toContain('# TYPE swarm_gossip_packets_in_total counter');
    expect(text).toContain('swarm_gossip_members{status="alive"} 2');
    expect(text).toMatch(/swarm_gossip_adaptive_mode\{mode="\w+"\} 1/);
    // Before gossip runs (or after it stopped) a scrape still succeeds, just without gossip samples.
    const idle = await gossipMetricsRegistry(new GossipComponent()).metrics();
    expect(idle).not.toContain('swarm_gossip_members{');
  });

  it('a critical battery advertised through setLocalMeta puts the adaptive controller in emergency at once', async () => {
    const c = config('battery');
    c.adaptive_gossip.adaptation_interval_ms = 100;
    const node = new SwarmNode(c);
    const g = new GossipComponent({ core: { probeIntervalMs: 200, probeTimeoutMs: 100 } });
    node.register(g);
    await node.start();
    running.push(node);
    expect(g.view().adaptive.mode).not.toBe('emergency');
    g.setLocalMeta({ powerW: 0.8, battery: 5, powerState: 'critical' });
    await until(() => g.view().adaptive.mode === 'emergency', 5000, 'emergency mode');
    const v = g.view();
    // The new interval is applied to the core at once (the Python original computed it and never used it).
    expect(v.core.intervalMs).toBe(v.adaptive.intervalMs);
    expect(v.adaptive.intervalMs).toBe(Math.min(c.adaptive_gossip.max_interval_ms, c.gossip.interval_ms * 4));
    expect(v.adaptive.reason).toMatch(/emergency/);
  });

  it('serves /v1/members through the API routes', async () => {
    const a = await startNode('m1');
    const b = await startNode('m2', [a.node.status().addresses.gossip!]);
    a.raft.role = 'leader';
    await until(
      () =>
        b.gossip.view().members.filter((m) => m.status === 'alive').length === 2 &&
        b.gossip.get(a.node.id)?.raftRole === 'leader',
      5000,
      'both alive and the leader advertised',
    );
    const app = createApi(b.node, { routes: [membersRoutes(b.gossip)] });
    const res = await app.request('/v1/members');
    expect(res.status).toBe(200);
    const body = membersResponseSchema.parse(await res.json());
    expect(body.self).toBe(b.node.id);
    expect(body.leader).toBe(a.node.id);
    expect(body.members.map((m) => m.name)).toEqual(['m1', 'm2']);
    const m1 = body.members[0]!;
    expect(m1.addresses.gossip).toBe(a.node.status().addresses.gossip);
    expect(m1.addresses.raft).toBe('127.0.0.1:7001');
    expect(m1.raft_role).toBe('leader');
    expect(m1.energy).toBeNull();
    expect(body.members[1]!.self).toBe(true);
    expect(body.counters.packets_in).toBeGreaterThan(0);
    expect(body.adaptive.enabled).toBe(true);

    const down = createApi(b.node, {
      routes: [
        membersRoutes({
          view: () => {
            throw new Error('stopped');
          },
        }),
      ],
    });
    const r503 = await down.request('/v1/members');
    expect(r503.status).toBe(503);
  });
});

describe('gossip component helpers', () => {
  it('maps records to PeerInfo and the seed config onto the core', () => {
    const p = toPeerInfo({
      id: 'x',
      name: 'n',
      host: '10.0.0.1',
      port: 5555,
      deviceClass: 'powerful',
      incarnation: 3,
      status: MemberStatus.Suspect,
      meta: { api: '10.0.0.1:5557', raft: 'candidate', tags: { raft_addr: '10.0.0.1:5558' } },
    });
    expect(p).toEqual({
      id: 'x',
      name: 'n',
      deviceClass: 'standard',
      status: 'suspect',
      apiAddr: '10.0.0.1:5557',
      raftAddr: '10.0.0.1:5558',
      raftRole: 'candidate',
      tags: { raft_addr: '10.0.0.1:5558' },
    });
    const c = defaultConfig();
    c.gossip.interval_ms = 700;
    c.gossip.ttl = 5;
    c.network.multicast_enabled = false;
    expect(coreConfigFromSections(c)).toMatchObject({
      gossipIntervalMs: 700,
      retransmitMult: 5,
      announceIntervalMs: 0,
    });
    c.network.multicast_enabled = true;
    expect(coreConfigFromSections(c).announceIntervalMs).toBeGreaterThan(0);
    expect(parseHostPort('[::1]:5555')).toEqual({ host: '::1', port: 5555 });
    expect(parseHostPort('h.local:1')).toEqual({ host: 'h.local', port: 1 });
    expect(() => parseHostPort('nope')).toThrow(/host:port/);
  });

  it('names no leader when the member advertising it is dead', () => {
    const rec = (id: string, status: MemberStatus, raft: string): GossipView['members'][number] => ({
      record: {
        id,
        name: id,
        host: '127.0.0.1',
        port: 1,
        deviceClass: 'full',
        incarnation: 1,
        status,
        meta: { raft },
      },
      status: status === MemberStatus.Dead ? 'dead' : 'alive',
      lastChangeMs: 0,
      self: false,
    });
    const view = {
      selfId: 'a',
      encrypted: true,
      multicast: false,
      adaptiveEnabled: false,
      adaptive: {
        mode: 'normal',
        intervalMultiplier: 1,
        intervalMs: 1000,
        fanout: 3,
        reason: '',
        changedAt: null,
      },
      adaptiveChangedAtMs: null,
      transport: newStats(),
      core: { probeLoss: 0, rttMs: null, suspicionsRaised: 0, refutations: 0 },
      wakeups: 0,
      members: [rec('a', MemberStatus.Alive, 'follower'), rec('b', MemberStatus.Dead, 'leader')],
    } as unknown as GossipView;
    expect(membersResponse(view).leader).toBeNull();
  });
});
