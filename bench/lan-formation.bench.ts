/**
 * Formation, failover, rejoin and merge on the LAN rig (test/helpers/lan-rig.ts,
 * issue #13): hosts are network namespaces on one bridge, 1% loss on each
 * host's veth (nftables; NO added delay, this kernel has no netem: delay is
 * modelled in the simulator), every node on the DEFAULT config (no config
 * file, default ports, API on each host's 127.0.0.1), started by
 * `swarm node start --name hN` inside its namespace.
 *
 * Timestamps come from a poller inside each namespace reading its host's
 * own API every 20 ms (`LanRig.probe`), and writes from a writer there
 * (`LanRig.writeUntilAck`, a PUT retried every 20 ms), so figures are not
 * blurred by a CLI start-up; one wall clock serves every namespace.
 *
 * - formation (3 and 5 hosts, LAN_BENCH_TRIALS trials each): last
 *   `swarm node start` returned -> every host names the same leader, which
 *   says it leads. 'no leader within X s' when it never happens.
 * - failover after SIGKILL of the leader: kill -> first write acknowledged
 *   through a survivor's own API (every survivor tries at once).
 * - failover after a link cut (the leader's bridge port down): cut -> same.
 * - rejoin visibility: a SIGKILLed host (the killed leader, or host 2 when
 *   no leader formed: it is gossip only), seen down by the others, restarted
 *   (`swarm node start` issued) -> alive in every host's members view.
 * - merge: hosts {0,1} and {2} formed apart (two bridges), keys written on
 *   both sides (one on both), the LAN healed -> one cluster? keys lost (every
 *   acknowledged key read on every host, `swarm kv get --stale`), conflicts
 *   reported (hosts whose /v1/status `merge` names the shared key).
 * Bounded: every wait has a timeout, every process is killed by PID and every
 * namespace deleted. Needs root (`ip netns add`) and nft; else metrics are
 * null and details.skipped says why.
 */
import {
  LanRig,
  rigSkipReason,
  type AgreedLeader,
  type Probe,
  type ProbeSample,
} from '../test/helpers/lan-rig.js';
import { probeNetns } from '../test/helpers/netns.js';
import type { BenchGoal, BenchReport } from './types.js';

const TRIALS = Number(process.env.LAN_BENCH_TRIALS ?? 3);
const FORM_TIMEOUT_MS = Number(process.env.LAN_BENCH_FORM_TIMEOUT_S ?? 60) * 1000;
const FAILOVER_TIMEOUT_MS = 30_000;
const REJOIN_TIMEOUT_MS = 30_000;
const MERGE_TIMEOUT_MS = 120_000;
/** Subset to run while developing: `three` (formation, failovers, rejoin), `five`, `merge`. */
const PARTS = new Set((process.env.LAN_BENCH_PARTS ?? 'three,five,merge').split(',').map((x) => x.trim()));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let tagSeq = 0;
/** A tag per rig (`lb` + a letter): interface names stay unique even while an old namespace is torn down. */
const nextTag = (): string => `lb${String.fromCharCode(97 + (tagSeq++ % 26))}`;

/** The leader agreed in the latest samples of `probes`, with the time the agreement was first visible. */
function agreed(probes: readonly Probe[], rig: LanRig): { l: AgreedLeader; t: number } | null {
  const ss = probes.map((p) => p.latest);
  if (ss.some((s) => s === null || s.status === null)) return null;
  const st = (ss as ProbeSample[]).map((s) => s.status!);
  const leader = st[0]!.leader;
  if (leader === null || !st.every((s) => s.leader === leader && s.term === st[0]!.term)) return null;
  const lv = st.find((s) => s.id === leader);
  if (!lv || lv.role !== 'leader') return null;
  const t = Math.max(...(ss as ProbeSample[]).map((s) => s.t));
  return {
    l: { host: rig.hostOf(leader), id: leader, term: lv.term, voters: lv.voters, learners: lv.learners },
    t,
  };
}

async function waitAgreed(
  probes: readonly Probe[],
  rig: LanRig,
  timeoutMs: number,
  ok: (l: AgreedLeader) => boolean = () => true,
): Promise<{ l: AgreedLeader; t: number } | null> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const a = agreed(probes, rig);
    if (a && ok(a.l)) return a;
    await sleep(20);
  }
  return null;
}

