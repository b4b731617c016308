/**
 * The clock and timers of a node-side component that the simulator also runs
 * (the lease keeper, the forwarder): the wall clock in the daemon, the
 * simulator's virtual one there.
 */
export interface TimerClock {
  now(): number;
  /** Run `fn` after `ms`; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export const WALL_TIMER_CLOCK: TimerClock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
