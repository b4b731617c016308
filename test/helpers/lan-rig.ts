/**
 * The LAN rig (issue #13): N "hosts" (network namespaces) on one Ethernet
 * segment (a bridge in a hub namespace), each running a node with the
 * DEFAULT configuration, started and driven only through the `swarm` CLI
 * inside its namespace, exactly as a user on that device would.
 *
 * - Each host has one veth into the bridge, an address in a private /24
 *   (NetnsLab picks one no root-namespace route or address overlaps),
 *   224.0.0.0/4 routed onto its veth for multicast discovery, NO default
 *   route: nothing a daemon sends can leave the rig, and no real interface is
 *   touched.
 * - Each host has its own HOME and XDG_CONFIG_HOME and no config file (or
 *   exactly what `swarm config init` writes), so every node uses the default
 *   ports (5555 gossip, 5556 multicast, 5557 API on the host's 127.0.0.1,
 *   5558 Raft) and the default multicast group; namespaces make that legal.
 * - Loss: `lossPercent` (default 1) of the packets each host receives on its
 *   veth are dropped by an nftables rule inside its namespace (`table inet
 *   lanrig`, input hook, `numgen random mod 100 < N counter drop`), so every
 *   packet between two hosts crosses one 1% loss, silently for its sender.
 *   This kernel has no netem, so the rig adds NO delay: latency is modelled
 *   in the simulator (src/sim), not here.
 * - `split` puts groups of hosts on separate bridges (a LAN split in two, by
 *   switch); `joinAll` puts every port back on one bridge. `cut`/`restore`
 *   down/up one host's bridge port (a pulled cable).
 * - `cleanup` kills every daemon and probe by PID, deletes the nft tables and
 *   the namespaces, and removes the temp dir (kept with KEEP_E2E=1).
 *
 * Tests use `swarm(i, args)` / `nodeStatus(i)` / `swarmStatus(i)` (CLI runs);
 * benchmarks add `probe(i)`, a small poller inside the namespace reading the
 * host's own API on 127.0.0.1:5557 every few ms, for timestamps finer than a
 * CLI start-up. Needs `npm run build` (bin/swarm.js runs dist/).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ip, NetnsLab } from './netns.js';
import { runProcess, SWARM_BIN, type RunResult } from './run-swarm.js';
import { alive } from '../node/proc.js';

/** The default ports every host uses (its own namespace gives each its own port space). */
export const DEFAULT_API = 'http://127.0.0.1:5557';

export interface LanRigOptions {
  /** Short tag, unique per test file (`lr` + a letter): names are `sw<tag>...<pid>`. */
  readonly tag: string;
  readonly hosts: number;
  /** Percent of the packets each host receives on its veth to drop (0 = none). Default 1. */
  readonly lossPercent?: number;
  /** `none` (default): no config file at all; `init`: exactly what `swarm config init` writes. */
  readonly config?: 'none' | 'init';
}

