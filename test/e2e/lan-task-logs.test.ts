/**
 * A task's logs across hosts on the LAN rig (test/helpers/lan-rig.ts): three
 * hosts in network namespaces on one bridge, every node with the default
 * config (API on 127.0.0.1 inside its own namespace, so no host can reach
 * another's API), host A labelled `pin=a` (SWARM_NODE__LABELS) so that the
 * task lands there. The task writes a known ~100 KB of output (ASCII and
 * multi-byte UTF-8); host C reads it through its own API, which fetches it
 * from A over the authenticated Raft channel (forward op task_logs, 4 in
 * docs/protocol.md 4.1, in chunks of 32 KiB), and must get exactly the bytes
 * A has: one read from offset 0, the same read on A, the default (tail) read
 * of `swarm task logs` on C and on A. Once without and once with a swarm key
 * (`security.swarm_key` on every host). Namespace tag `st` (`stk` keyed).
 * Skipped, with the reason in the title, where `ip netns add` is not permitted.
 * Needs `npm run build`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskLogsResponse, TaskStatusResponse } from '../../src/api/routes/tasks-types.js';
import { DEFAULT_API, LanRig, rigSkipReason, waitFor } from '../helpers/lan-rig.js';
import { netnsSkipReason, netnsTitle, nsGetJson } from '../helpers/netns.js';
import { groupAlive } from '../node/proc.js';

const skipReason = netnsSkipReason('lan-task-logs') ?? rigSkipReason('lan-task-logs');
const plain = new LanRig({ tag: 'st', hosts: 3 });
const keyed = new LanRig({ tag: 'stk', hosts: 3 });
const groups = new Set<number>();

function killTasks(): void {
  for (const g of groups) if (groupAlive(g)) process.kill(-g, 'SIGKILL');
  groups.clear();
}

afterAll(() => {
  killTasks();
  plain.cleanup();
  keyed.cleanup();
});

const A = 0;
const C = 2;
const TASK = 'stlogs';
const LINES = 4000;

/** What the task prints (the same generator runs in the task): ASCII and 2- and 3-byte UTF-8. */
const GEN = `let s = ''; for (let i = 0; i < ${LINES}; i++) s += 'line ' + i + ' ' + 'é✓'.repeat(i % 7) + ' ' + ((i * 2654435761) >>> 0).toString(16) + '\\n'; s += 'END\\n';`;
function expected(): string {
  let s = '';
  for (let i = 0; i < LINES; i++)
    s += `line ${i} ${'é✓'.repeat(i % 7)} ${((i * 2654435761) >>> 0).toString(16)}\n`;
  return `${s}END\n`;
}
/** Prints once, then stays up (no restart that would append a second copy). */
const TASK_SCRIPT = `${GEN} process.stdout.write(s); setInterval(() => {}, 1 << 30);`;

/** GET a path of host i's own API from inside its namespace (the only place it listens). */
function nsGet<T>(rig: LanRig, i: number, path: string): Promise<T | null> {
  return nsGetJson<T>(rig.hosts[i]!.ns, `${DEFAULT_API}${path}`);
}

async function logsAcrossHosts(rig: LanRig, key: string | null): Promise<void> {
  await rig.setup();
  if (key !== null) {
    const k = (await rig.swarm(0, ['keygen'])).stdout.trim();
    expect(k).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    for (let i = 0; i < 3; i++) rig.setEnv(i, { SWARM_SECURITY__SWARM_KEY: k });
  }
  rig.setEnv(A, { SWARM_NODE__LABELS: '["pin=a"]' });
  await rig.startAll([0, 1, 2]);
  await rig.waitLeader([0, 1, 2], 90_000, (l) => l.voters.length === 3);

  const run = await rig.swarm(C, [
    'task',
    'run',
    '--name',
    TASK,
    '--on',
    'pin=a',
    '--restart',
    'never',
    '--',
    process.execPath,
    '-e',
    TASK_SCRIPT,
  ]);
  expect(run.code, `task run on host C: ${run.stderr}${run.stdout}`).toBe(0);
  const status = await waitFor(
    'the task running on host A',
    async () => {
      const s = await nsGet<TaskStatusResponse>(rig, C, `/v1/tasks/${TASK}`);
      const a = s?.allocations.find((x) => x.state === 'running');
      if (a?.pid) groups.add(a.pid);
      return a && a.node === rig.id(A) ? { s: s!, a } : null;
    },
    60_000,
  );
  expect(status.a.node_name).toBe(`h${A}`);

  const want = expected();
  const bytes = Buffer.byteLength(want);
  expect(bytes).toBeGreaterThan(3 * 32 * 1024); // more than three forward chunks
  const path = `/v1/tasks/${TASK}/logs?alloc=${status.a.id}&offset=0&max=262144`;
  // Host C reads through its own API, which reads host A's file over the Raft channel.
  const viaC = await waitFor(
    'the whole output through host C',
    async () => {
      const l = await nsGet<TaskLogsResponse>(rig, C, path);
      return l && l.data.endsWith('END\n') ? l : null;
    },
    60_000,
  );
  expect(viaC.node).toBe(rig.id(A));
  // The supervisor's own line first (src/node/task-log.ts note), then exactly what the task wrote.
  const cut = viaC.data.indexOf('\n') + 1;
  expect(viaC.data.slice(0, cut)).toMatch(/^\[swarm\] \S+ started \[.*\] pid \d+ \(restart 0\)\n$/);
  expect(viaC.data.slice(cut) === want, 'the log read through host C is the bytes the task wrote').toBe(true);
  const file = Buffer.from(viaC.data);
  expect(viaC.size).toBe(file.length);
  expect(viaC.next_offset).toBe(file.length);
  const onA = await nsGet<TaskLogsResponse>(rig, A, path);
  expect(onA).toEqual(viaC);

  // The CLI's default read (the last 64 KiB) on C, byte for byte what A's own CLI prints.
  const cliC = await rig.swarm(C, ['task', 'logs', TASK]);
  const cliA = await rig.swarm(A, ['task', 'logs', TASK]);
  expect(cliC.code, cliC.stderr).toBe(0);
  expect(cliA.code, cliA.stderr).toBe(0);
  expect(cliC.stdout === cliA.stdout, 'swarm task logs on C prints what it prints on A').toBe(true);
  // The last 64 KiB as text (a character cut at its start reads as U+FFFD on both).
  const tail = file.subarray(file.length - 64 * 1024).toString('utf8');
  expect(cliC.stdout === tail, 'and it is the last 64 KiB of the log').toBe(true);

  const stop = await rig.swarm(C, ['task', 'stop', TASK]);
  expect(stop.code, stop.stderr).toBe(0);
  await waitFor(
    "the task's processes gone",
    async () => ([...groups].every((g) => !groupAlive(g)) ? true : null),
    30_000,
  );
  groups.clear();
}

describe('task logs across hosts (LAN rig, API on 127.0.0.1 everywhere)', () => {
  it.skipIf(skipReason !== null)(
    netnsTitle('host C reads the logs of a task on host A byte for byte, over the Raft channel', skipReason),
    async () => {
      try {
        await plain.withLogs(() => logsAcrossHosts(plain, null));
      } finally {
        killTasks();
        plain.cleanup();
      }
    },
    300_000,
  );

  it.skipIf(skipReason !== null)(
    netnsTitle('the same with a swarm key on every host', skipReason),
    async () => {
      try {
        await keyed.withLogs(() => logsAcrossHosts(keyed, 'key'));
      } finally {
        killTasks();
        keyed.cleanup();
      }
    },
    300_000,
  );
});
