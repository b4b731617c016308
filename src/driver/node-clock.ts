/** The daemon's clock: wall time for the core, setImmediate for the next turn, setInterval for ticks. */
import type { DriverClock } from './interfaces.js';

export const nodeClock: DriverClock = {
  now: () => Date.now(),
  preciseNow: () => performance.now(),
  nextTurn: () => new Promise<void>((resolve) => setImmediate(resolve)),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
};
