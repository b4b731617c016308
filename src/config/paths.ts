/** Where the config file lives: --config, else SWARM_CONFIG, else XDG, else ~/.config. */
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

export const APP_DIR = 'swarm_orchestrator';
export const CONFIG_FILE = 'config.toml';

export type ConfigPathSource = 'flag' | 'SWARM_CONFIG' | 'XDG_CONFIG_HOME' | 'HOME';

export interface ConfigLocation {
  /** Absolute path of the config file (it may not exist). */
  readonly path: string;
  readonly source: ConfigPathSource;
}

export function resolveConfigPath(opts: {
  flag?: string;
  env: NodeJS.ProcessEnv;
  cwd?: string;
}): ConfigLocation {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.flag) return { path: resolve(cwd, opts.flag), source: 'flag' };
  const fromEnv = opts.env.SWARM_CONFIG;
  if (fromEnv) return { path: resolve(cwd, fromEnv), source: 'SWARM_CONFIG' };
  // The XDG spec says relative values are invalid and must be ignored.
  const xdg = opts.env.XDG_CONFIG_HOME;
  if (xdg && isAbsolute(xdg)) return { path: join(xdg, APP_DIR, CONFIG_FILE), source: 'XDG_CONFIG_HOME' };
  const home = opts.env.HOME || homedir();
  return { path: join(home, '.config', APP_DIR, CONFIG_FILE), source: 'HOME' };
}

/** `node.data_dir`: empty means `data/` next to the config file; relative paths are from the config's directory. */
export function resolveDataDir(configured: string, configPath: string): string {
  const base = dirname(configPath);
  if (configured === '') return join(base, 'data');
  return resolve(base, configured);
}
