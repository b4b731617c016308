/**
 * Request forwarding over the Raft channel: any node serves any KV request.
 * A follower sends a client's write (put, CAS put, delete) to the leader as a
 * `fwd_req` frame on the authenticated Raft TCP transport and answers the
 * client from the leader's `fwd_resp`; a linearizable read asks the leader for
 * a confirmed read index (`read_index`, the leader's ReadIndex barrier), waits
 * until its own state machine has applied that far, and reads locally. So no
 * node needs another node's REST API, which can stay bound to 127.0.0.1.
 *
 * Safety rules (the same as the HTTP relay they replace):
 * - A write is sent once. Only a `not_leader`, `busy` or `bad_request` answer
 *   means it was not executed; only then may it go to another node. A write
 *   without an answer in time has an unknown outcome and is reported as such
 *   (503 no_quorum), never re-sent.
 * - Bounded: at most MAX_FORWARDS hops per request, `maxPending` requests in
 *   flight from this node, `maxServing` executing for others, each request
 *   timed out (the request timeout plus a network margin).
 * - Term fence: a request names the term in which its sender saw the target
 *   lead; a leader of another term refuses it (not_leader, safe to retry), so a
 *   frame that sat in a reconnect queue is not executed by a later leader.
 * - Hand-over: a leader handing over names its successor; the request goes to
 *   the successor marked `heir`, which waits (bounded) to lead instead of
 *   refusing, so a hand-over costs a client one election.
 * - A request waiting on a target that can no longer answer does not wait out
 *   its whole timeout. When another leader becomes known, or the target's
 *   Raft port refuses a dial (its process is gone), a request whose repetition
 *   is harmless (a lease keep-alive, a ReadIndex) is sent again to the current
 *   leader; any other request in flight to a gone process fails at once with
 *   an unknown outcome (503 no_quorum), as it would have at its timeout,
 *   unless its frame never left this node (the transport still queued it
 *   and takes it back, withdrawForward): then it goes to the leader too. A
 *   SIGKILLed leader otherwise held the keep-alive that was in flight for its
 *   whole request timeout, longer than a short lease's grace after the new
 *   leader took over (issue #17).
 *
 * One op is not for the leader: `task_logs` reads a chunk of a task's output
 * log from the node that runs it (any member with a Raft address), so reading
 * a task's logs through any node needs no API of another node either. It has
 * no effect, so it is neither term-fenced nor routed: the named node answers.
 */
import { SwarmError } from '../common/errors.js';
import type {
  ForwardCode,
  ForwardMessage,
  ForwardOp,
  ForwardRequestMsg,
  ForwardResponseMsg,
} from '../net/forward-codec.js';
import { FORWARD_LIMITS, TASK_LOG_CHUNK_BYTES } from '../net/forward-codec.js';
import type { JsonValue, KvResult } from '../raft/kv.js';
import { NoQuorumError, NotLeaderError, QuotaExceededError, RequestAbandonedError } from './raft-errors.js';
import { parseCoordOp, type CoordOp, type CoordOutcome } from './coord-ops.js';
import { WALL_TIMER_CLOCK, type TimerClock } from './timer-clock.js';

/**
 * A stop keeps the Raft transport open after the forwarder starts refusing (stopServing) until no
 * forwarded request was refused for STOP_DRAIN_QUIET_MS, at most STOP_DRAIN_MAX_MS (drain): the
 * refusals then reach their senders, which take the writes to the leader instead of failing them
 * 503 when this port closes (issue #16). A sender refused once learns the leader, so the stream of
 * requests to a stopping node ends within a round trip.
 */
export const STOP_DRAIN_QUIET_MS = 10;
export const STOP_DRAIN_MAX_MS = 100;
/** A request is sent to at most this many nodes (a stale leader hint costs one extra hop). */
export const MAX_FORWARDS = 3;
/** Added to the request timeout when waiting for a forwarded answer: the leader's own bound plus the trip. */
const NETWORK_MARGIN_MS = 1000;
/** How long a forwarded write from a member not (yet) known here waits to become answerable (awaitKnown). */
const UNKNOWN_PEER_WAIT_MS = NETWORK_MARGIN_MS / 2;
const UNKNOWN_PEER_POLL_MS = 20;

/** What the forwarder needs of the Raft component (an interface, so tests drive it without sockets). */
export interface ForwardHost {
  readonly selfId: string;
  readonly requestTimeoutMs: number;
  readonly electionTimeoutMs: number;
  currentTerm(): number;
  /** Who this node believes leads (null = unknown). */
  leader(): string | null;
  /** The node this leader is handing leadership to (null: none, or not the leader). */
  successor?(): string | null;
  appliedIndex(): number;
  /**
   * The leader a write proposed here now would be refused for (NotLeaderError naming it, no
   * successor), or undefined when a local proposal might do anything else (this node leads, has no
   * core, is frozen). A follower forwards every write of its clients: it skips the proposal it knows
   * would fail and the error it would build and throw (see write). null: no leader known. Default:
   * always undefined (every write tries locally first).
   */
  followerOf?(): string | null | undefined;
  /** Queue a frame to a peer's Raft address; false when it was not queued (no address, back-pressure). */
  sendForward(to: string, msg: ForwardMessage): boolean;
  /**
   * Take back this node's requests to `to` (by id) whose frames the transport still queues, never
   * written to a connection (TcpTransport.withdraw): it returns those ids, and their frames are gone
   * for good (never delivered later, to any process of `to`). Default: none can be taken back.
   */
  withdrawForward?(to: string, ids: readonly number[]): readonly number[];
  /**
   * This node is stopping (RaftComponent.stop has begun): a forwarded read_index is refused naming
   * the leader or the successor (see execute). Default: never.
   */
  stopping?(): boolean;
  /** Whether `id` is a member this node can answer (has a Raft address). */
  knownPeer(id: string): boolean;
  /** Leader-side execution; throw NotLeaderError / NoQuorumError like RaftComponent's methods. */
  put(key: string, value: JsonValue, prevRevision?: number): Promise<KvResult>;
  delete(key: string): Promise<KvResult>;
  /** Leader-side execution of a coordination command (leased put, lease ops). */
  coord?(op: CoordOp): Promise<CoordOutcome>;
  /** Run the ReadIndex barrier here (leader only); resolves with an index at or past the confirmed one. */
  readIndex(): Promise<number>;
  awaitLeader(timeoutMs: number): Promise<string | null>;
  awaitLeaderChange(from: string | null, timeoutMs: number): Promise<string | null>;
  awaitLeadership(timeoutMs: number): Promise<boolean>;
  /** Debug trace of a request's re-routing (hand-overs, refusals); default: none. */
  trace?(msg: string, fields: Record<string, unknown>): void;
}

