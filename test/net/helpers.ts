/** Bounded polling for asynchronous socket delivery (a deadline, never a timing assertion). */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A `[network]` section for transports in tests: loopback, port 0, multicast off (joining would send IGMP on a real interface). */
export const LOOPBACK_NETWORK = {
  bind_address: '127.0.0.1',
  gossip_port: 0,
  multicast_group: '239.255.255.250',
  multicast_port: 5556,
  multicast_enabled: false,
};
