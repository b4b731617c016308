/**
 * `swarm kv get|put|del|list`: the replicated key-value store through the
 * local node's API (any node serves it, forwarding to the leader over the
 * Raft channel). Values are JSON; a `put` value that does not parse as JSON
 * is stored as a string.
 */
import type { Command } from 'commander';
import { UsageError } from '../../common/errors.js';
import type { SwarmClient } from '../../client/client.js';
import type { CliContext, Registrar } from '../context.js';
import { formatTable } from '../output.js';
import { clientFor as nodeClientFor, withNodeOptions, type NodeOptions } from './swarm.js';

type CommonOptions = NodeOptions;

const common = (cmd: Command): Command => withNodeOptions(cmd);
const client = (ctx: CliContext, o: CommonOptions): Promise<SwarmClient> => clientFor(ctx, o);

/** The client of `--api URL`, else of the local node (`--data-dir`); the config is remembered for the fast path. */
export function clientFor(
  ctx: CliContext,
  o: { api?: string; dataDir?: string },
  timeoutMs?: number,
): Promise<SwarmClient> {
  return nodeClientFor(ctx, o, timeoutMs, true);
}

export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export const register: Registrar = (program, ctx) => {
  const kv = program.command('kv').description('read and write the replicated key-value store');
  const out = (s: string): void => void ctx.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

  common(kv.command('get <key>').description('read a key (linearizable unless --stale)'))
    .option('--stale', 'read the local node state without asking the leader')
    .action(async (key: string, o: CommonOptions & { stale?: boolean }) => {
      const r = await (await client(ctx, o)).kvGet(key, { stale: o.stale === true });
      out(o.json ? JSON.stringify(r) : show(r.value));
    });

  common(kv.command('put <key> <value>').description('write a key; the value is JSON, else a string'))
    .option('--prev-revision <n>', 'compare-and-set: write only if the key is at this revision (0 = absent)')
    .option('--lease <id>', 'bind the key to a lease (deleted when the lease ends)')
    .action(
      async (key: string, value: string, o: CommonOptions & { prevRevision?: string; lease?: string }) => {
        let lease: number | undefined;
        if (o.lease !== undefined) {
          lease = Number(o.lease);
          if (!Number.isSafeInteger(lease) || lease <= 0)
            throw new UsageError(`--lease must be a positive integer, got ${o.lease}`);
        }
        let prev: number | undefined;
        if (o.prevRevision !== undefined) {
          prev = Number(o.prevRevision);
          if (!Number.isInteger(prev) || prev < 0)
            throw new UsageError(`--prev-revision must be a non-negative integer, got ${o.prevRevision}`);
        }
        const r = await (
          await client(ctx, o)
        ).kvPut(key, parseValue(value), {
          ...(prev === undefined ? {} : { prevRevision: prev }),
          ...(lease === undefined ? {} : { lease }),
        });
        out(o.json ? JSON.stringify(r) : `${r.key} = ${show(r.value)} (revision ${r.revision})`);
      },
    );

  common(kv.command('del <key>').description('delete a key')).action(
    async (key: string, o: CommonOptions) => {
      const r = await (await client(ctx, o)).kvDelete(key);
      out(o.json ? JSON.stringify(r) : r.deleted ? `deleted ${r.key}` : `${r.key} did not exist`);
    },
  );

  common(kv.command('watch [key]').description('print each change of KEY (or of --prefix P) until Ctrl+C'))
    .option('--prefix <p>', 'watch every key starting with P instead of one key')
    .option('--from-revision <r>', 'start at revision R (default: changes after now)')
    .action(
      async (key: string | undefined, o: CommonOptions & { prefix?: string; fromRevision?: string }) => {
        if ((key === undefined) === (o.prefix === undefined))
          throw new UsageError('give a KEY or --prefix P (not both)');
        let from: number | undefined;
        if (o.fromRevision !== undefined) {
          from = Number(o.fromRevision);
          if (!Number.isSafeInteger(from) || from < 1)
            throw new UsageError(`--from-revision must be a positive integer, got ${o.fromRevision}`);
        }
        const c = await client(ctx, o);
        const stop = new AbortController();
        const onSig = (): void => stop.abort();
        process.once('SIGINT', onSig);
        process.once('SIGTERM', onSig);
        try {
          const target = key !== undefined ? { key } : { prefix: o.prefix ?? '' };
          for await (const ev of c.watchKv(target, {
            ...(from === undefined ? {} : { fromRevision: from }),
            signal: stop.signal,
          })) {
            out(
              o.json
                ? JSON.stringify(ev)
                : ev.type === 'put'
                  ? `${ev.revision} PUT ${ev.key} = ${show(ev.value)}`
                  : `${ev.revision} DELETE ${ev.key}`,
            );
          }
        } finally {
          process.off('SIGINT', onSig);
          process.off('SIGTERM', onSig);
        }
      },
    );

  common(kv.command('list [prefix]').description('list keys with a prefix (all keys without one)'))
    .option('--stale', 'read the local node state without asking the leader')
    .action(async (prefix: string | undefined, o: CommonOptions & { stale?: boolean }) => {
      const r = await (await client(ctx, o)).kvList(prefix ?? '', { stale: o.stale === true });
      if (o.json) return out(JSON.stringify(r));
      if (r.items.length === 0) return out('(no keys)');
      out(
        formatTable(
          ['KEY', 'VALUE', 'REVISION'],
          r.items.map((i) => [i.key, show(i.value), String(i.revision)]),
        ),
      );
    });
};
