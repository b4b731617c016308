/**
 * `swarm maelstrom lin-kv`: the project's Raft core and KV state machine as a
 * node of Maelstrom's linearizable key-value workload.
 *
 * - Raft messages travel as Maelstrom messages `{type: "raft", m: <base64 msgpack>}`
 *   between node ids, so Maelstrom's partition nemesis cuts them like any traffic.
 * - Writes and cas are proposed to the log and answered when this node applies
 *   the entry at the proposal's index: same term = the command's own result;
 *   another term = the proposal was overwritten and never happens (definite 11).
 *   No answer within the request timeout = indefinite error 0.
 * - Reads use ReadIndex: answered once the leader confirmed its leadership and
 *   applied up to the read index, without writing to the log.
 * - A node that is not the leader forwards the request to the leader it knows
 *   and relays the answer; with no known leader it answers 11 (nothing happened).
 *
 * The Ready loop is the shared driver (src/driver), the daemon's own, over an
 * in-memory storage: Maelstrom's lin-kv runs never restart a node process, and
 * the durability path is exercised by the simulator and the WAL tests.
 */
import { decode, encode } from '@msgpack/msgpack';
import { UsageError } from '../common/errors.js';
import { createRng } from '../common/rng.js';
import { memoryStorage } from '../driver/memory-storage.js';
import { RaftDriver } from '../driver/raft-driver.js';
import { encodeCommand, type JsonValue, type KvCommand, type KvResult } from '../raft/kv.js';
import { KvApplier } from '../raft/kv-applier.js';
import { RAFT_MESSAGE_TYPES, type RaftMessage } from '../raft/messages.js';
import { RaftNode } from '../raft/raft-node.js';
import { ErrorCode, MaelstromRpcError, type MaelstromBody, type MaelstromMessage } from './protocol.js';
import { MaelstromNode, type NodeIo } from './runtime.js';
import type { MaelstromWorkload } from './workloads.js';

export interface LinKvOptions {
  readonly tickMs: number;
  readonly heartbeatMs: number;
  readonly electionMinMs: number;
  readonly electionMaxMs: number;
  /** How long a client request may wait for commit before an indefinite timeout error. */
  readonly requestTimeoutMs: number;
  /** Compact the log after this many applied entries. */
  readonly snapshotEvery: number;
  /**
   * Deliberately broken mode for testing the test harness: every node answers
   * reads from its local state without ReadIndex, so stale reads happen.
   */
  readonly unsafeLocalReads?: boolean;
}

export const DEFAULT_LIN_KV: LinKvOptions = {
  tickMs: 10,
  heartbeatMs: 50,
  electionMinMs: 300,
  electionMaxMs: 600,
  requestTimeoutMs: 1000,
  snapshotEvery: 1000,
};

const RAFT_TYPES = new Set<string>(RAFT_MESSAGE_TYPES);

export function encodeRaftMessage(m: RaftMessage): string {
  return Buffer.from(encode(m)).toString('base64');
}

export function decodeRaftMessage(s: string): RaftMessage {
  const v = decode(Buffer.from(s, 'base64')) as Partial<RaftMessage> | null;
  if (v === null || typeof v !== 'object' || typeof v.type !== 'string' || !RAFT_TYPES.has(v.type)) {
    throw new MaelstromRpcError(ErrorCode.MalformedRequest, 'not a raft message');
  }
  if (typeof v.from !== 'string' || typeof v.to !== 'string' || typeof v.term !== 'number') {
    throw new MaelstromRpcError(ErrorCode.MalformedRequest, 'raft message lacks from/to/term');
  }
  return v as RaftMessage;
}

/** Maelstrom keys are JSON values (usually integers); the KV's keys are strings. */
function kvKey(key: unknown): string {
  return JSON.stringify(key ?? null);
}

function errorBody(code: number, text: string): MaelstromBody {
  return { type: 'error', code, text };
}

export class LinKvServer {
  private driver: RaftDriver | null = null;
  private readonly applier = new KvApplier();
  private readSeq = 0;

  constructor(
    private readonly node: MaelstromNode,
    private readonly opts: LinKvOptions = DEFAULT_LIN_KV,
  ) {
    node.onInit((n) => this.start(n));
    node.on('raft', (m) => this.onRaft(m));
    node.on('read', (m) => this.onClient(m));
    node.on('write', (m) => this.onClient(m));
    node.on('cas', (m) => this.onClient(m));
    node.on('forward', (m) => this.onForward(m));
  }

