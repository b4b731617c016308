/**
 * A light `performance` global for node processes: `performance.now()` from
 * the process's monotonic uptime clock. Node's own global is node:perf_hooks,
 * loaded on first touch (about 0.2 MB of RSS: src/common/builtins.ts), while a
 * node only ever reads the clock. Every other member (marks, measures, event
 * loop utilization...) loads node:perf_hooks and answers from it, so nothing
 * is missing, it is only loaded when asked for.
 *
 * Same clock as Node's: monotonic milliseconds since the process started
 * (Node's origin is about 1 ms earlier; a node reads only this one, so its
 * timestamps stay comparable with each other). Installed by runNodeProcess
 * before the node's components exist (src/cli/node-runtime.ts).
 */
import type * as NodePerfHooks from 'node:perf_hooks';
import { lazyBuiltin } from './builtins.js';

const perfHooks = lazyBuiltin<typeof NodePerfHooks>('node:perf_hooks');

/** Members of Node's Performance other than now() and timeOrigin, answered by the real one. */
const DELEGATED = [
  'mark',
  'measure',
  'clearMarks',
  'clearMeasures',
  'clearResourceTimings',
  'getEntries',
  'getEntriesByName',
  'getEntriesByType',
  'eventLoopUtilization',
  'timerify',
  'markResourceTiming',
  'setResourceTimingBufferSize',
  'nodeTiming',
  'toJSON',
  'addEventListener',
  'removeEventListener',
  'dispatchEvent',
  'onresourcetimingbufferfull',
] as const;

export function createLightPerformance(): typeof NodePerfHooks.performance {
  const light = {
    now: (): number => process.uptime() * 1000,
    timeOrigin: Date.now() - process.uptime() * 1000,
  };
  for (const name of DELEGATED) {
    Object.defineProperty(light, name, {
      enumerable: true,
      configurable: true,
      get() {
        const real = perfHooks().performance as unknown as Record<string, unknown>;
        const v = real[name];
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(real) : v;
      },
    });
  }
  return light as unknown as typeof NodePerfHooks.performance;
}

/** Replace the `performance` global of this process by the light one (writable, as Node's is). */
export function installLightPerformance(): void {
  Object.defineProperty(globalThis, 'performance', {
    value: createLightPerformance(),
    writable: true,
    configurable: true,
    enumerable: true,
  });
}
