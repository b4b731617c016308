/**
 * Defensive parsing helpers shared by the procfs and sysfs readers.
 *
 * Kernel files are usually well formed, but containers, odd drivers and
 * half-written fixtures are not: every helper returns a tagged result so a
 * bad value becomes `null` plus a reason the operator can read, never an
 * exception and never a made-up number.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function fail<T>(reason: string): Parsed<T> {
  return { ok: false, reason };
}

/** Integer in decimal, optionally signed, nothing else on the line. */
export function parseInteger(text: string, what: string): Parsed<number> {
  const t = text.trim();
  if (!/^[-+]?\d+$/.test(t)) return fail(`${what}: not an integer: ${JSON.stringify(t.slice(0, 40))}`);
  const n = Number(t);
  if (!Number.isSafeInteger(n)) return fail(`${what}: out of range: ${t.slice(0, 40)}`);
  return ok(n);
}

/** Decimal number (loadavg style), finite. */
export function parseDecimal(text: string, what: string): Parsed<number> {
  const t = text.trim();
  if (!/^[-+]?(\d+\.?\d*|\.\d+)$/.test(t))
    return fail(`${what}: not a number: ${JSON.stringify(t.slice(0, 40))}`);
  return ok(Number(t));
}

/** Reads a small text file under `root`; absent or unreadable -> reason. */
export function readText(root: string, rel: string): Parsed<string> {
  try {
    return ok(readFileSync(join(root, rel), 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return fail(`${rel}: ${code === 'ENOENT' ? 'absent' : code}`);
  }
}

/** Directory entries under `root`, sorted so results do not depend on readdir order. */
export function listDir(root: string, rel: string): Parsed<string[]> {
  try {
    return ok(readdirSync(join(root, rel)).sort(naturalCompare));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return fail(`${rel}: ${code === 'ENOENT' ? 'absent' : code}`);
  }
}

/**
 * thermal_zone2 before thermal_zone10: runs of digits compare as numbers,
 * everything else by code unit (sysfs names are ASCII). Not localeCompare
 * with options: that builds an ICU collator for every comparison, on every
 * sample, for a handful of ASCII directory names.
 */
export function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i] as string;
    const y = rb[i] as string;
    if (x === y) continue;
    const dx = x.charCodeAt(0) >= 48 && x.charCodeAt(0) <= 57;
    const dy = y.charCodeAt(0) >= 48 && y.charCodeAt(0) <= 57;
    if (dx && dy) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length; // 007 after 7
    }
    return x < y ? -1 : 1;
  }
  return ra.length - rb.length;
}
