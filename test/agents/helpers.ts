/**
 * Helpers for the real-process agent tests: spawn `node bin/swarm.js agent`
 * on an OS-chosen loopback port, and a seeded fault-injecting HTTP proxy that
 * sits on every agent-to-agent link (delays, reordering, duplicates, drops of
 * requests and of answers) and records every decision announced through it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createRng, type Rng } from '../../src/common/rng.js';
import { SWARM_BIN } from '../helpers/run-swarm.js';

/**
 * State directories for test agents. On tmpfs when there is one: these tests are about
 * the protocol, and an fsync on a disk shared with seven other test suites can take
 * 100 ms, which only makes runs slow. kill -9 keeps the page cache, so a restart still
 * reads exactly what the agent wrote before it answered.
 */
export function testDataRoot(prefix: string): string {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return mkdtempSync(join(base, prefix));
}

export interface AgentProc {
  id: string;
  url: string;
  port: number;
  proc: ChildProcess;
  output: () => string;
}

/** Starts one agent with PORT=0 and waits for its "listening on URL" line (bounded). */
export function spawnAgent(
  id: string,
  peers: readonly string[],
  dataDir: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<AgentProc> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SWARM_BIN, 'agent'], {
      env: {
        ...process.env,
        AGENT_ID: id,
        PORT: '0',
        PEERS: peers.join(','),
        AGENT_DATA_DIR: dataDir,
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`agent ${id} did not start: ${out}`));
    }, 15_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+:(\d+))/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ id, url: m[1] as string, port: Number(m[2]), proc, output: () => out });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent ${id} exited with ${String(code)}: ${out}`));
    });
  });
}

/** SIGKILL (or another signal) and wait for the exit, bounded. */
export function killAgent(a: AgentProc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  return new Promise((resolve) => {
    if (a.proc.exitCode !== null || a.proc.signalCode !== null) return resolve();
    const t = setTimeout(resolve, 5000);
    a.proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    a.proc.kill(signal);
  });
}

export interface Faults {
  /** Request never reaches the target; the sender sees a broken connection. */
  dropRate: number;
  /** Answer is lost after the target handled the request. */
  dropReplyRate: number;
  /** Request delivered twice (the second copy later). */
  dupRate: number;
  /** Share of messages delayed long (up to longDelayMs) instead of up to shortDelayMs. */
  longRate: number;
  shortDelayMs: number;
  longDelayMs: number;
}

export const NO_FAULTS: Faults = {
  dropRate: 0,
  dropReplyRate: 0,
  dupRate: 0,
  longRate: 0,
  shortDelayMs: 0,
  longDelayMs: 0,
};

export interface SeenFinal {
  run: string;
  value: number;
  round: number;
  attempts: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class FaultProxy {
  target = '';
  faults: Faults = NO_FAULTS;
  readonly finals: SeenFinal[] = [];
  forwarded = 0;
  /** Paths of the requests that reached the proxy, in arrival order (last 200). */
  readonly seen: string[] = [];
  /** Faults actually injected, so a test can show it was not run on a quiet network. */
  readonly injected = { drops: 0, replyDrops: 0, dups: 0, longDelays: 0 };
  private rng: Rng = createRng(0);
  private server: Server | null = null;
  private url_ = '';

  get url(): string {
    return this.url_;
  }

  reseed(seed: number, faults: Faults): void {
    this.rng = createRng(seed);
    this.faults = faults;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url_ = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private delay(): number {
    const f = this.faults;
    if (this.rng.next() < f.longRate) {
      this.injected.longDelays++;
      return this.rng.int(0, f.longDelayMs);
    }
    return this.rng.int(0, f.shortDelayMs);
  }

  private record(path: string, raw: string): void {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return;
    }
    const note = (m: Record<string, unknown>): void => {
      const run = m.run as { n: number; by: string } | undefined;
      const d = (m.decision ?? m) as Record<string, unknown>;
      if (run && typeof d.value === 'number') {
        this.finals.push({
          run: `${run.n}:${run.by}`,
          value: d.value,
          round: d.round as number,
          attempts: d.attempts as number,
        });
      }
    };
    if (typeof body !== 'object' || body === null) return;
    const b = body as Record<string, unknown>;
    if (path === '/final') note(b);
    if (Array.isArray(b.replies)) {
      for (const r of b.replies as Record<string, unknown>[]) if (r.type === 'final') note(r);
    }
  }

  private async forward(
    path: string,
    method: string,
    body: string,
  ): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.target}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: method === 'GET' ? undefined : body,
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, text: await res.text() };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    const path = req.url ?? '/';
    const method = req.method ?? 'POST';
    this.seen.push(path);
    if (this.seen.length > 200) this.seen.shift();
    const f = this.faults;
    // Decide every fate up front so one seed gives one schedule of faults per message.
    const dropReq = this.rng.next() < f.dropRate;
    const dup = this.rng.next() < f.dupRate;
    const dropReply = this.rng.next() < f.dropReplyRate;
    const d1 = this.delay();
    const d2 = this.delay();
    const d3 = this.delay();
    this.record(path, body);
    try {
      await sleep(d1);
      if (dropReq) {
        this.injected.drops++;
        res.destroy();
        return;
      }
      if (dup) {
        this.injected.dups++;
        void sleep(d3)
          .then(() => this.forward(path, method, body))
          .then(
            (r) => this.record(path, r.text),
            () => undefined,
          );
      }
      const r = await this.forward(path, method, body);
      this.forwarded++;
      this.record(path, r.text);
      await sleep(d2);
      if (dropReply) {
        this.injected.replyDrops++;
        res.destroy();
        return;
      }
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(r.text);
    } catch {
      res.destroy();
    }
  }
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function postJson(
  url: string,
  body: unknown,
  raw?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * Three agents, each reaching each other through its own proxy (6 links).
 * proxies[i][j] carries agent i's calls to agent j.
 */
export class Cluster {
  agents: AgentProc[] = [];
  proxies: FaultProxy[][] = [];
  readonly ids: string[];

  constructor(
    readonly dataRoot: string,
    readonly env: NodeJS.ProcessEnv,
    readonly n = 3,
  ) {
    this.ids = Array.from({ length: n }, (_, i) => `agent${i + 1}`);
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.n; i++) {
      const row: FaultProxy[] = [];
      for (let j = 0; j < this.n; j++) {
        const p = new FaultProxy();
        if (i !== j) await p.start();
        row.push(p);
      }
      this.proxies.push(row);
    }
    this.agents = await Promise.all(this.ids.map((_, i) => this.spawn(i)));
    for (let i = 0; i < this.n; i++) this.retarget(i);
  }

  allProxies(): FaultProxy[] {
    return this.proxies.flatMap((row, i) => row.filter((_, j) => j !== i));
  }

  private spawn(i: number): Promise<AgentProc> {
    const peers = this.proxies[i]!.filter((_, j) => j !== i).map((p) => p.url);
    return spawnAgent(this.ids[i]!, peers, `${this.dataRoot}/${this.ids[i]}`, this.env);
  }

  private retarget(j: number): void {
    for (let i = 0; i < this.n; i++) if (i !== j) this.proxies[i]![j]!.target = this.agents[j]!.url;
  }

  /** kill -9 agent i, start it again on the same data dir; its peers' proxies follow its new port. */
  async crashRestart(i: number): Promise<void> {
    await killAgent(this.agents[i]!);
    this.agents[i] = await this.spawn(i);
    this.retarget(i);
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => killAgent(a, 'SIGTERM')));
    await Promise.all(this.allProxies().map((p) => p.stop()));
  }
}
