/**
 * `--scenario graceful-stop`: clients write through the survivors while the
 * leader is stopped gracefully, again and again (issue #16: the raft-kv
 * bench's graceful-stop trials, where a forwarded write now and then failed
 * 503 `not the leader (leader is X)`).
 *
 * Each node runs, over the production RaftDriver stack of the Raft simulator
 * (world.ts), the daemon's request forwarder (src/node/raft-forward.ts) and,
 * on the stopping leader, the daemon's hand-over (RaftAutopilot.handOver:
 * transfer, wait for the successor, settle), all on the virtual clock. The
 * stop then follows RaftComponent.stop: the node refuses proposals
 * (`stopping`), the Ready loop stops ticking, the forwarder refuses what it
 * reads while the transport still carries the refusals (stopServing, drain),
 * then the forwarder and the transport close (the peers' redials are refused a few ms later: the core's
 * peerUnreachable and the forwarder's onPeerGone, as RaftComponent wires
 * them), and the process exits. Between the steps, the other components'
 * stop work takes a drawn time (the CLI's stop runs beside the daemon).
 *
 * The forwarder's transport is modelled as the daemon's TCP transport behaves
 * on loopback: frames between live processes are not lost; a frame in flight
 * when its target's transport closes is gone; frames to a closed port wait in
 * the sender's reconnect queue (the restarted process gets them, and its term
 * fence refuses them). Raft messages of a link that had been idle (two
 * followers) may be delayed by a dial after the hand-over (drawn per stop).
 *
 * Invariants: every write a client sends during a stop is answered ok (two of
 * the three voters stay up throughout: nothing stops a write from being
 * applied); a write is applied at most once (unique keys: version 1 on every
 * replica); every write answered ok is on every live replica at the end.
 */
import { createRng } from '../../common/rng.js';
import { SwarmError } from '../../common/errors.js';
import type { ForwardMessage } from '../../net/forward-codec.js';
import type { KvCommand, KvResult } from '../../raft/kv.js';
import { nullLogger } from '../../node/log.js';
import { StaticPeerDirectory } from '../../node/peers.js';
import { RaftAutopilot } from '../../node/raft-autopilot.js';
import { NoQuorumError, NotLeaderError } from '../../node/raft-errors.js';
import { RaftForwarder, STOP_DRAIN_MAX_MS, STOP_DRAIN_QUIET_MS } from '../../node/raft-forward.js';
import type { TimerClock } from '../../node/timer-clock.js';
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

export interface GracefulStopOptions {
  readonly seed: number;
  /** Graceful stops of the leader (default 8). */
  readonly stops?: number;
  /**
   * The transport before it could take back frames it never wrote (`--no-withdraw`): a request
   * queued to a port that then refuses fails with an unknown outcome (503) instead of going on.
   */
  readonly noWithdraw?: boolean;
  readonly traceSink?: (line: string) => void;
}

export interface GracefulStopResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure: string | null;
  readonly config: string;
  readonly writes: { ok: number; failed: number };
  /** Per stop, the largest gap between acknowledged writes of one client (virtual ms). */
  readonly gaps: readonly number[];
  readonly stops: number;
  /** Refusals of a stopping node ("stopping: not executed") that reached their sender. */
  readonly stopRefusals: number;
  readonly trace: readonly string[];
}

const IDS = VOTER_IDS;
/** The bench's client: after a failed write it waits this long (bench/etcd-load.ts writeGap). */
const RETRY_AFTER_FAIL_MS = 2;

/** The bench's timing (etcd's), the e2e tests', and our defaults; each seed draws one. */
const TIMINGS = [
  { heartbeat: 100, min: 1000, max: 2000 },
  { heartbeat: 50, min: 300, max: 600 },
  { heartbeat: 500, min: 1500, max: 3000 },
] as const;

interface NodeStack {
  readonly inc: number;
  readonly forward: RaftForwarder;
  readonly autopilot: RaftAutopilot;
  readonly leaderWaiters: Set<() => void>;
  /** RaftComponent.stopping: set by stop(), proposals are refused from then on. */
  stopping: boolean;
}

