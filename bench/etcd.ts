/**
 * etcd 3.4 beside our daemons in the raft-kv benchmark: finds (or installs)
 * the `etcd` binary, runs a 3-member cluster on 127.0.0.1 with free ports,
 * temp data dirs and etcd's default timing, and speaks its JSON gateway
 * (`POST /v3/kv/put`, `POST /v3/kv/range`, `POST /v3/maintenance/status`).
 *
 * Finding etcd: `$ETCD_BIN`, else `etcd` on PATH, else /usr/bin/etcd. When
 * none exists and we run as root with apt-get, `apt-get install etcd-server`
 * is tried (after `apt-get update` if the first try fails) unless
 * BENCH_INSTALL_ETCD=0; set BENCH_INSTALL_ETCD=0 on a machine where a new
 * system package (Debian enables its own etcd unit on 2379) is unwanted.
 * Every member process is started here and stopped here (SIGKILL, or SIGTERM
 * for a graceful stop), by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, join } from 'node:path';
import { freePort } from '../src/cli/ports.js';
import { call, sleep, VALUE, type View, type Write } from './etcd-load.js';

/** etcd's defaults (ms), which our "etcd timing" cluster copies. */
export const ETCD_HEARTBEAT_MS = 100;
export const ETCD_ELECTION_MS = 1000;

const INSTALL_TIMEOUT_MS = 300_000;

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return null;
}

function locate(): string | null {
  const explicit = process.env.ETCD_BIN;
  if (explicit) return executable(explicit) ? explicit : null;
  return onPath('etcd') ?? (executable('/usr/bin/etcd') ? '/usr/bin/etcd' : null);
}

function apt(args: string[]): boolean {
  const r = spawnSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status === 0;
}

/** The etcd binary and its version, or why there is none. */
export function findEtcd(): { bin: string; version: string } | { bin: null; reason: string } {
  let bin = locate();
  if (!bin) {
    if (process.env.ETCD_BIN)
      return { bin: null, reason: `ETCD_BIN=${process.env.ETCD_BIN} is not executable` };
    if (process.env.BENCH_INSTALL_ETCD === '0')
      return { bin: null, reason: 'etcd not installed (BENCH_INSTALL_ETCD=0: no install attempted)' };
    if (process.getuid?.() !== 0)
      return { bin: null, reason: 'etcd not installed (not root: no install attempted)' };
    if (!onPath('apt-get'))
      return { bin: null, reason: 'etcd not installed (no apt-get to install etcd-server)' };
    process.stderr.write('  etcd not found: apt-get install etcd-server (BENCH_INSTALL_ETCD=0 skips this)\n');
    const install = ['install', '-y', '-qq', 'etcd-server'];
    if (!apt(install) && !(apt(['update', '-qq']) && apt(install)))
      return { bin: null, reason: 'etcd not installed: apt-get install etcd-server failed' };
    bin = locate();
    if (!bin) return { bin: null, reason: 'etcd-server installed but no etcd binary found' };
  }
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const version = /etcd Version: (\S+)/.exec(v.stdout ?? '')?.[1];
  if (!version) return { bin: null, reason: `${bin} --version failed: ${(v.stderr ?? '').trim()}` };
  return { bin, version };
}

export interface EtcdMember {
  name: string;
  client: string;
  peerUrl: string;
  dir: string;
  log: string;
  proc: ChildProcess | null;
  alive: boolean;
}

const running = (p: ChildProcess): boolean => p.exitCode === null && p.signalCode === null;
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const VALUE_B64 = b64(VALUE);

/** A put through the JSON gateway at `client` (etcd wants key and value in base64). */
export function etcdPut(client: string, key: string, value = VALUE): Write {
  const v = value === VALUE ? VALUE_B64 : b64(value);
  return { url: `${client}/v3/kv/put`, method: 'POST', body: JSON.stringify({ key: b64(key), value: v }) };
}

/** A linearizable read through the JSON gateway (`range` without `serializable`: etcd's ReadIndex). */
export function etcdGet(client: string, key: string): Write {
  return { url: `${client}/v3/kv/range`, method: 'POST', body: JSON.stringify({ key: b64(key) }) };
}

