/**
 * The LAN rig itself (test/helpers/lan-rig.ts, issue #13): three hosts
 * (network namespaces on one bridge) running nodes with the DEFAULT config
 * (no config file, default ports and multicast group), started by
 * `swarm node start` inside each namespace. Checks what every other lan-*
 * test relies on: the nodes find each other by multicast alone across
 * namespaces, the 1% loss rule drops packets, a cut cable isolates a host and
 * `cleanup` leaves no namespace, nft table or daemon behind.
 * The rig adds no delay (this kernel has no netem); delay is modelled in the simulator.
 * Skipped, with the reason in the title, where `ip netns add` is not permitted.
 * Needs `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LanRig, rigSkipReason, waitFor } from '../helpers/lan-rig.js';
import { netnsSkipReason, netnsTitle } from '../helpers/netns.js';

const skipReason = netnsSkipReason('lan-rig') ?? rigSkipReason('lan-rig');
const rig = new LanRig({ tag: 'lrr', hosts: 3 });
afterAll(() => rig.cleanup());

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'pipe'] })
    .toString()
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n !== '');
}

const title =
  'three default-config nodes discover each other by multicast across namespaces; loss applied; cleanup';

describe('LAN rig', () => {
  it.skipIf(skipReason !== null)(
    netnsTitle(title, skipReason),
    async () => {
      await rig.withLogs(async () => {
        await rig.setup();
        // Hosts 0 and 1 have no config file (a fresh install); host 2 has exactly what
        // `swarm config init` writes. Either way every key is at its default.
        await rig.configInit(2);
        const paths = await Promise.all([0, 1, 2].map((i) => rig.swarm(i, ['config', 'path'])));
        for (const p of paths) expect(p.code).toBe(0);
        for (const i of [0, 1]) expect(existsSync(paths[i]!.stdout.trim()), paths[i]!.stdout).toBe(false);
        expect(existsSync(paths[2]!.stdout.trim()), paths[2]!.stdout).toBe(true);

        // The loss rule: of 3000 datagrams host 0 sends host 1, about 1% are dropped on
        // arrival (P(none) ~ 1e-13), and far from all.
        const before = rig.lossDrops(1);
        rig.blast(0, 1, 3000);
        const dropped = rig.lossDrops(1) - before;
        console.log(`lan-rig: the loss rule dropped ${dropped} of 3000 datagrams`);
        expect(dropped).toBeGreaterThan(0);
        expect(dropped).toBeLessThan(150);

        const started = await rig.startAll([0, 1, 2]);
        const ids = started.map((s) => s.id).sort();
        // Same default ports on every host: only the namespaces keep them apart.
        for (let i = 0; i < 3; i++) {
          const st = await waitFor(`host ${i} status`, () => rig.nodeStatus(i), 30_000);
          expect(st.addresses).toMatchObject({ api: expect.stringContaining(':5557') as unknown });
        }
        for (let i = 0; i < 3; i++) {
          const view = await waitFor(
            `host ${i} to see all three alive by multicast`,
            async () => {
              const s = await rig.swarmStatus(i);
              const alive = s?.members.filter((x) => x.status === 'alive').map((x) => x.id) ?? [];
              return alive.length === 3 ? s : null;
            },
            60_000,
          );
          expect(view.multicast).toBe(true);
          expect(view.members.map((x) => x.id).sort()).toEqual(ids);
          for (const x of view.members) expect(x.addresses.gossip).toBe(`${rig.addr(rig.hostOf(x.id))}:5555`);
        }

        // A cut cable: the others stop hearing host 2 (suspect or dead in their view).
        rig.cut(2);
        await waitFor(
          'host 0 to stop seeing host 2 alive after its cable is cut',
          async () => {
            const s = await rig.swarmStatus(0);
            const x = s?.members.find((y) => y.id === rig.id(2));
            return x && x.status !== 'alive' ? x : null;
          },
          60_000,
        );
        rig.restore(2);

        const pids = [0, 1, 2].map((i) => rig.pid(i)!);
        const mine = namespaces().filter((n) => rig.lab.ns.includes(n) || n === rig.lab.hub);
        expect(mine.length).toBe(4);
        rig.cleanup();
        expect(namespaces().filter((n) => rig.lab.ns.includes(n) || n === rig.lab.hub)).toEqual([]);
        for (const p of pids) {
          await waitFor(`daemon ${p} gone`, async () => (isGone(p) ? true : null), 10_000, 50);
        }
      });
    },
    240_000,
  );
});

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