/** A chunk of a task's log as a `task_logs` answer carries it (bytes decoded from base64). */
export interface TaskLogChunk {
  /** Where the chunk starts: the requested offset, or 0 when the log rotated below it. */
  readonly from: number;
  readonly bytes: Buffer;
  readonly next_offset: number;
  readonly size: number;
  /**
   * The serving node honoured `wait_ms` (waited for bytes past `offset` before answering empty).
   * Absent from an older node's answers: a follower then paces its reads itself.
   */
  readonly waited?: boolean;
}

/**
 * Serves `task_logs` on this node: at most `max` bytes, or why the allocation id is refused.
 * With `waitMs` > 0 and nothing past `offset` yet, waits up to `waitMs` for the log to grow.
 */
export type TaskLogReader = (
  alloc: string,
  offset: number | null,
  max: number,
  waitMs: number,
) => TaskLogChunk | string | Promise<TaskLogChunk | string>;

/** Longest `wait_ms` a node honours in a `task_logs` read (the requester's timeout bounds it too). */
export const MAX_TASK_LOG_WAIT_MS = 30_000;

/** A forwarded request was refused before execution for a client-side reason (4xx). */
export class ForwardRefusedError extends SwarmError {
  readonly status: 400 | 503;
  constructor(status: 400 | 503, code: string, message: string) {
    super(code, message, { exitCode: 1 });
    this.status = status;
  }
}

/** The frame could not be queued: nothing was sent, so the request may go elsewhere. */
class NotSentError extends Error {}

/**
 * An idempotent request's target can no longer answer (another leader is
 * known, or its process is gone): send it again to the current leader.
 */
class RerouteError extends Error {}

/**
 * A request as route() sends it, and whether repeating it is harmless (so one whose target went
 * away may be sent again): decided where the op is built, from the op itself, not by parsing the
 * frame's JSON again on every forward.
 */
type RoutedRequest = Pick<ForwardRequestMsg, 'op' | 'key' | 'value' | 'prevRevision'> & {
  readonly repeatable: boolean;
};

/** A keep-alive only moves refreshedAt to the executing leader's now: twice is the same as once, later. */
const coordRepeatable = (op: CoordOp): boolean => op.op === 'lease_keepalive';

/** Whether the client of a request has gone (an AbortSignal is one; the API server passes a cheaper flag). */
export interface CallerGone {
  readonly aborted: boolean;
}

export type WriteOp =
  | {
      readonly op: 'put';
      readonly key: string;
      readonly value: JsonValue;
      readonly prevRevision?: number;
      /**
       * JSON.stringify(value), when the caller has it already (the API measured the value with it): a
       * forwarded put sends it as the frame's value instead of stringifying the value a second time.
       * It must be exactly that text: the leader stores what it parses from it, while a local write
       * stores `value`, so any other text would make the stored value depend on the node reached.
       */
      readonly valueJson?: string;
    }
  | { readonly op: 'delete'; readonly key: string };

export type WriteOutcome =
  | { readonly kind: 'put'; readonly revision: number }
  | { readonly kind: 'delete'; readonly deleted: boolean; readonly revision: number }
  | { readonly kind: 'mismatch'; readonly current: number };

export interface ForwarderOptions {
  /** Requests this node may have in flight to others (default 1024). */
  readonly maxPending?: number;
  /** Forwarded requests this node executes at once for others (default 1024). */
  readonly maxServing?: number;
  /** Default: Date.now and setTimeout. */
  /** Timers of the forwarder: the daemon's wall clock, or the simulator's virtual one. */
  readonly clock?: TimerClock;
}

interface Pending {
  readonly to: string;
  readonly op: ForwardOp;
  /** Safe to send again elsewhere (see repeatable). */
  readonly repeatable: boolean;
  /** When it fails with an unknown outcome unless answered (see expire). */
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly resolve: (m: ForwardResponseMsg) => void;
  readonly reject: (e: Error) => void;
}

interface AppliedWaiter {
  readonly index: number;
  readonly done: (reached: boolean) => void;
}

type ResponseBody = Pick<
  ForwardResponseMsg,
  'code' | 'message' | 'leader' | 'successor' | 'revision' | 'deleted'
> & {
  /** The term this node led in when it executed the request (an executed answer's `term`); null: not executed. */
  readonly ledTerm: number | null;
};

function outcomeOf(r: KvResult): WriteOutcome {
  if (r.ok && (r.op === 'delete' || r.op === 'put' || r.op === 'cas_rev')) {
    if (r.op === 'delete') return { kind: 'delete', deleted: r.prev !== null, revision: r.revision };
    if (r.record) return { kind: 'put', revision: r.record.modRevision };
  }
  if (!r.ok && (r.error === 'mismatch' || r.error === 'not_found'))
    return { kind: 'mismatch', current: r.current?.modRevision ?? 0 };
  throw new SwarmError('internal', `unexpected KV result ${r.op}${r.ok ? '' : ` (${r.error})`}`);
}

/** A forwarded put's answer (ok or mismatch) as its outcome. */
function putOutcome(r: ForwardResponseMsg): WriteOutcome {
  return r.code === 'mismatch'
    ? { kind: 'mismatch', current: r.revision }
    : { kind: 'put', revision: r.revision };
}

/** A forwarded delete's answer (ok or mismatch) as its outcome. */
function deleteOutcome(r: ForwardResponseMsg): WriteOutcome {
  return r.code === 'mismatch'
    ? { kind: 'mismatch', current: r.revision }
    : { kind: 'delete', deleted: r.deleted, revision: r.revision };
}

function body(code: ForwardCode, message: string, extra?: Partial<ResponseBody>): ResponseBody {
  return {
    code,
    message,
    leader: extra?.leader ?? null,
    successor: extra?.successor ?? null,
    revision: extra?.revision ?? 0,
    deleted: extra?.deleted ?? false,
    ledTerm: extra?.ledTerm ?? null,
  };
}

