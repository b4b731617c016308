/**
 * Which file a node process runs: the daemon bundle or tsc's compiled entry
 * (daemonEntry). Its own module, with no imports beyond node:fs and
 * node:url, so the foreground fast path (fast.ts, foreground-bundle.ts) can
 * ask without loading the launcher (src/cli/daemon.ts, which imports the
 * client and its schemas).
 */
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Compiled daemon entry, tsc's output (also right when this module runs from src/ under tsx). */
export const COMPILED_DAEMON_ENTRY = fileURLToPath(new URL('../../dist/cli/daemon-main.js', import.meta.url));
/** The same entry bundled into one file by `npm run build` (scripts/bundle-daemon.mjs). */
export const BUNDLED_DAEMON_ENTRY = fileURLToPath(new URL('../../dist/daemon.cjs', import.meta.url));

function mtimeMs(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

/** The package's src/ directory: there in a source tree, not in an installed package. */
const SOURCE_DIR = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * What a daemon runs: the bundle when there is one, since one module instead
 * of about 190 is 5-6 MB less resident memory per idle node
 * (docs/operations.md, "Memory"); else the compiled entry. In a source tree a
 * bundle older than the compiled entry is stale (a `tsc` alone after an `npm
 * run build`) and would run yesterday's code, so it is passed over. An
 * installed package (no src/) always takes its bundle: npm sets each file's
 * time as it unpacks it, so there the order of the two times is the
 * tarball's order, not the build's.
 */
export function daemonEntry(
  compiled = COMPILED_DAEMON_ENTRY,
  bundled = BUNDLED_DAEMON_ENTRY,
  sourceTree = existsSync(SOURCE_DIR),
): string {
  const b = mtimeMs(bundled);
  if (b === null) return compiled;
  if (!sourceTree) return bundled;
  const c = mtimeMs(compiled);
  return c === null || b >= c ? bundled : compiled;
}
