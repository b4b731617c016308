/**
 * What a supervisor does when a task's process ends: restart it after an
 * exponential back-off, or record it as exited or failed. Pure.
 */
import type { TaskSpec } from './spec.js';

export type ExitDecision =
  | { readonly action: 'restart'; readonly delayMs: number }
  | { readonly action: 'exited' }
  | { readonly action: 'failed'; readonly message: string };

/** Back-off before restart number `restarts + 1`: backoff_ms doubled per restart, capped. */
export function backoffDelay(
  spec: Pick<TaskSpec, 'backoff_ms' | 'backoff_max_ms'>,
  restarts: number,
): number {
  return Math.min(spec.backoff_max_ms, spec.backoff_ms * 2 ** Math.min(restarts, 30));
}

export function afterExit(
  spec: Pick<TaskSpec, 'restart' | 'max_restarts' | 'backoff_ms' | 'backoff_max_ms'>,
  exit: { readonly code: number | null; readonly signal: string | null },
  restarts: number,
): ExitDecision {
  const success = exit.code === 0;
  if (spec.restart === 'never' || (spec.restart === 'on-failure' && success)) return { action: 'exited' };
  if (restarts >= spec.max_restarts)
    return {
      action: 'failed',
      message: `${exit.code === null ? `killed by ${exit.signal ?? 'a signal'}` : `exit ${exit.code}`} after ${restarts} restart${restarts === 1 ? '' : 's'} (max_restarts ${spec.max_restarts})`,
    };
  return { action: 'restart', delayMs: backoffDelay(spec, restarts) };
}
