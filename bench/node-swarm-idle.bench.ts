/**
 * A 25-node swarm of real daemons sitting idle, side by side with
 * hashicorp/memberlist's figures (issue #16, "A frugal node").
 *
 * All daemons run in ONE private network namespace made here (`ip netns add`,
 * only `lo` up, no route out, multicast off and static join lists), so nothing
 * they send can leave it, and nftables counters in that namespace count what
 * each node sends: per node its gossip UDP (by its distinct source port), and
 * the Raft TCP of the whole swarm (every packet with a Raft port on either end:
 * one node sends it), divided by the node count. Each window also reads the
 * daemons' own counters (`/v1/energy` protocol figures are not per transport,
 * so the cross-check is the gossip incarnation bumps from `/v1/members`).
 *
 * Two windows after formation settles: normal mode (a fake power_supply tree
 * says mains online, battery full), then emergency (the same tree rewritten:
 * mains off, battery 5 % discharging, below the 10 % critical threshold), read
 * by every daemon through SWARM_SYSFS_ROOT (`proc` links to the real /proc).
 *
 * memberlist cannot be built here (no Go module download on this machine), so
 * its figures are constants measured earlier on this machine (see MEMBERLIST).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoNode } from '../src/cli/commands/demo.js';
import { daemonArgs, daemonEntry, daemonEnv } from '../src/cli/daemon.js';
import { stopChild, swarmNodeConfig } from './local-swarm.js';
import type { BenchReport } from './types.js';

const NODES = Number(process.env.SWARM_IDLE_NODES ?? 25);
/** Seconds of each measured window. */
const WINDOW_S = Number(process.env.SWARM_IDLE_WINDOW_S ?? 60);
/** Idle seconds after formation (and after the switch to emergency) before a window opens. */
const SETTLE_S = Number(process.env.SWARM_IDLE_SETTLE_S ?? 60);
/**
 * Idle seconds after the switch to emergency. Every member republishes its
 * energy state at the switch (a state change goes out at once), and in
 * emergency (gossip every 800 ms, fanout 1) spreading 25 new records takes
 * about a minute and a half: a longer settle measures the steady state.
 */
const EMERGENCY_SETTLE_S = Number(process.env.SWARM_IDLE_EMERGENCY_SETTLE_S ?? 100);
/** `normal,emergency,cli` or a subset. */
const PARTS = new Set((process.env.SWARM_IDLE_PARTS ?? 'normal,emergency,cli').split(','));
/**
 * Percent of gossip datagrams dropped at random (nftables `numgen random`, after the counters, so
 * the counters still show what the daemons sent): false positives of failure detection under loss.
 */
const LOSS_PCT = Number(process.env.SWARM_IDLE_LOSS_PCT ?? 0);
/** A directory to keep each daemon's debug log in (`<name>.log`; diagnosis of a window's traffic). */
const LOG_DIR = process.env.SWARM_IDLE_LOG_DIR ?? '';
/** Another daemon bundle to run instead of daemonEntry()'s (an A/B of two builds, one run each). */
const DAEMON_ENTRY = process.env.SWARM_IDLE_DAEMON_ENTRY ?? '';
/** `0`: run on the host's loopback instead of a namespace (no nftables counters then). */
const USE_NETNS = process.env.SWARM_IDLE_NETNS !== '0';
const CLI_RUNS = 20;
const GOSSIP_BASE = 5555;
const RAFT_BASE = 7100;
const API_BASE = 8100;
const NS = `sfr${process.pid}`;
const SWARM_BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));

/**
 * hashicorp/memberlist v0.5 (DefaultLANConfig: probe 1 s, gossip 200 ms,
 * push-pull 30 s), 25 members idle on this machine's loopback, measured with
 * the same nftables counting before Go modules became unreachable here
 * (figures quoted in issue #16). Not re-measured by this benchmark.
 */
