/**
 * Wire format: zod schemas for every JSON body the agents accept (from users
 * and from peers) and the mapping of protocol messages to endpoints. Peer
 * answers are validated with the same schemas: a peer is input like any other.
 */
import { z } from 'zod';
import type { AgentMessage, MessageType } from './types.js';

const int = z.number().int();
const round = int.min(1);
export const runSchema = z.object({ n: int.min(1), by: z.string().min(1) });
const ballotSchema = z.object({ round, by: z.string().min(1) });
const decisionSchema = z.object({ value: int, round, attempts: int.min(0) });
const agentId = z.string().min(1).max(128);

export const runBody = z.object({ round: round.optional() });
export const resetBody = z.object({ run: runSchema.optional() });
export const newRoundBody = z.object({ round, run: runSchema.optional() });
export const proposalBody = z.object({ agent_id: agentId, value: int, round, run: runSchema.optional() });
/** `attempts` is part of the chosen value, so a protocol /final (with `run`) must carry it. */
export const finalBody = z
  .object({ value: int, round, attempts: int.min(0).optional(), run: runSchema.optional() })
  .refine((b) => b.run === undefined || b.attempts !== undefined, {
    message: 'attempts is required with run',
  });
export const prepareBody = z.object({ run: runSchema, from: agentId, ballot: ballotSchema });
export const acceptBody = z.object({
  run: runSchema,
  from: agentId,
  ballot: ballotSchema,
  decision: decisionSchema,
});

export const messageSchema: z.ZodType<AgentMessage> = z.discriminatedUnion('type', [
  z.object({ type: z.literal('reset'), run: runSchema }),
  z.object({ type: z.literal('new_round'), run: runSchema, round }),
  z.object({ type: z.literal('proposal'), run: runSchema, agent_id: agentId, value: int, round }),
  z.object({ type: z.literal('prepare'), run: runSchema, from: agentId, ballot: ballotSchema }),
  z.object({
    type: z.literal('promise'),
    run: runSchema,
    from: agentId,
    ballot: ballotSchema,
    ok: z.boolean(),
    promised: ballotSchema.nullable(),
    accepted: z.object({ ballot: ballotSchema, decision: decisionSchema }).nullable(),
  }),
  z.object({
    type: z.literal('accept'),
    run: runSchema,
    from: agentId,
    ballot: ballotSchema,
    decision: decisionSchema,
  }),
  z.object({
    type: z.literal('accepted'),
    run: runSchema,
    from: agentId,
    ballot: ballotSchema,
    ok: z.boolean(),
  }),
  z.object({ type: z.literal('final'), run: runSchema, decision: decisionSchema }),
]);

/** What a peer's answer may carry besides its status: messages addressed back to the sender. */
export const replyEnvelope = z.object({ replies: z.array(messageSchema).max(16).optional() });

const PATHS: Record<MessageType, string | null> = {
  reset: '/reset',
  new_round: '/new_round',
  proposal: '/proposal',
  final: '/final',
  prepare: '/paxos/prepare',
  accept: '/paxos/accept',
  // Answers travel in response bodies, never as requests.
  promise: null,
  accepted: null,
};

/** Endpoint and body for a message sent to a peer; the compatible endpoints get their familiar fields. */
export function toRequest(msg: AgentMessage): { path: string; body: Record<string, unknown> } | null {
  const path = PATHS[msg.type];
  if (path === null) return null;
  if (msg.type === 'final') {
    return {
      path,
      body: {
        value: msg.decision.value,
        round: msg.decision.round,
        attempts: msg.decision.attempts,
        run: msg.run,
      },
    };
  }
  const { type: _type, ...body } = msg;
  return { path, body };
}
