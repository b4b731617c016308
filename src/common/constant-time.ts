/**
 * Byte strings compared in a time that does not depend on where they differ,
 * as node:crypto's timingSafeEqual, for the API token check: node:crypto
 * would otherwise be loaded into every node for this one call (about 0.8 MB
 * of RSS: src/common/builtins.ts). Different lengths answer false at once
 * (the length of a token is not the secret).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