/** Every survivor writes through its own API at once; ms from `t0` to the first acknowledgement, or null. */
async function firstAck(
  rig: LanRig,
  hosts: readonly number[],
  key: string,
  t0: number,
): Promise<number | null> {
  const acks = await Promise.all(hosts.map((i) => rig.writeUntilAck(i, key, `v${i}`, FAILOVER_TIMEOUT_MS)));
  const ts = acks.map((a) => a.t).filter((t): t is number => t !== null);
  return ts.length === 0 ? null : Math.min(...ts) - t0;
}

interface Trial3 {
  formation_ms: number | null;
  /** Last start until the agreed leader has all three hosts as voters. */
  three_voters_ms?: number;
  failover_sigkill_ms?: number | null;
  rejoin_visible_ms?: number | null;
  failover_link_cut_ms?: number | null;
  note?: string;
}

/**
 * Rejoin visibility of host `h`: SIGKILL it (if running), wait until every
 * other host sees it down, restart it, and time until every host sees it
 * alive. Gossip only, so it is measured whether or not a leader exists.
 */
async function rejoin(
  rig: LanRig,
  probes: readonly Probe[],
  h: number,
): Promise<{ ms: number | null; note?: string }> {
  const id = rig.id(h);
  const others = probes.map((_, i) => i).filter((i) => i !== h);
  await rig.kill(h);
  const seenDown = await Promise.all(
    others.map((i) => probes[i]!.next((s) => s.alive !== null && !s.alive.includes(id), REJOIN_TIMEOUT_MS)),
  );
  if (!seenDown.every((s) => s !== null)) {
    await rig.start(h);
    return { ms: null, note: 'the killed host was never seen down' };
  }
  // Listen before starting: the others may see it while the CLI is still returning.
  const seenP = Promise.all(
    probes.map((p) => p.next((s) => s.alive !== null && s.alive.includes(id), REJOIN_TIMEOUT_MS + 5000)),
  );
  // From the restart command (the user's action), so the node's own start-up counts.
  const tStart = Date.now();
  await rig.start(h);
  const seen = await seenP;
  return seen.every((s) => s !== null)
    ? { ms: Math.max(0, Math.max(...seen.map((s) => s!.t)) - tStart) }
    : { ms: null, note: 'not seen alive by every host' };
}

async function trial3(): Promise<Trial3> {
  const rig = new LanRig({ tag: nextTag(), hosts: 3 });
  try {
    await rig.setup();
    const probes = [0, 1, 2].map((i) => rig.probe(i, 20));
    await rig.startAll([0, 1, 2]);
    const tLast = Date.now();
    const f = await waitAgreed(probes, rig, FORM_TIMEOUT_MS);
    if (!f) {
      const r = await rejoin(rig, probes, 2);
      const note = [`no leader within ${FORM_TIMEOUT_MS / 1000} s`, r.note].filter(Boolean).join('; ');
      return { formation_ms: null, rejoin_visible_ms: r.ms, note };
    }
    const out: Trial3 = { formation_ms: Math.max(0, f.t - tLast) };
    // Failover needs a quorum of survivors: wait (bounded) until all three are voters.
    const full = await waitAgreed(probes, rig, FORM_TIMEOUT_MS, (l) => l.voters.length === 3);
    if (!full) {
      const r = await rejoin(rig, probes, 2);
      return { ...out, rejoin_visible_ms: r.ms, note: ['never 3 voters', r.note].filter(Boolean).join('; ') };
    }
    out.three_voters_ms = Math.max(0, full.t - tLast);

    // SIGKILL of the leader right after it is agreed (by 3 voters).
    const old = full.l.host;
    const rest = [0, 1, 2].filter((i) => i !== old);
    const tKill = Date.now();
    await rig.kill(old);
    out.failover_sigkill_ms = await firstAck(rig, rest, 'bench/failover-kill', tKill);

    // Rejoin of the killed leader (already down: `rejoin` waits until the others see it so).
    const r = await rejoin(rig, probes, old);
    out.rejoin_visible_ms = r.ms;
    if (r.note) out.note = r.note;

    // Link cut of the (possibly new) leader, once all three agree again.
    const g = await waitAgreed(probes, rig, FORM_TIMEOUT_MS);
    if (g) {
      const cutHost = g.l.host;
      const tCut = Date.now();
      rig.cut(cutHost);
      out.failover_link_cut_ms = await firstAck(
        rig,
        [0, 1, 2].filter((i) => i !== cutHost),
        'bench/failover-cut',
        tCut,
      );
      rig.restore(cutHost);
    } else {
      out.failover_link_cut_ms = null;
      out.note = `${out.note ?? ''} no agreed leader after the restart`.trim();
    }
    return out;
  } finally {
    rig.cleanup();
  }
}

