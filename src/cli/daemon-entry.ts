/**
 * Which file a node process runs: the daemon bundle or tsc's compiled entry
 * (daemonEntry). Its own module, with no imports beyond node:fs and
 * node:url, so the foreground fast path (fast.ts, foreground-bundle.ts) can
 * ask without loading the launcher (src/cli/daemon.ts, which imports the
 * client and its schemas).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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
 * Whether a file of dist/ the bundle was built from is newer than the bundle (`b`): the build lists
 * them beside it (`daemon.inputs.json`, paths from the package root, dist/ above the bundle). A
 * `tsc --watch` re-emits only what changed, often not the entry. No list (an older build): false.
 */
function newerInput(bundled: string, b: number): boolean {
  let inputs: unknown;
  try {
    inputs = JSON.parse(readFileSync(bundled.replace(/\.c?js$/, '.inputs.json'), 'utf8'));
  } catch {
    return false;
  }
  if (!Array.isArray(inputs)) return false;
  const root = resolve(dirname(bundled), '..');
  for (const p of inputs) {
    if (typeof p !== 'string' || !p.startsWith('dist/')) continue;
    const m = mtimeMs(resolve(root, p));
    // Gone since the build (a module removed or renamed): the bundle is not what dist/ holds now.
    if (m === null || m > b) return true;
  }
  return false;
}

/**
 * What a daemon runs: the bundle when there is one, since one module instead
 * of about 190 is 5-6 MB less resident memory per idle node
 * (docs/operations.md, "Memory"); else the compiled entry. In a source tree a
 * bundle older than the compiled entry (a `tsc` alone after an `npm run
 * build`), or than any file of dist/ it was built from (a `tsc --watch` that
 * re-emitted a dependency), is stale and would run yesterday's code, so it is
 * passed over (about 170 stats, 1-2 ms, only in a source tree). An
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
  if (c !== null && b < c) return compiled;
  return newerInput(bundled, b) ? compiled : bundled;
}
