/**
 * The web dashboard's static files (`web/dashboard/` in the package, plain
 * HTML, JS and CSS: nothing is built at run time and nothing is fetched from
 * a CDN). Read and gzipped on the first request, then served from memory, so
 * a node nobody browses never reads them (nor loads zlib).
 */
import { readFileSync } from 'node:fs';
import type { Context, Hono } from 'hono';
import { ApiError } from '../app.js';

/** The package's web/dashboard directory: three levels up from src/api/dashboard and dist/api/dashboard. */
export const WEB_DIR = new URL('../../../web/dashboard/', import.meta.url);

/** URL path -> file and content type. Only these are served: no path from the request reaches the disk. */
export const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** Everything the page loads comes from this node; scripts only from files (no inline code). */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

interface Loaded {
  raw: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer>;
  type: string;
}

export class DashboardAssets {
  private readonly cache = new Map<string, Loaded>();

  constructor(private readonly dir: URL = WEB_DIR) {}

  /** The file for a path, read and compressed once; null for a path that is not an asset. */
  async get(path: string): Promise<Loaded | null> {
    const asset = ASSETS[path];
    if (asset === undefined) return null;
    let hit = this.cache.get(path);
    if (hit === undefined) {
      let raw: Buffer;
      try {
        raw = readFileSync(new URL(asset.file, this.dir));
      } catch (err) {
        throw new ApiError(
          500,
          'dashboard_missing',
          `the dashboard file ${asset.file} is missing from the package (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
        );
      }
      const { gzipSync } = await import('node:zlib');
      hit = { raw: new Uint8Array(raw), gzip: new Uint8Array(gzipSync(raw, { level: 9 })), type: asset.type };
      this.cache.set(path, hit);
    }
    return hit;
  }
}

function serve(c: Context, a: Loaded): Response {
  const gz = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    'content-type': a.type,
    'cache-control': 'no-cache',
    vary: 'accept-encoding',
  };
  if (gz) headers['content-encoding'] = 'gzip';
  return c.body(gz ? a.gzip : a.raw, 200, headers);
}

export function mountDashboardAssets(app: Hono, assets: DashboardAssets): void {
  for (const path of Object.keys(ASSETS)) {
    app.get(path, async (c) => {
      const a = await assets.get(path);
      if (a === null) throw new ApiError(404, 'not_found', `no route GET ${path}`);
      return serve(c, a);
    });
  }
}
