/** Public API of the iot-swarm package. */
export { VERSION } from './version.js';
export { SwarmError, ConfigError, UsageError } from './common/errors.js';
export { createRng, type Rng } from './common/rng.js';
export type * from './raft/types.js';
