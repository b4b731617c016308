/**
 * Restart to first linearizable read with 100,000 keys, ours against etcd 3.4
 * in the same run, with the same method and client code for both:
 * - 3 members on loopback (ours: the raft-kv benchmark's Cluster, multicast
 *   off, join lists, etcd's timing 100/1000 ms; etcd: its EtcdCluster);
 * - RESTART_KEYS (default 100,000) keys of 64 B written through the leader by
 *   RESTART_FILL_CLIENTS (default 32) clients, bounded by RESTART_FILL_S
 *   (default 150) s, then a wait until every member has applied all of them;
 * - follower restart: SIGKILL one follower, and from the restart command
 *   (ours: `swarm node start --foreground` on the same data dir and ports, as
 *   its systemd unit runs it; etcd: the etcd
 *   process) until the first successful linearizable read served BY THAT
 *   member (ours: `GET /v1/kv/k` on its API; etcd: `POST /v3/kv/range` on its
 *   endpoint, serializable=false);
 * - whole cluster: all 3 SIGKILLed, all 3 restarted at once, until the first
 *   linearizable read on any member (and on all three, in details).
 * A probe is sent every 10 ms without waiting for the previous one (at most
 * 50 in flight), so a read that the server holds until it is ready counts when
 * it is answered, not when a client timeout expires. RESTART_TRIALS (default
 * 3) trials each: median and max. Where our time goes comes from the restarted
 * node's log (info level): process and module start until `gossip started`,
 * WAL and snapshot load plus applier restore until `raft listening`, the API
 * until `api listening`, the restart hint (a quorum of voters seen up, so the
 * node campaigns soon), then the election/catch-up until the first read.
 * Both systems are set up first (filled, idle side by side), then their
 * trials alternate, ours then etcd, so that load from elsewhere on a shared
 * machine falls on both alike. RESTART_PARTS (default `ours,etcd`) runs a
 * subset. Every process started here is killed here by PID, also on error.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdCluster, etcdPut, findEtcd, ETCD_ELECTION_MS, ETCD_HEARTBEAT_MS } from './etcd.js';
import { call, closeAgents, pct, round, send, sleep, VALUE, type Write } from './etcd-load.js';
import { Cluster, type Daemon } from './raft-kv.bench.js';
import type { BenchGoal, BenchReport } from './types.js';

const BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));

const KEYS = Number(process.env.RESTART_KEYS ?? 100_000);
const FILL_CLIENTS = Number(process.env.RESTART_FILL_CLIENTS ?? 32);
const FILL_S = Number(process.env.RESTART_FILL_S ?? 150);
const TRIALS = Number(process.env.RESTART_TRIALS ?? 3);
const PARTS = new Set((process.env.RESTART_PARTS ?? 'ours,etcd').split(','));
const POLL_MS = 10;
const MAX_IN_FLIGHT = 300;
const PROBE_TIMEOUT_MS = 3000;
const READ_DEADLINE_MS = 30_000;
const PROBE_KEY = 'k';

type Metrics = BenchReport['metrics'];
type Details = Record<string, unknown>;

const fillKey = (i: number): string => `key-${String(i).padStart(6, '0')}`;

/** Writes KEYS keys through `put`, FILL_CLIENTS at a time, each retried up to 3 times, within FILL_S. */
async function fill(
  put: (k: string) => Write,
): Promise<{ written: number; errors: number; seconds: number }> {
  const t0 = performance.now();
  const end = t0 + FILL_S * 1000;
  let next = 0;
  let written = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: FILL_CLIENTS }, async () => {
      while (next < KEYS && performance.now() < end) {
        const k = fillKey(next++);
        for (let attempt = 0; attempt < 3; attempt++) {
          const r = await send(put(k), 5000);
          if (r.status === 200) {
            written++;
            break;
          }
          errors++;
        }
      }
    }),
  );
  if (written < KEYS) throw new Error(`fill: only ${written}/${KEYS} keys written in ${FILL_S} s`);
  return { written, errors, seconds: round((performance.now() - t0) / 1000, 1) };
}

/**
 * Time from `t0` until the first read for which `ok` holds: a request every
 * POLL_MS, not waiting for earlier ones (at most MAX_IN_FLIGHT), so a read
 * the server holds until it is ready counts when it is answered.
 */