export class RaftForwarder {
  private readonly host: ForwardHost;
  private readonly maxPending: number;
  private readonly maxServing: number;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private serving = 0;
  private closed = false;
  /** Stopping: requests read from now on are refused unexecuted (see stopServing). */
  private refusing = false;
  /** When refusing began or, after that, when a request was last refused (see drain). */
  private lastRefusalAt = 0;
  private waiters: AppliedWaiter[] = [];
  private taskLogReader: TaskLogReader | null = null;
  private readonly clock: TimerClock;
  /** Peers whose Raft port refused a dial, with the term it happened in (see onPeerGone). */
  private readonly gone = new Map<string, number>();
  /** The one timer of all pending requests' deadlines (see armExpiry), and when it fires. */
  private cancelExpiry: (() => void) | null = null;
  private expiryAt = Infinity;
  /**
   * A leader a refusal named in a term newer than this node's (see newerLeader): until this node's
   * own view reaches that term, requests go there instead of to the leader of its stale view.
   */
  private learned: { readonly leader: string; readonly term: number } | null = null;

  constructor(host: ForwardHost, opts: ForwarderOptions = {}) {
    this.host = host;
    this.maxPending = opts.maxPending ?? 1024;
    this.maxServing = opts.maxServing ?? 1024;
    this.clock = opts.clock ?? WALL_TIMER_CLOCK;
  }

  /** Requests awaiting an answer (metrics, tests). */
  get pendingCount(): number {
    return this.pending.size;
  }

  // ------------------------------------------------------------------ any node: the client's entry points

  /** Propose `op` on this node, as its leader. */
  private async proposeLocal(op: WriteOp): Promise<WriteOutcome> {
    return outcomeOf(
      op.op === 'put'
        ? await this.host.put(op.key, op.value, op.prevRevision)
        : await this.host.delete(op.key),
    );
  }

  /**
   * Execute a write on the leader, here or forwarded; resolves with its
   * outcome, throws NoQuorumError (no leader in time, or outcome unknown) or
   * ForwardRefusedError.
   */
  async write(op: WriteOp, waitMs: number, signal?: CallerGone): Promise<WriteOutcome> {
    if (this.host.leader() === this.host.selfId && signal?.aborted !== true) {
      // The leader's own clients: propose at once, without the forwarding frame, closures and
      // JSON text that route() prepares for a hop this write does not take (measured on the
      // raft-kv bench at 16 clients, about 1.5 KB of garbage per write on the leader's young
      // generation). A NotLeaderError means nothing was proposed (leadership lost or being handed
      // over since the check): route() then takes the write where it belongs, as for any node.
      try {
        return await this.proposeLocal(op);
      } catch (err) {
        if (!(err instanceof NotLeaderError)) throw err;
      }
    }
    const wire = {
      op: op.op,
      key: op.key,
      value: op.op === 'put' ? (op.valueJson ?? JSON.stringify(op.value)) : null,
      prevRevision: op.op === 'put' ? (op.prevRevision ?? null) : null,
      repeatable: false,
    } as const;
    return this.route(
      waitMs,
      () => this.proposeLocal(op),
      wire,
      op.op === 'put' ? putOutcome : deleteOutcome,
      signal,
      // A follower's write goes to the leader without the local proposal it knows would be refused.
      true,
    );
  }

  /** A coordination command on the leader, here or forwarded (a `coord` frame; outcome as JSON). */
  async coord(op: CoordOp, waitMs: number, signal?: CallerGone): Promise<CoordOutcome> {
    return this.route(
      waitMs,
      () => this.runCoord(op),
      {
        op: 'coord',
        key: '',
        value: JSON.stringify(op),
        prevRevision: null,
        repeatable: coordRepeatable(op),
      },
      (r) => {
        try {
          return JSON.parse(r.message) as CoordOutcome;
        } catch {
          throw new NoQuorumError(`leader answered a coord command with a bad outcome (outcome unknown)`);
        }
      },
      signal,
    );
  }

  private runCoord(op: CoordOp): Promise<CoordOutcome> {
    if (this.host.coord === undefined) throw new NoQuorumError('this node runs no coordination');
    return this.host.coord(op);
  }

  /**
   * Resolve once this node's state machine reflects every write acknowledged
   * before the call (a linearizable read may then read local state): the
   * leader's ReadIndex barrier, confirmed by a quorum, then on a follower a
   * wait until it has applied up to the leader's index.
   */
  async linearize(waitMs: number): Promise<void> {
    const end = this.clock.now() + waitMs;
    const index = await this.route(
      waitMs,
      () => this.host.readIndex(),
      { op: 'read_index', key: '', value: null, prevRevision: null, repeatable: true },
      (r) => r.revision,
    );
    if (!(await this.awaitApplied(index, Math.max(0, end - this.clock.now()) + NETWORK_MARGIN_MS)))
      throw new NoQuorumError(
        `read index ${index} not applied here within the request timeout (applied ${this.host.appliedIndex()})`,
      );
  }

  /** Serve `task_logs` requests with this reader (null: this node runs no tasks). */
  serveTaskLogs(reader: TaskLogReader | null): void {
    this.taskLogReader = reader;
  }

  /**
   * Read at most TASK_LOG_CHUNK_BYTES of allocation `alloc`'s log from node
   * `to` over the Raft channel (see readLogBytes for `offset` null and past
   * the end). Throws ForwardRefusedError: 503 node_unreachable when `to` has
   * no Raft address here, did not answer or runs no tasks; 400 for a refused id.
   * `waitMs` > 0 (a follower): the node answers once bytes past `offset` exist or
   * `waitMs` passed (at most the request timeout here), so following a log needs
   * no polling; an older node answers at once, without `waited`.
   */
  async taskLogs(
    to: string,
    alloc: string,
    offset: number | null,
    max: number,
    waitMs = 0,
  ): Promise<TaskLogChunk> {
    const unreachable = (why: string): ForwardRefusedError =>
      new ForwardRefusedError(
        503,
        'node_unreachable',
        `logs of ${alloc} cannot be read from node ${to}: ${why}`,
      );
    if (!this.host.knownPeer(to)) throw unreachable('this node has no Raft address for it (no raft_addr)');
    let r: ForwardResponseMsg;
    try {
      r = await this.request(
        to,
        {
          op: 'task_logs',
          key: alloc,
          // wait_ms only when waiting: a plain read's frame stays byte-identical to older nodes'.
          value: JSON.stringify(
            waitMs > 0
              ? { offset, max, wait_ms: Math.min(waitMs, this.host.requestTimeoutMs, MAX_TASK_LOG_WAIT_MS) }
              : { offset, max },
          ),
          prevRevision: null,
          term: this.host.currentTerm(),
          heir: false,
          // It names its node: never re-routed (another node has other logs).
        },
        false,
      );
    } catch (err) {
      if (err instanceof ForwardRefusedError) throw err;
      throw unreachable(err instanceof Error ? err.message : String(err));
    }
    if (r.code === 'bad_request') throw new ForwardRefusedError(400, 'bad_request', r.message);
    if (r.code !== 'ok') throw unreachable(r.message);
    const chunk = parseTaskLogChunk(r.message);
    if (chunk === null) throw unreachable('malformed answer');
    return chunk;
  }

