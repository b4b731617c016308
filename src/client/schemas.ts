/**
 * The response schemas the client checks answers with. They are zod schemas,
 * and zod costs ~80 ms of CPU to import, so `client.ts` imports this module
 * only once a node has answered: a CLI call that finds no node (or that only
 * needs the error body) never loads zod.
 */
export { healthSchema, shutdownResponseSchema, statusSchema } from '../api/types.js';
export { membersResponseSchema } from '../api/members-types.js';
export { energyResponseSchema, swarmEnergyResponseSchema } from '../api/energy-types.js';
export { kvDeleteSchema, kvItemSchema, kvListSchema, leaderSchema } from '../api/routes/kv-types.js';
export {
  electionSchema,
  leaseInfoSchema,
  leaseRevokeSchema,
  leaseSchema,
  lockSchema,
  lockStateSchema,
  resignSchema,
  unlockSchema,
  watchPollSchema,
} from '../api/routes/coord-types.js';
export {
  eventJsonSchema,
  eventSendResponseSchema,
  eventsRecentResponseSchema,
} from '../api/routes/events-types.js';
export {
  taskListSchema,
  taskLogEndSchema,
  taskLogsSchema,
  taskStatusSchema,
} from '../api/routes/tasks-types.js';
