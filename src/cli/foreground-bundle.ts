/**
 * `swarm node start --foreground` (a service manager's node, or one run by
 * hand without a terminal) runs the node from the daemon bundle, as a
 * detached daemon does, rather than from the ~190 compiled modules: one
 * CommonJS module for Node's loader to compile instead of a tree to resolve
 * and link, which is several MB of resident memory per idle node
 * (docs/operations.md, "Memory"). This process stays the node (a service
 * manager watches it): the bundle is loaded here, with the config handed
 * over as to a detached daemon (`config.resolved.json` in the data dir), and
 * from then on the bundle's entry (src/cli/daemon-main.ts) owns the process:
 * its exit code and its exit.
 */
import { createRequire } from 'node:module';
import type { SwarmConfig } from '../config/schema.js';
import { daemonEntry } from './daemon-entry.js';
import { writeResolvedConfig } from './resolved-config.js';

/**
 * Run the node from the bundle: a promise that never settles (the bundle
 * sets the exit code and exits), or null when there is no usable bundle
 * (a tsc-only build), for the caller to run the compiled node instead.
 */
export function runBundledNode(config: SwarmConfig): Promise<never> | null {
  const entry = daemonEntry();
  if (!entry.endsWith('.cjs')) return null;
  const resolved = writeResolvedConfig(config.node.data_dir, config);
  // The bundle's entry reads its config file from argv, as a detached daemon's does.
  process.argv.splice(1, process.argv.length - 1, entry, resolved);
  createRequire(import.meta.url)(entry);
  return new Promise<never>(() => undefined);
}
