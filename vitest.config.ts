import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Real-process tests start daemons; a generous ceiling only keeps a hung test from blocking CI.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most of the suite's time is real daemons waiting on timers and sockets, not CPU: four files at
    // once on a 2-core machine finish sooner without starving each other (tests use generous
    // timeouts against hangs, never tight timing asserts).
    maxWorkers: 4,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
