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
