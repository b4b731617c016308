/**
 * Replicated KV on 3 local daemons (compiled binary, loopback, port 0,
 * multicast off, gossip join list), side by side with a 3-member etcd 3.4
 * cluster on loopback when etcd is installed (see etcd.ts), in the same run
 * and with the same client code (etcd-load.ts):
 * - throughput: RAFT_KV_CLIENTS (default 1,16,64) closed-loop keep-alive HTTP
 *   clients writing 64-byte values for RAFT_KV_SECONDS (default 10) s after
 *   RAFT_KV_WARMUP_SECONDS (default 2) s of the same load unmeasured, all to
 *   the leader, then spread over the three nodes (followers relay; etcd
 *   members forward): writes/s, p50, p99; then linearizable reads of 100
 *   written keys (ours: ReadIndex `GET /v1/kv/KEY`; etcd: `range`, whose
 *   default is linearizable) by RAFT_KV_READ_CLIENTS (default 1,16) clients
 *   the same way; the two systems' runs alternate so machine noise hits
 *   both alike;
 * - failover: SIGKILL the leader, time until a write through a surviving node
 *   is acknowledged, RAFT_KV_TRIALS (default 10) trials: etcd with its
 *   defaults (heartbeat 100 ms, election 1000 ms), ours with the same timing
 *   (election 1000..2000 ms) and with our defaults (500, 1500..3000 ms);
 * - graceful stop of the leader (SIGTERM for both, as a service manager
 *   stops them; both hand leadership over first), RAFT_KV_GAP_TRIALS
 *   (default 5) times: the longest gap between acknowledged writes of a
 *   client writing continuously through a surviving member (largest and
 *   median over the trials); ours also through `swarm node stop` (the same
 *   path, asked over the API), whose own start-up competes for this
 *   machine's two cores with the three nodes and the client.
 * RAFT_KV_PARTS (default `ours,etcd,failover,default`) runs a subset, for
 * development (`ours,etcd`: the load runs only).
 * Every process started here is SIGKILLed or stopped here, also on error.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, processStartTime } from '../src/node/datadir.js';
import { EtcdCluster, etcdGet, etcdPut, findEtcd, ETCD_ELECTION_MS, ETCD_HEARTBEAT_MS } from './etcd.js';
import {
  call,
  closeAgents,
  firstAck,
  load,
  loadMetrics,
  pct,
  round,
  send,
  sleep,
  VALUE,
  writeGap,
  type LoadResult,
  type View,
  type Write,
  type WriteFn,
} from './etcd-load.js';
import type { BenchGoal, BenchReport } from './types.js';

const BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));
const SECONDS = Number(process.env.RAFT_KV_SECONDS ?? 10);
const TRIALS = Number(process.env.RAFT_KV_TRIALS ?? 10);
const WARMUP_SECONDS = Number(process.env.RAFT_KV_WARMUP_SECONDS ?? 2);
const GAP_TRIALS = Number(process.env.RAFT_KV_GAP_TRIALS ?? 5);
const PARTS = new Set((process.env.RAFT_KV_PARTS ?? 'ours,etcd,failover,default').split(','));
const counts = (v: string): number[] =>
  v
    .split(',')
    .filter((x) => x.trim() !== '')
    .map(Number)
    .filter((x) => Number.isInteger(x) && x > 0);
const WRITE_CLIENTS = counts(process.env.RAFT_KV_CLIENTS ?? '1,16,64');
const READ_CLIENTS = counts(process.env.RAFT_KV_READ_CLIENTS ?? '1,16');
/** The failover goal when etcd is not measured: twice etcd's election timeout. */
const FAILOVER_FALLBACK_MS = 2000;

export interface Daemon {
  dir: string;
  pid: number;
  api: string;
  raftPort: string;
  gossipPort: string;
  alive: boolean;
}

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

