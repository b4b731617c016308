/**
 * Request forwarding frames (codes 0x60-0x61) on the Raft TCP transport: a
 * follower hands a client's KV write, or a ReadIndex query, to the leader over
 * the same authenticated (and, with a swarm key, encrypted) connections Raft
 * uses, so no node ever needs another node's REST API. See docs/protocol.md,
 * "Request forwarding", for the exchange rules.
 *
 * Values travel as their JSON text: the leader proposes exactly what the
 * client's API checked, and a MicroPython peer needs no MessagePack mapping of
 * arbitrary JSON.
 */
import type { ClusterRaftMessage as RaftMessage } from './raft-codec.js';
import { MessageCodec, RAFT_TYPES, message, type SpecTable } from './codec.js';
import { RAFT_LIMITS, raftSpecs } from './raft-codec.js';
import { bool, enumOf, nullable, str, uint } from './schema.js';

/** Key and value bounds, the same the REST API enforces before forwarding. */
export const FORWARD_LIMITS = {
  keyBytes: 512,
  /** A value's JSON text, as the API measures it (JSON.stringify of the parsed value). */
  valueBytes: 64 * 1024,
  /** The `value` field: a value, or a coord command holding one and its key (1 KiB of envelope). */
  valueFieldBytes: 65 * 1024,
  /**
   * A refusal's detail is short (cut to 500 characters); a `task_logs` answer
   * carries a log chunk as JSON here: TASK_LOG_CHUNK_BYTES base64-encoded
   * (4/3) plus a small envelope, well inside this bound.
   */
  messageBytes: 48 * 1024,
} as const;

/**
 * Bytes of a task's log one `task_logs` answer carries at most: a follower's
 * log read never costs the serving node more than one bounded read and one
 * frame under the 64 KiB limit of an unauthenticated connection.
 */
export const TASK_LOG_CHUNK_BYTES = 32 * 1024;

/**
 * task_logs: a chunk of a task allocation's output log, read from the node
 * that runs it (not the leader): `key` = the allocation id, `value` =
 * `{"offset":n|null,"max":n}`; the `ok` answer's `message` is
 * `{"from","next_offset","size","data"}` with `data` base64.
 *
 * coord: a coordination command (leased put, lease grant / keep-alive /
 * revoke) whose JSON travels in `value` (src/node/coord-ops.ts); its outcome
 * comes back as JSON in the response's `message`.
 */
export const FORWARD_OPS = ['put', 'delete', 'read_index', 'coord', 'task_logs'] as const;
export type ForwardOp = (typeof FORWARD_OPS)[number];

/**
 * ok: executed (or, for read_index, confirmed); not_leader: NOT executed,
 * safe to send elsewhere; no_quorum: not decided in time (a write's outcome
 * may be unknown: never resend it); mismatch: a CAS whose prev_revision did
 * not match; busy: refused before execution (too many forwards in flight);
 * bad_request: refused before execution (a malformed value or key).
 */
export const FORWARD_CODES = [
  'ok',
  'not_leader',
  'no_quorum',
  'mismatch',
  'busy',
  'bad_request',
  'quota_exceeded',
] as const;
export type ForwardCode = (typeof FORWARD_CODES)[number];

export interface ForwardRequestMsg {
  readonly type: 'fwd_req';
  readonly from: string;
  readonly to: string;
  /** The term in which the sender saw `to` lead; a leader of another term refuses (not_leader). */
  readonly term: number;
  /** Chosen by the sender, unique among its requests in flight. */
  readonly id: number;
  readonly op: ForwardOp;
  /** '' for read_index and coord; the allocation id for task_logs. */
  readonly key: string;
  /** JSON text of the value (put), of the command (coord), of the read (task_logs). */
  readonly value: string | null;
  /** Compare-and-set: the key's expected mod revision (put only; 0 = must not exist). */
  readonly prevRevision: number | null;
  /** Sent to a leader's named successor: it waits (bounded) to lead rather than refusing. */
  readonly heir: boolean;
}

export interface ForwardResponseMsg {
  readonly type: 'fwd_resp';
  readonly from: string;
  readonly to: string;
  /** The responder's current term. */
  readonly term: number;
  /** The request's id. */
  readonly id: number;
  readonly code: ForwardCode;
  /** Human-readable detail of a refusal ('' when ok). */
  readonly message: string;
  /** not_leader: who the responder believes leads (null = unknown). */
  readonly leader: string | null;
  /** not_leader: the node leadership is being handed to, if any. */
  readonly successor: string | null;
  /**
   * put: the key's new mod revision; delete: the store revision after it;
   * mismatch: the key's current mod revision (0 = absent); read_index: the
   * commit index the leader confirmed with a quorum.
   */
  readonly revision: number;
  /** delete: whether a key was removed. */
  readonly deleted: boolean;
}

export type ForwardMessage = ForwardRequestMsg | ForwardResponseMsg;
/** Everything the Raft TCP transport carries. */
export type RaftWireMessage = RaftMessage | ForwardMessage;

export const FORWARD_TYPE_CODES = {
  fwd_req: 0x60,
  fwd_resp: 0x61,
} as const satisfies Readonly<Record<ForwardMessage['type'], number>>;

const nodeId = str(RAFT_LIMITS.nodeIdBytes);

export const forwardSpecs: SpecTable<ForwardMessage> = {
  fwd_req: message<ForwardRequestMsg>(
    FORWARD_TYPE_CODES.fwd_req,
    'Forwarded KV request (follower to leader)',
    {
      from: nodeId,
      to: nodeId,
      term: uint(),
      id: uint(),
      op: enumOf(FORWARD_OPS),
      key: str(FORWARD_LIMITS.keyBytes),
      value: nullable(str(FORWARD_LIMITS.valueFieldBytes)),
      prevRevision: nullable(uint()),
      heir: bool(),
    },
  ),
  fwd_resp: message<ForwardResponseMsg>(FORWARD_TYPE_CODES.fwd_resp, 'Answer to a forwarded KV request', {
    from: nodeId,
    to: nodeId,
    term: uint(),
    id: uint(),
    code: enumOf(FORWARD_CODES),
    message: str(FORWARD_LIMITS.messageBytes),
    leader: nullable(nodeId),
    successor: nullable(nodeId),
    revision: uint(),
    deleted: bool(),
  }),
};

/** The forwarding frames alone (docs, tests). */
export const forwardCodec: MessageCodec<ForwardMessage> = new MessageCodec<ForwardMessage>(
  'raft',
  RAFT_TYPES,
  forwardSpecs,
);

/** The Raft transport's codec: Raft messages plus the forwarding frames, one type-code range. */
export const raftWireCodec: MessageCodec<RaftWireMessage> = new MessageCodec<RaftWireMessage>(
  'raft',
  RAFT_TYPES,
  { ...raftSpecs, ...forwardSpecs },
);

export function isForwardMessage(m: RaftWireMessage): m is ForwardMessage {
  return m.type === 'fwd_req' || m.type === 'fwd_resp';
}
