/** Typed failures of the REST client; each maps to CLI exit code 1. */
import { SwarmError } from '../common/errors.js';

/** Nothing answered at the URL (connection refused, timeout, DNS). */
export class NodeUnreachableError extends SwarmError {
  readonly url: string;
  constructor(url: string, reason: string, cause?: unknown) {
    super('node_unreachable', `no node answers at ${url} (${reason})`, { fields: { url }, cause });
    this.url = url;
  }
}

/** The node answered with an error body `{error:{code,message}}`. */
export class ApiRequestError extends SwarmError {
  readonly status: number;
  readonly apiCode: string;
  constructor(status: number, apiCode: string, message: string) {
    super(apiCode, message, { fields: { status } });
    this.status = status;
    this.apiCode = apiCode;
  }
}

/** 401: the node wants `Authorization: Bearer <api_token>` and got none or a wrong one. */
export class UnauthorizedError extends ApiRequestError {
  constructor(message: string) {
    super(401, 'unauthorized', `${message} (set security.api_token or SWARM_SECURITY__API_TOKEN)`);
  }
}

/**
 * A streaming route answered with a plain (non event-stream) body: the node
 * predates that stream (it ignored `?watch=true` or `?follow=true`). Callers
 * fall back to reading the plain route again.
 */
export class StreamNotSupportedError extends SwarmError {
  constructor(url: string) {
    super('stream_not_supported', `${url} did not answer with an event stream (an older node)`, {
      fields: { url },
    });
  }
}

/** The node answered something that is not the documented shape (version mismatch, not a swarm node). */
export class BadResponseError extends SwarmError {
  constructor(url: string, reason: string) {
    super('bad_response', `unexpected response from ${url}: ${reason}`, { fields: { url } });
  }
}

/** 410: the start revision of a watch is older than the node's history; re-read, then watch from `oldestRevision` or later. */
export class CompactedRevisionError extends ApiRequestError {
  readonly oldestRevision: number;
  constructor(message: string, oldestRevision: number) {
    super(410, 'compacted', message);
    this.oldestRevision = oldestRevision;
  }
}

/**
 * The `{error:{code,message}}` body of a failed call, checked by hand so that
 * an error needs no zod (the CLI fast path shares it: this module stays
 * free of heavy imports).
 */
export function errorBody(json: unknown): { code: string; message: string } | null {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
  const error: unknown = (json as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null || Array.isArray(error)) return null;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' && typeof message === 'string' ? { code, message } : null;
}
