/**
 * `--scenario lease-forward`: an agent keeps a lease alive through a
 * follower while the leader crashes, again and again (issue #17).
 *
 * Each node runs, over the production RaftDriver stack of the Raft simulator
 * (world.ts), the daemon's own request forwarder (src/node/raft-forward.ts,
 * the path every `POST /v1/lease/{id}/keepalive` on a follower takes) and the
 * leader's lease keeper (src/node/lease-keeper.ts), both on the virtual
 * clock. Only the forwarder's transport is modelled here, as the daemon's TCP
 * transport behaves on a LAN: frames are not lost between live processes; a
 * frame to a crashed process waits in the sender's reconnect queue (and
 * reaches the restarted process, whose term fence refuses it); a frame in
 * flight when its target crashes is gone; and, drawn per crash, the sender's
 * redial may be refused a few ms after the crash (the process's port is
 * closed: RaftComponent then tells the core, peerUnreachable, and the
 * forwarder, onPeerGone) or not (a power cut: no RST, nothing is heard).
 *
 * The agent, on a node that never crashes, grants a lease, then sends a
 * keep-alive every 250 ms, each abandoned by its HTTP client after 3 s (as
 * test/e2e/coord-locks.test.ts does). The invariant: a lease kept alive at an
 * interval well under its ttl never expires (no replica ever applies its
 * expiry; no keep-alive is answered lease_not_found).
 */
import { createRng } from '../../common/rng.js';
import { SwarmError } from '../../common/errors.js';
import type { ForwardMessage } from '../../net/forward-codec.js';
import type { KvCommand, KvResult } from '../../raft/kv.js';
import { commandOf, outcomeOf, type CoordOutcome } from '../../node/coord-ops.js';
import { LeaseKeeper, type LeaseClock } from '../../node/lease-keeper.js';
import { nullLogger } from '../../node/log.js';
import { NoQuorumError, RequestAbandonedError } from '../../node/raft-errors.js';
import { RaftForwarder } from '../../node/raft-forward.js';
import {
  failureRecorder,
  forwardHostBase,
  incarnationClock,
  ReconnectQueues,
  leaderWatch,
  liveStack,
  proposeHere,
  REQUEST_TIMEOUT_MS,
  tcpLink,
  VOTER_IDS,
  voterWorld,
} from './forward-world.js';
import { fmt, type SimNode } from './world.js';

export interface LeaseForwardOptions {
  readonly seed: number;
  /** Virtual ms of keep-alives and leader crashes (default 30 s). */
  readonly durationMs?: number;
  /**
   * The daemon's wiring before the fix of #17: the forwarder is told neither
   * of leader changes nor of refused dials, so a request waits on a crashed
   * leader for its whole timeout.
   */
  readonly noReroute?: boolean;
  /**
   * The transport before it could take back frames it never wrote (`--no-withdraw`): a write
   * queued to a crashed leader whose port then refuses fails with an unknown outcome (503).
   */
  readonly noWithdraw?: boolean;
  readonly traceSink?: (line: string) => void;
}

export interface LeaseForwardResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure: string | null;
  readonly config: string;
  readonly keepalives: { ok: number; failed: number; abandoned: number };
  /** The writing agent's writes; `dropped`: refused by the forwarder as abandoned, never applied. */
  readonly writes: { ok: number; failed: number; abandoned: number; dropped: number };
  readonly crashes: number;
  readonly trace: readonly string[];
}

const IDS = VOTER_IDS;
/** The agent's cadence and its HTTP client's timeout (test/e2e/coord-locks.test.ts). */
const KEEPALIVE_EVERY_MS = 250;
const CLIENT_TIMEOUT_MS = 3000;
/** The writing agent's pace (see writer). */
const WRITE_EVERY_MS = 400;
/** Its client gives up before the node would (as the durability e2e's 2 s against the node's wait). */
const WRITE_CLIENT_TIMEOUT_MS = 1500;

/** The timing of the e2e test, etcd-like, and the seed defaults; each seed draws one. */
const TIMINGS = [
  { heartbeat: 100, min: 600, max: 1200 },
  { heartbeat: 50, min: 300, max: 600 },
  { heartbeat: 500, min: 1500, max: 3000 },
] as const;

/** Everything a node runs beside its driver, for one incarnation. */
interface NodeStack {
  readonly inc: number;
  readonly forward: RaftForwarder;
  readonly keeper: LeaseKeeper;
  readonly leaderWaiters: Set<() => void>;
  readonly leaderListeners: Set<() => void>;
  readonly applyListeners: Set<() => void>;
}