  private start(n: MaelstromNode): void {
    // Seeded from the node id and start time: nodes need different election timeouts, not secrecy.
    const seed =
      [...n.id].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261) ^ Math.floor(n.now());
    const core = new RaftNode(
      {
        id: n.id,
        electionTimeoutMinMs: this.opts.electionMinMs,
        electionTimeoutMaxMs: this.opts.electionMaxMs,
        heartbeatIntervalMs: this.opts.heartbeatMs,
        rng: createRng(seed >>> 0),
      },
      { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
      { voters: [...n.nodeIds], learners: [] },
    );
    this.driver = new RaftDriver({
      core,
      storage: memoryStorage,
      transport: {
        maxFrameBytes: Number.POSITIVE_INFINITY,
        send: (m) => {
          n.sendOneWay(m.to, { type: 'raft', m: encodeRaftMessage(m) });
          return 'queued';
        },
      },
      clock: {
        now: () => n.now(),
        preciseNow: () => performance.now(),
        nextTurn: () => new Promise<void>((resolve) => setImmediate(resolve)),
        every: (ms, fn) => n.every(ms, fn),
      },
      applier: this.applier,
      tickMs: this.opts.tickMs,
      snapshotEvery: this.opts.snapshotEvery,
      hooks: {
        // Every node is a voter from init on.
        shouldTick: () => true,
        onFailure: (err) => {
          process.stderr.write(
            `lin-kv: raft driver failed: ${err instanceof Error ? err.message : String(err)}\n`,
          );
        },
      },
    });
    this.driver.updateTimer();
  }

  private get core(): RaftNode | null {
    return this.driver?.core ?? null;
  }

  private onRaft(m: MaelstromMessage): void {
    const raw = m.body.m;
    if (typeof raw !== 'string') return;
    const msg = decodeRaftMessage(raw);
    if (msg.to !== this.node.id) return;
    this.driver!.receive(msg);
  }

  private async onClient(m: MaelstromMessage): Promise<void> {
    const body = await this.execute(m.body, 0);
    this.node.reply(m, body);
  }

  private async onForward(m: MaelstromMessage): Promise<void> {
    const req = m.body.req;
    const hops = typeof m.body.hops === 'number' ? m.body.hops : 0;
    if (typeof req !== 'object' || req === null || Array.isArray(req)) {
      throw new MaelstromRpcError(ErrorCode.MalformedRequest, 'forward without req');
    }
    const body = await this.execute(req as MaelstromBody, hops);
    this.node.reply(m, { type: 'forward_ok', res: body });
  }

  /** Runs a client request here if leader, else at the leader; resolves to the reply body. */
  private async execute(req: MaelstromBody, hops: number): Promise<MaelstromBody> {
    const core = this.core!;
    const now = this.node.now();
    const key = kvKey(req.key);
    if (req.type === 'read') {
      if (this.opts.unsafeLocalReads === true) {
        const rec = this.applier.kv.get(key);
        return rec === null
          ? errorBody(ErrorCode.KeyDoesNotExist, 'key does not exist')
          : { type: 'read_ok', value: rec.value };
      }
      const id = `${this.node.id}.${++this.readSeq}`;
      const r = core.readIndex(id, now);
      if (!r.ok) return this.forward(req, r.leader, hops);
      const p = new Promise<MaelstromBody>((resolve) =>
        this.applier.awaitRead(id, {
          ready: (kv) => {
            const rec = kv.get(key);
            resolve(
              rec === null
                ? errorBody(ErrorCode.KeyDoesNotExist, 'key does not exist')
                : { type: 'read_ok', value: rec.value },
            );
          },
        }),
      );
      this.process();
      return this.withTimeout(p, () => {
        this.applier.cancelRead(id);
        // A read has no effect, so giving up on it is a definite failure.
        return errorBody(ErrorCode.TemporarilyUnavailable, 'read not confirmed in time (leadership lost?)');
      });
    }
    let cmd: KvCommand;
    if (req.type === 'write') {
      cmd = { op: 'put', key, value: (req.value ?? null) as JsonValue };
    } else if (req.type === 'cas') {
      cmd = {
        op: 'cas',
        key,
        expected: (req.from ?? null) as JsonValue,
        value: (req.to ?? null) as JsonValue,
        ...(req.create_if_not_exists === true ? { createIfMissing: true } : {}),
      };
    } else {
      return errorBody(ErrorCode.NotSupported, `unsupported request ${req.type}`);
    }
    const r = core.propose(encodeCommand(cmd), now);
    if (!r.ok) return this.forward(req, r.leader, hops);
    const p = new Promise<MaelstromBody>((resolve) =>
      this.applier.awaitApply(r.index, {
        term: r.term,
        applied: (result) => resolve(this.resultBody(result)),
        superseded: (index, term) =>
          resolve(
            errorBody(
              ErrorCode.TemporarilyUnavailable,
              `proposal at ${index} was superseded by term ${term}`,
            ),
          ),
        abandoned: (reason) => resolve(errorBody(ErrorCode.Timeout, reason)),
      }),
    );
    this.process();
    return this.withTimeout(p, () => {
      this.applier.cancelApply(r.index);
      return errorBody(
        ErrorCode.Timeout,
        `entry ${r.index} not committed within ${this.opts.requestTimeoutMs} ms`,
      );
    });
  }