const MEMBERLIST = {
  udp_bytes_per_s: 136,
  tcp_bytes_per_s: 56,
  udp_packets_per_s: 2.0,
  tcp_packets_per_s: 0.33,
  rss_mb: 12.9,
  source: 'issue #16: memberlist v0.5, 25 idle members, this machine; not buildable here without Go modules',
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor(s.length / 2)] as number);
};
const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;

interface BenchNode extends DemoNode {
  child?: ChildProcess;
  pid?: number;
  apiUrl: string;
}

/** Run a command inside the namespace (or directly without one). */
function inNs(cmd: string, args: readonly string[]): [string, string[]] {
  return USE_NETNS ? ['ip', ['netns', 'exec', NS, cmd, ...args]] : [cmd, [...args]];
}

function sh(cmd: string, args: readonly string[], input?: string): string {
  const [c, a] = inNs(cmd, args);
  return execFileSync(c, a, { input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 }).toString();
}

/** HTTP GET inside the namespace: this process lives outside it, so ask curl-free Node in there. */
async function getJson(n: BenchNode, path: string): Promise<unknown> {
  if (!USE_NETNS) {
    const res = await fetch(`${n.apiUrl}${path}`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }
  const [c, a] = inNs(process.execPath, [
    '-e',
    `fetch(process.argv[1],{signal:AbortSignal.timeout(3000)}).then(r=>r.text()).then(t=>process.stdout.write(t),e=>{console.error(e.message);process.exit(1)})`,
    `${n.apiUrl}${path}`,
  ]);
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(c, a, { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.stdout.on('data', (d: Buffer) => (s += d.toString()));
    p.on('close', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(s);
      else reject(new Error(`${path}: exit ${code}`));
    });
  });
  return JSON.parse(out);
}

function taskSwitches(pid: number): number {
  let sum = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(
        readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'),
      );
      if (m) sum += Number(m[1]);
    } catch {
      // a thread that ended between readdir and read
    }
  }
  return sum;
}

/** Voluntary context switches by thread name (main thread, libuv workers, V8 platform threads). */
function taskSwitchesByName(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(st);
      // Node names its threads "node" alike: tell the main (event loop) thread from the others by tid.
      const name =
        t === String(pid) ? 'main' : (/^Name:\s+(.*)$/m.exec(st)?.[1] ?? '?').replace(/[0-9]+$/, '#');
      if (m) out.set(name, (out.get(name) ?? 0) + Number(m[1]));
    } catch {
      // a thread that ended between readdir and read
    }
  }
  return out;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** The fake power_supply tree every daemon reads; rewritten to switch modes. */
function writePower(root: string, mode: 'mains' | 'critical'): void {
  const ac = join(root, 'sys/class/power_supply/AC');
  const bat = join(root, 'sys/class/power_supply/BAT0');
  mkdirSync(ac, { recursive: true });
  mkdirSync(bat, { recursive: true });
  writeFileSync(join(ac, 'type'), 'Mains\n');
  writeFileSync(join(ac, 'online'), mode === 'mains' ? '1\n' : '0\n');
  writeFileSync(join(bat, 'type'), 'Battery\n');
  writeFileSync(join(bat, 'present'), '1\n');
  writeFileSync(join(bat, 'status'), mode === 'mains' ? 'Full\n' : 'Discharging\n');
  writeFileSync(join(bat, 'capacity'), mode === 'mains' ? '100\n' : '5\n');
}

const NFT_TABLE = 'sfr_idle';

