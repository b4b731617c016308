/**
 * The Maelstrom wire protocol (jepsen-io/maelstrom doc/protocol.md):
 * one JSON object per line, `{src, dest, body}`, where `body.type` names the
 * message, `msg_id` numbers requests and `in_reply_to` ties a reply to one.
 */
import { SwarmError } from '../common/errors.js';

export interface MaelstromBody {
  readonly type: string;
  readonly msg_id?: number;
  readonly in_reply_to?: number;
  readonly [field: string]: unknown;
}

export interface MaelstromMessage {
  readonly src: string;
  readonly dest: string;
  readonly body: MaelstromBody;
}

/**
 * Maelstrom's error codes. "Definite" errors promise the operation did not
 * and will not happen; the checker trusts that, so a node must answer an
 * operation whose fate it does not know with an indefinite code (0 or 13).
 */
export const ErrorCode = {
  Timeout: 0,
  NodeNotFound: 1,
  NotSupported: 10,
  TemporarilyUnavailable: 11,
  MalformedRequest: 12,
  Crash: 13,
  Abort: 14,
  KeyDoesNotExist: 20,
  KeyAlreadyExists: 21,
  PreconditionFailed: 22,
  TxnConflict: 30,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const DEFINITE = new Set<number>([1, 10, 11, 12, 14, 20, 21, 22, 30]);

/** Whether an error code guarantees the request had no effect. */
export function isDefinite(code: number): boolean {
  return DEFINITE.has(code);
}

export class MaelstromProtocolError extends SwarmError {
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super('maelstrom_protocol', message, { fields });
  }
}

/** An error a handler throws to answer its request with a Maelstrom error body. */
export class MaelstromRpcError extends SwarmError {
  constructor(
    readonly errorCode: number,
    text: string,
  ) {
    super('maelstrom_rpc', text, { fields: { errorCode } });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses one input line; throws MaelstromProtocolError on anything that is not a message. */
export function parseMessage(line: string): MaelstromMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    throw new MaelstromProtocolError(`not JSON: ${line.slice(0, 200)}`, { cause: String(err) });
  }
  if (!isRecord(raw)) throw new MaelstromProtocolError('message is not an object');
  const { src, dest, body } = raw;
  if (typeof src !== 'string' || typeof dest !== 'string')
    throw new MaelstromProtocolError('message lacks src/dest');
  if (!isRecord(body) || typeof body.type !== 'string')
    throw new MaelstromProtocolError('message body lacks a type');
  for (const k of ['msg_id', 'in_reply_to'] as const) {
    if (body[k] !== undefined && !Number.isInteger(body[k]))
      throw new MaelstromProtocolError(`${k} is not an integer`);
  }
  return { src, dest, body: body as MaelstromBody };
}

export function encodeMessage(msg: MaelstromMessage): string {
  return `${JSON.stringify({ src: msg.src, dest: msg.dest, body: msg.body })}\n`;
}

export function errorBody(code: number, text: string, inReplyTo?: number): MaelstromBody {
  return inReplyTo === undefined
    ? { type: 'error', code, text }
    : { type: 'error', code, text, in_reply_to: inReplyTo };
}

/** Client ids start with `c`, node ids with `n` (Maelstrom's convention). */
export function isClientId(id: string): boolean {
  return id.startsWith('c');
}
