/**
 * Glue for the node runtime: open the gossip (UDP) and Raft (TCP) transports
 * from the configuration sections that concern them, and route the gossip
 * core's outgoing messages. Structural config types, so this module does not
 * depend on the config schema's exact shape.
 */
import type { GossipMessage } from '../gossip/messages.js';
import type { Outgoing } from '../gossip/types.js';
import { Keyring } from './crypto.js';
import { TransportError } from './errors.js';
import { gossipCodec } from './gossip-codec.js';
import { raftWireCodec, type RaftWireMessage } from './forward-codec.js';
import { TcpTransport, type TcpAddress, type TcpTransportOptions } from './tcp.js';
import { UdpTransport, type SendResult, type UdpAddress, type UdpTransportOptions } from './udp.js';

export interface NetworkSection {
  readonly bind_address: string;
  readonly gossip_port: number;
  readonly multicast_group: string;
  readonly multicast_port: number;
  readonly multicast_enabled: boolean;
}

export interface SecuritySection {
  /** Base64 of 32 bytes, or '' for plaintext. */
  readonly swarm_key: string;
}

/** null (plaintext) for an empty key; throws KeyError for a malformed one. */
export function keyringFromConfig(security: SecuritySection): Keyring | null {
  return security.swarm_key === '' ? null : Keyring.fromBase64([security.swarm_key]);
}

export interface GossipTransportOptions {
  readonly network: NetworkSection;
  readonly security: SecuritySection;
  readonly onMessage: (msg: GossipMessage, from: UdpAddress, via: 'unicast' | 'multicast') => void;
  readonly onError?: (err: Error) => void;
  /** A datagram failed authentication (see UdpTransportOptions.onRefused). */
  readonly onRefused?: UdpTransportOptions<GossipMessage>['onRefused'];
  /** Interface address for multicast; default: the bind address when it is a specific IPv4 address. */
  readonly multicastInterface?: string;
}

function isSpecificIpv4(a: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(a) && a !== '0.0.0.0';
}

/**
 * Bind the gossip socket and, when enabled, join the discovery group. A host
 * without a multicast route still gets a working node: discovery is turned
 * off, reported through onError, and the join list remains.
 */
export async function openGossipTransport(o: GossipTransportOptions): Promise<UdpTransport<GossipMessage>> {
  const n = o.network;
  const base = {
    codec: gossipCodec,
    bindAddress: n.bind_address,
    port: n.gossip_port,
    keyring: keyringFromConfig(o.security),
    onMessage: o.onMessage,
    ...(o.onError ? { onError: o.onError } : {}),
    ...(o.onRefused ? { onRefused: o.onRefused } : {}),
  };
  if (!n.multicast_enabled) return UdpTransport.open(base);
  const iface = o.multicastInterface ?? (isSpecificIpv4(n.bind_address) ? n.bind_address : undefined);
  try {
    return await UdpTransport.open({
      ...base,
      multicast: {
        group: n.multicast_group,
        port: n.multicast_port,
        ...(iface ? { interfaceAddress: iface } : {}),
      },
    });
  } catch (e) {
    const t = await UdpTransport.open(base);
    o.onError?.(
      new TransportError(
        `multicast discovery unavailable on ${n.multicast_group}:${n.multicast_port}; using the join list only`,
        {},
        e,
      ),
    );
    return t;
  }
}

/** Send what the gossip core emitted: to the discovery group or to host:port. */
export function sendOutgoing(t: UdpTransport<GossipMessage>, out: Outgoing): SendResult {
  if (out.multicast) {
    try {
      return t.sendMulticast(out.msg);
    } catch {
      return 'closed'; // multicast not configured on this transport: nothing to send to
    }
  }
  return t.send(out.msg, { address: out.host, port: out.port });
}

export interface RaftTransportOptions extends Omit<
  TcpTransportOptions<RaftWireMessage>,
  'codec' | 'keyring' | 'bindAddress' | 'port'
> {
  readonly bindAddress: string;
  readonly port: number;
  readonly security: SecuritySection;
}

/**
 * The longest wait between redials of a Raft peer (unless the caller sets
 * `backoff`). A restarted member hears nothing from the leader until the
 * leader's connection to it is redialled: with the transport's 2 s cap that
 * took up to 2 s after a restart (the follower's election timeout, whose
 * pre-vote makes the leader redial at once, usually came first), which was
 * most of a follower's restart to its first linearizable read
 * (bench/raft-restart.bench.ts). 500 ms is the default heartbeat interval:
 * a dead peer costs each node at most two connection attempts per second,
 * the rate at which a leader sends heartbeats to a live one anyway.
 */
export const RAFT_REDIAL_MAX_MS = 500;

/** Raft messages and the request-forwarding frames share the transport (see forward-codec.ts). */
export function openRaftTransport(o: RaftTransportOptions): Promise<TcpTransport<RaftWireMessage>> {
  const { security, ...rest } = o;
  return TcpTransport.listen<RaftWireMessage>({
    backoff: { maxMs: RAFT_REDIAL_MAX_MS },
    ...rest,
    codec: raftWireCodec,
    keyring: keyringFromConfig(security),
  });
}

export type { TcpAddress, UdpAddress };
