/**
 * Energy accounting of the protocol itself: what the packets, bytes and
 * fsyncs the node performs are estimated to cost, per device class.
 *
 * The costs are estimates (docs/energy.md, "Protocol costs", gives the
 * derivation): a fixed per-packet cost (radio wake-up, channel access,
 * preamble, ACK, the kernel's network path) plus a per-byte cost (airtime
 * at the radio's active power), and a per-fsync cost (storage busy time at
 * its active power, CPU waiting). They attribute a share of the measured or
 * modelled total; they are not added on top of it.
 */
import type { DeviceClass } from './profiles.js';

export interface ProtocolCosts {
  /** J per UDP/TCP packet sent. */
  readonly packetSentJ: number;
  /** J per packet received. */
  readonly packetReceivedJ: number;
  /** J per payload byte, sent or received. */
  readonly byteJ: number;
  /** J per fsync of the Raft log. */
  readonly fsyncJ: number;
}

export const PROTOCOL_COSTS: Readonly<Record<DeviceClass, ProtocolCosts>> = {
  // Pi 4 class: CYW43455 Wi-Fi at ~100 Mbit/s, SD card or USB SSD.
  full: { packetSentJ: 100e-6, packetReceivedJ: 60e-6, byteJ: 0.03e-6, fsyncJ: 1e-3 },
  // Pi Zero 2 W class: 2.4 GHz-only radio at ~30 Mbit/s, SD card on a slower bus.
  standard: { packetSentJ: 150e-6, packetReceivedJ: 80e-6, byteJ: 0.08e-6, fsyncJ: 1.5e-3 },
  // ESP32 class: radio wakes from modem sleep per packet; SPI NOR flash with amortised erases.
  minimal: { packetSentJ: 500e-6, packetReceivedJ: 200e-6, byteJ: 0.2e-6, fsyncJ: 1e-3 },
};

/** Cumulative protocol counters since the node started. */
export interface ProtocolCounters {
  readonly packetsSent: number;
  readonly packetsReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly fsyncs: number;
}

export const ZERO_PROTOCOL_COUNTERS: ProtocolCounters = {
  packetsSent: 0,
  packetsReceived: 0,
  bytesSent: 0,
  bytesReceived: 0,
  fsyncs: 0,
};

/** Estimated joules for a batch of protocol activity. */
export function protocolJoules(c: ProtocolCounters, costs: ProtocolCosts): number {
  return (
    c.packetsSent * costs.packetSentJ +
    c.packetsReceived * costs.packetReceivedJ +
    (c.bytesSent + c.bytesReceived) * costs.byteJ +
    c.fsyncs * costs.fsyncJ
  );
}

/**
 * Difference of two cumulative readings. A counter that went backwards was
 * reset (a restarted component), so its current value is the whole delta.
 */
export function counterDelta(prev: ProtocolCounters, cur: ProtocolCounters): ProtocolCounters {
  const d = (a: number, b: number): number => (b >= a ? b - a : b);
  return {
    packetsSent: d(prev.packetsSent, cur.packetsSent),
    packetsReceived: d(prev.packetsReceived, cur.packetsReceived),
    bytesSent: d(prev.bytesSent, cur.bytesSent),
    bytesReceived: d(prev.bytesReceived, cur.bytesReceived),
    fsyncs: d(prev.fsyncs, cur.fsyncs),
  };
}
