/**
 * Tasks on real daemons (the compiled binary; `npm run build` first): five
 * nodes on loopback, multicast off, ports 0. Each node reads its own copy of a
 * fixture sysfs tree (SWARM_SYSFS_ROOT), so one of them runs on a battery the
 * test can drain by writing its `capacity` file.
 *
 * - a prefer-mains task placed on the battery node drains to a mains node when
 *   the battery goes critical (start there, then stop here);
 * - a 2-replica task lands on the two labelled standard nodes, never on the
 *   labelled minimal one; its logs are read through a node that does not run it;
 * - restart policy: on-failure with back-off until max_restarts, then failed;
 *   never: exited with the code;
 * - SIGKILL of the node running a count = 1 task: it runs elsewhere within
 *   failure detection + grace, and the task's own CAS-fenced lock shows it
 *   never ran twice at once;
 * - `swarm task stop` stops every replica (their process groups are gone);
 * - `swarm task logs -f` through a node that does not run the task prints what
 *   the task writes after it started, and exits once the task ended.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwarmClient } from '../../src/client/client.js';
import type { TaskStatusResponse } from '../../src/api/routes/tasks-types.js';
import { consensusToml, loopbackToml } from '../helpers/config-toml.js';
import { until } from '../helpers/kv-history.js';
import { runSwarm, startNode, type StartJson, watchSwarm } from '../helpers/run-swarm.js';
import { alive, groupAlive } from '../node/proc.js';

const SYSROOT = fileURLToPath(new URL('../fixtures/sysroot/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/tasks/', import.meta.url));
const AGENT = join(FIXTURES, 'agent.sh');
const FENCE_AGENT = join(FIXTURES, 'fence-agent.mjs');
const LEASE_MS = 1500;

interface Daemon {
  name: string;
  dir: string;
  info: StartJson;
  client: SwarmClient;
  env: NodeJS.ProcessEnv;
}

let root: string;
const pids = new Set<number>();
const nodes = new Map<string, Daemon>();
let seed = '';

function nodeEnv(name: string, device: string, deviceClass: string, labels: string[]): NodeJS.ProcessEnv {
  const sys = join(root, `sys-${name}`);
  cpSync(join(SYSROOT, device), sys, { recursive: true });
  return {
    HOME: root,
    XDG_CONFIG_HOME: join(root, 'xdg'),
    SWARM_CONFIG: '',
    SWARM_SYSFS_ROOT: sys,
    SWARM_NODE__DEVICE_CLASS: deviceClass,
    SWARM_NODE__LABELS: JSON.stringify(labels),
  };
}

async function start(name: string, device: string, deviceClass: string, labels: string[]): Promise<Daemon> {
  const dir = join(root, name);
  const env = nodeEnv(name, device, deviceClass, labels);
  const info = await startNode({
    config: join(root, 'config.toml'),
    dir,
    extra: ['--name', name],
    join: seed === '' ? [] : [seed],
    env,
    pids,
    timeoutMs: 60_000,
  });
  const client = new SwarmClient({ baseUrl: info.api_url, timeoutMs: 8000 });
  if (seed === '') seed = (await client.status()).addresses.gossip ?? '';
  const d = { name, dir, info, client, env };
  nodes.set(name, d);
  return d;
}

const node = (name: string): Daemon => nodes.get(name) as Daemon;

function swarm(d: Daemon, args: string[]): ReturnType<typeof runSwarm> {
  // --data-dir before the arguments: after `--` everything is the task's command.
  const [group, sub, ...rest] = args;
  return runSwarm(['--config', join(root, 'config.toml'), group!, sub!, '--data-dir', d.dir, ...rest], {
    env: d.env,
    timeoutMs: 60_000,
  });
}

async function status(d: Daemon, task: string): Promise<TaskStatusResponse | null> {
  try {
    return await d.client.taskStatus(task);
  } catch {
    return null;
  }
}

/** `task`'s status through `d` once `count` of its allocations run. */
function running(d: Daemon, task: string, count: number, what: string): Promise<TaskStatusResponse> {
  return until(
    what,
    async () => {
      const v = await status(d, task);
      return v && v.running === count ? v : null;
    },
    30_000,
  );
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'swarm-tasks-e2e-'));
  writeFileSync(
    join(root, 'config.toml'),
    loopbackToml(
      ['bootstrap_expect = 3'],
      [
        ...consensusToml(100, 600, 1200),
        '[energy]',
        'collection_interval_ms = 200',
        '[tasks]',
        `lease_ms = ${LEASE_MS}`,
      ],
    ),
  );
  // Founders: two labelled mains nodes and the battery node; then a labelled minimal node.
  await start('a', 'rpi4', 'standard', ['camera']);
  await start('b', 'rpi4', 'standard', ['camera']);
  await start('bat', 'pi-zero-2w-hat', 'standard', ['solar']);
  await start('m', 'rpi4', 'minimal', ['camera']);
  await until(
    'a leader and every member alive',
    async () => {
      const l = await node('a').client.leader();
      const m = await node('a').client.members();
      return (
        l.leader !== null &&
        l.voters.length === 3 &&
        m.members.filter((x) => x.status === 'alive').length === 4
      );
    },
    60_000,
  );
}, 120_000);

