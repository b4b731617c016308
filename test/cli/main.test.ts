import { describe, expect, it } from 'vitest';
import { commandWord } from '../../src/cli/main.js';
import { GROUPS, registrarsFor } from '../../src/cli/commands/index.js';

describe('commandWord (which command groups `swarm` loads)', () => {
  it('skips node, the script, global options and the value of --config', () => {
    const argv = (...a: string[]): string[] => ['node', 'swarm', ...a];
    expect(commandWord(argv('node', 'start'))).toBe('node');
    expect(commandWord(argv('-c', 'node', 'kv', 'get', 'k'))).toBe('kv');
    expect(commandWord(argv('--config', 'f.toml', 'node', 'stop'))).toBe('node');
    expect(commandWord(argv('--config=node', 'swarm', 'status'))).toBe('swarm');
    expect(commandWord(argv('--help'))).toBeUndefined();
    expect(commandWord(argv())).toBeUndefined();
  });
});

describe('registrarsFor', () => {
  it('loads the group of a known command word alone, else every group in help order', async () => {
    expect(await registrarsFor('version')).toEqual([
      (await import('../../src/cli/commands/version.js')).register,
    ]);
    expect(await registrarsFor('node')).toEqual([(await import('../../src/cli/commands/node.js')).register]);
    const all = await registrarsFor(undefined);
    expect(all).toHaveLength(GROUPS.size);
    expect(all[0]).toBe((await import('../../src/cli/commands/node.js')).register);
    expect(all.at(-1)).toBe((await import('../../src/cli/commands/version.js')).register);
    expect(await registrarsFor('help')).toEqual(all);
    expect(await registrarsFor('verison')).toEqual(all);
  });
});
