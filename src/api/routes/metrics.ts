/**
 * `GET /metrics` in Prometheus text format: the merge of the registries the
 * components contribute (Raft, gossip, energy, listed in the composition
 * root). They are lazy (node/lazy-metrics.ts): the first scrape loads
 * prom-client. Read-only, so no token is needed.
 */
import type { Hono } from 'hono';
import { mergeRegistries, type LazyRegistry } from '../../node/lazy-metrics.js';
import type { ApiRoutes } from '../app.js';

export function metricsRoutes(registries: readonly LazyRegistry[]): ApiRoutes {
  return (app: Hono) => {
    app.get('/metrics', async (c) => {
      const { text, contentType } = await mergeRegistries(registries);
      return c.text(text, 200, { 'content-type': contentType });
    });
  };
}
