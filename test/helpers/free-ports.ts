/**
 * Loopback UDP ports free right now (bound to port 0, then released), for a
 * daemon's gossip port that must be known before it starts (join lists, a
 * restart on the same port). A daemon binds one a moment later; loopback only.
 */
import { createSocket } from 'node:dgram';

/** `n` distinct ports: all are held at once before any is released. */
export async function freeUdpPorts(n: number): Promise<number[]> {
  const socks = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createSocket>>((resolve) => {
          const s = createSocket('udp4');
          s.bind(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = socks.map((s) => s.address().port);
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}