function nftSetup(nodes: readonly BenchNode[]): void {
  const raft = nodes.map((n) => n.raftPort).join(', ');
  const lines = [
    `table inet ${NFT_TABLE} {`,
    '  chain out {',
    '    type filter hook output priority 0; policy accept;',
  ];
  for (const n of nodes) lines.push(`    udp sport ${n.gossipPort} counter comment "udp ${n.name}"`);
  lines.push(`    tcp sport { ${raft} } counter comment "tcp raft-sport"`);
  lines.push(`    tcp dport { ${raft} } counter comment "tcp raft-dport"`);
  // Diagnostics of the Raft TCP: connections opened, and segments without payload (ACKs, keepalives).
  lines.push(`    tcp dport { ${raft} } tcp flags syn / syn,ack counter comment "tcp raft-syn"`);
  // Which node is dialled (by its Raft listening port): tells a leader's redials from a peer's.
  for (const n of nodes)
    lines.push(`    tcp dport ${n.raftPort} tcp flags syn / syn,ack counter comment "syn-to ${n.name}"`);
  lines.push(
    `    tcp sport { ${raft} } meta length <= 66 counter comment "tcp raft-bare-s"`,
    `    tcp dport { ${raft} } meta length <= 66 counter comment "tcp raft-bare-d"`,
  );
  if (LOSS_PCT > 0)
    lines.push(`    meta l4proto udp numgen random mod 10000 < ${Math.round(LOSS_PCT * 100)} drop`);
  lines.push('  }', '}');
  sh('nft', ['-f', '-'], lines.join('\n'));
}

interface Counter {
  packets: number;
  bytes: number;
}

function nftRead(): Map<string, Counter> {
  const j = JSON.parse(sh('nft', ['-j', 'list', 'table', 'inet', NFT_TABLE])) as {
    nftables: Array<{ rule?: { comment?: string; expr: Array<{ counter?: Counter }> } }>;
  };
  const out = new Map<string, Counter>();
  for (const x of j.nftables) {
    const c = x.rule?.expr.find((e) => e.counter)?.counter;
    if (x.rule?.comment && c) out.set(x.rule.comment, { packets: c.packets, bytes: c.bytes });
  }
  return out;
}

interface MemberRow {
  id: string;
  name: string;
  status: string;
  incarnation: number;
  raft_role: string | null;
  energy: Record<string, unknown> | null;
}

interface MembersBody {
  members: MemberRow[];
  adaptive: { mode: string };
  counters: { packets_out: number; bytes_out: number; suspicions_raised: number; refutations: number };
}

async function membersBody(n: BenchNode): Promise<MembersBody> {
  return (await getJson(n, '/v1/members')) as MembersBody;
}

async function members(n: BenchNode): Promise<MemberRow[]> {
  return (await membersBody(n)).members;
}

/** Raft term and leader as one node sees them. */
async function raftStatus(n: BenchNode): Promise<{ term: number; leader: string | null }> {
  const s = (await getJson(n, '/v1/status')) as { term: number; leader: string | null };
  return { term: s.term, leader: s.leader };
}

/**
 * Leadership moves from `since` until `untilMs` (performance.now()), from one node's view polled
 * every second: leader changes seen, and the term's increase (every transfer or election is one
 * term, so moves between two polls still count). Energy-aware leadership used to bounce at the
 * switch to emergency (every node critical at once, each leader's view of the others stale).
 */
async function trackLeadership(
  n: BenchNode,
  since: { term: number; leader: string | null },
  start: number,
  untilMs: number,
): Promise<{
  changes: number;
  terms: number;
  changes_at_s: number[];
  leader_after: string | null;
  /** When this node's view showed every voter's (every member's) record critical: how stale a view gets. */
  voters_critical_seen_s: number | null;
  members_critical_seen_s: number | null;
}> {
  let last = since;
  const at: number[] = [];
  let voters: number | null = null;
  let all: number | null = null;
  while (performance.now() < untilMs) {
    await sleep(Math.min(1000, Math.max(0, untilMs - performance.now())));
    const t = r1((performance.now() - start) / 1000);
    try {
      const s = await raftStatus(n);
      if (s.leader !== null && s.leader !== last.leader) at.push(t);
      if (s.leader !== null) last = s;
      if (all === null) {
        const m = await members(n);
        const critical = (x: MemberRow): boolean => x.energy?.power_state === 'critical';
        const v = m.filter((x) => x.raft_role === 'leader' || x.raft_role === 'follower');
        if (voters === null && v.length > 0 && v.every(critical)) voters = t;
        if (m.every(critical)) all = t;
      }
    } catch {
      // a slow answer: the next poll and the term cover it
    }
  }
  return {
    changes: at.length,
    terms: last.term - since.term,
    changes_at_s: at,
    leader_after: last.leader,
    voters_critical_seen_s: voters,
    members_critical_seen_s: all,
  };
}

