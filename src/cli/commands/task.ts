/**
 * `swarm task run|ls|status|logs|stop`: tasks placed by the Raft leader and
 * supervised on every node (docs/tasks.md), through the local node's API (or
 * `--api URL`). A spec comes from a TOML or JSON file, or from flags with the
 * command after `--`; either way the node checks it and names a bad field.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliExit, UsageError } from '../../common/errors.js';
import { sleep } from '../../common/sleep.js';
import type { SwarmClient } from '../../client/client.js';
import type { TaskLogsResponse, TaskStatusResponse } from '../../api/routes/tasks-types.js';
import type { CliContext, Registrar } from '../context.js';
import { formatPairs, formatTable } from '../output.js';
import { clientFor, withNodeOptions, type NodeOptions } from './swarm.js';

type CommonOptions = NodeOptions;

const common = (cmd: Command): Command => withNodeOptions(cmd);
const client = (ctx: CliContext, o: CommonOptions): Promise<SwarmClient> => clientFor(ctx, o);

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface RunOptions extends CommonOptions {
  name?: string;
  on: string[];
  class: string[];
  count?: string;
  restart?: string;
  energy?: string;
  env: string[];
  powerW?: string;
  killTimeout?: string;
  maxRestarts?: string;
}

function numberFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got ${v}`);
  return n;
}

/** The spec as the user wrote it (file or flags); the node validates it. */
async function specFrom(args: readonly string[], o: RunOptions): Promise<Record<string, unknown>> {
  if (o.name === undefined) {
    if (args.length !== 1)
      throw new UsageError('give a spec FILE, or --name NAME [--on LABEL]... [--count K] -- CMD ARGS...');
    const file = args[0] as string;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    try {
      if (file.endsWith('.json')) return JSON.parse(text) as Record<string, unknown>;
      const { parse } = await import('smol-toml');
      return parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`${file}: ${(err as Error).message.split('\n')[0] ?? 'cannot parse'}`);
    }
  }
  if (args.length === 0)
    throw new UsageError(
      '--name needs the command after --, e.g. swarm task run --name a -- python3 agent.py',
    );
  const env: Record<string, string> = {};
  for (const kv of o.env) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`--env takes NAME=VALUE, got ${kv}`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const spec: Record<string, unknown> = { name: o.name, command: [...args] };
  if (Object.keys(env).length > 0) spec.env = env;
  if (o.on.length > 0 || o.class.length > 0)
    spec.constraints = {
      ...(o.on.length > 0 ? { labels: o.on } : {}),
      ...(o.class.length > 0 ? { device_classes: o.class } : {}),
    };
  const put = (k: string, v: unknown): void => {
    if (v !== undefined) spec[k] = v;
  };
  put('count', numberFlag(o.count, '--count'));
  put('restart', o.restart);
  put('energy', o.energy);
  put('power_w', numberFlag(o.powerW, '--power-w'));
  put('kill_timeout_s', numberFlag(o.killTimeout, '--kill-timeout'));
  put('max_restarts', numberFlag(o.maxRestarts, '--max-restarts'));
  return spec;
}

function allocCell(a: TaskStatusResponse['allocations'][number]): string {
  const extra = a.state === 'exited' || a.state === 'failed' ? `(${a.exit_code ?? a.signal ?? '?'})` : '';
  return `${a.node_name}:${a.state}${extra}`;
}

function formatList(tasks: readonly TaskStatusResponse[]): string {
  if (tasks.length === 0) return '(no tasks)\n';
  return formatTable(
    ['NAME', 'DESIRED', 'RUNNING', 'ENERGY', 'ALLOCATIONS'],
    tasks.map((t) => [
      t.name,
      t.desired,
      `${t.running}/${t.desired === 'run' ? t.spec.count : 0}`,
      t.spec.energy,
      t.allocations
        .filter((a) => a.desired === 'run' || a.state === 'running')
        .map(allocCell)
        .join(' ') || '-',
    ]),
  );
}