export interface StartOptions {
  /** Extra environment of this host's CLI and daemon (e.g. SWARM_SECURITY__SWARM_KEY). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface StartInfo {
  pid: number;
  id: string;
  data_dir: string;
  log: string;
}

/** The parts of `/v1/status` (`swarm node status --json`) the rig reads. */
export interface HostStatus {
  id: string;
  name: string;
  role: string;
  term: number;
  leader: string | null;
  voters: string[];
  learners: string[];
  [k: string]: unknown;
}

export interface AgreedLeader {
  /** Host index of the leader. */
  host: number;
  id: string;
  term: number;
  voters: string[];
  learners: string[];
}

interface Host {
  readonly ns: string;
  readonly home: string;
  env: Record<string, string>;
  pid: number | null;
  id: string | null;
  dataDir: string | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns non-null (or throws past the deadline); bounded in time and count. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null>,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  for (let k = 0; k < 100_000; k++) {
    try {
      const v = await fn();
      if (v !== null) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= end) break;
    await sleep(everyMs);
  }
  const why = last instanceof Error ? ` (last error: ${last.message})` : '';
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`);
}

/**
 * `LANRIG_ENV="SWARM_A__B=v,SWARM_C__D=w"`: settings added to every host, for
 * developing the rig against a build that lacks a feature (e.g.
 * SWARM_RAFT__BOOTSTRAP_EXPECT=3 to exercise the failover code before
 * zero-config formation exists). Issue #13's tests are meant to run without it.
 */
function devEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (process.env.LANRIG_ENV ?? '').split(',')) {
    const eq = kv.indexOf('=');
    if (eq > 0) out[kv.slice(0, eq).trim()] = kv.slice(eq + 1).trim();
  }
  return out;
}

/** The environment of a host: the test's, minus any SWARM_* setting, plus the host's own dirs. */
function hostEnv(home: string, extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SWARM_')) env[k] = v;
  return { ...env, ...devEnv(), HOME: home, XDG_CONFIG_HOME: join(home, '.config'), ...extra };
}

/** `ip netns exec NS node ...` with a timeout; never rejects on a non-zero exit. */
function runIn(
  ns: string,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<RunResult> {
  return runProcess('ip', ['netns', 'exec', ns, process.execPath, ...argv], {
    env,
    exactEnv: true,
    timeoutMs,
  });
}

/** One sample of a probe: the host's own status and gossip view, read from its API. */
export interface ProbeSample {
  /** Wall-clock ms (Date.now(); one clock for every namespace of the machine). */
  t: number;
  status: HostStatus | null;
  /** Ids of the members this host sees alive (null when its API did not answer). */
  alive: string[] | null;
}

/**
 * A poller inside a host's namespace: reads its API every `everyMs` and keeps
 * the latest sample. Exits when its stdin closes (the test process died) or
 * after `maxMs`, whichever first, so it can never outlive a run by much.
 */
export class Probe {
  latest: ProbeSample | null = null;
  private readonly listeners = new Set<(s: ProbeSample) => void>();
  constructor(readonly child: ChildProcess) {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      try {
        const s = JSON.parse(line) as ProbeSample;
        this.latest = s;
        for (const l of this.listeners) l(s);
      } catch {
        // A partial line at exit.
      }
    });
  }

  /** The first sample (from now on) for which `pred` holds, or null after `timeoutMs`. */
  next(pred: (s: ProbeSample) => boolean, timeoutMs: number): Promise<ProbeSample | null> {
    return new Promise((resolve) => {
      const done = (v: ProbeSample | null): void => {
        clearTimeout(timer);
        this.listeners.delete(l);
        resolve(v);
      };
      const l = (s: ProbeSample): void => {
        if (pred(s)) done(s);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      this.listeners.add(l);
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill('SIGKILL');
  }
}

const PROBE_SCRIPT = `
const [everyMs, maxMs, base] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3]];
process.stdin.on('end', () => process.exit(0)); process.stdin.on('error', () => process.exit(0)); process.stdin.resume();
setTimeout(() => process.exit(0), maxMs).unref();
const get = async (p) => { try { const r = await fetch(base + p, { signal: AbortSignal.timeout(1000) }); return r.ok ? await r.json() : null; } catch { return null; } };
for (;;) {
  const [st, m] = await Promise.all([get('/v1/status'), get('/v1/members')]);
  const status = st && { id: st.id, name: st.name, role: st.role, term: st.term, leader: st.leader, voters: st.voters ?? [], learners: st.learners ?? [] };
  const alive = m ? m.members.filter((x) => x.status === 'alive').map((x) => x.id) : null;
  process.stdout.write(JSON.stringify({ t: Date.now(), status, alive }) + '\\n');
  await new Promise((r) => setTimeout(r, everyMs));
}
`;

const WRITE_SCRIPT = `
const [key, value, maxMs, base] = [process.argv[1], process.argv[2], Number(process.argv[3]), process.argv[4]];
const end = Date.now() + maxMs; let last = '';
while (Date.now() < end) {
  try {
    const r = await fetch(base + '/v1/kv/' + encodeURIComponent(key), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }), signal: AbortSignal.timeout(Math.max(100, Math.min(2000, end - Date.now()))) });
    if (r.ok) { process.stdout.write(JSON.stringify({ t: Date.now() }) + '\\n'); process.exit(0); }
    last = 'HTTP ' + r.status + ' ' + (await r.text()).slice(0, 200);
  } catch (e) { last = String(e && e.message || e); }
  await new Promise((r) => setTimeout(r, 20));
}
process.stdout.write(JSON.stringify({ t: null, last }) + '\\n');
`;

export class LanRig {
  readonly lab: NetnsLab;
  readonly root: string;
  readonly hosts: readonly Host[];
  private readonly probes = new Set<Probe>();
  private readonly writers = new Set<ChildProcess>();
  /** Every daemon PID ever started, so cleanup kills a replaced one too. */
  private readonly pids = new Set<number>();
  private bridges = 1;
  private built = false;

  constructor(readonly opts: LanRigOptions) {
    this.lab = new NetnsLab({ tag: opts.tag, nodes: opts.hosts, control: false });
    this.root = mkdtempSync(join(tmpdir(), `swarm-lanrig-${opts.tag}-`));
    this.hosts = this.lab.ns.map((ns, i) => ({
      ns,
      home: join(this.root, `h${i}`),
      env: {},
      pid: null,
      id: null,
      dataDir: null,
    }));
  }

  get size(): number {
    return this.hosts.length;
  }

  /** Host i's address on the LAN. */
  addr(i: number): string {
    return this.lab.addr[i]!;
  }

  /** Namespaces, bridge, veths, routes, loss rules and each host's HOME; on failure call `cleanup`. */
  async setup(): Promise<void> {
    this.built = true;
    this.lab.setup();
    const loss = this.opts.lossPercent ?? 1;
    for (const [i, h] of this.hosts.entries()) {
      mkdirSync(h.home, { recursive: true });
      // NetnsLab gives /25s (its control links use the upper half); the rig has none, so the LAN is the /24.
      if (loss > 0) this.nft(i, lossRuleset(this.lab.vnode[i]!, loss));
    }
    if ((this.opts.config ?? 'none') === 'init') {
      for (let i = 0; i < this.size; i++) await this.configInit(i);
    }
    // A test process that exits without its afterAll (killed worker, crash) still leaves nothing behind.
    process.once('exit', this.onExit);
  }

  private readonly onExit = (): void => this.cleanup();

  /** `swarm config init` on host i: the config file exactly as a user gets it (every key at its default). */
  async configInit(i: number): Promise<void> {
    const r = await this.swarm(i, ['config', 'init']);
    if (r.code !== 0) throw new Error(`swarm config init on host ${i} failed: ${r.stderr}`);
  }

  private nft(i: number, script: string): void {
    execFileSync('ip', ['netns', 'exec', this.hosts[i]!.ns, 'nft', '-f', '-'], {
      input: script,
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: 10_000,
    });
  }

  /** Packets the loss rule of host i dropped so far (its nft counter: what it did not receive). */
  lossDrops(i: number): number {
    const out = execFileSync(
      'ip',
      ['netns', 'exec', this.hosts[i]!.ns, 'nft', '-j', 'list', 'table', 'inet', 'lanrig'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 10_000,
      },
    ).toString();
    let n = 0;
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        const c = o.counter as { packets?: number } | undefined;
        if (c && typeof c.packets === 'number') n += c.packets;
        else Object.values(o).forEach(walk);
      }
    };
    walk(JSON.parse(out));
    return n;
  }

  /** Set extra environment for host i's later CLI runs and daemon (e.g. a swarm key). */
  setEnv(i: number, env: Readonly<Record<string, string>>): void {
    this.hosts[i]!.env = { ...this.hosts[i]!.env, ...env };
  }

  /** Run `swarm ARGS` on host i as its user would (its HOME, no other config). */
  swarm(i: number, args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
    const h = this.hosts[i]!;
    return runIn(h.ns, [SWARM_BIN, ...args], hostEnv(h.home, h.env), timeoutMs);
  }

  /** Run a shell-free command inside host i (`ip netns exec`), e.g. ping. */
  exec(i: number, cmd: string, args: readonly string[], timeoutMs = 30_000): string {
    return execFileSync('ip', ['netns', 'exec', this.hosts[i]!.ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    }).toString();
  }

  /**
   * Send `count` small UDP datagrams from host i to host j (port 9, discard),
   * paced, so a test can see the loss rule at work on the LAN itself.
   */
  blast(i: number, j: number, count: number): void {
    const script = `const s = require('node:dgram').createSocket('udp4'); let n = 0;
