/**
 * Failure detection and rejoin of real daemons on loopback (the compiled
 * binary: `npx tsc -p tsconfig.build.json` first). Not part of `bench/run.ts`:
 * it starts N processes and takes minutes.
 *
 *   npx tsx bench/gossip-rejoin-live.ts [nodes=5] [trials=3] [--quick] [--first] [--no-adaptive]
 *
 * Each trial SIGKILLs one member (never the first, the others' seed), times
 * kill -> "dead" in every survivor's /v1/members, restarts it with the same
 * data dir and gossip port (as the default fixed port does), and times
 * restart -> "alive" with a higher incarnation in every other member's view,
 * both from the restart command and from the moment it returned (daemon
 * ready). `--quick` restarts at once after the kill, while the others still
 * hold the old life alive or suspect. `--first` kills the first member, the
 * others' seed, and restarts it without a join list (it must be found by the
 * others). `--no-adaptive` turns the adaptive controller off (its quiet and
 * congestion modes stretch the probe period, which slows failure detection).
 * Multicast is off; only loopback is used. Every poll also counts false
 * positives: a member other than the one killed (until it is back) that a
 * view shows `dead`, and, for the record, views showing one `suspect`. Run it
 * inside a private namespace with nftables loss for detection under loss
 * (bench/README.md).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));

interface Member {
  id: string;
  status: string;
  incarnation: number;
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
        await new Promise((r) => setTimeout(r, 50));
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
  const fromCmd: number[] = [];
  const fromReady: number[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const vi = first ? 0 : 1 + (trial % (N - 1));
    const victim = nodes[vi]!;
    const others = nodes.filter((n) => n !== victim);
    const before = (await members(others[0]!))?.find((m) => m.id === victim.id)?.incarnation ?? 0;
    // Detection time depends on the probe period, which the adaptive controller stretches when it goes
    // conservative (congestion: probe RTT >= 400 ms, which this bench's own polling can cause).
    console.log(`trial ${trial}: adaptive modes before the kill: ${await modes(others)}`);
    const tk = performance.now();
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
    }
    const t1 = performance.now();
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
    console.log(
      `trial ${trial}: restart -> alive everywhere ${(worst / 1000).toFixed(2)} s from the command, ` +
        `${((worst - (t2 - t1)) / 1000).toFixed(2)} s from daemon ready (start took ${((t2 - t1) / 1000).toFixed(2)} s)`,
    );
    // Let the rejoin settle before the next kill.
    await new Promise((r) => setTimeout(r, 3000));
  }
  console.log(
    `nodes=${N} trials=${TRIALS}${quick ? ' quick' : ''}${first ? ' first' : ''}${adaptive ? '' : ' no-adaptive'}`,
  );
  if (deadTimes.length > 0) console.log(`kill -> dead everywhere: ${stat(deadTimes)}`);
  console.log(`restart -> alive everywhere (from command): ${stat(fromCmd)}`);
  console.log(`restart -> alive everywhere (from daemon ready): ${stat(fromReady)}`);
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
    rmSync(root, { recursive: true, force: true });
  });
