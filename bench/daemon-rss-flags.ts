/**
 * Not a benchmark (run by hand): one lone daemon per set of Node flags, all at
 * once, on loopback with multicast off; prints VmRSS, RssAnon and RssFile
 * after IDLE seconds. Used for docs/operations.md, "Memory".
 *
 *   SETS='[["--max-semi-space-size=4"],["--max-semi-space-size=4","--lite-mode"]]' IDLE=30 \
 *     npx tsx bench/daemon-rss-flags.ts
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoNodeConfig } from '../src/cli/commands/demo.js';
import { daemonEntry } from '../src/cli/daemon.js';
import { writeResolvedConfig } from '../src/cli/resolved-config.js';

const IDLE = Number(process.env.IDLE ?? 25);
const sets = JSON.parse(process.env.SETS ?? '[["--max-semi-space-size=4"]]') as string[][];
const mb = (pid: number, k: string): number =>
  Number(new RegExp(`${k}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

await Promise.all(
  sets.map(async (flags, idx) => {
    const root = mkdtempSync(join(tmpdir(), 'swarm-rss-flags-'));
    const cfgPath = join(root, 'c.toml');
    writeFileSync(
      cfgPath,
      '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nbind_address = "127.0.0.1"\n',
    );
    const base = 21000 + idx * 10 + Math.floor(Math.random() * 100) * 100;
    const n = {
      name: 'n1',
      dataDir: join(root, 'n1'),
      gossipPort: base,
      apiPort: base + 1,
      raftPort: base + 2,
    };
    const env = { ...process.env, SWARM_CONFIG: '' };
    const cfg = await demoNodeConfig(n, [n], cfgPath, env);
    const child = spawn(
      process.execPath,
      [...flags, daemonEntry(), writeResolvedConfig(cfg.node.data_dir, cfg)],
      {
        stdio: 'ignore',
        env,
      },
    );
    try {
      await new Promise((r) => setTimeout(r, IDLE * 1000));
      const pid = child.pid as number;
      console.log(
        JSON.stringify({
          flags: flags.join(' '),
          rss_mb: mb(pid, 'VmRSS'),
          anon_mb: mb(pid, 'RssAnon'),
          file_mb: mb(pid, 'RssFile'),
        }),
      );
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(root, { recursive: true, force: true });
    }
  }),
);
