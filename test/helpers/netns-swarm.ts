/**
 * The daemons of a test that runs one `swarm` node per namespace of a
 * NetnsLab (test/helpers/netns.ts): a temporary root with one config file and
 * data dir per node, the CLI run inside a node's namespace, and a cleanup
 * that SIGKILLs whatever daemon is left, removes the namespaces and the root
 * (kept, and printed, with KEEP_E2E set).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive } from '../node/proc.js';
import { consensusToml } from './config-toml.js';
import type { NetnsLab } from './netns.js';
import { runSwarm, startNode, type RunResult, type StartJson } from './run-swarm.js';

/** Every node's ports: each namespace has its own port space, so all nodes share them and a restart keeps them. */
export const NETNS_PORTS = { gossip: 7946, raft: 7947, api: 7948 } as const;

export class NetnsSwarm {
  /** The temporary root; '' until `init`. */
  root = '';
  /** Each node's daemon PID (null: none started), so a test can kill one and cleanup all. */
  readonly pids: (number | null)[];

  /** `prefix` names the root under the system's temporary dir (`swarm-<test>-`). */
  constructor(
    readonly lab: NetnsLab,
    private readonly prefix: string,
  ) {
    this.pids = lab.ns.map(() => null);
  }

  /** Make the root (call in the test, so a skipped file makes nothing) and the namespaces. */
  setup(): void {
    this.root = mkdtempSync(join(tmpdir(), this.prefix));
    this.lab.setup();
  }

  config(i: number): string {
    return join(this.root, `n${i}.toml`);
  }

  dataDir(i: number): string {
    return join(this.root, `d${i}`);
  }

  /**
   * Node i's config file: `network` (its [network] section), [node] with `name` and its data dir,
   * [api] (`api` lines, then NETNS_PORTS.api), [raft] (NETNS_PORTS.raft, founded by all the lab's
   * nodes together) and etcd-like consensus timing, so elections and the tests stay short.
   */
  writeConfig(i: number, o: { name: string; network: readonly string[]; api?: readonly string[] }): void {
    const lines = [
      ...o.network,
      '[node]',
      `name = "${o.name}"`,
      `data_dir = "${this.dataDir(i)}"`,
      '[api]',
      ...(o.api ?? []),
      `port = ${NETNS_PORTS.api}`,
      '[raft]',
      `port = ${NETNS_PORTS.raft}`,
      `bootstrap_expect = ${this.lab.ns.length}`,
      ...consensusToml(100, 1000, 2000),
      '',
    ];
    writeFileSync(this.config(i), lines.join('\n'));
  }

  /** HOME and the XDG config dir under the root, no SWARM_CONFIG from the caller. */
  env(): NodeJS.ProcessEnv {
    return { HOME: this.root, XDG_CONFIG_HOME: join(this.root, 'xdg'), SWARM_CONFIG: '' };
  }

  /** `swarm --config <node i's> ARGS...` inside node i's namespace. */
  swarm(i: number, args: readonly string[]): Promise<RunResult> {
    return runSwarm(['--config', this.config(i), ...args], { netns: this.lab.ns[i]!, env: this.env() });
  }

  /** `swarm node start --json` for node i (data dir from its config) inside its namespace. */
  start(i: number): Promise<StartJson & { stderr: string }> {
    return startNode({
      config: this.config(i),
      env: this.env(),
      netns: this.lab.ns[i]!,
      pids: { add: (pid: number) => (this.pids[i] = pid) },
    });
  }

  cleanup(): void {
    for (const p of this.pids) if (p !== null && alive(p)) process.kill(p, 'SIGKILL');
    this.pids.fill(null);
    this.lab.cleanup();
    if (this.root !== '' && !process.env.KEEP_E2E) rmSync(this.root, { recursive: true, force: true });
    else if (this.root !== '') console.log('kept', this.root);
    this.root = '';
  }
}
