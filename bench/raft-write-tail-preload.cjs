/* eslint-disable */
// Preload of bench/raft-write-tail.ts (NODE_OPTIONS --require): this process's GC pauses and inline
// fdatasyncs with absolute times (ms since the epoch), appended to $TAIL_DIR/obs-<pid>.txt every
// second; SIGUSR2 starts and then stops V8's sampling heap profiler; SIGWINCH writes a heap snapshot.
const { PerformanceObserver, performance } = require('node:perf_hooks');
const fs = require('node:fs');
const dir = process.env.TAIL_DIR || require('node:os').tmpdir();
const out = `${dir}/obs-${process.pid}.txt`;
const buf = [];
const base = performance.timeOrigin;
const KIND = { 1: 'minor', 2: 'major', 4: 'major', 8: 'incr', 16: 'weak' };
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    buf.push(
      `gc ${(base + e.startTime).toFixed(3)} ${e.duration.toFixed(3)} ${KIND[e.detail?.kind] ?? e.detail?.kind}`,
    );
}).observe({ entryTypes: ['gc'] });
const orig = fs.fdatasyncSync;
fs.fdatasyncSync = function (fd) {
  const t = performance.now();
  const r = orig.call(this, fd);
  buf.push(`fsync ${(base + t).toFixed(3)} ${(performance.now() - t).toFixed(3)}`);
  return r;
};
// TAIL_TASKS=1: every timer/immediate callback that ran over 0.2 ms, with its start, length and name.
if (process.env.TAIL_TASKS && /daemon/.test(process.argv[1] ?? '')) {
  const wrap = (orig) => {
    const wrapped = function (fn, ...rest) {
      if (typeof fn !== 'function') return orig.call(this, fn, ...rest);
      const w = function (...args) {
        const t = performance.now();
        try {
          return fn.apply(this, args);
        } finally {
          const d = performance.now() - t;
          if (d > 0.2) {
            const name = (fn.name || fn.toString().slice(0, 60)).replace(/\s+/g, '_');
            buf.push(`task ${(base + t).toFixed(3)} ${d.toFixed(3)} ${orig.name}:${name}`);
          }
        }
      };
      return orig.call(this, w, ...rest);
    };
    for (const k of Object.getOwnPropertySymbols(orig)) wrapped[k] = orig[k];
    return wrapped;
  };
  globalThis.setTimeout = wrap(setTimeout);
  globalThis.setInterval = wrap(setInterval);
  globalThis.setImmediate = wrap(setImmediate);
}
// Slow writeSync calls (over 0.2 ms): the WAL append ('wsync') and the synced marker ('pwrite', a position given).
const origW = fs.writeSync;
fs.writeSync = function (fd, data, ...rest) {
  const t = performance.now();
  const r = origW.call(this, fd, data, ...rest);
  const d = performance.now() - t;
  if (d > 0.2)
    buf.push(`${typeof rest[2] === 'number' ? 'pwrite' : 'wsync'} ${(base + t).toFixed(3)} ${d.toFixed(3)}`);
  return r;
};
// TAIL_NET=1: every socket read ('data') and write with its time and ports: `net <t> <bytes> <r|w>:<local>:<remote>`.
if (process.env.TAIL_NET && /daemon/.test(process.argv[1] ?? '')) {
  const net = require('node:net');
  const P = net.Socket.prototype;
  const emit = P.emit;
  P.emit = function (ev, chunk, ...rest) {
    if (ev === 'data')
      buf.push(
        `net ${(base + performance.now()).toFixed(3)} ${chunk?.length ?? 0} r:${this.localPort}:${this.remotePort}`,
      );
    return emit.call(this, ev, chunk, ...rest);
  };
  const write = P.write;
  P.write = function (chunk, ...rest) {
    buf.push(
      `net ${(base + performance.now()).toFixed(3)} ${chunk?.length ?? 0} w:${this.localPort}:${this.remotePort}`,
    );
    return write.call(this, chunk, ...rest);
  };
}
setInterval(() => {
  if (buf.length) {
    fs.appendFileSync(out, buf.join('\n') + '\n');
    buf.length = 0;
  }
}, 1000).unref();
// Set again every second: the node's compiler tiering sets V8's heap defaults back once it is busy.
if (process.env.P99C_V8FLAGS && /daemon/.test(process.argv[1] ?? '')) {
  const set = () => require('node:v8').setFlagsFromString(process.env.P99C_V8FLAGS);
  set();
  setInterval(set, 1000).unref();
}
// SIGUSR2: start the sampling heap profiler (collected objects included); again: stop and write it.
let session = null;
process.on('SIGUSR2', () => {
  const { Session } = require('node:inspector');
  if (session === null) {
    session = new Session();
    session.connect();
    session.post('HeapProfiler.enable');
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 512,
      includeObjectsCollectedByMajorGC: !process.env.HEAP_LIVE || process.env.HEAP_LIVE === 'promoted',
      includeObjectsCollectedByMinorGC: !process.env.HEAP_LIVE,
    });
  } else {
    session.post('HeapProfiler.stopSampling', (err, r) => {
      fs.writeFileSync(`${dir}/heap-${process.pid}.heapprofile`, JSON.stringify(r.profile));
      session.disconnect();
      session = null;
    });
  }
});
process.on('SIGWINCH', () => {
  const v8 = require('node:v8');
  const f = v8.writeHeapSnapshot(`${dir}/snap-${process.pid}.heapsnapshot`);
  fs.appendFileSync(out, `snap ${f}\n`);
});
// TAIL_SPACES=1: every 20 ms the daemon's young large-object space in use (bytes), when not empty.
if (process.env.TAIL_SPACES && /daemon/.test(process.argv[1] ?? '')) {
  const v8 = require('node:v8');
  setInterval(() => {
    for (const s of v8.getHeapSpaceStatistics())
      if (s.space_name === 'new_large_object_space' && s.space_used_size > 0)
        buf.push(`space ${(base + performance.now()).toFixed(3)} ${s.space_used_size} newlo`);
  }, 20).unref();
}
