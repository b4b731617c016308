/**
 * Failure detection and rejoin of real daemons on loopback (the compiled
 * binary: `npx tsc -p tsconfig.build.json` first). Not part of `bench/run.ts`:
 * it starts N processes and takes minutes.
 *
 *   npx tsx bench/gossip-rejoin-live.ts [nodes=5] [trials=3] [--quick] [--first] [--no-adaptive]
 *     [--poll-ms=50] [--trace] [--keep]
 *
 * Each trial SIGKILLs one member (never the first, the others' seed), times
 * kill -> "dead" in every survivor's /v1/members, restarts it with the same
 * data dir and gossip port (as the default fixed port does), and times
 * restart -> "alive" with a higher incarnation in every other member's view,
 * both from the restart command and from the moment it returned (daemon
 * ready), and from the daemons' logs: the restarted daemon's `gossip started`
 * line to the last other member's `member joined` line for it (gossip alone,
 * without the daemon's start-up or the polls; not for `--quick`, where the
 * others still hold the old life and log no join). `--quick` restarts at once after the kill, while the others still
 * hold the old life alive or suspect. `--first` kills the first member, the
 * others' seed, and restarts it without a join list (it must be found by the
 * others). `--no-adaptive` turns the adaptive controller off (its quiet and
 * congestion modes stretch the probe period, which slows failure detection).
 * Multicast is off; only loopback is used. Every poll also counts false
 * positives: a member other than the one killed (until it is back) that a
 * view shows `dead`, and, for the record, views showing one `suspect`. Run it
 * inside a private namespace with nftables loss for detection under loss
 * (bench/README.md).
 *
 * Kill -> dead is timed twice: by polling every survivor's /v1/members every
 * `--poll-ms` (the slowest of 24 polls), and from the survivors' own
 * `member dead` log lines (wall clock, same machine), which polling cannot
 * delay. `--trace` runs the daemons at debug level, so their gossip logs the
 * failure-detection milestones (GossipTrace), and prints per trial when the
 * victim was first probed, first failed, first suspected, confirmed, declared
 * and known dead everywhere. `--keep` leaves the data dirs (and their
 * node.log) in place.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));

interface Member {
  id: string;
  status: string;
  incarnation: number;
  raft_role?: string | null;
}
interface Node {
  name: string;
  pid: number;
  id: string;
  api: string;
  gossipPort: number;
  dataDir: string;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const first = args.includes('--first');
const adaptive = !args.includes('--no-adaptive');
const trace = args.includes('--trace');
const keep = args.includes('--keep');
const POLL_MS = Number(args.find((a) => a.startsWith('--poll-ms='))?.slice('--poll-ms='.length) ?? 50);
const [nArg, tArg] = args.filter((a) => !a.startsWith('--'));
const N = Number(nArg ?? 5);
const TRIALS = Number(tArg ?? 3);
const root = mkdtempSync(join(tmpdir(), 'swarm-rejoin-bench-'));
const basePort = 30_000 + Math.floor(Math.random() * 20_000);
const pids = new Set<number>();
/** Ids expected not alive: the member killed, until every view holds its new life alive. */
const down = new Set<string>();
/** Polls in which a view showed a member outside `down` dead (false positives) or suspect. */
const wrong = { dead: 0, suspect: 0, deadIds: new Set<string>() };

writeFileSync(
  join(root, 'config.toml'),
  '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nport = 0\n\n[raft]\nport = 0\n',
);