function firstRead(
  read: () => Promise<{ status: number; text: string }>,
  ok: (r: { status: number; text: string }) => boolean,
  t0: number,
): Promise<ReadTiming> {
  return new Promise((resolve, reject) => {
    let done = false;
    let inFlight = 0;
    let answeredMs: number | null = null;
    let lastFailure: string | null = null;
    const deadline = t0 + READ_DEADLINE_MS;
    const tick = (): void => {
      if (done) return;
      if (performance.now() > deadline) {
        done = true;
        reject(new Error(`no linearizable read within ${READ_DEADLINE_MS} ms (last: ${lastFailure})`));
        return;
      }
      if (inFlight < MAX_IN_FLIGHT) {
        inFlight++;
        void read().then((r) => {
          inFlight--;
          if (done) return;
          const at = performance.now() - t0;
          if (r.status !== 0) answeredMs ??= round(at, 0);
          if (ok(r)) {
            done = true;
            resolve({ ms: at, answeredMs, lastFailure });
          } else if (r.status !== 0) lastFailure = `${round(at, 0)} ms: ${r.status} ${r.text.slice(0, 160)}`;
        });
      }
      setTimeout(tick, POLL_MS);
    };
    tick();
  });
}

/** The first read's time, when the server first answered at all, and its last refusal before. */
interface ReadTiming {
  ms: number;
  answeredMs: number | null;
  lastFailure: string | null;
}

/** The restart of some members: the one first-read time per member, and the earliest. */
interface RestartTiming {
  first: number;
  all: number;
  perMember: number[];
  reads: ReadTiming[];
}

async function timeReads(reads: (() => Promise<ReadTiming>)[]): Promise<RestartTiming> {
  const rs = await Promise.all(reads.map((r) => r()));
  const perMember = rs.map((r) => r.ms);
  return { first: Math.min(...perMember), all: Math.max(...perMember), perMember, reads: rs };
}

// ------------------------------------------------------------------ ours

/**
 * One probe on a connection of its own (no keep-alive agent): a probe the
 * server holds must not queue the next ones behind it in an agent's socket pool.
 */
function probe(url: string, method: string, body?: string): Promise<{ status: number; text: string }> {
  return call(url, method, body, PROBE_TIMEOUT_MS, false);
}

const ourRead = (api: string): Promise<{ status: number; text: string }> =>
  probe(`${api}/v1/kv/${PROBE_KEY}`, 'GET');
const ourOk = (r: { status: number; text: string }): boolean => r.status === 200 && r.text.includes(VALUE);
const ourPutBody = JSON.stringify({ value: VALUE });
const ourPut =
  (api: string) =>
  (k: string): Write => ({ url: `${api}/v1/kv/${k}`, method: 'PUT', body: ourPutBody });

const apiPort = (d: Daemon): string => new URL(d.api).port;

async function pidGone(pid: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(5);
  }
  throw new Error(`PID ${pid} still alive ${ms} ms after SIGKILL`);
}

/** Until every live node has applied what the leader has committed now. */
async function ourApplied(c: Cluster, ms = 60_000): Promise<void> {
  const leader = await c.leader(20_000, 3);
  const lr = JSON.parse((await call(`${leader.api}/v1/leader`, 'GET')).text) as { commit: number };
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const st = await Promise.all(
      c.nodes.map(async (d) => {
        const r = await call(`${d.api}/v1/leader`, 'GET', undefined, 2000);
        return r.status === 200 ? (JSON.parse(r.text) as { applied: number }).applied : -1;
      }),
    );
    if (st.every((a) => a >= lr.commit)) return;
    await sleep(50);
  }
  throw new Error(`ours: members did not apply index ${lr.commit} within ${ms} ms`);
}

interface LogMark {
  ms: number;
  msg: string;
}

/** The node's log lines written since byte `from`, as ms after `t0Wall` (Date.now() at the restart command). */
function logMarks(dir: string, from: number, t0Wall: number): LogMark[] {
  let text = '';
  try {
    text = readFileSync(join(dir, 'node.log')).subarray(from).toString('utf8');
  } catch {
    return [];
  }
  const out: LogMark[] = [];
  for (const line of text.split('\n')) {
    try {
      const rec = JSON.parse(line) as { ts?: string; msg?: string; role?: string; leader?: string | null };
      if (!rec.ts || !rec.msg) continue;
      const msg =
        rec.msg === 'raft role'
          ? `raft role ${rec.role ?? '?'}${rec.leader ? ' (leader known)' : ''}`
          : rec.msg;
      out.push({ ms: Date.parse(rec.ts) - t0Wall, msg });
    } catch {
      // not a JSON line
    }
  }
  return out;
}

