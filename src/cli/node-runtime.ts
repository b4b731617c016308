/**
 * The composition root of a node process: which components a node runs, in
 * start order. Later features (gossip, Raft, energy, metrics) register here;
 * the API goes last so "the API answers" means every component is up.
 */
import { ApiServer } from '../api/server.js';
import type { ApiRoutes } from '../api/app.js';
import type { SwarmConfig } from '../config/schema.js';
import type { Logger } from '../node/log.js';
import { SwarmNode } from '../node/node.js';

export function createNodeRuntime(config: SwarmConfig, logger: Logger): SwarmNode {
  const node = new SwarmNode(config, { logger });
  const routes: ApiRoutes[] = [];
  node.register(new ApiServer({ routes }));
  return node;
}

/**
 * Run a node attached to this process until SIGINT/SIGTERM or an API shutdown,
 * then stop it cleanly. Resolves with the exit code.
 */
export async function runForeground(node: SwarmNode): Promise<number> {
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      node.log.warn('second signal: exiting without a clean stop', { signal: sig });
      process.exit(1);
    }
    node.requestShutdown(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const stopRequested = new Promise<void>((resolve) => node.once('shutdown', () => resolve()));
    await node.start();
    await stopRequested;
    await node.stop();
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
