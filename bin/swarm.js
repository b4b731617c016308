#!/usr/bin/env node
// The `swarm` command runs the compiled CLI so start-up does not pay for a TypeScript loader.
import { getPriority, setPriority } from 'node:os';

// `swarm node stop` runs beside the node it stops, whose leadership hand-over is latency-critical:
// on a small device the CLI's own start-up would otherwise take the CPU from it, so yield it first.
const words = process.argv.slice(2).filter((a) => !a.startsWith('-'));
if (words.some((w, i) => w === 'node' && words[i + 1] === 'stop')) {
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