export class Cluster {
  readonly root = mkdtempSync(join(tmpdir(), 'bench-raft-kv-'));
  readonly nodes: Daemon[] = [];
  private readonly config = join(this.root, 'config.toml');

  constructor(timing: { hb: number; min: number; max: number }, logLevel = 'warn') {
    writeFileSync(
      this.config,
      `[network]\ngossip_port = 0\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n[api]\nport = 0\n` +
        `[raft]\nport = 0\nbootstrap_expect = 3\n[logging]\nlevel = "${logLevel}"\n[consensus]\n` +
        `heartbeat_interval_ms = ${timing.hb}\nelection_timeout_min_ms = ${timing.min}\nelection_timeout_max_ms = ${timing.max}\n`,
    );
  }

  async startNode(
    dir: string,
    join_: string | null,
    ports?: { raft: string; gossip: string; api?: string },
  ): Promise<Daemon> {
    const args = ['--config', this.config, 'node', 'start', '--json', '--data-dir', dir];
    if (join_) args.push('--join', join_);
    if (ports) args.push('--raft-port', ports.raft, '--gossip-port', ports.gossip);
    if (ports?.api) args.push('--api-port', ports.api);
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

  /** Graceful stop through the CLI (`swarm node stop` waits until the process has exited). */
  async stop(d: Daemon): Promise<void> {
    d.alive = false;
    await run(['--config', this.config, 'node', 'stop', '--data-dir', d.dir]);
  }

  /**
   * Graceful stop by SIGTERM (the same hand-over and leave), resolved once the process has exited.
   * A zombie has exited: a daemon (its launcher gone) is reaped by PID 1, which on this VM takes
   * 1.3-1.9 s, and kill(pid, 0) succeeds until then; the trial's window (1 s after the exit) then
   * ran that much longer than etcd's, whose members are this process's children and reaped at once,
   * and `swarm node stop`'s (isAlive, as here).
   */
  async terminate(d: Daemon): Promise<void> {
    d.alive = false;
    const ref = { pid: d.pid, start: processStartTime(d.pid) };
    process.kill(d.pid, 'SIGTERM');
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      if (!isAlive(ref)) return;
      await sleep(5);
    }
    throw new Error(`node PID ${d.pid} did not exit within 15 s of SIGTERM`);
  }

  async stopAll(): Promise<void> {
    for (const d of this.nodes) if (d.alive) process.kill(d.pid, 'SIGKILL');
    await sleep(200);
    rmSync(this.root, { recursive: true, force: true });
  }
}

const key = (c: number, seq: number): string => `bench-${c}-${seq % 1000}`;
const BODY = JSON.stringify({ value: VALUE });
const ourPut = (api: string, k: string, body = BODY): Write => ({
  url: `${api}/v1/kv/${k}`,
  method: 'PUT',
  body,
});
/**
 * Client `c`'s `seq`-th request goes to targets[(c + seq) mod n]: each client moves round the members
 * (so one client spread over three nodes is not one client on one node), and at any moment the
 * clients are spread evenly over them.
 */
const spreadOver = (
  targets: string[],
  req: (target: string, k: string) => Write,
  keyOf: (c: number, seq: number) => string,
): WriteFn => {
  return (c, seq) => req(targets[(c + seq) % targets.length]!, keyOf(c, seq));
};

/** A member set as both systems' failover and graceful-stop trials see it. */
interface Trial<M> {
  leader(): Promise<M>;
  survivor(leader: M): M;
  view(m: M): Promise<View>;
  write(via: M, i: number): Write;
  kill(m: M): void;
  /** Graceful stop (both systems hand leadership over first); resolves once the process has exited. */
  stop(m: M): Promise<void>;
  /** Brings the killed member back and waits until it has rejoined a cluster with a leader. */
  recover(m: M): Promise<void>;
}

