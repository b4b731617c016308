/**
 * `swarm config init | show | get | set | path`: the config file, never a
 * running node. The config modules (zod, the schema, the TOML parser) are
 * imported inside the actions, so listing these commands does not load them.
 */
import { existsSync } from 'node:fs';
import { CliExit } from '../../common/errors.js';
import { writeFileAtomic } from '../../common/atomic-write.js';
import type { ConfigValue } from '../../config/keys.js';
import { resolveConfigPath } from '../../config/paths.js';
import type { SwarmConfig } from '../../config/schema.js';
import type { Registrar } from '../context.js';

const SECRET_KEYS = ['security.swarm_key', 'security.api_token'] as const;

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
    .action(async (opts: { force?: boolean }) => {
      const { path } = resolveConfigPath({ flag: ctx.configPath(), env: ctx.env });
      if (existsSync(path) && !opts.force) {
        throw new CliExit(1, `config file ${path} already exists (use --force to overwrite)`);
      }
      const { configTemplate } = await import('../../config/template.js');
      writeFileAtomic(path, configTemplate());
      ctx.stdout.write(`Wrote ${path}\n`);
    });

  config
    .command('show')
    .description('print the effective config (file + SWARM_* env overrides)')
    .option('--json', 'machine-readable output')
    .option('--show-secrets', 'print swarm_key and api_token instead of "(set)"')
    .action(async (opts: { json?: boolean; showSecrets?: boolean }) => {
      const [{ loadCliConfig }, { stringify }] = await Promise.all([
        import('../config-access.js'),
        import('smol-toml'),
      ]);
      const loaded = loadCliConfig(ctx);
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
    .action(async (key: string) => {
      const [{ keySpec, unknownKeyError }, { getConfigValue }, { loadCliConfig }] = await Promise.all([
        import('../../config/keys.js'),
        import('../../config/load.js'),
        import('../config-access.js'),
      ]);
      if (!keySpec(key)) throw unknownKeyError(key, '');
      ctx.stdout.write(`${formatValue(getConfigValue(loadCliConfig(ctx).config, key))}\n`);
    });

  config
    .command('set')
    .description('set one key in the config file (validated; the file is untouched on error)')
    .argument('<key>', 'section.key')
    .argument('<value>', 'new value (lists: comma-separated or JSON)')
    .action(async (key: string, value: string) => {
      const { path } = resolveConfigPath({ flag: ctx.configPath(), env: ctx.env });
      const { setConfigKey } = await import('../../config/save.js');
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
