/**
 * `swarm lock NAME -- CMD...`, `swarm elect NAME VALUE`, `swarm lease
 * grant|keepalive|revoke`: coordination through the local node's API (any
 * node serves it). A lock or a candidacy lives as long as the lease this
 * command keeps alive in the background; it is released on exit.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { UsageError } from '../../common/errors.js';
import { ApiRequestError } from '../../client/errors.js';
import { keepLeaseAlive } from '../../client/keepalive.js';
import type { CliContext, Registrar } from '../context.js';
import { clientFor, parseValue } from './kv.js';

interface CommonOptions {
  dataDir?: string;
  api?: string;
  json?: boolean;
  ttl?: string;
}

/** Exit code of `swarm lock` when the lock was lost while CMD ran (its lease ended). */
export const LOCK_LOST_EXIT = 3;

function common(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data dir of the local node (default: node.data_dir)')
    .option('--api <url>', 'API URL of any node instead of the local one, e.g. http://127.0.0.1:5557')
    .option('--ttl <s>', 'lease time-to-live in seconds (kept alive while this runs)', '10');
}

function seconds(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`${what} must be a number of seconds between ${min} and ${max}, got ${text}`);
  return n;
}

async function releaseAll(steps: (() => Promise<unknown>)[]): Promise<void> {
  for (const s of steps) await s().catch(() => undefined);
}

const printers = (ctx: CliContext): { err: (s: string) => void; out: (s: string) => void } => ({
  err: (s) => void ctx.stderr.write(`${s}\n`),
  out: (s) => void ctx.stdout.write(`${s}\n`),
});

export const registerLock: Registrar = (program, ctx) => {
  const { err } = printers(ctx);

  common(
    program
      .command('lock <name> [cmd...]')
      .description(
        'run CMD while holding the lock NAME (FIFO; released on exit; exit 3 if the lock is lost)',
      ),
  )
    .option('--wait <s>', 'how long to wait for the lock', '30')
    .option('--owner <text>', 'owner shown to others (default: host and pid)')
    .action(async (name: string, cmd: string[], o: CommonOptions & { wait: string; owner?: string }) => {
      if (cmd.length === 0)
        throw new UsageError('give the command to run after --, e.g. swarm lock job -- ./run.sh');
      const ttl = seconds(o.ttl ?? '10', '--ttl', 1, 86_400);
      const wait = seconds(o.wait, '--wait', 0, 3600);
      const client = await clientFor(ctx, o, (wait + 10) * 1000);
      const lease = await client.leaseGrant(ttl);
      const kept = keepLeaseAlive(client, lease.id, ttl);
      const release = (): Promise<void> =>
        releaseAll([() => client.unlock(name, lease.id), () => client.leaseRevoke(lease.id)]);
      let held;
      try {
        held = await client.lock(name, {
          lease: lease.id,
          waitS: wait,
          owner: o.owner ?? `${process.env.HOSTNAME ?? 'host'}:${process.pid}`,
        });
      } catch (e) {
        kept.stop();
        await release();
        throw e;
      }
      err(`swarm: holding lock ${name} (fencing revision ${held.revision}, lease ${lease.id})`);
      const child = spawn(cmd[0]!, cmd.slice(1), {
        stdio: 'inherit',
        env: {
          ...process.env,
          SWARM_LOCK_NAME: name,
          SWARM_LOCK_KEY: held.key,
          SWARM_LOCK_REVISION: String(held.revision),
          SWARM_LOCK_LEASE: String(lease.id),
        },
      });
      const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      let lostReason: string | null = null;
      void kept.lost.then((why) => {
        lostReason = why;
        err(`swarm: lock ${name} lost: ${why}; stopping the command`);
        child.kill('SIGTERM');
      });
      const code = await new Promise<number>((resolve) => {
        child.on('error', (e) => {
          err(`swarm: cannot run ${cmd[0]}: ${e.message}`);
          resolve(127);
        });
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 + 15 : 1)));
      });
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      kept.stop();
      await release();
      process.exitCode = lostReason !== null ? LOCK_LOST_EXIT : code;
    });
};

