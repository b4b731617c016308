/** Public surface of the REST client. */
export {
  SwarmClient,
  type SwarmClientOptions,
  type WatchTarget,
  type EventWatchItem,
  type TaskLogFollowItem,
} from './client.js';
export {
  NodeUnreachableError,
  ApiRequestError,
  UnauthorizedError,
  BadResponseError,
  CompactedRevisionError,
  StreamNotSupportedError,
} from './errors.js';
export type * from '../api/routes/coord-types.js';
export type { StatusResponse, HealthResponse, ShutdownResponse, ErrorResponse } from '../api/types.js';
export type { EventJson, EventSendResponse, EventsRecentResponse } from '../api/routes/events-types.js';
