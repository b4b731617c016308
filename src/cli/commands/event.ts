/**
 * `swarm event send|watch`: swarm events through the local node's API. An
 * event goes to every node by gossip (best effort, each node delivers it
 * once); `watch` prints one line per event this node delivers until Ctrl+C,
 * reconnecting from its last cursor if the connection drops.
 */
import type { Command } from 'commander';
import type { SwarmClient, EventWatchItem } from '../../client/client.js';
import type { EventJson } from '../../api/routes/events-types.js';
import type { CliContext, Registrar } from '../context.js';
import { clientFor, withNodeOptions, type NodeOptions } from './swarm.js';

type CommonOptions = NodeOptions;

const common = (cmd: Command): Command =>
  withNodeOptions(cmd, 'machine-readable output (one JSON object per line)');
const client = (ctx: CliContext, o: CommonOptions): Promise<SwarmClient> => clientFor(ctx, o);

/** `12:34:56.789 deploy from node-a (n1:7): {"v":2}`: one line, whatever the payload holds. */
export function formatEvent(e: EventJson): string {
  const t = e.received_at.slice(11, 23);
  const who = e.origin_name ?? e.origin;
  // Raw when it is one printable line (most payloads: a word, a JSON text); quoted otherwise, so one event stays one line.
  const payload =
    e.payload_base64 !== undefined
      ? `base64:${e.payload_base64}`
      : // eslint-disable-next-line no-control-regex -- control characters are exactly what must not print raw
        /^[^\u0000-\u001f\u007f]*$/.test(e.payload)
        ? e.payload
        : JSON.stringify(e.payload);
  return `${t} ${e.name} from ${who} (${e.id}): ${payload}`;
}

function formatItem(item: EventWatchItem, json: boolean): string | null {
  if (item.type === 'ready') return null;
  if (item.type === 'event') return json ? JSON.stringify(item.event) : formatEvent(item.event);
  if (json) return JSON.stringify({ lost: item.missed, restarted: item.restarted });
  return item.restarted
    ? '-- the node restarted: events delivered meanwhile may be missing'
    : `-- ${item.missed ?? 'some'} events were delivered while disconnected and are no longer held`;
}

export const register: Registrar = (program, ctx) => {
  const ev = program
    .command('event')
    .description('send and watch swarm events (gossip broadcast to every node)');
  const out = (s: string): void => void ctx.stdout.write(`${s}\n`);

  common(
    ev
      .command('send <name> [payload]')
      .description('send an event to every node (payload: text up to 1 KiB, e.g. JSON)'),
  ).action(async (name: string, payload: string | undefined, o: CommonOptions) => {
    const r = await (await client(ctx, o)).sendEvent(name, payload ?? '');
    out(o.json ? JSON.stringify(r) : `sent ${r.name} as ${r.id} (${r.bytes} bytes)`);
  });

  common(
    ev
      .command('watch [name]')
      .description('print each event this node delivers (only NAME if given) until Ctrl+C')
      .option('--since <cursor>', 'start after this cursor (0: everything the node still holds)'),
  ).action(async (name: string | undefined, o: CommonOptions & { since?: string }) => {
    const c = await client(ctx, o);
    const abort = new AbortController();
    const onSignal = (): void => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      for await (const item of c.watchEvents({
        ...(name !== undefined ? { name } : {}),
        ...(o.since !== undefined ? { since: o.since } : {}),
        signal: abort.signal,
      })) {
        const line = formatItem(item, o.json === true);
        if (line !== null) out(line);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
};