async function waitFormed(nodes: readonly BenchNode[], deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  // Probe a handful of nodes (each probe is a process in the namespace): all members alive, one leader.
  const probes = [nodes[0], nodes[Math.floor(nodes.length / 2)], nodes[nodes.length - 1]].filter(
    (x): x is BenchNode => x !== undefined,
  );
  while (Date.now() < end) {
    try {
      const views = await Promise.all(
        probes.map(async (n) => {
          const s = (await getJson(n, '/v1/status')) as { leader: string | null };
          const m = await members(n);
          return { leader: s.leader, alive: m.filter((x) => x.status === 'alive').length };
        }),
      );
      if (
        views.every((v) => v.alive === nodes.length && v.leader !== null) &&
        new Set(views.map((v) => v.leader)).size === 1
      )
        return true;
    } catch {
      // a node between states
    }
    await sleep(500);
  }
  return false;
}

interface Window {
  mode: string;
  seconds: number;
  udp_bytes_per_s_per_node_median: number;
  udp_bytes_per_s_per_node_mean: number;
  udp_packets_per_s_per_node_mean: number;
  udp_avg_packet_bytes: number;
  tcp_bytes_per_s_per_node: number;
  tcp_packets_per_s_per_node: number;
  /** Raft TCP connections opened (SYNs) per second, whole swarm; segments without payload per node per second. */
  tcp_syns_per_s: number;
  /** The same SYNs by the Raft role of the node dialled (per second, whole swarm). */
  tcp_syns_per_s_by_dialled_role: Record<string, number>;
  tcp_bare_packets_per_s_per_node: number;
  rss_median_mb: number;
  /** Every daemon's RSS at the window's end, ascending: V8's optimizing compilers on add 5-6 MB (src/node/compiler-tiering.ts). */
  rss_mb_sorted: number[];
  cpu_median_percent: number;
  wakeups_per_s_follower_median: number | null;
  wakeups_per_s_learner_median: number | null;
  wakeups_per_s_leader: number | null;
  reannouncements_per_node_per_min: number;
  /** Cross-check: node-1's gossip bytes sent by nftables (IP+UDP headers included) and by its own counter (payload). */
  node1_udp_bytes_per_s_nft: number;
  node1_udp_bytes_per_s_daemon: number;
  gossip_modes: Record<string, number>;
  reannouncement_changes: Record<string, number>;
  /** Failure-detection false positives (nobody is killed): node-1's suspicions and refutations, and the most members it showed not alive at one poll. */
  node1_suspicions_raised: number;
  node1_refutations: number;
  node1_max_not_alive_seen: number;
  /** Wake-ups per second per node by role and thread name (which thread wakes, and how often). */
  wakeups_by_thread: Record<string, Record<string, number>>;
}

