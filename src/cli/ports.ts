/**
 * Free loopback ports for processes this CLI (or a benchmark) is about to
 * start. Probing leaves a small race: the caller retries if a port is taken
 * between the probe and its own bind.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that nobody listens on right now. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port free for TCP and UDP on loopback right now (gossip uses UDP; a tiny race remains). */
export async function freePort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await freeTcpPort();
    if (!taken.has(p) && (await udpFree(p))) {
      taken.add(p);
      return p;
    }
  }
  throw new Error('could not find a free loopback port');
}
