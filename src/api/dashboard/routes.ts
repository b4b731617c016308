/**
 * The web dashboard as one route group: the static page at `GET /` and its
 * live stream at `GET /v1/dashboard/stream` (docs/api.md, "Web dashboard").
 */
import type { ApiRoutes } from '../app.js';
import { DashboardAssets, mountDashboardAssets } from './assets.js';
import { mountDashboardStream, type DashboardStreamOptions } from './stream.js';

export function dashboardRoutes(opts: DashboardStreamOptions & { assets?: DashboardAssets } = {}): ApiRoutes {
  const assets = opts.assets ?? new DashboardAssets();
  return (app) => {
    mountDashboardAssets(app, assets);
    mountDashboardStream(app, opts);
  };
}
