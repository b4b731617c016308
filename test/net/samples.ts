/**
 * One representative value of every wire message type: the source of the
 * test vectors in docs/protocol.md (test/net/gen-protocol-doc.ts) and the
 * seed corpus of the fuzz test. Small on purpose, so the hex stays readable.
 */
import type { GossipMessage, MemberRecord } from '../../src/gossip/messages.js';
import type { ForwardMessage } from '../../src/net/forward-codec.js';
import type { ClusterRaftMessage as RaftMessage } from '../../src/net/raft-codec.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

const memberA: MemberRecord = {
  id: 'a',
  name: 'node-a',
  host: '10.0.0.1',
  port: 5555,
  deviceClass: 'standard',
  incarnation: 3,
  status: 0,
  meta: { api: '10.0.0.1:8080', raft: 'leader', powerW: 2.5, battery: 80, powerState: 'normal', rating: 'A' },
};

const memberB: MemberRecord = {
  id: 'b',
  name: 'sensor',
  host: '10.0.0.2',
  port: 5555,
  deviceClass: 'minimal',
  incarnation: 0,
  status: 1,
  meta: { tags: { room: 'lab' } },
};

export const gossipSamples: readonly GossipMessage[] = [
  {
    type: 'ping',
    from: 'a',
    seq: 7,
    target: 'b',
    updates: [
      { kind: 'suspect', id: 'c', incarnation: 2, from: 'a' },
      { kind: 'left', id: 'd', incarnation: 9 },
    ],
  },
  {
    type: 'ping-req',
    from: 'a',
    seq: 8,
    target: 'c',
    targetHost: '10.0.0.3',
    targetPort: 5555,
    wantNack: true,
    updates: [],
  },
  {
    type: 'ack',
    from: 'b',
    seq: 7,
    target: 'b',
    updates: [{ kind: 'dead', id: 'c', incarnation: 2, from: 'b' }],
  },
  { type: 'nack', from: 'b', seq: 8, target: 'c' },
  {
    type: 'gossip',
    from: 'a',
    updates: [{ kind: 'alive', member: memberB }],
    events: [{ origin: 'a', seq: 1, name: 'meta', payload: bytes(1, 2, 3) }],
  },
  {
    type: 'pp-digest',
    from: 'a',
    exchange: 42,
    reply: false,
    join: true,
    part: 0,
    parts: 1,
    rangeStart: '',
    rangeEnd: '',
    entries: [
      { id: 'a', incarnation: 3, status: 0 },
      { id: 'b', incarnation: 0, status: 1 },
    ],
    events: [{ origin: 'a', seq: 1 }],
  },
  { type: 'pp-request', from: 'b', exchange: 42, ids: ['a'] },
  { type: 'pp-response', from: 'a', exchange: 42, members: [memberA], events: [] },
  {
    type: 'ev-push',
    from: 'a',
    events: [{ origin: 'c', seq: 300, name: 'broadcast', payload: bytes(0xca, 0xfe) }],
    hops: [2],
  },
  { type: 'ihave', from: 'a', ids: [{ origin: 'c', seq: 301 }] },
  { type: 'prune', from: 'b' },
  { type: 'graft', from: 'b', ids: [{ origin: 'c', seq: 301 }] },
  { type: 'announce', from: 'b', member: memberB, cluster: 'swarm' },
  { type: 'announce-reply', from: 'a', member: memberA, cluster: 'swarm' },
  { type: 'leave', from: 'b', incarnation: 4 },
  { type: 'user-event', from: 'b', event: { origin: 'b', seq: 1, name: 'temp', payload: bytes(0x15) } },
  { type: 'pp-sum', from: 'a', exchange: 43, members: 2, hash: 0xad8bf0f0 },
];

export const raftSamples: readonly RaftMessage[] = [
  {
    type: 'request_vote',
    from: 'n1',
    to: 'n2',
    term: 5,
    cluster: 'c1',
    lastLogIndex: 120,
    lastLogTerm: 4,
    preVote: true,
    transfer: false,
  },
  {
    type: 'request_vote_response',
    from: 'n2',
    to: 'n1',
    term: 5,
    cluster: 'c1',
    granted: true,
    preVote: true,
  },
  {
    type: 'append_entries',
    from: 'n1',
    to: 'n2',
    term: 5,
    cluster: 'c1',
    prevLogIndex: 120,
    prevLogTerm: 4,
    entries: [
      { index: 121, term: 5, type: 0, data: bytes() },
      { index: 122, term: 5, type: 0, data: bytes(0x6b, 0x76) },
    ],
    commit: 119,
  },
  {
    type: 'append_entries_response',
    from: 'n2',
    to: 'n1',
    term: 5,
    cluster: 'c1',
    success: false,
    matchIndex: 0,
    rejectedIndex: 120,
    conflictTerm: 3,
    conflictIndex: 100,
    lastLogIndex: 110,
  },
  { type: 'heartbeat', from: 'n1', to: 'n3', term: 5, cluster: 'c1', commit: 122, readCtx: 17 },
  { type: 'heartbeat_response', from: 'n3', to: 'n1', term: 5, cluster: 'c1', readCtx: 17, recovering: true },
  {
    type: 'install_snapshot',
    from: 'n1',
    to: 'n3',
    term: 5,
    cluster: 'c1',
    meta: { index: 100, term: 3, conf: { voters: ['n1', 'n2', 'n3'], learners: ['m1'] } },
    totalBytes: 6,
    offset: 2,
    crc: 0x1c291ca3,
    data: bytes(0x6b, 0x01),
  },
  {
    type: 'install_snapshot_response',
    from: 'n3',
    to: 'n1',
    term: 5,
    cluster: 'c1',
    matchIndex: 0,
    snapshotIndex: 100,
    nextOffset: 4,
  },
  { type: 'timeout_now', from: 'n1', to: 'n2', term: 5, cluster: 'c1' },
];

export const forwardSamples: readonly ForwardMessage[] = [
  {
    type: 'fwd_req',
    from: 'n2',
    to: 'n1',
    term: 5,
    id: 9,
    op: 'put',
    key: 'k',
    value: '{"t":21.5}',
    prevRevision: 3,
    heir: false,
  },
  {
    type: 'fwd_resp',
    from: 'n1',
    to: 'n2',
    term: 5,
    id: 9,
    code: 'ok',
    message: '',
    leader: null,
    successor: null,
    revision: 4,
    deleted: false,
  },
];
