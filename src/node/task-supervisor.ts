/**
 * The supervisor of one node: runs the allocations the leader placed here as
 * child processes, each in its own process group, and reports their states.
 *
 * Each task runs under a small `/bin/sh` wrapper whose stdin is a pipe from
 * this daemon: if the daemon dies (SIGKILL, crash), the pipe closes and the
 * wrapper stops the task (SIGTERM, then SIGKILL after kill_timeout_s), so no
 * task outlives its supervisor and the leader may re-place it without a
 * second copy running. A node cut off from the leader for [tasks] lease_ms
 * stops its tasks itself (TasksComponent), for the same reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterExit } from '../tasks/restart.js';
import { TERMINAL_STATES, allocId, type AllocStatus, type Allocation } from '../tasks/model.js';
import type { TaskSpec } from '../tasks/spec.js';
import type { Logger } from './log.js';
import { RotatingLog, allocDir } from './task-log.js';

/**
 * $1 = kill timeout (s), then argv. The task gets /dev/null as stdin and no fd 3; the watcher
 * reads fd 3 (our pipe): EOF means the daemon is gone.
 */
const WRAPPER = [
  'k=$1; shift',
  'exec 3<&0',
  '"$@" 3<&- </dev/null &',
  'c=$!',
  '( read _x <&3; kill -TERM "$c" 2>/dev/null; sleep "$k"; kill -KILL "$c" 2>/dev/null ) &',
  'w=$!',
  'exec 3<&-',
  'wait "$c"; r=$?',
  'kill "$w" 2>/dev/null',
  'exit $r',
].join('\n');

export interface LocalAllocation {
  readonly alloc: Allocation;
  readonly spec: TaskSpec;
  readonly status: AllocStatus | null;
}

export interface SupervisorHost {
  readonly selfId: string;
  readonly dataDir: string;
  readonly logMaxBytes: number;
  apiUrl(): string;
  report(task: string, n: number, status: AllocStatus): void;
  readonly log: Logger;
  /** Counters for /metrics. */
  onRestart(task: string): void;
  /** Bytes were appended to allocation `alloc`'s log (wakes followers of it). */
  onLogWrite?(alloc: string): void;
}

type Phase = 'starting' | 'running' | 'backoff' | 'stopping' | 'done';

interface Entry {
  alloc: Allocation;
  spec: TaskSpec;
  phase: Phase;
  child: ChildProcess | null;
  pid: number | null;
  restarts: number;
  timer: NodeJS.Timeout | null;
  log: RotatingLog | null;
  /** Report `stopped` once the process group is gone (false when fenced or the allocation vanished). */
  reportStop: boolean;
  stopWaiters: (() => void)[];
}

const key = (a: Allocation): string => `${a.task}/${a.n}`;

