/** `swarm config init | show | get | set | path`: the config file, never a running node. */
import { existsSync } from 'node:fs';
import { stringify } from 'smol-toml';
import { CliExit } from '../../common/errors.js';
import { getConfigValue, loadConfig, type LoadedConfig } from '../../config/load.js';
import { keySpec, unknownKeyError, type ConfigValue } from '../../config/keys.js';
import { resolveConfigPath } from '../../config/paths.js';
import { setConfigKey, writeFileAtomic } from '../../config/save.js';
import { configTemplate } from '../../config/template.js';
import type { SwarmConfig } from '../../config/schema.js';
import type { CliContext, Registrar } from '../context.js';

const SECRET_KEYS = ['security.swarm_key', 'security.api_token'] as const;

function load(ctx: CliContext): LoadedConfig {
  return loadConfig({ path: ctx.configPath(), env: ctx.env });
}

/** Secrets are shown as "(set)" unless asked for, so `config show` can be pasted into an issue. */
function redact(config: SwarmConfig): SwarmConfig {
  const copy = structuredClone(config);
  for (const key of SECRET_KEYS) {
    const name = key.split('.')[1] as 'swarm_key' | 'api_token';
    if (copy.security[name] !== '') copy.security[name] = '(set)';
  }
  return copy;
}

function formatValue(v: ConfigValue | undefined): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return JSON.stringify(v);
  return String(v);
}

export const register: Registrar = (program, ctx) => {
  const config = program.command('config').description('create, inspect and edit the config file');

  config
    .command('init')
    .description('write a commented config file with every key at its default')
    .option('--force', 'overwrite an existing file')
    .action((opts: { force?: boolean }) => {
      const { path } = resolveConfigPath({ flag: ctx.configPath(), env: ctx.env });
      if (existsSync(path) && !opts.force) {
        throw new CliExit(1, `config file ${path} already exists (use --force to overwrite)`);
      }
      writeFileAtomic(path, configTemplate());
      ctx.stdout.write(`Wrote ${path}\n`);
    });

  config
    .command('show')
    .description('print the effective config (file + SWARM_* env overrides)')
    .option('--json', 'machine-readable output')
    .option('--show-secrets', 'print swarm_key and api_token instead of "(set)"')
    .action((opts: { json?: boolean; showSecrets?: boolean }) => {
      const loaded = load(ctx);
      const cfg = opts.showSecrets ? loaded.config : redact(loaded.config);
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(cfg, null, 2)}\n`);
        return;
      }
      const origin = loaded.fileExists
        ? loaded.location.path
        : `defaults (no file at ${loaded.location.path})`;
      ctx.stdout.write(`# effective config from ${origin}\n${stringify(cfg)}\n`);
    });

  config
    .command('get')
    .description('print one effective value, e.g. `swarm config get gossip.fanout`')
    .argument('<key>', 'section.key')
    .action((key: string) => {
      if (!keySpec(key)) throw unknownKeyError(key, '');
      ctx.stdout.write(`${formatValue(getConfigValue(load(ctx).config, key))}\n`);
    });

  config
    .command('set')
    .description('set one key in the config file (validated; the file is untouched on error)')
    .argument('<key>', 'section.key')
    .argument('<value>', 'new value (lists: comma-separated or JSON)')
    .action((key: string, value: string) => {
      const { path } = resolveConfigPath({ flag: ctx.configPath(), env: ctx.env });
      const r = setConfigKey(path, key, value);
      ctx.stdout.write(`${r.key} = ${formatValue(r.value)}\n`);
      if (r.created) ctx.stderr.write(`created ${path}\n`);
    });

  config
    .command('path')
    .description('print the config file path (its state goes to stderr)')
    .action(() => {
      const loc = resolveConfigPath({ flag: ctx.configPath(), env: ctx.env });
      ctx.stdout.write(`${loc.path}\n`);
      const state = existsSync(loc.path) ? 'exists' : 'does not exist (run `swarm config init`)';
      ctx.stderr.write(`from ${loc.source === 'flag' ? '--config' : loc.source}; ${state}\n`);
    });
};
