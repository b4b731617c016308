/** Entry point of the `swarm` CLI: the program with every command group. */
import type { Command } from 'commander';
import { registrars } from './commands/index.js';
import type { CliContext } from './context.js';
import { buildProgram as build, runProgram } from './program.js';

export function buildProgram(ctx: CliContext): Command {
  return build(ctx, registrars);
}

export function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return runProgram(argv, env, registrars);
}
