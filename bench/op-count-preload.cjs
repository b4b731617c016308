/* eslint-disable @typescript-eslint/no-require-imports */
/* global require, process */
// Preload (NODE_OPTIONS --require) for bench/raft-write-cpu.ts COUNT=1: in a daemon, turns on
// src/common/op-counts.ts and writes the counts so far to $COUNT_DIR/counts-<pid>-<n>.json at each
// SIGTTOU (the bench sends one at the start and one at the end of the measured window).
'use strict';
if (/daemon/.test(process.argv[1] ?? '')) {
  const fs = require('node:fs');
  const dir = process.env.COUNT_DIR || require('node:os').tmpdir();
  const counts = {};
  globalThis.__swarmOpCounts = counts;
  let n = 0;
  process.on('SIGTTOU', () => {
    fs.writeFileSync(`${dir}/counts-${process.pid}-${n++}.json`, JSON.stringify(counts));
  });
}
