/**
 * Multicast discovery between two network namespaces joined by a veth pair.
 * The test creates the namespaces (unique names with our pid), routes
 * 224.0.0.0/4 to the veth inside each, runs one discovery peer per namespace
 * (test/net/fixtures/mcast-peer.ts, using UdpTransport), and removes the
 * namespaces afterwards even on failure. Nothing is sent outside them: the
 * veth pair is created directly inside the namespaces.
 * Skipped, with the reason in the title, where `ip netns add` is not permitted.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ip, probeNetns } from '../helpers/netns.js';

const pid = process.pid;
const NS = [`swnet${pid}a`, `swnet${pid}b`] as const;
const VETH = [`swa${pid}`, `swb${pid}`] as const;
const SUBNET = `10.${200 + (pid % 50)}.${pid % 250}`;
const ADDR = [`${SUBNET}.1`, `${SUBNET}.2`] as const;
const GROUP = '239.255.77.77';
const MCAST_PORT = 25556;
const KEY = Buffer.alloc(32, 7).toString('base64');
const PEER = fileURLToPath(new URL('./fixtures/mcast-peer.ts', import.meta.url));

const skipReason = probeNetns(`swnetprobe${pid}`);
if (skipReason !== null) {
  process.stderr.write(`multicast-netns: SKIPPED, \`ip netns add\` is not permitted here (${skipReason})\n`);
}
const children: number[] = [];

function cleanup(): void {
  for (const p of children.splice(0)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // Already exited.
    }
  }
  for (const ns of NS) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // Not created (setup failed early) or already gone.
    }
  }
}

afterAll(cleanup);

function setup(): void {
  for (const ns of NS) ip('netns', 'add', ns);
  // Both ends are born inside their namespaces: the host's interfaces never see them.
  ip('link', 'add', VETH[0], 'netns', NS[0], 'type', 'veth', 'peer', 'name', VETH[1], 'netns', NS[1]);
  NS.forEach((ns, i) => {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${ADDR[i]}/24`, 'dev', VETH[i] as string);
    ip('-n', ns, 'link', 'set', VETH[i] as string, 'up');
    ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', VETH[i] as string);
  });
}

interface PeerReport {
  id: string;
  heardAnnounce: string[];
  heardReply: string[];
  stats: { droppedUnauthenticated: number; packetsOut: number };
}

function runPeer(
  ns: string,
  id: string,
  address: string,
  key: string,
  deadlineMs = 6000,
): Promise<PeerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '--import',
        'tsx',
        PEER,
        id,
        address,
        GROUP,
        String(MCAST_PORT),
        key,
        String(deadlineMs),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (child.pid) children.push(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as PeerReport);
      } catch {
        reject(new Error(`peer ${id} exited ${code}: ${err.slice(-2000)}`));
      }
    });
  });
}

const title = 'two namespaces discover each other by multicast announce and unicast reply (encrypted)';

describe('multicast discovery between network namespaces', () => {
  it.skipIf(skipReason !== null)(
    skipReason === null ? title : `${title} [SKIPPED: ip netns add not permitted: ${skipReason}]`,
    async () => {
      try {
        setup();
        const [a, b] = await Promise.all([
          runPeer(NS[0], 'ns-a', ADDR[0], KEY),
          runPeer(NS[1], 'ns-b', ADDR[1], KEY),
        ]);
        expect(a.heardAnnounce).toEqual(['ns-b']);
        expect(b.heardAnnounce).toEqual(['ns-a']);
        expect(a.heardReply).toEqual(['ns-b']);
        expect(b.heardReply).toEqual(['ns-a']);
        expect(a.stats.droppedUnauthenticated + b.stats.droppedUnauthenticated).toBe(0);
      } finally {
        cleanup();
      }
    },
    40_000,
  );

  it.skipIf(skipReason !== null)(
    'a peer with another swarm key is not discovered (its announces are dropped)',
    async () => {
      try {
        setup();
        const other = Buffer.alloc(32, 8).toString('base64');
        const [a, b] = await Promise.all([
          runPeer(NS[0], 'ns-a', ADDR[0], KEY, 2000),
          runPeer(NS[1], 'ns-b', ADDR[1], other, 2000),
        ]);
        expect(a.heardAnnounce).toEqual([]);
        expect(b.heardAnnounce).toEqual([]);
        expect(a.stats.droppedUnauthenticated).toBeGreaterThan(0);
        expect(b.stats.droppedUnauthenticated).toBeGreaterThan(0);
      } finally {
        cleanup();
      }
    },
    40_000,
  );
});
