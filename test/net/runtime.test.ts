import { afterEach, describe, expect, it } from 'vitest';
import type { GossipMessage } from '../../src/gossip/messages.js';
import type { RaftWireMessage } from '../../src/net/forward-codec.js';
import type { ClusterRaftMessage as RaftMessage } from '../../src/net/raft-codec.js';
import { KeyError } from '../../src/net/errors.js';
import {
  keyringFromConfig,
  openGossipTransport,
  openRaftTransport,
  sendOutgoing,
} from '../../src/net/runtime.js';
import type { TcpTransport } from '../../src/net/tcp.js';
import type { UdpTransport } from '../../src/net/udp.js';
import { LOOPBACK_NETWORK, waitFor } from './helpers.js';

const network = LOOPBACK_NETWORK;
const key = Buffer.alloc(32, 5).toString('base64');
const closers: (UdpTransport<GossipMessage> | TcpTransport<RaftWireMessage>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((t) => t.close()));
});

describe('runtime glue', () => {
  it('builds a keyring from [security] swarm_key', () => {
    expect(keyringFromConfig({ swarm_key: '' })).toBeNull();
    expect(keyringFromConfig({ swarm_key: key })?.size()).toBe(1);
    expect(() => keyringFromConfig({ swarm_key: 'short' })).toThrow(KeyError);
  });

  it('opens encrypted gossip transports from config and routes the core output', async () => {
    const inbox: GossipMessage[] = [];
    const a = await openGossipTransport({ network, security: { swarm_key: key }, onMessage: () => {} });
    const b = await openGossipTransport({
      network,
      security: { swarm_key: key },
      onMessage: (m) => inbox.push(m),
    });
    closers.push(a, b);
    expect(a.encrypted()).toBe(true);
    const to = b.address();
    const msg: GossipMessage = { type: 'prune', from: 'a' };
    expect(sendOutgoing(a, { to: null, host: to.address, port: to.port, msg })).toBe('sent');
    // Multicast requested on a transport without a group: nothing is sent, nothing throws.
    expect(sendOutgoing(a, { to: null, host: '', port: 0, msg, multicast: true })).toBe('closed');
    await waitFor(() => inbox.length === 1, 'gossip delivery');
    expect(inbox).toEqual([msg]);
  });

  it('opens the Raft transport with the same key', async () => {
    const inbox: RaftWireMessage[] = [];
    const a = await openRaftTransport({
      bindAddress: '127.0.0.1',
      port: 0,
      security: { swarm_key: key },
      onMessage: () => {},
    });
    const b = await openRaftTransport({
      bindAddress: '127.0.0.1',
      port: 0,
      security: { swarm_key: key },
      onMessage: (m) => inbox.push(m),
    });
    closers.push(a, b);
    const msg: RaftMessage = { type: 'timeout_now', from: 'n1', to: 'n2', term: 3, cluster: 'c1' };
    a.send(b.address(), msg);
    await waitFor(() => inbox.length === 1, 'raft delivery');
    expect(inbox).toEqual([msg]);
  });
});