export async function leaseForwardCheck(o: LeaseForwardOptions): Promise<LeaseForwardResult> {
  const rng = createRng((o.seed ^ 0x1ea5_e5ed) >>> 0);
  const timing = TIMINGS[rng.int(0, TIMINGS.length - 1)]!;
  const ttlMs = [2000, 3000, 5000][rng.int(0, 2)]!;
  const latencyMs = 0.05 + rng.next() * 1.5;
  const refuseChance = [0, 0.5, 1][rng.int(0, 2)]!;
  const durationMs = o.durationMs ?? 30_000;
  const config =
    `3 voters, heartbeat ${timing.heartbeat} ms, election ${timing.min}-${timing.max} ms, ttl ${ttlMs} ms, ` +
    `link ${latencyMs.toFixed(2)} ms, refused redial after a crash p=${refuseChance}` +
    (o.noReroute === true ? ', forwarder not told of leader changes (pre-#17 wiring)' : '');
  const w = voterWorld({
    seed: o.seed,
    timing,
    link: tcpLink(latencyMs),
    syncMaxMs: 2,
    traceSink: o.traceSink,
  });
  // The agent talks to n1's API; n1 never crashes (the agent's own node dying ends the lease rightly).
  const agentNode = 'n1';
  const { trace, fail, failure: failureOf } = failureRecorder(w);

  const clock = (n: SimNode, inc: number): LeaseClock => incarnationClock(w, n, inc);
  const stacks = new Map<string, NodeStack>();
  const stackOf = (n: SimNode): NodeStack | null => liveStack(stacks, n);

  /** Leader side: propose a command and await its application here (RaftKvService.propose, bounded). */
  /** Write keys that were proposed here or sent to another node (whatever became of them). */
  const leftNode = new Set<string>();
  const propose = (n: SimNode, cmd: KvCommand): Promise<KvResult> => {
    const core = n.core;
    const applier = n.applier;
    if (core === null || applier === null) return Promise.reject(new NoQuorumError('node down'));
    return proposeHere(
      w,
      n,
      core,
      applier,
      cmd,
      REQUEST_TIMEOUT_MS,
      (index, term) => `entry ${index} replaced in term ${term}`,
    );
  };

  // The forwarder's transport between live processes: TCP on a LAN (see the header).
  const linkRng = rng.fork();
  const queued = new ReconnectQueues();
  const deliver = (m: ForwardMessage): void => {
    const to = w.byId.get(m.to);
    if (to === undefined || !to.up) return;
    stackOf(to)?.forward.onMessage(m);
  };
  const sendForward = (from: SimNode, inc: number, to: string, m: ForwardMessage): boolean => {
    if (from.inc !== inc || !from.up) return false;
    if (m.type === 'fwd_req' && m.op === 'put') leftNode.add(m.key);
    const target = w.byId.get(to);
    if (target === undefined) return false;
    if (!target.up) {
      // The reconnect queue: it reaches the next incarnation, if any.
      queued.hold(to, m, inc);
      return true;
    }
    const targetInc = target.inc;
    w.at(w.now + latencyMs + linkRng.next() * latencyMs, () => {
      // A crash while the frame was in flight loses it (the connection died with the process).
      if (target.inc === targetInc) deliver(m);
    });
    return true;
  };

  const boot = (n: SimNode): void => {
    const old = stacks.get(n.id);
    if (old !== undefined) {
      old.keeper.stop();
      old.forward.close();
    }
    const inc = n.inc;
    const c = clock(n, inc);
    const leaderWaiters = new Set<() => void>();
    const leaderListeners = new Set<() => void>();
    const applyListeners = new Set<() => void>();
    const watch = leaderWatch(w, n, inc, c, leaderWaiters);
    const forward = new RaftForwarder(
      {
        ...forwardHostBase(n, inc, {
          electionTimeoutMs: timing.min,
          watch,
          sendForward,
          queued: o.noWithdraw === true ? null : queued,
        }),
        put: (key, value) => {
          // Proposed here only on the leader (elsewhere propose refuses with NotLeaderError).
          if (n.core?.isLeader === true) leftNode.add(key);
          return propose(n, { op: 'put', key, value });
        },
        // The daemon stamps whole milliseconds (Date.now()); so does the log's validation.
        coord: (op) => propose(n, commandOf(op, Math.floor(w.now))).then(outcomeOf),
      },
      { clock: c },
    );
    const keeper = new LeaseKeeper(
      {
        get isLeader() {
          return n.inc === inc && n.core?.isLeader === true;
        },
        get state() {
          const kv = n.applier?.kv;
          return kv ?? { leaseCount: 0, leases: () => [] };
        },
        onLeaderChanged: (fn) => {
          leaderListeners.add(fn);
          return () => leaderListeners.delete(fn);
        },
        afterApply: (fn) => {
          applyListeners.add(fn);
          return () => applyListeners.delete(fn);
        },
        command: (cmd) => propose(n, cmd),
      },
      () => timing.max,
      nullLogger,
      c,
    );
    stacks.set(n.id, { inc, forward, keeper, leaderWaiters, leaderListeners, applyListeners });
    keeper.start();
    // What waited in peers' reconnect queues arrives once the process listens again.
    for (const m of queued.take(n.id)) w.at(w.now + latencyMs, () => n.inc === inc && deliver(m));
  };
  w.onBoot = boot;
  const lastLeader = new Map<string, string | null>();
  w.onSoftState = (n) => {
    const s = stackOf(n);
    if (s === null) return;
    const leader = n.core?.leaderId ?? null;
    if (lastLeader.get(n.id) !== leader) {
      lastLeader.set(n.id, leader);
      if (n.id === agentNode) trace(`${n.id} (agent's node) sees leader ${leader ?? '-'} in term ${n.term}`);
    }
    // As RaftCoreRunner's onLeaderChange: waiters, then the forwarder, then listeners (the lease keeper).
    for (const f of [...s.leaderWaiters]) f();
    if (o.noReroute !== true) s.forward.onLeaderChanged();
    for (const f of [...s.leaderListeners]) f();
  };
  let leaseId = 0;
  let grantIndex = Number.POSITIVE_INFINITY;
  w.onApplied = (n) => {
    const s = stackOf(n);
    if (s === null) return;
    s.forward.onApplied(n.applier?.appliedIndex ?? 0);
    for (const f of [...s.applyListeners]) f();
    for (const key of unsent)
      if (n.applier?.kv.get(key) != null)
        fail(`${n.id} applied ${key}, a write whose client left before it was sent or proposed`);
    // The invariant, on every replica as it applies: the lease, once granted, is never gone.
    if (leaseId > 0 && n.observed >= grantIndex && n.applier?.kv.lease(leaseId) === null)
      fail(
        `${n.id} applied the expiry of lease ${leaseId} (ttl ${ttlMs} ms) kept alive every ${KEEPALIVE_EVERY_MS} ms`,
      );
  };

  for (const n of w.nodes) w.start(n);
  const agent = w.node(agentNode);
  const kept = { ok: 0, failed: 0, abandoned: 0 };
  let crashes = 0;

  /** The agent is its own process: its timers run whatever happens to the nodes. */
  const agentSleep = (ms: number): Promise<void> => new Promise((resolve) => w.at(w.now + ms, resolve));

  /**
   * One API call on the agent's node as the API routes make it, abandoned by the client after 3 s:
   * the client's leaving aborts the request's signal, as a closed HTTP connection does.
   */
  const callWith = <T>(
    run: (s: NodeStack, signal: AbortSignal) => Promise<T>,
    clientTimeoutMs = CLIENT_TIMEOUT_MS,
    hooks: { clientLeft?: () => void; dropped?: () => void } = {},
  ): Promise<T | Error | 'abandoned'> => {
    const s = stackOf(agent);
    if (s === null) return Promise.resolve(new Error('agent node down'));
    const client = new AbortController();
    return new Promise((resolve) => {
      let settled = false;
      w.at(w.now + clientTimeoutMs, () => {
        if (!settled) hooks.clientLeft?.();
        client.abort();
        if (settled) return;
        settled = true;
        resolve('abandoned');
      });
      run(s, client.signal).then(
        (out) => {
          if (settled) return;
          settled = true;
          resolve(out);
        },
        (err: unknown) => {
          if (err instanceof RequestAbandonedError) hooks.dropped?.();
          if (settled) return;
          settled = true;
          resolve(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  };
  const call = (op: Parameters<RaftForwarder['coord']>[0]): Promise<CoordOutcome | Error | 'abandoned'> =>
    callWith((s, signal) => s.forward.coord(op, REQUEST_TIMEOUT_MS, signal));

  /**
   * A second agent on the same node writes a key every WRITE_EVERY_MS. A write the forwarder
   * dropped as abandoned (its client left before it was sent or proposed) must never be applied
   * anywhere: the durability e2e once saw such a write appear seconds after its client's timeout.
   */
  const unsent = new Set<string>();
  const writes = { ok: 0, failed: 0, abandoned: 0, dropped: 0 };
  const writer = async (): Promise<void> => {
    for (let i = 1; failureOf() === null && w.now < durationMs; i++) {
      const key = `w/${i}`;
      const r = await callWith(
        (s, signal) => s.forward.write({ op: 'put', key, value: i }, REQUEST_TIMEOUT_MS, signal),
        WRITE_CLIENT_TIMEOUT_MS,
        {
          // The symptom itself: a write that had not left the node when its client gave up must
          // never be applied (before the fix it was sent once a leader appeared, seconds later).
          clientLeft: () => {
            if (!leftNode.has(key)) unsent.add(key);
          },
          dropped: () => {
            unsent.add(key);
            writes.dropped++;
          },
        },
      );
      if (r === 'abandoned') writes.abandoned++;
      else if (r instanceof Error) {
        writes.failed++;
        trace(`write ${key}: ${r.message}`);
      } else writes.ok++;
      await agentSleep(WRITE_EVERY_MS);
    }
  };

  const keepAlive = async (): Promise<void> => {
    while (failureOf() === null && w.now < durationMs) {
      const sent = w.now;
      const r = await call({ op: 'lease_keepalive', id: leaseId });
      if (r === 'abandoned') {
        kept.abandoned++;
        trace(`keep-alive sent at ${fmt(sent)} abandoned by the client after ${CLIENT_TIMEOUT_MS} ms`);
      } else if (r instanceof Error) {
        kept.failed++;
        trace(
          `keep-alive sent at ${fmt(sent)} failed: ${r instanceof SwarmError ? r.code : 'error'} ${r.message}`,
        );
      } else if (r.code === 'lease_not_found') {
        fail(`keep-alive sent at ${fmt(sent)} answered lease_not_found: lease ${leaseId} expired`);
      } else {
        kept.ok++;
        if (w.now - sent > 100) trace(`keep-alive sent at ${fmt(sent)} answered ok`);
      }
      nextKeepAliveAt = w.now + KEEPALIVE_EVERY_MS;
      await agentSleep(KEEPALIVE_EVERY_MS);
    }
  };

  let nextKeepAliveAt = 0;
  /** Half the crashes strike just before the agent's next keep-alive leaves, the e2e test's timing. */
  const crashSoon = (earliest: number): void => {
    w.at(earliest, () => {
      if (rng.next() < 0.5) crashLeader();
      else w.at(Math.max(w.now, nextKeepAliveAt - rng.next() * 60), crashLeader);
    });
  };
  const crashLeader = (): void => {
    if (failureOf() !== null || w.now > durationMs - 4 * ttlMs) return;
    const l = w.leader();
    if (l === null || w.nodes.some((n) => !n.up)) {
      w.at(w.now + 100, crashLeader);
      return;
    }
    if (l.id === agentNode) {
      // Move leadership away first (as an energy hand-over would), then crash the new leader.
      const to = IDS.filter((id) => id !== agentNode)[rng.int(0, 1)]!;
      l.core?.transferLeadership(to, w.now);
      l.driver?.kick();
      w.at(w.now + 2 * timing.max, crashLeader);
      return;
    }
    crashes++;
    w.crash(l, 'leader crash');
    const refused = rng.next() < refuseChance;
    if (refused) {
      // The peers' links see the FIN, redial after the transport's first back-off, and are refused.
      for (const x of w.nodes) {
        if (!x.up) continue;
        w.at(w.now + 1 + rng.next() * 50, () => {
          if (l.up || !x.up) return;
          const core = x.core;
          if (core !== null && core.leaderId === l.id && core.peerUnreachable(l.id, w.now)) x.driver?.kick();
          if (o.noReroute !== true) stackOf(x)?.forward.onPeerGone(l.id);
        });
      }
    }
    const down = 200 + rng.next() * 3000;
    trace(
      `crash leader ${l.id} (${refused ? 'port refuses redials' : 'silent'}), down ${down.toFixed(0)} ms`,
    );
    w.at(w.now + down, () => w.start(l));
    // The next crash soon after the swarm is whole again (one voter down at a time keeps the quorum).
    crashSoon(w.now + down + 300 + rng.next() * ttlMs);
  };

  const script = async (): Promise<void> => {
    // Grant once a leader is known (the grant itself is not the subject: retried until it succeeds).
    while (failureOf() === null && w.now < durationMs) {
      const r = await call({ op: 'lease_grant', ttl_ms: ttlMs });
      if (typeof r === 'object' && !(r instanceof Error) && r.code === 'ok' && r.lease !== undefined) {
        leaseId = r.lease.id;
        grantIndex = leaseId;
        trace(`lease ${leaseId} granted (ttl ${ttlMs} ms)`);
        break;
      }
      trace(`lease grant: ${r instanceof Error ? r.message : JSON.stringify(r)}`);
      await agentSleep(100);
    }
    crashSoon(w.now + 1500 + rng.next() * KEEPALIVE_EVERY_MS);
    await keepAlive();
  };
  let done = false;
  void writer();
  void script().finally(() => {
    done = true;
  });
  try {
    await w.run(durationMs + CLIENT_TIMEOUT_MS + 1000, () => done || failureOf() !== null);
  } catch (err) {
    fail(`invariant: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (failureOf() === null && leaseId === 0) fail('no lease was ever granted');
  return {
    seed: o.seed,
    ok: failureOf() === null,
    failure: failureOf(),
    config,
    keepalives: kept,
    writes,
    crashes,
    trace: w.traceLines.slice(-60),
  };
}