const logSize = (dir: string): number => {
  try {
    return statSync(join(dir, 'node.log')).size;
  } catch {
    return 0;
  }
};

/** Phases of one restart from the node's log: ms from the restart command to each first mark. */
function phases(marks: LogMark[], read: ReadTiming): Record<string, number | string | null> {
  const at = (pred: (m: string) => boolean): number | null => marks.find((m) => pred(m.msg))?.ms ?? null;
  return {
    first_log_line: marks[0]?.ms ?? null,
    gossip_started: at((m) => m === 'gossip started'),
    raft_listening: at((m) => m === 'raft listening'),
    api_listening: at((m) => m === 'api listening'),
    node_started: at((m) => m === 'node started'),
    restart_hint: at((m) => m.startsWith('raft restarted with a quorum up')),
    leader_known: at((m) => m.startsWith('raft role') && m.endsWith('(leader known)')),
    first_answer: read.answeredMs,
    first_read: round(read.ms, 0),
    last_refusal: read.lastFailure,
  };
}

/**
 * Restarts a killed node as its service does (docs/operations.md: systemd runs
 * `swarm node start --foreground`), on its data dir and its ports, JSON logs
 * appended to its node.log; the bench holds its PID and kills it.
 */
function startForeground(c: Cluster, d: Daemon, seeds: string): void {
  const args = [
    BIN,
    '--config',
    join(c.root, 'config.toml'),
    'node',
    'start',
    '--foreground',
    '--data-dir',
    d.dir,
    '--join',
    seeds,
    '--raft-port',
    d.raftPort,
    '--gossip-port',
    d.gossipPort,
    '--api-port',
    apiPort(d),
  ];
  const log = openSync(join(d.dir, 'node.log'), 'a');
  try {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', log] });
    if (p.pid === undefined) throw new Error(`could not spawn a node on ${d.dir}`);
    p.unref();
    d.pid = p.pid;
    d.alive = true;
  } finally {
    closeSync(log);
  }
}

async function restartOurs(c: Cluster, ds: Daemon[]): Promise<{ timing: RestartTiming; phases: unknown[] }> {
  for (const d of ds) c.kill(d);
  await Promise.all(ds.map((d) => pidGone(d.pid)));
  const froms = ds.map((d) => logSize(d.dir));
  const seeds = (d: Daemon): string =>
    c.nodes
      .filter((n) => n !== d)
      .map((n) => `127.0.0.1:${n.gossipPort}`)
      .join(',');
  const apis = ds.map((d) => d.api);
  const t0Wall = Date.now();
  const t0 = performance.now();
  for (const d of ds) startForeground(c, d, seeds(d));
  const timing = await timeReads(apis.map((api) => () => firstRead(() => ourRead(api), ourOk, t0)));
  const ph = ds.map((d, i) => phases(logMarks(d.dir, froms[i]!, t0Wall), timing.reads[i]!));
  return { timing, phases: ph };
}

/** One system under test: set up (started, filled, applied), one restart trial of each kind, stop. */
interface System {
  followerTrial(): Promise<{ ms: number; detail: unknown }>;
  clusterTrial(): Promise<{ first: number; perMember: number[]; detail: unknown }>;
  stop(): Promise<void>;
}

async function ours(details: Details): Promise<System> {
  const c = new Cluster({ hb: ETCD_HEARTBEAT_MS, min: ETCD_ELECTION_MS, max: 2 * ETCD_ELECTION_MS }, 'info');
  try {
    await c.start();
    const leader = await c.leader(20_000, 3);
    details.fill = await fill(ourPut(leader.api));
    if ((await send(ourPut(leader.api)(PROBE_KEY))).status !== 200)
      throw new Error('ours: probe key write failed');
    await ourApplied(c);
  } catch (err) {
    await c.stopAll();
    throw err;
  }
  return {
    async followerTrial() {
      const l = await c.leader(20_000, 3);
      const f = c.nodes.find((n) => n !== l)!;
      const r = await restartOurs(c, [f]);
      await c.leader(20_000, 3);
      await ourApplied(c);
      return { ms: r.timing.first, detail: r.phases[0] };
    },
    async clusterTrial() {
      const r = await restartOurs(c, [...c.nodes]);
      await c.leader(20_000, 3);
      await ourApplied(c);
      return { first: r.timing.first, perMember: r.timing.perMember, detail: r.phases };
    },
    stop: () => c.stopAll(),
  };
}

