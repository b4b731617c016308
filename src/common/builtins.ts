/**
 * Node built-ins an idle node does not need, loaded on first use instead of
 * at start-up. Each built-in a process loads maps its code and compiled
 * source from the node binary and adds objects to the heap for the process's
 * life (node:crypto about 0.8 MB, node:zlib, node:perf_hooks and node:v8
 * about 0.2 MB each: docs/operations.md, "Memory"), so the daemon takes
 * them only when a swarm key, a large checksum, a task or busy compilers ask
 * for them. `test/node/idle-builtins.test.ts` keeps an idle daemon free of them.
 *
 * `createRequire` is synchronous, so a call site stays synchronous. The
 * daemon bundle (scripts/bundle-daemon.mjs, CommonJS) replaces node:module
 * with its own `require`: node:module itself would load the ES module loader.
 */
import { createRequire } from 'node:module';

const requireBuiltin = createRequire(import.meta.url);

/** A getter of built-in `id` (e.g. 'node:crypto') that loads it on its first call. */
export function lazyBuiltin<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= requireBuiltin(id) as T);
}
