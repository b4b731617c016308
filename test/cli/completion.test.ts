/**
 * `swarm completion bash|zsh|fish` (the compiled binary): generated from the
 * program, so every command group appears; the bash script is sourced in a
 * real bash and asked for completions the way readline asks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUPS } from '../../src/cli/commands/index.js';
import { runSwarm } from '../helpers/run-swarm.js';

const BASH = ['/usr/bin/bash', '/bin/bash'].find((p) => existsSync(p));
let root: string;
let script: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'swarm-completion-'));
  const r = await runSwarm(['completion', 'bash']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  script = join(root, 'swarm.bash');
  writeFileSync(script, r.stdout);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What bash completes for the words typed so far (the last one is the word being completed). */
function complete(words: string[]): string[] {
  const line = ['swarm', ...words];
  const cmd = [
    `source ${JSON.stringify(script)}`,
    `COMP_WORDS=(${line.map((w) => `'${w}'`).join(' ')})`,
    `COMP_CWORD=${line.length - 1}`,
    '_swarm',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = spawnSync(BASH ?? 'bash', ['--norc', '--noprofile', '-c', cmd], { encoding: 'utf8', cwd: root });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter((l) => l !== '');
}

describe.skipIf(BASH === undefined)('swarm completion bash', () => {
  it('registers a completion for swarm', () => {
    const r = spawnSync(BASH!, ['--norc', '-c', `source ${JSON.stringify(script)} && complete -p swarm`], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('complete -o default -F _swarm swarm');
  });

  it('completes every command group, subcommands, options, argument choices and file names', () => {
    expect(complete([''])).toEqual([...GROUPS.keys()]);
    expect(complete(['no'])).toEqual(['node']);
    expect(complete(['node', ''])).toEqual(['start', 'stop', 'status']);
    // Options after the global --config FILE and its value still find the path.
    expect(complete(['--config', 'x.toml', 'node', 'start', '--for'])).toEqual(['--foreground']);
    expect(complete(['logs', '--le'])).toEqual(['--level']);
    expect(complete(['service', ''])).toEqual(['install', 'uninstall']);
    expect(complete(['completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    // After an option that takes a value: file names.
    expect(complete(['logs', '--file', 'swarm.b'])).toEqual(['swarm.bash']);
  });
});

describe('swarm completion zsh and fish', () => {
  it('list every command group and a subcommand path', async () => {
    for (const shell of ['zsh', 'fish']) {
      const r = await runSwarm(['completion', shell]);
      expect(r.code).toBe(0);
      for (const group of GROUPS.keys()) expect(r.stdout).toContain(group);
      expect(r.stdout).toContain('uninstall');
    }
    const zsh = await runSwarm(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/^#compdef swarm\n/);
    const fish = await runSwarm(['completion', 'fish']);
    expect(fish.stdout).toContain("complete -c swarm -n '__swarm_at \\'node\\'' -a 'start'");
  });

  it('refuses an unknown shell with one usage line', async () => {
    const r = await runSwarm(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^swarm: .*tcsh.*\n$/);
  });
});
