/**
 * `GET /metrics` in Prometheus text format: the merge of the registries the
 * components contribute (Raft now; gossip and energy can add theirs to the
 * list in the composition root). Read-only, so no token is needed.
 */
import type { Hono } from 'hono';
import { Registry } from 'prom-client';
import type { ApiRoutes } from '../app.js';

export function metricsRoutes(registries: readonly Registry[]): ApiRoutes {
  return (app: Hono) => {
    app.get('/metrics', async (c) => {
      const merged = Registry.merge([...registries]);
      const text = await merged.metrics();
      return c.text(text, 200, { 'content-type': merged.contentType });
    });
  };
}
