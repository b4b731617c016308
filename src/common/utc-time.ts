/**
 * Timestamps formatted from the UTC fields of a Date, for a node's logs, the
 * API's `Date` header and the times in its answers (members, energy, events,
 * tasks, the dashboard stream).
 *
 * Why not Date#toISOString / toUTCString: in V8 either one builds the date
 * cache, which makes ICU load its time zone data (zoneinfo64, metaZones, zone
 * names): 0.9 MB of the node binary's pages mapped into a process that only
 * ever prints UTC (measured with /proc/PID/pagemap; docs/operations.md,
 * "Memory"). The getUTC* accessors compute from the time value alone.
 */
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const p2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
const p3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

/** Years as toISOString writes them: 4 digits in 0..9999, else a sign and 6 digits. */
function isoYear(y: number): string {
  if (y >= 0 && y <= 9999) return String(y).padStart(4, '0');
  return `${y < 0 ? '-' : '+'}${String(Math.abs(y)).padStart(6, '0')}`;
}

/** `new Date(ms).toISOString()`, the same string (and the same RangeError for an invalid time). */
export function isoUtc(ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  if (Number.isNaN(y)) throw new RangeError('Invalid time value');
  return (
    `${isoYear(y)}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}` +
    `T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${p3(d.getUTCMilliseconds())}Z`
  );
}

/** `new Date(ms).toUTCString()` for years 1000-9999: HTTP's IMF-fixdate (RFC 9110 section 5.6.7). */
export function httpDate(ms: number): string {
  const d = new Date(ms);
  return (
    `${DAYS[d.getUTCDay()]!}, ${p2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]!} ${d.getUTCFullYear()} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} GMT`
  );
}