  /**
   * Try locally (or, with `followerFast`, skip a local try the host says would be refused: a plain
   * write on a follower); on NotLeaderError send to the leader (or to the successor of a
   * leader handing over), following not_leader hints at most MAX_FORWARDS times.
   * `signal` (the caller leaving) is checked at the top of each round and
   * before each send, where nothing of the request has been proposed or sent
   * anywhere yet (an earlier round ended not executed: not_leader, not sent,
   * re-routed): a write whose
   * client gave up while this node waited for a leader is dropped, not applied
   * long after its client saw a timeout.
   */
  private async route<T>(
    waitMs: number,
    local: () => Promise<T>,
    routed: RoutedRequest,
    fromResponse: (r: ForwardResponseMsg) => T,
    signal?: CallerGone,
    followerFast = false,
  ): Promise<T> {
    const again = routed.repeatable;
    const self = this.host.selfId;
    const deadline = this.clock.now() + waitMs;
    const left = (): number => Math.max(0, deadline - this.clock.now());
    let hint: { leader: string | null; successor: string | null; term: number } | null = null;
    let sent = 0;
    // The highest term a refusal named: a refusal from a newer term is progress (an election happened
    // since this node's view), not a hop between nodes whose views disagree, so it does not count
    // toward MAX_FORWARDS. Terms only grow, and the deadline bounds the whole, so this cannot spin.
    let newestTerm = this.host.currentTerm();
    const checkCaller = (): void => {
      if (signal?.aborted === true)
        throw new RequestAbandonedError(
          `${routed.op} abandoned by its caller before it was sent: not applied`,
        );
    };
    for (;;) {
      checkCaller();
      let leader: string | null;
      let successor: string | null;
      let term = this.host.currentTerm();
      if (hint === null) {
        // `local` would only be refused here (host.followerOf): what its NotLeaderError would name.
        const follows = followerFast ? this.host.followerOf?.() : undefined;
        if (follows !== undefined) {
          leader = follows;
          successor = null;
        } else {
          try {
            return await local();
          } catch (err) {
            if (!(err instanceof NotLeaderError)) throw err;
            leader = err.leader;
            successor = err.successor;
          }
        }
        const newer = successor === null ? this.newerLeader() : null;
        if (newer !== null) {
          leader = newer.leader;
          term = newer.term;
        }
      } else {
        ({ leader, successor } = hint);
        term = Math.max(term, hint.term);
        hint = null;
      }
      if (successor === self) {
        // Named heir by a leader handing over: serve as soon as this node leads.
        this.host.trace?.('forward: named heir, awaiting leadership', { op: routed.op });
        await this.host.awaitLeadership(Math.min(left(), this.host.electionTimeoutMs));
        if (left() === 0) throw new NoQuorumError('hand-over to this node did not complete in time');
        continue;
      }
      const heir = successor !== null;
      let target = successor ?? leader;
      if (target === null) {
        target = await this.awaitSomeLeader(left);
        term = this.host.currentTerm();
      }
      if (target === null) throw new NoQuorumError('no leader elected');
      if (target === self) {
        if (left() === 0) throw new NoQuorumError('no leader elected');
        // No leader was known and this node has just become it: serve at once. Still leader but refusing
        // proposals (a hand-over whose successor is not chosen yet): wait for the change, capped, no spin.
        if (leader === self) await this.host.awaitLeaderChange(self, Math.min(50, left()));
        continue;
      }
      // Not for an heir: a leader handing over names a voter it has just heard from (the transfer
      // waits for its acknowledgements), so a mark from before is about an earlier process of that
      // member (a stopped leader restarted in the same term, as the bench's stops do: the next
      // hand-over often names it). Skipping it sent the write back to the leader, which named the
      // heir again, until MAX_FORWARDS failed it: 503 "not the leader" (issue #16, reproduced by
      // `npm run sim -- --scenario graceful-stop`).
      // If the heir's process really is gone, the frame waits in the transport's reconnect queue until
      // a redial is refused (onPeerGone) or its timeout: either takes it back unsent (withdraw), so it
      // goes on to the next leader, and no restarted heir (heir requests skip the term fence) can run
      // it after its outcome was reported here (docs/raft-runtime.md, "Graceful stop").
      if (!heir && this.isGone(target)) {
        // Its process is gone: a frame queued to it would never be answered. Nothing is sent, so any
        // request (a write too) may go to the next leader once one is known.
        if (left() === 0) throw new NoQuorumError(`leader ${target} is gone and no other leader in time`);
        await this.host.awaitLeaderChange(target, Math.min(50, left()));
        continue;
      }
      if (sent >= MAX_FORWARDS) throw new NoQuorumError(`not the leader (leader is ${target})`);
      // The waits above (for a leader, a hand-over) may have outlasted the caller.
      checkCaller();
      sent++;
      let r: ForwardResponseMsg;
      try {
        r = await this.send(target, routed, term, heir, again);
      } catch (err) {
        if (err instanceof RerouteError) {
          // A repeatable request whose target went away: to whoever leads now, once one is known.
          if (left() === 0) throw new NoQuorumError(`${err.message}; no other leader in time`);
          sent--;
          if (this.host.leader() === target) await this.host.awaitLeaderChange(target, left());
          continue;
        }
        if (!(err instanceof NotSentError)) throw err;
        // Nothing left this node: wait for the next leader (woken by a change) and try again.
        if (left() === 0) throw new NoQuorumError(`leader ${target} unreachable and no successor in time`);
        sent--;
        await this.host.awaitLeaderChange(target, Math.min(50, left()));
        continue;
      }
      switch (r.code) {
        case 'ok':
        case 'mismatch':
          // Only a leader executes what route() sends: it led in the request's term, or (an heir that has
          // just won) in the term its answer names, which is the term it executed in. (A node before
          // this rule answered from its current term: an heir that stepped down between commit and
          // answer named a later term it did not lead, recorded here as led by it. For a non-heir the
          // request's term is exact either way, the term fence made it so.)
          this.learn(target, heir ? r.term : term);
          return fromResponse(r);
        case 'not_leader':
          // Not executed there: safe to send on, to whom it names.
          hint = { leader: r.leader, successor: r.successor, term: r.term };
          // The leader vouches for its successor's process (see isGone above).
          if (r.successor !== null) this.gone.delete(r.successor);
          // The leader recorded here refuses: it no longer leads; what it names replaces it.
          if (this.learned?.leader === target && r.term >= this.learned.term) this.learned = null;
          if (r.leader !== null) this.learn(r.leader, r.term);
          if (r.term > newestTerm) {
            newestTerm = r.term;
            sent--;
          }
          this.host.trace?.('forward refused: not_leader', {
            op: routed.op,
            at: target,
            term,
            leader: r.leader,
            successor: r.successor,
            their_term: r.term,
          });
          // The target says it leads yet refused in our term: it is handing over with no successor yet.
          // (A refusal from another term is retried at once, in the term it named.)
          if (r.leader === target && r.successor === null && r.term === term && left() > 0)
            await this.host.awaitLeaderChange(target, Math.min(50, left()));
          // The target knows no leader, yet this node's view still names it: the view is stale (a crashed
          // leader restarted before this node's election timeout ran out). Asking it again cannot help;
          // wait for this node's view to change, which the election that must follow brings.
          if (r.leader === null && r.successor === null && this.host.leader() === target && left() > 0)
            await this.host.awaitLeaderChange(target, left());
          continue;
        case 'no_quorum':
          throw new NoQuorumError(`${r.message} (at leader ${target})`);
        case 'busy':
          throw new ForwardRefusedError(503, 'no_quorum', `leader ${target} busy: ${r.message}`);
        case 'bad_request':
          throw new ForwardRefusedError(400, 'bad_request', r.message);
        case 'quota_exceeded':
          // Refused before proposing (raft.quota_bytes): nothing was written.
          throw new QuotaExceededError(r.message);
      }
    }
  }

