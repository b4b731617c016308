/**
 * Starting and stopping node daemons from outside: used by `node start`,
 * `node stop` and `demo`. A daemon is the lean entry `daemon-main.js` spawned
 * detached with stdout/stderr appended to <data_dir>/node.log, given the
 * config this process resolved (resolved-config.ts); it runs the node as
 * `swarm node start --foreground` would, and is ready when it has published
 * node.json and its API answers.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SwarmError } from '../common/errors.js';
import { SwarmClient } from '../client/client.js';
import type { SwarmConfig } from '../config/schema.js';
import {
  awaitStopped,
  FILES,
  inspectDataDir,
  readRuntime,
  STOP_WAIT_MS,
  type RuntimeInfo,
} from '../node/datadir.js';

export { waitForExit } from '../node/datadir.js';
import { COMPILERS_CHOSEN, leanFlags } from '../node/compiler-tiering.js';
import { writeResolvedConfig } from './resolved-config.js';

import { daemonEntry } from './daemon-entry.js';

export { BUNDLED_DAEMON_ENTRY, COMPILED_DAEMON_ENTRY, daemonEntry } from './daemon-entry.js';

/**
 * V8 flags of a daemon process. A young generation capped at 4 MB per
 * semi-space keeps an idle node about 6 MB smaller (V8 otherwise grows it to
 * 8 MB per semi-space during start-up and keeps it). A 1 MB cap measured the
 * same at idle but, under write load, promoted short-lived request objects into
 * the old generation, whose mark-compact pauses (8-27 ms) became the largest
 * write gaps of a leader hand-over (docs/operations.md, "Memory"). A larger cap
 * does not shorten one client's slowest writes either: what a scavenge copies
 * grows with the bytes allocated since the last one, so with 16 MB a leader
 * under one client scavenged 3.5 times a second for 3.9-4.4 ms instead of 13-17
 * times for 1.0-1.2 ms; a busy node scavenges early instead (BUSY_SCAVENGE_TRIGGER
 * in src/node/compiler-tiering.ts).
 *
 * One V8 platform worker thread instead of one per core (4 on most boards):
 * every garbage collection and background compile task wakes the workers, and
 * on an idle node that was 1.5-2 of its ~8 wake-ups a second (voluntary context
 * switches of non-main threads, `node-swarm-idle`: 1.9 -> 0.6-1.0 per second).
 *
 * And garbage collection on the main thread alone (--single-threaded-gc: no
 * concurrent marking or sweeping, no parallel scavenge). The heap of a node
 * is a few MB, so its collections are short on the thread that allocated;
 * handing them to the worker cost that worker ~0.5 wake-ups a second at
 * idle, and the main thread futex waits to join it
 * (11 idle daemons, half with the flag: non-main threads 0.11-0.14/s against
 * 0.56-1.12/s). Under write load it may cost a few percent: raft-kv, 16
 * clients, 8 s, two runs each on this shared 2-core machine, leader writes/s
 * 6382 and 5689 with it against 6436 and 6366 without, p99 7.7-8.2 ms
 * against 7.6 ms (within this machine's noise, but the same sign).
 *
 * And V8's builtins called where the binary has them (--no-short-builtin-calls,
 * V8's own choice on a machine with less than 4 GB of memory, most boards):
 * with 4 GB or more V8 maps the 1.6 MB of builtins' code a second time, next
 * to its heap, for nearer calls from compiled code, and the builtins a node
 * runs through are then resident at both addresses (idle 3-node swarms side
 * by side: 45.0 -> 44.7 MB, the node binary's code pages 17.7 -> 17.4 MB).
 * Nearer calls matter to compiled code only; under load (raft-kv, 16 clients,
 * 3 trials of 5 s, alternating, same session) the leader wrote 4,865 and
 * 5,549 writes/s with it (p99 8.5 and 8.1 ms) against 5,386, 5,166 and 4,940
 * without (p99 8.5-9.7 ms): within this shared machine's noise.
 */
