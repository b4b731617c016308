/**
 * A reusable Maelstrom node runtime: reads newline-delimited JSON from an
 * input stream, answers `init`, dispatches every other message to the handler
 * registered for its `type`, correlates replies to its own RPCs by
 * `in_reply_to`, and owns every timer so that shutdown leaves nothing behind.
 *
 * Handlers run to completion one line at a time when synchronous; async
 * handlers interleave at their awaits, as in any Node server.
 */
import { createInterface } from 'node:readline';
import {
  ErrorCode,
  MaelstromProtocolError,
  MaelstromRpcError,
  encodeMessage,
  errorBody,
  parseMessage,
  type MaelstromBody,
  type MaelstromMessage,
} from './protocol.js';

export interface NodeIo {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  /** Diagnostics (Maelstrom keeps stderr as the node log). */
  readonly log?: NodeJS.WritableStream;
}

export type Handler = (msg: MaelstromMessage, node: MaelstromNode) => void | Promise<void>;
export type InitHook = (node: MaelstromNode) => void;

interface PendingRpc {
  resolve(msg: MaelstromMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class MaelstromNode {
  private ownId = '';
  private ids: string[] = [];
  private nextMsgId = 1;
  private readonly handlers = new Map<string, Handler>();
  private readonly initHooks: InitHook[] = [];
  private readonly pending = new Map<number, PendingRpc>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly io: NodeIo) {}

  get id(): string {
    return this.ownId;
  }
  /** Every node of the cluster, this one included, in Maelstrom's order. */
  get nodeIds(): readonly string[] {
    return this.ids;
  }
  get initialized(): boolean {
    return this.ownId !== '';
  }

  on(type: string, handler: Handler): this {
    this.handlers.set(type, handler);
    return this;
  }

  /** Runs after `init` set the ids and before `init_ok` is sent. */
  onInit(hook: InitHook): this {
    this.initHooks.push(hook);
    return this;
  }

  /** Monotonic milliseconds for cores that take `now` as an argument. */
  now(): number {
    return performance.now();
  }

  log(text: string): void {
    this.io.log?.write(`${text}\n`);
  }

  /** Sends a message; assigns a fresh msg_id when the body has none. Returns the msg_id. */
  send(dest: string, body: MaelstromBody): number {
    const msgId = body.msg_id ?? this.nextMsgId++;
    this.write({ src: this.ownId, dest, body: { ...body, msg_id: msgId } });
    return msgId;
  }

  /** Sends a message without a msg_id (nobody will reply to it). */
  sendOneWay(dest: string, body: MaelstromBody): void {
    this.write({ src: this.ownId, dest, body });
  }

  reply(req: MaelstromMessage, body: MaelstromBody): void {
    const inReplyTo = req.body.msg_id;
    this.write({
      src: this.ownId,
      dest: req.src,
      body:
        inReplyTo === undefined
          ? { ...body, msg_id: this.nextMsgId++ }
          : { ...body, msg_id: this.nextMsgId++, in_reply_to: inReplyTo },
    });
  }

  replyError(req: MaelstromMessage, code: number, text: string): void {
    this.reply(req, errorBody(code, text));
  }

  /** Request/response to another node; rejects with MaelstromRpcError(Timeout) after `timeoutMs`. */
  rpc(dest: string, body: MaelstromBody, timeoutMs: number): Promise<MaelstromMessage> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new MaelstromRpcError(ErrorCode.Crash, 'node is shutting down'));
        return;
      }
      const msgId = this.nextMsgId++;
      const timer = setTimeout(() => {
        this.pending.delete(msgId);
        reject(
          new MaelstromRpcError(
            ErrorCode.Timeout,
            `rpc ${body.type} to ${dest} timed out after ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(msgId, { resolve, reject, timer });
      this.write({ src: this.ownId, dest, body: { ...body, msg_id: msgId } });
    });
  }

  /** One-shot timer owned by the node; returns a cancel function. */
  after(ms: number, fn: () => void): () => void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.guard(fn);
    }, ms);
    this.timers.add(t);
    return () => {
      clearTimeout(t);
      this.timers.delete(t);
    };
  }

  /** Repeating timer owned by the node; returns a cancel function. */
  every(ms: number, fn: () => void): () => void {
    const t = setInterval(() => this.guard(fn), ms);
    this.timers.add(t);
    return () => {
      clearInterval(t);
      this.timers.delete(t);
    };
  }

  /** Processes one input line (exposed for in-process tests). */
  handleLine(line: string): void {
    if (line.trim() === '') return;
    let msg: MaelstromMessage;
    try {
      msg = parseMessage(line);
    } catch (err) {
      this.log(`dropping malformed input: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const { body } = msg;
    if (body.in_reply_to !== undefined) {
      const p = this.pending.get(body.in_reply_to);
      if (p !== undefined) {
        this.pending.delete(body.in_reply_to);
        clearTimeout(p.timer);
        p.resolve(msg);
        return;
      }
    }
    if (body.type === 'init') {
      this.handleInit(msg);
      return;
    }
    const handler = this.handlers.get(body.type);
    if (handler === undefined) {
      // Replies to RPCs that already timed out land here; only requests deserve an answer.
      if (body.in_reply_to === undefined && body.msg_id !== undefined) {
        this.replyError(msg, ErrorCode.NotSupported, `unsupported message type ${body.type}`);
      }
      return;
    }
    if (!this.initialized) {
      if (body.msg_id !== undefined)
        this.replyError(msg, ErrorCode.TemporarilyUnavailable, 'node is not initialized');
      return;
    }
    try {
      const r = handler(msg, this);
      if (r instanceof Promise) r.catch((err: unknown) => this.failRequest(msg, err));
    } catch (err) {
      this.failRequest(msg, err);
    }
  }

  /** Reads the input until it ends, then cancels timers and pending RPCs. */
  async run(): Promise<void> {
    const rl = createInterface({ input: this.io.input, crlfDelay: Infinity });
    for await (const line of rl) this.handleLine(line);
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new MaelstromRpcError(ErrorCode.Crash, 'node is shutting down'));
    }
    this.pending.clear();
  }

  private handleInit(msg: MaelstromMessage): void {
    const { node_id: nodeId, node_ids: nodeIds } = msg.body;
    if (
      typeof nodeId !== 'string' ||
      !Array.isArray(nodeIds) ||
      !nodeIds.every((x) => typeof x === 'string')
    ) {
      this.replyError(msg, ErrorCode.MalformedRequest, 'init needs node_id and node_ids');
      return;
    }
    if (!this.initialized) {
      this.ownId = nodeId;
      this.ids = nodeIds as string[];
      for (const hook of this.initHooks) hook(this);
    }
    this.reply(msg, { type: 'init_ok' });
  }

  private failRequest(msg: MaelstromMessage, err: unknown): void {
    if (msg.body.msg_id === undefined) {
      this.log(`handler for ${msg.body.type} failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (err instanceof MaelstromRpcError) {
      this.replyError(msg, err.errorCode, err.message);
      return;
    }
    this.log(
      `handler for ${msg.body.type} crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    // Indefinite: the handler may have had side effects before it threw.
    this.replyError(msg, ErrorCode.Crash, err instanceof Error ? err.message : String(err));
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log(`timer failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }

  private write(msg: MaelstromMessage): void {
    if (this.closed) return;
    this.io.output.write(encodeMessage(msg));
  }
}

export { MaelstromProtocolError };
