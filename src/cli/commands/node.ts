/**
 * `swarm node start | stop | status`. The CLI never holds node state: it finds
 * the node through its data dir (lock + node.json) and talks to its API.
 * `stop` and `status` run in a short-lived process (benchmarks and service
 * managers call them while nodes run), so the node runtime (gossip, Raft,
 * energy, API server) and the dashboard are imported only by `start
 * --foreground`, inside its action, and the config (zod) inside each action.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SwarmError } from '../../common/errors.js';
import { SwarmClient } from '../../client/client.js';
import type { SwarmConfig } from '../../config/schema.js';
import { FILES, inspectDataDir, readRuntime } from '../../node/datadir.js';
import type { SwarmNode } from '../../node/node.js';
import type { StartOptions } from '../config-access.js';
import type { CliContext, Registrar } from '../context.js';
import { NoNodeRunningError, spawnDaemon, stopDaemon } from '../daemon.js';
import { formatPairs } from '../output.js';
import { formatStatus } from '../status-format.js';

export type { StartOptions } from '../config-access.js';

function dataDirOption(cmd: Command): Command {
  return cmd.option('--data-dir <dir>', 'data dir of the node (default: node.data_dir)');
}

export { formatStatus };

/** How long a detached `node start` looks for a leader before saying what the node waits for. */
const START_LEADER_WAIT_MS = 4000;

/**
 * Polls the node's status until it knows a leader (returns null) or `ms`
 * passed (returns what it waits for: formation, being added, quorum). Never
 * throws: the node has started either way.
 */
