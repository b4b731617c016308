/**
 * The composition root of a node process: which components a node runs, in
 * start order. Later features (gossip, Raft, energy, metrics) register here;
 * the API goes last so "the API answers" means every component is up.
 */
import { getPriority, setPriority } from 'node:os';
import { installLightFetchGlobals } from '../api/light-fetch.js';
import { installLightPerformance } from '../common/light-performance.js';
import { ApiServer } from '../api/server.js';
import { membersRoutes } from '../api/members.js';
import type { ApiRoutes } from '../api/app.js';
import type { SwarmConfig } from '../config/schema.js';
import { createLogger, type Logger } from '../node/log.js';
import { SwarmNode } from '../node/node.js';
import { CompilerTiering } from '../node/compiler-tiering.js';
import { GossipComponent } from '../node/gossip-component.js';
import { gossipMetricsRegistry } from '../node/gossip-metrics.js';
import { RaftComponent } from '../node/raft-component.js';
import { kvRoutes } from '../api/routes/kv.js';
import { metricsRoutes } from '../api/routes/metrics.js';
import { energyRoutes } from '../api/energy.js';
import { EnergyComponent } from '../node/energy-component.js';
import { CoordinationComponent } from '../node/coordination.js';
import { coordRoutes } from '../api/routes/coord.js';
import { PowerHistoryComponent } from '../node/power-history-component.js';
import { dashboardRoutes } from '../api/dashboard/routes.js';
import { SwarmEvents } from '../node/swarm-events.js';
import { eventsRoutes } from '../api/routes/events.js';
import { TasksComponent } from '../node/tasks-component.js';
import { tasksRoutes } from '../api/routes/tasks.js';

export function createNodeRuntime(config: SwarmConfig, logger: Logger): SwarmNode {
  const node = new SwarmNode(config, { logger });
  const routes: ApiRoutes[] = [];
  // Gossip first: it is the PeerDirectory later components (Raft) read peers from.
  const gossip = new GossipComponent();
  node.register(gossip);
  routes.push(membersRoutes(gossip));
  // V8's upper compilers off while idle, on once the node works (5-6 MB less idle RSS; compiler-tiering.ts).
  const tiering = new CompilerTiering({ host: gossip });
  node.register(tiering);
  // Swarm events ride the gossip broadcast (docs/protocol.md section 7).
  const events = new SwarmEvents(gossip);
  node.register(events);
  routes.push(
    eventsRoutes(events, { nameOf: (id) => (id === node.id ? node.name : (gossip.get(id)?.name ?? null)) }),
  );
  // Raft reads its peers' Raft and API addresses from the gossip membership.
  // A follower's leader heartbeats carry its gossip probe's wake-up too (GossipComponent.shareWake);
  // Raft's work turns the compilers on within a fraction of a second (CompilerTiering.poke).
  const raft = new RaftComponent({
    peers: gossip,
    wakeSharer: gossip,
    // With the entries applied so far: a client's writes count as load even in the start grace.
    onActivity: () => tiering.activity(raft.state.appliedIndex),
    onPeerLinkLost: (id) => gossip.hintMember(id),
  });
  node.register(raft);
  routes.push(kvRoutes(raft));
  // Watch, leases, locks, elections over the replicated KV (src/node/coordination.ts).
  const coord = new CoordinationComponent(raft);
  node.register(coord);
  routes.push(coordRoutes(raft, coord));
  // Energy after Raft and gossip: it reads their counters and publishes its summary through gossip.
  const energy = new EnergyComponent({ gossip, raft, leadership: raft });
  node.register(energy);
  // Power modes reach Raft too: an emergency leader heartbeats learners less often (docs/energy.md).
  energy.onPowerMode((mode) => raft.setPowerMode(mode));
  // An emergency node resigns the elections campaigned through it (coordination.resign_on_emergency).
  energy.onPowerMode((mode) => coord.onPowerMode(mode));
  routes.push(energyRoutes(energy, gossip));
  // Tasks after Raft, gossip and energy: the scheduler reads members and power modes, the supervisor the KV.
  const tasks = new TasksComponent({ raft, members: gossip, powerMode: energy });
  node.register(tasks);
  routes.push(tasksRoutes(tasks, raft));
  routes.push(
    metricsRoutes([raft.metrics.registry, gossipMetricsRegistry(gossip), energy.registry, tasks.registry]),
  );
  // The web dashboard (GET /): the last hour of every member's power is kept whether or not a page watches.
  const powerHistory = new PowerHistoryComponent({ gossip, energy });
  node.register(powerHistory);
  routes.push(dashboardRoutes({ history: powerHistory }));
  node.register(new ApiServer({ routes }));
  return node;
}

