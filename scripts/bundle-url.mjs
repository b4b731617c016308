/**
 * What the two bundle scripts (bundle-daemon.mjs, bundle-cli-fast.mjs) share: each module's
 * `import.meta.url` as the URL its compiled file has in dist/, so paths built from it (package.json,
 * web/dashboard/, the config modules' build stamp) are what they were unbundled. The URL is made
 * relative to `__bundle_url`, the bundle's own file URL, which BUNDLE_URL_BANNER sets first thing.
 */
import { readFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';

/** Strict mode as the ES modules had it (esbuild's own "use strict" would come after the banner). */
export const BUNDLE_URL_BANNER =
  '"use strict";const __bundle_url=require("node:url").pathToFileURL(__filename).href;';

/**
 * The esbuild options both bundles share: one CommonJS file for Node 20 (the banner needs `require`
 * and `__filename`), built in memory with its metafile, paths relative to the repository (`root`)
 * wherever the build is run from. Each script adds its entry, plugins and packaging rules.
 */
export function bundleOptions(root, outFile) {
  return {
    absWorkingDir: root,
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    legalComments: 'none',
    metafile: true,
    write: false,
    logLevel: 'warning',
    banner: { js: BUNDLE_URL_BANNER },
  };
}

/** The esbuild plugin rewriting `import.meta.url` in dist/'s files for a bundle written to `outFile`. */
export function importMetaUrl(outFile) {
  return {
    name: 'import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\/dist\/.*\.js$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return { contents: text, loader: 'js' };
        const rel = relative(dirname(outFile), args.path).split('\\').join('/');
        const url = `new URL(${JSON.stringify(rel.startsWith('.') ? rel : `./${rel}`)}, __bundle_url).href`;
        return { contents: text.replaceAll('import.meta.url', url), loader: 'js' };
      });
    },
  };
}
