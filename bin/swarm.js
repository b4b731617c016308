#!/usr/bin/env node
// The `swarm` command runs the compiled CLI so start-up does not pay for a TypeScript loader.
import { getPriority, setPriority } from 'node:os';
import { commandWords } from '../dist/cli/argv.js';

// `swarm node stop` runs beside the node it stops, whose leadership hand-over is latency-critical:
// on a small device the CLI's own start-up would otherwise take the CPU from it, so yield it first.
const [group, command] = commandWords(process.argv);
if (group === 'node' && command === 'stop') {
  try {
    setPriority(Math.max(getPriority(), 10));
  } catch {
    // not permitted here: stop at normal priority
  }
}

const { main } = await import('../dist/cli/main.js');
main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`swarm: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