const tick = () => { if (n >= ${count}) return s.close(); s.send('x', 9, '${this.addr(j)}', () => {}); n++; setImmediate(tick); };
s.bind(0, tick);`;
    this.exec(i, process.execPath, ['-e', script], 60_000);
  }

  /** `swarm node start --name hI --json` (detached) on host i; resolves once the CLI returned. */
  async start(i: number, opts: StartOptions = {}): Promise<StartInfo> {
    if (opts.env) this.setEnv(i, opts.env);
    const r = await this.swarm(i, ['node', 'start', '--name', `h${i}`, '--json']);
    // Track the daemon before anything can throw, so cleanup still kills it.
    const m = /"pid":(\d+)/.exec(r.stdout);
    if (m) {
      this.pids.add(Number(m[1]));
      this.hosts[i]!.pid = Number(m[1]);
    }
    if (r.code !== 0)
      throw new Error(`swarm node start on host ${i} failed (${r.code}): ${r.stderr}${r.stdout}`);
    const info = JSON.parse(r.stdout) as StartInfo;
    const h = this.hosts[i]!;
    h.pid = info.pid;
    h.id = info.id;
    h.dataDir = info.data_dir;
    return info;
  }

  /** Start hosts concurrently (as people switching devices on); resolves at the last start's return. */
  async startAll(which: readonly number[], opts: StartOptions = {}): Promise<StartInfo[]> {
    return Promise.all(which.map((i) => this.start(i, opts)));
  }

  id(i: number): string {
    const id = this.hosts[i]!.id;
    if (id === null) throw new Error(`host ${i} was never started`);
    return id;
  }

  /** Host index of a node id, or -1. */
  hostOf(id: string): number {
    return this.hosts.findIndex((h) => h.id === id);
  }

  pid(i: number): number | null {
    return this.hosts[i]!.pid;
  }

  running(i: number): boolean {
    const p = this.hosts[i]!.pid;
    return p !== null && alive(p);
  }

  /** SIGKILL host i's daemon (a power cut); resolves once it is gone. */
  async kill(i: number): Promise<void> {
    const p = this.hosts[i]!.pid;
    if (p === null) return;
    if (alive(p)) process.kill(p, 'SIGKILL');
    for (let k = 0; k < 200 && alive(p); k++) await sleep(10);
  }

  /** `swarm node stop` on host i (graceful). */
  async stop(i: number): Promise<RunResult> {
    return this.swarm(i, ['node', 'stop']);
  }

  /** `swarm node status --json` of host i, or null when the CLI fails (node down, API not answering). */
  async nodeStatus(i: number): Promise<HostStatus | null> {
    const r = await this.swarm(i, ['node', 'status', '--json'], 20_000);
    if (r.code !== 0) return null;
    try {
      return JSON.parse(r.stdout) as HostStatus;
    } catch {
      return null;
    }
  }

  /** `swarm swarm status --json` of host i ({ status, members, ... }), or null on failure. */
  async swarmStatus(i: number): Promise<SwarmStatusJson | null> {
    const r = await this.swarm(i, ['swarm', 'status', '--json'], 20_000);
    if (r.code !== 0) return null;
    try {
      return JSON.parse(r.stdout) as SwarmStatusJson;
    } catch {
      return null;
    }
  }

  /**
   * The leader every host of `among` agrees on (same leader id and term, and
   * the leader itself says it leads), or null. One CLI status per host.
   */
  async agreedLeader(among: readonly number[]): Promise<AgreedLeader | null> {
    const views = await Promise.all(among.map((i) => this.nodeStatus(i)));
    return agreement(views, (id) => this.hostOf(id));
  }

  /** Wait (bounded) for `agreedLeader(among)` with an optional extra condition. */
  waitLeader(
    among: readonly number[],
    timeoutMs: number,
    ok: (l: AgreedLeader) => boolean = () => true,
  ): Promise<AgreedLeader> {
    return waitFor(
      `a leader agreed by hosts ${among.join(',')}`,
      async () => {
        const l = await this.agreedLeader(among);
        return l && ok(l) ? l : null;
      },
      timeoutMs,
      250,
    );
  }

  /** `swarm kv put KEY VALUE` on host i: acknowledged when the CLI exits 0, else the CLI's words. */
  async put(i: number, key: string, value: string): Promise<{ ok: boolean; error: string }> {
    const r = await this.swarm(i, ['kv', 'put', key, value], 30_000);
    return {
      ok: r.code === 0,
      error: r.code === 0 ? '' : `exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`,
    };
  }

  /** `swarm kv get KEY --json` on host i: its value, or an Error holding the CLI's words. */
  async get(i: number, key: string, stale = false): Promise<unknown> {
    const r = await this.swarm(i, ['kv', 'get', key, '--json', ...(stale ? ['--stale'] : [])], 30_000);
    if (r.code !== 0) return new Error(`kv get ${key} on host ${i}: ${r.stderr.trim() || r.stdout.trim()}`);
    return (JSON.parse(r.stdout) as { value: unknown }).value;
  }

  /** Cut host i's cable: its bridge port goes down (its own link keeps address and routes). */
  cut(i: number): void {
    this.lab.partition(i);
  }

  restore(i: number): void {
    this.lab.heal(i);
  }

  /**
   * Split the LAN: each group after the first moves to a bridge of its own
   * (br1, br2, ...), so the groups cannot hear each other at all, multicast
   * included. Call before or after the nodes start.
   */
  split(groups: readonly (readonly number[])[]): void {
    for (let g = this.bridges; g < groups.length; g++) {
      ip('-n', this.lab.hub, 'link', 'add', `br${g}`, 'type', 'bridge', 'mcast_snooping', '0');
      ip('-n', this.lab.hub, 'link', 'set', `br${g}`, 'up');
    }
    this.bridges = Math.max(this.bridges, groups.length);
    groups.forEach((group, g) => {
      for (const i of group) ip('-n', this.lab.hub, 'link', 'set', this.lab.vhub[i]!, 'master', `br${g}`);
    });
  }

  /** Heal a split: every host back on br0. */
  joinAll(): void {
    for (let i = 0; i < this.size; i++)
      ip('-n', this.lab.hub, 'link', 'set', this.lab.vhub[i]!, 'master', 'br0');
  }

  /** Runs an inline ES module script with Node inside host i's namespace; its last argument is the host's API. */
  private nodeScript(
    i: number,
    script: string,
    args: readonly string[],
    stdin: 'pipe' | 'ignore',
  ): ChildProcess {
    const ns = this.hosts[i]!.ns;
    return spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script, ...args, DEFAULT_API],
      { stdio: [stdin, 'pipe', 'ignore'] },
    );
  }

  /** A poller of host i's API inside its namespace (see `Probe`); stopped by `cleanup`. */
  probe(i: number, everyMs = 50, maxMs = 15 * 60_000): Probe {
    const child = this.nodeScript(i, PROBE_SCRIPT, [String(everyMs), String(maxMs)], 'pipe');
    const p = new Probe(child);
    this.probes.add(p);
    return p;
  }

  /**
   * PUT KEY through host i's own API (inside its namespace), retried every 20 ms
   * until acknowledged or `maxMs`: resolves with the wall-clock ms of the
   * acknowledgement, or null (with the last error) when none came.
   */
  writeUntilAck(
    i: number,
    key: string,
    value: string,
    maxMs: number,
  ): Promise<{ t: number | null; last?: string }> {
    return new Promise((resolve) => {
      const child = this.nodeScript(i, WRITE_SCRIPT, [key, value, String(maxMs)], 'ignore');
      this.writers.add(child);
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (d: string) => (out += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), maxMs + 10_000);
      child.on('close', () => {
        clearTimeout(timer);
        this.writers.delete(child);
        try {
          resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as { t: number | null; last?: string });
        } catch {
          resolve({ t: null, last: 'writer died' });
        }
      });
    });
  }

  /** The last `lines` lines of each started host's node.log, for failure reports. */
  logs(lines = 40): string {
    const parts: string[] = [];
    for (const [i, h] of this.hosts.entries()) {
      if (h.dataDir === null) continue;
      const f = join(h.dataDir, 'node.log');
      const text = existsSync(f)
        ? readFileSync(f, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
        : '(no node.log)';
      parts.push(`--- host ${i} (${h.ns}, id ${h.id ?? '?'}) ${f}\n${text}`);
    }
    return parts.join('\n');
  }

  /** Run a test body; on failure append every host's node.log tail to the error. */
  async withLogs<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const logs = this.logs();
      if (e instanceof Error) e.message = `${e.message}\n\nnode logs:\n${logs}`;
      throw e;
    }
  }

  /** Kill every daemon, probe and writer by PID, drop the nft tables, delete the namespaces. */
  cleanup(): void {
    process.removeListener('exit', this.onExit);
    for (const p of this.probes) p.stop();
    this.probes.clear();
    for (const w of this.writers) if (w.exitCode === null) w.kill('SIGKILL');
    this.writers.clear();
    for (const p of this.pids) if (alive(p)) process.kill(p, 'SIGKILL');
    this.pids.clear();
    if (this.built) {
      for (const h of this.hosts) {
        try {
          execFileSync('ip', ['netns', 'exec', h.ns, 'nft', 'delete', 'table', 'inet', 'lanrig'], {
            stdio: 'ignore',
            timeout: 10_000,
          });
        } catch {
          // No loss rule, or the namespace is already gone.
        }
      }
      this.lab.cleanup();
      this.built = false;
    }
    if (existsSync(this.root)) {
      if (process.env.KEEP_E2E) console.log('kept', this.root);
      else rmSync(this.root, { recursive: true, force: true });
    }
  }
}

/** `swarm swarm status --json`: the node's status under `status`, its gossip view beside it. */
export interface SwarmStatusJson {
  status: HostStatus & { security?: { refused_peers?: unknown[] }; merge?: unknown };
  members: { id: string; name: string; status: string; addresses: { gossip: string } }[];
  security?: { refused_peers?: unknown[] };
  [k: string]: unknown;
}

/**
 * The nftables ruleset of the loss rule: drop `percent`% of what the host
 * receives on its veth. On input, not output: a packet dropped on output
 * fails the sender's sendmsg with EPERM, which no real LAN does; dropped on
 * input it is silently lost, as on the air or a busy switch.
 */
export function lossRuleset(dev: string, percent: number): string {
  return [
    'table inet lanrig {',
    '  chain in {',
    '    type filter hook input priority 0; policy accept;',
    `    iifname "${dev}" numgen random mod 100 < ${percent} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Agreement of a set of status views: all answered, one leader and term, and the leader says it leads. */
export function agreement(
  views: readonly (HostStatus | null)[],
  hostOf: (id: string) => number,
): AgreedLeader | null {
  if (views.length === 0 || views.some((v) => v === null)) return null;
  const vs = views as HostStatus[];
  const leader = vs[0]!.leader;
  if (leader === null || leader === undefined) return null;
  if (!vs.every((v) => v.leader === leader && v.term === vs[0]!.term)) return null;
  const lv = vs.find((v) => v.id === leader);
  if (!lv || lv.role !== 'leader') return null;
  return {
    host: hostOf(leader),
    id: leader,
    term: lv.term,
    voters: lv.voters ?? [],
    learners: lv.learners ?? [],
  };
}

/** Whether this machine lets the rig run: null when it does, else the reason (for skip titles). */
export function rigSkipReason(file: string): string | null {
  const missing: string[] = [];
  for (const tool of ['nft']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore', timeout: 5000 });
    } catch {
      missing.push(tool);
    }
  }
  if (missing.length > 0) {
    const reason = `${missing.join(', ')} not installed`;
    process.stderr.write(`${file}: SKIPPED, ${reason}\n`);
    return reason;
  }
  return null;
}