export class EtcdCluster {
  readonly root = mkdtempSync(join(tmpdir(), 'bench-etcd-'));
  readonly members: EtcdMember[] = [];
  private initialCluster = '';

  constructor(private readonly bin: string) {}

  async start(): Promise<void> {
    const taken = new Set<number>();
    for (const i of [0, 1, 2]) {
      const client = `http://127.0.0.1:${await freePort(taken)}`;
      const peerUrl = `http://127.0.0.1:${await freePort(taken)}`;
      const dir = join(this.root, `e${i}`);
      this.members.push({ name: `e${i}`, client, peerUrl, dir, log: `${dir}.log`, proc: null, alive: false });
    }
    this.initialCluster = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    for (const m of this.members) this.spawn(m);
    await this.leader(30_000);
  }

  /** Starts (or restarts, on its existing data dir) one member. */
  private spawn(m: EtcdMember): void {
    const out = openSync(m.log, 'a');
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dir}`,
      `--listen-client-urls=${m.client}`,
      `--advertise-client-urls=${m.client}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${this.initialCluster}`,
      `--initial-cluster-token=${basename(this.root)}`,
      '--initial-cluster-state=new',
      `--heartbeat-interval=${ETCD_HEARTBEAT_MS}`,
      `--election-timeout=${ETCD_ELECTION_MS}`,
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=warn',
    ];
    let p: ChildProcess;
    try {
      p = spawn(this.bin, args, { stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    m.proc = p;
    m.alive = true;
    // A member that dies on its own (bad flag, port taken) must not leave the bench polling for 30 s.
    p.once('exit', () => {
      if (m.proc === p) m.alive = false;
    });
  }

  /**
   * The member's id and the leader it follows, or null when it does not
   * answer. The gateway spells ids as decimal strings and omits a zero leader.
   */
  async view(m: EtcdMember): Promise<View> {
    const r = await call(`${m.client}/v3/maintenance/status`, 'POST', '{}', 1000);
    if (r.status !== 200) return null;
    const s = JSON.parse(r.text) as { header?: { member_id?: string }; leader?: string };
    const self = s.header?.member_id;
    return self ? { self, leader: s.leader && s.leader !== '0' ? s.leader : null } : null;
  }

  /** The leader, once every live member answers and names the same one. */
  async leader(ms = 20_000): Promise<EtcdMember> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const live = this.members.filter((m) => m.alive);
      const st = await Promise.all(live.map((m) => this.view(m)));
      const ids = new Set(st.map((s) => s?.leader ?? null));
      const lead = st.findIndex((s) => s !== null && s.self === s.leader);
      if (ids.size === 1 && !ids.has(null) && lead >= 0) return live[lead]!;
      await sleep(20);
    }
    const logs = this.members.map((m) => `${m.name}: ${this.logTail(m)}`).join('\n');
    throw new Error(`etcd: no leader agreed by every live member within ${ms} ms\n${logs}`);
  }

  kill(m: EtcdMember, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): void {
    if (m.proc?.pid !== undefined && running(m.proc)) process.kill(m.proc.pid, signal);
    m.alive = false;
  }

  /** Resolves when the member's process has exited, or after `ms`. */
  exited(m: EtcdMember, ms = 15_000): Promise<void> {
    const p = m.proc;
    if (!p || !running(p)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      p.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async restart(m: EtcdMember): Promise<void> {
    await this.exited(m);
    this.spawn(m);
  }

  async stopAll(): Promise<void> {
    for (const m of this.members) {
      if (m.proc && running(m.proc)) this.kill(m);
    }
    await Promise.all(this.members.map((m) => this.exited(m, 5000)));
    rmSync(this.root, { recursive: true, force: true });
  }

  /** The tail of a member's log, for an error message. */
  logTail(m: EtcdMember): string {
    try {
      return readFileSync(m.log, 'utf8').split('\n').slice(-5).join('\n');
    } catch {
      return '';
    }
  }
}
