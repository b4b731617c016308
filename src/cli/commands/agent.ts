/**
 * `swarm agent`: run one REST consensus agent (settings from flags or the
 * demo's AGENT_ID/PORT/PEERS environment), `swarm agent trigger` (the demo's
 * trigger script) and `swarm agent demo` (N agents on loopback, one run).
 * The agents' code (and hono with it) is imported inside the actions, so
 * listing the commands (`swarm --help`) does not load it.
 */
import type { Command } from 'commander';
import { CliExit, UsageError } from '../../common/errors.js';
import type { CliContext, Registrar } from '../context.js';
import type { AgentFlags } from '../../agents/settings.js';

function int(raw: string | undefined, name: string, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min)
    throw new UsageError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return v;
}

async function runAgent(flags: AgentFlags, ctx: CliContext): Promise<void> {
  const [{ resolveSettings }, { AgentNode }] = await Promise.all([
    import('../../agents/settings.js'),
    import('../../agents/node.js'),
  ]);
  const settings = resolveSettings(flags, ctx.env);
  const node = new AgentNode({ ...settings, log: (line) => ctx.stdout.write(`${line}\n`) });
  await node.start();
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await node.stop();
}

export const register: Registrar = (program: Command, ctx: CliContext) => {
  const agent = program
    .command('agent')
    .description('run a REST consensus agent (env AGENT_ID, PORT, PEERS as in the original demo)')
    .option('--id <id>', 'agent id (env AGENT_ID)')
    .option('--port <port>', 'HTTP port, 0 for any free one (env PORT, default 5001)')
    .option('--host <host>', 'address to listen on (env AGENT_HOST, default 127.0.0.1)')
    .option('--peers <urls>', 'comma-separated base URLs of the other agents (env PEERS)')
    .option(
      '--data-dir <dir>',
      'state directory (env AGENT_DATA_DIR, default ~/.local/state/swarm_orchestrator/agents/<id>)',
    )
    .option('--values <range>', 'range of proposed values, e.g. 1..3 (env AGENT_VALUES)')
    .option('--wait-ms <ms>', 'wait window of a round before retrying (env AGENT_WAIT_MS, default 500)')
    .option('--timeout-ms <ms>', 'timeout of one call to a peer (env AGENT_TIMEOUT_MS, default 1000)')
    .action(async (flags: AgentFlags) => {
      await runAgent(flags, ctx);
    });

  agent
    .command('trigger')
    .description('POST /run to the first agent, wait until every agent decided, print their answers')
    .option('--round <n>', 'round to start', '1')
    .option('--agents <urls>', 'comma-separated agent base URLs (default: the demo ports 5001-5003)')
    .option('--timeout <ms>', 'give up waiting for the decision after this long', '30000')
    .option('--json', 'machine-readable output')
    .action(async (opts: { round: string; agents?: string; timeout: string; json?: boolean }) => {
      const agents = (opts.agents ?? 'http://localhost:5001,http://localhost:5002,http://localhost:5003')
        .split(',')
        .map((s) => s.trim().replace(/\/+$/, ''))
        .filter((s) => s.length > 0);
      if (agents.length === 0) throw new UsageError('--agents needs at least one URL');
      const { formatTrigger, triggerRun } = await import('../../agents/client.js');
      const result = await triggerRun({
        agents,
        round: int(opts.round, '--round', 1, 1),
        deadlineMs: int(opts.timeout, '--timeout', 30_000, 1),
      });
      ctx.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${formatTrigger(result).join('\n')}\n`);
      if (!result.agreed) throw new CliExit(1);
    });

  agent
    .command('demo')
    .description('start N agents on loopback ports 5001.., trigger one run, print the answers, stop')
    .option('--count <n>', 'number of agents', '3')
    .option('--base-port <port>', 'port of the first agent (0: any free ports)', '5001')
    .option('--round <n>', 'round to start', '1')
    .option('--json', 'machine-readable output')
    .action((opts: AgentsDemoFlags) => agentsDemo(opts, ctx));
};

export interface AgentsDemoFlags {
  count: string;
  basePort: string;
  round: string;
  json?: boolean;
}

/**
 * The local stand-in for the original demo's docker compose file, behind both
 * `swarm agent demo` and `swarm demo agents`.
 */
export async function agentsDemo(opts: AgentsDemoFlags, ctx: CliContext): Promise<void> {
  const count = int(opts.count, '--count', 3, 1);
  const basePort = int(opts.basePort, '--base-port', 5001, 0);
  const round = int(opts.round, '--round', 1, 1);
  const { runAgentsDemo } = await import('../../agents/demo.js');
  const code = await runAgentsDemo({
    count,
    basePort,
    round,
    json: opts.json === true,
    stdout: ctx.stdout,
    stderr: ctx.stderr,
  });
  if (code !== 0) throw new CliExit(1);
}
