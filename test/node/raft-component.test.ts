/**
 * Three RaftComponents in one process on loopback, peers from StaticPeerDirectory:
 * bootstrap forms one cluster, writes replicate and are served through any node,
 * a restart keeps the data, and the membership policy holds its rules.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import { kvRoutes } from '../../src/api/routes/kv.js';
import { metricsRoutes } from '../../src/api/routes/metrics.js';
import { configSchema, type SwarmConfig } from '../../src/config/schema.js';
import { SwarmNode } from '../../src/node/node.js';
import { StaticPeerDirectory, type PeerInfo } from '../../src/node/peers.js';
import {
  EMERGENCY_HEARTBEAT_SCALE,
  QUIET_HEARTBEAT_SCALE,
  QUIET_LEADER_AFTER_MS,
  QUIET_LEADER_HEARTBEAT_SCALE,
  RaftComponent,
} from '../../src/node/raft-component.js';
import { planMembershipChange } from '../../src/node/raft-membership.js';

const root = mkdtempSync(join(tmpdir(), 'raft-comp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function config(
  dir: string,
  expect: number,
  deviceClass = 'standard',
  voters = 5,
  heartbeatMs = 50,
  electionMinMs = 300,
): SwarmConfig {
  return configSchema.parse({
    node: { data_dir: dir, device_class: deviceClass },
    network: { bind_address: '127.0.0.1', multicast_enabled: false, gossip_port: 0 },
    api: { port: 0 },
    raft: { port: 0, bootstrap_expect: expect, snapshot_interval_entries: 50, voters },
    consensus: {
      heartbeat_interval_ms: heartbeatMs,
      election_timeout_min_ms: electionMinMs,
      election_timeout_max_ms: 2 * electionMinMs,
    },
  });
}

interface Member {
  node: SwarmNode;
  raft: RaftComponent;
  dir: StaticPeerDirectory;
  api: () => string;
}

async function startMember(
  dataDir: string,
  expect: number,
  deviceClass = 'standard',
  voters = 5,
  heartbeatMs = 50,
  electionMinMs = 300,
): Promise<Member> {
  const dir = new StaticPeerDirectory();
  const raft = new RaftComponent({
    peers: dir,
    requestTimeoutMs: 2000,
    deadVoterMs: 300,
    formationWindowMs: 400,
    formationMinUptimeMs: 200,
  });
  const node = new SwarmNode(config(dataDir, expect, deviceClass, voters, heartbeatMs, electionMinMs));
  node.register(raft);
  node.register(new ApiServer({ routes: [kvRoutes(raft), metricsRoutes([raft.metrics.registry])] }));
  await node.start();
  return { node, raft, dir, api: () => `http://${node.status().addresses.api ?? ''}` };
}

/** What gossip would say of a member's battery (the energy summary's powerState), by node id. */
const powerStates = new Map<string, string>();

function info(m: Member): PeerInfo {
  const a = m.node.status().addresses;
  const powerState = powerStates.get(m.node.id);
  return {
    ...(powerState ? { powerState } : {}),
    id: m.node.id,
    name: m.node.name,
    deviceClass: m.node.config.node.device_class,
    status: 'alive',
    apiAddr: a.api,
    raftAddr: a.raft,
    raftRole: m.node.status().role,
    tags: { ...m.dir.advertised },
  };
}

/** Groups of members that see each other; a stand-in for gossip carries their tags every 50 ms. */
const meshes: Member[][] = [];
function sync(): void {
  for (const ms of meshes)
    for (const a of ms)
      for (const b of ms) {
        // A stopped member keeps whatever the test last said of it (dead, say).
        if (a === b || b.node.status().addresses.raft === null) continue;
        const next = info(b);
        if (JSON.stringify(a.dir.get(next.id)) !== JSON.stringify(next)) a.dir.set(next);
      }
}
setInterval(sync, 50).unref();

function connect(ms: Member[]): void {
  meshes.push(ms);
  sync();
}

