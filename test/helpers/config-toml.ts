/**
 * Config files for the daemons the end-to-end tests start, so every test
 * states the same network rules the same way.
 */

/** `[consensus]` timing (etcd-like values keep elections, and so the tests, short). */
export function consensusToml(heartbeatMs: number, electionMinMs: number, electionMaxMs: number): string[] {
  return [
    '[consensus]',
    `heartbeat_interval_ms = ${heartbeatMs}`,
    `election_timeout_min_ms = ${electionMinMs}`,
    `election_timeout_max_ms = ${electionMaxMs}`,
  ];
}

/**
 * A daemon outside any private namespace: loopback only, multicast discovery
 * off (peers come from join lists), every port 0. `raft` lines go under
 * `[raft]`, `more` lines (whole sections) after it.
 */
export function loopbackToml(raft: readonly string[], more: readonly string[] = []): string {
  return [
    '[network]',
    'gossip_port = 0',
    'bind_address = "127.0.0.1"',
    'multicast_enabled = false',
    '[api]',
    'port = 0',
    '[raft]',
    'port = 0',
    ...raft,
    ...more,
    '',
  ].join('\n');
}
