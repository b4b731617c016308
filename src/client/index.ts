/** Public surface of the REST client. */
export { SwarmClient, type SwarmClientOptions } from './client.js';
export { NodeUnreachableError, ApiRequestError, UnauthorizedError, BadResponseError } from './errors.js';
export type { StatusResponse, HealthResponse, ShutdownResponse, ErrorResponse } from '../api/types.js';
