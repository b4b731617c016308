#!/usr/bin/env node
/**
 * Build step after tsc (`npm run build`): the detached node daemon's entry
 * (dist/cli/daemon-main.js) and everything it imports statically, ours and
 * hono's and msgpack's, bundled into one CommonJS file, dist/daemon.cjs, which
 * `swarm node start` spawns when it is there and not older than the tsc
 * output (src/cli/daemon.ts). One file instead of about 190: Node's module
 * loader resolves, reads and links one module instead of walking the tree,
 * which is 5-6 MB less resident memory in every idle daemon (docs/operations.md,
 * "Memory"), most of it node binary pages the loader's own code touches.
 * CommonJS rather than an ES module: a process whose main module is CommonJS
 * never loads Node's ES module loader at all (0.6 MB less in an idle daemon).
 *
 * What stays outside: prom-client (imported on the first /metrics scrape
 * only, so an idle node never loads it; resolved from the package's
 * node_modules as before) and Node's built-ins. Each module's
 * `import.meta.url` is rewritten to the URL its compiled file had, relative
 * to the bundle, so paths built from it (package.json, web/dashboard/) are
 * what they were (`__bundle_url`, the bundle's own file URL, set in the
 * first line). node:module, which src/common/builtins.ts imports for
 * `createRequire`, becomes a shim returning the bundle's own `require`: the
 * real node:module loads the ES module loader.
 *
 * Minified, since the source text stays in the heap for the process's life
 * (537 -> 459 KB): whitespace and syntax, and the names of local variables,
 * parameters and nested functions, in a second pass over the bundled file as
 * a script, which keeps its top-level names: the class declarations' and
 * functions' of every module (our error names, `new.target.name`) and the
 * methods' (property names are never renamed), so a stack trace still names
 * them; frames of nested functions show one or two letters. A class
 * expression bound to a top-level name (how esbuild bundles some
 * dependencies' classes: msgpack's `DecodeError`, `Hono`) gets a short
 * name of its own; nothing here reads those names, only a log would show it. Idle 3-node swarms side by side:
 * 45.6 -> 45.0 and 45.3 -> 45.1 MB (docs/operations.md, "Memory"). Renaming
 * the top-level names too would save 16 KB more, and rename error classes.
 *
 * esbuild comes with tsx (a devDependency); the packed tarball carries the
 * built bundle, so installing the package needs neither.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, transform } from 'esbuild';
import { bundleOptions, importMetaUrl } from './bundle-url.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = resolve(ROOT, 'dist');
/** `node scripts/bundle-daemon.mjs [outfile]`: dist/daemon.cjs unless told (the test bundles elsewhere). */
const OUT = resolve(process.argv[2] ?? resolve(DIST, 'daemon.cjs'));
/** Loaded lazily by the daemon, never at idle: left to Node's resolver. */
const EXTERNAL = ['prom-client'];

/** node:module's createRequire as the bundle's own `require` (see above). */
const moduleShim = {
  name: 'module-shim',
  setup(b) {
    b.onResolve({ filter: /^(node:)?module$/ }, () => ({ path: 'module', namespace: 'module-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'module-shim' }, () => ({
      contents: 'export const createRequire = () => require;',
      loader: 'js',
    }));
  },
};

const result = await build({
  ...bundleOptions(ROOT, OUT),
  entryPoints: [resolve(DIST, 'cli/daemon-main.js')],
  external: EXTERNAL,
  // @msgpack/msgpack has no `exports`: its ES build (`module`) rather than the CommonJS one (`main`).
  mainFields: ['module', 'main'],
  minifyWhitespace: true,
  keepNames: false,
  plugins: [importMetaUrl(OUT), moduleShim],
  define: { 'import.meta.url': '__bundle_url' },
});
// No `format`: the file is taken as a script, whose top-level names esbuild keeps (see above).
const minified = await transform(result.outputFiles[0].text, {
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: true,
  legalComments: 'none',
  logLevel: 'warning',
});
if (!minified.code.startsWith('"use strict";'))
  throw new Error('bundle-daemon: the minified bundle lost its "use strict"');
await mkdir(dirname(OUT), { recursive: true });
await writeFile(OUT, minified.code);
// Which packages went in, for the test that keeps zod, commander and the dashboard out of the daemon.
const inputs = Object.keys(result.metafile.inputs).map((p) => p.replace(/^.*?(node_modules\/)/, '$1'));
await writeFile(OUT.replace(/\.c?js$/, '.inputs.json'), JSON.stringify(inputs.sort(), null, 1) + '\n');
