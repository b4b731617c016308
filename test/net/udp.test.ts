import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { GossipMessage } from '../../src/gossip/messages.js';
import { Keyring } from '../../src/net/crypto.js';
import { TransportError } from '../../src/net/errors.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { UdpTransport, type UdpAddress } from '../../src/net/udp.js';
import { waitFor } from './helpers.js';
import { gossipSamples } from './samples.js';

interface Received {
  msg: GossipMessage;
  from: UdpAddress;
}

const open: UdpTransport<GossipMessage>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function node(keyring: Keyring | null = null, onError?: (e: Error) => void) {
  const inbox: Received[] = [];
  const t = await UdpTransport.open<GossipMessage>({
    codec: gossipCodec,
    bindAddress: '127.0.0.1',
    port: 0,
    keyring,
    onMessage: (msg, from) => {
      if (msg.type === 'prune' && msg.from === 'explode') throw new Error('handler bug');
      inbox.push({ msg, from });
    },
    ...(onError ? { onError } : {}),
  });
  open.push(t);
  return { t, inbox };
}

function rawSend(to: UdpAddress, bytes: Uint8Array): Promise<void> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => s.send(bytes, to.port, to.address, () => s.close(() => resolve())));
}

describe('UdpTransport on loopback', () => {
  it('delivers typed messages with the sender address and counts packets and bytes', async () => {
    const a = await node();
    const b = await node();
    for (const m of gossipSamples) expect(a.t.send(m, b.t.address())).toBe('sent');
    await waitFor(() => b.inbox.length === gossipSamples.length, 'all samples');
    expect(b.inbox.map((r) => r.msg)).toEqual(gossipSamples);
    expect(b.inbox[0]?.from).toEqual(a.t.address());
    const sa = a.t.stats();
    const sb = b.t.stats();
    expect(sa.packetsOut).toBe(gossipSamples.length);
    expect(sb.packetsIn).toBe(gossipSamples.length);
    expect(sb.bytesIn).toBe(sa.bytesOut);
    expect(sb.bytesIn).toBeGreaterThan(0);
  });

  it('refuses to send more than 1,400 bytes and counts it', async () => {
    const a = await node();
    const b = await node();
    const big: GossipMessage = {
      type: 'user-event',
      from: 'a',
      event: { origin: 'a', seq: 1, name: 'x', payload: new Uint8Array(1500) },
    };
    expect(a.t.send(big, b.t.address())).toBe('oversize');
    // A payload that fits plaintext but not once encryption adds its 29 bytes.
    const edge: GossipMessage = { ...big, event: { ...big.event, payload: new Uint8Array(1380) } };
    expect(gossipCodec.encode(edge).length).toBeLessThanOrEqual(1400);
    const keyed = await node(new Keyring(new Uint8Array(32)));
    expect(keyed.t.send(edge, b.t.address())).toBe('oversize');
    expect(a.t.stats()).toMatchObject({ droppedOversize: 1, packetsOut: 0 });
    expect(keyed.t.stats().dropped.oversize).toBe(1);
    // An oversize datagram arriving is dropped too.
    await rawSend(b.t.address(), new Uint8Array(1401));
    await waitFor(() => b.t.stats().droppedOversize === 1, 'oversize receive counted');
  });

  it('drops and counts garbage, and keeps serving afterwards', async () => {
    const b = await node();
    const to = b.t.address();
    await rawSend(to, Uint8Array.of(0x01, 0x01, 0xc1));
    await rawSend(to, Uint8Array.of(0x07, 0x07));
    await rawSend(to, Uint8Array.of(0x01, 0x01, 0x90));
    await rawSend(to, new Uint8Array(0));
    await waitFor(() => b.t.stats().droppedMalformed === 4, 'garbage counted');
    const s = b.t.stats().dropped;
    expect(s).toMatchObject({ bad_msgpack: 1, bad_version: 1, invalid_field: 1, empty: 1 });
    await rawSend(to, gossipCodec.encode({ type: 'prune', from: 'ok' }));
    await waitFor(() => b.inbox.length === 1, 'valid message after garbage');
  });

  it('a throwing handler is reported, not fatal', async () => {
    const errors: Error[] = [];
    const b = await node(null, (e) => errors.push(e));
    const a = await node();
    a.t.send({ type: 'prune', from: 'explode' }, b.t.address());
    a.t.send({ type: 'prune', from: 'fine' }, b.t.address());
    await waitFor(() => b.inbox.length === 1, 'message after the throw');
    expect(errors.map((e) => e.message)).toEqual(['handler bug']);
  });

  it('drops plaintext at a keyed node, ciphertext at an unkeyed one, and wrong keys', async () => {
    const k1 = new Keyring(new Uint8Array(32).fill(1));
    const k2 = new Keyring(new Uint8Array(32).fill(2));
    const keyed = await node(k1);
    const plain = await node();
    const other = await node(k2);
    const peer = await node(new Keyring(new Uint8Array(32).fill(1)));
    const msg: GossipMessage = { type: 'leave', from: 'x', incarnation: 1 };
    plain.t.send(msg, keyed.t.address());
    keyed.t.send(msg, plain.t.address());
    other.t.send(msg, keyed.t.address());
    peer.t.send(msg, keyed.t.address());
    await waitFor(
      () => keyed.inbox.length === 1 && keyed.t.stats().droppedUnauthenticated === 2,
      'keyed drops',
    );
    await waitFor(() => plain.t.stats().droppedUnauthenticated === 1, 'plain drop');
    expect(keyed.t.stats().dropped).toMatchObject({ plaintext_rejected: 1, unauthenticated: 1 });
    expect(plain.t.stats().dropped.encrypted_rejected).toBe(1);
    expect(plain.inbox).toEqual([]);
    expect(keyed.t.encrypted()).toBe(true);
    // Turning encryption off at runtime takes effect on the next packet.
    keyed.t.setKeyring(null);
    plain.t.send(msg, keyed.t.address());
    await waitFor(() => keyed.inbox.length === 2, 'plaintext accepted after setKeyring(null)');
  });

  it('reports a taken port as a TransportError', async () => {
    const a = await node();
    await expect(
      UdpTransport.open({
        codec: gossipCodec,
        bindAddress: '127.0.0.1',
        port: a.t.address().port,
        onMessage: () => {},
      }),
    ).rejects.toThrow(TransportError);
  });

  it('refuses to send after close', async () => {
    const a = await node();
    const b = await node();
    await a.t.close();
    expect(a.t.send({ type: 'prune', from: 'a' }, b.t.address())).toBe('closed');
    await a.t.close();
  });
});
