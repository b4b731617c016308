/**
 * `swarm service install|uninstall`: a systemd unit that runs this machine's
 * node at boot (src/cli/service-unit.ts renders it). Install resolves every
 * path now (node, the package's swarm.js, the config file, the data dir), so
 * the unit does not depend on PATH or on the environment of the shell that
 * wrote it.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwarmError, UsageError } from '../../common/errors.js';
import type { CliContext, Registrar } from '../context.js';

export const DEFAULT_UNIT_DIR = '/etc/systemd/system';

interface InstallOptions {
  user?: string;
  unitDir?: string;
  print?: boolean;
  force?: boolean;
}

/** uid and gid of a user name, from `id` (covers /etc/passwd, LDAP, systemd-homed alike); null if none. */
function lookupUser(name: string): { uid: number; gid: number } | null {
  const id = (flag: string): number | null => {
    const r = spawnSync('id', [flag, name], { encoding: 'utf8' });
    const n = Number(r.stdout.trim());
    return r.status === 0 && r.stdout.trim() !== '' && Number.isInteger(n) ? n : null;
  };
  const uid = id('-u');
  const gid = id('-g');
  return uid === null || gid === null ? null : { uid, gid };
}

function defaultUser(env: NodeJS.ProcessEnv): string {
  // Under sudo, the service is for the user who asked, not for root.
  if (env.SUDO_USER && env.SUDO_USER !== 'root') return env.SUDO_USER;
  return userInfo().username;
}

/** The package's own paths: this module is dist/cli/commands/service.js (or src/... under tsx). */
function packagePath(rel: string): string {
  return fileURLToPath(new URL(`../../../${rel}`, import.meta.url));
}

function writeError(path: string, err: unknown): SwarmError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied: run it with sudo, or write elsewhere with --unit-dir DIR'
      : code === 'ENOENT'
        ? 'the directory does not exist'
        : (err as Error).message;
  return new SwarmError('service_write_failed', `cannot write ${path}: ${why}`, {
    cause: err,
    fields: { path },
  });
}

async function install(ctx: CliContext, opts: InstallOptions): Promise<void> {
  const [
    { loadCliConfig },
    { renderUnit, UNIT_NAME, UNIT_MARKER },
    { writeFileAtomic },
    { VERSION },
    { DAEMON_ENV, daemonV8Flags },
  ] = await Promise.all([
    import('../config-access.js'),
    import('../service-unit.js'),
    import('../../common/atomic-write.js'),
    import('../../version.js'),
    import('../daemon.js'),
  ]);
  const loaded = loadCliConfig(ctx);
  if (!loaded.fileExists)
    throw new UsageError(
      `no config file at ${loaded.location.path}: a service runs from a file you can read and edit; create it with \`swarm config init\` or name one with --config FILE`,
    );
  const user = opts.user ?? defaultUser(ctx.env);
  if (!/^[a-z_][a-z0-9_.-]*[$]?$/i.test(user))
    throw new UsageError(`--user ${JSON.stringify(user)} is not a user name`);
  const ids = lookupUser(user);
  if (ids === null)
    throw new UsageError(
      `no user named ${user} on this machine (--user NAME; create it with \`useradd --system ${user}\`)`,
    );
  const cfg = loaded.config;
  const unit = renderUnit({
    node: realpathSync(process.execPath),
    // The launcher's flags, not its compilers-off start (LEAN_FLAGS): the node switches those itself at run time.
    nodeFlags: daemonV8Flags(cfg.node.device_class),
    env: DAEMON_ENV,
    swarm: realpathSync(packagePath('bin/swarm.js')),
    config: loaded.location.path,
    dataDir: cfg.node.data_dir,
    user,
    version: VERSION,
    ports: [cfg.network.gossip_port, cfg.api.port, cfg.raft.port],
    ...(existsSync(packagePath('docs/operations.md'))
      ? { docs: `file://${packagePath('docs/operations.md')}` }
      : {}),
  });
  if (opts.print) {
    ctx.stdout.write(unit);
    return;
  }
  const dir = resolve(opts.unitDir ?? DEFAULT_UNIT_DIR);
  const path = join(dir, UNIT_NAME);
  if (existsSync(path) && !opts.force && !readFileSync(path, 'utf8').startsWith(UNIT_MARKER))
    throw new SwarmError(
      'service_exists',
      `${path} exists and was not written by swarm; keep it, or replace it with --force`,
    );
  try {
    // A unit dir that does not exist is a typo (or no systemd here), not something to create.
    if (!existsSync(dir)) throw Object.assign(new Error(`no directory ${dir}`), { code: 'ENOENT' });
    writeFileAtomic(path, unit, 0o644, false);
  } catch (err) {
    throw writeError(path, err);
  }
  // ReadWritePaths= needs the data dir to exist, and the user must own it: the service cannot create it
  // under a read-only system.
  const dataDir = cfg.node.data_dir;
  if (!existsSync(dataDir)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (process.getuid?.() === 0) chownSync(dataDir, ids.uid, ids.gid);
  }
  const svc = UNIT_NAME.replace(/\.service$/, '');
  const lines = [
    `wrote ${path}: runs the node as ${user} from ${loaded.location.path} (data dir ${dataDir})`,
    ...(user === 'root' ? ['note: the node will run as root; a dedicated user (--user NAME) is safer'] : []),
    `next:  sudo systemctl daemon-reload && sudo systemctl enable --now ${svc}`,
    `check: systemctl status ${svc}; journalctl -u ${svc} -o cat -f | swarm logs --file -`,
  ];
  ctx.stdout.write(`${lines.join('\n')}\n`);
}

async function uninstall(ctx: CliContext, opts: { unitDir?: string; force?: boolean }): Promise<void> {
  const { UNIT_NAME, UNIT_MARKER } = await import('../service-unit.js');
  const path = join(resolve(opts.unitDir ?? DEFAULT_UNIT_DIR), UNIT_NAME);
  const svc = UNIT_NAME.replace(/\.service$/, '');
  if (!existsSync(path)) {
    ctx.stderr.write(`swarm: no unit at ${path}: nothing to remove\n`);
    return;
  }
  if (!opts.force && !readFileSync(path, 'utf8').startsWith(UNIT_MARKER))
    throw new SwarmError(
      'service_foreign',
      `${path} was not written by swarm; remove it yourself, or use --force`,
    );
  try {
    rmSync(path);
  } catch (err) {
    throw writeError(path, err);
  }
  ctx.stdout.write(
    `removed ${path}\nnext: sudo systemctl disable --now ${svc} (if it was enabled) && sudo systemctl daemon-reload\n`,
  );
}

export const register: Registrar = (program, ctx) => {
  const service = program.command('service').description('run the node at boot under systemd');
  service
    .command('install')
    .description(
      'write a systemd unit for this node (config: the global --config FILE, else the default file); then `systemctl enable --now iot-swarm`',
    )
    .option('--user <name>', 'user the node runs as (default: $SUDO_USER, else you)')
    .option('--unit-dir <dir>', `where to write iot-swarm.service (default: ${DEFAULT_UNIT_DIR})`)
    .option('--print', 'print the unit on stdout instead of writing it')
    .option('--force', 'replace a unit of that name that swarm did not write')
    .action((opts: InstallOptions) => install(ctx, opts));
  service
    .command('uninstall')
    .description('remove the unit written by `swarm service install`')
    .option('--unit-dir <dir>', `where the unit is (default: ${DEFAULT_UNIT_DIR})`)
    .option('--force', 'remove it even if swarm did not write it')
    .action((opts: { unitDir?: string; force?: boolean }) => uninstall(ctx, opts));
};
