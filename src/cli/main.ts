/**
 * Entry point of the `swarm` CLI. `swarm <group> ...` builds the program with
 * that command group alone (commands/index.ts); help, no command or an unknown
 * one build it with every group. Each command then imports only what its own
 * group needs: `swarm version` no zod, `swarm node stop` not the node runtime.
 * A node run in the foreground (`swarm node start --foreground` under a
 * service manager) holds what the detached daemon holds (daemon-main.ts), not
 * the dashboard's React and Ink nor the agents' HTTP stack (6 MB less RSS,
 * measured).
 */
import { commandWord } from './argv.js';
import type { Registrar } from './context.js';
import { runProgram } from './program.js';

export { commandWord };

async function groupsFor(argv: readonly string[]): Promise<readonly Registrar[]> {
  return (await import('./commands/index.js')).registrarsFor(commandWord(argv));
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return runProgram(argv, env, await groupsFor(argv));
}
