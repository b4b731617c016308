/**
 * What every live screen (dashboard, green, status --watch) is drawn with: lines
 * of styled segments. The ink view and the plain snapshot both render these, so
 * the two never disagree, and layout decisions are tested as plain strings.
 * Also the pieces the screens share: the title with its reconnecting banner,
 * tables whose columns drop by priority when narrow, and row cutting when short.
 */
import { padEnd, truncate } from './format.js';

export type SegColor = 'green' | 'yellow' | 'red' | 'cyan' | 'magenta' | 'gray';

export interface Seg {
  text: string;
  color?: SegColor;
  bold?: boolean;
}
export type Line = Seg[];

export interface LayoutOptions {
  width: number;
  /** Rows available; `Infinity` for a snapshot, which is never cut. */
  height: number;
  now: number;
  intervalMs: number;
  /** Where the data comes from, shown in the title. */
  source: string;
}

/** What every screen's model carries about its link to the node. */
export interface LinkState {
  /** Time of the last successful poll, null before the first. */
  lastOkAt: number | null;
  reconnecting: boolean;
  error: string | null;
}

export function titleLine(name: string, link: LinkState, o: LayoutOptions): Line {
  const every = o.intervalMs >= 1000 ? `${o.intervalMs / 1000}s` : `${o.intervalMs}ms`;
  const title: Line = [{ text: name, bold: true }, { text: `  ${o.source}  every ${every}` }];
  if (link.reconnecting)
    title.push({ text: `  reconnecting… (${link.error ?? 'no answer'})`, color: 'yellow', bold: true });
  return title;
}

/** The line under the title before any data has arrived. */
export function waitingLine(link: LinkState): Line {
  return [{ text: link.reconnecting ? 'waiting for the node…' : 'connecting…' }];
}

export interface Column<R> {
  title: string;
  /** Lower drops first when the terminal is narrow. */
  priority: number;
  /** Widest the column gets; longer cells are cut with `…`. */
  max: number;
  cell(row: R, now: number): string;
  /** Colour of a cell, when it carries meaning (status, leader, rating). */
  color?(row: R): SegColor | undefined;
  bold?(row: R): boolean;
}

export interface FittedColumn<R> {
  col: Column<R>;
  w: number;
}

const GAP = 2;

/** Columns that fit `width`, dropping the least useful first, in their display order. */
export function fitColumns<R>(
  columns: readonly Column<R>[],
  rows: readonly R[],
  width: number,
  now: number,
): FittedColumn<R>[] {
  const sized = columns.map((col) => ({
    col,
    w: Math.min(col.max, Math.max(col.title.length, ...rows.map((r) => Array.from(col.cell(r, now)).length))),
  }));
  const total = (cs: { w: number }[]): number => cs.reduce((a, c) => a + c.w, 0) + GAP * (cs.length - 1);
  const kept = [...sized];
  while (kept.length > 1 && total(kept) > width) {
    let drop = 0;
    for (let i = 1; i < kept.length; i++) if (kept[i]!.col.priority < kept[drop]!.col.priority) drop = i;
    kept.splice(drop, 1);
  }
  return kept;
}

export function headerRow<R>(cols: readonly FittedColumn<R>[]): Line {
  return [
    {
      text: cols
        .map(({ col, w }, i) => (i === cols.length - 1 ? col.title : padEnd(col.title, w + GAP)))
        .join(''),
      bold: true,
    },
  ];
}

export function tableRow<R>(row: R, cols: readonly FittedColumn<R>[], now: number): Line {
  return cols.map(({ col, w }, i) => ({
    text: padEnd(truncate(col.cell(row, now), w), i === cols.length - 1 ? 0 : w + GAP),
    color: col.color?.(row),
    bold: col.bold?.(row) === true,
  }));
}

/**
 * The table's header and as many rows as `room` allows (at least one), the rest
 * summed up as `… N more`; `empty` stands in for no rows at all.
 */
export function tableLines<R>(
  columns: readonly Column<R>[],
  rows: readonly R[],
  o: { width: number; now: number; room: number; empty: string },
): Line[] {
  const cols = fitColumns(columns, rows, o.width, o.now);
  const out: Line[] = [headerRow(cols)];
  if (rows.length === 0) out.push([{ text: o.empty, color: 'gray' }]);
  else if (rows.length <= o.room || !Number.isFinite(o.room)) {
    for (const r of rows) out.push(tableRow(r, cols, o.now));
  } else {
    const shown = Math.max(1, o.room - 1);
    for (const r of rows.slice(0, shown)) out.push(tableRow(r, cols, o.now));
    out.push([{ text: `… ${rows.length - shown} more`, color: 'gray' }]);
  }
  return out;
}

/** Cut a line to `width` columns, segment by segment, so colours survive truncation. */
export function clip(line: Line, width: number): Line {
  const out: Line = [];
  let left = width;
  for (let i = 0; i < line.length && left > 0; i++) {
    const seg = line[i]!;
    const len = Array.from(seg.text).length;
    const rest = line.slice(i + 1).reduce((a, s) => a + Array.from(s.text).length, 0);
    if (len <= left && (len < left || rest === 0)) {
      out.push(seg);
      left -= len;
    } else {
      out.push({ ...seg, text: truncate(seg.text, left) });
      left = 0;
    }
  }
  return out;
}

/** The last step of every layout: at most `height` lines, none wider than the terminal. */
export function fitScreen(lines: readonly Line[], o: LayoutOptions): Line[] {
  const width = Math.max(20, o.width);
  const cut = Number.isFinite(o.height) ? lines.slice(0, Math.max(1, o.height)) : lines;
  return cut.map((l) => clip(l, width));
}

export function linesToText(lines: readonly Line[]): string {
  return lines
    .map(
      (l) =>
        `${l
          .map((s) => s.text)
          .join('')
          .trimEnd()}\n`,
    )
    .join('');
}

/** Rating colour: good grades green, middling yellow, poor red. */
export function ratingColor(rating: string | null | undefined): SegColor | undefined {
  if (rating === null || rating === undefined) return undefined;
  if (rating === 'idle') return 'gray';
  if (rating === 'A+' || rating === 'A') return 'green';
  if (rating === 'B' || rating === 'C') return 'yellow';
  return 'red';
}

export function statusColor(status: string): SegColor | undefined {
  if (status === 'alive') return 'green';
  if (status === 'suspect') return 'yellow';
  if (status === 'dead') return 'red';
  if (status === 'left') return 'gray';
  return undefined;
}
