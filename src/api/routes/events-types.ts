/** Response shapes of the swarm event routes, shared by the API and the typed client. */
import { z } from 'zod';

/** One event as a node delivered it (SSE `data:`, and items of /v1/events/recent). */
export const eventJsonSchema = z.object({
  /** This node's position of the delivery (`<boot>-<index>`): the SSE id, and `since` to resume after it. */
  cursor: z.string(),
  /** `<origin>:<seq>`, the same at every node. */
  id: z.string(),
  origin: z.string(),
  origin_name: z.string().nullable(),
  seq: z.number(),
  name: z.string(),
  /** The payload as UTF-8 text (invalid sequences replaced; then payload_base64 holds the bytes). */
  payload: z.string(),
  payload_base64: z.string().optional(),
  received_at: z.string(),
});
export type EventJson = z.output<typeof eventJsonSchema>;

export const eventSendResponseSchema = z.object({
  id: z.string(),
  origin: z.string(),
  seq: z.number(),
  name: z.string(),
  bytes: z.number(),
});
export type EventSendResponse = z.output<typeof eventSendResponseSchema>;

export const eventsRecentResponseSchema = z.object({
  events: z.array(eventJsonSchema),
  /** Deliveries after `since` the node's ring no longer holds. */
  missed: z.number(),
  /** The newest delivery's cursor: pass as `since` to get only what follows. */
  cursor: z.string(),
});
export type EventsRecentResponse = z.output<typeof eventsRecentResponseSchema>;