/** Time from SIGKILL of the leader until a write through a survivor is acknowledged. */
async function failover<M>(t: Trial<M>): Promise<number> {
  const leader = await t.leader();
  const old = (await t.view(leader))?.self;
  if (!old) throw new Error('the leader does not report its id');
  const other = t.survivor(leader);
  // Warm the path so connection setup does not count.
  await send(t.write(other, 0));
  const t0 = performance.now();
  t.kill(leader);
  const ms = await firstAck(
    () => t.view(other),
    old,
    (i) => t.write(other, i),
    t0,
  );
  await t.recover(leader);
  // Let the restarted node catch up before the next trial.
  await sleep(1500);
  return ms;
}

async function failovers<M>(t: Trial<M>): Promise<number[]> {
  const fo: number[] = [];
  for (let i = 0; i < TRIALS; i++) fo.push(await failover(t));
  return fo;
}

function failoverMetrics(prefix: string, fo: number[]): Record<string, number> {
  return { [`${prefix}median_ms`]: round(pct(fo, 50), 0), [`${prefix}max_ms`]: round(Math.max(...fo), 0) };
}

/**
 * Graceful stops of the leader, GAP_TRIALS times (the stopped member is
 * restarted between them): the largest and the median write gap seen by a
 * client writing through a survivor; each gap and the failed writes in details.
 */
async function gracefulGaps<M>(
  t: Trial<M>,
  prefix: string,
  details: Record<string, unknown>,
): Promise<Record<string, number>> {
  const gaps: number[] = [];
  const gapEnds: string[] = [];
  let failed = 0;
  const firstFailures: string[] = [];
  for (let n = 0; n < GAP_TRIALS; n++) {
    const leader = await t.leader();
    const other = t.survivor(leader);
    const r = await writeGap(
      (i) => t.write(other, i),
      () => t.stop(leader),
    );
    gaps.push(r.gapMs);
    // Ms after the stop began that the largest gap ended (a hand-over's gap ends within ~20 ms),
    // and its wall-clock time (ISO) to line it up with other records of the machine.
    gapEnds.push(`${round(r.gapEndMs, 0)} ms (${new Date(r.gapEndWall).toISOString()})`);
    failed += r.failed;
    firstFailures.push(...r.firstFailures);
    await t.recover(leader);
    await sleep(1500);
  }
  details[`${prefix}write_gaps_ms`] = gaps.map((x) => round(x, 1));
  details[`${prefix}write_gap_ends`] = gapEnds;
  details[`${prefix}failed_writes`] = failed;
  details[`${prefix}first_failures`] = firstFailures;
  return {
    [`${prefix}write_gap_ms`]: round(Math.max(...gaps), 1),
    [`${prefix}write_gap_median_ms`]: round(pct(gaps, 50), 1),
  };
}

export function ourTrial(c: Cluster, stop: 'signal' | 'cli' = 'signal'): Trial<Daemon> {
  return {
    leader: () => c.leader(20_000, 3),
    survivor: (l) => c.nodes.find((n) => n.alive && n !== l)!,
    view: async (d) => {
      const r = await call(`${d.api}/v1/leader`, 'GET', undefined, 1000);
      return r.status === 200 ? (JSON.parse(r.text) as { self: string; leader: string | null }) : null;
    },
    write: (via, i) => ourPut(via.api, 'probe', JSON.stringify({ value: i })),
    kill: (d) => c.kill(d),
    stop: (d) => (stop === 'cli' ? c.stop(d) : c.terminate(d)),
    recover: async (d) => {
      await c.restart(d);
      await c.leader(20_000, 3);
    },
  };
}

function etcdTrial(e: EtcdCluster): Trial<EtcdCluster['members'][number]> {
  return {
    leader: () => e.leader(),
    survivor: (l) => e.members.find((m) => m.alive && m !== l)!,
    view: (m) => e.view(m),
    write: (via, i) => etcdPut(via.client, 'probe', String(i)),
    kill: (m) => e.kill(m),
    stop: async (m) => {
      e.kill(m, 'SIGTERM');
      await e.exited(m);
    },
    recover: async (m) => {
      await e.restart(m);
      await e.leader();
    },
  };
}

