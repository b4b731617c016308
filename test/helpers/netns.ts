/**
 * Network-namespace plumbing for tests that build their own test hosts
 * (`ip netns add`, veth pairs). Nothing here touches a real interface: the
 * only links created in the root namespace are the test's own control veths,
 * and no namespace gets a default route, so nothing a daemon sends can leave
 * the test's links.
 */
import { execFileSync } from 'node:child_process';
import { runProcess } from './run-swarm.js';

/** Run `ip ARGS...`; throws with ip's stderr on failure. */
export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

function ipJson<T>(...args: string[]): T {
  return JSON.parse(
    execFileSync('ip', ['-j', ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString(),
  ) as T;
}

/**
 * Whether this machine lets us create namespaces: null when it does, else the
 * reason (ip's own words), which the tests print when they skip.
 */
export function probeNetns(name: string): string | null {
  try {
    ip('netns', 'add', name);
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    return stderr || (e instanceof Error ? e.message : String(e));
  }
  try {
    ip('netns', 'del', name);
  } catch {
    // Best effort: the probe namespace holds nothing.
  }
  return null;
}

/** Probe once per test file and say on stderr why its tests skip (the title says it too). */
export function netnsSkipReason(file: string): string | null {
  const reason = probeNetns(`swprobe${process.pid}`);
  if (reason !== null) {
    process.stderr.write(`${file}: SKIPPED, \`ip netns add\` is not permitted here (${reason})\n`);
  }
  return reason;
}

/** The test title, or the title with the skip reason appended when namespaces are not permitted. */
export function netnsTitle(title: string, skipReason: string | null): string {
  return skipReason === null ? title : `${title} [SKIPPED: ip netns add not permitted: ${skipReason}]`;
}

/**
 * GET `url` from inside namespace `ns` (a Node child under `ip netns exec`): the way to reach an API
 * left on its default 127.0.0.1 there. The JSON body, or null on a non-2xx answer, a failure, or
 * no answer within `timeoutMs`.
 */
export async function nsGetJson<T>(ns: string, url: string, timeoutMs = 20_000): Promise<T | null> {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => process.stdout.write(r.ok ? await r.text() : 'null'), () => process.stdout.write('null'))`;
  const r = await runProcess('ip', ['netns', 'exec', ns, process.execPath, '-e', script], {
    timeoutMs,
  }).catch(() => null);
  if (r === null || r.code !== 0) return null;
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    return null;
  }
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** Whether any root-namespace address or route overlaps the /24 `a.b.c` (the default route aside). */
export function subnetInUse(prefix24: string): boolean {
  const lo = ipv4ToInt(`${prefix24}.0`);
  const hi = lo + 255;
  const overlaps = (net: string, len: number): boolean => {
    if (len === 0) return false;
    const start = ipv4ToInt(net) - (ipv4ToInt(net) % 2 ** (32 - len));
    const end = start + 2 ** (32 - len) - 1;
    return start <= hi && end >= lo;
  };
  const routes = ipJson<{ dst: string }[]>('-4', 'route', 'show', 'table', 'all');
  for (const r of routes) {
    if (r.dst === 'default' || !/^\d/.test(r.dst)) continue;
    const [net, len] = r.dst.split('/');
    if (overlaps(net!, len === undefined ? 32 : Number(len))) return true;
  }
  const links = ipJson<{ addr_info?: { local: string; prefixlen: number }[] }[]>('-4', 'addr');
  for (const l of links) for (const a of l.addr_info ?? []) if (overlaps(a.local, 32)) return true;
  return false;
}

export interface NetnsLabOptions {
  /** One letter naming the test, so two labs of one process never share a name. */
  readonly tag: string;
  readonly nodes: number;
  /**
   * Give each namespace a point-to-point link to the root namespace, so the
   * test process reaches every node's API (bound on 0.0.0.0) even while that
   * node's cluster link is down. Nodes cannot reach each other through it: no
   * namespace has a route beyond its own links.
   */
  readonly control: boolean;
}

/**
 * N namespaces, each with one veth into a bridge in a hub namespace (the
 * cluster network, 224.0.0.0/4 routed onto it for multicast discovery) and
 * optionally a control link to the root namespace.
 */
export class NetnsLab {
  readonly hub: string;
  readonly ns: readonly string[];
  /** A group and port of this process's own, so concurrent runs never hear each other. */
  readonly group: string;
  readonly mcastPort: number;
  /** Each node's own end of its cluster veth (inside its namespace). */
  readonly vnode: readonly string[];
  /** Each node's port on the hub's bridge (inside the hub namespace). */
  readonly vhub: readonly string[];
  private readonly vroot: readonly string[];
  private picked: string | null = null;

  constructor(private readonly opts: NetnsLabOptions) {
    const pid = process.pid;
    const t = opts.tag;
    const idx = [...Array(opts.nodes).keys()];
    this.hub = `sw${t}h${pid}`;
    this.ns = idx.map((i) => `sw${t}${pid}n${i}`);
    this.vnode = idx.map((i) => `v${t}${pid}n${i}`);
    this.vhub = idx.map((i) => `v${t}${pid}h${i}`);
    this.vroot = opts.control ? idx.map((i) => `v${t}${pid}c${i}`) : [];
    this.group = `239.255.${100 + (pid % 100)}.${1 + (pid % 250)}`;
    this.mcastPort = 20_000 + (pid % 20_000);
  }

  /**
   * `a.b.c`: cluster addresses are `.1..`, control links sit in `.128/25`.
   * Picked on first use, not at construction, so a file whose tests skip never runs `ip`.
   */
  get subnet(): string {
    this.picked ??= this.pickSubnet();
    return this.picked;
  }

  /** Each node's address on the cluster network. */
  get addr(): readonly string[] {
    return this.ns.map((_, i) => `${this.subnet}.${i + 1}`);
  }

  /** Each node's control-link address, reachable from the test process (empty without control links). */
  get control(): readonly string[] {
    return this.opts.control ? this.ns.map((_, i) => `${this.subnet}.${128 + 4 * i + 2}`) : [];
  }

  /** `[network]` of node i: its cluster address, multicast discovery on this lab's group, no join list. */
  networkToml(i: number, gossipPort: number): string[] {
    return [
      '[network]',
      `gossip_port = ${gossipPort}`,
      `bind_address = "${this.addr[i]}"`,
      'multicast_enabled = true',
      `multicast_group = "${this.group}"`,
      `multicast_port = ${this.mcastPort}`,
      'join = []',
    ];
  }

  /** A 10.213.x.0/24 that nothing in the root namespace uses. */
  private pickSubnet(): string {
    const start = (process.pid + this.opts.tag.charCodeAt(0)) % 250;
    for (let k = 0; k < 250; k++) {
      const s = `10.213.${(start + k) % 250}`;
      if (!subnetInUse(s)) return s;
    }
    throw new Error('no free 10.213.x.0/24 subnet for the test namespaces');
  }

  /** Build everything; on failure what exists is removed by `cleanup`. */
  setup(): void {
    ip('netns', 'add', this.hub);
    ip('-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
    ip('-n', this.hub, 'link', 'set', 'br0', 'up');
    this.ns.forEach((ns, i) => {
      ip('netns', 'add', ns);
      ip(
        'link',
        'add',
        this.vnode[i]!,
        'netns',
        ns,
        'type',
        'veth',
        'peer',
        'name',
        this.vhub[i]!,
        'netns',
        this.hub,
      );
      ip('-n', this.hub, 'link', 'set', this.vhub[i]!, 'master', 'br0');
      ip('-n', this.hub, 'link', 'set', this.vhub[i]!, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${this.addr[i]}/25`, 'dev', this.vnode[i]!);
      ip('-n', ns, 'link', 'set', this.vnode[i]!, 'up');
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', this.vnode[i]!);
      if (this.opts.control) {
        const vr = this.vroot[i]!;
        const vn = `${vr}k`;
        ip('link', 'add', vr, 'type', 'veth', 'peer', 'name', vn, 'netns', ns);
        ip('addr', 'add', `${this.subnet}.${128 + 4 * i + 1}/30`, 'dev', vr);
        ip('link', 'set', vr, 'up');
        ip('-n', ns, 'addr', 'add', `${this.control[i]}/30`, 'dev', vn);
        ip('-n', ns, 'link', 'set', vn, 'up');
      }
    });
  }

  /**
   * Cut node i off the cluster network by downing its port on the bridge, as
   * if its cable were pulled: its own link loses carrier but keeps its address
   * and routes, so healing is just the port coming back up.
   */
  partition(i: number): void {
    ip('-n', this.hub, 'link', 'set', this.vhub[i]!, 'down');
  }

  heal(i: number): void {
    ip('-n', this.hub, 'link', 'set', this.vhub[i]!, 'up');
  }

  /** Remove every namespace and link of this lab; safe to call twice or after a partial setup. */
  cleanup(): void {
    for (const ns of [...this.ns, this.hub]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // Not created (setup failed early) or already gone.
      }
    }
    // Deleting a namespace deletes its veth ends and so their peers; this covers a root end left half-made.
    for (const v of this.vroot) {
      try {
        ip('link', 'del', v);
      } catch {
        // Already gone with its namespace.
      }
    }
  }
}
