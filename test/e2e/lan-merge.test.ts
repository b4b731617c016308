/**
 * Issue #13 on the LAN rig (test/helpers/lan-rig.ts): clusters that meet and
 * a host that must not join, every node on the DEFAULT config (no config
 * file, default ports), started by `swarm node start --name hN` in its
 * namespace and driven only through the CLI there. 1% loss per host
 * (nftables); no added delay (no netem on this kernel; delay is modelled in
 * the simulator).
 *
 *   6. two groups formed apart (the LAN split in two: group A = hosts 0,1 on
 *      one bridge, group B = hosts 2,3 on another) each take writes, one key
 *      on both sides; then the LAN heals. Eventually one cluster of 4 and
 *      every acknowledged key on every host; the key written on both sides
 *      holds one value everywhere (the winner's, where /v1/status names a
 *      cluster id to tell the winner by) and the conflict is reported in
 *      /v1/status `merge`.
 *   7. a host with the wrong swarm key (SWARM_SECURITY__SWARM_KEY, keys from
 *      `swarm keygen`) is refused and reported: a good host's
 *      `swarm swarm status --json` lists it in `security.refused_peers` with a
 *      cause naming the swarm key, and it never becomes a member.
 *
 * Skipped, with the reason in the title, where `ip netns add` is not permitted.
 * Needs `npm run build`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LanRig, rigSkipReason, waitFor, type HostStatus, type SwarmStatusJson } from '../helpers/lan-rig.js';
import { netnsSkipReason, netnsTitle } from '../helpers/netns.js';

const skipReason = netnsSkipReason('lan-merge') ?? rigSkipReason('lan-merge');
const merge = new LanRig({ tag: 'lrj', hosts: 4 });
const keyed = new LanRig({ tag: 'lrk', hosts: 4 });
afterAll(() => {
  merge.cleanup();
  keyed.cleanup();
});

const A = [0, 1];
const B = [2, 3];
const ALL = [0, 1, 2, 3];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `swarm kv put` on host i, retried as a user would (up to 3 tries); true when acknowledged. */
async function putRetry(rig: LanRig, i: number, key: string, value: string): Promise<boolean> {
  for (let k = 0; k < 3; k++) {
    if ((await rig.put(i, key, value)).ok) return true;
    await sleep(2000);
  }
  return false;
}

function clusterId(s: HostStatus | null): string | null {
  const v = s?.cluster_id;
  return typeof v === 'string' && v !== '' ? v : null;
}

