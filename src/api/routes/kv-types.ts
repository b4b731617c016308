/** Response shapes of the KV and leader routes, shared by the API and the typed client. */
import { z } from 'zod';

export const kvItemSchema = z.object({
  key: z.string(),
  value: z.json(),
  /** The store revision of the key's last modification (use as prev_revision for CAS). */
  revision: z.number(),
});
export type KvItemResponse = z.output<typeof kvItemSchema>;

export const kvDeleteSchema = z.object({ key: z.string(), deleted: z.boolean(), revision: z.number() });
export type KvDeleteResponseBody = z.output<typeof kvDeleteSchema>;

export const kvListSchema = z.object({ items: z.array(kvItemSchema), revision: z.number() });
export type KvListResponseBody = z.output<typeof kvListSchema>;

export const leaderSchema = z.object({
  self: z.string(),
  leader: z.string().nullable(),
  leader_api: z.string().nullable(),
  role: z.string(),
  term: z.number(),
  commit: z.number(),
  applied: z.number(),
  voters: z.array(z.string()),
  learners: z.array(z.string()),
});
export type LeaderResponseBody = z.output<typeof leaderSchema>;
