/**
 * A cluster of real daemons (compiled binary) on loopback for the
 * coordination tests and benches: multicast off, gossip join lists, every port
 * 0 at first and kept across restarts (peers address a node by them).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consensusToml, loopbackToml } from './config-toml.js';
import { getJson, until } from './kv-history.js';
import { startNode, type StartJson } from './run-swarm.js';
import { alive } from '../node/proc.js';

export interface Daemon {
  readonly name: string;
  readonly dir: string;
  info: StartJson;
  alive: boolean;
  ports: { raft: string; gossip: string } | null;
}

interface LeaderView {
  self: string;
  leader: string | null;
  role: string;
  voters: string[];
}

export class CoordCluster {
  readonly root: string;
  readonly pids = new Set<number>();
  readonly ds: Daemon[] = [];
  private readonly config: string;

  private constructor(
    root: string,
    config: string,
    private readonly extraEnv: NodeJS.ProcessEnv = {},
  ) {
    this.root = root;
    this.config = config;
  }

  env(): NodeJS.ProcessEnv {
    return { HOME: this.root, XDG_CONFIG_HOME: join(this.root, 'xdg'), SWARM_CONFIG: '', ...this.extraEnv };
  }

  /** `n` daemons founding one cluster (bootstrap_expect = n), `more` extra TOML sections. */
  static async start(
    n: number,
    opts: { raft?: string[]; more?: string[]; tag?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<CoordCluster> {
    const root = mkdtempSync(join(tmpdir(), `swarm-${opts.tag ?? 'coord'}-`));
    const config = join(root, 'config.toml');
    writeFileSync(
      config,
      loopbackToml(
        [`bootstrap_expect = ${n}`, ...(opts.raft ?? [])],
        [...consensusToml(100, 600, 1200), ...(opts.more ?? [])],
      ),
    );
    const c = new CoordCluster(root, config, opts.env);
    try {
      let seed: string | null = null;
      for (let i = 0; i < n; i++) {
        const dir = join(root, `n${i}`);
        const info = await startNode({
          config,
          dir,
          join: seed === null ? [] : [seed],
          env: c.env(),
          pids: c.pids,
        });
        c.ds.push({ name: `n${i}`, dir, info, alive: true, ports: null });
        if (seed === null) {
          const st = await getJson<{ addresses: { gossip: string } }>(`${info.api_url}/v1/status`);
          seed = st!.addresses.gossip;
        }
      }
      for (const d of c.ds) await c.recordPorts(d);
      await c.leader(60_000);
    } catch (err) {
      c.cleanup();
      throw err;
    }
    return c;
  }

  private async recordPorts(d: Daemon): Promise<void> {
    const st = await until('status with addresses', () =>
      getJson<{ addresses: { raft: string | null; gossip: string | null } }>(
        `${d.info.api_url}/v1/status`,
      ).then((s) => (s?.addresses.raft && s.addresses.gossip ? s : null)),
    );
    d.ports = { raft: st.addresses.raft!.split(':').pop()!, gossip: st.addresses.gossip!.split(':').pop()! };
  }

  live(): Daemon[] {
    return this.ds.filter((d) => d.alive);
  }

  /** The daemon that leads with all voters known, waiting up to `ms`. */
  async leader(ms = 30_000): Promise<Daemon> {
    return until(
      'a leader',
      async () => {
        for (const d of this.live()) {
          const l = await getJson<LeaderView>(`${d.info.api_url}/v1/leader`, 1000);
          if (l && l.role === 'leader' && l.voters.length >= Math.min(3, this.ds.length)) {
            // Every live node must know it, so requests anywhere are served.
            const all = await Promise.all(
              this.live().map((x) => getJson<LeaderView>(`${x.info.api_url}/v1/leader`, 1000)),
            );
            if (all.every((v) => v?.leader === l.self)) return d;
          }
        }
        return null;
      },
      ms,
    );
  }

  async followers(): Promise<Daemon[]> {
    const l = await this.leader();
    return this.live().filter((d) => d !== l);
  }

  kill(d: Daemon, sig: NodeJS.Signals = 'SIGKILL'): void {
    process.kill(d.info.pid, sig);
    if (sig === 'SIGKILL') d.alive = false;
  }

  async restart(d: Daemon): Promise<void> {
    if (alive(d.info.pid)) throw new Error(`${d.name} still runs`);
    const other = this.live()[0];
    const seed =
      other === undefined
        ? null
        : await getJson<{ addresses: { gossip: string } }>(`${other.info.api_url}/v1/status`);
    const extra = d.ports === null ? [] : ['--raft-port', d.ports.raft, '--gossip-port', d.ports.gossip];
    d.info = await startNode({
      config: this.config,
      dir: d.dir,
      extra,
      join: seed === null ? [] : [seed.addresses.gossip],
      env: this.env(),
      pids: this.pids,
    });
    d.alive = true;
  }

  cleanup(): void {
    for (const pid of this.pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (process.env.KEEP_E2E) console.log('kept', this.root);
    else rmSync(this.root, { recursive: true, force: true });
  }
}

/** JSON of a request to a daemon's API (any status); throws only when nothing answers. */
export async function api<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, body: (await res.json()) as T };
}
