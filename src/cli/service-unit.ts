/**
 * The systemd unit `swarm service install` writes, as text from plain inputs
 * (no I/O here, so tests can check every line). The node runs in the
 * foreground under systemd (JSON log lines on stderr, to the journal), as the
 * given user, from an absolute node and swarm path (a service has no PATH
 * worth trusting), with the config file named explicitly.
 *
 * Hardening keeps what a node needs: reading /proc and /sys (energy sensors:
 * ProtectKernelTunables makes them read-only, not hidden), UDP and TCP
 * sockets plus netlink (interface addresses for the advertise address),
 * multicast, and writing its data dir only. MemoryDenyWriteExecute is left
 * out on purpose: V8's JIT needs writable executable pages.
 */

/** The unit's file name; `systemctl enable --now iot-swarm`. */
export const UNIT_NAME = 'iot-swarm.service';
/** The first line of every unit we write: uninstall removes only files that carry it. */
export const UNIT_MARKER = '# Written by `swarm service install`';

export interface UnitInputs {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of the package's bin/swarm.js. */
  swarm: string;
  /**
   * Node/V8 flags before the script: what a detached daemon gets from its
   * launcher (DAEMON_V8_FLAGS and its device class's, src/cli/daemon.ts), so a
   * service node idles as small as a detached one; on the command line because
   * Node refuses some of them (`--lite-mode`) in NODE_OPTIONS.
   */
  nodeFlags?: readonly string[];
  /**
   * Environment of the node process (`Environment=` lines): the launcher's DAEMON_ENV
   * (src/cli/daemon.ts, glibc's malloc arenas), for the same reason as nodeFlags.
   */
  env?: Readonly<Record<string, string>>;
  /** Absolute path of the config file. */
  config: string;
  /** Absolute data dir (node.data_dir resolved): the one path the service may write. */
  dataDir: string;
  user: string;
  /** The package version, for the description. */
  version: string;
  /** Listening ports from the config; one below 1024 needs CAP_NET_BIND_SERVICE. */
  ports: readonly number[];
  /** Documentation URI (the installed docs), optional. */
  docs?: string;
}

/**
 * One ExecStart word: `%` is a systemd specifier and `$` a variable, so both
 * are doubled; a word with spaces, quotes or backslashes is double-quoted.
 */
export function unitWord(s: string): string {
  const escaped = s.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (!/[\s"'\\]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A path in a setting that takes a list of paths (ReadWritePaths=): specifiers escaped, spaces quoted. */
function unitPath(s: string): string {
  return unitWord(s);
}

export function renderUnit(u: UnitInputs): string {
  const privileged = u.ports.some((p) => p > 0 && p < 1024);
  const exec = [
    u.node,
    ...(u.nodeFlags ?? []),
    u.swarm,
    '--config',
    u.config,
    'node',
    'start',
    '--foreground',
  ]
    .map(unitWord)
    .join(' ');
  const lines = [
    UNIT_MARKER,
    `# iot-swarm ${u.version}; remove with \`swarm service uninstall\`. See docs/operations.md ("Running under systemd").`,
    '[Unit]',
    `Description=Swarm Orchestrator node (iot-swarm ${u.version})`,
    ...(u.docs ? [`Documentation=${u.docs}`] : []),
    // Gossip and Raft bind their ports at start; the advertise address needs the LAN to be up.
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${u.user}`,
    ...Object.entries(u.env ?? {}).map(([k, v]) => `Environment=${unitWord(`${k}=${v}`)}`),
    `ExecStart=${exec}`,
    // SIGTERM is the node's clean stop: it leaves the swarm and hands leadership over first.
    'KillSignal=SIGTERM',
    'TimeoutStopSec=30',
    'Restart=on-failure',
    'RestartSec=2s',
    'UMask=0077',
    // Hardening: a read-only system, one writable data dir, no privileges to gain.
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    `ReadWritePaths=${unitPath(u.dataDir)}`,
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    // Read-only, still readable: the energy sensors live under /sys and /proc.
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    // IPv4/IPv6 for gossip (UDP, multicast), Raft and the API (TCP); netlink to list interface addresses.
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK',
    ...(privileged
      ? [
          // A configured port below 1024: the one capability that binding it needs, and nothing else.
          'AmbientCapabilities=CAP_NET_BIND_SERVICE',
          'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
        ]
      : ['CapabilityBoundingSet=']),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}
