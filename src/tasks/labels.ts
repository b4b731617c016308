/**
 * Node labels: what a task's constraints match. A node advertises its
 * configured labels (`[node] labels`) in one gossip tag; every member also
 * carries built-in labels derived from facts the swarm already knows about
 * it (device class, CPU architecture, power source), so a constraint such as
 * `class=full` or `power=mains` needs no configuration.
 */

/** Gossip tag carrying the configured labels, comma-joined (one tag keeps the metadata small). */
export const LABELS_TAG = 'labels';
/** Gossip tag carrying `process.arch` of the node ("x64", "arm64", "arm"). */
export const ARCH_TAG = 'arch';
/** Gossip tag carrying `[energy] power_budget_watts` when set, so the leader can compute headroom. */
export const BUDGET_TAG = 'budget_w';
/** Gossip tag a node sets while it drains before a graceful stop: the leader moves its tasks away. */
export const DRAIN_TAG = 'drain';

/**
 * The joined labels travel in one gossip tag, and a member's whole metadata must stay within 256 bytes
 * (docs/protocol.md) next to its addresses, energy figures and cluster tags: 32 bytes leaves room for
 * those (measured: 232 bytes with IPv4 addresses, a battery, a budget and 32 bytes of labels).
 */
export const MAX_LABELS_BYTES = 32;
const LABEL = /^[A-Za-z0-9_.-]{1,32}(=[A-Za-z0-9_.:/-]{1,32})?$/;

/** The label names the swarm derives itself; configured labels may not use them. */
export const BUILTIN_LABEL_KEYS = ['class', 'arch', 'power'] as const;

/** Why a configured label list is invalid, or null when it is fine. */
export function labelListProblem(labels: readonly string[]): string | null {
  for (const l of labels) {
    if (!LABEL.test(l))
      return `label "${l}" must be name or name=value (letters, digits, _ . -; value also : /; each part 1-32 chars)`;
    const key = l.split('=')[0] as string;
    if ((BUILTIN_LABEL_KEYS as readonly string[]).includes(key))
      return `label "${l}" uses the built-in name "${key}" (set by the node itself)`;
  }
  const joined = labels.join(',');
  if (Buffer.byteLength(joined) > MAX_LABELS_BYTES)
    return `labels take ${Buffer.byteLength(joined)} bytes joined with commas; at most ${MAX_LABELS_BYTES} fit in gossip`;
  return null;
}

export function encodeLabelsTag(labels: readonly string[]): string | null {
  return labels.length === 0 ? null : labels.join(',');
}

/** A peer's tag -> labels; anything malformed is dropped (a peer's tags are untrusted input). */
export function decodeLabelsTag(tag: string | undefined): string[] {
  if (tag === undefined || tag === '') return [];
  return tag.split(',').filter((l) => LABEL.test(l));
}

/** What a member's labels are derived from (gossip record and metadata). */
export interface LabelFacts {
  readonly deviceClass: string;
  readonly tags?: Readonly<Record<string, string>> | undefined;
  /** Battery percent in the member's metadata: present only while it runs on battery. */
  readonly battery?: number | undefined;
}

/** Built-in labels first (class, arch, power), then the configured ones, de-duplicated. */
export function memberLabels(f: LabelFacts): string[] {
  const out = [`class=${f.deviceClass}`];
  const arch = f.tags?.[ARCH_TAG];
  if (arch !== undefined && /^[A-Za-z0-9_]{1,16}$/.test(arch)) out.push(`arch=${arch}`);
  out.push(`power=${f.battery === undefined ? 'mains' : 'battery'}`);
  for (const l of decodeLabelsTag(f.tags?.[LABELS_TAG])) if (!out.includes(l)) out.push(l);
  return out;
}
