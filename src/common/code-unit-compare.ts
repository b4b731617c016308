/**
 * Strings ordered by UTF-16 code unit, as Array#sort's default does.
 *
 * Why not String#localeCompare: its first call builds an ICU collator, which
 * maps ICU's collation code and data into the process for good. An idle
 * daemon that answered one GET /v1/members (names sorted for display) held
 * about 3 MB more than its peers (docs/operations.md, "Memory"). Names and
 * ids here are the nodes' own, mostly ASCII; the order differs from
 * localeCompare's in case and accents ("B" before "a") and in punctuation:
 * ICU put "_" before "-" before digits, code units put "-" before digits
 * before "_" ("pi1" now sorts before "pi_a").
 */
export function codeUnitCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