export class TaskSupervisor {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly host: SupervisorHost) {}

  /** Allocations running or about to (not done), for the fence timer and /metrics. */
  active(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.phase !== 'done') n++;
    return n;
  }

  /** Bring the processes in line with this node's allocations (all of them, from the KV). */
  sync(local: readonly LocalAllocation[]): void {
    const seen = new Set<string>();
    for (const l of local) {
      const k = key(l.alloc);
      seen.add(k);
      let e = this.entries.get(k);
      // Same key, another allocation (the task was stopped and run again): forget the finished one.
      if (e !== undefined && e.phase === 'done' && e.alloc.created_ms !== l.alloc.created_ms) {
        this.entries.delete(k);
        e = undefined;
      }
      const wantRun = l.alloc.desired === 'run';
      if (e === undefined) {
        if (!wantRun || (l.status !== null && TERMINAL_STATES.includes(l.status.state))) continue;
        e = {
          alloc: l.alloc,
          spec: l.spec,
          phase: 'starting',
          child: null,
          pid: null,
          restarts: l.status?.restarts ?? 0,
          timer: null,
          log: null,
          reportStop: true,
          stopWaiters: [],
        };
        this.entries.set(k, e);
        this.start(e);
        continue;
      }
      e.alloc = l.alloc;
      if (!wantRun && e.phase !== 'done' && e.phase !== 'stopping') this.stop(e, true);
    }
    // Allocations that disappeared from the KV (purged): stop without a report.
    for (const [k, e] of this.entries) {
      if (seen.has(k)) continue;
      if (e.phase === 'done') this.entries.delete(k);
      else if (e.phase !== 'stopping') this.stop(e, false);
    }
  }

  /** Stop everything (fenced from the leader, or the node stopping); resolves once all groups are gone. */
  async stopAll(report: boolean): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const e of this.entries.values()) {
      if (e.phase === 'done') continue;
      waits.push(new Promise((resolve) => e.stopWaiters.push(resolve)));
      if (e.phase !== 'stopping') this.stop(e, report);
    }
    await Promise.all(waits);
    // Forget them: after a fence, the next sync starts what is still placed here.
    for (const [k, e] of this.entries) if (e.phase === 'done' && !report) this.entries.delete(k);
  }

  private status(e: Entry, state: AllocStatus['state'], over: Partial<AllocStatus> = {}): void {
    this.host.report(e.alloc.task, e.alloc.n, {
      state,
      node: this.host.selfId,
      pid: e.pid,
      exit_code: null,
      signal: null,
      restarts: e.restarts,
      message: '',
      at_ms: Date.now(),
      ...over,
    });
  }

  private start(e: Entry): void {
    const id = allocId(e.alloc.task, e.alloc.n);
    const dir = allocDir(this.host.dataDir, id);
    e.log ??= new RotatingLog(dir, this.host.logMaxBytes, () => this.host.onLogWrite?.(id));
    e.phase = 'running';
    const env = {
      ...process.env,
      ...e.spec.env,
      SWARM_TASK: e.alloc.task,
      SWARM_ALLOC: id,
      SWARM_NODE: this.host.selfId,
      SWARM_API: this.host.apiUrl(),
    };
    let child: ChildProcess;
    try {
      child = spawn(
        '/bin/sh',
        ['-c', WRAPPER, 'swarm-task', String(e.spec.kill_timeout_s), ...e.spec.command],
        {
          cwd: dir,
          env,
          detached: true,
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
    } catch (err) {
      e.phase = 'done';
      this.status(e, 'failed', { message: `cannot start: ${(err as Error).message}` });
      return;
    }
    e.child = child;
    e.pid = child.pid ?? null;
    const log = e.log;
    child.stdout?.on('data', (b: Buffer) => log.write(b));
    child.stderr?.on('data', (b: Buffer) => log.write(b));
    // Our end of the wrapper's lifeline: never written, closed only by our death (or at exit).
    child.stdin?.on('error', () => {});
    child.on('error', (err) => {
      this.host.log.warn('task process error', { alloc: id, error: err });
    });
    child.on('exit', (code, signal) => this.exited(e, child, code, signal));
    log.note(`started ${JSON.stringify(e.spec.command)} pid ${e.pid ?? '?'} (restart ${e.restarts})`);
    this.host.log.info('task started', { alloc: id, pid: e.pid });
    this.status(e, 'running');
  }

  private exited(e: Entry, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (e.child !== child) return;
    e.child = null;
    const id = allocId(e.alloc.task, e.alloc.n);
    e.log?.note(`exited ${code === null ? `by ${signal ?? 'signal'}` : `with code ${code}`}`);
    if (e.phase === 'stopping') return; // stop() waits for the group and reports.
    const d = afterExit(e.spec, { code, signal }, e.restarts);
    const exit = { exit_code: code, signal: signal ?? null };
    if (d.action === 'restart') {
      e.phase = 'backoff';
      e.log?.note(`restarting in ${d.delayMs} ms (policy ${e.spec.restart})`);
      this.status(e, 'pending', { ...exit, pid: null, message: `restart in ${d.delayMs} ms` });
      e.timer = setTimeout(() => {
        e.timer = null;
        if (e.phase !== 'backoff') return;
        e.restarts++;
        this.host.onRestart(e.alloc.task);
        this.start(e);
      }, d.delayMs);
      return;
    }
    e.phase = 'done';
    e.log?.close();
    e.log = null;
    this.host.log.info('task ended', { alloc: id, code, signal, state: d.action });
    this.status(e, d.action, {
      ...exit,
      pid: null,
      ...(d.action === 'failed' ? { message: d.message } : {}),
    });
    this.wake(e);
  }

  /** SIGTERM to the group, SIGKILL after kill_timeout_s; `report`: write `stopped` when gone. */
  private stop(e: Entry, report: boolean): void {
    e.reportStop = report;
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
    const pgid = e.pid;
    const wasRunning = e.child !== null;
    e.phase = 'stopping';
    const finish = (): void => {
      e.phase = 'done';
      e.child = null;
      e.log?.note('stopped');
      e.log?.close();
      e.log = null;
      if (e.reportStop) this.status(e, 'stopped', { pid: null });
      this.wake(e);
    };
    if (!wasRunning || pgid === null) {
      finish();
      return;
    }
    const signalGroup = (sig: NodeJS.Signals | 0): boolean => {
      try {
        process.kill(-pgid, sig);
        return true;
      } catch {
        return false; // ESRCH: the group is gone
      }
    };
    e.log?.note(`stopping: SIGTERM, SIGKILL after ${e.spec.kill_timeout_s} s`);
    if (!signalGroup('SIGTERM')) {
      finish();
      return;
    }
    const killAt = Date.now() + e.spec.kill_timeout_s * 1000;
    // Polled only while stopping: the wrapper may be gone while a task ignoring SIGTERM is not.
    const poll = (): void => {
      if (!signalGroup(0)) {
        finish();
        return;
      }
      if (Date.now() >= killAt) signalGroup('SIGKILL');
      e.timer = setTimeout(poll, 100);
    };
    e.timer = setTimeout(poll, 50);
  }

  private wake(e: Entry): void {
    const ws = e.stopWaiters;
    e.stopWaiters = [];
    for (const w of ws) w();
  }
}
