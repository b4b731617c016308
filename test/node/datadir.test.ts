import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DataDirLockedError,
  FILES,
  acquireLock,
  inspectDataDir,
  isAlive,
  loadOrCreateNodeId,
  processStartTime,
  reclaimStale,
  selfRef,
} from '../../src/node/datadir.js';
import { createLogger } from '../../src/node/log.js';
import { SwarmNode, type NodeComponent } from '../../src/node/node.js';
import { defaultConfig } from '../../src/config/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'swarm-datadir-test-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The PID of a process that has certainly exited (a child we ran to completion). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('data dir files', () => {
  it('node id is generated once and then stable', () => {
    const a = loadOrCreateNodeId(dir);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(loadOrCreateNodeId(dir)).toBe(a);
    expect(readFileSync(join(dir, FILES.id), 'utf8').trim()).toBe(a);
  });

  it('the lock holds our PID and start time, and is released', () => {
    const lock = acquireLock(dir);
    const content = JSON.parse(readFileSync(join(dir, FILES.lock), 'utf8')) as { pid: number };
    expect(content.pid).toBe(process.pid);
    expect(lock.reclaimedFrom).toBeNull();
    lock.release();
    expect(existsSync(join(dir, FILES.lock))).toBe(false);
  });

  it('a lock held by a live process is refused', () => {
    // PID 1 is alive but not us; its start time does not match what we write, so fake a matching one.
    writeFileSync(join(dir, FILES.lock), JSON.stringify({ pid: 1, start: processStartTime(1) }));
    expect(() => acquireLock(dir)).toThrow(DataDirLockedError);
    expect(() => acquireLock(dir)).toThrow(/is in use by another node \(PID 1\)/);
  });

  it('a lock left by a dead process is reclaimed', () => {
    const pid = deadPid();
    writeFileSync(join(dir, FILES.lock), `${pid}\n`);
    const lock = acquireLock(dir);
    expect(lock.reclaimedFrom).toBe(pid);
    lock.release();
  });

  it('a reused PID with a different start time does not count as the owner', () => {
    const me = selfRef();
    if (me.start === null) return; // no /proc: nothing to distinguish, covered by the dead-PID case
    expect(isAlive(me)).toBe(true);
    expect(isAlive({ pid: process.pid, start: me.start + 1 })).toBe(false);
  });

  it('reclaiming a stale lock never removes a fresh lock that replaced it meanwhile', () => {
    const path = join(dir, FILES.lock);
    const fresh = JSON.stringify(selfRef());
    writeFileSync(path, fresh);
    // The caller read a stale owner earlier; by now a live node holds the lock.
    reclaimStale(path, { pid: deadPid(), start: null });
    expect(readFileSync(path, 'utf8')).toBe(fresh);
    reclaimStale(path, selfRef());
    expect(existsSync(path)).toBe(false);
  });

  it('inspectDataDir cleans stale files and reports the dead PID', () => {
    const pid = deadPid();
    writeFileSync(join(dir, FILES.lock), `${pid}\n`);
    writeFileSync(join(dir, FILES.pid), `${pid}\n`);
    writeFileSync(join(dir, FILES.runtime), JSON.stringify({ pid, api_url: 'http://127.0.0.1:1' }));
    expect(inspectDataDir(dir)).toEqual({ state: 'stale', pid });
    for (const f of [FILES.lock, FILES.pid, FILES.runtime]) expect(existsSync(join(dir, f))).toBe(false);
    expect(inspectDataDir(dir)).toEqual({ state: 'none' });
  });
});

describe('SwarmNode lifecycle', () => {
  it('starts components in order, stops them in reverse, merges their status, and cleans up', async () => {
    const events: string[] = [];
    const comp = (name: string, status: NodeComponent['status']): NodeComponent => ({
      name,
      start: async () => void events.push(`start ${name}`),
      stop: async () => void events.push(`stop ${name}`),
      status,
    });
    const c = defaultConfig();
    c.node.data_dir = dir;
    const lines: string[] = [];
    const node = new SwarmNode(c, {
      logger: createLogger({ sink: { write: (l) => lines.push(l) }, clock: () => 5000 }),
      clock: () => 5000,
    });
    node.register(
      comp('raft', () => ({ role: 'leader', term: 3, leader: 'x', addresses: { raft: '127.0.0.1:1' } })),
    );
    node.register(comp('api', () => ({ addresses: { api: '0.0.0.0:9' } })));
    await node.start();
    const s = node.status();
    expect(s).toMatchObject({ role: 'leader', term: 3, leader: 'x', uptime_s: 0, device_class: 'standard' });
    expect(s.addresses).toEqual({ gossip: null, api: '0.0.0.0:9', raft: '127.0.0.1:1' });
    expect(s.name).toMatch(new RegExp(`-${s.id.slice(0, 6)}$`));
    // The runtime file points a local client at loopback, not at the wildcard address.
    const rt = JSON.parse(readFileSync(join(dir, FILES.runtime), 'utf8')) as { api_url: string; pid: number };
    expect(rt).toMatchObject({ api_url: 'http://127.0.0.1:9', pid: process.pid });
    await node.stop();
    expect(events).toEqual(['start raft', 'start api', 'stop api', 'stop raft']);
    for (const f of [FILES.lock, FILES.pid, FILES.runtime]) expect(existsSync(join(dir, f))).toBe(false);
    const recs = lines.map(
      (l) => JSON.parse(l) as { level: string; component: string; msg: string; ts: string },
    );
    expect(recs.map((r) => r.msg)).toEqual(expect.arrayContaining(['node started', 'node stopped']));
    expect(recs[0]).toMatchObject({ level: 'info', component: 'node', ts: new Date(5000).toISOString() });
  });

  it('a component failing to start stops the ones already started and releases the lock', async () => {
    const events: string[] = [];
    const c = defaultConfig();
    c.node.data_dir = dir;
    const node = new SwarmNode(c);
    node.register({
      name: 'a',
      start: async () => void events.push('start a'),
      stop: async () => void events.push('stop a'),
    });
    node.register({
      name: 'b',
      start: async () => {
        throw new Error('boom');
      },
      stop: async () => void events.push('stop b'),
    });
    await expect(node.start()).rejects.toThrow('boom');
    expect(events).toEqual(['start a', 'stop a']);
    expect(existsSync(join(dir, FILES.lock))).toBe(false);
  });

  it('the unencrypted note appears only without a swarm key', async () => {
    const c = defaultConfig();
    c.node.data_dir = dir;
    expect(new SwarmNode(c).status().security).toEqual({
      gossip_encrypted: false,
      note: 'gossip unencrypted',
      refused_peers: [],
    });
    c.security.swarm_key = Buffer.alloc(32).toString('base64');
    expect(new SwarmNode(c).status().security).toEqual({ gossip_encrypted: true, refused_peers: [] });
  });
});
