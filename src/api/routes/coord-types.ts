/** Response shapes of the coordination routes (watch, leases, locks, elections), for the typed client. */
import { z } from 'zod';

export const watchEventSchema = z.object({
  type: z.enum(['put', 'delete']),
  key: z.string(),
  value: z.json(),
  revision: z.number(),
  create_revision: z.number(),
  lease: z.number(),
});
export type WatchEvent = z.output<typeof watchEventSchema>;

export const watchPollSchema = z.object({
  events: z.array(watchEventSchema),
  /** The node's applied revision when it answered. */
  revision: z.number(),
  /** Where the next poll starts (from_revision): past every revision this one scanned. */
  next_revision: z.number(),
});
export type WatchPollResponse = z.output<typeof watchPollSchema>;

export const leaseSchema = z.object({ id: z.number(), ttl_s: z.number() });
export type LeaseResponse = z.output<typeof leaseSchema>;
export const leaseInfoSchema = leaseSchema.extend({ keys: z.array(z.string()) });
export type LeaseInfoResponse = z.output<typeof leaseInfoSchema>;
export const leaseRevokeSchema = z.object({ id: z.number(), revoked: z.boolean(), deleted: z.number() });
export type LeaseRevokeResponse = z.output<typeof leaseRevokeSchema>;

export const holderSchema = z.object({
  key: z.string(),
  value: z.json(),
  lease: z.number(),
  revision: z.number(),
});
export type HolderBody = z.output<typeof holderSchema>;

export const lockSchema = z.object({
  name: z.string(),
  owner: z.json(),
  lease: z.number(),
  key: z.string(),
  /** The create revision of the holder's key: the fencing token. */
  revision: z.number(),
});
export type LockResponse = z.output<typeof lockSchema>;
export const lockStateSchema = z.object({
  name: z.string(),
  holder: holderSchema.nullable(),
  waiting: z.number(),
  revision: z.number(),
});
export type LockStateResponse = z.output<typeof lockStateSchema>;
export const unlockSchema = z.object({ name: z.string(), released: z.boolean(), revision: z.number() });
export type UnlockResponse = z.output<typeof unlockSchema>;

export const electionSchema = z.object({
  name: z.string(),
  leader: holderSchema.nullable(),
  revision: z.number().optional(),
});
export type ElectionResponse = z.output<typeof electionSchema>;
export const resignSchema = z.object({ name: z.string(), resigned: z.boolean(), revision: z.number() });
export type ResignResponse = z.output<typeof resignSchema>;
