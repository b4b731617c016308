/**
 * Scaffolding shared by the simulator scenarios that run the daemon's request
 * forwarder over the Raft world (lease-forward, graceful-stop): timers bound
 * to one incarnation of a node, the lookup of a node's live stack, the
 * first-failure recorder, and the forwarder host's common part. Nothing here
 * draws from an Rng, so a scenario's seeded run is the same whether it uses
 * these or inline copies.
 */
import type { ForwardMessage } from '../../net/forward-codec.js';
import { encodeCommand, type KvCommand, type KvResult } from '../../raft/kv.js';
import { NoQuorumError, NotLeaderError } from '../../node/raft-errors.js';
import type { ForwardHost } from '../../node/raft-forward.js';
import type { TimerClock } from '../../node/timer-clock.js';
import type { LinkModel } from '../network.js';
import { fmt, SimWorld, type SimNode } from './world.js';

/** The three voters every forwarder scenario runs. */
export const VOTER_IDS: readonly string[] = ['n1', 'n2', 'n3'];
/** The daemon's default request timeout (RaftComponent.requestTimeoutMs). */
export const REQUEST_TIMEOUT_MS = 3000;

export interface ElectionTiming {
  readonly heartbeat: number;
  readonly min: number;
  readonly max: number;
}

/** Raft's links between the processes: no loss, no duplicates (TCP), jitter half the latency. */
export function tcpLink(latencyMs: number): LinkModel {
  return { latencyMs, jitterMs: latencyMs / 2, loss: 0, duplicate: 0 };
}

/**
 * The world of the forwarder scenarios: the three voters with pre-vote and
 * check-quorum as the daemon runs them, no snapshots, a tick of a tenth of
 * the election timeout (10 ms to one heartbeat), fsyncs of 0.2 ms to `syncMaxMs`.
 */
export function voterWorld(o: {
  readonly seed: number;
  readonly timing: ElectionTiming;
  readonly link: LinkModel;
  readonly syncMaxMs: number;
  readonly traceSink: ((line: string) => void) | undefined;
}): SimWorld {
  const { timing } = o;
  return new SimWorld({
    seed: o.seed,
    voters: VOTER_IDS,
    learners: [],
    preVote: true,
    checkQuorum: true,
    heartbeatMs: timing.heartbeat,
    electionMinMs: timing.min,
    electionMaxMs: timing.max,
    tickMs: Math.max(10, Math.min(timing.heartbeat, Math.floor(timing.min / 10))),
    snapshotEvery: 0,
    link: o.link,
    syncMs: [0.2, o.syncMaxMs],
    ...(o.traceSink ? { traceSink: o.traceSink } : {}),
  });
}

/**
 * A node's clock for one incarnation: a timer set before a crash or restart
 * never fires in the next incarnation (the process that set it is gone).
 */
export function incarnationClock(w: SimWorld, n: SimNode, inc: number): TimerClock {
  return {
    now: () => w.now,
    after: (ms, fn) => {
      let live = true;
      w.at(w.now + Math.max(0, ms), () => {
        if (live && n.inc === inc) fn();
      });
      return () => {
        live = false;
      };
    },
  };
}

/** The stack of `n`'s current incarnation, or null while it is down or the stack is a dead one's. */
export function liveStack<S extends { readonly inc: number }>(
  stacks: ReadonlyMap<string, S>,
  n: SimNode,
): S | null {
  const s = stacks.get(n.id);
  return s !== undefined && s.inc === n.inc && n.up ? s : null;
}

export interface FailureRecorder {
  /** Logs a line stamped with the virtual time. */
  readonly trace: (line: string) => void;
  /** Records the run's first violated invariant (later ones follow from it and are dropped). */
  readonly fail: (why: string) => void;
  readonly failure: () => string | null;
}

export function failureRecorder(w: SimWorld): FailureRecorder {
  const trace = (line: string): void => w.log(`t=${fmt(w.now)} ${line}`);
  let failure: string | null = null;
  return {
    trace,
    fail: (why) => {
      if (failure !== null) return;
      failure = why;
      trace(`FAIL ${why}`);
    },
    failure: () => failure,
  };
}

/**
 * RaftKvService.propose from the leader's core on: the core's refusals as the
 * service maps them, then the wait for the entry's application on this node,
 * bounded by the request timeout. `superseded` words the refusal of an entry
 * replaced by a new leader's log (each scenario keeps its own wording).
 */
export function proposeHere(
  w: SimWorld,
  n: SimNode,
  core: NonNullable<SimNode['core']>,
  applier: NonNullable<SimNode['applier']>,
  cmd: KvCommand,
  timeoutMs: number,
  superseded: (index: number, term: number) => string,
): Promise<KvResult> {
  const r = core.propose(encodeCommand(cmd), w.now);
  if (!r.ok) {
    if (r.reason === 'not_leader') return Promise.reject(new NotLeaderError(r.leader));
    if (r.reason === 'transferring')
      return Promise.reject(new NotLeaderError(r.leader, core.status().leadTransferee));
    return Promise.reject(new NoQuorumError(`proposal refused: ${r.reason}`));
  }
  const inc = n.inc;
  return new Promise<KvResult>((resolve, reject) => {
    const cancel = incarnationClock(w, n, inc).after(timeoutMs, () => {
      applier.cancelApply(r.index);
      reject(new NoQuorumError(`entry ${r.index} not committed in time (outcome unknown)`));
    });
    applier.awaitApply(r.index, {
      term: r.term,
      applied: (res) => {
        cancel();
        resolve(res);
      },
      superseded: (index, term) => {
        cancel();
        reject(new NoQuorumError(superseded(index, term)));
      },
      abandoned: (reason) => {
        cancel();
        reject(new NoQuorumError(reason));
      },
    });
    n.driver?.kick();
  });
}

