/** A gossip member record for component tests: loopback, port 1, standard class, incarnation 1. */
import type { MemberRecord } from '../../src/gossip/messages.js';

export function memberRecord(id: string, status = 0, meta: Record<string, unknown> = {}): MemberRecord {
  return {
    id,
    name: id,
    host: '127.0.0.1',
    port: 1,
    deviceClass: 'standard',
    incarnation: 1,
    status,
    meta,
  } as MemberRecord;
}
