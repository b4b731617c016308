/* eslint-disable @typescript-eslint/no-require-imports */
/* global require, process */
// Preload (NODE_OPTIONS --require) for bench/raft-write-cpu.ts PROF=1: in a daemon, SIGTTIN starts
// V8's CPU profiler (200 us sampling) through node:inspector; again: stops it and writes
// $PROF_DIR/cpu-<pid>.cpuprofile. Only the measured window is profiled, not start-up or warm-up.
'use strict';
if (/daemon/.test(process.argv[1] ?? '')) {
  const fs = require('node:fs');
  const dir = process.env.PROF_DIR || require('node:os').tmpdir();
  let session = null;
  process.on('SIGTTIN', () => {
    const { Session } = require('node:inspector');
    if (session === null) {
      session = new Session();
      session.connect();
      session.post('Profiler.enable');
      session.post('Profiler.setSamplingInterval', { interval: 200 });
      session.post('Profiler.start');
    } else {
      const s = session;
      session = null;
      s.post('Profiler.stop', (err, r) => {
        if (!err) fs.writeFileSync(`${dir}/cpu-${process.pid}.cpuprofile`, JSON.stringify(r.profile));
        s.disconnect();
      });
    }
  });
}