export function formatTaskStatus(t: TaskStatusResponse): string {
  const s = t.spec;
  const head = formatPairs([
    ['task', `${t.name} (${t.desired})`],
    ['command', JSON.stringify(s.command)],
    ['replicas', `${t.running} running of ${t.desired === 'run' ? s.count : 0}`],
    [
      'constraints',
      [...s.constraints.labels, ...s.constraints.device_classes.map((c) => `class in ${c}`)].join(', ') ||
        '-',
    ],
    ['restart', `${s.restart}, back-off ${s.backoff_ms}-${s.backoff_max_ms} ms, max ${s.max_restarts}`],
    ['energy', `${s.energy}${s.power_w > 0 ? `, ${s.power_w} W declared` : ''}`],
    ['kill timeout', `${s.kill_timeout_s} s`],
  ]);
  const allocs =
    t.allocations.length === 0
      ? '(no allocations)\n'
      : formatTable(
          ['ALLOC', 'NODE', 'DESIRED', 'STATE', 'PID', 'EXIT', 'RESTARTS', 'WHY'],
          t.allocations.map((a) => [
            a.id,
            a.node_name,
            a.desired,
            a.state,
            a.pid === null ? '-' : String(a.pid),
            a.exit_code === null ? (a.signal ?? '-') : String(a.exit_code),
            String(a.restarts),
            [a.reason, a.message].filter((x) => x !== '').join('; '),
          ]),
        );
  const ex = t.explanation;
  const why =
    ex === null
      ? ''
      : `\nplacement (last decision: ${ex.placed} of ${ex.wanted} placed, ${new Date(ex.at_ms).toISOString()}):\n` +
        formatTable(
          ['NODE', 'RANK', 'CHOSEN', 'WHY'],
          ex.nodes.map((n) => [
            n.name,
            n.rank === null ? '-' : String(n.rank),
            n.chosen ? 'yes' : 'no',
            n.reasons.join('; '),
          ]),
        );
  return `${head}\n\n${allocs}${why}`;
}

/** Whether `err` is the client's StreamNotSupportedError (an older node), without importing the class eagerly. */
const olderNode = (err: unknown): boolean => (err as { code?: unknown }).code === 'stream_not_supported';

/** Allocations not yet confirmed stopped. */
const busy = (t: TaskStatusResponse): number =>
  t.allocations.filter((a) => a.state === 'running' || a.state === 'pending').length;

/**
 * Print `name`'s log as it is written, from `from`, until the allocation ends (the node's follow
 * stream says so) or `signal` aborts. A stream that breaks (the node restarting) is opened again
 * from the last offset printed. Returns false when the node predates the stream.
 */
async function followLogs(
  c: SwarmClient,
  name: string,
  from: TaskLogsResponse,
  print: (r: TaskLogsResponse) => void,
  signal: AbortSignal,
): Promise<boolean> {
  let offset = from.next_offset;
  while (!signal.aborted) {
    try {
      for await (const item of c.taskLogsFollow(name, { alloc: from.alloc, offset, signal })) {
        if (item.type === 'log') {
          print(item.chunk);
          offset = item.chunk.next_offset;
        } else if (item.type === 'end') return true;
      }
      if (signal.aborted) return true;
    } catch (err) {
      if (olderNode(err)) return false;
      if ((err as { code?: string }).code === 'not_found') throw err;
      // The stream broke (the node restarting): open it again from where the output stopped.
      await sleep(1000, signal);
    }
  }
  return true;
}

/** Poll the plain read until `signal` aborts: only against a node older than the follow stream. */
async function pollLogs(
  c: SwarmClient,
  name: string,
  from: TaskLogsResponse,
  print: (r: TaskLogsResponse) => void,
  signal: AbortSignal,
): Promise<void> {
  let r = from;
  while (await sleep(500, signal)) {
    try {
      r = await c.taskLogs(name, { alloc: r.alloc, offset: r.next_offset });
    } catch (err) {
      if ((err as { code?: string }).code === 'not_found') throw err;
      continue; // the node running it may be restarting: keep trying
    }
    if (r.data !== '') print(r);
  }
}

/**
 * The task's view once no allocation runs or is pending, or the last view seen when `deadline`
 * (epoch ms) passes first. Follows the node's watch stream; polls only an older node.
 */
async function waitStopped(
  c: SwarmClient,
  name: string,
  first: TaskStatusResponse,
  deadline: number,
): Promise<TaskStatusResponse> {
  let r = first;
  if (busy(r) === 0) return r;
  const timeout = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
  try {
    for await (const v of c.taskWatch(name, timeout)) {
      r = v;
      if (busy(r) === 0) return r;
    }
    return r;
  } catch (err) {
    if (timeout.aborted) return r;
    if (!olderNode(err)) throw err;
  }
  while (busy(r) > 0 && Date.now() < deadline) {
    await sleep(250);
    r = await c.taskStatus(name);
  }
  return r;
}

