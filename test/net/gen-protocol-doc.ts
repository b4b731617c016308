/**
 * Rewrites the generated section of docs/protocol.md (message tables and hex
 * vectors). Run after changing a codec or a sample:
 *   npx tsx test/net/gen-protocol-doc.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { BEGIN, END, renderGenerated } from './protocol-doc.js';

const path = fileURLToPath(new URL('../../docs/protocol.md', import.meta.url));
const doc = readFileSync(path, 'utf8');
const a = doc.indexOf(BEGIN);
const b = doc.indexOf(END);
if (a < 0 || b < a) throw new Error(`docs/protocol.md lacks the ${BEGIN} ... ${END} markers`);
const next = doc.slice(0, a) + renderGenerated() + doc.slice(b + END.length);
// Formatted as `npm run format` would, so formatting the repository never changes the document.
const options = (await resolveConfig(path)) ?? {};
writeFileSync(path, await format(next, { ...options, filepath: path }));
process.stdout.write(`rewrote ${path}\n`);