type Maybe<T> = T | null | undefined | false;
/** Three connected members under `<prefix>0..2` and their first leader; stopped again if none leads. */
async function threeVoters(
  prefix: string,
  electionMinMs?: number,
): Promise<{ ms: Member[]; leader: Member }> {
  const ms = await Promise.all(
    [0, 1, 2].map((i) => startMember(join(root, `${prefix}${i}`), 3, 'standard', 5, 50, electionMinMs)),
  );
  try {
    connect(ms);
    const leader = await until('a leader with 3 voters', () =>
      ms.find((m) => m.raft.info().role === 'leader' && m.raft.info().voters.length === 3),
    );
    return { ms, leader };
  } catch (err) {
    await Promise.all(ms.map((m) => m.node.stop()));
    throw err;
  }
}

async function until<T>(what: string, f: () => Maybe<T> | Promise<Maybe<T>>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function json(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(8000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const put = (base: string, key: string, body: unknown): ReturnType<typeof json> =>
  json(`${base}/v1/kv/${encodeURIComponent(key)}`, {
    method: 'PUT',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

describe('RaftComponent, 3 in-process nodes on loopback', () => {
  it('bootstraps one cluster, replicates writes, serves any node, survives a restart', async () => {
    const dirs = [0, 1, 2].map((i) => join(root, `n${i}`));
    let ms = await Promise.all(dirs.map((d) => startMember(d, 3)));
    try {
      connect(ms);
      const leader = await until('a leader with 3 voters', () =>
        ms.find((m) => {
          const i = m.raft.info();
          return i.role === 'leader' && i.voters.length === 3 ? m : null;
        }),
      );
      // Every founder recorded the same cluster id and initial voters.
      const boots = dirs.map(
        (d) => JSON.parse(readFileSync(join(d, 'raft-bootstrap.json'), 'utf8')) as { cluster: string },
      );
      expect(new Set(boots.map((b) => b.cluster)).size).toBe(1);
      expect(ms.every((m) => m.node.status().cluster === boots[0]!.cluster)).toBe(true);
      expect(ms.filter((m) => m.raft.info().role === 'leader')).toHaveLength(1);
      const follower = ms.find((m) => m !== leader)!;

      // Writes through a follower are forwarded to the leader (Raft channel) and acknowledged once applied.
      const w = await put(follower.api(), 'a/b', { value: { x: 1 } });
      expect(w.status).toBe(200);
      expect(w.body).toMatchObject({ key: 'a/b', value: { x: 1 } });
      const rev = w.body.revision as number;
      expect(rev).toBeGreaterThan(0);

      // CAS: the right revision wins, a stale one gets 409.
      expect((await put(follower.api(), 'a/b', { value: 2, prev_revision: rev })).status).toBe(200);
      const stale = await put(leader.api(), 'a/b', { value: 3, prev_revision: rev });
      expect(stale.status).toBe(409);
      expect((stale.body.error as { code: string }).code).toBe('revision_mismatch');

      // Linearizable read from any node; stale local reads eventually agree.
      for (const m of ms) {
        const r = await json(`${m.api()}/v1/kv/a%2Fb`);
        expect(r.status).toBe(200);
        expect(r.body.value).toBe(2);
      }
      expect((await json(`${follower.api()}/v1/kv/missing`)).status).toBe(404);
      for (let i = 0; i < 120; i++)
        expect((await put(ms[i % 3]!.api(), `k${i}`, { value: i })).status).toBe(200);
      const list = await json(`${follower.api()}/v1/kv?prefix=k1`);
      expect((list.body.items as unknown[]).length).toBe(31); // k1, k10..k19, k100..k119
      const del = await json(`${follower.api()}/v1/kv/k0`, { method: 'DELETE' });
      expect(del.body).toMatchObject({ key: 'k0', deleted: true });
      await until('replication to every node', () =>
        ms.every((m) => m.raft.info().applied >= leader.raft.info().commit),
      );
      for (const m of ms) {
        const r = await json(`${m.api()}/v1/kv/k119?consistency=stale`);
        expect(r.body.value).toBe(119);
      }
      // Prometheus metrics of the leader.
      const prom = await (await fetch(`${leader.api()}/metrics`)).text();
      expect(prom).toMatch(/^swarm_raft_role\{role="leader"\} 1$/m);
      expect(prom).toMatch(new RegExp(`^swarm_raft_term ${leader.raft.info().term}$`, 'm'));
      expect(prom).toMatch(/^swarm_raft_voters 3$/m);
      const applied = /^swarm_raft_proposals_total\{result="applied"\} (\d+)$/m.exec(prom);
      expect(Number(applied?.[1])).toBeGreaterThanOrEqual(122);
      const fsyncs = /^swarm_raft_fsync_seconds_count (\d+)$/m.exec(prom);
      expect(Number(fsyncs?.[1])).toBeGreaterThan(0);
      // One commit-latency sample per applied proposal of this leader.
      const commits = /^swarm_raft_proposal_commit_seconds_count (\d+)$/m.exec(prom);
      expect(Number(commits?.[1])).toBe(Number(applied?.[1]));
      // Size limits.
      expect((await put(leader.api(), 'x'.repeat(513), { value: 1 })).status).toBe(413);
      expect((await put(leader.api(), 'big', { value: 'y'.repeat(70_000) })).status).toBe(413);
      const l = await json(`${follower.api()}/v1/leader`);
      expect(l.body.leader).toBe(leader.node.id);
      expect(l.body.leader_api).toBe(leader.node.status().addresses.api);

      // Stop everything (the leader hands over on the way), restart: data is still there.
      await Promise.all(ms.map((m) => m.node.stop()));
      ms = await Promise.all(dirs.map((d) => startMember(d, 3)));
      connect(ms);
      await until('a leader after restart', () => ms.find((m) => m.raft.info().role === 'leader'));
      for (const m of ms) {
        const r = await json(`${m.api()}/v1/kv/k7`);
        expect(r.body.value).toBe(7);
      }
      expect((await json(`${ms[0]!.api()}/v1/kv/k0`)).status).toBe(404);
    } finally {
      await Promise.all(ms.map((m) => m.node.stop()));
    }
  }, 60_000);

  it('default config: 3 nodes found one cluster with 3 voters from the first leader; a lone node leads itself', async () => {
    const ms = await Promise.all([0, 1, 2].map((i) => startMember(join(root, `z${i}`), 0)));
    const lone = await startMember(join(root, 'lone'), 0);
    try {
      expect(ms[0]!.node.status().waiting).toMatch(/formation/);
      connect(ms);
      const leader = await until('a leader', () => ms.find((m) => m.raft.info().role === 'leader'));
      // The first leader already has every founder as a voter: a failure is tolerated at once.
      expect(leader.raft.info().voters).toHaveLength(3);
      expect(leader.node.status().waiting).toBeNull();
      await until('lone node leads', () => lone.raft.info().role === 'leader');
      expect(lone.raft.info().voters).toEqual([lone.node.id]);
      // Formed apart: different cluster ids. Once they see each other, Raft traffic between them is refused.
      const cluster = leader.node.status().cluster!;
      expect(lone.node.status().cluster).not.toBe(cluster);
      expect(lone.node.status().cluster).toMatch(/^[0-9a-f]{16}$/);
      connect([...ms, lone]);
      await new Promise((r) => setTimeout(r, 1500));
      // Neither leader adds the other cluster's node, and neither is disturbed.
      expect(leader.raft.info().learners).not.toContain(lone.node.id);
      expect(lone.raft.info().role).toBe('leader');
      expect(lone.raft.info().voters).toEqual([lone.node.id]);
    } finally {
      meshes.length = 0;
      await Promise.all([...ms, lone].map((m) => m.node.stop()));
    }
  }, 30_000);

  it('drops Raft messages stamped with another cluster id (counted)', async () => {
    const a = await startMember(join(root, 'fa'), 1);
    const b = await startMember(join(root, 'fb'), 1);
    try {
      await until(
        'both lead alone',
        () => a.raft.info().role === 'leader' && b.raft.info().role === 'leader',
      );
      const term = b.raft.info().term;
      // a's directory shows b without its cluster tag, so a's leader adds b as a learner and sends to it.
      a.dir.set({ ...info(b), tags: {} });
      await until('b drops a foreign message', async () => {
        const prom = await (await fetch(`${b.api()}/metrics`)).text();
        return /^swarm_raft_foreign_dropped_total [1-9]/m.test(prom);
      });
      expect(b.raft.info().role).toBe('leader');
      expect(b.raft.info().term).toBe(term);
      expect(b.raft.info().voters).toEqual([b.node.id]);
    } finally {
      await Promise.all([a, b].map((m) => m.node.stop()));
    }
  }, 30_000);

  it('split formation: the smaller cluster yields, its keys re-proposed, the conflict reported', async () => {
    const big = await Promise.all([0, 1].map((i) => startMember(join(root, `ma${i}`), 2)));
    const small = await startMember(join(root, 'mb0'), 1);
    const all = [...big, small];
    try {
      connect(big);
      const bigLeader = await until('big cluster leader', () =>
        big.find((m) => m.raft.info().role === 'leader' && m.raft.info().voters.length === 2),
      );
      await until('small cluster leader', () => small.raft.info().role === 'leader');
      expect((await put(bigLeader.api(), 'shared', { value: 'big' })).status).toBe(200);
      expect((await put(bigLeader.api(), 'only-big', { value: 1 })).status).toBe(200);
      expect((await put(small.api(), 'shared', { value: 'small' })).status).toBe(200);
      for (let i = 0; i < 5; i++)
        expect((await put(small.api(), `only-small-${i}`, { value: i })).status).toBe(200);
      const smallCluster = small.node.status().cluster;
      // They meet.
      connect(all);
      const report = await until(
        'the small side merged',
        () => {
          const m = small.node.status().merge;
          return m?.state === 'done' ? m : null;
        },
        30_000,
      );
      expect(report).toMatchObject({
        from: smallCluster,
        to: bigLeader.node.status().cluster,
        exported: 6,
        put: 5,
      });
      expect(report.conflictCount).toBe(1);
      expect(report.conflicts[0]).toEqual({ key: 'shared', yielded: 'small', kept: 'big' });
      expect(readdirSync(report.backup!)).toEqual(
        expect.arrayContaining(['raft', 'raft-bootstrap.json', 'exported-keys.json']),
      );
      expect(small.node.status().cluster).toBe(bigLeader.node.status().cluster);
      // Every acknowledged key is in the merged cluster, read through any node; the winner's value kept.
      for (const m of all) {
        expect((await json(`${m.api()}/v1/kv/shared`)).body.value).toBe('big');
        expect((await json(`${m.api()}/v1/kv/only-big`)).body.value).toBe(1);
        for (let i = 0; i < 5; i++)
          expect((await json(`${m.api()}/v1/kv/only-small-${i}`)).body.value).toBe(i);
      }
      await until('the yielded node promoted to voter', () =>
        bigLeader.raft.info().voters.includes(small.node.id) ? true : null,
      );
    } finally {
      meshes.length = 0;
      await Promise.all(all.map((m) => m.node.stop()));
    }
  }, 60_000);

  it('a voter that lost its quorum says so in its status', async () => {
    const ms = await Promise.all([0, 1, 2].map((i) => startMember(join(root, `q${i}`), 3)));
    try {
      connect(ms);
      await until('a leader with 3 voters', () =>
        ms.find((m) => m.raft.info().role === 'leader' && m.raft.info().voters.length === 3),
      );
      const [survivor, ...gone] = ms;
      meshes.length = 0;
      await Promise.all(gone.map((m) => m.node.stop()));
      for (const m of gone) survivor!.dir.set({ ...info(m), status: 'dead' });
      const why = await until(
        'the survivor says why it has no leader',
        () => survivor!.node.status().waiting,
      );
      expect(why).toBe('no quorum: 1 of 3 voters reachable, 2 needed');
    } finally {
      await Promise.all(ms.map((m) => m.node.stop()));
    }
  }, 30_000);

  it('a leader stop hands leadership to another voter', async () => {
    const { ms, leader } = await threeVoters('t');
    try {
      const term = leader.raft.info().term;
      await leader.node.stop();
      const rest = ms.filter((m) => m !== leader);
      // Immediately after the stop returns, another node leads (no election timeout waited).
      const next = rest.find((m) => m.raft.info().role === 'leader');
      expect(next).toBeDefined();
      expect(next!.raft.info().term).toBe(term + 1);
      expect((await put(next!.api(), 'after', { value: true })).status).toBe(200);
    } finally {
      await Promise.all(ms.map((m) => m.node.stop()));
    }
  }, 30_000);

  it('a quiet cluster: followers stretch their election timeout first, then the leader its heartbeat; a write ends it', async () => {
    const { ms, leader } = await threeVoters('q');
    try {
      const followers = ms.filter((m) => m !== leader);
      expect((await put(leader.api(), 'q', { value: 1 })).status).toBe(200);
      const term = leader.raft.info().term;
      // Busy: nothing stretched.
      expect(leader.raft.heartbeatScale).toBe(1);
      for (const f of followers) expect(f.raft.electionTimeoutScale).toBe(1);
      // Nothing committed for QUIET_LEADER_AFTER_MS: the leader heartbeats 4x less often (50 -> 200 ms,
      // within 2/3 of the followers' stretched 600 ms minimum timeout and lease), and every follower
      // had stretched before it did.
      let followersFirst = true;
      await until(
        'the leader stretches its heartbeat',
        () => {
          if (leader.raft.heartbeatScale === 1) return false;
          followersFirst = followers.every((f) => f.raft.electionTimeoutScale === QUIET_HEARTBEAT_SCALE);
          return true;
        },
        QUIET_LEADER_AFTER_MS + 20_000,
      );
      expect(leader.raft.heartbeatScale).toBe(QUIET_LEADER_HEARTBEAT_SCALE);
      expect(followersFirst).toBe(true);
      // Stretched for a while: no follower campaigned (same leader, same term).
      await new Promise((r) => setTimeout(r, 1500));
      expect(leader.raft.info().role).toBe('leader');
      expect(leader.raft.info().term).toBe(term);
      for (const f of followers) expect(f.raft.info().leader).toBe(leader.node.id);
      // A write ends the quiet on both sides.
      expect((await put(followers[0]!.api(), 'q', { value: 2 })).status).toBe(200);
      expect(leader.raft.heartbeatScale).toBe(1);
      await until('the followers see the commit', () =>
        followers.every((f) => f.raft.electionTimeoutScale === 1),
      );
    } finally {
      await Promise.all(ms.map((m) => m.node.stop()));
    }
  }, 60_000);

  it('deep quiet: a voter restarted while the leader heartbeats x4 apart does not depose it', async () => {
    // The defaults' ratios at a third of the time: heartbeat 100 ms, minimum timeout 300 ms. Deep
    // quiet heartbeats every 400 ms, past a restarted (not yet stretched) voter's 300-600 ms timeout:
    // its pre-votes must be refused (the others' stretched lease), and the leader falls back to
    // x2 (200 ms) once it hears one.
    const dirs = [0, 1, 2].map((i) => join(root, `dq${i}`));
    const ms = await Promise.all(dirs.map((d) => startMember(d, 3, 'standard', 5, 100)));
    try {
      connect(ms);
      const leader = await until('a leader with 3 voters', () =>
        ms.find((m) => m.raft.info().role === 'leader' && m.raft.info().voters.length === 3),
      );
      expect((await put(leader.api(), 'dq', { value: 1 })).status).toBe(200);
      await until(
        'deep quiet',
        () => leader.raft.heartbeatScale === QUIET_LEADER_HEARTBEAT_SCALE,
        QUIET_LEADER_AFTER_MS + 20_000,
      );
      const term = leader.raft.info().term;
      const i = ms.findIndex((m) => m !== leader);
      await ms[i]!.node.stop();
      ms[i] = await startMember(dirs[i]!, 3, 'standard', 5, 100);
      const back = ms[i]!;
      await until('the restarted voter follows the leader', () => back.raft.info().leader === leader.node.id);
      // Its base timeout fires between deep-quiet heartbeats for a while: nobody grants it a vote.
      let fellBack = false;
      const end = Date.now() + 4000;
      while (Date.now() < end) {
        if (leader.raft.heartbeatScale < QUIET_LEADER_HEARTBEAT_SCALE) fellBack = true;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(leader.raft.info().role).toBe('leader');
      expect(leader.raft.info().term).toBe(term);
      for (const m of ms) expect(m.raft.info().leader).toBe(leader.node.id);
      // Informational: whether a pre-vote reached the leader depends on the restart's timing.
      void fellBack;
    } finally {
      await Promise.all(ms.map((m) => m.node.stop()));
    }
  }, 90_000);

  it('an idle follower arms no timer while its leader is heard (its housekeeping rides the heartbeats)', async () => {
    // Election timeouts of 1.5-3 s: a follower's deadline is reached (a tick) only when no heartbeat
    // came for that long. At 300-600 ms, two pauses of the worker that long in 6 s (a loaded machine:
    // the three nodes share this process) made two such ticks, a count this test does not mean.
    const { ms, leader } = await threeVoters('w', 1500);
    try {
      const followers = ms.filter((m) => m !== leader);
      const before = followers.map((f) => f.raft.ticks);
      // 6 s: a 2 s housekeeping timer of its own (FOLLOWER_MANAGE_EVERY_MS) fired 3 times a follower.
      await new Promise((r) => setTimeout(r, 6000));
      for (const [i, f] of followers.entries()) {
        expect(f.raft.info().leader).toBe(leader.node.id);
        // An election deadline reached under load (a late heartbeat) may tick once.
        expect(f.raft.ticks - before[i]!).toBeLessThanOrEqual(1);
      }
    } finally {
      await Promise.all(ms.map((m) => m.node.stop()));
    }
  }, 30_000);

  it('all other voters critical: the leader heartbeats them x4 apart, x8 once quiet; one on mains and x1', async () => {
    const { ms, leader } = await threeVoters('e');
    try {
      expect((await put(leader.api(), 'e', { value: 1 })).status).toBe(200);
      const followers = ms.filter((m) => m !== leader);
      for (const f of followers) powerStates.set(f.node.id, 'critical');
      // The followers stretch their own election timeouts x4 at the sample that sees the battery
      // critical (EnergyComponent); here the test does, as it advertises their state.
      for (const f of followers) f.raft.setElectionTimeoutScale(EMERGENCY_HEARTBEAT_SCALE);
      await until('the leader stretches for critical voters', () => leader.raft.heartbeatScale > 1);
      expect(leader.raft.heartbeatScale).toBe(EMERGENCY_HEARTBEAT_SCALE);
      // Quiet on top multiplies: each follower still hears the leader every 2/3 of its own minimum
      // timeout (x4 critical), whether or not it stretched for quiet yet.
      await until(
        'the quiet stretch on top',
        () => leader.raft.heartbeatScale === EMERGENCY_HEARTBEAT_SCALE * QUIET_HEARTBEAT_SCALE,
        QUIET_LEADER_AFTER_MS + 20_000,
      );
      const term = leader.raft.info().term;
      expect(leader.raft.info().role).toBe('leader');
      // One voter back on mains: no energy stretch from the next round, so the deep quiet alone.
      powerStates.delete(followers[0]!.node.id);
      await until(
        'the leader drops the energy stretch',
        () => leader.raft.heartbeatScale === QUIET_LEADER_HEARTBEAT_SCALE,
      );
      expect(leader.raft.info().term).toBe(term);
      // A write ends the quiet stretch too.
      expect((await put(leader.api(), 'e', { value: 2 })).status).toBe(200);
      expect(leader.raft.heartbeatScale).toBe(1);
    } finally {
      for (const m of ms) powerStates.delete(m.node.id);
      await Promise.all(ms.map((m) => m.node.stop()));
    }
  }, 60_000);

  it('5 nodes with [raft] voters = 3: one leader, 3 voters, 2 learners that still get every write', async () => {
    const ms = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => startMember(join(root, `f${i}`), 3, 'standard', 3)),
    );
    try {
      connect(ms);
      const leader = await until('3 voters and 2 learners', () =>
        ms.find((m) => {
          const i = m.raft.info();
          return i.role === 'leader' && i.voters.length === 3 && i.learners.length === 2 ? m : null;
        }),
      );
      expect(ms.filter((m) => m.raft.info().role === 'leader')).toHaveLength(1);
      expect((await put(ms[4]!.api(), 'five', { value: 5 })).status).toBe(200);
      await until('every node applied the write', () =>
        ms.every((m) => m.raft.info().applied >= leader.raft.info().commit),
      );
      for (const m of ms) expect((await json(`${m.api()}/v1/kv/five?consistency=stale`)).body.value).toBe(5);
    } finally {
      await Promise.all(ms.map((m) => m.node.stop()));
    }
  }, 30_000);

  it('a voter dead for longer than the replacement delay gives its seat to a caught-up learner', async () => {
    const ms = await Promise.all([0, 1, 2, 3].map((i) => startMember(join(root, `r${i}`), 3, 'standard', 3)));
    try {
      connect(ms);
      const leader = await until('3 voters and a learner', () =>
        ms.find((m) => {
          const i = m.raft.info();
          return i.role === 'leader' && i.voters.length === 3 && i.learners.length === 1 ? m : null;
        }),
      );
      const learner = ms.find((m) => m.node.id === leader.raft.info().learners[0])!;
      const victim = ms.find((m) => m !== leader && m !== learner)!;
      await victim.node.stop();
      for (const m of ms) if (m !== victim) m.dir.set({ ...info(victim), status: 'dead' });
      await until('the learner promoted in place of the dead voter', () => {
        const i = leader.raft.info();
        return (
          !i.voters.includes(victim.node.id) && i.voters.includes(learner.node.id) && i.voters.length === 3
        );
      });
      expect((await put(learner.api(), 'after-replace', { value: 1 })).status).toBe(200);
    } finally {
      await Promise.all(ms.map((m) => m.node.stop()));
    }
  }, 30_000);

  it('a minimal device joins as a learner, receives the state, never votes nor leads', async () => {
    const dirs = [0, 1, 2].map((i) => join(root, `m${i}`));
    const ms = await Promise.all(dirs.map((d, i) => startMember(d, 2, i === 2 ? 'minimal' : 'standard')));
    try {
      connect(ms);
      const small = ms[2]!;
      const leader = await until('a leader with the minimal node as learner', () =>
        ms.find((m) => {
          const i = m.raft.info();
          return i.role === 'leader' && i.voters.length === 2 && i.learners.includes(small.node.id)
            ? m
            : null;
        }),
      );
      expect(leader).not.toBe(small);
      expect((await put(small.api(), 'seen', { value: 'by all' })).status).toBe(200);
      await until(
        'the learner applies the write',
        () => small.raft.info().applied >= leader.raft.info().commit,
      );
      expect((await json(`${small.api()}/v1/kv/seen?consistency=stale`)).body.value).toBe('by all');
      // Alone, a learner never campaigns: it stays without a leader.
      await Promise.all(ms.filter((m) => m !== small).map((m) => m.node.stop()));
      await new Promise((r) => setTimeout(r, 1500));
      expect(small.raft.info().role).toBe('learner');
      expect(small.raft.info().voters).not.toContain(small.node.id);
    } finally {
      await Promise.all(ms.map((m) => m.node.stop()));
    }
  }, 30_000);

  it('without a quorum a write answers 503 no_quorum within a bounded time', async () => {
    // Strict mode, 2 expected, alone: it never founds, and says why.
    const m = await startMember(join(root, 'alone'), 2);
    try {
      expect(m.node.status().waiting).toMatch(/bootstrap_expect: 1 of 2/);
      const r = await put(m.api(), 'k', { value: 1 });
      expect(r.status).toBe(503);
      expect((r.body.error as { code: string }).code).toBe('no_quorum');
    } finally {
      await m.node.stop();
    }
  }, 20_000);

  it('a Raft port in use fails the start with the address, and the data dir stays usable', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as AddressInfo).port;
    const d = join(root, 'busy');
    const dir = new StaticPeerDirectory();
    const node = new SwarmNode(configSchema.parse({ ...config(d, 1), raft: { port, bootstrap_expect: 1 } }));
    node.register(new RaftComponent({ peers: dir }));
    await expect(node.start()).rejects.toThrow(String(port));
    blocker.close();
    // The log was closed on the failed start: a new node opens it.
    const m = await startMember(d, 1);
    await until('single-node leader', () => m.raft.info().role === 'leader');
    await m.node.stop();
  }, 20_000);

  it('refuses to start on a corrupted log, naming the file', async () => {
    const d = join(root, 'corrupt');
    const m = await startMember(d, 1);
    await until('single-node leader', () => m.raft.info().role === 'leader');
    for (let i = 0; i < 20; i++) expect((await put(m.api(), `k${i}`, { value: i })).status).toBe(200);
    await m.node.stop();
    const seg = readdirSync(join(d, 'raft')).find((f) => f.endsWith('.wal'));
    expect(seg).toBeDefined();
    // Garbage followed by valid records is corruption in the middle of the log, not a torn tail.
    writeFileSync(join(d, 'raft', seg!), Buffer.alloc(16, 0xab), { flag: 'r+' });
    await expect(startMember(d, 1)).rejects.toThrow(seg!);
  }, 20_000);
});

describe('membership policy', () => {
  const peer = (
    id: string,
    deviceClass: PeerInfo['deviceClass'],
    status: PeerInfo['status'] = 'alive',
  ): PeerInfo => ({
    id,
    name: id,
    deviceClass,
    status,
    apiAddr: null,
    raftAddr: '127.0.0.1:1',
    raftRole: null,
  });

  it('adds learners, promotes full before standard, never promotes minimal, caps voters', () => {
    const base = { selfId: 'a', lastIndex: 100, maxVoters: 3 };
    const peers = [peer('b', 'standard'), peer('c', 'full'), peer('m', 'minimal')];
    expect(
      planMembershipChange({ ...base, conf: { voters: ['a'], learners: [] }, match: new Map(), peers }),
    ).toEqual({ type: 'add_learner', node: 'b' });
    const caught = new Map([
      ['b', 100],
      ['c', 100],
      ['m', 100],
    ]);
    expect(
      planMembershipChange({
        ...base,
        conf: { voters: ['a'], learners: ['b', 'c', 'm'] },
        match: caught,
        peers,
      }),
    ).toEqual({ type: 'add_voter', node: 'c' });
    expect(
      planMembershipChange({
        ...base,
        conf: { voters: ['a', 'b', 'c'], learners: ['m'] },
        match: caught,
        peers,
      }),
    ).toBeNull();
    expect(
      planMembershipChange({ ...base, conf: { voters: ['a', 'm'], learners: [] }, match: caught, peers }),
    ).toEqual({ type: 'add_learner', node: 'm' });
    // A lagging learner is not promoted.
    expect(
      planMembershipChange({
        ...base,
        conf: { voters: ['a'], learners: ['b', 'c'] },
        match: new Map([
          ['b', 3],
          ['c', 2],
        ]),
        peers: peers.slice(0, 2),
      }),
    ).toBeNull();
    // A voter dead long enough makes room for a caught-up learner.
    const dead = [peer('b', 'standard', 'dead'), peer('c', 'full'), peer('d', 'full')];
    expect(
      planMembershipChange({
        ...base,
        conf: { voters: ['a', 'b', 'c'], learners: ['d'] },
        match: caught.set('d', 100),
        peers: dead,
        deadLongEnough: new Set(['b']),
      }),
    ).toEqual({ type: 'remove', node: 'b' });
  });
});
