/**
 * Wire shape of `GET /v1/members`: the gossip view of the swarm as one node
 * sees it. Shared by the route (which builds it) and the client (which
 * validates it), like `types.ts` for the core routes.
 */
import { z } from 'zod';

export const MEMBER_STATUSES = ['alive', 'suspect', 'dead', 'left'] as const;

export const memberEnergySchema = z.object({
  power_w: z.number().nullable(),
  battery_percent: z.number().nullable(),
  power_state: z.string().nullable(),
  rating: z.string().nullable(),
});
export type MemberEnergy = z.infer<typeof memberEnergySchema>;

export const memberSchema = z.object({
  id: z.string(),
  name: z.string(),
  addresses: z.object({
    gossip: z.string(),
    api: z.string().nullable(),
    raft: z.string().nullable(),
  }),
  device_class: z.string(),
  /** Built-in (class=, arch=, power=) then configured `[node] labels`; [] from nodes before tasks. */
  labels: z.array(z.string()).default([]),
  status: z.enum(MEMBER_STATUSES),
  incarnation: z.number(),
  raft_role: z.string().nullable(),
  /** Null when the member advertises no energy figures. */
  energy: memberEnergySchema.nullable(),
  /** ISO time at which this node last saw the member's record change. */
  last_change: z.string(),
  self: z.boolean(),
});
export type MemberView = z.infer<typeof memberSchema>;

export const adaptiveViewSchema = z.object({
  enabled: z.boolean(),
  mode: z.string(),
  interval_ms: z.number(),
  fanout: z.number(),
  reason: z.string(),
  /** The cause holding the mode now and its condition (absent from nodes before 0.3.x). */
  cause: z.string().optional(),
  why: z.string().optional(),
  changed_at: z.string().nullable(),
});
export type AdaptiveView = z.infer<typeof adaptiveViewSchema>;

export const gossipCountersSchema = z.object({
  packets_in: z.number(),
  packets_out: z.number(),
  bytes_in: z.number(),
  bytes_out: z.number(),
  dropped_malformed: z.number(),
  dropped_unauthenticated: z.number(),
  dropped_oversize: z.number(),
  send_errors: z.number(),
  /** Timer wake-ups of the gossip runtime since start (each costs energy on a battery device). */
  wakeups: z.number(),
  probe_loss: z.number(),
  rtt_ms: z.number().nullable(),
  suspicions_raised: z.number(),
  refutations: z.number(),
});
export type GossipCounters = z.infer<typeof gossipCountersSchema>;

export const membersResponseSchema = z.object({
  self: z.string(),
  /** Id of the member advertising Raft role "leader", null when none does. */
  leader: z.string().nullable(),
  encrypted: z.boolean(),
  multicast: z.boolean(),
  adaptive: adaptiveViewSchema,
  counters: gossipCountersSchema,
  members: z.array(memberSchema),
});
export type MembersResponse = z.infer<typeof membersResponseSchema>;