async function measure(nodes: readonly BenchNode[], mode: string): Promise<Window> {
  const pids = nodes.map((n) => n.pid as number);
  const before = await membersBody(nodes[0] as BenchNode);
  const inc0 = new Map(before.members.map((m) => [m.id, m.incarnation]));
  const c0 = USE_NETNS ? nftRead() : new Map<string, Counter>();
  const w0 = pids.map(taskSwitches);
  const n0 = pids.map(taskSwitchesByName);
  const t0 = pids.map(cpuTicks);
  const start = performance.now();
  // What each re-announcement changed, from node-1's view every 5 s (several in 5 s count as one).
  const changed: Record<string, number> = {};
  let prev = new Map(before.members.map((m) => [m.id, m]));
  let notAlive = 0;
  const end = performance.now() + WINDOW_S * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(5000, Math.max(0, end - performance.now())));
    try {
      const now = (await membersBody(nodes[0] as BenchNode)).members;
      notAlive = Math.max(notAlive, now.filter((m) => m.status !== 'alive').length);
      for (const m of now) {
        const p = prev.get(m.id);
        if (p === undefined || m.incarnation === p.incarnation) continue;
        const what: string[] = [];
        for (const k of ['power_w', 'battery_percent', 'power_state', 'rating'])
          if (JSON.stringify(p.energy?.[k]) !== JSON.stringify(m.energy?.[k])) what.push(k);
        if (p.raft_role !== m.raft_role) what.push('raft_role');
        const key = what.length === 0 ? 'nothing visible (refutation?)' : what.join('+');
        changed[key] = (changed[key] ?? 0) + 1;
      }
      prev = new Map(now.map((m) => [m.id, m]));
    } catch {
      // a slow answer: the next poll covers it
    }
  }
  const secs = (performance.now() - start) / 1000;
  const c1 = USE_NETNS ? nftRead() : new Map<string, Counter>();
  const w1 = pids.map(taskSwitches);
  const n1 = pids.map(taskSwitchesByName);
  const t1 = pids.map(cpuTicks);
  const rss = pids.map(rssMb);
  const afterBody = await membersBody(nodes[0] as BenchNode);
  const after = afterBody.members;
  let bumps = 0;
  for (const m of after) bumps += m.incarnation - (inc0.get(m.id) ?? m.incarnation);
  const roles = new Map(after.map((m) => [m.name, m.raft_role]));
  const delta = (k: string): Counter => {
    const a = c0.get(k) ?? { packets: 0, bytes: 0 };
    const b = c1.get(k) ?? { packets: 0, bytes: 0 };
    return { packets: b.packets - a.packets, bytes: b.bytes - a.bytes };
  };
  const udp = nodes.map((n) => delta(`udp ${n.name}`));
  const tcpS = delta('tcp raft-sport');
  const tcpD = delta('tcp raft-dport');
  const udpBytes = udp.map((u) => u.bytes / secs);
  const udpPkts = udp.reduce((s, u) => s + u.packets, 0);
  const wake = (role: string): number[] =>
    nodes.flatMap((n, i) => (roles.get(n.name) === role ? [(w1[i]! - w0[i]!) / secs] : []));
  const modes: Record<string, number> = {};
  for (const n of nodes.slice(0, 5)) {
    try {
      const m = (await membersBody(n)).adaptive.mode;
      modes[m] = (modes[m] ?? 0) + 1;
    } catch {
      modes.error = (modes.error ?? 0) + 1;
    }
  }
  const byThread: Record<string, Record<string, number>> = {};
  for (const role of ['leader', 'follower', 'learner']) {
    const idx = nodes.flatMap((n, i) => (roles.get(n.name) === role ? [i] : []));
    if (idx.length === 0) continue;
    const sums: Record<string, number> = {};
    for (const i of idx)
      for (const [name, v] of n1[i]!) sums[name] = (sums[name] ?? 0) + v - (n0[i]!.get(name) ?? 0);
    for (const k of Object.keys(sums)) sums[k] = r2((sums[k] as number) / idx.length / secs);
    byThread[role] = sums;
  }
  const synsByRole: Record<string, number> = {};
  for (const n of nodes) {
    const role = roles.get(n.name) ?? '?';
    synsByRole[role] = (synsByRole[role] ?? 0) + delta(`syn-to ${n.name}`).packets;
  }
  for (const k of Object.keys(synsByRole)) synsByRole[k] = r2((synsByRole[k] as number) / secs);
  const leader = wake('leader');
  const follower = wake('follower');
  const learner = wake('learner');
  return {
    mode,
    seconds: r1(secs),
    udp_bytes_per_s_per_node_median: Math.round(median(udpBytes)),
    udp_bytes_per_s_per_node_mean: Math.round(udpBytes.reduce((a, b) => a + b, 0) / nodes.length),
    udp_packets_per_s_per_node_mean: r2(udpPkts / secs / nodes.length),
    udp_avg_packet_bytes: udpPkts === 0 ? 0 : Math.round(udp.reduce((s, u) => s + u.bytes, 0) / udpPkts),
    tcp_bytes_per_s_per_node: Math.round((tcpS.bytes + tcpD.bytes) / secs / nodes.length),
    tcp_packets_per_s_per_node: r2((tcpS.packets + tcpD.packets) / secs / nodes.length),
    tcp_syns_per_s: r2(delta('tcp raft-syn').packets / secs),
    tcp_syns_per_s_by_dialled_role: synsByRole,
    tcp_bare_packets_per_s_per_node: r2(
      (delta('tcp raft-bare-s').packets + delta('tcp raft-bare-d').packets) / secs / nodes.length,
    ),
    rss_median_mb: r1(median(rss)),
    rss_mb_sorted: [...rss].sort((a, b) => a - b).map(r1),
    cpu_median_percent: r2(median(pids.map((_, i) => ((t1[i]! - t0[i]!) / 100 / secs) * 100))),
    wakeups_per_s_follower_median: follower.length ? r1(median(follower)) : null,
    wakeups_per_s_learner_median: learner.length ? r1(median(learner)) : null,
    wakeups_per_s_leader: leader.length ? r1(leader[0] as number) : null,
    reannouncements_per_node_per_min: r2(bumps / nodes.length / (secs / 60)),
    node1_udp_bytes_per_s_nft: Math.round((udp[0]?.bytes ?? 0) / secs),
    node1_udp_bytes_per_s_daemon: Math.round(
      (afterBody.counters.bytes_out - before.counters.bytes_out) / secs,
    ),
    gossip_modes: modes,
    reannouncement_changes: changed,
    node1_suspicions_raised: afterBody.counters.suspicions_raised - before.counters.suspicions_raised,
    node1_refutations: afterBody.counters.refutations - before.counters.refutations,
    node1_max_not_alive_seen: notAlive,
    wakeups_by_thread: byThread,
  };
}