export async function gracefulStopCheck(o: GracefulStopOptions): Promise<GracefulStopResult> {
  const rng = createRng((o.seed ^ 0x57_0b_ed) >>> 0);
  const timing = TIMINGS[rng.int(0, TIMINGS.length - 1)]!;
  const latencyMs = 0.05 + rng.next() * 1.5;
  const stopsWanted = o.stops ?? 8;
  const config =
    `3 voters, heartbeat ${timing.heartbeat} ms, election ${timing.min}-${timing.max} ms, ` +
    `link ${latencyMs.toFixed(2)} ms, ${stopsWanted} graceful stops`;
  const link = tcpLink(latencyMs);
  const w = voterWorld({ seed: o.seed, timing, link, syncMaxMs: 4, traceSink: o.traceSink });
  const { trace, fail, failure: failureOf } = failureRecorder(w);

  const clock = (n: SimNode, inc: number): TimerClock => incarnationClock(w, n, inc);
  const stacks = new Map<string, NodeStack>();
  const stackOf = (n: SimNode): NodeStack | null => liveStack(stacks, n);
  /** Nodes whose transport is closed (stopping): their port refuses, frames to them wait in queues. */
  const closedPort = new Set<string>();

  /** Leader side: RaftKvService.propose (refusals as it maps them), bounded by the request timeout. */
  const propose = (n: SimNode, s: NodeStack, cmd: KvCommand): Promise<KvResult> => {
    const core = n.core;
    const applier = n.applier;
    if (core === null || applier === null) return Promise.reject(new NoQuorumError('node down'));
    if (s.stopping)
      return Promise.reject(
        new NotLeaderError(core.leaderId, core.isLeader ? core.status().leadTransferee : null),
      );
    if (!core.isLeader) return Promise.reject(new NotLeaderError(core.leaderId));
    return proposeHere(
      w,
      n,
      core,
      applier,
      cmd,
      REQUEST_TIMEOUT_MS,
      (index, term) => `leadership changed: entry ${index} was replaced in term ${term} (not applied)`,
    );
  };

  // The forwarder's transport (see the header).
  const linkRng = rng.fork();
  // Its own stream: drawing it leaves the other draws of a seed as they were.
  const sporadicRng = createRng((o.seed ^ 0x5b_0a_d1) >>> 0);
  // And the once-writing clients' writes issued after the port closed (see gracefulStop): their own.
  const lateRng = createRng((o.seed ^ 0x1a_7e_0f) >>> 0);
  const queued = new ReconnectQueues();
  /** Refusals of a stopping node (RaftForwarder.stopServing) that reached their sender's forwarder. */
  let stopRefusals = 0;
  const sendForward = (from: SimNode, inc: number, to: string, m: ForwardMessage): boolean => {
    if (from.inc !== inc || !from.up || closedPort.has(from.id)) return false;
    const target = w.byId.get(to);
    if (target === undefined) return false;
    if (!target.up || closedPort.has(to)) {
      queued.hold(to, m, inc);
      return true;
    }
    const targetInc = target.inc;
    w.at(w.now + latencyMs + linkRng.next() * latencyMs, () => {
      // A frame in flight when the target's transport closed is gone with the connection.
      if (target.inc !== targetInc || closedPort.has(to)) return;
      const ts = stackOf(target);
      if (ts === null) return;
      if (m.type === 'fwd_resp' && m.code === 'not_leader' && m.message.endsWith('stopping: not executed'))
        stopRefusals++;
      ts.forward.onMessage(m);
    });
    return true;
  };

  const boot = (n: SimNode): void => {
    const old = stacks.get(n.id);
    if (old !== undefined) old.forward.close();
    closedPort.delete(n.id);
    const inc = n.inc;
    const c = clock(n, inc);
    const leaderWaiters = new Set<() => void>();
    const watch = leaderWatch(w, n, inc, c, leaderWaiters);
    const stack: { s: NodeStack | null } = { s: null };
    const forward = new RaftForwarder(
      {
        ...forwardHostBase(n, inc, {
          electionTimeoutMs: timing.min,
          watch,
          sendForward,
          queued: o.noWithdraw === true ? null : queued,
        }),
        successor: () => (n.core?.isLeader === true ? n.core.leadTransferee : null),
        stopping: () => stack.s?.stopping ?? false,
        put: (key, value) => propose(n, stack.s!, { op: 'put', key, value }),
        trace: (msg, fields) => trace(`${n.id} ${msg} ${JSON.stringify(fields)}`),
      },
      { clock: c },
    );
    const autopilot = new RaftAutopilot({
      peers: new StaticPeerDirectory(),
      core: () => (n.inc === inc ? n.core : null),
      stopping: () => stack.s?.stopping ?? false,
      clusterId: () => '',
      maxVoters: 3,
      deadVoterMs: 30_000,
      transferWaitMs: Math.min(2000, timing.min),
      log: nullLogger,
      kick: () => n.driver?.kick(),
      clock: c,
    });
    stack.s = { inc, forward, autopilot, leaderWaiters, stopping: false };
    stacks.set(n.id, stack.s);
    for (const m of queued.take(n.id)) w.at(w.now + latencyMs, () => n.inc === inc && forward.onMessage(m));
  };
  w.onBoot = boot;
  const lastView = new Map<string, string>();
  w.onSoftState = (n) => {
    const s = stackOf(n);
    if (s === null) return;
    const view = `${n.core?.leaderId ?? '-'}@${n.term}`;
    if (lastView.get(n.id) !== view) {
      lastView.set(n.id, view);
      trace(`${n.id} sees leader ${view} (${n.role})`);
    }
    // As RaftCoreRunner's onLeaderChange: waiters, then the forwarder.
    for (const f of [...s.leaderWaiters]) f();
    s.forward.onLeaderChanged();
  };
  w.onApplied = (n) => {
    const s = stackOf(n);
    if (s === null) return;
    s.forward.onApplied(n.applier?.appliedIndex ?? 0);
  };

  for (const n of w.nodes) w.start(n);

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => w.at(w.now + ms, resolve));
  const acked = new Set<string>();
  const writes = { ok: 0, failed: 0 };
  let measuring = false;
  let stopIndex = 0;

  /** A client's write through `via` failed: counted and traced; while a stop is measured, the run fails. */
  const onWriteFailed = (key: string, via: string, e: unknown, sent: number | null): void => {
    writes.failed++;
    const err = e instanceof Error ? e : new Error(String(e));
    const code = err instanceof SwarmError ? err.code : 'error';
    trace(
      `write ${key} via ${via}${sent === null ? '' : ` (sent ${fmt(sent)})`} failed: ${code} ${err.message}`,
    );
    if (measuring) fail(`write ${key} through ${via} during a graceful stop failed: ${code} ${err.message}`);
  };

  /** One client of the bench's kind, writing sequentially through node `via` (unique keys). */
  const writer = async (
    via: string,
    until: () => boolean,
    gap: { last: number; max: number },
  ): Promise<void> => {
    const n = w.node(via);
    for (let i = 1; !until() && failureOf() === null; i++) {
      const s = stackOf(n);
      if (s === null) return;
      const key = `s${stopIndex}/${via}/${i}`;
      const sent = w.now;
      let failed = false;
      let err: unknown = null;
      try {
        await s.forward.write({ op: 'put', key, value: i }, REQUEST_TIMEOUT_MS);
      } catch (e) {
        failed = true;
        err = e;
      }
      if (measuring) gap.max = Math.max(gap.max, w.now - gap.last);
      if (!failed) {
        acked.add(key);
        writes.ok++;
        gap.last = w.now;
      } else {
        onWriteFailed(key, via, err, sent);
        await sleep(RETRY_AFTER_FAIL_MS);
      }
    }
  };

  /** The survivor whose clients write only while the leader stops (none: both write steadily). */
  let sporadicVia: string | null = null;
  const sporadic: Promise<void>[] = [];
  /** One write through `via` after `delayMs` (unique key); a failure while measuring fails the run. */
  const writeOnce = async (via: string, k: number, delayMs: number): Promise<void> => {
    await sleep(delayMs);
    const s = stackOf(w.node(via));
    if (s === null || failureOf() !== null) return;
    const key = `s${stopIndex}/${via}/once${k}`;
    try {
      await s.forward.write({ op: 'put', key, value: k }, REQUEST_TIMEOUT_MS);
      acked.add(key);
      writes.ok++;
    } catch (e) {
      onWriteFailed(key, via, e, null);
    }
  };

  /** RaftComponent.beforeStop then stop, and the process's exit, with drawn durations between. */
  const gracefulStop = async (l: SimNode, cli: boolean): Promise<void> => {
    const s = stackOf(l);
    if (s === null) return;
    await sleep(0.3 + rng.next() * (cli ? 5 : 1.2));
    await s.autopilot.handOver();
    trace(`${l.id} handed over (prepared)`);
    // The other components' stop (API, gossip leave, tasks): CPU and disk beside the successor.
    await sleep(rng.next() * (cli ? 40 : 15));
    s.stopping = true;
    // Writes issued from here until the transport closes: they reach the old leader (when the
    // sender's view lags) before its port closes, at the earliest STOP_DRAIN_QUIET_MS after it began
    // refusing. (Those issued once the port is closed: below.)
    // Now and then they write only after the port closed (below): a node that wrote nothing in the
    // stop has learned no leader from a refusal, so a lagging view sends to the old leader's port.
    const lateOnly = sporadicVia !== null && lateRng.next() < 0.5;
    if (sporadicVia !== null)
      for (let k = 1; k <= 3; k++) {
        // Drawn either way: the seed's later draws stay as they were.
        const delay = sporadicRng.next() * (STOP_DRAIN_QUIET_MS - 4 * latencyMs);
        if (!lateOnly) sporadic.push(writeOnce(sporadicVia, k, delay));
      }
    await l.driver?.stop();
    await sleep(rng.next() * 3);
    // As RaftComponent.stop: the forwarder refuses what it reads while the transport still carries
    // the refusals, then both close.
    s.forward.stopServing();
    await s.forward.drain(STOP_DRAIN_QUIET_MS, STOP_DRAIN_MAX_MS);
    s.forward.close();
    closedPort.add(l.id);
    trace(`${l.id} forwarder and transport closed`);
    // Writes issued after the port closed, before the redials are refused: a sender whose view still
    // names the old leader queues them to it. They never left the node, so once the redial is refused
    // they go to the leader (the transport takes them back, TcpTransport.withdraw); before, they
    // failed 503 with an unknown outcome (`noWithdraw`).
    if (sporadicVia !== null)
      for (let k = 4; k <= 5; k++) sporadic.push(writeOnce(sporadicVia, k, lateRng.next()));
    // Its Raft messages stop with the transport; the peers' redials are refused after their back-off.
    w.net.partition([[l.id]]);
    for (const x of w.nodes) {
      if (x === l || !x.up) continue;
      const xs = stackOf(x);
      w.at(w.now + 1 + rng.next() * 50, () => {
        if (!x.up || stackOf(x) !== xs) return;
        const core = x.core;
        if (core !== null && core.leaderId === l.id && core.peerUnreachable(l.id, w.now)) x.driver?.kick();
        xs?.forward.onPeerGone(l.id);
      });
    }
    // Snapshot at stop, closing the log: then the process exits (nothing unsynced is left to lose).
    await sleep(5 + rng.next() * 60);
    w.crash(l, 'graceful stop: process exited');
  };

  const gaps: number[] = [];
  const script = async (): Promise<void> => {
    for (stopIndex = 1; stopIndex <= stopsWanted && failureOf() === null; stopIndex++) {
      // A stable leader, everyone caught up.
      let l = w.leader();
      for (let k = 0; (l === null || w.nodes.some((n) => !n.up)) && k < 200; k++) {
        await sleep(50);
        l = w.leader();
      }
      if (l === null) {
        fail('no leader before a stop');
        return;
      }
      await sleep(200 + rng.next() * 300);
      l = w.leader();
      if (l === null) continue;
      const leader = l;
      const survivors = IDS.filter((id) => id !== leader.id);
      const cli = rng.next() < 0.5;
      // A link between the two survivors may need a dial once one of them leads (it had been idle).
      const [a, b] = survivors as [string, string];
      const dialMs = rng.next() < 0.3 ? rng.next() * 300 : 0;
      if (dialMs > 0) {
        const slow = { ...link, latencyMs: dialMs };
        w.net.setLinkBetween(a, b, slow);
        w.net.setLinkBetween(b, a, slow);
      }
      trace(
        `stop ${stopIndex}: ${cli ? 'swarm node stop' : 'SIGTERM'} of leader ${leader.id}` +
          (dialMs > 0 ? `, survivors' link slow ${dialMs.toFixed(0)} ms` : ''),
      );
      // Now and then one survivor has no steady client, only clients that each write once while the
      // leader stops (see gracefulStop): such a node has learned no leader from earlier refusals, and
      // with its view lagging its write reaches the old leader while that refuses (stopServing).
      sporadicVia = sporadicRng.next() < 0.5 ? survivors[sporadicRng.int(0, 1)]! : null;
      const steady = survivors.filter((id) => id !== sporadicVia);
      let done = false;
      const gapsOf = steady.map(() => ({ last: w.now, max: 0 }));
      const clients = steady.map((via, k) => writer(via, () => done, gapsOf[k]!));
      await sleep(50);
      for (const g of gapsOf) g.last = w.now;
      measuring = true;
      if (sporadicVia !== null) trace(`stop ${stopIndex}: ${sporadicVia}'s clients write once each`);
      // The dial is done once: later messages on the link are as fast as the others.
      if (dialMs > 0)
        w.at(w.now + dialMs, () => {
          w.net.setLinkBetween(a, b, link);
          w.net.setLinkBetween(b, a, link);
        });
      await gracefulStop(leader, cli);
      await sleep(1000);
      measuring = false;
      done = true;
      await Promise.all([...clients, ...sporadic]);
      sporadic.length = 0;
      gaps.push(Math.max(...gapsOf.map((g) => g.max)));
      w.net.heal();
      w.start(leader);
      await sleep(300);
    }
    // The last restarted node catches up before the replicas are compared.
    await sleep(2000);
  };
  let finished = false;
  void script()
    .catch((err: unknown) => fail(`script: ${err instanceof Error ? err.message : String(err)}`))
    .finally(() => {
      finished = true;
    });
  try {
    await w.run(stopsWanted * 20_000 + 10_000, () => finished || failureOf() !== null);
  } catch (err) {
    fail(`invariant: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (failureOf() === null && !finished) fail('the stops did not finish in time');
  if (failureOf() === null) {
    // Exactly once: every acknowledged write on every live replica, no write applied twice.
    for (const n of w.nodes) {
      const kv = n.applier?.kv;
      if (!n.up || kv === undefined) continue;
      for (const key of kv.keys()) {
        const rec = kv.get(key);
        if (rec !== null && rec.version > 1) fail(`${n.id} applied ${key} ${rec.version} times`);
      }
    }
    // Every acknowledged write on every live replica (caught up at the script's end), and some are live.
    const live = w.nodes.filter((n) => n.up && n.applier !== null);
    if (live.length === 0) fail('no live replica at the end');
    for (const n of live)
      for (const key of acked)
        if (n.applier!.kv.get(key) === null) fail(`acknowledged ${key} missing on ${n.id}`);
  }
  return {
    seed: o.seed,
    ok: failureOf() === null,
    failure: failureOf(),
    config,
    writes,
    gaps,
    stops: gaps.length,
    stopRefusals,
    trace: w.traceLines.slice(-80),
  };
}