export const register: Registrar = (program, ctx) => {
  const task = program
    .command('task')
    .description('run commands on the swarm, placed by capability and energy');
  const out = (s: string): void => void ctx.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

  common(
    task
      .command('run [args...]')
      .description(
        'run a task: swarm task run FILE, or swarm task run --name N [--on LABEL]... [--count K] -- CMD ARGS',
      )
      .option('--name <name>', 'task name (the command follows --)')
      .option('--on <label>', 'required node label (repeat for several)', collect, [])
      .option('--class <class>', 'allowed device class: full or standard (repeatable)', collect, [])
      .option('--count <k>', 'replicas, each on a different node')
      .option('--restart <policy>', 'always | on-failure | never')
      .option('--energy <policy>', 'any | mains-only | prefer-mains')
      .option('--power-w <watts>', 'estimated draw of one replica')
      .option('--kill-timeout <s>', 'seconds between SIGTERM and SIGKILL')
      .option('--max-restarts <n>', 'restarts before the allocation is failed')
      .option('--env <NAME=VALUE>', 'environment variable (repeatable)', collect, []),
  ).action(async (args: string[], o: RunOptions) => {
    const spec = await specFrom(args, o);
    // Checked here first (exit 2, naming the field) without a node; the node checks it again.
    const { parseTaskSpec } = await import('../../tasks/spec.js');
    parseTaskSpec(spec);
    const r = await (await client(ctx, o)).taskRun(spec);
    out(
      o.json
        ? JSON.stringify(r)
        : `task ${r.name} submitted (${r.spec.count} replica${r.spec.count === 1 ? '' : 's'}); see swarm task status ${r.name}`,
    );
  });

  common(task.command('ls').description('every task, its replicas and where they run')).action(
    async (o: CommonOptions) => {
      const r = await (await client(ctx, o)).taskList();
      out(o.json ? JSON.stringify(r) : formatList(r.tasks));
    },
  );

  common(
    task.command('status <name>').description('allocations, states and why each node was or was not chosen'),
  ).action(async (name: string, o: CommonOptions) => {
    const r = await (await client(ctx, o)).taskStatus(name);
    out(o.json ? JSON.stringify(r) : formatTaskStatus(r));
  });

  common(task.command('logs <name>').description("a task's output, read through the node that runs it"))
    .option('--alloc <id>', 'allocation (default: a running one, else the newest)')
    .option('-f, --follow', 'keep printing new output until the allocation ends (or Ctrl+C)')
    .action(async (name: string, o: CommonOptions & { alloc?: string; follow?: boolean }) => {
      const c = await client(ctx, o);
      const print = (r: TaskLogsResponse): void =>
        void ctx.stdout.write(o.json ? `${JSON.stringify(r)}\n` : r.data);
      const r = await c.taskLogs(name, o.alloc === undefined ? {} : { alloc: o.alloc });
      print(r);
      if (!o.follow) return;
      const ac = new AbortController();
      const onInt = (): void => ac.abort();
      process.once('SIGINT', onInt);
      try {
        if (!(await followLogs(c, name, r, print, ac.signal))) await pollLogs(c, name, r, print, ac.signal);
      } finally {
        process.off('SIGINT', onInt);
      }
    });

  common(
    task
      .command('stop <name>')
      .description('stop every replica (SIGTERM, then SIGKILL after kill_timeout_s)'),
  )
    .option('--no-wait', 'return once the stop is recorded, without waiting for the processes')
    .action(async (name: string, o: CommonOptions & { wait: boolean }) => {
      const c = await client(ctx, o);
      let r = await c.taskStop(name);
      if (o.wait) {
        r = await waitStopped(c, name, r, Date.now() + r.spec.kill_timeout_s * 1000 + 15_000);
        if (busy(r) > 0) {
          if (o.json) out(JSON.stringify(r));
          throw new CliExit(
            1,
            `task ${name}: ${busy(r)} allocation(s) not confirmed stopped yet (a node may be unreachable)`,
          );
        }
      }
      out(
        o.json
          ? JSON.stringify(r)
          : `task ${name} stopped (${r.allocations.length} allocation${r.allocations.length === 1 ? '' : 's'})`,
      );
    });
};
