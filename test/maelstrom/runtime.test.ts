import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MaelstromNode } from '../../src/maelstrom/runtime.js';
import {
  ErrorCode,
  MaelstromProtocolError,
  MaelstromRpcError,
  isDefinite,
  parseMessage,
} from '../../src/maelstrom/protocol.js';

function harness(): { node: MaelstromNode; out: () => Record<string, unknown>[] } {
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: string[] = [];
  output.on('data', (d: Buffer) =>
    lines.push(
      ...d
        .toString()
        .split('\n')
        .filter((l) => l !== ''),
    ),
  );
  const node = new MaelstromNode({ input, output });
  return { node, out: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const msg = (src: string, dest: string, body: Record<string, unknown>): string =>
  JSON.stringify({ src, dest, body });

describe('maelstrom protocol', () => {
  it('parses messages and rejects malformed ones', () => {
    expect(parseMessage(msg('c1', 'n1', { type: 'read', msg_id: 3, key: 1 })).body.type).toBe('read');
    expect(() => parseMessage('{')).toThrow(MaelstromProtocolError);
    expect(() => parseMessage(msg('c1', 'n1', { msg_id: 1 }))).toThrow(/type/);
    expect(() => parseMessage(JSON.stringify({ dest: 'n1', body: { type: 'x' } }))).toThrow(/src/);
    expect(() => parseMessage(msg('c1', 'n1', { type: 'x', msg_id: 1.5 }))).toThrow(/msg_id/);
  });

  it('classifies error codes as definite or not', () => {
    expect(isDefinite(ErrorCode.TemporarilyUnavailable)).toBe(true);
    expect(isDefinite(ErrorCode.PreconditionFailed)).toBe(true);
    expect(isDefinite(ErrorCode.Timeout)).toBe(false);
    expect(isDefinite(ErrorCode.Crash)).toBe(false);
  });
});

describe('maelstrom node runtime', () => {
  it('answers init with init_ok and remembers its ids', () => {
    const { node, out } = harness();
    let hooked = '';
    node.onInit((n) => (hooked = n.id));
    node.handleLine(
      msg('c0', 'n2', { type: 'init', msg_id: 1, node_id: 'n2', node_ids: ['n1', 'n2', 'n3'] }),
    );
    expect(node.id).toBe('n2');
    expect(node.nodeIds).toEqual(['n1', 'n2', 'n3']);
    expect(hooked).toBe('n2');
    expect(out()).toEqual([{ src: 'n2', dest: 'c0', body: { type: 'init_ok', msg_id: 1, in_reply_to: 1 } }]);
  });

  it('refuses requests before init and unknown types after', () => {
    const { node, out } = harness();
    node.on('echo', (m, n) => n.reply(m, { type: 'echo_ok', echo: m.body.echo }));
    node.handleLine(msg('c1', 'n1', { type: 'echo', msg_id: 5, echo: 'x' }));
    node.handleLine(msg('c0', 'n1', { type: 'init', msg_id: 1, node_id: 'n1', node_ids: ['n1'] }));
    node.handleLine(msg('c1', 'n1', { type: 'bogus', msg_id: 6 }));
    node.handleLine(msg('c1', 'n1', { type: 'echo', msg_id: 7, echo: 'y' }));
    node.handleLine('not json');
    const bodies = out().map((m) => m.body as Record<string, unknown>);
    expect(bodies[0]).toMatchObject({ type: 'error', code: 11, in_reply_to: 5 });
    expect(bodies[2]).toMatchObject({ type: 'error', code: 10, in_reply_to: 6 });
    expect(bodies[3]).toMatchObject({ type: 'echo_ok', echo: 'y', in_reply_to: 7 });
    expect(bodies).toHaveLength(4);
  });

  it('maps handler errors to error bodies: typed codes kept, crashes indefinite', async () => {
    const { node, out } = harness();
    node.on('a', () => {
      throw new MaelstromRpcError(ErrorCode.KeyDoesNotExist, 'no such key');
    });
    node.on('b', async () => {
      await Promise.resolve();
      throw new Error('boom');
    });
    node.handleLine(msg('c0', 'n1', { type: 'init', msg_id: 1, node_id: 'n1', node_ids: ['n1'] }));
    node.handleLine(msg('c1', 'n1', { type: 'a', msg_id: 2 }));
    node.handleLine(msg('c1', 'n1', { type: 'b', msg_id: 3 }));
    await new Promise((r) => setImmediate(r));
    const bodies = out().map((m) => m.body as Record<string, unknown>);
    expect(bodies[1]).toMatchObject({ type: 'error', code: 20, in_reply_to: 2 });
    expect(bodies[2]).toMatchObject({ type: 'error', code: 13, in_reply_to: 3 });
  });

  it('correlates rpc replies and times out unanswered ones', async () => {
    const { node, out } = harness();
    node.handleLine(msg('c0', 'n1', { type: 'init', msg_id: 1, node_id: 'n1', node_ids: ['n1', 'n2'] }));
    const p = node.rpc('n2', { type: 'ping' }, 5_000);
    const sent = out()[1]!;
    const id = (sent.body as { msg_id: number }).msg_id;
    node.handleLine(msg('n2', 'n1', { type: 'pong', in_reply_to: id }));
    expect((await p).body.type).toBe('pong');
    await expect(node.rpc('n2', { type: 'ping' }, 5)).rejects.toMatchObject({ errorCode: ErrorCode.Timeout });
    node.close();
    await expect(node.rpc('n2', { type: 'ping' }, 5)).rejects.toMatchObject({ errorCode: ErrorCode.Crash });
  });

  it('run() reads lines until the input ends and cancels timers', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => (text += d.toString()));
    const node = new MaelstromNode({ input, output });
    let fired = 0;
    node.onInit((n) => n.every(1, () => fired++));
    const done = node.run();
    input.write(`${msg('c0', 'n1', { type: 'init', msg_id: 1, node_id: 'n1', node_ids: ['n1'] })}\n`);
    input.end();
    await done;
    const after = fired;
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(after);
    expect(text).toContain('init_ok');
  });
});
