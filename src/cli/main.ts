/**
 * Entry point of the `swarm` CLI: the program with every command group, except
 * for `swarm node ...`, which loads the `node` group alone. A node run in the
 * foreground (`swarm node start --foreground` under a service manager) then
 * holds what the detached daemon holds (daemon-main.ts), not the dashboard's
 * React and Ink nor the agents' HTTP stack (6 MB less RSS, measured).
 */
import type { Registrar } from './context.js';
import { runProgram } from './program.js';

/** The command word of argv (after node and the script), skipping global options and their values. */
export function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '-c' || a === '--config') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

async function groupsFor(argv: readonly string[]): Promise<readonly Registrar[]> {
  if (commandWord(argv) === 'node') return [(await import('./commands/node.js')).register];
  return (await import('./commands/index.js')).registrars;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return runProgram(argv, env, await groupsFor(argv));
}