async function formationOnly(n: number): Promise<number | null> {
  const rig = new LanRig({ tag: nextTag(), hosts: n });
  try {
    await rig.setup();
    const all = [...Array(n).keys()];
    const probes = all.map((i) => rig.probe(i, 20));
    await rig.startAll(all);
    const tLast = Date.now();
    const f = await waitAgreed(probes, rig, FORM_TIMEOUT_MS);
    return f ? Math.max(0, f.t - tLast) : null;
  } finally {
    rig.cleanup();
  }
}

interface MergeOutcome {
  formed_apart: boolean;
  merged_ms: number | null;
  acked: number;
  keys_lost: number | null;
  lost: string[];
  conflict_value: unknown[];
  conflicts_reported: number | null;
  note?: string;
}

async function mergeTrial(): Promise<MergeOutcome> {
  const rig = new LanRig({ tag: nextTag(), hosts: 3 });
  const out: MergeOutcome = {
    formed_apart: false,
    merged_ms: null,
    acked: 0,
    keys_lost: null,
    lost: [],
    conflict_value: [],
    conflicts_reported: null,
  };
  try {
    await rig.setup();
    const A = [0, 1];
    const B = [2];
    rig.split([A, B]);
    const probes = [0, 1, 2].map((i) => rig.probe(i, 20));
    await rig.startAll([0, 1, 2]);
    const [fa, fb] = await Promise.all([
      waitAgreed(
        A.map((i) => probes[i]!),
        rig,
        FORM_TIMEOUT_MS,
      ),
      waitAgreed(
        B.map((i) => probes[i]!),
        rig,
        FORM_TIMEOUT_MS,
      ),
    ]);
    if (!fa || !fb) {
      out.note = `no leader within ${FORM_TIMEOUT_MS / 1000} s on side ${!fa ? 'A' : 'B'} before the heal`;
      return out;
    }
    out.formed_apart = true;
    const acked = new Map<string, string>();
    for (const [side, hosts] of [
      ['a', A],
      ['b', B],
    ] as const) {
      for (const i of hosts) {
        for (let k = 0; k < 5; k++) {
          const key = `bench/merge/${side}${i}-${k}`;
          if ((await rig.writeUntilAck(i, key, key, 5000)).t !== null) acked.set(key, key);
        }
      }
    }
    const both = 'bench/merge/both';
    if ((await rig.writeUntilAck(fa.l.host, both, 'from-A', 5000)).t !== null)
      acked.set(`${both}#A`, 'from-A');
    if ((await rig.writeUntilAck(fb.l.host, both, 'from-B', 5000)).t !== null)
      acked.set(`${both}#B`, 'from-B');
    out.acked = acked.size;

    rig.joinAll();
    const tHeal = Date.now();
    const ids = [0, 1, 2].map((i) => rig.id(i)).sort();
    const one = await waitAgreed(
      probes,
      rig,
      MERGE_TIMEOUT_MS,
      (l) => [...l.voters, ...l.learners].sort().join() === ids.join(),
    );
    out.merged_ms = one ? one.t - tHeal : null;
    if (!one) out.note = `no single cluster within ${MERGE_TIMEOUT_MS / 1000} s of the heal`;
    // Let re-proposals land, then read every acknowledged key from every host's own state.
    await sleep(5000);
    const lost = new Set<string>();
    for (const i of [0, 1, 2]) {
      for (const [key, value] of acked) {
        if (key.startsWith(`${both}#`)) continue;
        if ((await rig.get(i, key, true)) !== value) lost.add(`${key}@h${i}`);
      }
      const v = await rig.get(i, both, true);
      out.conflict_value.push(v instanceof Error ? null : v);
      // The shared key must exist with one of the acknowledged values.
      if (!(v === 'from-A' || v === 'from-B')) lost.add(`${both}@h${i}`);
    }
    out.lost = [...lost];
    out.keys_lost = lost.size;
    const statuses = await Promise.all([0, 1, 2].map((i) => rig.nodeStatus(i)));
    out.conflicts_reported = statuses.filter((s) => JSON.stringify(s?.merge ?? null).includes(both)).length;
    return out;
  } finally {
    rig.cleanup();
  }
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor((s.length - 1) / 2)]!);
};
const max = (xs: number[]): number | null => (xs.length === 0 ? null : Math.round(Math.max(...xs)));
const nums = (xs: readonly (number | null | undefined)[]): number[] =>
  xs.filter((x): x is number => typeof x === 'number');

