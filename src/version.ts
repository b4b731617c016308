/** The package version, read once from package.json so there is one source of truth. */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  // dist/version.js and src/version.ts both sit one level below the package root.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export const VERSION: string = readVersion();
