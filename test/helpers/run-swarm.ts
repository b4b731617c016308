/**
 * Runs the real `swarm` binary (compiled JS, as users run it) as a subprocess.
 * Tests depend on `npm run build` having run; `npm test` does that first.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { SwarmClient } from '../../src/client/client.js';
import { alive } from '../node/proc.js';

export const SWARM_BIN = fileURLToPath(new URL('../../bin/swarm.js', import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a daemon or CLI run kept to `root`: its own HOME and
 * XDG config dir, no SWARM_CONFIG from the caller, multicast off; `extra`
 * variables after those.
 */
export function isolatedEnv(root: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    HOME: root,
    XDG_CONFIG_HOME: join(root, 'xdg'),
    SWARM_CONFIG: '',
    SWARM_NETWORK__MULTICAST_ENABLED: 'false',
    ...extra,
  };
}

/**
 * Run `cmd` to completion, collecting its output; SIGKILL after `timeoutMs`.
 * With `input` the child's stdin is a pipe given that text, else it is closed.
 * `env` adds to this process's environment, or with `exactEnv` is the whole of it.
 */
export function runProcess(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; exactEnv?: boolean; input?: string; timeoutMs: number; cwd?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.exactEnv === true ? opts.env : { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    // Decoded as a stream: a multi-byte character split across two pipe reads stays whole.
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** A `swarm` command a test reads while it runs (`--watch`, `logs -f`, `demo`): see `watchSwarm`. */
export interface WatchedSwarm {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** Its stdout and stderr so far. */
  out(): string;
  err(): string;
  /** Its exit code (null: killed by a signal). */
  readonly exited: Promise<number | null>;
}

/**
 * `swarm ARGS...` with `env` over the test's environment, its output collected as it comes; SIGKILL
 * after `killAfterMs` (a hang guard, not a goal), cleared when it exits.
 */
export function watchSwarm(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  killAfterMs = 60_000,
): WatchedSwarm {
  const child = spawn(process.execPath, [SWARM_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (err += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const exited = new Promise<number | null>((r) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      r(code);
    }),
  );
  return { child, out: () => out, err: () => err, exited };
}

export function runSwarm(
  args: readonly string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    input?: string;
    timeoutMs?: number;
    cwd?: string;
    /** Run inside this network namespace (`ip netns exec`); a daemon it starts stays there. */
    netns?: string;
  } = {},
): Promise<RunResult> {
  const argv = [SWARM_BIN, ...args];
  const [cmd, cmdArgs] =
    opts.netns === undefined
      ? [process.execPath, argv]
      : ['ip', ['netns', 'exec', opts.netns, process.execPath, ...argv]];
  return runProcess(cmd, cmdArgs, {
    env: opts.env,
    cwd: opts.cwd,
    input: opts.input ?? '',
    timeoutMs: opts.timeoutMs ?? 30_000,
  });
}

/** A daemon a test started on loopback, with a client for its API. */
export interface StartedDaemon {
  name: string;
  pid: number;
  id: string;
  api_url: string;
  dataDir: string;
  port: number;
  client: SwarmClient;
}

/** What `swarm node start --json` prints. */
export interface StartJson {
  pid: number;
  id: string;
  api_url: string;
}

/**
 * `swarm node start --json` with `--config FILE`, `--data-dir DIR` (without `dir`, the config's
 * `data_dir`) and `extra` flags, inside `netns` when given. The daemon's PID goes to `pids` as
 * soon as the CLI printed it, even when the start then failed, so the test's cleanup can SIGKILL
 * it; a failed start throws with the CLI's stderr. The answer carries the CLI's stderr (warnings).
 */
export async function startNode(opts: {
  config: string;
  dir?: string;
  extra?: readonly string[];
  join?: readonly string[];
  env: NodeJS.ProcessEnv;
  pids: { add(pid: number): unknown };
  netns?: string;
  timeoutMs?: number;
}): Promise<StartJson & { stderr: string }> {
  const args = ['--config', opts.config, 'node', 'start', '--json'];
  if (opts.dir !== undefined) args.push('--data-dir', opts.dir);
  args.push(...(opts.extra ?? []));
  if (opts.join !== undefined && opts.join.length > 0) args.push('--join', opts.join.join(','));
  const r = await runSwarm(args, {
    env: opts.env,
    ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
  const pid = /"pid":(\d+)/.exec(r.stdout);
  if (pid) opts.pids.add(Number(pid[1]));
  if (r.code !== 0) {
    const where = opts.netns === undefined ? '' : ` in ${opts.netns}`;
    throw new Error(`node start${where} failed (${r.code}): ${r.stderr}`);
  }
  return { ...(JSON.parse(r.stdout) as StartJson), stderr: r.stderr };
}

/**
 * One detached daemon for the length of `body`: `startNode` (config, data dir, env), `body` with what
 * it printed, then `swarm node stop`, which must succeed. When the start, `body` or the stop fails,
 * the daemon gets SIGTERM, so a failing test leaves no daemon behind.
 */
export async function withDaemon(
  opts: { config: string; dir: string; env: NodeJS.ProcessEnv },
  body: (started: StartJson & { stderr: string }) => Promise<void>,
): Promise<void> {
  let pid = 0;
  try {
    await body(await startNode({ ...opts, pids: { add: (p: number) => (pid = p) } }));
    const stopped = await runSwarm(['--config', opts.config, 'node', 'stop', '--data-dir', opts.dir], {
      env: opts.env,
    });
    if (stopped.code !== 0) throw new Error(`node stop failed (${stopped.code}): ${stopped.stderr}`);
    pid = 0;
  } finally {
    if (pid !== 0) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}

/**
 * The loopback daemons of one test file under one temporary root: HOME and the XDG config dir
 * there, every daemon's PID, and a cleanup that SIGKILLs the live ones and removes the root
 * (kept, and printed, with KEEP_E2E set).
 */
export class DaemonRoot {
  readonly pids = new Set<number>();
  private dir = '';

  constructor(private readonly prefix: string) {}

  /** Make the root (in beforeAll, so a skipped file makes nothing); returns its path. */
  init(): string {
    this.dir = mkdtempSync(join(tmpdir(), this.prefix));
    return this.dir;
  }

  get root(): string {
    return this.dir;
  }

  env(): NodeJS.ProcessEnv {
    return { HOME: this.dir, XDG_CONFIG_HOME: join(this.dir, 'xdg'), SWARM_CONFIG: '' };
  }

  /**
   * `startNode` with `<root>/<config>` (default config.toml), recording the PID; `ports`: the Raft
   * and gossip ports a restarted node keeps, since its peers address it by them.
   */
  start(o: {
    dir: string;
    join?: readonly string[];
    ports?: { raft: string; gossip: string } | undefined;
    extra?: readonly string[];
    config?: string;
    timeoutMs?: number;
  }): Promise<StartJson & { stderr: string }> {
    const ports = o.ports === undefined ? [] : ['--raft-port', o.ports.raft, '--gossip-port', o.ports.gossip];
    return startNode({
      config: join(this.dir, o.config ?? 'config.toml'),
      dir: o.dir,
      extra: [...ports, ...(o.extra ?? [])],
      ...(o.join !== undefined ? { join: o.join } : {}),
      env: this.env(),
      pids: this.pids,
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    });
  }

  cleanup(): void {
    for (const pid of this.pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (this.dir === '') return;
    if (process.env.KEEP_E2E) console.log('kept', this.dir);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}