type Metrics = BenchReport['metrics'];

/** Keys the read loads read, written to both systems before them (a read of a missing key is a 404). */
const READ_KEYS = 100;
const readKey = (c: number, seq: number): string => `read-${(c * 7 + seq) % READ_KEYS}`;
const ourGet = (api: string, k: string): Write => ({ url: `${api}/v1/kv/${k}`, method: 'GET', body: '' });

/** Writes the read loads' keys through `put`; throws if one is refused (the reads would then 404). */
async function fillReadKeys(target: string, put: (target: string, k: string) => Write): Promise<void> {
  for (let i = 0; i < READ_KEYS; i++) {
    const r = await send(put(target, `read-${i}`));
    if (r.status !== 200)
      throw new Error(`writing read-${i} to ${target}: ${r.status} ${r.text.slice(0, 200)}`);
  }
}

/**
 * Our cluster's and etcd's load runs, alternating so machine noise hits both alike: for each write
 * client count, to the leader (ours, etcd) then spread over the members (ours, etcd); then for each
 * read client count, linearizable reads to the leader then spread, the same way.
 */
async function throughput(
  c: Cluster | null,
  e: EtcdCluster | null,
  metrics: Metrics,
  details: Record<string, unknown>,
): Promise<void> {
  const errors: Record<string, number> = {};
  const measure = async (
    name: string,
    req: WriteFn,
    clients: number,
    unit: 'writes' | 'reads',
  ): Promise<void> => {
    // Unmeasured first: our nodes run JavaScript, whose first second of load runs in V8's interpreter
    // and baseline compilers (a node in service has long been warm); etcd gets the same warm-up.
    if (WARMUP_SECONDS > 0) await load(req, WARMUP_SECONDS, clients);
    const r: LoadResult = await load(req, SECONDS, clients);
    Object.assign(metrics, loadMetrics(`${name}_`, r, SECONDS, unit));
    errors[name] = r.errors;
  };
  const ours = c?.nodes.map((n) => n.api) ?? [];
  const etcds = e?.members.map((m) => m.client) ?? [];
  const ourLeader = async (): Promise<string[]> => [(await c!.leader(20_000, 3)).api];
  const etcdLeader = async (): Promise<string[]> => [(await e!.leader()).client];
  for (const n of WRITE_CLIENTS) {
    if (c) await measure(`leader_c${n}`, spreadOver(await ourLeader(), ourPut, key), n, 'writes');
    if (e) await measure(`etcd_leader_c${n}`, spreadOver(await etcdLeader(), etcdPut, key), n, 'writes');
    if (c) await measure(`spread_c${n}`, spreadOver(ours, ourPut, key), n, 'writes');
    if (e) await measure(`etcd_spread_c${n}`, spreadOver(etcds, etcdPut, key), n, 'writes');
  }
  if (READ_CLIENTS.length > 0) {
    if (c) await fillReadKeys((await ourLeader())[0]!, ourPut);
    if (e) await fillReadKeys((await etcdLeader())[0]!, etcdPut);
  }
  for (const n of READ_CLIENTS) {
    if (c) await measure(`read_leader_c${n}`, spreadOver(await ourLeader(), ourGet, readKey), n, 'reads');
    if (e)
      await measure(`etcd_read_leader_c${n}`, spreadOver(await etcdLeader(), etcdGet, readKey), n, 'reads');
    if (c) await measure(`read_spread_c${n}`, spreadOver(ours, ourGet, readKey), n, 'reads');
    if (e) await measure(`etcd_read_spread_c${n}`, spreadOver(etcds, etcdGet, readKey), n, 'reads');
  }
  details.errors = errors;
}

