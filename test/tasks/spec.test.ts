import { describe, expect, it } from 'vitest';
import { parseTaskSpec, TaskSpecError } from '../../src/tasks/spec.js';

describe('parseTaskSpec', () => {
  it('fills defaults', () => {
    expect(parseTaskSpec({ name: 'agent', command: ['python3', 'a.py'] })).toEqual({
      name: 'agent',
      command: ['python3', 'a.py'],
      env: {},
      count: 1,
      constraints: { labels: [], device_classes: [] },
      restart: 'on-failure',
      backoff_ms: 1000,
      backoff_max_ms: 60000,
      max_restarts: 10,
      energy: 'any',
      power_w: 0,
      kill_timeout_s: 10,
    });
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['not an object', [], 'spec', /must be an object/],
    ['bad name', { name: 'Bad Name', command: ['x'] }, 'name', /lowercase/],
    ['empty command', { name: 'a', command: [] }, 'command', /non-empty list/],
    ['command not strings', { name: 'a', command: ['x', 3] }, 'command[1]', /must be a string/],
    ['count too big', { name: 'a', command: ['x'], count: 65 }, 'count', /between 1 and 64/],
    ['count not integer', { name: 'a', command: ['x'], count: 1.5 }, 'count', /integer/],
    [
      'restart policy',
      { name: 'a', command: ['x'], restart: 'sometimes' },
      'restart',
      /always, on-failure, never/,
    ],
    [
      'energy policy',
      { name: 'a', command: ['x'], energy: 'solar' },
      'energy',
      /any, mains-only, prefer-mains/,
    ],
    [
      'minimal class',
      { name: 'a', command: ['x'], constraints: { device_classes: ['minimal'] } },
      'constraints.device_classes[0]',
      /never run tasks/,
    ],
    [
      'unknown constraint',
      { name: 'a', command: ['x'], constraints: { zone: 'x' } },
      'constraints.zone',
      /unknown field/,
    ],
    [
      'bad label',
      { name: 'a', command: ['x'], constraints: { labels: ['a b'] } },
      'constraints.labels[0]',
      /name=value/,
    ],
    [
      'reserved env',
      { name: 'a', command: ['x'], env: { SWARM_NODE: 'x' } },
      'env.SWARM_NODE',
      /set by the supervisor/,
    ],
    ['env value', { name: 'a', command: ['x'], env: { A: 1 } }, 'env.A', /must be a string/],
    ['unknown field', { name: 'a', command: ['x'], replicas: 2 }, 'replicas', /unknown field/],
    ['negative power', { name: 'a', command: ['x'], power_w: -1 }, 'power_w', /between 0/],
    ['kill timeout', { name: 'a', command: ['x'], kill_timeout_s: 0 }, 'kill_timeout_s', /between 0.1/],
    [
      'backoff order',
      { name: 'a', command: ['x'], backoff_ms: 5000, backoff_max_ms: 100 },
      'backoff_max_ms',
      />= backoff_ms/,
    ],
  ];
  for (const [what, input, field, re] of bad) {
    it(`refuses ${what}, naming ${field}`, () => {
      let err: unknown;
      try {
        parseTaskSpec(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TaskSpecError);
      expect((err as TaskSpecError).field).toBe(field);
      expect((err as TaskSpecError).message).toMatch(re);
      expect((err as TaskSpecError).message.startsWith(`${field}: `)).toBe(true);
    });
  }
});
