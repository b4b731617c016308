/**
 * The config as commands read it: `--config` or the default file, SWARM_* env
 * and flag overrides, validated by the zod schema. This module imports zod and
 * the schema (about 90 ms of CPU on x86, seconds on a Pi Zero), so command
 * modules import it inside their actions (`await import('../config-access.js')`):
 * registering commands (help, usage errors) and `swarm version` do not load it.
 */
import { resolve } from 'node:path';
import { keySpec, parseValueText } from '../config/keys.js';
import { loadConfig, type ConfigOverride, type LoadedConfig } from '../config/load.js';
import { resolveConfigPath } from '../config/paths.js';
import { VERSION } from '../version.js';
import { memoKey, readConfigBytes, rememberConfig, startFlagsKey, type ConfigMemo } from './config-memo.js';
import type { CliContext } from './context.js';

export interface StartOptions {
  name?: string;
  foreground?: boolean;
  dataDir?: string;
  join?: string;
  gossipPort?: string;
  apiPort?: string;
  raftPort?: string;
  multicast?: boolean;
  /** `--bootstrap` alone is true; `--bootstrap 3` is "3". */
  bootstrap?: string | true;
  json?: boolean;
}

/** Flags become config overrides so they pass through the same validation as the file. */
export function overridesFrom(opts: StartOptions, cwd: string): ConfigOverride[] {
  const out: ConfigOverride[] = [];
  const add = (key: string, flag: string, text: string | undefined): void => {
    if (text === undefined) return;
    const spec = keySpec(key);
    if (!spec) return;
    out.push({ key, value: parseValueText(spec, text, flag), source: flag });
  };
  add('node.name', '--name', opts.name);
  if (opts.dataDir !== undefined)
    out.push({ key: 'node.data_dir', value: resolve(cwd, opts.dataDir), source: '--data-dir' });
  add('network.join', '--join', opts.join);
  add('network.gossip_port', '--gossip-port', opts.gossipPort);
  add('api.port', '--api-port', opts.apiPort);
  add('raft.port', '--raft-port', opts.raftPort);
  if (opts.multicast === false)
    out.push({ key: 'network.multicast_enabled', value: false, source: '--no-multicast' });
  if (opts.bootstrap !== undefined)
    add('raft.bootstrap_expect', '--bootstrap', opts.bootstrap === true ? '1' : opts.bootstrap);
  return out;
}

/** The effective config for a command: the global `--config`, the env, then `overrides`. */
export function loadCliConfig(ctx: CliContext, overrides: readonly ConfigOverride[] = []): LoadedConfig {
  return loadConfig({ path: ctx.configPath(), env: ctx.env, overrides });
}

/**
 * loadCliConfig with `overrides`, remembering for the fast path (config-memo.ts) what `memo` takes
 * from the result (null: nothing) under the key of the config file, `dataDirFlag` and `extra`,
 * unless the file changed while it was read.
 */
function loadRemembering(
  ctx: CliContext,
  cwd: string,
  key: { readonly dataDirFlag: string | undefined; readonly extra?: string },
  overrides: readonly ConfigOverride[],
  memo: (loaded: LoadedConfig) => ConfigMemo | null,
): LoadedConfig {
  const location = resolveConfigPath({ flag: ctx.configPath(), env: ctx.env, cwd });
  const inputs = { configPath: location.path, ...key, env: ctx.env, cwd, version: VERSION };
  const before = memoKey(inputs, readConfigBytes(location.path));
  const loaded = loadCliConfig(ctx, overrides);
  const m = memo(loaded);
  if (m !== null && memoKey(inputs, readConfigBytes(location.path)) === before)
    rememberConfig(ctx.env, before, m);
  return loaded;
}

/** The data dir and API token of a config: what `node stop` and `node status` need. */
function dirAndToken({ config }: LoadedConfig): ConfigMemo {
  return { dataDir: config.node.data_dir, token: config.security.api_token };
}

/**
 * loadCliConfig for the commands the fast path serves (`kv get`, `node
 * status`; config-memo.ts): `dataDirFlag` becomes the --data-dir override,
 * and a config that validates is remembered for the fast path, unless the
 * file changed while it was read.
 */
export function loadCliConfigRemembered(ctx: CliContext, dataDirFlag: string | undefined): LoadedConfig {
  const cwd = process.cwd();
  return loadRemembering(
    ctx,
    cwd,
    { dataDirFlag },
    overridesFrom({ dataDir: dataDirFlag }, cwd),
    dirAndToken,
  );
}

/**
 * loadCliConfig for a detached `node start`: what `node stop` and `node
 * status` with the same config file and --data-dir read from it (the data
 * dir and the API token, which no other start flag changes) is remembered
 * for their fast path, so the first `node stop` of the node it starts is
 * light too: a stop's own start-up competes for the CPU with the leader's
 * hand-over it asks for (bench/raft-kv.bench.ts, graceful_cli_stop).
 */
export function loadStartConfigForStop(ctx: CliContext, opts: StartOptions): LoadedConfig {
  const cwd = process.cwd();
  const overrides = overridesFrom(opts, cwd);
  const dirOnly = overridesFrom({ dataDir: opts.dataDir }, cwd);
  return loadRemembering(ctx, cwd, { dataDirFlag: opts.dataDir }, overrides, (loaded) => {
    // What a plain `node stop` would load is the file and environment with --data-dir alone: with
    // other start flags, check that it validates without them (a cross-field rule or a bad value
    // a flag replaced would make the full program's `node stop` fail with that key's error).
    if (overrides.length === dirOnly.length) return dirAndToken(loaded);
    try {
      return dirAndToken(loadCliConfig(ctx, dirOnly));
    } catch {
      return null;
    }
  });
}

/** loadCliConfig for `node start --foreground`: a config that validates is remembered whole for the fast path. */
export function loadStartConfigRemembered(ctx: CliContext, opts: StartOptions): LoadedConfig {
  const cwd = process.cwd();
  return loadRemembering(
    ctx,
    cwd,
    { dataDirFlag: undefined, extra: startFlagsKey(opts) },
    overridesFrom(opts, cwd),
    (loaded) => ({ ...dirAndToken(loaded), config: loaded.config }),
  );
}