/** Our cluster with etcd's timing and the etcd cluster: throughput (alternating), failover, graceful stop. */
async function sideBySide(
  etcdBin: string | null,
  metrics: Metrics,
  details: Record<string, unknown>,
): Promise<void> {
  const timing = { hb: ETCD_HEARTBEAT_MS, min: ETCD_ELECTION_MS, max: 2 * ETCD_ELECTION_MS };
  const c = PARTS.has('ours') ? new Cluster(timing) : null;
  let e = etcdBin !== null ? new EtcdCluster(etcdBin) : null;
  try {
    await c?.start();
    try {
      await e?.start();
    } catch (err) {
      // etcd that cannot start is reported (figures null), not a failed benchmark.
      details.etcd = `not measured: etcd did not start: ${err instanceof Error ? err.message : String(err)}`;
      await e?.stopAll();
      e = null;
    }
    await throughput(c, e, metrics, details);
    if (c && PARTS.has('failover')) {
      const fo = await failovers(ourTrial(c));
      details.failover_ms = fo.map((x) => round(x, 0));
      Object.assign(metrics, failoverMetrics('failover_etcd_timing_', fo));
      Object.assign(metrics, await gracefulGaps(ourTrial(c), 'graceful_stop_', details));
      Object.assign(metrics, await gracefulGaps(ourTrial(c, 'cli'), 'graceful_cli_stop_', details));
    }
    if (e && PARTS.has('failover')) {
      const fo = await failovers(etcdTrial(e));
      details.etcd_failover_ms = fo.map((x) => round(x, 0));
      Object.assign(metrics, failoverMetrics('etcd_failover_', fo));
      Object.assign(metrics, await gracefulGaps(etcdTrial(e), 'etcd_graceful_stop_', details));
    }
  } finally {
    await c?.stopAll();
    await e?.stopAll();
  }
}

/** The same failover with our default timing (heartbeat 500 ms, election 1500..3000 ms). */
async function defaultTiming(metrics: Metrics, details: Record<string, unknown>): Promise<void> {
  const d = new Cluster({ hb: 500, min: 1500, max: 3000 });
  try {
    await d.start();
    const fo = await failovers(ourTrial(d));
    details.failover_default_timing_ms = fo.map((x) => round(x, 0));
    Object.assign(metrics, failoverMetrics('failover_default_timing_', fo));
  } finally {
    await d.stopAll();
  }
}

export default async function bench(): Promise<BenchReport> {
  const metrics: Metrics = {};
  const details: Record<string, unknown> = {
    seconds: SECONDS,
    warmup_seconds: WARMUP_SECONDS,
    write_clients: WRITE_CLIENTS,
    read_clients: READ_CLIENTS,
    value_bytes: 64,
    trials: TRIALS,
    graceful_trials: GAP_TRIALS,
  };

  const found = PARTS.has('etcd')
    ? findEtcd()
    : { bin: null, reason: 'not measured: RAFT_KV_PARTS has no etcd' };
  details.etcd =
    found.bin !== null
      ? { version: found.version, heartbeat_ms: ETCD_HEARTBEAT_MS, election_ms: ETCD_ELECTION_MS }
      : found.reason;
  try {
    await sideBySide(found.bin, metrics, details);
    if (PARTS.has('default')) await defaultTiming(metrics, details);
  } finally {
    closeAgents();
  }

  ratios(metrics);
  return {
    name: 'raft-kv',
    description:
      '3 local daemons beside a 3-member etcd 3.4 cluster (same run, same client code): ' +
      `writes of 64-byte values by ${WRITE_CLIENTS.join('/')} closed-loop keep-alive clients and linearizable reads by ` +
      `${READ_CLIENTS.join('/')}, ${SECONDS} s each to the leader and spread over the members; ` +
      'failover after SIGKILL of the leader (etcd timing 100/1000 ms, and our default timing); ' +
      'write gap on a graceful leader stop by SIGTERM (largest of 5; ours also by `swarm node stop`)',
    metrics: ordered(metrics),
    goals: goals(metrics),
    details,
  };
}

