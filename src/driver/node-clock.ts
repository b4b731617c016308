/** The daemon's clock: wall time for the core, setImmediate for the next turn, setTimeout for the core's deadlines. */
import type { DriverClock } from './interfaces.js';

export const nodeClock: DriverClock = {
  now: () => Date.now(),
  preciseNow: () => performance.now(),
  nextTurn: () => new Promise<void>((resolve) => setImmediate(resolve)),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
