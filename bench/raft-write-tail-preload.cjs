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
setInterval(() => {
  if (buf.length) {
    fs.appendFileSync(out, buf.join('\n') + '\n');
    buf.length = 0;
  }
}, 1000).unref();
if (process.env.P99C_V8FLAGS && /daemon/.test(process.argv[1] ?? ''))
  require('node:v8').setFlagsFromString(process.env.P99C_V8FLAGS);
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
