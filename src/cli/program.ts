/**
 * The `swarm` program for a given set of command groups. `main.ts` runs it with
 * every group; the node daemon's entry (`daemon-main.ts`) with the `node` group
 * alone, so a daemon does not load code it never runs. Returns the exit code
 * instead of calling process.exit so that tests can run it in-process and the
 * daemon can flush.
 */
import { Command, CommanderError } from 'commander';
import { reportFailure } from '../common/errors.js';
import type { CliContext, Registrar } from './context.js';
import { VERSION } from '../version.js';

export function buildProgram(ctx: CliContext, groups: readonly Registrar[]): Command {
  const program = new Command('swarm')
    .description('Swarm Orchestrator: gossip, Raft and energy accounting for swarms of edge devices')
    .version(VERSION, '-V, --version')
    .option(
      '-c, --config <file>',
      'config file (default: $SWARM_CONFIG, else $XDG_CONFIG_HOME/swarm_orchestrator/config.toml)',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    });
  for (const register of groups) register(program, ctx);
  // Subcommands inherit exit override and output so usage errors map to exit 2 everywhere.
  const propagate = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().configureOutput({
        writeOut: (s) => ctx.stdout.write(s),
        writeErr: (s) => ctx.stderr.write(s),
      });
      propagate(sub);
    }
  };
  propagate(program);
  return program;
}

export async function runProgram(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  groups: readonly Registrar[],
): Promise<number> {
  const holder: { program?: Command } = {};
  const ctx: CliContext = {
    configPath: () => holder.program?.opts<{ config?: string }>().config,
    stdout: process.stdout,
    stderr: process.stderr,
    env,
  };
  const program = buildProgram(ctx, groups);
  holder.program = program;
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err, ctx);
  }
}

function reportError(err: unknown, ctx: CliContext): number {
  if (err instanceof CommanderError) {
    // Help shown because a subcommand is missing (`swarm node`) is a usage error, not success.
    if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    // commander already printed the message.
    return 2;
  }
  return reportFailure(err, ctx.stderr);
}
