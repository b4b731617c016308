/**
 * The `swarm` program for a given set of command groups. `main.ts` runs it with
 * every group; the node daemon's entry (`daemon-main.ts`) with the `node` group
 * alone, so a daemon does not load code it never runs. Returns the exit code
 * instead of calling process.exit so that tests can run it in-process and the
 * daemon can flush.
 */
import { Command, CommanderError, type HelpContext } from 'commander';
import { existsSync } from 'node:fs';
import { ConfigError, UsageError, reportFailure } from '../common/errors.js';
import type { CliContext, Registrar } from './context.js';
import { VERSION } from '../version.js';

const HELP_HINT = 'run with --help for usage';

/** `swarm node` and the like: commander prints the whole help on stderr; one line names what is missing. */
function missingCommandIsOneLine(cmd: Command): void {
  if (cmd.commands.length === 0) return;
  const shown = cmd.help.bind(cmd);
  cmd.help = ((context?: HelpContext) => {
    if (!context?.error) return shown(context);
    const path: string[] = [];
    for (let c: Command | null = cmd; c; c = c.parent) path.unshift(c.name());
    const names = cmd.commands.map((c) => c.name()).filter((n) => n !== 'help');
    const after = path.length > 1 ? ` after '${path.join(' ')}'` : '';
    throw new UsageError(
      `missing command${after}: one of ${names.join(', ')} (run '${path.join(' ')} --help' for usage)`,
    );
  }) as Command['help'];
}

/** Commands that may name a config file that does not exist yet: they create it or only print its path. */
const MAY_NAME_MISSING_CONFIG = new Set(['config init', 'config path']);

/**
 * A config file named by --config or $SWARM_CONFIG must exist: running on
 * defaults would silently ignore a typo (and put the data dir next to the
 * missing file). The default location may be missing: that means defaults.
 */
async function checkNamedConfigExists(ctx: CliContext, action: Command): Promise<void> {
  // Nothing named: nothing to load (`swarm version` stays free of config modules).
  if (!ctx.configPath() && !ctx.env.SWARM_CONFIG) return;
  const path: string[] = [];
  for (let c: Command | null = action; c?.parent; c = c.parent) path.unshift(c.name());
  if (MAY_NAME_MISSING_CONFIG.has(path.join(' '))) return;
  const { resolveConfigPath } = await import('../config/paths.js');
  const loc = resolveConfigPath({ flag: ctx.configPath(), env: ctx.env });
  if (loc.source !== 'flag' && loc.source !== 'SWARM_CONFIG') return;
  if (existsSync(loc.path)) return;
  const named = loc.source === 'flag' ? '--config' : '$SWARM_CONFIG';
  throw new ConfigError(
    `config file ${loc.path} (from ${named}) does not exist; create it with \`swarm config init\` or fix the path`,
    { path: loc.path },
  );
}

export function buildProgram(ctx: CliContext, groups: readonly Registrar[]): Command {
  // Commander's own error output is two lines (`error: ...`, then a hint); reportError prints one instead.
  const output = {
    writeOut: (s: string) => ctx.stdout.write(s),
    writeErr: (s: string) => ctx.stderr.write(s),
    outputError: () => {},
  };
  const program = new Command('swarm')
    .description('Swarm Orchestrator: gossip, Raft and energy accounting for swarms of edge devices')
    .version(VERSION, '-V, --version')
    .option(
      '-c, --config <file>',
      'config file (default: $SWARM_CONFIG, else $XDG_CONFIG_HOME/swarm_orchestrator/config.toml)',
    )
    .exitOverride()
    .configureOutput(output)
    .hook('preAction', (_program, action) => checkNamedConfigExists(ctx, action));
  for (const register of groups) register(program, ctx);
  missingCommandIsOneLine(program);
  // Subcommands inherit exit override and output so usage errors map to exit 2 everywhere.
  const propagate = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().configureOutput(output);
      missingCommandIsOneLine(sub);
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
    // One line: "error: unknown command 'nod'\n(Did you mean node?)" -> "swarm: unknown command 'nod' (Did you mean node?) (...)".
    const msg = err.message
      .replace(/^error:\s*/, '')
      .replace(/\s*\n\s*/g, ' ')
      .trim();
    ctx.stderr.write(`swarm: ${msg} (${HELP_HINT})\n`);
    return 2;
  }
  return reportFailure(err, ctx.stderr);
}
