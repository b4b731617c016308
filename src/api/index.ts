/** Public surface of the REST API module. */
export {
  createApi,
  readJson,
  errorBody,
  ApiError,
  type ApiNode,
  type ApiOptions,
  type ApiRoutes,
} from './app.js';
export { ApiServer, ListenError, formatHostPort } from './server.js';
export * from './types.js';