// ------------------------------------------------------------------ etcd

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const etcdRead = (client: string): Promise<{ status: number; text: string }> =>
  probe(`${client}/v3/kv/range`, 'POST', JSON.stringify({ key: b64(PROBE_KEY) }));
const etcdOk = (r: { status: number; text: string }): boolean => {
  if (r.status !== 200) return false;
  try {
    const kvs = (JSON.parse(r.text) as { kvs?: { value?: string }[] }).kvs;
    return kvs?.[0]?.value === b64(VALUE);
  } catch {
    return false;
  }
};

interface EtcdStatus {
  raftIndex?: string;
  raftAppliedIndex?: string;
}

async function etcdStatus(client: string): Promise<EtcdStatus | null> {
  const r = await call(`${client}/v3/maintenance/status`, 'POST', '{}', 2000);
  return r.status === 200 ? (JSON.parse(r.text) as EtcdStatus) : null;
}

async function etcdApplied(e: EtcdCluster, ms = 60_000): Promise<void> {
  const leader = await e.leader();
  const target = Number((await etcdStatus(leader.client))?.raftIndex ?? NaN);
  if (!Number.isFinite(target)) throw new Error('etcd: leader status has no raftIndex');
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const st = await Promise.all(e.members.map((m) => etcdStatus(m.client)));
    if (st.every((s) => s !== null && Number(s.raftAppliedIndex ?? s.raftIndex ?? -1) >= target)) return;
    await sleep(50);
  }
  throw new Error(`etcd: members did not apply index ${target} within ${ms} ms`);
}

type EtcdMember = EtcdCluster['members'][number];

async function restartEtcd(e: EtcdCluster, ms: EtcdMember[]): Promise<RestartTiming> {
  for (const m of ms) e.kill(m);
  await Promise.all(ms.map((m) => e.exited(m)));
  const t0 = performance.now();
  await Promise.all(ms.map((m) => e.restart(m)));
  return timeReads(ms.map((m) => () => firstRead(() => etcdRead(m.client), etcdOk, t0)));
}

async function etcd(bin: string, details: Details): Promise<System> {
  const e = new EtcdCluster(bin);
  try {
    await e.start();
    const leader = await e.leader();
    details.etcd_fill = await fill((k) => etcdPut(leader.client, k));
    if ((await send(etcdPut(leader.client, PROBE_KEY))).status !== 200)
      throw new Error('etcd: probe key write failed');
    await etcdApplied(e);
  } catch (err) {
    await e.stopAll();
    throw err;
  }
  return {
    async followerTrial() {
      const l = await e.leader();
      const f = e.members.find((m) => m !== l)!;
      const r = await restartEtcd(e, [f]);
      await e.leader();
      await etcdApplied(e);
      return {
        ms: r.first,
        detail: { first_answer: r.reads[0]!.answeredMs, last_refusal: r.reads[0]!.lastFailure },
      };
    },
    async clusterTrial() {
      const r = await restartEtcd(e, [...e.members]);
      await e.leader();
      await etcdApplied(e);
      return { first: r.first, perMember: r.perMember, detail: null };
    },
    stop: () => e.stopAll(),
  };
}

/**
 * Both systems filled and idle side by side, then their trials interleaved
 * (ours, etcd, ours, ...), so that load from elsewhere on the machine drifts
 * through both alike instead of favouring whichever ran in a quiet minute.
 */