export const registerElect: Registrar = (program, ctx) => {
  const { err, out } = printers(ctx);
  common(
    program
      .command('elect <name> <value>')
      .description('campaign in election NAME; print when leading; resign on Ctrl+C'),
  )
    .option('--json', 'one JSON line per change')
    .action(async (name: string, valueText: string, o: CommonOptions) => {
      const ttl = seconds(o.ttl ?? '10', '--ttl', 1, 86_400);
      const client = await clientFor(ctx, o, 310_000);
      const value = parseValue(valueText);
      const lease = await client.leaseGrant(ttl);
      const kept = keepLeaseAlive(client, lease.id, ttl);
      const stop = new AbortController();
      const onSig = (): void => stop.abort();
      process.once('SIGINT', onSig);
      process.once('SIGTERM', onSig);
      const lost = kept.lost.then((why) => {
        stop.abort();
        return why;
      });
      let lostWhy: string | null = null;
      void lost.then((w) => (lostWhy = w));
      try {
        if (!o.json) err(`swarm: campaigning in ${name} with lease ${lease.id}`);
        for (;;) {
          try {
            const r = await Promise.race([
              client.campaign(name, { lease: lease.id, value, waitS: 300 }),
              new Promise<null>((res) =>
                stop.signal.addEventListener('abort', () => res(null), { once: true }),
              ),
            ]);
            if (r === null) break;
            out(
              o.json
                ? JSON.stringify({
                    event: 'leading',
                    name,
                    lease: lease.id,
                    revision: r.leader?.revision,
                    value,
                  })
                : `leading ${name} as ${valueText} (revision ${r.leader?.revision ?? '?'})`,
            );
            await new Promise<void>((res) =>
              stop.signal.addEventListener('abort', () => res(), { once: true }),
            );
            break;
          } catch (e) {
            if (e instanceof ApiRequestError && e.status === 408) continue;
            throw e;
          }
        }
      } finally {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
        kept.stop();
        await releaseAll([() => client.resign(name, lease.id), () => client.leaseRevoke(lease.id)]);
      }
      if (lostWhy !== null) {
        err(`swarm: candidacy in ${name} lost: ${String(lostWhy)}`);
        process.exitCode = 1;
      } else if (o.json) out(JSON.stringify({ event: 'resigned', name, lease: lease.id }));
      else err(`swarm: resigned from ${name}`);
    });
};

export const registerLease: Registrar = (program, ctx) => {
  const { out } = printers(ctx);
  const lease = program.command('lease').description('grant, keep alive and revoke leases');
  const leaseCmd = (c: Command): Command =>
    c
      .option('--data-dir <dir>', 'data dir of the local node (default: node.data_dir)')
      .option('--api <url>', 'API URL of any node instead of the local one')
      .option('--json', 'machine-readable output');
  const show = (o: { json?: boolean }, v: object, text: string): void =>
    out(o.json ? JSON.stringify(v) : text);
  leaseCmd(lease.command('grant <ttl_s>').description('grant a lease; prints its id')).action(
    async (ttl: string, o: CommonOptions) => {
      const r = await (await clientFor(ctx, o)).leaseGrant(seconds(ttl, 'ttl', 1, 86_400));
      show(o, r, String(r.id));
    },
  );
  leaseCmd(lease.command('keepalive <id>').description('refresh a lease once')).action(
    async (id: string, o: CommonOptions) => {
      const r = await (await clientFor(ctx, o)).leaseKeepAlive(leaseIdArg(id));
      show(o, r, `lease ${r.id} refreshed (ttl ${r.ttl_s} s)`);
    },
  );
  leaseCmd(lease.command('revoke <id>').description('revoke a lease, deleting its keys')).action(
    async (id: string, o: CommonOptions) => {
      const r = await (await clientFor(ctx, o)).leaseRevoke(leaseIdArg(id));
      show(o, r, `lease ${r.id} revoked (${r.deleted} keys deleted)`);
    },
  );
};

function leaseIdArg(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(`lease id must be a positive integer, got ${text}`);
  return n;
}
