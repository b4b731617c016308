/** Typed errors of the network layer (configuration and programming errors only: bad input never throws). */
import { SwarmError } from '../common/errors.js';

/** A swarm key that is not base64 of exactly 32 bytes, or a keyring operation that would leave it empty. */
export class KeyError extends SwarmError {
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super('swarm_key_invalid', message, { exitCode: 2, fields });
  }
}

/** A message the local program tried to send that does not fit its schema (a bug, not a peer's fault). */
export class EncodeError extends SwarmError {
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super('encode_failed', message, { fields });
  }
}

/** A socket could not be bound or joined to a multicast group. */
export class TransportError extends SwarmError {
  constructor(message: string, fields: Record<string, unknown> = {}, cause?: unknown) {
    super('transport_failed', message, { fields, cause });
  }
}