function summary(
  name: string,
  xs: readonly (number | null | undefined)[],
  never: string,
): Record<string, number | string | null> {
  const ok = nums(xs);
  return {
    [`${name}_median_ms`]: median(ok),
    [`${name}_max_ms`]: max(ok),
    [`${name}_outcome`]:
      ok.length === xs.length && xs.length > 0
        ? `${ok.length}/${xs.length}`
        : `${ok.length}/${xs.length} (${never})`,
  };
}

export default async function bench(): Promise<BenchReport> {
  const description =
    'LAN rig (issue #13): default-config nodes in network namespaces on one bridge, 1% loss (nftables), no added delay (no netem); formation from the last start to an agreed leader (3 and 5 hosts), failover after SIGKILL and after a link cut (until a write through a survivor is acknowledged), rejoin visibility, merge of two clusters formed apart';
  const goals: BenchGoal[] = [
    { metric: 'formation_3_hosts_max_ms', op: '<=', target: 10_000 },
    { metric: 'formation_5_hosts_max_ms', op: '<=', target: 10_000 },
    { metric: 'failover_sigkill_median_ms', op: '<', target: 1000 },
    { metric: 'rejoin_visible_max_ms', op: '<=', target: 2000 },
    { metric: 'merge_keys_lost', op: '<=', target: 0 },
    { metric: 'merge_conflicts_reported', op: '>=', target: 1 },
  ];
  const skipped = probeNetns(`swprobe${process.pid}`) ?? rigSkipReason('lan-formation bench');
  if (skipped !== null) {
    return { name: 'lan-formation', description, metrics: {}, goals, details: { skipped } };
  }
  const t3: Trial3[] = [];
  const f5: (number | null)[] = [];
  for (let t = 0; t < TRIALS && PARTS.has('three'); t++) {
    t3.push(await trial3());
    process.stderr.write(`  lan-formation: 3 hosts, trial ${t + 1}: ${JSON.stringify(t3[t])}\n`);
  }
  for (let t = 0; t < TRIALS && PARTS.has('five'); t++) {
    f5.push(await formationOnly(5));
    process.stderr.write(`  lan-formation: 5 hosts, trial ${t + 1}: formation ${f5[t] ?? 'none'} ms\n`);
  }
  const m: MergeOutcome = PARTS.has('merge')
    ? await mergeTrial()
    : {
        formed_apart: false,
        merged_ms: null,
        acked: 0,
        keys_lost: null,
        lost: [],
        conflict_value: [],
        conflicts_reported: null,
        note: 'not run (LAN_BENCH_PARTS)',
      };
  process.stderr.write(`  lan-formation: merge ${JSON.stringify(m)}\n`);
  const noLeader = `no leader within ${FORM_TIMEOUT_MS / 1000} s`;
  const formed = t3.filter((x) => x.formation_ms !== null);
  const metrics: Record<string, number | string | null> = {
    ...summary(
      'formation_3_hosts',
      t3.map((x) => x.formation_ms),
      noLeader,
    ),
    ...summary('formation_5_hosts', f5, noLeader),
    ...summary(
      'failover_sigkill',
      formed.map((x) => x.failover_sigkill_ms),
      'no write acknowledged within 30 s, or no leader to kill',
    ),
    ...summary(
      'failover_link_cut',
      formed.map((x) => x.failover_link_cut_ms),
      'no write acknowledged within 30 s, or no leader to cut',
    ),
    ...summary(
      'rejoin_visible',
      t3.map((x) => x.rejoin_visible_ms),
      'not seen alive by every host within 30 s',
    ),
    merge_outcome:
      m.note ?? (m.merged_ms === null ? 'no single cluster' : `one cluster ${m.merged_ms} ms after the heal`),
    merge_keys_lost: m.formed_apart ? m.keys_lost : null,
    merge_conflicts_reported: m.formed_apart ? m.conflicts_reported : null,
  };
  if (formed.length === 0) {
    for (const k of ['failover_sigkill', 'failover_link_cut']) {
      metrics[`${k}_outcome`] = `not measured: ${noLeader}`;
    }
  }
  return {
    name: 'lan-formation',
    description,
    metrics,
    goals,
    details: {
      trials: TRIALS,
      form_timeout_s: FORM_TIMEOUT_MS / 1000,
      loss_percent: 1,
      delay: 'none (no netem on this kernel; delay is modelled in the simulator)',
      lanrig_env: process.env.LANRIG_ENV ?? '',
      parts: [...PARTS],
      three_hosts: t3,
      five_hosts_formation_ms: f5,
      merge: m,
    },
  };
}
