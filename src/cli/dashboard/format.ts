/** Small text helpers of the dashboard; pure so that tests pin their output exactly. */

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

/**
 * One bar per value, scaled to the largest value shown, so the line shows the
 * shape of recent traffic rather than its absolute level (the number beside it
 * gives the level). Only the last `width` values are kept.
 */
export function sparkline(values: readonly number[], width: number): string {
  const shown = width > 0 ? values.slice(-width) : [];
  const max = Math.max(0, ...shown.filter((v) => Number.isFinite(v)));
  return shown
    .map((v) => {
      if (!(max > 0) || !(v > 0)) return BARS[0];
      const i = Math.min(BARS.length - 1, Math.max(0, Math.round((v / max) * (BARS.length - 1))));
      return BARS[i];
    })
    .join('');
}

/**
 * Like `sparkline`, scaled between the lowest and highest value shown: for levels
 * that never approach zero (a node's power), where the variation is the story.
 * A flat series sits mid-height.
 */
export function rangeSparkline(values: readonly number[], width: number): string {
  const shown = (width > 0 ? values.slice(-width) : []).filter((v) => Number.isFinite(v));
  if (shown.length === 0) return '';
  const lo = Math.min(...shown);
  const hi = Math.max(...shown);
  if (!(hi > lo)) return BARS[3].repeat(shown.length);
  return sparkline(
    shown.map((v) => v - lo),
    width,
  );
}

/** `3s ago`, `4m ago`, `2h ago`, `5d ago`; `-` for an unparseable time. */
export function relativeTime(iso: string | null, now: number): string {
  if (iso === null) return '-';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Cut to `width` columns, marking the cut with `…` so a truncated name never looks whole. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  return `${chars.slice(0, width - 1).join('')}…`;
}

export function padEnd(text: string, width: number): string {
  const len = Array.from(text).length;
  return len >= width ? text : text + ' '.repeat(width - len);
}

/** A rate with one decimal under 100, none above: enough to see a trend, short enough for a Pi's terminal. */
export function formatRate(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '-';
  return v < 100 ? v.toFixed(1) : String(Math.round(v));
}

export function formatBytesRate(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '-';
  if (v < 1024) return `${Math.round(v)} B/s`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB/s`;
  return `${(v / (1024 * 1024)).toFixed(1)} MiB/s`;
}

/** `3 alive, 1 dead`: members counted by status in a fixed order, absent statuses left out. */
export function statusSummary(members: readonly { status: string }[]): string {
  const counts = new Map<string, number>();
  for (const x of members) counts.set(x.status, (counts.get(x.status) ?? 0) + 1);
  return ['alive', 'suspect', 'dead', 'left']
    .filter((k) => counts.has(k))
    .map((k) => `${counts.get(k)} ${k}`)
    .join(', ');
}

/** The adaptive gossip parameters in one phrase, as the status command and the live screens show them. */
export function adaptiveText(a: {
  enabled: boolean;
  mode: string;
  interval_ms: number;
  fanout: number;
}): string {
  return a.enabled ? `${a.mode}, interval ${a.interval_ms} ms, fanout ${a.fanout}` : 'adaptive off';
}

/** `values` with `v` appended, keeping only the newest `cap`. */
export function pushCapped(values: readonly number[], v: number, cap: number): number[] {
  const next = [...values, v];
  return next.length > cap ? next.slice(next.length - cap) : next;
}