afterAll(() => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  if (process.env.KEEP_E2E) console.log('kept', root);
  else rmSync(root, { recursive: true, force: true });
});

describe('tasks on real daemons', () => {
  it('a spec file is checked before any node is asked: the bad field is named, exit 2', async () => {
    const file = join(root, 'bad.toml');
    writeFileSync(file, 'name = "x"\ncommand = ["true"]\ncount = 0\n');
    const r = await swarm(node('a'), ['task', 'run', file]);
    expect(r.stderr).toBe('swarm: count: must be an integer between 1 and 64, got 0\n');
    expect(r.code).toBe(2);
    writeFileSync(file, 'name = "x"\ncommand = ["true"]\n[constraints]\ndevice_classes = ["minimal"]\n');
    const m = await swarm(node('a'), ['task', 'run', file]);
    expect(m.stderr).toBe('swarm: constraints.device_classes[0]: minimal devices never run tasks\n');
    const good = join(root, 'good.toml');
    writeFileSync(
      good,
      'name = "from-file"\ncommand = ["sleep", "30"]\nkill_timeout_s = 1\n[env]\nA = "1"\n',
    );
    const ok = await swarm(node('a'), ['task', 'run', good]);
    expect(ok.code).toBe(0);
    expect((await node('b').client.taskStatus('from-file')).spec).toMatchObject({
      env: { A: '1' },
      count: 1,
    });
    expect((await swarm(node('a'), ['task', 'stop', 'from-file'])).code).toBe(0);
  }, 60_000);

  it('labels: built-in and configured ones are in /v1/members', async () => {
    const m = await node('b').client.members();
    const bat = m.members.find((x) => x.name === 'bat');
    expect(bat?.labels).toEqual(expect.arrayContaining(['class=standard', 'power=battery', 'solar']));
    expect(m.members.find((x) => x.name === 'm')?.labels).toEqual(
      expect.arrayContaining(['class=minimal', 'power=mains', 'camera']),
    );
  });

  it('a critical battery drains its prefer-mains task to a mains node (start there, then stop here)', async () => {
    const bat = node('bat');
    const r = await swarm(node('a'), [
      'task',
      'run',
      '--name',
      'sun',
      '--on',
      'solar',
      '--energy',
      'prefer-mains',
      '--kill-timeout',
      '1',
      '--',
      AGENT,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await until(
      'sun running on bat',
      async () => {
        const s = await status(node('a'), 'sun');
        return s?.allocations.some((x) => x.node_name === 'bat' && x.state === 'running');
      },
      30_000,
    );
    const c = await start('c', 'rpi4', 'standard', ['solar']);
    await until(
      'c alive everywhere',
      async () => {
        const m = await node('a').client.members();
        return m.members.find((x) => x.name === 'c')?.status === 'alive';
      },
      30_000,
    );
    // A healthy battery keeps its task.
    await new Promise((res) => setTimeout(res, 1000));
    expect((await status(node('a'), 'sun'))?.allocations.map((x) => [x.node_name, x.desired])).toEqual([
      ['bat', 'run'],
    ]);

    const t0 = Date.now();
    writeFileSync(
      join(bat.env.SWARM_SYSFS_ROOT as string, 'sys/class/power_supply/bq27441-0/capacity'),
      '5\n',
    );
    const done = await until(
      'sun moved to c and stopped on bat',
      async () => {
        const s = await status(c, 'sun');
        const onC = s?.allocations.find((x) => x.node_name === 'c' && x.state === 'running');
        const onBat = s?.allocations.find((x) => x.node_name === 'bat');
        return onC && onBat?.state === 'stopped' ? s : null;
      },
      40_000,
    );
    const drainMs = Date.now() - t0;
    console.log(`drain on critical battery: ${drainMs} ms (write of capacity=5 to the original stopped)`);
    const batAlloc = done.allocations.find((x) => x.node_name === 'bat')!;
    const cAlloc = done.allocations.find((x) => x.node_name === 'c')!;
    expect(batAlloc.desired).toBe('stop');
    expect(batAlloc.reason).toMatch(/drained \(battery critical.*prefers mains\): moved to c/);
    expect(cAlloc.replaces).toBe(batAlloc.id);
    // Start elsewhere, then stop: the replacement was running before the original stopped.
    expect(Date.parse(cAlloc.since!)).toBeLessThanOrEqual(Date.parse(batAlloc.since!));
    const st = await swarm(c, ['task', 'status', 'sun']);
    expect(st.stdout).toMatch(/^bat +- +no +battery critical \(5%\)/m);
    expect((await swarm(c, ['task', 'stop', 'sun'])).code).toBe(0);
  }, 150_000);

  it('2 replicas land on the two labelled standard nodes, never the minimal one; logs from another node; stop stops both', async () => {
    const r = await swarm(node('c'), [
      'task',
      'run',
      '--name',
      'cam',
      '--on',
      'camera',
      '--count',
      '2',
      '--kill-timeout',
      '2',
      '--',
      AGENT,
    ]);
    expect(r.code).toBe(0);
    const s = await running(node('c'), 'cam', 2, '2 cam replicas running');
    expect(s.allocations.map((x) => x.node_name).sort()).toEqual(['a', 'b']);
    const ex = s.explanation!;
    expect(ex.nodes.find((n) => n.name === 'm')?.reasons).toContain('minimal devices never run tasks');
    expect(ex.nodes.find((n) => n.name === 'c')?.reasons).toContain('missing label camera');

    // c runs no replica: it reads the log through the node that runs it.
    const alloc = s.allocations[0]!;
    const logs = await until(
      'a log line through c',
      async () => {
        const l = await node('c').client.taskLogs('cam', { alloc: alloc.id });
        return l.data.includes('tick') ? l : null;
      },
      20_000,
    );
    expect(logs.node_name).toBe(alloc.node_name);
    expect(logs.data).toContain(`agent ${alloc.id} of cam on ${alloc.node} api http://127.0.0.1:`);
    // Every API listens on 127.0.0.1: c read it over the Raft channel (op task_logs), byte for byte.
    const direct = await node(alloc.node_name).client.taskLogs('cam', { alloc: alloc.id, offset: 0 });
    const via = await node('c').client.taskLogs('cam', {
      alloc: alloc.id,
      offset: 0,
      max: direct.next_offset,
    });
    expect(via.data).toBe(direct.data);
    expect(via.next_offset).toBe(direct.next_offset);
    const cli = await swarm(node('m'), ['task', 'logs', 'cam', '--alloc', s.allocations[1]!.id]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`agent ${s.allocations[1]!.id} of cam`);

    const groups = s.allocations.map((x) => x.pid!);
    expect(groups.every(groupAlive)).toBe(true);
    const stop = await swarm(node('m'), ['task', 'stop', 'cam']);
    expect(stop.stderr).toBe('');
    expect(stop.code).toBe(0);
    const after = (await status(node('a'), 'cam'))!;
    expect(after.allocations.map((x) => x.state)).toEqual(['stopped', 'stopped']);
    expect(groups.some(groupAlive)).toBe(false);
    const ls = await swarm(node('a'), ['task', 'ls', '--json']);
    expect(JSON.parse(ls.stdout).tasks.find((t: TaskStatusResponse) => t.name === 'cam').desired).toBe(
      'stop',
    );
  }, 120_000);

  it('task logs -f through another node: prints lines written after it started, exits when the task ends', async () => {
    const go = join(root, 'say-go');
    const r = await swarm(node('c'), [
      'task',
      'run',
      '--name',
      'say',
      '--on',
      'camera',
      '--restart',
      'never',
      '--',
      'sh',
      '-c',
      `echo first; while [ ! -e ${go} ]; do sleep 0.1; done; echo second; sleep 1; echo last; exit 4`,
    ]);
    expect(r.code).toBe(0);
    const s = await running(node('m'), 'say', 1, 'say running');
    expect(s.allocations[0]!.node_name).not.toBe('m');
    // m runs no task: the CLI follows through m, which reads the log over the Raft channel.
    const m = node('m');
    const w = watchSwarm(
      ['--config', join(root, 'config.toml'), 'task', 'logs', '--data-dir', m.dir, 'say', '-f'],
      m.env,
    );
    try {
      await until('the first line through logs -f', async () => w.out().includes('first\n'), 30_000);
      // Only now does the task write the rest: the CLI must follow to see it.
      expect(w.out()).not.toContain('second\n');
      writeFileSync(go, '');
      const code = await w.exited;
      expect(w.err()).toBe('');
      expect(code).toBe(0);
    } finally {
      w.child.kill('SIGKILL');
    }
    expect(w.out()).toMatch(/first\n[^]*second\n[^]*last\n[^]*exited with code 4/);
    expect((await status(node('a'), 'say'))!.allocations[0]).toMatchObject({ state: 'exited', exit_code: 4 });
  }, 120_000);

  it('restart policy: on-failure backs off exponentially up to max_restarts, then failed; never: exited', async () => {
    const a = node('a');
    await a.client.taskRun({
      name: 'flaky',
      command: ['sh', '-c', 'echo run; exit 3'],
      restart: 'on-failure',
      max_restarts: 3,
      backoff_ms: 300,
      backoff_max_ms: 1000,
    });
    await a.client.taskRun({ name: 'once', command: ['sh', '-c', 'exit 7'], restart: 'never' });
    const flaky = await until(
      'flaky failed',
      async () => {
        const s = await status(a, 'flaky');
        return s?.allocations[0]?.state === 'failed' ? s : null;
      },
      30_000,
    );
    expect(flaky.allocations[0]).toMatchObject({
      restarts: 3,
      exit_code: 3,
      message: 'exit 3 after 3 restarts (max_restarts 3)',
    });
    const log = await a.client.taskLogs('flaky');
    expect(log.data.match(/^run$/gm)).toHaveLength(4);
    // The supervisor's own lines give the back-off: 300, 600, 1000 (capped) ms.
    expect([...log.data.matchAll(/restarting in (\d+) ms/g)].map((m) => Number(m[1]))).toEqual([
      300, 600, 1000,
    ]);
    const starts = [...log.data.matchAll(/^\[swarm\] (\S+) started/gm)].map((m) => Date.parse(m[1]!));
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(300);
    expect(gaps[1]).toBeGreaterThanOrEqual(600);
    expect(gaps[2]).toBeGreaterThanOrEqual(1000);
    const once = await until(
      'once exited',
      async () => {
        const s = await status(a, 'once');
        return s?.allocations[0]?.state === 'exited' ? s : null;
      },
      20_000,
    );
    expect(once.allocations[0]).toMatchObject({ exit_code: 7, restarts: 0 });
    // The counters live on the node that ran it (placement chose it, not necessarily `a`).
    const metrics = await node(flaky.allocations[0]!.node_name).client.metricsText();
    expect(metrics).toMatch(/^swarm_tasks_restarts_total\{task="flaky"\} 3$/m);
    expect(metrics).toMatch(/^swarm_tasks_allocations\{state="failed"\} [1-9]/m);
  }, 60_000);

  it('SIGKILL of the node running a count = 1 task: it runs elsewhere, never twice at once (CAS-fenced lock)', async () => {
    const out = join(root, 'fence.log');
    writeFileSync(out, '');
    const a = node('a');
    await a.client.taskRun({
      name: 'solo',
      command: [process.execPath, FENCE_AGENT],
      env: { OUT: out, STALE_MS: '3000' },
      energy: 'mains-only',
      kill_timeout_s: 1,
    });
    const first = await until(
      'solo holding its lock',
      async () => {
        const s = await status(a, 'solo');
        const run = s?.allocations.find((x) => x.state === 'running');
        return run && readFileSync(out, 'utf8').includes(`acquired ${run.id}`) ? run : null;
      },
      30_000,
    );
    const victim = [...nodes.values()].find((d) => d.info.id === first.node)!;
    const watcher = [...nodes.values()].find((d) => d !== victim && d.name !== 'bat' && d.name !== 'm')!;
    await new Promise((res) => setTimeout(res, 1000));
    const killedAt = Date.now();
    process.kill(victim.info.pid, 'SIGKILL');
    nodes.delete(victim.name);
    const moved = await until(
      'solo running elsewhere',
      async () => {
        const s = await status(watcher, 'solo');
        const run = s?.allocations.find((x) => x.state === 'running' && x.node !== first.node);
        return s && run && readFileSync(out, 'utf8').includes(`acquired ${run.id}`) ? { s, run } : null;
      },
      90_000,
    );
    const replaceMs = Date.now() - killedAt;
    console.log(
      `re-placed after SIGKILL: ${replaceMs} ms (failure detection + lease ${LEASE_MS} ms + kill_timeout 1 s)`,
    );
    const old = moved.s.allocations.find((x) => x.id === first.id)!;
    expect(old).toMatchObject({ desired: 'stop', state: 'lost' });
    // The old replica died with its node (its lifeline pipe closed): its group is gone.
    expect(groupAlive(first.pid!)).toBe(false);
    await new Promise((res) => setTimeout(res, 1500));
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines.some((l) => l.startsWith('VIOLATION'))).toBe(false);
    // Every line of the first holder comes before any line of the second.
    const stamp = (id: string): number[] =>
      lines
        .filter((l) => l.includes(` ${id} `) || l.startsWith(`${id} `))
        .map((l) => Number(l.split(' ').pop()));
    expect(Math.max(...stamp(first.id))).toBeLessThan(Math.min(...stamp(moved.run.id)));
    expect(stamp(moved.run.id).length).toBeGreaterThan(0);
    expect(existsSync(out)).toBe(true);
  }, 150_000);
});
