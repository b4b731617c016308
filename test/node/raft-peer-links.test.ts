/**
 * RaftPeerLinks routes Raft answers back over the connection their request
 * came in on (TcpTransport.reply), only from the peer's advertised host, and
 * falls back to its own link when that connection is gone; a link is redialled
 * only when a request of ours went unanswered (never for answers we sent).
 */
import type net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RaftWireMessage } from '../../src/net/forward-codec.js';
import { ReplyPath, type TcpAddress, type TcpSendResult, type TcpTransport } from '../../src/net/tcp.js';
import { StaticPeerDirectory } from '../../src/node/peers.js';
import { RaftPeerLinks } from '../../src/node/raft-peer-links.js';
import type { Logger } from '../../src/node/log.js';
import type { RaftMessage } from '../../src/raft/messages.js';

function setup(core: (() => unknown) | null = null) {
  const calls: string[] = [];
  const fake = {
    send: (to: TcpAddress, m: RaftWireMessage): TcpSendResult => {
      calls.push(`send ${m.type} ${to.host}:${to.port}`);
      return 'queued';
    },
    reply: (via: ReplyPath, m: RaftWireMessage): TcpSendResult => {
      if (!via.open) return 'closed';
      calls.push(`reply ${m.type} ${via.remoteHost}`);
      return 'queued';
    },
    ensureLink: (to: TcpAddress) => calls.push(`ensure ${to.host}:${to.port}`),
    peerAlive: () => false,
    reset: (to: TcpAddress) => {
      calls.push(`reset ${to.host}:${to.port}`);
      return true;
    },
  };
  const peers = new StaticPeerDirectory([
    {
      id: 'L',
      name: 'L',
      deviceClass: 'standard',
      status: 'alive',
      apiAddr: null,
      raftAddr: '10.0.0.1:5558',
      raftRole: 'leader',
    },
  ]);
  const links = new RaftPeerLinks({
    peers,
    core: (core ?? (() => null)) as ConstructorParameters<typeof RaftPeerLinks>[0]['core'],
    transport: () => fake as unknown as TcpTransport<RaftWireMessage>,
    clusterId: () => 'c1',
    stopping: () => false,
    electionTimeoutMs: 1500,
    log: { debug: () => {} } as unknown as Logger,
    kick: () => {},
  });
  return { links, calls };
}

const path = (host: string): ReplyPath => new ReplyPath({ remoteAddress: host } as net.Socket);
const hbr: RaftMessage = { type: 'heartbeat_response', from: 'F', to: 'L', term: 2, readCtx: 0 };
const vote: RaftMessage = {
  type: 'request_vote',
  from: 'F',
  to: 'L',
  term: 3,
  lastLogIndex: 1,
  lastLogTerm: 1,
  preVote: true,
  transfer: false,
} as RaftMessage;

describe('RaftPeerLinks answers', () => {
  it('go back on the connection the request came in on; our own link is kept (dialled, unused)', () => {
    const { links, calls } = setup();
    links.heard('L', path('::ffff:10.0.0.1'));
    links.send(hbr);
    expect(calls).toEqual(['reply heartbeat_response 10.0.0.1', 'ensure 10.0.0.1:5558']);
  });

  it('a request of our own still goes on our own link', () => {
    const { links, calls } = setup();
    links.heard('L', path('10.0.0.1'));
    links.send(vote);
    expect(calls).toEqual(['send request_vote 10.0.0.1:5558']);
  });

  it('not over a connection from another host than the peer advertises (an id claimed by anyone)', () => {
    const { links, calls } = setup();
    links.heard('L', path('10.0.0.66'));
    links.send(hbr);
    expect(calls).toEqual(['send heartbeat_response 10.0.0.1:5558']);
  });

  it('falls back to our own link once that connection closed', () => {
    const { links, calls } = setup();
    const via = path('10.0.0.1');
    links.heard('L', via);
    via.socket = null;
    links.send(hbr);
    expect(calls).toEqual(['send heartbeat_response 10.0.0.1:5558']);
  });
});

describe('RaftPeerLinks silent-link redial', () => {
  const conf = () => ({ confState: { voters: ['F', 'L'], learners: [] } });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('redials a peer that has not answered our request for an election timeout', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { links, calls } = setup(conf);
    links.heard('L');
    vi.setSystemTime(1_000_100);
    links.send(vote);
    links.resetSilentLinks(1_000_000 + 60_000);
    expect(calls).toContain('reset 10.0.0.1:5558');
  });

  it('leaves alone a peer we only answered (an old leader, now silent for good)', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { links, calls } = setup(conf);
    links.heard('L', path('10.0.0.1'));
    vi.setSystemTime(1_000_100);
    links.send(hbr);
    links.resetSilentLinks(1_000_000 + 60_000);
    expect(calls.filter((c) => c.startsWith('reset'))).toEqual([]);
  });
});
