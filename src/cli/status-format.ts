/** `swarm node status` as text: shared by the command and the CLI's fast path (fast.ts), so both print the same. */
import type { StatusResponse } from '../api/types.js';
import { formatDuration, formatPairs } from './output.js';

export function formatStatus(s: StatusResponse): string {
  const addr = (v: string | null): string => v ?? '-';
  return formatPairs([
    ['id', s.id],
    ['name', s.name],
    ['device class', s.device_class],
    ['role', s.role],
    ['term', String(s.term)],
    ['leader', s.leader ?? '-'],
    ...(s.waiting !== null ? ([['waiting', s.waiting]] as [string, string][]) : []),
    ...(s.cluster !== null ? ([['cluster', s.cluster]] as [string, string][]) : []),
    ['api', addr(s.addresses.api)],
    ['gossip', addr(s.addresses.gossip)],
    ['raft', addr(s.addresses.raft)],
    ['uptime', formatDuration(s.uptime_s)],
    ['version', s.version],
    ['pid', String(s.pid)],
    ['data dir', s.data_dir],
    [
      'security',
      s.security.gossip_encrypted ? 'gossip encrypted' : (s.security.note ?? 'gossip unencrypted'),
    ],
  ]);
}
