export {
  RaftDriver,
  SNAPSHOT_ROWS_PER_TURN,
  type DriverHooks,
  type RaftDriverOptions,
} from './raft-driver.js';
export type { DriverClock, DriverStorage, DriverTransport, SendOutcome } from './interfaces.js';
export { walStorage } from './file-storage.js';
export { nodeClock } from './node-clock.js';
export { memoryStorage } from './memory-storage.js';
