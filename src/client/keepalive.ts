/**
 * A lease kept alive from a client: a keep-alive every third of the ttl;
 * a failure that leaves the outcome open (no leader during an election, the
 * node briefly unreachable) is retried every 500 ms until the ttl since the
 * last success has passed. A 404 lease_not_found, or the ttl passing without
 * a success, means the lease is gone: `lost` resolves with the reason. The
 * server gives every lease one election timeout of grace after a leader
 * change, so a holder that keeps retrying survives a failover.
 */
import type { SwarmClient } from './client.js';
import { ApiRequestError } from './errors.js';

export interface KeptLease {
  readonly id: number;
  /** Resolves when the lease is known lost (never resolves while it is kept). */
  readonly lost: Promise<string>;
  /** Stop keeping it alive (does not revoke it). */
  stop(): void;
}

export function keepLeaseAlive(client: SwarmClient, id: number, ttlS: number): KeptLease {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let lastOk = Date.now();
  let resolveLost: (why: string) => void = () => undefined;
  const lost = new Promise<string>((r) => (resolveLost = r));
  const every = Math.max(200, (ttlS * 1000) / 3);
  const tick = async (): Promise<void> => {
    if (stopped) return;
    let next = every;
    try {
      await client.leaseKeepAlive(id);
      lastOk = Date.now();
    } catch (err) {
      if (err instanceof ApiRequestError && err.status === 404) {
        stopped = true;
        resolveLost(`lease ${id} expired or was revoked`);
        return;
      }
      if (Date.now() - lastOk > ttlS * 1000) {
        stopped = true;
        resolveLost(`no keep-alive of lease ${id} succeeded for ${ttlS} s: ${(err as Error).message}`);
        return;
      }
      next = 500;
    }
    if (!stopped) timer = setTimeout(() => void tick(), next);
  };
  timer = setTimeout(() => void tick(), every);
  return {
    id,
    lost,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
