#!/usr/bin/env node
/**
 * Build step after tsc (`npm run build`): the CLI's fast path
 * (dist/cli/fast.js: `swarm kv get`, `swarm node status`, `swarm node stop`)
 * and the dozen modules of ours it imports statically, bundled into one
 * CommonJS file, dist/cli/fast.bundle.cjs, which bin/swarm.js requires when
 * it is there and, in a source tree, not older than any file listed in
 * dist/cli/fast.bundle.inputs.json (below). Node's ES module loader
 * resolves, reads, compiles and links each file of a graph separately: one
 * file instead of thirteen is several milliseconds of a command whose goal
 * is 1.6x the wall time of `node -e 0` (issue #16, bench/cli-start.bench.ts).
 * CommonJS, since a built-in imported as an ES module gets a facade that
 * reads every export, which loads the lazy ones: `node:crypto`'s webcrypto
 * (about 1.5 ms here), where `require` takes only what is used.
 *
 * Same directory as fast.js, so its dynamic imports (the foreground node's
 * ./foreground-bundle.js and ./node-runtime.js, loaded only when this
 * process becomes a node) stay external and resolve as before. Each
 * module's `import.meta.url` becomes the URL its compiled file has, so paths
 * built from it (package.json for the version, the config modules' build
 * stamp) are what they were (`__bundle_url`, the bundle's own file URL, set
 * in the first line). The dynamic imports stay `import()` in CommonJS too.
 *
 * Beside it, fast.bundle.inputs.json lists the files it was built from
 * (relative to its directory): bin/swarm.js, in a source tree, uses the
 * bundle only while none of them is newer than it. A `tsc --watch` re-emits
 * only the files that changed, often a dependency and not fast.js itself.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleOptions, importMetaUrl } from './bundle-url.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = resolve(ROOT, 'dist');
const OUT = resolve(process.argv[2] ?? resolve(DIST, 'cli/fast.bundle.cjs'));

/** What fast.js loads only when this process becomes a node: left to Node's resolver. */
const lazy = {
  name: 'lazy-external',
  setup(b) {
    b.onResolve({ filter: /^\.\/(foreground-bundle|node-runtime)\.js$/ }, (args) => ({
      path: args.path,
      external: true,
    }));
  },
};

const result = await build({
  ...bundleOptions(ROOT, OUT),
  entryPoints: [resolve(DIST, 'cli/fast.js')],
  packages: 'external',
  plugins: [lazy, importMetaUrl(OUT)],
});
const own = Object.keys(result.metafile.inputs).filter((p) => !p.includes('node_modules/'));
const pkgs = Object.keys(result.metafile.inputs).filter((p) => p.includes('node_modules/'));
if (pkgs.length > 0) throw new Error(`bundle-cli-fast: npm packages in the fast path: ${pkgs.join(', ')}`);
// The list first: the bundle's mtime, written last, is then at or past every input's.
const INPUTS = OUT.replace(/\.cjs$/, '.inputs.json');
const rel = own.map((p) => relative(dirname(OUT), resolve(ROOT, p)).split('\\').join('/'));
await writeFile(INPUTS, `${JSON.stringify(rel)}\n`);
await writeFile(OUT, result.outputFiles[0].text);
process.stdout.write(`bundle-cli-fast: ${own.length} modules -> ${relative(ROOT, OUT)}\n`);
