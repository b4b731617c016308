import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/node/log.js';

describe('structured logger', () => {
  it('writes one JSON object per line with ts, level, component, msg and fields, above the level', () => {
    const lines: string[] = [];
    const log = createLogger({ sink: { write: (l) => lines.push(l) }, level: 'info', clock: () => 0 });
    log.debug('hidden');
    log.info('hello', { port: 5557 });
    log.child('api').error('failed', { error: new Error('boom'), msg: 'cannot override' });
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { ts: '1970-01-01T00:00:00.000Z', level: 'info', component: 'node', msg: 'hello', port: 5557 },
      {
        ts: '1970-01-01T00:00:00.000Z',
        level: 'error',
        component: 'node.api',
        msg: 'failed',
        error: { name: 'Error', message: 'boom' },
      },
    ]);
  });

  it('a failing sink never throws into the caller', () => {
    const log = createLogger({
      sink: {
        write: () => {
          throw new Error('EPIPE');
        },
      },
    });
    expect(() => log.warn('x')).not.toThrow();
  });
});