describe('LAN merge and refusal with the default config (issue #13)', () => {
  it.skipIf(skipReason !== null)(
    netnsTitle('6. two groups formed apart merge when the LAN heals, no acknowledged key lost', skipReason),
    async () => {
      await merge.withLogs(async () => {
        await merge.setup();
        merge.split([A, B]);
        await merge.startAll(ALL);
        const la = await merge.waitLeader(A, 60_000, (l) => l.voters.length === 2);
        const lb = await merge.waitLeader(B, 60_000, (l) => l.voters.length === 2);
        const cidA = clusterId(await merge.nodeStatus(la.host));
        const cidB = clusterId(await merge.nodeStatus(lb.host));
        console.log(
          `lan-merge: group A led by host ${la.host} (cluster ${cidA}), group B by host ${lb.host} (cluster ${cidB})`,
        );

        // Every host writes its own key through its CLI; both leaders write the shared key.
        const acked = new Map<string, string>();
        for (const i of ALL) {
          const key = `merge/h${i}`;
          if (await putRetry(merge, i, key, `v${i}`)) acked.set(key, `v${i}`);
        }
        const both = 'merge/both';
        const okA = await putRetry(merge, la.host, both, 'from-A');
        const okB = await putRetry(merge, lb.host, both, 'from-B');
        console.log(
          `lan-merge: acknowledged before the heal: ${[...acked.keys()].join(', ')}; ${both}: A ${okA}, B ${okB}`,
        );
        // At least each leader's own write must have been acknowledged, or the case proves nothing.
        expect(acked.has(`merge/h${la.host}`) && acked.has(`merge/h${lb.host}`) && okA && okB).toBe(true);

        merge.joinAll();
        const ids = ALL.map((i) => merge.id(i)).sort();
        const one = await merge.waitLeader(
          ALL,
          180_000,
          (l) => [...l.voters, ...l.learners].sort().join() === ids.join(),
        );
        console.log(
          `lan-merge: one cluster led by host ${one.host}: ${one.voters.length} voters, ${one.learners.length} learners`,
        );

        // Every acknowledged key, on every host, through its own CLI (retried while re-proposals land).
        for (const i of ALL) {
          for (const [key, value] of acked) {
            const got = await waitFor(
              `${key} = ${value} on host ${i}`,
              async () => ((await merge.get(i, key)) === value ? true : null),
              60_000,
              1000,
            ).catch(async () => merge.get(i, key));
            expect(got, `${key} on host ${i}`).toBe(true);
          }
        }
        const values = await Promise.all(ALL.map((i) => merge.get(i, both)));
        expect(
          new Set(values.map(String)).size,
          `${both} on every host: ${values.map(String).join(', ')}`,
        ).toBe(1);
        expect(['from-A', 'from-B']).toContain(values[0]);
        const cidNow = clusterId(await merge.nodeStatus(one.host));
        if (cidA !== null && cidB !== null && cidNow !== null) {
          // The cluster that did not yield keeps its id; its value wins the conflict.
          expect([cidA, cidB]).toContain(cidNow);
          expect(values[0]).toBe(cidNow === cidA ? 'from-A' : 'from-B');
        }
        // The conflict is reported, not silently dropped: some host's /v1/status `merge` names the key.
        const reports = await Promise.all(ALL.map((i) => merge.nodeStatus(i)));
        const mergeReports = reports.map((s) => JSON.stringify(s?.merge ?? null));
        expect(
          mergeReports.some((m) => m.includes(both)),
          `/v1/status merge of every host: ${mergeReports.join(' | ')}`,
        ).toBe(true);
      });
    },
    600_000,
  );

  it.skipIf(skipReason !== null)(
    netnsTitle(
      '7. a host with the wrong swarm key is refused, reported in security.refused_peers, never a member',
      skipReason,
    ),
    async () => {
      await keyed.withLogs(async () => {
        await keyed.setup();
        const k1 = (await keyed.swarm(0, ['keygen'])).stdout.trim();
        const k2 = (await keyed.swarm(3, ['keygen'])).stdout.trim();
        expect(k1).toMatch(/^[A-Za-z0-9+/]{43}=$/);
        expect(k2).not.toBe(k1);
        for (const i of [0, 1, 2]) keyed.setEnv(i, { SWARM_SECURITY__SWARM_KEY: k1 });
        keyed.setEnv(3, { SWARM_SECURITY__SWARM_KEY: k2 });
        await keyed.startAll(ALL);
        const bad = keyed.id(3);
        const badAddr = keyed.addr(3);

        const refusedOn = (s: SwarmStatusJson | null): unknown[] =>
          s?.security?.refused_peers ?? s?.status?.security?.refused_peers ?? [];
        const report = await waitFor(
          'a good host to report the wrong-key host in security.refused_peers',
          async () => {
            for (const i of [0, 1, 2]) {
              const s = await keyed.swarmStatus(i);
              const hit = refusedOn(s).find((p) => JSON.stringify(p).includes(badAddr));
              if (hit !== undefined) return { host: i, entry: hit };
            }
            return null;
          },
          90_000,
          1000,
        );
        console.log(`lan-merge: host ${report.host} reports ${JSON.stringify(report.entry)}`);
        expect(JSON.stringify(report.entry)).toMatch(/swarm[ _-]?key/i);

        // Over a while (and with the good hosts' cluster formed, where formation works), the
        // wrong-key host is in no good host's gossip view nor Raft configuration.
        await keyed.waitLeader([0, 1, 2], 60_000, (l) => l.voters.length === 3).catch(() => null);
        for (let round = 0; round < 5; round++) {
          for (const i of [0, 1, 2]) {
            const s = await keyed.swarmStatus(i);
            expect(s, `swarm status of host ${i}`).not.toBeNull();
            expect(
              s!.members.map((m) => m.id),
              `members seen by host ${i}`,
            ).not.toContain(bad);
            expect([...s!.status.voters, ...s!.status.learners], `raft members of host ${i}`).not.toContain(
              bad,
            );
          }
          await sleep(2000);
        }
      });
    },
    300_000,
  );
});