export const DAEMON_V8_FLAGS: readonly string[] = [
  '--max-semi-space-size=4',
  '--v8-pool-size=1',
  '--single-threaded-gc',
  '--no-short-builtin-calls',
];

/**
 * Extra V8 flags by `node.device_class`. A `minimal` device (an observer,
 * never leader; a few hundred MB of RAM at most) runs V8's lite mode: no
 * optimizing compiler and feedback vectors allocated lazily, 5-8 MB less
 * idle RSS (bench/daemon-rss-flags.ts: 48.6-50.3 MB against 55-56 MB). It
 * costs CPU per applied entry (10-20% per KV write on a follower, measured
 * with --no-opt, docs/operations.md "Memory"), which a node that never leads
 * and serves few requests can spend; `standard` and `full` keep the
 * optimizing compiler, since a leader's writes would pay 35-40% more.
 */
export const DEVICE_CLASS_V8_FLAGS: Readonly<Record<string, readonly string[]>> = {
  minimal: ['--lite-mode'],
};

/** DAEMON_V8_FLAGS and the device class's: what every node process of that class runs with. */
export function daemonV8Flags(deviceClass?: string): string[] {
  return [...DAEMON_V8_FLAGS, ...((deviceClass && DEVICE_CLASS_V8_FLAGS[deviceClass]) || [])];
}

/**
 * Node flags for a daemon: ours (and its device class's), except those the user already sets in
 * NODE_OPTIONS (theirs win); and V8's upper compilers off and its lean heap settings from the
 * start (LEAN_FLAGS, but for a heap setting the user's NODE_OPTIONS name), which the
 * node turns on once it works (src/node/compiler-tiering.ts: the daemon entry knows its command
 * line is ours), unless the user's options or the device class already decide them (`--lite-mode`).
 */
export function daemonNodeFlags(env: NodeJS.ProcessEnv = process.env, deviceClass?: string): string[] {
  const user = (env.NODE_OPTIONS ?? '').replace(/_/g, '-');
  const ours = daemonV8Flags(deviceClass).filter((f) => !user.includes(f.split('=')[0] ?? f));
  const chosen = COMPILERS_CHOSEN.test(user) || ours.some((f) => COMPILERS_CHOSEN.test(f));
  return chosen ? ours : [...ours, ...leanFlags(user)];
}

/**
 * Environment a daemon gets from its launcher (and the systemd unit, `Environment=`), under the
 * user's own: a variable already set in the launcher's environment is left as it is.
 *
 * MALLOC_ARENA_MAX=1: glibc gives a thread that allocates while the main arena is locked an arena
 * of its own (up to 8 per core), whose touched pages stay resident. A daemon's allocations are the
 * main thread's: V8 runs one platform worker and collects garbage on the main thread
 * (DAEMON_V8_FLAGS), libuv's pool threads only run file calls. Idle 3-node swarms side by side
 * (bench/daemon-rss-ab.ts, docs/operations.md "Memory"): 0.1-0.5 MB less RSS per daemon.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

/** The daemon's environment: `env` plus DAEMON_ENV's variables that `env` does not set. */
export function daemonEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [k, v] of Object.entries(DAEMON_ENV)) if (out[k] === undefined) out[k] = v;
  return out;
}

/** `node stop`/`status` found nothing to talk to. Exit 1. */
export class NoNodeRunningError extends SwarmError {
  constructor(dataDir: string, stalePid: number | null = null) {
    const stale = stalePid === null ? '' : `; removed stale pidfile and lock of dead PID ${stalePid}`;
    super('no_node', `No node is running (data dir ${dataDir}${stale})`, { fields: { dataDir, stalePid } });
  }
}

