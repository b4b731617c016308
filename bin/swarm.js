#!/usr/bin/env node
// The `swarm` command runs the compiled CLI so start-up does not pay for a TypeScript loader.
import { createRequire } from 'node:module';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath, URL } from 'node:url';
import { commandWords } from '../dist/cli/argv.js';

const [group, command] = commandWords(process.argv);

// `swarm node stop` runs beside the node it stops, whose leadership hand-over is latency-critical:
// on a small device the CLI's own start-up would otherwise take the CPU from it, so yield it first.
if (group === 'node' && command === 'stop') {
  try {
    setPriority(Math.max(getPriority(), 10));
  } catch {
    // not permitted here: stop at normal priority
  }
}

// Agents script `kv get` and `node status`, and `node stop` runs beside the node it stops: their
// plain forms have a fast path that loads node built-ins only (dist/cli/fast.js); a service
// manager's `node start --foreground` runs the node from the config validated at its last start.
// null: the full program must run.
// The fast path is one bundled file when the build made it (scripts/bundle-cli-fast.mjs): the module
// loader's per-file work for a dozen modules is several ms of a command held to 1.6x `node -e 0`.
// In a source tree a bundle older than any file it was built from (a `tsc` without the bundle step,
// or a `tsc --watch` that re-emitted one dependency) is stale: the modules then. Its build listed
// those files (fast.bundle.inputs.json; a dozen stats, well under a millisecond); no list: stale.
// CommonJS, required: built-ins imported as ES modules load more (that script).
async function loadFast() {
  const require = createRequire(import.meta.url);
  const { existsSync, readFileSync, statSync } = require('node:fs');
  const bundle = new URL('../dist/cli/fast.bundle.cjs', import.meta.url);
  let fresh = false;
  try {
    const b = statSync(bundle).mtimeMs;
    // An installed package (no src/ beside dist/) dates its files in unpacking order: always its bundle.
    fresh = !existsSync(new URL('../src', import.meta.url));
    if (!fresh) {
      const inputs = JSON.parse(
        readFileSync(new URL('../dist/cli/fast.bundle.inputs.json', import.meta.url), 'utf8'),
      );
      fresh = inputs.length > 0 && inputs.every((p) => statSync(new URL(p, bundle)).mtimeMs <= b);
    }
  } catch {
    // no bundle, no list, or an input gone: stale
  }
  return fresh
    ? require(fileURLToPath(bundle))
    : import(new URL('../dist/cli/fast.js', import.meta.url).href);
}

let code = null;
const fast =
  (group === 'kv' && command === 'get') ||
  (group === 'node' && command === 'status') ||
  (group === 'node' && command === 'stop') ||
  (group === 'node' && command === 'start' && process.argv.includes('--foreground'));
if (fast) {
  try {
    const { fastMain } = await loadFast();
    code = await fastMain(process.argv, process.env);
  } catch {
    code = null; // a surprise on the fast path: the full program decides
  }
}

if (code !== null) {
  process.exitCode = code;
} else {
  const { main } = await import('../dist/cli/main.js');
  main(process.argv).then(
    (c) => {
      process.exitCode = c;
    },
    (err) => {
      process.stderr.write(`swarm: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