/** Write throughput against etcd's (../shared/design.md): at least 1.5x at 16 and more clients, 1.0x at one. */
const writeRatioGoal = (clients: number): number => (clients >= 16 ? 1.5 : 1.0);

/** ours / etcd's for each write load, as `<load>_writes_vs_etcd`, where both were measured. */
function ratios(m: Metrics): void {
  for (const n of WRITE_CLIENTS) {
    for (const where of ['leader', 'spread']) {
      const ours = m[`${where}_c${n}_writes_per_s`];
      const etcd = m[`etcd_${where}_c${n}_writes_per_s`];
      if (typeof ours === 'number' && typeof etcd === 'number' && etcd > 0)
        m[`${where}_c${n}_writes_vs_etcd`] = round(ours / etcd, 2);
    }
  }
}

/** Goals against etcd's figures of this same run; absolute stand-ins only where etcd was not measured. */
function goals(m: Metrics): BenchGoal[] {
  const num = (k: string): number | null => (typeof m[k] === 'number' ? (m[k] as number) : null);
  const g: BenchGoal[] = [];
  for (const n of WRITE_CLIENTS) {
    for (const where of ['leader', 'spread']) {
      const load = `${where}_c${n}`;
      if (num(`${load}_writes_vs_etcd`) !== null)
        g.push({ metric: `${load}_writes_vs_etcd`, op: '>=', target: writeRatioGoal(n) });
      const etcdP99 = num(`etcd_${load}_p99_ms`);
      if (etcdP99 !== null) g.push({ metric: `${load}_p99_ms`, op: '<=', target: etcdP99 });
    }
  }
  for (const n of READ_CLIENTS) {
    for (const where of ['leader', 'spread']) {
      const etcdP99 = num(`etcd_read_${where}_c${n}_p99_ms`);
      if (etcdP99 !== null) g.push({ metric: `read_${where}_c${n}_p99_ms`, op: '<=', target: etcdP99 });
    }
  }
  if (PARTS.has('failover')) {
    const etcdFailover = num('etcd_failover_median_ms');
    g.push({
      metric: 'failover_etcd_timing_median_ms',
      op: '<',
      target: etcdFailover ?? FAILOVER_FALLBACK_MS,
    });
    g.push({ metric: 'graceful_stop_write_gap_ms', op: '<', target: 20 });
  }
  return g;
}

/** Each of our figures next to etcd's, so the generated table reads as a comparison; null where not measured. */
function ordered(m: Metrics): Metrics {
  const keys: string[] = [];
  const pair = (k: string): void => {
    keys.push(k, `etcd_${k}`);
  };
  for (const n of WRITE_CLIENTS) {
    for (const where of ['leader', 'spread']) {
      const load = `${where}_c${n}`;
      pair(`${load}_writes_per_s`);
      keys.push(`${load}_writes_vs_etcd`);
      pair(`${load}_p50_ms`);
      pair(`${load}_p99_ms`);
    }
  }
  for (const n of READ_CLIENTS) {
    for (const where of ['leader', 'spread']) {
      const load = `read_${where}_c${n}`;
      pair(`${load}_reads_per_s`);
      pair(`${load}_p50_ms`);
      pair(`${load}_p99_ms`);
    }
  }
  if (PARTS.has('failover'))
    keys.push(
      'failover_etcd_timing_median_ms',
      'etcd_failover_median_ms',
      'failover_default_timing_median_ms',
      'failover_etcd_timing_max_ms',
      'etcd_failover_max_ms',
      'failover_default_timing_max_ms',
      'graceful_stop_write_gap_ms',
      'etcd_graceful_stop_write_gap_ms',
      'graceful_stop_write_gap_median_ms',
      'etcd_graceful_stop_write_gap_median_ms',
      'graceful_cli_stop_write_gap_ms',
      'graceful_cli_stop_write_gap_median_ms',
    );
  return Object.fromEntries(keys.map((k) => [k, m[k] ?? null]));
}
