/**
 * Wire shapes of the REST API, as zod schemas. The client validates responses
 * with them, so a version mismatch shows up as one clear error instead of
 * undefined fields. The server checks request bodies with body-checks.ts (same
 * messages, no zod) and imports this module for its types only.
 */
import { z } from 'zod';

export const addressesSchema = z.object({
  gossip: z.string().nullable(),
  api: z.string().nullable(),
  raft: z.string().nullable(),
});

export const statusSchema = z.object({
  id: z.string(),
  name: z.string(),
  device_class: z.string(),
  role: z.string(),
  term: z.number(),
  leader: z.string().nullable(),
  // Defaults: a CLI must still read the status of a node from before these fields.
  commit_index: z.number().default(0),
  applied_index: z.number().default(0),
  voters: z.array(z.string()).default([]),
  learners: z.array(z.string()).default([]),
  cluster: z.string().nullable().default(null),
  waiting: z.string().nullable().default(null),
  merge: z
    .object({
      from: z.string(),
      to: z.string(),
      state: z.enum(['exporting', 'rejoining', 'reproposing', 'done', 'failed']),
      exported: z.number(),
      put: z.number(),
      conflictCount: z.number(),
      conflicts: z.array(z.object({ key: z.string(), yielded: z.unknown(), kept: z.unknown() })),
      backup: z.string().nullable(),
      error: z.string().nullable(),
    })
    .nullable()
    .default(null),
  addresses: addressesSchema,
  uptime_s: z.number(),
  version: z.string(),
  pid: z.number(),
  data_dir: z.string(),
  security: z.object({
    gossip_encrypted: z.boolean(),
    note: z.string().optional(),
    // Default: nodes from before refusal tracking do not report it.
    refused_peers: z
      .array(
        z.object({
          address: z.string(),
          channel: z.enum(['gossip', 'raft']),
          cause: z.enum(['different_key', 'peer_has_no_key', 'peer_has_key']),
          hint: z.string(),
          count: z.number(),
          last_seen: z.string(),
        }),
      )
      .default([]),
  }),
});
export type StatusResponse = z.infer<typeof statusSchema>;

export const healthSchema = z.object({
  status: z.literal('ok'),
  id: z.string(),
  state: z.string(),
});
export type HealthResponse = z.infer<typeof healthSchema>;

export const shutdownRequestSchema = z.strictObject({
  reason: z.string().max(200).optional(),
});
export type ShutdownRequest = z.infer<typeof shutdownRequestSchema>;

export const shutdownResponseSchema = z.object({ status: z.literal('stopping'), id: z.string() });
export type ShutdownResponse = z.infer<typeof shutdownResponseSchema>;

export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorResponse = z.infer<typeof errorSchema>;
