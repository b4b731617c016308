/**
 * Shared by the Python clients' tests: 3 real daemons on loopback (multicast off, join lists only)
 * and a swarm_lite observer run as a child process (clients/python/tests/observer_driver.py) whose
 * JSON lines the test reads.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwarmClient } from '../../src/client/client.js';
import {
  isolatedEnv,
  runProcess,
  runSwarm,
  SWARM_BIN,
  type RunResult,
  type StartedDaemon,
} from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';

import { freeUdpPorts } from '../helpers/free-ports.js';

export const PY_DIR = fileURLToPath(new URL('../../clients/python/', import.meta.url));
export const DRIVER = join(PY_DIR, 'tests', 'observer_driver.py');

export type Daemon = StartedDaemon;

export async function poll<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  ms: number,
  what: string,
  stepMs = 100,
): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  for (let i = 0; i < 5000 && Date.now() < end; i++) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch {
      // a daemon busy starting: try again
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`not within ${ms} ms: ${what}; last: ${JSON.stringify(last)?.slice(0, 800)}`);
}

/** Three daemons on loopback; `key` sets `security.swarm_key` on all of them. */
export class TestSwarm {
  readonly root = mkdtempSync(join(tmpdir(), 'swarm-python-'));
  readonly pids = new Set<number>();
  nodes: Daemon[] = [];

  constructor(private readonly key = '') {
    writeFileSync(
      join(this.root, 'config.toml'),
      '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nport = 0\n\n[raft]\nport = 0\n',
    );
  }

  env(): NodeJS.ProcessEnv {
    return isolatedEnv(this.root, { SWARM_SECURITY__SWARM_KEY: this.key });
  }

  /**
   * The `swarm` CLI; SWARM_PY_TEST_BIN may name another build's bin/swarm.js (to run these tests
   * against a branch that is not merged yet, e.g. `events`).
   */
  swarm(args: readonly string[]): ReturnType<typeof runSwarm> {
    const argv = ['--config', join(this.root, 'config.toml'), ...args];
    const bin = process.env.SWARM_PY_TEST_BIN;
    if (bin === undefined || bin === '' || bin === SWARM_BIN) return runSwarm(argv, { env: this.env() });
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, ...argv], {
        env: { ...process.env, ...this.env() },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  async start(count = 3): Promise<Daemon[]> {
    const ports = await freeUdpPorts(count);
    for (let i = 0; i < count; i++) {
      const name = `py${i}`;
      const dataDir = join(this.root, name);
      const args = ['node', 'start', '--json', '--name', name, '--data-dir', dataDir];
      args.push('--no-multicast', '--gossip-port', String(ports[i]));
      if (i > 0) args.push('--join', `127.0.0.1:${ports[0]}`);
      const r = await this.swarm(args);
      const pid = /"pid":(\d+)/.exec(r.stdout);
      if (pid) this.pids.add(Number(pid[1]));
      if (r.code !== 0) throw new Error(`node start failed: ${r.stderr}`);
      const info = JSON.parse(r.stdout) as { pid: number; id: string; api_url: string };
      this.nodes.push({
        name,
        ...info,
        dataDir,
        port: ports[i]!,
        client: new SwarmClient({ baseUrl: info.api_url, timeoutMs: 3000 }),
      });
    }
    for (const n of this.nodes) {
      await poll(
        () => n.client.members(),
        (m) => m.members.filter((x) => x.status === 'alive').length === count,
        30_000,
        `${n.name} sees ${count} alive`,
      );
    }
    return this.nodes;
  }

  stop(): void {
    for (const pid of this.pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface DriverLine {
  kind: string;
  [k: string]: unknown;
}

/** One swarm_lite observer in a child process; its stdout lines are collected as they arrive. */
export class Observer {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly lines: DriverLine[] = [];
  stderr = '';
  private buf = '';

  constructor(seed: string, name: string, opts: Record<string, string> = {}) {
    const args = [DRIVER, seed, name];
    for (const [k, v] of Object.entries(opts)) args.push(`--${k}`, v);
    this.proc = spawn('python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (line.trim() !== '') this.lines.push(JSON.parse(line) as DriverLine);
      }
    });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  async waitFor(
    kind: string,
    ms: number,
    match: (l: DriverLine) => boolean = () => true,
  ): Promise<DriverLine> {
    return poll(
      async () => this.lines.find((l) => l.kind === kind && match(l)),
      (l) => l !== undefined,
      ms,
      `observer line ${kind} (stderr: ${this.stderr.slice(-400)})`,
      50,
    ) as Promise<DriverLine>;
  }

  send(cmd: string): void {
    this.proc.stdin.write(`${cmd}\n`);
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/** Run a Python command to completion (unittest files), with a hard timeout. */
export function runPython(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return runProcess('python3', args, {
    cwd: opts.cwd ?? PY_DIR,
    env: opts.env,
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
}
