/**
 * The receive and send paths shared by the UDP and TCP transports (and by the
 * fuzz test, which drives exactly this code): decrypt when a keyring is set,
 * then decode; count every outcome by reason. Nothing here throws on input.
 */
import {
  DROP_REASONS,
  ENCRYPTED_VERSION,
  UNAUTHENTICATED_REASONS,
  type DecodeResult,
  type DropReason,
  type MessageCodec,
  type WireMessage,
} from './codec.js';
import type { Keyring } from './crypto.js';

/** Encode and, with a keyring, encrypt one message into packet bytes. */
export function sealMessage<M extends WireMessage>(
  codec: MessageCodec<M>,
  msg: M,
  keyring: Keyring | null,
  nonce?: Uint8Array,
): Uint8Array {
  const plain = codec.encode(msg);
  return keyring ? keyring.seal(plain, nonce) : plain;
}

/**
 * The send-side checks every transport makes before queueing: encode (and
 * seal), then refuse and count a packet over `maxBytes` rather than fragment
 * it. An encoder error goes to `onError` and reads as 'invalid'.
 */
export function sealChecked<M extends WireMessage>(
  codec: MessageCodec<M>,
  msg: M,
  keyring: Keyring | null,
  maxBytes: number,
  stats: TransportStats,
  onError: ((err: Error) => void) | undefined,
): Uint8Array | 'invalid' | 'oversize' {
  let packet: Uint8Array;
  try {
    packet = sealMessage(codec, msg, keyring);
  } catch (e) {
    onError?.(e instanceof Error ? e : new Error(String(e)));
    return 'invalid';
  }
  if (packet.length > maxBytes) {
    stats.droppedOversize += 1;
    stats.dropped.oversize += 1;
    return 'oversize';
  }
  return packet;
}

/**
 * Full receive path for one packet. A node with a key drops plaintext, a node
 * without one drops encrypted packets: silently mixing the two would let an
 * unkeyed host inject into a secured swarm.
 */
export function openMessage<M extends WireMessage>(
  codec: MessageCodec<M>,
  bytes: Uint8Array,
  keyring: Keyring | null,
): DecodeResult<M> {
  if (bytes.length === 0) return { ok: false, reason: 'empty' };
  const encrypted = bytes[0] === ENCRYPTED_VERSION;
  if (keyring) {
    if (!encrypted) return { ok: false, reason: 'plaintext_rejected' };
    const plain = keyring.open(bytes);
    if (!plain) return { ok: false, reason: 'unauthenticated' };
    return codec.decode(plain);
  }
  if (encrypted) return { ok: false, reason: 'encrypted_rejected' };
  return codec.decode(bytes);
}

export type DropCounts = Record<DropReason, number>;

/** Counters every transport keeps; exported as gossip/raft metrics by the node. */
export interface TransportStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  /** Garbled, truncated, unknown type, failed validation. */
  droppedMalformed: number;
  /** Failed authentication, or plaintext/encrypted mismatch with our keyring. */
  droppedUnauthenticated: number;
  /** Refused to send (too large), or received a frame over the limit. */
  droppedOversize: number;
  /** Outgoing messages refused because a peer's queue was full. */
  droppedBackpressure: number;
  /** Socket-level send failures (unreachable host, refused connection with data queued). */
  sendErrors: number;
  /** Every drop by its exact reason. */
  dropped: DropCounts;
  /** TCP: unauthenticated connections refused or closed, by reason (see tcp.ts). */
  refused: RefusedCounts;
}

/**
 * Why a connection that had not authenticated was closed: over the cap at
 * accept, not authenticated in time, or a frame over the unauthenticated limit.
 * Stable strings: they are metric labels.
 */
export const REFUSED_REASONS = ['connection_cap', 'auth_timeout', 'oversize_unauthenticated'] as const;
export type RefusedReason = (typeof REFUSED_REASONS)[number];
export type RefusedCounts = Record<RefusedReason, number>;

export function newStats(): TransportStats {
  const dropped = {} as DropCounts;
  for (const r of DROP_REASONS) dropped[r] = 0;
  return {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    droppedMalformed: 0,
    droppedUnauthenticated: 0,
    droppedOversize: 0,
    droppedBackpressure: 0,
    sendErrors: 0,
    dropped,
    refused: { connection_cap: 0, auth_timeout: 0, oversize_unauthenticated: 0 },
  };
}

export function countDrop(stats: TransportStats, reason: DropReason): void {
  stats.dropped[reason] += 1;
  if (UNAUTHENTICATED_REASONS.has(reason)) stats.droppedUnauthenticated += 1;
  else if (reason === 'oversize') stats.droppedOversize += 1;
  else stats.droppedMalformed += 1;
}

export function copyStats(s: TransportStats): TransportStats {
  return { ...s, dropped: { ...s.dropped }, refused: { ...s.refused } };
}
