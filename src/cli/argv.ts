/**
 * The command words of a `swarm` argv (after node and the script), skipping
 * the global options before the first one (`-c`/`--config` and its value).
 * No imports: bin/swarm.js reads them before it loads the CLI.
 */
export function commandWords(argv: readonly string[], count = 2): string[] {
  const words: string[] = [];
  for (let i = 2; i < argv.length && words.length < count; i++) {
    const a = argv[i] ?? '';
    if (words.length === 0 && (a === '-c' || a === '--config')) i++;
    else if (!a.startsWith('-')) words.push(a);
  }
  return words;
}

/** The command word (the group: `node`, `kv`, ...), or undefined for none. */
export function commandWord(argv: readonly string[]): string | undefined {
  return commandWords(argv, 1)[0];
}