function run(argv: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...argv], {
      env: {
        ...process.env,
        HOME: root,
        XDG_CONFIG_HOME: join(root, 'xdg'),
        SWARM_CONFIG: '',
        SWARM_NETWORK__MULTICAST_ENABLED: 'false',
        SWARM_SECURITY__SWARM_KEY: '',
        ...(adaptive ? {} : { SWARM_ADAPTIVE_GOSSIP__ENABLED: 'false' }),
        ...(trace ? { SWARM_LOGGING__LEVEL: 'debug' } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function start(i: number, seeds: readonly number[]): Promise<Node> {
  const name = `r${i}`;
  const dataDir = join(root, name);
  const port = basePort + i;
  const argv = ['--config', join(root, 'config.toml'), 'node', 'start', '--json', '--name', name];
  argv.push('--data-dir', dataDir, '--no-multicast', '--gossip-port', String(port));
  if (seeds.length > 0) argv.push('--join', seeds.map((p) => `127.0.0.1:${basePort + p}`).join(','));
  const r = await run(argv);
  const m = /"pid":(\d+)/.exec(r.stdout);
  if (m) pids.add(Number(m[1]));
  if (r.code !== 0) throw new Error(`start ${name}: ${r.stderr || r.stdout}`);
  const info = JSON.parse(r.stdout) as { pid: number; id: string; api_url: string };
  return { name, pid: info.pid, id: info.id, api: info.api_url, gossipPort: port, dataDir };
}

async function members(n: Node): Promise<Member[] | null> {
  try {
    const r = await fetch(`${n.api}/v1/members`, { signal: AbortSignal.timeout(2000) });
    const ms = ((await r.json()) as { members: Member[] }).members;
    for (const m of ms) {
      if (down.has(m.id)) continue;
      if (m.status === 'dead') {
        wrong.dead++;
        wrong.deadIds.add(m.id);
      } else if (m.status === 'suspect') wrong.suspect++;
    }
    return ms;
  } catch {
    return null;
  }
}

/** Poll every node until `ok` holds on each; ms from `t0` to the last one, per node. */
async function until(
  nodes: readonly Node[],
  ok: (ms: Member[]) => boolean,
  t0: number,
  limitMs: number,
): Promise<number[]> {
  return Promise.all(
    nodes.map(async (n) => {
      for (let i = 0; i < 5000 && performance.now() - t0 < limitMs; i++) {
        const m = await members(n);
        if (m !== null && ok(m)) return performance.now() - t0;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      return Infinity;
    }),
  );
}

/** The adaptive gossip mode of each node ("?" when it did not answer), counted. */
async function modes(nodes: readonly Node[]): Promise<string> {
  const got = await Promise.all(
    nodes.map(async (n) => {
      try {
        const r = await fetch(`${n.api}/v1/members`, { signal: AbortSignal.timeout(2000) });
        const b = (await r.json()) as { adaptive?: { mode?: string; cause?: string } };
        return `${b.adaptive?.mode ?? '?'}${b.adaptive?.cause ? `(${b.adaptive.cause})` : ''}`;
      } catch {
        return '?';
      }
    }),
  );
  const c = new Map<string, number>();
  for (const g of got) c.set(g, (c.get(g) ?? 0) + 1);
  return [...c].map(([k, v]) => `${k} x${v}`).join(', ');
}

interface LogLine {
  readonly at: number;
  readonly msg: string;
  readonly member?: string;
  readonly by?: string;
  readonly late_ms?: number;
  readonly confirmations?: number;
  readonly suspected_ms?: number;
  readonly urgent?: boolean;
}

/** A survivor's gossip log lines about `victim` written at or after `since` (wall-clock ms). */
function victimLines(n: Node, victim: string, since: number): LogLine[] {
  let text = '';
  try {
    text = readFileSync(join(n.dataDir, 'node.log'), 'utf8');
  } catch {
    return [];
  }
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes(victim)) continue;
    try {
      const r = JSON.parse(line) as Omit<LogLine, 'at'> & { ts: string };
      const at = Date.parse(r.ts);
      if (r.member === victim && at >= since) out.push({ ...r, at });
    } catch {
      // a partial line
    }
  }
  return out;
}

/** One trial's phases from the survivors' logs, ms from the kill. */
interface Phases {
  firstProbe: number;
  firstFail: number;
  firstFailLate: number;
  firstSuspect: number;
  declarers: number;
  firstDead: number;
  /** The first declarer: when its suspicion started, its confirmations (ms from kill), how late its expiry ran. */
  declarerSuspect: number;
  declarerConfirms: number[];
  expiryLate: number;
  lastDead: number;
}

function phases(others: readonly Node[], victim: string, killWall: number): Phases {
  const min = (xs: number[]): number => (xs.length === 0 ? NaN : Math.min(...xs));
  const per = others.map((n) => ({ n, lines: victimLines(n, victim, killWall) }));
  const all = per.flatMap((p) => p.lines);
  const rel = (l: LogLine | undefined): number => (l === undefined ? NaN : l.at - killWall);
  const fails = all.filter((l) => l.msg === 'trace probe-failed').sort((a, b) => a.at - b.at);
  const deadOf = per.map((p) => ({ p, dead: p.lines.find((l) => l.msg === 'member dead') }));
  const declared = deadOf.filter((d) => d.dead !== undefined && d.dead.by === d.p.n.id);
  declared.sort((a, b) => a.dead!.at - b.dead!.at);
  const first = declared[0];
  const fl = first?.p.lines ?? [];
  return {
    firstProbe: min(all.filter((l) => l.msg === 'trace probe').map(rel)),
    firstFail: rel(fails[0]),
    firstFailLate: fails[0]?.late_ms ?? NaN,
    firstSuspect: min(all.filter((l) => l.msg === 'member suspect').map(rel)),
    declarers: declared.length,
    firstDead: rel(first?.dead),
    declarerSuspect: rel(fl.find((l) => l.msg === 'member suspect')),
    declarerConfirms: fl.filter((l) => l.msg === 'trace suspect confirmed').map(rel),
    expiryLate: fl.find((l) => l.msg === 'trace suspicion expired')?.late_ms ?? NaN,
    lastDead: deadOf.some((d) => d.dead === undefined)
      ? Infinity
      : Math.max(...deadOf.map((d) => rel(d.dead))),
  };
}

const s2 = (ms: number): string => (ms / 1000).toFixed(2);

/**
 * From the logs (wall clock, same machine): ms from the restarted daemon's `gossip started` line
 * to the last other member's `member joined` line for it. What gossip itself takes, without the
 * daemon's start-up before it or the polls after it; NaN when a line is missing.
 */
function gossipRejoinMs(back: Node, others: readonly Node[], since: number): number {
  let started = NaN;
  try {
    for (const line of readFileSync(join(back.dataDir, 'node.log'), 'utf8').split('\n')) {
      if (!line.includes('"gossip started"')) continue;
      const at = Date.parse((JSON.parse(line) as { ts: string }).ts);
      if (at >= since) started = at;
    }
  } catch {
    return NaN;
  }
  let last = -Infinity;
  for (const n of others) {
    const joined = victimLines(n, back.id, started).find((l) => l.msg === 'member joined');
    if (joined === undefined) return NaN;
    last = Math.max(last, joined.at);
  }
  return last - started;
}

/**
 * Wait until no member's incarnation changed in `n`'s view for `quietMs` (at most `limitMs`).
 * Right after formation (Raft roles, addresses, energy figures) members publish new records: a
 * victim killed with one of its own updates still spreading has the suspicions of its old
 * incarnation cancelled by that update (SWIM: a higher incarnation alive wins), which times the
 * bench's start-up, not failure detection.
 */
async function settled(n: Node, quietMs: number, limitMs: number): Promise<void> {
  const t0 = performance.now();
  let last = '';
  let since = t0;
  while (performance.now() - t0 < limitMs) {
    const ms = await members(n);
    const key = (ms ?? []).map((m) => `${m.id}:${m.incarnation}`).join(',');
    if (key !== last) {
      last = key;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const stat = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)]!;
  return `median ${(med / 1000).toFixed(2)} s, max ${(s[s.length - 1]! / 1000).toFixed(2)} s, all [${s.map((x) => (x / 1000).toFixed(2)).join(' ')}]`;
};

async function main(): Promise<void> {
  const nodes: Node[] = [];
  nodes.push(await start(0, []));
  for (let i = 1; i < N; i++) nodes.push(await start(i, i > 1 ? [0, i - 1] : [0]));
  const allAlive = (ms: Member[]): boolean => ms.filter((m) => m.status === 'alive').length === N;
  const t = await until(nodes, allAlive, performance.now(), 60_000);
  if (t.some((x) => x === Infinity)) throw new Error('swarm did not form');
  // Let the swarm settle (formation, metadata updates) before the first trial.
  await new Promise((r) => setTimeout(r, 5000));
  const deadTimes: number[] = [];
  const logDeadTimes: number[] = [];
  const allPhases: Phases[] = [];
  const fromCmd: number[] = [];
  const fromReady: number[] = [];
  const fromGossip: number[] = [];
  const byRole = new Map<string, number[]>();
  for (let trial = 0; trial < TRIALS; trial++) {
    const vi = first ? 0 : 1 + (trial % (N - 1));
    const victim = nodes[vi]!;
    const others = nodes.filter((n) => n !== victim);
    await settled(others[0]!, 3000, 30_000);
    const seen = (await members(others[0]!))?.find((m) => m.id === victim.id);
    const before = seen?.incarnation ?? 0;
    // The Raft leader holds a TCP link to every member, so its kill-time hint (a closed link) covers
    // any victim; a killed leader is hinted by every follower instead. Figures per role, below.
    const role = seen?.raft_role ?? 'unknown';
    // Detection time depends on the probe period, which the adaptive controller stretches when it goes
    // conservative (congestion: probe RTT >= 400 ms, which this bench's own polling can cause).
    console.log(
      `trial ${trial}: victim ${victim.name} (${role}); adaptive modes before the kill: ${await modes(others)}`,
    );
    const tk = performance.now();
    const killWall = Date.now();
    down.add(victim.id);
    process.kill(victim.pid, 'SIGKILL');
    pids.delete(victim.pid);
    if (!quick) {
      const d = await until(
        others,
        (ms) => ms.find((m) => m.id === victim.id)?.status === 'dead',
        tk,
        60_000,
      );
      deadTimes.push(Math.max(...d));
      console.log(`trial ${trial}: kill -> dead everywhere ${(Math.max(...d) / 1000).toFixed(2)} s`);
      const ph = phases(others, victim.id, killWall);
      allPhases.push(ph);
      logDeadTimes.push(ph.lastDead);
      byRole.set(role, [...(byRole.get(role) ?? []), ph.lastDead]);
      console.log(
        `trial ${trial}: from the survivors' logs: declared by ${ph.declarers}, first ${s2(ph.firstDead)} s, ` +
          `dead everywhere ${s2(ph.lastDead)} s` +
          (trace
            ? `; first probe ${s2(ph.firstProbe)} s, first failed ${s2(ph.firstFail)} s (${ph.firstFailLate} ms late), ` +
              `first suspect ${s2(ph.firstSuspect)} s; first declarer suspected at ${s2(ph.declarerSuspect)} s, ` +
              `confirmed at [${ph.declarerConfirms.map(s2).join(' ')}] s, expiry ${ph.expiryLate} ms late`
            : ''),
      );
    }
    const t1 = performance.now();
    const restartWall = Date.now();
    const back = await start(vi, first ? [] : [0]);
    const t2 = performance.now();
    nodes[vi] = back;
    const a = await until(
      others,
      (ms) => {
        const m = ms.find((x) => x.id === back.id);
        return m !== undefined && m.status === 'alive' && m.incarnation > before;
      },
      t1,
      60_000,
    );
    const worst = Math.max(...a);
    // A new id (a restart that did not keep its identity) leaves the old one dead for good.
    if (back.id === victim.id) down.delete(victim.id);
    fromCmd.push(worst);
    fromReady.push(worst - (t2 - t1));
    const g = gossipRejoinMs(back, others, restartWall);
    if (!Number.isNaN(g)) fromGossip.push(g);
    console.log(
      `trial ${trial}: restart -> alive everywhere ${(worst / 1000).toFixed(2)} s from the command, ` +
        `${((worst - (t2 - t1)) / 1000).toFixed(2)} s from daemon ready (start took ${((t2 - t1) / 1000).toFixed(2)} s)` +
        (Number.isNaN(g)
          ? ''
          : `; logs: ${s2(g)} s from its gossip start to the last member's "member joined"`),
    );
    // Let the rejoin settle before the next kill.
    await new Promise((r) => setTimeout(r, 3000));
  }
  console.log(
    `nodes=${N} trials=${TRIALS}${quick ? ' quick' : ''}${first ? ' first' : ''}${adaptive ? '' : ' no-adaptive'}`,
  );
  if (deadTimes.length > 0) {
    console.log(`kill -> dead everywhere (polls every ${POLL_MS} ms): ${stat(deadTimes)}`);
    console.log(`kill -> dead everywhere (survivors' log lines): ${stat(logDeadTimes)}`);
    for (const [role, xs] of byRole) console.log(`  victim ${role}: ${stat(xs)}`);
    const col = (f: (p: Phases) => number): string => stat(allPhases.map(f).filter((x) => !Number.isNaN(x)));
    console.log(`  first declared dead: ${col((p) => p.firstDead)}`);
    console.log(`  spread (last - first declared): ${col((p) => p.lastDead - p.firstDead)}`);
    if (trace) {
      console.log(`  first probe of the victim: ${col((p) => p.firstProbe)}`);
      console.log(`  first failed probe: ${col((p) => p.firstFail)}`);
      console.log(`  first suspect: ${col((p) => p.firstSuspect)}`);
      console.log(`  first declarer's suspicion start: ${col((p) => p.declarerSuspect)}`);
      console.log(`  first declarer's suspicion length: ${col((p) => p.firstDead - p.declarerSuspect)}`);
      console.log(`  first declarer's 2nd confirmation: ${col((p) => p.declarerConfirms[1] ?? NaN)}`);
      console.log(`  expiry lateness (ms as s): ${col((p) => p.expiryLate)}`);
      console.log(`  probe-failure lateness (ms as s): ${col((p) => p.firstFailLate)}`);
    }
  }
  console.log(`restart -> alive everywhere (from command): ${stat(fromCmd)}`);
  console.log(`restart -> alive everywhere (from daemon ready): ${stat(fromReady)}`);
  if (fromGossip.length > 0)
    console.log(`restart -> "member joined" everywhere (logs, from its gossip start): ${stat(fromGossip)}`);
  console.log(
    `false positives: ${wrong.dead} polls showed a live member dead (${wrong.deadIds.size} distinct), ` +
      `${wrong.suspect} showed one suspect`,
  );
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (keep) console.log(`kept ${root}`);
    else rmSync(root, { recursive: true, force: true });
  });