  /**
   * A leader, waiting up to the deadline. awaitLeader returns at the first
   * change it sees, and during an election that is often a change between two
   * leaderless roles (follower to candidate): one such wake-up must not end the
   * wait with "no leader elected" while the election is still under way.
   * Bounded in wake-ups too (each is a role change), so it cannot spin.
   */
  private async awaitSomeLeader(left: () => number): Promise<string | null> {
    for (let wakeups = 0; wakeups < 64 && left() > 0; wakeups++) {
      const l = await this.host.awaitLeader(left());
      if (l !== null) return l;
    }
    return null;
  }

  /**
   * Send one request and await its answer (bounded). Rejects NotSentError when nothing was sent.
   * `repeatable`: safe to send again to the current leader when the target goes away (RoutedRequest;
   * a ReadIndex is by default, a coord command only when its builder says so, task_logs never).
   */
  request(
    to: string,
    req: Pick<ForwardRequestMsg, 'op' | 'key' | 'value' | 'prevRevision' | 'term' | 'heir'>,
    repeatable = req.op === 'read_index',
  ): Promise<ForwardResponseMsg> {
    return this.send(to, req, req.term, req.heir, repeatable);
  }

  /** request() with the term and heir mark apart from the op's fields (route's rounds change only those). */
  private send(
    to: string,
    req: Pick<ForwardRequestMsg, 'op' | 'key' | 'value' | 'prevRevision'>,
    term: number,
    heir: boolean,
    repeatable: boolean,
  ): Promise<ForwardResponseMsg> {
    if (this.closed) return Promise.reject(new NoQuorumError('node stopping'));
    if (this.pending.size >= this.maxPending)
      return Promise.reject(
        new ForwardRefusedError(
          503,
          'no_quorum',
          `too many forwarded requests in flight (${this.maxPending})`,
        ),
      );
    const id = this.nextId;
    this.nextId = this.nextId >= Number.MAX_SAFE_INTEGER ? 1 : this.nextId + 1;
    const msg: ForwardRequestMsg = {
      type: 'fwd_req',
      from: this.host.selfId,
      to,
      term,
      id,
      op: req.op,
      key: req.key,
      value: req.value,
      prevRevision: req.prevRevision,
      heir,
    };
    const timeoutMs =
      this.host.requestTimeoutMs + NETWORK_MARGIN_MS + (heir ? this.host.electionTimeoutMs : 0);
    const deadline = this.clock.now() + timeoutMs;
    return new Promise<ForwardResponseMsg>((resolve, reject) => {
      this.pending.set(id, { to, op: req.op, repeatable, deadline, timeoutMs, resolve, reject });
      if (!this.host.sendForward(to, msg)) {
        this.pending.delete(id);
        reject(new NotSentError(`cannot send to ${to}`));
        return;
      }
      if (deadline < this.expiryAt) this.armExpiry(deadline);
    });
  }

  /**
   * One timer for every pending request's deadline instead of one each: a
   * follower forwarding thousands of writes a second set and cleared a timer
   * per write. The timer is armed for the earliest deadline and not moved when
   * that request is answered: it then fires early, finds nothing due and
   * re-arms for the earliest deadline left (once per request timeout under a
   * steady load, a scan of the few requests in flight).
   */
  private armExpiry(at: number): void {
    this.cancelExpiry?.();
    this.expiryAt = at;
    this.cancelExpiry = this.clock.after(Math.max(0, at - this.clock.now()), () => {
      this.cancelExpiry = null;
      this.expiryAt = Infinity;
      this.expire();
    });
  }