export async function leaderOrWaiting(client: SwarmClient, ms: number): Promise<string | null> {
  const end = Date.now() + ms;
  let last: string | null = null;
  for (;;) {
    try {
      const st = await client.status();
      if (st.leader !== null) return null;
      last = st.waiting ?? 'no leader known';
    } catch (e) {
      last = `status unavailable: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (Date.now() >= end) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Resolves true once the node runs, false if `gaveUp` says its start has ended otherwise. */
async function untilRunning(node: SwarmNode, gaveUp: () => boolean): Promise<boolean> {
  while (!gaveUp() && (node.state === 'new' || node.state === 'starting'))
    await new Promise((r) => setTimeout(r, 50));
  return node.state === 'running';
}

/**
 * `node start --foreground` on a terminal: the node runs in this process and the
 * terminal shows its dashboard. Log lines would tear the frame, so they go to the
 * data dir's node.log, as a daemon's do. `q`/Ctrl+C ends the view and stops the
 * node through its usual path (graceful leave, leadership hand-over); a stop
 * from elsewhere (API shutdown, SIGTERM) ends the view.
 */
async function runForegroundDashboard(config: SwarmConfig, ctx: CliContext): Promise<number> {
  const dataDir = config.node.data_dir;
  mkdirSync(dataDir, { recursive: true });
  const logPath = join(dataDir, FILES.log);
  const fd = openSync(logPath, 'a', 0o644);
  try {
    const [{ createLogger }, { createNodeRuntime, runForeground }] = await Promise.all([
      import('../../node/log.js'),
      import('../node-runtime.js'),
    ]);
    const logger = createLogger({
      sink: { write: (line: string) => writeSync(fd, line) },
      level: config.logging.level,
    });
    const node = createNodeRuntime(config, logger);
    let ended = false;
    const done = runForeground(node);
    const end = (): void => {
      ended = true;
    };
    // Handled here so a failed start is not an unhandled rejection while we wait; awaited below.
    done.then(end, end);
    // A failed start (e.g. the data dir is locked) rejects `done`; the error reaches the user from here.
    if (!(await untilRunning(node, () => ended))) return await done;
    const apiUrl = readRuntime(dataDir)?.api_url ?? '';
    const client = new SwarmClient({ baseUrl: apiUrl, token: config.security.api_token, timeoutMs: 2000 });
    const viewEnded = new AbortController();
    node.once('shutdown', () => viewEnded.abort());
    // Lazy: ink and react load only when there is a terminal to draw on.
    const { runDashboard } = await import('../dashboard/run.js');
    await runDashboard({
      source: client,
      label: apiUrl,
      intervalMs: 1000,
      stdout: process.stdout,
      stdin: process.stdin,
      env: ctx.env,
      signal: viewEnded.signal,
    });
    node.requestShutdown('dashboard');
    ctx.stdout.write(`Stopping node ${node.name}: leaving the swarm (log: ${logPath})\n`);
    const code = await done;
    ctx.stdout.write(`Stopped node ${node.name}\n`);
    return code;
  } finally {
    closeSync(fd);
  }
}

export const register: Registrar = (program, ctx) => {
  const node = program.command('node').description('start, stop and inspect the node of this machine');

  dataDirOption(
    node
      .command('start')
      .description('start a node (detached by default; returns once its API answers)')
      .option('--name <name>', 'node name (default: node.name, else hostname-based)')
      .option(
        '--foreground',
        'run attached: the dashboard on a terminal (logs to node.log), else JSON logs on stderr; q or Ctrl+C stops',
      )
      .option('--join <peers>', 'comma-separated "host:port" gossip addresses to join')
      .option('--gossip-port <port>', 'UDP gossip port (0 = any free port)')
      .option('--api-port <port>', 'REST API port (0 = any free port)')
      .option('--raft-port <port>', 'Raft TCP port (0 = any free port)')
      .option('--no-multicast', 'do not discover peers by multicast')
      .option(
        '--bootstrap [n]',
        'form a new Raft cluster once n voters are seen (default 1; sets raft.bootstrap_expect)',
      )
      .option('--json', 'print the started node as JSON'),
  ).action(async (opts: StartOptions) => {
    // In the foreground (a service manager's restart), remembered for the fast path (bin/swarm.js).
    const access = await import('../config-access.js');
    const { config } = opts.foreground
      ? access.loadStartConfigRemembered(ctx, opts)
      : access.loadStartConfigForStop(ctx, opts);
    const dataDir = config.node.data_dir;

    if (opts.foreground) {
      const dashboard = process.stdout.isTTY === true && opts.json !== true;
      // Without a terminal, the node runs from the daemon bundle when there is one (foreground-bundle.ts).
      const bundled = dashboard ? null : (await import('../foreground-bundle.js')).runBundledNode(config);
      if (bundled !== null) return bundled;
      const { exitSoonAfterStop, runNodeProcess } = await import('../node-runtime.js');
      if (dashboard) process.exitCode = await runForegroundDashboard(config, ctx);
      else process.exitCode = await runNodeProcess(config);
      exitSoonAfterStop();
      return;
    }

    const found = inspectDataDir(dataDir);
    if (found.state === 'running') {
      const where = found.runtime?.api_url ? ` at ${found.runtime.api_url}` : '';
      throw new SwarmError(
        'already_running',
        `a node is already running in ${dataDir} (PID ${found.ref.pid}${where})`,
      );
    }
    if (found.state === 'stale')
      ctx.stderr.write(`removed stale pidfile and lock of dead PID ${found.pid}\n`);

    const rt = await spawnDaemon({ config, env: ctx.env });
    if (opts.json) {
      ctx.stdout.write(`${JSON.stringify({ ...rt, data_dir: dataDir, log: `${dataDir}/${FILES.log}` })}\n`);
      return;
    }
    ctx.stdout.write(
      `Started node ${rt.name} (id ${rt.id})\n` +
        formatPairs([
          ['api', rt.api_url],
          ['pid', String(rt.pid)],
          ['log', `${dataDir}/${FILES.log}`],
        ]),
    );
    const waiting = await leaderOrWaiting(
      new SwarmClient({ baseUrl: rt.api_url, token: config.security.api_token }),
      START_LEADER_WAIT_MS,
    );
    if (waiting !== null) ctx.stdout.write(`No leader yet: ${waiting}\n`);
  });

  dataDirOption(
    node.command('stop').description('stop the node of this config/data dir and wait until it has exited'),
  ).action(async (opts: { dataDir?: string }) => {
    // Remembered for the fast path (bin/swarm.js, fast.ts), as `node status` is.
    const { loadCliConfigRemembered } = await import('../config-access.js');
    const { config } = loadCliConfigRemembered(ctx, opts.dataDir);
    const stopped = await stopDaemon({ dataDir: config.node.data_dir, token: config.security.api_token });
    ctx.stdout.write(`Stopped node ${stopped.name || '(unnamed)'} (PID ${stopped.pid})\n`);
  });

  dataDirOption(
    node
      .command('status')
      .description('ask the running node for its status over its API')
      .option('--json', 'machine-readable output'),
  ).action(async (opts: { dataDir?: string; json?: boolean }) => {
    const { loadCliConfigRemembered } = await import('../config-access.js');
    const { config } = loadCliConfigRemembered(ctx, opts.dataDir);
    const dataDir = config.node.data_dir;
    const found = inspectDataDir(dataDir);
    if (found.state === 'none') throw new NoNodeRunningError(dataDir);
    if (found.state === 'stale') throw new NoNodeRunningError(dataDir, found.pid);
    if (!found.runtime?.api_url) {
      throw new SwarmError(
        'starting',
        `node PID ${found.ref.pid} in ${dataDir} is still starting; try again`,
      );
    }
    const client = new SwarmClient({ baseUrl: found.runtime.api_url, token: config.security.api_token });
    const status = await client.status();
    ctx.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  });
};