  private async forward(req: MaelstromBody, leader: string | null, hops: number): Promise<MaelstromBody> {
    if (leader === null || leader === this.node.id || hops >= 2) {
      return errorBody(ErrorCode.TemporarilyUnavailable, 'no leader known');
    }
    const { msg_id: _id, in_reply_to: _re, ...clean } = req;
    try {
      const res = await this.node.rpc(
        leader,
        { type: 'forward', req: clean, hops: hops + 1 },
        this.opts.requestTimeoutMs,
      );
      const inner = res.body.res;
      if (res.body.type === 'forward_ok' && typeof inner === 'object' && inner !== null)
        return inner as MaelstromBody;
      if (res.body.type === 'error') return { type: 'error', code: res.body.code, text: res.body.text };
      return errorBody(ErrorCode.Crash, `leader ${leader} answered ${res.body.type}`);
    } catch (err) {
      // The leader may have applied the request; for a read that does not matter.
      const code = req.type === 'read' ? ErrorCode.TemporarilyUnavailable : ErrorCode.Timeout;
      return errorBody(
        code,
        `forward to ${leader} failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  private withTimeout(p: Promise<MaelstromBody>, onTimeout: () => MaelstromBody): Promise<MaelstromBody> {
    return new Promise((resolve) => {
      let done = false;
      const cancel = this.node.after(this.opts.requestTimeoutMs, () => {
        if (done) return;
        done = true;
        resolve(onTimeout());
      });
      void p.then((body) => {
        if (done) return;
        done = true;
        cancel();
        resolve(body);
      });
    });
  }

  /** The runtime duties (send, apply, answer reads, advance, compact) run in the shared driver. */
  private process(): void {
    this.driver?.kick();
  }

  private resultBody(r: KvResult): MaelstromBody {
    if (r.ok) {
      if (r.op === 'put') return { type: 'write_ok' };
      if (r.op === 'cas') return { type: 'cas_ok' };
      return errorBody(ErrorCode.Crash, `unexpected result ${r.op}`);
    }
    if (r.error === 'not_found') return errorBody(ErrorCode.KeyDoesNotExist, 'key does not exist');
    if (r.error === 'mismatch')
      return errorBody(ErrorCode.PreconditionFailed, 'current value differs from `from`');
    return errorBody(ErrorCode.MalformedRequest, r.error);
  }
}

function num(v: string | boolean | undefined, dflt: number, name: string): number {
  if (v === undefined || typeof v === 'boolean') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got ${v}`);
  return n;
}

export async function runLinKv(io: NodeIo, opts: LinKvOptions = DEFAULT_LIN_KV): Promise<void> {
  const node = new MaelstromNode(io);
  new LinKvServer(node, opts);
  await node.run();
}

export const linKvWorkload: MaelstromWorkload = {
  name: 'lin-kv',
  description: "serve Maelstrom's lin-kv workload (read/write/cas) with Raft + the KV state machine",
  options: [
    {
      flags: '--tick-ms <ms>',
      description: 'core tick interval',
      defaultValue: String(DEFAULT_LIN_KV.tickMs),
    },
    {
      flags: '--heartbeat-ms <ms>',
      description: 'leader heartbeat interval',
      defaultValue: String(DEFAULT_LIN_KV.heartbeatMs),
    },
    {
      flags: '--election-min-ms <ms>',
      description: 'minimum election timeout',
      defaultValue: String(DEFAULT_LIN_KV.electionMinMs),
    },
    {
      flags: '--election-max-ms <ms>',
      description: 'maximum election timeout',
      defaultValue: String(DEFAULT_LIN_KV.electionMaxMs),
    },
    {
      flags: '--request-timeout-ms <ms>',
      description: 'answer a client with a timeout error after this long',
      defaultValue: String(DEFAULT_LIN_KV.requestTimeoutMs),
    },
    {
      flags: '--unsafe-local-reads',
      description: 'BROKEN on purpose: serve reads from local state (tests the checker)',
    },
  ],
  run: (io, o) =>
    runLinKv(io, {
      tickMs: num(o.tickMs, DEFAULT_LIN_KV.tickMs, 'tick-ms'),
      heartbeatMs: num(o.heartbeatMs, DEFAULT_LIN_KV.heartbeatMs, 'heartbeat-ms'),
      electionMinMs: num(o.electionMinMs, DEFAULT_LIN_KV.electionMinMs, 'election-min-ms'),
      electionMaxMs: num(o.electionMaxMs, DEFAULT_LIN_KV.electionMaxMs, 'election-max-ms'),
      requestTimeoutMs: num(o.requestTimeoutMs, DEFAULT_LIN_KV.requestTimeoutMs, 'request-timeout-ms'),
      snapshotEvery: DEFAULT_LIN_KV.snapshotEvery,
      unsafeLocalReads: o.unsafeLocalReads === true,
    }),
};
