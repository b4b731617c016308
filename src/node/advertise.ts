/**
 * The host a node advertises to its peers (gossip, Raft and API addresses in
 * its member metadata). A wildcard listener (0.0.0.0) cannot be advertised as
 * such, and "the first external interface" is wrong on a host with several
 * (a Wi-Fi and a wired link, a container bridge): peers must get the address of
 * the interface this node actually talks to them on. Order of preference:
 *
 * 1. `network.advertise_address` when set (NAT, multi-homed hosts);
 * 2. a specific bind address (the node listens only there);
 * 3. with a join list: the local address the kernel picks for a UDP socket
 *    connected toward the first join target (connect only routes, no packet
 *    leaves the host);
 * 4. the first non-internal IPv4 address; 127.0.0.1 on a host without one.
 */
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface AdvertiseInputs {
  /** network.advertise_address ('' = automatic). */
  readonly advertise: string;
  /** network.bind_address. */
  readonly bind: string;
  /** Join targets ("host:port" parsed), in configured order. */
  readonly join: readonly { readonly host: string; readonly port: number }[];
}

export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** This host's first non-internal IPv4 address, or 127.0.0.1. */
export function firstExternalIpv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/**
 * The local address the kernel would send from toward `host:port`, or null
 * (no route, a name that does not resolve, a bounded 500 ms wait exceeded).
 * A connected UDP socket only selects a route and a source address.
 */
export function localAddressToward(host: string, port: number, timeoutMs = 500): Promise<string | null> {
  const family = isIP(host) === 6 ? 'udp6' : 'udp4';
  return new Promise((resolve) => {
    const s = createSocket(family);
    let done = false;
    const finish = (addr: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        s.close();
      } catch {
        // already closed
      }
      resolve(addr);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    s.on('error', () => finish(null));
    try {
      s.connect(port, host, () => {
        try {
          finish(s.address().address);
        } catch {
          finish(null);
        }
      });
    } catch {
      finish(null);
    }
  });
}

export async function resolveAdvertiseHost(i: AdvertiseInputs): Promise<string> {
  if (i.advertise !== '') return i.advertise;
  if (!isWildcardHost(i.bind)) return i.bind;
  const first = i.join[0];
  if (first) {
    const a = await localAddressToward(first.host, first.port);
    if (a !== null && !isWildcardHost(a)) return a;
  }
  return firstExternalIpv4();
}