  /**
   * Fail the requests whose deadline has passed (an unknown outcome for a write) and re-arm. A
   * request whose frame still waits in the transport's reconnect queue is taken back first: it was
   * not executed (NotSentError: route() says so), and it never will be, by a process of its target
   * restarted later (an heir's request skips the term fence), after its outcome was reported here.
   */
  private expire(): void {
    const now = this.clock.now();
    let next = Infinity;
    const expired: [number, Pending][] = [];
    // One take-back per target: with its link down, its queue holds every request sent to it, and
    // those expire together.
    const byTarget = new Map<string, number[]>();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) {
        if (p.deadline < next) next = p.deadline;
        continue;
      }
      this.pending.delete(id);
      expired.push([id, p]);
      const ids = byTarget.get(p.to);
      if (ids === undefined) byTarget.set(p.to, [id]);
      else ids.push(id);
    }
    const unsent = new Set<number>();
    for (const [to, ids] of byTarget) for (const id of this.withdraw(to, ids)) unsent.add(id);
    for (const [id, p] of expired) {
      if (unsent.has(id)) {
        p.reject(new NotSentError(`${p.op} to ${p.to} never sent within ${p.timeoutMs} ms: not executed`));
        continue;
      }
      p.reject(
        new NoQuorumError(
          p.op === 'task_logs'
            ? `no answer from ${p.to} within ${p.timeoutMs} ms`
            : p.op === 'read_index'
              ? `no answer from leader ${p.to} within ${p.timeoutMs} ms`
              : `no answer from leader ${p.to} within ${p.timeoutMs} ms (outcome unknown)`,
        ),
      );
    }
    if (next < this.expiryAt) this.armExpiry(next);
  }

  /**
   * The known leader changed: a repeatable request waiting on another node
   * than the new leader is sent again to it (RerouteError in route). Other
   * requests keep waiting: the old leader may still answer them, and a write
   * must not run twice. A change to "no leader" (an election under way)
   * moves nothing; the change to the winner does.
   */
  onLeaderChanged(): void {
    const leader = this.host.leader();
    if (leader === null) return;
    // The core learns a leader only from that leader's own messages in its term: a node found gone
    // that leads now was restarted and elected (possibly in the very term it was found gone in).
    this.gone.delete(leader);
    if (this.pending.size === 0) return;
    for (const [id, p] of this.pending) {
      if (!p.repeatable || p.to === leader) continue;
      this.settle(id, p, new RerouteError(`${p.op} to ${p.to} re-sent: ${leader} leads now`));
    }
  }

  /**
   * A dial to node `peer`'s Raft port was refused: its process is gone, and
   * with it every request it was executing for us. Repeatable requests go to
   * the current leader; any other fails now with an unknown outcome (the gone
   * process may have committed it) instead of at its timeout. Until a later
   * term, a view that still names it leader is stale (only a new election can
   * bring it back), so no request is queued to it meanwhile (see isGone).
   */
  onPeerGone(peer: string): void {
    this.gone.set(peer, this.host.currentTerm());
    if (this.learned?.leader === peer) this.learned = null;
    // Requests whose frames never left this node (queued while the link redials) are taken back:
    // they provably did not run there, so route() sends them on to whoever leads (NotSentError), a
    // write too. Before, a write issued after a stopping leader's port closed, by a node whose view
    // still named it, failed here with an unknown outcome (503) though it never left (issue #16).
    const ids: number[] = [];
    for (const [id, p] of this.pending) if (p.to === peer) ids.push(id);
    const unsent = this.withdraw(peer, ids);
    for (const [id, p] of this.pending) {
      if (p.to !== peer) continue;
      if (p.repeatable)
        this.settle(id, p, new RerouteError(`${p.op} to ${p.to} re-sent: its process is gone`));
      else if (unsent.has(id))
        this.settle(id, p, new NotSentError(`${p.op} to ${p.to} not sent: its process is gone`));
      else
        this.settle(
          id,
          p,
          new NoQuorumError(
            p.op === 'task_logs'
              ? `node ${p.to} went away (its Raft port refuses connections)`
              : `leader ${p.to} went away with the ${p.op} in flight (its Raft port refuses connections; outcome unknown)`,
          ),
        );
    }
  }

  /**
   * The leader a refusal named in a term newer than this node's, while this node has not heard of
   * that term itself. A follower learns of a new leader from the leader's first append, and the
   * link to it may be slower than the old leader's refusal (a dial, a stall): meanwhile every new
   * request went first to the old leader, which refused it naming the new one. During a graceful
   * stop the old leader's process goes away soon after, and a request that met its closing port
   * failed with an unknown outcome (503) although it was never executed (issue #16). A node of a
   * term leads only in that term, so the hint is dropped once this node's own term reaches it.
   */
  private newerLeader(): { readonly leader: string; readonly term: number } | null {
    const l = this.learned;
    if (l === null) return null;
    if (this.host.currentTerm() < l.term) return l;
    this.learned = null;
    return null;
  }

  private learn(leader: string, term: number): void {
    if (term > this.host.currentTerm() && term > (this.learned?.term ?? 0)) {
      this.learned = { leader, term };
      // It leads a term after this node's: a process of it runs (restarted since a gone mark of an
      // earlier term). Still marked gone, route() skipped it and waited on a view that did not name
      // it, so did not wait: a spin (found by the graceful-stop scenario's once-writing clients).
      const g = this.gone.get(leader);
      if (g !== undefined && g < term) this.gone.delete(leader);
    }
  }

  /** Whether `id`'s process was found gone in the current term (see onPeerGone). */
  private isGone(id: string): boolean {
    const term = this.gone.get(id);
    if (term === undefined) return false;
    if (this.host.currentTerm() <= term) return true;
    this.gone.delete(id);
    return false;
  }

  /** The ids among `ids` whose frames to `to` the transport took back unsent (see withdrawForward). */
  private withdraw(to: string, ids: readonly number[]): ReadonlySet<number> {
    if (ids.length === 0 || this.host.withdrawForward === undefined) return new Set();
    return new Set(this.host.withdrawForward(to, ids));
  }

  private settle(id: number, p: Pending, err: Error): void {
    this.pending.delete(id);
    p.reject(err);
  }

  // ------------------------------------------------------------------ frames from peers

  onMessage(m: ForwardMessage): void {
    if (m.to !== this.host.selfId) return;
    if (m.type === 'fwd_req' && (this.refusing || this.closed)) {
      // Stopping (stopServing): the transport still reads and sends until it closes, after drain().
      // A request read now is refused unexecuted, so its sender takes it elsewhere; dropped, the
      // sender could only report its outcome unknown (503) once this process's port refused it,
      // although nothing ran here (issue #16, a write forwarded to a leader that had just handed
      // over). No leader is named when this node still believes it leads: its successor if the
      // hand-over is under way (the request goes there as to an heir, a read too), else none (a stop
      // whose hand-over failed): the sender waits for the election then.
      if (this.host.knownPeer(m.from)) {
        this.lastRefusalAt = this.clock.now();
        const leader = this.host.leader();
        const self = leader === this.host.selfId;
        this.answer(
          m,
          body('not_leader', `node ${this.host.selfId} stopping: not executed`, {
            leader: self ? null : leader,
            successor: self ? (this.host.successor?.() ?? null) : null,
          }),
        );
      }
      return;
    }
    if (this.closed) return;
    // A frame from a member's process: it is not gone (restarted since its port refused us).
    if (this.gone.size > 0) this.gone.delete(m.from);
    if (m.type === 'fwd_resp') {
      const p = this.pending.get(m.id);
      // An answer from a node the request was not sent to is ignored (ids are per sender, not global).
      if (p === undefined || p.to !== m.from) return;
      this.pending.delete(m.id);
      p.resolve(m);
      return;
    }
    if (this.serving >= this.maxServing) {
      if (this.host.knownPeer(m.from))
        this.answer(m, body('busy', `${this.maxServing} forwarded requests already executing`));
      return;
    }
    this.serving++;
    void this.serve(m);
  }

  private async serve(m: ForwardRequestMsg): Promise<void> {
    try {
      // Only a member we can answer is served: an answer that cannot be sent would leave the outcome unknown.
      if (!this.host.knownPeer(m.from)) {
        const readOnly = m.op === 'read_index' || m.op === 'task_logs';
        if (!(await this.awaitKnown(m.from, readOnly ? this.host.requestTimeoutMs : UNKNOWN_PEER_WAIT_MS)))
          return;
      }
      this.answer(m, await this.execute(m));
    } finally {
      this.serving--;
    }
  }

  /**
   * Whether `id` can be answered, waiting up to `ms` for it. A member
   * restarted after a crash sends its first requests as soon as it knows the
   * leader, which can be before the leader's gossip has its Raft address again
   * (the member gossips before its Raft port listens, so its first
   * announcement has no raft_addr): its first linearizable read was dropped
   * here and the client saw a 503 after the whole request timeout (4 s)
   * instead of its answer (bench/raft-restart.bench.ts). A read has no effect,
   * so it may wait the request timeout; a write waits within the sender's
   * network margin, so that its answer still arrives before the sender gives up.
   */
  private async awaitKnown(id: string, ms: number): Promise<boolean> {
    const end = this.clock.now() + ms;
    while (!this.host.knownPeer(id)) {
      if (this.closed || this.clock.now() >= end) return false;
      await new Promise<void>((r) => this.clock.after(UNKNOWN_PEER_POLL_MS, r));
    }
    return !this.closed;
  }

  private answer(req: ForwardRequestMsg, b: ResponseBody): void {
    const msg: ForwardResponseMsg = {
      type: 'fwd_resp',
      from: this.host.selfId,
      to: req.from,
      // An executed request's answer names the term it ran in, not a later one this node may have
      // moved to before answering (a step-down between commit and answer): see route()'s learn.
      term: b.ledTerm ?? this.host.currentTerm(),
      id: req.id,
      code: b.code,
      // An ok answer's message is data (a coord outcome, a log chunk), bounded where it is made.
      message: b.code === 'ok' ? b.message : b.message.slice(0, 500),
      leader: b.leader,
      successor: b.successor,
      revision: b.revision,
      deleted: b.deleted,
    };
    this.host.sendForward(req.from, msg);
  }

  /** Leader side: run one forwarded request here; never throws. */
  private async execute(req: ForwardRequestMsg): Promise<ResponseBody> {
    if (req.op === 'task_logs') return await this.serveLogs(req);
    let coordOp: CoordOp | null = null;
    if (req.op === 'coord') {
      const parsed = parseCoordOp(req.value ?? '');
      if (typeof parsed === 'string') return body('bad_request', parsed);
      coordOp = parsed;
    } else if (req.op !== 'read_index' && req.key === '') return body('bad_request', 'key must not be empty');
    let value: JsonValue = null;
    if (req.op === 'put') {
      if (req.value === null) return body('bad_request', 'put without a value');
      try {
        value = JSON.parse(req.value) as JsonValue;
      } catch {
        return body('bad_request', 'value is not valid JSON');
      }
      if (Buffer.byteLength(req.value) > FORWARD_LIMITS.valueBytes)
        return body('bad_request', `value exceeds ${FORWARD_LIMITS.valueBytes} bytes`);
    }
    // A frame from another term (it waited in a reconnect queue, or the sender's view is stale) is not
    // executed: the sender learns the current leader and term and may send it again.
    if (!req.heir && req.term !== this.host.currentTerm())
      return this.notLeader(`request for term ${req.term}, this node is in term ${this.host.currentTerm()}`);
    // A stopping node that has somewhere to send a read confirms none itself: its ReadIndex round
    // needs its Ready loop, which stops soon (or has stopped), and a round that meets the heir's newer
    // term is dropped unanswered by the core. Either way the read waited until its sender's view
    // named the new leader or this node's port refused a redial (either re-sends it). Refused, naming the heir or the
    // leader, it goes there at once. Serving it would not be stale (a quorum confirms the index),
    // only slow (docs/raft-runtime.md). Still leading with no heir (a failed hand-over): served.
    if (req.op === 'read_index' && this.host.stopping?.() === true && this.handingOff())
      return this.notLeader(`node ${this.host.selfId} stopping: read not confirmed here`);
    const run = async (): Promise<ResponseBody> => {
      // The host proposes (or starts its ReadIndex round) synchronously, so the term now is the one
      // the request runs in if it runs at all: a leader's proposal belongs to its term.
      const ledTerm = this.host.currentTerm();
      if (req.op === 'read_index') return body('ok', '', { revision: await this.host.readIndex(), ledTerm });
      if (coordOp !== null) return body('ok', JSON.stringify(await this.runCoord(coordOp)), { ledTerm });
      const out = outcomeOf(
        req.op === 'put'
          ? await this.host.put(req.key, value, req.prevRevision ?? undefined)
          : await this.host.delete(req.key),
      );
      if (out.kind === 'mismatch')
        return body('mismatch', 'prev_revision does not match the key', { revision: out.current, ledTerm });
      if (out.kind === 'put') return body('ok', '', { revision: out.revision, ledTerm });
      return body('ok', '', { revision: out.revision, deleted: out.deleted, ledTerm });
    };
    try {
      try {
        return await run();
      } catch (err) {
        // Heir: the old leader is handing over to this node; wait to lead rather than refuse.
        if (!(req.heir && err instanceof NotLeaderError && err.leader !== this.host.selfId)) throw err;
        this.host.trace?.('forward heir: awaiting leadership', {
          op: req.op,
          from: req.from,
          term: req.term,
        });
        const led = await this.host.awaitLeadership(this.host.electionTimeoutMs);
        this.host.trace?.('forward heir: awaited leadership', { op: req.op, from: req.from, led });
        if (!led) throw err;
        return await run();
      }
    } catch (err) {
      if (err instanceof NotLeaderError)
        return body('not_leader', err.message, { leader: err.leader, successor: err.successor });
      if (err instanceof NoQuorumError) return body('no_quorum', err.message);
      if (err instanceof QuotaExceededError) return body('quota_exceeded', err.message);
      return body(
        'no_quorum',
        `forwarded ${req.op} failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /** Any node: a chunk of a local allocation's log (no term fence: a read of local files). */
  private async serveLogs(req: ForwardRequestMsg): Promise<ResponseBody> {
    const reader = this.taskLogReader;
    if (reader === null) return body('busy', `node ${this.host.selfId} runs no tasks`);
    let q: unknown;
    try {
      q = JSON.parse(req.value ?? '');
    } catch {
      return body('bad_request', 'task_logs value is not valid JSON');
    }
    const { offset, max, wait_ms } = (typeof q === 'object' && q !== null ? q : {}) as Record<
      string,
      unknown
    >;
    const okInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
    if (!(offset === null || okInt(offset)) || !okInt(max) || !(wait_ms === undefined || okInt(wait_ms)))
      return body(
        'bad_request',
        'task_logs value must be {"offset": integer >= 0 | null, "max": integer >= 0, "wait_ms"?: integer >= 0}',
      );
    // Within the requester's patience (its request timeout, which it caps wait_ms at; ours bounds it too).
    const waitMs = Math.min(wait_ms ?? 0, this.host.requestTimeoutMs, MAX_TASK_LOG_WAIT_MS);
    try {
      const c = await reader(req.key, offset, Math.min(max, TASK_LOG_CHUNK_BYTES), waitMs);
      if (typeof c === 'string') return body('bad_request', c);
      return body(
        'ok',
        JSON.stringify({
          from: c.from,
          next_offset: c.next_offset,
          size: c.size,
          data: c.bytes.subarray(0, TASK_LOG_CHUNK_BYTES).toString('base64'),
          ...(wait_ms === undefined ? {} : { waited: true }),
        }),
      );
    } catch (err) {
      return body('no_quorum', `reading the log failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Another node leads, or this leader names a successor: a request refused here has a place to go. */
  private handingOff(): boolean {
    return this.host.leader() !== this.host.selfId || (this.host.successor?.() ?? null) !== null;
  }

  private notLeader(message: string): ResponseBody {
    // A leader handing over names its successor here too: a request of a stale term then goes
    // straight to the heir instead of coming back once more in this term to be refused again.
    return body('not_leader', message, {
      leader: this.host.leader(),
      successor: this.host.successor?.() ?? null,
    });
  }

  // ------------------------------------------------------------------ applied index waiters

  /** Called after each Ready is applied: wakes reads waiting for their index. */
  onApplied(applied: number): void {
    if (this.waiters.length === 0) return;
    const still: AppliedWaiter[] = [];
    for (const w of this.waiters) {
      if (w.index <= applied) w.done(true);
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Resolve true once applied >= index, false after timeoutMs. */
  awaitApplied(index: number, timeoutMs: number): Promise<boolean> {
    if (this.host.appliedIndex() >= index) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const w: AppliedWaiter = {
        index,
        done: (reached) => {
          cancel();
          resolve(reached);
        },
      };
      const cancel = this.clock.after(timeoutMs, () => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(false);
      });
      this.waiters.push(w);
    });
  }

  /**
   * Stopping begins (the node's Ready loop has stopped: nothing proposed here would commit): every
   * request read from now on is refused not_leader, unexecuted, naming the leader this node follows.
   * The transport must stay open until drain() ends, so the refusals reach their senders: closed at
   * once, it dropped them, and the senders met a refused port instead (an unknown outcome, 503).
   * This node's own requests still in flight keep waiting for their answers until close().
   */
  stopServing(): void {
    if (this.refusing) return;
    this.refusing = true;
    this.lastRefusalAt = this.clock.now();
  }

  /**
   * After stopServing: resolves once no request has been refused for `quietMs` (a sender refused
   * once learns the leader and sends there), and after at most `maxMs` in all, so a stop stays bounded.
   */
  async drain(quietMs: number, maxMs: number): Promise<void> {
    const end = this.clock.now() + maxMs;
    for (;;) {
      const now = this.clock.now();
      const until = Math.min(end, this.lastRefusalAt + quietMs);
      if (now >= until) return;
      // At least 1 ms a round: a fraction below the clock's resolution would wake at the same now.
      await new Promise<void>((r) => this.clock.after(Math.max(1, until - now), r));
    }
  }

  /** Stop: answer every waiting request (its outcome is unknown to this node). */
  close(): void {
    this.closed = true;
    this.cancelExpiry?.();
    this.cancelExpiry = null;
    this.expiryAt = Infinity;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new NoQuorumError('node stopping (outcome of the forwarded request unknown)'));
    }
    for (const w of this.waiters) w.done(false);
    this.waiters = [];
  }
}

