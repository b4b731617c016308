/**
 * Parsers and readers for /proc: device CPU times (/proc/stat), the node
 * process's CPU times (/proc/self/stat), load average and memory.
 *
 * Parsers take the file's text so a test can feed two snapshots of
 * /proc/stat without touching the file system; readers take the root
 * directory (default "/") so tests point them at fixture trees.
 */
import { type Parsed, fail, ok, parseDecimal, parseInteger, readText } from './parse.js';

/** Aggregate CPU time of the device, in USER_HZ ticks since boot. */
export interface CpuTimes {
  /** All non-guest ticks: user+nice+system+idle+iowait+irq+softirq+steal. */
  readonly total: number;
  /** idle + iowait: ticks in which the CPU did no work for anyone. */
  readonly idle: number;
  /** Number of `cpuN` lines: online CPUs. */
  readonly cpus: number;
}

/** CPU time of one process, in the same USER_HZ ticks as /proc/stat. */
export interface ProcessTimes {
  readonly utime: number;
  readonly stime: number;
  /** Resident set size in pages (page size is not in the file; usually 4096). */
  readonly rssPages: number;
}

export interface LoadAverage {
  readonly one: number;
  readonly five: number;
  readonly fifteen: number;
}

export interface MemoryInfo {
  readonly totalBytes: number;
  readonly availableBytes: number;
  /** total - available, the memory that cannot be reclaimed cheaply. */
  readonly usedBytes: number;
  /** usedBytes / totalBytes, 0..1. */
  readonly usedFraction: number;
}

export function parseProcStat(text: string): Parsed<CpuTimes> {
  const lines = text.split('\n');
  const agg = lines.find((l) => /^cpu\s/.test(l));
  if (agg === undefined) return fail('/proc/stat: no aggregate "cpu" line');
  const fields = agg.trim().split(/\s+/).slice(1);
  if (fields.length < 4) return fail('/proc/stat: aggregate line has fewer than 4 fields');
  const nums: number[] = [];
  // guest and guest_nice (fields 9, 10) are already counted inside user and nice.
  for (const [i, f] of fields.slice(0, 8).entries()) {
    const p = parseInteger(f, `/proc/stat field ${i + 1}`);
    if (!p.ok) return p;
    if (p.value < 0) return fail(`/proc/stat field ${i + 1}: negative`);
    nums.push(p.value);
  }
  const total = nums.reduce((a, b) => a + b, 0);
  const idle = (nums[3] ?? 0) + (nums[4] ?? 0);
  const cpus = lines.filter((l) => /^cpu\d+\s/.test(l)).length;
  return ok({ total, idle, cpus: Math.max(1, cpus) });
}

export function parseProcSelfStat(text: string): Parsed<ProcessTimes> {
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return fail('/proc/self/stat: no ")" closing the command name');
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const utime = parseInteger(rest[11] ?? '', '/proc/self/stat utime');
  const stime = parseInteger(rest[12] ?? '', '/proc/self/stat stime');
  const rss = parseInteger(rest[21] ?? '', '/proc/self/stat rss');
  if (!utime.ok) return utime;
  if (!stime.ok) return stime;
  if (!rss.ok) return rss;
  return ok({ utime: utime.value, stime: stime.value, rssPages: rss.value });
}

export function parseLoadAvg(text: string): Parsed<LoadAverage> {
  const f = text.trim().split(/\s+/);
  const one = parseDecimal(f[0] ?? '', '/proc/loadavg 1m');
  const five = parseDecimal(f[1] ?? '', '/proc/loadavg 5m');
  const fifteen = parseDecimal(f[2] ?? '', '/proc/loadavg 15m');
  if (!one.ok) return one;
  if (!five.ok) return five;
  if (!fifteen.ok) return fifteen;
  return ok({ one: one.value, five: five.value, fifteen: fifteen.value });
}

export function parseMeminfo(text: string): Parsed<MemoryInfo> {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) kb.set(m[1], Number(m[2]));
  }
  const total = kb.get('MemTotal');
  if (total === undefined || total <= 0) return fail('/proc/meminfo: no positive MemTotal');
  // MemAvailable exists since Linux 3.14; the fallback is the classic free+buffers+cached estimate.
  let available = kb.get('MemAvailable');
  if (available === undefined) {
    const free = kb.get('MemFree');
    if (free === undefined) return fail('/proc/meminfo: neither MemAvailable nor MemFree');
    available = free + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0);
  }
  available = Math.min(available, total);
  const used = total - available;
  return ok({
    totalBytes: total * 1024,
    availableBytes: available * 1024,
    usedBytes: used * 1024,
    usedFraction: used / total,
  });
}

function readParsed<T>(root: string, rel: string, parse: (text: string) => Parsed<T>): Parsed<T> {
  const text = readText(root, rel);
  return text.ok ? parse(text.value) : text;
}

export function readCpuTimes(root = '/'): Parsed<CpuTimes> {
  return readParsed(root, 'proc/stat', parseProcStat);
}

export function readProcessTimes(root = '/'): Parsed<ProcessTimes> {
  return readParsed(root, 'proc/self/stat', parseProcSelfStat);
}

export function readLoadAvg(root = '/'): Parsed<LoadAverage> {
  return readParsed(root, 'proc/loadavg', parseLoadAvg);
}

export function readMemory(root = '/'): Parsed<MemoryInfo> {
  return readParsed(root, 'proc/meminfo', parseMeminfo);
}

/** CPU utilisations between two readings; null until two valid readings exist. */
export interface CpuUtilisation {
  /** Whole device, 0..1: share of non-idle ticks. */
  readonly device: number;
  /** The node process as a share of the whole device, 0..1. */
  readonly process: number | null;
  /** The node process in cores (0..cpus), as `top` shows it divided by 100. */
  readonly processCores: number | null;
}

/**
 * Keeps the previous /proc/stat and /proc/self/stat readings and turns the
 * next pair into utilisations. The process share is measured against the
 * same /proc/stat tick delta, so no wall clock and no CLK_TCK are needed.
 */
export class CpuSampler {
  private prevCpu: CpuTimes | null = null;
  private prevProc: ProcessTimes | null = null;

  update(cpu: CpuTimes | null, proc: ProcessTimes | null): CpuUtilisation | null {
    const prevCpu = this.prevCpu;
    const prevProc = this.prevProc;
    this.prevCpu = cpu;
    this.prevProc = proc;
    if (cpu === null || prevCpu === null) return null;
    const dTotal = cpu.total - prevCpu.total;
    const dIdle = cpu.idle - prevCpu.idle;
    // No ticks elapsed, or counters went backwards (a different machine or a reset): no honest answer.
    if (dTotal <= 0 || dIdle < 0 || dIdle > dTotal) return null;
    const device = clamp01((dTotal - dIdle) / dTotal);
    let process: number | null = null;
    let processCores: number | null = null;
    if (proc !== null && prevProc !== null) {
      const dProc = proc.utime + proc.stime - (prevProc.utime + prevProc.stime);
      if (dProc >= 0) {
        process = clamp01(dProc / dTotal);
        processCores = process * cpu.cpus;
      }
    }
    return { device, process, processCores };
  }
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
