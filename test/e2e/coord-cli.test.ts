/**
 * The coordination CLI against one real daemon (loopback, multicast off):
 * `swarm kv watch` prints one line per event until SIGINT; `swarm lock`
 * runs a command with the fencing revision in its environment and exits with
 * its code, or 3 when the lock is lost while it runs (the CLI paused past its
 * lease); `swarm elect` prints when it leads and resigns on SIGINT. Needs `npm run build`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordCluster, api } from '../helpers/coord-cluster.js';
import { until } from '../helpers/kv-history.js';
import { SWARM_BIN } from '../helpers/run-swarm.js';

let c: CoordCluster;
let base: string;

beforeAll(async () => {
  c = await CoordCluster.start(1, { tag: 'ccli' });
  base = c.ds[0]!.info.api_url;
}, 60_000);
afterAll(() => c?.cleanup());

function cli(args: string[]): {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  done: Promise<number | null>;
} {
  // Options before a `--`: what follows it is the command to run.
  const dd = args.indexOf('--');
  const argv = dd < 0 ? [...args, '--api', base] : [...args.slice(0, dd), '--api', base, ...args.slice(dd)];
  const proc = spawn(process.execPath, [SWARM_BIN, ...argv], {
    env: { ...process.env, ...c.env() },
  });
  c.pids.add(proc.pid!);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
  return { proc, out: () => out, err: () => err, done };
}

describe('coordination CLI', () => {
  it('swarm kv watch prints each event of a prefix until SIGINT', async () => {
    const w = cli(['kv', 'watch', '--prefix', 'cw/', '--json']);
    // The watch shows changes after it connected: a marker key is written until the watch prints it
    // (a fixed 1.5 s lost the first event when the CLI started slower on a loaded machine).
    let n = 0;
    const lines = (): string[] =>
      w
        .out()
        .trim()
        .split('\n')
        .filter((l) => l !== '');
    const shown = (v: number): boolean =>
      lines().some((l) => {
        try {
          const e = JSON.parse(l) as { key: string; value?: unknown };
          return e.key === 'cw/ready' && e.value === v;
        } catch {
          return false; // a line still being written
        }
      });
    await until(
      'the watch connected',
      async () => {
        // The last marker written is printed: no other is still on its way.
        if (n > 0 && shown(n)) return true;
        await api(base, 'PUT', '/v1/kv/cw/ready', { value: ++n });
        await new Promise((r) => setTimeout(r, 200));
        return null;
      },
      30_000,
    );
    const ready = lines().length;
    await api(base, 'PUT', '/v1/kv/cw/a', { value: 1 });
    await api(base, 'PUT', '/v1/kv/other', { value: 2 });
    await api(base, 'DELETE', '/v1/kv/cw/a');
    await until('two lines', async () => lines().length >= ready + 2 || null, 15_000);
    w.proc.kill('SIGINT');
    expect(await w.done).toBe(0);
    const all = lines();
    // The markers only, then the events under test.
    for (const l of all.slice(0, ready)) expect(l).toContain('"cw/ready"');
    const evs = all.slice(ready).map((l) => JSON.parse(l) as { type: string; key: string; revision: number });
    expect(evs.map((e) => [e.type, e.key])).toEqual([
      ['put', 'cw/a'],
      ['delete', 'cw/a'],
    ]);
    expect(evs[1]!.revision).toBe(evs[0]!.revision + 2);
  }, 60_000);

  it('swarm lock runs the command with its fencing revision and exits with its code', async () => {
    const r = cli([
      'lock',
      'job',
      '--',
      'sh',
      '-c',
      'echo "rev=$SWARM_LOCK_REVISION key=$SWARM_LOCK_KEY"; exit 7',
    ]);
    expect(await r.done).toBe(7);
    expect(r.out()).toMatch(/^rev=\d+ key=__lock\/job\/\d+$/m);
    // Released on exit.
    const st = await api<{ holder: unknown }>(base, 'GET', '/v1/lock/job');
    expect(st.body.holder).toBeNull();
  }, 60_000);

  it('swarm lock exits 3 when the lock is lost while the command runs', async () => {
    // The command pauses its own `swarm lock` parent past the 1 s lease: the lease expires.
    const r = cli(['lock', 'paused', '--ttl', '1', '--', 'sh', '-c', 'kill -STOP $PPID; exec sleep 30']);
    await until(
      'the lock taken',
      async () =>
        (await api<{ holder: unknown }>(base, 'GET', '/v1/lock/paused')).body.holder !== null || null,
      20_000,
    );
    await until(
      'the lock freed by the lease expiry',
      async () =>
        (await api<{ holder: unknown }>(base, 'GET', '/v1/lock/paused')).body.holder === null || null,
      20_000,
    );
    process.kill(r.proc.pid!, 'SIGCONT');
    expect(await r.done).toBe(3);
    expect(r.err()).toMatch(/lock paused lost/);
  }, 60_000);

  it('swarm elect prints when it leads and resigns on SIGINT', async () => {
    const e = cli(['elect', 'gw', 'pi-1', '--json']);
    await until('leading', async () => e.out().includes('"leading"') || null, 20_000);
    const led = await api<{ leader: { value: string } | null }>(base, 'GET', '/v1/election/gw');
    expect(led.body.leader?.value).toBe('pi-1');
    e.proc.kill('SIGINT');
    expect(await e.done).toBe(0);
    const after = await api<{ leader: unknown }>(base, 'GET', '/v1/election/gw');
    expect(after.body.leader).toBeNull();
  }, 60_000);
});
