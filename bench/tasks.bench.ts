/**
 * Tasks on real daemons (3 mains nodes + 1 battery node, loopback, multicast
 * off, fixture sysfs trees): the figures of issue #18's closing note.
 *
 * - replace_after_sigkill_ms: SIGKILL of the node running a count = 1 task
 *   until the task reports `running` on another node (gossip failure
 *   detection + [tasks] lease_ms 2000 + kill_timeout_s 1 + placement and
 *   start). Median and max of TRIALS (the killed node restarts between).
 * - drain_critical_ms: a prefer-mains task on the battery node; the battery's
 *   capacity file goes to 5 % until the original allocation is `stopped`
 *   (energy sampling 200 ms, gossip of the power state, replacement started
 *   and running on a mains node, then the stop).
 * - supervisor idle cost per node: RSS and wake-ups (voluntary context
 *   switches of every thread of the daemon, per second) over IDLE_S, in three
 *   states of the same kind of 3-node swarm: [tasks] enabled = false; enabled
 *   with no task; enabled with one idle task (`sleep`) per node.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwarmClient } from '../src/client/client.js';
import { loopbackToml } from '../test/helpers/config-toml.js';
import { startNode, type StartJson } from '../test/helpers/run-swarm.js';
import type { BenchReport } from './types.js';

const SYSROOT = fileURLToPath(new URL('../test/fixtures/sysroot/', import.meta.url));
const TRIALS = Number(process.env.TASKS_BENCH_TRIALS ?? 3);
const IDLE_S = Number(process.env.TASKS_BENCH_IDLE_S ?? 20);
const LEASE_MS = 2000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface D {
  name: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  info: StartJson;
  client: SwarmClient;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function wakeups(pid: number): number {
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'));
    n += m ? Number(m[1]) : 0;
  }
  return n;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
};
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

async function until<T>(f: () => Promise<T | null | undefined | false>, ms: number): Promise<T | null> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch {
      // not yet
    }
    await sleep(50);
  }
  return null;
}

class Swarm {
  readonly root = mkdtempSync(join(tmpdir(), 'swarm-tasks-bench-'));
  readonly pids = new Set<number>();
  readonly nodes: D[] = [];
  private seed = '';

  constructor(tasksEnabled: boolean) {
    writeFileSync(
      join(this.root, 'config.toml'),
      loopbackToml(
        ['bootstrap_expect = 3'],
        [
          '[consensus]',
          'heartbeat_interval_ms = 100',
          'election_timeout_min_ms = 1000',
          'election_timeout_max_ms = 2000',
          '[energy]',
          'collection_interval_ms = 200',
          '[tasks]',
          `enabled = ${tasksEnabled}`,
          `lease_ms = ${LEASE_MS}`,
        ],
      ),
    );
  }

  async start(name: string, device: string, labels: string[], extra: string[] = []): Promise<D> {
    const sys = join(this.root, `sys-${name}`);
    cpSync(join(SYSROOT, device), sys, { recursive: true, force: true });
    const env = {
      HOME: this.root,
      XDG_CONFIG_HOME: join(this.root, 'xdg'),
      SWARM_CONFIG: '',
      SWARM_SYSFS_ROOT: sys,
      SWARM_NODE__LABELS: JSON.stringify(labels),
    };
    const dir = join(this.root, name);
    const info = await startNode({
      config: join(this.root, 'config.toml'),
      dir,
      extra: ['--name', name, ...extra],
      join: this.seed === '' ? [] : [this.seed],
      env,
      pids: this.pids,
      timeoutMs: 60_000,
    });
    const client = new SwarmClient({ baseUrl: info.api_url, timeoutMs: 5000 });
    const st = await client.status();
    if (this.seed === '') this.seed = st.addresses.gossip ?? '';
    const d = { name, dir, env, info, client };
    const i = this.nodes.findIndex((x) => x.name === name);
    if (i >= 0) this.nodes[i] = d;
    else this.nodes.push(d);
    return d;
  }

  async formed(n: number): Promise<boolean> {
    return (
      (await until(async () => {
        const c = this.nodes[0]!.client;
        const [l, m] = await Promise.all([c.leader(), c.members()]);
        return l.leader !== null && m.members.filter((x) => x.status === 'alive').length === n;
      }, 60_000)) !== null
    );
  }

  stop(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

async function idleCost(s: Swarm): Promise<{ rss: number; wps: number }> {
  await sleep(3000);
  const pids = s.nodes.map((d) => d.info.pid);
  const w0 = pids.map(wakeups);
  await sleep(IDLE_S * 1000);
  const w1 = pids.map(wakeups);
  return {
    rss: round(median(pids.map(rssMb))),
    wps: round(median(w1.map((w, i) => (w - (w0[i] as number)) / IDLE_S)), 2),
  };
}

export default async function tasksBench(): Promise<BenchReport> {
  const details: Record<string, unknown> = { trials: TRIALS, idle_s: IDLE_S, lease_ms: LEASE_MS };
  // --- idle cost without the tasks component
  const off = new Swarm(false);
  let disabled = { rss: Number.NaN, wps: Number.NaN };
  try {
    for (const n of ['a', 'b', 'c']) await off.start(n, 'rpi4', []);
    if (await off.formed(3)) disabled = await idleCost(off);
  } finally {
    off.stop();
  }

  const s = new Swarm(true);
  let noTask = { rss: Number.NaN, wps: Number.NaN };
  let oneTask = { rss: Number.NaN, wps: Number.NaN };
  const replace: number[] = [];
  let drainMs = Number.NaN;
  try {
    for (const n of ['a', 'b', 'c']) await s.start(n, 'rpi4', ['mains']);
    if (!(await s.formed(3))) throw new Error('swarm did not form');
    noTask = await idleCost(s);
    const c0 = s.nodes[0]!.client;
    await c0.taskRun({ name: 'idle', command: ['sleep', '3600'], count: 3, kill_timeout_s: 1 });
    await until(async () => (await c0.taskStatus('idle')).running === 3, 30_000);
    oneTask = await idleCost(s);
    await c0.taskStop('idle');

    // --- re-placement after SIGKILL
    await c0.taskRun({ name: 'solo', command: ['sleep', '3600'], kill_timeout_s: 1, energy: 'mains-only' });
    for (let t = 0; t < TRIALS; t++) {
      const any = s.nodes.find((d) => d.client !== undefined)!;
      const run = await until(async () => {
        const st = await any.client.taskStatus('solo');
        return st.allocations.find((a) => a.state === 'running');
      }, 30_000);
      if (!run) {
        details.trial_break = `trial ${t}: no running replica within 30 s`;
        break;
      }
      const victim = s.nodes.find((d) => d.info.id === run.node)!;
      const watcher = s.nodes.find((d) => d !== victim)!;
      // It comes back on the same ports: peers address it by them (as the raft-cluster e2e test does).
      const vst = await victim.client.status();
      const port = (a: string | null): string => a?.split(':').pop() ?? '0';
      const ports = ['--raft-port', port(vst.addresses.raft), '--gossip-port', port(vst.addresses.gossip)];
      const t0 = Date.now();
      process.kill(victim.info.pid, 'SIGKILL');
      const moved = await until(async () => {
        const st = await watcher.client.taskStatus('solo');
        // A replica started after the kill (not a stale view of an earlier one).
        return st.allocations.find(
          (a) =>
            a.state === 'running' &&
            a.id !== run.id &&
            a.node !== run.node &&
            Date.parse(a.since ?? '') >= t0,
        );
      }, 90_000);
      if (!moved) {
        details.trial_break = `trial ${t}: not running elsewhere within 90 s of the SIGKILL`;
        break;
      }
      replace.push(Date.now() - t0);
      await s.start(victim.name, 'rpi4', ['mains'], ports);
      await s.formed(3);
    }

    // --- drain on a critical battery (the clients are re-read: a node restarted on a new API port)
    const bat = await s.start('bat', 'pi-zero-2w-hat', ['solar-only']);
    await s.formed(4);
    await s.nodes[0]!.client.taskRun({
      name: 'sun',
      command: ['sleep', '3600'],
      energy: 'prefer-mains',
      constraints: { labels: ['solar-only'] },
      kill_timeout_s: 1,
    });
    await until(async () => (await s.nodes[0]!.client.taskStatus('sun')).running === 1, 30_000);
    // A mains node with the label arrives; the healthy battery keeps the task.
    await s.start('d', 'rpi4', ['solar-only']);
    await s.formed(5);
    const t0 = Date.now();
    writeFileSync(
      join(bat.env.SWARM_SYSFS_ROOT as string, 'sys/class/power_supply/bq27441-0/capacity'),
      '5\n',
    );
    const drained = await until(async () => {
      const st = await s.nodes[0]!.client.taskStatus('sun');
      return st.allocations.find((a) => a.node === bat.info.id)?.state === 'stopped';
    }, 60_000);
    if (drained) drainMs = Date.now() - t0;
  } catch (err) {
    details.error = err instanceof Error ? err.message : String(err);
  } finally {
    s.stop();
  }
  details.replace_trials_ms = replace;
  return {
    name: 'tasks',
    description:
      'Tasks (3 mains nodes + 1 battery, loopback): re-placement after SIGKILL (detection + lease 2 s + kill 1 s), drain on a critical battery, supervisor idle cost per node (median RSS, voluntary context switches/s) with tasks off, on without tasks, on with one idle task per node.',
    metrics: {
      replace_after_sigkill_median_ms: replace.length > 0 ? median(replace) : null,
      replace_after_sigkill_max_ms: replace.length > 0 ? Math.max(...replace) : null,
      drain_critical_ms: Number.isFinite(drainMs) ? drainMs : null,
      idle_rss_mb_tasks_off: disabled.rss,
      idle_rss_mb_tasks_on_no_task: noTask.rss,
      idle_rss_mb_tasks_on_one_task: oneTask.rss,
      idle_wakeups_per_s_tasks_off: disabled.wps,
      idle_wakeups_per_s_tasks_on_no_task: noTask.wps,
      idle_wakeups_per_s_tasks_on_one_task: oneTask.wps,
    },
    goals: [
      { metric: 'replace_after_sigkill_max_ms', op: '<', target: 30_000 },
      { metric: 'drain_critical_ms', op: '<', target: 10_000 },
    ],
    details,
  };
}

// `npx tsx bench/tasks.bench.ts` alone prints the report.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  void tasksBench().then((r) => console.log(JSON.stringify(r, null, 2)));
}