/** Median wall time of `runs` runs of a command in the namespace, ms. */
function timeRuns(cmd: string, args: readonly string[], runs: number): { median_ms: number; ok: number } {
  const [c, a] = inNs(cmd, args);
  const ms: number[] = [];
  let ok = 0;
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(c, a, { stdio: 'ignore', timeout: 15_000 });
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.status === 0) ok++;
  }
  return { median_ms: r1(median(ms)), ok };
}

export default async function bench(): Promise<BenchReport> {
  const root = mkdtempSync(join(tmpdir(), 'swarm-bench-swarm-idle-'));
  const sysroot = join(root, 'sysroot');
  mkdirSync(sysroot);
  symlinkSync('/proc', join(sysroot, 'proc'));
  writePower(sysroot, 'mains');
  const config = join(root, 'config.toml');
  writeFileSync(
    config,
    '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nbind_address = "127.0.0.1"\n',
  );
  const nodes: BenchNode[] = Array.from({ length: NODES }, (_, i) => ({
    name: `node-${i + 1}`,
    dataDir: join(root, `node-${i + 1}`),
    gossipPort: GOSSIP_BASE + i,
    apiPort: API_BASE + i,
    raftPort: RAFT_BASE + i,
    apiUrl: `http://127.0.0.1:${API_BASE + i}`,
  }));
  const windows: Window[] = [];
  const cli: Record<string, { median_ms: number; ok: number }> = {};
  let formedS = Number.NaN;
  let emergencyApplyS: number | null = null;
  let emergencyLeadership: Awaited<ReturnType<typeof trackLeadership>> | null = null;
  let nsMade = false;
  try {
    if (USE_NETNS) {
      execFileSync('ip', ['netns', 'add', NS]);
      nsMade = true;
      sh('ip', ['link', 'set', 'lo', 'up']);
    }
    const t0 = performance.now();
    // The launcher's environment (daemonEnv: MALLOC_ARENA_MAX), as `swarm node start` gives a daemon.
    const env = daemonEnv({
      ...process.env,
      SWARM_CONFIG: '',
      SWARM_SYSFS_ROOT: sysroot,
      ...(LOG_DIR ? { SWARM_LOGGING__LEVEL: 'debug' } : {}),
    });
    if (LOG_DIR) mkdirSync(LOG_DIR, { recursive: true });
    for (const n of nodes) {
      const nodeConfig = swarmNodeConfig(n, nodes, config, env);
      const args = daemonArgs(nodeConfig, env);
      if (DAEMON_ENTRY) args[args.indexOf(daemonEntry())] = DAEMON_ENTRY;
      const [c, a] = inNs(process.execPath, args);
      const log = LOG_DIR ? openSync(join(LOG_DIR, `${n.name}.log`), 'w') : 'ignore';
      const child = spawn(c, a, { stdio: ['ignore', log, log], env });
      if (typeof log === 'number') closeSync(log);
      n.child = child;
      n.pid = child.pid;
    }
    if (!(await waitFormed(nodes, 120_000))) throw new Error('the swarm did not form (members, leader)');
    formedS = (performance.now() - t0) / 1000;
    await sleep(SETTLE_S * 1000);
    if (USE_NETNS) nftSetup(nodes);
    if (PARTS.has('normal')) windows.push(await measure(nodes, 'normal'));
    if (PARTS.has('cli')) {
      const dd = (nodes[1] as BenchNode).dataDir;
      // A key to read (a linearizable read through the leader); one write, before the timed runs.
      timeRuns(
        process.execPath,
        [SWARM_BIN, '-c', config, 'kv', 'put', 'bench-key', '1', '--data-dir', dd],
        1,
      );
      cli.node_e0 = timeRuns(process.execPath, ['-e', '0'], CLI_RUNS);
      cli.node_status = timeRuns(
        process.execPath,
        [SWARM_BIN, '-c', config, 'node', 'status', '--data-dir', dd],
        CLI_RUNS,
      );
      cli.kv_get = timeRuns(
        process.execPath,
        [SWARM_BIN, '-c', config, 'kv', 'get', 'bench-key', '--data-dir', dd],
        CLI_RUNS,
      );
    }
    if (PARTS.has('emergency')) {
      const probe = nodes[1] as BenchNode;
      const before = await raftStatus(probe);
      writePower(sysroot, 'critical');
      const switched = performance.now();
      // How long until a node reports emergency: the energy sample at most one interval away, then at once.
      while (performance.now() - switched < 30_000) {
        if ((await membersBody(probe)).adaptive.mode === 'emergency') {
          emergencyApplyS = r1((performance.now() - switched) / 1000);
          break;
        }
        await sleep(100);
      }
      emergencyLeadership = await trackLeadership(
        probe,
        before,
        switched,
        switched + EMERGENCY_SETTLE_S * 1000,
      );
      windows.push(await measure(nodes, 'emergency'));
    }
  } finally {
    await Promise.all(nodes.map((n) => (n.child ? stopChild(n.child) : undefined)));
    if (nsMade) {
      try {
        execFileSync('ip', ['netns', 'del', NS]);
      } catch {
        // best effort; nothing runs in it any more
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
  const normal = windows.find((w) => w.mode === 'normal');
  const emergency = windows.find((w) => w.mode === 'emergency');
  return {
    name: 'node-swarm-idle',
    description: `${NODES} real daemons idle in one private network namespace (nftables counters per node), normal mode then emergency (fake battery at 5 %), against memberlist's figures; CLI wall times vs \`node -e 0\`.`,
    metrics: {
      formed_s: r1(formedS),
      machine_load_1m: r1(loadavg()[0] ?? 0),
      normal_udp_bytes_per_s: normal?.udp_bytes_per_s_per_node_median ?? null,
      normal_tcp_bytes_per_s: normal?.tcp_bytes_per_s_per_node ?? null,
      normal_udp_packets_per_s: normal?.udp_packets_per_s_per_node_mean ?? null,
      normal_tcp_packets_per_s: normal?.tcp_packets_per_s_per_node ?? null,
      normal_rss_median_mb: normal?.rss_median_mb ?? null,
      normal_wakeups_per_s_follower: normal?.wakeups_per_s_follower_median ?? null,
      normal_wakeups_per_s_learner: normal?.wakeups_per_s_learner_median ?? null,
      normal_reannouncements_per_node_per_min: normal?.reannouncements_per_node_per_min ?? null,
      emergency_apply_s: emergencyApplyS,
      // Leadership moves in the emergency settle after the switch (every node critical: none is better).
      emergency_leader_changes: emergencyLeadership?.changes ?? null,
      emergency_term_increase: emergencyLeadership?.terms ?? null,
      emergency_udp_bytes_per_s: emergency?.udp_bytes_per_s_per_node_median ?? null,
      emergency_tcp_bytes_per_s: emergency?.tcp_bytes_per_s_per_node ?? null,
      emergency_udp_packets_per_s: emergency?.udp_packets_per_s_per_node_mean ?? null,
      emergency_wakeups_per_s_follower: emergency?.wakeups_per_s_follower_median ?? null,
      emergency_wakeups_per_s_learner: emergency?.wakeups_per_s_learner_median ?? null,
      cli_node_e0_ms: cli.node_e0?.median_ms ?? null,
      cli_node_status_ms: cli.node_status?.median_ms ?? null,
      cli_kv_get_ms: cli.kv_get?.median_ms ?? null,
      memberlist_udp_bytes_per_s: MEMBERLIST.udp_bytes_per_s,
      memberlist_tcp_bytes_per_s: MEMBERLIST.tcp_bytes_per_s,
      memberlist_rss_mb: MEMBERLIST.rss_mb,
    },
    goals: [
      { metric: 'normal_udp_bytes_per_s', op: '<=', target: MEMBERLIST.udp_bytes_per_s },
      { metric: 'normal_tcp_bytes_per_s', op: '<=', target: MEMBERLIST.tcp_bytes_per_s },
      { metric: 'normal_udp_packets_per_s', op: '<=', target: MEMBERLIST.udp_packets_per_s },
      { metric: 'normal_tcp_packets_per_s', op: '<=', target: MEMBERLIST.tcp_packets_per_s },
      // Issue #16's goal; memberlist's RSS (a Go process) stays in the metrics as an anchor only.
      { metric: 'normal_rss_median_mb', op: '<=', target: 45 },
      // Issue #16: an idle follower's and learner's wake-ups (all threads), per power mode.
      { metric: 'normal_wakeups_per_s_follower', op: '<=', target: 4 },
      { metric: 'normal_wakeups_per_s_learner', op: '<=', target: 4 },
      { metric: 'emergency_wakeups_per_s_follower', op: '<=', target: 1 },
      { metric: 'emergency_wakeups_per_s_learner', op: '<=', target: 1 },
      // Every node critical at once: no voter is better, so leadership stays put.
      { metric: 'emergency_leader_changes', op: '<=', target: 0 },
    ],
    details: {
      nodes: NODES,
      window_seconds: WINDOW_S,
      settle_seconds: SETTLE_S,
      emergency_settle_seconds: EMERGENCY_SETTLE_S,
      emergency_leadership: emergencyLeadership,
      netns: USE_NETNS,
      gossip_loss_percent: LOSS_PCT,
      windows,
      cli_runs: CLI_RUNS,
      cli,
      memberlist: MEMBERLIST,
      note: 'UDP per node from nftables counters on each gossip source port; TCP is all Raft-port traffic of the namespace divided by the node count (a dialled connection sends from an ephemeral port, so per-node TCP is not separable by port). Wake-ups: voluntary context switches of all threads of a process over the window. Re-announcements: incarnation bumps of all members seen by node-1 over the window, per node per minute. CLI times include `ip netns exec`, as node -e 0 does.',
    },
  };
}