/** What a node's forwarder learns of the leader, as RaftComponent gives it from the core. */
export interface LeaderWatch {
  /** The leader this incarnation's core knows of (null once the incarnation is gone). */
  readonly leaderId: () => string | null;
  readonly awaitLeaderChange: (from: string | null, ms: number) => Promise<string | null>;
  readonly awaitLeadership: (ms: number) => Promise<boolean>;
}

/**
 * The leader waits of one incarnation of `n`: `waiters` are woken by the
 * scenario's onSoftState (as RaftCoreRunner's onLeaderChange wakes them),
 * each wait also ends on its timer.
 */
export function leaderWatch(
  w: SimWorld,
  n: SimNode,
  inc: number,
  c: TimerClock,
  waiters: Set<() => void>,
): LeaderWatch {
  const leaderId = (): string | null => (n.inc === inc ? (n.core?.leaderId ?? null) : null);
  const awaitLeaderChange = (from: string | null, ms: number): Promise<string | null> => {
    if (leaderId() !== from) return Promise.resolve(leaderId());
    return new Promise((resolve) => {
      const done = (): void => {
        cancel();
        waiters.delete(done);
        resolve(leaderId());
      };
      const cancel = c.after(ms, done);
      waiters.add(done);
    });
  };
  return {
    leaderId,
    awaitLeaderChange,
    awaitLeadership: async (ms) => {
      const end = w.now + ms;
      while (leaderId() !== n.id && w.now < end) await awaitLeaderChange(leaderId(), end - w.now);
      return leaderId() === n.id;
    },
  };
}

/** What each scenario adds to forwardHostBase: its own leader-side execution and hooks. */
export type ForwardHostBase = Omit<ForwardHost, 'put' | 'coord' | 'successor' | 'stopping' | 'trace'>;

/**
 * The ForwardHost of `n`'s incarnation `inc` as every forwarder scenario wires it: the daemon's
 * request timeout, the voters as the known peers, the leader waits of `watch`, frames through the
 * scenario's `sendForward`, and (unless `queued` is null: the transport before TcpTransport.withdraw)
 * requests taken back from the reconnect queues. Deletes and ReadIndex are not in these scenarios.
 */
export function forwardHostBase(
  n: SimNode,
  inc: number,
  o: {
    readonly electionTimeoutMs: number;
    readonly watch: LeaderWatch;
    readonly sendForward: (from: SimNode, inc: number, to: string, m: ForwardMessage) => boolean;
    readonly queued: ReconnectQueues | null;
  },
): ForwardHostBase {
  const { watch, queued } = o;
  return {
    selfId: n.id,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    electionTimeoutMs: o.electionTimeoutMs,
    currentTerm: () => n.core?.status().term ?? 0,
    leader: watch.leaderId,
    appliedIndex: () => n.applier?.appliedIndex ?? 0,
    // As the daemon's (RaftComponent): a live follower's put would be refused naming its leader.
    followerOf: () => {
      const core = n.core;
      return core === null || n.applier === null || core.isLeader ? undefined : core.leaderId;
    },
    sendForward: (to, m) => o.sendForward(n, inc, to, m),
    ...(queued === null
      ? {}
      : { withdrawForward: (to: string, ids: readonly number[]) => queued.withdraw(n.id, inc, to, ids) }),
    knownPeer: (id) => VOTER_IDS.includes(id),
    delete: () => Promise.reject(new NoQuorumError('not in this scenario')),
    readIndex: () => Promise.reject(new NoQuorumError('not in this scenario')),
    awaitLeader: (ms) => watch.awaitLeaderChange(null, ms),
    awaitLeaderChange: watch.awaitLeaderChange,
    awaitLeadership: watch.awaitLeadership,
  };
}

/**
 * The forwarder's reconnect queues, as the TCP transport keeps them: a frame to a process whose port
 * is closed (or that is down) waits in its sender's queue for that address and reaches the next
 * process that listens there (`take`, at its boot), unless its sender takes it back first
 * (`withdraw`, TcpTransport.withdraw: a request never written, so it never left, and never will).
 */
export class ReconnectQueues {
  private readonly queues = new Map<string, { readonly m: ForwardMessage; readonly fromInc: number }[]>();

  hold(to: string, m: ForwardMessage, fromInc: number): void {
    const q = this.queues.get(to) ?? [];
    q.push({ m, fromInc });
    this.queues.set(to, q);
  }

  /** The requests of `from`'s incarnation `fromInc` to `to` among `ids` still queued: removed, returned. */
  withdraw(from: string, fromInc: number, to: string, ids: readonly number[]): number[] {
    const q = this.queues.get(to);
    if (q === undefined) return [];
    const taken: number[] = [];
    const keep = q.filter(({ m, fromInc: inc }) => {
      const mine = m.type === 'fwd_req' && m.from === from && inc === fromInc && ids.includes(m.id);
      if (mine) taken.push(m.id);
      return !mine;
    });
    this.queues.set(to, keep);
    return taken;
  }

  /** Everything queued for `to`, in order: a process listens there again. */
  take(to: string): ForwardMessage[] {
    const q = this.queues.get(to) ?? [];
    this.queues.delete(to);
    return q.map(({ m }) => m);
  }
}
