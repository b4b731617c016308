import { describe, expect, it } from 'vitest';
import {
  rangeSparkline,
  relativeTime,
  sparkline,
  statusSummary,
  truncate,
} from '../../../src/cli/dashboard/format.js';

describe('dashboard format', () => {
  it('rangeSparkline scales between the lowest and highest shown value; a flat series sits mid-height', () => {
    expect(rangeSparkline([1.2, 1.3, 1.4, 1.5], 4)).toBe('▁▃▆█');
    expect(rangeSparkline([9, 1.5, 1.4], 2)).toBe('█▁');
    expect(rangeSparkline([1.4, 1.4, 1.4], 8)).toBe('▄▄▄');
    expect(rangeSparkline([], 8)).toBe('');
  });

  it('statusSummary counts members by status in a fixed order', () => {
    const s = (status: string): { status: string } => ({ status });
    expect(statusSummary([s('dead'), s('alive'), s('alive'), s('left')])).toBe('2 alive, 1 dead, 1 left');
    expect(statusSummary([])).toBe('');
  });

  it('sparkline scales to the largest shown value and keeps the last `width` values', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8)).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([100, 0, 7], 2)).toBe('▁█');
    expect(sparkline([0, 0, 0], 3)).toBe('▁▁▁');
    expect(sparkline([], 5)).toBe('');
    expect(sparkline([5, Number.NaN], 2)).toBe('█▁');
  });

  it('relative times in s, m, h and d; "-" when unknown', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(relativeTime('2026-01-01T11:59:57Z', now)).toBe('3s ago');
    expect(relativeTime('2026-01-01T11:55:00Z', now)).toBe('5m ago');
    expect(relativeTime('2026-01-01T09:00:00Z', now)).toBe('3h ago');
    expect(relativeTime('2025-12-30T12:00:00Z', now)).toBe('2d ago');
    expect(relativeTime('2026-01-01T12:00:09Z', now)).toBe('0s ago');
    expect(relativeTime('garbage', now)).toBe('-');
    expect(relativeTime(null, now)).toBe('-');
  });

  it('truncate marks a cut with an ellipsis and leaves short text alone', () => {
    expect(truncate('raspberry-pi-kitchen', 8)).toBe('raspber…');
    expect(truncate('pi', 8)).toBe('pi');
    expect(truncate('abc', 0)).toBe('');
  });
});