/**
 * Up to `max` bytes of a log read in chunks (each answer carries at most
 * TASK_LOG_CHUNK_BYTES): later chunks continue where the previous ended. One
 * that does not start there means the log rotated meanwhile: stop, and the
 * caller's next read (from next_offset) sees the rotation itself.
 * A tail (`offset` null): the serving node's tail is one answer long, so
 * when the log holds more, the size it reports says where the last `max`
 * bytes start, and they are read from there.
 */
export async function collectTaskLog(
  read: (offset: number | null, max: number) => Promise<TaskLogChunk>,
  offset: number | null,
  max: number,
): Promise<TaskLogChunk> {
  let first = await read(offset, max);
  if (offset === null && first.from > Math.max(0, first.size - max))
    first = await read(Math.max(0, first.size - max), max);
  const parts = [first.bytes];
  let got = first.bytes.length;
  let last = first;
  while (got < max && last.bytes.length > 0 && last.next_offset < last.size) {
    const c = await read(last.next_offset, max - got);
    if (c.from !== last.next_offset || c.bytes.length === 0) break;
    parts.push(c.bytes);
    got += c.bytes.length;
    last = c;
  }
  return { from: first.from, bytes: Buffer.concat(parts), next_offset: last.next_offset, size: last.size };
}

/** The `message` of an ok `task_logs` answer; null when malformed. */
export function parseTaskLogChunk(text: string): TaskLogChunk | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const n = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!n(o.from) || !n(o.next_offset) || !n(o.size) || typeof o.data !== 'string') return null;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(o.data)) return null;
  const bytes = Buffer.from(o.data, 'base64');
  if (bytes.length > TASK_LOG_CHUNK_BYTES || o.next_offset !== o.from + bytes.length) return null;
  return { from: o.from, bytes, next_offset: o.next_offset, size: o.size, waited: o.waited === true };
}

export type { ForwardOp };