/** The nice value a stopping node takes once it has handed over (see runForeground). */
const STOPPING_NICE = 10;

/**
 * Run a node attached to this process until SIGINT/SIGTERM or an API shutdown,
 * then stop it cleanly. Resolves with the exit code.
 */
export async function runForeground(node: SwarmNode): Promise<number> {
  // This process is a node: its API answers with light responses, so undici is never loaded at idle.
  installLightFetchGlobals();
  let received = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    received++;
    if (received > 1) {
      node.log.warn('second signal: exiting without a clean stop', { signal: sig });
      process.exit(1);
    }
    node.requestShutdown(sig);
  };
  // SIGHUP: the terminal of a foreground node went away; stop rather than die uncleanly.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of signals) process.on(sig, onSignal);
  // A throw nothing caught leaves the node in an unknown state: one clear line, exit 1 (not a stack trace).
  const onFatal = (err: unknown): void => {
    node.log.error('fatal error; exiting', { error: err });
    process.stderr.write(`swarm: fatal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  // Once a stopping leader has handed over (the first phase of the stop), the rest of the stop (the
  // snapshot at stop, closing) is nobody's critical path, while the successor's first commits are:
  // yield the CPU to them, as `swarm node stop` yields its own start-up (bin/swarm.js). Linux sets
  // the calling thread's nice value: the event loop's, where the stop's CPU work runs (its file
  // writes and fsyncs run on libuv's pool threads, which keep theirs: they wait on the disk).
  node.once('prepared', () => {
    try {
      setPriority(Math.max(getPriority(), STOPPING_NICE));
    } catch {
      // not permitted here: the stop goes on at this priority
    }
  });
  try {
    const stopRequested = new Promise<void>((resolve) => node.once('shutdown', () => resolve()));
    await node.start();
    await stopRequested;
    await node.stop();
    // What still holds the event loop once stopped delays the process's exit (exitSoonAfterStop).
    node.log.debug('node stopped: still active', { resources: process.getActiveResourcesInfo() });
    return exitCodeAfterStop(node, process.stderr);
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
  }
}

/**
 * 0 after a requested stop; 1 after a fatal failure (a full disk stopping the
 * Raft log), reported as one `swarm: ...` line on stderr (the node has logged
 * it as a structured line too), so supervisors restart on failure.
 */
export function exitCodeAfterStop(node: SwarmNode, stderr: { write(s: string): unknown }): 0 | 1 {
  const f = node.failure;
  if (f === null) return 0;
  stderr.write(`swarm: node stopped after a fatal failure: ${f.reason}: ${f.message}\n`);
  return 1;
}

/** A node that is this whole process: JSON logs on stderr, until stopped. Resolves with the exit code. */
export function runNodeProcess(config: SwarmConfig): Promise<number> {
  // Before any component reads the clock: node:perf_hooks is then never loaded at idle.
  installLightPerformance();
  const logger = createLogger({ sink: process.stderr, level: config.logging.level });
  return runForeground(createNodeRuntime(config, logger));
}

/** Anything still holding the event loop (a lingering socket) must not keep a stopped node alive. */
export function exitSoonAfterStop(): void {
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
}
