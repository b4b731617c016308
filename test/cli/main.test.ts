import { describe, expect, it } from 'vitest';
import { commandWord } from '../../src/cli/main.js';

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