async function runTrials(
  systems: { prefix: string; sys: System }[],
  metrics: Metrics,
  details: Details,
): Promise<void> {
  const follower = new Map(systems.map((x) => [x.prefix, [] as number[]]));
  const followerDetail = new Map(systems.map((x) => [x.prefix, [] as unknown[]]));
  const whole = new Map(systems.map((x) => [x.prefix, [] as { first: number; perMember: number[] }[]]));
  const wholeDetail = new Map(systems.map((x) => [x.prefix, [] as unknown[]]));
  for (let i = 0; i < TRIALS; i++) {
    for (const { prefix, sys } of systems) {
      const r = await sys.followerTrial();
      follower.get(prefix)!.push(r.ms);
      followerDetail.get(prefix)!.push(r.detail);
    }
  }
  for (let i = 0; i < TRIALS; i++) {
    for (const { prefix, sys } of systems) {
      const r = await sys.clusterTrial();
      whole.get(prefix)!.push(r);
      wholeDetail.get(prefix)!.push(r.detail);
    }
  }
  for (const { prefix } of systems) {
    const f = follower.get(prefix)!;
    const w = whole.get(prefix)!;
    Object.assign(metrics, trialMetrics(`${prefix}follower_restart_read_`, f));
    Object.assign(
      metrics,
      trialMetrics(
        `${prefix}cluster_restart_read_`,
        w.map((x) => x.first),
      ),
    );
    details[`${prefix}follower_restart_read_ms`] = f.map((x) => round(x, 0));
    details[`${prefix}cluster_restart_read_ms`] = w.map((x) => x.perMember.map((y) => round(y, 0)));
    if (prefix === '') {
      details.follower_restart_phases_ms = followerDetail.get(prefix);
      details.cluster_restart_phases_ms = wholeDetail.get(prefix);
    } else {
      details[`${prefix}follower_restart_answers`] = followerDetail.get(prefix);
    }
  }
}

// ------------------------------------------------------------------ report

function trialMetrics(prefix: string, xs: number[]): Record<string, number> {
  return { [`${prefix}median_ms`]: round(pct(xs, 50), 0), [`${prefix}max_ms`]: round(Math.max(...xs), 0) };
}

export default async function bench(): Promise<BenchReport> {
  const metrics: Metrics = {};
  const details: Details = {
    keys: KEYS,
    value_bytes: VALUE.length,
    fill_clients: FILL_CLIENTS,
    trials: TRIALS,
    poll_ms: POLL_MS,
    timing: { heartbeat_ms: ETCD_HEARTBEAT_MS, election_ms: ETCD_ELECTION_MS },
  };
  const found = PARTS.has('etcd')
    ? findEtcd()
    : { bin: null, reason: 'not measured: RESTART_PARTS has no etcd' };
  details.etcd = found.bin !== null ? { version: found.version } : found.reason;
  const systems: { prefix: string; sys: System }[] = [];
  try {
    if (PARTS.has('ours')) systems.push({ prefix: '', sys: await ours(details) });
    if (found.bin !== null) systems.push({ prefix: 'etcd_', sys: await etcd(found.bin, details) });
    await runTrials(systems, metrics, details);
  } finally {
    for (const { sys } of systems) await sys.stop();
    closeAgents();
  }
  return {
    name: 'raft-restart',
    description:
      `Restart to first linearizable read with ${KEYS} keys of 64 B, ours beside etcd 3.4 in the same run ` +
      '(3 members on loopback, etcd timing 100/1000 ms): one follower SIGKILLed and restarted, read from it; ' +
      `all 3 SIGKILLed and restarted, first read on any member; from the restart command, polled every 10 ms, ${TRIALS} trials`,
    metrics: ordered(metrics),
    goals: goals(metrics),
    details,
  };
}

function goals(m: Metrics): BenchGoal[] {
  const g: BenchGoal[] = [];
  for (const k of ['follower_restart_read_median_ms', 'cluster_restart_read_median_ms']) {
    const target = m[`etcd_${k}`];
    if (typeof target === 'number') g.push({ metric: k, op: '<=', target });
  }
  return g;
}

function ordered(m: Metrics): Metrics {
  const keys = [
    'follower_restart_read_median_ms',
    'etcd_follower_restart_read_median_ms',
    'follower_restart_read_max_ms',
    'etcd_follower_restart_read_max_ms',
    'cluster_restart_read_median_ms',
    'etcd_cluster_restart_read_median_ms',
    'cluster_restart_read_max_ms',
    'etcd_cluster_restart_read_max_ms',
  ];
  return Object.fromEntries(keys.map((k) => [k, m[k] ?? null]));
}