export class StartFailedError extends SwarmError {
  constructor(message: string) {
    super('start_failed', message);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The reason a daemon gave for dying: the last `swarm: ...` line it wrote to node.log after `fromByte`. */
function failureReason(logPath: string, fromByte: number): string | null {
  let text: string;
  try {
    text = readFileSync(logPath).subarray(fromByte).toString('utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const cli = lines.filter((l) => l.startsWith('swarm: ')).pop();
  if (cli) return cli.slice('swarm: '.length);
  for (const l of lines.reverse()) {
    try {
      const rec = JSON.parse(l) as { level?: string; msg?: string; error?: { message?: string } };
      if (rec.level === 'error') return rec.error?.message ?? rec.msg ?? null;
    } catch {
      return l.slice(0, 300);
    }
  }
  return null;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Hand `config` over to a daemon (written into its data dir) and return the
 * node arguments that start it: Node flags, the daemon entry, the file.
 */
export function daemonArgs(config: SwarmConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    ...daemonNodeFlags(env, config.node.device_class),
    daemonEntry(),
    writeResolvedConfig(config.node.data_dir, config),
  ];
}

export interface SpawnDaemonOptions {
  /** The validated, effective config (file, env and flags merged); its node.data_dir is the daemon's. */
  config: SwarmConfig;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

/** Start a detached node and wait until its API answers; on failure the daemon's own reason is reported. */
export async function spawnDaemon(opts: SpawnDaemonOptions): Promise<RuntimeInfo> {
  const dataDir = opts.config.node.data_dir;
  mkdirSync(dataDir, { recursive: true });
  const logPath = join(dataDir, FILES.log);
  const logStart = fileSize(logPath);
  const fd = openSync(logPath, 'a', 0o644);
  let child;
  try {
    const env = opts.env ?? process.env;
    child = spawn(process.execPath, daemonArgs(opts.config, env), {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: daemonEnv(env),
      cwd: dataDir,
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new StartFailedError('could not spawn the node process');
  let exited: number | null | undefined;
  child.once('exit', (code, signal) => {
    exited = code ?? (signal ? 128 : 1);
  });
  child.unref();

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const reason = failureReason(logPath, logStart) ?? `exited with code ${exited}`;
      throw new StartFailedError(`node failed to start: ${reason} (log: ${logPath})`);
    }
    const rt = readRuntime(dataDir);
    if (rt && rt.pid === pid && rt.api_url) {
      try {
        const token = opts.config.security.api_token;
        await new SwarmClient({ baseUrl: rt.api_url, token, timeoutMs: 1000 }).health();
        return rt;
      } catch {
        // not answering yet
      }
    }
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
  throw new StartFailedError(`node did not become ready in time (log: ${logPath})`);
}

export interface StoppedNode {
  pid: number;
  id: string;
  name: string;
  /** How the stop was requested. */
  via: 'api' | 'signal';
}

/**
 * Stop the node of a data dir: ask it over the API, fall back to SIGTERM (only
 * to the PID whose start time matches the lock, so a reused PID is never hit),
 * and wait until the process has exited.
 */
export async function stopDaemon(opts: {
  dataDir: string;
  token?: string;
  timeoutMs?: number;
}): Promise<StoppedNode> {
  const found = inspectDataDir(opts.dataDir);
  if (found.state === 'none') throw new NoNodeRunningError(opts.dataDir);
  if (found.state === 'stale') throw new NoNodeRunningError(opts.dataDir, found.pid);
  const { ref, runtime } = found;
  let via: StoppedNode['via'] = 'signal';
  if (runtime?.api_url) {
    try {
      await new SwarmClient({ baseUrl: runtime.api_url, token: opts.token, timeoutMs: 3000 }).shutdown('cli');
      via = 'api';
    } catch {
      // fall back to a signal below
    }
  }
  if (via === 'signal') {
    try {
      process.kill(ref.pid, 'SIGTERM');
    } catch {
      // exited meanwhile
    }
  }
  await awaitStopped(ref, opts.timeoutMs ?? STOP_WAIT_MS);
  return { pid: ref.pid, id: runtime?.id ?? '', name: runtime?.name ?? '', via };
}
