/**
 * A small stand-in for Maelstrom: spawns N node processes, routes the messages
 * they print on stdout to each other's stdin (with a little random delay so
 * messages reorder), can partition the nodes into groups (inter-group messages
 * are dropped, as Maelstrom's partition nemesis does), and lets test clients
 * make RPCs to any node. Everything is bounded: every RPC has a timeout and
 * `stop()` kills each process it started, by PID.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { SWARM_BIN } from '../helpers/run-swarm.js';
import { parseMessage, type MaelstromBody, type MaelstromMessage } from '../../src/maelstrom/protocol.js';
import { createRng, type Rng } from '../../src/common/rng.js';

export interface HarnessOptions {
  nodes: number;
  /** swarm arguments, e.g. ['maelstrom', 'lin-kv']. */
  args: readonly string[];
  seed?: number;
  /** Inter-node delivery delay, uniform in [0, maxDelayMs]. */
  maxDelayMs?: number;
}

export interface RpcOutcome {
  /** null on timeout (the outcome is unknown). */
  readonly body: MaelstromBody | null;
}

export class MaelstromHarness {
  readonly nodeIds: string[];
  private readonly procs = new Map<string, ChildProcessWithoutNullStreams>();
  private readonly waiting = new Map<string, (m: MaelstromMessage) => void>();
  private groups = new Map<string, number>();
  private readonly rng: Rng;
  private readonly maxDelay: number;
  private nextMsgId = 1;
  private readonly exited = new Map<string, Promise<void>>();
  readonly stats = { routed: 0, dropped: 0 };
  stderr = '';

  constructor(private readonly opts: HarnessOptions) {
    this.nodeIds = Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`);
    this.rng = createRng(opts.seed ?? 1);
    this.maxDelay = opts.maxDelayMs ?? 3;
  }

  async start(): Promise<void> {
    for (const id of this.nodeIds) {
      const child = spawn(process.execPath, [SWARM_BIN, ...this.opts.args], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      this.procs.set(id, child);
      this.exited.set(id, new Promise((resolve) => child.on('exit', () => resolve())));
      child.stderr.on('data', (d: Buffer) => {
        if (this.stderr.length < 20_000) this.stderr += `[${id}] ${d.toString()}`;
      });
      child.stdin.on('error', () => undefined);
      const rl = createInterface({ input: child.stdout, crlfDelay: Infinity });
      rl.on('line', (line) => this.route(id, line));
    }
    await Promise.all(
      this.nodeIds.map(async (id) => {
        const r = await this.rpc('c0', id, { type: 'init', node_id: id, node_ids: this.nodeIds }, 10_000);
        if (r.body?.type !== 'init_ok')
          throw new Error(`${id} did not answer init: ${JSON.stringify(r.body)}\n${this.stderr}`);
      }),
    );
  }

  /** Nodes in different groups cannot exchange messages; clients always reach every node. */
  partition(groups: readonly (readonly string[])[]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((id) => this.groups.set(id, i)));
  }

  heal(): void {
    this.groups = new Map();
  }

  rpc(client: string, node: string, body: MaelstromBody, timeoutMs: number): Promise<RpcOutcome> {
    const msgId = this.nextMsgId++;
    const key = `${client}/${msgId}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        resolve({ body: null });
      }, timeoutMs);
      this.waiting.set(key, (m) => {
        clearTimeout(timer);
        this.waiting.delete(key);
        resolve({ body: m.body });
      });
      this.deliver({ src: client, dest: node, body: { ...body, msg_id: msgId } });
    });
  }

  async stop(): Promise<void> {
    for (const [id, child] of this.procs) {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await this.exited.get(id);
      clearTimeout(timer);
    }
    this.procs.clear();
  }

  private route(from: string, line: string): void {
    let msg: MaelstromMessage;
    try {
      msg = parseMessage(line);
    } catch {
      this.stderr += `[${from}] non-protocol stdout: ${line.slice(0, 200)}\n`;
      return;
    }
    if (msg.src !== from) this.stderr += `[${from}] message with wrong src ${msg.src}\n`;
    if (!msg.dest.startsWith('n')) {
      const cb = this.waiting.get(`${msg.dest}/${String(msg.body.in_reply_to)}`);
      cb?.(msg);
      return;
    }
    this.stats.routed++;
    if ((this.groups.get(from) ?? -1) !== (this.groups.get(msg.dest) ?? -1)) {
      this.stats.dropped++;
      return;
    }
    const delay = this.rng.next() * this.maxDelay;
    setTimeout(() => this.deliver(msg), delay);
  }

  private deliver(msg: MaelstromMessage): void {
    const child = this.procs.get(msg.dest);
    if (!child || child.stdin.destroyed) return;
    child.stdin.write(`${JSON.stringify(msg)}\n`);
  }
}
