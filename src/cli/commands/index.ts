/**
 * Every command group of the `swarm` program, in help order. A group's module
 * is imported only when the program needs it: `swarm <group> ...` loads that
 * group alone, so `swarm version` does not pay for zod, the client or the
 * node code that other groups import; help, a missing or unknown command word
 * load them all so that commander lists every command and suggests the closest.
 */
import type { Registrar } from '../context.js';

type Loader = () => Promise<Registrar>;

export const GROUPS: ReadonlyMap<string, Loader> = new Map<string, Loader>([
  ['node', async () => (await import('./node.js')).register],
  ['swarm', async () => (await import('./swarm.js')).register],
  ['kv', async () => (await import('./kv.js')).register],
  ['lock', async () => (await import('./coord.js')).registerLock],
  ['elect', async () => (await import('./coord.js')).registerElect],
  ['lease', async () => (await import('./coord.js')).registerLease],
  ['event', async () => (await import('./event.js')).register],
  ['task', async () => (await import('./task.js')).register],
  ['demo', async () => (await import('./demo.js')).register],
  ['agent', async () => (await import('./agent.js')).register],
  ['config', async () => (await import('./config.js')).register],
  ['keygen', async () => (await import('./keygen.js')).register],
  ['maelstrom', async () => (await import('./maelstrom.js')).register],
  ['service', async () => (await import('./service.js')).register],
  ['logs', async () => (await import('./logs.js')).register],
  ['completion', async () => (await import('./completion.js')).register],
  ['version', async () => (await import('./version.js')).register],
]);

/** The groups for a command word: its own group, else (no word, `help`, a typo) every group. */
export async function registrarsFor(word: string | undefined): Promise<Registrar[]> {
  const one = word === undefined ? undefined : GROUPS.get(word);
  if (one) return [await one()];
  return Promise.all([...GROUPS.values()].map((load) => load()));
}
